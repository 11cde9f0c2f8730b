/*
 * shalloc_internal.h - what the library's files call in one another, layer
 * by layer.  Private to the library; programs use shalloc.h.
 *
 * The layers, bottom to top.  A file calls only into the layers below it
 * (and its own), so the library reads from the bottom up and has no cycle:
 *
 *  10  shalloc_workload.c  shalloc as a contender of common/workload.h, and the
 *                          measurement of worker processes on one region
 *                          (public API only; for 07's bench and bench/)
 *   9  shalloc_check.c     the checker (public)
 *      shalloc_stats.c     statistics and walks (public)
 *   8  shalloc.c           alloc and free: fast paths and slow paths (public)
 *      shalloc_region.c    regions: names, create, attach, detach, unlink,
 *                          offsets, roots (public)
 *   7  shalloc_cache.c     a process's slot and caches: binding a slot (also
 *                          after fork), refilling, carving a span, flushing
 *      shalloc_run_cache.c its cache of runs of 1 to 4 spans: taken and
 *                          put back without the lock, flushed under it
 *   6  shalloc_repair.c    the region lock as the library takes it, and the
 *                          repairs after a death: rebuilt runs and lists,
 *                          dead slots
 *   5  shalloc_run.c       runs of spans: taking spans (for a run, or to
 *                          cut into blocks), freeing and merging runs, the
 *                          wilderness, and the runs rebuilt after a death
 *   4  shalloc_bins.c      the free runs' bins: finding one long enough,
 *                          putting one in, taking one out, checked links
 *   3  shalloc_span.c      spans and blocks: the span table, walks,
 *                          formatting a span, a block's validity, the
 *                          region free lists
 *   2  shalloc_lock.c      the robust mutexes: waiting with a deadline, who
 *                          holds the region lock
 *   1  shalloc_layout.c    the geometry: size classes, the spans that fit,
 *                          the check of a header's constants
 *   0  shalloc_report.c    fatal reports: misuse, corruption, failed
 *                          assertions (write(2), then abort)
 *
 * The bytes themselves (header, slots, span table, blocks), the rules for
 * who writes what, and the invariants are in shalloc_layout.h.
 */
#ifndef SHALLOC_INTERNAL_H
#define SHALLOC_INTERNAL_H

#include "shalloc_layout.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* A slow path: out of line and cold, so the fast path it leaves stays a few
 * instructions and the compiler predicts the branch to it not taken. */
#define SHALLOC_COLD __attribute__((cold, noinline))

#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * shalloc_assert(expr): an invariant that must hold where it stands.
 * Compiled in when ASYM_ASSERT is 1 (the sanitizer builds and `make
 * DEBUG=1`); otherwise compiled out: expr is type-checked, never
 * evaluated.  On failure, one line on stderr names expr, file and line,
 * then abort.  Checks that cost a walk belong to shalloc_check, not here.
 */
#if defined(ASYM_ASSERT) && ASYM_ASSERT
#define SHALLOC_ASSERTS      1
#define shalloc_assert(expr) ((expr) ? (void)0 : shalloc_assert_failed(#expr, __FILE__, __LINE__))
#else
#define SHALLOC_ASSERTS      0
#define shalloc_assert(expr) ((void)(0 && (expr)))
#endif

/* "shalloc: what (at 0x...)" and "shalloc: assertion failed" (report.c). */
_Noreturn void shalloc_panic(const char *what, const void *where) SHALLOC_COLD;
_Noreturn void shalloc_assert_failed(const char *expr, const char *file, int line) SHALLOC_COLD;

/* ---- where things are ----------------------------------------------------- */

static inline struct region *region_of(const struct shalloc *h)
{
    return (struct region *)(void *)h->base;
}
/*
 * The one place an offset becomes a pointer into the region.  Offsets read
 * from the region (list heads and links, roots, the span table's lengths)
 * were written by other processes, so every caller checks the offset it
 * has read (in range, aligned, a block or span start of the kind it
 * expects) before it comes here; with asserts on, this checks again.
 */
static inline void *at_offset(const struct shalloc *h, uint64_t offset)
{
    shalloc_assert(offset < h->size);
    return h->base + offset;
}
static inline struct shalloc_slot *slot_at(const struct shalloc *h, unsigned s)
{
    return (struct shalloc_slot *)(void *)(h->base + HEADER_BYTES + (size_t)s * SLOT_BYTES);
}
static inline _Atomic uint64_t *span_table(const struct shalloc *h)
{
    return (_Atomic uint64_t *)(void *)(h->base + TABLE_OFFSET);
}
static inline uint64_t span_load(const struct shalloc *h, uint64_t span)
{
    return atomic_load_explicit(&span_table(h)[span], memory_order_relaxed);
}
static inline struct block *block_at(const struct shalloc *h, uint64_t offset)
{
    shalloc_assert(offset + BLOCK_HEADER <= h->size);
    return at_offset(h, offset);
}
/* Where p is, counted from the region's base (p inside the region). */
static inline uint64_t offset_in(const struct shalloc *h, const void *p)
{
    return (uint64_t)((const char *)p - h->base);
}
/* The offset of a span's first byte, and the span an offset is in. */
static inline uint64_t span_offset(const struct shalloc *h, uint64_t span)
{
    return h->data_off + span * SHALLOC_SPAN_BYTES;
}
static inline uint64_t span_of(const struct shalloc *h, uint64_t offset)
{
    return (offset - h->data_off) / SHALLOC_SPAN_BYTES;
}
/* The spans of the region, and those claimed so far (below the bump). */
static inline uint64_t span_count(const struct shalloc *h)
{
    return (h->data_end - h->data_off) / SHALLOC_SPAN_BYTES;
}
static inline uint64_t spans_claimed(const struct shalloc *h)
{
    uint64_t bump = atomic_load_explicit(&region_of(h)->bump, memory_order_relaxed);
    uint64_t claimed = bump / SHALLOC_SPAN_BYTES;
    return claimed < span_count(h) ? claimed : span_count(h);
}

/* ---- 0: fatal reports (shalloc_report.c) ------------------------------- */

/* Text built in a caller's buffer, without stdio; always NUL-terminated. */
struct shalloc_text {
    char *buf;
    size_t cap, len;
};
void shalloc_text_put(struct shalloc_text *t, const char *s);
void shalloc_text_put_u64(struct shalloc_text *t, uint64_t v);
void shalloc_text_put_hex(struct shalloc_text *t, uint64_t v);

/* "shalloc: what (at 0x...)" on stderr, then abort: a misuse by the
 * caller (a free of a pointer that is not a block in use, an unlock of a
 * lock it does not hold), never a corrupt region.
 * "shalloc: assertion failed: expr (file:line)" on stderr, then abort:
 * shalloc_assert (both declared above, for the inline helpers). */

/* The region is corrupt: "corrupt region: what at offset N" becomes the
 * handle's error, errno EUCLEAN; returns -1. */
int shalloc_corrupt(struct shalloc *h, const char *what, uint64_t offset) SHALLOC_COLD;

/* Record why a call failed: set errno, return -1. */
static inline int set_error(struct shalloc *h, int err, const char *why)
{
    h->error = why;
    errno = err;
    return -1;
}

/* ---- 1: geometry (shalloc_layout.c) ------------------------------------ */

/* Classes above 512 bytes, by (size - 1) / 128 (see class_of). */
extern const uint8_t shalloc_large_class[32];

/* The class of a request of size bytes (at most SHALLOC_MAX_SMALL). */
static inline unsigned class_of(size_t size)
{
    if (size <= 512)
        return size == 0 ? 0 : (unsigned)((size + 15) >> 4) - 1;
    return shalloc_large_class[(size - 1) >> 7];
}

/* The spans that fit in size bytes after the header, the slots and the
 * span table, and where the first one starts; 0 if not even one fits. */
uint64_t shalloc_spans_for(uint64_t size, uint64_t *data_offset);
/* NULL if the mapped region's header is ours and matches its size, or why not. */
const char *shalloc_region_problem(const struct shalloc *h);

/* ---- 2: the robust mutexes (shalloc_lock.c) ---------------------------- */

/* Make a robust, process-shared mutex in the region.  0 or an error number. */
int shalloc_mutex_init(pthread_mutex_t *m);
/* After EOWNERDEAD and the repairs: mark the mutex usable again (or the
 * next unlock leaves it unusable for good).  Panics if it cannot. */
void shalloc_mutex_consistent(pthread_mutex_t *m);
/* Unlock, or panic: a robust mutex refuses (EPERM) a thread not holding it. */
void shalloc_mutex_unlock(pthread_mutex_t *m);
/* Is m, read from the region, a mutex of the kind shalloc_mutex_init makes?
 * (glibc only; elsewhere true.)  Check before handing one to pthreads. */
bool shalloc_mutex_valid(const pthread_mutex_t *m);
/* The thread id its lock word names as its holder (0: none), or -1 where
 * that cannot be read (not glibc). */
pid_t shalloc_mutex_holder(const pthread_mutex_t *m);
/* Was m unlocked after its holder died without being repaired (so it can
 * never be taken again)?  (glibc only; elsewhere false.) */
bool shalloc_mutex_lost(const pthread_mutex_t *m);
/* Is there a thread (or process) tid on this system? */
bool shalloc_thread_exists(pid_t tid);
/* Take the region lock and record this thread as its holder.  Returns 0;
 * EOWNERDEAD: we hold it, its last holder died in the middle of something,
 * and the caller must repair and then make it consistent; or -1 with the
 * handle's error set: the lock is garbage or cannot be recovered (corrupt
 * region), or is held by another process and this is a private copy.
 * *timeouts counts the waits whose deadline passed (see wait_for_lock). */
int shalloc_region_lock_take(struct shalloc *h, unsigned *timeouts);
/* Clear the holder, then release the lock. */
void shalloc_region_lock_release(struct shalloc *h);
/* True if the calling thread holds the region lock (for shalloc_assert). */
bool shalloc_region_lock_held(const struct shalloc *h);

/* ---- 3: spans and blocks (shalloc_span.c) ------------------------------ */

/* No span: what the functions that find or take spans return for none. */
#define NO_SPAN UINT64_MAX

/* The class of a span of blocks, or -1 if it is not one. */
int shalloc_span_class(const struct shalloc *h, uint64_t span);
/* How far a walk steps from span, whose word is word: over a whole run
 * whose length fits below claimed, else one span. */
static inline uint64_t shalloc_step_spans(uint64_t span, uint64_t word, uint64_t claimed)
{
    uint64_t n = word_spans(word);

    return word_type(word) == SPAN_RUN && n >= 1 && n <= claimed - span ? n : 1;
}
/* A visit to one place of the walk over the span table: span, its word
 * and the spans it covers (a run's length, else 1). */
typedef void span_fn(struct shalloc *h, uint64_t span, uint64_t word, uint64_t spans, void *ctx);
/* Walk the claimed spans from span 0, stepping over whole runs. */
void shalloc_for_each_span(struct shalloc *h, span_fn *fn, void *ctx);
/* A visit to one block of a walk: off is the block's header. */
typedef void block_fn(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx);
/* Call fn for every block of one span of blocks, or of all of them. */
void shalloc_for_each_block_in_span(struct shalloc *h, uint64_t span, unsigned cls, block_fn *fn,
                                    void *ctx);
void shalloc_for_each_block(struct shalloc *h, block_fn *fn, void *ctx);
/* Region lock held, span just taken (its word 0): cut it into blocks of
 * class cls, tagged CACHED by slot, linked in address order, the last one
 * to tail; then say so in its table word.  Returns the first block's
 * offset; *count: how many. */
uint64_t shalloc_format_span_locked(struct shalloc *h, uint64_t span, unsigned cls, unsigned slot,
                                    uint64_t tail, uint32_t *count) SHALLOC_COLD;
/* Is off the header of a block in a span of blocks of class cls? */
bool shalloc_block_start(const struct shalloc *h, uint64_t off, unsigned cls);
/* Where a payload is, counted from the first span: what free looks at first. */
static inline uint64_t payload_rel(const struct shalloc *h, const void *p)
{
    return offset_in(h, p) - h->data_off;
}
/* Does the payload at rel start a span?  Then it can only be a run's (no
 * block's payload does): one mask, free's first test. */
static inline bool starts_span(uint64_t rel)
{
    return (rel & (SHALLOC_SPAN_BYTES - 1)) == 0;
}
/* The first span of the run in use whose payload is p; panics if p is not one. */
uint64_t shalloc_live_run(const struct shalloc *h, const void *p);
/* The header of the live (USED) block whose payload is p (rel from the
 * first span, not a span start), and its tag in *tag; panics if p is not
 * one.  Inline: free's fast path starts here. */
static inline struct block *shalloc_live_block(const struct shalloc *h, const void *p, uint64_t rel,
                                               uint32_t *tag)
{
    struct block *b;

    /* One unsigned compare: a pointer below the spans wraps to a huge value. */
    if (unlikely(rel - BLOCK_HEADER >= h->data_end - h->data_off || rel % 16 != 0))
        shalloc_panic("free of a pointer outside the region's blocks", p);
    b = (struct block *)p - 1;
    *tag = atomic_load_explicit(&b->tag, memory_order_relaxed);
    /* One compare for the kind (USED) and a class in range, read from the
     * region: the class picks the cache to push on. */
    if (unlikely((*tag >> 16) - (KIND_USED << 8) >= SHALLOC_CLASSES))
        shalloc_panic("free of a block that is not in use (double free?)", p);
    /* The kind is right: is this a tag, or bytes inside a block that look like one? */
    shalloc_assert(tag_slot(*tag) < SHALLOC_SLOTS);
    shalloc_assert(shalloc_block_start(h, offset_in(h, b), tag_class(*tag)));
    return b;
}
/* Region lock held: push one block on the region free list of its class. */
void shalloc_push_free_locked(struct shalloc *h, uint64_t off, unsigned cls);

/* ---- 4: the free runs' bins (shalloc_bins.c) -------------------------- */

/* The bin that holds free runs of n spans (n >= 1): n itself below
 * RUN_SL, then RUN_SL bins for each power of two. */
unsigned shalloc_run_bin(uint64_t n);
/* Region lock held: a free run of at least n spans.  1 and *span, *len
 * (the run found): its links are not checked yet; 0: none; -1: a bin is
 * corrupt (reported). */
int shalloc_find_free_run(struct shalloc *h, uint64_t n, uint64_t *span,
                          uint64_t *len) SHALLOC_COLD;
/* May the free run at span (n spans) leave its bin: are its links free
 * runs of its bin?  May a run join bin b: is its head one?  false: corrupt
 * (reported).  Asked before the first store of a change. */
bool shalloc_links_sound(struct shalloc *h, uint64_t span, uint64_t n) SHALLOC_COLD;
bool shalloc_bin_head_sound(struct shalloc *h, unsigned b) SHALLOC_COLD;
/* Region lock held, soundness asked first: put a free run of n spans on
 * the head of its bin, or take it off. */
void shalloc_bin_insert_locked(struct shalloc *h, uint64_t span, uint64_t n) SHALLOC_COLD;
void shalloc_bin_remove_locked(struct shalloc *h, uint64_t span, uint64_t n) SHALLOC_COLD;

/* ---- 5: runs of spans (shalloc_run.c) ---------------------------------- */

/* Region lock held: take n spans (a free run that fits, split; else the
 * wilderness) and write head as the first one's word: a run's RUN word,
 * or 0 for a span about to be cut into blocks.  1 and *span, the first;
 * 0, having changed nothing, if no free run is that long; -1 if a bin or
 * the table is corrupt (reported, and nothing changed that matters). */
int shalloc_take_spans_locked(struct shalloc *h, uint64_t n, uint64_t head,
                              uint64_t *span) SHALLOC_COLD;
/* Region lock held: a run of n spans in use, allocated through slot (as
 * shalloc_take_spans_locked). */
int shalloc_alloc_run_locked(struct shalloc *h, uint64_t n, unsigned slot,
                             uint64_t *span) SHALLOC_COLD;
/* Region lock held: free the run in use (or cached) at span, merged with its free
 * neighbours (or given back to the wilderness).  0, or -1 if what it would
 * read is corrupt (reported; nothing written). */
int shalloc_free_run_locked(struct shalloc *h, uint64_t span) SHALLOC_COLD;
/* Region lock held, after its holder died: make the span table what R2
 * says (spans without a head given back, free neighbours merged, a free
 * run at the bump given to the wilderness) and rebuild the bins.  0, or
 * -1 (nothing changed) if the table holds words no crash could leave. */
int shalloc_rebuild_runs_locked(struct shalloc *h) SHALLOC_COLD;

/* ---- 6: the lock and repairs (shalloc_repair.c) ------------------------ */

/* Take the region lock; if its holder died, repair the lists first.  0,
 * or -1 with the handle's error set (then the lock is not held): the lock
 * is garbage, or the repair found the region corrupt. */
int shalloc_lock_region(struct shalloc *h);
void shalloc_unlock_region(struct shalloc *h);
/* Region lock held, slot s's lock held by us after its owner died: give
 * its cached blocks to the region lists, its cached runs to the free runs,
 * and empty it.  Returns the blocks and runs. */
uint64_t shalloc_reclaim_slot_locked(struct shalloc *h, unsigned s);
/* Region lock held: hand a slot's counters to the header, empty its
 * caches (their blocks must already be elsewhere) and mark it free. */
void shalloc_retire_slot_locked(struct shalloc *h, unsigned s);
/* Region lock held: reclaim every slot whose owner died.  Returns how many. */
unsigned shalloc_reclaim_dead_slots_locked(struct shalloc *h);

/* ---- 7: a process's cache of runs (shalloc_run_cache.c) ---------------- */

/* The spans of runs a process may cache in h's region (0: caches off). */
uint32_t shalloc_run_cache_limit(const struct shalloc *h);
/* Our slot bound: take a run of n spans from our run cache.  1 and *span
 * (its word is USED by us now); 0: none cached (or n too long); -1: the
 * list is corrupt (reported). */
int shalloc_run_cache_take(struct shalloc *h, uint64_t n, uint64_t *span);
/* Our slot bound, the run of n spans at span in use: cache it if it is
 * short enough and there is room.  false: not cached, nothing changed. */
bool shalloc_run_cache_put(struct shalloc *h, uint64_t span, uint64_t n);
/* Region lock held, a run of n spans just taken for a request: add up to
 * RUN_CACHE_REFILL - 1 more to our list of that length (to half its room),
 * born CACHED.  Returns how many, or -1 (corrupt, reported). */
int shalloc_run_cache_refill_locked(struct shalloc *h, uint64_t n);
/* Region lock held: give all but keep runs of our list of n spans back to
 * the free runs (merged with their free neighbours); the same for every
 * length with nothing kept.  0, or -1 (corrupt, reported). */
int shalloc_run_cache_trim_locked(struct shalloc *h, uint64_t n, uint32_t keep);
int shalloc_flush_run_cache_locked(struct shalloc *h);
/* Region lock held, our run cache full: give half of every list back, then
 * put the run of n spans at span in.  1: cached; 0: not (too long, or no
 * run cache), nothing changed; -1: corrupt (reported). */
int shalloc_run_cache_put_locked(struct shalloc *h, uint64_t span, uint64_t n);

/* ---- 7: slots and caches (shalloc_cache.c) ----------------------------- */

/* Incremented in every child of fork (starts at 1): a handle's slot is
 * ours only if it was taken in the current epoch. */
extern uint64_t shalloc_fork_epoch;

static inline bool slot_current(const struct shalloc *h)
{
    return h->epoch == shalloc_fork_epoch;
}
/* Owner-only counter: a plain load and store, no locked instruction. */
static inline void count_op(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Empty a handle and give it the default cache limits. */
void shalloc_init_handle(struct shalloc *h);
/* Take a free slot (or a dead process's) for this process.  false with
 * EAGAIN when every slot is held by a live process. */
bool shalloc_bind_slot(struct shalloc *h) SHALLOC_COLD;
/* Fill the empty cache of class cls: from the region list, else a new
 * span, else the caches of dead processes (all under the region lock).
 * 1: filled; 0: the region is full; -1: corrupt (the error says where). */
int shalloc_fill_cache(struct shalloc *h, unsigned cls) SHALLOC_COLD;
/* Give all but keep blocks of a cache to the region list (takes the lock;
 * a corrupt region leaves the cache as it is, with the error set). */
void shalloc_trim_cache(struct shalloc *h, unsigned cls, uint32_t keep) SHALLOC_COLD;
/* The default cache limits, or 0 everywhere (every operation locks). */
void shalloc_set_cache_limits(struct shalloc *h, bool off);
/* If this process holds a slot through h: flush its cache and free it.
 * 0, or -1 (the region is corrupt; the slot stays held until exit). */
int shalloc_leave_slot(struct shalloc *h);

#endif
