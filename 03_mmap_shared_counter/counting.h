/*
 * counting.h - one run of the experiment: P children add 1 to a counter in
 * a fresh page, N times each, by one method; the parent reaps them and
 * reads the counter.
 */
#ifndef COUNTING_H
#define COUNTING_H

#include <stdint.h>

/* The ways to add; METHOD_ALL is both the command-line choice "all" and
 * the number of methods. */
enum method { METHOD_RACY, METHOD_ATOMIC, METHOD_MUTEX, METHOD_PRIVATE, METHOD_ALL };
extern const char *const method_names[]; /* indexed by method, "all", then NULL */

enum {
    MAX_PROCS = 64,           /* enough to oversubscribe any desktop; each is a real process */
    DEADLINE_BASE_MS = 10000, /* a run's children get this long, plus 1 us per increment */
};

/* What the parent learned from one run. */
struct result {
    uint32_t final;           /* the counter as the parent reads it after reaping */
    uint64_t elapsed_ns;      /* first child's loop start to last child's loop end */
    uint64_t overlap_ns;      /* how long two or more children were counting at once */
    uint32_t child_final_min; /* private: the lowest count in a child's own copy */
    uint32_t child_final_max; /* private: the highest */
};

/*
 * Run method once with procs children (1 to MAX_PROCS) adding increments
 * each (procs * increments must fit in 32 bits).  A child that does not
 * exit 0 by the deadline is reported and the program exits 1.
 */
void run_method(struct result *r, enum method method, uint32_t procs, uint32_t increments);

#endif
