/*
 * 05_zone_malloc - a real malloc on mmap'd zones, taken apart while it runs.
 *
 * The allocator of this lesson (libzone_malloc, the zm_ functions; the
 * same code as build/libzone_malloc.so, which replaces the C library's
 * malloc under LD_PRELOAD) is linked in next to glibc's.  Step by step the
 * program shows: the first TINY allocation mapping a zone; blocks of the
 * three kinds and show_alloc_mem; a freed block coming straight back; two
 * free neighbours merged into one block; realloc in place and moved; a
 * LARGE block mapped and unmapped; TINY zones going back to the kernel
 * once empty; what it all cost; its speed against glibc's malloc on the
 * project's allocation workload; and fork() while other threads allocate,
 * with and without the allocator's fork handlers.
 *
 * Usage: 05_zone_malloc [--part all|zones|reuse|coalesce|realloc|large|release|speed|fork]
 *
 * Look for: zones_after=1 after the first malloc; same_block=1 (reuse);
 * merged_is_first=1 (coalescing); in_place=1 or moved=1 per realloc;
 * in_maps_after_free=0 for LARGE; zones_after_free=1 (the spare) after
 * thousands of frees; children_ok equal to forks with the
 * handlers on, child=deadlocked with them off.
 */
#include "cli.h"
#include "out.h"
#include "procfs.h"
#include "sort.h"
#include "workload.h"
#include "zone_adapters.h"
#include "zone_malloc.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum part { ZONES, REUSE, COALESCE, REALLOC, LARGE, RELEASE, SPEED, FORK, ALL };
static const char *const part_names[] = {"zones",   "reuse", "coalesce", "realloc", "large",
                                         "release", "speed", "fork",     "all",     NULL};

enum { SPEED_OPS = 1000000, SPEED_ROUNDS = 3, FORKS = 20, FORK_TIMEOUT_MS = 300 };

static void usage(void)
{
    printf("Usage: %s [--part all|zones|reuse|coalesce|realloc|large|release|speed|fork]\n"
           "\n"
           "Walk through a malloc built on mmap'd zones, with the allocator's own output.\n"
           "\n"
           "  -p, --part PART   zones     the first allocation maps a zone; the three kinds\n"
           "                    reuse     a freed block comes straight back\n"
           "                    coalesce  two free neighbours become one block\n"
           "                    realloc   in place, or moved\n"
           "                    large     a block with its own mapping, unmapped by free\n"
           "                    release   empty zones go back to the kernel (one spare stays)\n"
           "                    speed     the workload against glibc's malloc\n"
           "                    fork      fork() while other threads allocate\n"
           "                    all       each in turn (default)\n"
           "  -h, --help        show this help\n",
           prog_name());
}

static struct zm_block_info info_of(const void *p)
{
    struct zm_block_info info;

    if (zm_block_info(p, &info) != 0)
        die("zm_block_info: %p is not a live block", p);
    return info;
}

static void *must_alloc(size_t size)
{
    void *p = zm_malloc(size);

    if (p != NULL)
        return memset(p, 'z', size);
    die_errno("zm_malloc");
}

static char *must_realloc(char *p, size_t size)
{
    char *q = zm_realloc(p, size);

    if (q != NULL)
        return q;
    die_errno("zm_realloc");
}

static void print_block(const char *label, const void *p)
{
    struct zm_block_info i = info_of(p);

    printf("%-14s %p  %-5s zone %#lx (%zu KiB, %zu blocks), %zu usable bytes\n", label, p, i.kind,
           (unsigned long)i.zone, i.zone_bytes >> 10, i.zone_blocks, i.usable);
    fact_uint("request_bytes", i.request);
    fact_word("kind", i.kind);
    fact_uint("usable_bytes", i.usable);
    fact_hex("zone", i.zone);
    fact_uint("zone_bytes", i.zone_bytes);
    fact_uint("zone_blocks", i.zone_blocks);
    facts_end();
}

/* The first allocation maps a zone; then one block of each kind, and the
 * allocator's own picture of the heap. */
static void show_zones(void)
{
    struct zm_stats before, after;
    struct mapping m;

    heading("zones: the first TINY allocation maps a zone");
    zm_get_stats(&before);
    char *first = must_alloc(42);
    zm_get_stats(&after);
    struct zm_block_info i = info_of(first);
    int in_maps = mapping_find((void *)i.zone, &m);
    printf("zm_malloc(42) = %p; zones %llu -> %llu; the new zone is %zu KiB at %#lx,\n"
           "aligned to its size, so any block finds it by rounding its address down.\n"
           "/proc/self/maps has it (the kernel may merge it with a neighbouring mapping):\n"
           "    %s\n",
           (void *)first, (unsigned long long)before.zones, (unsigned long long)after.zones,
           i.zone_bytes >> 10, (unsigned long)i.zone, in_maps ? m.line : "(not found)");
    fact_uint("zones_before", before.zones);
    fact_uint("zones_after", after.zones);
    fact_hex("zone", i.zone);
    fact_uint("zone_bytes", i.zone_bytes);
    fact_int("zone_aligned", i.zone % i.zone_bytes == 0);
    fact_int("zone_in_maps", in_maps);
    facts_end();

    subheading("one block of each kind");
    char *small = must_alloc(5000), *large = must_alloc(200000);
    print_block("zm_malloc(42)", first);
    print_block("zm_malloc(5000)", small);
    print_block("zm_malloc(200000)", large);
    printf("\nshow_alloc_mem():\n");
    fflush(stdout); /* it writes with write(2), after what stdio holds */
    zm_show_alloc_mem();
    zm_free(first);
    zm_free(small);
    zm_free(large);
}

static void show_reuse(void)
{
    heading("reuse: a freed block is the next one handed out");
    void *p = must_alloc(100);
    zm_free(p);
    void *q = must_alloc(100);
    printf("zm_malloc(100) = %p, zm_free, zm_malloc(100) = %p: %s\n"
           "The freed block went on this thread's cache for its size class, and the\n"
           "next request of that class took it back: no lock, no search.\n",
           p, q, p == q ? "the same block" : "another block");
    fact_hex("first", (uintptr_t)p);
    fact_hex("again", (uintptr_t)q);
    fact_int("same_block", p == q);
    facts_end();
    zm_free(q);
}

static void show_coalesce(void)
{
    heading("coalesce: two free SMALL neighbours become one block");
    char *a = must_alloc(3000), *b = must_alloc(3000), *c = must_alloc(3000);
    struct zm_block_info ia = info_of(a);
    printf("a = %p, b = %p, c = %p: b starts where a ends (a's neighbour is %#lx)\n", (void *)a,
           (void *)b, (void *)c, (unsigned long)ia.neighbour);
    zm_free(a);
    zm_free(b); /* b's left neighbour a is free: they merge at once */
    char *ab = must_alloc(6000);
    printf("free(a), free(b), then zm_malloc(6000) = %p: %s\n", (void *)ab,
           ab == a ? "the merged a+b block, where a was" : "somewhere else");
    fact_int("b_follows_a", ia.neighbour == (uintptr_t)b);
    fact_int("merged_is_first", ab == a);
    fact_int("check_problems", zm_check_heap());
    facts_end();
    zm_free(ab);
    zm_free(c);
}

static void realloc_step(const char *what, size_t from, size_t to, size_t guard)
{
    char *p = must_alloc(from), *g = guard ? must_alloc(guard) : NULL;
    char *q = must_realloc(p, to);
    int kept = q[0] == 'z' && q[(from < to ? from : to) - 1] == 'z';
    bool remapped = from > 131072 && to > 131072; /* LARGE to LARGE: mremap */
    printf("%-34s %7zu -> %7zu bytes: %p -> %p  %s\n", what, from, to, (void *)p, (void *)q,
           q == p     ? "in place"
           : remapped ? "moved by mremap (pages, not bytes)"
                      : "moved, bytes copied");
    fact_word("realloc", what[0] == 'T' ? "tiny" : what[0] == 'S' ? "small" : "large");
    fact_uint("from_bytes", from);
    fact_uint("to_bytes", to);
    fact_int("in_place", q == p);
    fact_int("contents_kept", kept);
    facts_end();
    zm_free(q);
    zm_free(g);
}

static void show_realloc(void)
{
    heading("realloc: in place when the space is there, moved otherwise");
    realloc_step("TINY, same size class", 40, 48, 0);
    realloc_step("SMALL, free space after it", 3000, 6000, 0);
    realloc_step("SMALL, a block right after it", 3000, 9000, 3000);
    realloc_step("SMALL, shrink (the tail is freed)", 9000, 2000, 0);
    realloc_step("LARGE, grow (mremap)", 200000, 4000000, 0);
    realloc_step("LARGE to SMALL", 200000, 10000, 0);
}

static void show_large(void)
{
    struct mapping m;
    struct zm_stats before, during, after;

    heading("large: a block with a mapping of its own");
    zm_get_stats(&before);
    char *p = must_alloc(1 << 20);
    zm_get_stats(&during);
    struct zm_block_info i = info_of(p);
    int in_maps = mapping_find(p, &m);
    printf("zm_malloc(1 MiB) = %p in a %zu KiB mapping of its own:\n    %s\n", (void *)p,
           i.zone_bytes >> 10, in_maps ? m.line : "(not found)");
    zm_free(p);
    zm_get_stats(&after);
    int in_maps_after = mapping_find(p, &m);
    printf("after zm_free: %s /proc/self/maps (zones %llu -> %llu -> %llu)\n",
           in_maps_after ? "still in" : "gone from", (unsigned long long)before.zones,
           (unsigned long long)during.zones, (unsigned long long)after.zones);
    fact_uint("size_bytes", 1 << 20);
    fact_uint("mapping_bytes", i.zone_bytes);
    fact_int("in_maps", in_maps);
    fact_int("in_maps_after_free", in_maps_after);
    fact_uint("zones_before", before.zones);
    fact_uint("zones_during", during.zones);
    fact_uint("zones_after", after.zones);
    facts_end();
}

/* Thousands of TINY blocks fill several zones; freeing them all empties the
 * zones, which go back to the kernel but for one spare per class. */
static void show_release(void)
{
    enum { BLOCKS = 4096 };
    static void *blocks[BLOCKS];
    struct zm_stats before, during, after;

    heading("release: free gives memory back only when a whole zone is empty");
    zm_get_stats(&before);
    for (int i = 0; i < BLOCKS; i++)
        blocks[i] = must_alloc(64);
    zm_get_stats(&during);
    for (int i = 0; i < BLOCKS; i++)
        zm_free(blocks[i]);
    zm_flush_thread_cache(); /* the thread's cached blocks go back to their zones */
    zm_get_stats(&after);
    printf("%d blocks of 64 bytes: zones %llu -> %llu; all freed: %llu zones unmapped,\n"
           "%llu zones left (an empty one is kept as the spare of its class, so that a\n"
           "program hovering at a zone's edge does not mmap and munmap every time).\n",
           BLOCKS, (unsigned long long)before.zones, (unsigned long long)during.zones,
           (unsigned long long)(after.zones_unmapped - during.zones_unmapped),
           (unsigned long long)after.zones);
    fact_uint("blocks", BLOCKS);
    fact_uint("zones_before", before.zones);
    fact_uint("zones_while_used", during.zones);
    fact_uint("zones_after_free", after.zones);
    fact_uint("zones_unmapped", after.zones_unmapped - during.zones_unmapped);
    facts_end();
}

/* The two allocators alternately, several rounds, medians: the machine's
 * noise hits both alike. */
static void show_speed(void)
{
    uint64_t zone[SPEED_ROUNDS], glibc[SPEED_ROUNDS];
    struct workload_result r;

    heading("speed: the workload, zone allocator against glibc's malloc");
    for (int i = 0; i < SPEED_ROUNDS; i++) {
        workload_run(&zone_workload_api, SPEED_OPS, 1, &r);
        zone[i] = r.ops * 1000000000u / r.elapsed_ns;
        workload_run(&workload_libc_api, SPEED_OPS, 1, &r);
        glibc[i] = r.ops * 1000000000u / r.elapsed_ns;
    }
    uint64_t z = median_u64(zone, SPEED_ROUNDS), g = median_u64(glibc, SPEED_ROUNDS);
    printf("%d rounds of %d random malloc/free steps (16..527 bytes, 4096 slots), medians:\n"
           "  zone  %6.1f million ops/s\n  glibc %6.1f million ops/s\n"
           "(a quick look; bench/alloc_bench measures with threads, and space)\n",
           SPEED_ROUNDS, SPEED_OPS, z / 1e6, g / 1e6);
    fact_uint("ops", SPEED_OPS);
    fact_uint("zone_ops_per_sec", z);
    fact_uint("glibc_ops_per_sec", g);
    facts_end();
}

static void show_fork(void)
{
    char how[64];

    heading("fork: other threads are inside the allocator at the instant of fork");
    struct fork_outcome o =
        fork_while_hammering(&zone_workload_api, 3, 7, FORKS, &zone_child_job, child_run, 2000);
    printf("3 threads allocate without pause; %u forks; every child allocates TINY, SMALL and\n"
           "LARGE blocks and checks the heap: %u ok, %u deadlocked, %u crashed.\n"
           "The allocator's pthread_atfork handlers took every lock before each fork.\n",
           o.forks, o.ok, o.deadlocked, o.crashed);
    fact_int("fork_handlers", zm_fork_handlers());
    fact_uint("forks", o.forks);
    fact_uint("children_ok", o.ok);
    fact_uint("deadlocked", o.deadlocked);
    facts_end();

    subheading("the same handlers switched off, a thread holding the locks at the fork");
    zm_set_fork_handlers(0);
    struct held_locks locks = zone_held_locks();
    struct child_result r =
        run_while_held(&locks, start_child_job, (void *)&zone_child_job, FORK_TIMEOUT_MS);
    zm_set_fork_handlers(1);
    printf("The child inherited locks held by a thread that does not exist in it;\n"
           "its first allocation that needed a lock waited for ever.  The watchdog: %s.\n"
           "(Lesson 06 takes this apart.)\n",
           child_describe(&r, how));
    fact_int("fork_handlers", 0);
    fact_word("child", child_ok(&r) ? "ok" : r.end == CHILD_TIMED_OUT ? "deadlocked" : "crashed");
    facts_end();
}

static void show_stats(void)
{
    struct zm_stats s;

    zm_get_stats(&s);
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
                                          show_large, show_release, show_speed,    show_fork};
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
