/*
 * demo.h - the default demo: a scratch file mapped six ways.
 *
 *   demo.c         the scratch file; steps 1-3, the three kinds of mapping
 *   demo_cache.c   steps 4-5, the page cache: residency and RSS, then
 *                  read() against mmap on the same file
 *   demo_sigbus.c  step 6, the file cut short under the mapping
 */
#ifndef MMAP_FILE_DEMO_H
#define MMAP_FILE_DEMO_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum { DEMO_MIN_BYTES = 64 << 10 }; /* room for the SIGBUS step's pages */

/* Create a file of size bytes of text lines under $TMPDIR and walk through
 * the steps: read-only map, shared write + msync, private write, page
 * cache residency, read() against mmap, SIGBUS after truncation.  The file
 * never outlives us. */
void run_demo(size_t size);

/* The scratch file every step works on. */
struct demo_file {
    int fd;              /* read-write; the file has no name any more */
    size_t size;         /* bytes */
    size_t pages;        /* size in pages, the last one maybe partial */
    uint64_t lines;      /* '\n' bytes written: one per complete line */
    char name[PATH_MAX]; /* the name it had, for messages */
};

/* mmap the whole file, or die. */
void *map_file(const struct demo_file *f, int prot, int flags);
void unmap_file(const struct demo_file *f, void *p);

/* Dirty KiB of the mapping at p, whatever smaps calls them. */
long long dirty_kib(const void *p);

void step_residency(const struct demo_file *f);
void step_count(const struct demo_file *f);
void step_sigbus(const struct demo_file *f);

#endif
