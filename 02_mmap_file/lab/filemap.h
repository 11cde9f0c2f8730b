/*
 * filemap.h - lab 02's interface (see README.md in this folder).  Do not
 * edit: the grader compiles your filemap.c against its own copy.
 *
 * Predict.  A scenario writes a small file, maps it MAP_SHARED (the
 * mapping S) and maybe MAP_PRIVATE (P), stores into it and loads from it
 * through both, writes it with pwrite(), truncates it, asks the kernel to
 * drop it from the page cache, unmaps.  After each step the grader asks
 * how many of the file's pages are in the page cache, what a load or a
 * store through a mapping did, and what read() through another file
 * descriptor sees.  predict_file() gets the steps and returns the facts;
 * the grader runs them for real and compares.  Predict, do not measure:
 * it runs in a process that may not make system calls other than to
 * allocate memory and print.
 *
 * Implement.  count_lines() counts a file's lines through mmap, and
 * copy_from_mapping() reads from a mapping of a file that may have been
 * truncated under it, returning an error instead of dying of SIGBUS.
 */
#ifndef FILEMAP_H
#define FILEMAP_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ predict */

enum { FILE_MAX_PAGES = 16, FILE_MAX_STEPS = 32 };

enum file_op {
    FILE_CREATE,   /* step 0: make a file of pages pages with write(), 4 KiB at
                         a time: every byte of page i is 'a' + i */
    FILE_MAP,      /* mmap the file as mapping map, as long as it was created
                         (pages pages), PROT_READ | PROT_WRITE: S is MAP_SHARED,
                         P is MAP_PRIVATE */
    FILE_STORE,    /* store letter into the first byte of page page through map */
    FILE_LOAD,     /* load the first byte of page page through map */
    FILE_PWRITE,   /* pwrite() letter to the first byte of page page (always
                         inside the file) */
    FILE_TRUNCATE, /* ftruncate() the file to size bytes (it only shrinks) */
    FILE_DROP,     /* fdatasync(), then posix_fadvise(POSIX_FADV_DONTNEED) of the
                         whole file: the kernel drops what it can from the cache */
    FILE_MUNMAP,   /* munmap mapping map */
};

enum file_map { MAP_S, MAP_P };

struct file_step {
    enum file_op op;
    enum file_map map; /* FILE_MAP, FILE_STORE, FILE_LOAD, FILE_MUNMAP */
    unsigned page;     /* FILE_STORE, FILE_LOAD, FILE_PWRITE */
    unsigned pages;    /* FILE_CREATE */
    char letter;       /* FILE_STORE, FILE_PWRITE */
    uint64_t size;     /* FILE_TRUNCATE: the new size in bytes */
};

enum { FILE_SIGBUS = -2, FILE_EOF = -1 };

/* The facts after one step.  The grader asks each only where it applies
 * and where every Linux agrees on it: cached_pages, for instance, is not
 * asked once a step has made the kernel read part of the file back from
 * the disk (how much it reads ahead is its own business). */
struct file_facts {
    long cached_pages; /* pages of the file, as long as it is now, in the page cache */
    int access;        /* FILE_STORE: 0, or FILE_SIGBUS; FILE_LOAD: the byte
                          loaded, or FILE_SIGBUS */
    int read_sees;     /* FILE_STORE, FILE_LOAD, FILE_PWRITE: the byte that
                          pread() of the page's first byte returns through
                          another descriptor, or FILE_EOF when the page is
                          past the end of the file */
};

/*
 * Predict the facts after each of the count steps into facts[0 .. count-1].
 * Return 0, or -1 if you make no prediction.
 */
int predict_file(const struct file_step steps[], unsigned count, struct file_facts facts[]);

/* ---------------------------------------------------------- implement */

/*
 * Count the '\n' bytes of the regular file open (for reading) at fd, as
 * wc -l does, through mmap: from offset 0 to the size fstat() gives, any
 * size (an empty file, a file of 4 GiB and more), mapping at most a window
 * of the file at a time (no more than 1 GiB).  0 with *lines set, or -1
 * with errno set.
 */
int count_lines(int fd, uint64_t *lines);

/*
 * Copy len bytes from src, inside a mapping of a file, to dst, as memcpy
 * would -- except that when the file has been truncated under the mapping
 * and the copy touches a page past its end, the copy stops there and
 * returns -1 with errno EFAULT, instead of the process dying of SIGBUS.
 * 0 when every byte was copied.  The SIGBUS handling in place before the
 * call is in place after it, and a call after a failed one works again.
 */
int copy_from_mapping(void *dst, const void *src, size_t len);

#endif
