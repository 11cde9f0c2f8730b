/*
 * shalloc_bins.c - the free runs' bins (layer 4): where a free run of n
 * spans is kept, and how one long enough is found.
 *
 * Like TLSF's: one bin per length below 8 spans, then 8 bins for each power
 * of two; a bitmap per row of bins and one of rows, so that the first
 * non-empty bin whose runs all fit is found in a few instructions, however
 * large the region.  A bin is a list through the runs' first bytes (struct
 * free_run), linked both ways so that a run can leave it when it merges.
 *
 * The lists are in the region: every link is checked (a free run of the
 * bin, a span start below the bump) before it is followed or changed, and
 * a change's links are checked before its first store (links_sound,
 * head_sound), so a corrupt bin is refused, never half relinked.  Nothing
 * here is needed for crash safety: the repair rebuilds the bins from the
 * span table (shalloc_run.c).
 */
#include "shalloc_internal.h"

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

/* What next_bin returns when the row map names a row whose bins are all
 * empty: the two bitmaps disagree. */
enum { BITMAPS_DISAGREE = RUN_BINS + 1 };

/* The first non-empty bin at or after bin b, RUN_BINS if none, or
 * BITMAPS_DISAGREE. */
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
    if (row >= RUN_FL || r->run_bin_map[row] == 0)
        return BITMAPS_DISAGREE;
    return row * RUN_SL + (unsigned)__builtin_ctz(r->run_bin_map[row]);
}

static struct free_run *links_of(const struct shalloc *h, uint64_t span)
{
    return at_offset(h, span_offset(h, span));
}

/* Is off, read from a bin's list, the start of a free run of bin b?  Then
 * *span and *n say which and how long. */
static bool free_run_start(const struct shalloc *h, uint64_t off, unsigned b, uint64_t *span,
                           uint64_t *n)
{
    uint64_t rel = off - h->data_off, w;

    if (off < h->data_off || off >= h->data_end || rel % SHALLOC_SPAN_BYTES != 0)
        return false;
    *span = rel / SHALLOC_SPAN_BYTES;
    if (*span >= spans_claimed(h))
        return false;
    w = span_load(h, *span);
    *n = word_spans(w);
    return w == run_word(KIND_FREE, 0, *n) && *n >= 1 && *n <= spans_claimed(h) - *span &&
           shalloc_run_bin(*n) == b;
}

/* Can the free run at span (n spans, on its bin) be taken off its list:
 * are its links free runs of its bin, and is a run without one before it
 * the bin's head?  If not, the region is corrupt (reported). */
bool shalloc_links_sound(struct shalloc *h, uint64_t span, uint64_t n)
{
    const struct region *r = region_of(h);
    unsigned b = shalloc_run_bin(n);
    const struct free_run *fr = links_of(h, span);
    uint64_t other, len;

    if ((fr->prev != 0 && !free_run_start(h, fr->prev, b, &other, &len)) ||
        (fr->next != 0 && !free_run_start(h, fr->next, b, &other, &len)))
        return shalloc_corrupt(h, "R7: a free run's link is not a free run of its bin",
                               span_offset(h, span)) == 0;
    if (fr->prev == 0 && r->run_head[b] != span_offset(h, span))
        return shalloc_corrupt(h, "R7: a free run without a link back is not its bin's head",
                               offsetof(struct region, run_head) + b * sizeof(uint64_t)) == 0;
    return true;
}

/* Is bin b's head, read from the header, 0 or a free run of the bin? */
bool shalloc_bin_head_sound(struct shalloc *h, unsigned b)
{
    uint64_t head = region_of(h)->run_head[b], span, n;

    if (head == 0 || free_run_start(h, head, b, &span, &n))
        return true;
    return shalloc_corrupt(h, "R7: a bin's head is not a free run of its lengths",
                           offsetof(struct region, run_head) + b * sizeof(uint64_t)) == 0;
}

/* Put a free run at the head of its bin (head_sound checked first). */
void shalloc_bin_insert_locked(struct shalloc *h, uint64_t span, uint64_t n)
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

/* Take a free run off its bin's list (links_sound checked first). */
void shalloc_bin_remove_locked(struct shalloc *h, uint64_t span, uint64_t n)
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

/* At most this many runs can be free: a walk of a bin stops there. */
static uint64_t max_free_runs(const struct shalloc *h)
{
    return span_count(h) / 2 + 1;
}

/* A free run of at least n spans: the first of the first bin whose runs
 * all fit (a few instructions), else the first that fits in n's own bin
 * (a walk of that bin: only when no longer run is free).  1 and *span,
 * *len: found; 0: none; -1: a bin is corrupt (reported). */
int shalloc_find_free_run(struct shalloc *h, uint64_t n, uint64_t *span, uint64_t *len)
{
    const struct region *r = region_of(h);
    unsigned own = shalloc_run_bin(n), fit = n < RUN_SL || bin_low(own) == n ? own : own + 1;
    unsigned b = fit < RUN_BINS ? next_bin(r, fit) : RUN_BINS;

    if (b == BITMAPS_DISAGREE)
        return shalloc_corrupt(h, "R7: a row's bit says it holds runs, its bins' bits none",
                               offsetof(struct region, run_row_map));
    if (b < RUN_BINS) {
        if (!free_run_start(h, r->run_head[b], b, span, len))
            return shalloc_corrupt(h, "R7: a bin's bit says it holds runs, its head is not one",
                                   offsetof(struct region, run_head) + b * sizeof(uint64_t));
        return 1;
    }
    if (fit == own || r->run_head[own] == 0)
        return 0;
    uint64_t off = r->run_head[own], at = offsetof(struct region, run_head) + own * sizeof off;
    for (uint64_t steps = 0; off != 0; steps++) {
        if (steps == max_free_runs(h) || !free_run_start(h, off, own, span, len))
            return shalloc_corrupt(h, "R7: a bin's list is not a list of its free runs", at);
        if (*len >= n)
            return 1;
        at = off;
        off = links_of(h, *span)->next;
    }
    return 0;
}
