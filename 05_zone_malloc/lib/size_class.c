/*
 * size_class.c - the TINY size classes: 16-byte steps to 128, then four
 * steps per power of two, so that a block wastes at most a fifth of itself.
 */
#include "zm_internal.h"

const uint16_t tiny_class_size[TINY_CLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
};

/* The class of a request, indexed by (size + 15) / 16: one load on the
 * fast path instead of arithmetic. */
const uint8_t tiny_class_of16[TINY_MAX / 16 + 1] = {
    0,                                              /* 0 bytes: the smallest block */
    0,  1,  2,  3,  4,  5,  6,  7,                  /* 1..128 */
    8,  8,  9,  9,  10, 10, 11, 11,                 /* 129..256 */
    12, 12, 12, 12, 13, 13, 13, 13,                 /* 257..384 */
    14, 14, 14, 14, 15, 15, 15, 15,                 /* 385..512 */
    16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, /* 513..704 */
    17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 18, /* 705..896 */
    19, 19, 19, 19, 19, 19, 19, 19,                 /* 897..1024 */
};
