/*
 * measure.c - what the kernel and the clock say about the allocator: that
 * its memory comes from mmap (rules_mmap_only), how much of what it maps
 * holds live blocks (util_*), and its speed against glibc's malloc on the
 * same traces in the same process (speed).
 *
 * Mapped bytes are the process's VmSize (/proc/self/statm), read after
 * every call: the kernel counts every mapping there, however it was made,
 * so no raw system call escapes it.  A trace is replayed "plain" here:
 * every block gets its first byte written, as a program would, and nothing
 * else, so that the checks of trace.c neither cost time nor memory.
 */
#include "cli.h"
#include "clock.h"
#include "driver.h"
#include "mm.h"
#include "sort.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t mapped_bytes(void)
{
    static int fd = -1;
    static uint64_t page;
    char buf[128];
    ssize_t n;

    if (fd < 0) {
        fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die_errno("/proc/self/statm");
        page = (uint64_t)sysconf(_SC_PAGESIZE);
    }
    do
        n = pread(fd, buf, sizeof buf - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        die_errno("read /proc/self/statm");
    buf[n] = '\0';
    return strtoull(buf, NULL, 10) * page; /* first field: VmSize in pages */
}

/* ------------------------------------------------------- plain replay */

struct allocator {
    const char *alloc_name, *resize_name;
    void *(*alloc)(size_t);
    void *(*resize)(void *, size_t);
    void (*release)(void *);
};

static const struct allocator mm = {"mm_malloc", "mm_realloc", mm_malloc, mm_realloc, mm_free};
static const struct allocator glibc = {"malloc", "realloc", malloc, realloc, free};

struct plain {
    const struct trace *t;
    void **blocks;   /* by id */
    uint32_t *sizes; /* by id */
};

struct plain_result {
    uint64_t elapsed_ns;
    uint64_t peak_live_bytes;   /* most bytes the trace held at once */
    uint64_t peak_mapped_bytes; /* most bytes mapped beyond the baseline */
};

static void plain_init(struct plain *p, const struct trace *t)
{
    p->t = t;
    p->blocks = calloc(t->ids, sizeof *p->blocks);
    p->sizes = calloc(t->ids, sizeof *p->sizes);
    if (p->blocks == NULL || p->sizes == NULL)
        die_errno("calloc");
}

static void plain_done(struct plain *p)
{
    free(p->blocks);
    free(p->sizes);
}

/* Replay the trace on a; with baseline != 0, read the mapped bytes after
 * every call and keep the peak above baseline. */
static void plain_replay(struct plain *p, const struct allocator *a, uint64_t baseline,
                         struct plain_result *r)
{
    const struct trace *t = p->t;
    uint64_t live = 0;
    char buf[24];

    memset(r, 0, sizeof *r);
    memset(p->blocks, 0, t->ids * sizeof *p->blocks);
    memset(p->sizes, 0, t->ids * sizeof *p->sizes);
    progress.trace = baseline ? t : NULL; /* timing: no stores but the calls' own */
    progress.step = baseline ? "measuring the mapped bytes" : "timing the traces";
    uint64_t start = now_ns();
    for (size_t i = 0; i < t->count; i++) {
        const struct call *c = &t->calls[i];
        if (baseline)
            progress.call = i;
        if (c->op == 'f') {
            a->release(p->blocks[c->id]);
            p->blocks[c->id] = NULL;
            live -= p->sizes[c->id];
            p->sizes[c->id] = 0;
        } else {
            char *q = c->op == 'a' ? a->alloc(c->size) : a->resize(p->blocks[c->id], c->size);
            if (q == NULL)
                lab_fail("%s line %zu (%c %" PRIu32 " %" PRIu32 "): %s(%" PRIu32 ") returned NULL "
                         "(errno %s); expected a block",
                         t->name, trace_line(i), c->op, c->id, c->size,
                         c->op == 'a' ? a->alloc_name : a->resize_name, c->size,
                         errno_name(errno, buf));
            *q = (char)i;
            p->blocks[c->id] = q;
            live = live - p->sizes[c->id] + c->size;
            p->sizes[c->id] = c->size;
            if (live > r->peak_live_bytes)
                r->peak_live_bytes = live;
        }
        if (baseline) {
            uint64_t mapped = mapped_bytes();
            if (mapped > baseline && mapped - baseline > r->peak_mapped_bytes)
                r->peak_mapped_bytes = mapped - baseline;
        }
    }
    r->elapsed_ns = now_ns() - start;
    progress.trace = NULL;
}

/* ---------------------------------------------------------- the rules */

/* Bytes in use in glibc's heap: its arena and the chunks it mmap'd. */
static uint64_t glibc_in_use(void)
{
    struct mallinfo2 info = mallinfo2();

    return info.uordblks + info.hblkhd;
}

void test_rules_mmap_only(int argc, char *argv[])
{
    struct trace t;
    struct plain p;
    struct plain_result r;

    trace_for_test(&t, KIND_MIXED, argc, argv);
    plain_init(&p, &t);
    uint64_t heap_before = glibc_in_use(), baseline = mapped_bytes();
    long brk_before = syscall(SYS_brk, 0); /* the kernel's break, whoever moved it */
    allocator_start();
    plain_replay(&p, &mm, baseline, &r);
    uint64_t heap_after = glibc_in_use();
    long brk_after = syscall(SYS_brk, 0);
    if (heap_after > heap_before)
        lab_fail("the C library's heap grew by %" PRIu64 " bytes during %s: mm.c calls malloc, "
                 "or something that does (strdup, printf...); memory must come from mmap",
                 heap_after - heap_before, t.name);
    if (brk_after != brk_before)
        lab_fail("the program break moved by %ld bytes during %s: memory must come from mmap, "
                 "not sbrk or brk",
                 brk_after - brk_before, t.name);
    if (r.peak_mapped_bytes < r.peak_live_bytes)
        lab_fail("during %s the process mapped at most %" PRIu64
                 " bytes more, fewer than the %" PRIu64
                 " bytes live at the peak: the blocks come from memory mapped before mm_init (a "
                 "static array?); memory must come from mmap",
                 t.name, r.peak_mapped_bytes, r.peak_live_bytes);
    plain_done(&p);
    trace_free(&t);
    lab_pass(NULL);
}

/* --------------------------------------------------------- utilisation */

/*
 * Utilisation is peak live bytes over peak mapped bytes.  The rubric sets
 * pass_pct, below which the test fails, and full_pct, from which it scores
 * full marks; in between the points rise from half to all.
 */
static void test_util(enum trace_kind kind, unsigned pass_pct, unsigned full_pct, int argc,
                      char *argv[])
{
    struct trace t;
    struct plain p;
    struct plain_result r;

    pass_pct = (unsigned)lab_arg(argc, argv, "pass_pct", pass_pct);
    full_pct = (unsigned)lab_arg(argc, argv, "full_pct", full_pct);
    if (pass_pct > full_pct || full_pct > 100)
        die("expected pass_pct <= full_pct <= 100, got pass_pct=%u full_pct=%u", pass_pct,
            full_pct);
    trace_for_test(&t, kind, argc, argv);
    plain_init(&p, &t);
    uint64_t baseline = mapped_bytes(); /* before mm_init: what it maps counts */
    allocator_start();
    plain_replay(&p, &mm, baseline, &r);
    plain_done(&p);
    trace_free(&t);
    if (r.peak_mapped_bytes == 0)
        lab_fail("the process mapped no memory during %s (peak live %" PRIu64 " bytes): memory "
                 "must come from mmap",
                 t.name, r.peak_live_bytes);
    unsigned pct = (unsigned)(r.peak_live_bytes * 100 / r.peak_mapped_bytes);
    char measured[128];
    snprintf(measured, sizeof measured,
             "peak live %" PRIu64 " bytes, peak mapped %" PRIu64 " bytes", r.peak_live_bytes,
             r.peak_mapped_bytes);
    if (pct < pass_pct)
        lab_fail("utilisation %u%% on %s (%s); expected at least %u%% (full marks from %u%%)", pct,
                 t.name, measured, pass_pct, full_pct);
    if (pct >= full_pct)
        lab_pass("utilisation %u%% (%s)", pct, measured);
    unsigned share = 50 + 50 * (pct - pass_pct) / (full_pct - pass_pct);
    lab_partial(share, "utilisation %u%% on %s (%s); full marks from %u%%", pct, t.name, measured,
                full_pct);
}

void test_util_small(int argc, char *argv[])
{
    test_util(KIND_SMALL, 35, 60, argc, argv);
}

void test_util_realloc(int argc, char *argv[])
{
    test_util(KIND_REALLOC, 35, 60, argc, argv);
}

void test_util_mixed(int argc, char *argv[])
{
    test_util(KIND_MIXED, 50, 75, argc, argv);
}

/* --------------------------------------------------------------- speed */

/* The time of one replay of the trace on a (after its heap has warmed up). */
static uint64_t replay_ns(struct plain *p, const struct allocator *a)
{
    struct plain_result r;

    plain_replay(p, a, 0, &r);
    return r.elapsed_ns;
}

/*
 * Speed is glibc's time over mm's for the small and the mixed trace, in
 * rounds: a round replays both traces on both allocators back to back (mm
 * first in odd rounds), so that the two sides of a ratio see the same load
 * on a shared machine; the score is the median of the rounds' ratios.  One
 * replay each, not timed, first: both heaps have grown to the traces' size
 * and touched their pages before the clock starts.
 */
void test_speed(int argc, char *argv[])
{
    static const enum trace_kind kinds[] = {KIND_SMALL, KIND_MIXED};
    enum { KINDS_TIMED = sizeof kinds / sizeof kinds[0] };
    unsigned floor_pct = (unsigned)lab_arg(argc, argv, "floor_pct", 20);
    unsigned reps = (unsigned)lab_arg(argc, argv, "reps", 5);
    const char *sanitizer = getenv("LAB_SANITIZER");
    struct trace traces[KINDS_TIMED];
    struct plain plains[KINDS_TIMED];
    uint64_t ratios[16];

    if (sanitizer != NULL && *sanitizer != '\0')
        lab_skip("timings under a sanitizer (%s) say nothing about speed", sanitizer);
    if (reps == 0 || reps > 16)
        die("reps= must be from 1 to 16");
    for (size_t k = 0; k < KINDS_TIMED; k++) {
        trace_for_test(&traces[k], kinds[k], argc, argv);
        plain_init(&plains[k], &traces[k]);
    }
    allocator_start();
    for (size_t k = 0; k < KINDS_TIMED; k++) {
        replay_ns(&plains[k], &mm);
        replay_ns(&plains[k], &glibc);
    }
    for (unsigned i = 0; i < reps; i++) {
        uint64_t mm_ns = 0, glibc_ns = 0;
        for (size_t k = 0; k < KINDS_TIMED; k++) {
            if (i % 2 == 1)
                mm_ns += replay_ns(&plains[k], &mm);
            glibc_ns += replay_ns(&plains[k], &glibc);
            if (i % 2 == 0)
                mm_ns += replay_ns(&plains[k], &mm);
        }
        ratios[i] = glibc_ns * 100 / (mm_ns ? mm_ns : 1);
    }
    for (size_t k = 0; k < KINDS_TIMED; k++) {
        plain_done(&plains[k]);
        trace_free(&traces[k]);
    }
    unsigned pct = (unsigned)median_u64(ratios, reps);
    if (pct < floor_pct)
        lab_fail("mm ran the small and mixed traces at %u%% of glibc's speed (the median of %u "
                 "rounds timing both in this process); expected at least %u%%",
                 pct, reps, floor_pct);
    lab_pass("%u%% of glibc's speed (floor %u%%)", pct, floor_pct);
}
