/*
 * stress.c - many processes allocating at once (stress), and the same
 * with processes killed by SIGKILL at random instants (crash).
 *
 * Every block is filled with a pattern naming its owner and checked just
 * before it is freed: a block that was also handed to someone else would
 * show their bytes.  One operation in eight passes a block to another
 * process through a mailbox in the region, so blocks are freed by
 * processes that did not allocate them.  At the end the checker walks the
 * region.
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
    HELD_BLOCKS = 256, /* blocks a worker holds at most */
    MAILBOXES = 64,    /* offsets in transit between processes */
};

/* What one worker counted; kept in the region. */
struct tally {
    uint64_t verified;      /* blocks whose pattern was intact when freed */
    uint64_t overlaps;      /* blocks whose pattern was not */
    uint64_t failed_allocs; /* the region was full */
    uint64_t handoffs;      /* blocks passed to another process */
};

struct stress {
    struct shalloc region;
    uint64_t ops, seed;
    struct tally *tallies;       /* one per worker, in the region */
    _Atomic uint64_t *mailboxes; /* block offsets, in the region */
    _Atomic uint64_t *progress;  /* crash: operations done per worker */
    bool crash;                  /* half the workers without a cache */
};

/* Check the block's pattern, then free it. */
static void release_checked(struct stress *s, struct tally *t, unsigned char *block)
{
    uint64_t stamp;

    if (pattern_intact(block, &stamp))
        t->verified++;
    else
        t->overlaps++;
    shalloc_free(&s->region, block);
}

/* Mostly small blocks, one in sixteen up to the largest class. */
static size_t random_size(uint64_t r)
{
    if ((r >> 24) % 16 == 0)
        return 8 + (r >> 32) % (SHALLOC_MAX_BLOCK - 7);
    return 8 + (r >> 32) % 1017;
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
    size_t size = random_size(r);
    *slot = shalloc_alloc(&s->region, size);
    if (*slot == NULL)
        t->failed_allocs++;
    else
        pattern_fill(*slot, make_stamp(index + 1, size, (uint32_t)i));
}

static int stress_worker(void *arg, unsigned index)
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

/* The region, and the tallies and mailboxes the workers share in it. */
static void set_up(struct stress *s, size_t size)
{
    open_region(&s->region, NULL, size);
    s->tallies = alloc_or_die(&s->region, MAX_PROCS * sizeof *s->tallies);
    s->mailboxes = alloc_or_die(&s->region, MAILBOXES * sizeof *s->mailboxes);
    for (unsigned i = 0; i < MAX_PROCS; i++)
        s->tallies[i] = (struct tally){0};
    for (int i = 0; i < MAILBOXES; i++)
        atomic_init(&s->mailboxes[i], 0);
}

/* Free what is still in the mailboxes, then sum the tallies. */
static struct tally collect(struct stress *s, unsigned procs)
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
    set_up(&s, (size_t)(16 + 4 * o->procs) << 20);
    crew_start(&crew, o->procs, stress_worker, &s);
    crew_release(&crew);
    unsigned failed = crew_wait(&crew, CHILD_TIMEOUT_MS);
    struct tally sum = collect(&s, o->procs);
    printf("%" PRIu64 " blocks verified before free, %" PRIu64
           " handed to another process, %" PRIu64 " found overwritten; %" PRIu64
           " allocations failed (region full)\n",
           sum.verified, sum.handoffs, sum.overlaps, sum.failed_allocs);
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
    facts_end();
    close_region(&s.region);
    return ok && failed == 0 && sum.overlaps == 0 ? 0 : 1;
}

/* ---- crash ------------------------------------------------------------- */

struct holder {
    struct shalloc *h;
    int holding; /* write end of a pipe: one byte once the lock is ours */
};

/* In the child: take the region lock, say so, and wait to be killed. */
static int hold_lock(void *arg)
{
    struct holder *x = arg;
    char byte = 'L';

    shalloc_lock(x->h);
    if (write(x->holding, &byte, 1) != 1)
        die_errno("write");
    for (;;)
        pause(); /* not ordering anything: waiting for SIGKILL */
}

/* A child takes the region lock and is killed holding it: the next locker
 * gets EOWNERDEAD, rebuilds the lists and marks the lock consistent. */
static uint64_t kill_lock_holder(struct shalloc *h)
{
    struct shalloc_stats before, after;
    int holding[2];
    char byte, what[64];

    subheading("a process dies holding the region lock");
    shalloc_stats(h, &before);
    if (pipe(holding) != 0)
        die_errno("pipe");
    struct holder x = {h, holding[1]};
    uint64_t started = now_ns();
    pid_t pid = child_start(hold_lock, &x);
    close(holding[1]);
    if (read(holding[0], &byte, 1) != 1)
        die("the lock holder ended before taking the lock");
    close(holding[0]);
    if (kill(pid, SIGKILL) != 0)
        die_errno("kill");
    struct child_result r = child_wait(pid, started, CHILD_TIMEOUT_MS);
    printf("pid %d took the lock and was %s\n", (int)pid, child_describe(&r, what));
    unsigned slots = shalloc_recover(h); /* takes the lock: EOWNERDEAD */
    shalloc_stats(h, &after);
    printf("the next pthread_mutex_lock returned EOWNERDEAD: lists rebuilt from the block tags,\n"
           "pthread_mutex_consistent called (repairs %" PRIu64 " -> %" PRIu64
           ", dead slots reclaimed %u)\n",
           before.repairs, after.repairs, slots);
    return after.repairs - before.repairs;
}

/* One round: start the workers, kill one at a random point of its run.
 * Returns 1 if the kill landed while it was still at work (on a busy
 * machine the victim may have finished before the parent saw it). */
static unsigned kill_one(struct stress *s, unsigned procs, uint64_t *rng)
{
    struct crew crew;
    unsigned victim = (unsigned)(rng_next(rng) % procs), landed = 0;
    uint64_t target = 1 + rng_next(rng) % (s->ops / 2 + 1), deadline; /* well before its end */
    char what[64];

    for (unsigned i = 0; i < procs; i++)
        atomic_store(&s->progress[i], 0);
    crew_start(&crew, procs, stress_worker, s);
    crew_release(&crew);
    deadline = now_ns() + (uint64_t)CHILD_TIMEOUT_MS * 1000000u;
    while (atomic_load_explicit(&s->progress[victim], memory_order_relaxed) < target &&
           now_ns() < deadline)
        sched_yield(); /* spin: the instant of the kill should be arbitrary */
    if (kill(crew.pid[victim], SIGKILL) != 0)
        die_errno("kill");
    for (unsigned i = 0; i < procs; i++) {
        struct child_result r = child_wait(crew.pid[i], crew.started_ns, CHILD_TIMEOUT_MS);
        if (i == victim && r.end == CHILD_SIGNALED && r.code == SIGKILL)
            landed = atomic_load(&s->progress[i]) < s->ops; /* not already on its way out */
        else if (!child_ok(&r))
            die("crash worker %u: %s", i, child_describe(&r, what));
    }
    return landed;
}

struct janitor {
    struct shalloc *h;
    uint64_t freed;
};

static void free_if_used(void *ctx, const struct shalloc_block_info *b)
{
    struct janitor *j = ctx;

    if (b->state == SHALLOC_USED) {
        shalloc_free(j->h, shalloc_pointer(j->h, b->offset));
        j->freed++;
    }
}

int run_crash(const struct options *o)
{
    struct stress s = {.ops = o->ops, .seed = o->seed, .crash = true};
    struct shalloc_stats st;
    uint64_t rng = o->seed;
    unsigned kills = 0;

    heading("crash: %u processes killed with SIGKILL at random instants, %u at work at a time",
            o->kills, o->procs);
    set_up(&s, 32u << 20);
    s.progress = map_anonymous(MAX_PROCS * sizeof *s.progress, MAP_SHARED);
    uint64_t holder_repairs = kill_lock_holder(&s.region);

    subheading("workers killed in the middle of alloc, free, flush and refill");
    printf("odd workers run without a cache: each of their operations takes the region lock,\n"
           "so some kills land while it is held (lock_repairs counts them)\n");
    for (unsigned round = 0; kills < o->kills && round < 3 * o->kills; round++)
        kills += kill_one(&s, o->procs, &rng); /* a victim may finish before the kill lands */
    unsigned dead = shalloc_recover(&s.region);
    struct tally sum = collect(&s, o->procs);
    struct janitor j = {&s.region, 0};
    shalloc_walk(&s.region, free_if_used, &j); /* every process is gone: nobody refers to them */
    shalloc_stats(&s.region, &st);
    printf("%u kills landed; the last dead slots reclaimed at the end: %u\n"
           "blocks still in use by dead processes (the allocator cannot know nobody else\n"
           "refers to them; here nobody does, so they are freed now): %" PRIu64 "\n"
           "spans lost between a claim and its formatting: %" PRIu64 "\n"
           "lock repairs: %" PRIu64 " (1 from the holder killed on purpose), dead slots "
           "reclaimed: %" PRIu64 ", cached blocks they held: %" PRIu64 "\n"
           "waits for the lock that timed out and looked again: %" PRIu64 "\n",
           kills, dead, j.freed, st.spans_lost, st.repairs, st.slots_reclaimed, st.blocks_reclaimed,
           st.lock_timeouts);
    bool ok = report_check(&s.region) && st.blocks_used == 0;
    unmap((void *)s.progress, MAX_PROCS * sizeof *s.progress);
    fact_word("command", "crash");
    fact_uint("procs", o->procs);
    fact_uint("holder_repairs", holder_repairs);
    fact_uint("lock_repairs", st.repairs);
    fact_uint("slots_reclaimed", st.slots_reclaimed);
    fact_uint("blocks_reclaimed", st.blocks_reclaimed);
    fact_uint("leaked_blocks", j.freed);
    fact_uint("leak_bound", (uint64_t)kills * (HELD_BLOCKS + 2)); /* held, plus one in each hand */
    fact_uint("lost_spans", st.spans_lost);
    fact_uint("lock_timeouts", st.lock_timeouts);
    fact_uint("verified", sum.verified);
    fact_uint("overlaps", sum.overlaps);
    fact_uint("kills", kills);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    close_region(&s.region);
    return ok && sum.overlaps == 0 ? 0 : 1;
}
