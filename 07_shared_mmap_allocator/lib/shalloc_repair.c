/*
 * shalloc_repair.c - the region lock as the library takes it, and the
 * repairs after a crash (layer 6).
 *
 * Everything here rests on two facts.  A block's tag says what the block
 * is (FREE, CACHED by slot s, USED), it is a single word, and every path
 * writes it before or after the list links in an order that keeps it true.
 * And the span table says what every span is, changed (under the region
 * lock) in an order that keeps a walk over it true (shalloc_run.c).  So
 * when a process dies in the middle of changing a list, the lists can be
 * rebuilt from the table and the tags by a walk over the spans.
 *
 *   region lock: EOWNERDEAD  -> the free runs rebuilt from the span table
 *                               (spans the holder had taken but not yet
 *                               described given back), every region free
 *                               list from the FREE tags; then dead slots
 *                               reclaimed
 *   slot lock:   EOWNERDEAD  -> every block CACHED by that slot becomes
 *                               FREE (its owner cannot use it any more),
 *                               every run CACHED by it is freed (merged)
 */
#include "shalloc_internal.h"

#include <string.h>

static void push_if_free(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx)
{
    (void)ctx;
    if (atomic_load_explicit(&b->tag, memory_order_relaxed) == make_tag(KIND_FREE, cls, 0))
        shalloc_push_free_locked(h, off, cls);
}

/* The lock's previous holder died somewhere in a list or run operation:
 * forget the lists and the bins and rebuild them from the span table and
 * the tags.  Blocks it had moved into its own cache are CACHED by its
 * (dead) slot, and come back with that slot. */
static SHALLOC_COLD int rebuild_free_lists_locked(struct shalloc *h)
{
    struct region *r = region_of(h);

    shalloc_assert(shalloc_region_lock_held(h));
    if (shalloc_rebuild_runs_locked(h) != 0)
        return -1;
    memset(r->free_head, 0, sizeof r->free_head);
    memset(r->free_count, 0, sizeof r->free_count);
    shalloc_for_each_block(h, push_if_free, NULL);
    return 0;
}

/* We hold the lock after EOWNERDEAD: repair, then mark it consistent.  A
 * table no crash could have left is not repaired: the lock is released
 * without being made consistent, so that every later taker is told it
 * cannot be recovered (ENOTRECOVERABLE), and the handle says where. */
static SHALLOC_COLD int repair_after_holder_died(struct shalloc *h)
{
    struct region *r = region_of(h);

    if (rebuild_free_lists_locked(h) != 0) {
        shalloc_region_lock_release(h);
        return -1;
    }
    shalloc_reclaim_dead_slots_locked(h);
    r->repairs++;
    shalloc_mutex_consistent(&r->lock);
    return 0;
}

int shalloc_lock_region(struct shalloc *h)
{
    unsigned timeouts;
    int err = shalloc_region_lock_take(h, &timeouts);

    if (err < 0)
        return -1;
    region_of(h)->lock_timeouts += timeouts;
    if (unlikely(err == EOWNERDEAD))
        return repair_after_holder_died(h);
    return 0;
}

void shalloc_unlock_region(struct shalloc *h)
{
    shalloc_region_lock_release(h);
}

/* ---- dead slots -------------------------------------------------------- */

struct reclaim {
    unsigned slot;
    uint64_t blocks;
};

static void free_if_cached_by(struct shalloc *h, uint64_t off, struct block *b, unsigned cls,
                              void *ctx)
{
    struct reclaim *rc = ctx;
    uint32_t tag = atomic_load_explicit(&b->tag, memory_order_relaxed);

    if (tag == make_tag(KIND_CACHED, cls, rc->slot)) {
        shalloc_push_free_locked(h, off, cls);
        rc->blocks++;
    }
}

void shalloc_retire_slot_locked(struct shalloc *h, unsigned s)
{
    struct region *r = region_of(h);
    struct shalloc_slot *slot = slot_at(h, s);

    shalloc_assert(shalloc_region_lock_held(h));
    memset(slot->cache, 0, sizeof slot->cache);
    memset(slot->runs, 0, sizeof slot->runs);
    slot->run_spans = 0;
    r->retired_allocs += atomic_load_explicit(&slot->allocs, memory_order_relaxed);
    r->retired_frees += atomic_load_explicit(&slot->frees, memory_order_relaxed);
    atomic_store_explicit(&slot->allocs, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->frees, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->pid, 0, memory_order_relaxed);
}

/* Free every run whose word says slot s caches it, walking the table (a
 * freed run may merge with its neighbours or go back to the wilderness,
 * so the walk looks again where it freed).  Returns how many, or stops at
 * the first the free finds corrupt. */
static uint64_t free_runs_cached_by(struct shalloc *h, unsigned s)
{
    uint64_t freed = 0;

    for (uint64_t span = 0; span < spans_claimed(h);) {
        uint64_t w = span_load(h, span), n = word_spans(w);
        if (word_type(w) == SPAN_RUN && n >= 1 && n <= RUN_CACHE_LENGTHS &&
            n <= spans_claimed(h) - span && w == run_word(KIND_CACHED, s, n)) {
            if (shalloc_free_run_locked(h, span) != 0)
                break;
            freed++;
            continue;
        }
        span += shalloc_step_spans(span, w, spans_claimed(h));
    }
    return freed;
}

/* The tags and the span table, not the dead slot's lists, say which blocks
 * and runs it cached: it may have died between the store that makes one
 * cached (or in use) and the store that links (or unlinks) it. */
uint64_t shalloc_reclaim_slot_locked(struct shalloc *h, unsigned s)
{
    struct region *r = region_of(h);
    struct reclaim rc = {s, 0};

    shalloc_assert(shalloc_region_lock_held(h));
    shalloc_for_each_block(h, free_if_cached_by, &rc);
    uint64_t runs = free_runs_cached_by(h, s);
    shalloc_retire_slot_locked(h, s);
    r->slots_reclaimed++;
    r->blocks_reclaimed += rc.blocks;
    r->runs_reclaimed += runs;
    return rc.blocks + runs;
}

/* trylock never waits, so this cannot deadlock against a process that
 * holds its slot and wants the region lock. */
unsigned shalloc_reclaim_dead_slots_locked(struct shalloc *h)
{
    unsigned reclaimed = 0;

    shalloc_assert(shalloc_region_lock_held(h));
    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        pthread_mutex_t *lock = &slot_at(h, s)->lock;
        if (!shalloc_mutex_valid(lock) || shalloc_mutex_lost(lock))
            continue; /* garbage, or lost: not ours to touch (attach and the checker say so) */
        int err = pthread_mutex_trylock(lock);
        if (err == EOWNERDEAD) {
            shalloc_reclaim_slot_locked(h, s);
            shalloc_mutex_consistent(lock);
            reclaimed++;
        } else if (err != 0) {
            continue; /* EBUSY: its owner lives (or it is ours); ENOTRECOVERABLE: lost */
        }
        shalloc_mutex_unlock(lock);
    }
    return reclaimed;
}
