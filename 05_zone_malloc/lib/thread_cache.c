/*
 * thread_cache.c - each thread's stacks of free blocks, one per class:
 * the TINY classes, and the SMALL ones up to SMALL_CACHE_MAX.
 *
 * zm_malloc and zm_free (malloc_api.c) pop and push these stacks without
 * a lock or an atomic instruction: only the owning thread touches them.
 * This file is their slow side:
 *   - a stack that runs dry is refilled under the arena's lock: first with
 *     what other threads sent home on the arena's remote list of that
 *     class (remote_free.c), else with a batch of blocks from its zones.
 *     The first batch of a class is about a page's worth, and each refill
 *     doubles it up to a quarter of the stack: a small program touches
 *     little, and what a batch brings in ahead of need stays small;
 *   - a stack that fills up gives half its blocks back: its own arena's to
 *     their zones, under the lock; another arena's to that arena's remote
 *     list, without a lock.
 * A block freed by another thread than the one that allocated it simply
 * joins the freeing thread's stack, and is reused from there.  When a
 * thread exits, a pthread_key_create destructor empties its cache.
 */
#include "zm_internal.h"

#include <errno.h>

enum { BATCH_SHARE = 4 }; /* a refill takes at most a quarter of a stack's limit */

/*
 * Blocks a stack may hold: about CACHE_BYTES of a TINY class (16 to 256
 * blocks), SMALL_CACHE_BYTES of a SMALL one (SMALL_CACHE_LEAST to 64).
 *
 * Why a floor in blocks, not bytes: a thread that both allocates and frees
 * a class moves its stack up and down at random, and every time the stack
 * runs empty or full it takes the arena's lock.  The calls between two such
 * trips grow faster than the depth (with its square, for a fair random walk),
 * while the memory a stack holds grows only as fast as its depth.  With
 * stacks of 4 blocks, what 32 KiB holds of the classes above 8 KiB, bench/'s
 * random sizes across threads took a lock once every 4 mallocs; with 8
 * blocks, once every 9.  Only 16 KiB of each class above the floor keeps a
 * thread's SMALL stacks within about 0.85 MiB, and producer/consumer's peak
 * RSS where it was.
 */
static uint32_t cache_limit(unsigned size_class)
{
    uint32_t bytes = size_class < TINY_CLASSES ? CACHE_BYTES : SMALL_CACHE_BYTES;
    uint32_t least = size_class < TINY_CLASSES ? 16 : SMALL_CACHE_LEAST,
             most = size_class < TINY_CLASSES ? 256 : 64;
    uint32_t blocks = bytes / class_size[size_class];

    return blocks < least ? least : blocks > most ? most : blocks;
}

/* The first refill of a class: a page's worth of blocks, at least one, at
 * most a quarter of the stack (the most any refill takes). */
static uint32_t first_batch(unsigned size_class, uint32_t limit)
{
    uint32_t blocks = FIRST_BATCH_BYTES / class_block_bytes(size_class);
    uint32_t most = limit / BATCH_SHARE;

    return blocks < 1 ? 1 : blocks > most ? most : blocks;
}

static void thread_exit(void *arg);

/* The key whose destructor flushes an exiting thread's cache, made by the
 * first thread that starts.  False if the C library could not make one. */
static bool thread_key_ready(void)
{
    bool ready;

    global_lock();
    if (zm.thread_key_state == KEY_NONE)
        zm.thread_key_state =
            pthread_key_create(&zm.thread_key, thread_exit) == 0 ? KEY_MADE : KEY_FAILED;
    ready = zm.thread_key_state == KEY_MADE;
    global_unlock();
    return ready;
}

/*
 * A thread's first slow-path call: attach an arena, register for a
 * destructor at thread exit, and turn the cache on unless a debug option
 * wants every call to go through the debug path.  The state moves on
 * before pthread_setspecific, so that if it ever allocated, the nested
 * call would not come back here.
 */
struct thread_cache *thread_start(void)
{
    struct thread_cache *c = &zm_thread_cache;

    if (c->state != CACHE_NEW)
        return c;
    c->state = CACHE_OFF;
    thread_arena();
    if (!thread_key_ready() || pthread_setspecific(zm.thread_key, c) != 0)
        return c; /* no destructor to flush it: no cache */
    if (zm.options.debug)
        return c;
    for (unsigned i = 0; i < CACHE_CLASSES; i++) {
        c->bins[i].limit = cache_limit(i);
        c->bins[i].batch = first_batch(i, c->bins[i].limit);
    }
    c->state = CACHE_ON;
    return c;
}

/* Refill the stack of a class: the arena's remote blocks, else a batch
 * from its zones (the next batch twice as big).  Returns how many. */
static uint32_t cache_refill(struct thread_cache *c, unsigned size_class)
{
    struct cache_bin *bin = &c->bins[size_class];
    struct arena *a = c->arena;
    uint32_t got;

    arena_lock(a);
    got = remote_take_locked(a, size_class, bin->limit - bin->count, &bin->head);
    if (got == 0) {
        got = size_class < TINY_CLASSES ? tiny_take_locked(a, size_class, bin->batch, &bin->head)
                                        : small_take_locked(a, size_class, bin->batch, &bin->head);
        uint32_t most = bin->limit / BATCH_SHARE;
        bin->batch = bin->batch * 2 < most ? bin->batch * 2 : most;
    }
    arena_unlock(a);
    bin->count += got;
    return got;
}

/* Pop one block of size's class (size <= SMALL_CACHE_MAX), refilling the
 * stack first. */
void *cache_refill_pop(struct thread_cache *c, size_t size)
{
    unsigned size_class = class_of(size);

    if (cache_refill(c, size_class) == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return cache_pop(&c->bins[size_class], used_state(size_class), size);
}

/*
 * Give n blocks of a stack back: those of this thread's arena to their
 * zones, under its lock; the others, chained by home arena, to their
 * arenas' remote lists.  A chain is sent with no lock held (sending may
 * drain an arena nobody is attached to, under that arena's lock).
 */
static void cache_flush(struct thread_cache *c, unsigned size_class, uint32_t n)
{
    struct cache_bin *bin = &c->bins[size_class];
    struct arena *own = c->arena;
    struct remote_chain chain = {.size_class = size_class};
    bool locked = false;

    for (; n > 0 && bin->head != NULL; n--) {
        void *ptr = bin->head;
        struct arena *home = arena_of_class_block(block_of(ptr), size_class);
        bin->head = *(void **)ptr;
        bin->count--;
        if (home == own) {
            if (!locked)
                arena_lock(own);
            locked = true;
            block_give_back_locked(own, size_class, ptr);
            continue;
        }
        if (chain.arena != home && chain.head != NULL) {
            if (locked)
                arena_unlock(own);
            locked = false;
            remote_send(&chain);
        }
        chain.arena = home;
        remote_chain_add(&chain, ptr);
    }
    if (locked)
        arena_unlock(own);
    remote_send(&chain);
}

/* Push ptr (USED, of a cached class) on a full stack: give half of the
 * stack back first. */
void cache_flush_push(struct thread_cache *c, void *ptr)
{
    unsigned size_class = block_of(ptr)->size_class;
    struct cache_bin *bin = &c->bins[size_class];

    if (!cache_has_room(bin))
        cache_flush(c, size_class, bin->limit / 2);
    cache_push(bin, ptr, cached_state(size_class));
}

void cache_flush_all(struct thread_cache *c)
{
    for (unsigned i = 0; i < CACHE_CLASSES; i++)
        cache_flush(c, i, UINT32_MAX);
}

/* The calling thread's cache, and what other threads sent home to its
 * arena, back to their zones. */
void zm_flush_thread_cache(void)
{
    struct thread_cache *c = &zm_thread_cache;

    if (c->arena == NULL)
        return; /* this thread never allocated */
    cache_flush_all(c);
    arena_lock(c->arena);
    remote_drain_locked(c->arena);
    arena_unlock(c->arena);
}

/*
 * The thread-key destructor: the thread is exiting.  Its cached blocks go
 * back to their zones (or home), and its arena is free for the next thread;
 * if it was the arena's last thread, what others sent home to it goes back
 * to the zones too (see remote_free.c for why this cannot miss a block).
 * The C library may still call free() for this thread after this (its own
 * thread-local buffers): the cache stays off and those calls take the
 * uncached path.
 */
static void thread_exit(void *arg)
{
    struct thread_cache *c = arg;
    struct arena *a = c->arena;

    cache_flush_all(c);
    for (unsigned i = 0; i < CACHE_CLASSES; i++)
        c->bins[i].limit = 0;
    c->state = CACHE_EXITED;
    if (arena_detach(a) == 0) {
        arena_lock(a);
        remote_drain_locked(a);
        arena_unlock(a);
    }
}
