/*
 * workload.c - the random alloc/free workload (see workload.h).
 */
#include "workload.h"

#include "clock.h"
#include "rng.h"

#include <stdlib.h>

struct slot {
    void *block;
    uint32_t size;
};

void workload_run(const struct alloc_api *api, uint64_t ops, uint64_t seed,
                  struct workload_result *result)
{
    static _Thread_local struct slot slots[WORKLOAD_SLOTS]; /* 64 KiB: not on the stack */
    uint64_t live = 0, start = now_ns();
    struct workload_result r = {.ops = ops};

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
        s->size = (uint32_t)(WORKLOAD_MIN_SIZE + (random >> 32) % WORKLOAD_SIZE_SPREAD);
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
