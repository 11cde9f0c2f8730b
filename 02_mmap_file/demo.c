/*
 * demo.c - the scratch file of the default demo, and its first three steps:
 * read-only, MAP_SHARED and MAP_PRIVATE mappings (see demo.h).
 *
 * The scratch file is made of 64-byte text lines, so the line that starts
 * at any byte offset is easy to name:
 *
 *   offset  0  line 000000000: mapped, this file reads like one array of bytes\n
 *   offset 64  line 000000001: ...      <- step 2 writes "SHARED" here
 *   offset 128 line 000000002: ...      <- step 3 writes "PRIVATE" here
 */
#include "demo.h"

#include "cli.h"
#include "count.h"
#include "out.h"
#include "procfs.h"
#include "tempfile.h"

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

void *map_file(const struct demo_file *f, int prot, int flags)
{
    void *p = mmap(NULL, f->size, prot, flags, f->fd, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    return p;
}

void unmap_file(const struct demo_file *f, void *p)
{
    if (munmap(p, f->size) != 0)
        die_errno("munmap");
}

/* Refuse a size that would crowd the file system of $TMPDIR: the scratch
 * file may take at most half of its free space. */
static void check_space(const struct demo_file *f)
{
    struct statvfs vfs;
    const char *dir = getenv("TMPDIR");

    if (fstatvfs(f->fd, &vfs) != 0)
        die_errno("fstatvfs");
    uint64_t free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (f->size > free_bytes / 2) {
        char want[32], have[32], most[32];
        die("--size %s: the scratch file may take at most half of the free space where "
            "it is made (%s: %s free, so at most %s); set TMPDIR to another file system "
            "or ask for less",
            human_size(f->size, want), dir != NULL && dir[0] != '\0' ? dir : "/tmp",
            human_size(free_bytes, have), human_size(free_bytes / 2, most));
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
long long dirty_kib(const void *p)
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
    struct tally by_read = tally_by_read(f->fd, f->size, LOOP_VECTOR, f->name);
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
    step_count(&f);
    step_sigbus(&f);
    if (close(reader) != 0 || close(f.fd) != 0)
        die_errno("close");
}
