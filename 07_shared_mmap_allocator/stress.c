/*
 * stress.c - many processes allocating at once (stress); its workers are
 * crash's too (crash.c).
 *
 * Every block is filled with a pattern naming its owner and checked just
 * before it is freed: a block that was also handed to someone else would
 * show their bytes.  Sizes are mostly small, with runs of spans among
 * them, up to a sixteenth of the region.  One operation in eight passes a
 * block to another process through a mailbox in the region, so blocks are
 * freed by processes that did not allocate them.  At the end the checker
 * walks the region.
 */
#include "cli.h"
#include "clock.h"
#include "lesson07.h"
#include "memory.h"
#include "out.h"
#include "rng.h"

#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

enum {
    MAILBOXES = 64,         /* offsets in transit between processes */
    LARGE_BYTES = 1 << 16,  /* runs up to this are "large", past it "huge" */
    MIN_HUGE = LARGE_BYTES, /* the largest request is at least this */
};

/* Check the block's pattern, then free it. */
static void release_checked(struct stress *s, struct tally *t, unsigned char *block)
{
    uint64_t stamp;

    if (pattern_intact(block, s->huge_bytes, &stamp))
        t->verified++;
    else
        t->overlaps++;
    shalloc_free(&s->region, block);
}

/* A huge request: 64 KiB to s->huge_bytes, as many of each power of two. */
static size_t huge_size(const struct stress *s, uint64_t x)
{
    unsigned octaves = 1;

    while ((size_t)LARGE_BYTES << octaves <= s->huge_bytes)
        octaves++;
    size_t low = (size_t)LARGE_BYTES << (x % octaves), size = low + (x >> 8) % low;
    return size < s->huge_bytes ? size : s->huge_bytes;
}

/* Mostly small blocks; one in sixteen up to the largest class, one in 32
 * a run of up to 64 KiB, one in 256 a run of up to a sixteenth of the region. */
static size_t random_size(const struct stress *s, uint64_t r)
{
    unsigned pick = (unsigned)(r >> 24) % 256;
    uint64_t x = r >> 32;

    if (pick == 0)
        return huge_size(s, x);
    if (pick % 32 == 1)
        return SHALLOC_MAX_SMALL + 1 + x % (LARGE_BYTES - SHALLOC_MAX_SMALL);
    if (pick % 16 == 2)
        return 8 + x % (SHALLOC_MAX_SMALL - 7);
    return 8 + x % 1017;
}

/* Pass our block to whoever takes this mailbox next; free what was there. */
static void hand_off(struct stress *s, struct tally *t, unsigned char *block, uint64_t r)
{
    _Atomic uint64_t *box = &s->mailboxes[(r >> 16) % MAILBOXES];
    uint64_t theirs = atomic_exchange(box, shalloc_offset(&s->region, block));

    t->handoffs++;
    if (theirs != 0)
        release_checked(s, t, shalloc_pointer(&s->region, theirs));
}

static void step(struct stress *s, struct tally *t, unsigned char **held, unsigned index,
                 uint64_t i, uint64_t r)
{
    unsigned char **slot = &held[r % HELD_BLOCKS];

    if (*slot != NULL) {
        if ((r >> 8) % 8 == 0)
            hand_off(s, t, *slot, r);
        else
            release_checked(s, t, *slot);
        *slot = NULL;
        return;
    }
    size_t size = random_size(s, r);
    *slot = shalloc_alloc(&s->region, size);
    if (*slot == NULL) {
        t->failed_allocs++;
        return;
    }
    pattern_fill(*slot, make_stamp(index + 1, size, (uint32_t)i));
    t->large_blocks += size > SHALLOC_MAX_SMALL;
    t->largest_bytes = size > t->largest_bytes ? size : t->largest_bytes;
}

int stress_worker(void *arg, unsigned index)
{
    struct stress *s = arg;
    struct tally *t = &s->tallies[index];
    unsigned char *held[HELD_BLOCKS] = {0};
    uint64_t rng = s->seed * 0x100000001b3u + index;

    if (s->crash && index % 2 == 1)
        shalloc_set_cache_off(&s->region, true); /* every operation under the lock */
    for (uint64_t i = 0; i < s->ops; i++) {
        step(s, t, held, index, i, rng_next(&rng));
        if (s->crash)
            atomic_store_explicit(&s->progress[index], i + 1, memory_order_relaxed);
    }
    for (int k = 0; k < HELD_BLOCKS; k++)
        if (held[k] != NULL)
            release_checked(s, t, held[k]);
    close_region(&s->region);
    return 0;
}

void stress_set_up(struct stress *s, size_t size)
{
    open_region(&s->region, NULL, size);
    s->huge_bytes = size / 16 > MIN_HUGE ? size / 16 : MIN_HUGE;
    s->tallies = alloc_or_die(&s->region, MAX_PROCS * sizeof *s->tallies);
    s->mailboxes = alloc_or_die(&s->region, MAILBOXES * sizeof *s->mailboxes);
    for (unsigned i = 0; i < MAX_PROCS; i++)
        s->tallies[i] = (struct tally){0};
    for (int i = 0; i < MAILBOXES; i++)
        atomic_init(&s->mailboxes[i], 0);
}

struct tally stress_collect(struct stress *s, unsigned procs)
{
    struct tally sum = {0};

    for (int i = 0; i < MAILBOXES; i++) {
        uint64_t off = atomic_exchange(&s->mailboxes[i], 0);
        if (off != 0)
            release_checked(s, &s->tallies[0], shalloc_pointer(&s->region, off));
    }
    for (unsigned i = 0; i < procs; i++) {
        sum.verified += s->tallies[i].verified;
        sum.overlaps += s->tallies[i].overlaps;
        sum.failed_allocs += s->tallies[i].failed_allocs;
        sum.handoffs += s->tallies[i].handoffs;
        sum.large_blocks += s->tallies[i].large_blocks;
        if (s->tallies[i].largest_bytes > sum.largest_bytes)
            sum.largest_bytes = s->tallies[i].largest_bytes;
    }
    shalloc_free(&s->region, s->tallies);
    shalloc_free(&s->region, (void *)s->mailboxes);
    return sum;
}

int run_stress(const struct options *o)
{
    struct stress s = {.ops = o->ops, .seed = o->seed};
    struct crew crew;

    heading("stress: %u processes, %" PRIu64 " random alloc/free each, seed %" PRIu64, o->procs,
            o->ops, o->seed);
    stress_set_up(&s, o->size != 0 ? o->size : (size_t)(16 + 4 * o->procs) << 20);
    printf("a region of %zu bytes; blocks up to %zu bytes\n", s.region.size, s.huge_bytes);
    crew_start(&crew, o->procs, stress_worker, &s);
    crew_release(&crew);
    unsigned failed = crew_wait(&crew, CHILD_TIMEOUT_MS);
    struct tally sum = stress_collect(&s, o->procs);
    printf("%" PRIu64 " blocks verified before free (%" PRIu64
           " of them runs of spans, the largest %" PRIu64 " bytes), %" PRIu64
           " handed to another process, %" PRIu64 " found overwritten; %" PRIu64
           " allocations failed (region full)\n",
           sum.verified, sum.large_blocks, sum.largest_bytes, sum.handoffs, sum.overlaps,
           sum.failed_allocs);
    bool ok = report_check(&s.region);
    fact_word("command", "stress");
    fact_uint("procs", o->procs);
    fact_uint("ops", o->ops);
    fact_uint("verified", sum.verified);
    fact_uint("overlaps", sum.overlaps);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    fact_word("command", "stress");
    fact_uint("handoffs", sum.handoffs);
    fact_uint("failed_allocs", sum.failed_allocs);
    fact_uint("failed_procs", failed);
    fact_uint("large_blocks", sum.large_blocks);
    fact_uint("largest_block_bytes", sum.largest_bytes);
    facts_end();
    close_region(&s.region);
    return ok && failed == 0 && sum.overlaps == 0 ? 0 : 1;
}
