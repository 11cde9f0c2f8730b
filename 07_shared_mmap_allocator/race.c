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
 * so an overlap shows as data another process overwrote.
 */
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

enum bump_kind { RACY, RACY_PREEMPTED, ATOMIC, SHALLOC, KINDS };
static const char *const kind_names[KINDS] = {"racy", "racy_preempted", "atomic", "shalloc"};
enum { BLOCK = 16, MAX_RACE_ALLOCS = 1000000, PREEMPT_EVERY = 1000 };

/* The naive arena: its offset lives in the shared region itself. */
struct arena {
    _Atomic uint64_t offset; /* next free byte, from the start of the region */
};

struct race {
    enum bump_kind kind;
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

/* "offset += size" as the tutorial writes it, made well defined in C with an
 * atomic load and an atomic store: still two steps, and that is the bug. */
static uint64_t racy_bump(struct arena *a, uint64_t size, bool preempt)
{
    uint64_t old = atomic_load_explicit(&a->offset, memory_order_relaxed);
    if (preempt)
        sched_yield();
    atomic_store_explicit(&a->offset, old + size, memory_order_relaxed);
    return old;
}

static uint64_t atomic_bump(struct arena *a, uint64_t size, bool preempt)
{
    if (preempt)
        sched_yield();
    return atomic_fetch_add_explicit(&a->offset, size, memory_order_relaxed);
}

static char *block_at_offset(struct race *r, uint64_t off)
{
    return r->kind == SHALLOC ? shalloc_pointer(&r->region, off) : (char *)r->arena + off;
}

static uint64_t take_block(struct race *r, bool preempt)
{
    switch (r->kind) {
    case RACY: return racy_bump(r->arena, BLOCK, false);
    case RACY_PREEMPTED: return racy_bump(r->arena, BLOCK, preempt);
    case ATOMIC: return atomic_bump(r->arena, BLOCK, preempt);
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

    wait_for_all(r);
    for (uint64_t i = 0; i < r->allocs; i++) {
        mine[i] = take_block(r, i % PREEMPT_EVERY == PREEMPT_EVERY / 2);
        uint64_t name = (uint64_t)index << 32 | i;
        memcpy(block_at_offset(r, mine[i]), &name, sizeof name);
    }
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

static uint64_t run_kind(struct race *r, enum bump_kind kind, unsigned procs, bool *ok)
{
    struct crew crew;
    uint64_t total = procs * r->allocs;

    r->kind = kind;
    atomic_store(r->arrived, 0);
    subheading("%s bump: %u processes, %" PRIu64 " blocks of %d bytes each", kind_names[kind],
               procs, r->allocs, BLOCK);
    set_up(r, procs);
    crew_start(&crew, procs - 1, race_child, r);
    crew_release(&crew);
    allocate_all(r, procs - 1); /* the parent races its children */
    if (crew_wait(&crew, CHILD_TIMEOUT_MS) != 0)
        die("a race worker failed");
    uint64_t overwritten = count_overwritten(r, procs);
    uint64_t end = kind == SHALLOC ? 0 : atomic_load(&r->arena->offset);
    uint64_t overlaps = count_overlaps(r->offsets, total); /* sorts: keep it last */
    printf("blocks handed out over another block: %" PRIu64 "; blocks overwritten by another "
           "process: %" PRIu64 "\n",
           overlaps, overwritten);
    if (kind != SHALLOC)
        printf("the offset ended at %" PRIu64 " instead of %" PRIu64 ": %" PRIu64 " updates lost\n",
               end, 64 + total * BLOCK, (64 + total * BLOCK - end) / BLOCK);
    fact_word("bump", kind_names[kind]);
    fact_uint("procs", procs);
    fact_uint("allocs", r->allocs);
    fact_uint("overlaps", overlaps);
    fact_uint("overwritten", overwritten);
    if (kind != SHALLOC)
        fact_uint("lost_updates", (64 + total * BLOCK - end) / BLOCK);
    facts_end();
    *ok = tear_down(r, procs) && *ok;
    return overlaps;
}

int run_race(const struct options *o)
{
    struct race r = {.allocs = o->ops};
    uint64_t overlaps[KINDS];
    bool ok = true;

    if (o->ops > MAX_RACE_ALLOCS)
        usage_error("--ops: race takes at most %d allocations per process", MAX_RACE_ALLOCS);
    heading("race: a parent and %u child%s allocate from one shared region at once", o->procs - 1,
            o->procs == 2 ? "" : "ren");
    r.procs = o->procs;
    r.arrived = map_anonymous(sizeof *r.arrived, MAP_SHARED);
    r.offsets = map_anonymous(o->procs * o->ops * sizeof *r.offsets, MAP_SHARED);
    memset(r.offsets, 0, o->procs * o->ops * sizeof *r.offsets);
    for (int k = 0; k < KINDS; k++)
        overlaps[k] = run_kind(&r, (enum bump_kind)k, o->procs, &ok);
    unmap(r.offsets, o->procs * o->ops * sizeof *r.offsets);
    unmap((void *)r.arrived, sizeof *r.arrived);
    printf("\n'offset += size' is a read and a write: between them another process reads the\n"
           "same offset. fetch-add does both in one indivisible step.\n");
    fact_word("command", "race");
    fact_uint("racy_overlaps", overlaps[RACY]);
    fact_uint("preempted_overlaps", overlaps[RACY_PREEMPTED]);
    fact_uint("atomic_overlaps", overlaps[ATOMIC]);
    fact_uint("shalloc_overlaps", overlaps[SHALLOC]);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    return ok && overlaps[ATOMIC] == 0 && overlaps[SHALLOC] == 0 ? 0 : 1;
}
