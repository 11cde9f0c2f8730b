/*
 * thread_cache.c - each thread's stacks of free TINY blocks.
 *
 * zm_malloc and zm_free (malloc_api.c) pop and push these stacks without
 * a lock or an atomic instruction: only the owning thread touches them.
 * This file is their slow side: a stack that runs dry is refilled with a
 * batch of blocks from the arena, under its lock, and a stack that fills
 * up gives half of its blocks back.  A block freed by another thread than
 * the one that allocated it simply joins the freeing thread's stack; when
 * flushed, it goes back to the zone it came from, under that zone's arena
 * lock (zone->arena).
 */
#include "zm_internal.h"

#include <errno.h>

/* Blocks a stack may hold: about CACHE_BYTES, between 16 and 256. */
static uint32_t cache_limit(unsigned size_class)
{
    uint32_t blocks = CACHE_BYTES / tiny_class_size[size_class];

    return blocks < 16 ? 16 : blocks > 256 ? 256 : blocks;
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
    for (unsigned i = 0; i < TINY_CLASSES; i++)
        c->bins[i].limit = cache_limit(i);
    c->state = CACHE_ON;
    return c;
}

/* Pop one block of size's class, refilling the stack with half its limit
 * first. */
void *cache_refill_pop(struct thread_cache *c, size_t size)
{
    unsigned size_class = tiny_class_of(size);
    struct cache_bin *bin = &c->bins[size_class];
    struct arena *a = c->arena;
    void *ptr;

    arena_lock(a);
    bin->count += tiny_take_locked(a, size_class, bin->limit / 2, &bin->head);
    arena_unlock(a);
    ptr = bin->head;
    if (ptr == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    bin->head = *(void **)ptr;
    bin->count--;
    block_of(ptr)->state = TINY_USED;
    block_of(ptr)->request = (uint32_t)size;
    return ptr;
}

/* Give n blocks of a stack back to their zones, holding one arena lock at
 * a time (blocks freed here by other threads may come from other arenas). */
static void cache_flush(struct cache_bin *bin, uint32_t n)
{
    struct arena *locked = NULL;

    for (; n > 0 && bin->head != NULL; n--) {
        void *ptr = bin->head;
        struct arena *a = zone_of_tiny(block_of(ptr))->arena;
        bin->head = *(void **)ptr;
        bin->count--;
        if (a != locked) {
            if (locked != NULL)
                arena_unlock(locked);
            arena_lock(a);
            locked = a;
        }
        tiny_give_back_locked(a, ptr);
    }
    if (locked != NULL)
        arena_unlock(locked);
}

/* Push ptr on a full stack: give half of the stack back first. */
void cache_flush_push(struct thread_cache *c, void *ptr)
{
    struct block *b = block_of(ptr);
    struct cache_bin *bin = &c->bins[b->size_class];

    if (bin->count >= bin->limit)
        cache_flush(bin, bin->limit / 2);
    b->state = TINY_CACHED;
    *(void **)ptr = bin->head;
    bin->head = ptr;
    bin->count++;
}

void cache_flush_all(struct thread_cache *c)
{
    for (unsigned i = 0; i < TINY_CLASSES; i++)
        cache_flush(&c->bins[i], UINT32_MAX);
}

void zm_flush_thread_cache(void)
{
    cache_flush_all(&zm_thread_cache);
}

/*
 * The thread-key destructor: the thread is exiting.  Its cached blocks go
 * back to their zones and its arena is free for the next thread.  The C
 * library may still call free() for this thread after this (its own
 * thread-local buffers): the cache stays off and those calls take the
 * uncached path.
 */
static void thread_exit(void *arg)
{
    struct thread_cache *c = arg;

    cache_flush_all(c);
    for (unsigned i = 0; i < TINY_CLASSES; i++)
        c->bins[i].limit = 0;
    c->state = CACHE_EXITED;
    arena_detach(c->arena);
}
