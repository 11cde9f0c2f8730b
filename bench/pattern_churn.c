/*
 * pattern_churn.c - thread churn: bursts of short-lived threads (a thread
 * per request, a parallel loop that starts its threads each time), each
 * allocating a few thousand blocks, freeing them in bursts, and exiting.
 *
 * What it asks of an allocator: not to undo and redo its work for every
 * thread.  Memory a thread emptied is needed again by the next burst a
 * moment later; an allocator that gives every emptied zone back to the
 * kernel at once maps it again, page faults included, every time.
 *
 * Sizes: 16..4096 bytes, small ones more likely.
 * --ops counts the bursts.
 */
#include "cli.h"
#include "patterns.h"
#include "rng.h"
#include "sync.h"

#include <pthread.h>

enum { BLOCKS = 3000, ROUNDS = 3 };

struct burst_thread {
    pthread_t thread;
    unsigned index;
    uint64_t seed;
    pthread_barrier_t *all_allocated; /* the burst's threads, between the two halves */
    struct pattern_count count;
};

static size_t block_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    unsigned shift = 4 + (unsigned)(r % 8); /* 16..4095, each power of two as likely */

    return ((size_t)1 << shift) + (r >> 8) % ((size_t)1 << shift);
}

static void *burst_main(void *arg)
{
    struct burst_thread *b = arg;
    struct pblock blocks[BLOCKS];
    uint64_t rng = b->seed, n = 0;

    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < BLOCKS; i++)
            block_new(&blocks[i], block_size(&rng), block_id(b->index, n++), false, &b->count);
        pthread_barrier_wait(b->all_allocated);
        for (int i = 0; i < BLOCKS; i += 2) /* half, every other one: holes */
            block_done(&blocks[i], &b->count);
        for (int i = 1; i < BLOCKS; i += 2)
            block_done(&blocks[i], &b->count);
    }
    return NULL;
}

void run_churn(const struct pattern_options *o, struct pattern_tally *t)
{
    static struct burst_thread threads[64];
    unsigned n = o->threads;
    pthread_barrier_t all_allocated;
    int err = pthread_barrier_init(&all_allocated, NULL, n);

    if (err != 0)
        die_err("pthread_barrier_init", err);
    for (uint64_t burst = 0; burst < o->ops; burst++) {
        for (unsigned i = 0; i < n; i++) {
            unsigned index = (unsigned)(burst * n + i);
            threads[i] = (struct burst_thread){
                .index = index, .seed = o->seed * 1000003 + index, .all_allocated = &all_allocated};
            threads[i].thread = start_thread(burst_main, &threads[i]);
        }
        for (unsigned i = 0; i < n; i++) {
            join_thread(threads[i].thread);
            count_add(t, &threads[i].count);
        }
    }
    pthread_barrier_destroy(&all_allocated);
}
