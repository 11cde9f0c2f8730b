/*
 * show_alloc_mem.c - the heap as text, in the classic form:
 *
 *   TINY : 0x7f1c2a410000
 *   0x7f1c2a410090 - 0x7f1c2a4100ba : 42 bytes
 *   SMALL : 0x7f1c29000000
 *   0x7f1c29000090 - 0x7f1c290007d0 : 1856 bytes
 *   LARGE : 0x7f1c2a3d0000
 *   0x7f1c2a3d0090 - 0x7f1c2a400d30 : 200000 bytes
 *   Total : 201898 bytes
 *
 * Zones in address order, then each block in use (what the caller asked
 * for: start - end : size), then the sum.  Blocks freed into a thread cache
 * are free to the caller, so they are not listed.  The _ex variant adds a
 * hex dump of each block, the free and cached blocks, the pool's empty
 * zones and the large cache's mappings.
 *
 * Also zm_block_info, for the lesson's demo: which zone a block is in.
 */
#include "zm_internal.h"

#include <unistd.h>

enum { DUMP_BYTES = 64 }; /* the _ex dump shows at most this much of a block */

static const char *kind_name(const struct zone *z)
{
    return z->kind == ZONE_TINY ? "TINY" : z->kind == ZONE_SMALL ? "SMALL" : "LARGE";
}

static void consider(const struct zone *z, uintptr_t after, const struct zone **best)
{
    if ((uintptr_t)z > after && (*best == NULL || (uintptr_t)z < (uintptr_t)*best))
        *best = z;
}

/* The zone with the lowest address above after, or NULL.  Quadratic in the
 * number of zones, which is fine for a debugging aid. */
static const struct zone *zone_after(uintptr_t after, bool with_unused)
{
    const struct zone *best = NULL;

    for (unsigned i = 0; i < zm.arena_count; i++)
        for (const struct zone *z = zm.arenas[i].zones; z != NULL; z = z->next)
            consider(z, after, &best);
    for (const struct zone *z = zm.large; z != NULL; z = z->next)
        consider(z, after, &best);
    for (unsigned i = 0; with_unused && i < POOL_LISTS; i++)
        for (const struct zone *z = zm.pool[i].head; z != NULL; z = z->next)
            consider(z, after, &best);
    for (const struct zone *z = zm.large_cache.head; with_unused && z != NULL; z = z->next)
        consider(z, after, &best);
    return best;
}

static void dump_bytes(struct text *t, const unsigned char *p, size_t n)
{
    for (size_t row = 0; row < n && row < DUMP_BYTES; row += 16) {
        text_str(t, "    ");
        text_hex(t, (uintptr_t)(p + row));
        text_str(t, ":");
        for (size_t i = row; i < row + 16 && i < n; i++) {
            text_str(t, " ");
            text_byte(t, p[i]);
        }
        text_str(t, "\n");
    }
    if (n > DUMP_BYTES) {
        text_str(t, "    ... ");
        text_uint(t, n - DUMP_BYTES);
        text_str(t, " more bytes\n");
    }
}

static void show_range(struct text *t, uintptr_t start, size_t bytes, const char *what)
{
    text_hex(t, start);
    text_str(t, " - ");
    text_hex(t, start + bytes);
    text_str(t, " : ");
    text_str(t, what);
    text_uint(t, bytes);
    text_str(t, " bytes\n");
}

static uint64_t show_block(struct text *t, const struct block *b, bool ex)
{
    size_t request = block_request(b);

    show_range(t, (uintptr_t)user_of(b), request, "");
    if (ex)
        dump_bytes(t, user_of(b), request);
    return request;
}

static uint64_t show_tiny(struct text *t, const struct zone *z, bool ex)
{
    size_t stride = tiny_stride(z->size_class);
    uint64_t total = 0, cached = 0, free_blocks = 0;

    for (uintptr_t h = (uintptr_t)z + ZONE_HEADER; h < z->bump; h += stride) {
        const struct block *b = (const struct block *)h;
        if (b->state == TINY_USED)
            total += show_block(t, b, ex);
        cached += b->state == TINY_CACHED;
        free_blocks += b->state == TINY_FREE;
    }
    if (ex) {
        text_str(t, "  free: ");
        text_uint(t, free_blocks);
        text_str(t, " on the zone's list, ");
        text_uint(t, cached);
        text_str(t, " in thread caches or remote lists, ");
        text_uint(t, z->capacity - z->used - free_blocks);
        text_str(t, " never used\n");
    }
    return total;
}

static uint64_t show_small(struct text *t, const struct zone *z, bool ex)
{
    uintptr_t end = (uintptr_t)z + z->size;
    uint64_t total = 0;

    for (uintptr_t h = (uintptr_t)z + ZONE_HEADER; h < end;) {
        const struct block *b = (const struct block *)h;
        if (b->state == SMALL_USED)
            total += show_block(t, b, ex);
        else if (ex)
            show_range(t, (uintptr_t)user_of(b), b->size - BLOCK_HEADER,
                       b->state == SMALL_CACHED ? "cached, " : "free, ");
        h += b->size;
    }
    return total;
}

static void show_heap(bool ex)
{
    struct text t = {.fd = STDOUT_FILENO};
    uint64_t total = 0;

    zm_lock_all();
    for (const struct zone *z = zone_after(0, ex); z != NULL; z = zone_after((uintptr_t)z, ex)) {
        text_str(&t, kind_name(z));
        text_str(&t, " : ");
        text_hex(&t, (uintptr_t)z);
        if (z->magic == ZONE_MAGIC && z->kind != ZONE_LARGE && z->arena == NULL) {
            text_str(&t, " (empty: in the pool, for the next zone of its size)\n");
            continue;
        }
        if (z->kind == ZONE_LARGE && ((const struct block *)z->bump)->state == LARGE_CACHED) {
            text_str(&t, " (freed: in the large cache, for the next LARGE block)\n");
            continue;
        }
        text_str(&t, "\n");
        if (z->kind == ZONE_TINY)
            total += show_tiny(&t, z, ex);
        else if (z->kind == ZONE_SMALL)
            total += show_small(&t, z, ex);
        else
            total += show_block(&t, (const struct block *)z->bump, ex);
    }
    zm_unlock_all();
    text_str(&t, "Total : ");
    text_uint(&t, total);
    text_str(&t, " bytes\n");
    text_flush(&t);
}

void zm_show_alloc_mem(void)
{
    show_heap(false);
}

void zm_show_alloc_mem_ex(void)
{
    show_heap(true);
}

/* For the lesson's demo: where a live block is, and what is around it. */
int zm_block_info(const void *ptr, struct zm_block_info *out)
{
    const struct block *b = block_of(ptr);
    const struct zone *z;

    if (ptr == NULL || ((uintptr_t)ptr & (ALIGNMENT - 1)) != 0 || zone_lookup(ptr) != LOOKUP_BLOCK)
        return -1;
    switch (b->state) {
    case TINY_USED: z = zone_of_tiny(b); break;
    case SMALL_USED: z = zone_of_small(b); break;
    case LARGE_USED: z = zone_of_large(b); break;
    default: return -1;
    }
    *out = (struct zm_block_info){
        .kind = z->kind == ZONE_TINY    ? "TINY"
                : z->kind == ZONE_SMALL ? "SMALL"
                                        : "LARGE",
        .zone = (uintptr_t)z,
        .zone_bytes = z->size,
        .zone_blocks = z->kind == ZONE_TINY ? z->capacity
                       : z->kind == ZONE_SMALL
                           ? (z->size - ZONE_HEADER) / small_block_bytes(SMALL_MAX)
                           : 1,
        .usable = block_usable(b),
        .request = block_request(b),
    };
    if (b->state == SMALL_USED) {
        const struct block *next = small_next_block(b);
        out->neighbour = next == NULL ? 0 : (uintptr_t)user_of(next);
    }
    return 0;
}
