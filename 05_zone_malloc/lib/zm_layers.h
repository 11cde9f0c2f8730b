/*
 * zm_layers.h - the functions each layer of the allocator offers the ones
 * above it, in layer order (see the list at the top of zm_internal.h, and
 * ZONE_MALLOC_LAYERS in ../lesson.mk).  Included by zm_internal.h, after
 * the state and the helpers it needs: include that one, not this one.
 */
#ifndef ZM_LAYERS_H
#define ZM_LAYERS_H

#pragma GCC visibility push(hidden)

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
    /* counted for zm_get_stats: a plain increment, atomic only so that a
     * reader without the lock reads a whole number */
    atomic_store_explicit(&a->locks, atomic_load_explicit(&a->locks, memory_order_relaxed) + 1,
                          memory_order_relaxed);
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
unsigned arena_detach(struct arena *a);

/* --- os.c: mappings from the kernel and back (errno kept), counted; the clock */
void *os_map(size_t bytes, size_t align, size_t offset);
void os_unmap(void *start, size_t bytes);
void os_release_pages(void *start, size_t bytes);
void *os_remap(void *start, size_t old_bytes, size_t new_bytes);
uint64_t os_now_ms(void);
void mapped_total_locked(int64_t bytes, int zones);
void mapped_count_locked(int64_t bytes, int zones);

/* --- zone_pool.c: lists of zones; empty zones kept for reuse */
void zone_list_push(struct zone_list *l, struct zone *z);
void zone_list_remove(struct zone_list *l, struct zone *z);
void zones_unmap(struct zone_list *doomed);
void zone_list_take_idle_locked(struct zone_list *l, uint64_t now_ms, struct zone_list *doomed,
                                uint64_t *bytes, uint64_t *count);
unsigned pool_list_of(enum zone_kind kind, unsigned size_class);
struct zone *pool_take_locked(enum zone_kind kind, unsigned size_class, struct zone_list *doomed);
void pool_put_locked(struct zone *z, struct zone_list *doomed);
ZM_COLD void pool_trim_locked(struct zone_list *doomed);

/* --- zone.c */
struct zone *zone_new_locked(struct arena *a, enum zone_kind kind, unsigned size_class);
void zone_retire_locked(struct arena *a, struct zone *z);
enum zone_lookup { LOOKUP_NONE, LOOKUP_BLOCK, LOOKUP_EMPTY_ZONE, LOOKUP_CACHED_LARGE };
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
unsigned small_take_locked(struct arena *a, unsigned size_class, unsigned n, void **list);
void small_give_back_locked(struct arena *a, void *ptr);
void *small_alloc(struct arena *a, size_t size, size_t align);
void small_free(void *ptr);
bool small_resize(void *ptr, size_t size);

/* --- large_cache.c */
struct zone *large_cache_take(size_t bytes);
bool large_cache_put_locked(struct zone *z, struct zone_list *doomed);
ZM_COLD void large_cache_trim_locked(struct zone_list *doomed);

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
bool block_zeroed(const struct block *b);
void block_free(struct block *b);
void *block_resize(struct block *b, size_t size);
void block_give_back_locked(struct arena *a, unsigned size_class, void *ptr);

/* --- remote_free.c: blocks on their way home */
struct remote_chain {
    struct arena *arena; /* the home of every block on it */
    unsigned size_class;
    void *head, *tail; /* linked through the blocks' first words */
    uint32_t count;
};
void remote_chain_add(struct remote_chain *chain, void *ptr);
ZM_COLD void remote_send(struct remote_chain *chain);
uint32_t remote_take_locked(struct arena *a, unsigned size_class, uint32_t most, void **list);
ZM_COLD void remote_drain_locked(struct arena *a);

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
