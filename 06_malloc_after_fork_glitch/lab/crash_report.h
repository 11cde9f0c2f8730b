/*
 * crash_report.h - starting a crash reporter from a signal handler.  Do
 * not edit (the grader compiles crash_report.c against its own copy).
 *
 * A program that wants a report when something goes wrong (a fatal signal,
 * or SIGUSR1 from an operator) forks in the signal handler, with _Fork():
 * fork() there may wait for a lock the interrupted code holds.  The child
 * of _Fork() runs no fork handlers and may find any lock held, malloc's
 * among them, so until it calls execve or _exit it may call only
 * async-signal-safe functions (signal-safety(7)).  It calls:
 *
 *   crash_report_child(r, signo)
 *       run the program r->reporter (a path: not looked up in PATH) as
 *           reporter PID SIGNO
 *       with PID = r->pid and SIGNO = signo in decimal, the process's
 *       environment (environ), and its standard output on r->out_fd.  If it
 *       cannot be run, write
 *           crash_report: cannot execute REPORTER (errno N)\n
 *       to standard error (N: the errno of the failure, in decimal) and
 *       leave with _exit(127).  It never returns.
 */
#ifndef CRASH_REPORT_H
#define CRASH_REPORT_H

#include <sys/types.h>

struct crash_report {
    const char *reporter; /* the program to run */
    int out_fd;           /* its standard output */
    pid_t pid;            /* the process the report is about */
};

void crash_report_child(const struct crash_report *r, int signo);

#endif
