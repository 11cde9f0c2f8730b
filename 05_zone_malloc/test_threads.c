/*
 * test_threads.c - the allocator and threads: threads that exit, and fork()
 * while other threads are inside the allocator (fork_check.c).
 */
#include "cli.h"
#include "fork_check.h"
#include "out.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <pthread.h>
#include <stdio.h>

enum { FORK_TIMEOUT_MS = 5000, HOLDER_TIMEOUT_MS = 500 };

static void *exiting_thread(void *arg)
{
    (void)arg;
    expect(allocate_each_kind(), "a thread could not allocate");
    return NULL;
}

/* Waves of threads that allocate, free (into their caches) and exit: the
 * thread-exit destructor must give every cached block back, so at the end
 * nothing but spare zones is left, and arenas are reused. */
int test_thread_exit(const struct test_options *o)
{
    enum { WAVES = 50 };
    pthread_t threads[64];
    struct zm_stats s;
    int err;

    for (int wave = 0; wave < WAVES; wave++) {
        for (unsigned i = 0; i < o->threads; i++)
            if ((err = pthread_create(&threads[i], NULL, exiting_thread, NULL)) != 0)
                die_err("pthread_create", err);
        for (unsigned i = 0; i < o->threads; i++)
            if ((err = pthread_join(threads[i], NULL)) != 0)
                die_err("pthread_join", err);
    }
    zm_get_stats(&s);
    int problems = zm_check_heap();
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
    expect(allocate_each_kind(), "the parent could not allocate");
    struct fork_outcome r = fork_while_allocating(o->threads, o->forks, o->seed, FORK_TIMEOUT_MS);
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
    expect(allocate_each_kind(), "the parent could not allocate");
    struct child_result r = fork_while_locked(HOLDER_TIMEOUT_MS);
    printf("fork handlers %s, another thread holding every allocator lock: the child %s\n",
           zm_fork_handlers() ? "on" : "off", child_describe(&r, how));
    fact_int("fork_handlers", zm_fork_handlers());
    fact_word("child", child_ok(&r) ? "ok" : r.end == CHILD_TIMED_OUT ? "deadlocked" : "crashed");
    facts_end();
    return 0;
}
