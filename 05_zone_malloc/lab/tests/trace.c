/*
 * trace.c - the malloc lab's traces: generated from a seed, read from a
 * file, printed, and replayed against mm_ with every check (see driver.h).
 */
#include "cli.h"
#include "driver.h"
#include "mm.h"
#include "rng.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const trace_kind_names[] = {"small", "realloc", "mixed", "large", NULL};

/* ------------------------------------------------------------ generating */

/* The generator's state: which ids hold a block, and of what size. */
struct generator {
    uint64_t rng;
    uint32_t *sizes; /* 0: the id holds no block */
    struct trace *t;
    size_t cap;
};

static uint32_t random_below(struct generator *g, uint32_t bound)
{
    return (uint32_t)(rng_next(&g->rng) % bound);
}

/* A size in [lo, hi] spread evenly over powers of two, as a program's are:
 * as many blocks of 16-31 bytes as of 1024-2047.  lo >= 1. */
static uint32_t log_uniform(struct generator *g, uint32_t lo, uint32_t hi)
{
    unsigned lo_bit = 31 - (unsigned)__builtin_clz(lo), hi_bit = 31 - (unsigned)__builtin_clz(hi);
    unsigned bit = lo_bit + random_below(g, hi_bit - lo_bit + 1);
    uint32_t from = UINT32_C(1) << bit, to = bit == 31 ? UINT32_MAX : (UINT32_C(2) << bit) - 1;

    if (from < lo)
        from = lo;
    if (to > hi)
        to = hi;
    return from + random_below(g, to - from + 1);
}

static void emit(struct generator *g, char op, uint32_t id, uint32_t size)
{
    if (g->t->count == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4096;
        struct call *grown = realloc(g->t->calls, g->cap * sizeof *grown);
        if (grown == NULL)
            die_errno("realloc");
        g->t->calls = grown;
    }
    g->t->calls[g->t->count++] = (struct call){.op = op, .id = id, .size = size};
    g->sizes[id] = op == 'f' ? 0 : size;
}

/* Many small blocks with short lives; now and then one is resized. */
static void step_small(struct generator *g)
{
    uint32_t id = random_below(g, g->t->ids);

    if (g->sizes[id] == 0)
        emit(g, 'a', id, log_uniform(g, 1, 512));
    else if (random_below(g, 10) == 0)
        emit(g, 'r', id, log_uniform(g, 1, 512));
    else
        emit(g, 'f', id, 0);
}

/* Buffers growing by realloc (strings, vectors), small blocks in between;
 * a buffer past 256 KiB is freed and starts again. */
static void step_realloc(struct generator *g)
{
    uint32_t buffers = g->t->ids / 16, id;

    if (random_below(g, 4) != 0) {
        id = random_below(g, buffers);
        if (g->sizes[id] == 0)
            emit(g, 'a', id, 16 + random_below(g, 49));
        else if (g->sizes[id] > (256u << 10))
            emit(g, 'f', id, 0);
        else /* grow by half to double, as vectors and string builders do */
            emit(g, 'r', id,
                 g->sizes[id] + g->sizes[id] / 2 + random_below(g, g->sizes[id] / 2 + 1));
        return;
    }
    id = buffers + random_below(g, g->t->ids - buffers);
    emit(g, g->sizes[id] == 0 ? 'a' : 'f', id, log_uniform(g, 8, 512));
}

/* A program: mostly small blocks, some resized, and one id in 512 holding
 * a large, long-lived block (a cache, an image, an I/O buffer). */
static void step_mixed(struct generator *g)
{
    uint32_t id = random_below(g, g->t->ids);
    bool large = id % 512 == 0;

    if (g->sizes[id] == 0)
        emit(g, 'a', id, large ? log_uniform(g, 32u << 10, 2u << 20) : log_uniform(g, 16, 4096));
    else if (large)
        emit(g, random_below(g, 8) == 0 ? 'f' : 'r', id, log_uniform(g, 32u << 10, 2u << 20));
    else if (random_below(g, 8) == 0)
        emit(g, 'r', id, log_uniform(g, 16, 4096));
    else
        emit(g, 'f', id, 0);
}

/* Few blocks from 4 KiB to 4 MiB, resized up and down across any threshold
 * between "small" and "big" an allocator may have. */
static void step_large(struct generator *g)
{
    uint32_t id = random_below(g, g->t->ids);

    if (g->sizes[id] == 0)
        emit(g, 'a', id, log_uniform(g, 4u << 10, 4u << 20));
    else if (random_below(g, 2) == 0)
        emit(g, 'f', id, 0);
    else
        emit(g, 'r', id, log_uniform(g, 4u << 10, 4u << 20));
}

static const struct {
    void (*step)(struct generator *);
    uint32_t ids;
    uint64_t ops;
} kinds[KINDS] = {
    [KIND_SMALL] = {step_small, 8192, 30000},
    [KIND_REALLOC] = {step_realloc, 4096, 20000},
    [KIND_MIXED] = {step_mixed, 8192, 30000},
    [KIND_LARGE] = {step_large, 64, 1000},
};

uint64_t trace_default_ops(enum trace_kind kind)
{
    return kinds[kind].ops;
}

void trace_generate(struct trace *t, enum trace_kind kind, uint64_t seed, uint64_t ops)
{
    /* each kind its own sequence: no two traces of one seed alike */
    uint64_t mixed = seed * 0x100000001b3u + (uint64_t)kind;
    struct generator g = {.rng = rng_next(&mixed), .t = t};

    memset(t, 0, sizeof *t);
    t->ids = kinds[kind].ids;
    snprintf(t->name, sizeof t->name, "trace %s (seed %" PRIu64 ")", trace_kind_names[kind], seed);
    g.sizes = calloc(t->ids, sizeof *g.sizes);
    if (g.sizes == NULL)
        die_errno("calloc");
    for (uint64_t i = 0; i < ops; i++)
        kinds[kind].step(&g);
    for (uint32_t id = 0; id < t->ids; id++) /* a tidy program frees everything */
        if (g.sizes[id] != 0)
            emit(&g, 'f', id, 0);
    free(g.sizes);
}

/* ------------------------------------------------- reading and printing */

void trace_load(struct trace *t, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[128];
    size_t cap = 0, line_no = 1;
    const char *base = strrchr(path, '/');

    if (f == NULL)
        die_errno(path);
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "trace %s", base ? base + 1 : path);
    if (fgets(line, sizeof line, f) == NULL ||
        sscanf(line, "# alloc-trace v1 kind=%*s seed=%*s ops=%*s ids=%" SCNu32, &t->ids) != 1 ||
        t->ids == 0 || t->ids > (1u << 20))
        die("%s: not an alloc-trace v1 file", path);
    while (fgets(line, sizeof line, f) != NULL) {
        struct call c = {0};
        line_no++;
        int fields = sscanf(line, "%c %" SCNu32 " %" SCNu32, &c.op, &c.id, &c.size);
        if (c.id >= t->ids || !((c.op == 'f' && fields == 2) ||
                                ((c.op == 'a' || c.op == 'r') && fields == 3 && c.size > 0)))
            die("%s:%zu: not a trace call", path, line_no);
        if (t->count == cap) {
            cap = cap ? cap * 2 : 4096;
            struct call *grown = realloc(t->calls, cap * sizeof *grown);
            if (grown == NULL)
                die_errno("realloc");
            t->calls = grown;
        }
        t->calls[t->count++] = c;
    }
    if (ferror(f))
        die_errno(path);
    fclose(f);
}

void trace_print(const struct trace *t, uint64_t seed, const char *kind)
{
    printf("# alloc-trace v1 kind=%s seed=%" PRIu64 " ops=%zu ids=%" PRIu32 "\n", kind, seed,
           t->count, t->ids);
    for (size_t i = 0; i < t->count; i++) {
        const struct call *c = &t->calls[i];
        if (c->op == 'f')
            printf("f %" PRIu32 "\n", c->id);
        else
            printf("%c %" PRIu32 " %" PRIu32 "\n", c->op, c->id, c->size);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        die_errno("write");
}

void trace_free(struct trace *t)
{
    free(t->calls);
    t->calls = NULL;
    t->count = 0;
}

/* ------------------------------------------------------------ replaying */

/* A live block of the replay, also the key of the overlap index. */
struct live {
    uintptr_t start, end; /* [start, end): the bytes the trace asked for */
    uint64_t stamp;       /* its payload pattern */
    size_t born;          /* the call that allocated it */
};

/* Two blocks compare equal when they overlap: the index (a tree of blocks
 * that never overlap) then finds any block a new one overlaps. */
static int compare_blocks(const void *a, const void *b)
{
    const struct live *x = a, *y = b;

    if (x->end <= y->start)
        return -1;
    return x->start >= y->end ? 1 : 0;
}

struct replay {
    const struct trace *t;
    struct live *blocks; /* by id; start == 0: none */
    void *index;         /* tsearch tree of the live blocks */
};

/* "a 17 4000", "f 3" */
static const char *call_text(const struct call *c, char buf[static 32])
{
    if (c->op == 'f')
        snprintf(buf, 32, "f %" PRIu32, c->id);
    else
        snprintf(buf, 32, "%c %" PRIu32 " %" PRIu32, c->op, c->id, c->size);
    return buf;
}

/* Fail the test at call i of the replay, with what went wrong. */
__attribute__((format(printf, 3, 4))) static _Noreturn void
replay_fail(const struct replay *r, size_t i, const char *fmt, ...)
{
    char what[1024], text[32];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    lab_fail("%s line %zu (%s): %s", r->t->name, trace_line(i), call_text(&r->t->calls[i], text),
             what);
}

static size_t block_size(const struct live *b)
{
    return b->end - b->start;
}

/* The block of id must still hold its pattern; fails naming the byte. */
static void check_payload(const struct replay *r, size_t i, uint32_t id)
{
    const struct live *b = &r->blocks[id];
    size_t size = block_size(b);

    progress.step = "checking the block's bytes";
    progress.block = b->start;
    progress.size = size;
    size_t bad = lab_check((const void *)b->start, size, b->stamp);
    if (bad < size)
        replay_fail(r, i,
                    "block %" PRIu32 " (%zu bytes at %#" PRIxPTR ", from line %zu) changed while "
                    "in use: byte %zu is 0x%02x, expected 0x%02x; the allocator must not write "
                    "into a block it handed out (a header or a free-list link?)",
                    id, size, b->start, trace_line(b->born), bad, ((const uint8_t *)b->start)[bad],
                    lab_pattern_byte(b->stamp, bad));
}

/* A new block for id at p: aligned, overlapping no live block; indexed. */
static void accept_block(struct replay *r, size_t i, uint32_t id, void *p, size_t size,
                         const char *call)
{
    char buf[160];
    struct live *b = &r->blocks[id];
    const char *wrong = misaligned(call, p, buf);

    if (wrong != NULL)
        replay_fail(r, i, "%s; every block must be 16-byte aligned", wrong);
    b->start = (uintptr_t)p;
    b->end = b->start + size;
    struct live **hit = tfind(b, &r->index, compare_blocks);
    if (hit != NULL) {
        const struct live *other = *hit;
        replay_fail(r, i,
                    "%s returned %#" PRIxPTR ", whose %zu bytes overlap a block in use (%zu "
                    "bytes at %#" PRIxPTR ", from line %zu); expected memory no live block holds",
                    call, b->start, size, block_size(other), other->start, trace_line(other->born));
    }
    if (tsearch(b, &r->index, compare_blocks) == NULL)
        die_errno("tsearch");
}

static void forget_block(struct replay *r, uint32_t id)
{
    tdelete(&r->blocks[id], &r->index, compare_blocks);
    r->blocks[id].start = r->blocks[id].end = 0;
}

static void replay_alloc(struct replay *r, size_t i, uint32_t id, uint32_t size)
{
    char call[48];

    if (r->blocks[id].start != 0) { /* a file may reuse an id: free it first */
        check_payload(r, i, id);
        void *old = (void *)r->blocks[id].start;
        forget_block(r, id);
        mm_free(old);
    }
    snprintf(call, sizeof call, "mm_malloc(%" PRIu32 ")", size);
    progress.step = "in mm_malloc";
    progress.block = 0;
    errno = 0;
    void *p = mm_malloc(size);
    if (p == NULL) {
        char buf[24];
        replay_fail(r, i, "%s returned NULL (errno %s); expected a block", call,
                    errno_name(errno, buf));
    }
    r->blocks[id].stamp = (uint64_t)i + 1;
    r->blocks[id].born = i;
    accept_block(r, i, id, p, size, call);
    progress.step = "writing the new block's bytes";
    progress.block = (uintptr_t)p;
    progress.size = size;
    lab_fill(p, size, r->blocks[id].stamp);
}

static void replay_realloc(struct replay *r, size_t i, uint32_t id, uint32_t size)
{
    struct live *b = &r->blocks[id];
    char call[64];

    if (b->start == 0) { /* realloc(NULL, size) */
        replay_alloc(r, i, id, size);
        return;
    }
    check_payload(r, i, id);
    size_t old_size = block_size(b), keep = old_size < size ? old_size : size;
    void *old = (void *)b->start;
    forget_block(r, id);
    snprintf(call, sizeof call, "mm_realloc(%p, %" PRIu32 ")", old, size);
    progress.step = "in mm_realloc";
    progress.block = (uintptr_t)old;
    progress.size = old_size;
    errno = 0;
    void *p = mm_realloc(old, size);
    if (p == NULL) {
        char buf[24];
        replay_fail(r, i, "%s returned NULL (errno %s); expected a block", call,
                    errno_name(errno, buf));
    }
    progress.step = "checking what mm_realloc kept";
    progress.block = (uintptr_t)p;
    progress.size = keep;
    size_t bad = lab_check(p, keep, b->stamp);
    if (bad < keep)
        replay_fail(r, i,
                    "%s of block %" PRIu32 " (%zu bytes, from line %zu) lost its content: byte "
                    "%zu of the first %zu is 0x%02x, expected 0x%02x; realloc keeps the first "
                    "min(old, new) bytes",
                    call, id, old_size, trace_line(b->born), bad, keep, ((uint8_t *)p)[bad],
                    lab_pattern_byte(b->stamp, bad));
    accept_block(r, i, id, p, size, call);
    progress.step = "writing the resized block's bytes";
    progress.size = size;
    lab_fill_range(p, keep, size, b->stamp);
}

static void replay_free(struct replay *r, size_t i, uint32_t id)
{
    void *p = (void *)r->blocks[id].start;
    size_t size = block_size(&r->blocks[id]);

    if (p != NULL) {
        check_payload(r, i, id);
        forget_block(r, id);
    }
    progress.step = "in mm_free";
    progress.block = (uintptr_t)p;
    progress.size = size;
    mm_free(p);
}

enum { SWEEP_EVERY = 4096 }; /* calls between checks of every live block */

void trace_replay_checked(const struct trace *t)
{
    struct replay r = {.t = t};

    r.blocks = calloc(t->ids, sizeof *r.blocks);
    if (r.blocks == NULL)
        die_errno("calloc");
    progress.trace = t;
    for (size_t i = 0; i < t->count; i++) {
        const struct call *c = &t->calls[i];
        progress.call = i;
        switch (c->op) {
        case 'a': replay_alloc(&r, i, c->id, c->size); break;
        case 'r': replay_realloc(&r, i, c->id, c->size); break;
        default: replay_free(&r, i, c->id); break;
        }
        if (i % SWEEP_EVERY == SWEEP_EVERY - 1)
            for (uint32_t id = 0; id < t->ids; id++)
                if (r.blocks[id].start != 0)
                    check_payload(&r, i, id);
    }
    for (uint32_t id = 0; id < t->ids; id++) /* what a trace file left live */
        if (r.blocks[id].start != 0)
            replay_free(&r, t->count - 1, id); /* t->count > 0: a block was allocated */
    progress.trace = NULL;
    free(r.blocks);
}

/* ---------------------------------------------------------------- tests */

void trace_for_test(struct trace *t, enum trace_kind kind, int argc, char *argv[])
{
    trace_generate(t, kind, lab_seed(), lab_arg(argc, argv, "ops", trace_default_ops(kind)));
}

static void test_trace(enum trace_kind kind, int argc, char *argv[])
{
    struct trace t;

    trace_for_test(&t, kind, argc, argv);
    allocator_start();
    trace_replay_checked(&t);
    size_t calls = t.count;
    trace_free(&t);
    lab_pass("%zu calls", calls);
}

void test_trace_small(int argc, char *argv[])
{
    test_trace(KIND_SMALL, argc, argv);
}

void test_trace_realloc(int argc, char *argv[])
{
    test_trace(KIND_REALLOC, argc, argv);
}

void test_trace_mixed(int argc, char *argv[])
{
    test_trace(KIND_MIXED, argc, argv);
}

void test_trace_large(int argc, char *argv[])
{
    test_trace(KIND_LARGE, argc, argv);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .trace file in the lab's tests/traces/ (under LAB_DIR), in name order. */
void test_trace_files(int argc, char *argv[])
{
    const char *lab_dir = getenv("LAB_DIR");
    char dir_path[512], path[1024];
    char *names[64];
    size_t count = 0;
    struct dirent *entry;

    (void)argc;
    (void)argv;
    snprintf(dir_path, sizeof dir_path, "%s/tests/traces",
             lab_dir ? lab_dir : "05_zone_malloc/lab");
    DIR *dir = opendir(dir_path);
    if (dir == NULL)
        die_errno(dir_path);
    while ((entry = readdir(dir)) != NULL && count < sizeof names / sizeof names[0]) {
        size_t len = strlen(entry->d_name);
        if (len > 6 && strcmp(entry->d_name + len - 6, ".trace") == 0)
            if ((names[count] = strdup(entry->d_name)) != NULL)
                count++;
    }
    closedir(dir);
    if (count == 0)
        die("%s: no .trace files", dir_path);
    qsort(names, count, sizeof names[0], by_name);
    allocator_start();
    for (size_t i = 0; i < count; i++) {
        struct trace t;
        snprintf(path, sizeof path, "%s/%s", dir_path, names[i]);
        trace_load(&t, path);
        trace_replay_checked(&t);
        trace_free(&t);
        free(names[i]);
    }
    lab_pass("%zu trace files", count);
}
