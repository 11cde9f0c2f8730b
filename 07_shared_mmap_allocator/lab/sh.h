/*
 * sh.h - the shared allocator lab's interface.  Do not edit: the grader
 * compiles your sh.c against its own copy of this file.
 *
 * A region is size bytes of memory that several processes share, each
 * mapping it where its kernel chose: region is where the calling process
 * has it.  Anything in it that refers to a place in it must be an offset
 * from its start - an address means nothing in a process that maps the
 * region elsewhere.
 *
 *   sh_init(region, size)     format a fresh region (all zero; size a
 *                             multiple of 16, at least SH_REGION_MIN): 0, or
 *                             -1 with errno EINVAL.  Called once, by one
 *                             process, before any other call.
 *   sh_alloc(region, size)    a block of at least size bytes, as its offset
 *                             from region: 16-byte aligned, never 0.  0 with
 *                             errno ENOMEM when no free space can hold it,
 *                             EINVAL when size is 0.
 *   sh_free(region, offset)   give back a block: any process may free any
 *                             block, through its own mapping.
 *   sh_walk(region, visit, arg)   call visit(&extent, arg) for every extent
 *                             of the region in address order, then return 0
 *                             (-1 with errno if the region cannot be read).
 *                             The extents tile the region exactly: the first
 *                             starts at 0, each starts where the one before
 *                             ends, the last ends at size.  visit must not
 *                             call sh_ functions.
 *
 * Every function may be called by several processes at once, and a process
 * may be killed (SIGKILL) at any instant: the next call, in any process,
 * must find the region whole.  So the lock that makes the functions atomic
 * lives in the region and is a pthread mutex that is process-shared
 * (PTHREAD_PROCESS_SHARED) and robust (PTHREAD_MUTEX_ROBUST: the next
 * locker after a death gets EOWNERDEAD, repairs, and calls
 * pthread_mutex_consistent).
 *
 * sh_hook(point) is the grader's: call it where enum sh_hook_point says,
 * with your lock held.  It returns at once, except in the tests that stop
 * or kill a process there (so that another one finds your lock held, or
 * your heap half-updated).
 */
#ifndef SH_H
#define SH_H

#include <stddef.h>
#include <stdint.h>

enum { SH_REGION_MIN = 64 << 10, SH_ALIGNMENT = 16 };

/* What an extent of the region is. */
enum sh_kind {
    SH_META, /* bytes of the allocator's own: its header, its lock */
    SH_FREE, /* free space (a free block, or space never used yet) */
    SH_USED, /* a block given out and not freed */
};

struct sh_extent {
    uint64_t start;  /* its first byte, as an offset from the region's start */
    uint64_t length; /* its bytes, the block's header included */
    enum sh_kind kind;
    uint64_t offset; /* SH_USED: what sh_alloc returned for it (inside the extent) */
};

typedef void sh_visit_fn(const struct sh_extent *extent, void *arg);

int sh_init(void *region, size_t size);
uint64_t sh_alloc(void *region, size_t size);
void sh_free(void *region, uint64_t offset);
int sh_walk(void *region, sh_visit_fn *visit, void *arg);

/* Where to call sh_hook, each time, always with the lock held: */
enum sh_hook_point {
    SH_HOOK_LOCKED,   /* sh_alloc and sh_free: just after taking the lock */
    SH_HOOK_CHOSEN,   /* sh_alloc: the block to return is chosen, and nothing
                         that says it is taken is written yet */
    SH_HOOK_UPDATING, /* sh_alloc (returning a block) and sh_free: half-way
                         through the update, after its first store to the heap
                         and before its last */
    SH_HOOK_POINTS
};
void sh_hook(enum sh_hook_point point);

#endif
