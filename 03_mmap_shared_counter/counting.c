/*
 * counting.c - the children, the pages they share, and one run of the
 * experiment (see counting.h).
 *
 * The counter page, mapped fresh for every run (MAP_SHARED, or MAP_PRIVATE
 * for "private"); offsets on x86-64:
 *
 *   +-------+--------+----------------------+--------+---------------+
 *   | plain | atomic | lock                 | locked |    unused     |
 *   +-------+--------+----------------------+--------+---------------+
 *   0       4        8                      48       52          4096
 *
 *   offset  field                    used by
 *   0       volatile uint32_t plain  racy: load, add 1, store
 *   4       _Atomic uint32_t atomic  atomic and private: one locked add
 *   8       pthread_mutex_t lock     mutex: PTHREAD_PROCESS_SHARED
 *   48      uint32_t locked          mutex: changed only with lock held
 *
 * The board, a second MAP_SHARED mapping: a meeting counter, then one
 * report per child, written by the child and read by the parent once it
 * has reaped every child (waitpid orders the child's writes before that).
 */
#include "counting.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "sort.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A lock-free atomic is a plain memory word changed by one instruction, so
 * it works between processes; one that is not lock-free hides a lock in the
 * memory of each process, which the other processes never see. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && UINT_MAX == UINT32_MAX,
               "a 32-bit atomic counter must be lock-free to be shared by processes");

const char *const method_names[] = {"racy", "atomic", "mutex", "private", "all", NULL};

/* The page the children count in (see the diagram at the top). */
struct counter_page {
    volatile uint32_t plain; /* racy: volatile, so every ++ really goes to memory */
    _Atomic uint32_t atomic; /* atomic and private */
    pthread_mutex_t lock;    /* mutex: PTHREAD_PROCESS_SHARED */
    uint32_t locked;         /* mutex: read and written only with lock held */
};

/* What one child says about its run. */
struct child_report {
    uint64_t start_ns;  /* CLOCK_MONOTONIC (one clock for all CPUs) at loop start */
    uint64_t end_ns;    /* ... and at loop end */
    uint32_t own_final; /* private: the count in this child's own copy at the end */
};

/* Where the children meet, and report. */
struct board {
    _Atomic uint32_t arrived;      /* children through the gate; all spin until all are */
    struct child_report reports[]; /* one per child */
};

/* One run: built by the parent, copied into each child by fork. */
struct run {
    enum method method;
    uint32_t procs;            /* children */
    uint32_t increments;       /* additions per child */
    struct counter_page *page; /* MAP_SHARED, or MAP_PRIVATE for "private" */
    struct board *board;       /* MAP_SHARED */
};

/* A mutex other processes can take.  Without PTHREAD_PROCESS_SHARED, glibc
 * locks a mutex in a single-threaded process (each child here) with a plain
 * store, and puts waiters to sleep with process-private futexes that no
 * other process can wake. */
static void init_shared_mutex(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    int err;

    if ((err = pthread_mutexattr_init(&attr)) != 0)
        die_err("pthread_mutexattr_init", err);
    if ((err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) != 0)
        die_err("pthread_mutexattr_setpshared", err);
    if ((err = pthread_mutex_init(lock, &attr)) != 0)
        die_err("pthread_mutex_init", err);
    if ((err = pthread_mutexattr_destroy(&attr)) != 0)
        die_err("pthread_mutexattr_destroy", err);
}

static void add_racy(struct counter_page *page, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        page->plain++; /* load, add, store: another process may store in between */
}

static void add_atomic(struct counter_page *page, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        atomic_fetch_add(&page->atomic, 1); /* x86: lock addl, one indivisible step */
}

static void add_locked(struct counter_page *page, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int err = pthread_mutex_lock(&page->lock);
        if (err != 0)
            die_err("pthread_mutex_lock", err);
        page->locked++;
        if ((err = pthread_mutex_unlock(&page->lock)) != 0)
            die_err("pthread_mutex_unlock", err);
    }
}

/* The parent's reading, once every child is reaped: waitpid orders all the
 * children's writes before it, so no lock is needed even for "locked". */
static uint32_t read_counter(enum method method, struct counter_page *page)
{
    switch (method) {
    case METHOD_RACY: return page->plain;
    case METHOD_MUTEX:
        return page->locked; /* after the adds: by the child that made
                                               them, or the parent after waitpid */
    default: return atomic_load(&page->atomic);
    }
}

/* Run only on the n-th (counting round) of the CPUs this process may use.
 * Left alone, the scheduler may queue every child on the CPU that forked
 * them, where a short loop ends before the next child starts. */
static void pin_to_cpu(uint32_t n)
{
    cpu_set_t allowed, one;
    int seen = 0, target;

    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        die_errno("sched_getaffinity");
    target = (int)(n % (uint32_t)CPU_COUNT(&allowed));
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed) || seen++ != target)
            continue;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0)
            die_errno("sched_setaffinity");
        return;
    }
}

/* The gate wakes the children one after another; on this virtual machine
 * the last may start a millisecond after the first, time enough for a short
 * loop to end alone.  So each child also waits here until all are awake. */
static void meet_everyone(struct board *board, uint32_t procs)
{
    atomic_fetch_add(&board->arrived, 1);
    while (atomic_load(&board->arrived) < procs)
        sched_yield(); /* give this CPU to a child still on its way; cannot fail */
}

/* A child, index-th of the crew, past the start gate: wait for the others
 * on its CPU, count, report, and return to child_start, which leaves with
 * _exit.  An error ends it through die(), which exits 1 from a child. */
static int count_in_child(void *arg, unsigned index)
{
    struct run *run = arg;
    struct child_report *me = &run->board->reports[index];

    pin_to_cpu(index); /* after the gate: a child that fails here is reaped
                          and reported, not left waiting at the gate */
    meet_everyone(run->board, run->procs);
    me->start_ns = now_ns();
    switch (run->method) {
    case METHOD_RACY: add_racy(run->page, run->increments); break;
    case METHOD_MUTEX: add_locked(run->page, run->increments); break;
    default: add_atomic(run->page, run->increments); break;
    }
    me->end_ns = now_ns();
    if (run->method == METHOD_PRIVATE) /* nobody else writes this copy */
        me->own_final = atomic_load(&run->page->atomic);
    return 0;
}

/* Reap every child against one deadline for the run; a child that did not
 * exit 0 (killed, timed out, or its own error) fails the run with exit 1. */
static void reap_children(const struct run *run, struct crew *crew)
{
    uint64_t total = (uint64_t)run->procs * run->increments;
    unsigned failed = crew_wait(crew, (int)(DEADLINE_BASE_MS + total / 1000));

    if (failed > 0)
        die("%s: %u of %u children failed; the first: %s", method_names[run->method], failed,
            run->procs, crew->first_failure);
}

/* How long two or more children were inside their loops at once (only then
 * can their updates collide): cut time at every start and end, and add up
 * the pieces that at least two children's [start, end) cover. */
static uint64_t overlap_ns(const struct child_report reports[], uint32_t procs)
{
    uint64_t cuts[2 * MAX_PROCS] = {0}, total = 0;
    size_t count = 0;

    for (uint32_t i = 0; i < procs; i++) {
        cuts[count++] = reports[i].start_ns;
        cuts[count++] = reports[i].end_ns;
    }
    sort_u64(cuts, count);
    for (size_t k = 0; k + 1 < count; k++) {
        uint32_t inside = 0;
        for (uint32_t i = 0; i < procs; i++)
            inside += reports[i].start_ns <= cuts[k] && cuts[k] < reports[i].end_ns;
        if (inside >= 2)
            total += cuts[k + 1] - cuts[k];
    }
    return total;
}

/* Timing and each child's own view, from the reports. */
static void summarise_reports(const struct run *run, struct result *r)
{
    const struct child_report *reports = run->board->reports;
    uint64_t first_start = UINT64_MAX, last_end = 0;

    r->child_final_min = UINT32_MAX;
    r->child_final_max = 0;
    for (uint32_t i = 0; i < run->procs; i++) {
        const struct child_report *c = &reports[i];
        first_start = c->start_ns < first_start ? c->start_ns : first_start;
        last_end = c->end_ns > last_end ? c->end_ns : last_end;
        r->child_final_min = c->own_final < r->child_final_min ? c->own_final : r->child_final_min;
        r->child_final_max = c->own_final > r->child_final_max ? c->own_final : r->child_final_max;
    }
    r->elapsed_ns = last_end - first_start;
    r->overlap_ns = overlap_ns(reports, run->procs);
}

void run_method(struct result *r, enum method method, uint32_t procs, uint32_t increments)
{
    struct run run = {.method = method, .procs = procs, .increments = increments};
    size_t board_size = sizeof(struct board) + procs * sizeof(struct child_report);
    struct crew crew;

    run.page = map_anonymous(sizeof *run.page, method == METHOD_PRIVATE ? MAP_PRIVATE : MAP_SHARED);
    run.board = map_anonymous(board_size, MAP_SHARED);
    if (method == METHOD_MUTEX)
        init_shared_mutex(&run.page->lock);
    crew_start(&crew, procs, count_in_child, &run);
    crew_release(&crew);
    reap_children(&run, &crew);

    *r = (struct result){.final = read_counter(method, run.page)};
    summarise_reports(&run, r);
    if (method == METHOD_MUTEX) {
        int err = pthread_mutex_destroy(&run.page->lock);
        if (err != 0)
            die_err("pthread_mutex_destroy", err);
    }
    unmap(run.board, board_size);
    unmap(run.page, sizeof *run.page);
}
