/*
 * fork_knobs.c - two madvise() knobs that change what fork copies.
 *
 * MADV_DONTFORK: the range is left out of the child altogether.  The child
 * has no mapping there, so touching the address raises SIGSEGV with
 * si_code SEGV_MAPERR ("no mapping"); the child catches it and reports.
 * MADV_WIPEONFORK (Linux 4.14): the child gets the range, but empty, as if
 * freshly mapped: it reads zeros while the parent keeps its data.
 */
#include "fork_cow.h"

#include "cli.h"
#include "memory.h"
#include "out.h"
#include "procfs.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* What the SIGSEGV handler records, and where it jumps back to. */
static struct {
    sigjmp_buf resume;                /* set just before the risky read */
    void *volatile fault_addr;        /* si_addr: the address that faulted */
    volatile sig_atomic_t fault_code; /* si_code: SEGV_MAPERR, SEGV_ACCERR, ... */
} catcher;

static void on_segv(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    catcher.fault_addr = info->si_addr;
    catcher.fault_code = info->si_code;
    siglongjmp(catcher.resume, 1); /* the read never completes; resume after it */
}

/* Read one byte at addr; return true if that raised SIGSEGV (caught here). */
static bool read_faults(const char *addr)
{
    struct sigaction catch = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO}, previous;
    bool faulted;

    sigemptyset(&catch.sa_mask);
    if (sigaction(SIGSEGV, &catch, &previous) != 0)
        die_errno("sigaction(SIGSEGV)");
    if (sigsetjmp(catcher.resume, 1) == 0) {
        (void)read_byte(addr);
        faulted = false;
    } else {
        faulted = true; /* back from the handler, signal mask restored */
    }
    if (sigaction(SIGSEGV, &previous, NULL) != 0)
        die_errno("sigaction(SIGSEGV)");
    return faulted;
}

static const char *segv_code_name(int code)
{
    switch (code) {
    case SEGV_MAPERR: return "SEGV_MAPERR";
    case SEGV_ACCERR: return "SEGV_ACCERR";
    default: return "other";
    }
}

static bool has_mapping(const void *addr)
{
    struct mapping m;

    return mapping_find(addr, &m);
}

static size_t count_nonzero(const char *base, size_t size)
{
    size_t count = 0;

    for (size_t i = 0; i < size; i++)
        count += base[i] != 0;
    return count;
}

/* Fill one page of private memory with fill and mark it with advice. */
static void advise_page(char *page, char fill, int advice, const char *advice_name)
{
    memset(page, fill, page_size());
    if (madvise(page, page_size(), advice) != 0) {
        char what[48];
        snprintf(what, sizeof what, "madvise(%s)", advice_name);
        die_errno(what);
    }
}

static void fact_knob(const char *knob, const char *who, bool mapped)
{
    fact_word("knob", knob);
    fact_word("who", who);
    fact_int("has_mapping", mapped);
}

static int child_reads_dontfork(void *arg)
{
    const char *page = arg;
    bool mapped = has_mapping(page);
    bool faulted = read_faults(page);

    printf("child:  the range is %s /proc/self/maps\n", mapped ? "in" : "missing from");
    if (faulted)
        printf("child:  reading it raised SIGSEGV, si_code %s, at %p: caught, reported, going on\n",
               segv_code_name(catcher.fault_code), catcher.fault_addr);
    else
        printf("child:  reading it did not fault\n");
    fact_knob("dontfork", "child", mapped);
    fact_int("faulted", faulted);
    if (faulted) {
        fact_word("fault_code", segv_code_name(catcher.fault_code));
        fact_int("fault_at_range", catcher.fault_addr == (const void *)page);
    }
    facts_end();
    return 0;
}

void show_dontfork(void)
{
    /* The page sits between two ordinary ones, which the child keeps, so
     * its hole in the child is one page wide: too narrow for what a runtime
     * may map there first (ThreadSanitizer maps about 88 KiB of signal
     * state when the handler is installed), which would make the read
     * succeed by accident. */
    char *fence = map_anonymous(3 * page_size(), MAP_PRIVATE), *page = fence + page_size();
    char first[2];

    advise_page(page, 'd', MADV_DONTFORK, "MADV_DONTFORK");
    heading("MADV_DONTFORK: a range the child does not get");
    printf("parent: one page at %p, filled with 'd', marked MADV_DONTFORK\n", (void *)page);
    run_child(child_reads_dontfork, page);
    first[0] = page[0];
    first[1] = '\0';
    printf("parent: still mapped, still reads '%s'\n", first);
    fact_knob("dontfork", "parent", has_mapping(page));
    fact_word("first_byte", first);
    facts_end();
    unmap(fence, 3 * page_size());
}

static int child_reads_wipeonfork(void *arg)
{
    const char *page = arg;
    bool mapped = has_mapping(page);
    struct page_view view = page_view_of(page);
    size_t nonzero = count_nonzero(page, page_size());

    printf("child:  the range is %s /proc/self/maps, with %s page behind it;\n"
           "        reading it gives %zu non-zero bytes of %zu\n",
           mapped ? "in" : "missing from", view.present ? "a" : "no", nonzero, page_size());
    fact_knob("wipeonfork", "child", mapped);
    fact_int("present_before_read", view.present);
    fact_uint("nonzero_bytes", nonzero);
    facts_end();
    return 0;
}

void show_wipeonfork(void)
{
    char *page = map_anonymous(page_size(), MAP_PRIVATE);

    advise_page(page, 'w', MADV_WIPEONFORK, "MADV_WIPEONFORK");
    heading("MADV_WIPEONFORK: the child gets the range, empty");
    printf("parent: one page at %p, filled with 'w', marked MADV_WIPEONFORK\n", (void *)page);
    run_child(child_reads_wipeonfork, page);
    size_t nonzero = count_nonzero(page, page_size());
    printf("parent: still has %zu non-zero bytes of %zu\n", nonzero, page_size());
    fact_knob("wipeonfork", "parent", has_mapping(page));
    fact_uint("nonzero_bytes", nonzero);
    facts_end();
    unmap(page, page_size());
}
