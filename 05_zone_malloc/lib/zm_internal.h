/*
 * zm_internal.h - the allocator's memory layout, state and invariants.
 *
 * Three kinds of zone, all from mmap, all aligned so that a pointer finds
 * its zone by arithmetic alone:
 *
 *   TINY  (requests of 0..1024 bytes): one size class per zone; the zone
 *         is 2^k bytes, aligned to 2^k, and holds at least 100 blocks.
 *   SMALL (1025..131072 bytes): 16 MiB zones aligned to 16 MiB, cut into
 *         blocks of any size that split on malloc and coalesce on free.
 *   LARGE (more): one mapping per block, unmapped by free.
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
 *                       LARGE: bytes back to the start of the mapping
 *   8       request     bytes the caller asked for (LARGE: zone->request)
 *   12      size_class  TINY: index in the class table
 *   13      state       enum block_state: kind and state in one byte
 *   14      magic       BLOCK_MAGIC: a stray pointer or an overrun that
 *                       reaches a header rarely matches it
 *
 * A free TINY or cached block keeps its first word as a list link; a free
 * SMALL block keeps two (struct small_links).
 *
 * Invariants (zm_check_heap verifies each one):
 *   Z1  every zone starts with ZONE_MAGIC; a TINY or SMALL zone starts at a
 *       multiple of its size, and is on exactly one list: its arena's
 *       zones, or a spare slot.
 *   T1  TINY: used + (blocks on zone->free) + (blocks past bump) == capacity.
 *   T2  TINY: blocks below bump are USED or CACHED (counted in used) or
 *       FREE (on zone->free); every block on zone->free is FREE.
 *   T3  TINY: a zone is on arena->partial[class] exactly when used < capacity.
 *   S1  SMALL: the block sizes add up to the zone's size minus its header,
 *       and each block's back equals the size of the block before it.
 *   S2  SMALL: no two neighbouring blocks are both FREE (free coalesces).
 *   S3  SMALL: every FREE block is on bins[small_bin_of(size)] of its zone's
 *       arena, and bin_map bit i is set exactly when bins[i] is not empty.
 *   L1  LARGE: the zone is on zm.large and the block lies inside its mapping.
 *   M1  zm.mapped_bytes == the sum of the sizes of every zone listed above.
 *
 * Locks, always taken in this order: arena locks (lowest index first), then
 * zm.lock.  A function whose name ends in _locked expects its arena's lock
 * (or, for global state, zm.lock) to be held by the caller; with ASYM_ASSERT
 * it checks so (zm_assert_held).  The per-thread cache needs no lock: only
 * its own thread touches it.
 *
 * Layers, bottom first.  A file calls only into files above it in this
 * list (test/check_layers verifies it on the objects); where a low layer
 * must report a fatal misuse, it calls report.c, the lowest of all.
 *   text.c report.c       formatting without stdio; fatal reports, zm_assert
 *   options.c             the environment switches
 *   state.c               the state, its start, arenas, locks, fork handlers
 *   os.c                  mappings from the kernel and back
 *   size_class.c          the TINY class tables
 *   zone.c                zones: new, retired, spare, counted, looked up
 *   tiny.c small.c large.c  one file per zone kind
 *   block.c               one block, whatever its kind: alloc, check, free
 *   thread_cache.c        each thread's stacks of free TINY blocks
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
    ALIGNMENT = 16,              /* alignof(max_align_t) on x86-64 */
    BLOCK_HEADER = 16,           /* sizeof(struct block) */
    TINY_MAX = 1024,             /* largest TINY request; glibc's tcache stops near here */
    TINY_CLASSES = 20,           /* 16, 32, ... 128, then four classes per power of two */
    MIN_BLOCKS_PER_ZONE = 100,   /* every TINY or SMALL zone holds this many of its largest */
    TINY_ZONE_MIN = 64 * 1024,   /* smallest TINY zone (fewer mmaps, fewer mappings) */
    SMALL_MAX = 128 * 1024,      /* largest SMALL request: glibc's default mmap threshold */
    SMALL_ZONE_BYTES = 16 << 20, /* holds 127 blocks of SMALL_MAX */
    SMALL_MIN_BLOCK = 64,        /* header + the two free-list links, rounded up */
    SMALL_BINS = 57,             /* bin 0: < 1 KiB; then four per power of two to 16 MiB */
    ARENA_MAX = 32,              /* past this many threads, threads share arenas */
    CACHE_BYTES = 32 * 1024,     /* what one cache bin may hold, roughly */
};

#define BLOCK_MAGIC 0x5a4du     /* "MZ" */
#define ZONE_MAGIC  0x7a6f6e65u /* "zone" */

enum block_state {
    TINY_USED = 1, /* handed to the caller */
    TINY_CACHED,   /* freed into a thread cache; the zone still counts it as used */
    TINY_FREE,     /* on its zone's free list */
    SMALL_USED,
    SMALL_FREE, /* on its arena's bin */
    LARGE_USED,
};

enum zone_kind { ZONE_TINY = 1, ZONE_SMALL, ZONE_LARGE };

struct block {
    uint32_t size;
    uint32_t back;
    uint32_t request;
    uint8_t size_class;
    uint8_t state;
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
    size_t size;                              /* bytes mapped */
    struct arena *arena;                      /* TINY, SMALL: whose lock guards it */
    struct zone *next, *prev;                 /* arena->zones, or zm.large for LARGE */
    struct zone *next_partial, *prev_partial; /* TINY: arena->partial[class] */
    void *free;                               /* TINY: FREE blocks (user pointers) */
    uintptr_t bump;                           /* TINY: first header never handed out;
                                                 LARGE: the block's header */
    uint32_t used;                            /* TINY: blocks USED or CACHED */
    uint32_t capacity;                        /* TINY: blocks that fit */
    size_t request;                           /* LARGE: bytes the caller asked for */
};
/* Blocks start this far into a zone (keeps every user pointer 16-aligned). */
#define ZONE_HEADER ((sizeof(struct zone) + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1))

/* A set of zones with one lock: each thread gets its own while there are
 * fewer than ARENA_MAX, so threads do not wait for each other. */
struct arena {
    pthread_mutex_t lock;
    const void *owner;                  /* ASYM_ASSERT: the thread holding lock (zm_self) */
    unsigned threads;                   /* threads attached (guarded by zm.lock) */
    struct zone *zones;                 /* every TINY and SMALL zone it owns */
    unsigned small_zones;               /* how many of them are SMALL */
    struct zone *partial[TINY_CLASSES]; /* TINY zones with room (T3) */
    struct block *bins[SMALL_BINS];     /* free SMALL blocks by size (S3) */
    uint64_t bin_map;                   /* bit i: bins[i] is not empty */
};

/* A thread's stack of freed TINY blocks of one class. */
struct cache_bin {
    void *head;     /* linked through each block's first word */
    uint32_t count; /* blocks on it */
    uint32_t limit; /* 0: caching is off (not started, debug mode, or exited) */
};

enum cache_state { CACHE_NEW = 0, CACHE_ON, CACHE_OFF, CACHE_EXITED };

struct thread_cache {
    struct cache_bin bins[TINY_CLASSES];
    struct arena *arena; /* where this thread's zones come from */
    enum cache_state state;
};

/* Everything the allocator knows, in one place. */
/* The environment switches (options.c), read once by zm_init. */
struct zm_options {
    bool debug; /* any of stats, scribble, check, a log: every call takes the debug path */
    bool stats, scribble, check;
    bool no_atfork; /* ZONE_MALLOC_NO_ATFORK: start with the fork handlers off */
    int stats_fd;   /* where the statistics line goes: a copy of stderr */
    int log_fd;     /* -1: no log */
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
    struct zone *spare[TINY_CLASSES + 1];     /* one empty zone per class, SMALL last (lock) */
    struct zone *large;                       /* every LARGE zone (lock) */
    uint64_t mapped_bytes, peak_mapped_bytes; /* (lock), M1 */
    uint64_t zones, peak_zones;               /* (lock) */
    uint64_t zones_mapped, zones_unmapped;    /* (lock) */
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
extern const uint16_t tiny_class_size[TINY_CLASSES];
extern const uint8_t tiny_class_of16[TINY_MAX / 16 + 1];

static inline unsigned tiny_class_of(size_t size)
{
    return tiny_class_of16[(size + 15) >> 4];
}

static inline struct block *block_of(const void *ptr)
{
    return (struct block *)((uintptr_t)ptr - BLOCK_HEADER);
}

static inline void *user_of(const struct block *b)
{
    return (void *)((uintptr_t)b + BLOCK_HEADER);
}

/* Bytes from one TINY block's header to the next. */
static inline uint32_t tiny_stride(unsigned size_class)
{
    return (uint32_t)tiny_class_size[size_class] + BLOCK_HEADER;
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

/* --- text.c, report.c: formatting without stdio or malloc; last words */
struct text {
    int fd;
    size_t len;
    char buf[512];
};
void text_str(struct text *t, const char *s);
void text_uint(struct text *t, uint64_t v);
void text_hex(struct text *t, uint64_t v);
void text_byte(struct text *t, unsigned char byte);
void text_flush(struct text *t);
/* "zone_malloc: op(ptr): what" on stderr, then abort. */
_Noreturn ZM_COLD void zm_die_pointer(const char *op, const void *ptr, const char *what);
_Noreturn ZM_COLD void zm_assert_failed(const char *expr, const char *file, int line);

/* --- options.c */
void options_read(struct zm_options *out);

/* --- state.c: the state, its start, arenas, locks, fork handlers */
ZM_COLD void zm_init(void);
static inline void zm_ensure_init(void)
{
    if (unlikely(!atomic_load_explicit(&zm.initialised, memory_order_acquire)))
        zm_init();
}
/* The calling thread, as a lock owner: its cache's address is unique. */
static inline const void *zm_self(void)
{
    return &zm_thread_cache;
}
static inline void arena_lock(struct arena *a)
{
    pthread_mutex_lock(&a->lock);
#if defined(ASYM_ASSERT) && ASYM_ASSERT
    a->owner = zm_self();
#endif
}
static inline void arena_unlock(struct arena *a)
{
    zm_assert(a->owner == zm_self());
#if defined(ASYM_ASSERT) && ASYM_ASSERT
    a->owner = NULL;
#endif
    pthread_mutex_unlock(&a->lock);
}
static inline void global_lock(void)
{
    pthread_mutex_lock(&zm.lock);
#if defined(ASYM_ASSERT) && ASYM_ASSERT
    zm.lock_owner = zm_self();
#endif
}
static inline void global_unlock(void)
{
    zm_assert(zm.lock_owner == zm_self());
#if defined(ASYM_ASSERT) && ASYM_ASSERT
    zm.lock_owner = NULL;
#endif
    pthread_mutex_unlock(&zm.lock);
}
#define zm_assert_held(a)       zm_assert((a)->owner == zm_self())
#define zm_assert_global_held() zm_assert(zm.lock_owner == zm_self())
/* The calling thread's arena, attached at its first need. */
struct arena *thread_arena(void);
void arena_detach(struct arena *a);

/* --- os.c: mappings from the kernel and back (errno kept by unmap) */
void *os_map(size_t bytes, size_t align, size_t offset);
void os_unmap(void *start, size_t bytes);
void os_release_pages(void *start, size_t bytes);

/* --- zone.c */
void mapped_total_locked(int64_t bytes, int zones);
void mapped_count_locked(int64_t bytes, int zones);
struct zone *zone_new_locked(struct arena *a, enum zone_kind kind, unsigned size_class);
void zone_retire_locked(struct arena *a, struct zone *z);
enum zone_lookup { LOOKUP_NONE, LOOKUP_BLOCK, LOOKUP_EMPTY_ZONE };
/* What ptr is, found from our own zone headers alone (every lock taken). */
enum zone_lookup zone_lookup(const void *ptr);

/* --- tiny.c */
unsigned tiny_take_locked(struct arena *a, unsigned size_class, unsigned n, void **list);
void tiny_give_back_locked(struct arena *a, void *ptr);
void *tiny_alloc(struct arena *a, size_t size);
void tiny_free(void *ptr);

/* --- small.c */
size_t small_block_bytes(size_t request);
unsigned small_bin_of(size_t bytes);
struct block *small_next_block(const struct block *b);
void *small_alloc(struct arena *a, size_t size, size_t align);
void small_free(void *ptr);
bool small_resize(void *ptr, size_t size);

/* --- large.c */
struct zone *zone_of_large(const struct block *b);
void *large_alloc(size_t size, size_t align);
void large_free(void *ptr);
void *large_resize(void *ptr, size_t size);

/* --- block.c: the uncached operations every path ends in */
void *block_alloc(size_t size, size_t align);
struct block *block_checked(const void *ptr, const char *op);
size_t block_usable(const struct block *b);
size_t block_request(const struct block *b);
void block_free(struct block *b);
void *block_resize(struct block *b, size_t size);

/* --- thread_cache.c */
ZM_COLD struct thread_cache *thread_start(void);
ZM_COLD void *cache_refill_pop(struct thread_cache *c, size_t size);
ZM_COLD void cache_flush_push(struct thread_cache *c, void *ptr);
void cache_flush_all(struct thread_cache *c);

/* --- heap_check.c */
struct heap_problem {
    const char *rule, *what;
    const void *where;
};
int heap_check_quiet(struct heap_problem *first);

/* --- debug.c: the path of every call while a debug option is on */
ZM_COLD void *debug_alloc(const char *op, size_t size, size_t align, bool zero);
ZM_COLD void debug_free(void *ptr);
ZM_COLD void *debug_realloc(void *ptr, size_t size);

#pragma GCC visibility pop

#endif
