/*
 * arena.c - the allocator's state, its start, its arenas and locks, and
 * what happens to them across fork().
 *
 * Each thread attaches to an arena of its own (up to ARENA_MAX; after that
 * threads share the least used one).  An arena owns zones and has one
 * lock, taken only on the slow paths: a thread's TINY allocations are served
 * from its cache (thread_cache.c), and refill it in batches.
 */
#include "zm_internal.h"

#include <unistd.h>

struct zm_state zm = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .stats_fd = 2,
    .log_fd = -1,
};

_Thread_local struct thread_cache zm_thread_cache __attribute__((tls_model("initial-exec")));

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

/*
 * Called by the first allocation.  Nothing here may allocate: no stdio, no
 * getenv-style helpers that might, no pthread call that might.  The atfork
 * registration comes last, once the allocator already works, in case the
 * C library ever allocates while registering.
 */
void zm_init(void)
{
    pthread_mutex_lock(&zm.lock);
    if (atomic_load_explicit(&zm.initialised, memory_order_relaxed)) {
        pthread_mutex_unlock(&zm.lock);
        return;
    }
    for (unsigned i = 0; i < ARENA_MAX; i++)
        pthread_mutex_init(&zm.arenas[i].lock, NULL);
    zm.page = (size_t)sysconf(_SC_PAGESIZE);
    debug_read_options(); /* also sets fork_handlers_on from the environment */
    if (pthread_key_create(&zm.thread_key, thread_exit) != 0)
        zm.no_thread_key = true; /* no destructor: threads run without caches */
    atomic_store_explicit(&zm.initialised, true, memory_order_release);
    pthread_mutex_unlock(&zm.lock);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* The arena with no thread, or a new one, or the least used. */
struct arena *arena_attach(void)
{
    struct arena *best = NULL;

    pthread_mutex_lock(&zm.lock);
    for (unsigned i = 0; i < zm.arena_count && best == NULL; i++)
        if (zm.arenas[i].threads == 0)
            best = &zm.arenas[i];
    if (best == NULL && zm.arena_count < ARENA_MAX)
        best = &zm.arenas[zm.arena_count++];
    if (best == NULL) {
        best = &zm.arenas[0];
        for (unsigned i = 1; i < zm.arena_count; i++)
            if (zm.arenas[i].threads < best->threads)
                best = &zm.arenas[i];
    }
    best->threads++;
    pthread_mutex_unlock(&zm.lock);
    return best;
}

void arena_detach(struct arena *a)
{
    pthread_mutex_lock(&zm.lock);
    a->threads--;
    pthread_mutex_unlock(&zm.lock);
}

/* Every arena lock, lowest index first, then the global one: the order
 * every other path takes them in, so this cannot deadlock with them. */
void zm_lock_all(void)
{
    zm_ensure_init();
    for (unsigned i = 0; i < ARENA_MAX; i++)
        pthread_mutex_lock(&zm.arenas[i].lock);
    pthread_mutex_lock(&zm.lock);
}

void zm_unlock_all(void)
{
    pthread_mutex_unlock(&zm.lock);
    for (unsigned i = ARENA_MAX; i-- > 0;)
        pthread_mutex_unlock(&zm.arenas[i].lock);
}

void zm_set_fork_handlers(int on)
{
    zm_ensure_init();
    atomic_store(&zm.fork_handlers_on, on != 0);
}

int zm_fork_handlers(void)
{
    zm_ensure_init();
    return atomic_load(&zm.fork_handlers_on);
}

/*
 * Before fork: take every lock, so that no other thread is inside the
 * allocator at the instant the address space is copied.  The child then
 * starts with every zone and list in a consistent state.
 */
static void fork_prepare(void)
{
    if (!atomic_load(&zm.fork_handlers_on))
        return;
    zm_lock_all();
    atomic_store(&zm.locked_for_fork, true);
}

static void fork_parent(void)
{
    if (!atomic_load(&zm.locked_for_fork))
        return;
    atomic_store(&zm.locked_for_fork, false);
    zm_unlock_all();
}

/*
 * In the child only the forking thread exists.  The locks it took are made
 * new rather than unlocked (the child's thread is not, formally, the thread
 * that locked them).  The other threads' caches are gone with them: their
 * blocks stay counted as used, a leak the size of a few caches.
 */
static void fork_child(void)
{
    struct arena *mine = zm_thread_cache.arena;

    if (!atomic_load(&zm.locked_for_fork))
        return;
    atomic_store(&zm.locked_for_fork, false);
    for (unsigned i = 0; i < ARENA_MAX; i++) {
        pthread_mutex_init(&zm.arenas[i].lock, NULL);
        zm.arenas[i].threads = 0;
    }
    pthread_mutex_init(&zm.lock, NULL);
    if (mine != NULL && zm_thread_cache.state != CACHE_EXITED)
        mine->threads = 1;
}
