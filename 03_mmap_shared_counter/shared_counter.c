/*
 * 03_mmap_shared_counter - a counter in a shared page, bumped by several
 * processes at once: which updates survive, and what exactness costs.
 *
 * Maps a page MAP_SHARED | MAP_ANONYMOUS, forks P children that each add 1
 * to a counter in it N times, releases them together, reaps them all and
 * reads the counter.  Four ways to add:
 *   racy     plain ++ on a volatile counter: a load, an add and a store, so
 *            processes that interleave overwrite each other's updates
 *   atomic   atomic_fetch_add on a lock-free _Atomic counter: exact
 *   mutex    ++ under a PTHREAD_PROCESS_SHARED pthread_mutex_t that lives
 *            in the page: exact, at a price shown next to atomic's
 *   private  the page mapped MAP_PRIVATE: every child counts in its own
 *            copy, and the parent still reads 0
 * Every method runs R times (default 3), the methods taking turns, and the
 * round with the median time stands for it: one round can be disturbed.
 *
 * Usage: 03_mmap_shared_counter [--procs P] [--increments N]
 *                               [--method racy|atomic|mutex|private|all] [--rounds R]
 *
 * Look for: lost= well above 0 on the method=racy line, lost=0 and
 * exact_rounds= equal to rounds= for atomic and mutex, final=0 for private,
 * and time_vs_atomic_pct= for what each way costs (the closing sentences are
 * chosen from those percentages).
 */
#include "counting.h"

#include "cli.h"
#include "out.h"

#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>

enum {
    DEFAULT_PROCS = 4, /* twice the cores here: children run in parallel and take turns */
    DEFAULT_INCREMENTS = 1000000,
    DEFAULT_ROUNDS = 3,
    MAX_ROUNDS = 25,
};

/* The command line. */
struct options {
    uint32_t procs;
    uint32_t increments;
    enum method method; /* or METHOD_ALL */
    int rounds;
};

static const char *const titles[] = {
    [METHOD_RACY] = "racy: plain ++ on a volatile counter in the shared page",
    [METHOD_ATOMIC] = "atomic: atomic_fetch_add on a lock-free atomic in the shared page",
    [METHOD_MUTEX] = "mutex: ++ under a process-shared pthread mutex in the page",
    [METHOD_PRIVATE] = "private: the same page mapped MAP_PRIVATE",
};

static void usage(void)
{
    printf("Usage: %s [--procs P] [--increments N] [--method racy|atomic|mutex|private|all]\n"
           "       [--rounds R]\n"
           "\n"
           "P child processes each add 1 to one counter in a shared page N times, all\n"
           "released at once; the parent reaps them and reads the counter.\n"
           "\n"
           "  -p, --procs P        child processes, 1 to %d (default %d)\n"
           "  -n, --increments N   additions per child (default %d); P x N must fit\n"
           "                       in the 32-bit counter (at most %u)\n"
           "  -m, --method M       racy     plain ++ on a volatile counter (loses updates)\n"
           "                       atomic   atomic_fetch_add on a lock-free atomic\n"
           "                       mutex    ++ under a process-shared pthread mutex\n"
           "                                (atomic runs too, as the yardstick)\n"
           "                       private  the page mapped MAP_PRIVATE instead\n"
           "                       all      the four, compared (default)\n"
           "  -r, --rounds R       runs of each method, taking turns; the median is\n"
           "                       shown (1 to %d, default %d)\n"
           "  -h, --help           show this help\n"
           "\n"
           "Children are pinned round-robin to the CPUs this process may use (try\n"
           "taskset -c 0).  A run's children must finish within %d s plus 1 us per\n"
           "increment, or they are killed and the program exits 1.\n",
           prog_name(), MAX_PROCS, DEFAULT_PROCS, DEFAULT_INCREMENTS, UINT32_MAX, MAX_ROUNDS,
           DEFAULT_ROUNDS, DEADLINE_BASE_MS / 1000);
}

static struct options parse_options(int argc, char *argv[])
{
    static const struct option long_options[] = {
        {"procs", required_argument, NULL, 'p'},  {"increments", required_argument, NULL, 'n'},
        {"method", required_argument, NULL, 'm'}, {"rounds", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct options o = {DEFAULT_PROCS, DEFAULT_INCREMENTS, METHOD_ALL, DEFAULT_ROUNDS};
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":p:n:m:r:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'p': o.procs = (uint32_t)opt_uint("--procs", optarg, 1, MAX_PROCS); break;
        case 'n': o.increments = (uint32_t)opt_uint("--increments", optarg, 1, UINT32_MAX); break;
        case 'm': o.method = (enum method)opt_choice("--method", optarg, method_names); break;
        case 'r': o.rounds = (int)opt_uint("--rounds", optarg, 1, MAX_ROUNDS); break;
        case 'h': usage(); leave(0);
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if ((uint64_t)o.procs * o.increments > UINT32_MAX)
        usage_error("--procs %u x --increments %u is more than the 32-bit counter holds (%u)",
                    o.procs, o.increments, UINT32_MAX);
    return o;
}

/* The CPUs this process may run on (taskset can make them fewer). */
static int usable_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof set, &set) != 0)
        die_errno("sched_getaffinity");
    return CPU_COUNT(&set);
}

/* The round whose time is the median (the later one of the middle two for
 * an even count). */
static const struct result *median_round(const struct result runs[], int rounds)
{
    for (int i = 0; i < rounds; i++) {
        int faster = 0;
        for (int j = 0; j < rounds; j++)
            faster += runs[j].elapsed_ns < runs[i].elapsed_ns ||
                      (j < i && runs[j].elapsed_ns == runs[i].elapsed_ns);
        if (faster == rounds / 2)
            return &runs[i];
    }
    return &runs[0]; /* not reached: some round has each rank */
}

/* How many times longer than the yardstick's a run took (a run of a few
 * increments can be too short for the clock to see). */
static double times_of(const struct result *r, const struct result *yardstick)
{
    return (double)r->elapsed_ns / (double)(yardstick->elapsed_ns ? yardstick->elapsed_ns : 1);
}

/* The median round's time as a percentage of atomic's, rounded as the fact
 * time_vs_atomic_pct is, so that the words below follow the facts. */
static uint64_t pct_of_atomic(const struct result *r, const struct result *atomic)
{
    return (uint64_t)(times_of(r, atomic) * 100 + 0.5);
}

/* Why racy lost nothing, when it did not: say so rather than pretend. */
static void explain_no_loss(const struct result *r, uint32_t procs, int cpus)
{
    if (procs == 1)
        printf("nothing was lost: one child has nobody to race with\n");
    else if (r->overlap_ns == 0 && cpus == 1)
        printf("nothing was lost: on one CPU each child ended its loop within its first\n"
               "turn, so no two were ever mid-count together; raise --increments\n");
    else if (r->overlap_ns == 0)
        printf("nothing was lost: no two children were ever mid-count together;\n"
               "raise --increments\n");
    else if (cpus == 1)
        printf("nothing was lost this time: on one CPU an update is lost only when a child\n"
               "is switched out between its load and its store\n");
    else
        printf("nothing was lost this time, although children were mid-count together\n"
               "for %.1f ms; the race is still there: run it again\n",
               r->overlap_ns / 1e6);
}

/* One method: a line per round, then its median round r as prose and facts. */
static void print_method(enum method m, const struct result runs[], const struct result *r,
                         const struct options *o, const struct result *yardstick, int cpus)
{
    uint32_t expected = o->procs * o->increments;
    int exact = 0;

    subheading("%s", titles[m]);
    for (int i = 0; i < o->rounds; i++) {
        uint32_t lost = expected - runs[i].final;
        exact += lost == 0;
        printf("round %d: read %u of %u, lost %u (%.1f%%), %.1f ms (%.1f ms of it with\n"
               "         two or more children mid-count)\n",
               i + 1, runs[i].final, expected, lost, 100.0 * lost / expected,
               runs[i].elapsed_ns / 1e6, runs[i].overlap_ns / 1e6);
    }
    printf("%d of %d rounds exact", exact, o->rounds);
    if (yardstick != NULL)
        printf("; the median round took %.2fx the time of atomic's", times_of(r, yardstick));
    printf("\n");
    if (m == METHOD_RACY && r->final == expected)
        explain_no_loss(r, o->procs, cpus);
    if (m == METHOD_PRIVATE)
        printf("yet each child read %u to %u in its own copy of the page at the end\n",
               r->child_final_min, r->child_final_max);

    fact_word("method", method_names[m]);
    fact_uint("procs", o->procs);
    fact_uint("increments", o->increments);
    fact_uint("expected", expected);
    fact_uint("final", r->final);
    fact_uint("lost", expected - r->final);
    fact_uint("elapsed_ns", r->elapsed_ns);
    fact_uint("overlap_ns", r->overlap_ns);
    fact_int("rounds", o->rounds);
    fact_int("exact_rounds", exact);
    if (m == METHOD_PRIVATE) {
        fact_uint("child_final_min", r->child_final_min);
        fact_uint("child_final_max", r->child_final_max);
    }
    if (yardstick != NULL)
        fact_uint("time_vs_atomic_pct", pct_of_atomic(r, yardstick));
    facts_end();
}

/* "all": the median rounds side by side, times relative to atomic. */
static void print_table(const struct result *medians[METHOD_ALL], uint32_t expected)
{
    heading("comparison: %u additions, median of each method's rounds", expected);
    printf("%-8s %12s %12s %10s %10s\n", "method", "final", "lost", "ms", "vs atomic");
    for (int m = 0; m < METHOD_ALL; m++)
        printf("%-8s %12u %12u %10.1f %9.2fx\n", method_names[m], medians[m]->final,
               expected - medians[m]->final, medians[m]->elapsed_ns / 1e6,
               times_of(medians[m], medians[METHOD_ATOMIC]));
}

/* racy against atomic: an unlocked add does not hold the counter's cache
 * line for each add (its store waits in the CPU's store buffer and the next
 * load reads it back from there), so it is cheap; what that costs is shown
 * by the lost updates, when another CPU's stores land in between. */
static void say_racy_speed(uint64_t pct, bool lost_some, int cpus)
{
    const char *why = cpus == 1   ? "on one CPU an unlocked add is simply cheaper than a locked one"
                      : lost_some ? "it does not hold the counter's cache line for each add, and\n"
                                    "the other CPU's stores overwrite its work in between"
                                  : "it does not hold the counter's cache line for each add";

    if (pct < 80)
        printf("racy's unprotected ++ took %llu%% of the atomic add's time:\n%s\n",
               (unsigned long long)pct, why);
    else if (pct <= 125)
        printf("racy's unprotected ++ took about the atomic add's time (%llu%%): here both\n"
               "spent it waiting for the counter's cache line\n",
               (unsigned long long)pct);
    else
        printf("racy's unprotected ++ took longer than the atomic add here (%llu%%): being\n"
               "unlocked saved nothing while the cache line moved between the CPUs\n",
               (unsigned long long)pct);
}

static void say_private_speed(uint64_t pct, int cpus)
{
    if (pct < 80)
        printf("private, the same atomic add on a page each child has to itself, took %llu%% of\n"
               "atomic's time: the rest of atomic's time went on passing the shared cache line\n"
               "between the CPUs, the price of sharing\n",
               (unsigned long long)pct);
    else
        printf("private, the same atomic add on a page of its own, took %llu%% of atomic's\n"
               "time: sharing cost little in this run%s\n",
               (unsigned long long)pct,
               cpus == 1 ? " (on one CPU no cache line travels)"
                         : " (the children overlapped little, or the CPUs share a cache)");
}

static void say_mutex_cost(uint64_t pct)
{
    if (pct <= 125)
        printf("the process-shared mutex cost about what the atomic add cost (%llu%%)\n",
               (unsigned long long)pct);
    else
        printf("the process-shared mutex cost %.1f times the atomic add: two atomic operations\n"
               "and two calls per increment, and sleeping in the kernel when contended\n",
               pct / 100.0);
}

/* What the medians say, in words chosen from them. */
static void say_what_it_costs(const struct result *medians[METHOD_ALL], uint32_t expected, int cpus)
{
    const struct result *atomic = medians[METHOD_ATOMIC];

    if (atomic == NULL)
        return;
    if (medians[METHOD_RACY] != NULL)
        say_racy_speed(pct_of_atomic(medians[METHOD_RACY], atomic),
                       medians[METHOD_RACY]->final < expected, cpus);
    if (medians[METHOD_PRIVATE] != NULL)
        say_private_speed(pct_of_atomic(medians[METHOD_PRIVATE], atomic), cpus);
    if (medians[METHOD_MUTEX] != NULL)
        say_mutex_cost(pct_of_atomic(medians[METHOD_MUTEX], atomic));
}

static void print_setup(const struct options *o, int cpus)
{
    heading("03_mmap_shared_counter: %u processes add 1 to one counter, %u times each", o->procs,
            o->increments);
    printf("The counter is in a page mapped MAP_SHARED | MAP_ANONYMOUS before fork(), so\n"
           "every child writes the same memory.  The children are pinned round-robin to\n"
           "the %d usable CPU%s and start together.  Each method runs %d time%s, the methods\n"
           "taking turns; the round with the median time stands for the method.\n",
           cpus, cpus == 1 ? "" : "s", o->rounds, o->rounds == 1 ? "" : "s");
    fact_uint("procs", o->procs);
    fact_uint("increments", o->increments);
    fact_uint("expected", o->procs * o->increments);
    fact_int("cpus_usable", cpus);
    fact_int("counter_bits", 32);
    fact_int("rounds", o->rounds);
    facts_end();
}

int main(int argc, char *argv[])
{
    static struct result runs[METHOD_ALL][MAX_ROUNDS];
    const struct result *medians[METHOD_ALL] = {0};

    cli_init();
    struct options o = parse_options(argc, argv);
    int cpus = usable_cpus();
    print_setup(&o, cpus);

    /* atomic is also the yardstick of mutex; it goes first in every round */
    bool want[METHOD_ALL] = {[METHOD_ATOMIC] = o.method == METHOD_MUTEX};
    for (int m = 0; m < METHOD_ALL; m++)
        want[m] = want[m] || o.method == METHOD_ALL || o.method == (enum method)m;
    static const enum method order[] = {METHOD_ATOMIC, METHOD_RACY, METHOD_MUTEX, METHOD_PRIVATE};
    for (int round = 0; round < o.rounds; round++)
        for (int k = 0; k < METHOD_ALL; k++)
            if (want[order[k]])
                run_method(&runs[order[k]][round], order[k], o.procs, o.increments);

    for (int m = 0; m < METHOD_ALL; m++)
        if (want[m])
            medians[m] = median_round(runs[m], o.rounds);
    for (int m = 0; m < METHOD_ALL; m++)
        if (want[m])
            print_method((enum method)m, runs[m], medians[m], &o, medians[METHOD_ATOMIC], cpus);
    if (o.method == METHOD_ALL)
        print_table(medians, o.procs * o.increments);
    if (o.method == METHOD_ALL || o.method == METHOD_MUTEX)
        say_what_it_costs(medians, o.procs * o.increments, cpus);
    return 0;
}
