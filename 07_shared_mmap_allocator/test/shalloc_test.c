/*
 * shalloc_test - misuse that lesson 07's library must stop, run by
 * test/07_shared_mmap_allocator.bats.
 *
 * Each TEST breaks one rule on purpose and should end in the library's
 * own one-line report and abort().  Some rules are checked in every build
 * (a double free, an unlock by a thread not holding the lock); the others
 * only where shalloc_assert is compiled in (ASYM_ASSERT=1): `asserts`
 * prints asserts=1 or asserts=0 to say which this build is.  The driver
 * calls the library's internal functions (shalloc_internal.h) the way a
 * bug inside the library would.  `layout` prints where things are in a
 * region, for the tests that damage one on purpose; `die-holding-lock
 * NAME` attaches a named region, takes its lock and dies by SIGKILL;
 * `enomem` and `run-cache` print facts about a request too long for the
 * region and about the cache of runs, which the lesson's commands do not.
 *
 * Usage: shalloc_test TEST [NAME]       (--list names the tests)
 */
#include "cli.h"
#include "out.h"
#include "shalloc_internal.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { REGION_BYTES = 1 << 20 };

static int test_asserts(struct shalloc *h)
{
    (void)h;
    fact_int("asserts", SHALLOC_ASSERTS);
    facts_end();
    return 0;
}

/* Where the tests find what they damage: offsets in a region of 1 MiB. */
static int test_layout(struct shalloc *h)
{
    fact_uint("region_bytes", h->size);
    fact_uint("lock_offset", offsetof(struct region, lock));
    fact_uint("bump_offset", offsetof(struct region, bump));
    fact_uint("free_head_offset", offsetof(struct region, free_head));
    fact_uint("run_head_offset", offsetof(struct region, run_head));
    fact_uint("roots_offset", offsetof(struct region, roots));
    fact_uint("slots_offset", HEADER_BYTES);
    fact_uint("slot_bytes", SLOT_BYTES);
    fact_uint("slot_lock_offset", offsetof(struct shalloc_slot, lock));
    fact_uint("lock_bytes", sizeof(pthread_mutex_t));
    fact_uint("table_offset", TABLE_OFFSET);
    fact_uint("data_offset", h->data_off);
    fact_uint("class_of_80", class_of(80));
    facts_end();
    return 0;
}

/* A request one byte longer than the longest free run: NULL with ENOMEM,
 * the region as it was; the longest itself is served. */
static int test_enomem(struct shalloc *h)
{
    struct shalloc_stats before, after;
    struct shalloc_report rep;
    void *small[64];

    for (int i = 0; i < 64; i++) /* a few spans of blocks, and runs between them */
        if ((small[i] = shalloc_alloc(h, i % 4 ? 100 : 30000)) == NULL)
            die_errno(shalloc_error(h));
    for (int i = 0; i < 64; i += 8)
        shalloc_free(h, small[i]);
    shalloc_stats(h, &before);
    errno = 0;
    void *too_big = shalloc_alloc(h, before.largest_free_bytes + 1);
    int err = errno;
    shalloc_stats(h, &after);
    bool same = memcmp(&before, &after, offsetof(struct shalloc_stats, allocs)) == 0;
    void *largest = shalloc_alloc(h, before.largest_free_bytes);
    fact_uint("largest_free_bytes", before.largest_free_bytes);
    fact_int("too_big_null", too_big == NULL);
    fact_int("too_big_enomem", err == ENOMEM);
    fact_int("region_unchanged", same);
    fact_int("largest_served", largest != NULL);
    shalloc_free(h, largest);
    fact_word("check", shalloc_check(h, &rep) ? "ok" : "fail");
    facts_end();
    return 0;
}

/* The region lock held by another thread until a byte arrives on release
 * (or five seconds pass: then the test fails, it does not hang). */
struct lock_hold {
    struct shalloc *h;
    atomic_int held;
    int release[2];
};

static void *hold_lock_until_released(void *arg)
{
    struct lock_hold *l = arg;
    struct pollfd wait = {.fd = l->release[0], .events = POLLIN};

    if (shalloc_lock(l->h) != 0)
        die_errno(shalloc_error(l->h));
    atomic_store(&l->held, 1);
    if (poll(&wait, 1, 5000) < 0)
        die_errno("poll");
    shalloc_unlock(l->h);
    return NULL;
}

/* A run of one span (all this 1 MiB region lets a process cache), freed,
 * waits in the process's run cache; taken again while another thread
 * holds the region lock, it comes back without that lock; flushed, it is
 * free. */
static int test_run_cache(struct shalloc *h)
{
    struct shalloc_stats st;
    struct shalloc_report rep;
    struct lock_hold l = {.h = h};
    pthread_t holder;
    int err;

    if (pipe(l.release) != 0)
        die_errno("pipe");
    void *p = shalloc_alloc(h, 10000);
    if (p == NULL)
        die_errno(shalloc_error(h));
    shalloc_free(h, p);
    shalloc_stats(h, &st);
    fact_uint("cached_after_free", st.runs_cached);
    if ((err = pthread_create(&holder, NULL, hold_lock_until_released, &l)) != 0)
        die_err("pthread_create", err);
    while (!atomic_load(&l.held))
        sched_yield();
    void *again = shalloc_alloc(h, 10000);
    fact_int("taken_while_locked", atomic_load(&region_of(h)->lock_owner) != 0);
    if (write(l.release[1], "", 1) != 1)
        die_errno("write");
    if ((err = pthread_join(holder, NULL)) != 0)
        die_err("pthread_join", err);
    close(l.release[0]);
    close(l.release[1]);
    fact_int("same_run", again == p);
    shalloc_free(h, again);
    shalloc_flush(h);
    shalloc_stats(h, &st);
    fact_uint("cached_after_flush", st.runs_cached);
    fact_uint("runs_used_after_flush", st.runs_used);
    fact_word("check", shalloc_check(h, &rep) ? "ok" : "fail");
    facts_end();
    return 0;
}

/* Leave a named region as a process killed in the middle of a change does. */
static int test_die_holding_lock(struct shalloc *h)
{
    void *p = shalloc_alloc(h, 100); /* a slot and a cache too */

    if (p == NULL || shalloc_lock(h) != 0)
        die_errno(shalloc_error(h));
    raise(SIGKILL);
    return 1;
}

static int test_double_free(struct shalloc *h)
{
    void *p = shalloc_alloc(h, 100);

    shalloc_free(h, p);
    shalloc_free(h, p);
    return 1;
}

/* A pointer 64 bytes into a 4 KiB block, whose 16 bytes before it hold
 * what looks like the tag of a live 64-byte block. */
static int test_free_interior(struct shalloc *h)
{
    char *big = shalloc_alloc(h, 4000);
    uint32_t fake = make_tag(KIND_USED, class_of(64), 0);

    memcpy(big + 64 - BLOCK_HEADER, &fake, sizeof fake);
    shalloc_free(h, big + 64);
    return 1;
}

/* A *_locked function called without the region lock. */
static int test_locked_without_lock(struct shalloc *h)
{
    char *p = shalloc_alloc(h, 100);

    shalloc_push_free_locked(h, shalloc_offset(h, p) - BLOCK_HEADER, class_of(100));
    return 1;
}

/* Another thread of this process takes the region lock and keeps it. */
static _Noreturn void *hold_lock(void *arg)
{
    struct shalloc *h = arg;

    if (shalloc_lock(h) != 0)
        die_errno(shalloc_error(h));
    for (;;)
        pause(); /* until the process ends */
}

/* The same while another thread holds the lock: held is not enough, it
 * must be held by the caller. */
static int test_locked_by_another(struct shalloc *h)
{
    char *p = shalloc_alloc(h, 100);
    pthread_t holder;
    int err;

    if ((err = pthread_create(&holder, NULL, hold_lock, h)) != 0)
        die_err("pthread_create", err);
    if ((err = pthread_detach(holder)) != 0)
        die_err("pthread_detach", err);
    while (atomic_load(&region_of(h)->lock_owner) == 0)
        sched_yield(); /* until the holder has it */
    shalloc_push_free_locked(h, shalloc_offset(h, p) - BLOCK_HEADER, class_of(100));
    return 1;
}

static int test_unlock_unheld(struct shalloc *h)
{
    shalloc_unlock(h);
    return 1;
}

static const struct test {
    const char *name;
    int (*run)(struct shalloc *h);
    bool named; /* takes a NAME: attaches it instead of making a region */
} tests[] = {
    {"asserts", test_asserts, false},
    {"layout", test_layout, false},
    {"enomem", test_enomem, false},
    {"run-cache", test_run_cache, false},
    {"die-holding-lock", test_die_holding_lock, true},
    {"double-free", test_double_free, false},
    {"free-interior", test_free_interior, false},
    {"locked-without-lock", test_locked_without_lock, false},
    {"locked-by-another-thread", test_locked_by_another, false},
    {"unlock-unheld", test_unlock_unheld, false},
};
enum { TESTS = sizeof tests / sizeof tests[0] };

static void usage(void)
{
    printf("Usage: %s TEST [NAME]\n"
           "\n"
           "Break one of shalloc's rules on purpose; the library should report it in\n"
           "one line and abort.  --list names the tests.\n",
           prog_name());
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *names[TESTS + 1] = {NULL};
    struct shalloc h;
    int opt;

    cli_init();
    for (unsigned i = 0; i < TESTS; i++)
        names[i] = tests[i].name;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'l':
            for (unsigned i = 0; i < TESTS; i++)
                puts(names[i]);
            return 0;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (argc - optind < 1)
        usage_error("give one TEST (--list names them)");
    const struct test *t = &tests[opt_choice("TEST", argv[optind], names)];
    if (argc - optind != (t->named ? 2 : 1))
        usage_error("%s takes %s", t->name, t->named ? "a NAME" : "no NAME");
    if ((t->named ? shalloc_attach(&h, argv[optind + 1])
                  : shalloc_create(&h, NULL, REGION_BYTES)) != 0)
        die_errno(shalloc_error(&h));
    return t->run(&h);
}
