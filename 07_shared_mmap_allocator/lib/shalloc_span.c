/*
 * shalloc_span.c - spans and blocks (layer 3): the span table, walks over
 * every block, carving a fresh span into blocks, telling a block start
 * from any other address, and the region free lists.
 *
 * A span is claimed with one fetch-add on the bump offset and holds blocks
 * of one class at a fixed stride; its entry in the span table (class + 1)
 * is written last, after every block header.  So a walk finds every block
 * of the region from the table alone, whatever the blocks contain, and a
 * process killed while carving loses that one span and nothing else.
 */
#include "shalloc_internal.h"

int shalloc_span_class(const struct shalloc *h, uint64_t span)
{
    unsigned entry = atomic_load_explicit(&span_table(h)[span], memory_order_acquire);

    return entry == 0 || entry > SHALLOC_CLASSES ? -1 : (int)entry - 1;
}

void shalloc_for_each_block_in_span(struct shalloc *h, uint64_t span, unsigned cls, block_fn *fn,
                                    void *ctx)
{
    uint64_t first = h->data_off + span * SHALLOC_SPAN_BYTES;

    for (uint32_t i = 0; i < blocks_per_span(cls); i++) {
        uint64_t off = first + (uint64_t)i * class_stride(cls);
        fn(h, off, block_at(h, off), cls, ctx);
    }
}

/* Call fn for every block of every formatted span below the bump. */
void shalloc_for_each_block(struct shalloc *h, block_fn *fn, void *ctx)
{
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < claimed; span++) {
        int cls = shalloc_span_class(h, span);
        if (cls >= 0) /* else lost (or corrupt: the checker says so) */
            shalloc_for_each_block_in_span(h, span, (unsigned)cls, fn, ctx);
    }
}

/* If we die before the table entry is written, the span is lost (and
 * counted as such); after it, the blocks are tagged and reclaimable. */
uint64_t shalloc_carve_span(struct shalloc *h, unsigned cls, unsigned slot, uint64_t tail,
                            uint32_t *count)
{
    struct region *r = region_of(h);
    uint64_t at = atomic_fetch_add_explicit(&r->bump, SHALLOC_SPAN_BYTES, memory_order_relaxed);
    uint32_t stride = class_stride(cls), n = blocks_per_span(cls);

    if (at >= r->span_count * SHALLOC_SPAN_BYTES)
        return 0; /* past the end: the region is full */
    uint64_t first = h->data_off + at;
    for (uint32_t i = n; i-- > 0;) {
        struct block *b = block_at(h, first + (uint64_t)i * stride);
        atomic_store_explicit(&b->tag, make_tag(KIND_CACHED, cls, slot), memory_order_relaxed);
        atomic_store_explicit(&b->owner, 0, memory_order_relaxed);
        b->next = i + 1 < n ? first + (uint64_t)(i + 1) * stride : tail;
    }
    atomic_store_explicit(&span_table(h)[at / SHALLOC_SPAN_BYTES], (uint8_t)(cls + 1),
                          memory_order_release);
    *count = n;
    return first;
}

bool shalloc_block_start(const struct shalloc *h, uint64_t off, unsigned cls)
{
    uint64_t rel = off - h->data_off, span = rel / SHALLOC_SPAN_BYTES;
    uint64_t in_span = rel % SHALLOC_SPAN_BYTES;

    return off >= h->data_off && span < spans_claimed(h) &&
           atomic_load_explicit(&span_table(h)[span], memory_order_relaxed) == cls + 1 &&
           in_span % class_stride(cls) == 0 && in_span / class_stride(cls) < blocks_per_span(cls);
}

void shalloc_push_free_locked(struct shalloc *h, uint64_t off, unsigned cls)
{
    struct region *r = region_of(h);
    struct block *b = block_at(h, off);

    shalloc_assert(shalloc_region_lock_held(h));
    atomic_store_explicit(&b->tag, make_tag(KIND_FREE, cls, 0), memory_order_relaxed);
    b->next = r->free_head[cls];
    r->free_head[cls] = off;
    r->free_count[cls]++;
}
