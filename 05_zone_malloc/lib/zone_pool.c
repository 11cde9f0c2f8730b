/*
 * zone_pool.c - empty zones kept for reuse, and given back by decay.
 *
 * A zone whose last block is freed leaves its arena.  Unmapping it at once
 * would be the simple thing, and the slow one for a program that works in
 * bursts (threads that start, allocate, free and exit; a request handled
 * and its memory let go): the next burst maps the same zones again, and
 * takes a page fault for every page it touches.  So an empty zone waits in
 * the pool, with its pages (a SMALL zone's are given back with madvise:
 * zone.c), and the next zone of its size is taken from there.
 *
 * Two things give the memory back:
 *   - the bound: the pool holds at most POOL_MAX_BYTES; past that, the
 *     zones that have waited longest are unmapped;
 *   - decay: a zone idle for more than ZONE_MALLOC_DECAY_MS (1000 ms by
 *     default) is unmapped at the next pool event (a zone taken or put
 *     back), or by zm_trim() / malloc_trim() at once.
 * Every pooled zone is still counted in the mapped totals (M1) until then.
 *
 * The lists here are also the large cache's (large_cache.c).
 */
#include "zm_internal.h"

/* At the front: the list is most recent first. */
void zone_list_push(struct zone_list *l, struct zone *z)
{
    z->prev = NULL;
    z->next = l->head;
    if (l->head != NULL)
        l->head->prev = z;
    else
        l->tail = z;
    l->head = z;
}

void zone_list_remove(struct zone_list *l, struct zone *z)
{
    if (z->prev != NULL)
        z->prev->next = z->next;
    else
        l->head = z->next;
    if (z->next != NULL)
        z->next->prev = z->prev;
    else
        l->tail = z->prev;
}

/* Unmap zones taken off every list (and out of the totals) under zm.lock:
 * the system calls happen after it is released. */
void zones_unmap(struct zone_list *doomed)
{
    struct zone *z = doomed->head;

    while (z != NULL) {
        struct zone *next = z->next;
        os_unmap(z, z->size);
        z = next;
    }
    doomed->head = doomed->tail = NULL;
}

/* One zone leaves list l to be unmapped: out of the totals, onto doomed.
 * zm.lock held. */
static void doom_locked(struct zone_list *l, struct zone *z, struct zone_list *doomed,
                        uint64_t *bytes, uint64_t *count)
{
    zm_assert_global_held();
    zone_list_remove(l, z);
    *bytes -= z->size;
    *count -= 1;
    mapped_count_locked(-(int64_t)z->size, -1);
    zone_list_push(doomed, z);
}

/* Decay: the zones of l idle for longer than the decay time (the oldest
 * are at the tail).  zm.lock held. */
void zone_list_take_idle_locked(struct zone_list *l, uint64_t now_ms, struct zone_list *doomed,
                                uint64_t *bytes, uint64_t *count)
{
    zm_assert_global_held();
    while (l->tail != NULL && now_ms - l->tail->idle_since_ms >= zm.options.decay_ms)
        doom_locked(l, l->tail, doomed, bytes, count);
}

/* The pool's list for a zone: one per TINY class, one for SMALL.  A zone
 * goes back to serving the class it served: its pages still resident are
 * the ones that class used, not another class's high-water mark. */
unsigned pool_list_of(enum zone_kind kind, unsigned size_class)
{
    return kind == ZONE_TINY ? size_class : TINY_CLASSES;
}

static void pool_decay_locked(uint64_t now_ms, struct zone_list *doomed)
{
    zm_assert_global_held();
    for (unsigned i = 0; i < POOL_LISTS; i++)
        zone_list_take_idle_locked(&zm.pool[i], now_ms, doomed, &zm.pool_bytes, &zm.pool_zones);
}

/* An empty zone for a class (for SMALL, any), the most recently pooled,
 * or NULL; the zones that decayed meanwhile move to doomed.  zm.lock held. */
struct zone *pool_take_locked(enum zone_kind kind, unsigned size_class, struct zone_list *doomed)
{
    struct zone_list *l = &zm.pool[pool_list_of(kind, size_class)];
    struct zone *z;

    zm_assert_global_held();
    z = l->head;
    if (z != NULL) {
        zone_list_remove(l, z);
        zm.pool_bytes -= z->size;
        zm.pool_zones--;
    }
    pool_decay_locked(os_now_ms(), doomed);
    return z;
}

/* The zone pooled the longest, of any class. */
static struct zone_list *oldest_list(void)
{
    struct zone_list *oldest = NULL;

    for (unsigned i = 0; i < POOL_LISTS; i++)
        if (zm.pool[i].tail != NULL &&
            (oldest == NULL || zm.pool[i].tail->idle_since_ms < oldest->tail->idle_since_ms))
            oldest = &zm.pool[i];
    return oldest;
}

/* An empty zone (out of its arena, arena NULL) into the pool; what decays
 * or exceeds the bound moves to doomed, for the caller to unmap once
 * zm.lock is released.  zm.lock held. */
void pool_put_locked(struct zone *z, struct zone_list *doomed)
{
    uint64_t now = os_now_ms();

    zm_assert_global_held();
    zm_assert(z->magic == ZONE_MAGIC && z->arena == NULL);
    z->idle_since_ms = now;
    zone_list_push(&zm.pool[pool_list_of((enum zone_kind)z->kind, z->size_class)], z);
    zm.pool_bytes += z->size;
    zm.pool_zones++;
    pool_decay_locked(now, doomed);
    while (zm.pool_bytes > POOL_MAX_BYTES) {
        struct zone_list *l = oldest_list();
        doom_locked(l, l->tail, doomed, &zm.pool_bytes, &zm.pool_zones);
    }
}

/* Every pooled zone to doomed (zm_trim).  zm.lock held. */
void pool_trim_locked(struct zone_list *doomed)
{
    zm_assert_global_held();
    for (unsigned i = 0; i < POOL_LISTS; i++)
        while (zm.pool[i].tail != NULL)
            doom_locked(&zm.pool[i], zm.pool[i].tail, doomed, &zm.pool_bytes, &zm.pool_zones);
}
