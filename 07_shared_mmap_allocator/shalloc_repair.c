/*
 * shalloc_repair.c - the region lock, repairs after a crash, the checker,
 * statistics and walks.
 *
 * Everything here rests on one fact: a block's tag says what the block is
 * (FREE, CACHED by slot s, USED), it is a single word, and every path
 * writes it before or after the list links in an order that keeps it true.
 * So when a process dies in the middle of changing a list, the lists can
 * be rebuilt from the tags by a walk over the spans, which the span table
 * makes possible whatever the blocks contain.
 *
 *   region lock: EOWNERDEAD  -> rebuild every region free list from the
 *                               FREE tags, then reclaim dead slots
 *   slot lock:   EOWNERDEAD  -> every block CACHED by that slot becomes
 *                               FREE (its owner cannot use it any more)
 */
#include "shalloc_layout.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LOCK_RETRY_NS = 20000000 }; /* 20 ms: far longer than any normal hold */

/* ThreadSanitizer's pthread_mutex_timedlock does not record a lock it took
 * with EOWNERDEAD (its lock and trylock do), and then reports our unlock as
 * bogus: under TSan, wait by polling trylock, which cannot miss a wake-up
 * either. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

void shalloc_panic(const char *what, const void *where)
{
    char buf[256] = "shalloc: ";
    size_t len = strlen(buf);
    uintptr_t addr = (uintptr_t)where;

    for (const char *p = what; *p != '\0' && len < 200; p++)
        buf[len++] = *p;
    memcpy(buf + len, " (at 0x", 7);
    len += 7;
    for (int shift = 60; shift >= 0; shift -= 4)
        buf[len++] = "0123456789abcdef"[(addr >> shift) & 0xf];
    buf[len++] = ')';
    buf[len++] = '\n';
    if (write(STDERR_FILENO, buf, len) < 0) {
        /* nothing more we can do */
    }
    abort();
}

/* ---- walking --------------------------------------------------------- */

typedef void block_fn(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx);

/* The class of a claimed span, or -1 if it was never formatted. */
static int span_class(const struct shalloc *h, uint64_t span)
{
    unsigned entry = atomic_load_explicit(&span_table(h)[span], memory_order_acquire);

    return entry == 0 || entry > SHALLOC_CLASSES ? -1 : (int)entry - 1;
}

static void for_each_block_in_span(struct shalloc *h, uint64_t span, unsigned cls, block_fn *fn,
                                   void *ctx)
{
    uint64_t first = h->data_off + span * SHALLOC_SPAN_BYTES;

    for (uint32_t i = 0; i < blocks_per_span(cls); i++) {
        uint64_t off = first + (uint64_t)i * class_stride(cls);
        fn(h, off, block_at(h, off), cls, ctx);
    }
}

/* Call fn for every block of every formatted span below the bump. */
static void for_each_block(struct shalloc *h, block_fn *fn, void *ctx)
{
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < claimed; span++) {
        int cls = span_class(h, span);
        if (cls >= 0) /* else lost (or corrupt: the checker says so) */
            for_each_block_in_span(h, span, (unsigned)cls, fn, ctx);
    }
}

/* ---- the lock and repairs -------------------------------------------- */

void shalloc_push_free_locked(struct shalloc *h, uint64_t off, unsigned cls)
{
    struct region *r = region_of(h);
    struct block *b = block_at(h, off);

    atomic_store_explicit(&b->tag, make_tag(KIND_FREE, cls, 0), memory_order_relaxed);
    b->next = r->free_head[cls];
    r->free_head[cls] = off;
    r->free_count[cls]++;
}

static void push_if_free(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx)
{
    (void)ctx;
    if (tag_kind(atomic_load_explicit(&b->tag, memory_order_relaxed)) == KIND_FREE)
        shalloc_push_free_locked(h, off, cls);
}

/* The lock's previous holder died somewhere in a list operation: forget
 * the lists and rebuild them from the tags.  Blocks it had moved into its
 * own cache are CACHED by its (dead) slot, and come back with that slot. */
static void rebuild_free_lists_locked(struct shalloc *h)
{
    struct region *r = region_of(h);

    memset(r->free_head, 0, sizeof r->free_head);
    memset(r->free_count, 0, sizeof r->free_count);
    for_each_block(h, push_if_free, NULL);
}

/*
 * Wait for the lock, but never for ever.  A waiter can miss its wake-up:
 * if the process releasing the lock is killed after clearing the lock word
 * and before waking a waiter, and a third process takes the lock in that
 * instant, nobody will wake the sleeper (the kernel's clean-up of the dead
 * process wakes a waiter only if the lock is still free by then).  So
 * sleep with a deadline and look again; returns the timeouts it took.
 */
static unsigned wait_for_lock(pthread_mutex_t *lock, int *err)
{
    unsigned timeouts = 0;
    struct timespec deadline;

    while ((*err = pthread_mutex_trylock(lock)) == EBUSY) {
        if (UNDER_TSAN) {
            sched_yield(); /* TSan: see UNDER_TSAN above */
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &deadline); /* what timedlock measures against */
        deadline.tv_nsec += LOCK_RETRY_NS;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        *err = pthread_mutex_timedlock(lock, &deadline);
        if (*err != ETIMEDOUT)
            return timeouts;
        timeouts++;
    }
    return timeouts; /* free (or its owner dead): no clock read, no sleep */
}

void shalloc_lock_region(struct shalloc *h)
{
    struct region *r = region_of(h);
    int err;
    unsigned timeouts = wait_for_lock(&r->lock, &err);

    if (err == 0 || err == EOWNERDEAD)
        r->lock_timeouts += timeouts;
    if (err == EOWNERDEAD) {
        rebuild_free_lists_locked(h);
        shalloc_reclaim_dead_slots_locked(h);
        r->repairs++;
        pthread_mutex_consistent(&r->lock); /* or the next unlock makes it unusable */
    } else if (err != 0) {
        shalloc_panic("cannot take the region lock", &r->lock);
    }
}

void shalloc_unlock_region(struct shalloc *h)
{
    pthread_mutex_unlock(&region_of(h)->lock);
}

struct reclaim {
    unsigned slot;
    uint64_t blocks;
};

static void free_if_cached_by(struct shalloc *h, uint64_t off, struct block *b, unsigned cls,
                              void *ctx)
{
    struct reclaim *rc = ctx;
    uint32_t tag = atomic_load_explicit(&b->tag, memory_order_relaxed);

    if (tag_kind(tag) == KIND_CACHED && tag_slot(tag) == rc->slot) {
        shalloc_push_free_locked(h, off, cls);
        rc->blocks++;
    }
}

void shalloc_retire_slot_locked(struct shalloc *h, unsigned s)
{
    struct region *r = region_of(h);
    struct shalloc_slot *slot = slot_at(h, s);

    memset(slot->cache, 0, sizeof slot->cache);
    r->retired_allocs += atomic_load_explicit(&slot->allocs, memory_order_relaxed);
    r->retired_frees += atomic_load_explicit(&slot->frees, memory_order_relaxed);
    atomic_store_explicit(&slot->allocs, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->frees, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->pid, 0, memory_order_relaxed);
}

/* The tags, not the dead slot's lists, say which blocks it cached: it may
 * have died between a tag store and a link store. */
uint64_t shalloc_reclaim_slot_locked(struct shalloc *h, unsigned s)
{
    struct region *r = region_of(h);
    struct reclaim rc = {s, 0};

    for_each_block(h, free_if_cached_by, &rc);
    shalloc_retire_slot_locked(h, s);
    r->slots_reclaimed++;
    r->blocks_reclaimed += rc.blocks;
    return rc.blocks;
}

/* trylock never waits, so this cannot deadlock against a process that
 * holds its slot and wants the region lock. */
unsigned shalloc_reclaim_dead_slots_locked(struct shalloc *h)
{
    unsigned reclaimed = 0;

    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        pthread_mutex_t *lock = &slot_at(h, s)->lock;
        int err = pthread_mutex_trylock(lock);
        if (err == EOWNERDEAD) {
            shalloc_reclaim_slot_locked(h, s);
            pthread_mutex_consistent(lock);
            reclaimed++;
        } else if (err != 0) {
            continue; /* EBUSY: its owner lives (or it is ours) */
        }
        pthread_mutex_unlock(lock);
    }
    return reclaimed;
}

unsigned shalloc_recover(struct shalloc *h)
{
    shalloc_lock_region(h);
    unsigned n = shalloc_reclaim_dead_slots_locked(h);
    shalloc_unlock_region(h);
    return n;
}

/* ---- the checker ----------------------------------------------------- */

/* What the walk counted, for comparing with the lists and counters. */
struct census {
    uint64_t blocks[SHALLOC_CLASSES]; /* in formatted spans */
    uint64_t free[SHALLOC_CLASSES];
    uint32_t cached[SHALLOC_SLOTS][SHALLOC_CLASSES];
    uint64_t lost_spans;
    bool bad;         /* a tag broke R3 */
    uint64_t bad_off; /* where */
};

/* A problem message built without stdio. */
struct text {
    char *buf;
    size_t cap, len;
};

static void put(struct text *t, const char *s)
{
    while (*s != '\0' && t->len + 1 < t->cap)
        t->buf[t->len++] = *s++;
    t->buf[t->len] = '\0';
}

static void put_u64(struct text *t, uint64_t v)
{
    char digits[24];
    int n = 0;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0 && t->len + 1 < t->cap)
        t->buf[t->len++] = digits[--n];
    t->buf[t->len] = '\0';
}

static bool broken(struct shalloc_report *rep, const char *rule, const char *what, uint64_t n,
                   const char *more)
{
    struct text t = {rep->problem, sizeof rep->problem, 0};

    put(&t, rule);
    put(&t, ": ");
    put(&t, what);
    put_u64(&t, n);
    put(&t, more);
    rep->ok = false;
    return false;
}

static void count_block(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx)
{
    struct census *c = ctx;
    uint32_t tag = atomic_load_explicit(&b->tag, memory_order_relaxed);

    (void)h;
    c->blocks[cls]++;
    if (tag_class(tag) != cls || tag_slot(tag) >= SHALLOC_SLOTS || tag_kind(tag) < KIND_FREE ||
        tag_kind(tag) > KIND_USED || (tag_kind(tag) == KIND_FREE && tag_slot(tag) != 0)) {
        if (!c->bad)
            c->bad_off = off;
        c->bad = true;
    } else if (tag_kind(tag) == KIND_FREE) {
        c->free[cls]++;
    } else if (tag_kind(tag) == KIND_CACHED) {
        c->cached[tag_slot(tag)][cls]++;
    }
}

/* R2: entries past the bump are 0, those below are 0 (lost) or a class. */
static bool check_span_table(struct shalloc *h, struct census *c, struct shalloc_report *rep)
{
    const struct region *r = region_of(h);
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < r->span_count; span++) {
        unsigned entry = atomic_load_explicit(&span_table(h)[span], memory_order_relaxed);
        if (span >= claimed && entry != 0)
            return broken(rep, "R2", "a span past the bump is formatted: span ", span, "");
        if (entry > SHALLOC_CLASSES)
            return broken(rep, "R2", "a span table entry is not a class: span ", span, "");
        if (span < claimed && entry == 0)
            c->lost_spans++;
    }
    return true;
}

/* Is off the start of a block in a formatted span of class cls? */
static bool block_start(const struct shalloc *h, uint64_t off, unsigned cls)
{
    uint64_t rel = off - h->data_off, span = rel / SHALLOC_SPAN_BYTES;
    uint64_t in_span = rel % SHALLOC_SPAN_BYTES;

    return off >= h->data_off && span < spans_claimed(h) &&
           atomic_load_explicit(&span_table(h)[span], memory_order_relaxed) == cls + 1 &&
           in_span % class_stride(cls) == 0 && in_span / class_stride(cls) < blocks_per_span(cls);
}

/* R4 and R5 for one list: links are block starts of the class with the
 * expected tag, the list ends within limit steps, its length is count. */
static bool check_list(struct shalloc *h, uint64_t head, uint64_t count, uint32_t want_tag,
                       uint64_t limit, struct shalloc_report *rep, const char *rule)
{
    uint64_t len = 0, off = head;
    unsigned cls = tag_class(want_tag);

    while (off != 0) {
        if (len == limit)
            return broken(rep, rule, "a list does not end (a cycle?) in class ",
                          shalloc_class_bytes[cls], " bytes");
        if (!block_start(h, off, cls))
            return broken(rep, rule, "a link is not a block start of its class: offset ", off, "");
        if (atomic_load_explicit(&block_at(h, off)->tag, memory_order_relaxed) != want_tag)
            return broken(rep, rule, "a block on a list has the wrong tag: offset ", off, "");
        off = block_at(h, off)->next;
        len++;
        rep->links++;
    }
    if (len != count)
        return broken(rep, rule, "a list's length differs from its count in class ",
                      shalloc_class_bytes[cls], " bytes");
    return true;
}

static bool check_lists(struct shalloc *h, const struct census *c, struct shalloc_report *rep)
{
    const struct region *r = region_of(h);

    for (unsigned cls = 0; cls < SHALLOC_CLASSES; cls++) {
        if (!check_list(h, r->free_head[cls], r->free_count[cls], make_tag(KIND_FREE, cls, 0),
                        c->blocks[cls], rep, "R4"))
            return false;
        if (r->free_count[cls] != c->free[cls])
            return broken(rep, "R4", "FREE blocks missing from the free list of class ",
                          shalloc_class_bytes[cls], " bytes");
        for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
            const struct cache *k = &slot_at(h, s)->cache[cls];
            if (!check_list(h, k->head, k->count, make_tag(KIND_CACHED, cls, s), c->blocks[cls],
                            rep, "R5"))
                return false;
            if (k->count != c->cached[s][cls])
                return broken(rep, "R5", "CACHED blocks missing from the cache of slot ", s, "");
        }
    }
    return true;
}

bool shalloc_check(struct shalloc *h, struct shalloc_report *rep)
{
    struct census c;
    const char *why;

    memset(&c, 0, sizeof c);
    memset(rep, 0, sizeof *rep);
    rep->ok = true;
    shalloc_lock_region(h);
    rep->slots_reclaimed = shalloc_reclaim_dead_slots_locked(h);
    if ((why = shalloc_region_problem(h)) != NULL) {
        struct text t = {rep->problem, sizeof rep->problem, 0};
        put(&t, "R1: ");
        put(&t, why);
        rep->ok = false;
    } else if (check_span_table(h, &c, rep)) {
        for_each_block(h, count_block, &c);
        for (unsigned cls = 0; cls < SHALLOC_CLASSES; cls++)
            rep->blocks += c.blocks[cls];
        if (c.bad)
            broken(rep, "R3", "a block's tag is not valid for its span: offset ", c.bad_off, "");
        else
            check_lists(h, &c, rep);
    }
    shalloc_unlock_region(h);
    return rep->ok;
}

/* ---- statistics and walks --------------------------------------------- */

static void tally_block(struct shalloc *h, uint64_t off, struct block *b, unsigned cls, void *ctx)
{
    struct shalloc_stats *st = ctx;
    uint32_t bytes = shalloc_class_bytes[cls];

    (void)h;
    (void)off;
    switch (tag_kind(atomic_load_explicit(&b->tag, memory_order_relaxed))) {
    case KIND_FREE:
        st->class[cls].free++;
        st->blocks_free++;
        st->bytes_free += bytes;
        break;
    case KIND_CACHED:
        st->class[cls].cached++;
        st->blocks_cached++;
        st->bytes_cached += bytes;
        break;
    default:
        st->class[cls].used++;
        st->blocks_used++;
        st->bytes_used += bytes;
    }
}

static void tally_spans(struct shalloc *h, struct shalloc_stats *st)
{
    st->spans_claimed = spans_claimed(h);
    for (uint64_t span = 0; span < st->spans_claimed; span++) {
        int cls = span_class(h, span);
        if (cls < 0) {
            st->spans_lost++;
            continue;
        }
        st->spans_formatted++;
        st->class[cls].spans++;
    }
}

void shalloc_stats(struct shalloc *h, struct shalloc_stats *st)
{
    const struct region *r = region_of(h);

    memset(st, 0, sizeof *st);
    st->region_bytes = r->region_bytes;
    st->data_offset = r->data_offset;
    st->span_count = r->span_count;
    for (unsigned c = 0; c < SHALLOC_CLASSES; c++)
        st->class[c].bytes = shalloc_class_bytes[c];
    tally_spans(h, st);
    for_each_block(h, tally_block, st);
    st->allocs = r->retired_allocs;
    st->frees = r->retired_frees;
    for (unsigned s = 0; s < SHALLOC_SLOTS; s++) {
        const struct shalloc_slot *slot = slot_at(h, s);
        st->allocs += atomic_load_explicit(&slot->allocs, memory_order_relaxed);
        st->frees += atomic_load_explicit(&slot->frees, memory_order_relaxed);
        st->slots_live += atomic_load_explicit(&slot->pid, memory_order_relaxed) != 0;
    }
    st->repairs = r->repairs;
    st->lock_timeouts = r->lock_timeouts;
    st->slots_reclaimed = r->slots_reclaimed;
    st->blocks_reclaimed = r->blocks_reclaimed;
}

struct visitor {
    void (*visit)(void *ctx, const struct shalloc_block_info *b);
    void *ctx;
};

static void describe_block(struct shalloc *h, uint64_t off, struct block *b, unsigned cls,
                           void *ctx)
{
    struct visitor *v = ctx;
    uint32_t tag = atomic_load_explicit(&b->tag, memory_order_relaxed);
    struct shalloc_block_info info = {
        .offset = off + BLOCK_HEADER,
        .span = (uint32_t)((off - h->data_off) / SHALLOC_SPAN_BYTES),
        .bytes = shalloc_class_bytes[cls],
        .state = (enum shalloc_state)tag_kind(tag),
        .slot = tag_slot(tag),
    };

    if (info.state == SHALLOC_USED)
        info.owner = atomic_load_explicit(&b->owner, memory_order_relaxed);
    else if (info.state == SHALLOC_CACHED && info.slot < SHALLOC_SLOTS)
        info.owner = atomic_load_explicit(&slot_at(h, info.slot)->pid, memory_order_relaxed);
    v->visit(v->ctx, &info);
}

void shalloc_walk(struct shalloc *h, void (*visit)(void *ctx, const struct shalloc_block_info *b),
                  void *ctx)
{
    struct visitor v = {visit, ctx};
    uint64_t claimed = spans_claimed(h);

    for (uint64_t span = 0; span < claimed; span++) {
        int cls = span_class(h, span);
        if (cls >= 0) {
            for_each_block_in_span(h, span, (unsigned)cls, describe_block, &v);
            continue;
        }
        struct shalloc_block_info lost = {
            .offset = h->data_off + span * SHALLOC_SPAN_BYTES,
            .span = (uint32_t)span,
            .bytes = SHALLOC_SPAN_BYTES,
            .state = SHALLOC_LOST,
        };
        visit(ctx, &lost);
    }
}
