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

/*
 * The workload in w->workers processes sharing one fresh anonymous region
 * of 8 MiB plus 8 MiB per worker for the small sizes (the workload's peak
 * is well under 1 MiB each), 32 MiB plus 64 MiB per worker for the mixed
 * ones (about 16 MiB each); each worker takes a slot of its own and gives
 * it back at its end.  cache_off: every operation takes the region lock,
 * roughly what a shared allocator built on one lock does.  Only w's
 * workers, ops, seed, mix and deadline_ms are read (the allocator and the
 * hooks are set here).  Fills
 * results (one per worker) and, unless it is NULL, *mapped_bytes: the
 * bytes of the spans the run claimed.  Returns 0, or -1 with errno and
 * *why if the region could not be made or removed.
 */
int shalloc_workload_run(const struct workload_procs *w, bool cache_off,
                         struct workload_result *results, uint64_t *mapped_bytes, const char **why);

#endif
