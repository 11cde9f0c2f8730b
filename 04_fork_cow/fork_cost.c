/*
 * fork_cost.c - what fork really copies, and what the copies cost later.
 *
 * One malloc'd block of SIZE bytes.  With 1/16 of it touched, then all of
 * it, the parent forks children that exit at once and takes the median time
 * of fork().  fork copies page-table entries, one per touched page, not the
 * pages: its time grows with touched memory, and the page tables (VmPTE in
 * /proc/self/status) grow with it.  Then a child rewrites every page: one
 * minor fault and one 4 KiB copy per page, paid by whoever writes first.
 */
#include "fork_cow.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "out.h"
#include "procfs.h"
#include "sort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { FORK_REPEATS = 7, SMALL_FRACTION = 16 };

/* The block, and how much of it has been written. */
struct cost_heap {
    char *block;                       /* size bytes from malloc */
    size_t size;                       /* bytes allocated */
    size_t touched;                    /* bytes written so far: always the prefix [0, touched) */
    uint64_t first_touch_ns_per_fault; /* the parent's zero-fill faults, for comparison */
};

void check_cost_fits(size_t size)
{
    uint64_t available = mem_available_bytes();

    if (size > available / 20 * 9) { /* the parent's pages and the child's copies */
        char want[32], have[32];
        die("--size %s: the parent's pages and the child's copies need twice that, more "
            "than the %s available now",
            human_size(size, want), human_size(available, have));
    }
}

/* 4 KiB pages throughout, whatever the THP setting: with 2 MiB pages fork
 * copies one entry per 2 MiB, and this experiment measures the 4 KiB case. */
static void use_small_pages(char *block, size_t size)
{
    uintptr_t start = (uintptr_t)block & ~(uintptr_t)(page_size() - 1);
    uintptr_t end = ((uintptr_t)block + size + page_size() - 1) & ~(uintptr_t)(page_size() - 1);

    if (madvise((void *)start, end - start, MADV_NOHUGEPAGE) != 0)
        die_errno("madvise(MADV_NOHUGEPAGE)");
}

static int leave_at_once(void *arg)
{
    (void)arg;
    return 0;
}

/* The median time fork() takes in the parent (child_start returns right
 * after it), over FORK_REPEATS children that exit at once. */
static uint64_t median_fork_ns(void)
{
    uint64_t samples[FORK_REPEATS];

    for (int i = 0; i < FORK_REPEATS; i++) {
        fflush(NULL); /* so that child_start's own flush has nothing to do */
        uint64_t start = now_ns();
        pid_t pid = child_start(leave_at_once, NULL);
        samples[i] = now_ns() - start;
        finish_child(pid, start);
    }
    return median_u64(samples, FORK_REPEATS);
}

/* Touch the block up to upto bytes, then time fork; print both and return
 * the median fork time. */
static uint64_t touch_and_fork(struct cost_heap *h, size_t upto, const char *name)
{
    uint64_t faults = minor_faults(), start = now_ns();
    char mapped[32], touched[32];

    touch_pages(h->block + h->touched, upto - h->touched, 1);
    uint64_t touch_ns = now_ns() - start;
    faults = minor_faults() - faults;
    h->touched = upto;
    h->first_touch_ns_per_fault = faults ? touch_ns / faults : 0;
    long long pte_kib = proc_kib_field("/proc/self/status", "VmPTE");
    uint64_t fork_ns = median_fork_ns();

    printf("%-5s heap: %s of %s touched (%llu faults, %.0f ns each); page tables %lld kB;\n"
           "            fork() takes %.3f ms (median of %d)\n",
           name, human_size(h->touched, touched), human_size(h->size, mapped),
           (unsigned long long)faults, faults ? (double)touch_ns / (double)faults : 0.0, pte_kib,
           fork_ns / 1e6, FORK_REPEATS);
    fact_word("heap", name);
    fact_uint("mapped_bytes", h->size);
    fact_uint("touched_bytes", h->touched);
    fact_uint("touch_minor_faults", faults);
    fact_uint("touch_ns_per_fault", faults ? touch_ns / faults : 0);
    fact_int("vm_pte_kib", pte_kib);
    fact_uint("fork_ns", fork_ns);
    facts_end();
    return fork_ns;
}

/* In the child: write every page of the block, which the parent still maps. */
static int child_rewrites(void *arg)
{
    const struct cost_heap *h = arg;
    const char *middle = h->block + h->size / 2; /* inside the block's mapping */
    long long pte_kib = proc_kib_field("/proc/self/status", "VmPTE");
    struct dirty_kib before = dirty_of(middle);
    uint64_t faults = minor_faults(), start = now_ns();

    touch_pages(h->block, h->size, 2);
    uint64_t rewrite_ns = now_ns() - start;
    faults = minor_faults() - faults;
    struct dirty_kib after = dirty_of(middle);
    size_t pages = h->size / page_size();

    printf("child: page tables %lld kB, copied by fork; its mapping of the block in smaps:\n"
           "       Private_Dirty %lld kB, Shared_Dirty %lld kB (nothing copied yet)\n"
           "child: rewrote %zu pages: %llu minor faults, %.0f ns each (the parent's first\n"
           "       touch: %llu ns each), %.1f ms in all\n"
           "       Private_Dirty %lld kB, Shared_Dirty %lld kB (now a copy of its own)\n",
           pte_kib, before.private_kib, before.shared_kib, pages, (unsigned long long)faults,
           faults ? (double)rewrite_ns / (double)faults : 0.0,
           (unsigned long long)h->first_touch_ns_per_fault, rewrite_ns / 1e6, after.private_kib,
           after.shared_kib);
    fact_word("step", "child_rewrite");
    fact_int("vm_pte_kib", pte_kib);
    fact_uint("pages", pages);
    fact_uint("rewrite_minor_faults", faults);
    fact_uint("rewrite_ns", rewrite_ns);
    fact_uint("rewrite_ns_per_fault", faults ? rewrite_ns / faults : 0);
    fact_int("private_dirty_before_kib", before.private_kib);
    fact_int("shared_dirty_before_kib", before.shared_kib);
    fact_int("private_dirty_after_kib", after.private_kib);
    fact_int("shared_dirty_after_kib", after.shared_kib);
    facts_end();
    return 0;
}

void show_fork_cost(size_t size)
{
    struct cost_heap h = {.block = malloc(size), .size = size, .touched = 0};
    char text[32];

    heading("cost: fork copies page tables, not pages");
    if (h.block == NULL)
        die_errno("malloc");
    use_small_pages(h.block, size);
    printf("one malloc'd block of %s, in 4 KiB pages (MADV_NOHUGEPAGE)\n", human_size(size, text));
    uint64_t small_ns = touch_and_fork(&h, size / SMALL_FRACTION, "small");
    uint64_t large_ns = touch_and_fork(&h, size, "large");
    uint64_t extra_pages = (size - size / SMALL_FRACTION) / page_size();
    int64_t extra_ns = (int64_t)large_ns - (int64_t)small_ns;
    int64_t ns_per_page = extra_pages ? extra_ns / (int64_t)extra_pages : 0;

    printf("fork took %.1fx as long with the whole block touched: about %lld ns more\n"
           "for each extra page touched, one page-table entry each\n",
           (double)large_ns / (double)(small_ns ? small_ns : 1), (long long)ns_per_page);
    fact_uint("fork_large_vs_small_pct", large_ns * 100 / (small_ns ? small_ns : 1));
    fact_int("fork_extra_ns_per_page", ns_per_page);
    facts_end();
    run_child(child_rewrites, &h);
    free(h.block);
}
