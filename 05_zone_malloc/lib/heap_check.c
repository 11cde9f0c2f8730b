/*
 * heap_check.c - the invariants of zm_internal.h, verified one by one.
 *
 * zm_check_heap() takes every lock (as fork does), so what it sees is a
 * heap no thread is changing - but for the remote lists, which other
 * threads may push onto meanwhile (only at the head, each push one atomic
 * step, so a walk from the head it read stays valid).  It cannot see into
 * other threads' caches; it does not need to: a cached block is counted as
 * used by its zone, and its header says CACHED.
 */
#include "zm_internal.h"

#include <unistd.h>

struct check {
    int problems;
    bool quiet;                /* only record the first problem */
    struct heap_problem first; /* the first problem found */
    uint64_t bytes, zones;     /* for M1 */
};

static void problem(struct check *c, const char *rule, const char *what, const void *where)
{
    struct text t = {.fd = STDERR_FILENO};

    if (c->problems++ == 0)
        c->first = (struct heap_problem){rule, what, where};
    if (c->quiet)
        return;
    text_str(&t, "zone_malloc: check: ");
    text_str(&t, rule);
    text_str(&t, ": ");
    text_str(&t, what);
    text_str(&t, " at ");
    text_hex(&t, (uintptr_t)where);
    text_str(&t, "\n");
    text_flush(&t);
}

/* T4 and the header's constant fields. */
static bool tiny_block_ok(const struct block *b, unsigned size_class)
{
    return b->magic == BLOCK_MAGIC && b->size_class == size_class &&
           tiny_header_intact(b, size_class);
}

/* T1, T2 for one TINY zone; counts it towards T3 when it has room. */
static void check_tiny_zone(struct check *c, const struct zone *z, unsigned with_room[])
{
    unsigned size_class = z->size_class;
    size_t stride = tiny_stride(size_class);
    uintptr_t first = (uintptr_t)z + ZONE_HEADER;
    uint32_t in_use = 0, free_blocks = 0, listed = 0;

    if (z->size != tiny_zone_bytes(size_class) || ((uintptr_t)z & (z->size - 1)) != 0 ||
        z->capacity != (z->size - ZONE_HEADER) / stride)
        problem(c, "Z1", "TINY zone size, alignment or capacity wrong", z);
    if (z->bump < first || (z->bump - first) % stride != 0 ||
        (z->bump - first) / stride > z->capacity) {
        problem(c, "T1", "bump pointer outside the zone's blocks", z);
        return;
    }
    for (uintptr_t h = first; h < z->bump; h += stride) {
        const struct block *b = (const struct block *)h;
        if (!tiny_block_ok(b, size_class))
            problem(c, "T4", "TINY block header corrupted (an overrun of the block before it?)",
                    user_of(b));
        else if (b->state == TINY_USED || b->state == TINY_CACHED)
            in_use++;
        else if (b->state == TINY_FREE)
            free_blocks++;
        else
            problem(c, "T2", "TINY block in an impossible state", user_of(b));
    }
    for (void *p = z->free; p != NULL && listed <= z->capacity; p = *(void **)p, listed++) {
        uintptr_t h = (uintptr_t)block_of(p);
        if (h < first || h >= z->bump || (h - first) % stride != 0 ||
            block_of(p)->state != TINY_FREE) {
            problem(c, "T2", "zone free list holds a block that is not a free block of it", p);
            break;
        }
    }
    if (listed != free_blocks)
        problem(c, "T2", "free list length differs from the FREE blocks", z);
    if (in_use != z->used)
        problem(c, "T1", "used count differs from the blocks in use", z);
    if (z->used < z->capacity)
        with_room[size_class]++;
}

/* S4: a SMALL block's class, if it has one (a CACHED one must). */
static bool small_class_ok(const struct block *b)
{
    if (b->size_class == NO_CLASS)
        return block_state(b) != SMALL_CACHED;
    return b->size_class >= TINY_CLASSES && b->size_class < CACHE_CLASSES &&
           small_class_fits(b, b->size_class);
}

/* S1, S2, S4 for one SMALL zone; counts its free blocks towards S3. */
static void check_small_zone(struct check *c, const struct zone *z, uint64_t *free_blocks)
{
    uintptr_t first = (uintptr_t)z + ZONE_HEADER, end = (uintptr_t)z + SMALL_ZONE_BYTES;
    uint32_t back = 0;
    bool prev_free = false;
    uintptr_t h;

    if (z->size != SMALL_ZONE_BYTES || ((uintptr_t)z & (SMALL_ZONE_BYTES - 1)) != 0)
        problem(c, "Z1", "SMALL zone size or alignment wrong", z);
    for (h = first; h < end;) {
        const struct block *b = (const struct block *)h;
        uint8_t state = block_state(b);
        if (b->magic != BLOCK_MAGIC || b->size < SMALL_MIN_BLOCK || b->size % ALIGNMENT != 0 ||
            b->size > end - h ||
            (state != SMALL_USED && state != SMALL_CACHED && state != SMALL_FREE)) {
            problem(c, "S1", "SMALL block header corrupted", user_of(b));
            return;
        }
        if (state != SMALL_FREE && !small_class_ok(b))
            problem(c, "S4", "SMALL block smaller than its class, or cached without one",
                    user_of(b));
        if (b->back != back)
            problem(c, "S1", "back differs from the size of the block before", user_of(b));
        if (state == SMALL_FREE && prev_free)
            problem(c, "S2", "two free blocks side by side", user_of(b));
        prev_free = state == SMALL_FREE;
        *free_blocks += prev_free;
        back = b->size;
        h += b->size;
    }
}

/* S3: the bins hold exactly the arena's free SMALL blocks. */
static void check_bins(struct check *c, const struct arena *a, uint64_t free_blocks)
{
    uint64_t binned = 0;

    for (unsigned i = 0; i < SMALL_BINS; i++) {
        bool bit = (a->bin_map >> i) & 1;
        if (bit != (a->bins[i] != NULL))
            problem(c, "S3", "bin_map bit disagrees with its bin", a->bins[i]);
        const struct block *prev = NULL;
        for (const struct block *b = a->bins[i]; b != NULL;
             b = ((const struct small_links *)user_of(b))->next) {
            const struct small_links *l = user_of(b);
            const struct zone *z =
                (const struct zone *)((uintptr_t)b & ~(uintptr_t)(SMALL_ZONE_BYTES - 1));
            if (binned > free_blocks || b->magic != BLOCK_MAGIC || b->state != SMALL_FREE ||
                small_bin_of(b->size) != i || z->magic != ZONE_MAGIC || z->arena != a ||
                l->prev != prev) {
                problem(c, "S3", "a bin holds a block that does not belong there", user_of(b));
                break;
            }
            binned++;
            prev = b;
        }
    }
    if (binned != free_blocks)
        problem(c, "S3", "bins and zones disagree on the number of free blocks", a);
}

/* T3: the partial list of each class holds exactly the zones with room. */
static void check_partial(struct check *c, const struct arena *a, const unsigned with_room[])
{
    for (unsigned i = 0; i < TINY_CLASSES; i++) {
        unsigned listed = 0;
        for (const struct zone *z = a->partial[i]; z != NULL; z = z->next_partial) {
            if (listed > with_room[i] || z->magic != ZONE_MAGIC || z->kind != ZONE_TINY ||
                z->size_class != i || z->arena != a || z->used >= z->capacity) {
                problem(c, "T3", "a partial list holds a zone without room or not its own", z);
                break;
            }
            listed++;
        }
        if (listed != with_room[i])
            problem(c, "T3", "partial list and zones with room disagree", a);
    }
}

/* R1: each remote list holds CACHED blocks of its class from this arena's
 * zones, and ends before the arena runs out of blocks. */
static void check_remote(struct check *c, const struct arena *a, uint64_t blocks)
{
    for (unsigned i = 0; i < CACHE_CLASSES; i++) {
        uint64_t listed = 0;
        for (void *p = atomic_load((_Atomic(void *) *)&a->remote[i]); p != NULL;
             p = *(void **)p, listed++) {
            const struct block *b = block_of(p);
            if (listed > blocks || b->magic != BLOCK_MAGIC || b->size_class != i ||
                block_state(b) != cached_state(i) || arena_of_class_block(b, i) != a) {
                problem(c, "R1", "a remote list holds a block that is not a cached one of its", p);
                break;
            }
        }
    }
}

static void check_arena(struct check *c, const struct arena *a)
{
    unsigned with_room[TINY_CLASSES] = {0};
    uint64_t free_blocks = 0, blocks = 0;

    for (const struct zone *z = a->zones; z != NULL; z = z->next) {
        if (z->magic != ZONE_MAGIC || z->arena != a ||
            (z->kind != ZONE_TINY && z->kind != ZONE_SMALL)) {
            problem(c, "Z1", "an arena's zone list holds something else", z);
            return;
        }
        c->bytes += z->size;
        c->zones++;
        blocks += z->size / SMALL_MIN_BLOCK; /* more than the zone can hold */
        if (z->kind == ZONE_TINY)
            check_tiny_zone(c, z, with_room);
        else
            check_small_zone(c, z, &free_blocks);
    }
    check_partial(c, a, with_room);
    check_bins(c, a, free_blocks);
    check_remote(c, a, blocks);
}

static void check_large(struct check *c)
{
    for (const struct zone *z = zm.large; z != NULL; z = z->next) {
        const struct block *b = (const struct block *)z->bump;
        if (z->magic != ZONE_MAGIC || z->kind != ZONE_LARGE || b->magic != BLOCK_MAGIC ||
            b->state != LARGE_USED || (uintptr_t)b - b->back != (uintptr_t)z ||
            z->request > z->size - ((uintptr_t)user_of(b) - (uintptr_t)z)) {
            problem(c, "L1", "LARGE zone or its block corrupted", z);
            return;
        }
        c->bytes += z->size;
        c->zones++;
    }
}

/* L2: the large cache holds freed LARGE mappings, within its limits. */
static void check_large_cache(struct check *c, uint64_t now_ms)
{
    uint64_t bytes = 0, count = 0;

    for (const struct zone *z = zm.large_cache.head; z != NULL; z = z->next) {
        const struct block *b = (const struct block *)z->bump;
        if (count > LARGE_CACHE_SLOTS || z->magic != ZONE_MAGIC || z->kind != ZONE_LARGE ||
            b->magic != BLOCK_MAGIC || b->state != LARGE_CACHED ||
            z->size > LARGE_CACHE_BLOCK_MAX || z->idle_since_ms > now_ms) {
            problem(c, "L2", "the large cache holds something that is not a freed mapping", z);
            return;
        }
        bytes += z->size;
        count++;
    }
    if (bytes != zm.large_cache_bytes || count != zm.large_cache_count ||
        bytes > LARGE_CACHE_BYTES || count > LARGE_CACHE_SLOTS)
        problem(c, "L2", "the large cache's totals disagree with it, or exceed its limits", NULL);
    c->bytes += bytes;
    c->zones += count;
}

/* P1: the pool holds empty zones, each on the list of its size. */
static void check_pool(struct check *c, uint64_t now_ms)
{
    uint64_t bytes = 0, count = 0;

    for (unsigned i = 0; i < POOL_LISTS; i++) {
        const struct zone *prev = NULL;
        size_t size = i < TINY_CLASSES ? tiny_zone_bytes(i) : SMALL_ZONE_BYTES;
        for (const struct zone *z = zm.pool[i].head; z != NULL; prev = z, z = z->next) {
            if (count > zm.pool_zones || z->magic != ZONE_MAGIC || z->arena != NULL ||
                (z->kind != ZONE_TINY && z->kind != ZONE_SMALL) ||
                pool_list_of((enum zone_kind)z->kind, z->size_class) != i || z->size != size ||
                ((uintptr_t)z & (z->size - 1)) != 0 || z->prev != prev ||
                z->idle_since_ms > now_ms) {
                problem(c, "P1", "the pool holds something that is not an empty zone", z);
                return;
            }
            bytes += z->size;
            count++;
        }
        if (zm.pool[i].tail != prev)
            problem(c, "P1", "a pool list's tail is not its last zone", zm.pool[i].tail);
    }
    if (bytes != zm.pool_bytes || count != zm.pool_zones || bytes > POOL_MAX_BYTES)
        problem(c, "P1", "the pool's totals disagree with it, or exceed its bound", NULL);
    c->bytes += bytes;
    c->zones += count;
}

/* This thread's own cache: only CACHED blocks of the right class. */
static void check_own_cache(struct check *c)
{
    const struct thread_cache *tc = &zm_thread_cache;

    for (unsigned i = 0; i < CACHE_CLASSES; i++) {
        uint32_t n = 0;
        for (void *p = tc->bins[i].head; p != NULL; p = *(void **)p, n++) {
            const struct block *b = block_of(p);
            bool ok = i < TINY_CLASSES ? tiny_block_ok(b, i) : small_class_ok(b);
            if (n >= tc->bins[i].count || !ok || b->size_class != i ||
                block_state(b) != cached_state(i)) {
                problem(c, "T2", "this thread's cache holds a block that is not cached", p);
                break;
            }
        }
    }
}

/* Every invariant; zm_lock_all() held.  Returns the number of problems. */
static int heap_check_locked(struct check *cp)
{
    zm_assert_global_held();
    struct check c = *cp;

    uint64_t now = os_now_ms();

    for (unsigned i = 0; i < zm.arena_count; i++)
        check_arena(&c, &zm.arenas[i]);
    check_pool(&c, now);
    check_large(&c);
    check_large_cache(&c, now);
    if (c.bytes != zm.mapped_bytes || c.zones != zm.zones)
        problem(&c, "M1", "zones found and zones counted as mapped disagree", NULL);
    check_own_cache(&c);
    *cp = c;
    return c.problems;
}

int zm_check_heap(void)
{
    struct check c = {0};
    int problems;

    zm_lock_all();
    problems = heap_check_locked(&c);
    zm_unlock_all();
    return problems;
}

/* The same, silent but for the first problem (ZONE_MALLOC_CHECK). */
int heap_check_quiet(struct heap_problem *first)
{
    struct check c = {.quiet = true};
    int problems;

    zm_lock_all();
    problems = heap_check_locked(&c);
    zm_unlock_all();
    *first = c.first;
    return problems;
}
