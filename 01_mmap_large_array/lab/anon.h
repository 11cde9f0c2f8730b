/*
 * anon.h - lab 01's interface (see README.md in this folder).  Do not
 * edit: the grader compiles your anon.c against its own copy.
 *
 * Predict.  A scenario maps some pages of private anonymous memory and
 * then does things to ranges of them; after each step, the grader asks
 * three facts about the mapping.  predict_anon() gets the steps and
 * returns your predictions; the grader runs the same steps for real and
 * compares, fact by fact.  Predict, do not measure: predict_anon runs in a
 * process that may not make system calls other than to allocate memory
 * and print (see the handout).
 *
 * Implement.  count_resident() and count_minor_faults() measure two of
 * those facts, as the grader itself does.
 */
#ifndef ANON_H
#define ANON_H

#include <stddef.h>

enum { ANON_MAX_PAGES = 64, ANON_MAX_STEPS = 32 };

enum anon_op {
    ANON_MMAP,     /* mmap count pages: PROT_READ | PROT_WRITE, MAP_PRIVATE |
                      MAP_ANONYMOUS, then madvise(MADV_NOHUGEPAGE); always
                      step 0, with first = 0 */
    ANON_WRITE,    /* store one byte into each page of the range */
    ANON_READ,     /* load one byte from each page of the range */
    ANON_DONTNEED, /* madvise(MADV_DONTNEED) on the range */
    ANON_PROTECT,  /* mprotect(prot) on the range: PROT_READ or PROT_NONE */
    ANON_MUNMAP,   /* munmap the range */
};

/* One step: op on pages [first, first + count) of the mapping.  A step
 * never touches a page that was unmapped, writes only pages that are still
 * PROT_READ | PROT_WRITE and reads only readable ones. */
struct anon_step {
    enum anon_op op;
    unsigned first;
    unsigned count;
    int prot; /* ANON_PROTECT only: PROT_READ or PROT_NONE */
};

/* The facts after one step, about the pages of the mapping that are still
 * mapped (a page a step unmapped counts in none of them). */
struct anon_facts {
    long resident_pages; /* pages mincore() says are resident */
    long rss_pages;      /* pages counted in the mapping's Rss in /proc/self/smaps */
    long minor_faults;   /* minor page faults the step itself took (getrusage) */
};

/*
 * Predict the facts after each of the count steps (1 to ANON_MAX_STEPS)
 * into facts[0 .. count-1].  Return 0, or -1 if you make no prediction.
 */
int predict_anon(const struct anon_step steps[], unsigned count, struct anon_facts facts[]);

/*
 * How many pages of the range [addr, addr + length) are resident, as
 * mincore() says: every page the range touches counts, so an addr in the
 * middle of a page counts that page, and length 0 counts none.  -1 with
 * errno set (ENOMEM when part of the range is not mapped) on failure.
 */
long count_resident(const void *addr, size_t length);

/*
 * The minor page faults this process (all its threads) has taken so far,
 * from getrusage(); -1 with errno set on failure.
 */
long count_minor_faults(void);

#endif
