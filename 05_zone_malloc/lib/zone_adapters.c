/*
 * zone_adapters.c - the zone allocator in the shapes common/ uses (see
 * zone_adapters.h).  The one file of the library that sees common/: its
 * headers' types, none of its code.
 */
#include "zone_adapters.h"

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

static void *zone_resize(void *ctx, void *block, size_t size)
{
    (void)ctx;
    return zm_realloc(block, size);
}

const struct alloc_api zone_workload_api = {
    .alloc = zone_alloc, .release = zone_release, .resize = zone_resize};

const struct child_job zone_child_job = {.api = &zone_workload_api, .check = zm_check_heap};

struct held_locks zone_held_locks(void)
{
    return (struct held_locks){
        .lock = zm_lock_all, .unlock = zm_unlock_all, .fork_waits = zm_fork_handlers() != 0};
}
