/*
 * shalloc_lock.c - the robust mutexes (layer 2): making them, telling a
 * lock from garbage, taking the region lock without ever waiting for ever,
 * and knowing who holds it.
 *
 * The mutexes live in the region, so they are PTHREAD_PROCESS_SHARED, and
 * PTHREAD_MUTEX_ROBUST: when a holder dies the kernel releases the lock
 * and the next taker gets EOWNERDEAD.  What to repair then is the business
 * of the layers above (shalloc_repair.c); this file only reports it.
 *
 * Living in the region, a mutex is also input: before glibc sees one, its
 * kind must be the kind shalloc makes (a garbage kind could send glibc down
 * the priority-inheritance path, or into a private futex no one wakes), and
 * a wait that runs out looks at who the lock word says holds it: a thread
 * that does not exist, this very thread, or no thread at all, for long
 * enough, means the word is garbage, and the region is corrupt.
 *
 * lock_owner, next to the region lock, holds the thread id of its holder:
 * written just after taking the lock, cleared just before releasing it, so
 * that shalloc_assert can check "the lock is held by this thread" in every
 * *_locked function.  It is written in every build, asserts or not, so a
 * region means the same to every process that maps it.
 */
#include "shalloc_internal.h"

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

enum {
    LOCK_RETRY_NS = 20000000, /* 20 ms: far longer than any normal hold */
    TSAN_SPINS = 100000,      /* under TSan: yields that count as one wait */
    ODD_WAITS = 3,            /* waits in a row with an unbelievable holder: garbage */
    SPIN_LOOKS = 1000,        /* looks at a held lock before sleeping on it */
};

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

/* A pause in a spin: tells the processor (and a hypervisor) we are waiting. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

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

/* ---- is it a lock? -------------------------------------------------------- */

/* glibc's mutex keeps its kind (robust, shared, normal) in __data.__kind
 * and its holder's thread id in the low bits of __data.__lock.  Elsewhere
 * nothing is checked. */
#ifdef __GLIBC__
static pthread_mutex_t reference; /* one made here, to compare with */
static pthread_once_t reference_once = PTHREAD_ONCE_INIT;

static void make_reference(void)
{
    if (shalloc_mutex_init(&reference) != 0)
        shalloc_panic("cannot make a robust process-shared mutex", &reference);
}

bool shalloc_mutex_valid(const pthread_mutex_t *m)
{
    pthread_once(&reference_once, make_reference);
    return m->__data.__kind == reference.__data.__kind;
}

pid_t shalloc_mutex_holder(const pthread_mutex_t *m)
{
    return (pid_t)((unsigned)atomic_load_explicit((const _Atomic int *)&m->__data.__lock,
                                                  memory_order_relaxed) &
                   FUTEX_TID_MASK);
}

/* glibc's mark of a robust mutex unlocked after EOWNERDEAD without being
 * made consistent (nptl's PTHREAD_MUTEX_NOTRECOVERABLE).  Asked first:
 * glibc's trylock of such a mutex returns ENOTRECOVERABLE but leaves its
 * lock word holding the caller's id, so no one could take it again. */
enum { GLIBC_MUTEX_NOTRECOVERABLE = 0x7ffffffe };

bool shalloc_mutex_lost(const pthread_mutex_t *m)
{
    return m->__data.__owner == GLIBC_MUTEX_NOTRECOVERABLE;
}
#else
bool shalloc_mutex_valid(const pthread_mutex_t *m)
{
    (void)m;
    return true;
}

pid_t shalloc_mutex_holder(const pthread_mutex_t *m)
{
    (void)m;
    return -1; /* unknown: never called garbage */
}

bool shalloc_mutex_lost(const pthread_mutex_t *m)
{
    (void)m;
    return false;
}
#endif

bool shalloc_thread_exists(pid_t tid)
{
    return tid > 0 && (kill(tid, 0) == 0 || errno == EPERM);
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

/* The same under TSan: yield TSAN_SPINS times, polling trylock. */
static SHALLOC_COLD int spin_until_deadline(pthread_mutex_t *lock)
{
    int err = EBUSY;

    for (int i = 0; i < TSAN_SPINS && err == EBUSY; i++) {
        sched_yield();
        err = pthread_mutex_trylock(lock);
    }
    return err == EBUSY ? ETIMEDOUT : err;
}

/* A holder keeps the lock for a microsecond or so: watch the lock word a
 * while (SPIN_LOOKS pauses, some microseconds to some tens of them, by the
 * processor's pause) before sleeping in the kernel, which costs a system
 * call on each side and a wake-up.  On the 2-core machine of the README, two
 * processes on mixed sizes went from 25 to 31-35 million operations a
 * second with it.  EBUSY: still held after SPIN_LOOKS looks. */
static int spin_for_lock(pthread_mutex_t *lock)
{
    for (int i = 0; i < SPIN_LOOKS; i++) {
        cpu_relax();
        if (shalloc_mutex_holder(lock) <= 0) { /* free, or not glibc: try */
            int err = pthread_mutex_trylock(lock);
            if (err != EBUSY)
                return err;
        }
    }
    return EBUSY;
}

/* After a wait ran out: could the thread the lock word names hold it?  Not
 * if it is this thread, or no thread on this system; and not if the word
 * names no thread, or another than lock_owner says, ODD_WAITS times in a
 * row (a live holder writes lock_owner a few instructions after taking the
 * lock, and a free lock is taken at the next try). */
static bool holder_believable(const pthread_mutex_t *lock, const _Atomic int32_t *recorded,
                              unsigned *odd)
{
    pid_t tid = shalloc_mutex_holder(lock);

    if (tid < 0)
        return true; /* not glibc: nothing to tell */
    if (tid == current_thread_id() || (tid != 0 && !shalloc_thread_exists(tid)))
        return false;
    bool strange = tid == 0 || atomic_load_explicit(recorded, memory_order_relaxed) != tid;
    *odd = strange ? *odd + 1 : 0;
    return *odd < ODD_WAITS;
}

/*
 * Wait for the lock, but never for ever.  A waiter can miss its wake-up:
 * if the process releasing the lock is killed after clearing the lock word
 * and before waking a waiter, and a third process takes the lock in that
 * instant, nobody will wake the sleeper (the kernel's clean-up of the dead
 * process wakes a waiter only if the lock is still free by then).  So
 * sleep with a deadline and look again; *timeouts counts the looks.  And a
 * lock word that names no believable holder is garbage: ENOTRECOVERABLE.
 * A private copy of a region is never waited for: EBUSY.
 */
static int wait_for_lock(const struct shalloc *h, unsigned *timeouts)
{
    struct region *r = region_of(h);
    unsigned odd = 0;
    int err;

    while ((err = pthread_mutex_trylock(&r->lock)) == EBUSY) {
        if (h->private_copy)
            return EBUSY;
        if ((err = spin_for_lock(&r->lock)) != EBUSY)
            return err;
        err = UNDER_TSAN ? spin_until_deadline(&r->lock) : wait_until_deadline(&r->lock);
        if (err != ETIMEDOUT)
            return err;
        ++*timeouts;
        if (!holder_believable(&r->lock, &r->lock_owner, &odd))
            return ENOTRECOVERABLE;
    }
    return err; /* free (or its owner dead): no clock read, no sleep */
}

int shalloc_region_lock_take(struct shalloc *h, unsigned *timeouts)
{
    struct region *r = region_of(h);
    int err;

    *timeouts = 0;
    if (!shalloc_mutex_valid(&r->lock))
        return shalloc_corrupt(h, "the region lock is not a robust shared mutex",
                               offsetof(struct region, lock));
    if (shalloc_mutex_lost(&r->lock))
        return shalloc_corrupt(h,
                               "the region lock cannot be recovered (a repair found the "
                               "region corrupt)",
                               offsetof(struct region, lock));
    err = wait_for_lock(h, timeouts);
    if (err == EBUSY) {
        set_error(h, EBUSY, "the region lock is held by another process (this is a copy)");
        return -1;
    }
    if (err == ENOTRECOVERABLE)
        return shalloc_corrupt(h,
                               "the region lock is held by no believable thread, or cannot "
                               "be recovered",
                               offsetof(struct region, lock));
    if (err != 0 && err != EOWNERDEAD)
        return shalloc_corrupt(h, "the region lock refuses to be taken",
                               offsetof(struct region, lock));
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
