/*
 * file_lab.h - lab 02's test driver and quiz, shared between their files.
 *
 *   generate.c   the scenarios, made from a seed
 *   scenario.c   the scenarios run for real and predicted (lab_scenarios)
 *   tests.c      the implement half: count_lines, copy_from_mapping (lab_tests)
 *   files.c      scratch files and what the kernel says about them
 */
#ifndef FILE_LAB_H
#define FILE_LAB_H

#include "filemap.h"
#include "scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ----------------------------------------------------------- scenarios */

enum { FACT_CACHED, FACT_ACCESS, FACT_READ, FACTS };
enum { LEVEL_SHARED, LEVEL_PRIVATE, LEVEL_TRUNCATE, LEVEL_CACHE };

/* The current scenario: its steps, and after which the number of cached
 * pages is certain (and so asked). */
struct file_scenario {
    unsigned count;
    struct file_step steps[FILE_MAX_STEPS];
    bool asked_cached[FILE_MAX_STEPS];
};
extern struct file_scenario scenario_now;
extern const char *const file_map_names[]; /* "S", "P" */

/* Make the scenario of seed at level the current one, and its script. */
void generate_scenario(uint64_t seed, unsigned level, struct scn_script *script);

/* --------------------------------------------------------------- files */

/* Where scratch files go: $LAB_TMP (the grader's scratch directory), else
 * $TMPDIR, else /tmp. */
const char *scratch_dir(void);

/* A read-write file made in dir and unlinked at once: nothing is left
 * behind however the process ends.  Dies on failure. */
int scratch_file(const char *dir);

/* Another descriptor for fd's file, read-only (through /proc/self/fd). */
int reopen_read_only(int fd);

/* Write all of buf at offset, or die. */
void write_at(int fd, const void *buf, size_t len, off_t offset);

/* fd's size in bytes, from fstat. */
uint64_t file_size(int fd);

/* Pages of fd's file (as long as it is now) in the page cache: mincore()
 * over a fresh mapping that nothing touches. */
long cached_pages_of(int fd);

/* fdatasync, then POSIX_FADV_DONTNEED of the whole file, or die. */
void drop_cached(int fd);

/* Whether dir's file system lets POSIX_FADV_DONTNEED drop clean pages
 * (tmpfs, for one, cannot: its pages are the file). */
bool drops_clean_pages(const char *dir);

/* Whether dir's file system keeps its files in memory (tmpfs, ramfs). */
bool in_memory_file_system(const char *dir);

#endif
