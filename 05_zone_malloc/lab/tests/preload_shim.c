/*
 * preload_shim.c - the C library's allocation functions on top of the
 * student's mm_ ones, built with mm.c into libmm_preload.so for the
 * LD_PRELOAD stage (tests/preload.sh).
 *
 * Real programs call more than the four functions of the lab: glibc and
 * Python use posix_memalign, memalign and malloc_usable_size too, and a
 * pointer from any of them may reach free.  So every block gets a header of
 * the shim's, just before the pointer it returns, saying where the mm_
 * block starts and how many bytes were asked for:
 *
 *   base (from mm_malloc)              p (returned, aligned as asked)
 *   |  ... padding ...  | size | offset align | the program's bytes ...
 *                       p-16   p-8            p
 *
 * realloc of a block with the usual 16-byte alignment goes to mm_realloc
 * (the bytes after the header move with the block); a block aligned more
 * than that moves by malloc, copy and free.
 *
 * With PRELOAD_REPORT=FILE in the environment, each process that used the
 * shim appends "calls=N" to FILE when it exits, so that the stage can tell
 * the allocator really served the program.
 */
#include "mm.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct shim_header {
    size_t size;     /* what the program asked for */
    uint32_t offset; /* p - base */
    uint32_t align;  /* what p is aligned to */
};

enum { SHIM = sizeof(struct shim_header), BASIC_ALIGN = 16 };

static atomic_ulong calls;
static pthread_once_t started = PTHREAD_ONCE_INIT;

static void start(void)
{
    if (mm_init() != 0)
        abort(); /* nothing can be allocated: the stage reports the crash */
}

static struct shim_header *header_of(void *p)
{
    return (struct shim_header *)p - 1;
}

static void count_call(void)
{
    pthread_once(&started, start);
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
}

/* The first address at or after base + SHIM aligned to align. */
static char *aligned_after(char *base, size_t align)
{
    return (char *)(((uintptr_t)base + SHIM + align - 1) & ~(uintptr_t)(align - 1));
}

static char *set_header(char *p, const char *base, size_t size, size_t align)
{
    header_of(p)->size = size;
    header_of(p)->offset = (uint32_t)(p - base);
    header_of(p)->align = (uint32_t)align;
    return p;
}

/* A block of size bytes aligned to align (a power of two, >= 16), from
 * allocate(total), which returns memory of total bytes or NULL. */
static void *shim_alloc(size_t size, size_t align, void *(*allocate)(size_t))
{
    size_t extra = SHIM + align; /* room to align whatever mm_malloc returned */

    count_call();
    if (size > SIZE_MAX - extra) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = allocate(size + extra);
    return base == NULL ? NULL : set_header(aligned_after(base, align), base, size, align);
}

static void *zeroed(size_t total)
{
    return mm_calloc(total, 1);
}

void *malloc(size_t size)
{
    return shim_alloc(size, BASIC_ALIGN, mm_malloc);
}

void free(void *p)
{
    if (p == NULL)
        return;
    count_call();
    mm_free((char *)p - header_of(p)->offset);
}

void *calloc(size_t count, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return shim_alloc(total, BASIC_ALIGN, zeroed);
}

void *realloc(void *p, size_t size)
{
    if (p == NULL)
        return malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    struct shim_header old = *header_of(p);
    size_t keep = old.size < size ? old.size : size, extra = SHIM + BASIC_ALIGN;
    if (old.align != BASIC_ALIGN) {
        char *q = malloc(size);
        if (q != NULL) {
            memcpy(q, p, keep);
            free(p);
        }
        return q;
    }
    count_call();
    if (size > SIZE_MAX - extra) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = mm_realloc((char *)p - old.offset, size + extra);
    if (base == NULL)
        return NULL;
    char *q = aligned_after(base, BASIC_ALIGN);
    if ((size_t)(q - base) != old.offset) /* mm_realloc moved it to another alignment */
        memmove(q, base + old.offset, keep);
    return set_header(q, base, size, BASIC_ALIGN);
}

void *reallocarray(void *p, size_t count, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = shim_alloc(size, align < BASIC_ALIGN ? BASIC_ALIGN : align, mm_malloc);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
    void *p = NULL;
    int err = posix_memalign(&p, align, size);

    if (err != 0)
        errno = err;
    return p;
}

void *memalign(size_t align, size_t size)
{
    return aligned_alloc(align, size);
}

void *valloc(size_t size)
{
    return aligned_alloc((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned_alloc(page, (size + page - 1) / page * page);
}

size_t malloc_usable_size(void *p)
{
    return p == NULL ? 0 : header_of(p)->size;
}

/* At exit: "calls=N" to PRELOAD_REPORT, with write(2), which allocates nothing. */
__attribute__((destructor)) static void report_calls(void)
{
    const char *path = getenv("PRELOAD_REPORT");
    char line[48];

    if (path == NULL)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof line, "calls=%lu\n", atomic_load(&calls));
    if (write(fd, line, (size_t)n) != n) {
        /* nothing to be done at exit: the stage sees the report missing */
    }
    close(fd);
}
