/*
 * large_cache.c - freed LARGE mappings kept for the next LARGE block.
 *
 * A LARGE block is a mapping of its own (large.c).  Unmapped at free, the
 * next one is a fresh mapping, and its first touch of every page is a page
 * fault in which the kernel finds and zeroes a page: for a program that
 * fills a 20 MiB buffer again and again, that is 5,120 faults each time,
 * and most of its time.  glibc avoids it by raising its mmap threshold, so
 * that such blocks come from its heap.  Here the freed mapping is kept,
 * its pages with it, and the next LARGE request takes it:
 *
 *   - the best fit: the smallest cached mapping that holds the request, if
 *     it is at most four times the request (the rest is usable size; its
 *     pages, resident from their last use, are the price of no faults);
 *   - else the largest smaller one, grown with mremap (its pages move with
 *     it; only the new tail faults), or a larger one split: the front
 *     serves the request, the rest stays in the cache as a mapping of its
 *     own, pages and all (shrinking it would give those pages back, and
 *     the next large block would fault them in again: bench's `large`
 *     took 41,000 page faults so, 25,000 split);
 *   - else a new mapping.
 *
 * Limits, after glibc's own for its dynamic threshold, so that a program
 * that frees a huge block gets its memory back at once:
 *   LARGE_CACHE_BLOCK_MAX (32 MiB)  a larger mapping is unmapped at free;
 *   LARGE_CACHE_BYTES (64 MiB) and LARGE_CACHE_SLOTS (8) for the cache as
 *   a whole: the mappings cached longest make room;
 *   decay: a mapping idle for ZONE_MALLOC_DECAY_MS is unmapped at the next
 *   LARGE call (and all of them by zm_trim / malloc_trim).
 * Cached mappings stay in the mapped totals (M1).  All of it is guarded by
 * zm.lock; the system calls happen outside it.
 */
#include "zm_internal.h"

enum { LARGE_REUSE_RATIO = 4 }; /* a cached mapping serves requests of a quarter of it or more */

static void cache_remove_locked(struct zone *z)
{
    zm_assert_global_held();
    zone_list_remove(&zm.large_cache, z);
    zm.large_cache_bytes -= z->size;
    zm.large_cache_count--;
}

/* The cached mapping to serve bytes with (see the top), off the cache;
 * NULL if there is none.  zm.lock held. */
static struct zone *cache_choose_locked(size_t bytes)
{
    struct zone *fit = NULL, *below = NULL;

    zm_assert_global_held();
    for (struct zone *z = zm.large_cache.head; z != NULL; z = z->next) {
        if (z->size >= bytes && (fit == NULL || z->size < fit->size))
            fit = z;
        if (z->size < bytes && (below == NULL || z->size > below->size))
            below = z;
    }
    struct zone *chosen =
        fit != NULL && (fit->size / LARGE_REUSE_RATIO <= bytes || below == NULL) ? fit : below;
    if (chosen != NULL)
        cache_remove_locked(chosen);
    return chosen;
}

/*
 * Cut z (off the cache, out of the totals, more than LARGE_REUSE_RATIO
 * times bytes) after its first bytes, and cache the rest as a freed LARGE
 * mapping of its own: a zone header and a LARGE_CACHED block header at its
 * start, as large_cache_put_locked expects.  The kernel needs to know
 * nothing: munmap and mremap take any page-aligned part of a mapping.
 */
static void cache_split(struct zone *z, size_t bytes)
{
    struct zone *rest = (struct zone *)((uintptr_t)z + bytes);
    struct block *b = (struct block *)((uintptr_t)rest + ZONE_HEADER);
    struct zone_list doomed = {NULL, NULL};

    *rest = (struct zone){
        .magic = ZONE_MAGIC, .kind = ZONE_LARGE, .size = z->size - bytes, .bump = (uintptr_t)b};
    *b = (struct block){.back = ZONE_HEADER, .size_class = NO_CLASS, .magic = BLOCK_MAGIC};
    z->size = bytes;
    global_lock();
    mapped_total_locked((int64_t)rest->size, 1); /* a zone now, without a system call */
    if (!large_cache_put_locked(rest, &doomed)) {
        mapped_count_locked(-(int64_t)rest->size, -1);
        zone_list_push(&doomed, rest);
    }
    global_unlock();
    zones_unmap(&doomed);
}

/*
 * A mapping for a LARGE block of bytes (a multiple of the page), from the
 * cache: at least bytes, at most four times, its header to be written by the
 * caller.  It is on no list and out of the mapped totals, as a new mapping
 * would be, until the caller links it under zm.lock (so that a fork in
 * between leaves a child whose heap still adds up).  NULL if the cache has
 * none (or the kernel refused to resize one).
 */
struct zone *large_cache_take(size_t bytes)
{
    struct zone_list doomed = {NULL, NULL};
    struct zone *z;

    global_lock();
    zone_list_take_idle_locked(&zm.large_cache, os_now_ms(), &doomed, &zm.large_cache_bytes,
                               &zm.large_cache_count);
    z = cache_choose_locked(bytes);
    if (z != NULL) {
        mapped_total_locked(-(int64_t)z->size, -1);
        zm.large_reused++;
    }
    global_unlock();
    zones_unmap(&doomed);
    if (z == NULL || (z->size >= bytes && z->size / LARGE_REUSE_RATIO <= bytes))
        return z;
    if (z->size > bytes) {
        cache_split(z, bytes);
        return z;
    }
    struct zone *moved = os_remap(z, z->size, bytes);
    if (moved == NULL) {
        os_unmap(z, z->size);
        global_lock();
        zm.zones_unmapped++;
        zm.large_reused--;
        global_unlock();
        return NULL;
    }
    moved->size = bytes;
    return moved;
}

/*
 * A freed LARGE zone, off zm.large: kept in the cache (true), or not
 * (false: the caller unmaps it and counts it gone).  The mappings that
 * decayed, or that make room for this one, move to doomed.  zm.lock held.
 */
bool large_cache_put_locked(struct zone *z, struct zone_list *doomed)
{
    uint64_t now = os_now_ms();

    zm_assert_global_held();
    zm_assert(z->magic == ZONE_MAGIC && z->kind == ZONE_LARGE);
    zone_list_take_idle_locked(&zm.large_cache, now, doomed, &zm.large_cache_bytes,
                               &zm.large_cache_count);
    if (z->size > LARGE_CACHE_BLOCK_MAX || zm.options.decay_ms == 0)
        return false;
    while (zm.large_cache.tail != NULL && (zm.large_cache_count == LARGE_CACHE_SLOTS ||
                                           zm.large_cache_bytes + z->size > LARGE_CACHE_BYTES)) {
        struct zone *old = zm.large_cache.tail;
        cache_remove_locked(old);
        mapped_count_locked(-(int64_t)old->size, -1);
        zone_list_push(doomed, old);
    }
    ((struct block *)z->bump)->state = LARGE_CACHED;
    z->idle_since_ms = now;
    zone_list_push(&zm.large_cache, z);
    zm.large_cache_bytes += z->size;
    zm.large_cache_count++;
    return true;
}

/* Every cached mapping to doomed (zm_trim).  zm.lock held. */
void large_cache_trim_locked(struct zone_list *doomed)
{
    zm_assert_global_held();
    while (zm.large_cache.tail != NULL) {
        struct zone *z = zm.large_cache.tail;
        cache_remove_locked(z);
        mapped_count_locked(-(int64_t)z->size, -1);
        zone_list_push(doomed, z);
    }
}
