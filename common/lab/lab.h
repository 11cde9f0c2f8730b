/*
 * lab.h - what every lab's test driver shares with the grader.
 *
 * common/lab/grade.sh runs a driver once per test, as
 *     DRIVER TEST_ID [KEY=VALUE...]        (the arguments are the rubric's)
 * in a scratch directory, with LAB_SEED, LAB_DIR, LAB_OUT, LAB_TMP and
 * LAB_TIMEOUT_S in its environment and file descriptor 3 open on the
 * grader's verdict file.  The driver ends with exactly one verdict:
 *
 *     lab_pass(NULL)                     exit 0, full points
 *     lab_partial(60, "...")             exit 0, 60% of the points
 *     lab_fail("what was wrong; expected what")      exit 1
 *     lab_skip("what this machine lacks")            exit 77, 0 points
 *
 * Each writes one line to fd 3 ("pass", "partial 60 ...", "fail ...",
 * "skip ..."); run by hand, without fd 3, the line goes to stderr.  What
 * the driver or the student's code prints elsewhere is only kept in the
 * test's log.  A crash or a hang has no verdict: the grader reports it
 * from the exit status, with the "where" line lab_on_crash() writes.
 */
#ifndef ASYM_LAB_H
#define ASYM_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LAB_EXIT_SKIP = 77 };

/* --- verdicts ----------------------------------------------------------- */

_Noreturn void lab_pass(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
_Noreturn void lab_partial(unsigned pct, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
_Noreturn void lab_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
_Noreturn void lab_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* --- where the test was, for crashes and hangs -------------------------- */

/*
 * A line being built inside a signal handler: only these functions (plain
 * stores, no stdio, no malloc) may be used to fill it.
 */
struct lab_text {
    char buf[1024];
    size_t len;
};
void lab_text_str(struct lab_text *t, const char *s);
void lab_text_uint(struct lab_text *t, uint64_t value);
void lab_text_hex(struct lab_text *t, uintptr_t value);

/*
 * Install handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT (a crash)
 * and SIGTERM (the grader's timeout).  Each calls describe() to say where
 * the test was, writes "where <text>" to fd 3, and dies by the same signal,
 * so that the grader sees how the driver ended.  The main thread's handler
 * runs on an alternate stack (a stack overflow is a crash too).
 */
void lab_on_crash(void (*describe)(struct lab_text *t));

/* --- a driver's tests --------------------------------------------------- */

/* One test a driver runs as DRIVER ID [KEY=VALUE...]: run gets the
 * KEY=VALUE words and ends with a verdict. */
struct lab_test {
    const char *id;
    const char *claim; /* one line, for --list */
    void (*run)(int argc, char *argv[]);
};

/* --list: a line per test, its id padded to width, then its claim. */
void lab_list_tests(const struct lab_test tests[], size_t count, int width);

/*
 * Run the test main's argv[1] names among tests, with the words after it,
 * which must all be KEY=VALUE (else exit 2), and describe() installed for a
 * crash or hang report (lab_on_crash).  An unknown name is bad usage.
 */
_Noreturn void lab_run_test(const struct lab_test tests[], size_t count, int argc, char *argv[],
                            void (*describe)(struct lab_text *t)) __attribute__((noreturn));

/* --- seed and arguments ------------------------------------------------- */

/* LAB_SEED from the environment (default 1); a malformed one is fatal. */
uint64_t lab_seed(void);

/* The value of KEY=VALUE among args (the rubric's arguments), or fallback.
 * A malformed value is fatal. */
uint64_t lab_arg(int argc, char *const argv[], const char *key, uint64_t fallback);

/* --- payload patterns --------------------------------------------------- */

/* Fill [p, p + n) with the pattern of stamp: a different byte sequence for
 * every stamp, so that a block overwritten by another block's pattern, or by
 * an allocator's header, is told apart from its own content. */
void lab_fill(void *p, size_t n, uint64_t stamp);
/* Fill [p + from, p + to) with the same pattern, as lab_fill would have. */
void lab_fill_range(void *p, size_t from, size_t to, uint64_t stamp);
/* The first offset in [0, n) whose byte is not the pattern's, or n. */
size_t lab_check(const void *p, size_t n, uint64_t stamp);
/* The same for [p + from, p + to): the first bad offset, or to. */
size_t lab_check_range(const void *p, size_t from, size_t to, uint64_t stamp);
/* The pattern's byte at offset. */
uint8_t lab_pattern_byte(uint64_t stamp, size_t offset);

/* --- the machine -------------------------------------------------------- */

/* The facts of this machine that change what can be graded. */
struct lab_machine {
    unsigned cpus;              /* CPUs this process may run on */
    char thp[16];               /* always, madvise, never, or none (no THP) */
    bool frame_numbers_visible; /* /proc/self/pagemap shows frame numbers */
    bool root;                  /* effective uid 0 */
};
void lab_machine_read(struct lab_machine *m);

#endif
