/*
 * forks.c - what fork does and does not share: a chain of forks writing
 * one list in the region while each keeps its private memory to itself
 * (generations), and MADV_DONTFORK, a region the child does not get at all
 * (dontfork).
 */
#include "cli.h"
#include "lesson07.h"
#include "memory.h"
#include "out.h"
#include "procfs.h"

#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

enum { FAMILY_REGION = 1 << 20 };

/* ---- generations ------------------------------------------------------- */

/* One generation's entry in the shared list. */
struct lineage {
    struct list_link link; /* to the next generation's entry */
    uint32_t generation;
    int32_t pid, parent;
    int32_t private_counter; /* this process's copy of a private variable */
};

struct family {
    struct shalloc *h;
    unsigned generation, last;
    int private_counter; /* private memory: each fork copies it */
};

static void add_generation(struct family *f)
{
    struct lineage *entry = alloc_or_die(f->h, sizeof *entry);

    f->private_counter++;
    entry->generation = f->generation;
    entry->pid = (int32_t)getpid();
    entry->parent = (int32_t)getppid();
    entry->private_counter = f->private_counter;
    list_append(f->h, 0, &entry->link, sizeof *entry, "generations");
}

static int generation_child(void *arg);

/* Each generation appends, forks the next and waits for it. */
static int generation(void *arg)
{
    struct family *f = arg;
    int status = 0;

    add_generation(f);
    if (f->generation < f->last) {
        f->generation++;
        struct child_result r = child_run(generation_child, f, CHILD_TIMEOUT_MS);
        if (!child_ok(&r)) {
            char what[64];
            printf("generation %u: %s\n", f->generation, child_describe(&r, what));
            status = 1;
        }
    }
    return status;
}

/* A generation after the first: it leaves its slot before exiting. */
static int generation_child(void *arg)
{
    struct family *f = arg;
    int status = generation(f);

    close_region(f->h);
    return status;
}

int run_generations(const struct options *o)
{
    struct shalloc h;
    struct family f = {&h, 0, o->generations, 0};
    unsigned entries = 0, in_order = 0;
    int32_t previous = 0;

    heading("generations: %u forks deep, one list in shared memory", o->generations);
    open_region(&h, NULL, FAMILY_REGION);
    add_generation(&f);
    f.generation = 1;
    struct child_result r = child_run(generation_child, &f, CHILD_TIMEOUT_MS);
    printf("  %10s %8s %8s %16s\n", "generation", "pid", "parent", "private counter");
    struct list_cursor c;
    struct lineage *e, *done = NULL;
    list_start(&c, &h, 0, sizeof *e, "generations");
    for (; (e = list_next(&c)) != NULL; done = e) {
        shalloc_free(&h, done); /* the entry before: its link has been followed */
        printf("  %10u %8d %8d %16d\n", e->generation, e->pid, e->parent, e->private_counter);
        in_order += e->generation == entries && (entries == 0 || e->parent == previous);
        previous = e->pid;
        entries++;
    }
    shalloc_free(&h, done);
    printf("every generation's entry reached the first ancestor through the shared list, while\n"
           "its private counter, incremented once per generation, still reads %d here\n",
           f.private_counter);
    bool ok = report_check(&h);
    fact_word("command", "generations");
    fact_uint("generations", o->generations);
    fact_uint("entries", entries);
    fact_int("lineage_ok", child_ok(&r) && in_order == entries && entries == o->generations + 1);
    fact_int("ancestor_private_counter", f.private_counter);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    close_region(&h);
    return ok && child_ok(&r) ? 0 : 1;
}

/* ---- dontfork ---------------------------------------------------------- */

enum { REGION_MISSING = 3, REGION_WRONG = 4 };

/* In the child: is the region in our /proc/self/maps, holding 42? */
static int probe_region(void *arg)
{
    struct mapping m;

    if (!mapping_find(arg, &m))
        return REGION_MISSING;
    return *(volatile int *)arg == 42 ? 0 : REGION_WRONG;
}

static int touch_region(void *arg)
{
    struct sigaction plain = {.sa_handler = SIG_DFL};

    /* Sanitizers catch SIGSEGV to print a report: let it kill us plainly. */
    if (sigaction(SIGSEGV, &plain, NULL) != 0)
        die_errno("sigaction");
    return *(volatile int *)arg == 42 ? 0 : REGION_WRONG; /* SIGSEGV if unmapped */
}

static void fork_and_probe(int *region, const char *advice, bool touch)
{
    struct child_result probe = child_run(probe_region, region, CHILD_TIMEOUT_MS);
    bool has = child_ok(&probe);
    char touched[24] = "";

    printf("advice %-9s: the child %s the region in its /proc/self/maps", advice,
           has ? "has" : "does not have");
    if (touch) {
        struct child_result r = child_run(touch_region, region, CHILD_TIMEOUT_MS);
        char what[64], name[24];
        printf("; reading it there: %s", child_describe(&r, what));
        snprintf(touched, sizeof touched, "%s",
                 r.end == CHILD_SIGNALED ? signal_name(r.code, name) : "no_signal");
    }
    printf("\n");
    fact_word("advice", advice);
    fact_int("child_has_region", has);
    if (touch)
        fact_word("child_touch", touched);
    facts_end();
}

int run_dontfork(const struct options *o)
{
    size_t size = page_size();
    int *region = map_anonymous(size, MAP_SHARED);

    (void)o;
    heading("dontfork: a shared region the child does not inherit");
    *region = 42;
    printf("a MAP_SHARED region at %p holds 42\n", (void *)region);
    fork_and_probe(region, "none", false);
    if (madvise(region, size, MADV_DONTFORK) != 0)
        die_errno("madvise(MADV_DONTFORK)");
    fork_and_probe(region, "dontfork", true);
    if (madvise(region, size, MADV_DOFORK) != 0)
        die_errno("madvise(MADV_DOFORK)");
    fork_and_probe(region, "dofork", false);
    unmap(region, size);
    return 0;
}
