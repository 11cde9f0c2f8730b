/*
 * debug.c - the path every call takes while a debug option is on
 * (options.c): counted, logged, scribbled on and checked in one place.
 *
 * With any option on, the thread caches stay off, so that every call comes
 * here from the public calls' slow halves (malloc_api.c).  It is slower,
 * and meant to be.  This file sits below malloc_api.c, not above it: it is
 * one of the paths the public calls take.
 */
#include "zm_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ZONE_MALLOC_CHECK: the whole heap, or one line naming the first broken
 * thing and the call that found it, and abort. */
static void check_heap_or_die(const char *op, bool before)
{
    struct heap_problem first;
    struct text t = {.fd = STDERR_FILENO};

    if (heap_check_quiet(&first) == 0)
        return;
    text_str(&t, "zone_malloc: heap check failed ");
    text_str(&t, before ? "before " : "after ");
    text_str(&t, op);
    text_str(&t, ": ");
    text_str(&t, first.rule);
    text_str(&t, ": ");
    text_str(&t, first.what);
    text_str(&t, " at ");
    text_hex(&t, (uintptr_t)first.where);
    text_str(&t, "\n");
    text_flush(&t);
    abort();
}

/* One line per call: "zone_malloc: op=malloc size=24 ptr=0x... tid=1234". */
static void log_call(const char *op, size_t size, size_t align, const void *old, const void *ptr)
{
    struct text t = {.fd = zm.options.log_fd};

    if (zm.options.log_fd < 0)
        return;
    text_str(&t, "zone_malloc: op=");
    text_str(&t, op);
    if (old != NULL) {
        text_str(&t, " old=");
        text_hex(&t, (uintptr_t)old);
    }
    text_str(&t, " size=");
    text_uint(&t, size);
    if (align > ALIGNMENT) {
        text_str(&t, " align=");
        text_uint(&t, align);
    }
    text_str(&t, " ptr=");
    text_hex(&t, (uintptr_t)ptr);
    text_str(&t, " tid=");
    text_uint(&t, (uint64_t)gettid());
    text_str(&t, "\n");
    text_flush(&t);
}

/* Requested bytes in use go up by grow and down by shrink; the peak
 * follows. */
static void count_live(size_t grow, size_t shrink)
{
    uint64_t delta = (uint64_t)grow - (uint64_t)shrink; /* modulo 2^64: a fall is fine */
    uint64_t live = atomic_fetch_add(&zm.live_bytes, delta) + delta;
    uint64_t peak = atomic_load(&zm.peak_bytes);

    while (grow > shrink && live > peak &&
           !atomic_compare_exchange_weak(&zm.peak_bytes, &peak, live))
        ;
}

/* malloc, calloc and the aligned calls, on the debug path. */
void *debug_alloc(const char *op, size_t size, size_t align, bool zero)
{
    void *ptr;

    if (zm.options.check)
        check_heap_or_die(op, true);
    ptr = block_alloc(size, align);
    if (ptr != NULL) {
        struct block *b = block_of(ptr);
        if (zero && !block_zeroed(b)) /* a fresh mapping is zeros already */
            memset(ptr, 0, size);
        else if (!zero && zm.options.scribble)
            memset(ptr, 0xAA, block_usable(b));
        atomic_fetch_add(&zm.mallocs, 1);
        count_live(size, 0);
    }
    log_call(op, size, align, NULL, ptr);
    if (zm.options.check)
        check_heap_or_die(op, false);
    return ptr;
}

void debug_free(void *ptr)
{
    struct block *b;
    size_t request;

    if (zm.options.check)
        check_heap_or_die("free", true);
    b = block_checked(ptr, "free");
    request = block_request(b);
    log_call("free", request, 0, NULL, ptr);
    if (zm.options.scribble)
        memset(ptr, 0x55, block_usable(b));
    atomic_fetch_add(&zm.frees, 1);
    count_live(0, request);
    block_free(b);
    if (zm.options.check)
        check_heap_or_die("free", false);
}

void *debug_realloc(void *ptr, size_t size)
{
    struct block *b;
    size_t old_request;
    void *moved;

    if (zm.options.check)
        check_heap_or_die("realloc", true);
    b = block_checked(ptr, "realloc");
    old_request = block_request(b);
    moved = block_resize(b, size);
    if (moved == NULL) {
        moved = block_alloc(size, ALIGNMENT);
        if (moved != NULL) {
            memcpy(moved, ptr, old_request < size ? old_request : size);
            if (zm.options.scribble)
                memset(ptr, 0x55, block_usable(b));
            block_free(b);
        }
    }
    if (moved != NULL) {
        if (zm.options.scribble && size > old_request)
            memset((char *)moved + old_request, 0xAA, size - old_request);
        atomic_fetch_add(&zm.reallocs, 1);
        count_live(size, old_request);
    }
    log_call("realloc", size, 0, ptr, moved);
    if (zm.options.check)
        check_heap_or_die("realloc", false);
    return moved;
}
