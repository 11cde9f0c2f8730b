/*
 * measure.c - one touch experiment, measured step by step and printed after.
 *
 * The process's RSS counts every resident page it maps, its own code and
 * libc's included.  The first call of a function faults in the page its code
 * is on, and for file pages the kernel maps the neighbours with it
 * ("fault-around", 64 KiB by default).  So a measurement taken with cold
 * functions measures itself: before this file primed them, RSS "after mmap"
 * came out 64 KiB above "before" in some runs (the code of libc's sscanf and
 * other functions called for the first time, not the mapping), and printing
 * between two readings added more.  The stack
 * is the same: a call that reaches one page deeper than any before faults in
 * a new stack page (in about one run in fifteen, by where the stack happened
 * to start).  Hence two rules here: the measuring functions are called, and
 * the stack is used to a depth they never reach, before the first baseline;
 * and nothing is printed until the last reading is taken.
 */
#include "lesson01.h"

#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "out.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* What the current experiment saw.  Static, and written once by the
 * priming, so that its pages are resident before any baseline. */
static struct touch_record record;

/* The process's resident set, in KiB, counted page by page: the Rss of
 * /proc/self/smaps_rollup is a walk of the page tables.  /proc/self/statm is
 * cheaper, but some kernels fill it from per-CPU counters they do not add
 * up, which can be a few dozen pages off; this lesson counts single pages. */
static uint64_t resident_kib(void)
{
    long long kib = smaps_rollup_kib("Rss");

    return kib >= 0 ? (uint64_t)kib : rss_kib(); /* before Linux 4.14: statm */
}

static long long vm_pte_kib(void)
{
    return proc_kib_field("/proc/self/status", "VmPTE");
}

/* Use the next STACK_RESERVE bytes of stack once, so that they are resident
 * before any measurement (which never goes that deep). */
enum { STACK_RESERVE = 64 * 1024 };
static void use_stack(void)
{
    volatile char reserve[STACK_RESERVE];

    for (size_t offset = 0; offset < sizeof reserve; offset += 1024)
        reserve[offset] = 1;
}

void prime_measurements(void)
{
    size_t two_pages = 2 * page_size();
    char *scratch = map_anonymous(two_pages, MAP_PRIVATE);
    struct residency r;
    struct mapping m;

    for (int round = 0; round < 2; round++) { /* the second finds everything warm */
        (void)resident_kib();
        (void)minor_faults();
        (void)now_ns();
        (void)vm_pte_kib();
        madvise(scratch, two_pages, MADV_NOHUGEPAGE); /* EINVAL without THP: only warming */
        touch_pages(scratch, two_pages, 1);
        residency_scan(&r, "prime", scratch, two_pages);
        (void)mapping_find(scratch, &m);
        (void)smaps_kib(scratch, "AnonHugePages");
        (void)page_view_of(scratch);
    }
    unmap(scratch, two_pages);
    memset(&record, 0, sizeof record);
    use_stack();
}

struct baseline take_baseline(void)
{
    struct baseline b = {.pte_kib = vm_pte_kib()};

    b.rss_kib = resident_kib();
    return b;
}

/* The page-aligned range that [base, base + size) covers (a malloc'd block
 * starts 16 bytes into a page). */
static char *page_floor(char *p)
{
    return (char *)((uintptr_t)p & ~(uintptr_t)(page_size() - 1));
}

static size_t covered_bytes(char *base, size_t size)
{
    uintptr_t end = ((uintptr_t)base + size + page_size() - 1) & ~(uintptr_t)(page_size() - 1);

    return end - (uintptr_t)page_floor(base);
}

static const char *const stage_names[STAGES] = {
    "mapped", "touched_25", "touched_50", "touched_75", "touched_100", "released",
};

/* Write one byte into every page, a quarter of the pages at a time, with a
 * residency snapshot after each quarter (not timed). */
static void touch_in_quarters(struct trial *t, struct touch_record *rec, char *base, size_t size)
{
    size_t pages = (size + page_size() - 1) / page_size(), done = 0;

    t->touch_ns = t->touch_faults = 0;
    for (int q = 1; q <= QUARTERS; q++) {
        size_t upto = pages * (size_t)q / QUARTERS * page_size();
        if (upto > size)
            upto = size;
        uint64_t faults = minor_faults(), start = now_ns();
        touch_pages(base + done, upto - done, 1);
        t->touch_ns += now_ns() - start;
        t->touch_faults += minor_faults() - faults;
        done = upto;
        residency_scan(&rec->stages[q], stage_names[q], page_floor(base),
                       covered_bytes(base, size));
        rec->stages[q].rss_kib = resident_kib();
    }
}

/* Every reading of the experiment, in order; no printing in here. */
static void record_touch(struct trial *t, struct touch_record *rec, char *base, size_t size,
                         void (*release)(char *base, size_t size))
{
    char *range = page_floor(base);
    size_t range_bytes = covered_bytes(base, size);

    rec->rss_mapped = resident_kib();
    residency_scan(&rec->stages[0], stage_names[0], range, range_bytes);
    rec->stages[0].rss_kib = rec->rss_mapped;
    if (!mapping_find(base, &rec->vma))
        die("no mapping contains %p right after mapping it", (void *)base);

    touch_in_quarters(t, rec, base, size);
    rec->rss_touched = resident_kib();
    rec->pte_touched = vm_pte_kib();
    rec->huge_kib = smaps_kib(base, "AnonHugePages");
    for (int i = 0; i < FRAMES_SHOWN; i++)
        rec->frames[i] = (size_t)i * page_size() < range_bytes
                             ? page_view_of(range + (size_t)i * page_size())
                             : (struct page_view){0};

    release(base, size);
    rec->rss_released = resident_kib();
    struct mapping m;
    rec->still_mapped = mapping_find(base, &m);
    residency_scan(&rec->stages[STAGES - 1], stage_names[STAGES - 1], range, range_bytes);
    rec->stages[STAGES - 1].rss_kib = rec->rss_released;
}

static void print_mapped_and_touched(const struct trial *t, const struct touch_record *rec,
                                     char *base)
{
    printf("mapped at %p; /proc/self/maps now has:\n    %s\n", (void *)base, rec->vma.line);
    printf("RSS after mapping:  %8llu KiB (%+lld KiB)\n", (unsigned long long)rec->rss_mapped,
           (long long)rec->rss_mapped - (long long)rec->before.rss_kib);
    printf("RSS after touching: %8llu KiB (%+lld KiB): %llu minor faults in %.1f ms",
           (unsigned long long)rec->rss_touched,
           (long long)rec->rss_touched - (long long)rec->rss_mapped,
           (unsigned long long)t->touch_faults, t->touch_ns / 1e6);
    if (t->touch_faults > 0)
        printf(", %llu ns per fault", (unsigned long long)(t->touch_ns / t->touch_faults));
    printf("\nof which in huge pages (AnonHugePages): %lld KiB\n", rec->huge_kib);
}

static void print_released(const struct touch_record *rec)
{
    printf("RSS after release:  %8llu KiB (%+lld KiB); the range is %s /proc/self/maps\n",
           (unsigned long long)rec->rss_released,
           (long long)rec->rss_released - (long long)rec->before.rss_kib,
           rec->still_mapped ? "still in" : "gone from");
}

static void print_touch_facts(const struct trial *t, const struct touch_record *rec, char *base,
                              size_t size)
{
    fact_word("mode", mode_names[t->mode]);
    fact_uint("size_bytes", size);
    fact_hex("map_start", (uintptr_t)base);
    fact_uint("rss_before_kib", rec->before.rss_kib);
    fact_uint("rss_after_mmap_kib", rec->rss_mapped);
    fact_uint("rss_after_touch_kib", rec->rss_touched);
    fact_uint("rss_after_munmap_kib", rec->rss_released);
    fact_uint("mmap_minor_faults", t->setup_faults);
    fact_uint("mmap_ns", t->setup_ns);
    fact_uint("minor_faults", t->touch_faults);
    fact_uint("touch_ns", t->touch_ns);
    fact_uint("ns_per_fault", t->touch_faults ? t->touch_ns / t->touch_faults : 0);
    fact_int("anon_huge_kib", rec->huge_kib);
    fact_int("in_maps_after_munmap", rec->still_mapped);
    fact_int("vm_pte_before_kib", rec->before.pte_kib);
    fact_int("vm_pte_after_kib", rec->pte_touched);
    fact_uint("small_page_entries", small_page_entries(rec));
    fact_uint("huge_page_entries", huge_page_entries(rec));
    fact_int("frames_visible", frame_visible(&rec->frames[0]));
    fact_uint("chunk_pages", rec->stages[0].chunk_pages);
    fact_uint("resident_after_mmap_pages", rec->stages[0].resident);
    fact_uint("resident_after_touch_pages", rec->stages[QUARTERS].resident);
    facts_end();
}

void measure_touch(struct trial *t, const struct touch_setup *setup)
{
    struct touch_record *rec = &record;

    memset(rec, 0, sizeof *rec);
    rec->before = setup->before;
    record_touch(t, rec, setup->base, setup->size, setup->release);
    if (setup->describe != NULL)
        setup->describe(t, setup->ctx);
    print_mapped_and_touched(t, rec, setup->base);
    draw_residency(rec->stages, STAGES);
    draw_layers(rec, t);
    print_released(rec);
    print_touch_facts(t, rec, setup->base, setup->size);
}
