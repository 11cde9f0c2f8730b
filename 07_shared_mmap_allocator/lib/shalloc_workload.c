/*
 * shalloc_workload.c - a shared region as a common/workload.h contender.
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
    return (struct alloc_api){shared_alloc, shared_release, h};
}
