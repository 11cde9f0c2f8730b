/*
 * tempfile.h - a scratch file that cannot be left behind.
 */
#ifndef MMAP_FILE_TEMPFILE_H
#define MMAP_FILE_TEMPFILE_H

#include <stddef.h>

/*
 * Create a file with mkstemp under $TMPDIR (or /tmp when it is unset or
 * empty) and unlink its name at once, with every signal blocked in between.
 * The file then lives exactly as long as its descriptors: whatever ends the
 * process (exit, a fatal error, Ctrl-C, SIGTERM, even SIGKILL) removes it.
 * Writes the name it had into name (for messages) and returns the
 * descriptor, opened read-write.  Dies on failure.
 */
int temp_file_create(char *name, size_t cap);

/* A second, independent open of fd's file (its own file offset and open
 * file description), through /proc/self/fd: the way to reopen a file that
 * no longer has a name.  Read-only.  Dies on failure. */
int temp_file_reopen(int fd);

#endif
