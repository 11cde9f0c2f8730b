/*
 * options.c - the environment switches, read once by zm_init:
 *
 *   ZONE_MALLOC_STATS=1       at exit, one line of counters on stderr (stats.c)
 *   ZONE_MALLOC_LOG=stderr    one line per call (or =PATH: appended there)
 *   ZONE_MALLOC_SCRIBBLE=1    fresh blocks filled with 0xAA, freed ones 0x55
 *   ZONE_MALLOC_CHECK=1       the whole heap validated around every call
 *   ZONE_MALLOC_NO_ATFORK=1   the fork handlers do nothing (state.c)
 *   ZONE_MALLOC_DECAY_MS=N    empty zones and cached LARGE mappings are given
 *                             back after N ms idle (default 1000; 0: at once)
 *
 * A switch is on for 1, yes, true or on, off for 0, no, false, off or
 * nothing (in any case); anything else leaves it off, with one warning.
 * ZONE_MALLOC_LOG takes the same words for "no log", "stderr", or a path:
 * a regular file or a terminal, opened without blocking (a FIFO nobody
 * reads would hang the program's first malloc).
 * Any of the first four sends every call down the debug path (debug.c).
 * Nothing here may allocate: the environment is read from environ itself.
 */
#include "zm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

enum { PRIVATE_FD_MIN = 100, DECAY_MS_MAX = 3600 * 1000 };

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

/* text equals word, ASCII letters in any case (no locale: nothing here
 * may allocate). */
static bool same_word(const char *text, const char *word)
{
    for (; *text != '\0' && *word != '\0'; text++, word++) {
        char c = *text >= 'A' && *text <= 'Z' ? (char)(*text - 'A' + 'a') : *text;
        if (c != *word)
            return false;
    }
    return *text == *word;
}

static bool one_of(const char *text, const char *const words[])
{
    for (int i = 0; words[i] != NULL; i++)
        if (same_word(text, words[i]))
            return true;
    return false;
}

static const char *const on_words[] = {"1", "yes", "true", "on", NULL};
static const char *const off_words[] = {"0", "no", "false", "off", "", NULL};

/* "zone_malloc: NAME=VALUE: what" on stderr. */
static void warn(const char *name, const char *value, const char *what)
{
    struct text t = {.fd = STDERR_FILENO};

    text_str(&t, "zone_malloc: ");
    text_str(&t, name);
    text_str(&t, "=");
    text_str(&t, value);
    text_str(&t, ": ");
    text_str(&t, what);
    text_str(&t, "\n");
    text_flush(&t);
}

/* A switch: on, off, or (warned about) off. */
static bool env_flag(const char *name)
{
    const char *value = env_value(name);

    if (value == NULL || one_of(value, off_words))
        return false;
    if (one_of(value, on_words))
        return true;
    warn(name, value, "not understood (1, yes, true, on; 0, no, false, off): left off");
    return false;
}

/* A number of milliseconds, or the default (warned about if not a number). */
static uint64_t env_ms(const char *name, uint64_t fallback)
{
    const char *value = env_value(name);
    uint64_t ms = 0;

    if (value == NULL)
        return fallback;
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || ms > DECAY_MS_MAX) {
            warn(name, value, "not a number of milliseconds up to 3600000: the default is used");
            return fallback;
        }
        ms = ms * 10 + (uint64_t)(*p - '0');
    }
    if (value[0] == '\0' || ms > DECAY_MS_MAX) {
        warn(name, value, "not a number of milliseconds up to 3600000: the default is used");
        return fallback;
    }
    return ms;
}

/* The name of the errno values an open of a log file can end in. */
static const char *open_error_name(int err)
{
    static const struct {
        int err;
        const char *name;
    } names[] = {
        {ENOENT, "ENOENT"},   {EACCES, "EACCES"}, {EPERM, "EPERM"},
        {ENXIO, "ENXIO"},     {EISDIR, "EISDIR"}, {EROFS, "EROFS"},
        {ENOTDIR, "ENOTDIR"}, {ELOOP, "ELOOP"},   {ENOSPC, "ENOSPC"},
        {EMFILE, "EMFILE"},   {ENFILE, "ENFILE"}, {ENAMETOOLONG, "ENAMETOOLONG"},
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].err == err)
            return names[i].name;
    return "an error";
}

/* A descriptor of our own, out of the way of the ones programs use. */
static int move_high(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, PRIVATE_FD_MIN);

    return high < 0 ? fd : high;
}

/*
 * The log file: opened for appending without blocking (O_NONBLOCK: opening
 * a FIFO with no reader fails with ENXIO instead of waiting for one), and
 * kept only if it is a regular file or a terminal; blocking again after
 * that.  -1, with a warning that says why, if not.
 */
static int open_log(const char *path)
{
    struct text t = {.fd = STDERR_FILENO};
    struct stat st;
    const char *why = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);

    if (fd < 0) {
        text_str(&t, "zone_malloc: ZONE_MALLOC_LOG=");
        text_str(&t, path);
        text_str(&t, ": cannot open it (");
        text_str(&t, open_error_name(errno));
        text_str(&t, ", errno ");
        text_uint(&t, (uint64_t)errno);
        text_str(&t, "): not logging\n");
        text_flush(&t);
        return -1;
    }
    if (fstat(fd, &st) != 0)
        why = "cannot tell what it is: not logging";
    else if (!S_ISREG(st.st_mode) && !isatty(fd))
        why = "not a regular file or a terminal: not logging";
    else if (fcntl(fd, F_SETFL, O_APPEND) != 0)
        why = "cannot make it blocking again: not logging";
    if (why != NULL) {
        close(fd);
        warn("ZONE_MALLOC_LOG", path, why);
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
    bool log_off = log == NULL || one_of(log, off_words) || strcmp(log, "-1") == 0;
    bool log_stderr = !log_off && same_word(log, "stderr");
    struct zm_options o = {
        .stats = env_flag("ZONE_MALLOC_STATS"),
        .scribble = env_flag("ZONE_MALLOC_SCRIBBLE"),
        .check = env_flag("ZONE_MALLOC_CHECK"),
        .no_atfork = env_flag("ZONE_MALLOC_NO_ATFORK"),
        .stats_fd = STDERR_FILENO,
        .log_fd = -1,
        .decay_ms = env_ms("ZONE_MALLOC_DECAY_MS", DECAY_MS_DEFAULT),
    };

    /* A copy of stderr as it is now: some programs close theirs before
     * exit (coreutils do), and the statistics come after that. */
    if (o.stats || log_stderr)
        o.stats_fd = move_high(STDERR_FILENO);
    if (log_stderr)
        o.log_fd = o.stats_fd;
    else if (!log_off)
        o.log_fd = open_log(log);
    o.debug = o.stats || o.scribble || o.check || o.log_fd >= 0;
    *out = o;
}
