/*
 * shalloc_check.c - the checker (every invariant of shalloc_layout.h,
 * verified by a walk), statistics, and the walk programs use to draw a
 * region (layer 7: on top of everything, changing nothing but dead slots).
 */
#include "shalloc_internal.h"

#include <string.h>

/* ---- the checker ----------------------------------------------------- */

/* What the walk counted, for comparing with the lists and counters. */
struct census {
    uint64_t blocks[SHALLOC_CLASSES]; /* in formatted spans */
    uint64_t free[SHALLOC_CLASSES];
    uint32_t cached[SHALLOC_SLOTS][SHALLOC_CLASSES];
    uint64_t lost_spans;
    bool bad;         /* a tag broke R3 */
    uint64_t bad_off; /* where */
};

static bool broken(struct shalloc_report *rep, const char *rule, const char *what, uint64_t n,
                   const char *more)
{
    struct shalloc_text t = {rep->problem, sizeof rep->problem, 0};

    shalloc_text_put(&t, rule);
    shalloc_text_put(&t, ": ");
    shalloc_text_put(&t, what);
    shalloc_text_put_u64(&t, n);
    shalloc_text_put(&t, more);
    rep->ok = false;
    return false;
}

static void count_block(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx)
{
    struct census *c = ctx;
    uint32_t tag = atomic_load_explicit(&b->tag, memory_order_relaxed);

    (void)h;
    c->blocks[cls]++;
    if (tag_class(tag) != cls || tag_slot(tag) >= SHALLOC_SLOTS || tag_kind(tag) < KIND_FREE ||
        tag_kind(tag) > KIND_USED || (tag_kind(tag) == KIND_FREE && tag_slot(tag) != 0)) {
        if (!c->bad)
            c->bad_off = off;
        c->bad = true;
    } else if (tag_kind(tag) == KIND_FREE) {
        c->free[cls]++;
    } else if (tag_kind(tag) == KIND_CACHED) {
        c->cached[tag_slot(tag)][cls]++;
    }
}

/* R2: entries past the bump are 0, those below are 0 (lost) or a class. */
static bool check_span_table(struct shalloc *h, struct census *c, struct shalloc_report *rep)
{
    const struct region *r = region_of(h);
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < r->span_count; span++) {
        unsigned entry = atomic_load_explicit(&span_table(h)[span], memory_order_relaxed);
        if (span >= claimed && entry != 0)
            return broken(rep, "R2", "a span past the bump is formatted: span ", span, "");
        if (entry > SHALLOC_CLASSES)
            return broken(rep, "R2", "a span table entry is not a class: span ", span, "");
        if (span < claimed && entry == 0)
            c->lost_spans++;
    }
    return true;
}

/* R4 and R5 for one list: links are block starts of the class with the
 * expected tag, the list ends within limit steps, its length is count. */
static bool check_list(struct shalloc *h, uint64_t head, uint64_t count, uint32_t want_tag,
                       uint64_t limit, struct shalloc_report *rep, const char *rule)
{
    uint64_t len = 0, off = head;
    unsigned cls = tag_class(want_tag);

    while (off != 0) {
        if (len == limit)
            return broken(rep, rule, "a list does not end (a cycle?) in class ",
                          shalloc_class_bytes[cls], " bytes");
        if (!shalloc_block_start(h, off, cls))
            return broken(rep, rule, "a link is not a block start of its class: offset ", off, "");
        if (atomic_load_explicit(&block_at(h, off)->tag, memory_order_relaxed) != want_tag)
            return broken(rep, rule, "a block on a list has the wrong tag: offset ", off, "");
        off = block_at(h, off)->next;
        len++;
        rep->links++;
    }
    if (len != count)
        return broken(rep, rule, "a list's length differs from its count in class ",
                      shalloc_class_bytes[cls], " bytes");
    return true;
}

static bool check_lists(struct shalloc *h, const struct census *c, struct shalloc_report *rep)
{
    const struct region *r = region_of(h);

    for (unsigned cls = 0; cls < SHALLOC_CLASSES; cls++) {
        if (!check_list(h, r->free_head[cls], r->free_count[cls], make_tag(KIND_FREE, cls, 0),
                        c->blocks[cls], rep, "R4"))
            return false;
        if (r->free_count[cls] != c->free[cls])
            return broken(rep, "R4", "FREE blocks missing from the free list of class ",
                          shalloc_class_bytes[cls], " bytes");
        for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
            const struct cache *k = &slot_at(h, s)->cache[cls];
            if (!check_list(h, k->head, k->count, make_tag(KIND_CACHED, cls, s), c->blocks[cls],
                            rep, "R5"))
                return false;
            if (k->count != c->cached[s][cls])
                return broken(rep, "R5", "CACHED blocks missing from the cache of slot ", s, "");
        }
    }
    return true;
}

bool shalloc_check(struct shalloc *h, struct shalloc_report *rep)
{
    struct census c;
    const char *why;

    memset(&c, 0, sizeof c);
    memset(rep, 0, sizeof *rep);
    rep->ok = true;
    shalloc_lock_region(h);
    rep->slots_reclaimed = shalloc_reclaim_dead_slots_locked(h);
    if ((why = shalloc_region_problem(h)) != NULL) {
        struct shalloc_text t = {rep->problem, sizeof rep->problem, 0};
        shalloc_text_put(&t, "R1: ");
        shalloc_text_put(&t, why);
        rep->ok = false;
    } else if (check_span_table(h, &c, rep)) {
        shalloc_for_each_block(h, count_block, &c);
        for (unsigned cls = 0; cls < SHALLOC_CLASSES; cls++)
            rep->blocks += c.blocks[cls];
        if (c.bad)
            broken(rep, "R3", "a block's tag is not valid for its span: offset ", c.bad_off, "");
        else
            check_lists(h, &c, rep);
    }
    shalloc_unlock_region(h);
    return rep->ok;
}

/* ---- statistics and walks --------------------------------------------- */

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

static void tally_spans(struct shalloc *h, struct shalloc_stats *st)
{
    st->spans_claimed = spans_claimed(h);
    for (uint64_t span = 0; span < st->spans_claimed; span++) {
        int cls = shalloc_span_class(h, span);
        if (cls < 0) {
            st->spans_lost++;
            continue;
        }
        st->spans_formatted++;
        st->class[cls].spans++;
    }
}

void shalloc_stats(struct shalloc *h, struct shalloc_stats *st)
{
    const struct region *r = region_of(h);

    memset(st, 0, sizeof *st);
    st->region_bytes = r->region_bytes;
    st->data_offset = r->data_offset;
    st->span_count = r->span_count;
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        st->class[c].bytes = shalloc_class_bytes[c];
    tally_spans(h, st);
    shalloc_for_each_block(h, tally_block, st);
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
        .span = (uint32_t)((off - h->data_off) / SHALLOC_SPAN_BYTES),
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

void shalloc_walk(struct shalloc *h, void (*visit)(void *ctx, const struct shalloc_block_info *b),
                  void *ctx)
{
    struct visitor v = {visit, ctx};
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < claimed; span++) {
        int cls = shalloc_span_class(h, span);
        if (cls >= 0) {
            shalloc_for_each_block_in_span(h, span, (unsigned)cls, describe_block, &v);
            continue;
        }
        struct shalloc_block_info lost = {
            .offset = h->data_off + span * SHALLOC_SPAN_BYTES,
            .span = (uint32_t)span,
            .bytes = SHALLOC_SPAN_BYTES,
            .state = SHALLOC_LOST,
        };
        visit(ctx, &lost);
    }
}
