/*
 * test_trace.c - long random traces against the zone allocator, in one
 * thread or several, with every block's contents verified.
 *
 * Each thread keeps TRACE_SLOTS slots.  A step picks a slot: an empty one
 * gets a block from malloc, calloc, an aligned call or realloc(NULL, n);
 * a full one is verified, then freed or reallocated (and the kept bytes
 * verified again).  Sizes are mostly TINY, often SMALL, sometimes LARGE.
 * With several threads, a block now and then moves to the next thread's
 * mailbox, which verifies and frees it: a free from a thread that did not
 * allocate the block.
 */
#include "cli.h"
#include "out.h"
#include "rng.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

enum { TRACE_SLOTS = 2048, MAILBOX_SLOTS = 64, LARGE_SAMPLE = 4096 };

struct slot {
    unsigned char *p;
    size_t size;
    unsigned char tag;
};

/* Blocks in transit between two threads. */
struct mailbox {
    pthread_mutex_t lock;
    struct slot slots[MAILBOX_SLOTS];
    unsigned count;
};

/* LARGE blocks: both ends and one byte per page, so a trace stays quick. */
void fill_block(unsigned char *p, size_t size, unsigned char tag)
{
    if (size <= 2 * LARGE_SAMPLE) {
        memset(p, tag, size);
        return;
    }
    memset(p, tag, LARGE_SAMPLE);
    memset(p + size - LARGE_SAMPLE, tag, LARGE_SAMPLE);
    for (size_t i = LARGE_SAMPLE; i < size - LARGE_SAMPLE; i += 4096)
        p[i] = tag;
}

/* Whether the n bytes at p all equal tag: p[0] does, and each byte equals
 * the next (one memcmp, which the sanitizers check as one range). */
static bool all_bytes(const unsigned char *p, size_t n, unsigned char tag)
{
    return n == 0 || (p[0] == tag && memcmp(p, p + 1, n - 1) == 0);
}

/* The first n bytes of a block that fill_block filled for size bytes:
 * every byte it wrote is still tag. */
bool block_intact(const unsigned char *p, size_t n, size_t size, unsigned char tag)
{
    if (size <= 2 * LARGE_SAMPLE || n <= LARGE_SAMPLE)
        return all_bytes(p, n, tag);
    if (!all_bytes(p, LARGE_SAMPLE, tag))
        return false;
    for (size_t i = LARGE_SAMPLE; i < n && i < size - LARGE_SAMPLE; i += 4096)
        if (p[i] != tag)
            return false;
    if (n <= size - LARGE_SAMPLE)
        return true;
    return all_bytes(p + size - LARGE_SAMPLE, n - (size - LARGE_SAMPLE), tag);
}

/* 80% TINY, 19% SMALL, 1% LARGE (up to 384 KiB: their pages all fault in). */
static size_t random_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng), pick = r % 100;

    r >>= 8;
    if (pick < 80)
        return r % 1025;
    if (pick < 99)
        return 1025 + r % (r % 4 == 0 ? 130048 : 8192);
    return 131073 + r % (256 << 10);
}

static void *random_alloc(uint64_t *rng, size_t size)
{
    uint64_t r = rng_next(rng);
    void *p = NULL;

    switch (r % 8) {
    case 0: p = zm_calloc(1, size); break;
    case 1: p = zm_realloc(NULL, size); break;
    case 2: p = zm_aligned_alloc((size_t)16 << (r >> 8) % 9, size); break;
    case 3:
        expect(zm_posix_memalign(&p, (size_t)8 << (r >> 8) % 10, size) == 0, "posix_memalign");
        break;
    default: p = zm_malloc(size); break;
    }
    expect(p != NULL, "an allocation returned NULL");
    expect(((uintptr_t)p & 15) == 0, "a pointer is not 16-byte aligned");
    expect(zm_malloc_usable_size(p) >= size, "usable size is below the request");
    if (r % 8 == 0)
        expect(block_intact(p, size, size, 0), "calloc returned a block that is not zeroed");
    return p;
}

static void slot_fill(struct slot *s, uint64_t *rng)
{
    s->tag = (unsigned char)(rng_next(rng) | 1); /* never 0: calloc's zeros would pass */
    fill_block(s->p, s->size, s->tag);
}

/* A full slot: verify, then free or realloc it (verifying what realloc kept). */
static void slot_change(struct slot *s, uint64_t *rng)
{
    expect(block_intact(s->p, s->size, s->size, s->tag), "a block's contents changed while live");
    if (rng_next(rng) % 2 == 0) {
        zm_free(s->p);
        s->p = NULL;
        return;
    }
    size_t size = random_size(rng);
    unsigned char *p = zm_realloc(s->p, size == 0 ? 1 : size);
    expect(p != NULL, "realloc returned NULL");
    expect(((uintptr_t)p & 15) == 0, "realloc returned a misaligned pointer");
    size_t kept = size < s->size ? size : s->size;
    expect(block_intact(p, kept, s->size, s->tag), "realloc did not keep the contents");
    s->p = p;
    s->size = size == 0 ? 1 : size;
    slot_fill(s, rng);
}

/* Pass a slot's block to the next thread, or take the ones sent to us. */
static void exchange(struct slot *s, struct mailbox *inbox, struct mailbox *outbox)
{
    pthread_mutex_lock(&outbox->lock);
    if (outbox->count < MAILBOX_SLOTS) {
        outbox->slots[outbox->count++] = *s;
        s->p = NULL;
    }
    pthread_mutex_unlock(&outbox->lock);
    pthread_mutex_lock(&inbox->lock);
    while (inbox->count > 0) {
        struct slot *in = &inbox->slots[--inbox->count];
        expect(block_intact(in->p, in->size, in->size, in->tag), "a block changed between threads");
        zm_free(in->p);
    }
    pthread_mutex_unlock(&inbox->lock);
}

void run_trace(uint64_t ops, uint64_t seed, struct mailbox *inbox, struct mailbox *outbox)
{
    static _Thread_local struct slot slots[TRACE_SLOTS];
    uint64_t rng = seed;

    for (uint64_t i = 0; i < ops; i++) {
        struct slot *s = &slots[rng_next(&rng) % TRACE_SLOTS];
        if (s->p == NULL) {
            s->size = random_size(&rng);
            s->p = random_alloc(&rng, s->size);
            slot_fill(s, &rng);
        } else if (outbox != NULL && i % 64 == 0) {
            exchange(s, inbox, outbox);
        } else {
            slot_change(s, &rng);
        }
    }
    for (int i = 0; i < TRACE_SLOTS; i++) {
        if (slots[i].p != NULL) {
            expect(block_intact(slots[i].p, slots[i].size, slots[i].size, slots[i].tag),
                   "a block changed");
            zm_free(slots[i].p);
            slots[i].p = NULL;
        }
    }
}

/* The mapped bytes once everything is freed: only spare zones remain. */
static void print_leftovers(void)
{
    struct zm_stats s;

    zm_flush_thread_cache();
    zm_get_stats(&s);
    fact_uint("zones_after", s.zones);
    fact_uint("mapped_after_bytes", s.mapped_bytes);
    fact_uint("peak_mapped_bytes", s.peak_mapped_bytes);
    fact_uint("arenas", s.arenas);
    facts_end();
}

int test_trace(const struct test_options *o)
{
    run_trace(o->ops, o->seed, NULL, NULL);
    int problems = zm_check_heap();
    fact_uint("ops", o->ops);
    fact_uint("threads", 1);
    fact_int("check_problems", problems);
    facts_end();
    print_leftovers();
    return problems == 0 ? 0 : 1;
}

struct trace_thread {
    pthread_t thread;
    uint64_t ops, seed;
    struct mailbox *inbox, *outbox;
};

static void *trace_thread_main(void *arg)
{
    struct trace_thread *t = arg;

    run_trace(t->ops, t->seed, t->inbox, t->outbox);
    return NULL;
}

int test_trace_threads(const struct test_options *o)
{
    static struct mailbox boxes[64];
    static struct trace_thread threads[64];
    unsigned n = o->threads;
    int err;

    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_init(&boxes[i].lock, NULL);
        threads[i] = (struct trace_thread){.ops = o->ops / n,
                                           .seed = o->seed + i,
                                           .inbox = &boxes[i],
                                           .outbox = &boxes[(i + 1) % n]};
    }
    for (unsigned i = 0; i < n; i++)
        if ((err = pthread_create(&threads[i].thread, NULL, trace_thread_main, &threads[i])) != 0)
            die_err("pthread_create", err);
    for (unsigned i = 0; i < n; i++)
        if ((err = pthread_join(threads[i].thread, NULL)) != 0)
            die_err("pthread_join", err);
    for (unsigned i = 0; i < n; i++) /* what was sent after its receiver finished */
        while (boxes[i].count > 0) {
            struct slot *in = &boxes[i].slots[--boxes[i].count];
            expect(block_intact(in->p, in->size, in->size, in->tag),
                   "a block changed in a mailbox");
            zm_free(in->p);
        }
    int problems = zm_check_heap();
    fact_uint("ops", o->ops);
    fact_uint("threads", n);
    fact_int("check_problems", problems);
    facts_end();
    print_leftovers();
    return problems == 0 ? 0 : 1;
}
