/*
 * hammer.c - threads that allocate without pause (see hammer.h).
 */
#include "hammer.h"

#include "cli.h"
#include "rng.h"
#include "sync.h"

#include <errno.h>
#include <string.h>

enum { HAMMER_SLOTS = 64, TOUCHED_BYTES = 256 };

size_t hammer_size(uint64_t random)
{
    uint64_t spread = random >> 8;

    switch (random % 8) {
    case 0: return 128 * 1024 + spread % 65536;
    case 1:
    case 2:
    case 3: return 1100 + spread % 15000;
    default: return 16 + spread % 1000;
    }
}

/* Write into the first bytes of a block, so that the compiler cannot drop
 * a malloc/free pair and the block's memory is really used. */
static void touch_block(void *block, size_t size)
{
    memset(block, 0xa5, size < TOUCHED_BYTES ? size : TOUCHED_BYTES);
}

/* One step on a random slot: fill it if empty, else resize or empty it.
 * False if an allocation failed. */
static bool hammer_step(const struct alloc_api *api, void **slot, uint64_t random)
{
    size_t size = hammer_size(random >> 6);
    bool resize = api->resize != NULL && (random >> 40) % 2 == 0;
    void *block = NULL;

    if (*slot == NULL)
        block = api->alloc(api->ctx, size);
    else if (resize)
        block = api->resize(api->ctx, *slot, size);
    else
        api->release(api->ctx, *slot);
    if (block == NULL && (*slot == NULL || resize))
        return false; /* a failed resize leaves the old block in the slot */
    *slot = block;
    if (block != NULL)
        touch_block(block, size);
    return true;
}

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    void *slots[HAMMER_SLOTS] = {NULL};
    uint64_t rng = h->seed;

    while (!atomic_load_explicit(h->stop, memory_order_relaxed)) {
        uint64_t random = rng_next(&rng);
        if (!hammer_step(h->api, &slots[random % HAMMER_SLOTS], random) && !h->failed) {
            h->failed = true;
            h->failed_errno = errno; /* this thread's: errno is per thread */
        }
    }
    for (int i = 0; i < HAMMER_SLOTS; i++)
        if (slots[i] != NULL)
            h->api->release(h->api->ctx, slots[i]);
    return NULL;
}

void hammer_start(struct hammer_crew *crew, const struct alloc_api *api, unsigned threads,
                  uint64_t seed)
{
    crew->threads = threads < HAMMER_MAX ? threads : HAMMER_MAX;
    atomic_init(&crew->stop, false);
    for (unsigned i = 0; i < crew->threads; i++) {
        struct hammer *h = &crew->hammers[i];
        *h = (struct hammer){.api = api, .seed = seed + i, .stop = &crew->stop};
        h->thread = start_thread(hammer_main, h);
    }
}

bool hammer_stop(struct hammer_crew *crew)
{
    bool ok = true;

    atomic_store(&crew->stop, true);
    crew->failed_errno = 0;
    for (unsigned i = 0; i < crew->threads; i++) {
        join_thread(crew->hammers[i].thread);
        if (crew->hammers[i].failed && ok)
            crew->failed_errno = crew->hammers[i].failed_errno;
        ok &= !crew->hammers[i].failed;
    }
    return ok;
}

bool allocate_every_size(const struct alloc_api *api)
{
    void *blocks[EVERY_SIZE_BLOCKS];
    uint64_t rng = 42;
    bool ok = true;

    for (unsigned i = 0; i < EVERY_SIZE_BLOCKS; i++) {
        /* i % 8 walks the three paths in turn, whatever the generator says */
        size_t size = hammer_size((rng_next(&rng) & ~UINT64_C(7)) | (i % 8));
        blocks[i] = api->alloc(api->ctx, size);
        if (blocks[i] == NULL)
            ok = false;
        else
            touch_block(blocks[i], size);
    }
    for (unsigned i = 0; i < EVERY_SIZE_BLOCKS; i++)
        if (blocks[i] != NULL)
            api->release(api->ctx, blocks[i]);
    return ok;
}

int child_allocates(void *job)
{
    const struct child_job *j = job;

    if (!allocate_every_size(j->api))
        return 3;
    return j->check == NULL || j->check() == 0 ? 0 : 4;
}

pid_t start_child_job(void *job)
{
    return child_start(child_allocates, job);
}

struct fork_outcome fork_while_hammering(const struct alloc_api *api, unsigned threads,
                                         uint64_t seed, unsigned forks, const struct child_job *job,
                                         struct child_result (*run)(int (*body)(void *arg),
                                                                    void *arg, int timeout_ms),
                                         int timeout_ms)
{
    static struct hammer_crew crew; /* 64 hammers: not on the stack */
    struct fork_outcome outcome = {0};

    hammer_start(&crew, api, threads, seed);
    for (unsigned i = 0; i < forks; i++) {
        struct child_result r = run(child_allocates, (void *)job, timeout_ms);
        count_outcome(&outcome, &r);
    }
    if (!hammer_stop(&crew))
        die_err("an allocating thread got NULL from the allocator", crew.failed_errno);
    return outcome;
}
