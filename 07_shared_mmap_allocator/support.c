/*
 * support.c - helpers several commands share: opening a region, checking
 * it, printing its classes, and the fill pattern that detects overlapping
 * blocks.
 */
#include "cli.h"
#include "clock.h"
#include "lesson07.h"
#include "out.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

void open_region(struct shalloc *h, const char *name, size_t size)
{
    if (shalloc_create(h, name, size) != 0)
        die_errno(shalloc_error(h));
}

void close_region(struct shalloc *h)
{
    if (shalloc_detach(h) != 0)
        die_errno(shalloc_error(h));
}

void *alloc_or_die(struct shalloc *h, size_t size)
{
    void *p = shalloc_alloc(h, size);

    if (p == NULL)
        die_errno(shalloc_error(h));
    return p;
}

bool report_check(struct shalloc *h)
{
    struct shalloc_report rep;

    if (shalloc_check(h, &rep))
        printf("checker: every invariant holds (%" PRIu64 " blocks, %" PRIu64
               " list links walked%s)\n",
               rep.blocks, rep.links, rep.slots_reclaimed ? ", after reclaiming dead slots" : "");
    else
        printf("checker: BROKEN: %s\n", rep.problem);
    return rep.ok;
}

void print_class_table(struct shalloc *h)
{
    struct shalloc_stats st;

    shalloc_stats(h, &st);
    printf("  %6s %6s %8s %8s %8s\n", "class", "spans", "used", "cached", "free");
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        if (st.class[c].spans > 0)
            printf("  %6u %6" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", st.class[c].bytes,
                   st.class[c].spans, st.class[c].used, st.class[c].cached, st.class[c].free);
    printf("  spans claimed %" PRIu64 " of %" PRIu64 " (%" PRIu64 " lost), bytes in use %" PRIu64
           ", cached %" PRIu64 ", free %" PRIu64 "\n",
           st.spans_claimed, st.span_count, st.spans_lost, st.bytes_used, st.bytes_cached,
           st.bytes_free);
    printf("  runs of spans: %" PRIu64 " in use (%" PRIu64 " bytes), %" PRIu64 " cached (%" PRIu64
           " bytes), %" PRIu64 " free (%" PRIu64 " bytes); the largest block possible now: %" PRIu64
           " bytes\n",
           st.runs_used, st.run_bytes_used, st.runs_cached, st.run_bytes_cached, st.runs_free,
           st.run_bytes_free, st.largest_free_bytes);
}

void list_start(struct list_cursor *c, struct shalloc *h, unsigned root, size_t entry_bytes,
                const char *who)
{
    *c = (struct list_cursor){.h = h,
                              .who = who,
                              .root = root,
                              .entry_bytes = entry_bytes,
                              .link = shalloc_root(h, root),
                              .stride = 1};
}

static _Noreturn void list_corrupt(const struct list_cursor *c, const char *what)
{
    die("%s: corrupt region: the list in root %u: %s at offset %" PRIu64, c->who, c->root, what,
        shalloc_offset(c->h, (const void *)c->link));
}

void *list_next(struct list_cursor *c)
{
    uint64_t off = atomic_load(c->link);

    if (off == 0)
        return NULL;
    struct list_link *entry = shalloc_block_pointer(c->h, off, c->entry_bytes);
    if (entry == NULL)
        list_corrupt(c, "a link is not an entry (a block in use, that large)");
    if (off == c->mark)
        list_corrupt(c, "the list does not end (a cycle)");
    if (++c->steps == c->stride) { /* Brent: keep an entry every power of two */
        c->mark = off;
        c->stride *= 2;
        c->steps = 0;
    }
    c->link = &entry->next;
    return entry;
}

void list_append(struct shalloc *h, unsigned root, struct list_link *entry, size_t entry_bytes,
                 const char *who)
{
    struct list_cursor c;
    uint64_t off = shalloc_offset(h, entry), expected = 0;

    atomic_init(&entry->next, 0);
    list_start(&c, h, root, entry_bytes, who);
    while (list_next(&c) != NULL)
        ; /* to the last link */
    while (!atomic_compare_exchange_strong(c.link, &expected, off)) {
        expected = 0; /* another appender came first: from its entry on */
        while (list_next(&c) != NULL)
            ;
    }
}

/* ---- fill patterns --------------------------------------------------- */

enum { PATTERN_DENSE = 65536, PATTERN_STRIDE = 512 };

static unsigned char pattern_byte(uint64_t stamp, size_t i)
{
    return (unsigned char)((stamp >> (8 * (i % 6))) ^ (i * 0x9d) ^ (i >> 16));
}

/* The next byte of the pattern after byte i: every byte of the first 64
 * KiB, then one in PATTERN_STRIDE, and the last one. */
static size_t pattern_next(size_t i, size_t size)
{
    if (i + 1 < PATTERN_DENSE)
        return i + 1;
    size_t next = (i / PATTERN_STRIDE + 1) * PATTERN_STRIDE;
    return next < size || i + 1 == size ? next : size - 1;
}

void pattern_fill(unsigned char *block, uint64_t stamp)
{
    size_t size = stamp_size(stamp);

    memcpy(block, &stamp, sizeof stamp);
    for (size_t i = sizeof stamp; i < size; i = pattern_next(i, size))
        block[i] = pattern_byte(stamp, i);
}

bool pattern_intact(const unsigned char *block, size_t max_size, uint64_t *stamp)
{
    memcpy(stamp, block, sizeof *stamp);
    size_t size = stamp_size(*stamp);
    if (size < sizeof *stamp || size > max_size)
        return false;
    for (size_t i = sizeof *stamp; i < size; i = pattern_next(i, size))
        if (block[i] != pattern_byte(*stamp, i))
            return false;
    return true;
}
