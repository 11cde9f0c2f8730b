/*
 * test_caches.c - the thread cache's SMALL classes, and remote frees: blocks
 * freed by threads of other arenas, going home while threads come and go.
 */
#include "cli.h"
#include "out.h"
#include "rng.h"
#include "sync.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <pthread.h>
#include <string.h>

enum { SMALL_CACHE_MAX = 16384, PAIRS = 10000 };

static uint64_t arena_locks(void)
{
    struct zm_stats s;

    zm_get_stats(&s);
    return s.arena_locks;
}

/* SMALL blocks up to SMALL_CACHE_MAX come back from the thread cache: the
 * same block, no lock; each cached size gets a block of its class. */
int test_small_cache(const struct test_options *o)
{
    (void)o;
    void *p = zm_malloc(5000);
    zm_free(p);
    uint64_t before = arena_locks();
    int same = 1;
    for (int i = 0; i < PAIRS; i++) {
        void *q = zm_malloc(5000);
        same &= q == p;
        zm_free(q);
    }
    uint64_t locks = arena_locks() - before;
    size_t worst = 0;
    for (size_t size = 1025; size <= SMALL_CACHE_MAX; size += 7) {
        void *q = zm_malloc(size);
        size_t usable = zm_malloc_usable_size(q);
        expect(q != NULL && usable >= size, "a SMALL block holds its request");
        if (usable - size > worst)
            worst = usable - size;
        memset(q, 0x5a, usable);
        zm_free(q);
    }
    int problems = zm_check_heap(); /* with blocks of every class in the cache */
    fact_int("small_same_block", same);
    fact_uint("pairs", PAIRS);
    fact_uint("arena_locks", locks);
    fact_uint("worst_rounding_bytes", worst);
    fact_int("check_problems", problems);
    facts_end();
    return problems == 0 ? 0 : 1;
}

/*
 * Remote frees under thread churn: in each wave, short-lived producer
 * threads allocate blocks and hand them to this thread, which checks and
 * frees half of them while their producers still run, the other half after
 * they have exited (their arenas then have no thread, or a new one from the
 * next wave).  At the end every block is home: once flushed and trimmed,
 * nothing is left but the SMALL zone each arena keeps.
 */
enum { WAVES = 20, PRODUCERS = 3, HANDED = 1500 };

struct producer {
    pthread_t thread;
    uint64_t seed;
    unsigned char *blocks[HANDED];
    size_t sizes[HANDED];
    pthread_barrier_t *handed, *half_freed;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    uint64_t rng = p->seed;

    for (int i = 0; i < HANDED; i++) {
        uint64_t r = rng_next(&rng);
        p->sizes[i] = r % 4 == 0 ? 1025 + (r >> 8) % (SMALL_CACHE_MAX - 1024) : 1 + (r >> 8) % 1024;
        p->blocks[i] = zm_malloc(p->sizes[i]);
        expect(p->blocks[i] != NULL, "a producer's allocation returned NULL");
        fill_block(p->blocks[i], p->sizes[i], (unsigned char)(i | 1));
    }
    pthread_barrier_wait(p->handed);
    pthread_barrier_wait(p->half_freed); /* exits while the rest is still to free */
    return NULL;
}

static void free_handed(struct producer *p, int from, int step)
{
    for (int i = from; i < HANDED; i += step) {
        expect(block_intact(p->blocks[i], p->sizes[i], p->sizes[i], (unsigned char)(i | 1)),
               "a block changed on its way to another thread");
        zm_free(p->blocks[i]);
    }
}

int test_remote_churn(const struct test_options *o)
{
    static struct producer producers[PRODUCERS];
    pthread_barrier_t handed, half_freed;
    struct zm_stats before, after;

    zm_get_stats(&before);
    pthread_barrier_init(&handed, NULL, PRODUCERS + 1);
    pthread_barrier_init(&half_freed, NULL, PRODUCERS + 1);
    for (int wave = 0; wave < WAVES; wave++) {
        for (int i = 0; i < PRODUCERS; i++) {
            producers[i] = (struct producer){.seed = o->seed + (uint64_t)(wave * PRODUCERS + i),
                                             .handed = &handed,
                                             .half_freed = &half_freed};
            producers[i].thread = start_thread(producer_main, &producers[i]);
        }
        pthread_barrier_wait(&handed);
        for (int i = 0; i < PRODUCERS; i++)
            free_handed(&producers[i], 0, 2); /* the owner is still running */
        pthread_barrier_wait(&half_freed);
        for (int i = 0; i < PRODUCERS; i++)
            join_thread(producers[i].thread);
        for (int i = 0; i < PRODUCERS; i++)
            free_handed(&producers[i], 1, 2); /* the owner has exited */
    }
    pthread_barrier_destroy(&handed);
    pthread_barrier_destroy(&half_freed);
    int problems = zm_check_heap();
    zm_flush_thread_cache();
    zm_trim();
    zm_get_stats(&after);
    fact_uint("waves", WAVES);
    fact_uint("threads_started", WAVES * PRODUCERS);
    fact_uint("blocks", (uint64_t)WAVES * PRODUCERS * HANDED);
    fact_uint("remote_frees", after.remote_frees - before.remote_frees);
    fact_uint("arenas", after.arenas);
    fact_uint("zones_after", after.zones);
    fact_uint("mapped_after_bytes", after.mapped_bytes);
    fact_int("check_problems", problems + zm_check_heap());
    facts_end();
    return problems == 0 ? 0 : 1;
}
