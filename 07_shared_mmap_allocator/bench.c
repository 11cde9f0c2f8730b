/*
 * bench.c - the common allocation workload (common/workload.h) in P
 * processes sharing one region, against glibc malloc in P processes of
 * its own, in the same run: rounds alternate the contenders and the
 * median round counts.
 *
 * Three contenders: shalloc as shipped (a per-process cache: most
 * operations touch only memory no other process writes), shalloc with the
 * cache off (every operation takes the region's robust mutex, roughly what
 * a shared-memory allocator built on one lock does), and glibc, whose heap
 * is private to each process and needs no cross-process safety at all.
 * One round of one contender is the measurement bench/alloc_bench makes
 * (lib/shalloc_workload.c, common/workload.c): this command adds the
 * rounds, the rotation and the comparison.
 */
#include "cli.h"
#include "lesson07.h"
#include "out.h"
#include "shalloc_workload.h"
#include "sort.h"
#include "workload.h"

#include <stdio.h>

enum contender { SHARED, SHARED_NOCACHE, GLIBC, CONTENDERS };
static const char *const contender_names[CONTENDERS] = {"shared", "shared_nocache", "glibc"};
enum { ROUNDS = 3 };

/* One round of one contender: aggregate operations per second, from the
 * first worker's start to the last one's end. */
static uint64_t run_round(enum contender who, const struct options *o, uint64_t *failed)
{
    struct workload_procs w = {
        .workers = o->procs, .ops = o->ops, .seed = o->seed, .deadline_ms = CHILD_TIMEOUT_MS};
    struct workload_result results[MAX_PROCS];
    const char *why;

    if (who == GLIBC) {
        w.api = workload_libc_api; /* each process's own heap */
        workload_run_processes(&w, results);
    } else if (shalloc_workload_run(
                   &w, who == SHARED_NOCACHE ? SHALLOC_RUN_NO_CACHE : SHALLOC_RUN_SHARED, results,
                   NULL, &why) != 0) {
        die_errno(why);
    }
    for (unsigned i = 0; i < o->procs; i++)
        *failed += results[i].failed_allocs;
    return workload_ops_per_sec(results, o->procs);
}

int run_bench(const struct options *o)
{
    uint64_t rate[CONTENDERS][ROUNDS], median[CONTENDERS], failed[CONTENDERS] = {0};

    heading("bench: %u process%s, %llu alloc/free operations each", o->procs,
            o->procs == 1 ? "" : "es", (unsigned long long)o->ops);
    printf("workload: random alloc/free of 16 to 527 bytes over %d slots per process;\n"
           "%d rounds, contenders in a different order each round, median shown\n",
           WORKLOAD_SLOTS, ROUNDS);
    for (unsigned round = 0; round < ROUNDS; round++)
        for (unsigned k = 0; k < CONTENDERS; k++) {
            enum contender who = (enum contender)((k + round) % CONTENDERS);
            rate[who][round] = run_round(who, o, &failed[who]);
        }

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
