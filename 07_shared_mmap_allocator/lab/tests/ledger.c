/*
 * ledger.c - what the grader knows about the blocks, in memory shared by
 * every process of a test (not in the region: the student's code never
 * sees it).
 *
 * Each block a process gets is a record: its offset, size, owner and
 * stamp.  Every 16 bytes of the region has an owner word, and taking a
 * block claims the words under its payload with a compare-and-swap from 0:
 * if one is already claimed, two live blocks share memory, and the
 * process that claims second says so at once - whichever processes, at
 * whatever instant, every time it happens.  The payload is then filled with
 * the record's pattern (lab_fill), checked before the block is freed and
 * at every walk: an allocator that writes into a block it gave out is seen
 * too.  A walk (check_walk) must tile the region and agree with the
 * records.
 */
#include "driver.h"

#include "cli.h"
#include "memory.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct ledger *ledger;
pid_t driver_pid;
static size_t ledger_bytes;

enum { GRANULE = 16, FILL_OWNER = RECORDS_MAX + 1 };

void ledger_create(void)
{
    ledger_bytes = sizeof *ledger + region.size / GRANULE * sizeof ledger->owner[0];
    ledger = map_anonymous(ledger_bytes, MAP_SHARED);
}

void ledger_destroy(void)
{
    unmap(ledger, ledger_bytes);
    ledger = NULL;
}

void test_fail(const char *fmt, ...)
{
    char what[sizeof ledger->failure];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (getpid() == driver_pid)
        lab_fail("%s", what);
    if (ledger != NULL && atomic_exchange(&ledger->failed, 1) == 0)
        memcpy(ledger->failure, what, sizeof what);
    _exit(WORKER_FAILED);
}

/* ---------------------------------------------------------- workers */

void worker_start(struct worker *w, unsigned index, char *view)
{
    if (index >= WORKERS_MAX)
        die("worker %u: at most %d", index, WORKERS_MAX - 1);
    memset(w, 0, sizeof *w);
    w->index = index;
    w->view = view;
    w->first_record = index == 0 ? 0 : DRIVER_RECORDS + (index - 1) * WORKER_RECORDS;
    w->records = index == 0 ? DRIVER_RECORDS : WORKER_RECORDS;
    w->free_records = malloc(w->records * sizeof *w->free_records);
    w->live = malloc(w->records * sizeof *w->live);
    if (w->free_records == NULL || w->live == NULL)
        die_errno("malloc");
    for (uint32_t k = w->records; k-- > 0;)
        w->free_records[w->free_count++] = w->first_record + k;
    ledger->workers[index].view = (unsigned)(view - region.reservation) / (unsigned)region.stride;
}

void driver_start(struct worker *w, size_t size)
{
    region_create(size, true);
    ledger_create();
    worker_start(w, 0, region.reservation);
}

void driver_finish(struct worker *w)
{
    worker_finish(w);
    ledger_destroy();
    region_destroy();
}

void worker_finish(struct worker *w)
{
    free(w->free_records);
    free(w->live);
    w->free_records = w->live = NULL;
}

static const char *errno_text(int err)
{
    static char name[24];

    return errno_name(err, name);
}

/* "process 2's 100-byte block at offset 4104" */
static const char *block_text(uint32_t owner, char buf[static 128])
{
    if (owner > RECORDS_MAX) {
        snprintf(buf, 128, "a block of the fill (from sh_alloc in a run to ENOMEM)");
    } else {
        const struct record *r = &ledger->records[owner - 1];
        snprintf(buf, 128, "process %u's %" PRIu64 "-byte block at offset %" PRIu64, r->worker,
                 r->size, r->offset);
    }
    return buf;
}

/* The offset sh_alloc(size) returned is a place in the region. */
static void check_offset(uint64_t offset, size_t size)
{
    if (offset % SH_ALIGNMENT != 0)
        test_fail("sh_alloc(%zu) returned offset %" PRIu64 ", %" PRIu64 " bytes past a 16-byte "
                  "boundary; every block must be 16-byte aligned",
                  size, offset, offset % SH_ALIGNMENT);
    if (offset >= region.size || size > region.size - offset)
        test_fail("sh_alloc(%zu) returned offset %" PRIu64 ", which does not fit in the %zu-byte "
                  "region (an address stored where an offset belongs?)",
                  size, offset, region.size);
}

/* Claim [offset, offset + size) for owner, or fail naming who has it. */
static void claim(uint64_t offset, size_t size, uint32_t owner)
{
    for (uint64_t g = offset / GRANULE; g < (offset + size + GRANULE - 1) / GRANULE; g++) {
        uint32_t expected = 0;
        if (atomic_compare_exchange_strong(&ledger->owner[g], &expected, owner))
            continue;
        char mine[128], theirs[128];
        test_fail("sh_alloc gave out %s, but its bytes from offset %" PRIu64 " belong to %s, "
                  "not freed: two live blocks share memory",
                  block_text(owner, mine), g * GRANULE, block_text(expected, theirs));
    }
}

static void unclaim(uint64_t offset, size_t size)
{
    for (uint64_t g = offset / GRANULE; g < (offset + size + GRANULE - 1) / GRANULE; g++)
        atomic_store(&ledger->owner[g], 0);
}

uint32_t try_take_block(struct worker *w, size_t size)
{
    test_step = "in sh_alloc";
    errno = 0;
    uint64_t offset = sh_alloc(w->view, size);
    test_step = "checking the block sh_alloc returned";
    if (offset == 0) {
        if (errno == ENOMEM)
            return UINT32_MAX;
        test_fail("sh_alloc(%zu) returned 0 with errno %s; expected a block%s", size,
                  errno_text(errno),
                  errno == ENOTRECOVERABLE ? " (ENOTRECOVERABLE: the lock's last owner died and "
                                             "nobody marked it consistent after the repair)"
                                           : "");
    }
    check_offset(offset, size);
    if (w->free_count == 0)
        die("worker %u holds more than %u blocks", w->index, w->records);
    uint32_t id = w->free_records[--w->free_count];
    struct record *r = &ledger->records[id];
    r->worker = w->index;
    r->offset = offset;
    r->size = size;
    r->stamp = (uint64_t)w->index << 40 | ++w->seq;
    claim(offset, size, id + 1);
    lab_fill(w->view + offset, size, r->stamp);
    atomic_store(&r->state, RECORD_LIVE);
    w->live[w->live_count++] = id;
    test_step = NULL;
    return id;
}

uint32_t take_block(struct worker *w, size_t size)
{
    uint32_t id = try_take_block(w, size);

    if (id == UINT32_MAX)
        test_fail("sh_alloc(%zu) returned 0 with errno ENOMEM in a %zu-byte region holding %u "
                  "blocks of this process; expected a block",
                  size, region.size, w->live_count);
    return id;
}

/* The record's block still holds its pattern, read through view. */
static void check_pattern(const char *view, uint32_t id, const char *when)
{
    const struct record *r = &ledger->records[id];
    size_t bad = lab_check(view + r->offset, r->size, r->stamp);

    if (bad < r->size)
        test_fail("%s: process %u's %" PRIu64 "-byte block at offset %" PRIu64 " changed while "
                  "in use: byte %zu is 0x%02x, expected 0x%02x (another block given the same "
                  "bytes, or the allocator writing into a block it gave out)",
                  when, r->worker, r->size, r->offset, bad,
                  (unsigned)(unsigned char)view[r->offset + bad],
                  (unsigned)lab_pattern_byte(r->stamp, bad));
}

void give_block(struct worker *w, uint32_t id)
{
    struct record *r = &ledger->records[id];

    check_pattern(w->view, id, "before sh_free");
    atomic_store(&r->state, RECORD_FREEING);
    unclaim(r->offset, r->size);
    test_step = "in sh_free";
    sh_free(w->view, r->offset);
    test_step = NULL;
    atomic_store(&r->state, RECORD_EMPTY);
    if (id < w->first_record || id >= w->first_record + w->records)
        return; /* another worker's block: its own lists no longer hold it */
    for (uint32_t k = 0; k < w->live_count; k++)
        if (w->live[k] == id) {
            w->live[k] = w->live[--w->live_count];
            break;
        }
    w->free_records[w->free_count++] = id;
}

void check_patterns(const char *view, const char *when)
{
    for (uint32_t id = 0; id < RECORDS_MAX; id++)
        if (atomic_load(&ledger->records[id].state) == RECORD_LIVE)
            check_pattern(view, id, when);
}

/* ------------------------------------------------------------ the fill */

static struct {
    uint64_t *offsets;
    size_t count, cap;
    size_t size;
} fill;

void fill_until_enomem(struct worker *w, size_t size)
{
    fill.count = 0;
    fill.size = size;
    for (;;) {
        test_step = "in sh_alloc, filling the region";
        errno = 0;
        uint64_t offset = sh_alloc(w->view, size);
        test_step = NULL;
        if (offset == 0) {
            if (errno != ENOMEM)
                test_fail("filling the region: sh_alloc(%zu) returned 0 with errno %s; expected "
                          "a block, or ENOMEM once the region is full",
                          size, errno_text(errno));
            return;
        }
        check_offset(offset, size);
        if (fill.count == fill.cap) {
            fill.cap = fill.cap ? 2 * fill.cap : 4096;
            if ((fill.offsets = realloc(fill.offsets, fill.cap * sizeof *fill.offsets)) == NULL)
                die_errno("realloc");
        }
        claim(offset, size, FILL_OWNER);
        fill.offsets[fill.count++] = offset;
        if (fill.count > region.size / SH_ALIGNMENT)
            test_fail("sh_alloc(%zu) returned more blocks than the region holds", size);
    }
}

void release_fill(struct worker *w)
{
    for (size_t k = 0; k < fill.count; k++) {
        unclaim(fill.offsets[k], fill.size);
        test_step = "in sh_free, emptying the fill";
        sh_free(w->view, fill.offsets[k]);
    }
    test_step = NULL;
    fill.count = 0;
}

/* ------------------------------------------------------------ the walk */

struct extents {
    struct sh_extent *e;
    size_t count, cap;
    bool overflow;
};

static void collect(const struct sh_extent *e, void *arg)
{
    struct extents *x = arg;

    if (x->count == x->cap) {
        x->overflow = true;
        return;
    }
    x->e[x->count++] = *e;
}

/* The walk's extents, in a malloc'd array; the walk must succeed. */
static struct extents walk_region(char *view, const char *when)
{
    struct extents x = {.cap = region.size / 8 + 16};

    if ((x.e = malloc(x.cap * sizeof *x.e)) == NULL)
        die_errno("malloc");
    test_step = "in sh_walk";
    errno = 0;
    int status = sh_walk(view, collect, &x);
    test_step = NULL;
    if (status != 0)
        test_fail("%s: sh_walk returned %d with errno %s; expected 0", when, status,
                  errno_text(errno));
    if (x.overflow)
        test_fail("%s: sh_walk reported more extents than the region has 8-byte words", when);
    return x;
}

static const char *kind_name(enum sh_kind kind)
{
    return kind == SH_META ? "SH_META" : kind == SH_FREE ? "SH_FREE" : "SH_USED";
}

/* The extents cover [0, size) exactly, one after another. */
static void check_tiling(const struct extents *x, const char *when)
{
    uint64_t end = 0;

    for (size_t i = 0; i < x->count; i++) {
        const struct sh_extent *e = &x->e[i];
        if (e->kind != SH_META && e->kind != SH_FREE && e->kind != SH_USED)
            test_fail("%s: extent %zu of the walk has kind %d, not SH_META, SH_FREE or SH_USED",
                      when, i + 1, (int)e->kind);
        if (e->start != end)
            test_fail("%s: extent %zu of the walk (%s) starts at offset %" PRIu64 ", but the one "
                      "before it ends at %" PRIu64 ": %s; the extents must tile the region",
                      when, i + 1, kind_name(e->kind), e->start, end,
                      e->start > end ? "a gap" : "they overlap");
        if (e->length == 0 || e->length > region.size - e->start)
            test_fail("%s: extent %zu of the walk (%s at offset %" PRIu64 ") is %" PRIu64 " bytes "
                      "long, %s",
                      when, i + 1, kind_name(e->kind), e->start, e->length,
                      e->length == 0 ? "empty" : "past the region's end");
        end = e->start + e->length;
    }
    if (end != region.size)
        test_fail("%s: the walk's extents end at offset %" PRIu64 "; the region has %zu bytes, "
                  "every one of them in an extent (the never-used end too, as SH_FREE)",
                  when, end, region.size);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* A used extent: the block's offset, and where the extent ends. */
struct used {
    uint64_t offset, end;
};

static int compare_used(const void *a, const void *b)
{
    return compare_u64(&((const struct used *)a)->offset, &((const struct used *)b)->offset);
}

/* The used extents, sorted by their blocks' offsets. */
static struct used *used_extents(const struct extents *x, const char *when, size_t *count)
{
    struct used *used = malloc((x->count + 1) * sizeof *used);

    if (used == NULL)
        die_errno("malloc");
    *count = 0;
    for (size_t i = 0; i < x->count; i++) {
        const struct sh_extent *e = &x->e[i];
        if (e->kind != SH_USED)
            continue;
        if (e->offset < e->start || e->offset >= e->start + e->length || e->offset % 16 != 0)
            test_fail("%s: the used extent at offset %" PRIu64 " (%" PRIu64 " bytes) says its "
                      "block is at offset %" PRIu64 ", which is not a 16-byte aligned place "
                      "inside it",
                      when, e->start, e->length, e->offset);
        used[(*count)++] = (struct used){e->offset, e->start + e->length};
    }
    qsort(used, *count, sizeof *used, compare_used);
    return used;
}

void check_walk(char *view, const char *when, unsigned unknown_allowed)
{
    struct extents x = walk_region(view, when);
    size_t used_count, held = 0;
    uint64_t *held_at = malloc(RECORDS_MAX * sizeof *held_at);
    unsigned unknown = 0;

    if (held_at == NULL)
        die_errno("malloc");
    check_tiling(&x, when);
    struct used *used = used_extents(&x, when, &used_count);
    for (uint32_t id = 0; id < RECORDS_MAX; id++) {
        const struct record *r = &ledger->records[id];
        uint32_t state = atomic_load(&r->state);
        if (state == RECORD_EMPTY)
            continue;
        held_at[held++] = r->offset; /* live, or being freed: used or free, both fine */
        if (state != RECORD_LIVE)
            continue;
        struct used key = {r->offset, 0};
        const struct used *u = bsearch(&key, used, used_count, sizeof *used, compare_used);
        if (u == NULL)
            test_fail("%s: process %u's %" PRIu64 "-byte block at offset %" PRIu64 ", not "
                      "freed, is not a used extent of the walk",
                      when, r->worker, r->size, r->offset);
        if (r->offset + r->size > u->end)
            test_fail("%s: the walk's used extent for the %" PRIu64 "-byte block at offset "
                      "%" PRIu64 " ends at %" PRIu64 ", inside the block",
                      when, r->size, r->offset, u->end);
        check_pattern(view, id, when);
    }
    qsort(held_at, held, sizeof *held_at, compare_u64);
    uint64_t first_unknown = 0;
    for (size_t i = 0; i < used_count; i++)
        if (bsearch(&used[i].offset, held_at, held, sizeof *held_at, compare_u64) == NULL &&
            unknown++ == 0)
            first_unknown = used[i].offset;
    if (unknown > unknown_allowed)
        test_fail("%s: the walk shows %u used blocks that no process holds (the first at offset "
                  "%" PRIu64 "); expected %s",
                  when, unknown, first_unknown,
                  unknown_allowed == 0 ? "none (a freed block still marked in use?)"
                                       : "at most one per process killed inside sh_alloc");
    free(held_at);
    free(used);
    free(x.e);
}

void walk_free_space(char *view, uint64_t *largest, uint64_t *extents)
{
    struct extents x = walk_region(view, "the walk");

    check_tiling(&x, "the walk");
    *largest = *extents = 0;
    for (size_t i = 0; i < x.count; i++)
        if (x.e[i].kind == SH_FREE) {
            ++*extents;
            if (x.e[i].length > *largest)
                *largest = x.e[i].length;
        }
    free(x.e);
}
