/*
 * anon_lab.h - lab 01's test driver and quiz, shared between their files.
 *
 *   scenario.c   the scenarios: made from a seed, run for real, predicted
 *                (lab_scenarios, for the quiz and the predict_* tests)
 *   tests.c      the implement half: count_resident, count_faults (lab_tests)
 *
 * The memory a scenario works on is touched and changed only by the
 * functions below: never instrumented by a sanitizer, and calling the
 * kernel directly (syscall()), so that the faults a step counts are the
 * step's own, not a sanitizer's shadow memory's.
 */
#ifndef ANON_LAB_H
#define ANON_LAB_H

#include <stddef.h>

/* One byte stored into, or loaded from, each page of [base, base + pages). */
void store_each_page(char *base, size_t pages);
void load_each_page(const char *base, size_t pages);

/* mmap, munmap, madvise and mprotect, straight to the kernel; die on error
 * (madvise's EINVAL for MADV_NOHUGEPAGE without THP excepted). */
char *raw_map(void *at, size_t bytes, int prot, int flags);
void raw_unmap(void *at, size_t bytes);
void raw_advise(void *at, size_t bytes, int advice);
void raw_protect(void *at, size_t bytes, int prot);

/* Pages of [base, base + pages) that mincore() reports resident (all of
 * them mapped), and the Rss of the mappings inside that range, in pages. */
long resident_in(const char *base, size_t pages);
long rss_pages_in(const char *base, size_t pages);

/* This thread's minor faults so far. */
long thread_minor_faults(void);

#endif
