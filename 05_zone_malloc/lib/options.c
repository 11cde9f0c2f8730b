/*
 * options.c - the environment switches, read once by zm_init:
 *
 *   ZONE_MALLOC_STATS=1       at exit, one line of counters on stderr (stats.c)
 *   ZONE_MALLOC_LOG=stderr    one line per call (or =PATH: appended there)
 *   ZONE_MALLOC_SCRIBBLE=1    fresh blocks filled with 0xAA, freed ones 0x55
 *   ZONE_MALLOC_CHECK=1       the whole heap validated around every call
 *   ZONE_MALLOC_NO_ATFORK=1   the fork handlers do nothing (state.c)
 *
 * Any of the first four sends every call down the debug path (debug.c).
 * Nothing here may allocate: the environment is read from environ itself.
 */
#include "zm_internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

enum { PRIVATE_FD_MIN = 100 };

/*
 * The value of an environment variable, read from the environ array
 * directly: nothing here can call malloc (getenv does not in glibc either,
 * but nothing promises that).
 */
static const char *env_value(const char *name)
{
    size_t len = strlen(name);

    for (char **e = environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Set, and not "0" or empty. */
static bool env_flag(const char *name)
{
    const char *value = env_value(name);

    return value != NULL && value[0] != '\0' && strcmp(value, "0") != 0;
}

/* A descriptor of our own, out of the way of the ones programs use. */
static int move_high(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, PRIVATE_FD_MIN);

    return high < 0 ? fd : high;
}

static int open_log(const char *where, int stderr_copy)
{
    int fd;

    if (strcmp(where, "stderr") == 0)
        return stderr_copy;
    fd = open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        struct text t = {.fd = STDERR_FILENO};
        text_str(&t, "zone_malloc: cannot open ZONE_MALLOC_LOG file ");
        text_str(&t, where);
        text_str(&t, "; not logging\n");
        text_flush(&t);
        return -1;
    }
    int high = move_high(fd);
    if (high != fd)
        close(fd);
    return high;
}

void options_read(struct zm_options *out)
{
    const char *log = env_value("ZONE_MALLOC_LOG");
    struct zm_options o = {
        .stats = env_flag("ZONE_MALLOC_STATS"),
        .scribble = env_flag("ZONE_MALLOC_SCRIBBLE"),
        .check = env_flag("ZONE_MALLOC_CHECK"),
        .no_atfork = env_flag("ZONE_MALLOC_NO_ATFORK"),
        .stats_fd = STDERR_FILENO,
        .log_fd = -1,
    };

    /* A copy of stderr as it is now: some programs close theirs before
     * exit (coreutils do), and the statistics come after that. */
    if (o.stats || (log != NULL && strcmp(log, "stderr") == 0))
        o.stats_fd = move_high(STDERR_FILENO);
    if (log != NULL && log[0] != '\0')
        o.log_fd = open_log(log, o.stats_fd);
    o.debug = o.stats || o.scribble || o.check || o.log_fd >= 0;
    *out = o;
}
