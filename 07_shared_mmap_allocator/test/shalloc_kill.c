/*
 * shalloc_kill - SIGKILL a process at every instruction of one allocator
 * operation, and prove the region whole after each kill; run by
 * test/07_shared_mmap_allocator.bats.
 *
 * For each kill point N: a fresh region is put in the state the operation
 * needs, a child is started that stops itself, is single-stepped N
 * instructions into the operation with ptrace(PTRACE_SINGLESTEP) and is
 * killed with SIGKILL.  Then this process takes the region lock (the
 * repair runs if the child died holding it: EOWNERDEAD), takes the
 * child's slot back and runs the checker; frees every block still in use,
 * and checks that nothing was lost: no span without a head, no block or
 * run in use, and one block as large as the longest free run can be
 * allocated.  Then the checker again.
 *
 * A kill between two instructions is what SIGKILL at any instant can do
 * to the region (a store is one instruction): every point is covered.
 *
 * Usage: shalloc_kill [--every] [--points N] OP...     (--list names them)
 *
 * Look for: failures=0 for every op, and kill_points= how many kills.
 */
#include "child.h"
#include "cli.h"
#include "clock.h"
#include "out.h"
#include "shalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

enum { REGION_BYTES = 1 << 20, SPAN = SHALLOC_SPAN_BYTES, MAX_BLOCKS = 512 };

/* The region and what the set-up left for the operation. */
struct scene {
    struct shalloc h;
    void *warm_up;           /* a block the child frees before its act: it takes a slot */
    void *block[MAX_BLOCKS]; /* set-up blocks, by the set-up's own numbering */
    unsigned blocks;
};

static void *must_alloc(struct scene *s, size_t size)
{
    void *p = shalloc_alloc(&s->h, size);

    if (p == NULL)
        die_errno(shalloc_error(&s->h));
    if (s->blocks < MAX_BLOCKS)
        s->block[s->blocks++] = p;
    return p;
}

/* ---- the operations: a set-up in this process, an act in the child ----- */

static void no_setup(struct scene *s)
{
    (void)s;
}

/* A run from the wilderness. */
static void act_alloc_run(struct scene *s)
{
    must_alloc(s, 3 * SPAN - 100);
}

/* A free run of 7 spans with a run after it: the act splits it. */
static void setup_split(struct scene *s)
{
    must_alloc(s, 7 * SPAN);
    must_alloc(s, SPAN);
    shalloc_free(&s->h, s->block[0]);
}

/* Runs a, b, c and a guard; a and c free: freeing b merges all three. */
static void setup_merge(struct scene *s)
{
    for (int i = 0; i < 3; i++)
        must_alloc(s, 2 * SPAN);
    must_alloc(s, SPAN);
    shalloc_free(&s->h, s->block[0]);
    shalloc_free(&s->h, s->block[2]);
}

static void act_free_middle(struct scene *s)
{
    shalloc_free(&s->h, s->block[1]);
}

/* A free run, then a run at the bump: freeing it merges both into the
 * wilderness. */
static void setup_to_wilderness(struct scene *s)
{
    must_alloc(s, 2 * SPAN);
    must_alloc(s, 3 * SPAN);
    shalloc_free(&s->h, s->block[0]);
}

/* A block of a class with no span yet: a span taken and cut. */
static void act_alloc_small(struct scene *s)
{
    must_alloc(s, 3000);
}

/* A block of a class whose free blocks are on the region's list. */
static void act_alloc_refill(struct scene *s)
{
    must_alloc(s, 100);
}

/* The wilderness used up by runs of one span, one freed: a span for blocks
 * can only come out of the free runs. */
static void setup_carve_from_run(struct scene *s)
{
    void *p;

    while ((p = shalloc_alloc(&s->h, SPAN)) != NULL)
        if (s->blocks < MAX_BLOCKS)
            s->block[s->blocks++] = p;
    shalloc_free(&s->h, s->block[s->blocks / 2]);
}

/* Runs of one span through the child's run cache (in this 1 MiB region it
 * holds one span): a run taken under the lock with one more for the cache,
 * that one taken without the lock, a run put back without it, then a full
 * cache giving its run back to make room, and a run taken from it again. */
static void act_run_cache(struct scene *s)
{
    void *a = must_alloc(s, SPAN), *b = must_alloc(s, SPAN);

    shalloc_free(&s->h, a);
    shalloc_free(&s->h, b);
    must_alloc(s, SPAN);
}

/* Blocks of 100 bytes on the region's free list: the act refills a cache. */
static void setup_refill(struct scene *s)
{
    for (int i = 0; i < 200; i++)
        must_alloc(s, 100);
    for (unsigned i = 0; i < s->blocks; i++)
        shalloc_free(&s->h, s->block[i]);
    s->blocks = 0;
    shalloc_flush(&s->h);
}

static const struct op {
    const char *name;
    void (*setup)(struct scene *s);
    void (*act)(struct scene *s);
} ops[] = {
    {"run-alloc", no_setup, act_alloc_run},
    {"run-split", setup_split, act_alloc_run},
    {"run-merge", setup_merge, act_free_middle},
    {"run-to-wilderness", setup_to_wilderness, act_free_middle},
    {"carve", no_setup, act_alloc_small},
    {"carve-from-run", setup_carve_from_run, act_alloc_small},
    {"refill", setup_refill, act_alloc_refill},
    {"run-cache", no_setup, act_run_cache},
};
enum { OPS = sizeof ops / sizeof ops[0] };

/* ---- the child, stepped ------------------------------------------------ */

struct stepped {
    struct scene *scene;
    const struct op *op;
};

/* Take a slot (by freeing the warm-up block), then stop before the act
 * and after it: the tracer counts the steps between. */
static int child_act(void *arg)
{
    struct stepped *st = arg;

    shalloc_free(&st->scene->h, st->scene->warm_up);
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
        die_errno("ptrace PTRACE_TRACEME");
    if (kill(getpid(), SIGSTOP) != 0)
        die_errno("kill SIGSTOP");
    st->op->act(st->scene);
    if (kill(getpid(), SIGSTOP) != 0)
        die_errno("kill SIGSTOP");
    return 0;
}

static int wait_stop(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die_errno("waitpid");
    return status;
}

/* Step the stopped child up to limit instructions into the act.  Returns
 * the steps taken: fewer than limit if the act ended first. */
static uint64_t step_child(pid_t pid, uint64_t limit)
{
    uint64_t steps = 0;

    for (; steps < limit; steps++) {
        if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) != 0)
            die_errno("ptrace PTRACE_SINGLESTEP");
        int status = wait_stop(pid);
        if (!WIFSTOPPED(status))
            die("the stepped child ended (status %#x)", status);
        if (WSTOPSIG(status) == SIGSTOP)
            break; /* the act is over */
        if (WSTOPSIG(status) != SIGTRAP)
            die("the stepped child stopped by signal %d", WSTOPSIG(status));
    }
    return steps;
}

/* Set up, start the child, step it limit instructions, kill it.  Returns
 * the steps it took (the act's length when limit is larger). */
static uint64_t kill_at(struct scene *s, const struct op *op, uint64_t limit)
{
    struct stepped st = {s, op};

    s->blocks = 0;
    if (shalloc_create(&s->h, NULL, REGION_BYTES) != 0)
        die_errno(shalloc_error(&s->h));
    s->warm_up = shalloc_alloc(&s->h, 4000); /* first: its span is span 0 */
    if (s->warm_up == NULL)
        die_errno(shalloc_error(&s->h));
    op->setup(s);
    shalloc_flush(&s->h); /* what the set-up freed is free, not in this process's caches */
    uint64_t started = now_ns();
    pid_t pid = child_start(child_act, &st);
    int status = wait_stop(pid);
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
        die("the child did not stop before its act (status %#x)", status);
    uint64_t steps = step_child(pid, limit);
    if (kill(pid, SIGKILL) != 0)
        die_errno("kill");
    struct child_result r = child_wait(pid, started, 10000);
    if (r.end != CHILD_SIGNALED || r.code != SIGKILL) {
        char how[64];
        die("the stepped child: %s", child_describe(&r, how));
    }
    return steps;
}

/* ---- after the kill ------------------------------------------------------ */

struct in_use {
    uint64_t offsets[MAX_BLOCKS];
    unsigned count;
};

static void note_used(void *ctx, const struct shalloc_block_info *b)
{
    struct in_use *u = ctx;

    if (b->state == SHALLOC_USED && u->count < MAX_BLOCKS)
        u->offsets[u->count++] = b->offset;
}

/* The region after a kill: repaired, whole, usable.  NULL, or what is wrong. */
static const char *verify(struct scene *s, struct shalloc_report *rep)
{
    struct shalloc_stats st;
    struct in_use u = {.count = 0};

    if (shalloc_recover(&s->h) < 0)
        return shalloc_error(&s->h);
    if (!shalloc_check(&s->h, rep))
        return rep->problem;
    shalloc_walk(&s->h, note_used, &u);
    for (unsigned i = 0; i < u.count; i++)
        shalloc_free(&s->h, shalloc_pointer(&s->h, u.offsets[i]));
    shalloc_flush(&s->h);
    shalloc_stats(&s->h, &st);
    if (st.spans_lost != 0 || st.runs_used != 0 || st.blocks_used != 0)
        return "a span, a block or a run was lost";
    void *all = shalloc_alloc(&s->h, st.largest_free_bytes);
    if (all == NULL)
        return "the longest free run cannot be allocated";
    shalloc_free(&s->h, all);
    if (!shalloc_check(&s->h, rep))
        return rep->problem;
    return NULL;
}

/* Every kill point of one operation, or points of them spread evenly. */
static unsigned run_op(const struct op *op, bool every, uint64_t points)
{
    static struct scene s;
    struct shalloc_report rep;
    uint64_t length = kill_at(&s, op, UINT64_MAX), kills = 0, repairs = 0, recovered = 0;
    unsigned failures = 0;

    if (shalloc_detach(&s.h) != 0)
        die_errno(shalloc_error(&s.h));
    uint64_t stride = every || length <= points ? 1 : length / points;
    for (uint64_t n = 0; n <= length; n += stride, kills++) {
        struct shalloc_stats st;
        kill_at(&s, op, n);
        const char *why = verify(&s, &rep);
        shalloc_stats(&s.h, &st);
        repairs += st.repairs;
        recovered += st.spans_recovered;
        if (why != NULL && failures++ < 3)
            printf("%s: killed %" PRIu64 " instructions in: %s\n", op->name, n, why);
        if (shalloc_detach(&s.h) != 0)
            die_errno(shalloc_error(&s.h));
    }
    printf("%s: %" PRIu64 " instructions, killed at %" PRIu64 " of them, %u failures\n", op->name,
           length, kills, failures);
    fact_word("op", op->name);
    fact_uint("steps", length);
    fact_uint("kill_points", kills);
    fact_uint("lock_repairs", repairs);
    fact_uint("spans_recovered", recovered);
    fact_uint("failures", failures);
    facts_end();
    return failures;
}

static void usage(void)
{
    printf("Usage: %s [--every] [--points N] OP...\n"
           "\n"
           "SIGKILL a child at every instruction of an allocator operation (or at N\n"
           "points spread over it, default 200) and check the region after each kill.\n"
           "OP is one of the names --list prints, or all.\n",
           prog_name());
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"every", no_argument, NULL, 'e'},
        {"points", required_argument, NULL, 'p'},
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *names[OPS + 2] = {NULL};
    bool every = false;
    uint64_t points = 200;
    unsigned failures = 0, tried = 0;
    int opt;

    cli_init();
    for (unsigned i = 0; i < OPS; i++)
        names[i] = ops[i].name;
    names[OPS] = "all";
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":ep:h", options, NULL)) != -1) {
        switch (opt) {
        case 'e': every = true; break;
        case 'p': points = opt_uint("--points", optarg, 1, 1000000); break;
        case 'l':
            for (unsigned i = 0; i < OPS; i++)
                puts(names[i]);
            return 0;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind == argc)
        usage_error("name at least one OP (--list names them)");
    for (int a = optind; a < argc; a++) {
        unsigned pick = (unsigned)opt_choice("OP", argv[a], names);
        for (unsigned i = 0; i < OPS; i++)
            if (pick == OPS || pick == i) {
                failures += run_op(&ops[i], every, points);
                tried++;
            }
    }
    fact_uint("ops", tried);
    fact_uint("failures", failures);
    facts_end();
    return failures == 0 ? 0 : 1;
}
