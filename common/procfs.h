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
#include <sys/types.h>

/* The page size, from sysconf(_SC_PAGESIZE). */
size_t page_size(void);

/* Resident set size in KiB (/proc/self/statm, second field). Dies on error. */
uint64_t rss_kib(void);

/* The largest RSS this process has had so far, in KiB (getrusage
 * ru_maxrss, the same as VmHWM in /proc/self/status). Dies on error. */
uint64_t peak_rss_kib(void);

/* Reset the peak ("high water mark") of this process's RSS to its current
 * RSS, by writing 5 to /proc/self/clear_refs (Linux 4.0), so that VmHWM in
 * /proc/self/status then says the peak of what runs next.  Returns false
 * (errno set) if the kernel does not allow it; nothing else is changed. */
bool peak_rss_reset(void);

/* VmHWM from /proc/self/status: the peak RSS since the process started or
 * since the last peak_rss_reset(), in KiB.  Dies if the kernel omits it. */
uint64_t peak_rss_since_reset_kib(void);

/* Minor and major page faults taken so far by this process (all threads),
 * from getrusage(RUSAGE_SELF). Dies on error. */
uint64_t minor_faults(void);
uint64_t major_faults(void);

/* Read a small file (a /proc or /sys entry) into buf, NUL-terminated, with
 * open() and read() only; false if it cannot be read or is empty. */
bool proc_read_small(const char *path, char *buf, size_t cap);

/* "/proc/PID/task/", then TID and tail ("/syscall") when tid > 0, built
 * without stdio: for a watcher that may be the child of a threaded process. */
enum { PROC_TASK_PATH_MAX = 96 };
void proc_task_path(char buf[static PROC_TASK_PATH_MAX], pid_t pid, pid_t tid, const char *tail);

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

/* The address ranges of /proc/self/maps at one moment, to tell afterwards
 * which part of a mapping is new (the kernel merges a new mapping with an
 * adjacent one of the same kind into one line). */
enum { MAPS_SNAPSHOT_MAX = 256 };
struct maps_snapshot {
    size_t count; /* ranges kept (a process with more lines keeps the first) */
    struct {
        uintptr_t start, end;
    } range[MAPS_SNAPSHOT_MAX];
};

void maps_snapshot_take(struct maps_snapshot *s);

/* The new part of the mapping now (which contains addr): the largest range
 * [*start, *end) around addr that no range of the snapshot overlaps.  If
 * addr itself was mapped in the snapshot, *start == *end == addr. */
void maps_new_extent(const struct maps_snapshot *before, const struct mapping *now,
                     const void *addr, uintptr_t *start, uintptr_t *end);

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
