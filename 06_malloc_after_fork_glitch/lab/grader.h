/*
 * grader.h - what the grader gives the lab's two libraries.  Do not edit:
 * your files are compiled against the grader's copy of this file.
 *
 *   lib_mutex_make(m)          make m an error-checking mutex, unlocked
 *   lib_mutex_lock(m, name)    lock it
 *   lib_mutex_unlock(m, name)  unlock it
 *       An error-checking mutex refuses what a plain one leaves undefined:
 *       locked twice by one thread it says EDEADLK, unlocked by a thread
 *       that does not hold it EPERM.  These functions stop the test with a
 *       message naming the lock (name, e.g. "journal") and the call.
 *
 *   pause_point(where)
 *       The libraries call it at fixed points inside their critical
 *       sections.  It returns at once, except in a test that stops a
 *       thread there, so that the library's lock is held (and its data
 *       half-updated) at the instant another thread calls fork().  Leave
 *       the calls where they are.
 */
#ifndef GRADER_H
#define GRADER_H

#include <pthread.h>

enum pause_point {
    PAUSE_JOURNAL_LOCKED,   /* journal_log: the journal's lock held, stats not yet counted */
    PAUSE_JOURNAL_FLUSHING, /* journal_flush: the journal's lock held, records not yet written */
    PAUSE_STATS_HALFWAY,    /* stats_count: records added, bytes not yet */
};

void lib_mutex_make(pthread_mutex_t *m);
void lib_mutex_lock(pthread_mutex_t *m, const char *name);
void lib_mutex_unlock(pthread_mutex_t *m, const char *name);
void pause_point(enum pause_point where);

#endif
