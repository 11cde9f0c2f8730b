/*
 * shalloc_repair.c - walking the region, the region lock, and repairs
 * after a crash.
 *
 * Everything here rests on one fact: a block's tag says what the block is
 * (FREE, CACHED by slot s, USED), it is a single word, and every path
 * writes it before or after the list links in an order that keeps it true.
 * So when a process dies in the middle of changing a list, the lists can
 * be rebuilt from the tags by a walk over the spans, which the span table
 * makes possible whatever the blocks contain.
 *
 *   region lock: EOWNERDEAD  -> rebuild every region free list from the
 *                               FREE tags, then reclaim dead slots
 *   slot lock:   EOWNERDEAD  -> every block CACHED by that slot becomes
 *                               FREE (its owner cannot use it any more)
 */
#include "shalloc_layout.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LOCK_RETRY_NS = 20000000 }; /* 20 ms: far longer than any normal hold */

/* ThreadSanitizer's pthread_mutex_timedlock does not record a lock it took
 * with EOWNERDEAD (its lock and trylock do), and then reports our unlock as
 * bogus: under TSan, wait by polling trylock, which cannot miss a wake-up
 * either. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

void shalloc_panic(const char *what, const void *where)
{
    char buf[256] = "shalloc: ";
    size_t len = strlen(buf);
    uintptr_t addr = (uintptr_t)where;

    for (const char *p = what; *p != '\0' && len < 200; p++)
        buf[len++] = *p;
    memcpy(buf + len, " (at 0x", 7);
    len += 7;
    for (int shift = 60; shift >= 0; shift -= 4)
        buf[len++] = "0123456789abcdef"[(addr >> shift) & 0xf];
    buf[len++] = ')';
    buf[len++] = '\n';
    if (write(STDERR_FILENO, buf, len) < 0) {
        /* nothing more we can do */
    }
    abort();
}

/* ---- walking --------------------------------------------------------- */

/* The class of a claimed span, or -1 if it was never formatted. */
int shalloc_span_class(const struct shalloc *h, uint64_t span)
{
    unsigned entry = atomic_load_explicit(&span_table(h)[span], memory_order_acquire);

    return entry == 0 || entry > SHALLOC_CLASSES ? -1 : (int)entry - 1;
}

void shalloc_for_each_block_in_span(struct shalloc *h, uint64_t span, unsigned cls, block_fn *fn,
                                    void *ctx)
{
    uint64_t first = h->data_off + span * SHALLOC_SPAN_BYTES;

    for (uint32_t i = 0; i < blocks_per_span(cls); i++) {
        uint64_t off = first + (uint64_t)i * class_stride(cls);
        fn(h, off, block_at(h, off), cls, ctx);
    }
}

/* Call fn for every block of every formatted span below the bump. */
void shalloc_for_each_block(struct shalloc *h, block_fn *fn, void *ctx)
{
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < claimed; span++) {
        int cls = shalloc_span_class(h, span);
        if (cls >= 0) /* else lost (or corrupt: the checker says so) */
            shalloc_for_each_block_in_span(h, span, (unsigned)cls, fn, ctx);
    }
}

/* ---- the lock and repairs -------------------------------------------- */

void shalloc_push_free_locked(struct shalloc *h, uint64_t off, unsigned cls)
{
    struct region *r = region_of(h);
    struct block *b = block_at(h, off);

    atomic_store_explicit(&b->tag, make_tag(KIND_FREE, cls, 0), memory_order_relaxed);
    b->next = r->free_head[cls];
    r->free_head[cls] = off;
    r->free_count[cls]++;
}

static void push_if_free(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx)
{
    (void)ctx;
    if (tag_kind(atomic_load_explicit(&b->tag, memory_order_relaxed)) == KIND_FREE)
        shalloc_push_free_locked(h, off, cls);
}

/* The lock's previous holder died somewhere in a list operation: forget
 * the lists and rebuild them from the tags.  Blocks it had moved into its
 * own cache are CACHED by its (dead) slot, and come back with that slot. */
static void rebuild_free_lists_locked(struct shalloc *h)
{
    struct region *r = region_of(h);

    memset(r->free_head, 0, sizeof r->free_head);
    memset(r->free_count, 0, sizeof r->free_count);
    shalloc_for_each_block(h, push_if_free, NULL);
}

/*
 * Wait for the lock, but never for ever.  A waiter can miss its wake-up:
 * if the process releasing the lock is killed after clearing the lock word
 * and before waking a waiter, and a third process takes the lock in that
 * instant, nobody will wake the sleeper (the kernel's clean-up of the dead
 * process wakes a waiter only if the lock is still free by then).  So
 * sleep with a deadline and look again; returns the timeouts it took.
 */
static unsigned wait_for_lock(pthread_mutex_t *lock, int *err)
{
    unsigned timeouts = 0;
    struct timespec deadline;

    while ((*err = pthread_mutex_trylock(lock)) == EBUSY) {
        if (UNDER_TSAN) {
            sched_yield(); /* TSan: see UNDER_TSAN above */
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &deadline); /* what timedlock measures against */
        deadline.tv_nsec += LOCK_RETRY_NS;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        *err = pthread_mutex_timedlock(lock, &deadline);
        if (*err != ETIMEDOUT)
            return timeouts;
        timeouts++;
    }
    return timeouts; /* free (or its owner dead): no clock read, no sleep */
}

void shalloc_lock_region(struct shalloc *h)
{
    struct region *r = region_of(h);
    int err;
    unsigned timeouts = wait_for_lock(&r->lock, &err);

    if (err == 0 || err == EOWNERDEAD)
        r->lock_timeouts += timeouts;
    if (err == EOWNERDEAD) {
        rebuild_free_lists_locked(h);
        shalloc_reclaim_dead_slots_locked(h);
        r->repairs++;
        pthread_mutex_consistent(&r->lock); /* or the next unlock makes it unusable */
    } else if (err != 0) {
        shalloc_panic("cannot take the region lock", &r->lock);
    }
}

void shalloc_unlock_region(struct shalloc *h)
{
    pthread_mutex_unlock(&region_of(h)->lock);
}

struct reclaim {
    unsigned slot;
    uint64_t blocks;
};

static void free_if_cached_by(struct shalloc *h, uint64_t off, struct block *b, unsigned cls,
                              void *ctx)
{
    struct reclaim *rc = ctx;
    uint32_t tag = atomic_load_explicit(&b->tag, memory_order_relaxed);

    if (tag_kind(tag) == KIND_CACHED && tag_slot(tag) == rc->slot) {
        shalloc_push_free_locked(h, off, cls);
        rc->blocks++;
    }
}

void shalloc_retire_slot_locked(struct shalloc *h, unsigned s)
{
    struct region *r = region_of(h);
    struct shalloc_slot *slot = slot_at(h, s);

    memset(slot->cache, 0, sizeof slot->cache);
    r->retired_allocs += atomic_load_explicit(&slot->allocs, memory_order_relaxed);
    r->retired_frees += atomic_load_explicit(&slot->frees, memory_order_relaxed);
    atomic_store_explicit(&slot->allocs, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->frees, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->pid, 0, memory_order_relaxed);
}

/* The tags, not the dead slot's lists, say which blocks it cached: it may
 * have died between a tag store and a link store. */
uint64_t shalloc_reclaim_slot_locked(struct shalloc *h, unsigned s)
{
    struct region *r = region_of(h);
    struct reclaim rc = {s, 0};

    shalloc_for_each_block(h, free_if_cached_by, &rc);
    shalloc_retire_slot_locked(h, s);
    r->slots_reclaimed++;
    r->blocks_reclaimed += rc.blocks;
    return rc.blocks;
}

/* trylock never waits, so this cannot deadlock against a process that
 * holds its slot and wants the region lock. */
unsigned shalloc_reclaim_dead_slots_locked(struct shalloc *h)
{
    unsigned reclaimed = 0;

    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        pthread_mutex_t *lock = &slot_at(h, s)->lock;
        int err = pthread_mutex_trylock(lock);
        if (err == EOWNERDEAD) {
            shalloc_reclaim_slot_locked(h, s);
            pthread_mutex_consistent(lock);
            reclaimed++;
        } else if (err != 0) {
            continue; /* EBUSY: its owner lives (or it is ours) */
        }
        pthread_mutex_unlock(lock);
    }
    return reclaimed;
}

unsigned shalloc_recover(struct shalloc *h)
{
    shalloc_lock_region(h);
    unsigned n = shalloc_reclaim_dead_slots_locked(h);
    shalloc_unlock_region(h);
    return n;
}
