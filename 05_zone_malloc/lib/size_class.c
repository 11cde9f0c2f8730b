/*
 * size_class.c - the size classes a thread cache keeps: the TINY ones,
 * 16-byte steps to 128 then four steps per power of two to 1024, and the
 * SMALL ones from 1280 to SMALL_CACHE_MAX, four per power of two too, so
 * that a block wastes at most a fifth of itself to rounding.
 *
 * Why stop caching SMALL blocks at 16 KiB: most requests of real programs
 * are below it, and a cached block is memory no other size can use; a
 * thread keeps about SMALL_CACHE_BYTES (16 KiB) of each SMALL class, at
 * least SMALL_CACHE_LEAST (8) blocks, about 0.85 MiB for all 16 SMALL
 * classes (thread_cache.c says why).  Caching the larger SMALL sizes too
 * would let each thread hold several times that for few requests.
 * (jemalloc stops its thread cache at 32 KiB; glibc's at 1032 bytes.)
 */
#include "zm_internal.h"

const uint16_t class_size[CACHE_CLASSES] = {
    16,   32,   48,   64,   80,    96,    112,   128,   160, 192,
    224,  256,  320,  384,  448,   512,   640,   768,   896, 1024, /* TINY */
    1280, 1536, 1792, 2048, 2560,  3072,  3584,  4096,             /* SMALL, cached */
    5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
};

/* The class of a TINY request, indexed by (size + 15) / 16: one load on the
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
