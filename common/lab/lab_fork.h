/*
 * lab_fork.h - for the test drivers of labs that fork (06, 07): stopping a
 * thread or a process at a chosen point and resuming it, seeing from /proc
 * that a thread sleeps on a lock, watching a child against a deadline, and
 * a shared memory object that nothing can leave behind in /dev/shm.
 *
 * The point of all of them is determinism.  A test that must catch a
 * missing lock, or a lock held at the instant of fork, does not hope the
 * scheduler makes it happen: it stops one party inside the critical
 * section (lab_stop_here, called from a hook the lab's code calls), lets
 * another one run until it has either finished or gone to sleep waiting
 * for the lock (lab_waiting_for_lock), and resumes the first.  Deadlines
 * only catch hangs.
 */
#ifndef ASYM_LAB_FORK_H
#define ASYM_LAB_FORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* --- a stop point ---------------------------------------------------------- */

/*
 * One party (a thread, or a process forked after lab_stop_init) stops at
 * the point and says so; another waits until it has, looks at the world,
 * and resumes it.  Two pipes, so it works across fork and from a signal
 * handler.
 *
 *   stopped party:   lab_stop_here(&s);          (blocks until resumed)
 *   controller:      lab_stop_wait(&s, pid, ms) == LAB_STOPPED;  ...;  lab_stop_resume(&s);
 */
struct lab_stop {
    int at[2]; /* the stopped party writes a byte here */
    int go[2]; /* ... and waits for one here */
};

enum { LAB_STOPPED = 's' }; /* the byte lab_stop_here sends */

void lab_stop_init(struct lab_stop *s);
void lab_stop_close(struct lab_stop *s);
/* Say "stopped here" and wait to be resumed (end of file on go counts as
 * resumed).  Only write and read: async-signal-safe. */
void lab_stop_here(struct lab_stop *s);
/* Send another byte than LAB_STOPPED through the same pipe, without
 * stopping: "I finished without reaching the point" ('e', say). */
void lab_stop_note(struct lab_stop *s, char byte);
/* Wait for the byte a party sent (LAB_STOPPED, or its note).  If pid > 0,
 * its end counts too: 0 when that process ended first.  -1 after
 * timeout_ms (a hang: the caller reports it). */
int lab_stop_wait(struct lab_stop *s, pid_t pid, int timeout_ms);
void lab_stop_resume(struct lab_stop *s);

/* --- what a thread is doing ------------------------------------------------ */

/* True if thread tid of process pid is asleep in futex() waiting without a
 * deadline: how pthread_mutex_lock sleeps on a lock it cannot take.  Reads
 * /proc/PID/task/TID/syscall with open and read only. */
bool lab_waiting_for_lock(pid_t pid, pid_t tid);
/* The same, and which futex word it sleeps on: for a pthread mutex, the
 * mutex's own address (its lock word comes first). */
bool lab_waiting_for_lock_at(pid_t pid, pid_t tid, uintptr_t *word);

/* --- watching a child -------------------------------------------------------- */

enum lab_child_how {
    LAB_CHILD_EXITED,     /* code: its exit status */
    LAB_CHILD_SIGNALED,   /* code: the signal that killed it */
    LAB_CHILD_DEADLOCKED, /* its only thread slept on a lock: killed by us */
    LAB_CHILD_TIMED_OUT,  /* still running at the deadline: killed by us */
};

struct lab_child_end {
    enum lab_child_how how;
    int code;
    uintptr_t lock_word; /* LAB_CHILD_DEADLOCKED: the futex word it slept on */
};

/*
 * Wait for a child until it ends or timeout_ms passes.  With
 * lock_wait_is_deadlock, a child whose thread is asleep on a lock, with no
 * other thread that could release it (none, or a sanitizer's asleep on a
 * timer), is a deadlock, seen within milliseconds: say so only when no
 * other process can hold a lock the child shares.  A deadlocked or timed-out child is
 * killed with its process group (a child made by child_start, or one that
 * called setpgid(0, 0), leads its own).  The child is always reaped.
 */
struct lab_child_end lab_watch_child(pid_t pid, int timeout_ms, bool lock_wait_is_deadlock);
/* Wait for a child to end (it is reaped): how it ended. */
struct lab_child_end lab_reap(pid_t pid);
/* Kill a child and its process group with SIGKILL, and reap it. */
void lab_kill_and_reap(pid_t pid);
/* True if the child exited with status 0. */
bool lab_child_ok(const struct lab_child_end *e);
/* "exit 3", "killed by SIGSEGV", "asleep on a lock (deadlock)", "still
 * running after 10000 ms" */
const char *lab_child_describe(const struct lab_child_end *e, char buf[static 64]);

/* --- a shared memory object that cannot be left behind ----------------------- */

/*
 * A POSIX shared memory object of size bytes (reserved: no SIGBUS later),
 * named "/asym-lab<tag>-<pid>-<n>" with mode 0600, created exclusively and
 * unlinked at once: it lives on only through the descriptor returned (and
 * the mappings made from it), so no way the test ends - a failure, a
 * crash, the grader's SIGKILL - can leave a name in /dev/shm.  The name
 * used is copied to name (at least 64 bytes).  Dies on failure.
 */
int lab_shm_create(const char *tag, size_t size, char *name, size_t name_size);

#endif
