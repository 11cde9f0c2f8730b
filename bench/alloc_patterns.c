/*
 * alloc_patterns - allocation patterns of real programs, against whatever
 * malloc the process runs on.
 *
 * Six workloads, each shaped like something real programs do to an
 * allocator (bench/pattern_*.c says what each imitates):
 *   large      a few 5..25 MiB buffers, replaced at random and filled
 *   prodcons   threads in pairs, each freeing the blocks the other allocated
 *   randsizes  random sizes of 8..16000 bytes in threads that pass blocks on
 *   server     worker threads replacing their blocks, each worker replaced in
 *              turn by a new thread that inherits (and frees) its blocks
 *   churn      bursts of short-lived threads that allocate, free and exit
 *   tiny       a small program: a few hundred KiB live, many short-lived blocks
 * The program calls malloc and free only: run it with LD_PRELOAD to measure
 * another allocator (bench/run.sh does, for glibc, lesson 05's zone
 * allocator and the installed peers).  Every block is stamped and checked
 * before its free (patterns.h), so a wrong allocator cannot look fast.
 *
 * Usage: alloc_patterns [--ops N] [--threads N] [--seed S] WORKLOAD
 *
 * Look for: ops_per_sec (allocations per second, each one freed too);
 * checksum equal to expected_checksum and bad_blocks=0 (the same for every
 * allocator, for a given seed); peak_rss_kib, the process's peak resident set.
 */
#include "cli.h"
#include "clock.h"
#include "out.h"
#include "patterns.h"
#include "procfs.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAGE = 4096, HEAD_BYTES = 32, MAX_THREADS = 64 };

static const struct workload {
    const char *name;
    void (*run)(const struct pattern_options *o, struct pattern_tally *t);
    uint64_t ops;     /* the default */
    unsigned threads; /* the default; 0: the workload has no threads */
    const char *unit; /* what --ops counts */
} workloads[] = {
    {"large", run_large, 80, 0, "buffers replaced"},
    {"prodcons", run_prodcons, 1000000, 2, "blocks per thread"},
    {"randsizes", run_randsizes, 300000, 4, "allocations per thread"},
    {"server", run_server, 400000, 8, "replacements per thread"},
    {"churn", run_churn, 40, 4, "bursts of threads"},
    {"tiny", run_tiny, 3000000, 0, "steps"},
};
enum { WORKLOADS = sizeof workloads / sizeof workloads[0] };

/* The value stamped into a block: its id and size, mixed. */
static uint64_t stamp_of(uint64_t id, size_t size)
{
    uint64_t z = id * 0x9e3779b97f4a7c15u + size;

    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9u;
    return z ^ (z >> 29);
}

void count_add(struct pattern_tally *t, const struct pattern_count *c)
{
    atomic_fetch_add(&t->ops, c->ops);
    atomic_fetch_add(&t->checksum, c->checksum);
    atomic_fetch_add(&t->expected, c->expected);
    atomic_fetch_add(&t->bad_blocks, c->bad_blocks);
    atomic_fetch_add(&t->failed, c->failed);
}

/* The stamp at both ends (as much of it as fits), the fill in between. */
bool block_new(struct pblock *b, size_t size, uint64_t id, bool full, struct pattern_count *c)
{
    uint64_t stamp = stamp_of(id, size);
    unsigned char tag = (unsigned char)(stamp | 1);
    unsigned char *p = malloc(size);

    *b = (struct pblock){.p = p, .size = size, .id = id};
    if (p == NULL) {
        c->failed++;
        return false;
    }
    c->ops++;
    c->expected += stamp;
    memcpy(p, &stamp, size < 8 ? size : 8);
    if (size < 16)
        return true;
    memcpy(p + size - 8, &stamp, 8);
    size_t inner = size - 16;
    if (full) {
        memset(p + 8, tag, inner);
        return true;
    }
    memset(p + 8, tag, inner < HEAD_BYTES ? inner : HEAD_BYTES);
    for (size_t at = PAGE; at < size - 8; at += PAGE)
        p[at] = tag;
    return true;
}

/* Whether the n bytes at p all equal tag, a word at a time. */
static bool all_tag(const unsigned char *p, size_t n, unsigned char tag)
{
    uint64_t want = tag * UINT64_C(0x0101010101010101), word;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&word, p + i, 8);
        if (word != want)
            return false;
    }
    for (; i < n; i++)
        if (p[i] != tag)
            return false;
    return true;
}

void block_done(struct pblock *b, struct pattern_count *c)
{
    uint64_t stamp = stamp_of(b->id, b->size), start = 0, end = stamp;
    unsigned char tag = (unsigned char)(stamp | 1), *p = b->p;
    size_t size = b->size;
    bool ok = true;

    if (p == NULL)
        return;
    memcpy(&start, p, size < 8 ? size : 8);
    if (size < 8)
        start |= stamp & ~((UINT64_C(1) << (8 * size)) - 1); /* the bytes that did not fit */
    if (size >= 16) {
        memcpy(&end, p + size - 8, 8);
        ok = all_tag(p + 8, size - 16 < HEAD_BYTES ? size - 16 : HEAD_BYTES, tag);
        for (size_t at = PAGE; at < size - 8 && ok; at += PAGE)
            ok = p[at] == tag;
    }
    c->checksum += start;
    c->bad_blocks += !ok || start != stamp || end != stamp;
    free(p);
    b->p = NULL;
}

static void usage(void)
{
    printf("Usage: %s [--ops N] [--threads N] [--seed S] WORKLOAD\n"
           "\n"
           "Run one allocation pattern against the process's malloc (use LD_PRELOAD to\n"
           "measure another one); every block is checked before it is freed.\n"
           "\n"
           "  WORKLOAD          large, prodcons, randsizes, server, churn or tiny\n"
           "  -n, --ops N       how much work (what it counts depends on the workload;\n"
           "                    --list shows the defaults)\n"
           "  -t, --threads N   threads, for the workloads that have them (1..%d)\n"
           "  -s, --seed S      seed of every random choice (default 1)\n"
           "  -l, --list        list the workloads\n"
           "  -h, --help        show this help\n",
           prog_name(), MAX_THREADS);
}

static void list_workloads(void)
{
    for (int i = 0; i < WORKLOADS; i++) {
        printf("%-10s --ops %-8" PRIu64 " (%s)", workloads[i].name, workloads[i].ops,
               workloads[i].unit);
        if (workloads[i].threads > 0)
            printf(", --threads %u", workloads[i].threads);
        printf("\n");
    }
}

static void report(const struct workload *w, const struct pattern_options *o,
                   struct pattern_tally *t, uint64_t elapsed_ns)
{
    uint64_t ops = atomic_load(&t->ops), failed = atomic_load(&t->failed);
    uint64_t sum = atomic_load(&t->checksum), want = atomic_load(&t->expected);
    uint64_t bad = atomic_load(&t->bad_blocks);
    uint64_t rate = elapsed_ns ? (uint64_t)((double)ops * 1e9 / (double)elapsed_ns) : 0;

    printf("%s: %" PRIu64 " allocations in %.3f s (%.2f million/s), %s, peak RSS %" PRIu64 " KiB\n",
           w->name, ops, elapsed_ns / 1e9, rate / 1e6,
           bad == 0 && sum == want ? "every block intact" : "BLOCKS DAMAGED", peak_rss_kib());
    fact_word("workload", w->name);
    fact_uint("threads", w->threads > 0 ? o->threads : 1);
    fact_uint("ops", ops);
    fact_uint("elapsed_ns", elapsed_ns);
    fact_uint("ops_per_sec", rate);
    fact_hex("checksum", sum);
    fact_hex("expected_checksum", want);
    fact_uint("bad_blocks", bad);
    fact_uint("failed_allocs", failed);
    fact_uint("peak_rss_kib", peak_rss_kib());
    facts_end();
    if (failed > 0)
        die("%s: %" PRIu64 " allocations failed", w->name, failed);
    if (bad > 0 || sum != want)
        die("%s: %" PRIu64 " blocks damaged (checksum %#" PRIx64 ", expected %#" PRIx64 ")",
            w->name, bad, sum, want);
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"ops", required_argument, NULL, 'n'},  {"threads", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'}, {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *names[WORKLOADS + 1] = {NULL};
    struct pattern_options o = {.seed = 1};
    struct pattern_tally tally = {0};
    int opt;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":n:t:s:lh", options, NULL)) != -1) {
        switch (opt) {
        case 'n': o.ops = opt_uint("--ops", optarg, 1, UINT64_C(1) << 40); break;
        case 't': o.threads = (unsigned)opt_uint("--threads", optarg, 1, MAX_THREADS); break;
        case 's': o.seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 'l': list_workloads(); return 0;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind == argc)
        usage_error("name a workload (--list shows them)");
    if (optind < argc - 1)
        usage_error("unexpected argument '%s'", argv[optind + 1]);
    for (int i = 0; i < WORKLOADS; i++)
        names[i] = workloads[i].name;
    const struct workload *w = &workloads[opt_choice("WORKLOAD", argv[optind], names)];
    if (o.ops == 0)
        o.ops = w->ops;
    if (o.threads == 0)
        o.threads = w->threads > 0 ? w->threads : 1;

    uint64_t start = now_ns();
    w->run(&o, &tally);
    report(w, &o, &tally, now_ns() - start);
    return 0;
}
