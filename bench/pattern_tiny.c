/*
 * pattern_tiny.c - a small program: a table of a few hundred KiB of
 * strings, and at every step short-lived blocks (temporaries, as a
 * calculator's big numbers or a parser's tokens are), now and then one of
 * them kept in the table in place of an old entry.  Every size is drawn
 * from the same distributions all along, so the live set stays the same
 * shape.
 *
 * What it asks of an allocator: to be quick on small blocks, and to add
 * little to a small program's memory.  With a live set this small, a
 * fixed cost (zones mapped per size class, caches filled in advance)
 * shows as a larger peak RSS than glibc's, which grows one heap.
 *
 * --ops counts the steps (about three allocations each).
 */
#include "patterns.h"
#include "rng.h"

enum { ENTRIES = 1024, ENTRY_MAX = 512, TEMP_MAX = 64 };

void run_tiny(const struct pattern_options *o, struct pattern_tally *t)
{
    static struct pblock table[ENTRIES];
    struct pattern_count c = {0};
    uint64_t rng = o->seed, n = 0;

    for (int i = 0; i < ENTRIES; i++)
        block_new(&table[i], 16 + rng_next(&rng) % (ENTRY_MAX - 15), block_id(0, n++), true, &c);
    for (uint64_t i = 0; i < o->ops; i++) {
        struct pblock *entry = &table[rng_next(&rng) % ENTRIES];
        struct pblock temp, result;
        block_new(&temp, 8 + rng_next(&rng) % (TEMP_MAX - 7), block_id(0, n++), true, &c);
        block_new(&result, 16 + rng_next(&rng) % (ENTRY_MAX - 15), block_id(0, n++), true, &c);
        block_done(&temp, &c);
        if (rng_next(&rng) % 4 == 0) { /* kept: it replaces an entry */
            block_done(entry, &c);
            *entry = result;
        } else {
            block_done(&result, &c);
        }
    }
    for (int i = 0; i < ENTRIES; i++)
        block_done(&table[i], &c);
    count_add(t, &c);
}
