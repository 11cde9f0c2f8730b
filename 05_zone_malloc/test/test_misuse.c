/*
 * test_misuse.c - the debug options' fixed call sequence, and misuse the allocator
 * must diagnose in one line before abort().
 */
#include "cli.h"
#include "out.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <string.h>

/* A fixed sequence for the STATS, LOG and SCRIBBLE tests: 3 allocations,
 * 1 realloc, 3 frees. */
int test_debug_calls(const struct test_options *o)
{
    (void)o;
    unsigned char *p = zm_malloc(24), *q = zm_calloc(2, 8), *r = zm_malloc(5000);
    int fresh = p[0] == 0xAA && p[23] == 0xAA && r[4999] == 0xAA;

    p = zm_realloc(p, 100);
    zm_free(q);
    int freed = q[8] == 0x55 && q[15] == 0x55; /* the first word is a list link */
    zm_free(p);
    zm_free(r);
    fact_int("fresh_bytes_0xaa", fresh);
    fact_int("freed_bytes_0x55", freed);
    facts_end();
    return 0;
}

/* Misuse, each caught with a one-line diagnosis and abort(). */
int test_double_free_tiny(const struct test_options *o)
{
    (void)o;
    void *p = zm_malloc(32);
    zm_free(p);
    zm_free(p);
    return 1;
}

int test_double_free_small(const struct test_options *o)
{
    (void)o;
    void *p = zm_malloc(3000), *guard = zm_malloc(3000);
    zm_free(p);
    zm_free(p);
    zm_free(guard);
    return 1;
}

int test_double_free_large(const struct test_options *o)
{
    (void)o;
    void *p = zm_malloc(500000);
    zm_free(p);
    zm_trim();  /* the large cache gives the mapping back */
    zm_free(p); /* the mapping is gone: only ZONE_MALLOC_CHECK can tell */
    return 1;
}

int test_free_foreign(const struct test_options *o)
{
    static _Alignas(16) char buffer[256]; /* the program's own memory */
    (void)o;
    zm_free(zm_malloc(10));
    zm_free(buffer + 64);
    return 1;
}

int test_free_interior(const struct test_options *o)
{
    (void)o;
    char *p = zm_calloc(1, 256);
    zm_free(p + 64); /* a pointer into a block, not to it */
    return 1;
}

/* An overrun from one SMALL block into the next one's header. */
int test_overrun(const struct test_options *o)
{
    (void)o;
    char *p = zm_malloc(2000), *q = zm_malloc(2000);
    memset(p, 0, zm_malloc_usable_size(p) + 8);
    zm_free(zm_malloc(10)); /* ZONE_MALLOC_CHECK notices here */
    zm_free(q);             /* the cheap check, here */
    zm_free(p);
    return 1;
}

/*
 * An overrun of --bytes past the usable size of a TINY block: the first
 * bytes written land on the next block's header, its size and back (T4),
 * which every free checks - even one that goes to the thread cache.
 * glibc's free checks the next chunk's size; here the check is at the
 * neighbour's own free, where its header is read anyway.
 */
int test_overrun_tiny(const struct test_options *o)
{
    char *p = zm_malloc(24), *q = zm_malloc(24);
    struct zm_block_info info;

    if (p == NULL || q == NULL || zm_block_info(p, &info) != 0)
        die("zm_malloc(24) gave no live block");
    if ((uintptr_t)q != (uintptr_t)p + info.usable + 16)
        die("two fresh TINY blocks are not neighbours");
    memset(p, 0, info.usable + o->bytes);
    zm_free(zm_malloc(10)); /* ZONE_MALLOC_CHECK notices here */
    zm_free(p);
    zm_free(q); /* the cheap check, here */
    return 1;
}

/* A double free of a LARGE block whose mapping the large cache kept: its
 * header is still there, and says it is free. */
int test_double_free_cached_large(const struct test_options *o)
{
    (void)o;
    void *p = zm_malloc(500000);
    zm_free(p);
    zm_free(p);
    return 1;
}

/* The same above the cache's limit: the mapping is gone, and only
 * ZONE_MALLOC_CHECK can tell without touching it. */
int test_double_free_huge(const struct test_options *o)
{
    (void)o;
    void *p = zm_malloc(40 << 20);
    zm_free(p);
    zm_free(p);
    return 1;
}

/* A TINY zone's header overwritten (its magic): nothing on the way in sees
 * it - the free goes to the thread cache - but giving the block back to its
 * zone does, where the internal checks (-DASYM_ASSERT=1) are compiled in. */
int test_zone_corrupt(const struct test_options *o)
{
    struct zm_block_info info;
    (void)o;
    char *p = zm_malloc(24);
    if (p == NULL || zm_block_info(p, &info) != 0)
        die("zm_malloc(24) gave no live block");
    *(volatile uint32_t *)info.zone ^= 1; /* the zone's magic: its first word */
    zm_free(p);
    zm_flush_thread_cache();
    return 1;
}
