/*
 * sh_driver - the shared allocator lab's test driver: runs one of the
 * grader's tests against the sh.c it is linked with.
 *
 * Usage: sh_driver TEST [KEY=VALUE...]      one test, as make grade runs it
 *        sh_driver --list                   the tests
 *
 * make grade LAB=07 builds it as build/lab/07_shared_mmap_allocator/<impl>/
 * sh_driver and runs it once per line of the rubric; LAB_SEED in the
 * environment chooses the random sizes, orders and kill points.  A test
 * ends with one verdict line (common/lab/lab.h); a crash or a hang of the
 * driver itself with a "where" line.  Each test makes its own region, a
 * shared memory object unlinked as soon as it is made, so nothing is ever
 * left in /dev/shm.  To debug a failure, run the same command under gdb:
 *     LAB_SEED=1 gdb --args build/lab/07_shared_mmap_allocator/starter/sh_driver single
 * (set follow-fork-mode child to follow a test's other processes).
 */
#include "cli.h"
#include "driver.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *volatile test_step;

void describe_step(struct lab_text *t)
{
    lab_text_str(t, test_step != NULL ? test_step : "setting up");
}

static const struct lab_test tests[] = {
    {"smoke_init", "sh_init formats a fresh region", test_smoke_init},
    {"hooks", "sh_alloc and sh_free call sh_hook where sh.h says", test_hooks},
    {"single", "one process: sizes, alignment, no overlap, EINVAL, ENOMEM", test_single},
    {"walk_tiles", "the walk tiles the region and lists every block held", test_walk_tiles},
    {"coalesce", "freed blocks merge; a full region has no free space left", test_coalesce},
    {"two_views", "blocks made through one view, freed through another", test_two_views},
    {"procs_fill", "several processes at once, each at its own address", test_procs_fill},
    {"forced_race", "a second sh_alloc while one is stopped at a hook", test_forced_race},
    {"kill_locked", "a process killed holding the lock; the next recovers", test_kill_locked},
    {"kill_updating", "killed half-way through an update; the next repairs", test_kill_updating},
    {"kill_storm", "processes killed at random hooks among others", test_kill_storm},
};

static void usage(void)
{
    printf("Usage: %s TEST [KEY=VALUE...]\n"
           "       %s --list\n"
           "\n"
           "The shared allocator lab's test driver, linked with one sh.c.  TEST runs one\n"
           "of the grader's tests (LAB_SEED chooses the cases; KEY=VALUE are the rubric's\n"
           "arguments); --list shows them.\n",
           prog_name(), prog_name());
}

int main(int argc, char *argv[])
{
    cli_init();
    driver_pid = getpid();
    if (argc < 2)
        usage_error("a test or --list is needed");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return 0;
    }
    if (strcmp(argv[1], "--list") == 0) {
        lab_list_tests(tests, sizeof tests / sizeof tests[0], 14);
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* the log in order with the children's */
    lab_run_test(tests, sizeof tests / sizeof tests[0], argc, argv, describe_step);
}
