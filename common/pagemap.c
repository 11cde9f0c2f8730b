/*
 * pagemap.c - reading /proc/self/pagemap (see pagemap.h).
 */
#include "pagemap.h"

#include "cli.h"
#include "procfs.h"

#include <fcntl.h>
#include <unistd.h>

#define PAGEMAP_PRESENT   (UINT64_C(1) << 63)
#define PAGEMAP_EXCLUSIVE (UINT64_C(1) << 56)
#define PAGEMAP_PFN_MASK  ((UINT64_C(1) << 55) - 1)

/* One 64-bit entry per virtual page, at offset (address / page size) * 8. */
static uint64_t pagemap_entry(const void *addr)
{
    uint64_t entry;
    off_t offset = (off_t)((uintptr_t)addr / page_size() * sizeof entry);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    ssize_t got;

    if (fd < 0)
        die_errno("open /proc/self/pagemap");
    got = pread(fd, &entry, sizeof entry, offset);
    if (got < 0)
        die_errno("read /proc/self/pagemap");
    if (got != (ssize_t)sizeof entry)
        die("/proc/self/pagemap: short read at %p", addr);
    close(fd);
    return entry;
}

struct page_view page_view_of(const void *addr)
{
    uint64_t entry = pagemap_entry(addr);
    struct page_view view = {
        .present = (entry & PAGEMAP_PRESENT) != 0,
        .exclusive = (entry & PAGEMAP_EXCLUSIVE) != 0,
        .pfn = (entry & PAGEMAP_PRESENT) ? entry & PAGEMAP_PFN_MASK : 0,
    };
    return view;
}

bool frame_visible(const struct page_view *view)
{
    return view->present && view->pfn != 0;
}
