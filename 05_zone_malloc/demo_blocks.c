/*
 * demo_blocks.c - lesson 05's demo, the blocks: the first allocation maps
 * a zone, one block of each kind, show_alloc_mem, what a thread's first
 * blocks cost, a freed block coming straight back, free neighbours
 * merging, realloc in place or moved.
 */
#include "cli.h"
#include "demo.h"
#include "out.h"
#include "procfs.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum { CLASSES = 36, SMALL_CACHE_MAX = 16384 };

static void print_block(const char *label, const void *p)
{
    struct zm_block_info i = info_of(p);

    printf("%-14s %p  %-5s zone %#lx (%zu KiB, %zu blocks), %zu usable bytes\n", label, p, i.kind,
           (unsigned long)i.zone, i.zone_bytes >> 10, i.zone_blocks, i.usable);
    fact_uint("request_bytes", i.request);
    fact_word("kind", i.kind);
    fact_uint("usable_bytes", i.usable);
    fact_hex("zone", i.zone);
    fact_uint("zone_bytes", i.zone_bytes);
    fact_uint("zone_blocks", i.zone_blocks);
    facts_end();
}

/* One block of every size class a thread cache keeps: each class has zones
 * of its own, so a thread's first blocks cost a page or two per class. */
static void show_first_blocks(void)
{
    static const size_t sizes[CLASSES] = {
        16,   32,   48,   64,   80,   96,   112,  128,  160,   192,   224,   256,
        320,  384,  448,  512,  640,  768,  896,  1024, 1280,  1536,  1792,  2048,
        2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
    };
    void *blocks[CLASSES];
    uint64_t before = rss_kib();
    size_t total = 0;

    for (int i = 0; i < CLASSES; i++) {
        blocks[i] = must_alloc(sizes[i]);
        total += sizes[i];
    }
    uint64_t grown = rss_kib() - before;
    printf("\none block of each of the %d size classes a thread cache keeps (16..%d bytes,\n"
           "%zu bytes in all) made the resident set grow by %llu KiB: each class has zones\n"
           "of its own, and a thread's first refill of a class is about a page of blocks.\n",
           CLASSES, SMALL_CACHE_MAX, total, (unsigned long long)grown);
    fact_uint("classes", CLASSES);
    fact_uint("first_blocks_rss_kib", grown);
    facts_end();
    for (int i = 0; i < CLASSES; i++)
        zm_free(blocks[i]);
}

/* The first allocation maps a zone; then one block of each kind, and the
 * allocator's own picture of the heap. */
void show_zones(void)
{
    struct zm_stats before = stats_now(), after;
    struct mapping m;

    heading("zones: the first TINY allocation maps a zone");
    char *first = must_alloc(42);
    after = stats_now();
    struct zm_block_info i = info_of(first);
    int in_maps = mapping_find((void *)i.zone, &m);
    printf("zm_malloc(42) = %p; zones %llu -> %llu; the new zone is %zu KiB at %#lx,\n"
           "aligned to its size, so any block finds it by rounding its address down.\n"
           "/proc/self/maps has it (the kernel may merge it with a neighbouring mapping):\n"
           "    %s\n",
           (void *)first, (unsigned long long)before.zones, (unsigned long long)after.zones,
           i.zone_bytes >> 10, (unsigned long)i.zone, in_maps ? m.line : "(not found)");
    fact_uint("zones_before", before.zones);
    fact_uint("zones_after", after.zones);
    fact_hex("zone", i.zone);
    fact_uint("zone_bytes", i.zone_bytes);
    fact_int("zone_aligned", i.zone % i.zone_bytes == 0);
    fact_int("zone_in_maps", in_maps);
    facts_end();

    subheading("one block of each kind");
    char *small = must_alloc(5000), *large = must_alloc(200000);
    print_block("zm_malloc(42)", first);
    print_block("zm_malloc(5000)", small);
    print_block("zm_malloc(200000)", large);
    printf("\nshow_alloc_mem():\n");
    fflush(stdout); /* it writes with write(2), after what stdio holds */
    zm_show_alloc_mem();
    show_first_blocks();
    zm_free(first);
    zm_free(small);
    zm_free(large);
}

void show_reuse(void)
{
    heading("reuse: a freed block is the next one handed out");
    void *p = must_alloc(100);
    zm_free(p);
    void *q = must_alloc(100);
    void *s = must_alloc(5000);
    zm_free(s);
    void *t = must_alloc(5000);
    printf("zm_malloc(100) = %p, zm_free, zm_malloc(100) = %p: %s\n"
           "zm_malloc(5000) = %p, zm_free, zm_malloc(5000) = %p: %s\n"
           "A freed block goes on this thread's cache for its size class - TINY ones and\n"
           "SMALL ones up to %d bytes - and the next request of that class takes it\n"
           "back: no lock, no search.\n",
           p, q, p == q ? "the same block" : "another block", s, t,
           s == t ? "the same block" : "another block", SMALL_CACHE_MAX);
    fact_hex("first", (uintptr_t)p);
    fact_hex("again", (uintptr_t)q);
    fact_int("same_block", p == q);
    fact_int("small_same_block", s == t);
    facts_end();
    zm_free(q);
    zm_free(t);
}

/* Blocks above the cached sizes go straight back to their zone, so the
 * merge shows at once (a cached one merges when its cache gives it back). */
void show_coalesce(void)
{
    enum { BLOCK = 20000 };

    heading("coalesce: two free SMALL neighbours become one block");
    char *a = must_alloc(BLOCK), *b = must_alloc(BLOCK), *c = must_alloc(BLOCK);
    struct zm_block_info ia = info_of(a);
    printf("a, b, c: three blocks of %d bytes (above the %d a thread cache keeps)\n"
           "a = %p, b = %p, c = %p: b starts where a ends (a's neighbour is %#lx)\n",
           BLOCK, SMALL_CACHE_MAX, (void *)a, (void *)b, (void *)c, (unsigned long)ia.neighbour);
    zm_free(a);
    zm_free(b); /* b's left neighbour a is free: they merge at once */
    char *ab = must_alloc(2 * BLOCK);
    printf("free(a), free(b), then zm_malloc(%d) = %p: %s\n", 2 * BLOCK, (void *)ab,
           ab == a ? "the merged a+b block, where a was" : "somewhere else");
    fact_int("b_follows_a", ia.neighbour == (uintptr_t)b);
    fact_int("merged_is_first", ab == a);
    fact_int("check_problems", zm_check_heap());
    facts_end();
    zm_free(ab);
    zm_free(c);
}

static void realloc_step(const char *what, size_t from, size_t to, size_t guard)
{
    char *p = must_alloc(from), *g = guard ? must_alloc(guard) : NULL;
    char *q = must_realloc(p, to);
    int kept = q[0] == 'z' && q[(from < to ? from : to) - 1] == 'z';
    bool remapped = from > 131072 && to > 131072; /* LARGE to LARGE: mremap */
    printf("%-34s %7zu -> %7zu bytes: %p -> %p  %s\n", what, from, to, (void *)p, (void *)q,
           q == p     ? "in place"
           : remapped ? "moved by mremap (pages, not bytes)"
                      : "moved, bytes copied");
    fact_word("realloc", what[0] == 'T' ? "tiny" : what[0] == 'S' ? "small" : "large");
    fact_uint("from_bytes", from);
    fact_uint("to_bytes", to);
    fact_int("in_place", q == p);
    fact_int("contents_kept", kept);
    facts_end();
    zm_free(q);
    zm_free(g);
}

/* The SMALL steps use sizes above the cached ones: a block from a thread
 * cache usually has a neighbour in use (or cached), and cannot grow. */
void show_realloc(void)
{
    heading("realloc: in place when the space is there, moved otherwise");
    realloc_step("TINY, same size class", 40, 48, 0);
    realloc_step("SMALL, free space after it", 20000, 40000, 0);
    realloc_step("SMALL, a block right after it", 20000, 60000, 20000);
    realloc_step("SMALL, shrink (the tail is freed)", 60000, 20000, 0);
    realloc_step("LARGE, grow (mremap)", 200000, 4000000, 0);
    realloc_step("LARGE to SMALL", 200000, 10000, 0);
}
