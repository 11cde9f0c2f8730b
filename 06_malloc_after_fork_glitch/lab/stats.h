/*
 * stats.h - counters of what a program has logged, shared by its threads:
 * a small library with a lock of its own.  Do not edit (the grader
 * compiles stats.c against its own copy).
 *
 *   stats_init()              set up; call before the others (more calls do
 *                             nothing)
 *   stats_count(records, bytes)   add to the totals: one update, under the lock
 *   stats_read()              the totals, as one consistent pair: never half
 *                             of an update
 *
 * Every function may be called from several threads at once, and after
 * fork() in either process; the child's totals start where the parent's
 * were at the fork.
 */
#ifndef STATS_H
#define STATS_H

#include <stdint.h>

struct stats_totals {
    uint64_t records;
    uint64_t bytes;
};

void stats_init(void);
void stats_count(uint64_t records, uint64_t bytes);
struct stats_totals stats_read(void);

#endif
