/*
 * stats.c - what the allocator has done so far: zm_get_stats, and the
 * ZONE_MALLOC_STATS line at exit.
 */
#include "zm_internal.h"

void zm_get_stats(struct zm_stats *out)
{
    zm_ensure_init();
    global_lock();
    *out = (struct zm_stats){
        .mapped_bytes = zm.mapped_bytes,
        .peak_mapped_bytes = zm.peak_mapped_bytes,
        .zones = zm.zones,
        .peak_zones = zm.peak_zones,
        .zones_mapped = zm.zones_mapped,
        .zones_unmapped = zm.zones_unmapped,
        .arenas = zm.arena_count,
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
