/*
 * driver.h - the shared allocator lab's test driver, shared between its
 * files.
 *
 *   sh_driver.c  the command line, the table of tests, what a crash report
 *                says
 *   views.c      the region: a shared memory object (lab_shm_create) and
 *                views of it at distinct addresses of one reservation; a
 *                child keeps only its own, so an address another view
 *                stored faults in it
 *   ledger.c     what the grader knows: who holds which block, with every
 *                16 bytes of the region claimed by one block at a time (an
 *                overlap is seen when it happens), the blocks' patterns, and
 *                the walk checked against it; failing from any process
 *   hooks.c      sh_hook: counting, and stopping or killing a process at
 *                the n-th call at a point
 *   workers.c    the child processes: started on a view of their own, their
 *                crashes recorded, their ends described
 *   basic.c      one process: smoke_init, hooks, single, walk_tiles,
 *                coalesce, and two_views (a second process, at another address)
 *   crowd.c      several processes at once: procs_fill, kill_storm
 *   forced.c     interleavings forced through the hooks: forced_race,
 *                kill_locked, kill_updating
 */
#ifndef SH_DRIVER_H
#define SH_DRIVER_H

#include "child.h"
#include "lab/lab.h"
#include "lab/lab_fork.h"
#include "sh.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    CHILD_DEADLINE_MS = 20000, /* a child's work takes milliseconds: past this it hangs */
    WORKER_FAILED = 70,        /* a child's exit status: ledger->failure says why */
};

/* --------------------------------------------------------- the region */

enum { VIEWS_MAX = 40 }; /* view 0 is the driver's; children use 1 and up */

struct region {
    int fd;
    size_t size;
    char name[64];     /* what it was made as (already unlinked) */
    char *reservation; /* VIEWS_MAX slots of stride bytes, PROT_NONE but for views */
    size_t stride;
    bool mapped[VIEWS_MAX]; /* in this process */
};
extern struct region region;

/* A fresh region of size bytes, view 0 mapped (and formatted with sh_init,
 * which must return 0, when format). */
void region_create(size_t size, bool format);
void region_destroy(void);
/* Map view i (its own address), or drop it (PROT_NONE: touching it faults). */
char *view_map(unsigned i);
void view_drop(unsigned i);
/* In a child: drop every view but i, which is mapped. */
char *view_keep_only(unsigned i);
/* The view an address falls in, or -1. */
int view_of(uintptr_t address);

/* --------------------------------------------------------- the ledger */

enum record_state { RECORD_EMPTY, RECORD_LIVE, RECORD_FREEING };

struct record {
    _Atomic uint32_t state;
    uint32_t worker;
    uint64_t offset, size, stamp;
};

/* What the grader knows about each process it started. */
struct worker_info {
    atomic_bool planned_death; /* about to be killed at a hook, as planned */
    int fault_signal;          /* a crash: the signal, and where */
    uintptr_t fault_address;
    unsigned view;
};

enum {
    RECORDS_MAX = 1 << 16,
    WORKERS_MAX = VIEWS_MAX,
    DRIVER_RECORDS = 1 << 15, /* worker 0, the driver: fills the region */
    WORKER_RECORDS = (RECORDS_MAX - DRIVER_RECORDS) / (WORKERS_MAX - 1),
};

struct ledger {
    _Atomic uint32_t failed; /* set by the first process that fails */
    char failure[768];       /* what it found */
    struct worker_info workers[WORKERS_MAX];
    struct record records[RECORDS_MAX];
    _Atomic uint32_t owner[]; /* per 16 bytes of the region: 1 + the record holding them */
};
extern struct ledger *ledger;
extern pid_t driver_pid; /* test_fail fails the test in it, and exits elsewhere */

/* A fresh ledger for the current region (after region_create). */
void ledger_create(void);
void ledger_destroy(void);

/* Fail the test: in the driver, lab_fail; in a child, the message goes to
 * the ledger (the first one wins) and the child exits WORKER_FAILED. */
_Noreturn void test_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* The process doing a test's work: its index (0: the driver) and view. */
struct worker {
    unsigned index;
    char *view;
    uint32_t first_record, records; /* its part of the ledger */
    uint32_t *free_records;         /* a stack of its empty ones */
    uint32_t free_count;
    uint32_t *live; /* the records it holds, in no order */
    uint32_t live_count;
    uint64_t seq; /* its blocks so far, for the stamps */
};

/* The driver as worker 0 on a fresh region of size bytes (and its
 * ledger); driver_finish removes both. */
void driver_start(struct worker *w, size_t size);
void driver_finish(struct worker *w);
/* Become worker index on view (in a child: view_keep_only first); give
 * its lists back. */
void worker_start(struct worker *w, unsigned index, char *view);
void worker_finish(struct worker *w);
/* sh_alloc(size) through w's view, checked: the offset in the region,
 * aligned, overlapping no block held, filled with a pattern; fails the
 * test otherwise.  Returns the record. */
uint32_t take_block(struct worker *w, size_t size);
/* sh_alloc that may fail with ENOMEM: UINT32_MAX then. */
uint32_t try_take_block(struct worker *w, size_t size);
/* Check the pattern, give the bytes up, sh_free through w's view (any
 * worker's block: w's own go back to its stacks). */
void give_block(struct worker *w, uint32_t record);
/* sh_alloc(size) until ENOMEM, each block checked and claimed; then
 * release_fill gives them all back. */
void fill_until_enomem(struct worker *w, size_t size);
void release_fill(struct worker *w);
/* Every live block of every worker still holds its pattern, read through view. */
void check_patterns(const char *view, const char *when);

/* Walk the region through view: the extents tile it; every live block is
 * a used extent with its offset, intact; blocks being freed (a process
 * killed in sh_free) may be used or free; at most unknown_allowed used
 * extents are nobody's (a process killed inside sh_alloc). */
void check_walk(char *view, const char *when, unsigned unknown_allowed);
/* The walk's largest free extent and count of free extents. */
void walk_free_space(char *view, uint64_t *largest, uint64_t *extents);

/* A child that runs body(w, arg) as worker index on view index alone,
 * after the gate when gate is not NULL; returns its pid.  Its crashes are
 * recorded (the signal, the address) for worker_end_text. */
typedef void worker_body(struct worker *w, void *arg);
pid_t start_worker(unsigned index, worker_body *body, void *arg, struct gate *gate);
/* Fail unless a worker exited 0, saying why it did not. */
void expect_worker_ok(unsigned index, const struct lab_child_end *e, const char *what);
/* How a worker ended, in words (its failure message, its crash). */
const char *worker_end_text(unsigned index, const struct lab_child_end *e);

/* ------------------------------------------------------------ hooks */

/* In this process, from now on: stop (through stop) or die (SIGKILL) at
 * the nth call of sh_hook(point). */
void hook_stop_at(enum sh_hook_point point, unsigned nth, struct lab_stop *stop);
void hook_die_at(enum sh_hook_point point, unsigned nth, unsigned worker);
void hook_plan_clear(void);
/* Calls of sh_hook(point) in this process so far. */
unsigned hook_hits(enum sh_hook_point point);
extern const char *const hook_names[SH_HOOK_POINTS];

/* ----------------------------------------------------------- progress */

/* What the test is doing, for the crash and hang report. */
extern const char *volatile test_step;
void describe_step(struct lab_text *t);

/* ------------------------------------------------------------- tests */

typedef void test_fn(int argc, char *argv[]);
test_fn test_smoke_init, test_hooks, test_single, test_walk_tiles, test_coalesce, test_two_views;
test_fn test_procs_fill, test_kill_storm;
test_fn test_forced_race, test_kill_locked, test_kill_updating;

#endif
