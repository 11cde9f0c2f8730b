/*
 * shalloc_stats.c - statistics and the walk programs use to draw a region
 * (layer 9): reads only, safe while others allocate (then approximate):
 * every walk steps through the span table, bounded by the bump.
 */
#include "shalloc_internal.h"

#include <string.h>

static void tally_block(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx)
{
    struct shalloc_stats *st = ctx;
    uint32_t bytes = shalloc_class_bytes[cls];

    (void)h;
    (void)off;
    switch (tag_kind(atomic_load_explicit(&b->tag, memory_order_relaxed))) {
    case KIND_FREE:
        st->class[cls].free++;
        st->blocks_free++;
        st->bytes_free += bytes;
        break;
    case KIND_CACHED:
        st->class[cls].cached++;
        st->blocks_cached++;
        st->bytes_cached += bytes;
        break;
    default:
        st->class[cls].used++;
        st->blocks_used++;
        st->bytes_used += bytes;
    }
}

static void tally_span(struct shalloc *h, uint64_t span, uint64_t w, uint64_t n, void *ctx)
{
    struct shalloc_stats *st = ctx;
    uint64_t bytes = n * SHALLOC_SPAN_BYTES;

    if (shalloc_span_class(h, span) >= 0) {
        st->spans_formatted++;
        st->class[word_class(w)].spans++;
    } else if (word_type(w) == SPAN_RUN && word_kind(w) == KIND_USED && n == word_spans(w)) {
        st->runs_used++;
        st->run_bytes_used += bytes;
    } else if (word_type(w) == SPAN_RUN && word_kind(w) == KIND_CACHED && n == word_spans(w)) {
        st->runs_cached++;
        st->run_bytes_cached += bytes;
    } else if (word_type(w) == SPAN_RUN && word_kind(w) == KIND_FREE && n == word_spans(w)) {
        st->runs_free++;
        st->run_bytes_free += bytes;
        st->largest_free_bytes = bytes > st->largest_free_bytes ? bytes : st->largest_free_bytes;
    } else {
        st->spans_lost++;
    }
}

void shalloc_stats(struct shalloc *h, struct shalloc_stats *st)
{
    const struct region *r = region_of(h);

    memset(st, 0, sizeof *st);
    st->region_bytes = r->region_bytes;
    st->data_offset = r->data_offset;
    st->span_count = span_count(h);
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        st->class[c].bytes = shalloc_class_bytes[c];
    st->spans_claimed = spans_claimed(h);
    shalloc_for_each_span(h, tally_span, st);
    shalloc_for_each_block(h, tally_block, st);
    uint64_t wild = (st->span_count - st->spans_claimed) * SHALLOC_SPAN_BYTES;
    st->largest_free_bytes = wild > st->largest_free_bytes ? wild : st->largest_free_bytes;
    st->allocs = r->retired_allocs;
    st->frees = r->retired_frees;
    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        const struct shalloc_slot *slot = slot_at(h, s);
        st->allocs += atomic_load_explicit(&slot->allocs, memory_order_relaxed);
        st->frees += atomic_load_explicit(&slot->frees, memory_order_relaxed);
        st->slots_live += atomic_load_explicit(&slot->pid, memory_order_relaxed) != 0;
    }
    st->repairs = r->repairs;
    st->lock_timeouts = r->lock_timeouts;
    st->slots_reclaimed = r->slots_reclaimed;
    st->blocks_reclaimed = r->blocks_reclaimed;
    st->runs_reclaimed = r->runs_reclaimed;
    st->spans_recovered = r->spans_recovered;
}

struct visitor {
    void (*visit)(void *ctx, const struct shalloc_block_info *b);
    void *ctx;
};

static void describe_block(struct shalloc *h, uint64_t off, struct block *b, unsigned cls,
                           void *ctx)
{
    struct visitor *v = ctx;
    uint32_t tag = atomic_load_explicit(&b->tag, memory_order_relaxed);
    struct shalloc_block_info info = {
        .offset = off + BLOCK_HEADER,
        .span = span_of(h, off),
        .bytes = shalloc_class_bytes[cls],
        .state = (enum shalloc_state)tag_kind(tag),
        .slot = tag_slot(tag),
    };

    if (info.state == SHALLOC_USED)
        info.owner = atomic_load_explicit(&b->owner, memory_order_relaxed);
    else if (info.state == SHALLOC_CACHED && info.slot < SHALLOC_SLOTS)
        info.owner = atomic_load_explicit(&slot_at(h, info.slot)->pid, memory_order_relaxed);
    v->visit(v->ctx, &info);
}

/* A run (one visit for all its spans) or a span without a head. */
static void describe_span(struct shalloc *h, uint64_t span, uint64_t w, uint64_t n, void *ctx)
{
    struct visitor *v = ctx;
    bool run = word_type(w) == SPAN_RUN && n == word_spans(w) && word_kind(w) >= KIND_FREE &&
               word_kind(w) <= KIND_USED;
    struct shalloc_block_info info = {
        .offset = span_offset(h, span),
        .span = span,
        .spans = run ? n : 0,
        .bytes = n * SHALLOC_SPAN_BYTES,
        .state = run ? (enum shalloc_state)word_kind(w) : SHALLOC_LOST,
        .slot = run ? word_slot(w) : 0,
    };

    if (shalloc_span_class(h, span) >= 0) {
        shalloc_for_each_block_in_span(h, span, word_class(w), describe_block, v);
        return;
    }
    if (info.state == SHALLOC_USED || info.state == SHALLOC_CACHED)
        info.owner = atomic_load_explicit(&slot_at(h, info.slot)->pid, memory_order_relaxed);
    v->visit(v->ctx, &info);
}

void shalloc_walk(struct shalloc *h, void (*visit)(void *ctx, const struct shalloc_block_info *b),
                  void *ctx)
{
    struct visitor v = {visit, ctx};

    shalloc_for_each_span(h, describe_span, &v);
}
