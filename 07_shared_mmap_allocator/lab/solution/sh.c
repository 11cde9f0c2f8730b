/*
 * sh.c - an allocator inside a shared region (sh.h): the shared allocator
 * lab's reference solution.  First fit on an explicit free list with
 * boundary tags, a top of never-used space to cut new blocks from, one
 * robust process-shared mutex, and a repair by walking the blocks.
 *
 * The region:
 *
 *   0            FIRST_BLOCK                                top         size
 *   +------------+--------+--------+-----+--------+---------+------------+
 *   | heap       | block  | block  | ... | block  | block   | never used |
 *   +------------+--------+--------+-----+--------+---------+------------+
 *
 *   offset        meaning
 *   0             struct heap: magic, size, top, free list head, the lock
 *   FIRST_BLOCK   the first block's header (8 mod 16: payloads 16-aligned)
 *   top           the end of the blocks; [top, size) was never handed out
 *
 * A block at offset b, of length n (a multiple of 16, at least MIN_BLOCK):
 *
 *   b      header: n | USED | PREV_USED (the block before is in use)
 *   b+8    payload (what sh_alloc returns: b + 8)
 *          a free block keeps here the offsets of the next and previous
 *          free blocks, and a copy of its header (the footer) in its last
 *          8 bytes, where the block after it finds its start
 *
 * Every link is an offset from the region's start (0: none), never an
 * address: each process maps the region where it likes.
 *
 * Invariants, whenever the lock is free:
 *   - the blocks tile [FIRST_BLOCK, top): each header's length leads to
 *     the next header;
 *   - a block is on the free list if and only if its USED bit is clear,
 *     and no two free blocks are neighbours (sh_free merges at once);
 *   - the block before top is in use (a free one goes back to the top);
 *   - each PREV_USED bit is the USED bit of the block before.
 *
 * Crashes: a process may be killed anywhere, holding the lock or not.
 * The headers are written so that the first invariant holds after every
 * single store (a block grows, shrinks or changes state by one 8-byte
 * store of its header; top moves by one store), so the next locker, told
 * EOWNERDEAD, can rebuild everything else - the free list, the footers,
 * the PREV_USED bits, merges not yet made - by walking the headers
 * (rebuild_locked).  A block being allocated when its process died may be
 * lost (left in use, nobody's); it is never handed out twice.
 */
#include "sh.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

enum {
    WORD = 8,
    FIRST_BLOCK = 120, /* after struct heap; 8 mod 16 */
    MIN_BLOCK = 32,    /* header, two links, footer */
};
enum { USED = 1, PREV_USED = 2, FLAGS = 15 };

static const uint64_t SH_MAGIC = 0x73686c6162303701u; /* "shlab07" */

struct heap {
    uint64_t magic;       /* SH_MAGIC once formatted */
    uint64_t size;        /* the region's bytes */
    uint64_t top;         /* where the never-used space starts */
    uint64_t free_head;   /* the first free block, 0 if none */
    pthread_mutex_t lock; /* process-shared, robust: guards all of the region */
};
_Static_assert(sizeof(struct heap) <= FIRST_BLOCK, "the heap's header fits before the blocks");
_Static_assert(FIRST_BLOCK % 16 == WORD, "payloads are 16-byte aligned");

/* ------------------------------------------------------------- blocks */

/* The 8-byte word at offset off of the region. */
static uint64_t *word_at(void *region, uint64_t off)
{
    return (uint64_t *)(void *)((char *)region + off);
}

static uint64_t header(void *region, uint64_t b)
{
    return *word_at(region, b);
}

static void set_header(void *region, uint64_t b, uint64_t value)
{
    *word_at(region, b) = value;
}

static uint64_t length_of(uint64_t header_word)
{
    return header_word & ~(uint64_t)FLAGS;
}

/* A free block's footer: the copy of its length its successor reads. */
static void set_footer(void *region, uint64_t b, uint64_t length)
{
    *word_at(region, b + length - WORD) = length;
}

/* ------------------------------------------------------ the free list */

enum { NEXT = 0, PREV = 1 };

/* A free block's link to another free block, as an offset (0: none). */
static uint64_t link_get(void *region, uint64_t b, int which)
{
    return *word_at(region, b + WORD + (uint64_t)which * WORD);
}

static void link_put(void *region, uint64_t b, int which, uint64_t target)
{
    *word_at(region, b + WORD + (uint64_t)which * WORD) = target;
}

static void push_free_locked(struct heap *h, uint64_t b)
{
    link_put(h, b, NEXT, h->free_head);
    link_put(h, b, PREV, 0);
    if (h->free_head != 0)
        link_put(h, h->free_head, PREV, b);
    h->free_head = b;
}

static void unlink_free_locked(struct heap *h, uint64_t b)
{
    uint64_t next = link_get(h, b, NEXT), prev = link_get(h, b, PREV);

    if (prev != 0)
        link_put(h, prev, NEXT, next);
    else
        h->free_head = next;
    if (next != 0)
        link_put(h, next, PREV, prev);
}

/* Make [b, b + length) one free block, on the list; the block before it
 * is in use (or there is none). */
static void make_free_locked(struct heap *h, uint64_t b, uint64_t length)
{
    set_header(h, b, length | PREV_USED);
    set_footer(h, b, length);
    push_free_locked(h, b);
}

/* ------------------------------------------------------------ repair */

/*
 * After a holder died: rebuild everything from the headers, which tile
 * [FIRST_BLOCK, top) after every store.  Neighbouring free blocks become
 * one, trailing free blocks go back to the top, and the free list, the
 * footers and the PREV_USED bits are written anew.
 */
static void rebuild_locked(struct heap *h)
{
    uint64_t run = 0; /* the start of the free blocks being gathered, 0 if none */

    h->free_head = 0;
    for (uint64_t b = FIRST_BLOCK, next; b < h->top; b = next) {
        uint64_t word = header(h, b);
        next = b + length_of(word);
        if (!(word & USED)) {
            if (run == 0)
                run = b;
            continue;
        }
        bool prev_free = run != 0;
        if (prev_free)
            make_free_locked(h, run, b - run);
        run = 0;
        set_header(h, b, length_of(word) | USED | (prev_free ? 0 : PREV_USED));
    }
    if (run != 0)
        h->top = run;
}

/* ---------------------------------------------------------- the lock */

static int init_lock(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    int err = pthread_mutexattr_init(&attr);

    if (err == 0)
        err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err == 0)
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (err == 0)
        err = pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return err;
}

/* Take the lock, repairing what a holder that died left; 0, or an error
 * number (ENOTRECOVERABLE: a repair that never finished). */
static int lock_heap(struct heap *h)
{
    int err = pthread_mutex_lock(&h->lock);

    if (err == EOWNERDEAD) {
        rebuild_locked(h);
        err = pthread_mutex_consistent(&h->lock);
    }
    return err;
}

static void unlock_heap(struct heap *h)
{
    pthread_mutex_unlock(&h->lock);
}

/* -------------------------------------------------------- allocating */

/* The bytes a block needs for a payload of size. */
static uint64_t block_length(size_t size)
{
    uint64_t length = ((uint64_t)size + WORD + 15) & ~(uint64_t)15;

    return length < MIN_BLOCK ? MIN_BLOCK : length;
}

/* First fit on the free list: take a block, split off what is left. */
static uint64_t take_free_block_locked(struct heap *h, uint64_t need)
{
    uint64_t b = h->free_head;

    while (b != 0 && length_of(header(h, b)) < need)
        b = link_get(h, b, NEXT);
    if (b == 0)
        return 0;
    sh_hook(SH_HOOK_CHOSEN);
    uint64_t length = length_of(header(h, b));
    unlink_free_locked(h, b);
    if (length - need >= MIN_BLOCK) {
        /* the rest first: until b's header shrinks, it lies inside b */
        set_header(h, b + need, (length - need) | PREV_USED);
        set_footer(h, b + need, length - need);
        sh_hook(SH_HOOK_UPDATING);
        set_header(h, b, need | USED | PREV_USED);
        push_free_locked(h, b + need);
    } else {
        sh_hook(SH_HOOK_UPDATING);
        set_header(h, b, length | USED | PREV_USED);
        if (b + length < h->top)
            set_header(h, b + length, header(h, b + length) | PREV_USED);
    }
    return b;
}

/* Cut a block from the never-used top. */
static uint64_t take_from_top_locked(struct heap *h, uint64_t need)
{
    uint64_t b = h->top;

    if (need > h->size - b)
        return 0;
    sh_hook(SH_HOOK_CHOSEN);
    set_header(h, b, need | USED | PREV_USED); /* past top: no walk reads it yet */
    sh_hook(SH_HOOK_UPDATING);
    h->top = b + need;
    return b;
}

uint64_t sh_alloc(void *region, size_t size)
{
    struct heap *h = region;

    if (size == 0 || size > h->size) {
        errno = size == 0 ? EINVAL : ENOMEM;
        return 0;
    }
    uint64_t need = block_length(size);
    int err = lock_heap(h);
    if (err != 0) {
        errno = err;
        return 0;
    }
    sh_hook(SH_HOOK_LOCKED);
    uint64_t b = take_free_block_locked(h, need);
    if (b == 0)
        b = take_from_top_locked(h, need);
    unlock_heap(h);
    if (b == 0) {
        errno = ENOMEM;
        return 0;
    }
    return b + WORD;
}

/* ------------------------------------------------------------ freeing */

/* b is free by its header now: merge it with free neighbours, give it back
 * to the top if it ends there, or put it on the list. */
static void release_locked(struct heap *h, uint64_t b)
{
    uint64_t word = header(h, b), length = length_of(word), next = b + length;

    if (next < h->top) {
        uint64_t next_word = header(h, next);
        if (!(next_word & USED)) {
            unlink_free_locked(h, next);
            length += length_of(next_word);
        } else {
            set_header(h, next, next_word & ~(uint64_t)PREV_USED);
        }
    }
    if (!(word & PREV_USED)) {
        uint64_t prev = b - *word_at(h, b - WORD); /* the footer before us */
        unlink_free_locked(h, prev);
        length += b - prev;
        b = prev;
    }
    if (b + length == h->top)
        h->top = b; /* the block before b is in use: the invariant holds */
    else
        make_free_locked(h, b, length);
}

void sh_free(void *region, uint64_t offset)
{
    struct heap *h = region;

    if (offset < FIRST_BLOCK + WORD || offset >= h->size || lock_heap(h) != 0)
        return;
    sh_hook(SH_HOOK_LOCKED);
    uint64_t b = offset - WORD, word = header(h, b);
    if (b + length_of(word) <= h->top && (word & USED)) {
        set_header(h, b, word & ~(uint64_t)USED); /* free from now on, for a repair too */
        sh_hook(SH_HOOK_UPDATING);
        release_locked(h, b);
    }
    unlock_heap(h);
}

/* ------------------------------------------------------- init, walk */

int sh_init(void *region, size_t size)
{
    struct heap *h = region;

    if (size < SH_REGION_MIN || size % 16 != 0) {
        errno = EINVAL;
        return -1;
    }
    memset(h, 0, sizeof *h);
    h->size = size;
    h->top = FIRST_BLOCK;
    int err = init_lock(&h->lock);
    if (err != 0) {
        errno = err;
        return -1;
    }
    h->magic = SH_MAGIC;
    return 0;
}

int sh_walk(void *region, sh_visit_fn *visit, void *arg)
{
    struct heap *h = region;
    int err = lock_heap(h);

    if (err != 0) {
        errno = err;
        return -1;
    }
    visit(&(struct sh_extent){.start = 0, .length = FIRST_BLOCK, .kind = SH_META}, arg);
    for (uint64_t b = FIRST_BLOCK, length; b < h->top; b += length) {
        uint64_t word = header(h, b);
        length = length_of(word);
        bool used = word & USED;
        visit(&(struct sh_extent){b, length, used ? SH_USED : SH_FREE, used ? b + WORD : 0}, arg);
    }
    if (h->top < h->size)
        visit(&(struct sh_extent){.start = h->top, .length = h->size - h->top, .kind = SH_FREE},
              arg);
    unlock_heap(h);
    return 0;
}
