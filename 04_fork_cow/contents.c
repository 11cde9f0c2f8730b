/*
 * contents.c - the classic experiment, with the order fixed.
 *
 * A heap buffer, a global and a stack variable exist before fork.  The
 * child writes all three and prints their addresses and values; the parent
 * waits for it (waitpid, not sleep), looks, then writes its own values.
 * The addresses are the same in both processes; the contents are not.
 */
#include "fork_cow.h"

#include "cli.h"
#include "out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { HEAP_BYTES = 2048, TEXT_SHOWN = 8 };

/* The global the experiment writes: it lives in the data segment. */
static int global_value = 5;

/* The three variables, as the child receives them through fork. */
struct contents {
    char *heap;     /* HEAP_BYTES from malloc */
    int *stack_var; /* a local of show_contents, on the parent's stack */
};

/* One line of prose and one fact line: where the three live, what they hold. */
static void print_view(const char *step, const char *who, const struct contents *c)
{
    char text[TEXT_SHOWN + 1];

    memcpy(text, c->heap, TEXT_SHOWN);
    text[TEXT_SHOWN] = '\0';
    printf("%-34s pid %d\n", who, (int)getpid());
    printf("    heap   %p  \"%s...\"\n", (void *)c->heap, text);
    printf("    global %p  %d\n", (void *)&global_value, global_value);
    printf("    stack  %p  %d\n", (void *)c->stack_var, *c->stack_var);
    fact_word("step", step);
    fact_hex("heap_addr", (uintptr_t)c->heap);
    fact_hex("global_addr", (uintptr_t)&global_value);
    fact_hex("stack_addr", (uintptr_t)c->stack_var);
    fact_word("heap_text", text);
    fact_int("global_value", global_value);
    fact_int("stack_value", *c->stack_var);
    facts_end();
}

static int child_writes(void *arg)
{
    struct contents *c = arg;

    memset(c->heap, 'c', HEAP_BYTES);
    global_value--;
    (*c->stack_var)++;
    print_view("child_wrote", "child, after writing all three:", c);
    return 0;
}

void show_contents(void)
{
    int stack_var = 8;
    struct contents c = {.heap = malloc(HEAP_BYTES), .stack_var = &stack_var};

    heading("contents: one address, two copies");
    if (c.heap == NULL)
        die_errno("malloc");
    memset(c.heap, 'i', HEAP_BYTES);
    print_view("before_fork", "parent, before fork:", &c);
    run_child(child_writes, &c); /* returns once the child has exited */
    print_view("parent_after_child", "parent, after the child exited:", &c);
    memset(c.heap, 'p', HEAP_BYTES);
    global_value++;
    stack_var--;
    print_view("parent_wrote", "parent, after writing its own:", &c);
    printf("Same virtual addresses in both processes, different contents: each\n"
           "address is translated through its own process's page table, and after a\n"
           "write the two tables point at different physical pages.\n");
    free(c.heap);
}
