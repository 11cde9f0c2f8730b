/*
 * 02_mmap_file - a file mapped into memory: read like an array, written
 * through, copied on write, cached, and cut short under our feet.
 *
 * With no arguments, creates a scratch file of text lines and shows, with
 * the kernel's own numbers, what a file mapping is: (1) a read-only map
 * read like an array; (2) a store into a MAP_SHARED map is in the file at
 * once, and msync only writes it to the disk; (3) a store into a
 * MAP_PRIVATE map copies the page and never reaches the file; (4) scanning
 * a mapping brings the file into the page cache (mincore) and into our RSS;
 * (5) counting its lines by read() and through mmap, alternately, compares
 * the copy with the page-table work, and the memory each holds at its peak;
 * (6) truncating the file while it is mapped turns a touch past the new end
 * into SIGBUS, caught here and explained.
 *
 * With "count FILE", counts the lines and bytes of FILE as wc -l and wc -c
 * do, through mmap(), read() or both, and times them side by side.
 *
 * Usage: 02_mmap_file [--size SIZE]
 *        02_mmap_file count FILE [--method mmap|read|both] [--rounds N]
 *                                [--loop vector|memchr]
 *
 * Look for: in_file_before_msync=1, seen_in_mapping=1 with in_file=0,
 * resident_after_pages equal to pages and rss_after_kib above
 * rss_before_kib by about SIZE, sigbus_caught=1; and with count --method
 * both (also step 5 of the demo), counts_agree=1, mmap_vs_read_pct (mmap's
 * time as a percentage of read's) and each method's peak_growth_kib.
 */
#include "cli.h"
#include "count.h"
#include "demo.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("Usage: %s [--size SIZE]\n"
           "       %s count FILE [--method mmap|read|both] [--rounds N] [--loop vector|memchr]\n"
           "\n"
           "Without a command: map a scratch file of SIZE bytes and show read-only,\n"
           "shared and private mappings, page cache residency, read() against mmap\n"
           "and SIGBUS.\n"
           "With count: print lines=N bytes=N for FILE, as wc -l and wc -c count them.\n"
           "\n"
           "  -s, --size SIZE      the demo file's size; K, M, G, T, P suffixes\n"
           "                       (default 16M, at least 64K); the file lives in $TMPDIR\n"
           "  -m, --method METHOD  count by mmap (default), read, or both (alternately,\n"
           "                       timed, compared)\n"
           "  -r, --rounds N       count N times and report the median time\n"
           "                       (1 to %d; default 1, or 3 with --method both)\n"
           "  -l, --loop LOOP      the newline loop: vector (default) or memchr\n"
           "  -h, --help           show this help\n"
           "\n"
           "count reads regular files only: a directory, FIFO, device or socket is an\n"
           "error (exit 1), as is a missing or unreadable file.\n",
           prog_name(), prog_name(), COUNT_MAX_ROUNDS);
}

/* What the command line asked for. */
struct command {
    int count;      /* 1: the count subcommand; 0: the demo */
    size_t size;    /* demo file size */
    int size_given; /* --size appeared (the demo's option only) */
    struct count_request request;
    int count_option; /* the first count-only option seen, or 0 */
};

static void parse_positional(struct command *cmd, int argc, char *argv[])
{
    if (optind == argc)
        return;
    if (strcmp(argv[optind], "count") != 0)
        usage_error("unexpected argument '%s' (the only command is 'count')", argv[optind]);
    cmd->count = 1;
    if (optind + 1 == argc)
        usage_error("count needs a FILE");
    cmd->request.path = argv[optind + 1];
    if (optind + 2 < argc)
        usage_error("unexpected argument '%s' after count FILE", argv[optind + 2]);
}

static void parse_command(struct command *cmd, int argc, char *argv[])
{
    static const struct option options[] = {
        {"size", required_argument, NULL, 's'},   {"method", required_argument, NULL, 'm'},
        {"rounds", required_argument, NULL, 'r'}, {"loop", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":s:m:r:l:h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            cmd->size = opt_size("--size", optarg);
            cmd->size_given = 1;
            break;
        case 'm':
            cmd->request.method =
                (enum count_method)opt_choice("--method", optarg, count_method_names);
            cmd->count_option = cmd->count_option ? cmd->count_option : 'm';
            break;
        case 'r':
            cmd->request.rounds = (unsigned)opt_uint("--rounds", optarg, 1, COUNT_MAX_ROUNDS);
            cmd->count_option = cmd->count_option ? cmd->count_option : 'r';
            break;
        case 'l':
            cmd->request.loop = (enum count_loop)opt_choice("--loop", optarg, count_loop_names);
            cmd->count_option = cmd->count_option ? cmd->count_option : 'l';
            break;
        case 'h': usage(); leave(0);
        default: bad_option(opt, argv);
        }
    }
    parse_positional(cmd, argc, argv);
    if (cmd->count && cmd->size_given)
        usage_error("--size is for the demo, not for count");
    if (!cmd->count && cmd->count_option != 0)
        usage_error("--%s is for count FILE only", cmd->count_option == 'm'   ? "method"
                                                   : cmd->count_option == 'r' ? "rounds"
                                                                              : "loop");
    if (!cmd->count && cmd->size < DEMO_MIN_BYTES)
        usage_error("--size: at least 64K for the demo");
}

int main(int argc, char *argv[])
{
    struct command cmd = {.size = 16u << 20};

    cli_init();
    parse_command(&cmd, argc, argv);
    if (cmd.count)
        run_count(&cmd.request);
    else
        run_demo(cmd.size);
    return 0;
}
