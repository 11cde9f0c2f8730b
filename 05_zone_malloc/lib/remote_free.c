/*
 * remote_free.c - blocks freed far from home, sent back without a lock.
 *
 * A thread frees blocks into its own cache whoever allocated them
 * (thread_cache.c), and reuses them from there.  When the cache overflows,
 * the blocks of its own arena go back to their zones under that arena's
 * lock.  The others belong to arenas other threads are working in: taking
 * those arenas' locks to give them back is what made two threads that pass
 * blocks to each other (a producer and a consumer) wait for each other.
 * Instead, each arena has one remote list per class, and the blocks go
 * there - linked together first, then published with one compare-and-swap:
 *
 *   freeing thread:   chain the blocks (their first word links them), then
 *                     CAS the arena's list head from H to the chain, whose
 *                     last link is H; repeat if H changed meanwhile
 *   owning thread:    when its cache for that class is empty, take the
 *                     whole list with one exchange (to NULL), under its own
 *                     arena's lock, which nobody else wants
 *
 * This is mimalloc's "thread-delayed free", per arena and class instead
 * of per page.  The list never needs ABA protection: nobody removes one
 * block from it, only the whole list at once.  A block on a remote list
 * stays CACHED, counted as used by its zone (R1): nothing is lost, and the
 * heap checker walks the lists under the arena locks.
 *
 * An arena whose threads have all exited has nobody to collect its lists:
 * the sender drains them itself when it sees no thread attached, and the
 * last thread to leave an arena drains them as it goes (thread_cache.c).
 * Both read the count after publishing (sequentially consistent atomics on
 * both sides), so at least one of them sees the other's blocks.
 */
#include "zm_internal.h"

void remote_chain_add(struct remote_chain *chain, void *ptr)
{
    *(void **)ptr = chain->head;
    chain->head = ptr;
    if (chain->tail == NULL)
        chain->tail = ptr;
    chain->count++;
}

/* Publish a chain on its arena's remote list; if no thread is attached to
 * that arena, give its remote blocks back to their zones now.  No lock
 * held. */
void remote_send(struct remote_chain *chain)
{
    struct arena *a = chain->arena;
    _Atomic(void *) *head;
    void *old;

    if (chain->head == NULL)
        return;
    head = &a->remote[chain->size_class];
    old = atomic_load_explicit(head, memory_order_relaxed);
    do
        *(void **)chain->tail = old; /* the chain's last link: the list as it is */
    while (!atomic_compare_exchange_weak(head, &old, chain->head));
    atomic_fetch_add_explicit(&zm.remote_frees, chain->count, memory_order_relaxed);
    chain->head = chain->tail = NULL;
    chain->count = 0;
    if (atomic_load(&a->threads) == 0) {
        arena_lock(a);
        remote_drain_locked(a);
        arena_unlock(a);
    }
}

/*
 * Take arena a's remote list of a class: up to most blocks onto *list,
 * still CACHED, for a thread cache; the rest back to their zones.  Returns
 * how many went onto *list.  a->lock held.
 */
uint32_t remote_take_locked(struct arena *a, unsigned size_class, uint32_t most, void **list)
{
    void *p = NULL;
    uint32_t taken = 0;

    zm_assert_held(a);
    /* Look before taking: an exchange writes the line even when the list
     * is empty, and takes it away from the threads sending to it. */
    if (atomic_load_explicit(&a->remote[size_class], memory_order_relaxed) != NULL)
        p = atomic_exchange(&a->remote[size_class], NULL);
    while (p != NULL) {
        void *next = *(void **)p;
        zm_assert(block_of(p)->magic == BLOCK_MAGIC && block_of(p)->size_class == size_class);
        if (taken < most) {
            *(void **)p = *list;
            *list = p;
            taken++;
        } else {
            block_give_back_locked(a, size_class, p);
        }
        p = next;
    }
    return taken;
}

/* Every remote block of a back to its zone.  a->lock held. */
void remote_drain_locked(struct arena *a)
{
    zm_assert_held(a);
    for (unsigned c = 0; c < CACHE_CLASSES; c++)
        remote_take_locked(a, c, 0, NULL);
}
