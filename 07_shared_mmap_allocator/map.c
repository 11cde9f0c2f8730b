/*
 * map.c - a live map of a region: one row per claimed span, one character
 * per 256 bytes, drawn while worker processes allocate and free in it.
 *
 *   A B C ...   in use, allocated by the process in slot 0, 1, 2 ...
 *   a b c ...   free, waiting in that process's cache (a block, or a run)
 *   .           free, on the region-wide list of its class
 *   =           a free run of spans
 *   ?           a span without a head (taken by a lock holder that died)
 *
 * A block above 4 KiB is a run of whole spans: its rows are all the letter
 * of the process that allocated it, and the first says how long it is.  A
 * character covering several blocks (small classes) shows the busiest: in
 * use before cached before free.
 */
#include "cli.h"
#include "lesson07.h"
#include "out.h"
#include "rng.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum {
    MAP_REGION = 1 << 20,
    COLUMNS = 64,
    CELL_BYTES = SHALLOC_SPAN_BYTES / COLUMNS,
    MAX_ROWS = MAP_REGION / SHALLOC_SPAN_BYTES,
    MAP_HELD = 48,       /* blocks a worker holds at most */
    MAP_RUN_MIN = 17000, /* one request in 32: a run of two or three spans */
    MAP_RUN_SPREAD = 32000,
};

enum { FRAMES_LIVE = 2 };

struct map_run {
    struct shalloc region;
    uint64_t ops, seed;
    int milestone[2];           /* workers write a byte at each third of their run */
    int resume[FRAMES_LIVE][2]; /* closed by the parent once that frame is drawn */
};

/* One frame of the map, filled by a walk. */
struct canvas {
    const struct shalloc *h;
    char row[MAX_ROWS][COLUMNS + 1];
    char label[MAX_ROWS][8]; /* the class, "run N" or nothing */
    uint32_t rows;           /* spans seen */
    pid_t slot_pid[SHALLOC_SLOTS];
    uint64_t used, cached, free;
    uint64_t used_runs, free_runs;
};

static char state_char(const struct shalloc_block_info *b)
{
    switch (b->state) {
    case SHALLOC_USED: return b->slot < 26 ? (char)('A' + b->slot) : '#';
    case SHALLOC_CACHED: return b->slot < 26 ? (char)('a' + b->slot) : '+';
    case SHALLOC_FREE: return b->spans > 0 ? '=' : '.';
    default: return '?';
    }
}

/* in use > cached > free > nothing, so that small busy blocks show. */
static int rank(char c)
{
    if (c >= 'A' && c <= 'Z')
        return 3;
    if (c >= 'a' && c <= 'z')
        return 2;
    return c == '.' || c == '=' ? 1 : c == ' ' ? 0 : 4;
}

static void count_state(struct canvas *c, const struct shalloc_block_info *b)
{
    if (b->spans > 0) {
        c->used_runs += b->state == SHALLOC_USED;
        c->free_runs += b->state == SHALLOC_FREE;
    } else if (b->state == SHALLOC_USED)
        c->used++;
    else if (b->state == SHALLOC_CACHED)
        c->cached++;
    else if (b->state == SHALLOC_FREE)
        c->free++;
    if ((b->state == SHALLOC_USED || b->state == SHALLOC_CACHED) && b->slot < SHALLOC_SLOTS)
        c->slot_pid[b->slot] = b->owner;
}

/* Blank rows up to and including row last. */
static void add_rows(struct canvas *c, uint64_t last)
{
    for (; c->rows <= last; c->rows++) {
        memset(c->row[c->rows], ' ', COLUMNS);
        c->row[c->rows][COLUMNS] = '\0';
        c->label[c->rows][0] = '\0';
    }
}

/* A run, or a lost span: whole rows of one character. */
static void paint_spans(struct canvas *c, const struct shalloc_block_info *b)
{
    uint64_t rows = b->spans > 0 ? b->spans : 1;

    for (uint64_t r = b->span; r < b->span + rows && r < MAX_ROWS; r++) {
        add_rows(c, r);
        memset(c->row[r], state_char(b), COLUMNS);
    }
    if (b->span < MAX_ROWS && b->spans > 0)
        snprintf(c->label[b->span], sizeof c->label[b->span], "run %u", (unsigned)b->spans);
    else if (b->span < MAX_ROWS)
        snprintf(c->label[b->span], sizeof c->label[b->span], "lost");
}

static void paint_block(void *ctx, const struct shalloc_block_info *b)
{
    struct canvas *c = ctx;
    uint64_t span_start = c->h->data_off + b->span * SHALLOC_SPAN_BYTES;
    uint64_t start = b->offset - 16, end = b->offset + b->bytes; /* from its header */

    count_state(c, b);
    if (b->span >= MAX_ROWS)
        return;
    if (b->spans > 0 || b->state == SHALLOC_LOST) {
        paint_spans(c, b);
        return;
    }
    add_rows(c, b->span);
    snprintf(c->label[b->span], sizeof c->label[b->span], "%u", (unsigned)b->bytes);
    char mark = state_char(b);
    for (uint64_t cell = (start - span_start) / CELL_BYTES;
         cell <= (end - 1 - span_start) / CELL_BYTES; cell++)
        if (rank(mark) >= rank(c->row[b->span][cell]))
            c->row[b->span][cell] = mark;
}

static void draw_frame(struct shalloc *h, unsigned frame, const char *when)
{
    static struct canvas c; /* 4 KiB of rows: not on the stack */

    memset(&c, 0, sizeof c);
    c.h = h;
    shalloc_walk(h, paint_block, &c);
    subheading("frame %u: %s", frame, when);
    printf("  span   offset  class |%-*s|\n", COLUMNS, "0 .. 16 KiB, 256 bytes per character");
    for (uint32_t r = 0; r < c.rows; r++)
        printf("  %4u %8" PRIu64 " %6s |%s|\n", r, h->data_off + (uint64_t)r * SHALLOC_SPAN_BYTES,
               c.label[r], c.row[r]);
    printf("  legend:");
    for (unsigned s = 0; s < 26; s++)
        if (c.slot_pid[s] != 0)
            printf(" %c/%c = pid %d", 'A' + s, 'a' + s, (int)c.slot_pid[s]);
    printf(" (in use/cached), '.' free, '=' a free run\n");
    fact_uint("frame", frame);
    fact_uint("spans", c.rows);
    fact_uint("used_blocks", c.used);
    fact_uint("cached_blocks", c.cached);
    fact_uint("free_blocks", c.free);
    fact_uint("used_runs", c.used_runs);
    fact_uint("free_runs", c.free_runs);
    facts_end();
}

/* Sizes from four classes, so the map has a few rows per process, and one
 * request in 32 a run of two or three spans. */
static size_t pick_size(uint64_t r)
{
    static const size_t sizes[] = {40, 100, 200, 400};

    if ((r >> 32) % 32 == 0)
        return MAP_RUN_MIN + (r >> 16) % MAP_RUN_SPREAD;
    return sizes[(r >> 40) % 4];
}

/* Say we are there, then wait until the parent has drawn the frame. */
static void reach_milestone(struct map_run *m, int frame)
{
    char byte = 'm';
    ssize_t n;

    if (write(m->milestone[1], &byte, 1) != 1)
        die_errno("write");
    while ((n = read(m->resume[frame][0], &byte, 1)) < 0 && errno == EINTR)
        ;
    if (n != 0)
        die("map: expected the parent to close the resume pipe");
}

static int map_worker(void *arg, unsigned index)
{
    struct map_run *m = arg;
    void *held[MAP_HELD] = {0};
    uint64_t rng = m->seed * 7919 + index;

    close(m->milestone[0]);
    for (int f = 0; f < FRAMES_LIVE; f++)
        close(m->resume[f][1]); /* or we would hold our own wake-up open */
    for (uint64_t i = 0; i < m->ops; i++) {
        uint64_t r = rng_next(&rng);
        void **slot = &held[r % MAP_HELD];
        if (*slot != NULL) {
            shalloc_free(&m->region, *slot);
            *slot = NULL;
        } else if ((*slot = shalloc_alloc(&m->region, pick_size(r))) == NULL) {
            die_errno(shalloc_error(&m->region));
        }
        if (i + 1 == m->ops / 3)
            reach_milestone(m, 0);
        else if (i + 1 == 2 * m->ops / 3)
            reach_milestone(m, 1);
    }
    for (int k = 0; k < MAP_HELD; k++)
        shalloc_free(&m->region, held[k]);
    close_region(&m->region);
    return 0;
}

/* Block until every worker has written its byte for this milestone; if
 * one ended first, kill and reap the crew, then say so. */
static void await_milestone(struct map_run *m, struct crew *crew)
{
    char buf[MAX_PROCS];
    unsigned got = 0;

    while (got < crew->n) {
        ssize_t n = read(m->milestone[0], buf, crew->n - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            crew_abort(crew);
            die("map: a worker ended before its milestone");
        }
        got += (unsigned)n;
    }
}

int run_map(const struct options *o)
{
    struct map_run m = {.ops = o->ops < 3 ? 3 : o->ops, .seed = o->seed};
    struct crew crew;

    heading("map: %u processes allocate in a 1 MiB region", o->procs);
    printf("A B C...: in use by the process in slot 0, 1, 2...; a b c...: free in its cache;\n"
           "'.': free on the region's list; '=': a free run of spans; '?': a lost span;\n"
           "a block above 4 KiB is a run of whole spans, one row each\n");
    open_region(&m.region, NULL, MAP_REGION);
    if (pipe(m.milestone) != 0 || pipe(m.resume[0]) != 0 || pipe(m.resume[1]) != 0)
        die_errno("pipe");
    crew_start(&crew, o->procs, map_worker, &m);
    close(m.milestone[1]);
    close(m.resume[0][0]);
    close(m.resume[1][0]);
    crew_release(&crew);
    await_milestone(&m, &crew);
    draw_frame(&m.region, 1, "every process a third of the way through");
    close(m.resume[0][1]);
    await_milestone(&m, &crew);
    draw_frame(&m.region, 2, "two thirds of the way");
    close(m.resume[1][1]);
    unsigned failed = crew_wait(&crew, CHILD_TIMEOUT_MS);
    close(m.milestone[0]);
    draw_frame(&m.region, 3, "after they freed everything and left: caches returned");
    print_class_table(&m.region);
    bool ok = report_check(&m.region);
    fact_word("command", "map");
    fact_uint("procs", o->procs);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    close_region(&m.region);
    return ok && failed == 0 ? 0 : 1;
}
