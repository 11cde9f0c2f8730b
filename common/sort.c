/*
 * sort.c - sorting and medians of 64-bit samples (see sort.h).
 */
#include "sort.h"

#include <stdlib.h>

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

void sort_u64(uint64_t values[], size_t count)
{
    qsort(values, count, sizeof values[0], compare_u64);
}

uint64_t median_u64(uint64_t values[], size_t count)
{
    sort_u64(values, count);
    return values[(count - 1) / 2];
}
