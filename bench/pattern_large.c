/*
 * pattern_large.c - large-block churn: a few big buffers (5..25 MiB, an
 * image, a decompressed file, a network buffer), one replaced at random
 * at each step by a new one of another size, filled completely.
 *
 * What it asks of an allocator: not to pay the kernel for every buffer.
 * An allocator that maps each one fresh and unmaps it at free takes a page
 * fault (and the zeroing of a page) for every 4 KiB of every buffer; one
 * that keeps freed memory can reuse pages that are already there.
 *
 * --ops counts the buffers replaced.
 */
#include "patterns.h"
#include "rng.h"

enum { BUFFERS = 4, MIN_BYTES = 5 << 20, MAX_BYTES = 25 << 20 };

void run_large(const struct pattern_options *o, struct pattern_tally *t)
{
    struct pblock buffers[BUFFERS] = {{0}};
    struct pattern_count c = {0};
    uint64_t rng = o->seed;

    for (uint64_t i = 0; i < o->ops; i++) {
        struct pblock *b = &buffers[rng_next(&rng) % BUFFERS];
        size_t size = MIN_BYTES + rng_next(&rng) % (MAX_BYTES - MIN_BYTES + 1);
        block_done(b, &c);
        block_new(b, size, block_id(0, i), true, &c);
    }
    for (int i = 0; i < BUFFERS; i++)
        block_done(&buffers[i], &c);
    count_add(t, &c);
}
