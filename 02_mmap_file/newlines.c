/*
 * newlines.c - counting '\n' bytes, the loop both of count's methods end in
 * (see count.h): a vectorised one, 64 bytes per step, and the obvious one,
 * one memchr() per line.
 */
#include "count.h"

#include <string.h>

/* Sixteen bytes handled as one value (GCC and Clang vector extension):
 * v == w compares all sixteen lanes at once, in one SIMD instruction. */
typedef unsigned char byte_lanes __attribute__((vector_size(16)));

/* The sum of the sixteen 8-bit counters in lanes. */
static uint64_t sum_lanes(byte_lanes lanes)
{
    const uint64_t low_bytes = UINT64_C(0x00ff00ff00ff00ff);
    uint64_t half[2], sum = 0;

    memcpy(half, &lanes, sizeof half);
    for (int i = 0; i < 2; i++) {
        uint64_t pairs = (half[i] & low_bytes) + ((half[i] >> 8) & low_bytes); /* 4 x 16 bits */
        sum += (pairs * UINT64_C(0x0001000100010001)) >> 48; /* their total, in the top 16 */
    }
    return sum;
}

/*
 * 64 bytes per step: four 16-byte compares, each lane adding 1 to its own
 * 8-bit counter where the byte is '\n'.  A counter can hold 255, so every
 * 255 steps the counters are added up into the 64-bit total and restarted.
 * No branch depends on the data, so long and short lines cost the same.
 * Not instrumented by ThreadSanitizer: this single-threaded read of a big
 * mapping would make it fault in shadow memory for every page (8 million
 * faults for a 4 GiB file).
 */
__attribute__((no_sanitize("thread"))) static uint64_t
count_newlines_vector(const unsigned char *data, size_t len)
{
    byte_lanes newline;
    uint64_t lines = 0;
    size_t i = 0;

    memset(&newline, '\n', sizeof newline);
    while (len - i >= 64) {
        byte_lanes sum0 = {0}, sum1 = {0}, sum2 = {0}, sum3 = {0};
        size_t steps = (len - i) / 64;
        if (steps > 255)
            steps = 255;
        for (size_t step = 0; step < steps; step++, i += 64) {
            byte_lanes in0, in1, in2, in3;
            memcpy(&in0, data + i, 16); /* memcpy: any alignment, no aliasing worry */
            memcpy(&in1, data + i + 16, 16);
            memcpy(&in2, data + i + 32, 16);
            memcpy(&in3, data + i + 48, 16);
            sum0 -= (byte_lanes)(in0 == newline); /* a true compare is -1 in every bit */
            sum1 -= (byte_lanes)(in1 == newline);
            sum2 -= (byte_lanes)(in2 == newline);
            sum3 -= (byte_lanes)(in3 == newline);
        }
        lines += sum_lanes(sum0) + sum_lanes(sum1) + sum_lanes(sum2) + sum_lanes(sum3);
    }
    for (; i < len; i++)
        lines += data[i] == '\n';
    return lines;
}

/* The obvious loop: one memchr call per line.  Fast for long lines, slowed
 * by the call and its setup for short ones. */
static uint64_t count_newlines_memchr(const unsigned char *data, size_t len)
{
    const unsigned char *p = data, *end = data + len;
    uint64_t lines = 0;

    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

uint64_t count_newlines(const unsigned char *data, size_t len, enum count_loop loop)
{
    return loop == LOOP_MEMCHR ? count_newlines_memchr(data, len)
                               : count_newlines_vector(data, len);
}
