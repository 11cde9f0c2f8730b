/*
 * crash_report.c - the child side of a crash reporter started from a
 * signal handler (crash_report.h): the fork lab's reference solution.
 *
 * It runs in the child of _Fork() called in a signal handler, so any lock
 * may be held - malloc's, stdio's, the journal's - by a thread that is not
 * here.  Until execve (a new program, fresh memory, no locks) or _exit,
 * only async-signal-safe functions: no printf or snprintf (stdio, locale,
 * maybe malloc), no strerror, no exit (atexit handlers, stdio flushing).
 * Numbers are formatted by hand into buffers on the stack.
 */
#include "crash_report.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum { DECIMAL_MAX = 24 }; /* the digits of any 64-bit number, a sign and the NUL */

/* n in decimal into buf, NUL-terminated; returns buf. */
static char *decimal(char buf[static DECIMAL_MAX], long n)
{
    char digits[DECIMAL_MAX];
    unsigned long magnitude = n < 0 ? 0ul - (unsigned long)n : (unsigned long)n;
    size_t count = 0, len = 0;

    do
        digits[count++] = (char)('0' + magnitude % 10);
    while ((magnitude /= 10) != 0);
    if (n < 0)
        buf[len++] = '-';
    while (count > 0)
        buf[len++] = digits[--count];
    buf[len] = '\0';
    return buf;
}

/* All of text to fd, however the kernel splits it; gives up on an error. */
static void write_text(int fd, const char *text)
{
    size_t left = strlen(text);

    while (left > 0) {
        ssize_t n = write(fd, text, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        text += n;
        left -= (size_t)n;
    }
}

/* "crash_report: cannot execute REPORTER (errno N)" on standard error. */
static void report_failure(const char *reporter, int err)
{
    char number[DECIMAL_MAX];

    write_text(STDERR_FILENO, "crash_report: cannot execute ");
    write_text(STDERR_FILENO, reporter);
    write_text(STDERR_FILENO, " (errno ");
    write_text(STDERR_FILENO, decimal(number, err));
    write_text(STDERR_FILENO, ")\n");
}

void crash_report_child(const struct crash_report *r, int signo)
{
    if (dup2(r->out_fd, STDOUT_FILENO) >= 0) {
        char pid_text[DECIMAL_MAX], signo_text[DECIMAL_MAX];
        char *argv[] = {(char *)r->reporter, decimal(pid_text, r->pid), decimal(signo_text, signo),
                        NULL};
        execve(r->reporter, argv, environ); /* returns only if it failed */
    }
    report_failure(r->reporter, errno);
    _exit(127);
}
