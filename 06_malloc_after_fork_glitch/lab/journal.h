/*
 * journal.h - a journal that threads append records to: it buffers them in
 * memory and writes them out in batches, under its lock, and counts each
 * record in stats (stats.h) while it holds its own lock.  Do not edit (the
 * grader compiles journal.c against its own copy).
 *
 *   journal_open(fd, flush_at)  write records to fd from now on (what was
 *                               pending for the previous fd is written there
 *                               first); write the buffer out whenever it holds
 *                               flush_at bytes or more.  May be called again.
 *                               0, or -1 with errno EINVAL (fd < 0, or
 *                               flush_at 0 or above JOURNAL_CAPACITY).
 *   journal_log(text)           append the record "text\n" (text shorter than
 *                               JOURNAL_RECORD_MAX, no newline) and count it:
 *                               stats_count(1, strlen(text) + 1)
 *   journal_flush()             write out every pending record
 *
 * Every function may be called from several threads at once, and after
 * fork() in either process.  Each record is written exactly once: by the
 * process that logged it (a child writes only the records it logged
 * itself), in the order of its journal_log calls.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>

enum { JOURNAL_CAPACITY = 64 << 10, JOURNAL_RECORD_MAX = 200 };

int journal_open(int fd, size_t flush_at);
void journal_log(const char *text);
void journal_flush(void);

#endif
