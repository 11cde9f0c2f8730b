/*
 * shalloc_lock.c - the robust mutexes (layer 2): making them, taking the
 * region lock without ever waiting for ever, and knowing who holds it.
 *
 * The mutexes live in the region, so they are PTHREAD_PROCESS_SHARED, and
 * PTHREAD_MUTEX_ROBUST: when a holder dies the kernel releases the lock
 * and the next taker gets EOWNERDEAD.  What to repair then is the business
 * of the layers above (shalloc_repair.c); this file only reports it.
 *
 * lock_owner, next to the region lock, holds the thread id of its holder:
 * written just after taking the lock, cleared just before releasing it, so
 * that shalloc_assert can check "the lock is held by this thread" in every
 * *_locked function.  It is written in every build, asserts or not, so a
 * region means the same to every process that maps it.
 */
#include "shalloc_internal.h"

#include <sched.h>
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

int shalloc_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    int err = pthread_mutexattr_init(&attr);

    if (err == 0)
        err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err == 0)
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (err == 0)
        err = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return err;
}

void shalloc_mutex_consistent(pthread_mutex_t *m)
{
    if (pthread_mutex_consistent(m) != 0)
        shalloc_panic("cannot mark a repaired lock consistent", m);
}

void shalloc_mutex_unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0) /* EPERM: a robust mutex knows its holder */
        shalloc_panic("release of a lock by a thread that does not hold it", m);
}

/* ---- who holds the lock ------------------------------------------------ */

/* This thread's id, asked of the kernel once per thread: 0 until then, and
 * again in the child of a fork (where the thread has a new id). */
static _Thread_local pid_t thread_id;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

static void forget_thread_id(void)
{
    thread_id = 0;
}

static void register_fork_handler(void)
{
    if (pthread_atfork(NULL, NULL, forget_thread_id) != 0)
        shalloc_panic("cannot register a fork handler (pthread_atfork)", NULL);
}

static pid_t current_thread_id(void)
{
    if (unlikely(thread_id == 0)) {
        pthread_once(&fork_handler_once, register_fork_handler);
        thread_id = gettid();
    }
    return thread_id;
}

bool shalloc_region_lock_held(const struct shalloc *h)
{
    return atomic_load_explicit(&region_of(h)->lock_owner, memory_order_relaxed) ==
           current_thread_id();
}

/* ---- taking and releasing ---------------------------------------------- */

/* Sleep on the lock until a deadline LOCK_RETRY_NS away. */
static SHALLOC_COLD int wait_until_deadline(pthread_mutex_t *lock)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline); /* what timedlock measures against */
    deadline.tv_nsec += LOCK_RETRY_NS;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    return pthread_mutex_timedlock(lock, &deadline);
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

    while ((*err = pthread_mutex_trylock(lock)) == EBUSY) {
        if (UNDER_TSAN) {
            sched_yield(); /* TSan: see UNDER_TSAN above */
            continue;
        }
        *err = wait_until_deadline(lock);
        if (*err != ETIMEDOUT)
            return timeouts;
        timeouts++;
    }
    return timeouts; /* free (or its owner dead): no clock read, no sleep */
}

int shalloc_region_lock_take(struct shalloc *h, unsigned *timeouts)
{
    struct region *r = region_of(h);
    int err;

    *timeouts = wait_for_lock(&r->lock, &err);
    if (err != 0 && err != EOWNERDEAD)
        shalloc_panic("cannot take the region lock", &r->lock);
    atomic_store_explicit(&r->lock_owner, current_thread_id(), memory_order_relaxed);
    return err;
}

void shalloc_region_lock_release(struct shalloc *h)
{
    struct region *r = region_of(h);

    shalloc_assert(shalloc_region_lock_held(h));
    atomic_store_explicit(&r->lock_owner, 0, memory_order_relaxed);
    shalloc_mutex_unlock(&r->lock);
}
