/*
 * shalloc.c - alloc and free (layer 8): where to start reading.
 *
 * alloc: pop the process's cache list of the class (no lock, no atomic
 * read-modify-write: the cache is ours alone).  When it is empty, or this
 * process has no slot yet (first call, or first call after fork),
 * alloc_slow asks shalloc_cache.c to bind a slot and fill the cache.
 * free: push on our own cache list, whichever process allocated the block;
 * past a limit, free_slow gives half of it back to the region list.
 * Requests above 4096 bytes take a run of whole spans (shalloc_run.c):
 * up to 4 spans from the process's cache of runs, without a lock, when it
 * holds one of that length (shalloc_run_cache.c); else under the region
 * lock.  Their free puts the run in that cache if it has room, else gives
 * it back under the lock, merged with its free neighbours.  free tells a
 * run from a block by where the pointer is (a run's payload starts a
 * span; no block's does).
 *
 * The fast paths are the few lines of shalloc_alloc and shalloc_free;
 * everything else is out of line and cold (SHALLOC_COLD).  Layout and
 * invariants: shalloc_layout.h; the other layers: shalloc_internal.h.
 */
#include "shalloc_internal.h"

/* A cache's first link is not in the spans: the region is corrupt. */
static SHALLOC_COLD void *cache_corrupt(struct shalloc *h, const struct cache *k)
{
    shalloc_corrupt(h, "R5: a cache's link is out of range (not a block in the spans)",
                    offset_in(h, &k->head));
    return NULL;
}

/* Pop the first block of a non-empty cache and hand it out.  Only this
 * process writes its cache (it was empty when the slot was taken, and
 * every block on it came from a checked list, a fresh span or a checked
 * free), but the link is in the region, where a stray write (a program
 * writing past its block) can reach it: it must be inside the spans and
 * aligned before it is followed.  That costs one compare; the tag is
 * checked where lists are walked, and here with asserts. */
static inline void *take_block(struct shalloc *h, struct cache *k, unsigned cls)
{
    uint64_t off = k->head, rel = off - h->data_off;

    /* Rotated right by 4, a misaligned offset has high bits set, and one
     * below the spans wrapped around already. */
    if (unlikely((rel >> 4 | rel << 60) >= h->data_lines))
        return cache_corrupt(h, k);
    struct block *b = block_at(h, off);
    shalloc_assert(atomic_load_explicit(&b->tag, memory_order_relaxed) ==
                   make_tag(KIND_CACHED, cls, h->slot_no));
    k->head = b->next;
    k->count--;
    /* Killed before this store, the block is CACHED by a dead slot: reclaimed. */
    atomic_store_explicit(&b->tag, make_tag(KIND_USED, cls, h->slot_no), memory_order_relaxed);
    atomic_store_explicit(&b->owner, h->pid, memory_order_relaxed);
    count_op(&h->slot->allocs);
    return b + 1;
}

/* Push a block on our cache of its class.  Tag first: killed between the
 * two stores, the block is CACHED by a dead slot and is reclaimed; never
 * on a list and in use at once. */
static inline void put_block(struct shalloc *h, struct cache *k, struct block *b, unsigned cls)
{
    atomic_store_explicit(&b->tag, make_tag(KIND_CACHED, cls, h->slot_no), memory_order_relaxed);
    b->next = k->head;
    k->head = offset_in(h, b);
    k->count++;
    count_op(&h->slot->frees);
}

/* A run of n spans under the region lock, and while it is held a few more
 * of that length for our run cache; if the region has no run that long,
 * our own cached runs go back to it first (merged with their free
 * neighbours, they may make one), then it is asked again.  As
 * shalloc_alloc_run_locked. */
static int alloc_run_under_lock(struct shalloc *h, uint64_t n, uint64_t *span)
{
    if (shalloc_lock_region(h) != 0)
        return -1;
    int took = shalloc_alloc_run_locked(h, n, h->slot_no, span);
    if (took == 0 && h->slot->run_spans > 0)
        took = shalloc_flush_run_cache_locked(h) != 0
                   ? -1
                   : shalloc_alloc_run_locked(h, n, h->slot_no, span);
    if (took == 1 && shalloc_run_cache_refill_locked(h, n) < 0)
        took = -1; /* the run is ours; the region is corrupt (reported) */
    shalloc_unlock_region(h);
    return took;
}

/* A run of whole spans for a request above the largest class: from our
 * run cache, else under the lock. */
static SHALLOC_COLD void *alloc_run(struct shalloc *h, size_t size)
{
    uint64_t spans = size / SHALLOC_SPAN_BYTES + (size % SHALLOC_SPAN_BYTES != 0), span;

    if (size > h->data_end - h->data_off) {
        set_error(h, ENOMEM, "request larger than the region's spans");
        return NULL;
    }
    int took = shalloc_run_cache_take(h, spans, &span);
    if (took == 0)
        took = alloc_run_under_lock(h, spans, &span);
    if (took == 0)
        set_error(h, ENOMEM, "region full: no free run of spans that long");
    if (took != 1)
        return NULL;
    count_op(&h->slot->allocs);
    return at_offset(h, span_offset(h, span));
}

/* Slow path of shalloc_alloc: a request above the largest class, no slot
 * yet (or a fork happened), or the cache of the class is empty. */
static SHALLOC_COLD void *alloc_slow(struct shalloc *h, size_t size)
{
    if (!slot_current(h) && !shalloc_bind_slot(h))
        return NULL;
    if (size > SHALLOC_MAX_SMALL)
        return alloc_run(h, size);
    unsigned cls = class_of(size);
    shalloc_assert(cls < SHALLOC_CLASSES && shalloc_class_bytes[cls] >= (size ? size : 1));
    struct cache *k = &h->slot->cache[cls];
    int filled = k->head != 0 ? 1 : shalloc_fill_cache(h, cls);
    if (filled == 0)
        set_error(h, ENOMEM, "region full: no free block of this size class and no free span");
    if (filled != 1)
        return NULL;
    void *p = take_block(h, k, cls);
    if (p != NULL && k->count > h->cache_max[cls]) /* a fresh span overfilled it (or no cache) */
        shalloc_trim_cache(h, cls, h->cache_max[cls] / 2);
    return p;
}

void *shalloc_alloc(struct shalloc *h, size_t size)
{
    if (unlikely(size > SHALLOC_MAX_SMALL || !slot_current(h)))
        return alloc_slow(h, size);
    unsigned cls = class_of(size);
    struct cache *k = &h->slot->cache[cls];
    if (unlikely(k->head == 0))
        return alloc_slow(h, size);
    return take_block(h, k, cls);
}

/* Slow path of shalloc_free: bind a slot first, or flush an overfull cache. */
static SHALLOC_COLD void free_slow(struct shalloc *h, struct block *b, unsigned cls)
{
    if (!slot_current(h) && !shalloc_bind_slot(h)) {
        if (shalloc_lock_region(h) != 0)
            return; /* a corrupt region: the block stays in use (the error says why) */
        shalloc_push_free_locked(h, offset_in(h, b), cls); /* no slot: to the region list */
        shalloc_unlock_region(h);
        return;
    }
    struct cache *k = &h->slot->cache[cls];
    put_block(h, k, b, cls);
    if (k->count > h->cache_max[cls])
        shalloc_trim_cache(h, cls, h->cache_max[cls] / 2);
}

/* Free a run: p starts a span; is it a run in use?  Into our run cache if
 * we hold a slot and it has room; else, under the lock, into it after half
 * of every list went back to the region (a full cache), or back to the
 * region itself (too long, or no run cache). */
static SHALLOC_COLD void free_run(struct shalloc *h, void *p)
{
    uint64_t span = shalloc_live_run(h, p), n = word_spans(span_load(h, span));
    bool ours = slot_current(h); /* we hold a slot: we may cache it */

    if (ours && shalloc_run_cache_put(h, span, n)) {
        count_op(&h->slot->frees);
        return;
    }
    if (shalloc_lock_region(h) != 0)
        return; /* a corrupt region: the run stays in use (the error says why) */
    int done = ours ? shalloc_run_cache_put_locked(h, span, n) : 0; /* 1: cached; -1: corrupt */
    if (done == 0)
        done = shalloc_free_run_locked(h, span) == 0 ? 1 : -1;
    shalloc_unlock_region(h);
    if (done == 1 && ours)
        count_op(&h->slot->frees);
}

void shalloc_free(struct shalloc *h, void *p)
{
    uint32_t tag;

    if (p == NULL)
        return;
    uint64_t rel = payload_rel(h, p);
    if (unlikely(starts_span(rel))) {
        free_run(h, p);
        return;
    }
    struct block *b = shalloc_live_block(h, p, rel, &tag);
    unsigned cls = tag_class(tag);
    if (unlikely(!slot_current(h))) {
        free_slow(h, b, cls);
        return;
    }
    struct cache *k = &h->slot->cache[cls];
    if (unlikely(k->count >= h->cache_max[cls])) {
        free_slow(h, b, cls);
        return;
    }
    put_block(h, k, b, cls);
}

size_t shalloc_block_size(const struct shalloc *h, const void *block)
{
    uint32_t tag;
    uint64_t rel = payload_rel(h, block);

    if (starts_span(rel))
        return (size_t)word_spans(span_load(h, shalloc_live_run(h, block))) * SHALLOC_SPAN_BYTES;
    shalloc_live_block(h, block, rel, &tag);
    return shalloc_class_bytes[tag_class(tag)];
}

/* ---- caches and the lock, for programs --------------------------------- */

void shalloc_set_cache_off(struct shalloc *h, bool off)
{
    shalloc_set_cache_limits(h, off);
    shalloc_flush(h);
}

int shalloc_lock(struct shalloc *h)
{
    return shalloc_lock_region(h);
}

void shalloc_unlock(struct shalloc *h)
{
    shalloc_unlock_region(h);
}

int shalloc_recover(struct shalloc *h)
{
    if (shalloc_lock_region(h) != 0)
        return -1;
    unsigned n = shalloc_reclaim_dead_slots_locked(h);
    shalloc_unlock_region(h);
    return (int)n;
}
