/*
 * alloc_trace - make and replay allocation traces, to compare allocators on
 * something shaped like a real program rather than one random workload.
 *
 * A trace is text, one call per line, blocks named by a small integer id:
 *     a ID SIZE     malloc(SIZE) into id
 *     r ID SIZE     realloc(id's block, SIZE)
 *     f ID          free(id's block)
 * after a first line "# alloc-trace v1 kind=K seed=S ops=N ids=M".
 *
 * Usage: alloc_trace gen --kind small|realloc|mixed [--ops N] [--seed S] [--ids N]
 *        alloc_trace replay --allocator glibc|zone [--measure time|space] [--repeat N] FILE
 *
 * gen writes a trace to stdout; the same kind, ops, seed and ids always give
 * the same trace.  --ids sets how many blocks the program can hold at once
 * (about half of them are live): the size of its working set.  replay reads
 * FILE whole, then runs it:
 *   --measure time   (default) as fast as it can: ops_per_sec=
 *   --measure space  reading the allocator's mapped bytes every 16 calls:
 *                    peak_live_bytes= peak_mapped_bytes= utilisation_pct=
 * Space is measured in a run of its own so that its bookkeeping does not
 * slow the timed one.  --repeat N replays the trace N times in a row (a
 * short trace timed once is mostly noise); peak_rss_kib= is the process's.
 */
#include "cli.h"
#include "clock.h"
#include "out.h"
#include "procfs.h"
#include "rng.h"
#include "zone_malloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum kind { KIND_SMALL, KIND_REALLOC, KIND_MIXED };
/* Ids in a trace: the default, and the bounds of --ids (at least one
 * realloc buffer, which takes 1 id in 64; replay accepts 2^24 at most). */
enum { DEFAULT_IDS = 16384, MIN_IDS = 64, MAX_IDS = 1 << 24 };
static const char *const kind_names[] = {"small", "realloc", "mixed", NULL};

/* ------------------------------------------------------------ generating */

/* The generator's state: which ids hold a block, and of what size. */
struct generator {
    uint64_t rng;
    uint32_t ids;    /* ids 0..ids-1 exist */
    uint32_t *sizes; /* 0: the id holds no block */
    uint32_t live;   /* ids holding a block */
};

static uint32_t random_below(struct generator *g, uint32_t bound)
{
    return (uint32_t)(rng_next(&g->rng) % bound);
}

/* A size between lo and hi, most of them small: programs allocate many
 * more small blocks than large ones. */
static uint32_t skewed_size(struct generator *g, uint32_t lo, uint32_t hi)
{
    uint32_t span = hi - lo + 1, a = random_below(g, span), b = random_below(g, span);

    return lo + (a < b ? a : b) * (a < b ? a : b) / span;
}

static void emit_alloc(struct generator *g, uint32_t id, uint32_t size)
{
    printf("a %" PRIu32 " %" PRIu32 "\n", id, size);
    g->sizes[id] = size;
    g->live++;
}

static void emit_free(struct generator *g, uint32_t id)
{
    printf("f %" PRIu32 "\n", id);
    g->sizes[id] = 0;
    g->live--;
}

/* Many small blocks with short lives: a parser, an interpreter's objects. */
static void step_small(struct generator *g)
{
    uint32_t id = random_below(g, g->ids);

    if (g->sizes[id] != 0)
        emit_free(g, id);
    else
        emit_alloc(g, id, skewed_size(g, 8, 256));
}

/* Buffers that grow by realloc (strings, vectors being filled), with small
 * blocks in between; a full buffer is freed and starts again. */
static void step_realloc(struct generator *g)
{
    uint32_t buffers = g->ids / 64, id;

    if (random_below(g, 4) != 0) {
        id = random_below(g, buffers);
        if (g->sizes[id] == 0) {
            emit_alloc(g, id, 16 + random_below(g, 48));
        } else if (g->sizes[id] > (64u << 10)) {
            emit_free(g, id);
        } else {
            g->sizes[id] *= 2; /* the usual growth of a vector or string buffer */
            printf("r %" PRIu32 " %" PRIu32 "\n", id, g->sizes[id]);
        }
        return;
    }
    id = buffers + random_below(g, g->ids - buffers);
    if (g->sizes[id] != 0)
        emit_free(g, id);
    else
        emit_alloc(g, id, skewed_size(g, 16, 512));
}

/* Mostly small blocks, with a few large, long-lived ones (caches, images,
 * I/O buffers) above glibc's mmap threshold. */
static void step_mixed(struct generator *g)
{
    uint32_t id = random_below(g, g->ids);
    int large_id = id % 512 == 0;

    if (g->sizes[id] != 0) {
        if (!large_id || random_below(g, 8) == 0)
            emit_free(g, id);
        return;
    }
    emit_alloc(g, id, large_id ? skewed_size(g, 64u << 10, 4u << 20) : skewed_size(g, 16, 2048));
}

static void generate(enum kind kind, uint64_t ops, uint64_t seed, uint32_t ids)
{
    static void (*const steps[])(struct generator *) = {step_small, step_realloc, step_mixed};
    struct generator g = {.rng = seed, .ids = ids};

    g.sizes = calloc(g.ids, sizeof *g.sizes);
    if (g.sizes == NULL)
        die_errno("calloc");
    printf("# alloc-trace v1 kind=%s seed=%" PRIu64 " ops=%" PRIu64 " ids=%" PRIu32 "\n",
           kind_names[kind], seed, ops, g.ids);
    for (uint64_t i = 0; i < ops; i++)
        steps[kind](&g);
    for (uint32_t id = 0; id < g.ids; id++) /* a tidy program frees everything */
        if (g.sizes[id] != 0)
            emit_free(&g, id);
    free(g.sizes);
    if (fflush(stdout) != 0 || ferror(stdout))
        die_errno("write");
}

/* ------------------------------------------------------------- replaying */

struct call {
    char op; /* 'a', 'r' or 'f' */
    uint32_t id;
    uint32_t size;
};

struct trace {
    struct call *calls;
    size_t count;
    uint32_t ids;
};

/* The trace file, opened without blocking (a FIFO with no writer would hang
 * open()) and accepted only if it is a regular file.  Dies otherwise. */
static FILE *open_trace(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        die_errno(path);
    if (fstat(fd, &st) != 0)
        die_errno(path);
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        die_errno(path);
    }
    if (!S_ISREG(st.st_mode))
        die("%s: not a regular file (a trace is read whole, from a file)", path);
    if (fcntl(fd, F_SETFL, 0) != 0) /* back to blocking reads */
        die_errno(path);
    FILE *f = fdopen(fd, "r");
    if (f == NULL)
        die_errno(path);
    return f;
}

/* The next space-separated field of *rest, or NULL; *rest moves past it. */
static char *next_field(char **rest)
{
    char *field = *rest;

    if (*field == '\0')
        return NULL;
    char *space = strchr(field, ' ');
    if (space != NULL) {
        *space = '\0';
        *rest = space + 1;
    } else {
        *rest = field + strlen(field);
    }
    return field;
}

/* One call from one line: "a ID SIZE", "r ID SIZE" or "f ID", one space
 * between fields and nothing after them; ID below ids, SIZE from 1 to
 * UINT32_MAX.  False with *why when the line is anything else. */
static bool parse_call(char *line, uint32_t ids, struct call *c, const char **why)
{
    size_t len = strlen(line);
    uint64_t value;

    *why = "expected 'a ID SIZE', 'r ID SIZE' or 'f ID'";
    if (len == 0 || line[0] == ' ' || line[len - 1] == ' ' || strstr(line, "  ") != NULL)
        return false; /* fields are separated by exactly one space */
    char *rest = line, *op = next_field(&rest), *id = next_field(&rest);
    char *size = op != NULL && op[0] != 'f' ? next_field(&rest) : NULL;
    if (op == NULL || op[1] != '\0' || strchr("arf", op[0]) == NULL || id == NULL)
        return false;
    if (op[0] != 'f' && size == NULL)
        return false;
    if (*rest != '\0') {
        *why = "junk after the call";
        return false;
    }
    c->op = op[0];
    if (!parse_uint(id, 0, ids - 1, &value, why))
        return false;
    c->id = (uint32_t)value;
    if (size != NULL) {
        if (!parse_uint(size, 1, UINT32_MAX, &value, why))
            return false;
        c->size = (uint32_t)value;
    }
    return true;
}

/* A line of the file, without its newline; false at the end of the file.
 * Dies on a line too long to be a call. */
static bool read_line(FILE *f, const char *path, unsigned long line_no, char *line, size_t cap)
{
    if (fgets(line, (int)cap, f) == NULL) {
        if (ferror(f))
            die_errno(path);
        return false;
    }
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n')
        line[len - 1] = '\0';
    else if (!feof(f))
        die("%s:%lu: line too long for a trace call", path, line_no);
    return true;
}

/* Read a whole trace into memory, so that replaying it does no I/O. */
static void trace_load(const char *path, struct trace *t)
{
    FILE *f = open_trace(path);
    char line[128];
    size_t cap = 1 << 16;
    unsigned long line_no = 1;
    const char *why;

    if (!read_line(f, path, line_no, line, sizeof line) ||
        sscanf(line, "# alloc-trace v1 kind=%*s seed=%*s ops=%*s ids=%" SCNu32, &t->ids) != 1 ||
        t->ids == 0 || t->ids > MAX_IDS)
        die("%s: not an alloc-trace v1 file", path);
    t->count = 0;
    t->calls = malloc(cap * sizeof *t->calls);
    if (t->calls == NULL)
        die_errno("malloc");
    while (read_line(f, path, ++line_no, line, sizeof line)) {
        struct call c = {0};
        if (!parse_call(line, t->ids, &c, &why))
            die("%s:%lu: not a trace call: %s", path, line_no, why);
        if (t->count == cap) {
            cap *= 2;
            struct call *grown = realloc(t->calls, cap * sizeof *t->calls);
            if (grown == NULL)
                die_errno("realloc");
            t->calls = grown;
        }
        t->calls[t->count++] = c;
    }
    fclose(f);
}

/* An allocator to replay against, and how to ask it what it has mapped. */
struct allocator {
    const char *name;
    void *(*alloc)(size_t);
    void *(*resize)(void *, size_t);
    void (*release)(void *);
    uint64_t (*mapped_bytes)(void);
};

/* glibc: the main arena's bytes from brk plus the blocks it mmap'd. */
static uint64_t glibc_mapped_bytes(void)
{
    struct mallinfo2 info = mallinfo2();

    return info.arena + info.hblkhd;
}

static uint64_t zone_mapped_bytes(void)
{
    struct zm_stats stats;

    zm_get_stats(&stats);
    return stats.mapped_bytes;
}

static const struct allocator allocators[] = {
    {"glibc", malloc, realloc, free, glibc_mapped_bytes},
    {"zone", zm_malloc, zm_realloc, zm_free, zone_mapped_bytes},
};
static const char *const allocator_names[] = {"glibc", "zone", NULL};

enum { SPACE_SAMPLE_CALLS = 16 };

struct replay_result {
    uint64_t elapsed_ns;
    uint64_t peak_live_bytes;   /* most bytes requested and not yet freed */
    uint64_t peak_mapped_bytes; /* only when measuring space */
};

/* Run every call of the trace; with measure_space, read the allocator's
 * mapped bytes after every SPACE_SAMPLE_CALLS calls (glibc's mallinfo2
 * walks its bins: after every call it would take seconds), less what it
 * had mapped before the first call, which is this program's own.  Every block gets its first byte written,
 * as a real program would. */
static void replay(const struct allocator *a, const struct trace *t, int measure_space,
                   struct replay_result *r)
{
    void **blocks = calloc(t->ids, sizeof *blocks);
    uint32_t *sizes = calloc(t->ids, sizeof *sizes);
    uint64_t live = 0, start;

    if (blocks == NULL || sizes == NULL)
        die_errno("calloc");
    memset(r, 0, sizeof *r);
    uint64_t baseline = measure_space ? a->mapped_bytes() : 0;
    start = now_ns();
    for (size_t i = 0; i < t->count; i++) {
        const struct call *c = &t->calls[i];
        if (c->op == 'f') {
            a->release(blocks[c->id]);
            blocks[c->id] = NULL;
            live -= sizes[c->id];
            sizes[c->id] = 0;
        } else {
            void *p = c->op == 'a' ? a->alloc(c->size) : a->resize(blocks[c->id], c->size);
            if (p == NULL)
                die_errno(c->op == 'a' ? "malloc" : "realloc");
            *(volatile char *)p = (char)i;
            blocks[c->id] = p;
            live = live - sizes[c->id] + c->size; /* in 64 bits: a shrink must not wrap */
            sizes[c->id] = c->size;
            if (live > r->peak_live_bytes)
                r->peak_live_bytes = live;
        }
        if (measure_space && i % SPACE_SAMPLE_CALLS == 0) {
            uint64_t mapped = a->mapped_bytes() - baseline;
            if (mapped > r->peak_mapped_bytes)
                r->peak_mapped_bytes = mapped;
        }
    }
    r->elapsed_ns = now_ns() - start;
    free(sizes);
    free(blocks);
}

/* --------------------------------------------------------------- the CLI */

static void usage(void)
{
    printf("Usage: %s gen --kind small|realloc|mixed [--ops N] [--seed S] [--ids N]\n"
           "       %s replay --allocator glibc|zone [--measure time|space] [--repeat N] FILE\n"
           "\n"
           "Make an allocation trace (to stdout), or replay one against an allocator.\n"
           "\n"
           "  --kind KIND        small: many small short-lived blocks; realloc: growing\n"
           "                     buffers; mixed: small blocks and a few large ones\n"
           "  --ops N            calls to generate, before the final frees (default 1000000)\n"
           "  --seed S           the generator's seed (default 1)\n"
           "  --ids N            blocks the program can hold at once, about half of them\n"
           "                     live (64..16777216, default 16384)\n"
           "  --allocator NAME   glibc (the C library's malloc) or zone (lesson 05's)\n"
           "  --measure WHAT     time: ops_per_sec=; space: peak bytes mapped against\n"
           "                     peak bytes live (default time)\n"
           "  --repeat N         replay the trace N times (1..1000, default 1)\n"
           "  -h, --help         show this help\n",
           prog_name(), prog_name());
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"kind", required_argument, NULL, 'k'},
        {"ops", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"allocator", required_argument, NULL, 'a'},
        {"measure", required_argument, NULL, 'm'},
        {"repeat", required_argument, NULL, 'r'},
        {"ids", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const measures[] = {"time", "space", NULL};
    int kind = -1, allocator = -1, measure_space = 0, opt;
    uint64_t ops = 1000000, seed = 1, repeat = 1, ids = DEFAULT_IDS;

    cli_init();
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'k': kind = opt_choice("--kind", optarg, kind_names); break;
        case 'n': ops = opt_uint("--ops", optarg, 1, UINT64_C(1) << 32); break;
        case 's': seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 'a': allocator = opt_choice("--allocator", optarg, allocator_names); break;
        case 'm': measure_space = opt_choice("--measure", optarg, measures); break;
        case 'r': repeat = opt_uint("--repeat", optarg, 1, 1000); break;
        case 'i': ids = opt_uint("--ids", optarg, MIN_IDS, MAX_IDS); break;
        case 'h': usage(); return 0;
        default: bad_option(opt, argv);
        }
    }
    if (optind == argc)
        usage_error("a command is needed: gen or replay");
    const char *command = argv[optind++];
    if (strcmp(command, "gen") == 0) {
        if (kind < 0)
            usage_error("gen needs --kind");
        if (optind < argc)
            usage_error("unexpected argument '%s'", argv[optind]);
        generate((enum kind)kind, ops, seed, (uint32_t)ids);
        return 0;
    }
    if (strcmp(command, "replay") != 0)
        usage_error("unknown command '%s' (expected gen or replay)", command);
    if (allocator < 0)
        usage_error("replay needs --allocator");
    if (argc - optind != 1)
        usage_error("replay needs exactly one trace file");

    struct trace t;
    struct replay_result r, total = {0};
    const struct allocator *a = &allocators[allocator];
    trace_load(argv[optind], &t);
    for (uint64_t i = 0; i < repeat; i++) {
        replay(a, &t, measure_space, &r);
        total.elapsed_ns += r.elapsed_ns;
        if (r.peak_live_bytes > total.peak_live_bytes)
            total.peak_live_bytes = r.peak_live_bytes;
        if (r.peak_mapped_bytes > total.peak_mapped_bytes)
            total.peak_mapped_bytes = r.peak_mapped_bytes;
    }
    r = total;
    fact_word("allocator", a->name);
    fact_word("measure", measure_space ? "space" : "time");
    fact_uint("calls", t.count * repeat);
    fact_uint("elapsed_ns", r.elapsed_ns);
    fact_uint("ops_per_sec",
              r.elapsed_ns ? t.count * repeat * UINT64_C(1000000000) / r.elapsed_ns : 0);
    fact_uint("peak_live_bytes", r.peak_live_bytes);
    fact_uint("peak_rss_kib", peak_rss_kib());
    if (measure_space) {
        fact_uint("peak_mapped_bytes", r.peak_mapped_bytes);
        fact_uint("utilisation_pct",
                  r.peak_mapped_bytes ? r.peak_live_bytes * 100 / r.peak_mapped_bytes : 0);
    }
    facts_end();
    free(t.calls);
    return 0;
}
