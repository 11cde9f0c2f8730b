/*
 * shalloc_cache.c - a process's slot and its caches (layer 7): everything
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
 * limit or the process leaves (and its cached runs: shalloc_run_cache.c).
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
     * back: enough that a steady mix of allocs and frees never locks.  And
     * 16 blocks at least: two spans of the largest classes are 6 blocks,
     * and their caches took the lock every few operations. */
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        lib.cache_max[c] = 2 * blocks_per_span(c) < 16 ? 16 : 2 * blocks_per_span(c);
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
    h->caches_off = off;
    h->run_cache_spans = h->slot != NULL ? shalloc_run_cache_limit(h) : 0;
}

/* ---- the slot ---------------------------------------------------------- */

/* Take the slot of a dead process: the caller holds its lock after
 * EOWNERDEAD; its cached blocks go back to the region lists first.  If the
 * region lock cannot be taken, the slot is let go without being made
 * consistent: nobody will use it. */
static SHALLOC_COLD bool take_dead_slot(struct shalloc *h, unsigned s)
{
    pthread_mutex_t *lock = &slot_at(h, s)->lock;

    if (shalloc_lock_region(h) != 0) {
        shalloc_mutex_unlock(lock);
        return false;
    }
    shalloc_reclaim_slot_locked(h, s);
    shalloc_unlock_region(h);
    shalloc_mutex_consistent(lock);
    return true;
}

/* Is slot s's lock, busy, held by a thread that exists?  A lock word that
 * names none is garbage (the owner's death would have cleared it). */
static bool slot_holder_believable(const struct shalloc *h, unsigned s)
{
    pid_t tid = shalloc_mutex_holder(&slot_at(h, s)->lock);

    return tid < 0 || shalloc_thread_exists(tid);
}

/* A slot nobody held has empty caches (R5): the fast paths trust that. */
static bool caches_empty(const struct shalloc *h, unsigned s)
{
    const struct shalloc_slot *slot = slot_at(h, s);

    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        if (slot->cache[c].head != 0 || slot->cache[c].count != 0)
            return false;
    for (unsigned n = 0; n < RUN_CACHE_LENGTHS; n++)
        if (slot->runs[n].head != 0 || slot->runs[n].count != 0)
            return false;
    return slot->run_spans == 0;
}

/* Find a slot whose lock nobody holds, or whose holder died, and hold it
 * for as long as this process lives.  Slots whose lock is garbage, or that
 * nobody held but whose caches are not empty, are passed over; if every
 * slot is busy or garbage, the error says which. */
bool shalloc_bind_slot(struct shalloc *h)
{
    unsigned garbage = SHALLOC_SLOTS; /* the first slot whose lock is not one */

    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        struct shalloc_slot *slot = slot_at(h, s);
        bool lock = shalloc_mutex_valid(&slot->lock) && !shalloc_mutex_lost(&slot->lock);
        int err = lock ? pthread_mutex_trylock(&slot->lock) : EINVAL;
        if (err == EOWNERDEAD && !take_dead_slot(h, s))
            return false;
        if (err == EBUSY && slot_holder_believable(h, s))
            continue; /* a live process has it */
        if (err == 0 && !caches_empty(h, s)) {
            shalloc_mutex_unlock(&slot->lock);
            err = EINVAL;
        }
        if (err != 0 && err != EOWNERDEAD) {
            garbage = garbage < s ? garbage : s;
            continue;
        }
        h->slot = slot;
        h->slot_no = s;
        h->pid = getpid();
        h->epoch = shalloc_fork_epoch;
        h->run_cache_spans = shalloc_run_cache_limit(h);
        atomic_store_explicit(&slot->pid, h->pid, memory_order_relaxed);
        return true;
    }
    if (garbage < SHALLOC_SLOTS)
        return shalloc_corrupt(h,
                               "no slot is free, and a slot's lock is not a lock (or names no "
                               "live thread)",
                               HEADER_BYTES + garbage * SLOT_BYTES) == 0;
    set_error(h, EAGAIN, "all process slots are held by live processes");
    return false;
}

/* ---- walking a list ------------------------------------------------------- */

/* The most blocks a list of class cls can hold: a longer one is corrupt. */
static uint64_t max_blocks(const struct shalloc *h, unsigned cls)
{
    return span_count(h) * blocks_per_span(cls);
}

/* Check the first n links of a list of class cls (n: UINT64_MAX for all of
 * it) at the link *head, stored at offset where: each a block start of the
 * class tagged want.  Returns the links found (fewer than n: the list
 * ended), or -1 with the corruption reported. */
static int64_t check_chain(struct shalloc *h, uint64_t head, uint64_t where, unsigned cls,
                           uint32_t want, uint64_t n)
{
    uint64_t limit = max_blocks(h, cls), got = 0;

    for (uint64_t off = head; off != 0 && got < n; got++) {
        if (got == limit)
            return shalloc_corrupt(h, "a list is longer than its class has blocks", where);
        if (!shalloc_block_start(h, off, cls) ||
            atomic_load_explicit(&block_at(h, off)->tag, memory_order_relaxed) != want)
            return shalloc_corrupt(h,
                                   want == make_tag(KIND_FREE, cls, 0)
                                       ? "R4: a free list's link is not a free block of its class"
                                       : "R5: a cache's link is not a cached block of its class",
                                   where);
        where = off + offsetof(struct block, next);
        off = block_at(h, off)->next;
    }
    return (int64_t)got;
}

/* ---- blocks out of a cache --------------------------------------------- */

/* Give all but the first keep blocks of a cache (the most recently freed,
 * still warm in the CPU cache) to the region list, in order.  The whole
 * list is checked first, then changed: tags first, links after (see
 * shalloc_repair.c for a death in between).  0, or -1: corrupt. */
static int flush_cache_locked(struct shalloc *h, unsigned cls, uint32_t keep)
{
    struct region *r = region_of(h);
    struct cache *k = &h->slot->cache[cls];
    uint32_t cached = make_tag(KIND_CACHED, cls, h->slot_no);
    uint64_t *cut = &k->head, first, last = 0;

    shalloc_assert(shalloc_region_lock_held(h));
    if (k->count <= keep)
        return 0;
    int64_t len = check_chain(h, k->head, offset_in(h, &k->head), cls, cached, UINT64_MAX);
    if (len < 0)
        return -1;
    if ((uint64_t)len != k->count)
        return shalloc_corrupt(h, "R5: a cache's length differs from its count",
                               offset_in(h, &k->count));
    for (uint32_t i = 0; i < keep; i++)
        cut = &block_at(h, *cut)->next;
    first = *cut;
    for (uint64_t off = first; off != 0; off = block_at(h, off)->next) {
        atomic_store_explicit(&block_at(h, off)->tag, make_tag(KIND_FREE, cls, 0),
                              memory_order_relaxed);
        last = off;
    }
    block_at(h, last)->next = r->free_head[cls];
    r->free_head[cls] = first;
    r->free_count[cls] += k->count - keep;
    *cut = 0;
    k->count = keep;
    return 0;
}

void shalloc_trim_cache(struct shalloc *h, unsigned cls, uint32_t keep)
{
    if (shalloc_lock_region(h) != 0)
        return; /* the cache stays as it is; the error says why */
    flush_cache_locked(h, cls, keep);
    shalloc_unlock_region(h);
}

static int flush_all_locked(struct shalloc *h)
{
    shalloc_assert(shalloc_region_lock_held(h));
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        if (flush_cache_locked(h, c, 0) != 0)
            return -1;
    return shalloc_flush_run_cache_locked(h);
}

void shalloc_flush(struct shalloc *h)
{
    if (h->slot == NULL || !slot_current(h) || shalloc_lock_region(h) != 0)
        return;
    flush_all_locked(h);
    shalloc_unlock_region(h);
}

/* Flush the cache, hand the counters to the header, free the slot.  If the
 * cache cannot be given back (a corrupt region), the slot stays held: the
 * kernel releases it when this process ends, as a dead owner's. */
static int release_slot(struct shalloc *h)
{
    struct shalloc_slot *slot = h->slot;

    if (shalloc_lock_region(h) != 0)
        return -1;
    if (flush_all_locked(h) != 0) {
        shalloc_unlock_region(h);
        return -1;
    }
    shalloc_retire_slot_locked(h, h->slot_no);
    shalloc_unlock_region(h);
    shalloc_mutex_unlock(&slot->lock);
    h->slot = NULL;
    h->epoch = 0;
    return 0;
}

int shalloc_leave_slot(struct shalloc *h)
{
    return h->slot != NULL && slot_current(h) ? release_slot(h) : 0;
}

/* ---- blocks into a cache ----------------------------------------------- */

/* Move the first blocks of the region list (a quarter of a cache) to our
 * cache, in order: the block freed last is the first one handed out.
 * Checked first, then moved.  1: moved some; 0: the list is empty; -1. */
static int refill_from_region_locked(struct shalloc *h, unsigned cls)
{
    struct region *r = region_of(h);
    struct cache *k = &h->slot->cache[cls];
    uint32_t want = h->cache_max[cls] / 4 + 1, got = 0;
    uint64_t first = r->free_head[cls], last = 0;
    uint64_t where = offsetof(struct region, free_head) + cls * sizeof(uint64_t);

    shalloc_assert(shalloc_region_lock_held(h));
    if (check_chain(h, first, where, cls, make_tag(KIND_FREE, cls, 0), want) < 0)
        return -1;
    for (uint64_t off = first; off != 0 && got < want; off = block_at(h, off)->next, got++) {
        atomic_store_explicit(&block_at(h, off)->tag, make_tag(KIND_CACHED, cls, h->slot_no),
                              memory_order_relaxed);
        last = off;
    }
    if (got == 0)
        return 0;
    r->free_head[cls] = block_at(h, last)->next;
    r->free_count[cls] -= got;
    block_at(h, last)->next = k->head; /* splice the chain onto the cache */
    k->head = first;
    k->count += got;
    return 1;
}

/* A fresh span, cut into blocks straight into our cache.  The span is
 * ours from the moment it is taken (the lock), and its blocks are CACHED
 * by our slot from the moment its table word says what it is.  1, 0 (no
 * span left) or -1. */
static int carve_into_cache_locked(struct shalloc *h, unsigned cls)
{
    struct cache *k = &h->slot->cache[cls];
    uint32_t n;
    uint64_t span;

    shalloc_assert(shalloc_region_lock_held(h));
    int took = shalloc_take_spans_locked(h, 1, 0, &span);
    if (took != 1)
        return took;
    k->head = shalloc_format_span_locked(h, span, cls, h->slot_no, k->head, &n);
    k->count += n;
    return 1;
}

/* Blocks and runs taken back from dead processes so far. */
static uint64_t reclaimed_so_far(const struct shalloc *h)
{
    return region_of(h)->blocks_reclaimed + region_of(h)->runs_reclaimed;
}

/* Reclaim dead processes' slots; true if that freed any block or run. */
static bool reclaim_dead_locked(struct shalloc *h)
{
    uint64_t before = reclaimed_so_far(h);

    shalloc_assert(shalloc_region_lock_held(h));
    shalloc_reclaim_dead_slots_locked(h);
    return reclaimed_so_far(h) != before;
}

/* When the region has no block of a class and no span: our own cached
 * runs back to it first (one of them may become a span), then dead
 * processes' slots; true if that freed any block or run (-1: corrupt). */
static int give_back_for_room_locked(struct shalloc *h)
{
    if (h->slot->run_spans > 0)
        return shalloc_flush_run_cache_locked(h) == 0 ? 1 : -1;
    return reclaim_dead_locked(h);
}

int shalloc_fill_cache(struct shalloc *h, unsigned cls)
{
    int filled;

    if (shalloc_lock_region(h) != 0)
        return -1;
    for (;;) {
        if ((filled = refill_from_region_locked(h, cls)) == 0)
            filled = carve_into_cache_locked(h, cls);
        if (filled != 0)
            break;
        int freed = give_back_for_room_locked(h);
        if (freed <= 0) {
            filled = freed; /* 0: the region is full; -1: corrupt */
            break;
        }
    }
    shalloc_unlock_region(h);
    return filled;
}
