/*
 * race.c - the naive bump allocator run by several processes at once.
 *
 * Its arena (the one a popular tutorial calls "lockless" and "fork-safe")
 * is a MAP_SHARED region whose first word is the offset of the next free
 * byte, and allocation is "offset += size".  That is a read, an add and a
 * write: two processes can both read the same offset before either
 * writes, and both get the same bytes.  The same bump with one
 * atomic read-modify-write (fetch-add) cannot, and neither can shalloc.
 * Every block is written with its owner's name and read back at the end,
 * so an overlap shows as data another process overwrote.  What the races
 * showed is said in race_report.c.
 */
#include "race.h"
#include "cli.h"
#include "lesson07.h"
#include "memory.h"
#include "out.h"
#include "sort.h"

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 16, MAX_RACE_ALLOCS = 1000000, MAX_ATTEMPTS = 5 };

/* The naive arena: its offset lives in the shared region itself. */
struct arena {
    _Atomic uint64_t offset; /* next free byte, from the start of the region */
};

/* A worker's progress, in a cache line of its own: the others look at it to
 * see whether they ran at the same time and how far it got while they
 * yielded. */
struct progress {
    _Alignas(64) _Atomic uint64_t done; /* allocations made */
};

/* What one worker saw of the others, added to the shared sums at its end. */
struct watch {
    struct race *r;
    unsigned index;
    uint64_t others_then; /* the others' allocations at the last checkpoint */
    uint64_t checkpoints; /* every PREEMPT_EVERY allocations */
    uint64_t interleaved; /* checkpoints at which the others had moved on since the last */
    uint64_t yields, taken_while_yielding;
};

/* The sums over every worker, in a shared mapping. */
struct sightings {
    _Atomic uint64_t checkpoints, interleaved, yields, taken_while_yielding;
};

struct race {
    enum bump_kind kind;
    struct sightings *seen;    /* in a shared mapping: every worker adds to it */
    struct progress *progress; /* [worker], shared */
    _Atomic unsigned *arrived; /* a spin barrier after the gate: start within nanoseconds */
    unsigned procs;
    struct arena *arena; /* racy and atomic: a bare region */
    size_t arena_bytes;
    struct shalloc region; /* shalloc */
    uint64_t *offsets;     /* [worker * allocs + i]: what each worker got */
    uint64_t allocs;       /* per worker */
};

/*
 * Two processes collide when they run at the same instant on two CPUs, or
 * when one is preempted between its read and its write.  On a busy machine
 * the first may not happen during a run this short, so the racy_preempted
 * run gives up the CPU at the worst moment once every PREEMPT_EVERY
 * allocations, as a timer interrupt would at random.  The atomic bump gets
 * the same interruptions: there is no moment at which one can hurt it.
 */

static uint64_t others_done(const struct watch *w)
{
    uint64_t sum = 0;

    for (unsigned k = 0; k < w->r->procs; k++)
        if (k != w->index)
            sum += atomic_load_explicit(&w->r->progress[k].done, memory_order_relaxed);
    return sum;
}

/* Have the others moved on since our last look?  Never when each process
 * runs all its allocations alone, one after the other; often when they run
 * side by side, or take turns at every yield. */
static void checkpoint(struct watch *w, uint64_t i)
{
    uint64_t now = others_done(w);

    if (i > 0) {
        w->checkpoints++;
        w->interleaved += now != w->others_then;
    }
    w->others_then = now;
}

/* Give up the CPU, and count the blocks the others took before we were back:
 * a few if they run on CPUs of their own, a whole round of theirs if the
 * yield let them run in our place. */
static void yield_and_watch(struct watch *w)
{
    uint64_t before = others_done(w);
    sched_yield();
    w->yields++;
    w->taken_while_yielding += others_done(w) - before;
}

/* "offset += size" as the tutorial writes it, made well defined in C with an
 * atomic load and an atomic store: still two steps, and that is the bug. */
static uint64_t racy_bump(struct arena *a, uint64_t size, bool preempt, struct watch *w)
{
    uint64_t old = atomic_load_explicit(&a->offset, memory_order_relaxed);
    if (preempt)
        yield_and_watch(w);
    atomic_store_explicit(&a->offset, old + size, memory_order_relaxed);
    return old;
}

static uint64_t atomic_bump(struct arena *a, uint64_t size, bool preempt, struct watch *w)
{
    if (preempt)
        yield_and_watch(w);
    return atomic_fetch_add_explicit(&a->offset, size, memory_order_relaxed);
}

static char *block_at_offset(struct race *r, uint64_t off)
{
    return r->kind == SHALLOC ? shalloc_pointer(&r->region, off) : (char *)r->arena + off;
}

static uint64_t take_block(struct race *r, bool preempt, struct watch *w)
{
    switch (r->kind) {
    case RACY: return racy_bump(r->arena, BLOCK, false, w);
    case RACY_PREEMPTED: return racy_bump(r->arena, BLOCK, preempt, w);
    case ATOMIC: return atomic_bump(r->arena, BLOCK, preempt, w);
    default: {
        void *p = shalloc_alloc(&r->region, BLOCK);
        if (p == NULL)
            die_errno(shalloc_error(&r->region));
        return shalloc_offset(&r->region, p);
    }
    }
}

/* Everyone spins until all have arrived: the gate wakes processes one by
 * one, and a bump of 100,000 blocks is over in a millisecond. */
static void wait_for_all(struct race *r)
{
    atomic_fetch_add(r->arrived, 1);
    while (atomic_load(r->arrived) < r->procs)
        ;
}

/* Allocate r->allocs blocks, note where each one is, write our name in it. */
static void allocate_all(struct race *r, unsigned index)
{
    uint64_t *mine = r->offsets + index * r->allocs;
    struct watch w = {.r = r, .index = index};

    wait_for_all(r);
    for (uint64_t i = 0; i < r->allocs; i++) {
        if (i % PREEMPT_EVERY == 0)
            checkpoint(&w, i);
        mine[i] = take_block(r, i % PREEMPT_EVERY == PREEMPT_EVERY / 2, &w);
        uint64_t name = (uint64_t)index << 32 | i;
        memcpy(block_at_offset(r, mine[i]), &name, sizeof name);
        atomic_store_explicit(&r->progress[index].done, i + 1, memory_order_relaxed);
    }
    atomic_fetch_add(&r->seen->checkpoints, w.checkpoints);
    atomic_fetch_add(&r->seen->interleaved, w.interleaved);
    atomic_fetch_add(&r->seen->yields, w.yields);
    atomic_fetch_add(&r->seen->taken_while_yielding, w.taken_while_yielding);
}

static int race_child(void *arg, unsigned index)
{
    struct race *r = arg;

    allocate_all(r, index);
    if (r->kind == SHALLOC)
        close_region(&r->region);
    return 0;
}

/* Blocks that no longer hold their owner's name: someone else got them too. */
static uint64_t count_overwritten(struct race *r, unsigned procs)
{
    uint64_t overwritten = 0;

    for (unsigned w = 0; w < procs; w++)
        for (uint64_t i = 0; i < r->allocs; i++) {
            uint64_t name, want = (uint64_t)w << 32 | i;
            memcpy(&name, block_at_offset(r, r->offsets[w * r->allocs + i]), sizeof name);
            overwritten += name != want;
        }
    return overwritten;
}

/* Blocks handed out over bytes already given to another block. */
static uint64_t count_overlaps(uint64_t *offsets, uint64_t n)
{
    uint64_t overlaps = 0;

    sort_u64(offsets, n);
    for (uint64_t i = 1; i < n; i++)
        overlaps += offsets[i] < offsets[i - 1] + BLOCK;
    return overlaps;
}

static void set_up(struct race *r, unsigned procs)
{
    uint64_t total = procs * r->allocs;

    if (r->kind == SHALLOC) {
        open_region(&r->region, NULL, (size_t)(total * (BLOCK + 16) + (8u << 20)));
        return;
    }
    r->arena_bytes = (size_t)(total * BLOCK + 4096);
    r->arena = map_anonymous(r->arena_bytes, MAP_SHARED);
    memset(r->arena, 0, r->arena_bytes); /* fault it in now, not during the race */
    atomic_init(&r->arena->offset, 64);  /* the arena's header, then blocks */
}

/* After counting: give every block back (a parent may free a child's) and
 * check the region. */
static bool tear_down(struct race *r, unsigned procs)
{
    bool ok = true;

    if (r->kind != SHALLOC) {
        unmap(r->arena, r->arena_bytes);
        return true;
    }
    for (uint64_t i = 0; i < procs * r->allocs; i++)
        shalloc_free(&r->region, shalloc_pointer(&r->region, r->offsets[i]));
    ok = report_check(&r->region);
    close_region(&r->region);
    return ok;
}

/* The arena's offset at the end: every update that did not reach it is
 * lost.  The blocks handed out always run from the first offset to the
 * highest one handed out, so lost updates = blocks handed out twice + the
 * blocks between the offset's last value and the end of the highest block
 * (a stale store that came last: nobody allocated over those yet). */
static void count_lost(struct race *r, uint64_t total, uint64_t highest_end, struct outcome *out)
{
    uint64_t end = atomic_load(&r->arena->offset), want = 64 + total * BLOCK;

    out->lost_updates = (want - end) / BLOCK;
    out->rollback = highest_end > end ? (highest_end - end) / BLOCK : 0;
    printf("the offset ended at %" PRIu64 " instead of %" PRIu64 ": %" PRIu64 " updates lost\n",
           end, want, out->lost_updates);
    if (out->rollback > 0)
        printf("(%" PRIu64 " blocks handed out twice, and a stale store came last: the offset\n"
               "ended %" PRIu64 " blocks below the highest block handed out)\n",
               out->overlaps, out->rollback);
}

static void count_sightings(const struct race *r, struct outcome *out)
{
    uint64_t checkpoints = atomic_load(&r->seen->checkpoints);

    out->interleaved_pct =
        checkpoints ? (unsigned)(atomic_load(&r->seen->interleaved) * 100 / checkpoints) : 0;
    out->yields = atomic_load(&r->seen->yields);
    out->taken_per_yield =
        out->yields ? atomic_load(&r->seen->taken_while_yielding) / out->yields : 0;
    printf("the others had moved on at %u%% of the checkpoints (one every %d allocations)\n",
           out->interleaved_pct, PREEMPT_EVERY);
    if (out->yields > 0)
        printf("while one process gave up the CPU (%" PRIu64 " times), the others took %" PRIu64
               " blocks on average\n",
               out->yields, out->taken_per_yield);
}

static struct outcome run_kind(struct race *r, enum bump_kind kind, unsigned procs, bool *ok)
{
    struct crew crew;
    struct outcome out = {0};
    uint64_t total = procs * r->allocs;

    r->kind = kind;
    atomic_store(r->arrived, 0);
    memset(r->seen, 0, sizeof *r->seen);
    memset(r->progress, 0, procs * sizeof *r->progress);
    subheading("%s bump: %u processes, %" PRIu64 " blocks of %d bytes each", race_kind_name(kind),
               procs, r->allocs, BLOCK);
    set_up(r, procs);
    crew_start(&crew, procs - 1, race_child, r);
    crew_release(&crew);
    allocate_all(r, procs - 1); /* the parent races its children */
    if (crew_wait(&crew, CHILD_TIMEOUT_MS) != 0)
        die("a race worker failed");
    out.overwritten = count_overwritten(r, procs);
    out.overlaps = count_overlaps(r->offsets, total); /* sorts: keep it last */
    printf("blocks handed out over another block: %" PRIu64 "; blocks overwritten by another "
           "process: %" PRIu64 "\n",
           out.overlaps, out.overwritten);
    if (kind != SHALLOC) {
        count_lost(r, total, r->offsets[total - 1] + BLOCK, &out);
        count_sightings(r, &out);
    }
    race_print_outcome(kind, procs, r->allocs, &out);
    *ok = tear_down(r, procs) && *ok;
    return out;
}

int run_race(const struct options *o)
{
    struct race r = {.allocs = o->ops};
    struct outcome out[KINDS];
    bool ok = true;

    if (o->ops > MAX_RACE_ALLOCS)
        usage_error("--ops: race takes at most %d allocations per process", MAX_RACE_ALLOCS);
    heading("race: a parent and %u child%s allocate from one shared region at once", o->procs - 1,
            o->procs == 2 ? "" : "ren");
    r.procs = o->procs;
    r.arrived = map_anonymous(sizeof *r.arrived, MAP_SHARED);
    r.seen = map_anonymous(sizeof *r.seen, MAP_SHARED);
    r.progress = map_anonymous(o->procs * sizeof *r.progress, MAP_SHARED);
    r.offsets = map_anonymous(o->procs * o->ops * sizeof *r.offsets, MAP_SHARED);
    memset(r.offsets, 0, o->procs * o->ops * sizeof *r.offsets);
    unsigned attempts = 1;
    for (int k = 0; k < KINDS; k++)
        out[k] = run_kind(&r, (enum bump_kind)k, o->procs, &ok);
    /* On a busy machine one process may run all its allocations before
     * the other gets a CPU, yields and all: there was no race to see. */
    while (o->procs > 1 && out[RACY_PREEMPTED].overlaps == 0 &&
           out[RACY_PREEMPTED].taken_per_yield == 0 && attempts < MAX_ATTEMPTS) {
        printf("no yield saw another process move: they ran one after the other; again\n");
        out[RACY_PREEMPTED] = run_kind(&r, RACY_PREEMPTED, o->procs, &ok);
        attempts++;
    }
    unmap(r.offsets, o->procs * o->ops * sizeof *r.offsets);
    unmap(r.seen, sizeof *r.seen);
    unmap(r.progress, o->procs * sizeof *r.progress);
    unmap((void *)r.arrived, sizeof *r.arrived);
    race_conclude(out, o->procs, o->procs * o->ops);
    fact_word("command", "race");
    fact_uint("racy_overlaps", out[RACY].overlaps);
    fact_uint("preempted_overlaps", out[RACY_PREEMPTED].overlaps);
    fact_uint("atomic_overlaps", out[ATOMIC].overlaps);
    fact_uint("shalloc_overlaps", out[SHALLOC].overlaps);
    fact_uint("allocs_total", o->procs * o->ops);
    fact_uint("preempted_attempts", attempts);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    return ok && out[ATOMIC].overlaps == 0 && out[SHALLOC].overlaps == 0 ? 0 : 1;
}
