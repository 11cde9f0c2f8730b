/*
 * procfs.c - readers for /proc/self and getrusage (see procfs.h).
 */
#include "procfs.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

size_t page_size(void)
{
    static size_t cached;

    if (cached == 0) {
        long size = sysconf(_SC_PAGESIZE);
        if (size <= 0)
            die_errno("sysconf(_SC_PAGESIZE)");
        cached = (size_t)size;
    }
    return cached;
}

bool line_reader_open(struct line_reader *r, const char *path)
{
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    r->start = r->end = 0;
    r->skipping = false;
    return r->fd >= 0;
}

/* Move the unread tail to the front and read more after it. */
static ssize_t refill(struct line_reader *r)
{
    ssize_t n;

    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
    do
        n = read(r->fd, r->buf + r->end, sizeof r->buf - r->end);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        die_errno("read /proc");
    r->end += (size_t)n;
    return n;
}

/* Copy len bytes of text into line as a C string, truncated to fit cap. */
static void copy_line(char *line, size_t cap, const char *text, size_t len)
{
    size_t copy = len < cap - 1 ? len : cap - 1;

    memcpy(line, text, copy);
    line[copy] = '\0';
}

bool line_reader_next(struct line_reader *r, char *line, size_t cap)
{
    for (;;) {
        char *text = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *newline = memchr(text, '\n', avail);

        if (newline != NULL) {
            size_t len = (size_t)(newline - text);
            if (!r->skipping)
                copy_line(line, cap, text, len);
            r->start += len + 1;
            if (!r->skipping)
                return true;
            r->skipping = false;
            continue;
        }
        if (avail == sizeof r->buf) { /* a line longer than the buffer */
            copy_line(line, cap, text, avail);
            r->start = r->end;
            r->skipping = true; /* drop the rest of it */
            return true;
        }
        if (refill(r) == 0) {
            r->start = r->end;
            if (avail == 0 || r->skipping)
                return false;
            copy_line(line, cap, r->buf, avail); /* last line, no '\n' */
            return true;
        }
    }
}

void line_reader_close(struct line_reader *r)
{
    close(r->fd);
    r->fd = -1;
}

bool proc_read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got;

    if (fd < 0)
        return false;
    do
        got = read(fd, buf, cap - 1);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got <= 0)
        return false;
    buf[got] = '\0';
    return true;
}

/* Append the decimal digits of n to buf at *len. */
static void append_uint(char *buf, size_t *len, unsigned long n)
{
    char digits[24];
    size_t count = 0;

    do
        digits[count++] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    while (count > 0)
        buf[(*len)++] = digits[--count];
}

static void append_text(char *buf, size_t *len, const char *text)
{
    size_t n = strlen(text);

    memcpy(buf + *len, text, n);
    *len += n;
}

void proc_task_path(char buf[static PROC_TASK_PATH_MAX], pid_t pid, pid_t tid, const char *tail)
{
    size_t len = 0;

    append_text(buf, &len, "/proc/");
    append_uint(buf, &len, (unsigned long)pid);
    append_text(buf, &len, "/task/");
    if (tid > 0) {
        append_uint(buf, &len, (unsigned long)tid);
        append_text(buf, &len, tail);
    }
    buf[len] = '\0';
}

uint64_t rss_kib(void)
{
    struct line_reader r;
    char line[128];
    unsigned long long total_pages, resident_pages;

    if (!line_reader_open(&r, "/proc/self/statm"))
        die_errno("open /proc/self/statm");
    if (!line_reader_next(&r, line, sizeof line) ||
        sscanf(line, "%llu %llu", &total_pages, &resident_pages) != 2)
        die("/proc/self/statm: unexpected format");
    line_reader_close(&r);
    return resident_pages * page_size() / 1024;
}

static struct rusage self_usage(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_SELF, &usage) != 0)
        die_errno("getrusage");
    return usage;
}

uint64_t minor_faults(void)
{
    return (uint64_t)self_usage().ru_minflt;
}

uint64_t peak_rss_kib(void)
{
    return (uint64_t)self_usage().ru_maxrss;
}

bool peak_rss_reset(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    bool ok;

    if (fd < 0)
        return false;
    ok = write(fd, "5", 1) == 1; /* 5: reset the peak RSS; 1-4 would clear page bits */
    int saved = errno;
    close(fd);
    errno = saved;
    return ok;
}

uint64_t peak_rss_since_reset_kib(void)
{
    long long kib = proc_kib_field("/proc/self/status", "VmHWM");

    if (kib < 0)
        die("/proc/self/status: no VmHWM line");
    return (uint64_t)kib;
}

uint64_t major_faults(void)
{
    return (uint64_t)self_usage().ru_majflt;
}

/* Parse "start-end perms offset dev inode   path". */
static bool parse_mapping_line(const char *line, struct mapping *m)
{
    uintmax_t start, end;
    int path_at = 0;

    if (sscanf(line, "%jx-%jx %4s %*s %*s %*s %n", &start, &end, m->perms, &path_at) < 3)
        return false;
    m->start = (uintptr_t)start;
    m->end = (uintptr_t)end;
    snprintf(m->path, sizeof m->path, "%s", path_at > 0 ? line + path_at : "");
    snprintf(m->line, sizeof m->line, "%s", line);
    return true;
}

/* An smaps header line starts with a hex address; field lines start with a
 * capitalised name. */
static bool is_mapping_header(const char *line)
{
    return (line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f');
}

static bool mapping_contains(const struct mapping *m, const void *addr)
{
    return (uintptr_t)addr >= m->start && (uintptr_t)addr < m->end;
}

bool mapping_find(const void *addr, struct mapping *out)
{
    struct line_reader r;
    char line[512];
    bool found = false;

    if (!line_reader_open(&r, "/proc/self/maps"))
        die_errno("open /proc/self/maps");
    while (!found && line_reader_next(&r, line, sizeof line))
        found = parse_mapping_line(line, out) && mapping_contains(out, addr);
    line_reader_close(&r);
    return found;
}

void maps_snapshot_take(struct maps_snapshot *s)
{
    struct line_reader r;
    struct mapping m;
    char line[512];

    s->count = 0;
    if (!line_reader_open(&r, "/proc/self/maps"))
        die_errno("open /proc/self/maps");
    while (s->count < MAPS_SNAPSHOT_MAX && line_reader_next(&r, line, sizeof line)) {
        if (!parse_mapping_line(line, &m))
            continue;
        s->range[s->count].start = m.start;
        s->range[s->count].end = m.end;
        s->count++;
    }
    line_reader_close(&r);
}

void maps_new_extent(const struct maps_snapshot *before, const struct mapping *now,
                     const void *addr, uintptr_t *start, uintptr_t *end)
{
    uintptr_t at = (uintptr_t)addr;

    *start = now->start;
    *end = now->end;
    for (size_t i = 0; i < before->count; i++) {
        uintptr_t s = before->range[i].start, e = before->range[i].end;
        if (s <= at && at < e) {
            *start = *end = at; /* addr was mapped already: nothing new there */
            return;
        }
        if (e <= now->start || s >= now->end)
            continue;
        if (e <= at && e > *start)
            *start = e;
        if (s > at && s < *end)
            *end = s;
    }
}

/* If line is "<field>:   N kB", store N and return true. */
static bool match_kib_field(const char *line, const char *field, long long *kib)
{
    size_t len = strlen(field);

    return strncmp(line, field, len) == 0 && line[len] == ':' &&
           sscanf(line + len + 1, "%lld", kib) == 1;
}

long long smaps_kib(const void *addr, const char *field)
{
    struct line_reader r;
    struct mapping m;
    char line[512];
    bool inside = false;
    long long kib = -1;

    if (!line_reader_open(&r, "/proc/self/smaps"))
        die_errno("open /proc/self/smaps");
    while (kib < 0 && line_reader_next(&r, line, sizeof line)) {
        if (is_mapping_header(line))
            inside = parse_mapping_line(line, &m) && mapping_contains(&m, addr);
        else if (inside && !match_kib_field(line, field, &kib))
            kib = -1;
    }
    line_reader_close(&r);
    return kib;
}

long long proc_kib_field(const char *path, const char *field)
{
    struct line_reader r;
    char line[256];
    long long kib = -1;

    if (!line_reader_open(&r, path))
        return -1;
    while (kib < 0 && line_reader_next(&r, line, sizeof line))
        if (!match_kib_field(line, field, &kib))
            kib = -1;
    line_reader_close(&r);
    return kib;
}

long long smaps_rollup_kib(const char *field)
{
    return proc_kib_field("/proc/self/smaps_rollup", field);
}

uint64_t mem_available_bytes(void)
{
    long long kib = proc_kib_field("/proc/meminfo", "MemAvailable");

    if (kib < 0)
        die("/proc/meminfo: no MemAvailable line");
    return (uint64_t)kib * 1024;
}
