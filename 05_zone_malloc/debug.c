/*
 * debug.c - the debug options and the path every call takes when one is on.
 *
 *   ZONE_MALLOC_STATS=1       at exit, one line of counters on stderr
 *   ZONE_MALLOC_LOG=stderr    one line per call (or =PATH: appended there)
 *   ZONE_MALLOC_SCRIBBLE=1    fresh blocks filled with 0xAA, freed ones 0x55
 *   ZONE_MALLOC_CHECK=1       the whole heap validated around every call
 *   ZONE_MALLOC_NO_ATFORK=1   the fork handlers do nothing (arena.c)
 *
 * With any of the first four on, the thread caches stay off, so that every
 * call comes here (malloc_slow, free_slow) and is counted, logged, filled
 * and checked in one place.  It is slower, and meant to be.
 */
#include "zm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

enum { PRIVATE_FD_MIN = 100 };

/*
 * The value of an environment variable, read from the environ array
 * directly: nothing here can call malloc (getenv does not in glibc either,
 * but nothing promises that).
 */
static const char *env_value(const char *name)
{
    size_t len = strlen(name);

    for (char **e = environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Set, and not "0" or empty. */
static bool env_flag(const char *name)
{
    const char *value = env_value(name);

    return value != NULL && value[0] != '\0' && strcmp(value, "0") != 0;
}

/* A descriptor of our own, out of the way of the ones programs use. */
static int move_high(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, PRIVATE_FD_MIN);

    return high < 0 ? fd : high;
}

static int open_log(const char *where)
{
    int fd;

    if (strcmp(where, "stderr") == 0)
        return zm.stats_fd;
    fd = open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        struct text t = {.fd = STDERR_FILENO};
        text_str(&t, "zone_malloc: cannot open ZONE_MALLOC_LOG file ");
        text_str(&t, where);
        text_str(&t, "; not logging\n");
        text_flush(&t);
        return -1;
    }
    int high = move_high(fd);
    if (high != fd)
        close(fd);
    return high;
}

/* Called once, by zm_init, under zm.lock. */
void debug_read_options(void)
{
    const char *log = env_value("ZONE_MALLOC_LOG");

    zm.stats = env_flag("ZONE_MALLOC_STATS");
    zm.scribble = env_flag("ZONE_MALLOC_SCRIBBLE");
    zm.check = env_flag("ZONE_MALLOC_CHECK");
    /* A copy of stderr as it is now: some programs close theirs before
     * exit (coreutils do), and the statistics come after that. */
    if (zm.stats || (log != NULL && strcmp(log, "stderr") == 0))
        zm.stats_fd = move_high(STDERR_FILENO);
    zm.log_fd = log != NULL && log[0] != '\0' ? open_log(log) : -1;
    zm.debug = zm.stats || zm.scribble || zm.check || zm.log_fd >= 0;
    atomic_store(&zm.fork_handlers_on, !env_flag("ZONE_MALLOC_NO_ATFORK"));
}

_Noreturn void die_pointer(const char *op, const void *ptr, const char *what)
{
    struct text t = {.fd = STDERR_FILENO};

    text_str(&t, "zone_malloc: ");
    text_str(&t, op);
    text_str(&t, "(");
    text_hex(&t, (uintptr_t)ptr);
    text_str(&t, "): ");
    text_str(&t, what);
    text_str(&t, "\n");
    text_flush(&t);
    abort();
}

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
    struct text t = {.fd = zm.log_fd};

    if (zm.log_fd < 0)
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

    if (zm.check)
        check_heap_or_die(op, true);
    ptr = block_alloc(size, align);
    if (ptr != NULL) {
        struct block *b = block_of(ptr);
        if (zero && b->state != LARGE_USED) /* a fresh mapping is zeros already */
            memset(ptr, 0, size);
        else if (!zero && zm.scribble)
            memset(ptr, 0xAA, block_usable(b));
        atomic_fetch_add(&zm.mallocs, 1);
        count_live(size, 0);
    }
    log_call(op, size, align, NULL, ptr);
    if (zm.check)
        check_heap_or_die(op, false);
    return ptr;
}

void debug_free(void *ptr)
{
    struct block *b;
    size_t request;

    if (zm.check)
        check_heap_or_die("free", true);
    b = block_checked(ptr, "free");
    request = block_request(b);
    log_call("free", request, 0, NULL, ptr);
    if (zm.scribble)
        memset(ptr, 0x55, block_usable(b));
    atomic_fetch_add(&zm.frees, 1);
    count_live(0, request);
    block_free(b);
    if (zm.check)
        check_heap_or_die("free", false);
}

void *debug_realloc(void *ptr, size_t size)
{
    struct block *b;
    size_t old_request;
    void *moved;

    if (zm.check)
        check_heap_or_die("realloc", true);
    b = block_checked(ptr, "realloc");
    old_request = block_request(b);
    moved = block_resize(b, size);
    if (moved == NULL) {
        moved = block_alloc(size, ALIGNMENT);
        if (moved != NULL) {
            memcpy(moved, ptr, old_request < size ? old_request : size);
            if (zm.scribble)
                memset(ptr, 0x55, block_usable(b));
            block_free(b);
        }
    }
    if (moved != NULL) {
        if (zm.scribble && size > old_request)
            memset((char *)moved + old_request, 0xAA, size - old_request);
        atomic_fetch_add(&zm.reallocs, 1);
        count_live(size, old_request);
    }
    log_call("realloc", size, 0, ptr, moved);
    if (zm.check)
        check_heap_or_die("realloc", false);
    return moved;
}

void zm_get_stats(struct zm_stats *out)
{
    zm_ensure_init();
    pthread_mutex_lock(&zm.lock);
    *out = (struct zm_stats){
        .mapped_bytes = zm.mapped_bytes,
        .peak_mapped_bytes = zm.peak_mapped_bytes,
        .zones = zm.zones,
        .peak_zones = zm.peak_zones,
        .zones_mapped = zm.zones_mapped,
        .zones_unmapped = zm.zones_unmapped,
        .arenas = zm.arena_count,
    };
    pthread_mutex_unlock(&zm.lock);
    out->mallocs = atomic_load(&zm.mallocs);
    out->frees = atomic_load(&zm.frees);
    out->reallocs = atomic_load(&zm.reallocs);
    out->peak_bytes = atomic_load(&zm.peak_bytes);
}

/*
 * ZONE_MALLOC_STATS: the line at exit.  A destructor, not atexit(): it
 * needs no registration (which could allocate), and in a preloaded
 * library it runs after the program's own exit handlers.
 */
__attribute__((destructor)) static void print_stats_at_exit(void)
{
    struct zm_stats s;
    struct text t = {.fd = zm.stats_fd};

    if (!zm.stats)
        return;
    zm_get_stats(&s);
    text_str(&t, "zone_malloc: mallocs=");
    text_uint(&t, s.mallocs);
    text_str(&t, " frees=");
    text_uint(&t, s.frees);
    text_str(&t, " reallocs=");
    text_uint(&t, s.reallocs);
    text_str(&t, " peak_bytes=");
    text_uint(&t, s.peak_bytes);
    text_str(&t, " mapped_bytes=");
    text_uint(&t, s.peak_mapped_bytes);
    text_str(&t, " zones=");
    text_uint(&t, s.peak_zones);
    text_str(&t, "\n");
    text_flush(&t);
}
