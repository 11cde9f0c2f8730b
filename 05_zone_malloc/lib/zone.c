/*
 * zone.c - zones: a fresh one for an arena (from the pool of empty ones,
 * or a new mapping aligned to its size), an empty one retired to the pool,
 * and the zone a pointer lies in.
 */
#include "zm_internal.h"

static void zone_link_locked(struct arena *a, struct zone *z)
{
    zm_assert_held(a);
    z->prev = NULL;
    z->next = a->zones;
    if (a->zones != NULL)
        a->zones->prev = z;
    a->zones = z;
}

static void zone_unlink_locked(struct arena *a, struct zone *z)
{
    zm_assert_held(a);
    if (z->prev != NULL)
        z->prev->next = z->next;
    else
        a->zones = z->next;
    if (z->next != NULL)
        z->next->prev = z->prev;
}

/*
 * A fresh TINY or SMALL zone for arena a: an empty one of its class from
 * the pool if there is one, or a new mapping aligned to its size.  Its header
 * is set; its blocks are the caller's business (tiny.c, small.c).  NULL
 * with ENOMEM if the kernel says no.  a->lock held.
 */
struct zone *zone_new_locked(struct arena *a, enum zone_kind kind, unsigned size_class)
{
    size_t bytes = kind == ZONE_TINY ? tiny_zone_bytes(size_class) : SMALL_ZONE_BYTES;
    struct zone_list doomed = {NULL, NULL};
    struct zone *z;

    zm_assert_held(a);
    global_lock();
    z = pool_take_locked(kind, size_class, &doomed);
    global_unlock();
    zones_unmap(&doomed);
    if (z == NULL) {
        z = os_map(bytes, bytes, 0);
        if (z == NULL)
            return NULL;
        z->size = bytes;
        global_lock();
        mapped_count_locked((int64_t)bytes, 1);
        global_unlock();
    }
    *z = (struct zone){
        .magic = ZONE_MAGIC,
        .kind = (uint8_t)kind,
        .size_class = (uint8_t)size_class,
        .size = bytes,
        .arena = a,
        .bump = (uintptr_t)z + ZONE_HEADER,
    };
    if (kind == ZONE_TINY)
        z->capacity = (uint32_t)((bytes - ZONE_HEADER) / tiny_stride(size_class));
    zone_link_locked(a, z);
    return z;
}

/*
 * An empty zone leaves its arena for the pool (zone_pool.c), where the
 * next zone of its size comes from, until decay or the pool's bound gives
 * it back to the kernel.  A SMALL zone keeps its addresses but not its
 * pages: it is mostly free space, and 16 MiB of it would stay resident.
 * a->lock held.
 */
void zone_retire_locked(struct arena *a, struct zone *z)
{
    struct zone_list doomed = {NULL, NULL};

    zm_assert(z->magic == ZONE_MAGIC && z->arena == a);
    zone_unlink_locked(a, z);
    z->arena = NULL;
    if (z->kind == ZONE_SMALL)
        os_release_pages((char *)z + zm.page, z->size - zm.page);
    global_lock();
    pool_put_locked(z, &doomed); /* from here on another thread may take it */
    global_unlock();
    zones_unmap(&doomed);
}

/* What p is, every lock held.  Reads only our own zone headers (and, for
 * SMALL, the headers of the blocks below p), never memory p points into. */
static enum zone_lookup zone_lookup_locked(uintptr_t p)
{
    zm_assert_global_held();
    for (unsigned i = 0; i < zm.arena_count; i++) {
        for (const struct zone *z = zm.arenas[i].zones; z != NULL; z = z->next) {
            uintptr_t first = (uintptr_t)z + ZONE_HEADER;
            if (p < first + BLOCK_HEADER || p >= (uintptr_t)z + z->size)
                continue;
            if (z->kind == ZONE_TINY) {
                size_t stride = tiny_stride(z->size_class);
                bool start = p - BLOCK_HEADER < z->bump && (p - BLOCK_HEADER - first) % stride == 0;
                return start ? LOOKUP_BLOCK : LOOKUP_NONE;
            }
            for (uintptr_t h = first; h < p; h += ((const struct block *)h)->size)
                if (h + BLOCK_HEADER == p)
                    return LOOKUP_BLOCK;
            return LOOKUP_NONE;
        }
    }
    for (const struct zone *z = zm.large; z != NULL; z = z->next)
        if (p == z->bump + BLOCK_HEADER)
            return LOOKUP_BLOCK;
    for (const struct zone *z = zm.large_cache.head; z != NULL; z = z->next)
        if (p == z->bump + BLOCK_HEADER)
            return LOOKUP_CACHED_LARGE;
    for (unsigned i = 0; i < POOL_LISTS; i++)
        for (const struct zone *z = zm.pool[i].head; z != NULL; z = z->next)
            if (p > (uintptr_t)z && p < (uintptr_t)z + z->size)
                return LOOKUP_EMPTY_ZONE;
    return LOOKUP_NONE;
}

enum zone_lookup zone_lookup(const void *ptr)
{
    enum zone_lookup found;

    zm_lock_all();
    found = zone_lookup_locked((uintptr_t)ptr);
    zm_unlock_all();
    return found;
}
