/*
 * clock.h - one clock for every timing in the project.
 *
 * CLOCK_MONOTONIC never jumps with wall-clock changes, so a difference of two
 * readings is an elapsed time.
 */
#ifndef ASYM_CLOCK_H
#define ASYM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for this clock id */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
