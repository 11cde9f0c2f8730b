/*
 * workload.h - the allocation workload every allocator in this project is
 * measured on (lessons 05 and 07, bench/alloc_bench).
 *
 * A worker keeps WORKLOAD_SLOTS slots.  Each step picks a slot at random:
 * if it holds a block, the block is freed; otherwise a block is allocated
 * into it and its first byte is written.  At the end every remaining block
 * is freed.  One step is one operation.  The sizes come from one of two
 * mixes: WORKLOAD_SMALL, 16 + (random mod 512) bytes (the default, and what
 * every table in the README measures unless it says otherwise), or
 * WORKLOAD_MIXED, 16 bytes to 64 KiB spread evenly over the twelve powers
 * of two between (as many blocks of 16..31 bytes as of 32..63, ... and of
 * 32..64 KiB): a third of them larger than 4 KiB.
 */
#ifndef ASYM_WORKLOAD_H
#define ASYM_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

enum { WORKLOAD_SLOTS = 4096, WORKLOAD_MIN_SIZE = 16, WORKLOAD_SIZE_SPREAD = 512 };

/* Which sizes the workload asks for (see above). */
enum workload_mix {
    WORKLOAD_SMALL, /* 16..527 bytes */
    WORKLOAD_MIXED, /* 16 bytes .. 64 KiB - 1, evenly over the powers of two */
};

/* The allocator under test, as calls and a context. */
struct alloc_api {
    void *(*alloc)(void *ctx, size_t size); /* NULL on failure */
    void (*release)(void *ctx, void *block);
    void *ctx;
    /* realloc, or NULL where the allocator has none (the workload does not
     * use it; the fork hammer does, when it is there) */
    void *(*resize)(void *ctx, void *block, size_t size);
};

struct workload_result {
    uint64_t ops;             /* steps taken */
    uint64_t allocs, frees;   /* allocations and frees among them (plus final frees) */
    uint64_t failed_allocs;   /* alloc returned NULL (the step still counts) */
    uint64_t peak_live_bytes; /* most bytes requested and not yet freed */
    uint64_t started_ns;      /* now_ns() when the steps began (common/clock.h) */
    uint64_t elapsed_ns;      /* the steps and the final frees */
};

/* Run ops steps against api with the given seed (small sizes). */
void workload_run(const struct alloc_api *api, uint64_t ops, uint64_t seed,
                  struct workload_result *result);
/* The same with sizes from mix. */
void workload_run_mix(const struct alloc_api *api, uint64_t ops, uint64_t seed,
                      enum workload_mix mix, struct workload_result *result);
/* The largest block a mix asks for. */
size_t workload_max_size(enum workload_mix mix);

/*
 * Workers as processes: the workload run by `workers` children forked
 * together and released at once (common/child.h's crew), worker i with
 * seed + i.  Each child inherits api across fork: a region all of them
 * share, or each process's own malloc.
 */
struct workload_procs {
    struct alloc_api api;    /* what every worker allocates with */
    int (*begin)(void *ctx); /* in each worker before its steps, given api.ctx; nonzero
                                fails the worker (or NULL) */
    int (*end)(void *ctx);   /* after them; nonzero fails the worker (or NULL) */
    unsigned workers;        /* 1 to CREW_MAX */
    uint64_t ops, seed;      /* per worker */
    enum workload_mix mix;   /* the sizes (WORKLOAD_SMALL unless set) */
    int deadline_ms;         /* for all the workers together */
};

/* Run w and fill results[0 .. w->workers).  Dies if a worker fails or
 * runs past the deadline. */
void workload_run_processes(const struct workload_procs *w, struct workload_result *results);

/* Workers that ran at once, taken together: the time from the first one's
 * start to the last one's end, and all their steps per second of it. */
uint64_t workload_span_ns(const struct workload_result *results, unsigned workers);
uint64_t workload_ops_per_sec(const struct workload_result *results, unsigned workers);

/* An alloc_api over the C library's malloc and free (or whatever malloc the
 * program is linked or preloaded with). */
extern const struct alloc_api workload_libc_api;

#endif
