/*
 * lab_machine - print the facts of this machine that change what a lab can
 * grade, for the grader's header line.
 *
 * Usage: lab_machine
 *
 * Prints one fact line:
 *     cpus=2 thp=madvise frame_numbers_visible=0 root=0
 * cpus counts the CPUs this process may run on (its affinity mask, which a
 * container may narrow); thp is the transparent huge page mode in brackets
 * in /sys/kernel/mm/transparent_hugepage/enabled (none without THP);
 * frame_numbers_visible says whether /proc/self/pagemap shows physical frame
 * numbers (only with CAP_SYS_ADMIN); root is the effective uid being 0.
 */
#include "cli.h"
#include "lab/lab.h"
#include "out.h"

#include <getopt.h>
#include <stdio.h>

static void usage(void)
{
    printf("Usage: %s\n"
           "\n"
           "Print the machine's facts that change what a lab can grade:\n"
           "cpus= thp= frame_numbers_visible= root=\n",
           prog_name());
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct lab_machine m;
    int opt;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'h') {
            usage();
            return 0;
        }
        bad_option(opt, argv);
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    lab_machine_read(&m);
    fact_uint("cpus", m.cpus);
    fact_word("thp", m.thp);
    fact_uint("frame_numbers_visible", m.frame_numbers_visible);
    fact_uint("root", m.root);
    facts_end();
    return 0;
}
