/*
 * 05_zone_malloc - a real malloc on mmap'd zones, taken apart while it runs.
 *
 * The allocator of this lesson (libzone_malloc, the zm_ functions; the
 * same code as build/libzone_malloc.so, which replaces the C library's
 * malloc under LD_PRELOAD) is linked in next to glibc's.  Step by step the
 * program shows: the first TINY allocation mapping a zone; blocks of the
 * three kinds and show_alloc_mem; what a thread's first blocks cost; a
 * freed block coming straight back; two free neighbours merged into one
 * block; realloc in place and moved; a LARGE block mapped and unmapped, and
 * one kept by the large cache for the next; empty zones waiting in the pool
 * until decay gives them back; SMALL blocks cached without a lock; blocks
 * freed by another thread going home without one; its speed against
 * glibc's malloc; and fork() while other threads allocate, with and
 * without the allocator's fork handlers.  The parts are in demo_blocks.c,
 * demo_memory.c and demo_threads.c.
 *
 * Usage: 05_zone_malloc [--part all|zones|reuse|coalesce|realloc|large|release|cache|
 *                               remote|speed|fork]
 *
 * Look for: zones_after=1 after the first malloc; same_block=1 (reuse);
 * merged_is_first=1 (coalescing); in_place=1 or moved=1 per realloc;
 * in_maps_after_free=0 above the large cache's limit, same_mapping=1 below
 * it; zones_pooled then zones_decayed (release); cached_locks=0 (cache);
 * freeing_locks=0 (remote); children_ok equal to forks with the handlers
 * on, child=deadlocked with them off.
 */
#include "cli.h"
#include "demo.h"
#include "out.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum part { ZONES, REUSE, COALESCE, REALLOC, LARGE, RELEASE, CACHE, REMOTE, SPEED, FORK, ALL };
static const char *const part_names[] = {"zones", "reuse",   "coalesce", "realloc",
                                         "large", "release", "cache",    "remote",
                                         "speed", "fork",    "all",      NULL};

static void usage(void)
{
    printf("Usage: %s [--part all|zones|reuse|coalesce|realloc|large|release|cache|remote|\n"
           "                  speed|fork]\n"
           "\n"
           "Walk through a malloc built on mmap'd zones, with the allocator's own output.\n"
           "\n"
           "  -p, --part PART   zones     the first allocation maps a zone; the three kinds\n"
           "                    reuse     a freed block comes straight back\n"
           "                    coalesce  two free neighbours become one block\n"
           "                    realloc   in place, or moved\n"
           "                    large     a mapping of its own; the large cache and its limit\n"
           "                    release   empty zones wait in the pool; decay gives them back\n"
           "                    cache     SMALL blocks cached per thread: no lock\n"
           "                    remote    blocks freed by another thread go home, no lock\n"
           "                    speed     the workload against glibc's malloc\n"
           "                    fork      fork() while other threads allocate\n"
           "                    all       each in turn (default)\n"
           "  -h, --help        show this help\n",
           prog_name());
}

struct zm_block_info info_of(const void *p)
{
    struct zm_block_info info;

    if (zm_block_info(p, &info) != 0)
        die("zm_block_info: %p is not a live block", p);
    return info;
}

void *must_alloc(size_t size)
{
    void *p = zm_malloc(size);

    if (p != NULL)
        return memset(p, 'z', size);
    die_errno("zm_malloc");
}

char *must_realloc(char *p, size_t size)
{
    char *q = zm_realloc(p, size);

    if (q != NULL)
        return q;
    die_errno("zm_realloc");
}

struct zm_stats stats_now(void)
{
    struct zm_stats s;

    zm_get_stats(&s);
    return s;
}

static void show_stats(void)
{
    struct zm_stats s = stats_now();

    heading("what it cost");
    printf("%llu zones mapped and %llu unmapped so far; %llu mapped now (%llu bytes),\n"
           "at most %llu at once (%llu bytes); %llu arena(s).\n",
           (unsigned long long)s.zones_mapped, (unsigned long long)s.zones_unmapped,
           (unsigned long long)s.zones, (unsigned long long)s.mapped_bytes,
           (unsigned long long)s.peak_zones, (unsigned long long)s.peak_mapped_bytes,
           (unsigned long long)s.arenas);
    fact_uint("zones_mapped", s.zones_mapped);
    fact_uint("zones_unmapped", s.zones_unmapped);
    fact_uint("mapped_bytes", s.mapped_bytes);
    fact_uint("peak_mapped_bytes", s.peak_mapped_bytes);
    fact_int("check_problems", zm_check_heap());
    facts_end();
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"part", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static void (*const steps[])(void) = {show_zones, show_reuse,   show_coalesce, show_realloc,
                                          show_large, show_release, show_cache,    show_remote,
                                          show_speed, show_fork};
    enum part part = ALL;
    int opt;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":p:h", options, NULL)) != -1) {
        switch (opt) {
        case 'p': part = (enum part)opt_choice("--part", optarg, part_names); break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    for (int i = 0; i < ALL; i++)
        if (part == ALL || part == (enum part)i)
            steps[i]();
    show_stats();
    return 0;
}
