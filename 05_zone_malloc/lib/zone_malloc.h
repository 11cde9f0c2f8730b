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
 *   ZONE_MALLOC_CHECK=1, ZONE_MALLOC_NO_ATFORK=1 (switches: 1/yes/true/on or
 *   0/no/false/off), ZONE_MALLOC_DECAY_MS=N.
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
    uint64_t mapped_bytes;       /* bytes in zones now (the pool and the large cache included) */
    uint64_t peak_mapped_bytes;  /* the most there ever were */
    uint64_t zones;              /* zones mapped now (TINY, SMALL, LARGE, pooled, cached) */
    uint64_t peak_zones;         /* the most there ever were */
    uint64_t zones_mapped;       /* mmap calls for zones since the start */
    uint64_t zones_unmapped;     /* munmap calls for zones since the start */
    uint64_t arenas;             /* arenas created (one per thread, up to a limit) */
    uint64_t pooled_zones;       /* empty zones waiting in the pool for reuse */
    uint64_t pooled_bytes;       /* their bytes */
    uint64_t large_cached;       /* freed LARGE mappings kept in the large cache */
    uint64_t large_cached_bytes; /* their bytes */
    uint64_t large_reused;       /* LARGE blocks served from the cache, since the start */
    uint64_t arena_locks;        /* times an arena lock was taken, since the start */
    uint64_t remote_frees;       /* blocks sent home to another arena's remote list */
    uint64_t decay_ms;           /* how long an empty zone or cached mapping waits */
    /* The limits (constants of the build): */
    uint64_t pool_limit;              /* bytes of empty zones the pool keeps at most */
    uint64_t large_cache_block_limit; /* a larger freed mapping is unmapped at once */
    uint64_t large_cache_limit;       /* bytes the large cache keeps at most */
    uint64_t large_cache_slots;       /* and mappings */
    /* Counted only while a debug option is on (ZONE_MALLOC_STATS...): */
    uint64_t mallocs, frees, reallocs;
    uint64_t peak_bytes; /* the most bytes requested and not yet freed */
};
void zm_get_stats(struct zm_stats *out);

/* Validate every zone and block against the invariants in zm_internal.h.
 * Prints one line on stderr per problem; returns how many it found. */
int zm_check_heap(void);

/* Give the calling thread's cached free blocks back to their zones (and
 * those other threads sent home to its arena), so that empty zones can go
 * to the pool now. */
void zm_flush_thread_cache(void);

/* Give the pool's empty zones and the large cache's mappings back to the
 * kernel now, without waiting for them to decay.  Returns 1 if any memory
 * went back, else 0 (as malloc_trim does). */
int zm_trim(void);

/* How long an empty zone or a cached LARGE mapping waits before decay
 * gives it back (ZONE_MALLOC_DECAY_MS, 1000 by default; 0: no waiting, at
 * once).  Callable at any time. */
void zm_set_decay_ms(unsigned ms);

/*
 * Fork safety.  The allocator registers pthread_atfork handlers once, when
 * it is loaded; while they are on (the default) they take every
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
