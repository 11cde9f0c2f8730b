/*
 * stats.c - counters of what a program has logged (stats.h): a library
 * with a lock of its own, which threads use at once.  Yours to make
 * fork-safe (see README.md in this folder).
 *
 * As handed out it works in one process, with any number of threads, and
 * knows nothing about fork(): a thread that holds the lock at the instant
 * another thread forks leaves it held in the child for ever, and a fork in
 * the middle of stats_count copies totals that disagree.  Give it
 * pthread_atfork handlers, registered when it is set up, so that the child
 * finds the lock free and the totals whole.  Run:  make grade LAB=06
 */
#include "stats.h"

#include "grader.h"

#include <pthread.h>

static struct {
    pthread_mutex_t lock; /* guards the totals */
    struct stats_totals totals;
} stats;

static pthread_once_t stats_once = PTHREAD_ONCE_INIT;

static void stats_setup(void)
{
    lib_mutex_make(&stats.lock);
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
