/*
 * small.c - SMALL zones: blocks of any size that split and coalesce.
 *
 * The blocks of a SMALL zone tile it; each header knows its own size and
 * its left neighbour's (back), so both neighbours are one step away.
 * malloc takes a free block from the arena's bins and splits off what it
 * does not need; free merges the block with any free neighbour at once,
 * so two free blocks never touch (invariant S2): the "defragmentation".
 * A zone that becomes one free block retires, unless it is the arena's
 * last SMALL zone: a malloc/free loop then costs no system call at all.
 *
 * Bins are segregated by size, four per power of two, with a bitmap of
 * the non-empty ones.  A request first looks at the head of its own bin;
 * if that block is too small it takes the head of the first non-empty
 * bin above, whose blocks all fit: O(1), no list is ever walked.
 *
 * A request of up to SMALL_CACHE_MAX bytes is rounded up to its class
 * (size_class.c) and the block remembers the class: freed, it can then go
 * to a thread cache instead of coming back here, and serve any request of
 * its class from there (thread_cache.c).  Such a block is CACHED: not
 * merged with its neighbours, not in a bin, until the cache gives it back.
 */
#include "zm_internal.h"

#include <errno.h>

static struct small_links *links_of(struct block *b)
{
    return user_of(b);
}

/* The block after b, or NULL at the end of its zone. */
struct block *small_next_block(const struct block *b)
{
    uintptr_t next = (uintptr_t)b + b->size;
    uintptr_t end = (uintptr_t)zone_of_small(b) + SMALL_ZONE_BYTES;

    return next == end ? NULL : (struct block *)next;
}

static struct block *prev_block(struct block *b)
{
    return b->back == 0 ? NULL : (struct block *)((uintptr_t)b - b->back);
}

/* Bytes a block needs (header included) to hold request bytes. */
size_t small_block_bytes(size_t request)
{
    size_t bytes = (request + BLOCK_HEADER + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);

    return bytes < SMALL_MIN_BLOCK ? SMALL_MIN_BLOCK : bytes;
}

/* The class of a SMALL request, or NO_CLASS if caches do not keep its size. */
static unsigned small_class(size_t request)
{
    return request > TINY_MAX && request <= SMALL_CACHE_MAX ? small_class_of(request) : NO_CLASS;
}

/* What a block for request takes: its class's bytes if it has one. */
static size_t small_bytes_for(size_t request, unsigned size_class)
{
    return size_class == NO_CLASS ? small_block_bytes(request) : class_block_bytes(size_class);
}

/* Bin 0 holds the scraps under 1 KiB; then four bins per power of two. */
unsigned small_bin_of(size_t bytes)
{
    if (bytes < 1024)
        return 0;
    unsigned log = 63u - (unsigned)__builtin_clzll(bytes);
    unsigned quarter = (unsigned)(bytes >> (log - 2)) & 3u;
    return 1 + (log - 10) * 4 + quarter;
}

static void bin_insert_locked(struct arena *a, struct block *b)
{
    zm_assert_held(a);
    unsigned bin = small_bin_of(b->size);
    struct block *head = a->bins[bin];

    links_of(b)->next = head;
    links_of(b)->prev = NULL;
    if (head != NULL)
        links_of(head)->prev = b;
    a->bins[bin] = b;
    a->bin_map |= UINT64_C(1) << bin;
}

static void bin_remove_locked(struct arena *a, struct block *b)
{
    zm_assert_held(a);
    unsigned bin = small_bin_of(b->size);
    struct small_links *l = links_of(b);

    if (l->prev != NULL)
        links_of(l->prev)->next = l->next;
    else
        a->bins[bin] = l->next;
    if (l->next != NULL)
        links_of(l->next)->prev = l->prev;
    if (a->bins[bin] == NULL)
        a->bin_map &= ~(UINT64_C(1) << bin);
}

/* A free block of at least bytes, or NULL: the head of its own bin if it
 * fits, else the head of the first non-empty bin above. */
static struct block *bin_find_locked(struct arena *a, size_t bytes)
{
    zm_assert_held(a);
    unsigned bin = small_bin_of(bytes);
    uint64_t above;

    if (a->bins[bin] != NULL && a->bins[bin]->size >= bytes)
        return a->bins[bin];
    above = a->bin_map & ~((UINT64_C(2) << bin) - 1);
    return above == 0 ? NULL : a->bins[__builtin_ctzll(above)];
}

/* A new zone is one free block, not yet in a bin. */
static struct block *zone_first_block_locked(struct arena *a)
{
    zm_assert_held(a);
    struct zone *z = zone_new_locked(a, ZONE_SMALL, 0);
    struct block *b;

    if (z == NULL)
        return NULL;
    a->small_zones++;
    b = (struct block *)((uintptr_t)z + ZONE_HEADER);
    *b = (struct block){
        .size = (uint32_t)(SMALL_ZONE_BYTES - ZONE_HEADER),
        .size_class = NO_CLASS,
        .state = SMALL_FREE,
        .magic = BLOCK_MAGIC,
    };
    return b;
}

/*
 * b becomes free: merge it with a free right neighbour and a free left
 * one (S2), then bin it, or retire the zone if the block now covers all
 * of it.  a->lock held.
 */
static void small_release_locked(struct arena *a, struct block *b)
{
    struct block *next = small_next_block(b), *prev = prev_block(b);

    zm_assert_held(a);
    zm_assert(b->magic == BLOCK_MAGIC && zone_of_small(b)->magic == ZONE_MAGIC);
    block_set_state(b, SMALL_FREE);
    b->size_class = NO_CLASS;
    if (next != NULL && block_state(next) == SMALL_FREE) {
        bin_remove_locked(a, next);
        b->size += next->size;
    }
    if (prev != NULL && block_state(prev) == SMALL_FREE) {
        bin_remove_locked(a, prev);
        prev->size += b->size;
        b = prev;
    }
    next = small_next_block(b);
    if (next != NULL)
        next->back = b->size; /* S1 */
    if (b->back == 0 && next == NULL && a->small_zones > 1) {
        a->small_zones--; /* empty, and not the arena's last: retire it */
        zone_retire_locked(a, zone_of_small(b));
    } else {
        bin_insert_locked(a, b);
    }
}

/* Cut b down to bytes if what is left makes a block; the rest is freed
 * (and merges with a free right neighbour).  a->lock held. */
static void split_locked(struct arena *a, struct block *b, size_t bytes)
{
    zm_assert_held(a);
    if (b->size - bytes < SMALL_MIN_BLOCK)
        return;
    struct block *rest = (struct block *)((uintptr_t)b + bytes);
    struct block *next = small_next_block(b);
    *rest = (struct block){
        .size = (uint32_t)(b->size - bytes),
        .back = (uint32_t)bytes,
        .size_class = NO_CLASS,
        .magic = BLOCK_MAGIC,
    };
    b->size = (uint32_t)bytes;
    if (next != NULL)
        next->back = rest->size;
    small_release_locked(a, rest);
}

/*
 * For an alignment above 16: move the start of free block b forward to the
 * first aligned place that leaves a whole block in front; the front part
 * stays free.  The caller asked bin_find for align + SMALL_MIN_BLOCK more
 * than it needs, which is always enough.  a->lock held.
 */
static struct block *align_front_locked(struct arena *a, struct block *b, size_t align)
{
    zm_assert_held(a);
    uintptr_t user = (uintptr_t)user_of(b);
    uintptr_t aligned = (user + align - 1) & ~(uintptr_t)(align - 1);

    if (aligned == user)
        return b;
    while (aligned - user < SMALL_MIN_BLOCK)
        aligned += align;
    struct block *front = b, *next = small_next_block(b);
    uint32_t front_bytes = (uint32_t)(aligned - user);
    b = block_of((void *)aligned);
    *b = (struct block){
        .size = front->size - front_bytes,
        .back = front_bytes,
        .size_class = NO_CLASS,
        .magic = BLOCK_MAGIC,
    };
    front->size = front_bytes;
    if (next != NULL)
        next->back = b->size;
    bin_insert_locked(a, front); /* its left neighbour was not free (S2) */
    return b;
}

/* A block of at least bytes, out of the bins (or a new zone), split to
 * size, and marked state.  NULL if the kernel has no zone for it.
 * a->lock held. */
static struct block *carve_locked(struct arena *a, size_t bytes, size_t align, uint8_t state)
{
    size_t search = align > ALIGNMENT ? bytes + align + SMALL_MIN_BLOCK : bytes;
    struct block *b;

    zm_assert_held(a);
    b = bin_find_locked(a, search);
    if (b != NULL)
        bin_remove_locked(a, b);
    else
        b = zone_first_block_locked(a);
    if (b == NULL)
        return NULL;
    if (align > ALIGNMENT)
        b = align_front_locked(a, b, align);
    block_set_state(b, state);
    split_locked(a, b, bytes);
    return b;
}

/*
 * Push up to n blocks of a SMALL class onto *list (linked through their
 * first word), marked CACHED: a thread cache is their next owner.  Returns
 * how many it made: fewer than n only when the kernel refused a zone.
 * a->lock held.
 */
unsigned small_take_locked(struct arena *a, unsigned size_class, unsigned n, void **list)
{
    void *first = NULL, **tail = &first; /* in address order: the first pop is the lowest */
    unsigned taken = 0;

    zm_assert_held(a);
    zm_assert(size_class >= TINY_CLASSES && size_class < CACHE_CLASSES);
    for (; taken < n; taken++) {
        struct block *b = carve_locked(a, class_block_bytes(size_class), ALIGNMENT, SMALL_CACHED);
        if (b == NULL)
            break;
        b->size_class = (uint8_t)size_class;
        *tail = user_of(b);
        tail = (void **)user_of(b);
    }
    *tail = *list;
    *list = first;
    return taken;
}

/* A CACHED block back into its zone, merged with free neighbours (a
 * zone it empties retires).  a->lock held. */
void small_give_back_locked(struct arena *a, void *ptr)
{
    zm_assert_held(a);
    zm_assert(block_of(ptr)->state == SMALL_CACHED && zone_of_small(block_of(ptr))->arena == a);
    small_release_locked(a, block_of(ptr));
}

void *small_alloc(struct arena *a, size_t size, size_t align)
{
    unsigned size_class = small_class(size);
    struct block *b;

    arena_lock(a);
    b = carve_locked(a, small_bytes_for(size, size_class), align, SMALL_USED);
    if (b != NULL) {
        b->size_class = (uint8_t)size_class;
        b->request = (uint32_t)size;
    }
    arena_unlock(a);
    if (b == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    return user_of(b);
}

void small_free(void *ptr)
{
    struct block *b = block_of(ptr);
    struct arena *a = zone_of_small(b)->arena; /* fixed while ptr is used */

    arena_lock(a);
    small_release_locked(a, b);
    arena_unlock(a);
}

/*
 * realloc in place: the same class needs nothing; shrink by splitting the
 * tail off, grow by swallowing a free right neighbour that is big enough.
 * Returns false if the block cannot hold size bytes where it is - without
 * taking the lock when its neighbour is plainly not free (a block from a
 * thread cache usually sits between blocks in use).
 */
bool small_resize(void *ptr, size_t size)
{
    struct block *b = block_of(ptr), *next;
    struct arena *a = zone_of_small(b)->arena;
    unsigned size_class = small_class(size);
    size_t bytes = small_bytes_for(size, size_class);
    bool done = true;

    if (size_class != NO_CLASS && size_class == b->size_class) {
        b->request = (uint32_t)size;
        return true;
    }
    next = small_next_block(b);
    if (bytes > b->size && (next == NULL || block_state(next) != SMALL_FREE))
        return false; /* a hint only: rechecked under the lock if it says free */
    arena_lock(a);
    next = small_next_block(b);
    if (bytes > b->size) {
        if (next != NULL && block_state(next) == SMALL_FREE && b->size + next->size >= bytes) {
            bin_remove_locked(a, next);
            b->size += next->size;
            next = small_next_block(b);
            if (next != NULL)
                next->back = b->size;
        } else {
            done = false;
        }
    }
    if (done) {
        split_locked(a, b, bytes);
        b->size_class = (uint8_t)size_class; /* S4: split to the class's bytes, or none */
        b->request = (uint32_t)size;
    }
    arena_unlock(a);
    return done;
}
