/*
 * lesson01.h - the pieces of lesson 01 and what they share.
 *
 *   mmap_large_array.c  the command line, the four modes, the comparison
 *   measure.c           one touch experiment: measured step by step, printed after
 *   compare.c           the table that ends "all", and what it says
 *   picture.c           the pictures: residency as it is touched, and the three
 *                       layers (VMA -> page table -> frames) it ends in
 */
#ifndef LESSON01_H
#define LESSON01_H

#include "pagemap.h"
#include "procfs.h"

#include <stddef.h>
#include <stdint.h>

enum mode { MODE_TOUCH, MODE_POPULATE, MODE_HUGEPAGE, MODE_MALLOC, MODE_ALL };
extern const char *const mode_names[]; /* indexed by mode, then NULL */

/* What one mode measured, for the comparison table. */
struct trial {
    enum mode mode;
    int skipped;           /* hugepage mode where THP is unavailable */
    uint64_t setup_faults; /* minor faults inside mmap/malloc */
    uint64_t touch_faults; /* minor faults while writing every page */
    uint64_t setup_ns, touch_ns;
};

/* The process before a mode maps anything. */
struct baseline {
    uint64_t rss_kib;
    long long pte_kib; /* VmPTE: the page tables, kB */
};

/* Residency of a range at one moment, from mincore(): one character per
 * chunk of pages, '#' all resident, '+' some, '.' none. */
enum { RESIDENCY_COLUMNS = 64 };
struct residency {
    const char *stage; /* "mapped", "touched_25", ... "released" */
    int mapped;        /* 0: mincore found no mapping (ENOMEM) */
    uint64_t resident; /* resident pages */
    uint64_t pages;    /* pages in the range */
    uint64_t chunk_pages;
    unsigned columns;
    unsigned full_chunks, partial_chunks;
    uint64_t rss_kib; /* the process's RSS at the same moment */
    char row[RESIDENCY_COLUMNS + 1];
};

/* The stages of a touch: after mapping, after each quarter, after release. */
enum { QUARTERS = 4, STAGES = QUARTERS + 2 };

/* Everything one touch experiment saw, kept until it is over. */
enum { FRAMES_SHOWN = 4 };
struct touch_record {
    struct mapping vma; /* the maps line right after mapping */
    struct baseline before;
    uint64_t rss_mapped, rss_touched, rss_released;
    long long pte_touched; /* VmPTE after the touch, kB */
    long long huge_kib;    /* AnonHugePages of the range after the touch */
    int still_mapped;      /* the range is in /proc/self/maps after release */
    struct residency stages[STAGES];
    struct page_view frames[FRAMES_SHOWN]; /* the range's first pages, after the touch */
};

/* compare.c: the table of "all", as prose and facts (count trials). */
void print_comparison(const struct trial trials[], int count);

/* measure.c */

/* Call every measuring function once, so that their own code and data pages
 * are resident before the first measurement (see the comment inside). */
void prime_measurements(void);
struct baseline take_baseline(void);
/* One experiment as a mode sets it up: the range (mapped by the mode), how
 * to give it back, and what the mode has to say about its setup, printed
 * before the touch's own prose (after every reading is taken). */
struct touch_setup {
    char *base;
    size_t size;
    struct baseline before; /* taken before mapping */
    void (*release)(char *base, size_t size);
    void (*describe)(const struct trial *t, const void *ctx); /* or NULL */
    const void *ctx;
};

/* Touch every page of the range a quarter at a time, release it, and print
 * what happened: prose, the pictures, and the mode's fact line. */
void measure_touch(struct trial *t, const struct touch_setup *setup);

/* picture.c */

/* A size as people write it when it is not round: "256 MiB + 4 KiB". */
const char *exact_size(uint64_t bytes, char buf[static 64]);

/* Fill r with the residency of the pages that [base, base + size) covers. */
void residency_scan(struct residency *r, const char *stage, const char *base, size_t size);
/* The residency rows, with a legend. */
void draw_residency(const struct residency stages[], int count);
/* VMA -> page table -> frames, from what the touch left. */
void draw_layers(const struct touch_record *rec, const struct trial *t);
/* Entries the page table holds for the range: 4 KiB and 2 MiB pages. */
uint64_t small_page_entries(const struct touch_record *rec);
uint64_t huge_page_entries(const struct touch_record *rec);

#endif
