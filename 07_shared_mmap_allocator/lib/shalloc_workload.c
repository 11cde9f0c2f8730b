/*
 * shalloc_workload.c - shalloc measured on the common workload (layer 8:
 * the public API only, for the lesson's bench and bench/alloc_bench).
 */
#include "shalloc_workload.h"

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

/* In a worker, before its steps. */
static void turn_cache_off(void *ctx)
{
    shalloc_set_cache_off(ctx, true);
}

/* In a worker, after its steps: give its slot back. */
static int leave_region(void *ctx)
{
    return shalloc_detach(ctx) == 0 ? 0 : 1;
}

int shalloc_workload_run(const struct workload_procs *w, bool cache_off,
                         struct workload_result *results, uint64_t *mapped_bytes, const char **why)
{
    struct shalloc region;
    struct shalloc_stats stats;
    struct workload_procs run = *w;

    size_t mib = w->mix == WORKLOAD_SMALL ? 8 + 8 * w->workers : 32 + 64 * w->workers;

    if (shalloc_create(&region, NULL, mib << 20) != 0) {
        *why = shalloc_error(&region);
        return -1;
    }
    run.api = shalloc_workload_api(&region);
    run.begin = cache_off ? turn_cache_off : NULL;
    run.end = leave_region;
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
