/*
 * demo.h - what the parts of lesson 05's demo share (zone_malloc_demo.c
 * runs them; demo_blocks.c, demo_memory.c and demo_threads.c hold them).
 */
#ifndef DEMO_H
#define DEMO_H

#include "zone_malloc.h"

#include <stddef.h>

/* Where a live block is; dies if it is not one. */
struct zm_block_info info_of(const void *p);
/* zm_malloc(size) filled with 'z'; dies on failure. */
void *must_alloc(size_t size);
/* zm_realloc, dying on failure. */
char *must_realloc(char *p, size_t size);
/* The allocator's counters now. */
struct zm_stats stats_now(void);

/* The parts, in the order the default run shows them. */
void show_zones(void);    /* the first allocation maps a zone; the three kinds */
void show_reuse(void);    /* a freed block comes straight back */
void show_coalesce(void); /* free neighbours merge */
void show_realloc(void);  /* in place, or moved */
void show_large(void);    /* a mapping of its own; the large cache and its limit */
void show_release(void);  /* empty zones wait in the pool, then go back */
void show_cache(void);    /* SMALL blocks in the thread cache: no lock */
void show_remote(void);   /* blocks freed by another thread go home without a lock */
void show_speed(void);    /* against glibc's malloc */
void show_fork(void);     /* fork while other threads are inside the allocator */

#endif
