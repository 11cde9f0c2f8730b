/*
 * 07_shared_mmap_allocator - an allocator that lives in shared memory and
 * keeps working across fork, races between processes and SIGKILL.
 *
 * A popular tutorial puts a bump arena in a MAP_SHARED region, allocates
 * with "offset += size", and says it is "lockless", "fork-safe" and
 * "crash-safe".  Once two processes allocate at the same time it is none
 * of these: the bump is a data race that hands out the same bytes twice,
 * pointers stored in the region mean nothing to a process that maps it
 * elsewhere, and a process killed in the middle of an update leaves it
 * half done.  This program runs the real thing (the shalloc library in
 * lib/) and shows each failure it fixes.
 *
 * Usage: 07_shared_mmap_allocator [COMMAND] [OPTIONS]    (default: demo)
 *   demo | race | freelist | map | share [--hold] | generations N | dontfork
 *   create NAME SIZE | attach NAME | check NAME | unlink NAME
 *   crash [--kills K] | stress --procs P --ops N [--seed S] | bench --procs P --ops N
 *   (demo, stress and crash: --size SIZE, the region's size)
 *
 * Look for: race's overlaps (racy_preempted > 0, atomic 0); share's two base
 * addresses with one list; crash's kills=N check=ok; bench's ops_per_sec
 * next to glibc's.
 */
#include "cli.h"
#include "lesson07.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum option_bit {
    OPT_PROCS = 1,
    OPT_OPS = 2,
    OPT_SEED = 4,
    OPT_KILLS = 8,
    OPT_HOLD = 16,
    OPT_SIZE = 32,
    OPT_LAST = OPT_SIZE,
};

/* A command: its words, the options it takes and their defaults. */
struct command {
    const char *name;
    int (*run)(const struct options *o);
    unsigned words;   /* positional words after the command's name */
    unsigned allowed; /* option bits */
    unsigned procs;   /* default --procs */
    uint64_t ops;     /* default --ops */
};

static const struct command commands[] = {
    {"demo", run_demo, 0, OPT_SIZE, 0, 0},
    {"race", run_race, 0, OPT_PROCS | OPT_OPS, 2, 100000}, /* the parent counts */
    {"freelist", run_freelist, 0, 0, 0, 0},
    {"map", run_map, 0, OPT_PROCS | OPT_OPS | OPT_SEED, 3, 3000},
    {"create", run_create, 2, 0, 0, 0},
    {"attach", run_attach, 1, 0, 0, 0},
    {"check", run_check, 1, 0, 0, 0},
    {"unlink", run_unlink, 1, 0, 0, 0},
    {"share", run_share, 0, OPT_HOLD, 0, 0},
    {"generations", run_generations, 1, 0, 0, 0},
    {"dontfork", run_dontfork, 0, 0, 0, 0},
    {"crash", run_crash, 0, OPT_PROCS | OPT_OPS | OPT_SEED | OPT_KILLS | OPT_SIZE, 2, 20000},
    {"stress", run_stress, 0, OPT_PROCS | OPT_OPS | OPT_SEED | OPT_SIZE, 4, 20000},
    {"bench", run_bench, 0, OPT_PROCS | OPT_OPS | OPT_SEED, 1, 2000000},
};

static void usage(void)
{
    printf("Usage: %s [COMMAND] [OPTIONS]\n"
           "\n"
           "An allocator inside shared memory, used by several processes at once.\n"
           "\n"
           "Commands (default: demo):\n"
           "  demo               parent and forked child allocate in one region and see\n"
           "                     each other's blocks; then one block of half the region;\n"
           "                     then short runs of race, crash and share\n"
           "  race               the naive bump 'offset += size' in racing processes\n"
           "                     (overlapping blocks), then with fetch-add (none)\n"
           "  freelist           free and reuse, per-process caches, fragmentation\n"
           "  map                an ASCII map of the region while processes allocate\n"
           "  create NAME SIZE   create a named region (/dev/shm/NAME, mode 0600); SIZE\n"
           "                     from %zu bytes to 1T, with K, M, G or T\n"
           "  attach NAME        attach it, check it, print its list, append to it\n"
           "  check NAME         run the checker on it, in a private copy: nothing is\n"
           "                     written to the object\n"
           "  unlink NAME        remove it\n"
           "  share              a named region used by an unrelated process (this\n"
           "                     program, exec'd) at another address\n"
           "  generations N      N generations of fork append to one list (1 to 32)\n"
           "  dontfork           MADV_DONTFORK: a region the child does not get\n"
           "  crash              SIGKILL processes inside alloc and free; then check\n"
           "  stress             processes alloc, fill, verify, free; then check\n"
           "  bench              a random alloc/free workload, against glibc malloc\n"
           "\n"
           "Options:\n"
           "  -p, --procs P      processes at work (race: the parent and P-1 children;\n"
           "                     map, crash, stress, bench: P children; 1 to %d)\n"
           "  -n, --ops N        operations per worker (race: allocations)\n"
           "  -s, --seed S       random seed (map, crash, stress, bench)\n"
           "  -k, --kills K      processes crash kills (1 to 1000, default 12)\n"
           "  -S, --size SIZE    the region of demo, stress and crash (default 1M for\n"
           "                     demo, 16M + 4M per process for stress, 32M for crash;\n"
           "                     %zu bytes to 1T, with K, M, G or T; anonymous shared\n"
           "                     memory: only the pages touched take memory)\n"
           "      --hold         share: keep the region until Enter, to attach by hand\n"
           "  -h, --help         show this help\n",
           prog_name(), shalloc_min_size(), MAX_PROCS, shalloc_min_size());
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    usage_error("unknown command '%.60s'", name);
}

/* A region's size: from one span's worth to shalloc_max_size() (1 TiB). */
static size_t region_size(const char *what, const char *text)
{
    size_t size = opt_size(what, text);

    if (size < shalloc_min_size() || size > shalloc_max_size())
        usage_error("%s %s: a region takes %zu bytes (header, slots, one span) to %zu bytes (1T)",
                    what, text, shalloc_min_size(), shalloc_max_size());
    return size;
}

/* The positional words of create, attach, check, unlink and generations. */
static void parse_words(const struct command *cmd, char *const words[], struct options *o)
{
    const char *why;

    if (strcmp(cmd->name, "generations") == 0) {
        o->generations = (unsigned)opt_uint("generations N", words[0], 1, 32);
        return;
    }
    if (!shalloc_name_ok(words[0], &why))
        usage_error("NAME '%.60s': %s", words[0], why);
    o->name = words[0];
    if (cmd->words == 2)
        o->size = region_size("SIZE", words[1]);
}

static const char *option_name(unsigned bit)
{
    switch (bit) {
    case OPT_PROCS: return "--procs";
    case OPT_OPS: return "--ops";
    case OPT_SEED: return "--seed";
    case OPT_KILLS: return "--kills";
    case OPT_HOLD: return "--hold";
    default: return "--size";
    }
}

int main(int argc, char *argv[])
{
    static const struct option long_options[] = {
        {"procs", required_argument, NULL, 'p'}, {"ops", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},  {"kills", required_argument, NULL, 'k'},
        {"hold", no_argument, NULL, 'H'},        {"size", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct options o = {.seed = 1, .kills = 12};
    unsigned given = 0;
    int opt;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":p:n:s:k:S:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'p':
            o.procs = (unsigned)opt_uint("--procs", optarg, 1, MAX_PROCS);
            given |= OPT_PROCS;
            break;
        case 'n':
            o.ops = opt_uint("--ops", optarg, 1, 1000000000);
            given |= OPT_OPS;
            break;
        case 's':
            o.seed = opt_uint("--seed", optarg, 0, UINT64_MAX);
            given |= OPT_SEED;
            break;
        case 'k':
            o.kills = (unsigned)opt_uint("--kills", optarg, 1, 1000);
            given |= OPT_KILLS;
            break;
        case 'H':
            o.hold = true;
            given |= OPT_HOLD;
            break;
        case 'S':
            o.size = region_size("--size", optarg);
            given |= OPT_SIZE;
            break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    const struct command *cmd = find_command(optind < argc ? argv[optind++] : "demo");
    if ((unsigned)(argc - optind) != cmd->words)
        usage_error("'%s' takes %u argument%s, not %d", cmd->name, cmd->words,
                    cmd->words == 1 ? "" : "s", argc - optind);
    for (unsigned bit = 1; bit <= OPT_LAST; bit <<= 1)
        if ((given & bit) && !(cmd->allowed & bit))
            usage_error("'%s' does not take %s", cmd->name, option_name(bit));
    if (cmd->words > 0)
        parse_words(cmd, argv + optind, &o);
    if (!(given & OPT_PROCS))
        o.procs = cmd->procs;
    if (!(given & OPT_OPS))
        o.ops = cmd->ops;
    return cmd->run(&o);
}
