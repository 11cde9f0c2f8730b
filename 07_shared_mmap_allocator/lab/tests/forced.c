/*
 * forced.c - interleavings forced through the hooks: forced_race,
 * kill_locked, kill_updating.
 *
 * Two processes collide inside an allocator only when one is between
 * reading the heap and writing it back while the other runs: a window of
 * a few instructions, which luck rarely hits (lesson 07's racy bump needs
 * its racy_preempted variant to lose updates reliably).  Here the window is
 * held open: process A is stopped at a hook inside sh_alloc or sh_free
 * (sh_hook waits at a stop point), and then
 *
 *   forced_race   process B calls sh_alloc.  With A holding the lock, B goes
 *                 to sleep on it: the driver sees that in /proc and resumes
 *                 A, then B.  Without one - or with a step of the allocation
 *                 done outside it, such as "offset += size" on a shared top -
 *                 B takes the same bytes A chose, and whichever claims them
 *                 second in the ledger reports the overlap.
 *   kill_locked   the driver kills A where it stopped (SIGKILL), holding the
 *   kill_updating lock, at SH_HOOK_LOCKED or SH_HOOK_CHOSEN, or half-way
 *                 through its update at SH_HOOK_UPDATING; then process B
 *                 uses the region alone.  A lock that is not robust leaves B
 *                 asleep on it for ever, which the watchdog sees at once (no
 *                 living process holds it); a repair that is missing or
 *                 wrong shows in B's blocks, in the walk, or in free space
 *                 that no allocation can reach any more.
 *
 * Each scenario sets the heap up first (A's own blocks, allocated and freed
 * before it arms its hook), so that the stopped call takes the path it is
 * meant to: from the never-used space, from a free block to split, an
 * exact fit, a free that merges with its neighbours.
 */
#include "driver.h"

#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { FORCED_REGION = 1 << 20, KILL_REGION = 256 << 10, STOP_DEADLINE_MS = 10000 };

/* What process A does: set the heap up, then the call that stops. */
struct scenario {
    const char *name;         /* "an allocation from the never-used space" */
    enum sh_hook_point point; /* where A stops */
    void (*setup)(struct worker *w);
    bool frees;      /* the stopped call is sh_free of the block setup kept last */
    size_t size;     /* or sh_alloc(size) */
    bool fill_after; /* kill_*: B fills the region to ENOMEM afterwards */
};

/* Setups.  A keeps its blocks in w->live; the last one is the one to free. */
static void nothing(struct worker *w)
{
    (void)w;
}

static void big_free_block(struct worker *w) /* a free block of 2000 bytes to split */
{
    uint32_t big = take_block(w, 2000);
    take_block(w, 100);
    give_block(w, big);
}

static void exact_free_block(struct worker *w) /* a free block of just 100 bytes */
{
    uint32_t small = take_block(w, 100);
    take_block(w, 100);
    give_block(w, small);
}

static void free_neighbours(struct worker *w) /* a block between two free ones, to free */
{
    uint32_t before = take_block(w, 300), middle = take_block(w, 300);
    uint32_t after = take_block(w, 300);
    take_block(w, 300); /* not at the top */
    give_block(w, before);
    give_block(w, after);
    for (uint32_t k = 0; k < w->live_count; k++) /* middle last: the one A frees */
        if (w->live[k] == middle) {
            w->live[k] = w->live[w->live_count - 1];
            w->live[w->live_count - 1] = middle;
        }
}

static void block_before_top(struct worker *w) /* the last block, to free into the top */
{
    take_block(w, 300);
    take_block(w, 500);
}

/* ------------------------------------------------------- process A */

struct stopped_call {
    const struct scenario *sc;
    struct lab_stop *stop;
};

static void stopped_body(struct worker *w, void *arg)
{
    const struct stopped_call *call = arg;
    const struct scenario *sc = call->sc;

    sc->setup(w);
    hook_stop_at(sc->point, 1, call->stop);
    if (sc->frees)
        give_block(w, w->live[w->live_count - 1]);
    else
        take_block(w, sc->size);
    lab_stop_note(call->stop, 'e'); /* it returned: stopped before, or never */
}

/* Start A; it stops at its hook (or the test fails saying what it did). */
static pid_t start_stopped(const struct scenario *sc, struct lab_stop *stop, unsigned index)
{
    static struct stopped_call call;

    call = (struct stopped_call){sc, stop};
    pid_t pid = start_worker(index, stopped_body, &call, NULL);
    test_step = "waiting for a process to stop at its hook";
    int got = lab_stop_wait(stop, pid, STOP_DEADLINE_MS);
    if (got == LAB_STOPPED)
        return pid;
    struct lab_child_end e = lab_watch_child(pid, got < 0 ? 0 : CHILD_DEADLINE_MS, false);
    if (got == 'e' || (got == 0 && lab_child_ok(&e)))
        lab_fail("%s: sh_%s returned without calling sh_hook(%s) (see sh.h: where to call it)",
                 sc->name, sc->frees ? "free" : "alloc", hook_names[sc->point]);
    if (got < 0)
        lab_fail("%s: sh_%s neither returned nor reached sh_hook(%s) in %d s", sc->name,
                 sc->frees ? "free" : "alloc", hook_names[sc->point], STOP_DEADLINE_MS / 1000);
    expect_worker_ok(index, &e, sc->name);
    lab_fail("%s: the process ended before calling sh_hook(%s)", sc->name, hook_names[sc->point]);
}

/* --------------------------------------------------------- forced_race */

static void one_allocation(struct worker *w, void *arg)
{
    take_block(w, *(const size_t *)arg);
}

/* Until B has finished, or sleeps on a lock; true if it finished.  (A is
 * stopped meanwhile: both are killed if B hangs.) */
static bool run_until_finished_or_asleep(pid_t b, pid_t a, const char *name)
{
    struct pollfd pfd = {.fd = (int)syscall(SYS_pidfd_open, b, 0), .events = POLLIN};
    int waited = 0;
    bool finished = false;

    if (pfd.fd < 0)
        die_errno("pidfd_open");
    for (;;) {
        int ready = poll(&pfd, 1, 1);
        if (ready > 0) {
            finished = true;
            break;
        }
        if (ready < 0 && errno != EINTR)
            die_errno("poll");
        if (lab_waiting_for_lock(b, b))
            break;
        if (++waited > STOP_DEADLINE_MS) {
            lab_watch_child(b, 0, false); /* kills and reaps */
            lab_watch_child(a, 0, false);
            lab_fail("%s: with another process stopped inside sh_alloc, a second sh_alloc "
                     "neither returned nor went to sleep on a lock in %d s (a spin lock? use a "
                     "pthread mutex)",
                     name, STOP_DEADLINE_MS / 1000);
        }
    }
    close(pfd.fd);
    return finished;
}

static void race(const struct scenario *sc)
{
    struct worker drv;
    struct lab_stop stop;
    char what[192];

    driver_start(&drv, FORCED_REGION);
    lab_stop_init(&stop);
    pid_t a = start_stopped(sc, &stop, 1);
    test_step = "a second process allocates while the first is stopped at its hook";
    size_t size = sc->size != 0 ? sc->size : 100;
    pid_t b = start_worker(2, one_allocation, &size, NULL);
    bool b_finished = run_until_finished_or_asleep(b, a, sc->name);
    lab_stop_resume(&stop);
    struct lab_child_end ea = lab_watch_child(a, CHILD_DEADLINE_MS, false);
    struct lab_child_end eb = lab_watch_child(b, CHILD_DEADLINE_MS, false);
    snprintf(what, sizeof what,
             "%s, stopped at sh_hook(%s), while another process called "
             "sh_alloc(%zu)",
             sc->name, hook_names[sc->point], size);
    expect_worker_ok(2, &eb, what);
    expect_worker_ok(1, &ea, what);
    if (b_finished)
        lab_fail("%s: the second sh_alloc returned while the first process was stopped at "
                 "sh_hook(%s), inside its critical section: call the hooks with your lock held, "
                 "and hold it in sh_alloc from the choice of a block to its recording",
                 what, hook_names[sc->point]);
    check_walk(drv.view, what, 0);
    lab_stop_close(&stop);
    driver_finish(&drv);
}

void test_forced_race(int argc, char *argv[])
{
    static const struct scenario scenarios[] = {
        {"an allocation from the never-used space", SH_HOOK_CHOSEN, nothing, false, 100, false},
        {"an allocation that splits a free block", SH_HOOK_CHOSEN, big_free_block, false, 100,
         false},
        {"an allocation of a free block that fits exactly", SH_HOOK_CHOSEN, exact_free_block, false,
         100, false},
        {"an allocation", SH_HOOK_UPDATING, big_free_block, false, 100, false},
        {"an allocation", SH_HOOK_LOCKED, nothing, false, 100, false},
        {"a free between two free blocks", SH_HOOK_UPDATING, free_neighbours, true, 0, false},
    };

    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        race(&scenarios[i]);
    lab_pass("in %zu scenarios, a second sh_alloc waited for the lock of a process stopped "
             "inside sh_alloc or sh_free, and got other bytes",
             sizeof scenarios / sizeof scenarios[0]);
}

/* --------------------------------------------------- kill_locked, updating */

/* B alone, after A died: allocate and free, fill the region if asked, walk. */
struct after_kill {
    bool fill;
    unsigned unknown_allowed;
};

static void carry_on(struct worker *w, void *arg)
{
    const struct after_kill *ak = arg;
    uint64_t largest, extents;

    for (int i = 0; i < 24; i++)
        take_block(w, 8 + (size_t)i * 40);
    for (uint32_t k = 0; k < w->live_count; k += 2)
        give_block(w, w->live[k]);
    if (ak->fill) {
        fill_until_enomem(w, 16);
        walk_free_space(w->view, &largest, &extents);
        if (largest >= 128)
            test_fail("once sh_alloc(16) returned ENOMEM, the walk still shows a free extent of "
                      "%llu bytes: free space the allocator lost track of (the repair rebuilds "
                      "your free lists from the blocks?)",
                      (unsigned long long)largest);
        release_fill(w);
    }
    check_walk(w->view, "the walk by the next process", ak->unknown_allowed);
}

/* The scenarios in turn on one region: A stops, is killed, B carries on. */
static void kill_each(const struct scenario *scenarios, size_t count, size_t region_size)
{
    struct worker drv;
    unsigned index = 1, unknown_allowed = 0;
    char what[256];

    driver_start(&drv, region_size);
    for (int i = 0; i < 20; i++) /* blocks that must outlive every death */
        take_block(&drv, 50 + (size_t)i * 30);
    for (size_t i = 0; i < count; i++) {
        const struct scenario *sc = &scenarios[i];
        struct lab_stop stop;
        lab_stop_init(&stop);
        pid_t a = start_stopped(sc, &stop, index++);
        if (kill(a, SIGKILL) != 0)
            die_errno("kill");
        struct lab_child_end ea = lab_watch_child(a, CHILD_DEADLINE_MS, false);
        if (ea.how != LAB_CHILD_SIGNALED || ea.code != SIGKILL)
            die("the stopped process was not killed by SIGKILL");
        lab_stop_close(&stop);
        unknown_allowed += sc->point == SH_HOOK_UPDATING && !sc->frees; /* its block, maybe */
        snprintf(what, sizeof what,
                 "after a process was killed inside %s, at sh_hook(%s), holding your lock",
                 sc->name, hook_names[sc->point]);
        test_step = "the next process, after a process was killed holding the lock";
        struct after_kill ak = {.fill = sc->fill_after, .unknown_allowed = unknown_allowed};
        unsigned b_index = index++;
        struct lab_child_end eb =
            lab_watch_child(start_worker(b_index, carry_on, &ak, NULL), CHILD_DEADLINE_MS, true);
        if (eb.how == LAB_CHILD_DEADLOCKED)
            lab_fail("%s: the next process sleeps on the lock for ever (nobody alive holds it): "
                     "the mutex must be robust (pthread_mutexattr_setrobust), and whoever gets "
                     "EOWNERDEAD repairs and calls pthread_mutex_consistent",
                     what);
        expect_worker_ok(b_index, &eb, what);
        check_walk(drv.view, what, unknown_allowed);
    }
    driver_finish(&drv);
}

void test_kill_locked(int argc, char *argv[])
{
    static const struct scenario scenarios[] = {
        {"sh_alloc", SH_HOOK_LOCKED, nothing, false, 100, false},
        {"sh_free", SH_HOOK_LOCKED, block_before_top, true, 0, false},
        {"sh_alloc", SH_HOOK_CHOSEN, nothing, false, 700, false},
        {"sh_alloc", SH_HOOK_CHOSEN, big_free_block, false, 100, false},
    };

    (void)argc;
    (void)argv;
    kill_each(scenarios, sizeof scenarios / sizeof scenarios[0], FORCED_REGION);
    lab_pass("a process killed holding the lock, in sh_alloc and sh_free, before any change: "
             "each time the next process took the lock, and the region was whole");
}

void test_kill_updating(int argc, char *argv[])
{
    static const struct scenario scenarios[] = {
        {"an allocation from the never-used space", SH_HOOK_UPDATING, nothing, false, 200, true},
        {"an allocation that splits a free block", SH_HOOK_UPDATING, big_free_block, false, 200,
         true},
        {"a free between two free blocks", SH_HOOK_UPDATING, free_neighbours, true, 0, true},
        {"a free of the last block", SH_HOOK_UPDATING, block_before_top, true, 0, true},
    };

    (void)argc;
    (void)argv;
    kill_each(scenarios, sizeof scenarios / sizeof scenarios[0], KILL_REGION);
    lab_pass("a process killed half-way through sh_alloc and sh_free: each time the next "
             "process repaired the region, lost no free space, and the walk was whole");
}
