/*
 * shalloc_run_cache.c - a process's cache of runs (layer 7): blocks of
 * 4097 bytes to 64 KiB without the region lock.
 *
 * A run freed by a process that holds a slot, if it is 1 to
 * RUN_CACHE_LENGTHS spans long and the slot's run cache has room, is not
 * merged into the free runs: it stays whole, CACHED by the slot, on the
 * slot's list of runs of its length, and the next request of that length
 * from the same process takes it back.  Both moves are a few stores that
 * only the slot's owner makes, so neither takes the region lock; the lock
 * holder, merging or splitting free runs next to a cached one, reads its
 * word as "not free" whether it says CACHED or USED.
 *
 * Crash safety, as for blocks: the run's word is the truth, the list only
 * a way for the owner to find its runs fast.  Freeing, the word becomes
 * CACHED before the run joins the list; taking, the run leaves the list
 * before its word becomes USED.  A process killed between the two stores
 * leaves a run CACHED by a dead slot that is on no list, or on a list it
 * is about to leave: the reclaim of the slot (shalloc_repair.c) finds such
 * runs by their words, not by the lists, and frees them.
 *
 * A cache is bounded (RUN_CACHE_PER_LENGTH runs of a length, the handle's
 * run_cache_spans in all) so that memory held for one process cannot
 * starve the others; a request the region cannot meet gives the cache
 * back to the free runs first and tries again (shalloc.c).
 */
#include "shalloc_internal.h"

/* The most spans of runs a process may cache in this region. */
uint32_t shalloc_run_cache_limit(const struct shalloc *h)
{
    uint64_t share = span_count(h) / RUN_CACHE_REGION_SHARE;

    return h->caches_off                  ? 0
           : share < RUN_CACHE_MOST_SPANS ? (uint32_t)share
                                          : RUN_CACHE_MOST_SPANS;
}

/* The list of runs of n spans in our slot (1 <= n <= RUN_CACHE_LENGTHS). */
static struct cache *run_list(struct shalloc *h, uint64_t n)
{
    return &h->slot->runs[n - 1];
}

/* Is off the first span of a claimed run whose word is want?  The link of
 * a list is read from the region: checked before it is followed. */
static bool cached_run_at(const struct shalloc *h, uint64_t off, uint64_t want)
{
    uint64_t rel = off - h->data_off;

    return off >= h->data_off && off < h->data_end && rel % SHALLOC_SPAN_BYTES == 0 &&
           span_of(h, off) < spans_claimed(h) && span_load(h, span_of(h, off)) == want;
}

/* Link the run of n spans at span, its word CACHED by us already, at the
 * head of our list of that length. */
static void push_run(struct shalloc *h, uint64_t span, uint64_t n)
{
    struct cache *k = run_list(h, n);

    *(uint64_t *)at_offset(h, span_offset(h, span)) = k->head;
    k->head = span_offset(h, span);
    k->count++;
    h->slot->run_spans += (uint32_t)n;
}

/* Unlink the first run of our list of runs of n spans, checked first.  1
 * and *span (its word still CACHED by us); 0: the list is empty; -1:
 * corrupt (reported). */
static int pop_run(struct shalloc *h, uint64_t n, uint64_t *span)
{
    struct cache *k = run_list(h, n);
    uint64_t off = k->head;

    if (off == 0 && k->count == 0)
        return 0;
    if (off == 0 || k->count == 0)
        return shalloc_corrupt(h, "R9: a run cache's length differs from its count",
                               offset_in(h, &k->count));
    if (!cached_run_at(h, off, run_word(KIND_CACHED, h->slot_no, n)))
        return shalloc_corrupt(h, "R9: a run cache's link is not a run it caches",
                               offset_in(h, &k->head));
    k->head = *(const uint64_t *)at_offset(h, off);
    k->count--;
    h->slot->run_spans -= (uint32_t)n;
    *span = span_of(h, off);
    return 1;
}

int shalloc_run_cache_take(struct shalloc *h, uint64_t n, uint64_t *span)
{
    if (n > RUN_CACHE_LENGTHS)
        return 0;
    int took = pop_run(h, n, span);
    if (took == 1) /* killed before this store, the run is CACHED by a dead slot: reclaimed */
        atomic_store_explicit(&span_table(h)[*span], run_word(KIND_USED, h->slot_no, n),
                              memory_order_release);
    return took;
}

bool shalloc_run_cache_put(struct shalloc *h, uint64_t span, uint64_t n)
{
    if (n > RUN_CACHE_LENGTHS || run_list(h, n)->count >= RUN_CACHE_PER_LENGTH ||
        h->slot->run_spans + n > h->run_cache_spans)
        return false;
    /* The word first: killed after it, the run is CACHED by a dead slot and
     * on no list, and the reclaim finds it by its word. */
    atomic_store_explicit(&span_table(h)[span], run_word(KIND_CACHED, h->slot_no, n),
                          memory_order_release);
    push_run(h, span, n);
    return true;
}

int shalloc_run_cache_refill_locked(struct shalloc *h, uint64_t n)
{
    int added = 0;
    uint64_t span;

    shalloc_assert(shalloc_region_lock_held(h));
    if (n > RUN_CACHE_LENGTHS)
        return 0;
    while (added < RUN_CACHE_REFILL - 1 && run_list(h, n)->count < RUN_CACHE_PER_LENGTH / 2 &&
           h->slot->run_spans + n <= h->run_cache_spans) {
        /* Born CACHED: killed before it is on the list, it is reclaimed. */
        int took = shalloc_take_spans_locked(h, n, run_word(KIND_CACHED, h->slot_no, n), &span);
        if (took != 1)
            return took < 0 ? -1 : added;
        push_run(h, span, n);
        added++;
    }
    return added;
}

int shalloc_run_cache_trim_locked(struct shalloc *h, uint64_t n, uint32_t keep)
{
    uint64_t span;

    shalloc_assert(shalloc_region_lock_held(h));
    while (run_list(h, n)->count > keep) {
        int popped = pop_run(h, n, &span);
        if (popped <= 0)
            return popped;
        /* Killed here, the run is CACHED by a dead slot: reclaimed. */
        if (shalloc_free_run_locked(h, span) != 0)
            return -1;
    }
    return 0;
}

/* Every list of our run cache down to a share of what it holds:
 * keep_half true, half of it; else nothing. */
static int trim_all_locked(struct shalloc *h, bool keep_half)
{
    for (uint64_t n = 1; n <= RUN_CACHE_LENGTHS; n++)
        if (shalloc_run_cache_trim_locked(h, n, keep_half ? run_list(h, n)->count / 2 : 0) != 0)
            return -1;
    return 0;
}

int shalloc_flush_run_cache_locked(struct shalloc *h)
{
    return trim_all_locked(h, false);
}

int shalloc_run_cache_put_locked(struct shalloc *h, uint64_t span, uint64_t n)
{
    shalloc_assert(shalloc_region_lock_held(h));
    if (n > RUN_CACHE_LENGTHS || h->run_cache_spans == 0)
        return 0;
    if (trim_all_locked(h, true) != 0)
        return -1;
    return shalloc_run_cache_put(h, span, n) ? 1 : 0;
}
