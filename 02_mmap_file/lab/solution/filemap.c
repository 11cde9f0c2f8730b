/*
 * filemap.c - lab 02, the reference solution.
 *
 * The predictor keeps one byte per page of the file as the page cache has
 * it: write(), pwrite(), a store through the MAP_SHARED mapping S, read()
 * and S's loads all meet there, with no msync needed.  The MAP_PRIVATE
 * mapping P sees the same bytes until it stores into a page: then that page
 * is a copy of its own, which no one else sees.  Truncating the file takes
 * the pages past its new end out of the cache and out of both mappings,
 * P's copies included: an access there is SIGBUS, a read() EOF.  A drop
 * (POSIX_FADV_DONTNEED after fdatasync) removes every page no mapping
 * maps; S maps the pages it stored into, P none that it could keep.
 *
 * The line counter maps the file a window at a time; the copy catches
 * SIGBUS with sigsetjmp(..., 1) and siglongjmp, which also restores the
 * signal mask the handler ran with.
 */
#include "filemap.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ predict */

enum { PAGE = 4096 };

struct page {
    char file;     /* the byte in the page cache: what read() and S see */
    bool p_copy;   /* P stored here: the page is a copy of P's own */
    char p_byte;   /* ... holding this */
    bool cached;   /* in the page cache */
    bool s_mapped; /* S maps it (it stored here) */
};

struct file_model {
    uint64_t size;
    unsigned created;
    bool live[2];
    struct page pages[FILE_MAX_PAGES];
};

static unsigned pages_now(const struct file_model *m)
{
    return (unsigned)((m->size + PAGE - 1) / PAGE);
}

/* What mapping map sees at page p. */
static int mapping_sees(const struct file_model *m, enum file_map map, unsigned p)
{
    if (p >= pages_now(m))
        return FILE_SIGBUS; /* no file behind the page any more */
    if (map == MAP_P && m->pages[p].p_copy)
        return m->pages[p].p_byte;
    return m->pages[p].file;
}

static int read_sees(const struct file_model *m, unsigned p)
{
    return p >= pages_now(m) ? FILE_EOF : m->pages[p].file;
}

static int store(struct file_model *m, const struct file_step *s)
{
    struct page *page = &m->pages[s->page];

    if (s->page >= pages_now(m))
        return FILE_SIGBUS;
    page->cached = true;
    if (s->map == MAP_S) {
        page->file = s->letter;
        page->s_mapped = true;
    } else {
        page->p_copy = true;
        page->p_byte = s->letter;
    }
    return 0;
}

static void truncate_model(struct file_model *m, uint64_t size)
{
    m->size = size;
    for (unsigned p = pages_now(m); p < m->created; p++)
        m->pages[p] = (struct page){.file = 0};
}

static void unmap_model(struct file_model *m, enum file_map map)
{
    m->live[map] = false;
    for (unsigned p = 0; p < m->created; p++) {
        if (map == MAP_S)
            m->pages[p].s_mapped = false;
        else
            m->pages[p].p_copy = false; /* the copies go with the mapping */
    }
}

static long cached_pages(const struct file_model *m)
{
    long n = 0;

    for (unsigned p = 0; p < pages_now(m); p++)
        n += m->pages[p].cached;
    return n;
}

int predict_file(const struct file_step steps[], unsigned count, struct file_facts facts[])
{
    static struct file_model m;

    if (count == 0 || steps[0].op != FILE_CREATE || steps[0].pages > FILE_MAX_PAGES)
        return -1;
    for (unsigned i = 0; i < count; i++) {
        const struct file_step *s = &steps[i];
        struct page *page = &m.pages[s->page % FILE_MAX_PAGES];
        facts[i].access = 0;
        switch (s->op) {
        case FILE_CREATE:
            m = (struct file_model){.size = (uint64_t)s->pages * PAGE, .created = s->pages};
            for (unsigned p = 0; p < s->pages; p++)
                m.pages[p] = (struct page){.file = (char)('a' + p), .cached = true};
            break;
        case FILE_MAP: m.live[s->map] = true; break;
        case FILE_MUNMAP: unmap_model(&m, s->map); break;
        case FILE_STORE: facts[i].access = store(&m, s); break;
        case FILE_LOAD:
            facts[i].access = mapping_sees(&m, s->map, s->page);
            page->cached |= s->page < pages_now(&m);
            break;
        case FILE_PWRITE:
            page->file = s->letter;
            page->cached = true;
            break;
        case FILE_TRUNCATE: truncate_model(&m, s->size); break;
        case FILE_DROP:
            for (unsigned p = 0; p < m.created; p++)
                m.pages[p].cached = m.live[MAP_S] && m.pages[p].s_mapped; /* mapped: kept */
            break;
        }
        facts[i].cached_pages = cached_pages(&m);
        facts[i].read_sees = read_sees(&m, s->page);
    }
    return 0;
}

/* ---------------------------------------------------------- implement */

enum { WINDOW = 256 << 20 }; /* mapped at a time: a page-size multiple */

int count_lines(int fd, uint64_t *lines)
{
    struct stat st;
    uint64_t total = 0;

    if (fstat(fd, &st) != 0)
        return -1;
    uint64_t size = (uint64_t)st.st_size; /* 64 bits: files over 4 GiB */
    for (uint64_t offset = 0; offset < size; offset += WINDOW) {
        size_t length = size - offset < WINDOW ? (size_t)(size - offset) : WINDOW;
        unsigned char *window = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, (off_t)offset);
        if (window == MAP_FAILED)
            return -1;
        madvise(window, length, MADV_SEQUENTIAL); /* a hint: read ahead, drop behind */
        for (const unsigned char *p = window, *end = window + length;
             (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
            total++;
        if (munmap(window, length) != 0)
            return -1;
    }
    *lines = total;
    return 0;
}

static sigjmp_buf resume_copy;

static void on_sigbus(int sig)
{
    (void)sig;
    siglongjmp(resume_copy, 1); /* abandon the copy; the mask is restored */
}

int copy_from_mapping(void *dst, const void *src, size_t len)
{
    struct sigaction catch = {.sa_handler = on_sigbus}, previous;
    int faulted = 0;

    sigemptyset(&catch.sa_mask);
    if (sigaction(SIGBUS, &catch, &previous) != 0)
        return -1;
    if (sigsetjmp(resume_copy, 1) == 0) /* 1: save the signal mask too */
        memcpy(dst, src, len);
    else
        faulted = 1; /* a page past the end of the file: SIGBUS */
    if (sigaction(SIGBUS, &previous, NULL) != 0)
        return -1;
    if (faulted) {
        errno = EFAULT;
        return -1;
    }
    return 0;
}
