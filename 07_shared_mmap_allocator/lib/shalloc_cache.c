/*
 * shalloc_cache.c - a process's slot and its caches (layer 6): everything
 * that moves blocks between a cache and the rest of the region.
 *
 * A process allocates through a slot it holds for as long as it lives (the
 * slot's robust mutex: if the process is killed, the kernel releases it
 * marked "owner died").  The slot holds one cache per class, a list of free
 * blocks that only its owner touches, so the fast paths of shalloc.c need
 * no lock.  Here are the slow ones: binding a slot (at first use, and in a
 * child after fork), filling an empty cache from the region list or a new
 * span (taken, under the region lock, from the free runs or the wilderness
 * by shalloc_run.c), and giving blocks back when a cache grows past its
 * limit or the process leaves.
 *
 * Crash safety comes from the order of stores: a block's tag is written
 * before the links that move it, so a process killed in between leaves a
 * block whose tag is the truth, and shalloc_repair.c rebuilds from tags.
 */
#include "shalloc_internal.h"

#include <string.h>
#include <unistd.h>

uint64_t shalloc_fork_epoch = 1;

/* The library's process-local state: nothing about any region. */
static struct {
    pthread_once_t once;                 /* registers the fork handler */
    uint32_t cache_max[SHALLOC_CLASSES]; /* default cache limits per class */
} lib = {PTHREAD_ONCE_INIT, {0}};

static void on_fork_child(void)
{
    shalloc_fork_epoch++; /* every handle's slot now belongs to the parent */
}

static void init_library(void)
{
    if (pthread_atfork(NULL, NULL, on_fork_child) != 0)
        shalloc_panic("cannot register a fork handler (pthread_atfork)", NULL);
    /* A cache holds up to two spans' worth of a class before it gives half
     * back: enough that a steady mix of allocs and frees never locks. */
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        lib.cache_max[c] = 2 * blocks_per_span(c);
}

void shalloc_init_handle(struct shalloc *h)
{
    pthread_once(&lib.once, init_library);
    memset(h, 0, sizeof *h);
    memcpy(h->cache_max, lib.cache_max, sizeof h->cache_max);
}

void shalloc_set_cache_limits(struct shalloc *h, bool off)
{
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        h->cache_max[c] = off ? 0 : lib.cache_max[c];
}

/* ---- the slot ---------------------------------------------------------- */

/* Take the slot of a dead process: the caller holds its lock after
 * EOWNERDEAD; its cached blocks go back to the region lists first. */
static SHALLOC_COLD void take_dead_slot(struct shalloc *h, unsigned s)
{
    shalloc_lock_region(h);
    shalloc_reclaim_slot_locked(h, s);
    shalloc_unlock_region(h);
    shalloc_mutex_consistent(&slot_at(h, s)->lock);
}

/* Find a slot whose lock nobody holds, or whose holder died, and hold it
 * for as long as this process lives. */
bool shalloc_bind_slot(struct shalloc *h)
{
    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        struct shalloc_slot *slot = slot_at(h, s);
        int err = pthread_mutex_trylock(&slot->lock);
        if (err == EOWNERDEAD)
            take_dead_slot(h, s);
        else if (err != 0)
            continue; /* EBUSY: a live process has it */
        h->slot = slot;
        h->slot_no = s;
        h->pid = getpid();
        h->epoch = shalloc_fork_epoch;
        atomic_store_explicit(&slot->pid, h->pid, memory_order_relaxed);
        return true;
    }
    set_error(h, EAGAIN, "all process slots are held by live processes");
    return false;
}

/* ---- blocks out of a cache --------------------------------------------- */

/* Give all but the first keep blocks of a cache (the most recently freed,
 * still warm in the CPU cache) to the region list, in order.  Tags first,
 * links after: see shalloc_repair.c for a death in between. */
static void flush_cache_locked(struct shalloc *h, unsigned cls, uint32_t keep)
{
    struct region *r = region_of(h);
    struct cache *k = &h->slot->cache[cls];
    uint64_t *cut = &k->head, first, last = 0;

    shalloc_assert(shalloc_region_lock_held(h));
    if (k->count <= keep)
        return;
    for (uint32_t i = 0; i < keep; i++)
        cut = &block_at(h, *cut)->next;
    first = *cut;
    for (uint64_t off = first; off != 0; off = block_at(h, off)->next) {
        shalloc_assert(atomic_load_explicit(&block_at(h, off)->tag, memory_order_relaxed) ==
                       make_tag(KIND_CACHED, cls, h->slot_no));
        atomic_store_explicit(&block_at(h, off)->tag, make_tag(KIND_FREE, cls, 0),
                              memory_order_relaxed);
        last = off;
    }
    block_at(h, last)->next = r->free_head[cls];
    r->free_head[cls] = first;
    r->free_count[cls] += k->count - keep;
    *cut = 0;
    k->count = keep;
}

void shalloc_trim_cache(struct shalloc *h, unsigned cls, uint32_t keep)
{
    shalloc_lock_region(h);
    flush_cache_locked(h, cls, keep);
    shalloc_unlock_region(h);
}

static void flush_all_locked(struct shalloc *h)
{
    shalloc_assert(shalloc_region_lock_held(h));
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        flush_cache_locked(h, c, 0);
}

void shalloc_flush(struct shalloc *h)
{
    if (h->slot == NULL || !slot_current(h))
        return;
    shalloc_lock_region(h);
    flush_all_locked(h);
    shalloc_unlock_region(h);
}

/* Flush the cache, hand the counters to the header, free the slot. */
static void release_slot(struct shalloc *h)
{
    struct shalloc_slot *slot = h->slot;

    shalloc_lock_region(h);
    flush_all_locked(h);
    shalloc_retire_slot_locked(h, h->slot_no);
    shalloc_unlock_region(h);
    shalloc_mutex_unlock(&slot->lock);
    h->slot = NULL;
    h->epoch = 0;
}

void shalloc_leave_slot(struct shalloc *h)
{
    if (h->slot != NULL && slot_current(h))
        release_slot(h);
}

/* ---- blocks into a cache ----------------------------------------------- */

/* Move the first blocks of the region list (a quarter of a cache) to our
 * cache, in order: the block freed last is the first one handed out. */
static bool refill_from_region_locked(struct shalloc *h, unsigned cls)
{
    struct region *r = region_of(h);
    struct cache *k = &h->slot->cache[cls];
    uint32_t want = h->cache_max[cls] / 4 + 1, got = 0;
    uint64_t first, last = 0;

    shalloc_assert(shalloc_region_lock_held(h));
    first = r->free_head[cls];
    for (uint64_t off = first; off != 0 && got < want; off = block_at(h, off)->next, got++) {
        shalloc_assert(atomic_load_explicit(&block_at(h, off)->tag, memory_order_relaxed) ==
                       make_tag(KIND_FREE, cls, 0));
        atomic_store_explicit(&block_at(h, off)->tag, make_tag(KIND_CACHED, cls, h->slot_no),
                              memory_order_relaxed);
        last = off;
    }
    if (got > 0) {
        r->free_head[cls] = block_at(h, last)->next;
        r->free_count[cls] -= got;
        block_at(h, last)->next = k->head; /* splice the chain onto the cache */
        k->head = first;
        k->count += got;
    }
    return got > 0;
}

/* A fresh span, cut into blocks straight into our cache.  The span is
 * ours from the moment it is taken (the lock), and its blocks are CACHED
 * by our slot from the moment its table word says what it is. */
static bool carve_into_cache_locked(struct shalloc *h, unsigned cls)
{
    struct cache *k = &h->slot->cache[cls];
    uint32_t n;
    uint64_t span = shalloc_take_spans_locked(h, 1, 0);

    shalloc_assert(shalloc_region_lock_held(h));
    if (span == NO_SPAN)
        return false;
    k->head = shalloc_format_span_locked(h, span, cls, h->slot_no, k->head, &n);
    k->count += n;
    return true;
}

/* Reclaim dead processes' slots; true if that freed any block. */
static bool reclaim_dead_locked(struct shalloc *h)
{
    uint64_t before = region_of(h)->blocks_reclaimed;

    shalloc_assert(shalloc_region_lock_held(h));
    shalloc_reclaim_dead_slots_locked(h);
    return region_of(h)->blocks_reclaimed != before;
}

bool shalloc_fill_cache(struct shalloc *h, unsigned cls)
{
    bool filled;

    shalloc_lock_region(h);
    do
        filled = refill_from_region_locked(h, cls) || carve_into_cache_locked(h, cls);
    while (!filled && reclaim_dead_locked(h));
    shalloc_unlock_region(h);
    return filled;
}
