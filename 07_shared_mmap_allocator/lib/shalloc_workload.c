/*
 * shalloc_workload.c - shalloc measured on the common workload (layer 8:
 * the public API only, for the lesson's bench and bench/alloc_bench).
 */
#include "shalloc_workload.h"

#include <stdio.h>

static void *shared_alloc(void *ctx, size_t size)
{
    return shalloc_alloc(ctx, size);
}

static void shared_release(void *ctx, void *block)
{
    shalloc_free(ctx, block);
}

struct alloc_api shalloc_workload_api(struct shalloc *h)
{
    return (struct alloc_api){.alloc = shared_alloc, .release = shared_release, .ctx = h};
}

/* The region for a run of this many workers on these sizes. */
static size_t region_bytes(enum workload_mix mix, unsigned workers)
{
    size_t mib = mix == WORKLOAD_SMALL ? 8 + 8 * workers : 32 + 64 * workers;

    return mib << 20;
}

/* SHALLOC_RUN_APART's region size: the workers cannot be told it, the
 * hooks only get the handle. */
static size_t apart_bytes;

/* In a worker, before its steps. */
static int turn_cache_off(void *ctx)
{
    shalloc_set_cache_off(ctx, true);
    return 0;
}

/* In a worker of SHALLOC_RUN_APART, before its steps: a region of its own
 * (the handle is this process's copy of the parent's). */
static int create_own_region(void *ctx)
{
    if (shalloc_create(ctx, NULL, apart_bytes) == 0)
        return 0;
    fprintf(stderr, "shalloc_workload: worker's region: %s\n", shalloc_error(ctx));
    return 1;
}

/* In a worker, after its steps: give its slot back (with
 * SHALLOC_RUN_APART, its region too: the last detach unmaps it). */
static int leave_region(void *ctx)
{
    return shalloc_detach(ctx) == 0 ? 0 : 1;
}

/* SHALLOC_RUN_APART: every worker makes its region, nothing to share. */
static void run_apart(struct workload_procs *run, struct workload_result *results)
{
    static struct shalloc unmade; /* each worker fills its own copy */

    apart_bytes = region_bytes(run->mix, 1);
    run->api = shalloc_workload_api(&unmade);
    run->begin = create_own_region;
    workload_run_processes(run, results);
}

int shalloc_workload_run(const struct workload_procs *w, enum shalloc_run how,
                         struct workload_result *results, uint64_t *mapped_bytes, const char **why)
{
    struct shalloc region;
    struct shalloc_stats stats;
    struct workload_procs run = *w;

    run.end = leave_region;
    if (how == SHALLOC_RUN_APART) {
        run_apart(&run, results);
        if (mapped_bytes != NULL)
            *mapped_bytes = 0;
        return 0;
    }
    if (shalloc_create(&region, NULL, region_bytes(w->mix, w->workers)) != 0) {
        *why = shalloc_error(&region);
        return -1;
    }
    run.api = shalloc_workload_api(&region);
    run.begin = how == SHALLOC_RUN_NO_CACHE ? turn_cache_off : NULL;
    workload_run_processes(&run, results);
    shalloc_stats(&region, &stats);
    if (mapped_bytes != NULL)
        *mapped_bytes = stats.spans_claimed * SHALLOC_SPAN_BYTES; /* spans are never returned */
    if (shalloc_detach(&region) != 0) {
        *why = shalloc_error(&region);
        return -1;
    }
    return 0;
}
