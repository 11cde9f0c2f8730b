/*
 * fork_check.h - fork() in a multithreaded process, against the zone
 * allocator: the experiments the lesson's demo shows and its tests assert.
 */
#ifndef FORK_CHECK_H
#define FORK_CHECK_H

#include "child.h"

#include <stdbool.h>
#include <stdint.h>

/* How the children of one experiment ended. */
struct fork_outcome {
    unsigned forks, ok, deadlocked, crashed;
};

/* TINY blocks (more than a cache refill), a SMALL and a LARGE one: every
 * kind of allocation, so every kind of lock.  False if one failed. */
bool allocate_each_kind(void);

/*
 * threads threads allocate, reallocate and free without pause while this
 * thread forks forks times; each child allocates every kind of block and
 * checks the heap, under a watchdog of timeout_ms.
 */
struct fork_outcome fork_while_allocating(unsigned threads, unsigned forks, uint64_t seed,
                                          int timeout_ms);

/*
 * Another thread holds every allocator lock (zm_lock_all) at the instant
 * of fork, made certain by a handshake.  With the fork handlers on, fork()
 * waits for it to let go and the child allocates; with them off, the child
 * inherits the locks held and blocks until the watchdog (timeout_ms) kills
 * it.  Returns how the child ended.
 */
struct child_result fork_while_locked(int timeout_ms);

/*
 * The same with any process: while another thread holds every allocator
 * lock, start(arg) starts a process (a fork body through child_start,
 * posix_spawn, ...) and returns its pid, which is then watched for
 * timeout_ms.  fork_while_locked is this with a child that allocates.
 */
struct child_result run_while_locked(pid_t (*start)(void *arg), void *arg, int timeout_ms);

/* Add how one watched child ended to an experiment's tally. */
void count_outcome(struct fork_outcome *o, const struct child_result *r);

#endif
