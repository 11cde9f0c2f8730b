/*
 * patterns.h - what alloc_patterns' workloads share: their options, their
 * result, and the pattern every block is filled with and checked against.
 *
 * Each workload (pattern_*.c) calls malloc and free only, so that the
 * allocator under test is whatever the process runs on: glibc's, or one
 * preloaded with LD_PRELOAD (bench/run.sh measures them so).
 *
 * A block is stamped with a value computed from its id and size, at its
 * start and its end, and filled in between (sparsely for big blocks); it is
 * checked before it is freed.  Each workload adds the stamps it read back
 * (checksum) and the stamps it wrote (expected): an allocator that hands
 * out overlapping blocks, or loses bytes, gets a different checksum or bad
 * blocks, so it cannot look fast by being wrong.  The sums are over sets of
 * blocks fixed by the seed, whatever the threads' timing.
 */
#ifndef PATTERNS_H
#define PATTERNS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pattern_options {
    uint64_t ops;     /* the workload's unit of work (see each workload) */
    uint64_t seed;    /* of every random choice */
    unsigned threads; /* for the workloads that have threads */
};

/* What a workload did, added up over its threads. */
struct pattern_tally {
    atomic_uint_fast64_t ops;        /* allocations (each is freed too) */
    atomic_uint_fast64_t checksum;   /* stamps read back from blocks before free */
    atomic_uint_fast64_t expected;   /* stamps written into them */
    atomic_uint_fast64_t bad_blocks; /* blocks whose bytes changed while live */
    atomic_uint_fast64_t failed;     /* malloc returned NULL */
};

/* One thread's share, added to the tally once at its end (no contention
 * on the counters while the workload runs). */
struct pattern_count {
    uint64_t ops, checksum, expected, bad_blocks, failed;
};
void count_add(struct pattern_tally *t, const struct pattern_count *c);

/* A block being used: where, how big, and who it is. */
struct pblock {
    unsigned char *p;
    size_t size;
    uint64_t id;
};

/* malloc(size), stamped and filled for id; counts a failure (and returns
 * false) if malloc said no.  full: write every byte (a program filling a
 * buffer), else the first 40, the last 8 and one per page. */
bool block_new(struct pblock *b, size_t size, uint64_t id, bool full, struct pattern_count *c);
/* Check b's bytes, count them, free it, and empty b. */
void block_done(struct pblock *b, struct pattern_count *c);

/* A different id for every block: thread, then a counter. */
static inline uint64_t block_id(unsigned thread, uint64_t n)
{
    return (uint64_t)thread << 40 | n;
}

/* The workloads (pattern_*.c). */
void run_large(const struct pattern_options *o, struct pattern_tally *t);
void run_prodcons(const struct pattern_options *o, struct pattern_tally *t);
void run_randsizes(const struct pattern_options *o, struct pattern_tally *t);
void run_server(const struct pattern_options *o, struct pattern_tally *t);
void run_churn(const struct pattern_options *o, struct pattern_tally *t);
void run_tiny(const struct pattern_options *o, struct pattern_tally *t);

#endif
