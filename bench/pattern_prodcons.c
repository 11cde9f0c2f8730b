/*
 * pattern_prodcons.c - producers and consumers: threads in a ring, each
 * allocating batches of blocks for the next thread, which checks and
 * frees them, while it frees the batches the thread before it sent.
 * Every free is of a block another thread allocated (as in a pipeline,
 * a message queue, or a thread pool handing results back).
 *
 * What it asks of an allocator: that a block freed far from where it was
 * allocated goes home cheaply.  If both threads end up taking the same
 * lock for every batch, they wait for each other.
 *
 * Sizes: mostly 16..1024 bytes, one block in eight 1..8 KiB.
 * --ops counts the blocks each thread allocates.
 */
#include "cli.h"
#include "patterns.h"
#include "rng.h"
#include "sync.h"

#include <pthread.h>

enum { BATCH = 64, QUEUE = 8 };

struct batch {
    struct pblock blocks[BATCH];
    unsigned count;
};

/* The batches on their way from one thread to the next. */
struct queue {
    struct batch slots[QUEUE];
    unsigned head, count;
};

struct producer {
    pthread_t thread;
    unsigned index;
    const struct pattern_options *o;
    struct queue *inbox, *outbox;
    struct pattern_tally *tally;
    uint64_t received; /* batches freed so far */
};

/* One lock and one condition for all queues: a thread waits for room in
 * its outbox or a batch in its inbox, whichever comes first. */
static pthread_mutex_t queues_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queues_changed = PTHREAD_COND_INITIALIZER;

static size_t block_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);

    return r % 8 == 0 ? 1024 + (r >> 3) % 7169 : 16 + (r >> 3) % 1009;
}

static void free_batch(struct batch *b, struct pattern_count *c)
{
    for (unsigned i = 0; i < b->count; i++)
        block_done(&b->blocks[i], c);
}

/* Take a batch from the inbox if one is there; queues_lock held. */
static bool take_locked(struct queue *q, struct batch *out)
{
    if (q->count == 0)
        return false;
    *out = q->slots[q->head];
    q->head = (q->head + 1) % QUEUE;
    q->count--;
    pthread_cond_broadcast(&queues_changed);
    return true;
}

/* Send a batch on, freeing what arrives while the outbox is full. */
static void send(struct producer *p, const struct batch *b, struct pattern_count *c)
{
    struct batch in;

    pthread_mutex_lock(&queues_lock);
    while (p->outbox->count == QUEUE) {
        if (take_locked(p->inbox, &in)) {
            pthread_mutex_unlock(&queues_lock);
            free_batch(&in, c);
            p->received++;
            pthread_mutex_lock(&queues_lock);
        } else {
            pthread_cond_wait(&queues_changed, &queues_lock);
        }
    }
    p->outbox->slots[(p->outbox->head + p->outbox->count) % QUEUE] = *b;
    p->outbox->count++;
    pthread_cond_broadcast(&queues_changed);
    pthread_mutex_unlock(&queues_lock);
}

/* Receive and free one batch; wait for it if wait, else only if one is there. */
static void receive(struct producer *p, bool wait, struct pattern_count *c)
{
    struct batch in;
    bool got;

    pthread_mutex_lock(&queues_lock);
    while (!(got = take_locked(p->inbox, &in)) && wait)
        pthread_cond_wait(&queues_changed, &queues_lock);
    pthread_mutex_unlock(&queues_lock);
    if (got) {
        free_batch(&in, c);
        p->received++;
    }
}

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    struct pattern_count c = {0};
    uint64_t rng = p->o->seed + p->index, n = 0, batches = (p->o->ops + BATCH - 1) / BATCH;

    for (uint64_t i = 0; i < batches; i++) {
        struct batch b = {.count = 0};
        for (; b.count < BATCH && n < p->o->ops; b.count++, n++)
            block_new(&b.blocks[b.count], block_size(&rng), block_id(p->index, n), false, &c);
        send(p, &b, &c);
        receive(p, false, &c);
    }
    /* the thread before this one sends as many batches as this one did */
    while (p->received < batches)
        receive(p, true, &c);
    count_add(p->tally, &c);
    return NULL;
}

void run_prodcons(const struct pattern_options *o, struct pattern_tally *t)
{
    static struct producer producers[64];
    static struct queue queues[64];
    unsigned n = o->threads;

    for (unsigned i = 0; i < n; i++)
        producers[i] = (struct producer){
            .index = i, .o = o, .inbox = &queues[i], .outbox = &queues[(i + 1) % n], .tally = t};
    for (unsigned i = 0; i < n; i++)
        producers[i].thread = start_thread(producer_main, &producers[i]);
    for (unsigned i = 0; i < n; i++)
        join_thread(producers[i].thread);
}
