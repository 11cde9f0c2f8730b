/*
 * 06_malloc_after_fork_glitch - fork() in a multithreaded process: which
 * locks survive it, which do not, and what to do about it.
 *
 * fork() copies the whole address space but only the calling thread.  A
 * lock another thread held at that instant is copied held, and nobody in
 * the child will ever release it.  A popular tutorial says that glibc's
 * malloc then freezes or crashes the child; it does not, because glibc's fork()
 * takes malloc's locks first.  Every other lock is fair game.  Each
 * experiment that can block runs in a child under a watchdog, which kills
 * it (and what it started) after --timeout-ms and reports result=deadlock:
 *
 *   glibc       threads hammer glibc's malloc while we fork; each child
 *               allocates.  Then why: fork() waits for a held arena lock.
 *   userlock    lesson 05's allocator without fork handlers, a thread holding
 *               its locks at the fork (a handshake, not luck): the child blocks
 *   atfork      the same with its pthread_atfork handlers: every child works;
 *               handler order, and the calls that skip handlers
 *   signal      fork() from a signal handler that interrupted malloc: the
 *               parent deadlocks; _Fork() and a single thread do not
 *   threadpool  fork while workers are mid-job: one thread, frozen jobs
 *   logger      an allocation logger notices getpid() change and drops the
 *               state (and the held lock) it inherited
 *   safe        with the lock still held: a child that calls only
 *               async-signal-safe functions, fork + exec, posix_spawn
 *   all         each in turn, then a summary table (default)
 *
 * Usage: 06_malloc_after_fork_glitch [--mode MODE] [--trials N] [--timeout-ms T]
 *                                    [--block-sizes MIN-MAX] [--no-pid-check]
 *
 * Look for: mode=glibc ... ok equal to trials; mode=userlock ... deadlock
 * equal to trials; fork_blocked_in=futex (glibc's fork waiting for malloc's
 * lock); result=deadlock stuck_in=fork for the signal trials and
 * result=ok for fork_call=_Fork; threads_in_child=1; children_left=0.
 */
#include "fork_glitch.h"

#include "cli.h"
#include "out.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum mode {
    MODE_GLIBC,
    MODE_USERLOCK,
    MODE_ATFORK,
    MODE_SIGNAL,
    MODE_THREADPOOL,
    MODE_LOGGER,
    MODE_SAFE,
    MODE_ALL
};
static const char *const mode_names[] = {"glibc",  "userlock", "atfork", "signal", "threadpool",
                                         "logger", "safe",     "all",    NULL};

/* What the lesson predicts for a mode's trials, and why. */
struct prediction {
    enum { ALL_OK, ALL_DEADLOCK, EITHER } outcome;
    const char *why;
};

/* Each mode, what it runs and what it is expected to show. */
static const struct mode_info {
    struct fork_outcome (*show)(const struct run_config *cfg);
    struct prediction predicted; /* with the default options */
} modes[MODE_ALL] = {
    [MODE_GLIBC] = {show_glibc, {ALL_OK, "glibc's fork takes malloc's locks"}},
    [MODE_USERLOCK] = {show_userlock, {ALL_DEADLOCK, "nobody prepared the lock"}},
    [MODE_ATFORK] = {show_atfork, {ALL_OK, "pthread_atfork handlers"}},
    [MODE_SIGNAL] = {show_signal, {ALL_DEADLOCK, "fork in the handler"}},
    [MODE_THREADPOOL] = {show_threadpool, {ALL_OK, "one thread, frozen jobs"}},
    [MODE_LOGGER] = {show_logger, {ALL_OK, "the pid check recovers"}},
    [MODE_SAFE] = {show_safe, {ALL_OK, "async-signal-safe child, exec"}},
};

enum { MAX_TRIALS = 10000, MAX_TIMEOUT_MS = 60000, MIN_TIMEOUT_MS = 10, MAX_BLOCK_BYTES = 1 << 20 };

static void usage(void)
{
    printf("Usage: %s [--mode MODE] [--trials N] [--timeout-ms T]\n"
           "          [--block-sizes MIN-MAX] [--no-pid-check]\n"
           "\n"
           "fork() in a multithreaded process: the locks glibc prepares for it, the ones\n"
           "nobody does, and the safe patterns.  Children that can block are watched\n"
           "and killed after T ms (reported as result=deadlock).\n"
           "\n"
           "  -m, --mode MODE       glibc       threads use glibc's malloc while we fork\n"
           "                        userlock    a lock held at fork, no handler: deadlock\n"
           "                        atfork      the same with pthread_atfork handlers\n"
           "                        signal      fork() in a signal handler during malloc\n"
           "                        threadpool  fork while workers are mid-job\n"
           "                        logger      a malloc logger notices the pid change\n"
           "                        safe        async-signal-safe child, fork+exec, posix_spawn\n"
           "                        all         each in turn and a summary (default)\n"
           "  -n, --trials N        trials per mode, 1..%d (default: each mode's own:\n"
           "                        glibc and atfork 200, others 1 to 5)\n"
           "  -t, --timeout-ms T    the watchdog, %d..%d ms (default %d): a child still\n"
           "                        waiting for a lock after T ms is killed (a deadlock);\n"
           "                        one still working gets up to %d times as long\n"
           "  -b, --block-sizes MIN-MAX\n"
           "                        signal: the sizes the interrupted loop allocates\n"
           "                        (default %d-%d: above glibc's thread cache, %d bytes)\n"
           "  -P, --no-pid-check    logger: without its getpid() check (it then waits for\n"
           "                        the lock it inherited held)\n"
           "  -h, --help            show this help\n",
           prog_name(), MAX_TRIALS, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS,
           SLOW_DEADLINES, SIGNAL_BLOCK_MIN, SIGNAL_BLOCK_MAX, TCACHE_MAX_BYTES);
}

unsigned trials_or(const struct run_config *cfg, unsigned mode_default)
{
    return cfg->trials != 0 ? cfg->trials : mode_default;
}

const char *result_word(const struct child_result *r)
{
    return child_ok(r) ? "ok" : r->end == CHILD_TIMED_OUT ? "deadlock" : "crashed";
}

void report_failed_experiment(const struct child_result *r)
{
    char how[64];

    printf("The experiment's own process failed: %s.\n", child_describe(r, how));
}

void print_outcome(const char *mode, const struct fork_outcome *o)
{
    fact_word("mode", mode);
    fact_uint("trials", o->forks);
    fact_uint("ok", o->ok);
    fact_uint("deadlock", o->deadlocked);
    fact_uint("crashed", o->crashed);
    facts_end();
}

/* The prediction for mode m under the options given. */
static struct prediction predict(int m, const struct run_config *cfg)
{
    bool glibc_malloc = strcmp(malloc_in_use(), "glibc") == 0;

    if ((m == MODE_GLIBC || m == MODE_SIGNAL) && !glibc_malloc)
        return (struct prediction){EITHER, "a sanitizer's malloc: no locks at fork"};
    if (m == MODE_LOGGER && cfg->no_pid_check)
        return (struct prediction){ALL_DEADLOCK, "no pid check: nobody prepared the lock"};
    if (m == MODE_SIGNAL && cfg->block_min <= TCACHE_MAX_BYTES)
        return (struct prediction){EITHER, "blocks the thread cache serves, lock-free"};
    return modes[m].predicted;
}

static bool as_predicted(struct prediction p, const struct fork_outcome *o)
{
    switch (p.outcome) {
    case ALL_OK: return o->ok == o->forks;
    case ALL_DEADLOCK: return o->deadlocked == o->forks;
    default: return o->crashed == 0;
    }
}

static void print_summary(const struct fork_outcome outcomes[], const struct run_config *cfg)
{
    static const char *const outcome_words[] = {"all ok", "all deadlock", "either"};
    unsigned surprises = 0;

    heading("summary");
    printf("%-11s %7s %6s %9s %8s   %s\n", "mode", "trials", "ok", "deadlock", "crashed",
           "the lesson predicts");
    for (int m = 0; m < MODE_ALL; m++) {
        const struct fork_outcome *o = &outcomes[m];
        struct prediction p = predict(m, cfg);
        bool held = as_predicted(p, o);
        printf("%-11s %7u %6u %9u %8u   %s: %s%s\n", mode_names[m], o->forks, o->ok, o->deadlocked,
               o->crashed, outcome_words[p.outcome], p.why, held ? "" : "  <- not as predicted");
        surprises += !held;
    }
    printf("%s\n", surprises == 0 ? "Every mode ended as the lesson predicts."
                                  : "Some modes did not end as predicted: read their sections.");
    fact_uint("modes_not_as_predicted", surprises);
    facts_end();
}

/* Every child was reaped, every watched one that hung was killed: say so. */
static void print_children_left(void)
{
    unsigned left = children_left();

    printf("\nChildren of this process still alive or unreaped: %s.\n", left ? "some" : "none");
    fact_uint("children_left", left);
    facts_end();
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"mode", required_argument, NULL, 'm'},
        {"trials", required_argument, NULL, 'n'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"block-sizes", required_argument, NULL, 'b'},
        {"no-pid-check", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct run_config cfg = {
        .timeout_ms = DEFAULT_TIMEOUT_MS,
        .block_min = SIGNAL_BLOCK_MIN,
        .block_max = SIGNAL_BLOCK_MAX,
    };
    enum mode mode = MODE_ALL;
    int opt;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":m:n:t:b:Ph", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mode = (enum mode)opt_choice("--mode", optarg, mode_names); break;
        case 'n': cfg.trials = (unsigned)opt_uint("--trials", optarg, 1, MAX_TRIALS); break;
        case 't':
            cfg.timeout_ms = (int)opt_uint("--timeout-ms", optarg, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS);
            break;
        case 'b':
            opt_size_range("--block-sizes", optarg, &cfg.block_min, &cfg.block_max);
            if (cfg.block_max > MAX_BLOCK_BYTES)
                usage_error("--block-sizes: at most %d bytes", MAX_BLOCK_BYTES);
            break;
        case 'P': cfg.no_pid_check = true; break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    heading("06_malloc_after_fork_glitch: fork() in a multithreaded process");
    if (mode == MODE_ALL) {
        struct fork_outcome outcomes[MODE_ALL];
        for (int m = 0; m < MODE_ALL; m++)
            outcomes[m] = modes[m].show(&cfg);
        print_summary(outcomes, &cfg);
    } else {
        modes[mode].show(&cfg);
    }
    print_children_left();
    return 0;
}
