/*
 * fork_check.c - fork() while other threads use the allocator (see
 * fork_check.h).
 */
#include "fork_check.h"

#include "cli.h"
#include "clock.h"
#include "rng.h"
#include "zone_malloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

enum { BATCH = 300, HAMMER_SLOTS = 64 };

bool allocate_each_kind(void)
{
    void *blocks[BATCH + 2];
    bool ok = true;

    for (int i = 0; i < BATCH; i++)
        blocks[i] = zm_malloc((size_t)(i * 7) % 1025);
    blocks[BATCH] = zm_malloc(5000);
    blocks[BATCH + 1] = zm_malloc(300000);
    for (int i = 0; i < BATCH + 2; i++) {
        if (blocks[i] == NULL)
            ok = false;
        else
            *(volatile char *)blocks[i] = 1;
        zm_free(blocks[i]);
    }
    return ok;
}

struct hammer {
    pthread_t thread;
    uint64_t seed;
    atomic_bool *stop;
    bool failed; /* an allocation returned NULL */
};

/* Allocate, touch, reallocate and free blocks of every kind until told to
 * stop: at any instant this thread may be inside the allocator. */
static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    void *slots[HAMMER_SLOTS] = {NULL};
    uint64_t rng = h->seed;

    while (!atomic_load_explicit(h->stop, memory_order_relaxed)) {
        uint64_t r = rng_next(&rng);
        void **s = &slots[r % HAMMER_SLOTS];
        size_t size = (r >> 8) % 64 == 0 ? 200000 : (r >> 16) % 4 == 0 ? 3000 : (r >> 24) % 1025;
        void *p = NULL;
        if (*s == NULL)
            p = zm_malloc(size);
        else if ((r >> 40) % 2 == 0)
            p = zm_realloc(*s, size + 1);
        else
            zm_free(*s);
        h->failed |= p == NULL && (*s == NULL || (r >> 40) % 2 == 0);
        *s = p;
        if (p != NULL)
            *(volatile char *)p = 1;
    }
    for (int i = 0; i < HAMMER_SLOTS; i++)
        zm_free(slots[i]);
    return NULL;
}

/* The child of a multithreaded parent calls nothing but the allocator
 * (another thread may have held stdio's lock at the fork). */
static int child_allocates(void *arg)
{
    (void)arg;
    if (!allocate_each_kind())
        return 3;
    return zm_check_heap() == 0 ? 0 : 4;
}

void count_outcome(struct fork_outcome *o, const struct child_result *r)
{
    o->forks++;
    if (child_ok(r))
        o->ok++;
    else if (r->end == CHILD_TIMED_OUT)
        o->deadlocked++;
    else
        o->crashed++;
}

struct fork_outcome fork_while_allocating(unsigned threads, unsigned forks, uint64_t seed,
                                          int timeout_ms)
{
    static struct hammer hammers[64];
    atomic_bool stop = false;
    struct fork_outcome outcome = {0};
    int err;

    if (threads > 64)
        threads = 64;
    for (unsigned i = 0; i < threads; i++) {
        hammers[i] = (struct hammer){.seed = seed + i, .stop = &stop};
        if ((err = pthread_create(&hammers[i].thread, NULL, hammer_main, &hammers[i])) != 0)
            die_err("pthread_create", err);
    }
    for (unsigned i = 0; i < forks; i++) {
        struct child_result r = child_run(child_allocates, NULL, timeout_ms);
        count_outcome(&outcome, &r);
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < threads; i++) {
        if ((err = pthread_join(hammers[i].thread, NULL)) != 0)
            die_err("pthread_join", err);
        if (hammers[i].failed)
            die("an allocating thread got NULL from the allocator");
    }
    return outcome;
}

struct holder {
    pthread_t thread;
    int ready[2];   /* it writes a byte here once it holds every lock */
    int release[2]; /* it lets go when a byte arrives here, and exits at the next */
};

static void read_byte(int fd)
{
    char byte;

    while (read(fd, &byte, 1) < 0)
        if (errno != EINTR)
            die_errno("read");
}

static void write_byte(int fd)
{
    if (write(fd, "b", 1) != 1)
        die_errno("write");
}

static void *holder_main(void *arg)
{
    struct holder *h = arg;

    zm_lock_all();
    write_byte(h->ready[1]);
    read_byte(h->release[0]);
    zm_unlock_all();
    read_byte(h->release[0]); /* alive until the fork is over, as a thread would be */
    return NULL;
}

struct child_result run_while_locked(pid_t (*start)(void *arg), void *arg, int timeout_ms)
{
    bool handlers = zm_fork_handlers();
    struct holder h;
    int err;

    /* close-on-exec: a process start() execs must not inherit them */
    if (pipe2(h.ready, O_CLOEXEC) != 0 || pipe2(h.release, O_CLOEXEC) != 0)
        die_errno("pipe2");
    if ((err = pthread_create(&h.thread, NULL, holder_main, &h)) != 0)
        die_err("pthread_create", err);
    read_byte(h.ready[0]); /* from here on, it holds every lock */
    uint64_t started = now_ns();
    if (handlers)
        write_byte(h.release[1]); /* fork's prepare handler will wait for it */
    pid_t pid = start(arg);
    struct child_result r = child_wait(pid, started, timeout_ms);
    if (!handlers)
        write_byte(h.release[1]);
    write_byte(h.release[1]);
    if ((err = pthread_join(h.thread, NULL)) != 0)
        die_err("pthread_join", err);
    close(h.ready[0]);
    close(h.ready[1]);
    close(h.release[0]);
    close(h.release[1]);
    return r;
}

static pid_t start_allocating_child(void *arg)
{
    return child_start(child_allocates, arg);
}

struct child_result fork_while_locked(int timeout_ms)
{
    return run_while_locked(start_allocating_child, NULL, timeout_ms);
}
