/*
 * child.h - one way to start, release, watch and reap child processes.
 *
 * Every child a lesson starts goes through here, so that none is left a
 * zombie, none runs the parent's exit handlers, and nothing that can block
 * forever is waited for without a deadline.
 */
#ifndef ASYM_CHILD_H
#define ASYM_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* How a watched child ended. */
enum child_end {
    CHILD_EXITED,    /* code holds its exit status */
    CHILD_SIGNALED,  /* code holds the signal that killed it */
    CHILD_TIMED_OUT, /* killed by us at the deadline (with its process group) */
};

struct child_result {
    enum child_end end;
    int code;
    uint64_t elapsed_ns; /* from child_start to the end of the wait */
};

/*
 * Fork a child that runs body(arg) and leaves with _exit(its return value).
 * stdio is flushed first so nothing buffered is printed twice.  The child
 * is put in its own process group, so a deadline kills what it started too,
 * and gets SIGKILL if the parent dies first (PR_SET_PDEATHSIG: strictly, when
 * the thread that called child_start ends, so call it from a thread that
 * outlives the child).
 * Returns the child's pid to the parent; dies if fork fails.
 * The child flushes stdio before _exit: a body run in the child of a
 * multithreaded parent must not have used stdio while other threads could
 * hold a stream's lock (use write(2) there).
 */
pid_t child_start(int (*body)(void *arg), void *arg);
/* The same, but returns -1 (errno set) if fork fails, for a caller that
 * has children of its own to clean up first. */
pid_t child_try_start(int (*body)(void *arg), void *arg);

/*
 * Wait for a child started by child_start.  timeout_ms < 0 waits forever;
 * otherwise, at the deadline the child's process group gets SIGKILL and
 * the result says CHILD_TIMED_OUT.  The child is always reaped.
 */
struct child_result child_wait(pid_t pid, uint64_t started_ns, int timeout_ms);

/* True if the child ends (exits or is killed) within timeout_ms; it is
 * not reaped: child_wait does that.  For watchers that look at a child
 * between deadlines. */
bool child_exited_within(pid_t pid, int timeout_ms);

/* child_start + child_wait. */
struct child_result child_run(int (*body)(void *arg), void *arg, int timeout_ms);

/* True if the child exited with status 0. */
int child_ok(const struct child_result *r);

/* "exit 0", "killed by SIGSEGV", "timed out after 2000 ms" */
const char *child_describe(const struct child_result *r, char buf[static 64]);

/* How the children of one experiment ended. */
struct fork_outcome {
    unsigned forks, ok, deadlocked, crashed; /* deadlocked: timed out */
    uint64_t slowest_ok_ns;                  /* the longest a child that exited 0 took */
};

/* Add how one watched child ended to an experiment's tally. */
void count_outcome(struct fork_outcome *o, const struct child_result *r);

/* Locks that another thread can hold while a process starts. */
struct held_locks {
    void (*lock)(void);
    void (*unlock)(void);
    bool fork_waits; /* fork() waits for them itself (atfork handlers that take them) */
};

/*
 * While another thread holds locks - made certain by a handshake -
 * start(arg) starts a process (a body through child_start, posix_spawn,
 * ...) and returns its pid, which is watched for timeout_ms.  When
 * fork_waits, the holder is told to let go just before start(), so that
 * fork's prepare handler waits for it; otherwise it lets go only after the
 * child has ended, so a child that needs the locks blocks until the
 * deadline.  Returns how the child ended.
 */
struct child_result run_while_held(const struct held_locks *locks, pid_t (*start)(void *arg),
                                   void *arg, int timeout_ms);

/*
 * A start gate: N children arrive, block, and are released at once, so
 * that they really run at the same time (no sleep, no luck).  Made of two
 * pipes, so it works across fork and costs nothing while closed.
 *
 *   parent: gate_init(&g); start N children; gate_release(&g, N);
 *   child:  gate_pass(&g); ...work...
 */
struct gate {
    int ready[2]; /* each child writes one byte here when it is waiting */
    int go[2];    /* closed by the parent to release everyone (EOF) */
};

void gate_init(struct gate *g);
/* In a child: say "ready", then block until the parent releases the gate. */
void gate_pass(struct gate *g);
/* In the parent: wait until n children are ready, then release them all.
 * Dies if a child ended before arriving. */
void gate_release(struct gate *g, int n);

/*
 * A crew: n children (at most CREW_MAX) started at once, each running
 * body(ctx, index) after a start gate, so that they really run together.
 *
 *   crew_start(&c, n, body, ctx);   ...set up what the children wait for...
 *   crew_release(&c);               all start now
 *   failed = crew_wait(&c, timeout_ms);
 */
enum { CREW_MAX = 64 };

struct crew {
    struct gate gate;
    unsigned n;
    pid_t pid[CREW_MAX];
    uint64_t started_ns;
    int (*body)(void *ctx, unsigned index);
    void *ctx;
    unsigned index;         /* in a child: which one it is */
    char first_failure[96]; /* after crew_wait: "child 2 (pid 123): killed by SIGKILL" */
};

/* Fork n children; each waits at the gate.  Dies if n > CREW_MAX, or if a
 * fork fails (after killing and reaping the children already started, so
 * that none is left behind). */
void crew_start(struct crew *c, unsigned n, int (*body)(void *ctx, unsigned index), void *ctx);
/* Open the gate: all start now.  Dies if a child ended before reaching it
 * (after killing and reaping the others). */
void crew_release(struct crew *c);
/* Kill every child of the crew (with its process group) and reap them:
 * for a caller about to leave early.  The crew is then empty. */
void crew_abort(struct crew *c);
/* Reap every child against one deadline, timeout_ms from now (< 0: none),
 * killing any still running then.  Prints a line for each child that did not
 * exit 0, keeps the first in first_failure, and returns how many there were. */
unsigned crew_wait(struct crew *c, int timeout_ms);

#endif
