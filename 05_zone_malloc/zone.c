/*
 * zone.c - zones from the kernel and back: aligned mmap, one spare zone per
 * class, and the count of what is mapped.
 */
#include "zm_internal.h"

#include <errno.h>
#include <sys/mman.h>

/* TINY size classes: 16-byte steps to 128, then four steps per power of
 * two, so that a block wastes at most a fifth of itself. */
const uint16_t tiny_class_size[TINY_CLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
};

/* The class of a request, indexed by (size + 15) / 16: one load on the
 * fast path instead of arithmetic. */
const uint8_t tiny_class_of16[TINY_MAX / 16 + 1] = {
    0,                                              /* 0 bytes: the smallest block */
    0,  1,  2,  3,  4,  5,  6,  7,                  /* 1..128 */
    8,  8,  9,  9,  10, 10, 11, 11,                 /* 129..256 */
    12, 12, 12, 12, 13, 13, 13, 13,                 /* 257..384 */
    14, 14, 14, 14, 15, 15, 15, 15,                 /* 385..512 */
    16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, /* 513..704 */
    17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 18, /* 705..896 */
    19, 19, 19, 19, 19, 19, 19, 19,                 /* 897..1024 */
};

static void *map_anonymous(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* munmap, keeping errno: free() must not change it. */
void os_unmap(void *start, size_t bytes)
{
    int saved = errno;

    munmap(start, bytes); /* fails only for ranges we never mapped */
    errno = saved;
}

/* The pages read as zeros again and leave the resident set; the range stays
 * mapped.  A hint: if the kernel refuses, the pages simply stay. */
void os_release_pages(void *start, size_t bytes)
{
    int saved = errno;

    madvise(start, bytes, MADV_DONTNEED);
    errno = saved;
}

/*
 * Map bytes so that start + offset is a multiple of align (a power of two,
 * at least a page).  Try the plain call first: the kernel usually puts a
 * new mapping right below the previous one, which keeps same-sized zones
 * aligned for free.  Otherwise map align bytes more and trim both ends.
 * Returns NULL with errno ENOMEM on failure.
 */
void *os_map(size_t bytes, size_t align, size_t offset)
{
    char *p = map_anonymous(bytes);

    if (p == NULL)
        goto no_memory;
    if ((((uintptr_t)p + offset) & (align - 1)) == 0)
        return p;
    os_unmap(p, bytes);
    if (bytes > SIZE_MAX - align)
        goto no_memory;
    char *raw = map_anonymous(bytes + align);
    if (raw == NULL)
        goto no_memory;
    uintptr_t want = ((uintptr_t)raw + offset + align - 1) & ~(uintptr_t)(align - 1);
    char *start = (char *)(want - offset);
    size_t head = (size_t)(start - raw), tail = align - head;
    if (head > 0)
        os_unmap(raw, head);
    if (tail > 0)
        os_unmap(start + bytes, tail);
    return start;
no_memory:
    errno = ENOMEM;
    return NULL;
}

/* Account for bytes and zones mapped (positive) or unmapped (negative).
 * zm.lock held. */
void mapped_count_locked(int64_t bytes, int zones)
{
    zm.mapped_bytes += (uint64_t)bytes;
    zm.zones += (uint64_t)(int64_t)zones;
    if (zones > 0)
        zm.zones_mapped++;
    if (zones < 0)
        zm.zones_unmapped++;
    if (zm.mapped_bytes > zm.peak_mapped_bytes)
        zm.peak_mapped_bytes = zm.mapped_bytes;
    if (zm.zones > zm.peak_zones)
        zm.peak_zones = zm.zones;
}

static unsigned spare_slot(enum zone_kind kind, unsigned size_class)
{
    return kind == ZONE_TINY ? size_class : TINY_CLASSES;
}

static void zone_link_locked(struct arena *a, struct zone *z)
{
    z->prev = NULL;
    z->next = a->zones;
    if (a->zones != NULL)
        a->zones->prev = z;
    a->zones = z;
}

static void zone_unlink_locked(struct arena *a, struct zone *z)
{
    if (z->prev != NULL)
        z->prev->next = z->next;
    else
        a->zones = z->next;
    if (z->next != NULL)
        z->next->prev = z->prev;
}

/*
 * A fresh TINY or SMALL zone for arena a: the spare of its class if there
 * is one, or a new mapping aligned to its size.  Its header is set; its
 * blocks are the caller's business (tiny.c, small.c).  NULL with ENOMEM if
 * the kernel says no.  a->lock held.
 */
struct zone *zone_new_locked(struct arena *a, enum zone_kind kind, unsigned size_class)
{
    size_t bytes = kind == ZONE_TINY ? tiny_zone_bytes(size_class) : SMALL_ZONE_BYTES;
    unsigned slot = spare_slot(kind, size_class);
    struct zone *z;

    pthread_mutex_lock(&zm.lock);
    z = zm.spare[slot];
    zm.spare[slot] = NULL;
    pthread_mutex_unlock(&zm.lock);
    if (z == NULL) {
        z = os_map(bytes, bytes, 0);
        if (z == NULL)
            return NULL;
        z->size = bytes;
        pthread_mutex_lock(&zm.lock);
        mapped_count_locked((int64_t)bytes, 1);
        pthread_mutex_unlock(&zm.lock);
    }
    *z = (struct zone){
        .magic = ZONE_MAGIC,
        .kind = (uint8_t)kind,
        .size_class = (uint8_t)size_class,
        .size = bytes,
        .arena = a,
        .bump = (uintptr_t)z + ZONE_HEADER,
    };
    if (kind == ZONE_TINY)
        z->capacity = (uint32_t)((bytes - ZONE_HEADER) / tiny_stride(size_class));
    zone_link_locked(a, z);
    return z;
}

/*
 * An empty zone leaves its arena: it becomes the spare of its class if
 * that slot is free (so a malloc/free loop at a zone's edge does not mmap
 * and munmap every time), or goes back to the kernel.  a->lock held.
 */
void zone_retire_locked(struct arena *a, struct zone *z)
{
    unsigned slot = spare_slot((enum zone_kind)z->kind, z->size_class);
    bool keep;

    zone_unlink_locked(a, z);
    z->arena = NULL;
    if (z->kind == ZONE_SMALL) /* if kept, it keeps its addresses but not its pages */
        os_release_pages((char *)z + zm.page, z->size - zm.page);
    pthread_mutex_lock(&zm.lock);
    keep = zm.spare[slot] == NULL;
    if (keep)
        zm.spare[slot] = z; /* from here on another thread may take it */
    else
        mapped_count_locked(-(int64_t)z->size, -1);
    pthread_mutex_unlock(&zm.lock);
    if (!keep)
        os_unmap(z, z->size);
}
