/*
 * test_threads.c - the allocator and threads: threads that exit, and fork()
 * while other threads are inside the allocator (common/hammer.h).
 */
#include "cli.h"
#include "hammer.h"
#include "out.h"
#include "sync.h"
#include "zone_adapters.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <pthread.h>
#include <stdio.h>

enum { FORK_TIMEOUT_MS = 5000, HOLDER_TIMEOUT_MS = 500 };

static void *exiting_thread(void *arg)
{
    (void)arg;
    expect(allocate_every_size(&zone_workload_api), "a thread could not allocate");
    return NULL;
}

/* Waves of threads that allocate, free (into their caches) and exit: the
 * thread-exit destructor must give every cached block back, so at the end
 * nothing but empty zones is left (in the pool, until zm_trim), and
 * arenas are reused. */
int test_thread_exit(const struct test_options *o)
{
    enum { WAVES = 50 };
    pthread_t threads[64];
    struct zm_stats s;

    for (int wave = 0; wave < WAVES; wave++) {
        for (unsigned i = 0; i < o->threads; i++)
            threads[i] = start_thread(exiting_thread, NULL);
        for (unsigned i = 0; i < o->threads; i++)
            join_thread(threads[i]);
    }
    int problems = zm_check_heap();
    zm_trim();
    zm_get_stats(&s);
    fact_uint("threads_started", (uint64_t)WAVES * o->threads);
    fact_uint("arenas", s.arenas);
    fact_uint("zones_after", s.zones);
    fact_int("check_problems", problems);
    facts_end();
    return problems == 0 ? 0 : 1;
}

/* fork() while other threads allocate: every child allocates. */
int test_fork(const struct test_options *o)
{
    if (o->handlers_off)
        zm_set_fork_handlers(0);
    expect(allocate_every_size(&zone_workload_api), "the parent could not allocate");
    struct fork_outcome r = fork_while_hammering(&zone_workload_api, o->threads, o->seed, o->forks,
                                                 &zone_child_job, child_run, FORK_TIMEOUT_MS);
    int problems = zm_check_heap();
    fact_int("fork_handlers", zm_fork_handlers());
    fact_uint("threads", o->threads);
    fact_uint("forks", r.forks);
    fact_uint("ok", r.ok);
    fact_uint("deadlocked", r.deadlocked);
    fact_uint("crashed", r.crashed);
    fact_int("check_problems", problems);
    facts_end();
    return problems == 0 ? 0 : 1;
}

/* fork() while another thread holds every allocator lock. */
int test_fork_holder(const struct test_options *o)
{
    char how[64];

    if (o->handlers_off)
        zm_set_fork_handlers(0);
    expect(allocate_every_size(&zone_workload_api), "the parent could not allocate");
    struct held_locks locks = zone_held_locks();
    struct child_result r =
        run_while_held(&locks, start_child_job, (void *)&zone_child_job, HOLDER_TIMEOUT_MS);
    printf("fork handlers %s, another thread holding every allocator lock: the child %s\n",
           zm_fork_handlers() ? "on" : "off", child_describe(&r, how));
    fact_int("fork_handlers", zm_fork_handlers());
    fact_word("child", child_ok(&r) ? "ok" : r.end == CHILD_TIMED_OUT ? "deadlocked" : "crashed");
    facts_end();
    return 0;
}
