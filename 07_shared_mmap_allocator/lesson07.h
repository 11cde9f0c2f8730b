/*
 * lesson07.h - what the files of the lesson program share: the options,
 * one function per command, and the helpers several commands use.
 */
#ifndef LESSON07_H
#define LESSON07_H

#include "child.h"
#include "shalloc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MAX_PROCS = 32, CHILD_TIMEOUT_MS = 30000 };

/* The command line, parsed. */
struct options {
    unsigned procs;       /* --procs: worker processes */
    uint64_t ops;         /* --ops: operations per worker */
    uint64_t seed;        /* --seed */
    unsigned kills;       /* --kills: processes crash kills */
    bool hold;            /* --hold: share keeps its region until Enter */
    const char *name;     /* create, attach, check, unlink: the object's name */
    size_t size;          /* create: region size; demo, stress, crash: --size (0: default) */
    unsigned generations; /* generations N */
};

/* One function per command; each returns the exit status. */
int run_demo(const struct options *o);
int run_freelist(const struct options *o);
int run_generations(const struct options *o);
int run_dontfork(const struct options *o);
int run_race(const struct options *o);
int run_map(const struct options *o);
int run_create(const struct options *o);
int run_attach(const struct options *o);
int run_check(const struct options *o);
int run_unlink(const struct options *o);
int run_share(const struct options *o);
int run_stress(const struct options *o);
int run_crash(const struct options *o);
int run_bench(const struct options *o);

/* Create a region (name NULL: anonymous) or die with the library's reason. */
void open_region(struct shalloc *h, const char *name, size_t size);
/* Detach, or die. */
void close_region(struct shalloc *h);
/* shalloc_alloc, or die with the library's reason (the region is full). */
void *alloc_or_die(struct shalloc *h, size_t size);
/* Run the checker and say what it found; true if every invariant holds. */
bool report_check(struct shalloc *h);
/* A table of the size classes in use: spans and blocks by state. */
void print_class_table(struct shalloc *h);

/* A stamp names a block's owner (below 2^16), a sequence number (its low
 * 16 bits) and its size (8 bytes to 4 GiB); the block is filled with a
 * pattern derived from it. */
static inline uint64_t make_stamp(unsigned owner, size_t size, uint32_t seq)
{
    return (uint64_t)owner << 48 | (uint64_t)(seq & 0xffff) << 32 | (uint32_t)size;
}
static inline size_t stamp_size(uint64_t stamp)
{
    return (size_t)(uint32_t)stamp;
}
/* The pattern covers every byte of the first 64 KiB and one byte in 512
 * after that (a large block is a run of whole 16 KiB spans, so any block
 * over it would cover some of those bytes). */
void pattern_fill(unsigned char *block, uint64_t stamp);
/* True if the block still holds the pattern of the stamp it starts with,
 * and the stamp's size is at most max_size. */
bool pattern_intact(const unsigned char *block, size_t max_size, uint64_t *stamp);
/* ---- stress and crash: workers that fill, verify and pass blocks ------- */

enum { HELD_BLOCKS = 256 }; /* blocks a worker holds at most */

/* What one worker counted; kept in the region. */
struct tally {
    uint64_t verified;      /* blocks whose pattern was intact when freed */
    uint64_t overlaps;      /* blocks whose pattern was not */
    uint64_t failed_allocs; /* the region was full */
    uint64_t handoffs;      /* blocks passed to another process */
    uint64_t large_blocks;  /* blocks above SHALLOC_MAX_SMALL (runs of spans) */
    uint64_t largest_bytes; /* the largest block it allocated */
};

struct stress {
    struct shalloc region;
    uint64_t ops, seed;
    size_t huge_bytes;           /* the largest request (a sixteenth of the region) */
    struct tally *tallies;       /* one per worker, in the region */
    _Atomic uint64_t *mailboxes; /* block offsets, in the region */
    _Atomic uint64_t *progress;  /* crash: operations done per worker */
    bool crash;                  /* half the workers without a cache */
};

/* A region of size bytes, and the tallies and mailboxes in it. */
void stress_set_up(struct stress *s, size_t size);
/* A crew member: s->ops random steps, then free what it holds and leave. */
int stress_worker(void *arg, unsigned index);
/* Free what is still in the mailboxes, then sum the first procs tallies
 * (and free them and the mailboxes). */
struct tally stress_collect(struct stress *s, unsigned procs);

/* ---- named regions: create, attach, check, unlink, share --------------- */

/* "VERB NAME: why", and the errno too unless the region is corrupt (the
 * library's "corrupt region: what at offset N" says it all). */
_Noreturn void die_region(const char *verb, const char *name, struct shalloc *h);
/* Create a named region with no instant at which a signal could leave its
 * name behind: the signals wait until the name is recorded for removal
 * (see share.c).  Dies "VERB NAME: why" (a full /dev/shm: saying so, and
 * the size asked). */
void create_owned(struct shalloc *h, const char *verb, const char *name, size_t size);
/* The name is no longer ours to remove (handed to the user, or removed). */
void disown_name(void);

/* A list kept in the region: every entry starts with this link, and the
 * list's head is a root.  Offsets, not pointers, so that any process can
 * follow it wherever it maps the region. */
struct list_link {
    _Atomic uint64_t next; /* offset of the next entry, 0 at the end */
};

/* A walk along such a list.  The region is input: every link is checked
 * (a block in use, as large as an entry) and a cycle is found, so a walk
 * always ends; a bad link ends the program with "WHO: corrupt region: the
 * list in root R: what at offset N", N where the bad link is stored. */
struct list_cursor {
    struct shalloc *h;
    const char *who;              /* the start of the message: "attach NAME" */
    unsigned root;                /* the list's root */
    size_t entry_bytes;           /* the size of an entry */
    _Atomic uint64_t *link;       /* the link followed next */
    uint64_t mark, steps, stride; /* finding a cycle (Brent's way) */
};

void list_start(struct list_cursor *c, struct shalloc *h, unsigned root, size_t entry_bytes,
                const char *who);
/* The next entry, or NULL at the end of the list. */
void *list_next(struct list_cursor *c);
/* Append entry (entry_bytes, starting with a list_link) at the end of the
 * list in root: a compare-and-swap of the 0 that ends it, so appenders may
 * race. */
void list_append(struct shalloc *h, unsigned root, struct list_link *entry, size_t entry_bytes,
                 const char *who);

/* A note of the list in root NOTES_ROOT that attach and share extend. */
enum { NOTES_ROOT = 0 };
struct note {
    struct list_link link;   /* the next note, by offset */
    int32_t pid;             /* who wrote it */
    uint64_t writer_base;    /* where the writer had the region mapped */
    uint64_t writer_pointer; /* the writer's raw pointer to this note */
    char text[40];
};
/* Append a note of this process with text (WHO: for messages). */
struct note *add_note(struct shalloc *h, const char *text, const char *who);
/* Print the notes (their text as printable ASCII); returns how many. */
unsigned print_notes(struct shalloc *h, const char *who);

#endif
