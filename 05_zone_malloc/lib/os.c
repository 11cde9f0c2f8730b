/*
 * os.c - mappings from the kernel and back: the only file that calls mmap,
 * munmap, mremap and madvise; the totals of what is mapped (M1); and the
 * clock the pool and the large cache measure idleness with.
 */
#include "zm_internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

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

/* A mapping resized, moved if the kernel must (its page-table entries
 * move, not its bytes).  NULL if it cannot be, the mapping untouched and
 * errno as it was. */
void *os_remap(void *start, size_t old_bytes, size_t new_bytes)
{
    int saved = errno;
    void *p = mremap(start, old_bytes, new_bytes, MREMAP_MAYMOVE);

    errno = saved;
    return p == MAP_FAILED ? NULL : p;
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

/* Milliseconds on a clock that only goes forward.  The coarse clock: read
 * from the vDSO without a system call, to a few milliseconds, which is all
 * a decay measured in hundreds of them needs. */
uint64_t os_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* cannot fail for this clock id */
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The totals of M1 follow zones that join (positive) or leave (negative)
 * the lists.  zm.lock held. */
void mapped_total_locked(int64_t bytes, int zones)
{
    zm_assert_global_held();
    zm.mapped_bytes += (uint64_t)bytes;
    zm.zones += (uint64_t)(int64_t)zones;
    if (zm.mapped_bytes > zm.peak_mapped_bytes)
        zm.peak_mapped_bytes = zm.mapped_bytes;
    if (zm.zones > zm.peak_zones)
        zm.peak_zones = zm.zones;
}

/* A zone mapped (zones 1) or unmapped (-1) by a system call, or a mapping
 * resized (0): the totals, and the calls counted.  zm.lock held. */
void mapped_count_locked(int64_t bytes, int zones)
{
    mapped_total_locked(bytes, zones);
    if (zones > 0)
        zm.zones_mapped++;
    if (zones < 0)
        zm.zones_unmapped++;
}
