/*
 * driver.h - the malloc lab's test driver, shared between its files.
 *
 *   mm_driver.c   the command line and the table of tests
 *   trace.c       traces: generating, reading, printing, and replaying them
 *                 with every check (the trace_* tests)
 *   api.c         the API's promises one by one (align, edge_cases, enomem,
 *                 calloc_zero, realloc_keep, smoke_init)
 *   threads.c     several threads at once, one of them frozen at random
 *                 (threads_2, threads_4)
 *   measure.c     what is measured: the rules, utilisation, speed
 *
 * A trace is the project's allocation trace (bench/alloc_trace.c): after
 * the line "# alloc-trace v1 kind=K seed=S ops=N ids=M", one call a line,
 *     a ID SIZE    malloc(SIZE) into id        f ID    free id's block
 *     r ID SIZE    realloc id's block to SIZE
 * so build/alloc_trace can replay the lab's traces against glibc too.
 */
#ifndef MM_DRIVER_H
#define MM_DRIVER_H

#include "lab/lab.h"

#include <stddef.h>
#include <stdint.h>

/* ----------------------------------------------------------- traces */

enum trace_kind { KIND_SMALL, KIND_REALLOC, KIND_MIXED, KIND_LARGE, KINDS };
extern const char *const trace_kind_names[]; /* "small", ..., NULL */

struct call {
    char op; /* 'a', 'r' or 'f' */
    uint32_t id;
    uint32_t size;
};

struct trace {
    char name[96]; /* "trace small (seed 1)" or "trace coalesce.trace" */
    struct call *calls;
    size_t count;
    uint32_t ids;
};

/* The calls a kind makes by default (before the final frees). */
uint64_t trace_default_ops(enum trace_kind kind);
/* Generate a trace of kind from the grader's seed; the same arguments give
 * the same trace (mm_driver gen prints it). */
void trace_generate(struct trace *t, enum trace_kind kind, uint64_t seed, uint64_t ops);
/* The trace of kind for this test: the grader's seed, the rubric's ops=. */
void trace_for_test(struct trace *t, enum trace_kind kind, int argc, char *argv[]);
/* Read a trace file; dies (exit 1, naming the line) if it is not one. */
void trace_load(struct trace *t, const char *path);
/* Print a trace in the file format. */
void trace_print(const struct trace *t, uint64_t seed, const char *kind);
void trace_free(struct trace *t);
/* The line of the file on which call i is: the header is line 1. */
static inline size_t trace_line(size_t i)
{
    return i + 2;
}

/* Replay t on mm_, checking every promise: alignment, no overlap, payloads
 * intact until freed and across realloc.  Fails the test (lab_fail) with the
 * trace, the line and the block at the first broken one. */
void trace_replay_checked(const struct trace *t);

/* -------------------------------------------- the allocator under test */

/* Call mm_init() once; fail the test if it does not return 0. */
void allocator_start(void);

/* What a test is doing, for the crash and timeout report: set before each
 * step that may crash or hang, read by the signal handler. */
struct progress {
    const char *volatile step; /* "in mm_malloc", "checking the payload of" */
    const struct trace *volatile trace;
    volatile size_t call;     /* index in trace->calls, when trace is set */
    volatile uintptr_t block; /* the block concerned, 0 if none */
    volatile size_t size;     /* its size */
};
extern struct progress progress;
void describe_progress(struct lab_text *t);

/* The bytes mapped into this process: VmSize, from /proc/self/statm, which
 * counts every mapping however it was made (mmap, a raw syscall, brk). */
uint64_t mapped_bytes(void);

/* "mm_malloc(100) returned 0x...: 8 bytes past a 16-byte boundary" when p
 * is misaligned, else NULL.  buf holds the text. */
const char *misaligned(const char *call, void *p, char buf[static 160]);

/* ---------------------------------------------------------- the tests */

typedef void test_fn(int argc, char *argv[]);
test_fn test_smoke_init, test_align, test_edge_cases, test_enomem, test_calloc_zero,
    test_realloc_keep;
test_fn test_trace_small, test_trace_realloc, test_trace_mixed, test_trace_large, test_trace_files;
test_fn test_threads_2, test_threads_4;
test_fn test_rules_mmap_only, test_util_small, test_util_realloc, test_util_mixed, test_speed;

#endif
