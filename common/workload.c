/*
 * workload.c - the random alloc/free workload (see workload.h).
 */
#include "workload.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    void *block;
    uint32_t size;
};

enum { MIXED_OCTAVES = 12 }; /* 16 << 11 = 32 KiB: the mixed sizes end below 64 KiB */

/* A block's size, from the high half of a step's random number. */
static inline uint32_t block_size(enum workload_mix mix, uint64_t random)
{
    uint32_t r = (uint32_t)(random >> 32);

    if (mix == WORKLOAD_SMALL)
        return WORKLOAD_MIN_SIZE + r % WORKLOAD_SIZE_SPREAD;
    uint32_t low = (uint32_t)WORKLOAD_MIN_SIZE << (r % MIXED_OCTAVES); /* a power of two */
    return low + (r >> 8) % low;                                       /* in [low, 2 low) */
}

size_t workload_max_size(enum workload_mix mix)
{
    return mix == WORKLOAD_SMALL ? WORKLOAD_MIN_SIZE + WORKLOAD_SIZE_SPREAD - 1
                                 : ((size_t)WORKLOAD_MIN_SIZE << MIXED_OCTAVES) - 1;
}

void workload_run(const struct alloc_api *api, uint64_t ops, uint64_t seed,
                  struct workload_result *result)
{
    workload_run_mix(api, ops, seed, WORKLOAD_SMALL, result);
}

/* The steps, inlined once per mix so that the small mix costs what it did
 * before there were two (the allocator is what is measured). */
static inline __attribute__((always_inline)) void run_steps(const struct alloc_api *api,
                                                            uint64_t ops, uint64_t seed,
                                                            enum workload_mix mix,
                                                            struct workload_result *result)
{
    static _Thread_local struct slot slots[WORKLOAD_SLOTS]; /* 64 KiB: not on the stack */
    uint64_t live = 0, start = now_ns();
    struct workload_result r = {.ops = ops, .started_ns = start};

    for (uint64_t i = 0; i < ops; i++) {
        uint64_t random = rng_next(&seed);
        struct slot *s = &slots[random % WORKLOAD_SLOTS];
        if (s->block != NULL) {
            api->release(api->ctx, s->block);
            s->block = NULL;
            live -= s->size;
            r.frees++;
            continue;
        }
        s->size = block_size(mix, random);
        s->block = api->alloc(api->ctx, s->size);
        if (s->block == NULL) {
            r.failed_allocs++;
            continue;
        }
        *(volatile char *)s->block = (char)i; /* touch it, as a real program would */
        r.allocs++;
        live += s->size;
        if (live > r.peak_live_bytes)
            r.peak_live_bytes = live;
    }
    for (int i = 0; i < WORKLOAD_SLOTS; i++) {
        if (slots[i].block != NULL) {
            api->release(api->ctx, slots[i].block);
            slots[i].block = NULL;
            r.frees++;
        }
    }
    r.elapsed_ns = now_ns() - start;
    *result = r;
}

void workload_run_mix(const struct alloc_api *api, uint64_t ops, uint64_t seed,
                      enum workload_mix mix, struct workload_result *result)
{
    if (mix == WORKLOAD_SMALL)
        run_steps(api, ops, seed, WORKLOAD_SMALL, result);
    else
        run_steps(api, ops, seed, WORKLOAD_MIXED, result);
}

static void *libc_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void libc_release(void *ctx, void *block)
{
    (void)ctx;
    free(block);
}

static void *libc_resize(void *ctx, void *block, size_t size)
{
    (void)ctx;
    return realloc(block, size);
}

const struct alloc_api workload_libc_api = {
    .alloc = libc_alloc, .release = libc_release, .resize = libc_resize};

/* ---- workers as processes ---------------------------------------------- */

struct procs_run {
    const struct workload_procs *w;
    struct workload_result *results; /* in shared memory: the workers write them */
};

static int process_worker(void *ctx, unsigned index)
{
    struct procs_run *run = ctx;
    const struct workload_procs *w = run->w;

    if (w->begin != NULL && w->begin(w->api.ctx) != 0)
        return 1;
    workload_run_mix(&w->api, w->ops, w->seed + index, w->mix, &run->results[index]);
    return w->end != NULL ? w->end(w->api.ctx) : 0;
}

void workload_run_processes(const struct workload_procs *w, struct workload_result *results)
{
    size_t bytes = w->workers * sizeof *results;
    struct procs_run run = {w, map_anonymous(bytes, MAP_SHARED)};
    struct crew crew;

    crew_start(&crew, w->workers, process_worker, &run);
    crew_release(&crew);
    if (crew_wait(&crew, w->deadline_ms) != 0)
        die("a workload worker failed: %s", crew.first_failure);
    memcpy(results, run.results, bytes);
    unmap(run.results, bytes);
}

uint64_t workload_span_ns(const struct workload_result *results, unsigned workers)
{
    uint64_t first = UINT64_MAX, last = 0;

    for (unsigned i = 0; i < workers; i++) {
        uint64_t end = results[i].started_ns + results[i].elapsed_ns;
        first = results[i].started_ns < first ? results[i].started_ns : first;
        last = end > last ? end : last;
    }
    return workers > 0 ? last - first : 0;
}

uint64_t workload_ops_per_sec(const struct workload_result *results, unsigned workers)
{
    uint64_t ops = 0, span = workload_span_ns(results, workers);

    for (unsigned i = 0; i < workers; i++)
        ops += results[i].ops;
    return span > 0 ? (uint64_t)((double)ops * 1e9 / (double)span) : 0;
}
