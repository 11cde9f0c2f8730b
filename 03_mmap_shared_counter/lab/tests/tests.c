/*
 * tests.c - lab 03's implement half: P processes add K times each to the
 * student's counters in one MAP_SHARED page, started together (a crew, see
 * common/child.h) and reaped against a deadline; every total must be
 * exact, the mutex process-shared and robust, and nothing left locked.
 */
#include "counter.h"

#include "child.h"
#include "cli.h"
#include "lab.h"
#include "memory.h"
#include "procfs.h"
#include "scenario.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Every wait here is a deadline: a process that hangs (a lock never let
 * go) is killed and named. */
enum { CREW_DEADLINE_MS = 45000, LOCK_DEADLINE_MS = 5000 };

/* What the counting processes share with the driver (a MAP_SHARED page). */
struct counting {
    struct counters *c;
    unsigned long increments;
    _Atomic int first_error; /* the first error count_locked returned, or 0 */
};

static struct counting *start_counting(unsigned long increments)
{
    struct counting *ctx = map_anonymous(sizeof *ctx, MAP_SHARED);

    ctx->c = map_anonymous(sizeof(struct counters), MAP_SHARED);
    ctx->increments = increments;
    return ctx;
}

static void end_counting(struct counting *ctx)
{
    unmap(ctx->c, sizeof *ctx->c);
    unmap(ctx, sizeof *ctx);
}

/* The mutex's attributes, where the C library lets us see them: glibc
 * keeps them in __data.__kind (PTHREAD_MUTEX_PSHARED_BIT and
 * PTHREAD_MUTEX_ROBUST_NORMAL_NP in its nptl/pthreadP.h). */
enum { KIND_PSHARED = 128, KIND_ROBUST = 16 };

static bool kind_has(const pthread_mutex_t *m, int bit)
{
#ifdef __GLIBC__
    return (m->__data.__kind & bit) != 0;
#else
    (void)m;
    (void)bit;
    return true; /* not visible here: the counting tests decide */
#endif
}

static void init_or_fail(struct counters *c)
{
    int err = counters_init(c);

    if (err != 0) {
        char name[24];
        lab_fail("counters_init() returned %d (%s); expected 0", err, errno_name(err, name));
    }
}

/* Run procs processes at once, each running body on the counters; fail
 * the test if one of them does not exit 0 in time. */
static void run_crew(unsigned procs, int (*body)(void *ctx, unsigned index), struct counting *ctx,
                     const char *what)
{
    struct crew crew;

    crew_start(&crew, procs, body, ctx);
    crew_release(&crew);
    unsigned failed = crew_wait(&crew, CREW_DEADLINE_MS);
    int err = atomic_load(&ctx->first_error);
    if (err != 0) {
        char name[24];
        lab_fail("%u processes running %s: count_locked() returned %d (%s); expected 0", procs,
                 what, err, errno_name(err, name));
    }
    if (failed > 0)
        lab_fail("%u processes running %s: %s; expected each to finish and exit 0", procs, what,
                 crew.first_failure);
}

static int add_atomically(void *arg, unsigned index)
{
    struct counting *ctx = arg;

    (void)index;
    for (unsigned long i = 0; i < ctx->increments; i++)
        count_atomic(ctx->c);
    return 0;
}

static int add_locked(void *arg, unsigned index)
{
    struct counting *ctx = arg;

    (void)index;
    for (unsigned long i = 0; i < ctx->increments; i++) {
        int err = count_locked(ctx->c);
        if (err != 0) {
            int none = 0;
            atomic_compare_exchange_strong(&ctx->first_error, &none, err);
            return 1;
        }
    }
    return 0;
}

static void test_atomic_exact(int argc, char *argv[])
{
    unsigned procs = (unsigned)lab_arg(argc, argv, "procs", 4);
    unsigned long k = lab_arg(argc, argv, "increments", 1000000);
    unsigned runs = (unsigned)lab_arg(argc, argv, "runs", 3);

    for (unsigned run = 1; run <= runs; run++) {
        struct counting *ctx = start_counting(k);
        run_crew(procs, add_atomically, ctx, "count_atomic");
        unsigned long total = atomic_load(&ctx->c->atomic_total);
        if (total != procs * k)
            lab_fail("run %u of %u: %u processes called count_atomic %lu times each, and "
                     "atomic_total is %lu; expected %lu (%lu additions lost)",
                     run, runs, procs, k, total, procs * k, procs * k - total);
        end_counting(ctx);
    }
    lab_pass("%u runs of %u processes x %lu additions: exact every time", runs, procs, k);
}

/* Nothing is left locked: the parent takes the lock at once, and lets go. */
static void expect_unlocked(struct counters *c, const char *when)
{
    int err = pthread_mutex_trylock(&c->lock);

    if (err != 0) {
        char name[24];
        lab_fail("%s, pthread_mutex_trylock() on the lock returned %s; expected it free", when,
                 errno_name(err, name));
    }
    if ((err = pthread_mutex_unlock(&c->lock)) != 0)
        die_err("pthread_mutex_unlock", err);
}

static void destroy_or_fail(struct counting *ctx)
{
    int err = counters_destroy(ctx->c);

    if (err != 0) {
        char name[24];
        lab_fail("counters_destroy() returned %d (%s); expected 0", err, errno_name(err, name));
    }
    end_counting(ctx);
}

static void test_mutex_exact(int argc, char *argv[])
{
    unsigned procs = (unsigned)lab_arg(argc, argv, "procs", 4);
    unsigned long k = lab_arg(argc, argv, "increments", 100000);
    unsigned runs = (unsigned)lab_arg(argc, argv, "runs", 3);

    for (unsigned run = 1; run <= runs; run++) {
        struct counting *ctx = start_counting(k);
        init_or_fail(ctx->c);
        if (!kind_has(&ctx->c->lock, KIND_PSHARED))
            lab_fail("the mutex counters_init() made is not process-shared; expected "
                     "pthread_mutexattr_setpshared(PTHREAD_PROCESS_SHARED): without it glibc "
                     "takes it with a plain store in a single-threaded process");
        run_crew(procs, add_locked, ctx, "count_locked");
        if (ctx->c->locked_total != procs * k)
            lab_fail("run %u of %u: %u processes called count_locked %lu times each, and "
                     "locked_total is %lu; expected %lu",
                     run, runs, procs, k, ctx->c->locked_total, procs * k);
        expect_unlocked(ctx->c, "after every process counted");
        destroy_or_fail(ctx);
    }
    lab_pass("%u runs of %u processes x %lu locked additions: exact, the mutex process-shared "
             "and free at the end",
             runs, procs, k);
}

/* A process that takes the lock and dies holding it. */
static int die_holding_the_lock(void *arg)
{
    struct counters *c = arg;
    int err = counter_lock(c);

    _exit(err == 0 ? 0 : 1); /* without counter_unlock */
}

/* The lock of a dead owner, taken by another process: its answer. */
static int take_the_orphaned_lock(void *arg)
{
    struct counters *c = arg;
    int err = counter_lock(c);

    if (err != EOWNERDEAD && err != 0)
        return 10 + (err < 100 ? err : 99);
    if (counter_unlock(c) != 0)
        return 2;
    return err == EOWNERDEAD ? 0 : 1;
}

/* What take_the_orphaned_lock's exit says, in words. */
static const char *orphan_outcome(const struct child_result *r, char buf[static 64])
{
    char name[24];

    if (r->end != CHILD_EXITED)
        return child_describe(r, buf);
    if (r->code == 1)
        return "returned 0";
    if (r->code == 2)
        return "worked, but counter_unlock() failed";
    snprintf(buf, 64, "returned %s", r->code >= 10 ? errno_name(r->code - 10, name) : "an error");
    return buf;
}

static void test_mutex_robust(int argc, char *argv[])
{
    unsigned procs = (unsigned)lab_arg(argc, argv, "procs", 2);
    unsigned long k = lab_arg(argc, argv, "increments", 10000);
    struct counting *ctx = start_counting(k);

    init_or_fail(ctx->c);
    if (!kind_has(&ctx->c->lock, KIND_ROBUST))
        lab_fail("the mutex counters_init() made is not robust; expected "
                 "pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST), so that a process that dies "
                 "holding it does not leave it locked for ever");
    struct child_result r = child_run(die_holding_the_lock, ctx->c, LOCK_DEADLINE_MS);
    if (!child_ok(&r)) {
        char how[64];
        lab_fail("a process's counter_lock() on a free lock did not return 0 (%s)",
                 child_describe(&r, how));
    }
    r = child_run(take_the_orphaned_lock, ctx->c, LOCK_DEADLINE_MS);
    if (r.end == CHILD_TIMED_OUT)
        lab_fail("counter_lock() waited for ever for a lock whose owner had died holding it; "
                 "expected EOWNERDEAD at once (a robust mutex)");
    if (!child_ok(&r)) {
        char what[64];
        lab_fail("counter_lock() of a lock whose owner died holding it %s; expected EOWNERDEAD "
                 "and the lock taken, then counter_unlock() 0",
                 orphan_outcome(&r, what));
    }
    run_crew(procs, add_locked, ctx, "count_locked after the owner's death");
    if (ctx->c->locked_total != procs * k)
        lab_fail("after the owner's death, %u processes called count_locked %lu times each, and "
                 "locked_total is %lu; expected %lu (is the mutex consistent again?)",
                 procs, k, ctx->c->locked_total, procs * k);
    expect_unlocked(ctx->c, "after the owner's death and the counting");
    destroy_or_fail(ctx);
    lab_pass("a dead owner's lock was taken again with EOWNERDEAD, then %u x %lu additions "
             "exact",
             procs, k);
}

const struct lab_test lab_tests[] = {
    {"atomic_exact", "P processes x K count_atomic: no addition lost", test_atomic_exact},
    {"mutex_exact", "P processes x K count_locked: exact, process-shared, free at the end",
     test_mutex_exact},
    {"mutex_robust", "a lock whose owner died is taken again (EOWNERDEAD), and still works",
     test_mutex_robust},
};
const size_t lab_test_count = sizeof lab_tests / sizeof lab_tests[0];
