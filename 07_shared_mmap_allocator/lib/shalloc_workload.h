/*
 * shalloc_workload.h - shalloc measured on the common workload
 * (common/workload.h): the one measurement of the shared allocator, used
 * by the lesson's `bench` command and by bench/alloc_bench.
 */
#ifndef SHALLOC_WORKLOAD_H
#define SHALLOC_WORKLOAD_H

#include "shalloc.h"
#include "workload.h"

#include <stdbool.h>

/* shalloc_alloc and shalloc_free on the region behind h. */
struct alloc_api shalloc_workload_api(struct shalloc *h);

/* How the workers of a run use shalloc. */
enum shalloc_run {
    SHALLOC_RUN_SHARED,   /* one region for all of them, each with its caches */
    SHALLOC_RUN_NO_CACHE, /* the same, every operation under the region lock: roughly
                             what a shared allocator built on one lock does */
    SHALLOC_RUN_APART,    /* a region for each, shared with nobody: what the machine
                             gives N processes running this allocator's code at once,
                             the ceiling of SHALLOC_RUN_SHARED's scaling */
};

/*
 * The workload in w->workers processes on a fresh anonymous region of
 * 8 MiB plus 8 MiB per worker for the small sizes (the workload's peak is
 * well under 1 MiB each), 32 MiB plus 64 MiB per worker for the mixed ones
 * (about 16 MiB each): one region for all, or with SHALLOC_RUN_APART one
 * of the one-worker size for each, made in the worker.  Each worker takes
 * a slot of its own and gives it back at its end.  Only w's workers, ops,
 * seed, mix and deadline_ms are read (the allocator and the hooks are set
 * here).  Fills results (one per worker) and, unless it is NULL,
 * *mapped_bytes: the bytes of the spans the shared region claimed (0 for
 * SHALLOC_RUN_APART).  Returns 0, or -1 with errno and *why if the region
 * could not be made or removed.
 */
int shalloc_workload_run(const struct workload_procs *w, enum shalloc_run how,
                         struct workload_result *results, uint64_t *mapped_bytes, const char **why);

#endif
