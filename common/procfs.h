/*
 * procfs.h - what the kernel says about this process's memory.
 *
 * Every reader here uses open()/read() into fixed buffers and never calls
 * malloc, so it is safe to call while measuring the heap, and in a child
 * forked from a multithreaded parent.
 */
#ifndef ASYM_PROCFS_H
#define ASYM_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The page size, from sysconf(_SC_PAGESIZE). */
size_t page_size(void);

/* Resident set size in KiB (/proc/self/statm, second field). Dies on error. */
uint64_t rss_kib(void);

/* The largest RSS this process has had so far, in KiB (getrusage
 * ru_maxrss, the same as VmHWM in /proc/self/status). Dies on error. */
uint64_t peak_rss_kib(void);

/* Minor and major page faults taken so far by this process (all threads),
 * from getrusage(RUSAGE_SELF). Dies on error. */
uint64_t minor_faults(void);
uint64_t major_faults(void);

/* The value of the first "Field: N kB" line of a /proc file (e.g.
 * "/proc/self/status", "VmPTE"), or -1 if the file or field is missing. */
long long proc_kib_field(const char *path, const char *field);

/* MemAvailable from /proc/meminfo: what can be allocated without swapping,
 * in bytes.  Dies if the kernel does not report it. */
uint64_t mem_available_bytes(void);

/* One line of /proc/self/maps. */
struct mapping {
    uintptr_t start, end; /* [start, end) */
    char perms[5];        /* "rw-p" */
    char path[256];       /* "" for an anonymous mapping, "[heap]", a file... */
    char line[512];       /* the line as the kernel printed it, without '\n' */
};

/* Find the mapping that contains addr.  Returns false if none does. */
bool mapping_find(const void *addr, struct mapping *out);

/* A "Field: N kB" value of the smaps entry of the mapping containing addr
 * (e.g. "Rss", "Private_Dirty", "AnonHugePages"), or -1 if there is none. */
long long smaps_kib(const void *addr, const char *field);

/* The same field summed over the whole process (/proc/self/smaps_rollup),
 * or -1 if the file or field is missing. */
long long smaps_rollup_kib(const char *field);

/*
 * A line reader over a file descriptor with a fixed buffer: the building
 * block of the readers above, for lessons that parse other /proc files.
 */
struct line_reader {
    int fd;
    size_t start, end; /* unread bytes are buf[start, end) */
    bool skipping;     /* inside an over-long line, dropping its tail */
    char buf[4096];
};

/* Open path for reading; returns false (errno set) if it cannot. */
bool line_reader_open(struct line_reader *r, const char *path);
/* Next line without its '\n' (truncated to cap - 1 bytes); false at end. */
bool line_reader_next(struct line_reader *r, char *line, size_t cap);
void line_reader_close(struct line_reader *r);

#endif
