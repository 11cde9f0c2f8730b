/*
 * shalloc_layout.c - the region's geometry (layer 1): the size classes, how
 * many spans a region of a given size holds and where they start, and the
 * check that a mapped header is one of ours and agrees with its size.
 * Pure arithmetic over shalloc_layout.h: no locks, no system calls.
 */
#include "shalloc_internal.h"

const uint16_t shalloc_class_bytes[SHALLOC_CLASSES] = {
    16,  32,  48,  64,  80,  96,   112,  128,  144,  160,  176,  192,  208,  224,  240,
    256, 272, 288, 304, 320, 336,  352,  368,  384,  400,  416,  432,  448,  464,  480,
    496, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
};

const uint8_t shalloc_large_class[32] = {
    [4] = 32,  [5] = 33,  [6] = 34,  [7] = 35,  [8] = 36,  [9] = 36,  [10] = 37,
    [11] = 37, [12] = 38, [13] = 38, [14] = 39, [15] = 39, [16] = 40, [17] = 40,
    [18] = 40, [19] = 40, [20] = 41, [21] = 41, [22] = 41, [23] = 41, [24] = 42,
    [25] = 42, [26] = 42, [27] = 42, [28] = 43, [29] = 43, [30] = 43, [31] = 43,
};

static uint64_t align_up(uint64_t n, uint64_t a)
{
    return (n + a - 1) / a * a;
}

/* Where the spans start when there are n of them: after the table. */
static uint64_t data_offset_for(uint64_t n)
{
    return align_up(TABLE_OFFSET + n * sizeof(uint64_t), DATA_ALIGN);
}

uint64_t shalloc_spans_for(uint64_t size, uint64_t *data_offset)
{
    uint64_t n = size > TABLE_OFFSET ? (size - TABLE_OFFSET) / (SHALLOC_SPAN_BYTES + 8) : 0;

    while (n > 0 && data_offset_for(n) + n * SHALLOC_SPAN_BYTES > size)
        n--;
    *data_offset = data_offset_for(n);
    return n;
}

size_t shalloc_min_size(void)
{
    return data_offset_for(1) + SHALLOC_SPAN_BYTES;
}

size_t shalloc_max_size(void)
{
    return (size_t)1 << 40; /* 1 TiB: 2^26 spans, a 512 MiB span table */
}

const char *shalloc_region_problem(const struct shalloc *h)
{
    const struct region *r = region_of(h);
    uint64_t data_offset, spans = shalloc_spans_for(h->size, &data_offset);
    uint64_t magic = atomic_load_explicit(&r->magic, memory_order_acquire);

    if (magic == 0)
        return "not a shalloc region, or not finished by its creator (no magic number)";
    if (magic != SHALLOC_MAGIC)
        return "not a shalloc region (wrong magic number)";
    if (r->version != SHALLOC_VERSION)
        return "a shalloc region of another layout version";
    if (r->span_bytes != SHALLOC_SPAN_BYTES || r->slots != SHALLOC_SLOTS ||
        r->classes != SHALLOC_CLASSES || r->region_bytes != h->size || r->span_count != spans ||
        r->data_offset != data_offset)
        return "a shalloc region whose header does not match its size";
    return NULL;
}
