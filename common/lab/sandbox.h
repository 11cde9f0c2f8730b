/*
 * sandbox.h - run a student's function in a child process that may compute
 * but not measure.
 *
 * A predictor in labs 01 to 04 has to work the facts out from the steps it
 * is given; running the steps and asking the kernel would be measuring.  So
 * the grader calls it in a child behind a seccomp filter that allows what
 * computing needs (memory from brk and mmap, printing with write, exiting)
 * and stops the child at any other system call (mincore, getrusage, open,
 * fork...), naming it.  The child also keeps a crash or a hang of the
 * student's code away from the grader.  The results come back through
 * memory the caller shares with the child (a MAP_SHARED mapping).
 */
#ifndef ASYM_LAB_SANDBOX_H
#define ASYM_LAB_SANDBOX_H

#include <stdbool.h>

enum sandbox_end {
    SANDBOX_RETURNED, /* body returned */
    SANDBOX_SYSCALL,  /* stopped at a system call it may not make: detail */
    SANDBOX_CRASHED,  /* killed by signal detail */
    SANDBOX_HUNG,     /* still running after the timeout: killed */
    SANDBOX_EXITED,   /* called exit() itself, with status detail */
};

struct sandbox_result {
    enum sandbox_end end;
    int detail; /* the system call's number, the signal, the exit status */
};

/* Run body(arg) in a child and wait for it at most timeout_ms.  With
 * filter false (under a sanitizer, whose runtime makes system calls of its
 * own), the child runs without the seccomp filter. */
struct sandbox_result sandbox_run(void (*body)(void *arg), void *arg, int timeout_ms, bool filter);

/* "made a system call it may not make (mincore)", "crashed (SIGSEGV)",
 * "did not return within 10 s", "called exit(1)" -- or "" when it returned. */
const char *sandbox_describe(const struct sandbox_result *r, int timeout_ms, char buf[static 96]);

#endif
