/*
 * cli.h - the command-line manners every program of the project shares.
 *
 * Exit statuses:
 *   0  success (and --help)
 *   1  failure at run time:   "prog: what failed: strerror text (ERRNO_NAME)"
 *   2  bad usage:             "prog: what is wrong with the command line"
 * Each message is exactly one line on stderr.
 */
#ifndef ASYM_CLI_H
#define ASYM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { EXIT_USAGE = 2 };

/* The functions that never return say so twice: _Noreturn for the compiler,
 * the attribute for cppcheck, which reads only the latter. */

/* The program's short name, as used at the start of every message. */
const char *prog_name(void);

/* Record the calling process as the program's main process.  Call once at
 * the top of main().  die() in any other process (a child after fork) leaves
 * with _exit(), so the child never runs the parent's atexit cleanup.  At
 * the main process's exit, standard output is flushed and closed, and a
 * failure (a full disk, a closed descriptor) is one line on stderr and
 * exit status 1: a result that was not written is not a success. */
void cli_init(void);

/* "prog: <message>: <strerror> (<ERRNO_NAME>)", exit 1. */
_Noreturn void die_errno(const char *what) __attribute__((noreturn));
/* Same, for an error number returned rather than left in errno (pthreads). */
_Noreturn void die_err(const char *what, int err) __attribute__((noreturn));
/* "prog: <message>", exit 1. */
_Noreturn void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* "prog: <message> (see --help)", exit 2. */
_Noreturn void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Leave the process now: exit() in the main process, _exit() in a child
 * (after flushing what the child itself printed). */
_Noreturn void leave(int status) __attribute__((noreturn));

/* The symbolic name of an errno value ("ENOMEM"), or "errno N". */
const char *errno_name(int err, char buf[static 24]);

/* The name of a signal ("SIGSEGV"), or "signal N". */
const char *signal_name(int sig, char buf[static 24]);

/*
 * The end of a handler of a fatal signal that must die by that signal:
 * puts back sig's default action and sends sig again, delivered (fatal)
 * when the handler returns.  The handler must be installed without
 * SA_RESETHAND or SA_NODEFER, so that sig stays blocked while it runs:
 * SA_RESETHAND puts the default back before the handler starts, and a
 * second sig arriving then (timeout(1) signals the process, then its
 * group) kills the process before the handler has done its work.
 * If it cannot, it exits with 128 + sig.  Async-signal-safe.
 */
void reraise_default(int sig);

/*
 * Parse a size: decimal digits with an optional K, M, G, T or P suffix
 * (powers of 1024, either case).  Rejects empty text, signs, spaces, zero,
 * trailing junk and values that do not fit in size_t.  On failure returns
 * false and sets *why to a short reason.
 */
bool parse_size(const char *text, size_t *out, const char **why);

/* Parse a decimal integer in [min, max]; same rejections as parse_size. */
bool parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out, const char **why);

/* Option wrappers: parse or exit 2 with a line naming the option. */
size_t opt_size(const char *option, const char *text);
uint64_t opt_uint(const char *option, const char *text, uint64_t min, uint64_t max);
/* "MIN-MAX", two sizes as opt_size takes them with MIN <= MAX (e.g.
 * "16-1000", "1K-8K"), or exit 2. */
void opt_size_range(const char *option, const char *text, size_t *min, size_t *max);
/* Return the index of text in the NULL-terminated list choices, or exit 2. */
int opt_choice(const char *option, const char *text, const char *const choices[]);

/*
 * The whole command line of a program whose options are --size SIZE,
 * --mode MODE (an index into the NULL-terminated mode_names) and --help:
 * *size and *mode keep their defaults unless given; --help calls usage()
 * and exits 0; anything else is a usage error (exit 2).
 */
void parse_size_and_mode(int argc, char *argv[], size_t *size, int *mode,
                         const char *const mode_names[], void (*usage)(void));

/* Turn getopt_long's '?' or ':' into one usage line and exit 2.  Call with
 * opterr = 0 and an optstring that starts with ':'. */
_Noreturn void bad_option(int code, char *const argv[]) __attribute__((noreturn));

/* A size in the largest unit it reaches: "256 MiB", "22.4 GiB", "100 bytes". */
const char *human_size(uint64_t bytes, char buf[static 32]);

#endif
