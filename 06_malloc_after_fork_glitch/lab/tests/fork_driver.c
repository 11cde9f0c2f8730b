/*
 * fork_driver - the fork lab's test driver: runs one of the grader's tests
 * against the stats.c, journal.c and crash_report.c it is linked with, or
 * the demo: the program that forks while threads use the libraries.
 *
 * Usage: fork_driver TEST [KEY=VALUE...]      one test, as make grade runs it
 *        fork_driver --list                   the tests
 *        fork_driver demo [--threads T] [--forks N]
 *
 * make grade LAB=06 builds it as build/lab/06_malloc_after_fork_glitch/<impl>/
 * fork_driver and runs it once per line of the rubric, in a scratch folder
 * (the tests write journal.log there).  A test ends with one verdict line
 * (common/lab/lab.h); a crash or a hang with a "where" line.  demo starts T
 * threads logging through the journal and forks N children that log and
 * exit, each watched: with the starter's libraries some sleep for ever on
 * a lock their parent's threads held at the fork, and some write the
 * parent's records a second time.
 */
#include "cli.h"
#include "driver.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *volatile test_step;

void describe_step(struct lab_text *t)
{
    lab_text_str(t, test_step != NULL ? test_step : "starting");
}

static const struct lab_test tests[] = {
    {"smoke_single", "three threads log, no fork: each record written once", test_smoke_single},
    {"held_journal", "fork while a thread is inside journal_flush", test_held_journal},
    {"held_stats", "fork while a thread is half-way through stats_count", test_held_stats},
    {"child_state", "a child writes only its own records, the parent all", test_child_state},
    {"handler_order", "prepare handlers take the locks in the code's order", test_handler_order},
    {"fork_storm", "forks among threads logging without pause", test_fork_storm},
    {"signal_report", "_Fork in a signal handler; the child runs the reporter", test_signal_report},
    {"signal_malloc", "the same while another thread is inside malloc", test_signal_malloc},
    {"signal_exec_fails", "a reporter that cannot run: _exit(127)", test_signal_exec_fails},
};

static void usage(void)
{
    printf("Usage: %s TEST [KEY=VALUE...]\n"
           "       %s --list\n"
           "       %s demo [--threads T] [--forks N]\n"
           "\n"
           "The fork lab's test driver, linked with one stats.c, journal.c and\n"
           "crash_report.c.  TEST runs one of the grader's tests (KEY=VALUE are the\n"
           "rubric's arguments); --list shows them.  demo starts T threads (default 3)\n"
           "logging through the journal and forks N children (default 10) that log and\n"
           "exit, each watched for a deadlock.\n",
           prog_name(), prog_name(), prog_name());
}

/* The demo writes its journal in a folder of its own, removed afterwards. */
static int command_demo(int argc, char *argv[])
{
    static const struct option options[] = {
        {"threads", required_argument, NULL, 't'},
        {"forks", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    unsigned threads = 3, forks = 10;
    char dir[] = "/tmp/fork-demo.XXXXXX";
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (opt) {
        case 't': threads = (unsigned)opt_uint("--threads", optarg, 0, 8); break;
        case 'n': forks = (unsigned)opt_uint("--forks", optarg, 1, 400); break;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (mkdtemp(dir) == NULL || chdir(dir) != 0)
        die_errno("mkdtemp");
    printf("%u threads log through the journal; %u children are forked among them.\n", threads,
           forks);
    fork_storm(threads, forks, 0, true);
    if (unlink("journal.log") != 0 || chdir("/") != 0 || rmdir(dir) != 0)
        die_errno("removing the demo's folder");
    return 0;
}

int main(int argc, char *argv[])
{
    cli_init();
    opterr = 0;
    if (argc < 2)
        usage_error("a test, --list or demo is needed");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return 0;
    }
    if (strcmp(argv[1], "--list") == 0) {
        lab_list_tests(tests, sizeof tests / sizeof tests[0], 18);
        return 0;
    }
    notes_init();
    if (strcmp(argv[1], "demo") == 0)
        return command_demo(argc - 1, argv + 1);
    lab_run_test(tests, sizeof tests / sizeof tests[0], argc, argv, describe_step);
}
