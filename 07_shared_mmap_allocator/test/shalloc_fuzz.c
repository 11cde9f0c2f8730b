/*
 * shalloc_fuzz - randomly damaged regions, handed to the library: it must
 * say "corrupt" or carry on, and never crash, hang, or touch memory
 * outside the region.  Run by test/07_shared_mmap_allocator.bats (a few
 * hundred images); `--images 5000` for thousands.
 *
 * Two base images are made once, regions in a state with something of
 * everything: blocks of many classes in use, cached and free, runs in use
 * and free, roots, the cache of a process that was killed; and in the
 * second, a region lock whose holder was killed too (so every use starts
 * with a repair).  Each image is a base with 1 to 5 patches of 1 to 64
 * random bytes, each in the header, the slots, the span table or the
 * spans (one of the four at random).  A child maps the image between two
 * PROT_NONE guard pages, attaches it (shalloc_attach_memory), runs the
 * checker, the statistics and a walk, allocates and frees blocks and runs
 * of many sizes, reclaims, flushes and detaches.  Its end is counted:
 *
 *   rejected     attach said the region is corrupt (or not a region)
 *   found        attach took it and the checker found it broken
 *   refused      a later call failed with EUCLEAN (with or without the
 *                checker having found it)
 *   unnoticed    nothing failed (the bytes changed did not matter)
 *   crashes      killed by a signal, or the library aborted
 *   hangs        still running after --timeout-ms
 *   outside      a read or write of a guard page: outside the region
 *
 * Usage: shalloc_fuzz [--images N] [--seed S] [--timeout-ms T] [--image K]
 *   --image K runs image K alone in this process, saying what it does.
 *
 * Look for: crashes=0 hangs=0 outside_writes=0 outside_reads=0.
 */
#include "child.h"
#include "cli.h"
#include "clock.h"
#include "out.h"
#include "rng.h"
#include "shalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

enum {
    REGION_BYTES = 2 << 20, /* 123 spans: room for everything, small enough to copy fast */
    HELD = 24,              /* blocks the child holds at most */
    STEPS = 120,            /* its allocations and frees */
    PATCHES_MAX = 5,
    PATCH_MAX = 64,
};

/* How a child ended (its exit status), and what the parent counts: the
 * first four codes are UNNOTICED plus bits (FOUND | REFUSED: both
 * happened).  None is 1, the status of die() and of a sanitizer's report:
 * those are crashes. */
enum outcome {
    UNNOTICED = 40,
    FOUND = 1,
    REFUSED = 2,
    REJECTED = 44,
    OUTSIDE_WRITE = 45,
    OUTSIDE_READ = 46,
};

static unsigned char base_image[2][REGION_BYTES];
static size_t data_offset; /* where the spans start in a region of REGION_BYTES */

/* ---- the base images ------------------------------------------------------ */

/* In a child: allocate, cache, and die with SIGKILL holding its slot (and,
 * if told, the region lock too). */
static int die_busy(void *arg)
{
    struct shalloc *h = arg;
    bool hold_lock = atomic_load(shalloc_root(h, 7)) != 0;

    for (int i = 0; i < 300; i++)
        if (shalloc_alloc(h, 16 + (size_t)(i * 37) % 2000) == NULL)
            die_errno(shalloc_error(h));
    for (int i = 0; i < 40; i++)
        shalloc_free(h, shalloc_alloc(h, 200));
    if (hold_lock && shalloc_lock(h) != 0)
        die_errno(shalloc_error(h));
    raise(SIGKILL);
    return 1;
}

/* A region with something of everything; its bytes go to *image. */
static void make_base(unsigned char *image, bool dead_holder)
{
    struct shalloc h;
    void *held[400];
    uint64_t rng = 12345;

    if (shalloc_create(&h, NULL, REGION_BYTES) != 0)
        die_errno(shalloc_error(&h));
    for (int i = 0; i < 400; i++) {
        uint64_t r = rng_next(&rng);
        size_t size = r % 16 == 0 ? 5000 + r % 30000 : 16 + r % 3000;
        if ((held[i] = shalloc_alloc(&h, size)) == NULL)
            die_errno(shalloc_error(&h));
    }
    for (int i = 0; i < 400; i += 2)
        shalloc_free(&h, held[i]);
    shalloc_flush(&h); /* some blocks on the region lists */
    for (int i = 1; i < 400; i += 4)
        shalloc_free(&h, held[i]); /* some in our cache */
    for (unsigned r = 0; r < 6; r++)
        atomic_store(shalloc_root(&h, r), shalloc_offset(&h, held[3 + 4 * r]));
    atomic_store(shalloc_root(&h, 7), dead_holder);
    struct child_result res = child_run(die_busy, &h, 10000);
    if (res.end != CHILD_SIGNALED || res.code != SIGKILL) {
        char how[64];
        die("the child that dies holding its slot: %s", child_describe(&res, how));
    }
    atomic_store(shalloc_root(&h, 7), 0);
    memcpy(image, h.base, REGION_BYTES);
    data_offset = h.data_off;
    /* The region stays as it is, mapped, until this process ends: our slot
     * and cache are in the image, held by a live process (this one), and so
     * is the dead child's. */
}

/* ---- one image ---------------------------------------------------------------- */

/* 1 to 5 patches, each in one of the four parts of the layout. */
static void damage(unsigned char *image, uint64_t seed)
{
    const size_t bounds[] = {0, 4096, 4096 + SHALLOC_SLOTS * 1024, data_offset, REGION_BYTES};
    uint64_t rng = seed;
    unsigned patches = 1 + (unsigned)(rng_next(&rng) % PATCHES_MAX);

    for (unsigned p = 0; p < patches; p++) {
        unsigned area = (unsigned)(rng_next(&rng) % 4); /* header, slots, table, spans */
        size_t start = bounds[area], end = bounds[area + 1];
        size_t at = start + rng_next(&rng) % (end - start);
        size_t len = 1 + rng_next(&rng) % PATCH_MAX;
        for (size_t i = 0; i < len && at + i < end; i++)
            image[at + i] = (unsigned char)rng_next(&rng);
    }
}

/* The guard pages around the region, for the fault handler. */
static char *guard_low, *guard_high;
static size_t guard_bytes;

static void on_fault(int sig, siginfo_t *info, void *context)
{
    char *at = info->si_addr;
    const ucontext_t *uc = context;
    bool in_guard = (at >= guard_low && at < guard_low + guard_bytes) ||
                    (at >= guard_high && at < guard_high + guard_bytes);

    (void)sig;
#ifdef REG_ERR
    bool write = uc->uc_mcontext.gregs[REG_ERR] & 2; /* x86: the page fault's W bit */
#else
    bool write = uc != NULL; /* cannot tell: counted as a write */
#endif
    if (in_guard)
        _exit(write ? OUTSIDE_WRITE : OUTSIDE_READ);
    signal(SIGSEGV, SIG_DFL); /* anywhere else: a crash, counted as such */
    raise(SIGSEGV);
}

/* The image, mapped shared between two inaccessible pages. */
static char *map_guarded(const unsigned char *image)
{
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    guard_bytes = (size_t)sysconf(_SC_PAGESIZE);
    char *all = mmap(NULL, REGION_BYTES + 2 * guard_bytes, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (all == MAP_FAILED)
        die_errno("mmap");
    char *region = mmap(all + guard_bytes, REGION_BYTES, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (region == MAP_FAILED)
        die_errno("mmap MAP_FIXED");
    guard_low = all;
    guard_high = region + REGION_BYTES;
    memcpy(region, image, REGION_BYTES);
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0 || sigaction(SIGBUS, &sa, NULL) != 0)
        die_errno("sigaction");
    return region;
}

struct use {
    struct shalloc *h;
    bool verbose;
    bool refused; /* a call failed with EUCLEAN */
};

static void count_blocks(void *ctx, const struct shalloc_block_info *b)
{
    uint64_t *n = ctx;

    *n += b->state == SHALLOC_USED;
}

/* A call returned its failure: corrupt (EUCLEAN), or something else. */
static void note_failure(struct use *u, const char *call)
{
    if (errno == EUCLEAN)
        u->refused = true;
    if (u->verbose)
        printf("  %s: %s\n", call, shalloc_error(u->h));
}

/* Allocations and frees of many sizes, small blocks and runs. */
static void churn(struct use *u, uint64_t seed)
{
    void *held[HELD] = {NULL};
    uint64_t rng = seed ^ 0x5eed;

    for (int i = 0; i < STEPS; i++) {
        uint64_t r = rng_next(&rng);
        void **slot = &held[r % HELD];
        if (*slot != NULL) {
            shalloc_free(u->h, *slot);
            *slot = NULL;
            continue;
        }
        size_t size = r >> 40 & 1 ? 1 + (r >> 8) % 4096 : 4097 + (r >> 8) % 70000;
        if ((*slot = shalloc_alloc(u->h, size)) == NULL && errno != ENOMEM)
            note_failure(u, "shalloc_alloc");
        else if (*slot != NULL && shalloc_block_size(u->h, *slot) < size)
            die("shalloc_block_size: less than asked for");
    }
    for (int i = 0; i < HELD; i++)
        shalloc_free(u->h, held[i]);
}

/* Everything a program does with a region, on the damaged one. */
static int use_image(char *region, uint64_t seed, bool verbose)
{
    struct shalloc h;
    struct shalloc_report rep;
    struct shalloc_stats st;
    struct use u = {&h, verbose, false};
    uint64_t used = 0;

    if (shalloc_attach_memory(&h, region, REGION_BYTES) != 0) {
        if (verbose)
            printf("  attach: %s\n", shalloc_error(&h));
        return REJECTED;
    }
    bool found = !shalloc_check(&h, &rep);
    if (found && verbose)
        printf("  checker: %s\n", rep.problem);
    shalloc_stats(&h, &st);
    shalloc_walk(&h, count_blocks, &used);
    churn(&u, seed);
    if (shalloc_recover(&h) < 0)
        note_failure(&u, "shalloc_recover");
    shalloc_flush(&h);
    if (!shalloc_check(&h, &rep) && verbose)
        printf("  checker, after: %s\n", rep.problem);
    if (shalloc_detach(&h) != 0)
        note_failure(&u, "shalloc_detach");
    return UNNOTICED | (found ? FOUND : 0) | (u.refused ? REFUSED : 0);
}

struct job {
    unsigned index;
    uint64_t seed;
};

static uint64_t image_seed(uint64_t seed, unsigned index)
{
    return seed * 0x9e3779b97f4a7c15u + index;
}

static int run_image(void *arg)
{
    const struct job *j = arg;
    static unsigned char image[REGION_BYTES];

    memcpy(image, base_image[j->index % 2], REGION_BYTES);
    damage(image, image_seed(j->seed, j->index));
    return use_image(map_guarded(image), image_seed(j->seed, j->index), false);
}

/* ---- the run ------------------------------------------------------------------ */

struct tally {
    unsigned images, unnoticed, found, refused, rejected;
    unsigned crashes, hangs, outside_writes, outside_reads;
};

static void count_end(struct tally *t, const struct job *j, const struct child_result *r)
{
    bool bad = true;

    t->images++;
    if (r->end == CHILD_TIMED_OUT)
        t->hangs++;
    else if (r->end == CHILD_SIGNALED)
        t->crashes++;
    else if (r->code == OUTSIDE_WRITE)
        t->outside_writes++;
    else if (r->code == OUTSIDE_READ)
        t->outside_reads++;
    else if (r->code == REJECTED) {
        t->rejected++;
        bad = false;
    } else if (r->code >= UNNOTICED && r->code <= (UNNOTICED | FOUND | REFUSED)) {
        t->unnoticed += r->code == UNNOTICED;
        t->found += (r->code & FOUND) != 0;
        t->refused += (r->code & REFUSED) != 0;
        bad = false;
    } else {
        t->crashes++; /* died through die(): not a way the library may end */
    }
    if (bad) {
        char how[64];
        printf("image %u (--seed %" PRIu64 " --image %u): %s\n", j->index, j->seed, j->index,
               child_describe(r, how));
    }
}

static void usage(void)
{
    printf("Usage: %s [--images N] [--seed S] [--timeout-ms T] [--image K]\n"
           "\n"
           "Hand randomly damaged regions to the library (N images, default 300, each watched\n"
           "for T ms, default 5000) and count the crashes, hangs and accesses outside the\n"
           "region (guard pages): all must be 0.  --image K runs image K here, verbosely.\n",
           prog_name());
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"images", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"image", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned images = 300, timeout_ms = 5000;
    uint64_t seed = 1, one = UINT64_MAX;
    struct tally t = {0};
    int opt;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":n:s:t:i:h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': images = (unsigned)opt_uint("--images", optarg, 1, 10000000); break;
        case 's': seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 't': timeout_ms = (unsigned)opt_uint("--timeout-ms", optarg, 100, 600000); break;
        case 'i': one = opt_uint("--image", optarg, 0, 10000000); break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    make_base(base_image[0], false);
    make_base(base_image[1], true);
    if (one != UINT64_MAX) {
        struct job j = {(unsigned)one, seed};
        printf("image %u, seed %" PRIu64 ":\n", j.index, seed);
        memcpy(base_image[0], base_image[j.index % 2], REGION_BYTES);
        damage(base_image[0], image_seed(seed, j.index));
        printf("outcome %d\n",
               use_image(map_guarded(base_image[0]), image_seed(seed, j.index), true));
        return 0;
    }
    uint64_t started = now_ns();
    for (unsigned i = 0; i < images; i++) {
        struct job j = {i, seed};
        struct child_result r = child_run(run_image, &j, (int)timeout_ms);
        count_end(&t, &j, &r);
    }
    printf("%u damaged images in %.1f s: %u rejected by attach, %u found by the checker, %u "
           "refused by a later call,\n%u unnoticed; %u crashes, %u hangs, %u writes and %u reads "
           "outside the region\n",
           t.images, (double)(now_ns() - started) / 1e9, t.rejected, t.found, t.refused,
           t.unnoticed, t.crashes, t.hangs, t.outside_writes, t.outside_reads);
    fact_uint("images", t.images);
    fact_uint("rejected", t.rejected);
    fact_uint("found", t.found);
    fact_uint("refused", t.refused);
    fact_uint("unnoticed", t.unnoticed);
    fact_uint("crashes", t.crashes);
    fact_uint("hangs", t.hangs);
    fact_uint("outside_writes", t.outside_writes);
    fact_uint("outside_reads", t.outside_reads);
    facts_end();
    return t.crashes + t.hangs + t.outside_writes + t.outside_reads == 0 ? 0 : 1;
}
