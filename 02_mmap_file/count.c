/*
 * count.c - counting lines by read() and by mmap() (see count.h).
 *
 * Both methods end in the same loop, count_newlines(); what differs is how
 * the bytes reach it.  read() copies them from the page cache into our
 * buffer, 1 MiB at a time; mmap() maps the page cache pages themselves into
 * our address space, and the loop reads them in place.  No copy, but the
 * kernel must fill in a page-table entry for every page (at a page fault)
 * and clear it again at munmap: whichever costs less wins.
 */
#include "count.h"

#include "cli.h"
#include "clock.h"
#include "out.h"
#include "procfs.h"
#include "sigbus.h"
#include "sort.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const count_method_names[] = {"mmap", "read", "both", NULL};
const char *const count_loop_names[] = {"vector", "memchr", NULL};

enum { READ_BUFFER_BYTES = 1 << 20 }; /* big reads: few system calls, big readahead */

/* Files are mapped this much at a time, so that a scan of a file larger
 * than memory holds at most one window in our RSS: each window is unmapped
 * before the next, and its clean pages can be reclaimed behind us. */
static const uint64_t window_bytes = UINT64_C(256) << 20;

/* die_errno with the file's name after the call's ("open FILE: ..."). */
_Noreturn static void die_errno_file(const char *call, const char *name)
{
    char what[320];

    snprintf(what, sizeof what, "%s %.256s%s", call, name, strlen(name) > 256 ? "..." : "");
    die_errno(what);
}

/* Page-aligned, like the page cache pages read() copies from: on some CPUs
 * (an AMD Zen, when this was first measured) the kernel's copy ran several
 * times slower into a destination that is not (malloc's 1 MiB blocks start
 * 16 bytes in); on an Intel Xeon no difference showed.  README exercise 2. */
/* The file that was size bytes when we started: "NAME: the file shrank
 * from size to N bytes while <how> at byte at", exit 1.  Both methods
 * report a shrink with this one message. */
_Noreturn static void die_shrank(int fd, const char *name, uint64_t size, const char *how,
                                 uint64_t at)
{
    struct stat now;

    if (fstat(fd, &now) != 0)
        die_errno_file("fstat", name);
    die("%s: the file shrank from %llu to %lld bytes while %s at byte %llu", name,
        (unsigned long long)size, (long long)now.st_size, how, (unsigned long long)at);
}

/* True if fd's file is now smaller than size bytes. */
static bool shrank_below(int fd, const char *name, uint64_t size)
{
    struct stat now;

    if (fstat(fd, &now) != 0)
        die_errno_file("fstat", name);
    return (uint64_t)now.st_size < size;
}

struct tally tally_by_read(int fd, uint64_t size, enum count_loop loop, const char *name)
{
    unsigned char *buffer = aligned_alloc(page_size(), READ_BUFFER_BYTES);
    struct tally t = {0, 0};

    if (buffer == NULL)
        die_errno("aligned_alloc");
    for (;;) {
        ssize_t got = pread(fd, buffer, READ_BUFFER_BYTES, (off_t)t.bytes);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die_errno("read");
        if (got == 0)
            break;
        t.lines += count_newlines(buffer, (size_t)got, loop);
        t.bytes += (uint64_t)got;
    }
    free(buffer);
    if (t.bytes < size && shrank_below(fd, name, size))
        die_shrank(fd, name, size, "being read: end of file", t.bytes);
    return t;
}

/* A mapped scan in progress.  The fields marked volatile are read after a
 * SIGBUS jumps out of scan_windows, so they must be in memory, current. */
struct window_scan {
    int fd;
    const char *name; /* for messages */
    uint64_t size;    /* bytes to scan: the size when we started */
    enum count_loop loop;
    volatile uint64_t offset;       /* file offset of the current window */
    unsigned char *volatile window; /* the current window, NULL when none */
    volatile size_t length;         /* its length in bytes */
    uint64_t lines;
};

static void scan_windows(void *arg)
{
    struct window_scan *s = arg;

    while (s->offset < s->size) {
        uint64_t left = s->size - s->offset;
        size_t length = (size_t)(left < window_bytes ? left : window_bytes);
        void *window = mmap(NULL, length, PROT_READ, MAP_SHARED, s->fd, (off_t)s->offset);
        if (window == MAP_FAILED && errno == ENODEV) {
            char name_buf[24];
            die("mmap %.256s: %s (%s): its file system cannot map it; count it with "
                "--method read",
                s->name, strerror(ENODEV), errno_name(ENODEV, name_buf));
        }
        if (window == MAP_FAILED)
            die_errno_file("mmap", s->name);
        s->length = length;
        s->window = window;
        /* Read ahead aggressively and drop pages behind us first under
         * memory pressure: the scan will not come back to them. */
        if (madvise(window, length, MADV_SEQUENTIAL) != 0)
            die_errno("madvise(MADV_SEQUENTIAL)");
        s->lines += count_newlines(window, length, s->loop);
        s->window = NULL;
        if (munmap(window, length) != 0)
            die_errno("munmap");
        s->offset += length;
    }
}

/* A size of 0 needs a look: mmap of length 0 fails with EINVAL, and files
 * in /proc say 0 whatever they hold.  One byte of read() tells them apart. */
static void check_really_empty(int fd, const char *name)
{
    unsigned char byte;
    ssize_t got;

    do
        got = pread(fd, &byte, 1, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        die_errno_file("read", name);
    if (got > 0)
        die("%s: its size is 0 but it has data (a /proc file?): mmap needs the size; "
            "use --method read",
            name);
}

/* The file shrank under the mapping (SIGBUS): report it as an error, not
 * a crash. */
_Noreturn static void die_shrunk_mapped(struct window_scan *s, const struct bus_fault *fault)
{
    uint64_t at = s->offset;
    char code_buf[24], how[64];

    if (s->window != NULL) {
        at += (uint64_t)((unsigned char *)fault->addr - s->window);
        munmap(s->window, s->length); /* the process ends next; no error to report */
    }
    snprintf(how, sizeof how, "mapped: SIGBUS (%s)", bus_code_name(fault->code, code_buf));
    die_shrank(s->fd, s->name, s->size, how, at);
}

struct tally tally_by_mmap(int fd, uint64_t size, enum count_loop loop, const char *name)
{
    struct window_scan scan = {.fd = fd, .name = name, .size = size, .loop = loop};
    struct bus_fault fault;

    if (size == 0) {
        check_really_empty(fd, name);
        return (struct tally){0, 0};
    }
    if (call_catching_sigbus(scan_windows, &scan, &fault))
        die_shrunk_mapped(&scan, &fault);
    return (struct tally){scan.lines, size};
}

/* Open path for reading if it is a regular file; exit 1 with the reason
 * otherwise.  stat() first, so a FIFO or a device is never opened (opening
 * a FIFO waits for a writer; opening a device can have side effects). */
static int open_regular(const char *path, uint64_t *size)
{
    struct stat st;
    int fd;

    if (stat(path, &st) != 0)
        die_errno_file("stat", path);
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        die_errno_file("count", path);
    }
    if (!S_ISREG(st.st_mode))
        die("count %.256s: not a regular file (%s); only regular files are counted", path,
            S_ISFIFO(st.st_mode)   ? "a FIFO"
            : S_ISCHR(st.st_mode)  ? "a character device"
            : S_ISBLK(st.st_mode)  ? "a block device"
            : S_ISSOCK(st.st_mode) ? "a socket"
                                   : "an unknown kind");
    /* O_NONBLOCK: should the name be swapped for a FIFO now, do not wait. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        die_errno_file("open", path);
    if (fstat(fd, &st) != 0)
        die_errno_file("fstat", path);
    if (!S_ISREG(st.st_mode))
        die("count %.256s: changed into something else while being opened", path);
    *size = (uint64_t)st.st_size;
    /* The same hint GNU wc gives the kernel: plan for one sequential pass. */
    int err = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (err != 0)
        die_err("posix_fadvise(POSIX_FADV_SEQUENTIAL)", err);
    return fd;
}

/* What one method measured over all its rounds. */
struct pass {
    enum count_method method;
    struct tally tally;
    uint64_t elapsed_ns[COUNT_MAX_ROUNDS]; /* one per round */
    uint64_t minor_faults, major_faults;   /* of the last round */
    uint64_t max_rss_kib;                  /* the peak RSS during this method's own rounds */
    uint64_t peak_growth_kib;              /* the most that peak was above RSS at a round's start */
    bool peak_is_process;                  /* the peak could not be reset: it is the process's */
};

/* One round of one method.  The kernel's peak-RSS mark is reset first, so
 * that the peak read after it belongs to this round alone, not to whatever
 * ran before in this process (the other method, say). */
static void run_pass(struct pass *p, int round, int fd, uint64_t size,
                     const struct count_request *request)
{
    bool reset = peak_rss_reset();
    uint64_t rss_start = rss_kib();
    uint64_t minor = minor_faults(), major = major_faults(), start = now_ns();

    if (p->method == METHOD_MMAP)
        p->tally = tally_by_mmap(fd, size, request->loop, request->path);
    else
        p->tally = tally_by_read(fd, size, request->loop, request->path);
    p->elapsed_ns[round] = now_ns() - start;
    p->minor_faults = minor_faults() - minor;
    p->major_faults = major_faults() - major;
    uint64_t peak = reset ? peak_rss_since_reset_kib() : peak_rss_kib();
    p->peak_is_process |= !reset;
    if (peak > p->max_rss_kib)
        p->max_rss_kib = peak;
    if (peak > rss_start && peak - rss_start > p->peak_growth_kib)
        p->peak_growth_kib = peak - rss_start;
}

/* The median of the rounds (the lower middle one for an even count). */
static uint64_t median_ns(struct pass *p, unsigned rounds)
{
    uint64_t sorted[COUNT_MAX_ROUNDS];

    memcpy(sorted, p->elapsed_ns, rounds * sizeof sorted[0]);
    return median_u64(sorted, rounds);
}

static void print_pass(struct pass *p, unsigned rounds, enum count_loop loop)
{
    if (p->peak_is_process)
        printf("(the kernel would not reset the peak RSS: max_rss_kib is the process's peak)\n");
    fact_uint("lines", p->tally.lines);
    fact_uint("bytes", p->tally.bytes);
    fact_word("method", count_method_names[p->method]);
    fact_word("loop", count_loop_names[loop]);
    fact_uint("rounds", rounds);
    fact_uint("elapsed_ns", median_ns(p, rounds));
    fact_uint("minor_faults", p->minor_faults);
    fact_uint("major_faults", p->major_faults);
    fact_uint("max_rss_kib", p->max_rss_kib);
    fact_uint("peak_growth_kib", p->peak_growth_kib);
    if (p->method == METHOD_MMAP)
        fact_uint("window_bytes", window_bytes);
    facts_end();
}

/* What the two timings say, in words chosen from them, and the two costs
 * that decide it: read() copies every byte into a buffer it must fault in
 * first; mmap copies nothing but takes a fault for every few pages (as many
 * pages per fault as the page cache holds together). */
static void say_what_won(const struct pass *by_read, const struct pass *by_mmap,
                         uint64_t mmap_vs_read_pct)
{
    uint64_t pages = (by_mmap->tally.bytes + page_size() - 1) / page_size();
    uint64_t faults = by_mmap->minor_faults + by_mmap->major_faults;

    printf("%s; page faults in a round: read() %llu (its own buffer),\n"
           "mmap %llu for %llu file pages",
           mmap_vs_read_pct < 90    ? "mmap was faster here"
           : mmap_vs_read_pct > 110 ? "read() was faster here"
                                    : "the two were within 10% of each other here",
           (unsigned long long)(by_read->minor_faults + by_read->major_faults),
           (unsigned long long)faults, (unsigned long long)pages);
    if (faults > 0)
        printf(" (%llu pages mapped per fault)", (unsigned long long)(pages / faults));
    printf("\npeak RSS during each: read() %llu KiB (+%llu KiB: its buffer), mmap %llu KiB\n"
           "(+%llu KiB: the file pages it had mapped at once)\n",
           (unsigned long long)by_read->max_rss_kib, (unsigned long long)by_read->peak_growth_kib,
           (unsigned long long)by_mmap->max_rss_kib, (unsigned long long)by_mmap->peak_growth_kib);
}

/* Both methods on the same file, alternately, then the comparison. */
static void compare_passes(struct pass *by_read, struct pass *by_mmap, unsigned rounds,
                           enum count_loop loop)
{
    uint64_t read_ns = median_ns(by_read, rounds), mmap_ns = median_ns(by_mmap, rounds);
    uint64_t pct = mmap_ns * 100 / (read_ns ? read_ns : 1);
    int agree = by_read->tally.lines == by_mmap->tally.lines &&
                by_read->tally.bytes == by_mmap->tally.bytes;

    print_pass(by_read, rounds, loop);
    print_pass(by_mmap, rounds, loop);
    printf("read: %.1f ms, mmap: %.1f ms (median of %u round%s each, alternating);\n"
           "mmap took %.2f times the time of read, and the counts %s\n",
           read_ns / 1e6, mmap_ns / 1e6, rounds, rounds == 1 ? "" : "s",
           (double)mmap_ns / (double)(read_ns ? read_ns : 1), agree ? "agree" : "DIFFER");
    say_what_won(by_read, by_mmap, pct);
    fact_int("counts_agree", agree);
    fact_uint("mmap_vs_read_pct", pct);
    facts_end();
    if (!agree)
        die("the two methods disagree: did the file change while being counted?");
}

void count_file(int fd, uint64_t size, const struct count_request *request)
{
    unsigned rounds = request->rounds ? request->rounds : request->method == METHOD_BOTH ? 3 : 1;
    struct pass by_read = {.method = METHOD_READ}, by_mmap = {.method = METHOD_MMAP};

    for (unsigned round = 0; round < rounds; round++) {
        /* Alternate which goes first, so neither always finds the caches
         * the other one warmed. */
        int read_first = round % 2 == 0;
        if (request->method != METHOD_MMAP && read_first)
            run_pass(&by_read, (int)round, fd, size, request);
        if (request->method != METHOD_READ)
            run_pass(&by_mmap, (int)round, fd, size, request);
        if (request->method != METHOD_MMAP && !read_first)
            run_pass(&by_read, (int)round, fd, size, request);
    }
    if (request->method == METHOD_BOTH)
        compare_passes(&by_read, &by_mmap, rounds, request->loop);
    else
        print_pass(request->method == METHOD_MMAP ? &by_mmap : &by_read, rounds, request->loop);
}

void run_count(const struct count_request *request)
{
    uint64_t size;
    int fd = open_regular(request->path, &size);

    count_file(fd, size, request);
    if (close(fd) != 0)
        die_errno("close");
}
