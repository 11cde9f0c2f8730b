/*
 * shalloc_check.c - the checker (layer 9): every invariant of
 * shalloc_layout.h, verified by a walk, on top of everything and changing
 * nothing but dead slots (and what a repair after a death changes).
 */
#include "shalloc_internal.h"

#include <string.h>

/* ---- the checker ----------------------------------------------------- */

/* What the walk counted, for comparing with the lists and counters. */
struct census {
    uint64_t blocks[SHALLOC_CLASSES]; /* in spans of blocks */
    uint64_t free[SHALLOC_CLASSES];
    uint32_t cached[SHALLOC_SLOTS][SHALLOC_CLASSES];
    uint32_t cached_runs[SHALLOC_SLOTS][RUN_CACHE_LENGTHS]; /* by length - 1 */
    uint32_t cached_run_spans[SHALLOC_SLOTS];
    uint64_t free_runs, free_run_spans;
    bool bad;         /* a tag broke R3 */
    uint64_t bad_off; /* where */
};

/* The first invariant found broken: "R4: what at offset N". */
static bool broken(struct shalloc_report *rep, const char *rule, const char *what, uint64_t offset)
{
    struct shalloc_text t = {rep->problem, sizeof rep->problem, 0};

    shalloc_text_put(&t, rule);
    shalloc_text_put(&t, ": ");
    shalloc_text_put(&t, what);
    shalloc_text_put(&t, " at offset ");
    shalloc_text_put_u64(&t, offset);
    rep->offset = offset;
    rep->ok = false;
    return false;
}

/* The offset of span's word in the table, for reports. */
static uint64_t word_offset(uint64_t span)
{
    return TABLE_OFFSET + span * sizeof(uint64_t);
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

/* R2 inside one run: NONE everywhere but the tail. */
static bool check_run_words(struct shalloc *h, uint64_t span, uint64_t n,
                            struct shalloc_report *rep)
{
    for (uint64_t i = 1; i + 1 < n; i++)
        if (span_load(h, span + i) != 0)
            return broken(rep, "R2", "a word inside a run is not NONE", word_offset(span + i));
    if (n > 1 && span_load(h, span + n - 1) != tail_word(n))
        return broken(rep, "R2", "a run's last span does not name its length",
                      word_offset(span + n - 1));
    return true;
}

/* A run's head word: kind FREE (slot 0), CACHED (no longer than a run
 * cache takes) or USED, and nothing in the spare bits. */
static bool run_word_valid(uint64_t w)
{
    unsigned kind = word_kind(w);

    return (kind == KIND_FREE || kind == KIND_USED ||
            (kind == KIND_CACHED && word_spans(w) <= RUN_CACHE_LENGTHS)) &&
           word_spans(w) >= 1 &&
           w == run_word(kind, kind == KIND_FREE ? 0 : word_slot(w), word_spans(w));
}

/* R2 and the neighbours of R7: a walk from span 0 tiles the claimed
 * spans; past them, every word is NONE. */
static bool check_span_table(struct shalloc *h, struct census *c, struct shalloc_report *rep)
{
    uint64_t claimed = spans_claimed(h), span = 0;
    bool after_free = false;

    if (atomic_load_explicit(&region_of(h)->bump, memory_order_relaxed) % SHALLOC_SPAN_BYTES != 0 ||
        atomic_load_explicit(&region_of(h)->bump, memory_order_relaxed) / SHALLOC_SPAN_BYTES >
            span_count(h))
        return broken(rep, "R2", "the bump is not a number of spans the region has",
                      offsetof(struct region, bump));
    while (span < claimed) {
        uint64_t w = span_load(h, span), n = word_spans(w);
        if (word_type(w) == SPAN_SMALL && w == small_word(word_class(w)) &&
            word_class(w) < SHALLOC_CLASSES) {
            after_free = false;
            span++;
            continue;
        }
        if (word_type(w) != SPAN_RUN || !run_word_valid(w))
            return broken(rep, "R2", "a claimed span is neither blocks nor a run's start",
                          word_offset(span));
        if (n > claimed - span)
            return broken(rep, "R2", "a run runs past the bump", word_offset(span));
        if (!check_run_words(h, span, n, rep))
            return false;
        if (word_kind(w) == KIND_FREE) {
            if (after_free)
                return broken(rep, "R7", "two free runs are neighbours", word_offset(span));
            if (span + n == claimed)
                return broken(rep, "R7", "a free run ends at the bump", word_offset(span));
            c->free_runs++;
            c->free_run_spans += n;
        } else if (word_kind(w) == KIND_CACHED) {
            c->cached_runs[word_slot(w)][n - 1]++;
            c->cached_run_spans[word_slot(w)] += (uint32_t)n;
        }
        after_free = word_kind(w) == KIND_FREE;
        span += n;
    }
    for (span = claimed; span < span_count(h); span++)
        if (span_load(h, span) != 0)
            return broken(rep, "R2", "a span past the bump is described", word_offset(span));
    return true;
}

/* R4 and R5 for one list whose head is stored at offset where: every link
 * is in the spans, a block start of the class with the expected tag; the
 * list ends within limit steps (the blocks of the class); its length is
 * count. */
static bool check_list(struct shalloc *h, uint64_t where, uint64_t count, uint32_t want_tag,
                       uint64_t limit, struct shalloc_report *rep, const char *rule)
{
    uint64_t len = 0, off = *(const uint64_t *)at_offset(h, where);
    unsigned cls = tag_class(want_tag);

    while (off != 0) {
        if (off < h->data_off || off >= h->data_end)
            return broken(rep, rule, "a list's link is out of range (not in the spans)", where);
        if (!shalloc_block_start(h, off, cls))
            return broken(rep, rule, "a list's link is not a block start of its class", where);
        if (atomic_load_explicit(&block_at(h, off)->tag, memory_order_relaxed) != want_tag)
            return broken(rep, rule, "a block on a list has the wrong tag", off);
        if (++len > limit)
            return broken(rep, rule, "a list does not end (a cycle): longer than its class", where);
        where = off + offsetof(struct block, next);
        off = block_at(h, off)->next;
        rep->links++;
    }
    if (len != count)
        return broken(rep, rule, "a list's length differs from its count", where);
    return true;
}

static bool check_lists(struct shalloc *h, const struct census *c, struct shalloc_report *rep)
{
    const struct region *r = region_of(h);

    for (unsigned cls = 0; cls < SHALLOC_CLASSES; cls++) {
        uint64_t head = offsetof(struct region, free_head) + cls * sizeof(uint64_t);
        if (!check_list(h, head, r->free_count[cls], make_tag(KIND_FREE, cls, 0), c->blocks[cls],
                        rep, "R4"))
            return false;
        if (r->free_count[cls] != c->free[cls])
            return broken(rep, "R4", "FREE blocks are missing from their class's free list",
                          offsetof(struct region, free_count) + cls * sizeof(uint64_t));
        for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
            const struct cache *k = &slot_at(h, s)->cache[cls];
            if (!check_list(h, offset_in(h, &k->head), k->count, make_tag(KIND_CACHED, cls, s),
                            c->blocks[cls], rep, "R5"))
                return false;
            if (k->count != c->cached[s][cls])
                return broken(rep, "R5", "CACHED blocks are missing from their slot's cache",
                              offset_in(h, &k->count));
        }
    }
    return true;
}

/* R9 for the run cache (s, n): every link the first span of a run CACHED
 * by s of n spans, as many as its count and as the walk found. */
static bool check_run_list(struct shalloc *h, const struct census *c, unsigned s, uint64_t n,
                           struct shalloc_report *rep)
{
    const struct cache *k = &slot_at(h, s)->runs[n - 1];
    uint64_t where = offset_in(h, &k->head), len = 0;

    for (uint64_t off = k->head; off != 0; len++) {
        uint64_t span = span_of(h, off);
        if (off < h->data_off || off >= h->data_end || (off - h->data_off) % SHALLOC_SPAN_BYTES ||
            span >= spans_claimed(h) || span_load(h, span) != run_word(KIND_CACHED, s, n))
            return broken(rep, "R9", "a run cache's link is not a run it caches", where);
        if (len == c->cached_runs[s][n - 1])
            return broken(rep, "R9", "a run cache is longer than the runs it caches (a cycle?)",
                          where);
        where = off;
        off = *(const uint64_t *)at_offset(h, off);
    }
    if (len != k->count || len != c->cached_runs[s][n - 1])
        return broken(rep, "R9", "cached runs are missing from their slot's list, or miscounted",
                      offset_in(h, &k->count));
    return true;
}

static bool check_run_caches(struct shalloc *h, const struct census *c, struct shalloc_report *rep)
{
    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        for (uint64_t n = 1; n <= RUN_CACHE_LENGTHS; n++)
            if (!check_run_list(h, c, s, n, rep))
                return false;
        const struct shalloc_slot *slot = slot_at(h, s);
        if (slot->run_spans != c->cached_run_spans[s] || slot->run_spans > RUN_CACHE_MOST_SPANS)
            return broken(rep, "R9", "a slot's cached run spans do not add up",
                          offset_in(h, &slot->run_spans));
    }
    return true;
}

/* R7 for one bin: a list of free runs of its lengths, linked both ways,
 * at most limit long.  Adds its runs and spans to *runs and *spans. */
static bool check_bin(struct shalloc *h, unsigned b, uint64_t limit, uint64_t *runs,
                      uint64_t *spans, struct shalloc_report *rep)
{
    const struct region *r = region_of(h);
    uint64_t prev = 0, claimed = spans_claimed(h);
    uint64_t where = offsetof(struct region, run_head) + b * sizeof(uint64_t);

    for (uint64_t off = r->run_head[b]; off != 0; *runs += 1) {
        uint64_t span = span_of(h, off), w;
        if (off < h->data_off || off >= h->data_end || (off - h->data_off) % SHALLOC_SPAN_BYTES ||
            span >= claimed)
            return broken(rep, "R7", "a bin's link is out of range (not a claimed span)", where);
        if (*runs == limit)
            return broken(rep, "R7", "more runs on the bins than free runs (a cycle?)", where);
        w = span_load(h, span);
        if (word_type(w) != SPAN_RUN || word_kind(w) != KIND_FREE ||
            shalloc_run_bin(word_spans(w)) != b)
            return broken(rep, "R7", "a bin's link is not a free run of its lengths", where);
        const struct free_run *fr = at_offset(h, off);
        if (fr->prev != prev)
            return broken(rep, "R7", "a free run's link back is wrong",
                          off + offsetof(struct free_run, prev));
        *spans += word_spans(w);
        prev = off;
        where = off + offsetof(struct free_run, next);
        off = fr->next;
    }
    bool listed = r->run_head[b] != 0, mapped = r->run_bin_map[b / RUN_SL] >> (b % RUN_SL) & 1;
    if (listed != mapped)
        return broken(rep, "R7", "a bin's bit disagrees with its list",
                      offsetof(struct region, run_bin_map) + b / RUN_SL * sizeof(uint32_t));
    return true;
}

static bool check_bins(struct shalloc *h, const struct census *c, struct shalloc_report *rep)
{
    const struct region *r = region_of(h);
    uint64_t runs = 0, spans = 0;

    for (unsigned b = 0; b < RUN_BINS; b++)
        if (!check_bin(h, b, c->free_runs, &runs, &spans, rep))
            return false;
    for (unsigned row = 0; row < RUN_FL; row++)
        if ((r->run_bin_map[row] != 0) != (r->run_row_map >> row & 1))
            return broken(rep, "R7", "a row's bit disagrees with its bins",
                          offsetof(struct region, run_row_map));
    if (runs != c->free_runs || r->free_runs != runs || r->free_run_spans != spans ||
        spans != c->free_run_spans)
        return broken(rep, "R7", "free runs are missing from the bins, or miscounted",
                      offsetof(struct region, free_runs));
    return true;
}

/* R8: every lock is a lock of shalloc's kind, and a held one names a
 * thread that exists. */
static bool check_locks(struct shalloc *h, struct shalloc_report *rep)
{
    for (unsigned s = 0; s <= SHALLOC_SLOTS; s++) {
        const pthread_mutex_t *m = s < SHALLOC_SLOTS ? &slot_at(h, s)->lock : &region_of(h)->lock;
        pid_t tid = shalloc_mutex_holder(m);
        if (!shalloc_mutex_valid(m) || (tid > 0 && !shalloc_thread_exists(tid)))
            return broken(rep, "R8", "a lock is not a lock, or names no live thread",
                          offset_in(h, m));
    }
    return true;
}

/* Every invariant, in order, on a region whose lock we hold. */
static void check_locked(struct shalloc *h, struct shalloc_report *rep)
{
    struct census c;
    const char *why;

    shalloc_assert(shalloc_region_lock_held(h));
    memset(&c, 0, sizeof c);
    if ((why = shalloc_region_problem(h)) != NULL) {
        struct shalloc_text t = {rep->problem, sizeof rep->problem, 0};
        shalloc_text_put(&t, "R1: ");
        shalloc_text_put(&t, why);
        shalloc_text_put(&t, " at offset 0");
        rep->ok = false;
        return;
    }
    if (!check_locks(h, rep) || !check_span_table(h, &c, rep))
        return;
    shalloc_for_each_block(h, count_block, &c);
    for (unsigned cls = 0; cls < SHALLOC_CLASSES; cls++)
        rep->blocks += c.blocks[cls];
    rep->runs = c.free_runs;
    if (c.bad)
        broken(rep, "R3", "a block's tag is not valid for its span", c.bad_off);
    else if (check_lists(h, &c, rep) && check_bins(h, &c, rep))
        check_run_caches(h, &c, rep);
}

bool shalloc_check(struct shalloc *h, struct shalloc_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->ok = true;
    if (shalloc_lock_region(h) != 0) {
        static const char prefix[] = "corrupt region: ";
        const char *why = shalloc_error(h);
        struct shalloc_text t = {rep->problem, sizeof rep->problem, 0};
        rep->busy = errno == EBUSY; /* a copy whose lock another process holds */
        shalloc_text_put(&t,
                         strncmp(why, prefix, sizeof prefix - 1) ? why : why + sizeof prefix - 1);
        rep->offset = h->error_offset;
        rep->ok = false;
        return false;
    }
    int reclaimed = (int)shalloc_reclaim_dead_slots_locked(h);
    rep->slots_reclaimed = (uint64_t)reclaimed;
    check_locked(h, rep);
    shalloc_unlock_region(h);
    return rep->ok;
}
