/*
 * memory.c - mapping and touching anonymous memory (see memory.h).
 */
#include "memory.h"

#include "cli.h"
#include "procfs.h"

#include <sys/mman.h>

void *map_anonymous(size_t size, int flags)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | flags, -1, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    return p;
}

void unmap(void *addr, size_t size)
{
    if (munmap(addr, size) != 0)
        die_errno("munmap");
}

__attribute__((no_sanitize("address", "thread"))) void touch_pages(char *base, size_t size,
                                                                   char value)
{
    for (size_t offset = 0; offset < size; offset += page_size())
        ((volatile char *)base)[offset] = value;
}
