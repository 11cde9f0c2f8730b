/*
 * demo_memory.c - lesson 05's demo, memory and the kernel: a LARGE block's
 * mapping, the large cache that keeps freed ones (and its limit), and empty
 * zones waiting in the pool until decay gives them back.
 */
#include "cli.h"
#include "demo.h"
#include "out.h"
#include "procfs.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

enum {
    HUGE_BYTES = 40 << 20, /* above the large cache's limit for one mapping */
    CACHED_BYTES = 1 << 20,
    RELEASE_BLOCKS = 4096,
    DEMO_DECAY_MS = 100,
};

/* Minor faults taken while writing every byte of p. */
static uint64_t faults_filling(char *p, size_t size)
{
    uint64_t before = minor_faults();

    memset(p, 'z', size);
    return minor_faults() - before;
}

/* A block too big for the large cache: mapped for it, unmapped by free. */
static void show_huge(void)
{
    struct mapping m;
    struct zm_stats before = stats_now(), during, after;
    char *p = zm_malloc(HUGE_BYTES); /* not written: the mapping is what counts here */

    if (p == NULL)
        die_errno("zm_malloc");
    during = stats_now();
    struct zm_block_info i = info_of(p);
    int in_maps = mapping_find(p, &m);
    printf("zm_malloc(%d MiB) = %p in a %zu KiB mapping of its own:\n    %s\n", HUGE_BYTES >> 20,
           (void *)p, i.zone_bytes >> 10, in_maps ? m.line : "(not found)");
    zm_free(p);
    after = stats_now();
    int in_maps_after = mapping_find(p, &m);
    printf("after zm_free: %s /proc/self/maps (zones %llu -> %llu -> %llu): above %llu MiB a\n"
           "freed mapping goes straight back to the kernel.\n",
           in_maps_after ? "still in" : "gone from", (unsigned long long)before.zones,
           (unsigned long long)during.zones, (unsigned long long)after.zones,
           (unsigned long long)after.large_cache_block_limit >> 20);
    fact_uint("size_bytes", HUGE_BYTES);
    fact_uint("mapping_bytes", i.zone_bytes);
    fact_int("in_maps", in_maps);
    fact_int("in_maps_after_free", in_maps_after);
    fact_uint("zones_before", before.zones);
    fact_uint("zones_during", during.zones);
    fact_uint("zones_after", after.zones);
    fact_uint("cache_block_limit_bytes", after.large_cache_block_limit);
    facts_end();
}

/* A block the cache keeps: the next one of about its size reuses its
 * mapping, pages and all, without a fault. */
static void show_cached(void)
{
    struct mapping m;
    char *p = zm_malloc(CACHED_BYTES);

    if (p == NULL)
        die_errno("zm_malloc");
    uint64_t fresh = faults_filling(p, CACHED_BYTES);
    zm_free(p);
    struct zm_stats freed = stats_now();
    int kept = mapping_find(p, &m);
    char *q = zm_malloc(CACHED_BYTES);
    if (q == NULL)
        die_errno("zm_malloc");
    uint64_t reuse = faults_filling(q, CACHED_BYTES);
    printf("\nzm_malloc(1 MiB) = %p, filled: %llu page faults.  zm_free: the mapping %s\n"
           "(%llu in the large cache).  zm_malloc(1 MiB) again = %p: %s, filled with\n"
           "%llu faults.  The cache keeps at most %llu mappings, %llu MiB in all.\n",
           (void *)p, (unsigned long long)fresh, kept ? "stays" : "is gone",
           (unsigned long long)freed.large_cached, (void *)q,
           q == p ? "the same mapping" : "another mapping", (unsigned long long)reuse,
           (unsigned long long)freed.large_cache_slots,
           (unsigned long long)freed.large_cache_limit >> 20);
    fact_uint("cached_size_bytes", CACHED_BYTES);
    fact_uint("fresh_faults", fresh);
    fact_int("kept_after_free", kept);
    fact_uint("large_cached", freed.large_cached);
    fact_int("same_mapping", q == p);
    fact_uint("reuse_faults", reuse);
    fact_uint("cache_limit_bytes", freed.large_cache_limit);
    fact_uint("cache_slots", freed.large_cache_slots);
    facts_end();
    zm_free(q);
    int released = zm_trim();
    struct zm_stats trimmed = stats_now();
    printf("zm_trim() (malloc_trim under LD_PRELOAD) gives the cache back at once: %llu left,\n"
           "the mapping %s /proc/self/maps.\n",
           (unsigned long long)trimmed.large_cached,
           mapping_find(q, &m) ? "still in" : "gone from");
    fact_int("trim_released", released);
    fact_uint("large_cached_after_trim", trimmed.large_cached);
    facts_end();
}

void show_large(void)
{
    heading("large: a block with a mapping of its own");
    zm_trim(); /* start with an empty cache, whatever the parts before left */
    show_huge();
    show_cached();
}

static void sleep_ms(long ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

    while (nanosleep(&t, &t) != 0)
        ;
}

/* Thousands of TINY blocks fill several zones; freeing them all empties the
 * zones, which wait in the pool; decay (or zm_trim) gives them back. */
void show_release(void)
{
    static void *blocks[RELEASE_BLOCKS];
    struct zm_stats before, during, after, decayed;

    heading("release: emptied zones wait in the pool; decay gives them back");
    zm_flush_thread_cache(); /* what the parts before left: back to zones, */
    zm_trim();               /* and empty zones to the kernel */
    unsigned long long decay_ms = stats_now().decay_ms;
    zm_set_decay_ms(DEMO_DECAY_MS); /* the demo cannot wait the default second */
    before = stats_now();
    for (int i = 0; i < RELEASE_BLOCKS; i++)
        blocks[i] = must_alloc(64);
    during = stats_now();
    for (int i = 0; i < RELEASE_BLOCKS; i++)
        zm_free(blocks[i]);
    zm_flush_thread_cache(); /* the thread's cached blocks go back to their zones */
    after = stats_now();
    printf("%d blocks of 64 bytes: zones %llu -> %llu; all freed: %llu zones unmapped, %llu\n"
           "empty ones in the pool, still mapped, for the next zones of their class.\n",
           RELEASE_BLOCKS, (unsigned long long)before.zones, (unsigned long long)during.zones,
           (unsigned long long)(after.zones_unmapped - during.zones_unmapped),
           (unsigned long long)after.pooled_zones);
    fact_uint("blocks", RELEASE_BLOCKS);
    fact_uint("zones_before", before.zones);
    fact_uint("zones_while_used", during.zones);
    fact_uint("zones_after_free", after.zones);
    fact_uint("zones_unmapped", after.zones_unmapped - during.zones_unmapped);
    fact_uint("zones_pooled", after.pooled_zones);
    facts_end();

    sleep_ms(DEMO_DECAY_MS + 50); /* the pool idles past the decay time */
    zm_free(must_alloc(64));      /* a zone taken from the pool: decay runs */
    decayed = stats_now();
    printf("After %d ms idle (the decay time, %llu ms by default, set to %d here), the next\n"
           "zone taken from the pool gave back the %llu that had waited too long.\n",
           DEMO_DECAY_MS + 50, decay_ms, DEMO_DECAY_MS,
           (unsigned long long)(decayed.zones_unmapped - after.zones_unmapped));
    fact_uint("decay_ms", decay_ms);
    fact_uint("idle_ms", DEMO_DECAY_MS + 50);
    fact_uint("zones_decayed", decayed.zones_unmapped - after.zones_unmapped);
    fact_uint("zones_pooled_after_decay", decayed.pooled_zones);
    facts_end();
    zm_set_decay_ms((unsigned)decay_ms);
}
