/*
 * sort.h - sorting and medians of 64-bit samples (timings, offsets).
 */
#ifndef ASYM_SORT_H
#define ASYM_SORT_H

#include <stddef.h>
#include <stdint.h>

/* Sort count values in place, smallest first. */
void sort_u64(uint64_t values[], size_t count);

/* The median of count > 0 values (the lower middle one for an even count);
 * sorts them in place.  A median, not a mean: one disturbed run on a busy
 * machine cannot move it. */
uint64_t median_u64(uint64_t values[], size_t count);

#endif
