/*
 * rng.h - a small, fast, seeded pseudo-random generator (SplitMix64).
 *
 * Deterministic for a given seed, so a workload or a trace can be replayed
 * exactly; not for cryptography.
 */
#ifndef ASYM_RNG_H
#define ASYM_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A number in [0, n), n > 0: for picking among n choices (the modulo's
 * bias is far too small to matter there). */
static inline unsigned rng_below(uint64_t *state, unsigned n)
{
    return (unsigned)(rng_next(state) % n);
}

#endif
