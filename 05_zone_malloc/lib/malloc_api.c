/*
 * malloc_api.c - the public calls, with the fast paths.
 *
 * zm_malloc and zm_free are short on purpose: for a size a thread cache
 * keeps (TINY, and SMALL up to SMALL_CACHE_MAX) they pop or push the
 * calling thread's cache stack of that class, with no lock and no atomic
 * read-modify-write.  Anything else - an empty or full stack, a larger
 * size, a thread's first call, a debug option (which keeps the cache off:
 * empty, so malloc always misses, and free does not even read the header
 * before the debug path has checked the pointer) - goes to malloc_slow or
 * free_slow, out of line below them.
 */
#include "zm_internal.h"

#include <errno.h>
#include <string.h>

static ZM_COLD void *malloc_slow(size_t size);
static ZM_COLD void free_slow(void *ptr);

/* Every call that leaves the fast path starts here: the allocator is set
 * up, and so is the calling thread (its arena, its cache, its exit hook). */
static inline struct thread_cache *enter_slow_path(void)
{
    zm_ensure_init();
    if (likely(zm_thread_cache.state != CACHE_NEW))
        return &zm_thread_cache;
    return thread_start();
}

void *zm_malloc(size_t size)
{
    void *ptr = NULL;

    if (likely(size <= TINY_MAX))
        ptr = cache_pop(&zm_thread_cache.bins[tiny_class_of(size)], TINY_USED, size);
    else if (size <= SMALL_CACHE_MAX)
        ptr = cache_pop(&zm_thread_cache.bins[small_class_of(size)], SMALL_USED, size);
    if (likely(ptr != NULL))
        return ptr;
    return malloc_slow(size);
}

/*
 * The checks a free into the cache costs: the header's magic; a state that
 * says in use, as TINY or as SMALL, and agrees with the class; and a TINY
 * block's stride and zero back (T4), or a SMALL block's size (S4), which an
 * overrun of the block before it changes.  The class is read once, into a
 * local: read again after the state's atomic load, it would be loaded again.
 */
void zm_free(void *ptr)
{
    struct thread_cache *c = &zm_thread_cache;

    if (likely(c->state == CACHE_ON && ptr != NULL && ((uintptr_t)ptr & (ALIGNMENT - 1)) == 0)) {
        struct block *b = block_of(ptr);
        unsigned size_class = b->size_class;
        uint8_t state = block_state(b);
        if (likely(b->magic == BLOCK_MAGIC)) {
            if (likely(size_class < TINY_CLASSES && state == TINY_USED &&
                       tiny_header_intact(b, size_class) && cache_has_room(&c->bins[size_class]))) {
                cache_push(&c->bins[size_class], ptr, TINY_CACHED);
                return;
            }
            if (size_class >= TINY_CLASSES && size_class < CACHE_CLASSES && state == SMALL_USED &&
                small_class_fits(b, size_class) && cache_has_room(&c->bins[size_class])) {
                cache_push(&c->bins[size_class], ptr, SMALL_CACHED);
                return;
            }
        }
    }
    if (ptr != NULL)
        free_slow(ptr);
}

/* Everything zm_malloc's fast path did not serve. */
static void *malloc_slow(size_t size)
{
    struct thread_cache *c = enter_slow_path();

    if (zm.options.debug)
        return debug_alloc("malloc", size, ALIGNMENT, false);
    if (size <= SMALL_CACHE_MAX && c->state == CACHE_ON)
        return cache_refill_pop(c, size);
    return block_alloc(size, ALIGNMENT);
}

/* Everything zm_free's fast path did not take: a full stack, a SMALL or
 * LARGE block, the debug path, or a pointer that fails the checks. */
static void free_slow(void *ptr)
{
    struct thread_cache *c = enter_slow_path();
    struct block *b;

    if (zm.options.debug) {
        debug_free(ptr);
        return;
    }
    b = block_checked(ptr, "free");
    if (b->state != LARGE_USED && b->size_class < CACHE_CLASSES && c->state == CACHE_ON)
        cache_flush_push(c, ptr);
    else
        block_free(b);
}

void *zm_calloc(size_t count, size_t size)
{
    size_t total;
    void *ptr;

    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    enter_slow_path();
    if (zm.options.debug)
        return debug_alloc("calloc", total, ALIGNMENT, true);
    ptr = zm_malloc(total);
    if (ptr != NULL && !block_zeroed(block_of(ptr))) /* a fresh mapping is zeros already */
        memset(ptr, 0, total);
    return ptr;
}

/*
 * realloc(NULL, n) is malloc(n).  realloc(p, 0) frees p and returns NULL,
 * as glibc does (C23 leaves it undefined; other C libraries return a
 * minimum-sized block instead).  On failure the old block is untouched.
 */
void *zm_realloc(void *ptr, size_t size)
{
    struct block *b;
    void *moved;

    if (ptr == NULL)
        return zm_malloc(size);
    if (size == 0) {
        zm_free(ptr);
        return NULL;
    }
    enter_slow_path();
    if (zm.options.debug)
        return debug_realloc(ptr, size);
    b = block_checked(ptr, "realloc");
    moved = block_resize(b, size);
    if (moved != NULL)
        return moved;
    moved = zm_malloc(size);
    if (moved == NULL)
        return NULL;
    size_t keep = block_usable(b);
    memcpy(moved, ptr, keep < size ? keep : size);
    zm_free(ptr);
    return moved;
}

void *zm_reallocarray(void *ptr, size_t count, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return zm_realloc(ptr, total);
}

/* The aligned calls end here, with align a power of two. */
static void *alloc_aligned(const char *op, size_t align, size_t size)
{
    enter_slow_path();
    if (align < ALIGNMENT)
        align = ALIGNMENT;
    if (zm.options.debug)
        return debug_alloc(op, size, align, false);
    if (align == ALIGNMENT)
        return zm_malloc(size);
    return block_alloc(size, align);
}

static bool power_of_two(size_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* POSIX: the alignment must be a power of two and a multiple of
 * sizeof(void *); errors are returned, not left in errno. */
int zm_posix_memalign(void **out, size_t alignment, size_t size)
{
    void *ptr;

    if (!power_of_two(alignment) || alignment % sizeof(void *) != 0)
        return EINVAL;
    ptr = alloc_aligned("posix_memalign", alignment, size);
    if (ptr == NULL)
        return ENOMEM;
    *out = ptr;
    return 0;
}

/* C17 (and glibc from 2.38): an alignment that is not a power of two is
 * an error.  glibc 2.36 rounds it up instead, as memalign does. */
void *zm_aligned_alloc(size_t alignment, size_t size)
{
    if (!power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned("aligned_alloc", alignment, size);
}

/* The old interface, as glibc keeps it: any alignment is rounded up to a
 * power of two; one above SIZE_MAX / 2 + 1 cannot be, and is EINVAL. */
void *zm_memalign(size_t alignment, size_t size)
{
    size_t align = ALIGNMENT;

    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    while (align < alignment)
        align <<= 1;
    return alloc_aligned("memalign", align, size);
}

void *zm_valloc(size_t size)
{
    zm_ensure_init();
    return alloc_aligned("valloc", zm.page, size);
}

/* valloc of size rounded up to whole pages. */
void *zm_pvalloc(size_t size)
{
    zm_ensure_init();
    if (size > SIZE_MAX - zm.page) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_aligned("pvalloc", zm.page, (size + zm.page - 1) & ~(zm.page - 1));
}

/* Everything the allocator keeps for reuse - empty zones in the pool,
 * LARGE mappings in the cache - back to the kernel now, without waiting for
 * decay.  Returns 1 if it gave any memory back, as malloc_trim does. */
int zm_trim(void)
{
    struct zone_list doomed = {NULL, NULL};

    zm_ensure_init();
    global_lock();
    pool_trim_locked(&doomed);
    large_cache_trim_locked(&doomed);
    global_unlock();
    if (doomed.head == NULL)
        return 0;
    zones_unmap(&doomed);
    return 1;
}

void zm_set_decay_ms(unsigned ms)
{
    zm_ensure_init();
    global_lock(); /* the decay time is read under it (zone_pool.c, large_cache.c) */
    zm.options.decay_ms = ms;
    global_unlock();
}

size_t zm_malloc_usable_size(void *ptr)
{
    if (ptr == NULL)
        return 0;
    zm_ensure_init();
    return block_usable(block_checked(ptr, "malloc_usable_size"));
}
