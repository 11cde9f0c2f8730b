/*
 * zone.c - zones: a fresh one for an arena (the spare of its class, or a
 * new mapping aligned to its size), an empty one retired, the count of
 * what is mapped, and the zone a pointer lies in.
 */
#include "zm_internal.h"

/* The totals of M1 follow zones that join (positive) or leave (negative)
 * the lists.  zm.lock held. */
void mapped_total_locked(int64_t bytes, int zones)
{
    zm_assert_global_held();
    zm.mapped_bytes += (uint64_t)bytes;
    zm.zones += (uint64_t)(int64_t)zones;
    if (zm.mapped_bytes > zm.peak_mapped_bytes)
        zm.peak_mapped_bytes = zm.mapped_bytes;
    if (zm.zones > zm.peak_zones)
        zm.peak_zones = zm.zones;
}

/* A zone mapped (zones 1) or unmapped (-1) by a system call, or a mapping
 * resized (0): the totals, and the calls counted.  zm.lock held. */
void mapped_count_locked(int64_t bytes, int zones)
{
    mapped_total_locked(bytes, zones);
    if (zones > 0)
        zm.zones_mapped++;
    if (zones < 0)
        zm.zones_unmapped++;
}

static unsigned spare_slot(enum zone_kind kind, unsigned size_class)
{
    return kind == ZONE_TINY ? size_class : TINY_CLASSES;
}

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
 * A fresh TINY or SMALL zone for arena a: the spare of its class if there
 * is one, or a new mapping aligned to its size.  Its header is set; its
 * blocks are the caller's business (tiny.c, small.c).  NULL with ENOMEM if
 * the kernel says no.  a->lock held.
 */
struct zone *zone_new_locked(struct arena *a, enum zone_kind kind, unsigned size_class)
{
    size_t bytes = kind == ZONE_TINY ? tiny_zone_bytes(size_class) : SMALL_ZONE_BYTES;
    unsigned slot = spare_slot(kind, size_class);
    struct zone *z;

    zm_assert_held(a);
    global_lock();
    z = zm.spare[slot];
    zm.spare[slot] = NULL;
    global_unlock();
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
 * An empty zone leaves its arena: it becomes the spare of its class if
 * that slot is free (so a malloc/free loop at a zone's edge does not mmap
 * and munmap every time), or goes back to the kernel.  a->lock held.
 */
void zone_retire_locked(struct arena *a, struct zone *z)
{
    unsigned slot = spare_slot((enum zone_kind)z->kind, z->size_class);
    bool keep;

    zm_assert(z->magic == ZONE_MAGIC && z->arena == a);
    zone_unlink_locked(a, z);
    z->arena = NULL;
    if (z->kind == ZONE_SMALL) /* if kept, it keeps its addresses but not its pages */
        os_release_pages((char *)z + zm.page, z->size - zm.page);
    global_lock();
    keep = zm.spare[slot] == NULL;
    if (keep)
        zm.spare[slot] = z; /* from here on another thread may take it */
    else
        mapped_count_locked(-(int64_t)z->size, -1);
    global_unlock();
    if (!keep)
        os_unmap(z, z->size);
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
    for (unsigned i = 0; i <= TINY_CLASSES; i++) {
        const struct zone *z = zm.spare[i];
        if (z != NULL && p > (uintptr_t)z && p < (uintptr_t)z + z->size)
            return LOOKUP_EMPTY_ZONE;
    }
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
