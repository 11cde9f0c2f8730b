/*
 * block.c - what every path ends in: allocate, check, resize and free one
 * block, by kind, without the thread cache.
 */
#include "zm_internal.h"

enum { SMALL_ALIGN_MAX = 64 * 1024 }; /* beyond this, an aligned block is LARGE */

/* size bytes at a multiple of align (a power of two, at least 16). */
void *block_alloc(size_t size, size_t align)
{
    if (size <= TINY_MAX && align <= ALIGNMENT)
        return tiny_alloc(thread_arena(), size);
    if (size <= SMALL_MAX && align <= SMALL_ALIGN_MAX)
        return small_alloc(thread_arena(), size, align);
    return large_alloc(size, align);
}

/*
 * The header of a pointer a caller hands back, after the checks that cost
 * next to nothing: alignment, magic, a state that says "in use", a size
 * that makes sense.  With ZONE_MALLOC_CHECK the pointer is first looked up
 * in every zone, so that not even its header is read unless it is ours.
 * Any failure prints one line naming the pointer and aborts.
 */
struct block *block_checked(const void *ptr, const char *op)
{
    struct block *b = block_of(ptr);

    if (((uintptr_t)ptr & (ALIGNMENT - 1)) != 0)
        zm_die_pointer(op, ptr, "not a pointer malloc returned (misaligned)");
    if (zm.options.check) {
        switch (zone_lookup(ptr)) {
        case LOOKUP_NONE:
            zm_die_pointer(op, ptr, "not a pointer malloc returned (or a freed LARGE one)");
        case LOOKUP_EMPTY_ZONE: zm_die_pointer(op, ptr, "double free: the block's zone is empty");
        case LOOKUP_CACHED_LARGE:
            zm_die_pointer(op, ptr, "double free: the LARGE block's mapping is in the cache");
        case LOOKUP_BLOCK: break;
        }
    }
    if (b->magic != BLOCK_MAGIC)
        zm_die_pointer(op, ptr, "corrupted block header (or not a pointer malloc returned)");
    switch (block_state(b)) {
    case TINY_USED:
        if (b->size_class < TINY_CLASSES && tiny_header_intact(b, b->size_class))
            return b;
        break;
    case SMALL_USED:
        if (b->size >= SMALL_MIN_BLOCK && b->size % ALIGNMENT == 0 &&
            b->size <= SMALL_ZONE_BYTES - ZONE_HEADER &&
            (b->size_class == NO_CLASS ||
             (b->size_class >= TINY_CLASSES && b->size_class < CACHE_CLASSES &&
              small_class_fits(b, b->size_class))))
            return b;
        break;
    case LARGE_USED:
        if (zone_of_large(b)->magic == ZONE_MAGIC)
            return b;
        break;
    case TINY_CACHED:
    case TINY_FREE:
    case SMALL_CACHED:
    case SMALL_FREE:
    case LARGE_CACHED: zm_die_pointer(op, ptr, "double free: the block is already free");
    default: break;
    }
    zm_die_pointer(op, ptr, "corrupted block header");
}

size_t block_usable(const struct block *b)
{
    switch (block_state(b)) {
    case TINY_USED: return class_size[b->size_class];
    case SMALL_USED: return b->size - BLOCK_HEADER;
    default: {
        const struct zone *z = zone_of_large(b);
        return z->size - ((uintptr_t)user_of(b) - (uintptr_t)z);
    }
    }
}

size_t block_request(const struct block *b)
{
    return b->state == LARGE_USED ? zone_of_large(b)->request : b->request;
}

/* Whether a fresh block's bytes are known to be zeros (calloc need not
 * write them): a LARGE block in a new mapping. */
bool block_zeroed(const struct block *b)
{
    return b->state == LARGE_USED && zone_of_large(b)->zeroed;
}

/* Free a block that block_checked accepted. */
void block_free(struct block *b)
{
    switch (b->state) {
    case TINY_USED: tiny_free(user_of(b)); break;
    case SMALL_USED: small_free(user_of(b)); break;
    default: large_free(user_of(b)); break;
    }
}

/*
 * realloc without moving the bytes: the same pointer when the block can
 * hold size bytes where it is (same TINY class; a SMALL block that splits
 * or swallows its free neighbour), a LARGE block's mremapped address, or
 * NULL when the caller must allocate, copy and free.
 */
void *block_resize(struct block *b, size_t size)
{
    void *ptr = user_of(b);

    switch (b->state) {
    case TINY_USED:
        if (size > TINY_MAX || tiny_class_of(size) != b->size_class)
            return NULL;
        b->request = (uint32_t)size;
        return ptr;
    case SMALL_USED: return size <= SMALL_MAX && small_resize(ptr, size) ? ptr : NULL;
    default: return size > SMALL_MAX ? large_resize(ptr, size) : NULL;
    }
}

/* A CACHED block of a class back to its zone in arena a.  a->lock held. */
void block_give_back_locked(struct arena *a, unsigned size_class, void *ptr)
{
    zm_assert_held(a);
    zm_assert(block_of(ptr)->magic == BLOCK_MAGIC);
    if (size_class < TINY_CLASSES)
        tiny_give_back_locked(a, ptr);
    else
        small_give_back_locked(a, ptr);
}
