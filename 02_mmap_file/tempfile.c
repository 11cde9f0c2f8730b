/*
 * tempfile.c - an unlinked scratch file (see tempfile.h).
 */
#include "tempfile.h"

#include "cli.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int temp_file_create(char *name, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    sigset_t all, previous;
    int fd;

    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    if ((size_t)snprintf(name, cap, "%s/02_mmap_file.XXXXXX", dir) >= cap)
        die("TMPDIR is too long: '%.40s...'", dir);
    /* A signal between mkstemp and unlink would leave the name behind. */
    sigfillset(&all);
    if (sigprocmask(SIG_BLOCK, &all, &previous) != 0)
        die_errno("sigprocmask");
    fd = mkstemp(name);
    if (fd < 0) {
        char what[128];
        snprintf(what, sizeof what, "mkstemp %.100s", name);
        die_errno(what);
    }
    if (unlink(name) != 0)
        die_errno("unlink");
    if (sigprocmask(SIG_SETMASK, &previous, NULL) != 0)
        die_errno("sigprocmask");
    return fd;
}

int temp_file_reopen(int fd)
{
    char path[64];
    int again;

    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    again = open(path, O_RDONLY | O_CLOEXEC);
    if (again < 0)
        die_errno("open /proc/self/fd");
    return again;
}
