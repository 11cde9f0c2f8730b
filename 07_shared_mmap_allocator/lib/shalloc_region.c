/*
 * shalloc_region.c - regions (layer 6): names, creation, attaching,
 * detaching and removal; offsets and roots.
 *
 * A region is made in zeroed memory (anonymous shared memory, or a fresh
 * POSIX shared memory object); its header is written field by field and
 * the magic number last, so a process attaching by name never mistakes a
 * region still being made for a finished one.
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
}

static void note_layout(struct shalloc *h)
{
    const struct region *r = region_of(h);

    h->data_off = r->data_offset;
    h->data_end = r->data_offset + r->span_count * SHALLOC_SPAN_BYTES;
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

/* Open and map an existing object, checking its size first. */
static int map_object(struct shalloc *h, const char *path)
{
    int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    struct stat st;
    void *base = MAP_FAILED;

    if (fd < 0)
        return set_error(h, errno, "shm_open");
    if (fstat(fd, &st) != 0)
        set_error(h, errno, "fstat");
    else if ((uint64_t)st.st_size < shalloc_min_size() || (uint64_t)st.st_size > shalloc_max_size())
        set_error(h, EINVAL, "not a shalloc region (its size is out of range)");
    else if ((base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
             MAP_FAILED)
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

int shalloc_attach(struct shalloc *h, const char *name)
{
    char path[SHALLOC_NAME_MAX + 2];

    shalloc_init_handle(h);
    if (!object_path(h, name, path) || map_object(h, path) != 0)
        return -1;
    const char *why = shalloc_region_problem(h);
    if (why != NULL) {
        munmap(h->base, h->size);
        h->base = NULL;
        return set_error(h, EINVAL, why);
    }
    note_layout(h);
    return 0;
}

int shalloc_unlink(const char *name, const char **why)
{
    struct shalloc h;
    char path[SHALLOC_NAME_MAX + 2];

    if (shalloc_attach(&h, name) != 0) {
        *why = h.error;
        return -1;
    }
    object_path(&h, name, path); /* cannot fail: attach accepted the name */
    *why = "munmap";
    if (munmap(h.base, h.size) != 0)
        return -1;
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
    return offset == 0 ? NULL : at_offset(h, offset);
}

_Atomic uint64_t *shalloc_root(struct shalloc *h, unsigned index)
{
    return index < SHALLOC_ROOTS ? &region_of(h)->roots[index] : NULL;
}

int shalloc_detach(struct shalloc *h)
{
    shalloc_leave_slot(h);
    if (munmap(h->base, h->size) != 0)
        return set_error(h, errno, "munmap");
    h->base = NULL;
    return 0;
}
