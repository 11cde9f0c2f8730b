/*
 * libc_names.c - the C library's names for the allocator, built into
 * libzone_malloc.so only.
 *
 * LD_PRELOAD puts the library first in the dynamic linker's search, so
 * every call to malloc in the program - the C library's own internal ones
 * included - lands here.  Each function is the zm_ one under its usual
 * name; the library is linked with -Bsymbolic-functions, so each call
 * below binds directly, and the compiler makes it a plain jump.
 */
#include "zone_malloc.h"

#include <malloc.h>
#include <stdlib.h>

void *malloc(size_t size)
{
    return zm_malloc(size);
}

void free(void *ptr)
{
    zm_free(ptr);
}

void *calloc(size_t count, size_t size)
{
    return zm_calloc(count, size);
}

void *realloc(void *ptr, size_t size)
{
    return zm_realloc(ptr, size);
}

void *reallocarray(void *ptr, size_t count, size_t size)
{
    return zm_reallocarray(ptr, count, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    return zm_posix_memalign(out, alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    return zm_aligned_alloc(alignment, size);
}

void *memalign(size_t alignment, size_t size)
{
    return zm_memalign(alignment, size);
}

void *valloc(size_t size)
{
    return zm_valloc(size);
}

void *pvalloc(size_t size)
{
    return zm_pvalloc(size);
}

int malloc_trim(size_t pad)
{
    (void)pad; /* what is kept is kept whole: there is no top of a heap to pad */
    return zm_trim();
}

size_t malloc_usable_size(void *ptr)
{
    return zm_malloc_usable_size(ptr);
}

void show_alloc_mem(void)
{
    zm_show_alloc_mem();
}

void show_alloc_mem_ex(void)
{
    zm_show_alloc_mem_ex();
}
