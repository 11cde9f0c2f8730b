/*
 * reporter - the crash reporter the fork lab's signal tests have the
 * student's crash_report_child run: it says on its standard output what it
 * was given, and who its parent is.
 *
 * Usage: reporter PID SIGNO
 *
 * Prints "report argc=N pid=PID signal=SIGNO ppid=P" and exits 0.  The
 * test compares the line with what the child was asked to do: the pid and
 * signal in decimal, the output on out_fd, and the driver as the parent
 * (the child itself called execve).
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    printf("report argc=%d pid=%s signal=%s ppid=%d\n", argc, argc > 1 ? argv[1] : "(none)",
           argc > 2 ? argv[2] : "(none)", (int)getppid());
    return fflush(stdout) == 0 ? 0 : 1;
}
