/*
 * zone_workload.c - the zone allocator as a common/workload.h contender.
 */
#include "zone_workload.h"

#include "zone_malloc.h"

static void *zone_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return zm_malloc(size);
}

static void zone_release(void *ctx, void *block)
{
    (void)ctx;
    zm_free(block);
}

const struct alloc_api zone_workload_api = {zone_alloc, zone_release, NULL};
