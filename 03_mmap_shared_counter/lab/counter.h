/*
 * counter.h - lab 03's interface (see README.md in this folder).  Do not
 * edit: the grader compiles your counter.c against its own copy.
 *
 * Predict.  A counter lives in a page mapped before fork(); two child
 * processes, A and B, each add 1 to it a few times, one small step at a
 * time: load the counter into a register, add 1 to the register, store the
 * register back (or, where the scenario says so, one atomic add).  The
 * grader forces the order of the steps (a turnstile: each child waits for
 * its turn at every step), so what happens is exact, not luck.
 * predict_counter() gets the scenario and returns the facts after each
 * step; the grader runs it for real and compares.  Predict, do not
 * measure: it runs in a process that may not make system calls other than
 * to allocate memory and print.
 *
 * Implement.  A counter that P processes add to K times each without
 * losing one: with an atomic add, and with a process-shared, robust mutex.
 */
#ifndef COUNTER_H
#define COUNTER_H

#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------ predict */

enum { COUNTER_MAX_STEPS = 32 };

enum counter_who { CHILD_A, CHILD_B, PARENT };

enum counter_op {
    COUNTER_LOAD,       /* register = the counter, as this child's mapping has it */
    COUNTER_ADD,        /* register = register + 1 */
    COUNTER_STORE,      /* the counter (in this child's mapping) = register */
    COUNTER_ATOMIC_ADD, /* atomic_fetch_add(&counter, 1); register = the counter
                           after the add (the value returned, plus 1) */
    COUNTER_REAP,       /* PARENT, always the last step: both children have
                           exited and been reaped (waitpid) */
};

struct counter_step {
    enum counter_who who;
    enum counter_op op;
};

struct counter_scenario {
    unsigned initial; /* the counter, set by the parent before fork() */
    int shared;     /* 1: the page is MAP_SHARED | MAP_ANONYMOUS; 0: MAP_PRIVATE | MAP_ANONYMOUS */
    unsigned count; /* steps, at most COUNTER_MAX_STEPS */
    struct counter_step steps[COUNTER_MAX_STEPS];
};

/* The facts after one step.  Each child has its own register, 0 at fork. */
struct counter_facts {
    long reg;         /* after LOAD, ADD, ATOMIC_ADD: the stepping child's register */
    long child_sees;  /* private pages only, after a child's step: the counter in
                         that child's own mapping */
    long parent_sees; /* the counter as the parent reads it in its mapping */
};

/*
 * Predict the facts after each of s->count steps into facts[0 .. count-1].
 * Return 0, or -1 if you make no prediction.
 */
int predict_counter(const struct counter_scenario *s, struct counter_facts facts[]);

/* ---------------------------------------------------------- implement */

/* Everything lives in one MAP_SHARED | MAP_ANONYMOUS page that the grader
 * maps before it forks the processes that count. */
struct counters {
    atomic_ulong atomic_total;  /* count_atomic adds to this */
    pthread_mutex_t lock;       /* counters_init makes it process-shared and robust */
    unsigned long locked_total; /* count_locked adds to this, holding lock */
};

/* In the parent, before any fork: both totals 0, and lock initialised as
 * a mutex that every process mapping the page can take, and that a process
 * dying while it holds it does not leave locked for ever.  0, or an error
 * number. */
int counters_init(struct counters *c);

/* Add 1 to atomic_total so that no addition is ever lost. */
void count_atomic(struct counters *c);

/* Take lock.  0 when taken; EOWNERDEAD when taken although its previous
 * owner died holding it (the mutex made consistent again, and held now);
 * another error number if it cannot be taken. */
int counter_lock(struct counters *c);

/* Let go of lock: 0, or an error number. */
int counter_unlock(struct counters *c);

/* Take lock, add 1 to locked_total, let go: 0, or an error number.  A
 * previous owner's death (EOWNERDEAD) is not an error here. */
int count_locked(struct counters *c);

/* In the parent, after every process that counted has been reaped: 0, or
 * an error number. */
int counters_destroy(struct counters *c);

#endif
