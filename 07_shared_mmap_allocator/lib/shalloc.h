/*
 * shalloc.h - an allocator whose every byte of state lives in one shared
 * memory region, usable at once by related (fork) and unrelated (shm_open)
 * processes, at different addresses, and safe against any of them being
 * killed with SIGKILL at any instant.
 *
 * The region is cut into 16 KiB spans.  A request up to 4096 bytes gets a
 * block of one of 44 size classes, cut from a span that holds blocks of
 * that class only; a larger one gets a run of whole spans, as long as the
 * longest free run (or the never-used rest of the region) allows.  Freed
 * blocks are reused through per-class free lists; freed runs merge with
 * their free neighbours.  Each process keeps a cache of free blocks per
 * class, in the region, in a slot it owns (a robust mutex it holds for as
 * long as it lives); everything else is guarded by one robust,
 * process-shared mutex.  Every link stored in the region is an offset from
 * its base, never a pointer: use shalloc_offset() and shalloc_pointer() to
 * convert.
 *
 * A crash (SIGKILL anywhere) loses nothing that can be reused: blocks the
 * dead process had allocated stay allocated (only the application knows
 * whether someone else still refers to them), and everything else it was
 * doing is repaired by the next process that takes the lock (EOWNERDEAD)
 * or looks for a slot: its cache, the lists and runs it was changing, the
 * spans it was taking.
 *
 * A region is shared with other processes, so its content is input: every
 * offset and lock word read from it is checked before use, every walk is
 * bounded, and nothing is written outside it.  A corrupt region makes a
 * call fail with errno EUCLEAN and shalloc_error() saying "corrupt region:
 * what at offset N"; it never makes the library crash or hang.  (A free of
 * a pointer that is not a block in use is the caller's bug, and aborts.)
 *
 * The library calls no malloc and no stdio; a call that fails returns NULL
 * or -1 with errno set and a reason in shalloc_error().  A handle belongs to
 * the thread that first allocates through it (its slot lock is that
 * thread's).  After fork() the child's copy of a handle takes a slot of its
 * own on first use (detected with pthread_atfork).
 */
#ifndef SHALLOC_H
#define SHALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct shalloc_slot; /* a process's slot in the region (shalloc_layout.h) */

enum {
    SHALLOC_SPAN_BYTES = 16384, /* a span: blocks of one class, or part of a run */
    SHALLOC_MAX_SMALL = 4096,   /* the largest size class; larger requests get runs */
    SHALLOC_CLASSES = 44,       /* 16..512 by 16, then 4 steps per power of two */
    SHALLOC_SLOTS = 64,         /* processes that can allocate at the same time */
    SHALLOC_ROOTS = 8,          /* offsets the application can find again */
    SHALLOC_NAME_MAX = 200,     /* longest shm_open name accepted (without '/') */
};

/* One process's view of a region.  Process-local: never store it in the
 * region.  Read base, size and data_off freely; treat the rest as private. */
struct shalloc {
    char *base;                          /* where the region is mapped in this process */
    size_t size;                         /* its length in bytes */
    uint64_t data_end;                   /* offset just past the last span */
    uint64_t data_off;                   /* offset of the first span */
    uint64_t data_lines;                 /* (data_end - data_off) / 16 */
    struct shalloc_slot *slot;           /* our slot in the region (valid when epoch is current) */
    unsigned slot_no;                    /* its index */
    uint64_t epoch;                      /* fork epoch the slot was taken in; 0: none yet */
    pid_t pid;                           /* our pid when the slot was taken */
    const char *error;                   /* why the last call failed */
    uint32_t cache_max[SHALLOC_CLASSES]; /* blocks a cache may hold per class */
    uint32_t run_cache_spans;            /* spans of runs the run caches may hold, all
                                            lengths (set with the slot; 0: no run cache) */
    bool caches_off;                     /* shalloc_set_cache_off */
    bool unmap_on_detach;                /* the library mapped it (not attach_memory) */
    bool private_copy;                   /* a copy-on-write view: never wait for its locks */
    char error_text[200];                /* a reason built at run time (corruption) */
    uint64_t error_offset;               /* where the corruption is */
};

/* What a block (or a whole span) is, for walks and maps. */
enum shalloc_state {
    SHALLOC_FREE = 1,   /* on the region-wide free list of its class */
    SHALLOC_CACHED = 2, /* free, in the cache of the process in slot */
    SHALLOC_USED = 3,   /* handed out; owner allocated it */
    SHALLOC_LOST = 4,   /* a span without a head: taken by a lock holder that is still
                           formatting it, or that died (the next locker gives it back) */
};

/* A block of a size class, a run of spans, or a lost span. */
struct shalloc_block_info {
    uint64_t offset;          /* of the payload (what shalloc_offset gives); lost: the span */
    uint64_t span;            /* span index (a run: its first) */
    uint64_t spans;           /* a run: its length in spans; otherwise 0 */
    uint64_t bytes;           /* payload bytes (the class size, or the run's); lost: the span's */
    enum shalloc_state state; /* FREE, CACHED or USED, or LOST */
    unsigned slot;            /* cached: whose cache; used: the allocator's slot */
    pid_t owner;              /* used block: pid that allocated it; cached, or a run:
                                 the pid holding that slot now */
};

/* Counts from a walk of the whole region. */
struct shalloc_stats {
    uint64_t region_bytes, data_offset, span_count;
    uint64_t spans_claimed;   /* below the bump offset: the rest is the wilderness */
    uint64_t spans_formatted; /* claimed and holding blocks of a class */
    uint64_t spans_lost;      /* claimed, without a head (see SHALLOC_LOST) */
    uint64_t blocks_free, blocks_cached, blocks_used;          /* blocks of the size classes */
    uint64_t bytes_free, bytes_cached, bytes_used;             /* their payload bytes */
    uint64_t runs_used, runs_free, runs_cached;                /* runs of spans */
    uint64_t run_bytes_used, run_bytes_free, run_bytes_cached; /* their bytes */
    uint64_t largest_free_bytes; /* the longest free run or the wilderness: the largest
                                    block the region can give now */
    uint64_t allocs, frees;      /* operations so far, all processes (one off per crash at most) */
    uint64_t repairs;            /* lock found with a dead owner (EOWNERDEAD) and repaired */
    uint64_t lock_timeouts;      /* waits for the lock that timed out and looked again */
    uint64_t slots_reclaimed;    /* slots taken back from dead processes */
    uint64_t blocks_reclaimed;   /* free blocks found in their caches */
    uint64_t runs_reclaimed;     /* and free runs */
    uint64_t spans_recovered;    /* spans dead lock holders were taking, given back */
    unsigned slots_live;         /* slots in use (some owners may have died, not yet reclaimed) */
    struct {
        uint32_t bytes;                     /* class size */
        uint64_t spans, free, cached, used; /* blocks by state */
    } class[SHALLOC_CLASSES];
};

/* The checker's verdict (shalloc_check). */
struct shalloc_report {
    bool ok;
    char problem[200];        /* the first invariant found broken: "R4: what at offset N" */
    uint64_t offset;          /* N: where in the region the broken bytes are */
    bool busy;                /* not checked: a copy whose lock another process holds */
    uint64_t blocks, links;   /* blocks and list links checked */
    uint64_t runs;            /* free runs checked on their bins */
    uint64_t slots_reclaimed; /* dead slots repaired before checking */
};

/* Smallest region that holds the header, the slots and one span. */
size_t shalloc_min_size(void);
/* Largest region accepted. */
size_t shalloc_max_size(void);
/* True if name is acceptable to shalloc_create/attach/unlink: an optional
 * '/', then 1 to SHALLOC_NAME_MAX of [A-Za-z0-9._-], not "." or "..". */
bool shalloc_name_ok(const char *name, const char **why);

/*
 * Create a region of size bytes.  name NULL: anonymous shared memory,
 * inherited by children across fork.  Otherwise a POSIX shared memory
 * object (created O_EXCL, mode 0600, its memory reserved with
 * posix_fallocate so a full /dev/shm is an error now rather than SIGBUS
 * later), which the caller must eventually shalloc_unlink.  On failure
 * nothing is left behind.  Returns 0, or -1 with errno.
 */
int shalloc_create(struct shalloc *h, const char *name, size_t size);
/* Map an existing named region, checking that it is one (its header, and
 * that its locks are locks: EUCLEAN if not).  0 or -1. */
int shalloc_attach(struct shalloc *h, const char *name);
/* The same for a region the caller has mapped itself, size bytes at base
 * (shared memory it made with shalloc_create's layout, or a copy of one);
 * shalloc_detach then leaves the mapping alone.  0 or -1. */
int shalloc_attach_memory(struct shalloc *h, void *base, size_t size);
/* A private, copy-on-write view of a named region (opened read-only): for
 * shalloc_check and the walks without writing to the object.  What the
 * checker repairs stays in this process; a lock another process holds is
 * never waited for (the checker says the region is busy).  0 or -1. */
int shalloc_attach_copy(struct shalloc *h, const char *name);
/* Give this process's cached blocks back, free its slot, unmap.  After
 * fork, in a child that never used the handle, only unmaps. */
int shalloc_detach(struct shalloc *h);
/* Remove a named region, after checking that it is one (its magic number:
 * a damaged region is removed too).  0, or -1 with errno and *why saying
 * which step failed. */
int shalloc_unlink(const char *name, const char **why);

/* size bytes (0 counts as 1), 16-byte aligned, or NULL with errno ENOMEM
 * and a reason.  Up to SHALLOC_MAX_SMALL bytes: a block of a size class,
 * from this process's cache when it has one (no lock).  Larger: a run of
 * whole spans (ceil(size / SHALLOC_SPAN_BYTES) of them, 16 KiB aligned from
 * the first span): up to 4 spans (64 KiB) from this process's cache of
 * runs when it has one (no lock), else under the region lock, in time that
 * does not grow with the region; any size up to the longest free run
 * succeeds (this process's cached runs are given back first if need be). */
void *shalloc_alloc(struct shalloc *h, size_t size);
/* Free a block from any process.  NULL is ignored; a pointer that is not
 * a live block of this region aborts with a message. */
void shalloc_free(struct shalloc *h, void *block);
/* The usable size of a live block. */
size_t shalloc_block_size(const struct shalloc *h, const void *block);

/* Offsets: what to store in the region.  0 stands for NULL; so does an
 * offset outside the region. */
uint64_t shalloc_offset(const struct shalloc *h, const void *p);
void *shalloc_pointer(const struct shalloc *h, uint64_t offset);
/* The payload at offset if it is a block (or run) in use of at least bytes
 * bytes: the check before following an offset read from the region.  NULL
 * for 0; NULL with errno EUCLEAN for anything else that is not one. */
void *shalloc_block_pointer(const struct shalloc *h, uint64_t offset, size_t bytes);
/* The application's entry points: atomic offsets kept in the header. */
_Atomic uint64_t *shalloc_root(struct shalloc *h, unsigned index);

/* true: every operation takes the region lock (no per-process cache). */
void shalloc_set_cache_off(struct shalloc *h, bool off);
/* Give this process's cached blocks back to the region lists, and its
 * cached runs to the free runs (merged with their free neighbours). */
void shalloc_flush(struct shalloc *h);
/* Hold the region-wide lock (the lists and counters in the header).  For
 * demonstrations; allocation takes it itself when it needs it.  0, or -1
 * (EUCLEAN) if the lock word is not a lock. */
int shalloc_lock(struct shalloc *h);
void shalloc_unlock(struct shalloc *h);

/* Take back the slots of dead processes (their cached blocks go to the
 * region lists, their cached runs to the free runs).  Returns the number
 * of slots reclaimed, or -1. */
int shalloc_recover(struct shalloc *h);
/* Reclaim dead slots, then walk the region and verify every invariant
 * (see shalloc_layout.h).  Call when no other process is allocating. */
bool shalloc_check(struct shalloc *h, struct shalloc_report *report);
/* Walk the region and count (safe while others allocate; then approximate). */
void shalloc_stats(struct shalloc *h, struct shalloc_stats *stats);
/* Call visit for every block of every claimed span, every run (once) and
 * every lost span, in address order. */
void shalloc_walk(struct shalloc *h, void (*visit)(void *ctx, const struct shalloc_block_info *b),
                  void *ctx);

/* Why the last failing call failed ("shm_open", "region full: ..."). */
const char *shalloc_error(const struct shalloc *h);

#endif
