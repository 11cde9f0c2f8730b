/*
 * os.c - mappings from the kernel and back: the only file that calls mmap,
 * munmap and madvise (large.c also calls mremap, for realloc).
 */
#include "zm_internal.h"

#include <errno.h>
#include <sys/mman.h>

static void *map_anonymous(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* munmap, keeping errno: free() must not change it. */
void os_unmap(void *start, size_t bytes)
{
    int saved = errno;

    munmap(start, bytes); /* fails only for ranges we never mapped */
    errno = saved;
}

/* The pages read as zeros again and leave the resident set; the range stays
 * mapped.  A hint: if the kernel refuses, the pages simply stay. */
void os_release_pages(void *start, size_t bytes)
{
    int saved = errno;

    madvise(start, bytes, MADV_DONTNEED);
    errno = saved;
}

/*
 * Map bytes so that start + offset is a multiple of align (a power of two,
 * at least a page).  Try the plain call first: the kernel usually puts a
 * new mapping right below the previous one, which keeps same-sized zones
 * aligned for free.  Otherwise map align bytes more and trim both ends.
 * Returns NULL with errno ENOMEM on failure.
 */
void *os_map(size_t bytes, size_t align, size_t offset)
{
    char *p = map_anonymous(bytes);

    if (p == NULL)
        goto no_memory;
    if ((((uintptr_t)p + offset) & (align - 1)) == 0)
        return p;
    os_unmap(p, bytes);
    if (bytes > SIZE_MAX - align)
        goto no_memory;
    char *raw = map_anonymous(bytes + align);
    if (raw == NULL)
        goto no_memory;
    uintptr_t want = ((uintptr_t)raw + offset + align - 1) & ~(uintptr_t)(align - 1);
    char *start = (char *)(want - offset);
    size_t head = (size_t)(start - raw), tail = align - head;
    if (head > 0)
        os_unmap(raw, head);
    if (tail > 0)
        os_unmap(start + bytes, tail);
    return start;
no_memory:
    errno = ENOMEM;
    return NULL;
}
