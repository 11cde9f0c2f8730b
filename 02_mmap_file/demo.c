/*
 * demo.c - the five steps of the default demo (see demo.h).
 *
 * The scratch file is made of 64-byte text lines, so the line that starts
 * at any byte offset is easy to name:
 *
 *   offset  0  line 000000000: mapped, this file reads like one array of bytes\n
 *   offset 64  line 000000001: ...      <- step 2 writes "SHARED" here
 *   offset 128 line 000000002: ...      <- step 3 writes "PRIVATE" here
 */
#include "demo.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "count.h"
#include "out.h"
#include "procfs.h"
#include "sigbus.h"
#include "tempfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LINE_FILLER "mapped, this file reads like one array of bytes\n"
enum { LINE_BYTES = 64, SHARED_OFFSET = LINE_BYTES, PRIVATE_OFFSET = 2 * LINE_BYTES };
_Static_assert(sizeof "line 000000000: " - 1 + sizeof LINE_FILLER - 1 == LINE_BYTES,
               "a demo line is 64 bytes");

/* The scratch file every step works on. */
struct demo_file {
    int fd;              /* read-write; the file has no name any more */
    size_t size;         /* bytes */
    size_t pages;        /* size in pages, the last one maybe partial */
    uint64_t lines;      /* '\n' bytes written: one per complete line */
    char name[PATH_MAX]; /* the name it had, for messages */
};

static void *map_file(const struct demo_file *f, int prot, int flags)
{
    void *p = mmap(NULL, f->size, prot, flags, f->fd, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    return p;
}

static void unmap_file(const struct demo_file *f, void *p)
{
    if (munmap(p, f->size) != 0)
        die_errno("munmap");
}

/* Refuse a size that would crowd the file system of $TMPDIR. */
static void check_space(const struct demo_file *f)
{
    struct statvfs vfs;

    if (fstatvfs(f->fd, &vfs) != 0)
        die_errno("fstatvfs");
    uint64_t free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (f->size > free_bytes / 2) {
        char want[32], have[32];
        die("--size %s: the file system of %s has only %s free", human_size(f->size, want), f->name,
            human_size(free_bytes, have));
    }
}

/* Fill buf with len bytes of the lines that start with line number first. */
static void fill_lines(char *buf, size_t len, uint64_t first)
{
    char line[LINE_BYTES + 1];

    for (size_t at = 0; at < len; at += LINE_BYTES, first++) {
        snprintf(line, sizeof line, "line %09llu: %s", (unsigned long long)first, LINE_FILLER);
        memcpy(buf + at, line, len - at < LINE_BYTES ? len - at : LINE_BYTES);
    }
}

/* One page per write(): the page cache then holds the file in single
 * pages, so step 2's one-word write dirties exactly one page.  (A kernel
 * may keep a big write in a big folio, dirtied and cleaned as a whole.)
 * fdatasync at the end, so the steps start from clean pages. */
static void write_lines(struct demo_file *f)
{
    char *page = malloc(page_size());

    if (page == NULL)
        die_errno("malloc");
    for (size_t offset = 0; offset < f->size; offset += page_size()) {
        size_t len = f->size - offset < page_size() ? f->size - offset : page_size();
        fill_lines(page, len, offset / LINE_BYTES);
        ssize_t put = pwrite(f->fd, page, len, (off_t)offset);
        if (put < 0)
            die_errno("write");
        if ((size_t)put != len)
            die("write: short write to %s", f->name);
    }
    free(page);
    if (fdatasync(f->fd) != 0)
        die_errno("fdatasync");
    f->lines = f->size / LINE_BYTES;
}

/* 1 if the file holds text at offset, read through a descriptor of its own
 * (not through any mapping). */
static int file_has(int reader, off_t offset, const char *text)
{
    char buf[16];
    size_t len = strlen(text);
    ssize_t got = pread(reader, buf, len, offset);

    if (got < 0)
        die_errno("read");
    return (size_t)got == len && memcmp(buf, text, len) == 0;
}

/* Dirty KiB of the mapping at p, whatever smaps calls them (a page mapped
 * by one process only is "private" there, even in a MAP_SHARED mapping). */
static long long dirty_kib(const void *p)
{
    return smaps_kib(p, "Shared_Dirty") + smaps_kib(p, "Private_Dirty");
}

static void step_read_only(const struct demo_file *f)
{
    subheading("1. map it read-only and read it like an array");
    const unsigned char *data = map_file(f, PROT_READ, MAP_PRIVATE);
    struct mapping m = {.line = ""};

    printf("mmap(NULL, %zu, PROT_READ, MAP_PRIVATE, fd, 0) = %p\n", f->size, (const void *)data);
    if (mapping_find(data, &m))
        printf("/proc/self/maps: %s\n", m.line);
    printf("data[0..62]: \"%.63s\"\n", (const char *)data);
    uint64_t lines = count_newlines(data, f->size, LOOP_VECTOR);
    struct tally by_read = tally_by_read(f->fd, LOOP_VECTOR);
    printf("'\\n' bytes found by walking data[0..%zu]: %llu; by read(): %llu; written: %llu\n",
           f->size - 1, (unsigned long long)lines, (unsigned long long)by_read.lines,
           (unsigned long long)f->lines);
    fact_word("step", "read_only");
    fact_uint("lines", lines);
    fact_uint("lines_by_read", by_read.lines);
    fact_uint("lines_written", f->lines);
    fact_int("maps_says_deleted", strstr(m.line, "(deleted)") != NULL);
    facts_end();
    unmap_file(f, (void *)data);
}

static void step_shared(const struct demo_file *f, int reader)
{
    subheading("2. MAP_SHARED: a store into memory is a store into the file");
    unsigned char *data = map_file(f, PROT_READ | PROT_WRITE, MAP_SHARED);

    memcpy(data + SHARED_OFFSET, "SHARED", 6);
    long long dirty_before = dirty_kib(data);
    int before = file_has(reader, SHARED_OFFSET, "SHARED");
    printf("wrote \"SHARED\" at data[%d]; read() through another descriptor sees it %s msync\n",
           SHARED_OFFSET, before ? "already, before" : "only after");
    if (msync(data, f->size, MS_SYNC) != 0)
        die_errno("msync");
    long long dirty_after = dirty_kib(data);
    int after = file_has(reader, SHARED_OFFSET, "SHARED");
    printf("dirty in this mapping: %lld KiB before msync(MS_SYNC), %lld KiB after:\n%s\n",
           dirty_before, dirty_after,
           dirty_after < dirty_before
               ? "msync wrote the page to the disk; the file had the change all along"
               : "nothing was written back (no disk behind this file system: tmpfs?)");
    fact_word("step", "shared");
    fact_int("in_file_before_msync", before);
    fact_int("in_file_after_msync", after);
    fact_int("dirty_before_msync_kib", dirty_before);
    fact_int("dirty_after_msync_kib", dirty_after);
    facts_end();
    unmap_file(f, data);
}

static void step_private(const struct demo_file *f, int reader)
{
    subheading("3. MAP_PRIVATE: a store makes a private copy of the page");
    unsigned char *copy = map_file(f, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    const unsigned char *view = map_file(f, PROT_READ, MAP_SHARED);

    long long anon_before = smaps_kib(copy, "Anonymous");
    memcpy(copy + PRIVATE_OFFSET, "PRIVATE", 7);
    long long anon_after = smaps_kib(copy, "Anonymous");
    int in_mapping = memcmp(copy + PRIVATE_OFFSET, "PRIVATE", 7) == 0;
    int in_view = memcmp(view + PRIVATE_OFFSET, "PRIVATE", 7) == 0;
    int in_file = file_has(reader, PRIVATE_OFFSET, "PRIVATE");
    printf("wrote \"PRIVATE\" at data[%d]; this mapping sees it: %s; a MAP_SHARED mapping of\n"
           "the same file: %s; read(): %s.  The write fault copied the page: the mapping's\n"
           "anonymous memory went from %lld to %lld KiB, and the file never changes\n",
           PRIVATE_OFFSET, in_mapping ? "yes" : "no", in_view ? "yes" : "no",
           in_file ? "yes" : "no", anon_before, anon_after);
    fact_word("step", "private");
    fact_int("seen_in_mapping", in_mapping);
    fact_int("seen_by_shared_mapping", in_view);
    fact_int("in_file", in_file);
    fact_int("anonymous_before_kib", anon_before);
    fact_int("anonymous_after_kib", anon_after);
    facts_end();
    unmap_file(f, (void *)view);
    unmap_file(f, copy);
}

/* Pages of the mapping at p whose file page is in the page cache. */
static size_t resident_pages(const struct demo_file *f, void *p)
{
    unsigned char *vec = malloc(f->pages);
    size_t resident = 0;

    if (vec == NULL)
        die_errno("malloc");
    if (mincore(p, f->size, vec) != 0)
        die_errno("mincore");
    for (size_t i = 0; i < f->pages; i++)
        resident += vec[i] & 1;
    free(vec);
    return resident;
}

/* Write back, then ask the kernel to drop the file's pages from the page
 * cache, so the scan below starts from the disk.  A file system without a
 * disk behind it (tmpfs) cannot drop them; the step says so. */
static void evict_file(const struct demo_file *f)
{
    if (fdatasync(f->fd) != 0)
        die_errno("fdatasync");
    int err = posix_fadvise(f->fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err != 0)
        die_err("posix_fadvise(POSIX_FADV_DONTNEED)", err);
}

static void step_residency(const struct demo_file *f)
{
    subheading("4. page cache residency (mincore) and RSS, before and after a scan");
    evict_file(f);
    unsigned char *data = map_file(f, PROT_READ, MAP_SHARED);
    size_t resident_before = resident_pages(f, data);
    uint64_t rss_before = rss_kib(), minor = minor_faults(), major = major_faults();
    uint64_t start = now_ns();
    uint64_t lines = count_newlines(data, f->size, LOOP_VECTOR);
    uint64_t scan_ns = now_ns() - start;
    minor = minor_faults() - minor;
    major = major_faults() - major;
    size_t resident_after = resident_pages(f, data);
    uint64_t rss_after = rss_kib();
    long long mapping_rss = smaps_kib(data, "Rss"), dirty = dirty_kib(data);
    unmap_file(f, data);
    uint64_t rss_unmapped = rss_kib();
    data = map_file(f, PROT_READ, MAP_SHARED); /* a fresh mapping, never touched */
    size_t resident_later = resident_pages(f, data);
    unmap_file(f, data);

    printf("resident in the page cache: %zu of %zu pages before the scan%s, %zu after\n",
           resident_before, f->pages,
           resident_before > f->pages / 2 ? " (this file system keeps them: tmpfs?)" : "",
           resident_after);
    printf("scan: %llu lines in %.1f ms, %llu minor + %llu major faults for %zu pages\n",
           (unsigned long long)lines, scan_ns / 1e6, (unsigned long long)minor,
           (unsigned long long)major, f->pages);
    printf("RSS: %llu KiB before, %llu KiB after (+%lld; the mapping: %lld KiB, %lld dirty),\n"
           "%llu KiB after munmap; the pages stay cached: %zu of %zu resident\n",
           (unsigned long long)rss_before, (unsigned long long)rss_after,
           (long long)(rss_after - rss_before), mapping_rss, dirty,
           (unsigned long long)rss_unmapped, resident_later, f->pages);
    fact_word("step", "residency");
    fact_uint("pages", f->pages);
    fact_uint("resident_before_pages", resident_before);
    fact_uint("resident_after_pages", resident_after);
    fact_uint("resident_after_munmap_pages", resident_later);
    fact_uint("rss_before_kib", rss_before);
    fact_uint("rss_after_kib", rss_after);
    fact_uint("rss_after_munmap_kib", rss_unmapped);
    fact_int("mapping_rss_kib", mapping_rss);
    fact_int("mapping_dirty_kib", dirty);
    fact_uint("minor_faults", minor);
    fact_uint("major_faults", major);
    fact_uint("scan_ns", scan_ns);
    facts_end();
}

/* Read one byte through a mapping; volatile, so the read really happens. */
static unsigned char touch_byte(const unsigned char *p)
{
    return *(const volatile unsigned char *)p;
}

static void touch_in_handler(void *p)
{
    touch_byte(p);
}

/* In a child: touch the byte with SIGBUS at its default action, as in a
 * program that does not expect the file to shrink. */
static int touch_in_child(void *p)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};

    sigemptyset(&dfl.sa_mask);
    if (sigaction(SIGBUS, &dfl, NULL) != 0) /* undo a sanitizer's handler, if any */
        die_errno("sigaction(SIGBUS)");
    touch_byte(p);
    return 0;
}

static void step_sigbus(const struct demo_file *f)
{
    subheading("5. the trap: the file shrinks while mapped, and a touch past its end");
    const unsigned char *data = map_file(f, PROT_READ, MAP_SHARED);
    size_t cut = f->size / 2 / page_size() * page_size() + 100;
    size_t beyond = (cut + page_size() - 1) / page_size() * page_size();
    char name_buf[64], code_buf[24];

    if (ftruncate(f->fd, (off_t)cut) != 0)
        die_errno("ftruncate");
    printf("truncated the file from %zu to %zu bytes; the mapping still spans %zu\n", f->size, cut,
           f->size);
    unsigned char tail = touch_byte(data + cut);
    printf("data[%zu], past the end but in the file's last page: %u (the page is zero-filled)\n",
           cut, tail);
    struct child_result r = child_run(touch_in_child, (void *)(data + beyond), 10000);
    printf("a child touching data[%zu], the first page wholly past the end: %s\n", beyond,
           child_describe(&r, name_buf));
    struct bus_fault fault = {NULL, 0};
    int caught = call_catching_sigbus(touch_in_handler, (void *)(data + beyond), &fault);
    size_t fault_offset = caught ? (size_t)((const unsigned char *)fault.addr - data) : 0;
    if (caught)
        printf("the same touch here, with a SIGBUS handler: caught, si_addr = data + %zu, "
               "si_code = %s;\nsiglongjmp left the handler and the program goes on\n",
               fault_offset, bus_code_name(fault.code, code_buf));
    else
        printf("the same touch here did not raise SIGBUS\n");
    fact_word("step", "sigbus");
    fact_uint("truncated_to_bytes", cut);
    fact_uint("tail_byte", tail);
    fact_uint("touched_offset_bytes", beyond);
    fact_word("child_end", r.end == CHILD_SIGNALED ? signal_name(r.code, name_buf)
                           : r.end == CHILD_EXITED ? "exited"
                                                   : "timed_out");
    fact_int("sigbus_caught", caught);
    fact_uint("fault_offset_bytes", fault_offset);
    fact_word("si_code", caught ? bus_code_name(fault.code, code_buf) : "none");
    facts_end();
    unmap_file(f, (void *)data);
}

void run_demo(size_t size)
{
    struct demo_file f = {.size = size};
    char size_text[32];

    f.fd = temp_file_create(f.name, sizeof f.name);
    f.pages = (size + page_size() - 1) / page_size();
    heading("02_mmap_file: a %s file, mapped", human_size(size, size_text));
    printf("scratch file %s, unlinked at once: it lives while it is open or mapped,\n"
           "and vanishes with the process however the process ends\n",
           f.name);
    check_space(&f);
    write_lines(&f);
    fact_uint("size_bytes", f.size);
    fact_uint("page_bytes", page_size());
    fact_uint("pages", f.pages);
    fact_uint("lines_written", f.lines);
    facts_end();

    int reader = temp_file_reopen(f.fd);
    step_read_only(&f);
    step_shared(&f, reader);
    step_private(&f, reader);
    step_residency(&f);
    step_sigbus(&f);
    if (close(reader) != 0 || close(f.fd) != 0)
        die_errno("close");
}
