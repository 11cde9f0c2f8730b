/*
 * alloc_bench - the vault's allocation workload against one allocator.
 *
 * Runs common/workload.h (random alloc/free of 16..527-byte blocks over
 * 4,096 slots per worker) in N threads at once, each with its own seed,
 * and prints the aggregate throughput and what the allocator cost in
 * memory.  Compare allocators by running them alternately, several times,
 * and taking medians: one run on a shared machine proves little.
 *
 * Usage: alloc_bench [--allocator glibc|zone] [--workers N] [--ops N] [--seed S]
 *
 * Look for: ops_per_sec (aggregate over workers); peak_requested_bytes
 * (the workload's own count); for zone, peak_mapped_bytes and
 * mapped_per_requested_pct, the space overhead.
 */
#include "../05_zone_malloc/zone_malloc.h"
#include "../05_zone_malloc/zone_workload.h"
#include "cli.h"
#include "out.h"
#include "procfs.h"
#include "workload.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_WORKERS = 64 };

/* What the zone allocator itself says about space. */
static void zone_space_facts(uint64_t peak_requested)
{
    struct zm_stats s;

    zm_get_stats(&s);
    printf("zone allocator: peak %" PRIu64 " bytes mapped in at most %" PRIu64 " zones\n",
           s.peak_mapped_bytes, s.peak_zones);
    fact_uint("peak_mapped_bytes", s.peak_mapped_bytes);
    fact_uint("peak_zones", s.peak_zones);
    fact_uint("mapped_per_requested_pct",
              peak_requested ? s.peak_mapped_bytes * 100 / peak_requested : 0);
    facts_end();
}

/* The allocators this program can measure: add one here. */
static const struct contender {
    const char *name;
    const struct alloc_api *api;
    void (*space_facts)(uint64_t peak_requested); /* NULL if it has nothing to add */
} contenders[] = {
    {"glibc", &workload_libc_api, NULL},
    {"zone", &zone_workload_api, zone_space_facts},
};
enum { CONTENDERS = sizeof contenders / sizeof contenders[0] };

struct worker {
    pthread_t thread;
    const struct alloc_api *api;
    uint64_t ops, seed;
    pthread_barrier_t *start; /* all workers begin together */
    struct workload_result result;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    pthread_barrier_wait(w->start);
    workload_run(w->api, w->ops, w->seed, &w->result);
    return NULL;
}

static void usage(void)
{
    printf("Usage: %s [--allocator glibc|zone] [--workers N] [--ops N] [--seed S]\n"
           "\n"
           "Run the vault's random alloc/free workload (16..527-byte blocks, 4096 slots\n"
           "per worker) in N threads against one allocator; print the throughput.\n"
           "\n"
           "  -a, --allocator NAME  glibc (the C library's malloc) or zone (lesson 05);\n"
           "                        default zone\n"
           "  -w, --workers N       threads, each with its own slots (1..%d, default 1)\n"
           "  -n, --ops N           steps per worker (1..10^12, default 5000000)\n"
           "  -s, --seed S          seed of worker 0; worker i uses S + i (default 1)\n"
           "  -h, --help            show this help\n",
           prog_name(), MAX_WORKERS);
}

/* VmHWM or VmRSS from /proc/self/status, in KiB. */
static uint64_t status_kib(const char *field)
{
    struct line_reader r;
    char line[256];
    uint64_t kib = 0;
    size_t len = strlen(field);

    if (!line_reader_open(&r, "/proc/self/status"))
        die_errno("open /proc/self/status");
    while (line_reader_next(&r, line, sizeof line))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kib = strtoull(line + len + 1, NULL, 10);
    line_reader_close(&r);
    return kib;
}

static void run(const struct contender *c, unsigned workers, uint64_t ops, uint64_t seed)
{
    static struct worker w[MAX_WORKERS];
    pthread_barrier_t start;
    uint64_t total_ops = 0, slowest_ns = 0, peak_requested = 0, failed = 0;
    uint64_t rss_before = status_kib("VmRSS");
    int err;

    if ((err = pthread_barrier_init(&start, NULL, workers)) != 0)
        die_err("pthread_barrier_init", err);
    for (unsigned i = 0; i < workers; i++) {
        w[i] = (struct worker){.api = c->api, .ops = ops, .seed = seed + i, .start = &start};
        if ((err = pthread_create(&w[i].thread, NULL, worker_main, &w[i])) != 0)
            die_err("pthread_create", err);
    }
    for (unsigned i = 0; i < workers; i++) {
        if ((err = pthread_join(w[i].thread, NULL)) != 0)
            die_err("pthread_join", err);
        total_ops += w[i].result.ops;
        failed += w[i].result.failed_allocs;
        peak_requested += w[i].result.peak_live_bytes; /* an upper bound when workers > 1 */
        if (w[i].result.elapsed_ns > slowest_ns)
            slowest_ns = w[i].result.elapsed_ns;
    }
    pthread_barrier_destroy(&start);
    if (failed > 0)
        die("%s: %" PRIu64 " allocations failed", c->name, failed);

    uint64_t ops_per_sec = slowest_ns ? total_ops * 1000000000u / slowest_ns : 0;
    printf("%s: %u worker(s) x %" PRIu64 " ops in %.3f s: %.1f million ops/s\n", c->name, workers,
           ops, slowest_ns / 1e9, ops_per_sec / 1e6);
    fact_word("allocator", c->name);
    fact_uint("workers", workers);
    fact_uint("ops", total_ops);
    fact_uint("seed", seed);
    fact_uint("elapsed_ns", slowest_ns);
    fact_uint("ops_per_sec", ops_per_sec);
    fact_uint("peak_requested_bytes", peak_requested);
    fact_uint("rss_growth_kib", status_kib("VmHWM") - rss_before);
    facts_end();
    if (c->space_facts != NULL)
        c->space_facts(peak_requested);
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"allocator", required_argument, NULL, 'a'},
        {"workers", required_argument, NULL, 'w'},
        {"ops", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *names[CONTENDERS + 1] = {NULL};
    const struct contender *chosen = &contenders[1];
    unsigned workers = 1;
    uint64_t ops = 5000000, seed = 1;
    int opt;

    cli_init();
    for (unsigned i = 0; i < CONTENDERS; i++)
        names[i] = contenders[i].name;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":a:w:n:s:h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': chosen = &contenders[opt_choice("--allocator", optarg, names)]; break;
        case 'w': workers = (unsigned)opt_uint("--workers", optarg, 1, MAX_WORKERS); break;
        case 'n': ops = opt_uint("--ops", optarg, 1, UINT64_C(1000000000000)); break;
        case 's': seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    run(chosen, workers, ops, seed);
    return 0;
}
