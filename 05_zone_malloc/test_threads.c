/*
 * test_threads.c - the allocator and threads: threads that exit, and fork()
 * while other threads are inside the allocator.
 */
#include "child.h"
#include "cli.h"
#include "clock.h"
#include "out.h"
#include "rng.h"
#include "zone_malloc.h"
#include "zone_malloc_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

enum { FORK_TIMEOUT_MS = 5000, HOLDER_TIMEOUT_MS = 500, BATCH = 300 };

/* TINY blocks (more than one cache refill), a SMALL and a LARGE one: each
 * kind of allocation, and so each kind of lock. */
static bool allocate_each_kind(void)
{
    void *blocks[BATCH + 2];

    for (int i = 0; i < BATCH; i++)
        blocks[i] = zm_malloc((size_t)(i * 7) % 1025);
    blocks[BATCH] = zm_malloc(5000);
    blocks[BATCH + 1] = zm_malloc(300000);
    for (int i = 0; i < BATCH + 2; i++) {
        if (blocks[i] == NULL)
            return false;
        *(volatile char *)blocks[i] = 1;
    }
    for (int i = 0; i < BATCH + 2; i++)
        zm_free(blocks[i]);
    return true;
}

/* --- threads that exit ------------------------------------------------ */

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

/* --- fork while other threads allocate --------------------------------- */

struct hammer {
    pthread_t thread;
    uint64_t seed;
    atomic_bool *stop;
};

/* Allocate, touch, reallocate and free, in every size class, until told
 * to stop: at any instant this thread may be inside the allocator. */
static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    void *slots[64] = {NULL};
    uint64_t rng = h->seed;

    while (!atomic_load_explicit(h->stop, memory_order_relaxed)) {
        uint64_t r = rng_next(&rng);
        void **s = &slots[r % 64];
        size_t size = (r >> 8) % 64 == 0 ? 200000 : (r >> 16) % 4 == 0 ? 3000 : (r >> 24) % 1025;
        if (*s == NULL) {
            *s = zm_malloc(size);
            expect(*s != NULL, "a hammer thread could not allocate");
        } else if ((r >> 40) % 2 == 0) {
            *s = zm_realloc(*s, size + 1);
            expect(*s != NULL, "a hammer thread could not reallocate");
        } else {
            zm_free(*s);
            *s = NULL;
        }
    }
    for (int i = 0; i < 64; i++)
        zm_free(slots[i]);
    return NULL;
}

/* The child of a multithreaded parent: only async-signal-safe calls besides
 * the allocator's own (no stdio: another thread may have held its lock). */
static int child_allocates(void *arg)
{
    (void)arg;
    if (!allocate_each_kind())
        return 3;
    return zm_check_heap() == 0 ? 0 : 4;
}

static void start_hammers(struct hammer *h, unsigned n, atomic_bool *stop, uint64_t seed)
{
    int err;

    for (unsigned i = 0; i < n; i++) {
        h[i] = (struct hammer){.seed = seed + i, .stop = stop};
        if ((err = pthread_create(&h[i].thread, NULL, hammer_main, &h[i])) != 0)
            die_err("pthread_create", err);
    }
}

static void stop_hammers(struct hammer *h, unsigned n, atomic_bool *stop)
{
    int err;

    atomic_store(stop, true);
    for (unsigned i = 0; i < n; i++)
        if ((err = pthread_join(h[i].thread, NULL)) != 0)
            die_err("pthread_join", err);
}

int test_fork(const struct test_options *o)
{
    static struct hammer hammers[64];
    atomic_bool stop = false;
    unsigned ok = 0, deadlocked = 0, crashed = 0;

    if (o->handlers_off)
        zm_set_fork_handlers(0);
    expect(allocate_each_kind(), "the parent could not allocate");
    start_hammers(hammers, o->threads, &stop, o->seed);
    for (unsigned i = 0; i < o->forks; i++) {
        struct child_result r = child_run(child_allocates, NULL, FORK_TIMEOUT_MS);
        ok += child_ok(&r);
        deadlocked += r.end == CHILD_TIMED_OUT;
        crashed += !child_ok(&r) && r.end != CHILD_TIMED_OUT;
    }
    stop_hammers(hammers, o->threads, &stop);
    int problems = zm_check_heap();
    fact_int("fork_handlers", zm_fork_handlers());
    fact_uint("threads", o->threads);
    fact_uint("forks", o->forks);
    fact_uint("ok", ok);
    fact_uint("deadlocked", deadlocked);
    fact_uint("crashed", crashed);
    fact_int("check_problems", problems);
    facts_end();
    return problems == 0 ? 0 : 1;
}

/* --- fork while another thread holds every allocator lock --------------- */

struct holder {
    pthread_t thread;
    int ready[2];   /* the holder writes a byte once it holds the locks */
    int release[2]; /* we write a byte to make it let go */
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    char byte = 'h';

    zm_lock_all();
    if (write(h->ready[1], &byte, 1) != 1)
        die_errno("write");
    while (read(h->release[0], &byte, 1) < 0)
        if (errno != EINTR)
            die_errno("read");
    zm_unlock_all();
    return NULL;
}

static void wait_byte(int fd)
{
    char byte;

    while (read(fd, &byte, 1) < 0)
        if (errno != EINTR)
            die_errno("read");
}

static void send_byte(int fd)
{
    if (write(fd, "r", 1) != 1)
        die_errno("write");
}

/*
 * Another thread holds every allocator lock (zm_lock_all) at the instant of
 * fork, made certain by a handshake, not by luck.  With the fork handlers
 * on, fork() waits for the holder to let go (we let it go just before) and
 * the child allocates; with them off, the child inherits locked locks and
 * blocks in its first SMALL allocation until the watchdog kills it.
 */
int test_fork_holder(const struct test_options *o)
{
    struct holder h;
    struct child_result r;
    char how[64];
    int err;

    if (o->handlers_off)
        zm_set_fork_handlers(0);
    bool handlers = zm_fork_handlers();
    expect(allocate_each_kind(), "the parent could not allocate");
    if (pipe(h.ready) != 0 || pipe(h.release) != 0)
        die_errno("pipe");
    if ((err = pthread_create(&h.thread, NULL, holder_main, &h)) != 0)
        die_err("pthread_create", err);
    wait_byte(h.ready[0]);
    uint64_t started = now_ns();
    if (handlers)
        send_byte(h.release[1]); /* fork's prepare handler waits for it to let go */
    pid_t pid = child_start(child_allocates, NULL);
    r = child_wait(pid, started, HOLDER_TIMEOUT_MS);
    if (!handlers)
        send_byte(h.release[1]);
    if ((err = pthread_join(h.thread, NULL)) != 0)
        die_err("pthread_join", err);
    close(h.ready[0]);
    close(h.ready[1]);
    close(h.release[0]);
    close(h.release[1]);
    printf("fork handlers %s, another thread holding every allocator lock: the child %s\n",
           handlers ? "on" : "off", child_describe(&r, how));
    fact_int("fork_handlers", handlers);
    fact_word("child", child_ok(&r) ? "ok" : r.end == CHILD_TIMED_OUT ? "deadlocked" : "crashed");
    facts_end();
    return 0;
}
