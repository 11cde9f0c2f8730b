/*
 * pattern_server.c - a server simulation, after Larson and Krishnan's
 * benchmark: worker threads each own a set of blocks of 8..1000 bytes
 * (connections' buffers, requests' objects) and replace them at random;
 * every so often the workers are replaced by new threads, which inherit
 * the blocks - so blocks are freed by threads that did not allocate them,
 * and threads come and go.  The first blocks of all are allocated by the
 * main thread.
 *
 * What it asks of an allocator: small blocks fast in many threads, frees
 * from other threads, and threads that start and stop, all at once.
 *
 * --ops counts the replacements of each worker position, over all
 * generations of threads.
 */
#include "patterns.h"
#include "rng.h"
#include "sync.h"

#include <pthread.h>

enum { SLOTS = 1000, MIN_SIZE = 8, MAX_SIZE = 1000, GENERATIONS = 10 };

/* The blocks of one worker position, handed from thread to thread. */
struct position {
    struct pblock slots[SLOTS];
    uint64_t rng, made;
};

struct shift {
    pthread_t thread;
    struct position *position;
    unsigned index;
    uint64_t replacements;
    struct pattern_count count;
};

static size_t block_size(uint64_t *rng)
{
    return MIN_SIZE + rng_next(rng) % (MAX_SIZE - MIN_SIZE + 1);
}

static void *shift_main(void *arg)
{
    struct shift *s = arg;
    struct position *p = s->position;

    for (uint64_t i = 0; i < s->replacements; i++) {
        struct pblock *b = &p->slots[rng_next(&p->rng) % SLOTS];
        block_done(b, &s->count);
        block_new(b, block_size(&p->rng), block_id(s->index, p->made++), false, &s->count);
    }
    return NULL;
}

void run_server(const struct pattern_options *o, struct pattern_tally *t)
{
    static struct position positions[64];
    static struct shift shifts[64];
    struct pattern_count c = {0};
    unsigned n = o->threads;

    for (unsigned i = 0; i < n; i++) {
        struct position *p = &positions[i];
        p->rng = o->seed * 1000003 + i;
        for (int j = 0; j < SLOTS; j++)
            block_new(&p->slots[j], block_size(&p->rng), block_id(i, p->made++), false, &c);
    }
    for (int g = 0; g < GENERATIONS; g++) {
        uint64_t share = o->ops / GENERATIONS + (g < (int)(o->ops % GENERATIONS));
        for (unsigned i = 0; i < n; i++) {
            /* each generation takes over another position than the last */
            shifts[i] = (struct shift){.position = &positions[(i + (unsigned)g) % n],
                                       .index = (i + (unsigned)g) % n,
                                       .replacements = share};
            shifts[i].thread = start_thread(shift_main, &shifts[i]);
        }
        for (unsigned i = 0; i < n; i++) {
            join_thread(shifts[i].thread);
            count_add(t, &shifts[i].count);
        }
    }
    for (unsigned i = 0; i < n; i++)
        for (int j = 0; j < SLOTS; j++)
            block_done(&positions[i].slots[j], &c);
    count_add(t, &c);
}
