/*
 * memory.h - mapping and touching anonymous memory, as the lessons measure it.
 */
#ifndef ASYM_MEMORY_H
#define ASYM_MEMORY_H

#include <stddef.h>
#include <sys/mman.h> /* the MAP_ flags callers pass */

/* mmap size bytes of readable, writable anonymous memory.  flags holds
 * MAP_PRIVATE or MAP_SHARED, plus any extra (MAP_POPULATE...).  Dies on
 * failure ("prog: mmap: Cannot allocate memory (ENOMEM)"). */
void *map_anonymous(size_t size, int flags);

/* munmap or die. */
void unmap(void *addr, size_t size);

/* Write value into the first byte of every page of [base, base + size):
 * the first write to each page is one page fault.  Not instrumented by
 * sanitizers, whose shadow memory would add faults of its own to the ones
 * a lesson counts. */
void touch_pages(char *base, size_t size, char value);

#endif
