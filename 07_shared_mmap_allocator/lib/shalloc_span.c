/*
 * shalloc_span.c - spans and blocks (layer 3): the span table, walks over
 * every span and every block, formatting a span into blocks of one class,
 * telling a block start from any other address, and the region free lists.
 *
 * The span table says what every claimed span is (shalloc_layout.h): the
 * first span of a run names its length, so a walk steps from span 0 over
 * whole runs and never reads the inside of one.  A span of blocks holds
 * blocks of one class at a fixed stride; its table word (SMALL and the
 * class) is written last, after every block header, so a walk finds every
 * block of the region from the table alone, whatever the blocks contain.
 */
#include "shalloc_internal.h"

int shalloc_span_class(const struct shalloc *h, uint64_t span)
{
    uint64_t w = span_load(h, span);

    return word_type(w) == SPAN_SMALL && word_class(w) < SHALLOC_CLASSES ? (int)word_class(w) : -1;
}

void shalloc_for_each_span(struct shalloc *h, span_fn *fn, void *ctx)
{
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < claimed;) {
        uint64_t w = span_load(h, span), n = shalloc_step_spans(span, w, claimed);
        fn(h, span, w, n, ctx);
        span += n;
    }
}

void shalloc_for_each_block_in_span(struct shalloc *h, uint64_t span, unsigned cls, block_fn *fn,
                                    void *ctx)
{
    uint64_t first = span_offset(h, span);

    for (uint32_t i = 0; i < blocks_per_span(cls); i++) {
        uint64_t off = first + (uint64_t)i * class_stride(cls);
        fn(h, off, block_at(h, off), cls, ctx);
    }
}

struct block_visit {
    block_fn *fn;
    void *ctx;
};

static void visit_blocks_of(struct shalloc *h, uint64_t span, uint64_t word, uint64_t spans,
                            void *ctx)
{
    struct block_visit *v = ctx;

    (void)spans;
    if (word_type(word) == SPAN_SMALL && word_class(word) < SHALLOC_CLASSES)
        shalloc_for_each_block_in_span(h, span, word_class(word), v->fn, v->ctx);
}

void shalloc_for_each_block(struct shalloc *h, block_fn *fn, void *ctx)
{
    struct block_visit v = {fn, ctx};

    shalloc_for_each_span(h, visit_blocks_of, &v);
}

/* Headers from the last block to the first, each linked to the next and
 * the last to tail; the table word last of all.  Killed before it, the
 * span has no head: the repair gives it back to the free runs. */
uint64_t shalloc_format_span_locked(struct shalloc *h, uint64_t span, unsigned cls, unsigned slot,
                                    uint64_t tail, uint32_t *count)
{
    uint64_t first = span_offset(h, span);
    uint32_t stride = class_stride(cls), n = blocks_per_span(cls);

    shalloc_assert(shalloc_region_lock_held(h));
    shalloc_assert(span_load(h, span) == 0);
    for (uint32_t i = n; i-- > 0;) {
        struct block *b = block_at(h, first + (uint64_t)i * stride);
        atomic_store_explicit(&b->tag, make_tag(KIND_CACHED, cls, slot), memory_order_relaxed);
        atomic_store_explicit(&b->owner, 0, memory_order_relaxed);
        b->next = i + 1 < n ? first + (uint64_t)(i + 1) * stride : tail;
    }
    atomic_store_explicit(&span_table(h)[span], small_word(cls), memory_order_release);
    *count = n;
    return first;
}

bool shalloc_block_start(const struct shalloc *h, uint64_t off, unsigned cls)
{
    uint64_t rel = off - h->data_off, span = rel / SHALLOC_SPAN_BYTES;
    uint64_t in_span = rel % SHALLOC_SPAN_BYTES;

    return off >= h->data_off && span < spans_claimed(h) && span_load(h, span) == small_word(cls) &&
           in_span % class_stride(cls) == 0 && in_span / class_stride(cls) < blocks_per_span(cls);
}

uint64_t shalloc_live_run(const struct shalloc *h, const void *p)
{
    uint64_t off = offset_in(h, p), span = span_of(h, off), w;

    if (off < h->data_off || off >= h->data_end || span >= spans_claimed(h))
        shalloc_panic("free of a pointer outside the region's blocks", p);
    w = span_load(h, span);
    if (word_type(w) != SPAN_RUN || word_kind(w) != KIND_USED)
        shalloc_panic("free of a block that is not in use (double free?)", p);
    return span;
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
