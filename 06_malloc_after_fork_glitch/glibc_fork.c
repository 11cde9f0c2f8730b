/*
 * glibc_fork.c - the experiment behind "child malloc after fork randomly
 * crashes on glibc", done honestly, and the reason for its outcome.
 *
 * Threads allocate and free without pause while the main thread forks; each
 * child allocates.  The claim predicts freezes and crashes; with glibc every
 * child works, because glibc's fork() takes malloc's locks before it copies
 * the process (__malloc_fork_lock_parent) and makes them new in the child.
 *
 * The second half shows fork() waiting for such a lock.  A thread calls
 * malloc_stats(), which holds the main arena's lock while it prints - into a
 * pipe we filled, so the thread is stuck holding it.  The forking thread is
 * then seen in /proc asleep in futex() inside fork(), and fork() returns
 * only after the pipe is drained and the lock let go.
 */
#include "fork_glitch.h"

#include "cli.h"
#include "clock.h"
#include "hammer.h"
#include "memory.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { HAMMERS = 4, GLIBC_TRIALS = 200 };

/* Each child allocates on every path of glibc's malloc, and frees. */
static const struct child_job glibc_child = {.api = &workload_libc_api};

/* The experiment: HAMMERS threads allocate while we fork (common/hammer.h:
 * sizes on each of glibc's three paths - up to 1032 bytes the thread's
 * cache (tcache) answers without a lock while it has blocks; above that the
 * arena, under its lock; from 128 KiB (M_MMAP_THRESHOLD) a mapping of its
 * own).  Each child allocates on every path too. */
static struct fork_outcome fork_while_hammering_glibc(unsigned trials, int timeout_ms)
{
    return fork_while_hammering(&workload_libc_api, HAMMERS, 1000, trials, &glibc_child,
                                run_watched, timeout_ms);
}

/* --- why: fork() waits for a held arena lock ------------------------- */

/* What the sacrificial process saw, in shared memory for its parent. */
struct arena_wait {
    int timeout_ms;          /* in: how long to look for each state */
    bool holder_blocked;     /* the malloc_stats thread was seen blocked in write() */
    bool fork_blocked;       /* the forking thread was seen asleep in futex() */
    uint64_t release_ns;     /* when the pipe began to drain: malloc_stats goes on */
    uint64_t fork_return_ns; /* when fork() returned in the parent */
    uint64_t fork_ns;        /* how long the fork() call took */
    struct child_result child;
};

/* Shared by the threads of the sacrificial process. */
struct probe {
    struct arena_wait *seen;
    int stats_pipe[2]; /* malloc_stats prints into [1] (as stderr); the drainer reads [0] */
    int tid_pipe[2];   /* the holder sends its thread id here before it starts */
    int go_pipe[2];    /* a byte here tells the drainer that fork() is being called */
    pid_t main_tid;
    int timeout_ms;
};

/* The holder: malloc_stats() locks the main arena, then prints, and its
 * first write into the full pipe blocks - with the lock held. */
static void *holder_main(void *arg)
{
    struct probe *p = arg;

    send_tid(p->tid_pipe[1]);
    malloc_stats();
    return NULL;
}

/* The drainer: once fork() is under way, check that the forking thread is
 * asleep in futex(), then empty the pipe so that malloc_stats can finish
 * and let go of the lock. */
static void *drainer_main(void *arg)
{
    struct probe *p = arg;
    char byte;

    if (!receive_byte(p->go_pipe[0], &byte))
        die("drainer: the go pipe closed early");
    p->seen->fork_blocked =
        wait_until_in_syscall(getpid(), p->main_tid, SYS_futex, -1, p->timeout_ms);
    p->seen->release_ns = now_ns();
    drain_until_eof(p->stats_pipe[0]);
    return NULL;
}

/* Make the full pipe our stderr: malloc_stats prints there.  Returns a
 * copy of the real stderr, to put back afterwards. */
static int stderr_into(int write_fd)
{
    int saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);

    if (saved < 0 || dup2(write_fd, STDERR_FILENO) < 0)
        die_errno("dup2");
    close(write_fd);
    return saved;
}

static void stderr_back(int saved)
{
    if (dup2(saved, STDERR_FILENO) < 0)
        die_errno("dup2");
    close(saved);
}

/* The body of the sacrificial process (it may block for ever if glibc did
 * not do what we say; its watchdog is the parent's). */
static int show_fork_waiting(void *arg)
{
    struct probe p = {.seen = arg, .main_tid = gettid()};
    pid_t holder_tid;

    p.timeout_ms = p.seen->timeout_ms;
    if (pipe2(p.stats_pipe, O_CLOEXEC) != 0 || pipe2(p.tid_pipe, O_CLOEXEC) != 0 ||
        pipe2(p.go_pipe, O_CLOEXEC) != 0)
        die_errno("pipe2");
    fill_pipe(p.stats_pipe[1]);
    int saved_stderr = stderr_into(p.stats_pipe[1]);

    pthread_t holder = start_thread(holder_main, &p);
    holder_tid = receive_tid(p.tid_pipe[0]);
    /* in write() to stderr, now the full pipe: inside malloc_stats, lock held */
    p.seen->holder_blocked =
        wait_until_in_syscall(getpid(), holder_tid, SYS_write, STDERR_FILENO, p.timeout_ms);
    pthread_t drainer = start_thread(drainer_main, &p);

    /* A raw fork, not child_start(): its fflush(NULL) would wait for
     * stderr's stream lock, which malloc_stats holds too. */
    send_byte(p.go_pipe[1], 'g');
    uint64_t started = now_ns();
    pid_t pid = fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0)
        _exit(child_allocates((void *)&glibc_child));
    p.seen->fork_return_ns = now_ns();
    p.seen->fork_ns = p.seen->fork_return_ns - started;

    join_thread(holder);
    stderr_back(saved_stderr);
    p.seen->child = child_wait(pid, started, SLOW_DEADLINES * p.timeout_ms);
    join_thread(drainer); /* the pipe's last writer is gone: end of file */
    return 0;
}

/* Say what the sacrificial process saw; true if fork() waited for the
 * lock, as glibc's does. */
static bool report_fork_waiting(const struct arena_wait *seen)
{
    char how[64];
    bool after_release = seen->fork_return_ns > seen->release_ns;
    bool waited = seen->fork_blocked && after_release;

    printf("A thread called malloc_stats(), which holds the main arena's lock while\n"
           "it prints - into a pipe we had filled: %s.\n",
           seen->holder_blocked ? "it is stuck in write(), lock held"
                                : "it was NOT seen blocked in write()");
    if (waited)
        printf("The main thread called fork(), which did not return: /proc showed it\n"
               "asleep in futex().  Only when the pipe was drained and malloc_stats()\n"
               "let go of the lock did fork() return, %.1f ms after the call.\n",
               (double)seen->fork_ns / 1e6);
    else
        printf("The main thread called fork(), which returned without waiting for it\n"
               "(%s, %.1f ms).\n",
               seen->fork_blocked ? "briefly asleep in futex()" : "never seen asleep",
               (double)seen->fork_ns / 1e6);
    printf("Then the child allocated: %s.\n", child_describe(&seen->child, how));
    fact_word("lock_holder", "malloc_stats");
    fact_word("holder_blocked_in", seen->holder_blocked ? "write" : "unknown");
    fact_word("fork_blocked_in", seen->fork_blocked ? "futex" : "none");
    fact_int("fork_returned_after_release", after_release);
    fact_uint("fork_ns", seen->fork_ns);
    fact_word("child", result_word(&seen->child));
    facts_end();
    return waited;
}

const char *malloc_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return "asan";
#elif defined(__SANITIZE_THREAD__)
    return "tsan";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return "asan";
#elif __has_feature(thread_sanitizer)
    return "tsan";
#else
    return "glibc";
#endif
#else
    return "glibc";
#endif
}

static void print_setup(unsigned trials, bool one_arena)
{
    printf("C library: glibc %s; malloc: %s.  %d threads allocate, resize and\n"
           "free without pause: blocks of 16 bytes to 192 KiB (thread cache, arena, mmap).\n"
           "%s: their locks are the ones a child's malloc\n"
           "needs.  The main thread forks %u times; each child allocates %d blocks\n"
           "of every kind and exits.\n",
           gnu_get_libc_version(), malloc_in_use(), HAMMERS,
           one_arena ? "They share one arena (M_ARENA_MAX=1)"
                     : "mallopt(M_ARENA_MAX) had no effect",
           trials, EVERY_SIZE_BLOCKS);
    fact_word("libc", "glibc");
    fact_word("libc_version", gnu_get_libc_version());
    fact_word("malloc", malloc_in_use());
    fact_uint("threads", HAMMERS);
    fact_int("one_arena", one_arena);
    facts_end();
}

static void print_trials(const struct fork_outcome *o, int timeout_ms)
{
    printf("%u children: %u ok, %u deadlocked (watchdog %d ms), %u crashed.\n"
           "The slowest child that finished took %.1f ms from fork to exit.\n",
           o->forks, o->ok, o->deadlocked, timeout_ms, o->crashed, (double)o->slowest_ok_ns / 1e6);
    fact_uint("slowest_child_ns", o->slowest_ok_ns);
    facts_end();
    if (o->deadlocked > 0 && strcmp(malloc_in_use(), "glibc") != 0)
        printf("This build's malloc is the sanitizer's, not glibc's, and it takes no lock\n"
               "at fork: a child that inherits one of its locks held waits for ever - the\n"
               "freeze the claim predicts, real for an allocator that does not prepare\n"
               "for fork.\n");
}

/* The sacrificial process of the second half, under the watchdog. */
static void show_reason(int timeout_ms)
{
    struct arena_wait *seen = map_anonymous(sizeof *seen, MAP_SHARED);

    subheading("why: glibc's fork() takes malloc's locks first");
    seen->timeout_ms = timeout_ms;
    struct child_result r = run_watched(show_fork_waiting, seen, timeout_ms);
    if (!child_ok(&r))
        report_failed_experiment(&r);
    else if (report_fork_waiting(seen))
        printf("That is __malloc_fork_lock_parent() in glibc's fork(): every arena lock\n"
               "is taken before the copy, so no thread is inside malloc at that instant,\n"
               "and the child makes them new (__malloc_fork_unlock_child).  Locks glibc\n"
               "knows about are safe; the next modes are about the ones it does not.\n");
    unmap(seen, sizeof *seen);
}

struct fork_outcome show_glibc(const struct run_config *cfg)
{
    unsigned trials = trials_or(cfg, GLIBC_TRIALS);

    heading("glibc: threads in glibc's malloc while the main thread forks");
    print_setup(trials, mallopt(M_ARENA_MAX, 1) == 1);
    struct fork_outcome o = fork_while_hammering_glibc(trials, cfg->timeout_ms);
    print_trials(&o, cfg->timeout_ms);
    show_reason(cfg->timeout_ms);
    print_outcome("glibc", &o);
    return o;
}
