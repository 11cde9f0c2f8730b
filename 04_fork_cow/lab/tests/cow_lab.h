/*
 * cow_lab.h - lab 04's test driver and quiz, shared between their files.
 *
 *   generate.c   the scenarios, made from a seed
 *   scenario.c   the scenarios run for real by a parent and a child, and
 *                predicted (lab_scenarios)
 *   tests.c      the implement half: probe_page and same_page (lab_tests)
 *   pages.c      touching pages and reading what pagemap says of them
 */
#ifndef COW_LAB_H
#define COW_LAB_H

#include "cow.h"
#include "scenario.h"

#include <stddef.h>

enum { FACT_PARENT, FACT_CHILD, FACT_SEES, FACTS };
enum { LEVEL_FORK, LEVEL_ZERO, LEVEL_KNOBS };

/* The current scenario: the mapping's size and the steps. */
struct cow_scenario {
    unsigned pages;
    unsigned count;
    struct cow_step steps[COW_MAX_STEPS];
};
extern struct cow_scenario scenario_now;

/* Make the scenario of seed at level the current one, and its script. */
void generate_scenario(uint64_t seed, unsigned level, struct scn_script *script);

/* Store letter into the first byte of each of count pages from base. */
void store_each_page(char *base, size_t count, char letter);

/* madvise, or die. */
void advise(void *at, size_t bytes, int advice);

/* What this process's pagemap says of each of pages pages from base, as
 * cow.h's page_state characters, into out (pages + 1 bytes). */
void page_states(const char *base, unsigned pages, char out[]);

#endif
