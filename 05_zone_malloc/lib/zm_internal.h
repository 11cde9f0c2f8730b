/*
 * zm_internal.h - the allocator's memory layout, state and invariants.
 *
 * Three kinds of zone, all from mmap, all aligned so that a pointer finds
 * its zone by arithmetic alone:
 *
 *   TINY  (requests of 0..1024 bytes): one size class per zone; the zone
 *         is 2^k bytes, aligned to 2^k, and holds at least 100 blocks.
 *   SMALL (1025..131072 bytes): 16 MiB zones aligned to 16 MiB, cut into
 *         blocks of any size that split on malloc and coalesce on free;
 *         requests up to SMALL_CACHE_MAX are rounded to a class, so that
 *         thread caches can keep them as they keep TINY blocks.
 *   LARGE (more): one mapping per block; a freed one is kept for the next
 *         LARGE block if it is not too big (large_cache.c), else unmapped.
 *
 * TINY zone (a slab; zone = pointer & ~(zone bytes - 1)):
 *
 *   +-------------+-----+-------+-----+-------+-- ... --+----------------+
 *   | struct zone | hdr | block | hdr | block |         | never used yet |
 *   +-------------+-----+-------+-----+-------+-- ... --+----------------+
 *   ^ zone        ^ first block                         ^ zone->bump
 *
 * SMALL zone (blocks tile it exactly; zone = pointer & ~(16 MiB - 1)):
 *
 *   +-------------+-----+------+-----+-----------------+-----+------+
 *   | struct zone | hdr | used | hdr | free (in a bin) | hdr | used |
 *   +-------------+-----+------+-----+-----------------+-----+------+
 *                 |<-- size -->|<------- size -------->|
 *
 * LARGE zone (its own mapping, found from the block's header):
 *
 *   +-------------+-- padding for alignment --+-----+---------------------+
 *   | struct zone |                           | hdr | the caller's bytes  |
 *   +-------------+---------------------------+-----+---------------------+
 *   ^ mapping start = header - header->back
 *
 * Block header, the 16 bytes just before every pointer we return:
 *
 *   offset  field       meaning
 *   0       size        bytes from this header to the next one
 *                       (TINY: the class's stride; LARGE: 0)
 *   4       back        SMALL: bytes back to the previous header (0: first);
 *                       LARGE: bytes back to the start of the mapping;
 *                       TINY: always 0 (with size, a guard: see T4)
 *   8       request     bytes the caller asked for (LARGE: zone->request)
 *   12      size_class  TINY, and SMALL blocks of a cached size: the class
 *                       (CACHE_CLASSES in size_class.c); else NO_CLASS
 *   13      state       enum block_state: kind and state in one byte
 *   14      magic       BLOCK_MAGIC: a stray pointer or an overrun that
 *                       reaches a header rarely matches it
 *
 * A free TINY block or a CACHED block keeps its first word as a list link;
 * a free SMALL block keeps two (struct small_links).
 *
 * Where a block that is not in use can be (every place is counted):
 *   in a thread's cache           CACHED; its zone counts it as used
 *   on an arena's remote list     CACHED; freed by a thread of another arena,
 *                                 on its way home (remote_free.c)
 *   on its TINY zone's free list  TINY_FREE
 *   in a SMALL bin                SMALL_FREE, coalesced with its neighbours
 * and a zone or mapping that is not in use:
 *   in the zone pool              an empty TINY or SMALL zone (zone_pool.c)
 *   in the large cache            a LARGE mapping, its pages kept (large_cache.c)
 *
 * Invariants (zm_check_heap verifies each one):
 *   Z1  every zone starts with ZONE_MAGIC; a TINY or SMALL zone starts at a
 *       multiple of its size, and is on exactly one list: its arena's
 *       zones, or the pool.
 *   T1  TINY: used + (blocks on zone->free) + (blocks past bump) == capacity.
 *   T2  TINY: blocks below bump are USED or CACHED (counted in used) or
 *       FREE (on zone->free); every block on zone->free is FREE.
 *   T3  TINY: a zone is on arena->partial[class] exactly when used < capacity.
 *   T4  TINY: every header below bump has size == the class's stride and
 *       back == 0 (an overrun of the block before it shows here).
 *   S1  SMALL: the block sizes add up to the zone's size minus its header,
 *       and each block's back equals the size of the block before it.
 *   S2  SMALL: no two neighbouring blocks are both FREE (free coalesces).
 *   S3  SMALL: every FREE block is on bins[small_bin_of(size)] of its zone's
 *       arena, and bin_map bit i is set exactly when bins[i] is not empty.
 *   S4  SMALL: a block with a class is at least the class's block bytes and
 *       less than SMALL_MIN_BLOCK more (so any block of a class serves any
 *       request of that class); a CACHED one always has a class.
 *   R1  every block on arena->remote[c] is CACHED, of class c, in a zone of
 *       that arena; a list is never longer than the arena has blocks.
 *   P1  every pooled zone is empty (arena NULL), on the pool list of its
 *       class (SMALL: the last list), idle since a time not in the future;
 *       zm.pool_bytes and zm.pool_zones add them up, within POOL_MAX_BYTES.
 *   L1  LARGE: a zone on zm.large holds one LARGE_USED block inside it.
 *   L2  a mapping in the large cache holds no live block (LARGE_CACHED), is
 *       at most LARGE_CACHE_BLOCK_MAX, and zm.large_cache_bytes and
 *       _count add them up, within LARGE_CACHE_BYTES and LARGE_CACHE_SLOTS.
 *   M1  zm.mapped_bytes == the sum of the sizes of every zone listed above
 *       (arenas' zones, pool, LARGE blocks, large cache).
 *
 * Locks, always taken in this order: arena locks (lowest index first), then
 * zm.lock.  A function whose name ends in _locked expects its arena's lock
 * (or, for global state, zm.lock) to be held by the caller; with ASYM_ASSERT
 * it checks so (zm_assert_held).  The per-thread cache needs no lock: only
 * its own thread touches it.  A remote list needs none to be pushed on (one
 * compare-and-swap); it is taken whole, under its arena's lock, so that the
 * heap checker (which holds every lock) sees it still.
 *
 * Layers, bottom first.  A file calls only into files above it in this
 * list (test/check_layers verifies it on the objects); where a low layer
 * must report a fatal misuse, it calls report.c, the lowest of all.
 *   text.c report.c       formatting without stdio; fatal reports, zm_assert
 *   options.c             the environment switches
 *   state.c               the state, its start, arenas, locks, fork handlers
 *   os.c                  mappings from the kernel and back, counted; the clock
 *   size_class.c          the class tables: TINY, and the SMALL sizes cached
 *   zone_pool.c           empty zones kept for reuse, given back by decay
 *   zone.c                zones: new (from the pool or mapped), retired, looked up
 *   tiny.c small.c        one file per zone kind, in blocks
 *   large_cache.c         freed LARGE mappings kept for reuse, within limits
 *   large.c               LARGE blocks, a mapping each
 *   block.c               one block, whatever its kind: alloc, check, free
 *   remote_free.c         blocks freed far from home, sent back without a lock
 *   thread_cache.c        each thread's stacks of free blocks, by class
 *   heap_check.c          the invariants above, verified
 *   debug.c               the path every call takes when a debug option is on
 *   malloc_api.c          the public calls and their fast paths
 *   stats.c show_alloc_mem.c  counters, the heap as text, where a block is
 */
#ifndef ZM_INTERNAL_H
#define ZM_INTERNAL_H

#include "zone_malloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
/* A slow path: out of line and out of the fast path's cache lines. */
#define ZM_COLD __attribute__((cold, noinline))

/* Invariants checked as the code runs: compiled in by -DASYM_ASSERT=1 (the
 * sanitizer and DEBUG=1 builds), out otherwise.  ZONE_MALLOC_CHECK=1 is the
 * expensive level: the whole heap around every call. */
#if defined(ASYM_ASSERT) && ASYM_ASSERT
#define zm_assert(expr) ((expr) ? (void)0 : zm_assert_failed(#expr, __FILE__, __LINE__))
#else
#define zm_assert(expr) ((void)0)
#endif

enum {
    ALIGNMENT = 16,                /* alignof(max_align_t) on x86-64 */
    CACHE_LINE = 64,               /* what two CPUs' caches pass back and forth */
    BLOCK_HEADER = 16,             /* sizeof(struct block) */
    TINY_MAX = 1024,               /* largest TINY request; glibc's tcache stops near here */
    TINY_CLASSES = 20,             /* 16, 32, ... 128, then four classes per power of two */
    SMALL_CACHE_MAX = 16384,       /* largest SMALL request a thread cache keeps */
    CACHE_CLASSES = 36,            /* the TINY classes, then 16 SMALL ones (1280 .. 16384) */
    NO_CLASS = 0xff,               /* size_class of a SMALL block of another size */
    MIN_BLOCKS_PER_ZONE = 100,     /* every TINY or SMALL zone holds this many of its largest */
    TINY_ZONE_MIN = 64 * 1024,     /* smallest TINY zone (fewer mmaps, fewer mappings) */
    SMALL_MAX = 128 * 1024,        /* largest SMALL request: glibc's default mmap threshold */
    SMALL_ZONE_BYTES = 16 << 20,   /* holds 127 blocks of SMALL_MAX */
    SMALL_MIN_BLOCK = 64,          /* header + the two free-list links, rounded up */
    SMALL_BINS = 57,               /* bin 0: < 1 KiB; then four per power of two to 16 MiB */
    ARENA_MAX = 32,                /* past this many threads, threads share arenas */
    CACHE_BYTES = 16 * 1024,       /* what one TINY cache bin may hold, roughly */
    SMALL_CACHE_BYTES = 16 * 1024, /* what one SMALL cache bin may hold, roughly */
    SMALL_CACHE_LEAST = 8,         /* and at least this many blocks (thread_cache.c) */
    FIRST_BATCH_BYTES = 4096,      /* a thread's first refill of a class: about a page */
    /* The pool of empty zones (zone_pool.c): */
    POOL_LISTS = TINY_CLASSES + 1, /* one per TINY class, then SMALL */
    POOL_MAX_BYTES = 64 << 20,     /* empty zones kept at most */
    /* The large cache (large_cache.c), after glibc's limits for its own: */
    LARGE_CACHE_BLOCK_MAX = 32 << 20, /* larger mappings are unmapped at free (glibc's
                                         largest dynamic mmap threshold) */
    LARGE_CACHE_BYTES = 64 << 20,     /* all cached mappings together (glibc's largest
                                         trim threshold) */
    LARGE_CACHE_SLOTS = 8,            /* and at most this many */
    DECAY_MS_DEFAULT = 1000,          /* idle pooled zones and cached mappings go back
                                         after this long (ZONE_MALLOC_DECAY_MS) */
};

#define BLOCK_MAGIC 0x5a4du     /* "MZ" */
#define ZONE_MAGIC  0x7a6f6e65u /* "zone" */

enum block_state {
    TINY_USED = 1, /* handed to the caller */
    TINY_CACHED,   /* in a thread cache or on a remote list; the zone counts it as used */
    TINY_FREE,     /* on its zone's free list */
    SMALL_USED,
    SMALL_CACHED, /* in a thread cache or on a remote list: not merged, not binned */
    SMALL_FREE,   /* on its arena's bin */
    LARGE_USED,
    LARGE_CACHED, /* its mapping is in the large cache: freed */
};

enum zone_kind { ZONE_TINY = 1, ZONE_SMALL, ZONE_LARGE };

struct block {
    uint32_t size;
    uint32_t back;
    uint32_t request;
    uint8_t size_class;
    uint8_t state; /* read by other threads: see block_state() */
    uint16_t magic;
};

/* The links of a free SMALL block, in its first 16 bytes. */
struct small_links {
    struct block *next, *prev;
};

struct arena;

struct zone {
    uint32_t magic;                           /* ZONE_MAGIC */
    uint8_t kind;                             /* enum zone_kind */
    uint8_t size_class;                       /* TINY: the one class it serves */
    bool zeroed;                              /* LARGE: its pages are fresh (calloc) */
    size_t size;                              /* bytes mapped */
    struct arena *arena;                      /* TINY, SMALL: whose lock guards it */
    struct zone *next, *prev;                 /* arena->zones, the pool, zm.large or the
                                                 large cache */
    struct zone *next_partial, *prev_partial; /* TINY: arena->partial[class] */
    void *free;                               /* TINY: FREE blocks (user pointers) */
    uintptr_t bump;                           /* TINY: first header never handed out;
                                                 LARGE: the block's header */
    uint32_t used;                            /* TINY: blocks USED or CACHED */
    uint32_t capacity;                        /* TINY: blocks that fit */
    size_t request;                           /* LARGE: bytes the caller asked for */
    uint64_t idle_since_ms;                   /* pooled or cached: when it became empty */
};
/* Blocks start this far into a zone (keeps every user pointer 16-aligned). */
#define ZONE_HEADER ((sizeof(struct zone) + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1))

/* A list of zones with both ends: the pool's, the large cache. */
struct zone_list {
    struct zone *head, *tail; /* most recently added first */
};

/* A set of zones with one lock: each thread gets its own while there are
 * fewer than ARENA_MAX, so threads do not wait for each other.  Each arena
 * starts on a cache line of its own (and remote[] happens to start on a
 * line boundary too): else one thread taking its arena's lock would take
 * the line from the thread next door, whose remote lists others write. */
struct arena {
    _Alignas(CACHE_LINE) pthread_mutex_t lock;
    const void *owner;                     /* ASYM_ASSERT: the thread holding lock (zm_self) */
    atomic_uint threads;                   /* threads attached (changed under zm.lock) */
    atomic_uint_fast64_t locks;            /* times lock was taken (changed under lock) */
    struct zone *zones;                    /* every TINY and SMALL zone it owns */
    unsigned small_zones;                  /* how many of them are SMALL */
    struct zone *partial[TINY_CLASSES];    /* TINY zones with room (T3) */
    struct block *bins[SMALL_BINS];        /* free SMALL blocks by size (S3) */
    uint64_t bin_map;                      /* bit i: bins[i] is not empty */
    _Atomic(void *) remote[CACHE_CLASSES]; /* CACHED blocks of its zones freed by threads of
                                              other arenas, by class (R1) */
};

/* A thread's stack of freed blocks of one class: 16 bytes, so that the fast
 * paths find a bin with a shift. */
struct cache_bin {
    void *head;     /* linked through each block's first word */
    uint16_t count; /* blocks on it (at most limit, at most 256) */
    uint16_t limit; /* 0: caching is off (not started, debug mode, or exited) */
    uint16_t batch; /* blocks the next refill takes: grows from about a page */
};

enum cache_state { CACHE_NEW = 0, CACHE_ON, CACHE_OFF, CACHE_EXITED };

struct thread_cache {
    struct cache_bin bins[CACHE_CLASSES];
    struct arena *arena; /* where this thread's zones come from */
    enum cache_state state;
};

/* Everything the allocator knows, in one place. */
/* The environment switches (options.c), read once by zm_init. */
struct zm_options {
    bool debug; /* any of stats, scribble, check, a log: every call takes the debug path */
    bool stats, scribble, check;
    bool no_atfork;    /* ZONE_MALLOC_NO_ATFORK: start with the fork handlers off */
    int stats_fd;      /* where the statistics line goes: a copy of stderr */
    int log_fd;        /* -1: no log */
    uint64_t decay_ms; /* ZONE_MALLOC_DECAY_MS: how long empty zones wait in the pool */
};

struct zm_state {
    pthread_mutex_t lock;     /* guards the fields below marked (lock) */
    const void *lock_owner;   /* ASYM_ASSERT: the thread holding lock (zm_self) */
    atomic_bool initialised;  /* options read, locks made */
    pthread_key_t thread_key; /* its destructor flushes an exiting thread's cache */
    enum { KEY_NONE, KEY_MADE, KEY_FAILED } thread_key_state; /* (lock) */
    size_t page;                                              /* the page size */
    unsigned arena_count;                                     /* arenas handed out so far (lock) */
    struct arena arenas[ARENA_MAX];
    struct zone_list pool[POOL_LISTS];             /* empty zones by class, for reuse (lock), P1 */
    uint64_t pool_bytes, pool_zones;               /* (lock), P1 */
    struct zone *large;                            /* every LARGE zone in use (lock), L1 */
    struct zone_list large_cache;                  /* freed LARGE mappings (lock), L2 */
    uint64_t large_cache_bytes, large_cache_count; /* (lock), L2 */
    uint64_t large_reused;                         /* LARGE blocks served from the cache (lock) */
    uint64_t mapped_bytes, peak_mapped_bytes;      /* (lock), M1 */
    uint64_t zones, peak_zones;                    /* (lock) */
    uint64_t zones_mapped, zones_unmapped;         /* (lock) */
    atomic_uint_fast64_t remote_frees;             /* blocks sent home through remote lists */
    /* Fork safety: */
    atomic_bool fork_handlers_on; /* the atfork handlers take the locks */
    atomic_bool locked_for_fork;  /* the prepare handler holds every lock */
    struct zm_options options;    /* set once by zm_init, read-only after */
    /* Counters of the debug path: */
    atomic_uint_fast64_t mallocs, frees, reallocs, live_bytes, peak_bytes;
};

#pragma GCC visibility push(hidden)

extern struct zm_state zm;
extern _Thread_local struct thread_cache zm_thread_cache __attribute__((tls_model("initial-exec")));
extern const uint16_t class_size[CACHE_CLASSES];
extern const uint8_t tiny_class_of16[TINY_MAX / 16 + 1];

static inline unsigned tiny_class_of(size_t size)
{
    return tiny_class_of16[(size + 15) >> 4];
}

/* The class of a SMALL request of TINY_MAX + 1 .. SMALL_CACHE_MAX bytes:
 * four per power of two, as the TINY ones above 128. */
static inline unsigned small_class_of(size_t size)
{
    unsigned log = 63u - (unsigned)__builtin_clzll(size - 1);

    return TINY_CLASSES + (log - 10) * 4 + (unsigned)(((size - 1) >> (log - 2)) & 3);
}

/* The class of any request a thread cache can serve (<= SMALL_CACHE_MAX). */
static inline unsigned class_of(size_t size)
{
    return size <= TINY_MAX ? tiny_class_of(size) : small_class_of(size);
}

/* A block of class c, header included: for TINY, the stride of its zone. */
static inline uint32_t class_block_bytes(unsigned c)
{
    return (uint32_t)class_size[c] + BLOCK_HEADER;
}

static inline uint32_t tiny_stride(unsigned size_class)
{
    return class_block_bytes(size_class);
}

/* The states of a block of class c in a caller's hands and in a cache. */
static inline uint8_t used_state(unsigned c)
{
    return c < TINY_CLASSES ? TINY_USED : SMALL_USED;
}

static inline uint8_t cached_state(unsigned c)
{
    return c < TINY_CLASSES ? TINY_CACHED : SMALL_CACHED;
}

static inline struct block *block_of(const void *ptr)
{
    return (struct block *)((uintptr_t)ptr - BLOCK_HEADER);
}

static inline void *user_of(const struct block *b)
{
    return (void *)((uintptr_t)b + BLOCK_HEADER);
}

/*
 * A block's state, where another thread may touch it at the same time: a
 * SMALL block's neighbour reads it (under the arena's lock) to see whether
 * the two can merge, while the thread holding it frees it into its cache
 * (without that lock).  Both only need to see "free" or "not free"; the
 * accesses are atomic so that neither reads a torn byte, and relaxed
 * (plain moves on x86) because nothing else is ordered by them.
 */
static inline uint8_t block_state(const struct block *b)
{
    return __atomic_load_n(&b->state, __ATOMIC_RELAXED);
}

static inline void block_set_state(struct block *b, uint8_t state)
{
    __atomic_store_n(&b->state, state, __ATOMIC_RELAXED);
}

/*
 * Pop the top block of a cache stack for a request of size bytes, in state
 * used; NULL if the stack is empty.  The fast path calls it with a constant
 * state for TINY and one for SMALL, so that neither tells the two apart at
 * run time; a refill calls it too.
 */
static inline void *cache_pop(struct cache_bin *bin, uint8_t used, size_t size)
{
    void *ptr = bin->head;

    if (likely(ptr != NULL)) {
        struct block *b = block_of(ptr);
        bin->head = *(void **)ptr;
        bin->count--;
        block_set_state(b, used);
        b->request = (uint32_t)size;
    }
    return ptr;
}

static inline bool cache_has_room(const struct cache_bin *bin)
{
    return bin->count < bin->limit;
}

/* Push ptr, checked and with room on the stack, in state cached. */
static inline void cache_push(struct cache_bin *bin, void *ptr, uint8_t cached)
{
    block_set_state(block_of(ptr), cached);
    *(void **)ptr = bin->head;
    bin->head = ptr;
    bin->count++;
}

/* T4: a TINY header's first 8 bytes are its stride and a zero back: an
 * overrun of the block before it that reaches them shows. */
static inline bool tiny_header_intact(const struct block *b, unsigned size_class)
{
    uint64_t first;

    __builtin_memcpy(&first, b, sizeof first);
    return first == tiny_stride(size_class);
}

/* S4: a SMALL block of class c holds at least the class's bytes. */
static inline bool small_class_fits(const struct block *b, unsigned c)
{
    return b->size >= class_block_bytes(c) && b->size < class_block_bytes(c) + SMALL_MIN_BLOCK;
}

/* A TINY zone is the smallest power of two, at least TINY_ZONE_MIN, that
 * holds MIN_BLOCKS_PER_ZONE blocks of its class. */
static inline size_t tiny_zone_bytes(unsigned size_class)
{
    size_t need = ZONE_HEADER + MIN_BLOCKS_PER_ZONE * (size_t)tiny_stride(size_class);
    size_t bytes = TINY_ZONE_MIN;

    while (bytes < need)
        bytes <<= 1;
    return bytes;
}

static inline struct zone *zone_of_tiny(const struct block *b)
{
    size_t bytes = tiny_zone_bytes(b->size_class);
    return (struct zone *)((uintptr_t)b & ~(uintptr_t)(bytes - 1));
}

static inline struct zone *zone_of_small(const struct block *b)
{
    return (struct zone *)((uintptr_t)b & ~(uintptr_t)(SMALL_ZONE_BYTES - 1));
}

/* The arena whose zone holds a block of class c (fixed while the block is
 * used or cached: its zone cannot retire). */
static inline struct arena *arena_of_class_block(const struct block *b, unsigned c)
{
    return c < TINY_CLASSES ? zone_of_tiny(b)->arena : zone_of_small(b)->arena;
}

#pragma GCC visibility pop

#include "zm_layers.h" /* what each layer offers the ones above it */

#endif
