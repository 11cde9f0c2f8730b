/*
 * pages.c - touching, changing and measuring a scenario's pages (see
 * anon_lab.h).
 */
#include "anon_lab.h"

#include "cli.h"
#include "procfs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((no_sanitize("address", "thread"))) void store_each_page(char *base, size_t pages)
{
    for (size_t i = 0; i < pages; i++)
        ((volatile char *)base)[i * page_size()] = 'w';
}

__attribute__((no_sanitize("address", "thread"))) void load_each_page(const char *base,
                                                                      size_t pages)
{
    for (size_t i = 0; i < pages; i++)
        (void)((const volatile char *)base)[i * page_size()];
}

char *raw_map(void *at, size_t bytes, int prot, int flags)
{
    long p = syscall(SYS_mmap, at, bytes, prot, flags, -1, 0);

    if (p == -1)
        die_errno("mmap");
    return (char *)p;
}

void raw_unmap(void *at, size_t bytes)
{
    if (syscall(SYS_munmap, at, bytes) != 0)
        die_errno("munmap");
}

void raw_advise(void *at, size_t bytes, int advice)
{
    /* MADV_NOHUGEPAGE fails with EINVAL on a kernel without THP, where
     * there is nothing to opt out of */
    if (syscall(SYS_madvise, at, bytes, advice) != 0 &&
        !(advice == MADV_NOHUGEPAGE && errno == EINVAL))
        die_errno("madvise");
}

void raw_protect(void *at, size_t bytes, int prot)
{
    if (syscall(SYS_mprotect, at, bytes, prot) != 0)
        die_errno("mprotect");
}

long resident_in(const char *base, size_t pages)
{
    unsigned char vec[256];
    long resident = 0;

    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < sizeof vec ? pages - done : sizeof vec;
        if (mincore((void *)(uintptr_t)(base + done * page_size()), n * page_size(), vec) != 0)
            die_errno("mincore");
        for (size_t i = 0; i < n; i++)
            resident += vec[i] & 1;
        done += n;
    }
    return resident;
}

long rss_pages_in(const char *base, size_t pages)
{
    unsigned long lo = (unsigned long)(uintptr_t)base, hi = lo + pages * page_size(), start, end;
    struct line_reader r;
    char line[512];
    bool inside = false;
    long kib = 0, value;

    if (!line_reader_open(&r, "/proc/self/smaps"))
        die_errno("open /proc/self/smaps");
    while (line_reader_next(&r, line, sizeof line)) {
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
            inside = start >= lo && end <= hi; /* a mapping's header line */
        else if (inside && sscanf(line, "Rss: %ld kB", &value) == 1)
            kib += value;
    }
    line_reader_close(&r);
    return kib * 1024 / (long)page_size();
}

long thread_minor_faults(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_THREAD, &usage) != 0)
        die_errno("getrusage");
    return usage.ru_minflt;
}
