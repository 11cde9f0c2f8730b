/*
 * stdio_copy.c - why output after fork can appear twice.
 *
 * A stdio stream's buffer is ordinary memory in the process, so fork copies
 * it like everything else.  A line still waiting in the buffer at fork time
 * is then written once by each process.  The experiment writes one line into
 * a fully buffered stream on a pipe (as stdout is when it goes to a pipe or a
 * file), forks, lets both processes close the stream, and counts the lines
 * that come out of the pipe: first without flushing before fork, then with.
 */
#include "fork_cow.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char line_text[] = "one line, written once, before fork\n";

/* In the child: close its copy of the stream, which writes its copy of the
 * buffer (if any is left), then leave. */
static int close_stream(void *arg)
{
    if (fclose(arg) != 0)
        die_errno("child: fclose");
    return 0;
}

/* fork() without the fflush(NULL) that child_start() does first: the one
 * place in these lessons that forks raw, because the bug needs the buffer. */
static pid_t fork_keeping_buffer(FILE *stream)
{
    pid_t pid;

    fflush(stdout); /* our own output must not be copied; only the demo's buffer */
    pid = fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0)
        _exit(close_stream(stream));
    return pid;
}

/* Lines that can be read from fd until end of file. */
static unsigned count_lines(int fd)
{
    char buf[512];
    unsigned lines = 0;
    ssize_t got;

    while ((got = read(fd, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die_errno("read pipe");
        for (ssize_t i = 0; i < got; i++)
            lines += buf[i] == '\n';
    }
    return lines;
}

/* Write one line into a buffered stream on a pipe, fork, close the stream in
 * both processes, and return how many lines came out of the pipe. */
static unsigned lines_after_fork(bool flush_first)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) != 0)
        die_errno("pipe2");
    FILE *stream = fdopen(fds[1], "w");
    if (stream == NULL)
        die_errno("fdopen");
    if (setvbuf(stream, NULL, _IOFBF, BUFSIZ) != 0)
        die("setvbuf: cannot make the stream fully buffered");
    if (fputs(line_text, stream) == EOF)
        die_errno("fputs");

    uint64_t started = now_ns();
    pid_t pid = flush_first ? child_start(close_stream, stream) : fork_keeping_buffer(stream);
    if (fclose(stream) != 0)
        die_errno("fclose");
    finish_child(pid, started);
    unsigned lines = count_lines(fds[0]); /* both write ends are closed now */
    close(fds[0]);
    return lines;
}

static void report(bool flushed, unsigned lines)
{
    printf("%-28s the pipe received %u line%s\n",
           flushed ? "with fflush before fork:" : "without fflush before fork:", lines,
           lines == 1 ? "" : "s");
    fact_word("stdio", flushed ? "flushed" : "unflushed");
    fact_uint("lines_written", 1);
    fact_uint("lines_read", lines);
    facts_end();
}

void show_stdio_copy(void)
{
    heading("stdio: a buffer is memory, and fork copies it");
    printf("One line goes into a fully buffered stream on a pipe; then fork, and both\n"
           "processes close the stream.\n");
    report(false, lines_after_fork(false));
    report(true, lines_after_fork(true));
    printf("The unflushed line sat in the buffer, the buffer was copied, and each\n"
           "process wrote its copy when it closed the stream (exit() would do the same).\n"
           "So every fork in these lessons goes through child_start(), which calls\n"
           "fflush(NULL) before fork: the child starts with empty buffers and writes\n"
           "only what it printed itself.\n");
}
