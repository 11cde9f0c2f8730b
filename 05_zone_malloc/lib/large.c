/*
 * large.c - LARGE blocks: one mapping each.
 *
 * Above SMALL_MAX a block gets its own mapping, as glibc does above its
 * mmap threshold: nothing is wasted around it when it goes, and realloc
 * can grow or shrink it with mremap, which moves page-table entries
 * instead of copying bytes.  The mapping comes from the large cache if it
 * has one that fits, and goes back there at free unless it is too big for
 * the cache's limits (large_cache.c); only then is it unmapped.
 */
#include "zm_internal.h"

#include <errno.h>

struct zone *zone_of_large(const struct block *b)
{
    return (struct zone *)((uintptr_t)b - b->back);
}

static void large_link_locked(struct zone *z)
{
    zm_assert_global_held();
    z->prev = NULL;
    z->next = zm.large;
    if (zm.large != NULL)
        zm.large->prev = z;
    zm.large = z;
}

static void large_unlink_locked(struct zone *z)
{
    zm_assert_global_held();
    if (z->prev != NULL)
        z->prev->next = z->next;
    else
        zm.large = z->next;
    if (z->next != NULL)
        z->next->prev = z->prev;
}

/* Where the caller's bytes start in the mapping: after the zone and block
 * headers, rounded up to align; for alignments above a page, exactly one
 * page in (os_map places that page boundary on the alignment). */
static size_t user_offset(size_t align)
{
    if (align > zm.page)
        return zm.page;
    return (ZONE_HEADER + BLOCK_HEADER + align - 1) & ~(align - 1);
}

/* The mapping for size bytes at offset, in whole pages; 0 if it overflows
 * (or exceeds PTRDIFF_MAX, which no object may). */
static size_t mapping_bytes(size_t offset, size_t size)
{
    size_t limit = PTRDIFF_MAX - offset - zm.page;

    if (size > limit)
        return 0;
    return (offset + size + zm.page - 1) & ~(zm.page - 1);
}

void *large_alloc(size_t size, size_t align)
{
    size_t offset = user_offset(align);
    size_t bytes = mapping_bytes(offset, size);
    struct zone *z = NULL;
    bool fresh = false;

    if (bytes == 0 || bytes > PTRDIFF_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    if (align <= zm.page) /* a cached mapping is only page-aligned */
        z = large_cache_take(bytes);
    if (z == NULL) {
        z = os_map(bytes, align > zm.page ? align : zm.page, align > zm.page ? offset : 0);
        if (z == NULL)
            return NULL;
        z->size = bytes;
        fresh = true;
    }
    struct block *b = block_of((void *)((uintptr_t)z + offset));
    *z = (struct zone){
        .magic = ZONE_MAGIC,
        .kind = ZONE_LARGE,
        .zeroed = fresh,
        .size = z->size,
        .bump = (uintptr_t)b,
        .request = size,
    };
    *b = (struct block){
        .back = (uint32_t)((uintptr_t)b - (uintptr_t)z),
        .size_class = NO_CLASS,
        .state = LARGE_USED,
        .magic = BLOCK_MAGIC,
    };
    global_lock();
    large_link_locked(z);
    if (fresh)
        mapped_count_locked((int64_t)z->size, 1);
    else
        mapped_total_locked((int64_t)z->size, 1);
    global_unlock();
    return user_of(b);
}

/* Into the large cache, or unmapped if it does not keep it. */
void large_free(void *ptr)
{
    struct zone *z = zone_of_large(block_of(ptr));
    struct zone_list doomed = {NULL, NULL};

    zm_assert(block_of(ptr)->magic == BLOCK_MAGIC && z->magic == ZONE_MAGIC);
    global_lock();
    large_unlink_locked(z);
    if (!large_cache_put_locked(z, &doomed)) {
        mapped_count_locked(-(int64_t)z->size, -1);
        zone_list_push(&doomed, z);
    }
    global_unlock();
    zones_unmap(&doomed);
}

/*
 * realloc of a LARGE block to size (> SMALL_MAX): mremap the mapping to the
 * new page count.  Shrinking happens in place; growing extends in place
 * when the addresses above are free, else the kernel moves the pages.
 * Returns the (possibly moved) pointer, or NULL with ENOMEM, the block
 * untouched.
 */
void *large_resize(void *ptr, size_t size)
{
    struct block *b = block_of(ptr);
    struct zone *z = zone_of_large(b);
    size_t offset = (uintptr_t)ptr - (uintptr_t)z;
    size_t bytes = mapping_bytes(offset, size), old_bytes = z->size;
    void *moved;

    if (bytes == 0) {
        errno = ENOMEM;
        return NULL;
    }
    if (bytes == old_bytes) {
        z->request = size;
        return ptr;
    }
    /* Off the list, and out of the totals, while its address may change: a
     * fork in between gives a child in which this block (like every block of
     * a thread that is not there) is simply leaked, and the heap still adds
     * up (M1). */
    global_lock();
    large_unlink_locked(z);
    mapped_total_locked(-(int64_t)old_bytes, -1);
    global_unlock();
    moved = os_remap(z, old_bytes, bytes);
    if (moved != NULL) {
        z = moved;
        z->size = bytes;
        z->bump = (uintptr_t)z + offset - BLOCK_HEADER;
        z->request = size;
    }
    global_lock();
    large_link_locked(z);
    mapped_total_locked((int64_t)z->size, 1);
    global_unlock();
    if (moved == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    return (void *)((uintptr_t)z + offset);
}
