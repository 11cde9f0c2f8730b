/*
 * cow.h - lab 04's interface (see README.md in this folder).  Do not edit:
 * the grader compiles your cow.c against its own copy.
 *
 * Predict.  A parent maps a few pages of private anonymous memory, writes
 * or reads some, may mark ranges MADV_DONTFORK or MADV_WIPEONFORK, and
 * forks; then the child and the parent write and read pages, in an order
 * the grader forces, and the child may exit.  After each step the grader
 * asks, for every page, what each process's /proc/self/pagemap says: no
 * page, a page shared (mapped more than once), a page of its own, or no
 * mapping at all; and after a read, the byte read.  predict_cow() gets
 * the steps and returns the facts; the grader runs them for real and
 * compares.  Predict, do not measure: it runs in a process that may not
 * make system calls other than to allocate memory and print.
 *
 * Implement.  probe_page() reads one page's entry from /proc/self/pagemap,
 * and same_page() tells, from the probes of one page in a parent and in
 * its child, whether it is still shared or was copied.
 */
#ifndef COW_H
#define COW_H

#include <stdint.h>

/* ------------------------------------------------------------ predict */

enum { COW_MAX_PAGES = 16, COW_MAX_STEPS = 24 };

enum cow_who { COW_PARENT, COW_CHILD };

enum cow_op {
    COW_MMAP,       /* parent, step 0: mmap count pages, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, madvise(MADV_NOHUGEPAGE) */
    COW_WRITE,      /* store letter into the first byte of each page of the range */
    COW_READ,       /* load the first byte of page first (count is 1) */
    COW_DONTFORK,   /* parent, before the fork: madvise(MADV_DONTFORK) on the range */
    COW_WIPEONFORK, /* parent, before the fork: madvise(MADV_WIPEONFORK) on the range */
    COW_FORK,       /* parent: fork() (exactly once, after at least one write) */
    COW_EXIT,       /* the child exits, and the parent reaps it (at most once) */
};

/* One step: who does op on pages [first, first + count) of the mapping. */
struct cow_step {
    enum cow_who who;
    enum cow_op op;
    unsigned first;
    unsigned count;
    char letter; /* COW_WRITE: the byte stored */
};

/* What a process's pagemap says of one page, as a character. */
enum page_state {
    PAGE_ABSENT = '.',   /* mapped, but no page behind it (bit 63 clear) */
    PAGE_SHARED = 's',   /* a page mapped more than once (bit 56 clear): by the
                            other process too, or the kernel's shared zero page */
    PAGE_OWN = 'o',      /* a page mapped once, by this process only (bit 56 set) */
    PAGE_UNMAPPED = '-', /* not mapped at all in this process */
};

enum { SEES_SIGSEGV = -1 };

/* The facts after one step. */
struct cow_facts {
    char parent[COW_MAX_PAGES + 1]; /* a page_state a page, then '\0' */
    char child[COW_MAX_PAGES + 1];  /* the same in the child, from the fork until it exits */
    int sees;                       /* after a COW_READ: the byte read (0 from a page never
                                       written), or SEES_SIGSEGV */
};

/*
 * Predict the facts after each of the count steps into facts[0 .. count-1].
 * Return 0, or -1 if you make no prediction.
 */
int predict_cow(const struct cow_step steps[], unsigned count, struct cow_facts facts[]);

/* ---------------------------------------------------------- implement */

/* One page as /proc/self/pagemap describes it. */
struct page_probe {
    int present;   /* bit 63: a page is behind the address */
    int exclusive; /* bit 56: that page is mapped once, by this process only */
    uint64_t pfn;  /* bits 0-54: its page frame number; 0 when the kernel hides
                      it (without CAP_SYS_ADMIN) or when no page is present */
};

/* Read the entry of the page holding addr from this process's
 * /proc/self/pagemap.  0, or -1 with errno set. */
int probe_page(const void *addr, struct page_probe *out);

/*
 * in_parent and in_child are probes of one virtual page, taken in a parent
 * and in its child forked from it, at the same moment.  1 when both map the
 * same page (still shared), 0 when each has a page of its own (copied), -1
 * when either has no page.  Frame numbers decide when both are visible;
 * without them, the exclusive bits do.
 */
int same_page(const struct page_probe *in_parent, const struct page_probe *in_child);

#endif
