/*
 * zone_malloc_test.h - what the test driver's files share.
 */
#ifndef ZONE_MALLOC_TEST_H
#define ZONE_MALLOC_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The driver's settings, from the command line. */
struct test_options {
    uint64_t ops;      /* operations of a random trace */
    uint64_t seed;     /* its seed */
    unsigned threads;  /* threads of the multithreaded tests */
    unsigned forks;    /* forks of the fork tests */
    bool handlers_off; /* call zm_set_fork_handlers(0) first */
    unsigned bytes;    /* how far past a block the overrun tests write */
};

/* Fail the current test: "zone_malloc_test: <test>: <what> (line N)", exit 1. */
#define expect(cond, what) ((cond) ? (void)0 : test_failed(what, __LINE__))
_Noreturn void test_failed(const char *what, int line);

/* A pattern byte for a block, and checking or writing it (trace.c). */
void fill_block(unsigned char *p, size_t size, unsigned char tag);
bool block_intact(const unsigned char *p, size_t n, size_t size, unsigned char tag);

/* The random trace of one thread; mailbox exchanges blocks with others. */
struct mailbox;
void run_trace(uint64_t ops, uint64_t seed, struct mailbox *inbox, struct mailbox *outbox);

int test_zones(const struct test_options *o);
int test_coalesce(const struct test_options *o);
int test_show(const struct test_options *o);
int test_show_ex(const struct test_options *o);
int test_debug_calls(const struct test_options *o);
int test_double_free_tiny(const struct test_options *o);
int test_double_free_small(const struct test_options *o);
int test_double_free_large(const struct test_options *o);
int test_free_foreign(const struct test_options *o);
int test_free_interior(const struct test_options *o);
int test_overrun(const struct test_options *o);
int test_zone_corrupt(const struct test_options *o);
int test_overrun_tiny(const struct test_options *o);
int test_double_free_cached_large(const struct test_options *o);
int test_double_free_huge(const struct test_options *o);
int test_small_cache(const struct test_options *o);
int test_remote_churn(const struct test_options *o);
int test_large_cache(const struct test_options *o);
int test_zone_decay(const struct test_options *o);
int test_trace(const struct test_options *o);
int test_trace_threads(const struct test_options *o);
int test_thread_exit(const struct test_options *o);
int test_fork(const struct test_options *o);
int test_fork_holder(const struct test_options *o);

#endif
