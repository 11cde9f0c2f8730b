/*
 * tiny.c - TINY zones: slabs of one size class.
 *
 * Every block of a TINY zone has the same size, so a free block never
 * needs merging: it goes on the zone's free list and the next request of
 * that class takes it back.  Blocks past zone->bump were never handed out;
 * the zone touches those pages only when it gets there.
 */
#include "zm_internal.h"

#include <errno.h>

static void partial_insert_locked(struct arena *a, struct zone *z)
{
    zm_assert_held(a);
    struct zone **head = &a->partial[z->size_class];

    z->prev_partial = NULL;
    z->next_partial = *head;
    if (*head != NULL)
        (*head)->prev_partial = z;
    *head = z;
}

static void partial_remove_locked(struct arena *a, struct zone *z)
{
    zm_assert_held(a);
    if (z->prev_partial != NULL)
        z->prev_partial->next_partial = z->next_partial;
    else
        a->partial[z->size_class] = z->next_partial;
    if (z->next_partial != NULL)
        z->next_partial->prev_partial = z->prev_partial;
}

/* One block of z: a freed one if any, else the next never-used one. */
static void *zone_pop_locked(struct zone *z)
{
    zm_assert_held(z->arena);
    void *ptr = z->free;

    if (ptr != NULL) {
        z->free = *(void **)ptr;
    } else {
        struct block *b = (struct block *)z->bump;
        *b = (struct block){
            .size = tiny_stride(z->size_class),
            .size_class = z->size_class,
            .magic = BLOCK_MAGIC,
        };
        z->bump += b->size;
        ptr = user_of(b);
    }
    if (++z->used == z->capacity)
        partial_remove_locked(z->arena, z); /* full: T3 */
    return ptr;
}

/*
 * Push up to n blocks of a class onto *list (linked through their first
 * word), marked CACHED (a thread cache is their next owner).  Maps a zone when the arena
 * has no room.  Returns how many it took: fewer than n only when the
 * kernel refused a zone.  a->lock held.
 */
unsigned tiny_take_locked(struct arena *a, unsigned size_class, unsigned n, void **list)
{
    zm_assert_held(a);
    void *first = NULL, **tail = &first; /* in address order: the first pop is the lowest */
    unsigned taken = 0;

    while (taken < n) {
        struct zone *z = a->partial[size_class];
        if (z == NULL) {
            z = zone_new_locked(a, ZONE_TINY, size_class);
            if (z == NULL)
                break;
            partial_insert_locked(a, z);
        }
        void *ptr = zone_pop_locked(z);
        block_of(ptr)->state = TINY_CACHED;
        *tail = ptr;
        tail = (void **)ptr;
        taken++;
    }
    *tail = *list;
    *list = first;
    return taken;
}

/* A block back onto its zone's free list; an emptied zone retires.  The
 * zone's arena's lock held. */
void tiny_give_back_locked(struct arena *a, void *ptr)
{
    struct block *b = block_of(ptr);
    struct zone *z = zone_of_tiny(b);

    zm_assert_held(a);
    zm_assert(b->magic == BLOCK_MAGIC && z->magic == ZONE_MAGIC && z->arena == a);
    b->state = TINY_FREE;
    *(void **)ptr = z->free;
    z->free = ptr;
    if (z->used-- == z->capacity)
        partial_insert_locked(a, z); /* it has room again: T3 */
    if (z->used == 0) {
        partial_remove_locked(a, z);
        zone_retire_locked(a, z);
    }
}

/* Without a cache: one block, under the arena's lock. */
void *tiny_alloc(struct arena *a, size_t size)
{
    void *ptr = NULL;

    arena_lock(a);
    unsigned got = tiny_take_locked(a, tiny_class_of(size), 1, &ptr);
    arena_unlock(a);
    if (got == 0) {
        errno = ENOMEM;
        return NULL;
    }
    block_of(ptr)->state = TINY_USED;
    block_of(ptr)->request = (uint32_t)size;
    return ptr;
}

void tiny_free(void *ptr)
{
    struct arena *a = zone_of_tiny(block_of(ptr))->arena; /* fixed while ptr is used */

    arena_lock(a);
    tiny_give_back_locked(a, ptr);
    arena_unlock(a);
}
