/*
 * workload.h - the allocation workload every allocator in this project is
 * measured on (lessons 05 and 07, bench/alloc_bench).
 *
 * A worker keeps WORKLOAD_SLOTS slots.  Each step picks a slot at random:
 * if it holds a block, the block is freed; otherwise 16 + (random mod 512)
 * bytes are allocated into it and the first byte is written.  At the end
 * every remaining block is freed.  One step is one operation.
 */
#ifndef ASYM_WORKLOAD_H
#define ASYM_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

enum { WORKLOAD_SLOTS = 4096, WORKLOAD_MIN_SIZE = 16, WORKLOAD_SIZE_SPREAD = 512 };

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
    uint64_t elapsed_ns;      /* the steps and the final frees */
};

/* Run ops steps against api with the given seed. */
void workload_run(const struct alloc_api *api, uint64_t ops, uint64_t seed,
                  struct workload_result *result);

/* An alloc_api over the C library's malloc and free (or whatever malloc the
 * program is linked or preloaded with). */
extern const struct alloc_api workload_libc_api;

#endif
