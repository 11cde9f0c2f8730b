/*
 * shalloc.c - the allocator's paths: slots, caches, alloc and free.
 *
 * alloc: pop the process's cache list of the class (no lock, no atomic
 * read-modify-write: the cache is ours alone).  When it is empty,
 * alloc_slow refills it from the region list under the region lock, or
 * claims a new span with a fetch-add on the bump offset.
 * free: push on our own cache list; past a limit, flush half of it to the
 * region list under the lock.
 *
 * Crash safety comes from the order of stores: a block's tag (one 32-bit
 * word) is always the truth about it, and the lists are rebuilt from the
 * tags when a process dies in the middle of changing them (see
 * shalloc_repair.c).  Layout and invariants: shalloc_layout.h.
 */
#include "shalloc_layout.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* The library's process-local state: nothing about any region. */
static struct {
    pthread_once_t once;                 /* registers the fork handler */
    uint64_t fork_epoch;                 /* incremented in every child of fork; starts at 1 */
    uint32_t cache_max[SHALLOC_CLASSES]; /* default cache limits per class */
} lib = {PTHREAD_ONCE_INIT, 1, {0}};

const uint16_t shalloc_class_bytes[SHALLOC_CLASSES] = {
    16,  32,  48,  64,  80,  96,   112,  128,  144,  160,  176,  192,  208,  224,  240,
    256, 272, 288, 304, 320, 336,  352,  368,  384,  400,  416,  432,  448,  464,  480,
    496, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
};

/* Classes above 512 bytes by (size - 1) / 128. */
static const uint8_t large_class[32] = {
    [4] = 32,  [5] = 33,  [6] = 34,  [7] = 35,  [8] = 36,  [9] = 36,  [10] = 37,
    [11] = 37, [12] = 38, [13] = 38, [14] = 39, [15] = 39, [16] = 40, [17] = 40,
    [18] = 40, [19] = 40, [20] = 41, [21] = 41, [22] = 41, [23] = 41, [24] = 42,
    [25] = 42, [26] = 42, [27] = 42, [28] = 43, [29] = 43, [30] = 43, [31] = 43,
};

static inline unsigned class_of(size_t size)
{
    if (size <= 512)
        return size == 0 ? 0 : (unsigned)((size + 15) >> 4) - 1;
    return large_class[(size - 1) >> 7];
}

static void on_fork_child(void)
{
    lib.fork_epoch++; /* every handle's slot now belongs to the parent */
}

static void init_library(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
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

/* ---- slots ----------------------------------------------------------- */

static bool slot_current(const struct shalloc *h)
{
    return h->epoch == lib.fork_epoch;
}

/* Owner-only counter: a plain load and store, no locked instruction. */
static inline void count_op(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Take the slot of a dead process: the caller holds its lock after
 * EOWNERDEAD; its cached blocks go back to the region lists first. */
static void take_dead_slot(struct shalloc *h, unsigned s)
{
    shalloc_lock_region(h);
    shalloc_reclaim_slot_locked(h, s);
    shalloc_unlock_region(h);
    pthread_mutex_consistent(&slot_at(h, s)->lock);
}

/* Find a slot whose lock nobody holds, or whose holder died, and hold it
 * for as long as this process lives (the kernel releases it, marked
 * "owner died", if we are killed). */
static bool bind_slot(struct shalloc *h)
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
        h->epoch = lib.fork_epoch;
        atomic_store_explicit(&slot->pid, h->pid, memory_order_relaxed);
        return true;
    }
    set_error(h, EAGAIN, "all process slots are held by live processes");
    return false;
}

/* Give all but the first keep blocks of a cache (the most recently freed,
 * still warm in the CPU cache) to the region list, in order (lock held).
 * Tags first, links after: see shalloc_repair.c for a death in between. */
static void flush_cache_locked(struct shalloc *h, unsigned cls, uint32_t keep)
{
    struct region *r = region_of(h);
    struct cache *k = &h->slot->cache[cls];
    uint64_t *cut = &k->head, first, last = 0;

    if (k->count <= keep)
        return;
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
}

void shalloc_flush(struct shalloc *h)
{
    if (h->slot == NULL || !slot_current(h))
        return;
    shalloc_lock_region(h);
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        flush_cache_locked(h, c, 0);
    shalloc_unlock_region(h);
}

/* Flush the cache, hand the counters to the header, free the slot. */
static void release_slot(struct shalloc *h)
{
    struct shalloc_slot *slot = h->slot;

    shalloc_lock_region(h);
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        flush_cache_locked(h, c, 0);
    shalloc_retire_slot_locked(h, h->slot_no);
    shalloc_unlock_region(h);
    pthread_mutex_unlock(&slot->lock);
    h->slot = NULL;
    h->epoch = 0;
}

void shalloc_leave_slot(struct shalloc *h)
{
    if (h->slot != NULL && slot_current(h))
        release_slot(h);
}

void shalloc_set_cache_off(struct shalloc *h, bool off)
{
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        h->cache_max[c] = off ? 0 : lib.cache_max[c];
    shalloc_flush(h);
}

/* ---- allocation ------------------------------------------------------ */

/* Move the first blocks of the region list (a quarter of a cache) to our
 * cache, in order: the block freed last is the first one handed out. */
static bool refill_cache(struct shalloc *h, unsigned cls)
{
    struct region *r = region_of(h);
    struct cache *k = &h->slot->cache[cls];
    uint32_t want = h->cache_max[cls] / 4 + 1, got = 0;
    uint64_t first, last = 0;

    shalloc_lock_region(h);
    first = r->free_head[cls];
    for (uint64_t off = first; off != 0 && got < want; off = block_at(h, off)->next, got++) {
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
    shalloc_unlock_region(h);
    return got > 0;
}

/* Claim a span with one fetch-add and carve it into blocks for our cache.
 * If we die before the table entry is written, the span is lost (and
 * counted as such); after it, the blocks are tagged and reclaimable. */
static bool format_span(struct shalloc *h, unsigned cls)
{
    struct region *r = region_of(h);
    struct cache *k = &h->slot->cache[cls];
    uint64_t at = atomic_fetch_add_explicit(&r->bump, SHALLOC_SPAN_BYTES, memory_order_relaxed);
    uint32_t stride = class_stride(cls), n = blocks_per_span(cls);

    if (at >= r->span_count * SHALLOC_SPAN_BYTES)
        return false; /* past the end: the region is full */
    uint64_t first = h->data_off + at;
    for (uint32_t i = n; i-- > 0;) {
        struct block *b = block_at(h, first + (uint64_t)i * stride);
        atomic_store_explicit(&b->tag, make_tag(KIND_CACHED, cls, h->slot_no),
                              memory_order_relaxed);
        atomic_store_explicit(&b->owner, 0, memory_order_relaxed);
        b->next = i + 1 < n ? first + (uint64_t)(i + 1) * stride : k->head;
    }
    atomic_store_explicit(&span_table(h)[at / SHALLOC_SPAN_BYTES], (uint8_t)(cls + 1),
                          memory_order_release);
    k->head = first;
    k->count += n;
    return true;
}

/* Reclaim dead processes' slots; true if that freed any block. */
static bool reclaim_dead(struct shalloc *h)
{
    uint64_t before;

    shalloc_lock_region(h);
    before = region_of(h)->blocks_reclaimed;
    shalloc_reclaim_dead_slots_locked(h);
    bool found = region_of(h)->blocks_reclaimed != before;
    shalloc_unlock_region(h);
    return found;
}

static inline void *take_block(struct shalloc *h, struct cache *k, unsigned cls)
{
    uint64_t off = k->head;
    struct block *b = block_at(h, off);

    k->head = b->next;
    k->count--;
    /* Killed before this store, the block is CACHED by a dead slot: reclaimed. */
    atomic_store_explicit(&b->tag, make_tag(KIND_USED, cls, h->slot_no), memory_order_relaxed);
    atomic_store_explicit(&b->owner, h->pid, memory_order_relaxed);
    count_op(&h->slot->allocs);
    return b + 1;
}

/* Slow path of shalloc_alloc: no slot yet (or a fork happened), or the
 * cache of the class is empty. */
static void *alloc_slow(struct shalloc *h, size_t size)
{
    if (size > SHALLOC_MAX_BLOCK) {
        set_error(h, ENOMEM, "request larger than the largest size class (4096 bytes)");
        return NULL;
    }
    if (!slot_current(h) && !bind_slot(h))
        return NULL;
    unsigned cls = class_of(size);
    struct cache *k = &h->slot->cache[cls];
    while (k->head == 0) {
        if (refill_cache(h, cls) || format_span(h, cls) || reclaim_dead(h))
            continue;
        set_error(h, ENOMEM, "region full: no free block of this size class and no span left");
        return NULL;
    }
    void *p = take_block(h, k, cls);
    if (k->count > h->cache_max[cls]) {
        shalloc_lock_region(h);
        flush_cache_locked(h, cls, h->cache_max[cls] / 2);
        shalloc_unlock_region(h);
    }
    return p;
}

void *shalloc_alloc(struct shalloc *h, size_t size)
{
    if (__builtin_expect(size > SHALLOC_MAX_BLOCK || !slot_current(h), 0))
        return alloc_slow(h, size);
    unsigned cls = class_of(size);
    struct cache *k = &h->slot->cache[cls];
    if (__builtin_expect(k->head == 0, 0))
        return alloc_slow(h, size);
    return take_block(h, k, cls);
}

/* The block header of a payload pointer, or a panic if it is not one. */
static struct block *live_block(const struct shalloc *h, const void *p, uint32_t *tag)
{
    uint64_t off = offset_in(h, p) - BLOCK_HEADER; /* of its header */
    struct block *b;

    /* One unsigned compare: a pointer below the spans wraps to a huge value. */
    if (off - h->data_off >= h->data_end - h->data_off || off % 16 != 0)
        shalloc_panic("free of a pointer outside the region's blocks", p);
    b = (struct block *)p - 1;
    *tag = atomic_load_explicit(&b->tag, memory_order_relaxed);
    if (tag_kind(*tag) != KIND_USED)
        shalloc_panic("free of a block that is not in use (double free?)", p);
    return b;
}

size_t shalloc_block_size(const struct shalloc *h, const void *block)
{
    uint32_t tag;

    live_block(h, block, &tag);
    return shalloc_class_bytes[tag_class(tag)];
}

/* Slow path of shalloc_free: bind a slot first, or flush an overfull cache. */
static void free_slow(struct shalloc *h, struct block *b, unsigned cls)
{
    if (!slot_current(h) && !bind_slot(h)) {
        shalloc_lock_region(h); /* no slot to cache in: straight to the region list */
        shalloc_push_free_locked(h, offset_in(h, b), cls);
        shalloc_unlock_region(h);
        return;
    }
    struct cache *k = &h->slot->cache[cls];
    atomic_store_explicit(&b->tag, make_tag(KIND_CACHED, cls, h->slot_no), memory_order_relaxed);
    b->next = k->head;
    k->head = offset_in(h, b);
    k->count++;
    count_op(&h->slot->frees);
    if (k->count > h->cache_max[cls]) {
        shalloc_lock_region(h);
        flush_cache_locked(h, cls, h->cache_max[cls] / 2);
        shalloc_unlock_region(h);
    }
}

void shalloc_free(struct shalloc *h, void *p)
{
    uint32_t tag;

    if (p == NULL)
        return;
    struct block *b = live_block(h, p, &tag);
    unsigned cls = tag_class(tag);
    if (__builtin_expect(!slot_current(h), 0)) {
        free_slow(h, b, cls);
        return;
    }
    struct cache *k = &h->slot->cache[cls];
    if (__builtin_expect(k->count >= h->cache_max[cls], 0)) {
        free_slow(h, b, cls);
        return;
    }
    /* Tag first: killed between the two stores, the block is CACHED by a
     * dead slot and is reclaimed; never on a list and in use at once. */
    atomic_store_explicit(&b->tag, make_tag(KIND_CACHED, cls, h->slot_no), memory_order_relaxed);
    b->next = k->head;
    k->head = offset_in(h, b);
    k->count++;
    count_op(&h->slot->frees);
}
