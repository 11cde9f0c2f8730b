/*
 * boost_bench - the project's allocation workload against Boost.Interprocess's
 * managed_shared_memory: the allocator C++ programs use to share a heap
 * between processes, and the contender lesson 07's shalloc is measured
 * against (bench/run.sh, section shm).
 *
 * Workers are processes forked by the parent that made the segment, each
 * running common/workload.h with its own seed, as alloc_bench --allocator
 * shared does for shalloc: segment.allocate(size, std::nothrow) and
 * segment.deallocate(p) on one segment (Boost's rbtree_best_fit, behind
 * one process-shared mutex).  The segment's name is removed as soon as it
 * is mapped: nothing is left in /dev/shm, whatever happens next.
 *
 * Built only where a C++ compiler and the Boost headers exist (Debian:
 * g++ and libboost-dev); bench/run.sh says so when it is missing.
 *
 * Usage: boost_bench [--workers N] [--ops N] [--seed S] [--sizes small|mixed]
 *
 * Look for: ops_per_sec, the workers' steps per second together.
 */
#include <boost/interprocess/managed_shared_memory.hpp>

#include <getopt.h>
#include <new>
#include <stdio.h>
#include <unistd.h>

extern "C" {
#include "out.h"
#include "workload.h"

/* From common/cli.h, whose C-only syntax (_Noreturn, [static N]) a C++
 * compiler does not take: the few calls this program makes. */
void cli_init(void);
const char *prog_name(void);
[[noreturn]] void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void bad_option(int code, char *const argv[]);
uint64_t opt_uint(const char *option, const char *text, uint64_t min, uint64_t max);
int opt_choice(const char *option, const char *text, const char *const choices[]);
}

namespace ipc = boost::interprocess;

enum { MAX_WORKERS = 64, WORKER_DEADLINE_MS = 600000 };

static void *boost_alloc(void *ctx, size_t size)
{
    return static_cast<ipc::managed_shared_memory *>(ctx)->allocate(size, std::nothrow);
}

static void boost_release(void *ctx, void *block)
{
    static_cast<ipc::managed_shared_memory *>(ctx)->deallocate(block);
}

/* The segment: as large as lesson 07 gives shalloc for the same run
 * (lib/shalloc_workload.c), mapped, then its name removed. */
static ipc::managed_shared_memory *make_segment(enum workload_mix mix, unsigned workers)
{
    size_t mib = mix == WORKLOAD_SMALL ? 8 + 8 * workers : 32 + 64 * workers;
    char name[64];

    snprintf(name, sizeof name, "asym-boost-bench-%d", (int)getpid());
    try {
        auto *segment = new ipc::managed_shared_memory(ipc::create_only, name, mib << 20);
        ipc::shared_memory_object::remove(name);
        return segment;
    } catch (const std::exception &e) {
        ipc::shared_memory_object::remove(name);
        die("managed_shared_memory %s: %s", name, e.what());
    }
}

static void usage(void)
{
    printf("Usage: %s [--workers N] [--ops N] [--seed S] [--sizes small|mixed]\n"
           "\n"
           "Run the project's random alloc/free workload in N processes sharing one\n"
           "Boost.Interprocess managed_shared_memory segment; print the throughput.\n"
           "\n"
           "  -w, --workers N   processes (1..%d, default 1)\n"
           "  -n, --ops N       steps per worker (1..10^12, default 1000000)\n"
           "  -s, --seed S      seed of worker 0; worker i uses S + i (default 1)\n"
           "  -z, --sizes MIX   small (16..527 bytes, default) or mixed (16 bytes to\n"
           "                    64 KiB, evenly over the powers of two)\n"
           "  -h, --help        show this help\n",
           prog_name(), MAX_WORKERS);
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"workers", required_argument, nullptr, 'w'}, {"ops", required_argument, nullptr, 'n'},
        {"seed", required_argument, nullptr, 's'},    {"sizes", required_argument, nullptr, 'z'},
        {"help", no_argument, nullptr, 'h'},          {nullptr, 0, nullptr, 0},
    };
    static const char *const mixes[] = {"small", "mixed", nullptr};
    struct workload_procs w = {};
    int opt;

    cli_init();
    w.workers = 1;
    w.ops = 1000000;
    w.seed = 1;
    w.deadline_ms = WORKER_DEADLINE_MS;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":w:n:s:z:h", options, nullptr)) != -1) {
        switch (opt) {
        case 'w': w.workers = (unsigned)opt_uint("--workers", optarg, 1, MAX_WORKERS); break;
        case 'n': w.ops = opt_uint("--ops", optarg, 1, UINT64_C(1000000000000)); break;
        case 's': w.seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 'z': w.mix = (enum workload_mix)opt_choice("--sizes", optarg, mixes); break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    static struct workload_result results[MAX_WORKERS];
    ipc::managed_shared_memory *segment = make_segment(w.mix, w.workers);
    w.api.alloc = boost_alloc;
    w.api.release = boost_release;
    w.api.ctx = segment;
    workload_run_processes(&w, results);
    delete segment;

    uint64_t failed = 0;
    for (unsigned i = 0; i < w.workers; i++)
        failed += results[i].failed_allocs;
    if (failed > 0)
        die("boost: %llu allocations failed (the segment is too small)",
            (unsigned long long)failed);
    uint64_t ops_per_sec = workload_ops_per_sec(results, w.workers);
    printf("boost: %u process(es) x %llu ops (%s sizes): %.1f million ops/s\n", w.workers,
           (unsigned long long)w.ops, mixes[w.mix], (double)ops_per_sec / 1e6);
    fact_word("allocator", "boost");
    fact_word("sizes", mixes[w.mix]);
    fact_uint("workers", w.workers);
    fact_uint("ops", w.ops * w.workers);
    fact_uint("seed", w.seed);
    fact_uint("elapsed_ns", workload_span_ns(results, w.workers));
    fact_uint("ops_per_sec", ops_per_sec);
    facts_end();
    return 0;
}
