/*
 * pagemap.h - where a virtual page lives in physical memory, from
 * /proc/self/pagemap (Documentation/admin-guide/mm/pagemap.rst).
 *
 *   bit  63     page present in RAM
 *   bit  56     page exclusively mapped (mapped once, by this process only)
 *   bits 0-54   page frame number (PFN), if present
 *
 * Since Linux 4.2 the PFN reads as 0 unless the reader has CAP_SYS_ADMIN;
 * the other bits are there for everyone.
 */
#ifndef ASYM_PAGEMAP_H
#define ASYM_PAGEMAP_H

#include <stdbool.h>
#include <stdint.h>

/* One page as /proc/self/pagemap describes it. */
struct page_view {
    bool present;   /* a frame backs the page */
    bool exclusive; /* that frame is mapped by this process only (once) */
    uint64_t pfn;   /* its page frame number; 0 when the kernel hides it */
};

/* The calling process's entry for the page that holds addr, read now.  The
 * file is opened at every call: a descriptor opened before fork would still
 * describe the parent.  Dies if /proc/self/pagemap cannot be read. */
struct page_view page_view_of(const void *addr);

/* True when the view carries a real frame number: the page is present and
 * the kernel showed us the number (it needs CAP_SYS_ADMIN). */
bool frame_visible(const struct page_view *view);

#endif
