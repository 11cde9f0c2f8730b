/*
 * test_memory.c - memory kept for reuse: the large cache (freed LARGE
 * mappings) and the pool of empty zones, their limits and their decay.
 */
#include "cli.h"
#include "out.h"
#include "procfs.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <string.h>
#include <time.h>

enum { MIB = 1 << 20 };

static struct zm_stats stats_now(void)
{
    struct zm_stats s;

    zm_get_stats(&s);
    return s;
}

static unsigned char *large_filled(size_t size, unsigned char tag)
{
    unsigned char *p = zm_malloc(size);

    expect(p != NULL, "a LARGE allocation returned NULL");
    memset(p, tag, size);
    return p;
}

/* Freed LARGE mappings are reused (as they are, grown or split), zeroed by
 * calloc, kept within their limits, and given back above them or by trim. */
int test_large_cache(const struct test_options *o)
{
    struct mapping m;
    (void)o;

    zm_trim();
    unsigned char *p = large_filled(MIB, 1);
    zm_free(p);
    struct zm_stats freed = stats_now();
    unsigned char *q = large_filled(MIB, 2);
    fact_int("cached_after_free", freed.large_cached == 1 && mapping_find(p, &m));
    fact_int("reused", q == p && stats_now().large_reused == freed.large_reused + 1);
    zm_free(q);
    unsigned char *z = zm_calloc(1, MIB);
    fact_int("calloc_reused_zeroed", z == p && block_intact(z, MIB, MIB, 0));
    zm_free(z);
    zm_trim();

    zm_free(large_filled(2 * MIB, 3)); /* smaller than the next request: grown */
    uint64_t reused = stats_now().large_reused;
    unsigned char *grown = large_filled(3 * MIB, 4);
    fact_int("grown_reused", stats_now().large_reused == reused + 1);
    zm_free(grown);
    zm_trim();
    zm_free(large_filled(8 * MIB, 5)); /* four times the next request or more: split */
    struct zm_block_info info;
    unsigned char *front = large_filled(MIB, 6);
    expect(zm_block_info(front, &info) == 0, "block_info knows a LARGE block");
    fact_uint("split_mapping_bytes", info.zone_bytes);
    struct zm_stats split = stats_now(); /* the rest of the 8 MiB, still cached */
    fact_uint("split_rest_cached", split.large_cached);
    fact_uint("split_rest_bytes", split.large_cached_bytes);
    fact_int("split_check_problems", zm_check_heap());
    zm_free(front);
    facts_end();

    zm_trim(); /* else the huge block would grow the mapping just cached */
    struct zm_stats before = stats_now();
    unsigned char *huge = zm_malloc(before.large_cache_block_limit + MIB);
    expect(huge != NULL, "a huge allocation returned NULL");
    zm_free(huge);
    struct zm_stats after = stats_now();
    fact_int("huge_unmapped", after.large_cached == before.large_cached &&
                                  !mapping_find(huge, &m) &&
                                  after.zones_unmapped == before.zones_unmapped + 1);

    enum { MANY = 12 };
    unsigned char *many[MANY];
    for (int i = 0; i < MANY; i++)
        many[i] = zm_malloc(6 * MIB);
    for (int i = 0; i < MANY; i++)
        zm_free(many[i]);
    after = stats_now();
    fact_uint("cached_of_many", after.large_cached);
    fact_uint("cached_bytes_of_many", after.large_cached_bytes);
    fact_uint("cache_slots", after.large_cache_slots);
    fact_uint("cache_limit_bytes", after.large_cache_limit);
    int problems = zm_check_heap(); /* with mappings in the cache */
    zm_trim();
    fact_uint("cached_after_trim", stats_now().large_cached);
    fact_int("check_problems", problems);
    facts_end();
    return problems == 0 ? 0 : 1;
}

static void sleep_ms(long ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

    while (nanosleep(&t, &t) != 0)
        ;
}

/* Allocate n blocks of size, free them all and give the cache back: their
 * emptied zones go to the pool (or, with no decay time, to the kernel). */
static void fill_and_empty(size_t size, int n)
{
    static void *blocks[100000];

    expect(n <= 100000, "fill_and_empty: too many blocks");
    for (int i = 0; i < n; i++) {
        blocks[i] = zm_malloc(size);
        expect(blocks[i] != NULL, "an allocation returned NULL");
        memset(blocks[i], 0x33, size);
    }
    for (int i = 0; i < n; i++)
        zm_free(blocks[i]);
    zm_flush_thread_cache();
}

/* Emptied zones wait in the pool; decay gives them back after the decay
 * time, the bound past POOL_MAX_BYTES, a decay time of 0 at once. */
int test_zone_decay(const struct test_options *o)
{
    (void)o;
    struct zm_stats start = stats_now(), s0, s1, s2;
    uint64_t decay_ms = start.decay_ms;
    fact_uint("decay_ms", decay_ms); /* ZONE_MALLOC_DECAY_MS, or the default */
    facts_end();

    zm_set_decay_ms(50);
    s0 = stats_now();
    fill_and_empty(64, 4096);
    s1 = stats_now();
    int problems = zm_check_heap(); /* with zones in the pool */
    sleep_ms(100);
    zm_free(zm_malloc(64)); /* takes a zone from the pool: decay runs */
    s2 = stats_now();
    fact_uint("zones_pooled", s1.pooled_zones);
    fact_uint("unmapped_by_free", s1.zones_unmapped - s0.zones_unmapped);
    fact_uint("decayed", s2.zones_unmapped - s1.zones_unmapped);
    fact_uint("pooled_after_decay", s2.pooled_zones);
    facts_end();

    zm_set_decay_ms(0);
    zm_trim();
    s0 = stats_now();
    fill_and_empty(64, 4096);
    s1 = stats_now();
    fact_uint("pooled_without_decay_time", s1.pooled_zones);
    fact_uint("unmapped_without_decay_time", s1.zones_unmapped - s0.zones_unmapped);
    facts_end();

    zm_set_decay_ms(60000);
    fill_and_empty(1024, 80000); /* about 80 MiB of zones, emptied at once */
    s1 = stats_now();
    fact_uint("pooled_bytes_after_80_mib", s1.pooled_bytes);
    fact_uint("pool_limit_bytes", s1.pool_limit);
    problems += zm_check_heap();
    fact_int("trim_released", zm_trim());
    fact_uint("pooled_after_trim", stats_now().pooled_zones);
    fact_int("check_problems", problems);
    facts_end();
    zm_set_decay_ms((unsigned)decay_ms);
    return problems == 0 ? 0 : 1;
}
