/*
 * orphan_reap - run a command as the child of a subreaper and count the
 * processes it left behind; run by the tests of lessons 03 and 07.
 *
 * A process that exits before reaping its children hands them to the
 * nearest subreaper (PR_SET_CHILD_SUBREAPER), or to init, which may never
 * reap them.  This program is that subreaper: it runs COMMAND, waits for
 * it, then reaps every process that came back to it (killing one still
 * running after a second) and counts them: a command that reaps what it
 * starts leaves orphans=0, whatever way it ends.
 *
 * Usage: orphan_reap COMMAND [ARG...]
 *
 * Look for: orphans=0; status= is COMMAND's exit status (128 + N for
 * signal N); this program exits with it.
 */
#include "cli.h"
#include "clock.h"
#include "out.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { GRACE_MS = 1000, POLL_MS = 10 };

/* Kill every child still running (they are listed by /proc). */
static void kill_children(void)
{
    char path[64], list[4096];

    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die_errno(path);
    size_t n = fread(list, 1, sizeof list - 1, f);
    fclose(f);
    list[n] = '\0';
    for (char *word = strtok(list, " \n"); word != NULL; word = strtok(NULL, " \n"))
        kill((pid_t)atoi(word), SIGKILL);
}

/* Reap what came back: within GRACE_MS (the children of an exited parent
 * that die with it), then by force.  Returns how many. */
static unsigned reap_orphans(void)
{
    uint64_t deadline = now_ns() + (uint64_t)GRACE_MS * 1000000u;
    struct timespec pause = {0, POLL_MS * 1000000L};
    unsigned orphans = 0;
    pid_t pid;

    for (;;) {
        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
            orphans++;
        if (pid < 0 && errno == ECHILD)
            return orphans;
        if (pid < 0 && errno != EINTR)
            die_errno("waitpid");
        if (now_ns() >= deadline)
            break;
        nanosleep(&pause, NULL); /* waiting for others to die: nothing to order */
    }
    kill_children();
    while ((pid = waitpid(-1, NULL, 0)) > 0 || (pid < 0 && errno == EINTR))
        orphans += pid > 0;
    return orphans;
}

static void usage(void)
{
    printf("Usage: %s COMMAND [ARG...]\n"
           "\n"
           "Run COMMAND as the child of a subreaper; count the processes it left\n"
           "behind (orphans=N) and exit with its status.\n",
           prog_name());
}

int main(int argc, char *argv[])
{
    int status;

    cli_init();
    if (argc < 2)
        usage_error("give a COMMAND to run");
    if (argv[1][0] == '-') {
        if (strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--help") != 0)
            usage_error("unknown option '%.40s'", argv[1]);
        usage();
        return 0;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        die_errno("prctl PR_SET_CHILD_SUBREAPER");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        die_errno(argv[1]);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die_errno("waitpid");
    int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    fact_uint("orphans", reap_orphans());
    fact_int("status", code);
    facts_end();
    return code;
}
