/*
 * race.h - what race.c and race_report.c share: the kinds of bump raced,
 * what one race came to, and how it is reported.
 */
#ifndef RACE_H
#define RACE_H

#include <stdint.h>

enum bump_kind { RACY, RACY_PREEMPTED, ATOMIC, SHALLOC, KINDS };
enum { PREEMPT_EVERY = 1000 }; /* racy_preempted and atomic yield once per this many */

/* What one kind's race came to. */
struct outcome {
    uint64_t overlaps;        /* blocks handed out over another block */
    uint64_t overwritten;     /* blocks that lost their owner's name */
    uint64_t lost_updates;    /* bumps the offset does not show */
    uint64_t rollback;        /* blocks a stale last store gave back (count_lost) */
    unsigned interleaved_pct; /* checkpoints at which the others had moved on */
    uint64_t yields;          /* times a worker gave up the CPU */
    uint64_t taken_per_yield; /* blocks the others took meanwhile, on average */
};

/* "racy", "racy_preempted", "atomic", "shalloc". */
const char *race_kind_name(enum bump_kind kind);
/* One kind's fact line. */
void race_print_outcome(enum bump_kind kind, unsigned procs, uint64_t allocs,
                        const struct outcome *out);
/* What the arena races showed, said from what they measured. */
void race_conclude(const struct outcome out[KINDS], unsigned procs, uint64_t total);

#endif
