/*
 * mm_driver - the malloc lab's test driver: runs one of the grader's tests
 * against the mm.c it is linked with, or makes and replays traces.
 *
 * Usage: mm_driver TEST [KEY=VALUE...]       one test, as make grade runs it
 *        mm_driver --list                    the tests
 *        mm_driver gen KIND [--seed S] [--ops N]   print a trace
 *        mm_driver replay FILE               replay a trace with every check
 *
 * make grade LAB=05 builds it as build/lab/05_zone_malloc/<impl>/mm_driver
 * and runs it once per line of the rubric, which gives the KEY=VALUE
 * arguments; LAB_SEED in the environment chooses the cases.  A test ends
 * with one verdict line (see common/lab/lab.h); a crash or a hang ends with
 * a "where" line naming the trace, its line and the block.  To debug a
 * failure, run the same command under gdb, or print the trace it replays:
 *     LAB_SEED=1 build/lab/05_zone_malloc/starter/mm_driver trace_small
 *     build/lab/05_zone_malloc/starter/mm_driver gen small --seed 1 > small.trace
 * (gen's --seed is the grader's SEED, and --ops the rubric's ops= if it sets
 * one; replay FILE takes any trace, yours included.)
 */
#include "cli.h"
#include "driver.h"
#include "mm.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct progress progress;

void describe_progress(struct lab_text *t)
{
    const struct trace *trace = progress.trace;

    if (trace != NULL && progress.call < trace->count) {
        const struct call *c = &trace->calls[progress.call];
        char op[2] = {c->op, '\0'};
        lab_text_str(t, trace->name);
        lab_text_str(t, " line ");
        lab_text_uint(t, trace_line(progress.call));
        lab_text_str(t, ", block ");
        lab_text_uint(t, c->id);
        lab_text_str(t, " (");
        lab_text_str(t, op);
        lab_text_str(t, " ");
        lab_text_uint(t, c->id);
        if (c->op != 'f') {
            lab_text_str(t, " ");
            lab_text_uint(t, c->size);
        }
        lab_text_str(t, "): ");
    }
    lab_text_str(t, progress.step ? progress.step : "starting");
    if (progress.block != 0) {
        lab_text_str(t, " (at ");
        lab_text_hex(t, progress.block);
        lab_text_str(t, ", ");
        lab_text_uint(t, progress.size);
        lab_text_str(t, " bytes)");
    }
}

const char *misaligned(const char *call, void *p, char buf[static 160])
{
    uintptr_t off = (uintptr_t)p % MM_ALIGNMENT;

    if (off == 0)
        return NULL;
    snprintf(buf, 160, "%s returned %p, %" PRIuPTR " bytes past a 16-byte boundary", call, p, off);
    return buf;
}

void allocator_start(void)
{
    progress.step = "in mm_init";
    int status = mm_init();
    if (status != 0)
        lab_fail("mm_init() returned %d; expected 0", status);
    progress.step = NULL;
}

static const struct lab_test tests[] = {
    {"smoke_init", "mm_init() returns 0", test_smoke_init},
    {"rules_mmap_only", "memory comes from mmap: no malloc, no brk", test_rules_mmap_only},
    {"align", "every block is 16-byte aligned, whatever its size", test_align},
    {"edge_cases", "malloc(0), free(NULL), realloc(NULL, n), realloc(p, 0)", test_edge_cases},
    {"enomem", "impossible sizes and overflowing calloc give NULL and ENOMEM", test_enomem},
    {"calloc_zero", "calloc zeroes, also a block it reuses", test_calloc_zero},
    {"realloc_keep", "realloc keeps the first min(old, new) bytes", test_realloc_keep},
    {"trace_small", "a trace of small blocks", test_trace_small},
    {"trace_realloc", "a trace of growing buffers", test_trace_realloc},
    {"trace_mixed", "a program-like trace, small and large blocks", test_trace_mixed},
    {"trace_large", "a trace of blocks from 4 KiB to 4 MiB", test_trace_large},
    {"trace_files", "the traces in tests/traces/", test_trace_files},
    {"threads_2", "2 threads at once, each frozen now and then", test_threads_2},
    {"threads_4", "4 threads at once, each frozen now and then", test_threads_4},
    {"util_small", "peak live over peak mapped bytes, small trace", test_util_small},
    {"util_realloc", "peak live over peak mapped bytes, realloc trace", test_util_realloc},
    {"util_mixed", "peak live over peak mapped bytes, mixed trace", test_util_mixed},
    {"speed", "calls per second against glibc's malloc, same traces", test_speed},
};

static void usage(void)
{
    printf("Usage: %s TEST [KEY=VALUE...]\n"
           "       %s --list\n"
           "       %s gen KIND [--seed S] [--ops N]\n"
           "       %s replay FILE\n"
           "\n"
           "The malloc lab's test driver, linked with one mm.c.  TEST runs one of the\n"
           "grader's tests (LAB_SEED chooses the cases; KEY=VALUE are the rubric's\n"
           "arguments); --list shows them.  gen prints a trace of KIND (small, realloc,\n"
           "mixed, large) from seed S; replay runs a trace file with every check.\n",
           prog_name(), prog_name(), prog_name(), prog_name());
}

static int command_gen(int argc, char *argv[])
{
    static const struct option options[] = {
        {"seed", required_argument, NULL, 's'},
        {"ops", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    uint64_t seed = 1, ops = 0;
    int opt;
    struct trace t;

    if (argc < 2)
        usage_error("gen needs a kind: small, realloc, mixed or large");
    int kind = opt_choice("gen", argv[1], trace_kind_names);
    optind = 2;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (opt) {
        case 's': seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 'n': ops = opt_uint("--ops", optarg, 1, UINT64_C(1) << 26); break;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    trace_generate(&t, (enum trace_kind)kind, seed,
                   ops ? ops : trace_default_ops((enum trace_kind)kind));
    trace_print(&t, seed, trace_kind_names[kind]);
    trace_free(&t);
    return 0;
}

static int command_replay(int argc, char *argv[])
{
    struct trace t;

    if (argc != 2)
        usage_error("replay needs exactly one trace file");
    trace_load(&t, argv[1]);
    lab_on_crash(describe_progress);
    allocator_start();
    trace_replay_checked(&t);
    printf("%s: %zu calls, every check passed\n", t.name, t.count);
    trace_free(&t);
    return 0;
}

int main(int argc, char *argv[])
{
    cli_init();
    opterr = 0;
    if (argc < 2)
        usage_error("a test, --list, gen or replay is needed");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return 0;
    }
    if (strcmp(argv[1], "--list") == 0) {
        lab_list_tests(tests, sizeof tests / sizeof tests[0], 16);
        return 0;
    }
    if (strcmp(argv[1], "gen") == 0)
        return command_gen(argc - 1, argv + 1);
    if (strcmp(argv[1], "replay") == 0)
        return command_replay(argc - 1, argv + 1);
    lab_run_test(tests, sizeof tests / sizeof tests[0], argc, argv, describe_progress);
}
