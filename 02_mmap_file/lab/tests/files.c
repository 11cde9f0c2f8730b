/*
 * files.c - scratch files and what the kernel says about them (see
 * file_lab.h).
 */
#include "file_lab.h"

#include "cli.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

const char *scratch_dir(void)
{
    const char *dirs[] = {getenv("LAB_TMP"), getenv("TMPDIR")};

    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (dirs[i] != NULL && dirs[i][0] != '\0')
            return dirs[i];
    return "/tmp";
}

int scratch_file(const char *dir)
{
    char path[PATH_MAX];
    sigset_t all, old;
    int fd;

    if (snprintf(path, sizeof path, "%s/lab02.XXXXXX", dir) >= (int)sizeof path)
        die("%s: the directory's name is too long", dir);
    /* no signal between the name's birth and its death */
    sigfillset(&all);
    if (sigprocmask(SIG_BLOCK, &all, &old) != 0)
        die_errno("sigprocmask");
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        die_errno("mkstemp in the scratch directory");
    if (unlink(path) != 0)
        die_errno("unlink");
    if (sigprocmask(SIG_SETMASK, &old, NULL) != 0)
        die_errno("sigprocmask");
    return fd;
}

int reopen_read_only(int fd)
{
    char path[64];

    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int again = open(path, O_RDONLY | O_CLOEXEC);
    if (again < 0)
        die_errno("open /proc/self/fd/N");
    return again;
}

void write_at(int fd, const void *buf, size_t len, off_t offset)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die_errno("pwrite");
        p += n;
        len -= (size_t)n;
        offset += n;
    }
}

uint64_t file_size(int fd)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        die_errno("fstat");
    return (uint64_t)st.st_size;
}

long cached_pages_of(int fd)
{
    size_t pages = (file_size(fd) + page_size() - 1) / page_size();
    unsigned char vec[256];
    long cached = 0;

    if (pages == 0)
        return 0;
    if (pages > sizeof vec)
        die("cached_pages_of: %zu pages is more than a scenario's file has", pages);
    void *map = mmap(NULL, pages * page_size(), PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        die_errno("mmap");
    if (mincore(map, pages * page_size(), vec) != 0)
        die_errno("mincore");
    if (munmap(map, pages * page_size()) != 0)
        die_errno("munmap");
    for (size_t i = 0; i < pages; i++)
        cached += vec[i] & 1;
    return cached;
}

void drop_cached(int fd)
{
    if (fdatasync(fd) != 0)
        die_errno("fdatasync");
    int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err != 0)
        die_err("posix_fadvise(POSIX_FADV_DONTNEED)", err);
}

bool drops_clean_pages(const char *dir)
{
    char page[4096] = {0};
    int fd = scratch_file(dir);

    write_at(fd, page, sizeof page, 0);
    write_at(fd, page, sizeof page, (off_t)sizeof page);
    drop_cached(fd);
    bool dropped = cached_pages_of(fd) == 0;
    close(fd);
    return dropped;
}

bool in_memory_file_system(const char *dir)
{
    struct statfs fs;

    if (statfs(dir, &fs) != 0)
        die_errno("statfs");
    return fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
}
