/*
 * crash.c - processes killed with SIGKILL at random instants while they
 * allocate and free (crash): first one that holds the region lock, then
 * stress's workers (stress.c), small blocks and runs of spans alike, one
 * at a random point of each round.  The checker then walks the region.
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
#include <stdlib.h>
#include <unistd.h>

struct holder {
    struct shalloc *h;
    int holding; /* write end of a pipe: one byte once the lock is ours */
};

/* In the child: take the region lock, say so, and wait to be killed. */
static int hold_lock(void *arg)
{
    struct holder *x = arg;
    char byte = 'L';

    if (shalloc_lock(x->h) != 0)
        die_errno(shalloc_error(x->h));
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
    if (read(holding[0], &byte, 1) != 1) {
        struct child_result ended = child_wait(pid, started, CHILD_TIMEOUT_MS); /* reaped */
        die("the lock holder ended before taking the lock: %s", child_describe(&ended, what));
    }
    close(holding[0]);
    if (kill(pid, SIGKILL) != 0)
        die_errno("kill");
    struct child_result r = child_wait(pid, started, CHILD_TIMEOUT_MS);
    printf("pid %d took the lock and was %s\n", (int)pid, child_describe(&r, what));
    int slots = shalloc_recover(h); /* takes the lock: EOWNERDEAD */
    if (slots < 0)
        die_errno(shalloc_error(h));
    shalloc_stats(h, &after);
    printf("the next pthread_mutex_lock returned EOWNERDEAD: lists rebuilt from the block tags,\n"
           "pthread_mutex_consistent called (repairs %" PRIu64 " -> %" PRIu64
           ", dead slots reclaimed %d)\n",
           before.repairs, after.repairs, slots);
    return after.repairs - before.repairs;
}

/* One round: start the workers, kill one at a random point of its run.
 * Returns 1 if the kill landed while it was still at work (on a busy
 * machine the victim may have finished before the parent saw it). */
static unsigned kill_one(struct stress *s, unsigned procs, uint64_t *rng)
{
    struct crew crew;
    unsigned victim = (unsigned)(rng_next(rng) % procs), landed = 0, failed = procs;
    uint64_t target = 1 + rng_next(rng) % (s->ops / 2 + 1), deadline; /* well before its end */
    char what[64] = "";

    for (unsigned i = 0; i < procs; i++)
        atomic_store(&s->progress[i], 0);
    crew_start(&crew, procs, stress_worker, s);
    crew_release(&crew);
    deadline = now_ns() + (uint64_t)CHILD_TIMEOUT_MS * 1000000u;
    while (atomic_load_explicit(&s->progress[victim], memory_order_relaxed) < target &&
           now_ns() < deadline)
        sched_yield(); /* spin: the instant of the kill should be arbitrary */
    if (kill(crew.pid[victim], SIGKILL) != 0) {
        crew_abort(&crew);
        die_errno("kill");
    }
    for (unsigned i = 0; i < procs; i++) { /* every one reaped, then any failure said */
        struct child_result r = child_wait(crew.pid[i], crew.started_ns, CHILD_TIMEOUT_MS);
        if (i == victim && r.end == CHILD_SIGNALED && r.code == SIGKILL)
            landed = atomic_load(&s->progress[i]) < s->ops; /* not already on its way out */
        else if (!child_ok(&r) && failed == procs) {
            failed = i;
            child_describe(&r, what);
        }
    }
    if (failed < procs)
        die("crash worker %u: %s", failed, what);
    return landed;
}

/* The blocks still in use once every process is gone: found by a walk,
 * freed after it (a freed run merges with its neighbours, which would
 * change the table under the walk's feet). */
struct janitor {
    uint64_t *offsets;
    size_t count, cap;
};

static void note_if_used(void *ctx, const struct shalloc_block_info *b)
{
    struct janitor *j = ctx;

    if (b->state != SHALLOC_USED)
        return;
    if (j->count == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 1024;
        if ((j->offsets = realloc(j->offsets, j->cap * sizeof *j->offsets)) == NULL)
            die_errno("realloc");
    }
    j->offsets[j->count++] = b->offset;
}

static uint64_t free_leftovers(struct shalloc *h)
{
    struct janitor j = {NULL, 0, 0};

    shalloc_walk(h, note_if_used, &j);
    for (size_t i = 0; i < j.count; i++)
        shalloc_free(h, shalloc_pointer(h, j.offsets[i]));
    free(j.offsets);
    return j.count;
}

int run_crash(const struct options *o)
{
    struct stress s = {.ops = o->ops, .seed = o->seed, .crash = true};
    struct shalloc_stats st;
    uint64_t rng = o->seed;
    unsigned kills = 0;

    heading("crash: %u processes killed with SIGKILL at random instants, %u at work at a time",
            o->kills, o->procs);
    stress_set_up(&s, o->size != 0 ? o->size : 32u << 20);
    s.progress = map_anonymous(MAX_PROCS * sizeof *s.progress, MAP_SHARED);
    uint64_t holder_repairs = kill_lock_holder(&s.region);

    subheading("workers killed in the middle of alloc, free, flush and refill");
    printf("odd workers run without a cache: each of their operations takes the region lock,\n"
           "so some kills land while it is held (lock_repairs counts them)\n");
    for (unsigned round = 0; kills < o->kills && round < 3 * o->kills; round++)
        kills += kill_one(&s, o->procs, &rng); /* a victim may finish before the kill lands */
    int dead = shalloc_recover(&s.region);
    if (dead < 0)
        die_errno(shalloc_error(&s.region));
    struct tally sum = stress_collect(&s, o->procs);
    uint64_t leaked = free_leftovers(&s.region); /* every process is gone: nobody refers to them */
    shalloc_stats(&s.region, &st);
    printf("%u kills landed; the last dead slots reclaimed at the end: %d\n"
           "blocks and runs still in use by dead processes (the allocator cannot know nobody\n"
           "else refers to them; here nobody does, so they are freed now): %" PRIu64 "\n"
           "spans a dead lock holder was taking, given back by the repair: %" PRIu64
           "; lost: %" PRIu64 "\n"
           "lock repairs: %" PRIu64 " (1 from the holder killed on purpose), dead slots "
           "reclaimed: %" PRIu64 ", cached blocks they held: %" PRIu64 ", cached runs: %" PRIu64
           "\n"
           "waits for the lock that timed out and looked again: %" PRIu64 "\n"
           "%" PRIu64 " of the blocks were runs of spans, the largest %" PRIu64 " bytes\n",
           kills, dead, leaked, st.spans_recovered, st.spans_lost, st.repairs, st.slots_reclaimed,
           st.blocks_reclaimed, st.runs_reclaimed, st.lock_timeouts, sum.large_blocks,
           sum.largest_bytes);
    bool ok = report_check(&s.region) && st.blocks_used == 0 && st.runs_used == 0;
    unmap((void *)s.progress, MAX_PROCS * sizeof *s.progress);
    fact_word("command", "crash");
    fact_uint("procs", o->procs);
    fact_uint("holder_repairs", holder_repairs);
    fact_uint("lock_repairs", st.repairs);
    fact_uint("slots_reclaimed", st.slots_reclaimed);
    fact_uint("blocks_reclaimed", st.blocks_reclaimed);
    fact_uint("runs_reclaimed", st.runs_reclaimed);
    fact_uint("leaked_blocks", leaked);
    fact_uint("leak_bound", (uint64_t)kills * (HELD_BLOCKS + 2)); /* held, plus one in each hand */
    fact_uint("lost_spans", st.spans_lost);
    fact_uint("lock_timeouts", st.lock_timeouts);
    fact_uint("verified", sum.verified);
    fact_uint("overlaps", sum.overlaps);
    fact_uint("kills", kills);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    fact_word("command", "crash");
    fact_uint("large_blocks", sum.large_blocks);
    fact_uint("largest_block_bytes", sum.largest_bytes);
    fact_uint("spans_recovered", st.spans_recovered);
    facts_end();
    close_region(&s.region);
    return ok && sum.overlaps == 0 ? 0 : 1;
}
