/*
 * zone_malloc_test - the test driver of lesson 05's allocator.
 *
 * Each TEST checks one group of claims against the zm_ functions (the
 * allocator linked in, not preloaded, so it also runs under the sanitizer
 * builds), prints fact lines, and exits 0; a failed expectation prints
 * one line naming it and exits 1.  The misuse tests end in the
 * allocator's own diagnosis and abort(), on purpose.
 * test/05_zone_malloc.bats runs them.
 *
 * Usage: zone_malloc_test [--ops N] [--seed S] [--threads N] [--forks N]
 *                         [--handlers-off] [--bytes N] TEST   (--list names the tests)
 */
#include "zone_malloc_test.h"
#include "cli.h"
#include "out.h"
#include "zone_malloc.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *current_test = "?";

void test_failed(const char *what, int line)
{
    fflush(stdout);
    fprintf(stderr, "%s: %s: %s (line %d)\n", prog_name(), current_test, what, line);
    leave(1);
}

/* Write every usable byte, free, and say the pointer was aligned. */
static void use_and_free(void *p, size_t size, size_t align)
{
    expect(p != NULL, "allocation returned NULL");
    expect((uintptr_t)p % align == 0, "pointer not aligned as asked");
    expect(zm_malloc_usable_size(p) >= size, "usable size below the request");
    memset(p, 0xC3, zm_malloc_usable_size(p));
    zm_free(p);
}

/* Every call of the API does its basic job. */
static int test_api(const struct test_options *o)
{
    void *a = zm_malloc(0), *b = zm_malloc(0), *p;
    (void)o;

    expect(a != NULL && b != NULL && a != b, "malloc(0) returns distinct non-NULL pointers");
    zm_free(a);
    zm_free(b);
    zm_free(NULL); /* does nothing */
    use_and_free(zm_malloc(100), 100, 16);
    p = zm_calloc(10, 100);
    expect(block_intact(p, 1000, 1000, 0), "calloc zeroes");
    use_and_free(p, 1000, 16);
    p = zm_realloc(NULL, 50);
    use_and_free(p, 50, 16);
    p = zm_reallocarray(NULL, 20, 30);
    use_and_free(p, 600, 16);
    expect(zm_posix_memalign(&p, 64, 100) == 0, "posix_memalign(64) succeeds");
    use_and_free(p, 100, 64);
    use_and_free(zm_aligned_alloc(256, 512), 512, 256);
    use_and_free(zm_memalign(128, 10), 10, 128);
    use_and_free(zm_valloc(10), 10, 4096);
    p = zm_pvalloc(10);
    expect(zm_malloc_usable_size(p) >= 4096, "pvalloc rounds the size up to a page");
    use_and_free(p, 4096, 4096);
    expect(zm_malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) is 0");
    fact_word("api", "ok");
    facts_end();
    return 0;
}

/* calloc must zero a block that was used before. */
static int test_calloc_reuse(const struct test_options *o)
{
    static const size_t sizes[] = {24, 1000, 5000, 100000, 300000};
    (void)o;

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = zm_malloc(sizes[i]);
        memset(p, 0xFF, sizes[i]);
        zm_free(p);
        p = zm_calloc(1, sizes[i]);
        expect(block_intact(p, sizes[i], sizes[i], 0), "calloc zeroes a reused block");
        zm_free(p);
    }
    fact_word("calloc_reuse", "ok");
    facts_end();
    return 0;
}

static void expect_enomem(const void *p, const char *what)
{
    expect(p == NULL, what);
    expect(errno == ENOMEM, what);
    errno = 0;
}

/* Failure semantics, exactly as the C library's. */
static int test_errors(const struct test_options *o)
{
    void *p = zm_malloc(10), *out = &out;
    (void)o;

    errno = 0;
    expect_enomem(zm_malloc(SIZE_MAX), "malloc(SIZE_MAX) is NULL with ENOMEM");
    expect_enomem(zm_malloc(PTRDIFF_MAX), "malloc(PTRDIFF_MAX) is NULL with ENOMEM");
    expect_enomem(zm_calloc(SIZE_MAX / 2, 3), "an overflowing calloc is NULL with ENOMEM");
    expect_enomem(zm_reallocarray(NULL, SIZE_MAX / 2, 3), "overflowing reallocarray: ENOMEM");
    expect_enomem(zm_pvalloc(SIZE_MAX - 10), "pvalloc(SIZE_MAX - 10) is NULL with ENOMEM");
    expect_enomem(zm_memalign(SIZE_MAX / 2 + 1, 10), "memalign(2^63) is NULL with ENOMEM");
    memset(p, 0x5A, 10);
    expect_enomem(zm_realloc(p, SIZE_MAX), "realloc(p, SIZE_MAX) is NULL with ENOMEM");
    expect(block_intact(p, 10, 10, 0x5A), "a failed realloc leaves the block as it was");
    expect(zm_realloc(p, 0) == NULL, "realloc(p, 0) frees p and returns NULL");
    expect(zm_posix_memalign(&out, 0, 10) == EINVAL, "posix_memalign(0) is EINVAL");
    expect(zm_posix_memalign(&out, 24, 10) == EINVAL, "posix_memalign(24) is EINVAL");
    expect(zm_posix_memalign(&out, 4, 10) == EINVAL,
           "posix_memalign(4 < sizeof(void *)) is EINVAL");
    expect(out == &out, "a failed posix_memalign leaves *out alone");
    expect(zm_posix_memalign(&out, 64, SIZE_MAX) == ENOMEM, "posix_memalign of SIZE_MAX is ENOMEM");
    errno = 0;
    expect(zm_aligned_alloc(24, 10) == NULL && errno == EINVAL, "aligned_alloc(24) is EINVAL");
    errno = 0;
    expect(zm_aligned_alloc(0, 10) == NULL && errno == EINVAL, "aligned_alloc(0) is EINVAL");
    errno = 0;
    expect(zm_memalign(SIZE_MAX / 2 + 2, 10) == NULL && errno == EINVAL,
           "memalign above SIZE_MAX / 2 + 1 is EINVAL");
    p = zm_memalign(24, 10);
    expect(p != NULL && (uintptr_t)p % 32 == 0, "memalign(24) rounds the alignment up to 32");
    zm_free(p);
    errno = 1234;
    p = zm_malloc(500000);
    zm_free(p); /* munmap inside must not touch errno */
    expect(errno == 1234, "free leaves errno alone");
    fact_word("errors", "ok");
    facts_end();
    return 0;
}

/* Every pointer, from every call, at every size, is 16-aligned; the aligned
 * calls honour every power of two. */
static int test_alignment(const struct test_options *o)
{
    uint64_t checked = 0;
    (void)o;

    for (size_t size = 0; size <= 140000; size += size < 2100 ? 1 : 997) {
        use_and_free(zm_malloc(size), size, 16);
        use_and_free(zm_calloc(1, size), size, 16);
        checked += 2;
    }
    for (size_t align = 1; align <= ((size_t)1 << 26); align <<= 1) {
        static const size_t sizes[] = {1, 100, 1024, 5000, 131072, 200000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = NULL;
            size_t want = align < 16 ? 16 : align;
            use_and_free(zm_memalign(align, sizes[i]), sizes[i], want);
            use_and_free(zm_aligned_alloc(align, sizes[i]), sizes[i], want);
            if (align >= sizeof(void *)) {
                expect(zm_posix_memalign(&p, align, sizes[i]) == 0, "posix_memalign succeeds");
                use_and_free(p, sizes[i], align);
            }
            checked += 3;
        }
    }
    fact_uint("pointers_checked", checked);
    facts_end();
    return zm_check_heap() == 0 ? 0 : 1;
}

static unsigned char *filled(size_t size, unsigned char tag)
{
    unsigned char *p = zm_malloc(size);

    expect(p != NULL, "malloc returned NULL");
    memset(p, tag, size);
    return p;
}

/* realloc keeps the contents, and stays in place when it can. */
static int test_realloc(const struct test_options *o)
{
    static const size_t chain[] = {100, 5000, 300000, 3000, 10, 700, 140000, 1};
    unsigned char *p, *q, *guard;
    (void)o;

    p = filled(40, 1);
    q = zm_realloc(p, 48);
    fact_int("tiny_same_class_in_place", q == p);
    p = filled(3000, 2); /* SMALL, with free space after it */
    q = zm_realloc(p, 6000);
    fact_int("small_grow_in_place", q == p);
    expect(block_intact(q, 3000, 3000, 2), "growing in place keeps the contents");
    p = zm_realloc(q, 1000);
    fact_int("small_shrink_in_place", p == q);
    guard = filled(2000, 3); /* right after p: p cannot grow in place */
    q = zm_realloc(p, 8000);
    fact_int("small_blocked_moves", q != p);
    expect(block_intact(q, 1000, 1000, 2), "a moved block keeps its contents");
    p = filled(200000, 4);
    q = zm_realloc(p, 2000000);
    expect(block_intact(q, 200000, 200000, 4), "a LARGE block keeps its contents through mremap");
    p = zm_realloc(q, 150000);
    fact_int("large_shrink_in_place", p == q);
    facts_end();
    zm_free(p);
    zm_free(guard);

    p = filled(chain[0], 9);
    for (size_t i = 1; i < sizeof chain / sizeof chain[0]; i++) {
        size_t kept = chain[i] < chain[i - 1] ? chain[i] : chain[i - 1];
        p = zm_realloc(p, chain[i]);
        expect(p != NULL && block_intact(p, kept, kept, 9),
               "realloc across kinds keeps the contents");
        memset(p, 9, chain[i]);
    }
    zm_free(p);
    fact_word("realloc_chain", "ok");
    facts_end();
    return zm_check_heap() == 0 ? 0 : 1;
}

static const struct test {
    const char *name;
    int (*run)(const struct test_options *o);
    const char *what;
} tests[] = {
    {"api", test_api, "every call of the API does its basic job"},
    {"calloc-reuse", test_calloc_reuse, "calloc zeroes reused blocks"},
    {"errors", test_errors, "failures as the C library: ENOMEM, EINVAL, errno kept"},
    {"alignment", test_alignment, "every pointer aligned; aligned calls honoured"},
    {"realloc", test_realloc, "realloc in place, moved, contents kept"},
    {"zones", test_zones, "zone sizes, LARGE mappings, empty zones unmapped"},
    {"coalesce", test_coalesce, "free SMALL neighbours merge"},
    {"show", test_show, "show_alloc_mem of a TINY, a SMALL and a LARGE block"},
    {"show-ex", test_show_ex, "the same with show_alloc_mem_ex"},
    {"trace", test_trace, "a long random trace, contents verified, heap checked"},
    {"trace-threads", test_trace_threads, "the same in threads, with cross-thread frees"},
    {"thread-exit", test_thread_exit, "exiting threads give their caches back"},
    {"fork", test_fork, "fork while other threads allocate; the child allocates"},
    {"fork-holder", test_fork_holder, "fork while a thread holds every allocator lock"},
    {"debug-calls", test_debug_calls, "3 allocations, 1 realloc, 3 frees (for STATS, LOG...)"},
    {"double-free-tiny", test_double_free_tiny, "a TINY double free aborts"},
    {"double-free-small", test_double_free_small, "a SMALL double free aborts"},
    {"double-free-large", test_double_free_large, "a LARGE double free (CHECK) aborts"},
    {"free-foreign", test_free_foreign, "freeing the program's own array aborts"},
    {"free-interior", test_free_interior, "freeing a pointer into a block aborts"},
    {"overrun", test_overrun, "an overrun into a header is caught"},
    {"zone-corrupt", test_zone_corrupt, "a zone header overwritten (caught by zm_assert)"},
    {"overrun-tiny", test_overrun_tiny,
     "--bytes past a TINY block, caught at its neighbour's free"},
    {"double-free-cached-large", test_double_free_cached_large,
     "a LARGE double free, its mapping cached, aborts"},
    {"double-free-huge", test_double_free_huge, "a double free of a LARGE block above the cache"},
    {"small-cache", test_small_cache, "SMALL blocks come back from the thread cache, no lock"},
    {"remote-churn", test_remote_churn, "frees from other threads while threads come and go"},
    {"large-cache", test_large_cache, "freed LARGE mappings reused, within limits, trimmed"},
    {"zone-decay", test_zone_decay, "empty zones pooled, decayed, bounded, trimmed"},
};
enum { TESTS = sizeof tests / sizeof tests[0] };

static void usage(void)
{
    printf("Usage: %s [--ops N] [--seed S] [--threads N] [--forks N] [--handlers-off]\n"
           "       [--bytes N] TEST\n"
           "\n"
           "Run one group of checks against lesson 05's allocator (zm_ functions).\n"
           "\n"
           "  -n, --ops N         operations of the random traces (default 300000)\n"
           "  -s, --seed S        their seed (default 5)\n"
           "  -t, --threads N     threads of the threaded tests (1..64, default 4)\n"
           "  -f, --forks N       forks of the fork test (default 100)\n"
           "  -o, --handlers-off  zm_set_fork_handlers(0) before the fork tests\n"
           "  -b, --bytes N       bytes the overrun tests write past a block (1..16, default 8)\n"
           "  -l, --list          list the tests\n"
           "  -h, --help          show this help\n",
           prog_name());
}

static void list_tests(void)
{
    for (int i = 0; i < TESTS; i++)
        printf("%-18s %s\n", tests[i].name, tests[i].what);
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"ops", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},
        {"forks", required_argument, NULL, 'f'},
        {"handlers-off", no_argument, NULL, 'o'},
        {"list", no_argument, NULL, 'l'},
        {"bytes", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct test_options o = {.ops = 300000, .seed = 5, .threads = 4, .forks = 100, .bytes = 8};
    const char *names[TESTS + 1] = {NULL};
    int opt;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":n:s:t:f:ob:lh", options, NULL)) != -1) {
        switch (opt) {
        case 'n': o.ops = opt_uint("--ops", optarg, 1, UINT64_C(1) << 40); break;
        case 's': o.seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 't': o.threads = (unsigned)opt_uint("--threads", optarg, 1, 64); break;
        case 'f': o.forks = (unsigned)opt_uint("--forks", optarg, 1, 100000); break;
        case 'o': o.handlers_off = true; break;
        case 'b': o.bytes = (unsigned)opt_uint("--bytes", optarg, 1, 16); break;
        case 'l': list_tests(); return 0;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind == argc)
        usage_error("name a test (--list shows them)");
    if (optind < argc - 1)
        usage_error("unexpected argument '%s'", argv[optind + 1]);
    for (int i = 0; i < TESTS; i++)
        names[i] = tests[i].name;
    const struct test *t = &tests[opt_choice("TEST", argv[optind], names)];
    current_test = t->name;
    return t->run(&o);
}
