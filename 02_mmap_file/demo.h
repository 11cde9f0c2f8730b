/*
 * demo.h - the default demo: a scratch file mapped five ways.
 */
#ifndef MMAP_FILE_DEMO_H
#define MMAP_FILE_DEMO_H

#include <stddef.h>

enum { DEMO_MIN_BYTES = 64 << 10 }; /* room for the SIGBUS step's pages */

/* Create a file of size bytes of text lines under $TMPDIR and walk through
 * the steps: read-only map, shared write + msync, private write, page
 * cache residency, SIGBUS after truncation.  The file never outlives us. */
void run_demo(size_t size);

#endif
