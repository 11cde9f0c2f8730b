/*
 * hammer.h - threads that allocate without pause, so that a fork() beside
 * them lands while one of them is inside the allocator (lessons 05, 06).
 *
 * The sizes cover the three paths of a typical malloc: small blocks that a
 * per-thread cache serves without a lock (16..1015 bytes), medium ones that
 * take an arena's lock (1100..16099), and large ones with a mapping of
 * their own (128..192 KiB, above glibc's mmap threshold and lesson 05's
 * SMALL_MAX).  So every lock an allocator has is held at some instant.
 *
 *   struct hammer_crew crew;
 *   hammer_start(&crew, &api, 4, seed);   ...fork, fork, fork...
 *   if (!hammer_stop(&crew)) die_err("an allocation failed", crew.failed_errno);
 */
#ifndef ASYM_HAMMER_H
#define ASYM_HAMMER_H

#include "child.h"
#include "workload.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum { HAMMER_MAX = 64 };

struct hammer {
    pthread_t thread;
    const struct alloc_api *api;
    uint64_t seed;
    atomic_bool *stop;
    bool failed;      /* an allocation returned NULL */
    int failed_errno; /* errno just after the first one that did */
};

struct hammer_crew {
    unsigned threads;
    atomic_bool stop;
    int failed_errno; /* after hammer_stop: a failed thread's errno, 0 if none failed */
    struct hammer hammers[HAMMER_MAX];
};

/* Start threads (at most HAMMER_MAX) allocating, resizing (when api has
 * resize), touching and freeing blocks through api until hammer_stop. */
void hammer_start(struct hammer_crew *crew, const struct alloc_api *api, unsigned threads,
                  uint64_t seed);
/* Stop and join them; false if any allocation failed (crew->failed_errno
 * then says why). */
bool hammer_stop(struct hammer_crew *crew);

/* A size on one of the three paths, from a random number. */
size_t hammer_size(uint64_t random);

/* What a child of a hammered parent does: allocate EVERY_SIZE_BLOCKS blocks
 * on the three paths in turn (fixed sizes, the same every time: small ones
 * of many classes, whose caches start empty, so every lock is taken), touch
 * them, then free them all.  Nothing but api and memset: no stdio, whose
 * locks another thread may have held at the fork.  False if an allocation
 * failed. */
enum { EVERY_SIZE_BLOCKS = 200 };
bool allocate_every_size(const struct alloc_api *api);

/* What the child of a fork experiment does (child_allocates). */
struct child_job {
    const struct alloc_api *api; /* allocate_every_size through it */
    int (*check)(void);          /* then this, when not NULL: 0 means all is well */
};

/* A child_start body: run the job (a struct child_job).  Exits 0 if all
 * went well, 3 if an allocation failed, 4 if the check found a problem. */
int child_allocates(void *job);

/* child_start(child_allocates, job), for run_while_held. */
pid_t start_child_job(void *job);

/* The fork experiment: threads hammer api while this thread forks forks
 * children, each running job and watched by run (child_run, or a lesson's
 * own watchdog) with timeout_ms.  Dies if a hammer's allocation failed. */
struct fork_outcome fork_while_hammering(const struct alloc_api *api, unsigned threads,
                                         uint64_t seed, unsigned forks, const struct child_job *job,
                                         struct child_result (*run)(int (*body)(void *arg),
                                                                    void *arg, int timeout_ms),
                                         int timeout_ms);

#endif
