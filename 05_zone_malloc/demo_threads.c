/*
 * demo_threads.c - lesson 05's demo, threads: SMALL blocks served from the
 * thread cache without a lock, blocks freed by another thread sent home
 * through a remote list, the speed against glibc's malloc, and fork()
 * while other threads are inside the allocator.
 */
#include "child.h"
#include "cli.h"
#include "demo.h"
#include "hammer.h"
#include "out.h"
#include "sort.h"
#include "workload.h"
#include "zone_adapters.h"

#include <pthread.h>
#include <stdio.h>

enum {
    CACHE_OPS = 100000,
    CACHED_SIZE = 5000,    /* a SMALL size the thread cache keeps */
    UNCACHED_SIZE = 20000, /* above SMALL_CACHE_MAX */
    UNCACHED_OPS = 1000,
    REMOTE_BLOCKS = 20000,
    SPEED_OPS = 1000000,
    SPEED_ROUNDS = 3,
    FORKS = 20,
    FORK_TIMEOUT_MS = 300,
};

/* Arena locks taken by ops malloc/free pairs of size bytes. */
static uint64_t locks_for(size_t size, int ops)
{
    uint64_t before = stats_now().arena_locks;

    for (int i = 0; i < ops; i++)
        zm_free(must_alloc(size));
    return stats_now().arena_locks - before;
}

void show_cache(void)
{
    heading("cache: SMALL blocks up to 16 KiB are cached too, and take no lock");
    zm_free(must_alloc(CACHED_SIZE)); /* the class's first refill */
    uint64_t cached = locks_for(CACHED_SIZE, CACHE_OPS);
    uint64_t uncached = locks_for(UNCACHED_SIZE, UNCACHED_OPS);
    printf("%d malloc/free pairs of %d bytes took the arena lock %llu times: %s\n"
           "%d pairs of %d bytes, a size no cache keeps, took it %llu times%s.\n",
           CACHE_OPS, CACHED_SIZE, (unsigned long long)cached,
           cached * 100 < CACHE_OPS
               ? "the block goes to this\nthread's cache and comes back from it."
               : "more than a cache would.",
           UNCACHED_OPS, UNCACHED_SIZE, (unsigned long long)uncached,
           uncached == 2 * UNCACHED_OPS ? ": once per malloc and once per free" : "");
    fact_uint("cached_size_bytes", CACHED_SIZE);
    fact_uint("cached_pairs", CACHE_OPS);
    fact_uint("cached_locks", cached);
    fact_uint("uncached_size_bytes", UNCACHED_SIZE);
    fact_uint("uncached_pairs", UNCACHED_OPS);
    fact_uint("uncached_locks", uncached);
    facts_end();
}

/* The other thread of show_remote: allocates, lets the main thread free,
 * allocates again. */
struct producer {
    pthread_barrier_t *step;
    void *blocks[REMOTE_BLOCKS];
    uint64_t zones_mapped_again; /* by its second round of allocations */
};

static void produce(struct producer *p)
{
    for (int i = 0; i < REMOTE_BLOCKS; i++)
        p->blocks[i] = must_alloc(i % 4 == 0 ? 3000 : 100);
}

static void *producer_main(void *arg)
{
    struct producer *p = arg;

    produce(p);
    pthread_barrier_wait(p->step); /* the main thread frees them now */
    pthread_barrier_wait(p->step);
    uint64_t mapped = stats_now().zones_mapped;
    produce(p); /* from what came home */
    p->zones_mapped_again = stats_now().zones_mapped - mapped;
    for (int i = 0; i < REMOTE_BLOCKS; i++)
        zm_free(p->blocks[i]);
    return NULL;
}

void show_remote(void)
{
    static struct producer p;
    pthread_barrier_t step;
    pthread_t thread;
    int err;

    heading("remote: blocks freed by another thread go home without a lock");
    if ((err = pthread_barrier_init(&step, NULL, 2)) != 0)
        die_err("pthread_barrier_init", err);
    p = (struct producer){.step = &step};
    if ((err = pthread_create(&thread, NULL, producer_main, &p)) != 0)
        die_err("pthread_create", err);
    zm_flush_thread_cache(); /* this thread's own blocks from the parts before */
    pthread_barrier_wait(&step);
    struct zm_stats before = stats_now();
    for (int i = 0; i < REMOTE_BLOCKS; i++)
        zm_free(p.blocks[i]);
    struct zm_stats after = stats_now();
    zm_flush_thread_cache(); /* the last ones, still in this thread's cache */
    struct zm_stats flushed = stats_now();
    pthread_barrier_wait(&step);
    if ((err = pthread_join(thread, NULL)) != 0)
        die_err("pthread_join", err);
    pthread_barrier_destroy(&step);
    printf("Another thread allocated %d blocks; this one freed them all: its cache kept\n"
           "the first ones, and as it overflowed sent %llu home to the other thread's arena\n"
           "on its remote lists, taking an arena lock %llu times for it (emptying the cache\n"
           "then sent the last %llu).  The other thread then allocated %d blocks again from\n"
           "what came home: %llu new zones mapped.\n",
           REMOTE_BLOCKS, (unsigned long long)(after.remote_frees - before.remote_frees),
           (unsigned long long)(after.arena_locks - before.arena_locks),
           (unsigned long long)(flushed.remote_frees - after.remote_frees), REMOTE_BLOCKS,
           (unsigned long long)p.zones_mapped_again);
    fact_uint("blocks", REMOTE_BLOCKS);
    fact_uint("sent_home", after.remote_frees - before.remote_frees);
    fact_uint("freeing_locks", after.arena_locks - before.arena_locks);
    fact_uint("sent_home_by_flush", flushed.remote_frees - after.remote_frees);
    fact_uint("zones_mapped_again", p.zones_mapped_again);
    fact_int("check_problems", zm_check_heap());
    facts_end();
}

/* The two allocators alternately, several rounds, medians: the machine's
 * noise hits both alike. */
void show_speed(void)
{
    uint64_t zone[SPEED_ROUNDS], glibc[SPEED_ROUNDS];
    struct workload_result r;

    heading("speed: the workload, zone allocator against glibc's malloc");
    for (int i = 0; i < SPEED_ROUNDS; i++) {
        workload_run(&zone_workload_api, SPEED_OPS, 1, &r);
        zone[i] = r.ops * 1000000000u / r.elapsed_ns;
        workload_run(&workload_libc_api, SPEED_OPS, 1, &r);
        glibc[i] = r.ops * 1000000000u / r.elapsed_ns;
    }
    uint64_t z = median_u64(zone, SPEED_ROUNDS), g = median_u64(glibc, SPEED_ROUNDS);
    printf("%d rounds of %d random malloc/free steps (16..527 bytes, 4096 slots), medians:\n"
           "  zone  %6.1f million ops/s\n  glibc %6.1f million ops/s\n"
           "(a quick look; bench/alloc_bench measures with threads, and space)\n",
           SPEED_ROUNDS, SPEED_OPS, z / 1e6, g / 1e6);
    fact_uint("ops", SPEED_OPS);
    fact_uint("zone_ops_per_sec", z);
    fact_uint("glibc_ops_per_sec", g);
    facts_end();
}

void show_fork(void)
{
    char how[64];

    heading("fork: other threads are inside the allocator at the instant of fork");
    struct fork_outcome o =
        fork_while_hammering(&zone_workload_api, 3, 7, FORKS, &zone_child_job, child_run, 2000);
    printf("3 threads allocate without pause; %u forks; every child allocates TINY, SMALL and\n"
           "LARGE blocks and checks the heap: %u ok, %u deadlocked, %u crashed.\n"
           "The allocator's pthread_atfork handlers took every lock before each fork.\n",
           o.forks, o.ok, o.deadlocked, o.crashed);
    fact_int("fork_handlers", zm_fork_handlers());
    fact_uint("forks", o.forks);
    fact_uint("children_ok", o.ok);
    fact_uint("deadlocked", o.deadlocked);
    facts_end();

    subheading("the same handlers switched off, a thread holding the locks at the fork");
    zm_set_fork_handlers(0);
    struct held_locks locks = zone_held_locks();
    struct child_result r =
        run_while_held(&locks, start_child_job, (void *)&zone_child_job, FORK_TIMEOUT_MS);
    zm_set_fork_handlers(1);
    printf("The child inherited locks held by a thread that does not exist in it;\n"
           "its first allocation that needed a lock waited for ever.  The watchdog: %s.\n"
           "(Lesson 06 takes this apart.)\n",
           child_describe(&r, how));
    fact_int("fork_handlers", 0);
    fact_word("child", child_ok(&r) ? "ok" : r.end == CHILD_TIMED_OUT ? "deadlocked" : "crashed");
    facts_end();
}
