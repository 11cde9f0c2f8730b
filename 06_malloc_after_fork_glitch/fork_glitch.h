/*
 * fork_glitch.h - the parts of lesson 06 and what they share.
 *
 * Each mode is one experiment in its own file, printing its own prose and
 * fact lines and returning how its children ended:
 *   glibc_fork.c     the claimed glibc freeze, tried, and the reason
 *                    it survives: fork() waits for malloc's lock
 *   zone_locks.c     userlock and atfork: lesson 05's allocator without and with
 *                    its fork handlers; how pthread_atfork runs handlers, and where not
 *   signal_fork.c    fork() from a signal handler that interrupted malloc
 *   thread_pool.c    fork while worker threads are mid-job
 *   alloc_logger.c   a logging malloc wrapper that notices the pid change
 *   safe_patterns.c  what the child of a threaded process can safely do
 * watch.c looks at processes and threads from outside (/proc) and holds the
 * small helpers the parts share.
 */
#ifndef FORK_GLITCH_H
#define FORK_GLITCH_H

#include "child.h"
#include "sync.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What the command line asked for; 0 trials means each mode's own default. */
struct run_config {
    unsigned trials;
    int timeout_ms;              /* the watchdog's deadline (see run_watched) */
    size_t block_min, block_max; /* signal: the sizes the interrupted loop allocates */
    bool no_pid_check;           /* logger: without its getpid() check */
};

/* glibc 2.36's per-thread cache (tcache) serves requests up to this size
 * without a lock, while it has blocks of the size. */
enum { TCACHE_MAX_BYTES = 1032 };

/* The signal mode's default block sizes: above the thread cache, so every
 * malloc and free takes the arena lock. */
enum { SIGNAL_BLOCK_MIN = 1100, SIGNAL_BLOCK_MAX = 8100 };

/* A child still busy at its deadline - not waiting for a lock - is given
 * more, up to SLOW_DEADLINES deadlines in all: on a loaded machine a
 * healthy child can wait for a CPU longer than a deadlocked one needs to
 * be recognised. */
enum { DEFAULT_TIMEOUT_MS = 200, SLOW_DEADLINES = 10 };

/* The modes.  Each prints its part and returns the tally of its trials. */
struct fork_outcome show_glibc(const struct run_config *cfg);
struct fork_outcome show_userlock(const struct run_config *cfg);
struct fork_outcome show_atfork(const struct run_config *cfg);
struct fork_outcome show_signal(const struct run_config *cfg);
struct fork_outcome show_threadpool(const struct run_config *cfg);
struct fork_outcome show_logger(const struct run_config *cfg);
struct fork_outcome show_safe(const struct run_config *cfg);

/* Which malloc the program calls: "glibc", or "asan"/"tsan" (a sanitizer
 * brings its own, which takes no lock at fork). */
const char *malloc_in_use(void);

/* The trials to run: the configured number, or the mode's default. */
unsigned trials_or(const struct run_config *cfg, unsigned mode_default);

/* The closing fact line of a mode: mode=X trials=N ok=N deadlock=N crashed=N */
void print_outcome(const char *mode, const struct fork_outcome *o);

/* "ok", "deadlock" or "crashed": how the watchdog classes one child. */
const char *result_word(const struct child_result *r);

/* The line for an experiment whose own sacrificial process failed. */
void report_failed_experiment(const struct child_result *r);

/* safe_patterns.c: start this program again as "PROG --help", its output
 * thrown away, in a process group of its own, with posix_spawn.  Returns
 * its pid (for child_wait). */
pid_t spawn_quiet_self(void);

/* --- watch.c: looking at a process or a thread from outside ----------- */

/*
 * child_run with this lesson's watchdog.  Every timeout_ms the child is
 * looked at: if it has not exited and its main thread is asleep in futex()
 * - waiting for a lock - it is killed (with its process group) and the
 * result is CHILD_TIMED_OUT, which the lesson reports as a deadlock; a
 * child that is still busy gets another deadline, up to SLOW_DEADLINES.
 * Its exit is seen as the end of file of a pipe only it holds.
 */
struct child_result run_watched(int (*body)(void *arg), void *arg, int timeout_ms);

/* The system call a thread is blocked in, from /proc/PID/task/TID/syscall:
 * its number, or one of these when there is none. */
enum {
    SYSCALL_RUNNING = -2, /* on a CPU, or ready to run */
    SYSCALL_NONE = -1,    /* asleep, but not in a system call */
    SYSCALL_UNKNOWN = -3, /* the file could not be read */
};
long syscall_of(pid_t pid, pid_t tid);

/* "futex", "write", "read", "running", ... for the numbers above. */
const char *syscall_name(long nr);

/* Wait until thread tid of process pid is inside system call nr - with
 * first argument arg0 unless arg0 is -1 (a write to one descriptor, say) -
 * looking again and again (yielding the CPU in between) for at most
 * timeout_ms.  True if it was seen there.  Reads /proc with open/read only:
 * safe in the child of a threaded process. */
bool wait_until_in_syscall(pid_t pid, pid_t tid, long nr, long arg0, int timeout_ms);

/* Threads of the calling process, counted in /proc/self/task with
 * getdents64 (no malloc, no stdio: safe right after fork). */
unsigned count_threads(void);

/* 1 if this process has any child left, running or zombie, else 0
 * (waitid with WNOWAIT: nothing is reaped). */
unsigned children_left(void);

/* Fill a pipe to the brim, so that the next write to it blocks; its
 * capacity is first set to one page.  Returns the bytes it holds. */
unsigned fill_pipe(int write_fd);

/* Read fd until end of file, throwing the bytes away. */
void drain_until_eof(int fd);

#endif
