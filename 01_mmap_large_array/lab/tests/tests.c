/*
 * tests.c - lab 01's implement half: count_resident against mincore() as
 * the driver reads it, count_minor_faults against faults the driver makes.
 */
#include "anon.h"
#include "anon_lab.h"

#include "cli.h"
#include "lab.h"
#include "procfs.h"
#include "rng.h"
#include "scenario.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* "returned -1 (errno ENOSYS)" or "returned 7". */
static const char *returned(long value, int err, char buf[static 64])
{
    if (value < 0) {
        char name[24];
        snprintf(buf, 64, "returned %ld (errno %s)", value, errno_name(err, name));
    } else {
        snprintf(buf, 64, "returned %ld", value);
    }
    return buf;
}

/* count_resident(base + offset, length) must say what mincore says of the
 * pages that range touches. */
static void expect_resident(const char *base, const char *what, size_t offset, size_t length)
{
    size_t first = offset / page_size();
    size_t end = length == 0 ? first : (offset + length + page_size() - 1) / page_size();
    long want = resident_in(base + first * page_size(), end - first);

    scn_where("count_resident(%s + %zu, %zu)", what, offset, length);
    errno = 0;
    long got = count_resident(base + offset, length);
    if (got != want) {
        char buf[64];
        lab_fail("count_resident(%s + %zu, %zu) %s; expected %ld: mincore says %ld of the %zu "
                 "pages that range touches are resident",
                 what, offset, length, returned(got, errno, buf), want, want, end - first);
    }
}

/* 48 pages: some written, some only read (the zero page: resident), some
 * written then dropped again. */
static void resident_in_a_mix(uint64_t *rng)
{
    enum { PAGES = 48 };
    char *base =
        raw_map(NULL, PAGES * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);

    raw_advise(base, PAGES * page_size(), MADV_NOHUGEPAGE);
    for (unsigned i = 0; i < PAGES; i++) {
        unsigned roll = (unsigned)(rng_next(rng) % 4);
        if (roll == 1)
            store_each_page(base + i * page_size(), 1);
        else if (roll == 2)
            load_each_page(base + i * page_size(), 1);
        else if (roll == 3) {
            store_each_page(base + i * page_size(), 1);
            raw_advise(base + i * page_size(), page_size(), MADV_DONTNEED);
        }
    }
    expect_resident(base, "a 48-page mapping", 0, PAGES * page_size());
    expect_resident(base, "the mapping", 0, 0);
    expect_resident(base, "the mapping", 5 * page_size() + 1, 1);
    for (int i = 0; i < 8; i++) {
        size_t offset = rng_next(rng) % (PAGES * page_size() / 2);
        size_t length = rng_next(rng) % (PAGES * page_size() / 2);
        expect_resident(base, "the mapping", offset, length);
    }
    raw_unmap(base, PAGES * page_size());
}

/* 256 MiB, one page in a thousand touched: more pages than a small
 * vector on the stack holds. */
static void resident_in_a_big_range(void)
{
    size_t pages = (256u << 20) / page_size();
    char *base = raw_map(NULL, pages * page_size(), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);

    raw_advise(base, pages * page_size(), MADV_NOHUGEPAGE);
    for (size_t i = 0; i < pages; i += 1000)
        store_each_page(base + i * page_size(), 1);
    expect_resident(base, "a 256 MiB mapping", 0, pages * page_size());
    raw_unmap(base, pages * page_size());
}

/* A range with a hole: mincore's ENOMEM. */
static void resident_across_a_hole(void)
{
    char *base =
        raw_map(NULL, 8 * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);

    store_each_page(base, 8);
    raw_unmap(base + 5 * page_size(), page_size());
    scn_where("count_resident over 8 pages whose page 5 is unmapped");
    errno = 0;
    long got = count_resident(base, 8 * page_size());
    if (got != -1 || errno != ENOMEM) {
        char buf[64];
        lab_fail("count_resident over 8 pages whose page 5 is not mapped %s; expected -1 with "
                 "errno ENOMEM, as mincore gives",
                 returned(got, errno, buf));
    }
    raw_unmap(base, 5 * page_size());
    raw_unmap(base + 6 * page_size(), 2 * page_size());
}

static void test_count_resident(int argc, char *argv[])
{
    uint64_t rng = lab_seed();

    (void)argc;
    (void)argv;
    resident_in_a_mix(&rng);
    resident_in_a_big_range();
    resident_across_a_hole();
    lab_pass("every range counted as mincore counts it");
}

/* count_minor_faults, or fail the test saying what it returned. */
static long faults_now(const char *when)
{
    errno = 0;
    long n = count_minor_faults();
    if (n < 0) {
        char buf[64];
        lab_fail("count_minor_faults() %s %s; expected the process's minor faults so far", when,
                 returned(n, errno, buf));
    }
    return n;
}

enum { THREAD_PAGES = 50 };

static void *touch_in_thread(void *arg)
{
    store_each_page(arg, THREAD_PAGES);
    return NULL;
}

static void test_count_faults(int argc, char *argv[])
{
    enum { PAGES = 100 };
    const char *san = getenv("LAB_SANITIZER");
    /* a sanitizer's runtime takes faults of its own now and then */
    long slack = san != NULL && san[0] != '\0' ? 64 : 0;
    char *pages = raw_map(NULL, (PAGES + THREAD_PAGES) * page_size(), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS);
    pthread_t thread;

    (void)argc;
    (void)argv;
    raw_advise(pages, (PAGES + THREAD_PAGES) * page_size(), MADV_NOHUGEPAGE);
    faults_now("at its first call");
    long before = faults_now("before a touch"), again = faults_now("called twice");
    if (again < before)
        lab_fail("count_minor_faults() went down from %ld to %ld; the count only grows", before,
                 again);
    store_each_page(pages, PAGES);
    long after = faults_now("after a touch");
    if (after - again < PAGES || after - again > PAGES + slack)
        lab_fail("count_minor_faults() grew by %ld while this process wrote %d fresh pages; "
                 "expected %d (one minor fault each)",
                 after - again, PAGES, PAGES);
    int err = pthread_create(&thread, NULL, touch_in_thread, pages + PAGES * page_size());
    if (err != 0)
        die_err("pthread_create", err);
    if ((err = pthread_join(thread, NULL)) != 0)
        die_err("pthread_join", err);
    long joined = faults_now("after a thread's touch");
    /* the new thread's stack and thread-local storage fault too (and a
     * sanitizer's state for the thread) */
    if (joined - after < THREAD_PAGES || joined - after > THREAD_PAGES + 200 + 20 * slack)
        lab_fail("count_minor_faults() grew by %ld while another thread wrote %d fresh pages; "
                 "expected at least %d: the process's faults, all its threads' (RUSAGE_SELF)",
                 joined - after, THREAD_PAGES, THREAD_PAGES);
    raw_unmap(pages, (PAGES + THREAD_PAGES) * page_size());
    lab_pass("%ld faults counted for %d fresh pages, %ld with another thread's %d", after - again,
             PAGES, joined - after, THREAD_PAGES);
}

const struct lab_test lab_tests[] = {
    {"count_resident", "count_resident counts as mincore does, any range", test_count_resident},
    {"count_faults", "count_minor_faults counts every thread's minor faults", test_count_faults},
};
const size_t lab_test_count = sizeof lab_tests / sizeof lab_tests[0];
