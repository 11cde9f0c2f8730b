/*
 * test_zones.c - zones, coalescing and show_alloc_mem, seen from outside.
 */
#include "out.h"
#include "procfs.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <stdio.h>
#include <string.h>

/* Blocks a zone of size's class holds. */
static size_t zone_blocks(size_t size)
{
    struct zm_block_info info;
    void *p = zm_malloc(size);

    expect(zm_block_info(p, &info) == 0, "block_info knows a fresh block");
    zm_free(p);
    return info.zone_blocks;
}

/* Zone sizes, LARGE mappings, and empty zones going to the pool, then back
 * to the kernel. */
int test_zones(const struct test_options *o)
{
    static const size_t tops[] = {16,  32,  48,  64,  80,  96,  112, 128, 160, 192,
                                  224, 256, 320, 384, 448, 512, 640, 768, 896, 1024};
    struct zm_block_info info;
    struct zm_stats before, after, trimmed;
    size_t fewest = SIZE_MAX;
    struct mapping m;
    static void *blocks[4096];
    (void)o;

    for (int i = 0; i < 4096; i++) /* 4096 x 64 bytes: several 64 KiB zones */
        blocks[i] = zm_malloc(64);
    zm_get_stats(&before);
    for (int i = 0; i < 4096; i++)
        zm_free(blocks[i]);
    zm_flush_thread_cache();
    zm_get_stats(&after);
    zm_trim();
    zm_get_stats(&trimmed);
    fact_uint("zones_while_used", before.zones);
    fact_uint("zones_after_free", after.zones);
    fact_uint("zones_pooled", after.pooled_zones);
    fact_uint("zones_after_trim", trimmed.zones);
    fact_uint("zones_unmapped", trimmed.zones_unmapped - before.zones_unmapped);
    facts_end();

    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        size_t n = zone_blocks(tops[i]);
        fewest = n < fewest ? n : fewest;
    }
    fact_uint("tiny_zone_min_blocks", fewest);
    fact_uint("small_zone_blocks_of_largest", zone_blocks(131072));

    void *big = zm_malloc(40 << 20); /* above what the large cache keeps */
    expect(zm_block_info(big, &info) == 0 && strcmp(info.kind, "LARGE") == 0, "40 MiB is LARGE");
    fact_int("large_own_mapping", mapping_find(big, &m) && info.zone_bytes >= (40 << 20));
    zm_get_stats(&before);
    zm_free(big);
    zm_get_stats(&after);
    fact_int("large_unmapped_on_free", after.zones == before.zones - 1 && !mapping_find(big, &m));
    facts_end();
    return zm_check_heap() == 0 ? 0 : 1;
}

/* Two free SMALL neighbours become one block. */
int test_coalesce(const struct test_options *o)
{
    (void)o;
    void *a = zm_malloc(3000), *b = zm_malloc(3000), *c = zm_malloc(3000);
    struct zm_block_info info;

    expect(zm_block_info(a, &info) == 0 && info.neighbour == (uintptr_t)b, "b follows a");
    zm_free(a);
    zm_free(b);
    expect(zm_check_heap() == 0, "the heap is consistent after the merge");
    void *ab = zm_malloc(6000);
    fact_int("merged_block_reused", ab == a);
    expect(zm_block_info(ab, &info) == 0 && info.neighbour == (uintptr_t)c, "c follows a+b");
    facts_end();
    zm_free(ab);
    zm_free(c);
    return zm_check_heap() == 0 ? 0 : 1;
}

/* Three blocks, one of each kind (and a freed SMALL one), printed. */
static void show_three(void (*show)(void))
{
    char *tiny = zm_malloc(42), *freed = zm_malloc(3000), *small = zm_malloc(5000);
    char *large = zm_malloc(200000);

    memcpy(tiny, "zone malloc", 12);
    memset(small, 'S', 5000);
    zm_free(freed);
    fflush(stdout);
    show();
    zm_free(tiny);
    zm_free(small);
    zm_free(large);
}

int test_show(const struct test_options *o)
{
    (void)o;
    show_three(zm_show_alloc_mem);
    return 0;
}

int test_show_ex(const struct test_options *o)
{
    (void)o;
    show_three(zm_show_alloc_mem_ex);
    return 0;
}
