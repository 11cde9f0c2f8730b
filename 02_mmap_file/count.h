/*
 * count.h - lines and bytes of a file, counted as wc -l and wc -c count
 * them, through read() or through mmap().
 *
 * A line is a '\n' byte: a last line without one is not counted, NUL bytes
 * are ordinary bytes.  Every count and offset is 64-bit.
 */
#ifndef MMAP_FILE_COUNT_H
#define MMAP_FILE_COUNT_H

#include <stddef.h>
#include <stdint.h>

enum { COUNT_MAX_ROUNDS = 100 }; /* the most rounds --rounds accepts */

enum count_method { METHOD_MMAP, METHOD_READ, METHOD_BOTH };
enum count_loop { LOOP_VECTOR, LOOP_MEMCHR };

/* NULL-terminated names, in enum order, for opt_choice and the output. */
extern const char *const count_method_names[];
extern const char *const count_loop_names[];

/* What the count subcommand was asked to do. */
struct count_request {
    const char *path;
    enum count_method method;
    enum count_loop loop;
    unsigned rounds; /* 1 to COUNT_MAX_ROUNDS; 0: 1, or 3 for METHOD_BOTH */
};

/* One pass over a file. */
struct tally {
    uint64_t lines, bytes;
};

/* The number of '\n' bytes in data[0, len). */
uint64_t count_newlines(const unsigned char *data, size_t len, enum count_loop loop);

/* Count fd's file from offset 0 to its end with pread() into a buffer.
 * size is what fstat said at the start: a file that ends before it, and
 * that fstat then says is smaller, shrank while it was read - an error
 * (the same as tally_by_mmap's), not a partial count.  (A /proc or sysfs
 * file whose size is not its length is counted as it is.)  name is used
 * in messages. */
struct tally tally_by_read(int fd, uint64_t size, enum count_loop loop, const char *name);

/* Count the first size bytes of fd's file through read-only mappings, one
 * window at a time.  Dies with a clear message (not by SIGBUS) if the file
 * shrinks while it is mapped, and suggests --method read for a file that
 * cannot be mapped (sysfs, say).  name is used in messages. */
struct tally tally_by_mmap(int fd, uint64_t size, enum count_loop loop, const char *name);

/* Count size bytes of the open file fd as request says (request->path is
 * its name in messages) and print the facts of each method, and with
 * METHOD_BOTH the comparison.  Each method's max_rss_kib is the peak RSS
 * during its own rounds. */
void count_file(int fd, uint64_t size, const struct count_request *request);

/* The count subcommand: print lines=N bytes=N and the facts of each pass.
 * Exits 1 with the reason if the file cannot be counted. */
void run_count(const struct count_request *request);

#endif
