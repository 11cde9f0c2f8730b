/*
 * shalloc_run.c - runs of spans (layer 4): every span a block needs, and
 * the blocks above 4096 bytes.
 *
 * The spans below the bump are tiled by spans of blocks and runs (R2 in
 * shalloc_layout.h); the rest, the wilderness, has never been used since
 * the region was made, or was given back to it.  A request for n spans
 * (a run of n, or one span to cut into blocks of a class) is served:
 *
 *   1. from a free run: the runs are kept in bins by length, a list per
 *      bin, like TLSF's: exact bins below 8 spans, then 8 bins for each
 *      power of two.  A bitmap per row of bins and one of rows find the
 *      first non-empty bin whose runs are all long enough in a few
 *      instructions, whatever the size of the region;  the run found is
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

/* ---- the bins ------------------------------------------------------------ */

static unsigned floor_log2(uint64_t n)
{
    return 63u - (unsigned)__builtin_clzll(n);
}

unsigned shalloc_run_bin(uint64_t n)
{
    if (n < RUN_SL)
        return (unsigned)n;
    unsigned f = floor_log2(n);
    return (f - RUN_SL_BITS + 1) * RUN_SL + (unsigned)((n >> (f - RUN_SL_BITS)) - RUN_SL);
}

/* The shortest run bin b holds. */
static uint64_t bin_low(unsigned b)
{
    unsigned row = b / RUN_SL, sl = b % RUN_SL;

    return row == 0 ? sl : (uint64_t)(RUN_SL + sl) << (row - 1);
}

/* The first non-empty bin at or after bin b, or RUN_BINS. */
static unsigned next_bin(const struct region *r, unsigned b)
{
    unsigned row = b / RUN_SL;
    uint32_t in_row = r->run_bin_map[row] & (UINT32_MAX << (b % RUN_SL));

    if (in_row != 0)
        return row * RUN_SL + (unsigned)__builtin_ctz(in_row);
    uint32_t rows = row + 1 < RUN_FL ? r->run_row_map & (UINT32_MAX << (row + 1)) : 0;
    if (rows == 0)
        return RUN_BINS;
    row = (unsigned)__builtin_ctz(rows);
    return row * RUN_SL + (unsigned)__builtin_ctz(r->run_bin_map[row]);
}

static struct free_run *links_of(const struct shalloc *h, uint64_t span)
{
    return at_offset(h, span_offset(h, span));
}

static void bin_insert_locked(struct shalloc *h, uint64_t span, uint64_t n)
{
    struct region *r = region_of(h);
    unsigned b = shalloc_run_bin(n);
    struct free_run *fr = links_of(h, span);

    shalloc_assert(shalloc_region_lock_held(h));
    fr->prev = 0;
    fr->next = r->run_head[b];
    if (fr->next != 0)
        links_of(h, span_of(h, fr->next))->prev = span_offset(h, span);
    r->run_head[b] = span_offset(h, span);
    r->run_bin_map[b / RUN_SL] |= 1u << (b % RUN_SL);
    r->run_row_map |= 1u << (b / RUN_SL);
    r->free_runs++;
    r->free_run_spans += n;
}

static void bin_remove_locked(struct shalloc *h, uint64_t span, uint64_t n)
{
    struct region *r = region_of(h);
    unsigned b = shalloc_run_bin(n);
    const struct free_run *fr = links_of(h, span);

    shalloc_assert(shalloc_region_lock_held(h));
    if (fr->prev != 0)
        links_of(h, span_of(h, fr->prev))->next = fr->next;
    else
        r->run_head[b] = fr->next;
    if (fr->next != 0)
        links_of(h, span_of(h, fr->next))->prev = fr->prev;
    if (r->run_head[b] == 0 && (r->run_bin_map[b / RUN_SL] &= ~(1u << (b % RUN_SL))) == 0)
        r->run_row_map &= ~(1u << (b / RUN_SL));
    r->free_runs--;
    r->free_run_spans -= n;
}

/* The span a free run starts at, from an offset on a bin's list. */
static uint64_t free_run_at(const struct shalloc *h, uint64_t off, uint64_t *n)
{
    uint64_t span = span_of(h, off), w = span_load(h, span);

    shalloc_assert(word_type(w) == SPAN_RUN && word_kind(w) == KIND_FREE);
    *n = word_spans(w);
    return span;
}

/* A free run of at least n spans: the first of the first bin whose runs
 * all fit (a few instructions), else the first that fits in n's own bin
 * (a walk of that bin: only when no longer run is free).  NO_SPAN if none. */
static uint64_t find_free_run(const struct shalloc *h, uint64_t n, uint64_t *len)
{
    const struct region *r = region_of(h);
    unsigned own = shalloc_run_bin(n), fit = n < RUN_SL || bin_low(own) == n ? own : own + 1;
    unsigned b = fit < RUN_BINS ? next_bin(r, fit) : RUN_BINS;

    if (b < RUN_BINS)
        return free_run_at(h, r->run_head[b], len);
    for (uint64_t off = fit == own ? 0 : r->run_head[own], steps = 0;
         off != 0 && steps < r->free_runs; steps++) {
        uint64_t span = free_run_at(h, off, len);
        if (*len >= n)
            return span;
        off = links_of(h, span)->next;
    }
    return NO_SPAN;
}

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

uint64_t shalloc_take_spans_locked(struct shalloc *h, uint64_t n, uint64_t head)
{
    struct region *r = region_of(h);
    uint64_t m, span;

    shalloc_assert(shalloc_region_lock_held(h));
    if ((span = find_free_run(h, n, &m)) != NO_SPAN) {
        bin_remove_locked(h, span, m);
        if (m > n) { /* the rest stays free: described before the split happens */
            describe_free_run(h, span + n, m - n);
            bin_insert_locked(h, span + n, m - n);
        }
        set_word(h, span, head); /* the split: from here on, the first n are taken */
    } else {
        uint64_t claimed = spans_claimed(h);
        if (n > span_count(h) - claimed)
            return NO_SPAN;
        span = claimed;
        /* The claim: the spans below the bump have no head until the next
         * store, and the repair would give them back. */
        atomic_store_explicit(&r->bump, (claimed + n) * SHALLOC_SPAN_BYTES, memory_order_release);
        if (head != 0)
            set_word(h, span, head);
    }
    if (n > 1)
        set_word(h, span + n - 1, tail_word(n));
    return span;
}

uint64_t shalloc_alloc_run_locked(struct shalloc *h, uint64_t n, unsigned slot)
{
    shalloc_assert(n >= 1 && slot < SHALLOC_SLOTS);
    return shalloc_take_spans_locked(h, n, run_word(KIND_USED, slot, n));
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

void shalloc_free_run_locked(struct shalloc *h, uint64_t span)
{
    uint64_t n = word_spans(span_load(h, span)), claimed = spans_claimed(h), k, before;

    shalloc_assert(shalloc_region_lock_held(h));
    shalloc_assert(word_type(span_load(h, span)) == SPAN_RUN &&
                   word_kind(span_load(h, span)) == KIND_USED);
    set_word(h, span, run_word(KIND_FREE, 0, n)); /* the free itself */
    if (span + n < claimed && word_type(span_load(h, span + n)) == SPAN_RUN &&
        word_kind(span_load(h, span + n)) == KIND_FREE) {
        k = word_spans(span_load(h, span + n));
        bin_remove_locked(h, span + n, k);
        merge_free_runs(h, span, n, k);
        n += k;
    }
    if ((before = free_run_before(h, span, &k)) != NO_SPAN) {
        bin_remove_locked(h, before, k);
        merge_free_runs(h, before, k, n);
        span = before;
        n += k;
    }
    if (span + n == claimed)
        give_to_wilderness(h, span, n);
    else
        bin_insert_locked(h, span, n);
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
    bin_insert_locked(h, s->first, s->spans);
    s->spans = 0;
}

/* A run in use keeps its words; only its inside and its tail are set right. */
static void tidy_used_run(struct shalloc *h, uint64_t span, uint64_t n)
{
    for (uint64_t i = 1; i + 1 < n; i++)
        clear_word(h, span + i);
    if (n > 1 && span_load(h, span + n - 1) != tail_word(n))
        set_word(h, span + n - 1, tail_word(n));
}

void shalloc_rebuild_runs_locked(struct shalloc *h)
{
    struct region *r = region_of(h);
    uint64_t claimed = spans_claimed(h);
    struct stretch s = {0, 0};

    shalloc_assert(shalloc_region_lock_held(h));
    memset(r->run_head, 0, sizeof r->run_head);
    memset(r->run_bin_map, 0, sizeof r->run_bin_map);
    r->run_row_map = 0;
    r->free_runs = r->free_run_spans = 0;
    for (uint64_t span = 0; span < claimed;) {
        uint64_t w = span_load(h, span), n = shalloc_step_spans(span, w, claimed);
        bool headed = word_type(w) == SPAN_SMALL ||
                      (word_type(w) == SPAN_RUN && n == word_spans(w) &&
                       (word_kind(w) == KIND_FREE || word_kind(w) == KIND_USED));
        if (!headed)
            r->spans_recovered++; /* taken by a lock holder that died: free */
        if (!headed || word_kind(w) == KIND_FREE) {
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
}
