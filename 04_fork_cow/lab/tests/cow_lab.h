/*
 * cow_lab.h - lab 04's test driver and quiz, shared between their files.
 *
 *   scenario.c   the scenarios: made from a seed, run for real by a parent
 *                and a child, predicted (lab_scenarios)
 *   tests.c      the implement half: probe_page and same_page (lab_tests)
 *   pages.c      touching pages and reading what pagemap says of them
 */
#ifndef COW_LAB_H
#define COW_LAB_H

#include <stddef.h>

/* Store letter into the first byte of each of count pages from base. */
void store_each_page(char *base, size_t count, char letter);

/* madvise, or die. */
void advise(void *at, size_t bytes, int advice);

/* What this process's pagemap says of each of pages pages from base, as
 * cow.h's page_state characters, into out (pages + 1 bytes). */
void page_states(const char *base, unsigned pages, char out[]);

#endif
