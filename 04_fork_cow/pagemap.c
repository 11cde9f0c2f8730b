/*
 * pagemap.c - where a virtual page lives in physical memory.
 *
 * /proc/self/pagemap holds one 64-bit entry per virtual page of the
 * process, at offset (address / page size) * 8.  The bits used here
 * (Documentation/admin-guide/mm/pagemap.rst):
 *
 *   bit  63     page present in RAM
 *   bit  56     page exclusively mapped (mapped once, by this process only)
 *   bits 0-54   page frame number (PFN), if present
 *
 * Since Linux 4.2 the PFN reads as 0 unless the reader has CAP_SYS_ADMIN;
 * the other bits are there for everyone.  The file is opened at every read:
 * a descriptor opened before fork would still describe the parent.
 */
#include "fork_cow.h"

#include "cli.h"
#include "out.h"
#include "procfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define PAGEMAP_PRESENT   (UINT64_C(1) << 63)
#define PAGEMAP_EXCLUSIVE (UINT64_C(1) << 56)
#define PAGEMAP_PFN_MASK  ((UINT64_C(1) << 55) - 1)

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

const char *frame_text(const struct page_view *view, char buf[static 24])
{
    if (!view->present)
        snprintf(buf, 24, "none");
    else if (view->pfn == 0)
        snprintf(buf, 24, "hidden");
    else
        snprintf(buf, 24, "0x%jx", (uintmax_t)view->pfn);
    return buf;
}

void fact_pfn(const char *key, const struct page_view *view)
{
    if (frame_visible(view))
        fact_hex(key, (uintptr_t)view->pfn);
}

void say_frames_hidden(void)
{
    printf("Frame numbers are hidden here: without CAP_SYS_ADMIN the kernel reports\n"
           "every frame as 0, so none is printed.  The pagemap's \"mapped by this\n"
           "process only\" bit is shown to everyone: it says whether a page is shared.\n");
}
