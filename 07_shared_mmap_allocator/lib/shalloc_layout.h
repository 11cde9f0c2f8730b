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
 *                         |   thread id; bump: span bytes claimed    |
 *                         |   (fetch-add); free list head and count  |
 *                         |   per class; statistics; roots           |
 *  4096                   +------------------------------------------+
 *                         | slot 0 | slot 1 | ...          | slot 63  |  1 KiB each
 *                         |   lock held by the owner while it lives, |
 *                         |   owner pid, op counters, and its cache: |
 *                         |   a free list head and count per class   |
 *  69632 = table_offset   +------------------------------------------+
 *                         | span table: one byte per span            |
 *                         |   0 = not formatted, c + 1 = class c     |
 *  data_offset            +------------------------------------------+
 *  (a multiple of 4096)   | span 0: 16 KiB of blocks of one class    |
 *                         | span 1                                   |
 *                         | ...  spans below data_offset + bump are  |
 *                         |      claimed; the rest are untouched     |
 *  region_bytes           +------------------------------------------+
 *
 *  a block    0       4       8               16
 *             +-------+-------+---------------+---------------------+
 *             | tag   | owner | next          | payload: class size |
 *             +-------+-------+---------------+---------------------+
 *  tag   = kind << 24 | class << 16 | slot   (one word: one store changes all three)
 *  owner = pid that last allocated the block
 *  next  = offset of the next block on the list this one is on; 0 ends a list
 *          (offset 0 is the header, so it is never a block)
 *
 * Blocks tile a span at a fixed stride (16 + class size), so a walk finds
 * every block from the span table alone, whatever the blocks contain.
 *
 * Who may write what:
 *   header lists, counters   the holder of header.lock
 *   lock_owner               the holder of header.lock: its thread id just
 *                            after taking the lock, 0 just before releasing
 *                            it (a holder that dies leaves its id; the next
 *                            one overwrites it)
 *   bump                     anyone, atomically (fetch-add)
 *   span table entry         the process that claimed the span, once
 *   slot s and its cache     the process holding slot s's lock; after its
 *                            death, whoever takes the lock (EOWNERDEAD)
 *   block tag/next           FREE: the lock holder; CACHED(s): slot s's
 *                            owner; USED: the process freeing it
 *
 * Invariants (shalloc_check verifies each one when no other process is
 * inside the allocator):
 *   R1  magic, version and layout constants are ours; the layout recomputed
 *       from region_bytes matches the header
 *   R2  spans at or past claimed = min(bump, span_count * SPAN) / SPAN have
 *       table entry 0; below it, an entry is 0 (a lost span) or a class + 1
 *   R3  every block of a formatted span of class c has a tag of class c, a
 *       known kind, and a slot < SLOTS
 *   R4  free list c: each link is a block start in a class-c span, tagged
 *       FREE; the list ends; its length is free_count[c]; every FREE block
 *       of class c is on it
 *   R5  cache list (s, c): the same with CACHED(s) and count; every
 *       CACHED(s) block is on it; a slot nobody holds has empty caches
 *   R6  blocks never overlap: spans are disjoint, blocks tile them, and R4
 *       and R5 accept only block starts, so a block is on one list at most
 *   In words: every block of a formatted span is free, cached by one live
 *   process or in use, and the only memory a crash can lose is whole
 *   unformatted spans.
 */
#ifndef SHALLOC_LAYOUT_H
#define SHALLOC_LAYOUT_H

#include "shalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SHALLOC_MAGIC   UINT64_C(0x636f6c6c61687307) /* "\x07shalloc" read little-endian */
#define SHALLOC_VERSION 2u                           /* 2: lock_owner */

enum {
    HEADER_BYTES = 4096,
    SLOT_BYTES = 1024,
    TABLE_OFFSET = HEADER_BYTES + SHALLOC_SLOTS * SLOT_BYTES,
    DATA_ALIGN = 4096,
    BLOCK_HEADER = 16,
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
};

struct region {
    _Atomic uint64_t magic; /* SHALLOC_MAGIC once the creator has finished */
    uint32_t version;       /* SHALLOC_VERSION */
    uint32_t span_bytes;    /* layout constants, checked when attaching */
    uint32_t slots, classes;
    uint64_t region_bytes;              /* the whole region */
    uint64_t data_offset;               /* first span */
    uint64_t span_count;                /* spans that fit */
    pthread_mutex_t lock;               /* robust, shared: guards everything below but bump */
    _Atomic int32_t lock_owner;         /* thread id of lock's holder, 0 when released */
    _Alignas(64) _Atomic uint64_t bump; /* span bytes claimed (may run past the end) */
    _Alignas(64) uint64_t free_head[SHALLOC_CLASSES]; /* region-wide free lists */
    uint64_t free_count[SHALLOC_CLASSES];
    uint64_t repairs;          /* EOWNERDEAD on lock, repaired */
    uint64_t lock_timeouts;    /* waits for lock that ran out (see wait_for_lock) */
    uint64_t slots_reclaimed;  /* slots of dead processes taken back */
    uint64_t blocks_reclaimed; /* blocks found in their caches */
    uint64_t retired_allocs;   /* counters of slots given up */
    uint64_t retired_frees;
    _Atomic uint64_t roots[SHALLOC_ROOTS]; /* the application's offsets */
};

_Static_assert(sizeof(struct region) <= HEADER_BYTES, "the header fits its page");
_Static_assert(sizeof(struct shalloc_slot) <= SLOT_BYTES, "a slot fits its kilobyte");
_Static_assert(sizeof(struct block) == BLOCK_HEADER, "block header size");

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

static inline struct region *region_of(const struct shalloc *h)
{
    return (struct region *)(void *)h->base;
}
/*
 * The one place an offset becomes a pointer into the region.  Offsets
 * read from the region (list heads and links, roots) were written by other
 * processes: this is where a check that one stays inside the region goes.
 */
static inline void *at_offset(const struct shalloc *h, uint64_t offset)
{
    return h->base + offset;
}
static inline struct shalloc_slot *slot_at(const struct shalloc *h, unsigned s)
{
    return (struct shalloc_slot *)(void *)(h->base + HEADER_BYTES + (size_t)s * SLOT_BYTES);
}
static inline _Atomic uint8_t *span_table(const struct shalloc *h)
{
    return (_Atomic uint8_t *)(void *)(h->base + TABLE_OFFSET);
}
static inline struct block *block_at(const struct shalloc *h, uint64_t offset)
{
    return at_offset(h, offset);
}
/* Where p is, counted from the region's base (p inside the region). */
static inline uint64_t offset_in(const struct shalloc *h, const void *p)
{
    return (uint64_t)((const char *)p - h->base);
}
/* Spans claimed so far (the bump may have run past the last span). */
static inline uint64_t spans_claimed(const struct shalloc *h)
{
    const struct region *r = region_of(h);
    uint64_t bump = atomic_load_explicit(&r->bump, memory_order_relaxed);
    uint64_t claimed = bump / SHALLOC_SPAN_BYTES;
    return claimed < r->span_count ? claimed : r->span_count;
}

#endif
