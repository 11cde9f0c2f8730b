/*
 * stats.c - the stats library (stats.h), made fork-safe: the fork lab's
 * reference solution.
 *
 * Its lock guards a pair of totals that change in two steps, so a fork
 * while another thread is between them would copy half an update, and a
 * copy of the lock held by a thread the child does not have.  So fork()
 * runs three handlers, registered once, when the library is set up:
 *   prepare  take the lock: fork() waits until no thread is inside, and
 *            no thread can enter until the copy is made
 *   parent   release it
 *   child    make the lock anew: its owner, the parent's forking thread,
 *            does not exist here (unlocking it would be EPERM)
 */
#include "stats.h"

#include "grader.h"

#include <pthread.h>
#include <stdlib.h>

static struct {
    pthread_mutex_t lock; /* guards the totals */
    struct stats_totals totals;
} stats;

static pthread_once_t stats_once = PTHREAD_ONCE_INIT;

static void stats_prepare(void)
{
    lib_mutex_lock(&stats.lock, "stats");
}

static void stats_parent(void)
{
    lib_mutex_unlock(&stats.lock, "stats");
}

static void stats_child(void)
{
    lib_mutex_make(&stats.lock);
}

static void stats_setup(void)
{
    lib_mutex_make(&stats.lock);
    /* At setup, before any thread can use the library: a handler
     * registered later would miss the forks made before it. */
    if (pthread_atfork(stats_prepare, stats_parent, stats_child) != 0)
        abort(); /* ENOMEM, its only failure: nothing sensible is left to do */
}

void stats_init(void)
{
    pthread_once(&stats_once, stats_setup);
}

void stats_count(uint64_t records, uint64_t bytes)
{
    lib_mutex_lock(&stats.lock, "stats");
    stats.totals.records += records;
    pause_point(PAUSE_STATS_HALFWAY); /* the totals disagree here: only the lock hides it */
    stats.totals.bytes += bytes;
    lib_mutex_unlock(&stats.lock, "stats");
}

struct stats_totals stats_read(void)
{
    lib_mutex_lock(&stats.lock, "stats");
    struct stats_totals totals = stats.totals;
    lib_mutex_unlock(&stats.lock, "stats");
    return totals;
}
