/*
 * mm.c - the malloc lab's reference solution: segregated free lists with
 * boundary tags, in chunks taken from mmap; a big block gets a mapping of its
 * own.  One mutex makes it thread-safe.  About as simple as an allocator can
 * be and still score full marks: a student's can be faster (per-thread caches,
 * as lesson 05's zones) or tighter.
 *
 * A chunk, C bytes from one mmap (a multiple of 64 KiB):
 *
 *   +-------+--------+-------------+--------+--------------+--------+
 *   | C     | header | payload     | header | payload  ... | 0|USED |
 *   +-------+--------+-------------+--------+--------------+--------+
 *   0       8        16                                     C-8      C
 *
 *   offset   meaning
 *   0        the chunk's size, read when the chunk is given back
 *   8        the first block's header: headers sit at 8 mod 16, so payloads
 *            are 16-byte aligned
 *   C-8      the epilogue, a header of size 0 that is always in use, where
 *            merging with the next block stops
 *
 * A header is the block's size (a multiple of 16, at least MIN_BLOCK, the
 * header included) and four flags: USED, PREV_USED (the block before is in
 * use), FIRST (first block of its chunk) and MAPPED (a big block: its header
 * at offset 8 of its own mapping, its payload at 16).  A free block keeps its
 * free-list links at the start of its payload and a copy of its header (the
 * footer) in its last 8 bytes, where the block after it finds its start.
 *
 * Invariants, whenever heap.lock is free:
 *   - the blocks of a chunk tile [8, C-8): no gap, no overlap;
 *   - no two free blocks are neighbours (mm_free merges at once);
 *   - a block is on the free list of its size class if and only if it is free;
 *   - a header's PREV_USED is the USED of the block before it.
 */
#include "mm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum {
    WORD = 8,
    MIN_BLOCK = 32,        /* header, two links, footer */
    CHUNK_MIN = 64 << 10,  /* chunks are multiples of this */
    BIG_BLOCK = 256 << 10, /* blocks this size and up get their own mapping */
    PAGE = 4096,           /* what mmap rounds a length up to */
    EXACT_LIMIT = 1024,    /* up to this size, one list per 16-byte size */
    BINS = 128,            /* 63 exact lists, then one per power of two */
    FLAGS = 15,            /* the low bits of a header */
    BIG_HEADER_AT = WORD,  /* a big block's header in its mapping: payload at 16 */
};
enum { USED = 1, PREV_USED = 2, FIRST = 4, MAPPED = 8 };

struct block {
    size_t header;
    struct block *next; /* free blocks only: the size class's list */
    struct block *prev;
};

/* The allocator's whole state. */
static struct {
    pthread_mutex_t lock;     /* guards everything below and every chunk */
    struct block *bins[BINS]; /* free lists, by size class */
    uint64_t nonempty[2];     /* bit i set iff bins[i] != NULL */
    size_t chunk_bytes;       /* bytes of all chunks: the next one is a share of it */
    unsigned chunks;          /* chunks mapped */
} heap = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------- blocks */

static size_t size_of(size_t header)
{
    return header & ~(size_t)FLAGS;
}

/* The address `offset` bytes after p: all address arithmetic goes here. */
static void *shift(const void *p, ptrdiff_t offset)
{
    return (void *)((uintptr_t)p + (uintptr_t)offset);
}

static struct block *block_of(void *payload)
{
    return shift(payload, -WORD);
}

static void *payload_of(struct block *b)
{
    return shift(b, WORD);
}

static struct block *next_block(struct block *b)
{
    return shift(b, (ptrdiff_t)size_of(b->header));
}

/* The block before b, found through its footer: only when b's PREV_USED is clear. */
static struct block *prev_block(struct block *b)
{
    const size_t *prev_footer = shift(b, -WORD);

    return shift(b, -(ptrdiff_t)size_of(*prev_footer));
}

static void write_footer(struct block *b)
{
    size_t *footer = shift(b, (ptrdiff_t)size_of(b->header) - WORD);

    *footer = b->header;
}

/* The block size that holds n bytes after its header, or 0 if none can. */
static size_t block_size_for(size_t n)
{
    if (n > PTRDIFF_MAX - BIG_BLOCK)
        return 0;
    size_t size = (n + WORD + 15) & ~(size_t)15;
    return size < MIN_BLOCK ? MIN_BLOCK : size;
}

static void lock(void)
{
    if (pthread_mutex_lock(&heap.lock) != 0)
        abort();
}

static void unlock(void)
{
    if (pthread_mutex_unlock(&heap.lock) != 0)
        abort();
}

/* --------------------------------------------------------- free lists */

static unsigned bin_of(size_t size)
{
    if (size <= EXACT_LIMIT)
        return (unsigned)(size / 16 - 2);
    /* 1025..2047 -> 63, 2048..4095 -> 64, ... */
    return 63 + (unsigned)(63 - __builtin_clzll(size)) - 10;
}

static void list_push(struct block *b)
{
    unsigned i = bin_of(size_of(b->header));

    b->prev = NULL;
    b->next = heap.bins[i];
    if (b->next != NULL)
        b->next->prev = b;
    heap.bins[i] = b;
    heap.nonempty[i / 64] |= UINT64_C(1) << (i % 64);
}

static void list_remove(struct block *b)
{
    unsigned i = bin_of(size_of(b->header));

    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        heap.bins[i] = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    if (heap.bins[i] == NULL)
        heap.nonempty[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* The first non-empty list at or after list i, or BINS. */
static unsigned next_nonempty(unsigned i)
{
    for (unsigned word = i / 64; word < 2; word++) {
        uint64_t bits = heap.nonempty[word];
        if (word == i / 64)
            bits &= ~UINT64_C(0) << (i % 64);
        if (bits != 0)
            return word * 64 + (unsigned)__builtin_ctzll(bits);
    }
    return BINS;
}

/* A free block of at least size bytes, off its list; NULL if there is none.
 * The exact lists make this a best fit for small sizes, a first fit above. */
static struct block *find_free_locked(size_t size)
{
    for (unsigned i = next_nonempty(bin_of(size)); i < BINS; i = next_nonempty(i + 1))
        for (struct block *b = heap.bins[i]; b != NULL; b = b->next)
            if (size_of(b->header) >= size) {
                list_remove(b);
                return b;
            }
    return NULL;
}

/* ------------------------------------------------------------- chunks */

/* Map a chunk that holds a block of size bytes, and return its one free
 * block (on no list); NULL if mmap fails.  Each chunk is at least a quarter
 * of what is mapped so far, so a big heap takes few mappings. */
static struct block *chunk_map_locked(size_t size)
{
    size_t bytes = heap.chunk_bytes / 4;

    if (bytes < size + 2 * WORD)
        bytes = size + 2 * WORD;
    bytes = (bytes + CHUNK_MIN - 1) / CHUNK_MIN * CHUNK_MIN;
    size_t *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    *base = bytes;
    struct block *b = shift(base, WORD);
    b->header = (bytes - 2 * WORD) | FIRST | PREV_USED;
    write_footer(b);
    next_block(b)->header = USED; /* the epilogue: size 0 */
    heap.chunk_bytes += bytes;
    heap.chunks++;
    return b;
}

/* Give back the chunk whose only block is the free block b. */
static void chunk_unmap_locked(struct block *b)
{
    size_t *base = shift(b, -WORD);
    size_t bytes = *base;
    int saved_errno = errno;

    heap.chunk_bytes -= bytes;
    heap.chunks--;
    munmap(base, bytes); /* cannot fail for a whole mapping of ours */
    errno = saved_errno;
}

/* ------------------------------------------------- freeing and splitting */

/* Free the block b: merge it with free neighbours, then list it, or give its
 * chunk back when the chunk is all free and not the last one. */
static void release_locked(struct block *b)
{
    size_t size = size_of(b->header), flags = b->header & (PREV_USED | FIRST);
    struct block *next = next_block(b);

    if (!(next->header & USED)) {
        list_remove(next);
        size += size_of(next->header);
    }
    if (!(flags & PREV_USED)) {
        struct block *prev = prev_block(b);
        list_remove(prev);
        size += size_of(prev->header);
        flags = prev->header & (PREV_USED | FIRST);
        b = prev;
    }
    b->header = size | flags;
    write_footer(b);
    next = next_block(b);
    next->header &= ~(size_t)PREV_USED;
    if ((flags & FIRST) && size_of(next->header) == 0 && heap.chunks > 1) {
        chunk_unmap_locked(b);
        return;
    }
    list_push(b);
}

/* Cut the used block b down to size bytes, freeing the rest when the rest
 * can be a block of its own. */
static void split_locked(struct block *b, size_t size)
{
    size_t have = size_of(b->header);

    if (have - size < MIN_BLOCK)
        return;
    b->header = size | (b->header & FLAGS);
    struct block *rest = next_block(b);
    rest->header = (have - size) | USED | PREV_USED;
    release_locked(rest);
}

/* Mark the free block b (on no list) used, trimmed to size bytes. */
static void *place_locked(struct block *b, size_t size)
{
    b->header |= USED;
    next_block(b)->header |= PREV_USED;
    split_locked(b, size);
    return payload_of(b);
}

/* Grow or shrink the used block b to size bytes where it lies: shrink by
 * splitting off the tail, grow by taking in the free block after it.
 * Returns false when it cannot. */
static bool resize_in_place_locked(struct block *b, size_t size)
{
    size_t have = size_of(b->header);
    struct block *next = next_block(b);

    if (have < size) {
        if ((next->header & USED) || have + size_of(next->header) < size)
            return false;
        list_remove(next);
        b->header += size_of(next->header);
        next_block(b)->header |= PREV_USED;
    }
    split_locked(b, size);
    return true;
}

/* ---------------------------------------------------------- big blocks */

/* The mapping length for a big block of size bytes (header included). */
static size_t big_bytes(size_t size)
{
    return (size + BIG_HEADER_AT + PAGE - 1) / PAGE * PAGE;
}

/* The block whose mapping starts at base, its header set for bytes. */
static void *big_start(void *base, size_t bytes)
{
    struct block *b = shift(base, BIG_HEADER_AT);

    b->header = bytes | MAPPED | USED;
    return payload_of(b);
}

static void *big_map(size_t size)
{
    size_t bytes = big_bytes(size);
    void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    return base == MAP_FAILED ? NULL : big_start(base, bytes); /* errno is mmap's ENOMEM */
}

static void big_unmap(struct block *b)
{
    int saved_errno = errno;

    munmap(shift(b, -BIG_HEADER_AT), size_of(b->header)); /* cannot fail: our mapping */
    errno = saved_errno;
}

/* Resize a big block to another big size: the kernel moves the pages. */
static void *big_resize(struct block *b, size_t size)
{
    size_t bytes = big_bytes(size);
    void *base = mremap(shift(b, -BIG_HEADER_AT), size_of(b->header), bytes, MREMAP_MAYMOVE);

    return base == MAP_FAILED ? NULL : big_start(base, bytes);
}

/* ----------------------------------------------------------- the API */

static void fork_prepare(void)
{
    lock(); /* the child gets the heap as no thread is changing it */
}

static void fork_parent(void)
{
    unlock();
}

static void fork_child(void)
{
    pthread_mutex_init(&heap.lock, NULL); /* the child's one thread starts afresh */
}

int mm_init(void)
{
    static bool registered;

    if (!registered && pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        return -1;
    registered = true;
    return 0;
}

void *mm_malloc(size_t n)
{
    size_t size = block_size_for(n);
    void *p = NULL;

    if (size == 0) {
        errno = ENOMEM;
        return NULL;
    }
    if (size >= BIG_BLOCK)
        return big_map(size);
    lock();
    struct block *b = find_free_locked(size);
    if (b == NULL)
        b = chunk_map_locked(size);
    if (b != NULL)
        p = place_locked(b, size);
    unlock();
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

void mm_free(void *p)
{
    if (p == NULL)
        return;
    struct block *b = block_of(p);
    lock(); /* b's PREV_USED bit belongs to whoever holds the lock */
    if (b->header & MAPPED) {
        unlock();
        big_unmap(b);
        return;
    }
    release_locked(b);
    unlock();
}

void *mm_realloc(void *p, size_t n)
{
    if (p == NULL)
        return mm_malloc(n);
    if (n == 0) {
        mm_free(p);
        return NULL;
    }
    size_t size = block_size_for(n);
    if (size == 0) {
        errno = ENOMEM;
        return NULL;
    }
    struct block *b = block_of(p);
    lock();
    size_t header = b->header;
    bool in_place = !(header & MAPPED) && resize_in_place_locked(b, size);
    unlock();
    if (in_place)
        return p;
    if ((header & MAPPED) && size >= BIG_BLOCK)
        return big_resize(b, size);
    void *moved = mm_malloc(n);
    if (moved == NULL)
        return NULL;
    size_t payload = size_of(header) - (header & MAPPED ? BIG_HEADER_AT : 0) - WORD;
    memcpy(moved, p, payload < n ? payload : n);
    mm_free(p);
    return moved;
}

void *mm_calloc(size_t count, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = mm_malloc(total);
    if (p != NULL && block_size_for(total) < BIG_BLOCK) /* a big block is a fresh mapping: zero */
        memset(p, 0, total);
    return p;
}
