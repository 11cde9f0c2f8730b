/*
 * shalloc_run.c - runs of spans (layer 5): every span a block needs, and
 * the blocks above 4096 bytes.
 *
 * The spans below the bump are tiled by spans of blocks and runs (R2 in
 * shalloc_layout.h); the rest, the wilderness, has never been used since
 * the region was made, or was given back to it.  A request for n spans
 * (a run of n, or one span to cut into blocks of a class) is served:
 *
 *   1. from a free run, found in its bins (shalloc_bins.c) in a few
 *      instructions, whatever the size of the region; the run found is
 *      split and the rest goes back to the bin of its length;
 *   2. else from the wilderness, by moving the bump;
 *   3. else not at all (ENOMEM), and nothing has changed.
 *
 * A run freed merges at once with a free run just before it (found through
 * the TAIL word of that run's last span) and one just after it; a free run
 * that ends at the bump goes back to the wilderness.  So two free runs are
 * never neighbours, and the largest free run is the largest block the
 * region can still give.
 *
 * Everything here runs under the region lock.  Crash safety rests on the
 * span table alone, not on the bins (the repair rebuilds them): every
 * change is ordered so that a walk from span 0 over the table always tiles
 * the claimed spans, and the one store that makes a change happen is the
 * store of a run's first word.  A process killed before it leaves the old
 * state (plus words inside a free run that the repair clears); killed
 * after it, the new state.  A span taken but not yet described (killed
 * between moving the bump, or taking a span for blocks, and writing its
 * word) has no head at all: the repair gives it back.
 */
#include "shalloc_internal.h"

#include <string.h>

/* ---- the span table --------------------------------------------------------- */

static void set_word(struct shalloc *h, uint64_t span, uint64_t w)
{
    atomic_store_explicit(&span_table(h)[span], w, memory_order_release);
}

/* Clear a word that must be NONE, without dirtying a page that is already. */
static void clear_word(struct shalloc *h, uint64_t span)
{
    if (span_load(h, span) != 0)
        set_word(h, span, 0);
}

/* A free run of n spans at span: its tail, then its head (so that a
 * remainder inside a run being split is complete before the split). */
static void describe_free_run(struct shalloc *h, uint64_t span, uint64_t n)
{
    if (n > 1)
        set_word(h, span + n - 1, tail_word(n));
    set_word(h, span, run_word(KIND_FREE, 0, n));
}

/* ---- taking spans ------------------------------------------------------------ */

/* n spans from the wilderness: the bump moves, then the head is written.
 * The spans there must have no words (R2): a word is garbage. */
static int take_from_wilderness(struct shalloc *h, uint64_t n, uint64_t head, uint64_t *span)
{
    uint64_t claimed = spans_claimed(h);

    if (n > span_count(h) - claimed)
        return 0;
    if (span_load(h, claimed) != 0 || span_load(h, claimed + n - 1) != 0)
        return shalloc_corrupt(h, "R2: a span past the bump is described",
                               TABLE_OFFSET +
                                   8 * (span_load(h, claimed) ? claimed : claimed + n - 1));
    /* The claim: the spans below the bump have no head until the next
     * store, and the repair would give them back. */
    atomic_store_explicit(&region_of(h)->bump, (claimed + n) * SHALLOC_SPAN_BYTES,
                          memory_order_release);
    if (head != 0)
        set_word(h, claimed, head);
    *span = claimed;
    return 1;
}

/* Can the rest of a split (rest spans of the free run at span) join its
 * bin?  Its head must be a free run of the bin, unless it is the run being
 * split, whose links were checked (its next becomes the head). */
static bool rest_bin_sound(struct shalloc *h, uint64_t span, uint64_t rest)
{
    unsigned b = shalloc_run_bin(rest);

    return region_of(h)->run_head[b] == span_offset(h, span) || shalloc_bin_head_sound(h, b);
}

int shalloc_take_spans_locked(struct shalloc *h, uint64_t n, uint64_t head, uint64_t *span)
{
    uint64_t m;
    int found;

    shalloc_assert(shalloc_region_lock_held(h));
    if ((found = shalloc_find_free_run(h, n, span, &m)) < 0)
        return -1;
    if (found == 0) {
        found = take_from_wilderness(h, n, head, span);
        if (found != 1)
            return found;
    } else {
        if (!shalloc_links_sound(h, *span, m) || (m > n && !rest_bin_sound(h, *span, m - n)))
            return -1; /* checked before anything changes */
        shalloc_bin_remove_locked(h, *span, m);
        if (m > n) { /* the rest stays free: described before the split happens */
            describe_free_run(h, *span + n, m - n);
            shalloc_bin_insert_locked(h, *span + n, m - n);
        }
        set_word(h, *span, head); /* the split: from here on, the first n are taken */
    }
    if (n > 1)
        set_word(h, *span + n - 1, tail_word(n));
    return 1;
}

int shalloc_alloc_run_locked(struct shalloc *h, uint64_t n, unsigned slot, uint64_t *span)
{
    shalloc_assert(shalloc_region_lock_held(h));
    shalloc_assert(n >= 1 && slot < SHALLOC_SLOTS);
    return shalloc_take_spans_locked(h, n, run_word(KIND_USED, slot, n), span);
}

/* ---- freeing runs -------------------------------------------------------------- */

/* Two free runs side by side, a (an spans) then b (bn spans), become one:
 * a's head names both (the merge), then b's head and a's tail go, then
 * the new tail. */
static void merge_free_runs(struct shalloc *h, uint64_t a, uint64_t an, uint64_t bn)
{
    set_word(h, a, run_word(KIND_FREE, 0, an + bn));
    set_word(h, a + an, 0);
    if (an > 1)
        set_word(h, a + an - 1, 0);
    set_word(h, a + an + bn - 1, tail_word(an + bn));
}

/* The free run that ends just before span, or NO_SPAN (*n: its spans). */
static uint64_t free_run_before(const struct shalloc *h, uint64_t span, uint64_t *n)
{
    if (span == 0)
        return NO_SPAN;
    uint64_t w = span_load(h, span - 1);
    *n = word_type(w) == SPAN_TAIL ? word_spans(w) : word_type(w) == SPAN_RUN ? 1 : 0;
    if (*n == 0 || *n > span)
        return NO_SPAN;
    uint64_t first = span - *n, head = span_load(h, first);
    if (head != run_word(KIND_FREE, 0, *n))
        return NO_SPAN; /* in use, or not a run */
    return first;
}

/* The free run that starts just after a run ending at end (below the
 * bump), or NO_SPAN (*n: its spans). */
static uint64_t free_run_after(const struct shalloc *h, uint64_t end, uint64_t claimed, uint64_t *n)
{
    if (end >= claimed)
        return NO_SPAN;
    uint64_t w = span_load(h, end);
    *n = word_spans(w);
    return w == run_word(KIND_FREE, 0, *n) && *n >= 1 && *n <= claimed - end ? end : NO_SPAN;
}

/* A free run that ends at the bump: its words go, then the bump comes
 * down over it.  Killed in between, its spans have no head: the repair
 * gives them back, which is where they were going. */
static void give_to_wilderness(struct shalloc *h, uint64_t span, uint64_t n)
{
    if (n > 1)
        set_word(h, span + n - 1, 0);
    set_word(h, span, 0);
    atomic_store_explicit(&region_of(h)->bump, span * SHALLOC_SPAN_BYTES, memory_order_release);
}

/* Everything the free will read, checked before it writes anything: the
 * links of the neighbours it takes off their bins, and the head of the
 * bin it goes to.  false: corrupt (reported). */
static bool free_is_sound(struct shalloc *h, uint64_t span, uint64_t n, uint64_t after,
                          uint64_t k_after, uint64_t before, uint64_t k_before)
{
    uint64_t first = before != NO_SPAN ? before : span;
    uint64_t total = n + (after != NO_SPAN ? k_after : 0) + (before != NO_SPAN ? k_before : 0);

    if (after != NO_SPAN && !shalloc_links_sound(h, after, k_after))
        return false;
    if (before != NO_SPAN && !shalloc_links_sound(h, before, k_before))
        return false;
    if (first + total == spans_claimed(h))
        return true; /* back to the wilderness: no bin */
    uint64_t head = region_of(h)->run_head[shalloc_run_bin(total)];
    bool removed = (after != NO_SPAN && head == span_offset(h, after)) ||
                   (before != NO_SPAN && head == span_offset(h, before));
    return removed ||
           shalloc_bin_head_sound(h, shalloc_run_bin(total)); /* a removed one's links: checked */
}

int shalloc_free_run_locked(struct shalloc *h, uint64_t span)
{
    uint64_t n = word_spans(span_load(h, span)), claimed = spans_claimed(h), k_after = 0;
    uint64_t k_before = 0, after = free_run_after(h, span + n, claimed, &k_after);
    uint64_t before = free_run_before(h, span, &k_before);

    shalloc_assert(shalloc_region_lock_held(h));
    shalloc_assert(word_type(span_load(h, span)) == SPAN_RUN &&
                   word_kind(span_load(h, span)) != KIND_FREE);
    if (!free_is_sound(h, span, n, after, k_after, before, k_before))
        return -1;
    set_word(h, span, run_word(KIND_FREE, 0, n)); /* the free itself */
    if (after != NO_SPAN) {
        shalloc_bin_remove_locked(h, after, k_after);
        merge_free_runs(h, span, n, k_after);
        n += k_after;
    }
    if (before != NO_SPAN) {
        shalloc_bin_remove_locked(h, before, k_before);
        merge_free_runs(h, before, k_before, n);
        span = before;
        n += k_before;
    }
    if (span + n == claimed)
        give_to_wilderness(h, span, n);
    else
        shalloc_bin_insert_locked(h, span, n);
    return 0;
}

/* ---- the repair ----------------------------------------------------------------- */

/* A stretch of free spans found by the walk, to be made one free run. */
struct stretch {
    uint64_t first, spans; /* spans == 0: none open */
};

/* Close the stretch: one free run with one head, one tail and nothing in
 * between (written head first, so a repair killed here is repaired again). */
static void close_stretch(struct shalloc *h, struct stretch *s)
{
    if (s->spans == 0)
        return;
    set_word(h, s->first, run_word(KIND_FREE, 0, s->spans));
    for (uint64_t i = 1; i + 1 < s->spans; i++)
        clear_word(h, s->first + i);
    if (s->spans > 1)
        set_word(h, s->first + s->spans - 1, tail_word(s->spans));
    shalloc_bin_insert_locked(h, s->first, s->spans);
    s->spans = 0;
}

/* What a walk position may hold after a crash: a span of blocks, a run's
 * head (free, cached or in use), or nothing (a span a dead lock holder had
 * taken).  The spans it covers; 0: garbage. */
static uint64_t headed_spans(uint64_t w, uint64_t span, uint64_t claimed)
{
    uint64_t n = word_spans(w);

    if (w == 0 || (word_type(w) == SPAN_SMALL && w == small_word(word_class(w)) &&
                   word_class(w) < SHALLOC_CLASSES))
        return 1;
    if (word_type(w) != SPAN_RUN || n < 1 || n > claimed - span)
        return 0;
    if (word_kind(w) == KIND_FREE ? w == run_word(KIND_FREE, 0, n)
                                  : (word_kind(w) == KIND_USED || word_kind(w) == KIND_CACHED) &&
                                        w == run_word(word_kind(w), word_slot(w), n))
        return n;
    return 0;
}

/* The words inside a run that a crash can leave: in a free run, the heads
 * and tails of the runs it was made of (a merge, a split cut short); in a
 * run in use, nothing but its tail, written or not yet. */
static bool inside_sound(const struct shalloc *h, uint64_t span, uint64_t n, bool free_run)
{
    for (uint64_t i = 1; i < n; i++) {
        uint64_t w = span_load(h, span + i);
        bool ok = w == 0 || (free_run && (word_type(w) == SPAN_TAIL ||
                                          (word_type(w) == SPAN_RUN && word_kind(w) == KIND_FREE)));
        if (!ok && !(i == n - 1 && w == tail_word(n)))
            return false;
    }
    return true;
}

/* The walk the repair trusts, read only: true if every word is one a
 * crash can leave; else the first other is reported. */
static bool table_repairable(struct shalloc *h)
{
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < claimed;) {
        uint64_t w = span_load(h, span), n = headed_spans(w, span, claimed);
        if (n == 0)
            return shalloc_corrupt(h, "R2: a claimed span's word is not one a crash leaves",
                                   TABLE_OFFSET + 8 * span) == 0;
        if (n > 1 && !inside_sound(h, span, n, word_kind(w) == KIND_FREE))
            return shalloc_corrupt(h, "R2: a word inside a run is not one a crash leaves",
                                   TABLE_OFFSET + 8 * span) == 0;
        span += n;
    }
    return true;
}

/* A run in use keeps its words; only its inside and its tail are set right. */
static void tidy_used_run(struct shalloc *h, uint64_t span, uint64_t n)
{
    for (uint64_t i = 1; i + 1 < n; i++)
        clear_word(h, span + i);
    if (n > 1 && span_load(h, span + n - 1) != tail_word(n))
        set_word(h, span + n - 1, tail_word(n));
}

int shalloc_rebuild_runs_locked(struct shalloc *h)
{
    struct region *r = region_of(h);
    uint64_t claimed = spans_claimed(h);
    struct stretch s = {0, 0};

    shalloc_assert(shalloc_region_lock_held(h));
    if (!table_repairable(h))
        return -1;
    memset(r->run_head, 0, sizeof r->run_head);
    memset(r->run_bin_map, 0, sizeof r->run_bin_map);
    r->run_row_map = 0;
    r->free_runs = r->free_run_spans = 0;
    for (uint64_t span = 0; span < claimed;) {
        uint64_t w = span_load(h, span), n = headed_spans(w, span, claimed);
        if (w == 0)
            r->spans_recovered++; /* taken by a lock holder that died: free */
        if (w == 0 || (word_type(w) == SPAN_RUN && word_kind(w) == KIND_FREE)) {
            if (s.spans == 0)
                s.first = span;
            s.spans += n;
        } else {
            close_stretch(h, &s);
            if (word_type(w) == SPAN_RUN)
                tidy_used_run(h, span, n);
        }
        span += n;
    }
    if (s.spans > 0 && s.first + s.spans == claimed) {
        for (uint64_t i = 1; i < s.spans; i++)
            clear_word(h, s.first + i);
        give_to_wilderness(h, s.first, 1);
    } else {
        close_stretch(h, &s);
    }
    return 0;
}
