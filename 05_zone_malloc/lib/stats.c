/*
 * stats.c - what the allocator has done so far: zm_get_stats, and the
 * ZONE_MALLOC_STATS line at exit.
 */
#include "zm_internal.h"

void zm_get_stats(struct zm_stats *out)
{
    uint64_t locks = 0;

    zm_ensure_init();
    global_lock();
    for (unsigned i = 0; i < zm.arena_count; i++)
        locks += atomic_load_explicit(&zm.arenas[i].locks, memory_order_relaxed);
    *out = (struct zm_stats){
        .mapped_bytes = zm.mapped_bytes,
        .peak_mapped_bytes = zm.peak_mapped_bytes,
        .zones = zm.zones,
        .peak_zones = zm.peak_zones,
        .zones_mapped = zm.zones_mapped,
        .zones_unmapped = zm.zones_unmapped,
        .arenas = zm.arena_count,
        .pooled_zones = zm.pool_zones,
        .pooled_bytes = zm.pool_bytes,
        .large_cached = zm.large_cache_count,
        .large_cached_bytes = zm.large_cache_bytes,
        .large_reused = zm.large_reused,
        .arena_locks = locks,
        .remote_frees = atomic_load(&zm.remote_frees),
        .decay_ms = zm.options.decay_ms,
        .pool_limit = POOL_MAX_BYTES,
        .large_cache_block_limit = LARGE_CACHE_BLOCK_MAX,
        .large_cache_limit = LARGE_CACHE_BYTES,
        .large_cache_slots = LARGE_CACHE_SLOTS,
    };
    global_unlock();
    out->mallocs = atomic_load(&zm.mallocs);
    out->frees = atomic_load(&zm.frees);
    out->reallocs = atomic_load(&zm.reallocs);
    out->peak_bytes = atomic_load(&zm.peak_bytes);
}

/*
 * ZONE_MALLOC_STATS: the line at exit.  A destructor, not atexit(): it
 * needs no registration (which could allocate), and in a preloaded
 * library it runs after the program's own exit handlers.
 */
__attribute__((destructor)) static void print_stats_at_exit(void)
{
    struct zm_stats s;
    struct text t = {.fd = zm.options.stats_fd};

    if (!zm.options.stats)
        return;
    zm_get_stats(&s);
    text_str(&t, "zone_malloc: mallocs=");
    text_uint(&t, s.mallocs);
    text_str(&t, " frees=");
    text_uint(&t, s.frees);
    text_str(&t, " reallocs=");
    text_uint(&t, s.reallocs);
    text_str(&t, " peak_bytes=");
    text_uint(&t, s.peak_bytes);
    text_str(&t, " mapped_bytes=");
    text_uint(&t, s.peak_mapped_bytes);
    text_str(&t, " zones=");
    text_uint(&t, s.peak_zones);
    text_str(&t, "\n");
    text_flush(&t);
}
