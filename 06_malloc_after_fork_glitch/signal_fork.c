/*
 * signal_fork.c - fork() from a signal handler that interrupted malloc.
 *
 * A sacrificial process allocates blocks above glibc's per-thread cache
 * limit (about 1 KiB; --block-sizes changes them), which take the arena
 * lock, in a loop; a timer sends
 * it SIGALRM every millisecond, and the handler calls fork().  In a process
 * with a second thread, glibc's fork() takes malloc's locks first - and the
 * interrupted malloc below the handler holds one of them.  The thread waits
 * for itself: the *parent* deadlocks, inside fork(), usually at the first
 * or second signal.
 *
 * The process tells its watcher 'F' before each fork() and 'R' after it
 * returned, through a pipe.  Silence for --timeout-ms with the last word
 * 'F' and the main thread asleep in futex() is the verdict: deadlock.
 *
 * Two contrasts, same loop and same handler.  _Fork() (glibc 2.34, POSIX
 * 2024) takes no lock and never deadlocks.  fork() with one thread left -
 * the second one started and joined before the loop - still deadlocks:
 * glibc's fork() skips malloc's locks only while __libc_single_threaded is
 * set, and starting a thread clears it for good.
 */
#include "fork_glitch.h"

#include "cli.h"
#include "clock.h"
#include "out.h"
#include "rng.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    SIGNAL_TRIALS = 3,
    FORK_BUDGET = 100,    /* forks without a deadlock after which a run counts as ok */
    RUN_BUDGET_MS = 1000, /* ... or this long, should forks be slow (sanitizers) */
    TIMER_US = 1000,      /* one SIGALRM per millisecond */
    SLOTS = 16,           /* blocks alive at once in the allocating loop */
    TOUCHED_BYTES = 64,   /* written into each block */
};

/* One run of the sacrificial process: how to fork, with how many threads. */
struct signal_run {
    bool underscore_fork;        /* _Fork() instead of fork() in the handler */
    bool idle_thread;            /* a second thread alive during the run; else one started
                             and joined before it, leaving one thread */
    size_t block_min, block_max; /* the sizes the loop allocates */
    int progress_fd;             /* the write end of the watcher's pipe */
};

/* What the handler needs; a signal handler gets no argument. */
static struct {
    int progress_fd;
    bool underscore_fork;
    timer_t timer; /* one-shot, re-armed by the handler */
    volatile sig_atomic_t forks_done;
} handler;

/* write(2) is async-signal-safe; stdio and die() are not. */
static void tell_watcher(char word)
{
    if (write(handler.progress_fd, &word, 1) != 1)
        _exit(5);
}

/* Send SIGALRM once, TIMER_US from now.  timer_settime is async-signal-
 * safe; re-arming from the handler leaves the loop a full period to run
 * between signals, however slow a fork is. */
static void arm_timer(void)
{
    struct itimerspec once = {.it_value = {0, TIMER_US * 1000}};

    if (timer_settime(handler.timer, 0, &once, NULL) != 0)
        _exit(6);
}

static void on_alarm(int sig)
{
    int saved_errno = errno;

    (void)sig;
    tell_watcher('F');
    pid_t pid = handler.underscore_fork ? _Fork() : fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    tell_watcher('R');
    handler.forks_done++;
    arm_timer();
    errno = saved_errno;
}

/* The second thread does nothing at all: its existence is enough to make
 * glibc's malloc and fork take their locks.  It blocks on a pipe nobody
 * writes to, with SIGALRM blocked, until the process ends. */
static void *idle_main(void *arg)
{
    char byte;

    receive_byte((int)(intptr_t)arg, &byte);
    return NULL;
}

static pthread_t start_idle_thread(int *idle_pipe)
{
    sigset_t alarm, old;
    pthread_t thread;

    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    if (pipe2(idle_pipe, O_CLOEXEC) != 0)
        die_errno("pipe2");
    pthread_sigmask(SIG_BLOCK, &alarm, &old); /* the thread inherits the mask */
    thread = start_thread(idle_main, (void *)(intptr_t)idle_pipe[0]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return thread;
}

/* Start the second thread and, unless it is to stay for the run, stop it
 * and join it: one thread left, in a process that has had two. */
static void start_second_thread(bool keep)
{
    int idle_pipe[2];
    pthread_t thread = start_idle_thread(idle_pipe);

    if (keep)
        return;
    close(idle_pipe[1]); /* end of file: it returns */
    join_thread(thread);
    close(idle_pipe[0]);
}

/* No more SIGALRM: blocked first, so that no handler re-arms the timer
 * between the two steps, then the timer deleted. */
static void stop_signals(void)
{
    sigset_t alarm;

    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, NULL);
    if (timer_delete(handler.timer) != 0)
        die_errno("timer_delete");
}

static void create_timer(void)
{
    struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};

    if (timer_create(CLOCK_MONOTONIC, &event, &handler.timer) != 0)
        die_errno("timer_create");
}

/* The sacrificial process: allocate blocks the arena lock guards, with
 * SIGALRM arriving every millisecond, until FORK_BUDGET forks are done
 * (or RUN_BUDGET_MS has passed) without a deadlock. */
static int allocate_under_signals(void *arg)
{
    const struct signal_run *run = arg;
    void *slots[SLOTS] = {NULL};
    uint64_t rng = 7;
    struct sigaction action;

    handler.progress_fd = run->progress_fd;
    handler.underscore_fork = run->underscore_fork;
    start_second_thread(run->idle_thread);
    tell_watcher(__libc_single_threaded ? 'S' : 'M'); /* what glibc believes */
    memset(&action, 0, sizeof action);
    action.sa_handler = on_alarm;
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGALRM, &action, NULL) != 0)
        die_errno("sigaction");
    create_timer();
    arm_timer();
    uint64_t deadline = now_ns() + RUN_BUDGET_MS * 1000000ull;
    size_t spread = run->block_max - run->block_min + 1;
    for (unsigned i = 0; handler.forks_done < FORK_BUDGET && now_ns() < deadline; i++) {
        void **slot = &slots[i % SLOTS];
        size_t size = run->block_min + rng_next(&rng) % spread;
        free(*slot);
        *slot = malloc(size);
        if (*slot == NULL)
            return 3;
        /* used, so that the compiler keeps malloc and free; never past its end */
        memset(*slot, 0x5a, size < TOUCHED_BYTES ? size : TOUCHED_BYTES);
    }
    stop_signals();
    for (int i = 0; i < SLOTS; i++)
        free(slots[i]);
    return 0;
}

/* What the watcher saw of one run. */
struct signal_seen {
    struct child_result r;
    char glibc_believes; /* 'S': __libc_single_threaded, 'M': not, 0: unknown */
    unsigned forks_completed;
    char last_word;  /* 'F': inside fork(); 'R': back in the loop; 0: nothing yet */
    long blocked_in; /* the main thread's system call when the watchdog fired */
};

/* Read what arrived; false at end of file (the process is gone). */
static bool take_progress(int fd, struct signal_seen *seen)
{
    char buf[512];
    ssize_t got;

    while ((got = read(fd, buf, sizeof buf)) < 0 && errno == EINTR)
        ;
    if (got < 0)
        die_errno("read progress pipe");
    for (ssize_t i = 0; i < got; i++) {
        seen->forks_completed += buf[i] == 'R';
        if (buf[i] == 'S' || buf[i] == 'M')
            seen->glibc_believes = buf[i];
    }
    if (got > 0)
        seen->last_word = buf[got - 1];
    return got > 0;
}

/* Watch the process through its pipe until it exits, or falls silent for
 * timeout_ms while asleep in futex() (or for SLOW_DEADLINES times that,
 * whatever it does): then kill it and its group - run_watched's rule, with
 * progress words instead of plain end of file. */
static struct signal_seen watch_run(pid_t pid, int fd, uint64_t started, int timeout_ms)
{
    struct signal_seen seen = {.blocked_in = SYSCALL_RUNNING};
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int silences = 0;

    for (;;) {
        int ready = poll(&pfd, 1, timeout_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            die_errno("poll");
        if (ready > 0) {
            silences = 0;
            if (take_progress(fd, &seen))
                continue;
            seen.r = child_wait(pid, started, timeout_ms); /* end of file: it is leaving */
            return seen;
        }
        seen.blocked_in = syscall_of(pid, pid);
        if (seen.blocked_in == SYS_futex || ++silences >= SLOW_DEADLINES) {
            seen.r = child_wait(pid, started, 0); /* the watchdog: SIGKILL to the group */
            return seen;
        }
    }
}

static struct signal_seen run_once(struct signal_run run, int timeout_ms)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) != 0)
        die_errno("pipe2");
    run.progress_fd = fds[1];
    uint64_t started = now_ns();
    pid_t pid = child_start(allocate_under_signals, &run);
    close(fds[1]); /* only the child writes: its exit is our end of file */
    struct signal_seen seen = watch_run(pid, fds[0], started, timeout_ms);
    close(fds[0]);
    return seen;
}

/* One line for people, one of facts; trial 0 is a contrast, not a trial. */
static void print_run(unsigned trial, const char *label, const struct signal_run *run,
                      const struct signal_seen *seen)
{
    bool in_fork = seen->r.end == CHILD_TIMED_OUT && seen->last_word == 'F';

    if (seen->r.end == CHILD_TIMED_OUT) {
        printf("%s: forks completed %u, then stuck %s, asleep in %s(): killed\n", label,
               seen->forks_completed, in_fork ? "inside fork()" : "outside fork()",
               syscall_name(seen->blocked_in));
    } else {
        char how[64];
        printf("%s: forks completed %u, no deadlock (%s)\n", label, seen->forks_completed,
               child_describe(&seen->r, how));
    }
    if (trial > 0)
        fact_uint("trial", trial);
    fact_word("fork_call", run->underscore_fork ? "_Fork" : "fork");
    fact_uint("threads", run->idle_thread ? 2 : 1);
    fact_int("single_threaded_flag", seen->glibc_believes == 'S');
    fact_word("result", result_word(&seen->r));
    fact_uint("forks_completed", seen->forks_completed);
    if (seen->r.end == CHILD_TIMED_OUT) {
        fact_word("stuck_in", in_fork ? "fork" : "loop");
        fact_word("blocked_in", syscall_name(seen->blocked_in));
    }
    facts_end();
}

/* Where the loop's sizes fall against glibc's thread cache. */
static const char *cache_words(const struct run_config *cfg)
{
    if (cfg->block_min > TCACHE_MAX_BYTES)
        return "past the thread cache: each malloc and free takes the arena lock";
    if (cfg->block_max <= TCACHE_MAX_BYTES)
        return "within the thread cache: most calls take no lock at all";
    return "partly past the thread cache: the larger ones take the arena lock";
}

/* What the trials showed, in words chosen from how they ended. */
static void explain_trials(const struct run_config *cfg, unsigned in_fork, unsigned trials)
{
    if (in_fork > 0)
        printf("%u of %u trials hung inside fork(): the handler's fork() ran on top of a\n"
               "malloc that held the arena lock, and fork() waits for every arena lock -\n"
               "one its own thread holds.  It is the parent that hangs, not the child.\n",
               in_fork, trials);
    if (in_fork < trials && strcmp(malloc_in_use(), "glibc") != 0)
        printf("%u of %u trials did not hang: this build's malloc is the sanitizer's,\n"
               "and fork() takes no lock of it.\n",
               trials - in_fork, trials);
    else if (in_fork < trials && cfg->block_max <= TCACHE_MAX_BYTES)
        printf("%u of %u trials did not hang: blocks this small come from the thread\n"
               "cache without the arena lock, so a signal rarely lands while it is held.\n",
               trials - in_fork, trials);
    else if (in_fork < trials)
        printf("%u of %u trials did not hang inside fork() this time: no signal landed\n"
               "while the loop held the arena lock.\n",
               trials - in_fork, trials);
}

/* The two contrasts, in words chosen from how they ended. */
static void explain_contrasts(const struct signal_seen *underscore, const struct signal_seen *one)
{
    if (child_ok(&underscore->r))
        printf("_Fork() took no lock and ran no pthread_atfork handler: %u forks, no\n"
               "deadlock.  It is the async-signal-safe fork (and its child may call only\n"
               "async-signal-safe functions).\n",
               underscore->forks_completed);
    else
        printf("_Fork() did not finish cleanly this time (%s).\n", result_word(&underscore->r));
    if (one->r.end == CHILD_TIMED_OUT)
        printf("One thread is not enough to make fork() safe: glibc's fork() skips\n"
               "malloc's locks only in a process that never started a thread\n"
               "(__libc_single_threaded still set); joining the thread does not set it back.\n");
    else if (strcmp(malloc_in_use(), "glibc") != 0)
        printf("fork() with one thread left did not hang either (%u forks): this build's\n"
               "malloc is the sanitizer's, and fork() takes no lock of it.\n",
               one->forks_completed);
    else
        printf("fork() with one thread left did not hang this time (%u forks), though\n"
               "glibc still takes malloc's locks in it (single_threaded_flag=%d).\n",
               one->forks_completed, one->glibc_believes == 'S');
}

struct fork_outcome show_signal(const struct run_config *cfg)
{
    const struct signal_run two_threads = {
        .idle_thread = true, .block_min = cfg->block_min, .block_max = cfg->block_max};
    const struct signal_run underscore = {.underscore_fork = true,
                                          .idle_thread = true,
                                          .block_min = cfg->block_min,
                                          .block_max = cfg->block_max};
    const struct signal_run one_left = {
        .idle_thread = false, .block_min = cfg->block_min, .block_max = cfg->block_max};
    unsigned trials = trials_or(cfg, SIGNAL_TRIALS), in_fork = 0;
    struct fork_outcome o = {0};
    char label[32];

    heading("signal: fork() in a signal handler that interrupted malloc");
    printf("A process with two threads allocates blocks of %zu to %zu bytes (%s)\n"
           "in a loop; SIGALRM %d us after the start and after each handler; the handler\n"
           "calls fork() and waits for the child.  Up to %d forks per trial; silence for\n"
           "%d ms, asleep in futex(), is a deadlock.\n",
           cfg->block_min, cfg->block_max, cache_words(cfg), TIMER_US, FORK_BUDGET,
           cfg->timeout_ms);
    for (unsigned i = 1; i <= trials; i++) {
        struct signal_seen seen = run_once(two_threads, cfg->timeout_ms);
        count_outcome(&o, &seen.r);
        in_fork += seen.r.end == CHILD_TIMED_OUT && seen.last_word == 'F';
        snprintf(label, sizeof label, "trial %u", i);
        print_run(i, label, &two_threads, &seen);
    }
    explain_trials(cfg, in_fork, trials);

    subheading("the same handler with _Fork(); and fork() with one thread left");
    struct signal_seen with_underscore = run_once(underscore, cfg->timeout_ms);
    print_run(0, "_Fork(), 2 threads        ", &underscore, &with_underscore);
    struct signal_seen with_one = run_once(one_left, cfg->timeout_ms);
    print_run(0, "fork(), 1 thread (had 2)  ", &one_left, &with_one);
    explain_contrasts(&with_underscore, &with_one);
    print_outcome("signal", &o);
    return o;
}
