/*
 * zone_malloc.h - a malloc built on mmap'd zones, under its own names.
 *
 * The same allocator is built twice:
 *   build/libzone_malloc.a   these zm_ names only, for programs that want the
 *                            allocator next to the C library's (the lesson's
 *                            demo, its test driver, bench/alloc_bench);
 *   build/libzone_malloc.so  these names and the C library's (malloc, free,
 *                            calloc, ...), to replace it with LD_PRELOAD.
 *
 * Each zm_ function behaves as the C library function of the same name.
 * Environment, read once at the first call (see README.md):
 *   ZONE_MALLOC_STATS=1, ZONE_MALLOC_LOG=stderr|PATH, ZONE_MALLOC_SCRIBBLE=1,
 *   ZONE_MALLOC_CHECK=1, ZONE_MALLOC_NO_ATFORK=1.
 */
#ifndef ZONE_MALLOC_H
#define ZONE_MALLOC_H

#include <stddef.h>
#include <stdint.h>

void *zm_malloc(size_t size);
void zm_free(void *ptr);
void *zm_calloc(size_t count, size_t size);
void *zm_realloc(void *ptr, size_t size);
void *zm_reallocarray(void *ptr, size_t count, size_t size);
int zm_posix_memalign(void **out, size_t alignment, size_t size);
void *zm_aligned_alloc(size_t alignment, size_t size);
void *zm_memalign(size_t alignment, size_t size);
void *zm_valloc(size_t size);
void *zm_pvalloc(size_t size);
size_t zm_malloc_usable_size(void *ptr);

/* Print every zone in address order, each allocated block and the total,
 * on standard output with write(2) (flush stdio first).  The _ex variant
 * adds a hex dump of each block, the free blocks and the spare zones. */
void zm_show_alloc_mem(void);
void zm_show_alloc_mem_ex(void);
/* The same two under their classic names: exported by libzone_malloc.so. */
void show_alloc_mem(void);
void show_alloc_mem_ex(void);

/* What the allocator has done so far. */
struct zm_stats {
    uint64_t mapped_bytes;      /* bytes in zones now (spares included) */
    uint64_t peak_mapped_bytes; /* the most there ever were */
    uint64_t zones;             /* zones mapped now (TINY, SMALL, LARGE, spares) */
    uint64_t peak_zones;        /* the most there ever were */
    uint64_t zones_mapped;      /* mmap calls for zones since the start */
    uint64_t zones_unmapped;    /* munmap calls for zones since the start */
    uint64_t arenas;            /* arenas created (one per thread, up to a limit) */
    /* Counted only while a debug option is on (ZONE_MALLOC_STATS...): */
    uint64_t mallocs, frees, reallocs;
    uint64_t peak_bytes; /* the most bytes requested and not yet freed */
};
void zm_get_stats(struct zm_stats *out);

/* Validate every zone and block against the invariants in zm_internal.h.
 * Prints one line on stderr per problem; returns how many it found. */
int zm_check_heap(void);

/* Give the calling thread's cached free blocks back to their zones (so
 * that empty zones can go back to the kernel now). */
void zm_flush_thread_cache(void);

/*
 * Fork safety.  The allocator registers pthread_atfork handlers once, at
 * its first call; while they are on (the default) they take every
 * allocator lock before fork() and release them after, in parent and
 * child.  zm_set_fork_handlers(0), or ZONE_MALLOC_NO_ATFORK=1 in the
 * environment, makes them do nothing: the child of a multithreaded parent
 * may then inherit a lock that another thread held, and block on it.
 * Callable at any time, before or after the first allocation.
 */
void zm_set_fork_handlers(int on);
int zm_fork_handlers(void);

/* Take (and release) every allocator lock, as the fork handlers do: a
 * thread that calls zm_lock_all() blocks every other thread's SMALL and
 * LARGE allocations, and TINY ones that miss the thread's cache. */
void zm_lock_all(void);
void zm_unlock_all(void);

/* Where a pointer returned by zm_malloc lives, for the lesson's demo. */
struct zm_block_info {
    const char *kind;    /* "TINY", "SMALL" or "LARGE" */
    uintptr_t zone;      /* the zone (LARGE: the block's own mapping) */
    size_t zone_bytes;   /* its size */
    size_t zone_blocks;  /* TINY: blocks of its class the zone holds; SMALL: blocks of
                           the largest SMALL size it could hold; LARGE: 1 */
    size_t usable;       /* what zm_malloc_usable_size says */
    size_t request;      /* what the caller asked for */
    uintptr_t neighbour; /* SMALL: the block after this one, 0 at the end */
};
/* Fill *out for ptr; returns 0, or -1 if ptr is not a live block. */
int zm_block_info(const void *ptr, struct zm_block_info *out);

#endif
