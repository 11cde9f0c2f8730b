/*
 * alloc_bench - the project's allocation workload against one allocator.
 *
 * Runs common/workload.h (random alloc/free of 16..527-byte blocks over
 * 4,096 slots per worker) in N workers at once, each with its own seed,
 * and prints the aggregate throughput and what the allocator cost in
 * memory.  Workers are threads for glibc and zone (lesson 05), and
 * processes sharing one region for shared and shared_nocache (lesson 07,
 * measured by its lib/shalloc_workload.c); for shared_apart, processes on
 * a region each, sharing nothing: what the machine gives that many
 * processes running lesson 07's code at once, the most shared can scale
 * to here.  Compare allocators
 * by running them alternately, several times, and taking medians: one run
 * on a shared machine proves little (bench/run.sh does that).
 *
 * Usage: alloc_bench [--allocator glibc|zone|shared|shared_nocache|shared_apart]
 *                    [--workers N] [--ops N] [--seed S] [--sizes small|mixed]
 *
 * Look for: ops_per_sec (aggregate over workers); peak_requested_bytes
 * (the workload's own count); for zone and shared*, peak_mapped_bytes and
 * mapped_per_requested_pct, the space overhead; for zone, peak_zones.
 */
#include "cli.h"
#include "out.h"
#include "procfs.h"
#include "shalloc_workload.h"
#include "workload.h"
#include "zone_adapters.h"
#include "zone_malloc.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

enum { MAX_WORKERS = 64, WORKER_DEADLINE_MS = 600000 };

/* One run's request, and what its workers measured. */
struct run {
    struct alloc_api api;
    unsigned workers;
    uint64_t ops, seed;
    enum workload_mix mix;           /* --sizes */
    struct workload_result *results; /* one per worker */
    uint64_t peak_mapped_bytes;      /* 0 when the allocator cannot say */
    uint64_t peak_zones;             /* zone: the most zones mapped at once; else 0 */
};

/* ---- workers as threads (glibc, zone) ---------------------------------- */

struct thread_worker {
    pthread_t thread;
    struct run *run;
    unsigned index;
    pthread_barrier_t *start; /* all workers begin together */
};

static void *thread_main(void *arg)
{
    struct thread_worker *w = arg;
    struct run *r = w->run;

    pthread_barrier_wait(w->start);
    workload_run_mix(&r->api, r->ops, r->seed + w->index, r->mix, &r->results[w->index]);
    return NULL;
}

static void run_in_threads(struct run *r)
{
    static struct thread_worker w[MAX_WORKERS];
    pthread_barrier_t start;
    int err;

    if ((err = pthread_barrier_init(&start, NULL, r->workers)) != 0)
        die_err("pthread_barrier_init", err);
    for (unsigned i = 0; i < r->workers; i++) {
        w[i] = (struct thread_worker){.run = r, .index = i, .start = &start};
        if ((err = pthread_create(&w[i].thread, NULL, thread_main, &w[i])) != 0)
            die_err("pthread_create", err);
    }
    for (unsigned i = 0; i < r->workers; i++)
        if ((err = pthread_join(w[i].thread, NULL)) != 0)
            die_err("pthread_join", err);
    pthread_barrier_destroy(&start);
}

static void run_glibc(struct run *r)
{
    r->api = workload_libc_api;
    run_in_threads(r);
}

static void run_zone(struct run *r)
{
    struct zm_stats stats;

    r->api = zone_workload_api;
    run_in_threads(r);
    zm_get_stats(&stats);
    r->peak_mapped_bytes = stats.peak_mapped_bytes;
    r->peak_zones = stats.peak_zones;
}

/* ---- workers as processes sharing one region (shared) ------------------ */

/* Lesson 07's measurement (lib/shalloc_workload.c), the one its bench
 * command makes too. */
static void run_shalloc(struct run *r, enum shalloc_run how)
{
    struct workload_procs w = {.workers = r->workers,
                               .ops = r->ops,
                               .seed = r->seed,
                               .mix = r->mix,
                               .deadline_ms = WORKER_DEADLINE_MS};
    const char *why;

    if (shalloc_workload_run(&w, how, r->results, &r->peak_mapped_bytes, &why) != 0)
        die_errno(why);
}

static void run_shared(struct run *r)
{
    run_shalloc(r, SHALLOC_RUN_SHARED);
}

static void run_shared_nocache(struct run *r)
{
    run_shalloc(r, SHALLOC_RUN_NO_CACHE);
}

static void run_shared_apart(struct run *r)
{
    run_shalloc(r, SHALLOC_RUN_APART);
}

/* The allocators this program can measure: add one here. */
static const struct contender {
    const char *name;
    void (*run)(struct run *r);
    int processes; /* workers are processes: the parent's RSS says nothing */
} contenders[] = {
    {"glibc", run_glibc, 0},
    {"zone", run_zone, 0},
    {"shared", run_shared, 1},
    {"shared_nocache", run_shared_nocache, 1},
    {"shared_apart", run_shared_apart, 1},
};
enum { CONTENDERS = sizeof contenders / sizeof contenders[0] };

/* ---- results ------------------------------------------------------------ */

static void report(const struct contender *c, const struct run *r, uint64_t rss_growth_kib)
{
    uint64_t total_ops = 0, peak_requested = 0, failed = 0;
    uint64_t elapsed_ns = workload_span_ns(r->results, r->workers); /* first start to last end */

    for (unsigned i = 0; i < r->workers; i++) {
        total_ops += r->results[i].ops;
        failed += r->results[i].failed_allocs;
        peak_requested += r->results[i].peak_live_bytes; /* an upper bound when workers > 1 */
    }
    if (failed > 0)
        die("%s: %" PRIu64 " allocations failed", c->name, failed);

    uint64_t ops_per_sec = workload_ops_per_sec(r->results, r->workers);
    printf("%s: %u %s x %" PRIu64 " ops in %.3f s: %.1f million ops/s\n", c->name, r->workers,
           c->processes ? "process(es)" : "thread(s)", r->ops, elapsed_ns / 1e9, ops_per_sec / 1e6);
    fact_word("allocator", c->name);
    fact_uint("workers", r->workers);
    fact_uint("ops", total_ops);
    fact_uint("seed", r->seed);
    fact_uint("elapsed_ns", elapsed_ns);
    fact_uint("ops_per_sec", ops_per_sec);
    fact_uint("peak_requested_bytes", peak_requested);
    if (!c->processes) {
        fact_uint("rss_growth_kib", rss_growth_kib);
        fact_uint("peak_rss_kib", peak_rss_kib());
    }
    if (r->peak_mapped_bytes > 0) {
        fact_uint("peak_mapped_bytes", r->peak_mapped_bytes);
        fact_uint("mapped_per_requested_pct",
                  peak_requested ? r->peak_mapped_bytes * 100 / peak_requested : 0);
    }
    if (r->peak_zones > 0)
        fact_uint("peak_zones", r->peak_zones);
    facts_end();
}

static void usage(void)
{
    printf("Usage: %s [--allocator glibc|zone|shared|shared_nocache|shared_apart]\n"
           "       [--workers N] [--ops N] [--seed S] [--sizes small|mixed]\n"
           "\n"
           "Run the project's random alloc/free workload (16..527-byte blocks, 4096 slots\n"
           "per worker) in N workers against one allocator; print the throughput.\n"
           "\n"
           "  -a, --allocator NAME  glibc (the C library's malloc), zone (lesson 05),\n"
           "                        shared (lesson 07: processes sharing a region),\n"
           "                        shared_nocache (the same, every operation under the\n"
           "                        region lock) or shared_apart (lesson 07's code in\n"
           "                        processes on a region each: the machine's ceiling\n"
           "                        for shared's scaling); default zone\n"
           "  -w, --workers N       threads, or processes for shared* (1..%d, default 1)\n"
           "  -n, --ops N           steps per worker (1..10^12, default 5000000)\n"
           "  -s, --seed S          seed of worker 0; worker i uses S + i (default 1)\n"
           "  -z, --sizes MIX       small (16..527 bytes, default) or mixed (16 bytes to\n"
           "                        64 KiB, evenly over the powers of two)\n"
           "  -h, --help            show this help\n",
           prog_name(), MAX_WORKERS);
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"allocator", required_argument, NULL, 'a'},
        {"workers", required_argument, NULL, 'w'},
        {"ops", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"sizes", required_argument, NULL, 'z'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const mixes[] = {"small", "mixed", NULL};
    const char *names[CONTENDERS + 1] = {NULL};
    const struct contender *chosen = &contenders[1];
    struct run r = {.workers = 1, .ops = 5000000, .seed = 1};
    int opt;

    cli_init();
    for (unsigned i = 0; i < CONTENDERS; i++)
        names[i] = contenders[i].name;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":a:w:n:s:z:h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': chosen = &contenders[opt_choice("--allocator", optarg, names)]; break;
        case 'w': r.workers = (unsigned)opt_uint("--workers", optarg, 1, MAX_WORKERS); break;
        case 'n': r.ops = opt_uint("--ops", optarg, 1, UINT64_C(1000000000000)); break;
        case 's': r.seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 'z': r.mix = (enum workload_mix)opt_choice("--sizes", optarg, mixes); break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    static struct workload_result results[MAX_WORKERS];
    r.results = results;
    uint64_t rss_before = rss_kib();
    chosen->run(&r);
    report(chosen, &r, peak_rss_kib() - rss_before);
    return 0;
}
