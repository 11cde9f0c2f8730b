/*
 * fork_cow.h - the parts of lesson 04 and what they share.
 *
 * Each part is one experiment, in its own file, printing its own prose and
 * fact lines:
 *   contents.c        heap, global and stack after fork: same addresses, own contents
 *   stdio_copy.c      why output can appear twice: stdio buffers are copied too
 *   frames.c          the physical side: frame numbers, the write's fault, smaps
 *   frames_picture.c  the picture of it: shared frame before the write, split after
 *   shared_private.c  MAP_SHARED vs MAP_PRIVATE after fork
 *   fork_knobs.c      MADV_DONTFORK and MADV_WIPEONFORK
 *   fork_cost.c       fork time against touched memory, and the child's rewrite
 * pagemap.c prints what common/pagemap.h reads; memory.c holds the small
 * helpers.
 */
#ifndef FORK_COW_H
#define FORK_COW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pagemap.h" /* struct page_view, page_view_of, frame_visible */

/* Every child runs under this deadline: nothing here should take a tenth of it. */
enum { CHILD_DEADLINE_MS = 30000 };

void show_contents(void);
void show_stdio_copy(void);
void show_frames(void);
void show_shared_private(void);
void show_dontfork(void);
void show_wipeonfork(void);
void show_fork_cost(size_t size);

/* Die, before anything is touched, if size bytes in the parent plus a full
 * copy in the child would not fit in the memory available now. */
void check_cost_fits(size_t size);

/* "0x188847", or "hidden" / "none" when there is no number to show. */
const char *frame_text(const struct page_view *view, char buf[static 24]);

/* Add the fact key=0x... to the current line only if the frame is real:
 * a hidden frame reads as 0 and must never be printed as one. */
void fact_pfn(const char *key, const struct page_view *view);

/* The sentence that says frame numbers are hidden, and why. */
void say_frames_hidden(void);

/* What one process saw of the frames page at one moment. */
struct frame_report {
    struct page_view view;
    char first_byte;
};

/* Both processes' views, taken while the child waits (frames.c). */
struct frame_moment {
    struct frame_report parent, child;
};

/* frames_picture.c: the parent's and the child's entries for the page and
 * the frames they point at, before and after the child's write. */
void draw_frames(const char *page, const struct frame_moment *before,
                 const struct frame_moment *after);

/* The smaps counters of the mapping that contains an address. */
struct dirty_kib {
    long long private_kib; /* dirty pages mapped by this process only */
    long long shared_kib;  /* dirty pages also mapped by another process */
};

/* memory.c */
struct dirty_kib dirty_of(const void *addr); /* dies if smaps has no entry */
/* Read one byte through a volatile pointer (it may fault: that is the point). */
char read_byte(const char *addr);
/* Wait for a child started at started_ns, under the deadline; die unless it
 * exited 0. */
void finish_child(pid_t pid, uint64_t started_ns);
/* child_start + finish_child. */
void run_child(int (*body)(void *arg), void *arg);

#endif
