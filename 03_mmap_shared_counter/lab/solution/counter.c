/*
 * counter.c - lab 03, the reference solution.
 *
 * The predictor replays the turnstile: each child has a register of its
 * own; a page that is MAP_SHARED is one counter for all three processes,
 * and a MAP_PRIVATE one becomes three after fork() (each child's first
 * store or atomic add copies the page, so the parent's never changes).  A
 * store writes the register whatever happened since the load: an update
 * in between, plain or atomic, is lost.
 *
 * The counters: atomic_fetch_add on a lock-free atomic in the page, and a
 * mutex in the page made PTHREAD_PROCESS_SHARED (other processes take it)
 * and PTHREAD_MUTEX_ROBUST (a process dying with it held does not block
 * everyone for ever: the next locker gets EOWNERDEAD and repairs it).
 */
#include "counter.h"

#include <errno.h>

/* ------------------------------------------------------------ predict */

int predict_counter(const struct counter_scenario *s, struct counter_facts facts[])
{
    long parent = s->initial, reg[2] = {0, 0};
    long seen[2] = {(long)s->initial, (long)s->initial}; /* each child's own copy */

    for (unsigned i = 0; i < s->count; i++) {
        const struct counter_step *step = &s->steps[i];
        struct counter_facts *f = &facts[i];
        if (step->who != PARENT) {
            int me = step->who == CHILD_A ? 0 : 1;
            long *counter = s->shared ? &parent : &seen[me];
            switch (step->op) {
            case COUNTER_LOAD: reg[me] = *counter; break;
            case COUNTER_ADD: reg[me] += 1; break;
            case COUNTER_STORE: *counter = reg[me]; break;
            case COUNTER_ATOMIC_ADD: reg[me] = ++*counter; break;
            case COUNTER_REAP: break;
            }
            f->reg = reg[me];
            f->child_sees = *counter;
        }
        f->parent_sees = parent;
    }
    return 0;
}

/* ---------------------------------------------------------- implement */

int counters_init(struct counters *c)
{
    pthread_mutexattr_t attr;
    int err;

    atomic_init(&c->atomic_total, 0);
    c->locked_total = 0;
    if ((err = pthread_mutexattr_init(&attr)) != 0)
        return err;
    if ((err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) == 0 &&
        (err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) == 0)
        err = pthread_mutex_init(&c->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return err;
}

void count_atomic(struct counters *c)
{
    atomic_fetch_add(&c->atomic_total, 1); /* one indivisible read-modify-write */
}

int counter_lock(struct counters *c)
{
    int err = pthread_mutex_lock(&c->lock);

    if (err == EOWNERDEAD) {
        /* Its owner died holding it, and left what it protects as it was:
         * here locked_total, which one store changes, so it is whole and
         * the mutex can be declared consistent again. */
        int repair = pthread_mutex_consistent(&c->lock);
        if (repair != 0)
            return repair;
    }
    return err;
}

int counter_unlock(struct counters *c)
{
    return pthread_mutex_unlock(&c->lock);
}

int count_locked(struct counters *c)
{
    int err = counter_lock(c);

    if (err != 0 && err != EOWNERDEAD)
        return err;
    c->locked_total++;
    return counter_unlock(c);
}

int counters_destroy(struct counters *c)
{
    return pthread_mutex_destroy(&c->lock);
}
