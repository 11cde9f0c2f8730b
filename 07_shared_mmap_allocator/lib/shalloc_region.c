/*
 * shalloc_region.c - regions (layer 8): names, creation, attaching,
 * detaching and removal; offsets and roots.
 *
 * A region is made in zeroed memory (anonymous shared memory, or a fresh
 * POSIX shared memory object); its header is written field by field and
 * the magic number last, so a process attaching by name never mistakes a
 * region still being made for a finished one.  Attaching checks what the
 * rest of the library then trusts without looking again: the header's
 * constants, and that every lock in the region is a lock.
 */
#include "shalloc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *shalloc_error(const struct shalloc *h)
{
    return h->error != NULL ? h->error : "no error";
}

bool shalloc_name_ok(const char *name, const char **why)
{
    size_t len;

    if (name[0] == '/')
        name++;
    len = strlen(name);
    if (len == 0 || len > SHALLOC_NAME_MAX) {
        *why = "a name has 1 to 200 characters";
        return false;
    }
    if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len) {
        *why = "a name may hold only letters, digits, '.', '_' and '-' (after an optional '/')";
        return false;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        *why = "'.' and '..' are not names";
        return false;
    }
    return true;
}

/* "/name" for shm_open, whether or not the caller wrote the slash. */
static bool object_path(struct shalloc *h, const char *name, char path[SHALLOC_NAME_MAX + 2])
{
    const char *why;

    if (!shalloc_name_ok(name, &why)) {
        set_error(h, EINVAL, why);
        return false;
    }
    path[0] = '/';
    strcpy(path + 1, name[0] == '/' ? name + 1 : name); /* length checked above */
    return true;
}

/* Write a fresh header and slots into zeroed memory; the magic number goes
 * last, so an attacher never sees a half-made region as valid. */
static int format_region(struct shalloc *h)
{
    struct region *r = region_of(h);
    int err;

    r->version = SHALLOC_VERSION;
    r->span_bytes = SHALLOC_SPAN_BYTES;
    r->slots = SHALLOC_SLOTS;
    r->classes = SHALLOC_CLASSES;
    r->region_bytes = h->size;
    r->span_count = shalloc_spans_for(h->size, &r->data_offset);
    if ((err = shalloc_mutex_init(&r->lock)) != 0)
        return set_error(h, err, "pthread_mutex_init");
    for (unsigned s = 0; s < SHALLOC_SLOTS; s++)
        if ((err = shalloc_mutex_init(&slot_at(h, s)->lock)) != 0)
            return set_error(h, err, "pthread_mutex_init");
    atomic_store_explicit(&r->magic, SHALLOC_MAGIC, memory_order_release);
    return 0;
}

static void remember_mapping(struct shalloc *h, void *base, size_t size)
{
    h->base = base;
    h->size = size;
    h->unmap_on_detach = true;
}

static void note_layout(struct shalloc *h)
{
    const struct region *r = region_of(h);

    h->data_off = r->data_offset;
    h->data_end = r->data_offset + r->span_count * SHALLOC_SPAN_BYTES;
    h->data_lines = (h->data_end - h->data_off) / 16;
}

/* Create, size and map a new shared memory object; unlink it on failure. */
static void *map_new_object(struct shalloc *h, const char *path, size_t size)
{
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    void *base = MAP_FAILED;
    int err;

    if (fd < 0) {
        set_error(h, errno, "shm_open");
        return NULL;
    }
    if (ftruncate(fd, (off_t)size) != 0)
        set_error(h, errno, "ftruncate");
    else if ((err = posix_fallocate(fd, 0, (off_t)size)) != 0)
        set_error(h, err, "posix_fallocate"); /* tmpfs full: say so now, not SIGBUS later */
    else if ((base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        set_error(h, errno, "mmap");
    err = errno;
    close(fd);
    if (base == MAP_FAILED) {
        shm_unlink(path);
        errno = err;
        return NULL;
    }
    return base;
}

int shalloc_create(struct shalloc *h, const char *name, size_t size)
{
    char path[SHALLOC_NAME_MAX + 2];
    void *base;

    shalloc_init_handle(h);
    if (size < shalloc_min_size() || size > shalloc_max_size())
        return set_error(h, EINVAL, "region size out of range");
    if (name == NULL) {
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            return set_error(h, errno, "mmap");
    } else {
        if (!object_path(h, name, path))
            return -1;
        if ((base = map_new_object(h, path, size)) == NULL)
            return -1;
    }
    remember_mapping(h, base, size);
    if (format_region(h) != 0) {
        int err = errno;
        munmap(base, size);
        if (name != NULL)
            shm_unlink(path);
        errno = err;
        return -1;
    }
    note_layout(h);
    return 0;
}

/* Open and map an existing object, checking its size first: shared and
 * writable, or (copy) a private copy-on-write view of a read-only open. */
static int map_object(struct shalloc *h, const char *path, bool copy)
{
    int fd = shm_open(path, (copy ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
    struct stat st;
    void *base = MAP_FAILED;

    if (fd < 0)
        return set_error(h, errno, "shm_open");
    if (fstat(fd, &st) != 0)
        set_error(h, errno, "fstat");
    else if ((uint64_t)st.st_size < shalloc_min_size() || (uint64_t)st.st_size > shalloc_max_size())
        set_error(h, EINVAL, "not a shalloc region (its size is out of range)");
    else if ((base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                          copy ? MAP_PRIVATE : MAP_SHARED, fd, 0)) == MAP_FAILED)
        set_error(h, errno, "mmap");
    int err = errno;
    close(fd);
    if (base == MAP_FAILED) {
        errno = err;
        return -1;
    }
    remember_mapping(h, base, (size_t)st.st_size);
    return 0;
}

/* A lock of the region: a lock of shalloc's kind, and if its word names a
 * holder, a thread that exists (a dead holder's word names none). */
static bool lock_believable(const pthread_mutex_t *m)
{
    pid_t tid = shalloc_mutex_holder(m);

    return shalloc_mutex_valid(m) && (tid <= 0 || shalloc_thread_exists(tid));
}

/* What attaching checks: the header, then every lock. */
static int check_mapped(struct shalloc *h)
{
    const char *why = shalloc_region_problem(h);

    if (why != NULL)
        return set_error(h, EINVAL, why);
    if (!lock_believable(&region_of(h)->lock))
        return shalloc_corrupt(h, "R8: the region lock is not a lock, or names no live thread",
                               offsetof(struct region, lock));
    for (unsigned s = 0; s < SHALLOC_SLOTS; s++)
        if (!lock_believable(&slot_at(h, s)->lock))
            return shalloc_corrupt(h, "R8: a slot's lock is not a lock, or names no live thread",
                                   HEADER_BYTES + s * SLOT_BYTES);
    note_layout(h);
    return 0;
}

/* Map the named object (shared, or a private copy) and check it. */
static int attach_named(struct shalloc *h, const char *name, bool copy)
{
    char path[SHALLOC_NAME_MAX + 2];

    shalloc_init_handle(h);
    if (!object_path(h, name, path) || map_object(h, path, copy) != 0)
        return -1;
    h->private_copy = copy;
    if (check_mapped(h) != 0) {
        int err = errno;
        munmap(h->base, h->size);
        h->base = NULL;
        errno = err;
        return -1;
    }
    return 0;
}

int shalloc_attach(struct shalloc *h, const char *name)
{
    return attach_named(h, name, false);
}

int shalloc_attach_copy(struct shalloc *h, const char *name)
{
    return attach_named(h, name, true);
}

int shalloc_attach_memory(struct shalloc *h, void *base, size_t size)
{
    shalloc_init_handle(h);
    if (size < shalloc_min_size() || size > shalloc_max_size())
        return set_error(h, EINVAL, "not a shalloc region (its size is out of range)");
    h->base = base;
    h->size = size;
    return check_mapped(h);
}

/* The object's first eight bytes: is it a region (even a damaged one)? */
static int read_magic(const char *path, uint64_t *magic, const char **why)
{
    int fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    ssize_t got;

    *why = "shm_open";
    if (fd < 0)
        return -1;
    *magic = 0;
    got = pread(fd, magic, sizeof *magic, 0);
    int err = errno;
    close(fd);
    *why = "read";
    errno = err;
    return got < 0 ? -1 : 0;
}

int shalloc_unlink(const char *name, const char **why)
{
    struct shalloc h;
    char path[SHALLOC_NAME_MAX + 2];
    uint64_t magic;

    shalloc_init_handle(&h);
    if (!object_path(&h, name, path)) {
        *why = h.error;
        return -1;
    }
    if (read_magic(path, &magic, why) != 0)
        return -1;
    if (magic != SHALLOC_MAGIC) {
        *why = "not a shalloc region (no magic number of ours), so left alone";
        errno = EINVAL;
        return -1;
    }
    *why = "shm_unlink";
    return shm_unlink(path);
}

/* ---- offsets --------------------------------------------------------- */

uint64_t shalloc_offset(const struct shalloc *h, const void *p)
{
    return p == NULL ? 0 : (uint64_t)((const char *)p - h->base);
}

void *shalloc_pointer(const struct shalloc *h, uint64_t offset)
{
    return offset == 0 || offset >= h->size ? NULL : at_offset(h, offset);
}

/* Is offset the payload of a run in use of at least bytes? */
static bool live_run_at(const struct shalloc *h, uint64_t offset, size_t bytes)
{
    uint64_t span = span_of(h, offset), w;

    if (span >= spans_claimed(h))
        return false;
    w = span_load(h, span);
    return word_type(w) == SPAN_RUN && word_kind(w) == KIND_USED &&
           word_spans(w) <= spans_claimed(h) - span && word_spans(w) * SHALLOC_SPAN_BYTES >= bytes;
}

/* Is offset the payload of a block of a class in use, of at least bytes? */
static bool live_block_at(const struct shalloc *h, uint64_t offset, size_t bytes)
{
    uint64_t header = offset - BLOCK_HEADER;
    uint32_t tag = atomic_load_explicit(&block_at(h, header)->tag, memory_order_relaxed);
    unsigned cls = tag_class(tag);

    return tag_kind(tag) == KIND_USED && cls < SHALLOC_CLASSES &&
           shalloc_block_start(h, header, cls) && shalloc_class_bytes[cls] >= bytes;
}

void *shalloc_block_pointer(const struct shalloc *h, uint64_t offset, size_t bytes)
{
    if (offset == 0)
        return NULL;
    uint64_t rel = offset - h->data_off;
    bool live =
        offset >= h->data_off && offset < h->data_end && rel % 16 == 0 &&
        (starts_span(rel) ? live_run_at(h, offset, bytes) : live_block_at(h, offset, bytes));
    if (!live) {
        errno = EUCLEAN;
        return NULL;
    }
    return at_offset(h, offset);
}

_Atomic uint64_t *shalloc_root(struct shalloc *h, unsigned index)
{
    return index < SHALLOC_ROOTS ? &region_of(h)->roots[index] : NULL;
}

int shalloc_detach(struct shalloc *h)
{
    int left = shalloc_leave_slot(h); /* -1: corrupt, the error says where */

    if (h->unmap_on_detach && munmap(h->base, h->size) != 0)
        return set_error(h, errno, "munmap");
    h->base = NULL;
    return left;
}
