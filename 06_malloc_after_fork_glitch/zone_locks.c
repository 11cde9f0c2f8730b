/*
 * zone_locks.c - a lock glibc does not know about: lesson 05's allocator.
 *
 * userlock: the allocator's fork handlers are switched off, and a thread
 * holds every allocator lock at the instant of fork() - made certain by a
 * handshake through a pipe (run_while_held, common/child.h).  The child's
 * first allocation that needs a lock waits for a thread that does not
 * exist in the child: for ever, until the watchdog kills it.
 *
 * atfork: the same with the allocator's pthread_atfork handlers on.  The
 * prepare handler takes every lock before fork (so it waits for the holder
 * to let go), the parent handler releases them, the child handler makes
 * them new: every child allocates.  Then how pthread_atfork orders several
 * handlers, and which ways of making a process do not run them at all.
 */
#include "fork_glitch.h"

#include "cli.h"
#include "hammer.h"
#include "memory.h"
#include "out.h"
#include "zone_adapters.h"
#include "zone_malloc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { USERLOCK_TRIALS = 3, ATFORK_TRIALS = 200, HAMMER_THREADS = 3, HAMMERED_FORKS = 50 };

/* Held-lock trials with the handlers on or off; one line per trial when
 * they are few enough to read. */
static struct fork_outcome fork_while_held(unsigned trials, int timeout_ms, bool per_trial)
{
    struct fork_outcome o = {0};
    char how[64];

    for (unsigned i = 1; i <= trials; i++) {
        struct held_locks locks = zone_held_locks();
        struct child_result r =
            run_while_held(&locks, start_child_job, (void *)&zone_child_job, timeout_ms);
        count_outcome(&o, &r);
        if (!per_trial)
            continue;
        printf("trial %u: the child %s: %s\n", i, child_describe(&r, how), result_word(&r));
        fact_uint("trial", i);
        fact_int("fork_handlers", zm_fork_handlers());
        fact_word("result", result_word(&r));
        facts_end();
    }
    return o;
}

struct fork_outcome show_userlock(const struct run_config *cfg)
{
    unsigned trials = trials_or(cfg, USERLOCK_TRIALS);

    heading("userlock: a lock of our own, held at the fork, that no handler knows");
    printf("Lesson 05's allocator (zm_malloc) with its fork handlers switched off\n"
           "(zm_set_fork_handlers(0)).  A thread takes every allocator lock and says so\n"
           "through a pipe; only then does the main thread fork.  The child allocates.\n");
    zm_set_fork_handlers(0);
    struct fork_outcome o = fork_while_held(trials, cfg->timeout_ms, trials <= 10);
    zm_set_fork_handlers(1);
    printf("%u of %u children blocked on a lock held by a thread that does not exist in\n"
           "them; the watchdog killed each after %d ms.  No timing luck involved: the\n"
           "handshake makes the lock held at the fork every time.\n",
           o.deadlocked, o.forks, cfg->timeout_ms);
    if (o.deadlocked < o.forks)
        printf("%u ended otherwise: look at their lines above.\n", o.forks - o.deadlocked);
    print_outcome("userlock", &o);
    return o;
}

/* --- how pthread_atfork runs handlers (in a process of its own) ------- */

/* How the ways of making a process treat the handlers: prepare handler
 * calls each one caused. */
struct handler_runs {
    unsigned fork, underscore_fork, posix_spawn;
};

/* What the handlers recorded, in memory shared with the parent. */
struct atfork_record {
    char prepare[8], parent[8], child[8]; /* handler numbers in the order they ran */
    unsigned prepares;                    /* prepare handler calls so far */
    struct handler_runs runs;
};
static struct atfork_record *record;

static void note(char *order, char digit)
{
    size_t len = strlen(order);

    if (len + 1 < sizeof record->prepare)
        order[len] = digit;
}

/* Three sets of handlers, each noting its number: pthread_atfork takes
 * functions without arguments, so each set is a function of its own. */
#define HANDLER_SET(n)                                                                             \
    static void prepare_##n(void)                                                                  \
    {                                                                                              \
        note(record->prepare, '0' + n);                                                            \
        record->prepares += n == 1;                                                                \
    }                                                                                              \
    static void parent_##n(void)                                                                   \
    {                                                                                              \
        note(record->parent, '0' + n);                                                             \
    }                                                                                              \
    static void child_##n(void)                                                                    \
    {                                                                                              \
        note(record->child, '0' + n);                                                              \
    }
HANDLER_SET(1)
HANDLER_SET(2)
HANDLER_SET(3)

static void register_handler_sets(void)
{
    int err;

    if ((err = pthread_atfork(prepare_1, parent_1, child_1)) != 0 ||
        (err = pthread_atfork(prepare_2, parent_2, child_2)) != 0 ||
        (err = pthread_atfork(prepare_3, parent_3, child_3)) != 0)
        die_err("pthread_atfork", err);
}

static int leave_at_once(void *arg)
{
    (void)arg;
    return 0;
}

/* In a child of its own: handlers cannot be unregistered, and these must
 * not run in every later fork of the lesson. */
static int show_handler_order(void *arg)
{
    struct handler_runs *runs = &record->runs;

    (void)arg;
    register_handler_sets();
    unsigned before = record->prepares;
    struct child_result r = child_run(leave_at_once, NULL, -1);
    if (!child_ok(&r))
        return 3;
    runs->fork = record->prepares - before;

    before = record->prepares;
    pid_t pid = _Fork(); /* no handlers, by definition (glibc 2.34, POSIX.1-2024) */
    if (pid < 0)
        die_errno("_Fork");
    if (pid == 0)
        _exit(0);
    r = child_wait(pid, 0, -1);
    if (!child_ok(&r))
        return 4;
    runs->underscore_fork = record->prepares - before;

    before = record->prepares;
    r = child_wait(spawn_quiet_self(), 0, -1);
    if (!child_ok(&r))
        return 5;
    runs->posix_spawn = record->prepares - before;
    return 0;
}

static void print_handler_runs(const char *call, unsigned runs, const char *why)
{
    printf("  %-12s %s (%s)\n", call, runs ? "ran them" : "did not run them", why);
    fact_word("call", call);
    fact_uint("atfork_handlers_ran", runs);
    facts_end();
}

static void show_atfork_rules(int timeout_ms)
{
    subheading("how pthread_atfork runs handlers, and where it does not");
    record = map_anonymous(sizeof *record, MAP_SHARED);
    struct handler_runs *runs = &record->runs;
    struct child_result r = run_watched(show_handler_order, NULL, timeout_ms);
    if (!child_ok(&r)) {
        report_failed_experiment(&r);
    } else {
        bool posix_order = strcmp(record->prepare, "321") == 0 &&
                           strcmp(record->parent, "123") == 0 && strcmp(record->child, "123") == 0;
        printf("Sets 1, 2, 3 registered in that order.  prepare handlers ran %s, parent\n"
               "handlers %s, child handlers %s: %s\n",
               record->prepare, record->parent, record->child,
               posix_order ? "the last registered prepares first, so\n"
                             "a library registered later (using one registered earlier) takes its "
                             "locks\nfirst and releases them last."
                           : "not the order POSIX specifies\n(prepare in reverse, parent and "
                             "child in registration order).");
        fact_word("prepare_order", record->prepare);
        fact_word("parent_order", record->parent);
        fact_word("child_order", record->child);
        facts_end();
        print_handler_runs("fork", runs->fork, "what the handlers are for");
        print_handler_runs("_Fork", runs->underscore_fork, "async-signal-safe, skips them");
        print_handler_runs("posix_spawn", runs->posix_spawn, "the child execs at once");
    }
    unmap(record, sizeof *record);
    record = NULL;
}

struct fork_outcome show_atfork(const struct run_config *cfg)
{
    unsigned trials = trials_or(cfg, ATFORK_TRIALS);

    heading("atfork: the same, with the allocator's pthread_atfork handlers");
    printf("The allocator registered handlers at its first call: prepare takes every\n"
           "lock (waiting for the holder to let go), parent releases them, child makes\n"
           "them new.  With them on (zm_set_fork_handlers(1)), the same held-lock fork:\n");
    /* expected to finish: the slow-child allowance, as run_watched gives */
    struct fork_outcome o = fork_while_held(trials, SLOW_DEADLINES * cfg->timeout_ms, trials <= 10);
    printf("%u of %u children allocated and exited cleanly.\n", o.ok, o.forks);
    struct fork_outcome h =
        fork_while_hammering(&zone_workload_api, HAMMER_THREADS, 7, HAMMERED_FORKS, &zone_child_job,
                             child_run, SLOW_DEADLINES * cfg->timeout_ms);
    printf("And forking while %d threads allocate without pause: %u of %u children ok.\n",
           HAMMER_THREADS, h.ok, h.forks);
    fact_uint("hammered_forks", h.forks);
    fact_uint("hammered_ok", h.ok);
    facts_end();
    show_atfork_rules(cfg->timeout_ms);
    print_outcome("atfork", &o);
    return o;
}
