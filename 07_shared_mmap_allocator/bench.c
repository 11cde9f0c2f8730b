/*
 * bench.c - the vault's allocation workload (common/workload.h) in P
 * processes sharing one region, against glibc malloc in P processes of
 * its own, in the same run: rounds alternate the contenders and the
 * median round counts.
 *
 * Three contenders: shalloc as shipped (a per-process cache: most
 * operations touch only memory no other process writes), shalloc with the
 * cache off (every operation takes the region's robust mutex, roughly what
 * a shared-memory allocator built on one lock does), and glibc, whose heap
 * is private to each process and needs no cross-process safety at all.
 */
#include "cli.h"
#include "clock.h"
#include "lesson07.h"
#include "memory.h"
#include "out.h"
#include "shalloc_workload.h"
#include "sort.h"
#include "workload.h"

#include <stdio.h>
#include <stdlib.h>

enum contender { SHARED, SHARED_NOCACHE, GLIBC, CONTENDERS };
static const char *const contender_names[CONTENDERS] = {"shared", "shared_nocache", "glibc"};
enum { ROUNDS = 3 };

/* What one worker measured, written into shared memory for the parent. */
struct lane {
    uint64_t start_ns, end_ns;
    uint64_t failed_allocs;
};

struct bench {
    enum contender who;
    struct shalloc region;
    struct lane *lanes; /* procs of them, shared */
    uint64_t ops, seed;
};

static int bench_worker(void *arg, unsigned index)
{
    struct bench *b = arg;
    struct alloc_api api = shalloc_workload_api(&b->region);
    struct workload_result result;

    if (b->who == GLIBC)
        api = workload_libc_api;
    if (b->who == SHARED_NOCACHE)
        shalloc_set_cache_off(&b->region, true);
    b->lanes[index].start_ns = now_ns();
    workload_run(&api, b->ops, b->seed + index, &result);
    b->lanes[index].end_ns = now_ns();
    b->lanes[index].failed_allocs = result.failed_allocs;
    if (b->who != GLIBC)
        close_region(&b->region);
    return 0;
}

/* One round of one contender: aggregate operations per second, from the
 * first worker's start to the last one's end. */
static uint64_t run_round(struct bench *b, unsigned procs, uint64_t *failed)
{
    struct crew crew;
    uint64_t first = UINT64_MAX, last = 0;

    if (b->who != GLIBC)
        open_region(&b->region, NULL, (size_t)(8 + 8 * procs) << 20);
    crew_start(&crew, procs, bench_worker, b);
    crew_release(&crew);
    if (crew_wait(&crew, CHILD_TIMEOUT_MS) != 0)
        die("a bench worker failed");
    if (b->who != GLIBC)
        close_region(&b->region);
    for (unsigned i = 0; i < procs; i++) {
        first = b->lanes[i].start_ns < first ? b->lanes[i].start_ns : first;
        last = b->lanes[i].end_ns > last ? b->lanes[i].end_ns : last;
        *failed += b->lanes[i].failed_allocs;
    }
    return (uint64_t)((double)b->ops * procs * 1e9 / (double)(last - first));
}

int run_bench(const struct options *o)
{
    struct bench b = {.ops = o->ops, .seed = o->seed};
    uint64_t rate[CONTENDERS][ROUNDS], median[CONTENDERS], failed[CONTENDERS] = {0};

    heading("bench: %u process%s, %llu alloc/free operations each", o->procs,
            o->procs == 1 ? "" : "es", (unsigned long long)o->ops);
    printf("workload: random alloc/free of 16 to 527 bytes over %d slots per process;\n"
           "%d rounds, contenders in a different order each round, median shown\n",
           WORKLOAD_SLOTS, ROUNDS);
    b.lanes = map_anonymous(MAX_PROCS * sizeof *b.lanes, MAP_SHARED);
    for (unsigned round = 0; round < ROUNDS; round++)
        for (unsigned k = 0; k < CONTENDERS; k++) {
            b.who = (enum contender)((k + round) % CONTENDERS);
            rate[b.who][round] = run_round(&b, o->procs, &failed[b.who]);
        }
    unmap(b.lanes, MAX_PROCS * sizeof *b.lanes);

    printf("\n  %-15s %12s %12s %12s %12s\n", "allocator", "round 1", "round 2", "round 3",
           "median ops/s");
    for (unsigned k = 0; k < CONTENDERS; k++) {
        printf("  %-15s %12llu %12llu %12llu", contender_names[k], (unsigned long long)rate[k][0],
               (unsigned long long)rate[k][1], (unsigned long long)rate[k][2]);
        median[k] = median_u64(rate[k], ROUNDS);
        printf(" %12llu\n", (unsigned long long)median[k]);
    }
    for (unsigned k = 0; k < CONTENDERS; k++) {
        fact_word("command", "bench");
        fact_word("allocator", contender_names[k]);
        fact_uint("procs", o->procs);
        fact_uint("ops", o->ops);
        fact_uint("failed_allocs", failed[k]);
        fact_uint("ops_per_sec", median[k]);
        facts_end();
    }
    printf("shalloc reaches %.0f%% of glibc's throughput (%.0f%% with the cache off)\n",
           100.0 * (double)median[SHARED] / (double)median[GLIBC],
           100.0 * (double)median[SHARED_NOCACHE] / (double)median[GLIBC]);
    fact_word("command", "bench");
    fact_uint("shared_vs_glibc_pct", median[SHARED] * 100 / median[GLIBC]);
    fact_uint("nocache_vs_glibc_pct", median[SHARED_NOCACHE] * 100 / median[GLIBC]);
    facts_end();
    return 0;
}
