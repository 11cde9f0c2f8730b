/*
 * state.c - the allocator's state, its start, its arenas and locks, and
 * what happens to them across fork().
 *
 * Each thread attaches to an arena of its own (up to ARENA_MAX; after that
 * threads share the least used one).  An arena owns zones and has one
 * lock, taken only on the slow paths: a thread's TINY allocations are served
 * from its cache (thread_cache.c), and refill it in batches.
 */
#include "zm_internal.h"

#include <unistd.h>

/* Zeros until zm_init (a zero mutex is PTHREAD_MUTEX_INITIALIZER): so the
 * state is in .bss, and its pages cost nothing until they are touched. */
struct zm_state zm = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

_Thread_local struct thread_cache zm_thread_cache __attribute__((tls_model("initial-exec")));

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

/*
 * Called by the first allocation.  Nothing here may allocate: no stdio, no
 * getenv-style helpers that might, no pthread call that might.
 */
void zm_init(void)
{
    global_lock();
    if (atomic_load_explicit(&zm.initialised, memory_order_relaxed)) {
        global_unlock();
        return;
    }
    for (unsigned i = 0; i < ARENA_MAX; i++)
        pthread_mutex_init(&zm.arenas[i].lock, NULL);
    zm.page = (size_t)sysconf(_SC_PAGESIZE);
    options_read(&zm.options);
    atomic_store(&zm.fork_handlers_on, !zm.options.no_atfork);
    atomic_store_explicit(&zm.initialised, true, memory_order_release);
    global_unlock();
}

/*
 * The fork handlers are registered when the library is loaded, while the
 * program has one thread, not at the first allocation: a thread's first
 * call may be the one inside zm_init, holding zm.lock, at the instant
 * another thread forks, and the child must not inherit that lock held.
 * (pthread_atfork may allocate: that is a first call like any other.)
 */
__attribute__((constructor)) static void register_fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* The arena with no thread, or a new one, or the least used. */
static struct arena *arena_attach(void)
{
    struct arena *best = NULL;

    global_lock();
    for (unsigned i = 0; i < zm.arena_count && best == NULL; i++)
        if (atomic_load(&zm.arenas[i].threads) == 0)
            best = &zm.arenas[i];
    if (best == NULL && zm.arena_count < ARENA_MAX)
        best = &zm.arenas[zm.arena_count++];
    if (best == NULL) {
        best = &zm.arenas[0];
        for (unsigned i = 1; i < zm.arena_count; i++)
            if (atomic_load(&zm.arenas[i].threads) < atomic_load(&best->threads))
                best = &zm.arenas[i];
    }
    atomic_fetch_add(&best->threads, 1);
    global_unlock();
    return best;
}

struct arena *thread_arena(void)
{
    struct thread_cache *c = &zm_thread_cache;

    if (unlikely(c->arena == NULL))
        c->arena = arena_attach();
    return c->arena;
}

/* A thread leaves its arena; returns how many threads are still attached. */
unsigned arena_detach(struct arena *a)
{
    unsigned left;

    global_lock();
    left = atomic_fetch_sub(&a->threads, 1) - 1;
    global_unlock();
    return left;
}

/* Every arena lock, lowest index first, then the global one: the order
 * every other path takes them in, so this cannot deadlock with them. */
void zm_lock_all(void)
{
    zm_ensure_init();
    for (unsigned i = 0; i < ARENA_MAX; i++)
        arena_lock(&zm.arenas[i]);
    global_lock();
}

void zm_unlock_all(void)
{
    global_unlock();
    for (unsigned i = ARENA_MAX; i-- > 0;)
        arena_unlock(&zm.arenas[i]);
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
 * starts with every zone and list in a consistent state.  First, wait for
 * (or do) the allocator's start, which another thread may be in.
 */
static void fork_prepare(void)
{
    zm_ensure_init();
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
 * blocks stay counted as used, a leak the size of a few caches.  Remote
 * lists, the pool and the large cache are consistent (each change to them
 * is one atomic step, or made under a lock the prepare handler took); the
 * other threads' arenas now have no thread, so what is sent home to them
 * from here on is given back to their zones at once (remote_free.c).
 */
static void fork_child(void)
{
    struct arena *mine = zm_thread_cache.arena;

    if (!atomic_load(&zm.locked_for_fork))
        return;
    atomic_store(&zm.locked_for_fork, false);
    for (unsigned i = 0; i < ARENA_MAX; i++) {
        pthread_mutex_init(&zm.arenas[i].lock, NULL);
        zm.arenas[i].owner = NULL;
        atomic_store(&zm.arenas[i].threads, 0);
    }
    pthread_mutex_init(&zm.lock, NULL);
    zm.lock_owner = NULL;
    if (mine != NULL && zm_thread_cache.state != CACHE_EXITED)
        atomic_store(&mine->threads, 1);
}
