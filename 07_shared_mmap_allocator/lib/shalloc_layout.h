/*
 * shalloc_layout.h - the bytes of a shared allocator region.  Private to
 * the library (its files include it through shalloc_internal.h, which
 * says in what order they build on each other); programs use shalloc.h.
 *
 *  offset                 +------------------------------------------+
 *  0                      | header (one 4 KiB page)                  |
 *                         |   magic (written last), layout version,  |
 *                         |   sizes; lock: robust process-shared     |
 *                         |   mutex, and lock_owner: its holder's    |
 *                         |   thread id; bump: the spans claimed so  |
 *                         |   far; free list head and count per      |
 *                         |   class; free runs in bins by length;    |
 *                         |   statistics; roots                      |
 *  4096                   +------------------------------------------+
 *                         | slot 0 | slot 1 | ...          | slot 63  |  1 KiB each
 *                         |   lock held by the owner while it lives, |
 *                         |   owner pid, op counters, and its caches:|
 *                         |   a free list head and count per class,  |
 *                         |   and one per run length of 1 to 4 spans |
 *  69632 = table_offset   +------------------------------------------+
 *                         | span table: one 64-bit word per span     |
 *                         |   (what the span is: see below)          |
 *  data_offset            +------------------------------------------+
 *  (a multiple of 4096)   | span 0      16 KiB                       |
 *                         | span 1      ...                          |
 *                         |   below data_offset + bump: claimed,     |
 *                         |   each span a span of blocks of one      |
 *                         |   class, or part of a run of spans       |
 *                         | bump ->     the wilderness: never used   |
 *                         |             since the region was made,   |
 *                         |             or given back to it          |
 *  region_bytes           +------------------------------------------+
 *
 *  a span of blocks of one class (requests up to 4096 bytes):
 *             0       4       8               16
 *             +-------+-------+---------------+---------------------+
 *             | tag   | owner | next          | payload: class size | ...
 *             +-------+-------+---------------+---------------------+
 *  tag   = kind << 24 | class << 16 | slot   (one word: one store changes all three)
 *  owner = pid that last allocated the block
 *  next  = offset of the next block on the list this one is on; 0 ends a list
 *          (offset 0 is the header, so it is never a block)
 *  Blocks tile a span at a fixed stride (16 + class size), so a walk finds
 *  every block from the span table alone, whatever the blocks contain.
 *
 *  a run (requests above 4096 bytes): n whole spans, payload from the
 *  first byte of the first span (16 KiB aligned from data_offset, so no
 *  block of a class ever starts its payload there); no header in the
 *  run: the span table says what it is.  A free run keeps its links in
 *  its first 16 bytes (struct free_run); a cached one, its first 8 (the
 *  next run on its slot's list of that length).
 *
 *  span table word (one per span; struct span_word below):
 *    bits 63..62   0 NONE    no head: inside a run, past the bump, or a
 *                            span taken out of the free runs by the lock
 *                            holder while it formats it
 *                  1 SMALL   bits 7..0: the class of its blocks
 *                  2 RUN     the first span of a run: bits 61..60 its
 *                            kind (FREE, CACHED or USED), bits 59..54 the
 *                            slot that allocated it (USED) or caches it
 *                            (CACHED), 0 for FREE; bits 31..0 its spans
 *                  3 TAIL    the last span of a run of 2 or more spans:
 *                            bits 31..0 its spans (so that a free run
 *                            finds the run before it in one step)
 *
 * Who may write what:
 *   header lists, runs, counters, bump, the span table
 *                            the holder of header.lock, but for:
 *   a run's head word, USED or CACHED(s)
 *                            USED -> CACHED(s): the process in slot s,
 *                            freeing the run into its cache; CACHED(s) ->
 *                            USED: the same process, taking it out (no
 *                            lock: the lock holder only ever changes FREE
 *                            runs, and reads these as "not free")
 *   lock_owner               the holder of header.lock: its thread id just
 *                            after taking the lock, 0 just before releasing
 *                            it (a holder that dies leaves its id; the next
 *                            one overwrites it)
 *   slot s and its caches    the process holding slot s's lock; after its
 *                            death, whoever takes the lock (EOWNERDEAD)
 *   block tag/next           FREE: the lock holder; CACHED(s): slot s's
 *                            owner; USED: the process freeing it
 *
 * Invariants (shalloc_check verifies each one when no other process is
 * inside the allocator, and reports the first one broken as "Rn: what at
 * offset N"; the library's operations check the parts they read, and a
 * region that breaks one is corrupt: the call fails with EUCLEAN):
 *   R1  magic, version and layout constants are ours; the layout recomputed
 *       from region_bytes matches the header
 *   R2  the spans below claimed = bump / SPAN are tiled, from span 0, by
 *       SMALL spans and RUN heads followed by their spans; a run ends at
 *       or before claimed; inside a run every word is NONE but the last,
 *       which is TAIL(n) when n > 1; every word from claimed on is NONE
 *   R3  every block of a SMALL span of class c has a tag of class c, a
 *       known kind, and a slot < SLOTS
 *   R4  free list c: each link is a block start in a class-c span, tagged
 *       FREE; the list ends; its length is free_count[c]; every FREE block
 *       of class c is on it
 *   R5  cache list (s, c): the same with CACHED(s) and count; every
 *       CACHED(s) block is on it; a slot nobody holds has empty caches
 *       (of blocks and of runs)
 *   R6  blocks never overlap: spans are disjoint, blocks tile them, runs
 *       tile theirs (R2), and R4, R5, R7 and R9 accept only block and run
 *       starts, so a block or run is on one list at most
 *   R7  free runs: no two are neighbours and none ends at the bump (they
 *       would have merged); each is on the bin of its length, a list
 *       linked both ways through run starts; the bins' bitmaps say which
 *       bins hold runs; free_runs and free_run_spans count them
 *   R8  the region lock and every slot lock are robust shared mutexes of
 *       the kind shalloc makes, and a held one names a thread that exists
 *   R9  run cache (s, n) (runs of n spans, n = 1 .. RUN_CACHE_LENGTHS):
 *       each link is the first span of a run whose word is CACHED(s) of n
 *       spans; the list ends; its length is its count; every CACHED(s)
 *       run of n spans is on it; the slot's run_spans adds them up, at
 *       most RUN_CACHE_MOST_SPANS
 *   In words: every block of a span of blocks is free, cached by one live
 *   process or in use, every run is free, cached by one live process or in
 *   use, and a crash loses nothing but the blocks and runs the dead
 *   process had allocated.
 */
#ifndef SHALLOC_LAYOUT_H
#define SHALLOC_LAYOUT_H

#include "shalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SHALLOC_MAGIC   UINT64_C(0x636f6c6c61687307) /* "\x07shalloc" read little-endian */
#define SHALLOC_VERSION 4u /* 2: lock_owner; 3: runs, a 64-bit span table word; 4: run caches */

enum {
    HEADER_BYTES = 4096,
    SLOT_BYTES = 1024,
    TABLE_OFFSET = HEADER_BYTES + SHALLOC_SLOTS * SLOT_BYTES,
    DATA_ALIGN = 4096,
    BLOCK_HEADER = 16,
    RUN_SL_BITS = 3,           /* free runs: 8 bins per power of two of their length, */
    RUN_SL = 1 << RUN_SL_BITS, /* exact below 8 spans (see shalloc_run.c) */
    RUN_FL = 25,               /* rows of bins: lengths up to 2^27 spans */
    RUN_BINS = RUN_FL * RUN_SL,
    /* A slot caches freed runs of 1 to RUN_CACHE_LENGTHS spans (blocks of
     * 4097 bytes to 64 KiB), RUN_CACHE_PER_LENGTH of each length at most,
     * RUN_CACHE_MOST_SPANS spans (2 MiB) in all, and no more than a
     * RUN_CACHE_REGION_SHARE-th of the region's spans; a full list gives
     * half back, an empty one takes RUN_CACHE_REFILL runs at once. */
    RUN_CACHE_LENGTHS = 4,
    RUN_CACHE_PER_LENGTH = 16,
    RUN_CACHE_REFILL = 4, /* an empty list takes this many runs under one lock */
    RUN_CACHE_MOST_SPANS = 128,
    RUN_CACHE_REGION_SHARE = 32,
};

enum block_kind {
    KIND_FREE = SHALLOC_FREE,
    KIND_CACHED = SHALLOC_CACHED,
    KIND_USED = SHALLOC_USED
};

struct block {
    _Atomic uint32_t tag;  /* kind << 24 | class << 16 | slot */
    _Atomic int32_t owner; /* pid that last allocated it */
    uint64_t next;         /* next block on its list (offset), 0 at the end */
};

/* The links of a free run, in its first bytes (its memory is free). */
struct free_run {
    uint64_t next, prev; /* offsets of the neighbouring free runs of its bin, 0: none */
};

/* A process's cache of free blocks of one class: a list through the blocks. */
struct cache {
    uint64_t head;  /* offset of the first block, 0 when empty */
    uint32_t count; /* blocks on the list */
};

struct shalloc_slot {
    pthread_mutex_t lock;    /* robust, shared; held by the owner for its lifetime */
    _Atomic int32_t pid;     /* the owner, 0 when the slot is free */
    _Atomic uint64_t allocs; /* operations by the owner (written by it alone) */
    _Atomic uint64_t frees;
    struct cache cache[SHALLOC_CLASSES];
    struct cache runs[RUN_CACHE_LENGTHS]; /* runs[n - 1]: cached runs of n spans (R9) */
    uint32_t run_spans;                   /* their spans, all lengths */
};

struct region {
    _Atomic uint64_t magic; /* SHALLOC_MAGIC once the creator has finished */
    uint32_t version;       /* SHALLOC_VERSION */
    uint32_t span_bytes;    /* layout constants, checked when attaching */
    uint32_t slots, classes;
    uint64_t region_bytes;      /* the whole region */
    uint64_t data_offset;       /* first span */
    uint64_t span_count;        /* spans that fit */
    pthread_mutex_t lock;       /* robust, shared: guards everything below */
    _Atomic int32_t lock_owner; /* thread id of lock's holder, 0 when released */
    /* Bytes of spans claimed: below, small spans and runs; from here to the
     * end, the wilderness.  Written under the lock; read without it by
     * walks that may be approximate. */
    _Alignas(64) _Atomic uint64_t bump;
    _Alignas(64) uint64_t free_head[SHALLOC_CLASSES]; /* region-wide free lists */
    uint64_t free_count[SHALLOC_CLASSES];
    uint64_t run_head[RUN_BINS];  /* free runs by length: offset of the first, 0: none */
    uint32_t run_bin_map[RUN_FL]; /* bit s of word f: bin f * RUN_SL + s holds a run */
    uint32_t run_row_map;         /* bit f: some bin of row f holds a run */
    uint64_t free_runs;           /* free runs in the bins */
    uint64_t free_run_spans;      /* and their spans */
    uint64_t repairs;             /* EOWNERDEAD on lock, repaired */
    uint64_t lock_timeouts;       /* waits for lock that ran out (see wait_for_lock) */
    uint64_t slots_reclaimed;     /* slots of dead processes taken back */
    uint64_t blocks_reclaimed;    /* blocks found in their caches */
    uint64_t runs_reclaimed;      /* and runs */
    uint64_t spans_recovered;     /* spans a dead lock holder was taking, given back */
    uint64_t retired_allocs;      /* counters of slots given up */
    uint64_t retired_frees;
    _Atomic uint64_t roots[SHALLOC_ROOTS]; /* the application's offsets */
};

_Static_assert(sizeof(struct region) <= HEADER_BYTES, "the header fits its page");
_Static_assert(sizeof(struct shalloc_slot) <= SLOT_BYTES, "a slot fits its kilobyte");
_Static_assert(sizeof(struct block) == BLOCK_HEADER, "block header size");
_Static_assert(SHALLOC_SLOTS <= 64, "a slot number fits the 6 bits of a run's word");

/* Block sizes by class. */
extern const uint16_t shalloc_class_bytes[SHALLOC_CLASSES];

static inline uint32_t make_tag(unsigned kind, unsigned cls, unsigned slot)
{
    return (uint32_t)kind << 24 | (uint32_t)cls << 16 | (uint32_t)slot;
}
static inline unsigned tag_kind(uint32_t tag)
{
    return tag >> 24;
}
static inline unsigned tag_class(uint32_t tag)
{
    return (tag >> 16) & 0xff;
}
static inline unsigned tag_slot(uint32_t tag)
{
    return tag & 0xffff;
}

static inline uint32_t class_stride(unsigned cls)
{
    return BLOCK_HEADER + shalloc_class_bytes[cls];
}
static inline uint32_t blocks_per_span(unsigned cls)
{
    return SHALLOC_SPAN_BYTES / class_stride(cls);
}

/* ---- span table words ---------------------------------------------------- */

enum span_type { SPAN_NONE = 0, SPAN_SMALL = 1, SPAN_RUN = 2, SPAN_TAIL = 3 };

static inline uint64_t small_word(unsigned cls)
{
    return (uint64_t)SPAN_SMALL << 62 | cls;
}
static inline uint64_t run_word(unsigned kind, unsigned slot, uint64_t spans)
{
    return (uint64_t)SPAN_RUN << 62 | (uint64_t)kind << 60 | (uint64_t)slot << 54 | spans;
}
static inline uint64_t tail_word(uint64_t spans)
{
    return (uint64_t)SPAN_TAIL << 62 | spans;
}
static inline enum span_type word_type(uint64_t w)
{
    return (enum span_type)(w >> 62);
}
static inline unsigned word_class(uint64_t w)
{
    return (unsigned)(w & 0xff);
}
static inline unsigned word_kind(uint64_t w)
{
    return (unsigned)(w >> 60) & 3;
}
static inline unsigned word_slot(uint64_t w)
{
    return (unsigned)(w >> 54) & 63;
}
static inline uint64_t word_spans(uint64_t w)
{
    return w & UINT32_MAX;
}

#endif
