/*
 * tests.c - lab 02's implement half: count_lines on files at every edge a
 * page makes (and none), on a sparse file over 4 GiB, mapped a window at
 * a time and never read() (the kernel's rchar says); copy_from_mapping on
 * a file truncated under its mapping, twice, and then some more.
 */
#include "file_lab.h"
#include "filemap.h"

#include "cli.h"
#include "lab.h"
#include "procfs.h"
#include "rng.h"
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------ reading or not */

/* Bytes this process has read with read() and its kin so far (rchar in
 * /proc/self/io; faults on a mapping are not in it), or -1 if the kernel
 * does not count them. */
static long long bytes_read(void)
{
    struct line_reader r;
    char line[128];
    long long rchar = -1;

    if (!line_reader_open(&r, "/proc/self/io"))
        return -1;
    while (line_reader_next(&r, line, sizeof line))
        if (sscanf(line, "rchar: %lld", &rchar) == 1)
            break;
    line_reader_close(&r);
    return rchar;
}

/* count_lines on fd, checked: its return, its count, and that it mapped
 * the file rather than read it (for files of 64 KiB and more, where the
 * reading of /proc/self/io itself is noise). */
static void expect_lines(int fd, const char *what, uint64_t size, uint64_t want)
{
    uint64_t got = UINT64_MAX;
    long long before = bytes_read();

    scn_where("count_lines on %s", what);
    errno = 0;
    int rc = count_lines(fd, &got);
    long long after = bytes_read();
    if (rc != 0) {
        char name[24];
        lab_fail("count_lines on %s returned %d (errno %s); expected 0 and %llu lines", what, rc,
                 errno_name(errno, name), (unsigned long long)want);
    }
    if (got != want)
        lab_fail("count_lines on %s counted %llu lines; expected %llu (one per '\\n' byte)", what,
                 (unsigned long long)got, (unsigned long long)want);
    if (size >= 65536 && before >= 0 && after - before >= (long long)(size / 2))
        lab_fail("count_lines on %s read %lld bytes with read() or pread() (rchar in "
                 "/proc/self/io); expected it to map the file and read nothing",
                 what, after - before);
}

/* ------------------------------------------------------------- edges */

struct edge {
    size_t size;
    const char *shape; /* "lines" ends with '\n', "no final newline", "all newlines" */
};

static const struct edge edges[] = {
    {0, "lines"},
    {1, "lines"},
    {1, "no final newline"},
    {4095, "lines"},
    {4096, "lines"},
    {4096, "all newlines"},
    {4097, "lines"},
    {4097, "no final newline"},
    {8191, "lines"},
    {8193, "lines"},
    {65537, "no final newline"},
    {(1u << 20) + 1, "lines"},
};

/* Fill buf as edge says: random letters and NULs with a '\n' now and then. */
static uint64_t fill(unsigned char *buf, const struct edge *e, uint64_t *rng)
{
    uint64_t lines = 0;

    for (size_t i = 0; i < e->size; i++) {
        uint64_t roll = rng_next(rng) % 64;
        buf[i] = strcmp(e->shape, "all newlines") == 0 || roll == 0 ? '\n'
                 : roll == 1                                        ? '\0'
                             : (unsigned char)('a' + roll % 26);
    }
    if (e->size > 0)
        buf[e->size - 1] = strcmp(e->shape, "no final newline") == 0 ? 'x' : '\n';
    for (size_t i = 0; i < e->size; i++)
        lines += buf[i] == '\n';
    return lines;
}

static void test_count_edges(int argc, char *argv[])
{
    size_t most = (1u << 20) + 1;
    unsigned char *buf = malloc(most);
    uint64_t rng = lab_seed();

    (void)argc;
    (void)argv;
    if (buf == NULL)
        die_errno("malloc");
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        const struct edge *e = &edges[i];
        char what[96];
        uint64_t want = fill(buf, e, &rng);
        int fd = scratch_file(scratch_dir());
        write_at(fd, buf, e->size, 0);
        int reader = reopen_read_only(fd);
        snprintf(what, sizeof what, "a file of %zu byte%s (%s, %llu of them '\\n')", e->size,
                 e->size == 1 ? "" : "s", e->shape, (unsigned long long)want);
        expect_lines(reader, what, e->size, want);
        close(reader);
        close(fd);
    }
    free(buf);
    lab_pass("%zu files from 0 bytes to 1 MiB + 1, on both sides of every page edge: every "
             "count exact, nothing read()",
             sizeof edges / sizeof edges[0]);
}

/* ----------------------------------------------------------- 4 GiB */

/* While the count runs, a thread drops the file's clean pages from the
 * cache behind it, 64 MiB at a time: the holes read as fresh zero pages,
 * and without this the count would leave gigabytes of them cached (and
 * cost many seconds on a virtual machine whose memory is touched for the
 * first time).  Pages the count has mapped are not dropped. */
struct dropper {
    int fd;
    uint64_t size;
    atomic_bool stop;
};

static void *drop_behind(void *arg)
{
    struct dropper *d = arg;
    const uint64_t chunk = UINT64_C(64) << 20;
    struct timespec pause = {0, 10 * 1000 * 1000};

    for (uint64_t at = 0; !atomic_load(&d->stop); at = at + chunk < d->size ? at + chunk : 0) {
        int err = posix_fadvise(d->fd, (off_t)at, (off_t)chunk, POSIX_FADV_DONTNEED);
        if (err != 0)
            die_err("posix_fadvise(POSIX_FADV_DONTNEED)", err);
        nanosleep(&pause, NULL); /* EINTR: only a shorter pause */
    }
    return NULL;
}

/* Where a sparse file's holes stay holes: not tmpfs, whose holes become
 * memory when read.  NULL if neither place will do. */
static const char *sparse_dir(void)
{
    const char *out = getenv("LAB_OUT");

    if (!in_memory_file_system(scratch_dir()))
        return scratch_dir();
    if (out != NULL && !in_memory_file_system(out))
        return out;
    return NULL;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* The newlines of the big file: both sides of every 256 MiB and 4 GiB
 * edge, and a few the seed places.  Sorted, without repeats; returns how
 * many. */
static size_t newline_offsets(uint64_t size, uint64_t out[], size_t cap, uint64_t *rng)
{
    const uint64_t quarter_gib = UINT64_C(1) << 28;
    size_t n = 0;

    out[n++] = 0;
    out[n++] = 4095;
    out[n++] = 4096;
    for (uint64_t edge = quarter_gib; edge < size && n + 3 < cap; edge += quarter_gib) {
        out[n++] = edge - 1;
        out[n++] = edge;
        out[n++] = edge + 1;
    }
    for (int i = 0; i < 16 && n < cap; i++)
        out[n++] = rng_next(rng) % (size - 1);
    out[n++] = size - 2; /* the last byte is an 'x': no final newline */
    qsort(out, n, sizeof out[0], compare_u64);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || out[kept - 1] != out[i])
            out[kept++] = out[i];
    return kept;
}

static void test_count_4gib(int argc, char *argv[])
{
    uint64_t gib = lab_arg(argc, argv, "gib", 4),
             window_mib = lab_arg(argc, argv, "max_window_mib", 1024);
    const char *san = getenv("LAB_SANITIZER"), *dir = sparse_dir();
    uint64_t offsets[128], rng = lab_seed();

    if (san != NULL && san[0] != '\0')
        lab_skip("not under a sanitizer: every load of a %llu GiB scan would be instrumented",
                 (unsigned long long)gib);
    if (dir == NULL)
        lab_skip("no directory here keeps a sparse file's holes on disk (tmpfs everywhere)");
    uint64_t size = (gib << 30) + 4097;
    int fd = scratch_file(dir);
    if (ftruncate(fd, (off_t)size) != 0)
        die_errno("ftruncate");
    size_t lines = newline_offsets(size, offsets, sizeof offsets / sizeof offsets[0], &rng);
    for (size_t i = 0; i < lines; i++)
        write_at(fd, "\n", 1, (off_t)offsets[i]);
    write_at(fd, "x", 1, (off_t)(size - 1)); /* the few dirty pages stay cached: no matter */

    int reader = reopen_read_only(fd);
    struct dropper d = {.fd = reader, .size = size};
    pthread_t thread;
    int err = pthread_create(&thread, NULL, drop_behind, &d);
    if (err != 0)
        die_err("pthread_create", err);
    bool peak_known = peak_rss_reset();
    uint64_t rss_before = rss_kib();
    char what[96];
    snprintf(what, sizeof what, "a sparse file of %llu GiB + 4097 bytes (%zu lines)",
             (unsigned long long)gib, lines);
    uint64_t got = UINT64_MAX;
    long long read_before = bytes_read();
    scn_where("count_lines on %s", what);
    int rc = count_lines(reader, &got);
    int count_errno = errno;
    long long read_after = bytes_read();
    uint64_t peak = peak_known ? peak_rss_since_reset_kib() : 0;
    atomic_store(&d.stop, true);
    if ((err = pthread_join(thread, NULL)) != 0)
        die_err("pthread_join", err);
    close(reader);
    close(fd);

    if (rc != 0) {
        char name[24];
        lab_fail("count_lines on %s returned %d (errno %s); expected 0 and %zu lines", what, rc,
                 errno_name(count_errno, name), lines);
    }
    if (got != lines)
        lab_fail("count_lines on %s counted %llu lines; expected %zu: are the offsets and the "
                 "count 64-bit, every window at its place?",
                 what, (unsigned long long)got, lines);
    if (read_before >= 0 && read_after - read_before >= (long long)(size / 2))
        lab_fail("count_lines on %s read %lld bytes with read() or pread(); expected it to map "
                 "the file",
                 what, read_after - read_before);
    if (peak_known && peak > rss_before && (peak - rss_before) / 1024 > window_mib)
        lab_fail("while count_lines counted %s, RSS grew by %llu MiB; expected at most %llu: map "
                 "a window of the file at a time, and unmap it before the next",
                 what, (unsigned long long)((peak - rss_before) / 1024),
                 (unsigned long long)window_mib);
    lab_pass("%zu lines in %llu GiB + 4097 bytes, exact; RSS grew by %llu MiB at most", lines,
             (unsigned long long)gib,
             (unsigned long long)(peak > rss_before ? (peak - rss_before) / 1024 : 0));
}

/* --------------------------------------------------------- truncated */

/* The same SIGBUS disposition: handler, flags (those a program sets). */
static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
    const int flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER | SA_RESTART;

    return a->sa_handler == b->sa_handler && (a->sa_flags & flags) == (b->sa_flags & flags);
}

static void current_action(struct sigaction *now)
{
    if (sigaction(SIGBUS, NULL, now) != 0)
        die_errno("sigaction");
}

/* copy_from_mapping(dst, map + from, len) must return want (errno EFAULT
 * for -1), leave SIGBUS as it found it, and unblocked. */
static void expect_copy(unsigned char *dst, const unsigned char *map, size_t from, size_t len,
                        int want, const char *what)
{
    struct sigaction before, after;
    sigset_t mask;

    current_action(&before);
    scn_where("copy_from_mapping of %s", what);
    errno = 0;
    int rc = copy_from_mapping(dst, map + from, len);
    int err = errno;
    current_action(&after);
    if (rc != want || (want == -1 && err != EFAULT)) {
        char name[24];
        lab_fail("copy_from_mapping of %s returned %d (errno %s); expected %s", what, rc,
                 errno_name(err, name), want == 0 ? "0" : "-1 with errno EFAULT");
    }
    if (!same_action(&before, &after))
        lab_fail("after copy_from_mapping of %s, SIGBUS is handled otherwise than before the "
                 "call; expected the handler in place before to be put back",
                 what);
    if (sigprocmask(SIG_BLOCK, NULL, &mask) != 0)
        die_errno("sigprocmask");
    if (sigismember(&mask, SIGBUS))
        lab_fail("after copy_from_mapping of %s, SIGBUS is blocked; expected the signal mask as it "
                 "was (siglongjmp from a sigsetjmp(..., 1) restores it; longjmp does not)",
                 what);
}

static void test_sigbus_error(int argc, char *argv[])
{
    enum { PAGES = 4 };
    size_t bytes = PAGES * page_size();
    unsigned char *file = malloc(bytes), *dst = malloc(bytes);

    (void)argc;
    (void)argv;
    if (file == NULL || dst == NULL)
        die_errno("malloc");
    for (size_t i = 0; i < bytes; i++)
        file[i] = (unsigned char)('a' + i / page_size());
    int fd = scratch_file(scratch_dir());
    write_at(fd, file, bytes, 0);
    unsigned char *map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        die_errno("mmap");

    expect_copy(dst, map, 0, bytes, 0, "4 whole pages of a 4-page file");
    if (memcmp(dst, file, bytes) != 0)
        lab_fail("copy_from_mapping of 4 whole pages returned 0 but copied other bytes");
    if (ftruncate(fd, (off_t)(page_size() + 100)) != 0)
        die_errno("ftruncate");
    expect_copy(dst, map, 0, bytes, -1, "4 pages of a file truncated to 1 page + 100 bytes");
    expect_copy(dst, map, 0, bytes, -1, "the same, a second time");
    expect_copy(dst, map, 3 * page_size(), 1, -1, "1 byte of page 3, past the end");
    memset(dst, 0xff, bytes);
    expect_copy(dst, map, 0, 2 * page_size(), 0,
                "the 2 pages still in the file (the last one partly)");
    if (memcmp(dst, file, page_size() + 100) != 0)
        lab_fail("copy_from_mapping of the pages still in the file copied other bytes");
    for (size_t i = page_size() + 100; i < 2 * page_size(); i++)
        if (dst[i] != 0)
            lab_fail("copy_from_mapping of the last page, past the end of the file inside it, "
                     "copied 0x%02x at byte %zu; the kernel shows zeros there",
                     dst[i], i);
    if (munmap(map, bytes) != 0)
        die_errno("munmap");
    close(fd);
    free(file);
    free(dst);
    lab_pass("truncated under it: -1 with EFAULT each time, SIGBUS's handler and mask as they "
             "were, the rest of the file copied");
}

const struct lab_test lab_tests[] = {
    {"count_edges", "count_lines exact from 0 bytes to 1 MiB + 1, through mmap", test_count_edges},
    {"count_4gib", "count_lines exact on a sparse file over 4 GiB, a window at a time",
     test_count_4gib},
    {"sigbus_error", "copy_from_mapping turns a truncation's SIGBUS into EFAULT",
     test_sigbus_error},
};
const size_t lab_test_count = sizeof lab_tests / sizeof lab_tests[0];
