/*
 * pattern_randsizes.c - random sizes across threads: each thread keeps a
 * set of blocks of 8..16000 bytes (any size equally likely) and replaces
 * one at random at every step; one block in four is not freed by its
 * thread but passed to the next thread, which frees it.
 *
 * What it asks of an allocator: speed beyond the small sizes that every
 * per-thread cache serves.  Most requests here are of several KiB; an
 * allocator that takes a lock for those makes its threads wait.
 *
 * --ops counts the allocations of each thread.
 */
#include "cli.h"
#include "patterns.h"
#include "rng.h"
#include "sync.h"

#include <pthread.h>
#include <stdlib.h>

enum { SLOTS = 1024, MIN_SIZE = 8, MAX_SIZE = 16000, PASS_ONE_IN = 4, SEND_BATCH = 32 };
enum { MAILBOX = 1024 };

/* Blocks passed to a thread, for it to free. */
struct mailbox {
    pthread_mutex_t lock;
    struct pblock blocks[MAILBOX];
    unsigned count;
};

struct worker {
    pthread_t thread;
    unsigned index;
    const struct pattern_options *o;
    struct mailbox *inbox, *outbox;
    struct pattern_tally *tally;
};

/* Free what was sent to this thread. */
static void empty_inbox(struct mailbox *m, struct pattern_count *c)
{
    pthread_mutex_lock(&m->lock);
    while (m->count > 0)
        block_done(&m->blocks[--m->count], c);
    pthread_mutex_unlock(&m->lock);
}

/* Pass blocks on; what does not fit is freed here. */
static void send(struct mailbox *m, struct pblock *out, unsigned n, struct pattern_count *c)
{
    unsigned i = 0;

    pthread_mutex_lock(&m->lock);
    for (; i < n && m->count < MAILBOX; i++)
        m->blocks[m->count++] = out[i];
    pthread_mutex_unlock(&m->lock);
    for (; i < n; i++)
        block_done(&out[i], c);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pblock *slots = calloc(SLOTS, sizeof *slots), out[SEND_BATCH];
    struct pattern_count c = {0};
    uint64_t rng = w->o->seed * 1000003 + w->index;
    unsigned sending = 0;

    if (slots == NULL)
        die_errno("calloc");
    for (uint64_t i = 0; i < w->o->ops; i++) {
        struct pblock *s = &slots[rng_next(&rng) % SLOTS];
        uint64_t r = rng_next(&rng);
        if (s->p != NULL && r % PASS_ONE_IN == 0) {
            out[sending++] = *s;
            s->p = NULL;
            if (sending == SEND_BATCH) {
                send(w->outbox, out, sending, &c);
                sending = 0;
                empty_inbox(w->inbox, &c);
            }
        }
        block_done(s, &c);
        block_new(s, MIN_SIZE + (r >> 8) % (MAX_SIZE - MIN_SIZE + 1), block_id(w->index, i), false,
                  &c);
    }
    send(w->outbox, out, sending, &c);
    for (int i = 0; i < SLOTS; i++)
        block_done(&slots[i], &c);
    free(slots);
    count_add(w->tally, &c);
    return NULL;
}

void run_randsizes(const struct pattern_options *o, struct pattern_tally *t)
{
    static struct worker workers[64];
    static struct mailbox boxes[64];
    struct pattern_count c = {0};
    unsigned n = o->threads;

    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_init(&boxes[i].lock, NULL);
        workers[i] = (struct worker){
            .index = i, .o = o, .inbox = &boxes[i], .outbox = &boxes[(i + 1) % n], .tally = t};
    }
    for (unsigned i = 0; i < n; i++)
        workers[i].thread = start_thread(worker_main, &workers[i]);
    for (unsigned i = 0; i < n; i++)
        join_thread(workers[i].thread);
    for (unsigned i = 0; i < n; i++) /* what was sent after its receiver finished */
        empty_inbox(&boxes[i], &c);
    count_add(t, &c);
}
