/*
 * demo_cache.c - steps 4 and 5 of the demo: the page cache.
 *
 * Step 4 drops the file from the page cache, maps it and scans it: mincore
 * says which pages are cached before and after, and RSS shows that mapped
 * file pages count in the process until munmap (and stay cached after).
 * Step 5 counts the same file twice, by read() into a buffer and through
 * mmap, alternately, and compares: the "zero copy" of mmap against the
 * page-table work it pays instead, on the file as the page cache holds it.
 */
#include "demo.h"

#include "cli.h"
#include "clock.h"
#include "count.h"
#include "out.h"
#include "procfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

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

void step_residency(const struct demo_file *f)
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

enum { COUNT_ROUNDS = 5 };

void step_count(const struct demo_file *f)
{
    struct count_request request = {
        .path = f->name, .method = METHOD_BOTH, .loop = LOOP_VECTOR, .rounds = COUNT_ROUNDS};

    subheading("5. count the lines twice: read() into a buffer, and through mmap");
    printf("the same count as 'count FILE --method both' (%d rounds each, alternating), on this\n"
           "file, which step 4 brought back into the page cache\n",
           COUNT_ROUNDS);
    count_file(f->fd, f->size, &request);
}
