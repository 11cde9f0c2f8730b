/*
 * crowd.c - several processes on one region at once: procs_fill and
 * kill_storm.
 *
 * Every process of a crowd runs the same seeded random work on a view of
 * its own (so at its own address): it allocates blocks of random sizes,
 * each claimed in the ledger and filled with its pattern, and frees random
 * ones after checking them.  Overlaps are caught when they happen, by
 * whichever process claims second.  In kill_storm the processes are
 * killed, one after another, at a hook chosen at random (sh_hook kills
 * them itself at the n-th call at the point): inside the critical section,
 * holding the lock, the heap half-updated or not.  Each death is followed
 * by a new process, and the others carry on: whoever takes the lock next
 * must repair.  After each run the driver walks the region: it must tile,
 * hold every block still held, and at most one unknown block per death.
 *
 * The driver watches the crowd against a deadline, and sees a deadlock
 * without waiting for it: when every process still running sleeps on a
 * lock, none of them holds it, and nothing will wake them.
 */
#include "driver.h"

#include "cli.h"
#include "rng.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * One look at the crowd reads its processes one after another, so a crowd
 * that makes progress can look asleep in one: A seen asleep, then woken by
 * the holder's unlock and holding the lock while the former holder, now
 * waiting, is seen asleep too.  A deadlock lasts: it is the verdict only
 * after DEADLOCK_LOOKS looks in a row, 2 ms apart, say it.
 */
enum { CROWD_REGION = 4 << 20, MAX_LIVE = 64, DEADLOCK_LOOKS = 50 };

/* The work of one process. */
struct workload {
    uint64_t ops;
    uint64_t seed;
    bool die; /* killed at a random hook call, as kill_storm plans */
};

static size_t random_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);

    return 1 + (size_t)(r % 16 == 0 ? (r >> 8) % 2048 : (r >> 8) % 200);
}

static void random_work(struct worker *w, void *arg)
{
    const struct workload *wl = arg;
    uint64_t rng = wl->seed * 0x9e3779b97f4a7c15u + w->index;

    if (wl->die) /* within the first third of the calls: it dies before the end */
        hook_die_at((enum sh_hook_point)(rng_next(&rng) % SH_HOOK_POINTS),
                    1 + (unsigned)(rng_next(&rng) % (wl->ops / 3)), w->index);
    for (uint64_t i = 0; i < wl->ops; i++) {
        uint64_t r = rng_next(&rng);
        if (w->live_count == 0 || (w->live_count < MAX_LIVE && r % 100 < 55))
            take_block(w, random_size(&rng));
        else
            give_block(w, w->live[(r >> 8) % w->live_count]);
    }
    while (w->live_count > MAX_LIVE / 2) /* the rest stay, for the driver's walk */
        give_block(w, w->live[w->live_count - 1]);
}

/* ----------------------------------------------------- watching a crowd */

struct crowd {
    unsigned n; /* processes started */
    unsigned index[WORKERS_MAX];
    pid_t pid[WORKERS_MAX];
    int pidfd[WORKERS_MAX]; /* -1 once it has ended */
};

static void crowd_add(struct crowd *c, unsigned index, pid_t pid)
{
    if (c->n == WORKERS_MAX)
        die("more than %d processes in a crowd", WORKERS_MAX);
    c->index[c->n] = index;
    c->pid[c->n] = pid;
    if ((c->pidfd[c->n] = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
        die_errno("pidfd_open");
    c->n++;
}

/* Kill whoever still runs, and reap them: before a verdict. */
static void crowd_kill(struct crowd *c)
{
    for (unsigned k = 0; k < c->n; k++) {
        if (c->pidfd[k] < 0)
            continue;
        lab_kill_and_reap(c->pid[k]);
        close(c->pidfd[k]);
        c->pidfd[k] = -1;
    }
}

/* Every process still running is asleep on a lock. */
static bool all_asleep_on_locks(const struct crowd *c)
{
    unsigned running = 0;

    for (unsigned k = 0; k < c->n; k++) {
        if (c->pidfd[k] < 0)
            continue;
        if (!lab_waiting_for_lock(c->pid[k], c->pid[k]))
            return false;
        running++;
    }
    return running > 0;
}

typedef void ended_fn(struct crowd *c, unsigned k, const struct lab_child_end *e, void *ctx);

/* Until every process has ended (ended() may start more). */
static void crowd_wait(struct crowd *c, ended_fn *ended, void *ctx, const char *what)
{
    struct pollfd fds[WORKERS_MAX];
    unsigned which[WORKERS_MAX];
    int waited_ms = 0;
    unsigned asleep_looks = 0; /* looks in a row that saw every process asleep on a lock */

    for (;;) {
        nfds_t n = 0;
        for (unsigned k = 0; k < c->n; k++)
            if (c->pidfd[k] >= 0) {
                fds[n] = (struct pollfd){.fd = c->pidfd[k], .events = POLLIN};
                which[n++] = k;
            }
        if (n == 0)
            return;
        int ready = poll(fds, n, 2);
        if (ready < 0 && errno != EINTR)
            die_errno("poll");
        if (ready <= 0) {
            asleep_looks = all_asleep_on_locks(c) ? asleep_looks + 1 : 0;
            if (asleep_looks == DEADLOCK_LOOKS) {
                crowd_kill(c);
                lab_fail("%s: deadlock: every process still running sleeps on a lock, and none "
                         "of them holds it (a process killed holding your lock: it must be a "
                         "robust mutex, repaired on EOWNERDEAD)",
                         what);
            }
            if ((waited_ms += 2) > CHILD_DEADLINE_MS) {
                crowd_kill(c);
                lab_fail("%s: the processes did not finish in %d s (an infinite loop?)", what,
                         CHILD_DEADLINE_MS / 1000);
            }
            continue;
        }
        asleep_looks = 0;
        for (nfds_t i = 0; i < n; i++) {
            if (fds[i].revents == 0)
                continue;
            unsigned k = which[i];
            struct lab_child_end e = lab_reap(c->pid[k]);
            close(c->pidfd[k]);
            c->pidfd[k] = -1;
            ended(c, k, &e, ctx);
        }
    }
}

/* ------------------------------------------------------------ procs_fill */

struct fill_run {
    const char *what;
};

static void must_succeed(struct crowd *c, unsigned k, const struct lab_child_end *e, void *ctx)
{
    const struct fill_run *run = ctx;

    if (!lab_child_ok(e)) {
        const char *why = worker_end_text(c->index[k], e);
        crowd_kill(c);
        lab_fail("%s: %s", run->what, why);
    }
}

/* The driver frees what is left, whoever holds it. */
static void free_everything(struct worker *drv)
{
    for (uint32_t id = 0; id < RECORDS_MAX; id++)
        if (atomic_load(&ledger->records[id].state) == RECORD_LIVE)
            give_block(drv, id);
}

void test_procs_fill(int argc, char *argv[])
{
    unsigned runs = (unsigned)lab_arg(argc, argv, "runs", 3);
    unsigned procs = (unsigned)lab_arg(argc, argv, "procs", 4);
    uint64_t ops = lab_arg(argc, argv, "ops", 3000);
    char what[160];

    if (procs < 1 || procs >= WORKERS_MAX || ops < 3)
        die("procs=%u ops=%" PRIu64 ": 1 to %d processes, at least 3 calls", procs, ops,
            WORKERS_MAX - 1);
    for (unsigned run = 0; run < runs; run++) {
        struct worker drv;
        struct crowd c = {0};
        struct gate gate;
        struct workload wl = {.ops = ops, .seed = lab_seed() * 1000 + run};
        driver_start(&drv, CROWD_REGION);
        snprintf(what, sizeof what, "run %u of %u, %u processes at once, each at its own address",
                 run + 1, runs, procs);
        struct fill_run ctx = {what};
        gate_init(&gate);
        test_step = "running processes that allocate at once";
        for (unsigned i = 1; i <= procs; i++)
            crowd_add(&c, i, start_worker(i, random_work, &wl, &gate));
        gate_release(&gate, (int)procs);
        crowd_wait(&c, must_succeed, &ctx, what);
        check_walk(drv.view, what, 0);
        free_everything(&drv);
        check_walk(drv.view, "the walk once the driver freed every block left", 0);
        driver_finish(&drv);
    }
    lab_pass("%u runs of %u processes at once, %" PRIu64 " calls each: no two blocks ever "
             "overlapped, every block intact, the walk exact",
             runs, procs, ops);
}

/* ------------------------------------------------------------ kill_storm */

struct storm {
    const char *what;
    struct workload survivor, doomed;
    unsigned next_index, deaths, planned; /* planned: deaths still to start */
};

static pid_t start_storm_worker(struct storm *s, struct crowd *c)
{
    unsigned index = s->next_index++;
    bool doomed = s->planned > 0;

    s->planned -= doomed;
    struct workload *wl = doomed ? &s->doomed : &s->survivor;
    wl->seed = s->survivor.ops * 31 + index + lab_seed() * 7919;
    pid_t pid = start_worker(index, random_work, wl, NULL);
    crowd_add(c, index, pid);
    return pid;
}

static void after_death(struct crowd *c, unsigned k, const struct lab_child_end *e, void *ctx)
{
    struct storm *s = ctx;
    unsigned index = c->index[k];

    if (e->how == LAB_CHILD_SIGNALED && e->code == SIGKILL &&
        atomic_load(&ledger->workers[index].planned_death)) {
        s->deaths++;
        start_storm_worker(s, c); /* another one carries on */
        return;
    }
    must_succeed(c, k, e, &(struct fill_run){s->what});
}

void test_kill_storm(int argc, char *argv[])
{
    unsigned runs = (unsigned)lab_arg(argc, argv, "runs", 3);
    unsigned procs = (unsigned)lab_arg(argc, argv, "procs", 3);
    unsigned kills = (unsigned)lab_arg(argc, argv, "kills", 8);
    uint64_t ops = lab_arg(argc, argv, "ops", 2000);
    unsigned deaths = 0;
    char what[160];

    if (procs < 1 || procs + kills >= WORKERS_MAX || ops < 3)
        die("procs=%u kills=%u: at most %d processes in all", procs, kills, WORKERS_MAX - 1);
    for (unsigned run = 0; run < runs; run++) {
        struct worker drv;
        struct crowd c = {0};
        driver_start(&drv, CROWD_REGION);
        snprintf(what, sizeof what,
                 "run %u of %u, %u processes at once, %u of them killed inside sh_alloc or "
                 "sh_free at a random hook",
                 run + 1, runs, procs, kills);
        struct storm s = {.what = what,
                          .survivor = {.ops = ops},
                          .doomed = {.ops = ops, .die = true},
                          .next_index = 1,
                          .planned = kills};
        test_step = "running processes that allocate, some killed at a hook";
        for (unsigned i = 0; i < procs; i++)
            start_storm_worker(&s, &c);
        crowd_wait(&c, after_death, &s, what);
        if (s.deaths < kills)
            lab_fail("%s: only %u of the %u processes doomed to die at their hook got there; the "
                     "others finished first (are the hooks called where sh.h says?)",
                     what, s.deaths, kills);
        check_walk(drv.view, what, s.deaths);
        free_everything(&drv);
        check_walk(drv.view, "the walk once the driver freed every block left", s.deaths);
        driver_finish(&drv);
        deaths += s.deaths;
    }
    lab_pass("%u runs: %u processes killed in all inside the critical section, each time the "
             "others recovered; no overlap, every block intact, every walk exact",
             runs, deaths);
}
