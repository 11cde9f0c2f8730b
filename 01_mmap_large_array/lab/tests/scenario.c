/*
 * scenario.c - lab 01's scenarios: a private anonymous mapping of 8 to 24
 * pages, then writes, reads, MADV_DONTNEED, mprotect and munmap on ranges
 * of it, as the level allows; after each step, what mincore(), the
 * mapping's Rss and getrusage() say.
 *
 * Every answer is exact on any Linux with 4 KiB pages: the mapping opts
 * out of huge pages (MADV_NOHUGEPAGE), sits between two PROT_NONE guard
 * pages (so that no neighbour merges into its smaps lines), and a step's
 * faults are this thread's (RUSAGE_THREAD) during the step alone, taken by
 * code that was run once before (its own pages are resident) and that no
 * sanitizer instruments.  A step never writes a page after an mprotect:
 * whether that write faults again after PROT_READ | PROT_WRITE is restored
 * depends on the kernel's version, so it is never asked.
 */
#include "anon.h"
#include "anon_lab.h"

#include "cli.h"
#include "procfs.h"
#include "rng.h"
#include "scenario.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

enum { FACT_RESIDENT, FACT_RSS, FACT_FAULTS, FACTS };
enum { LEVEL_WRITE, LEVEL_READ, LEVEL_DONTNEED, LEVEL_ALL };

static const struct scn_fact facts[FACTS] = {
    {"resident_pages", "pages of the mapping that mincore() reports resident"},
    {"rss_pages", "pages counted in the mapping's Rss (/proc/self/smaps)"},
    {"minor_faults", "minor page faults the step took (getrusage)"},
};
static const char *const levels[] = {"write", "read", "dontneed", "all", NULL};

/* A scenario: the mapping's size and the steps. */
struct anon_scenario {
    unsigned pages;
    unsigned count;
    struct anon_step steps[ANON_MAX_STEPS];
};
static struct anon_scenario current;

/* ---------------------------------------------------------- generating */

/* What the generator knows of each page: enough to keep every step legal
 * and to see that a scenario shows what its level is about. */
enum backing { UNTOUCHED, READ_ONLY_ZERO, WRITTEN };
struct page_model {
    bool mapped;
    int prot;
    enum backing backing;
};

/* What a level's scenarios must show at least once. */
struct features {
    bool rewrite;                 /* a write to a page already written (no fault) */
    bool zero_then_write;         /* a read of an untouched page, then a write to it */
    bool drop_then_touch;         /* MADV_DONTNEED of a written page, then an access to it */
    bool dropped[ANON_MAX_PAGES]; /* written pages MADV_DONTNEED emptied */
    bool protect, unmap;
};

static bool allows(enum anon_op op, const struct page_model *p)
{
    if (!p->mapped)
        return false;
    if (op == ANON_WRITE)
        return p->prot == (PROT_READ | PROT_WRITE);
    if (op == ANON_READ)
        return p->prot & PROT_READ;
    return true;
}

/* A random run of pages that all allow op, of at most max pages; false if
 * there is none.  A munmap range stays inside the mapping's ends. */
static bool pick_range(uint64_t *rng, const struct page_model model[], unsigned pages,
                       enum anon_op op, unsigned max, struct anon_step *step)
{
    unsigned lo = op == ANON_MUNMAP ? 1 : 0, hi = op == ANON_MUNMAP ? pages - 1 : pages;
    unsigned start = lo + rng_below(rng, hi - lo), want = 1 + rng_below(rng, max);

    for (unsigned tries = 0; tries < hi - lo; tries++, start = start + 1 < hi ? start + 1 : lo) {
        if (!allows(op, &model[start]))
            continue;
        unsigned n = 1;
        while (n < want && start + n < hi && allows(op, &model[start + n]))
            n++;
        *step = (struct anon_step){.op = op, .first = start, .count = n};
        return true;
    }
    return false;
}

static enum anon_op pick_op(uint64_t *rng, unsigned level, bool unmapped_once)
{
    static const enum anon_op by_level[][8] = {
        [LEVEL_WRITE] = {ANON_WRITE, ANON_WRITE},
        [LEVEL_READ] = {ANON_WRITE, ANON_READ, ANON_READ},
        [LEVEL_DONTNEED] = {ANON_WRITE, ANON_WRITE, ANON_READ, ANON_DONTNEED},
        [LEVEL_ALL] = {ANON_WRITE, ANON_WRITE, ANON_READ, ANON_DONTNEED, ANON_PROTECT, ANON_MUNMAP},
    };
    static const unsigned choices[] = {2, 3, 4, 6};
    enum anon_op op = by_level[level][rng_below(rng, choices[level])];

    return op == ANON_MUNMAP && unmapped_once ? ANON_WRITE : op;
}

/* The generator's model of one step: legal by construction; notes what
 * the step shows. */
static void apply(struct page_model model[], const struct anon_step *s, struct features *f)
{
    for (unsigned i = s->first; i < s->first + s->count; i++) {
        struct page_model *p = &model[i];
        switch (s->op) {
        case ANON_MMAP: break;
        case ANON_WRITE:
            f->rewrite |= p->backing == WRITTEN;
            f->zero_then_write |= p->backing == READ_ONLY_ZERO;
            f->drop_then_touch |= f->dropped[i];
            p->backing = WRITTEN;
            break;
        case ANON_READ:
            f->drop_then_touch |= f->dropped[i];
            if (p->backing == UNTOUCHED)
                p->backing = READ_ONLY_ZERO;
            break;
        case ANON_DONTNEED:
            f->dropped[i] |= p->backing == WRITTEN;
            p->backing = UNTOUCHED;
            break;
        case ANON_PROTECT:
            p->prot = s->prot;
            f->protect = true;
            break;
        case ANON_MUNMAP:
            p->mapped = false;
            f->unmap = true;
            break;
        }
    }
}

static bool shows_its_level(const struct features *f, unsigned level)
{
    switch (level) {
    case LEVEL_WRITE: return f->rewrite;
    case LEVEL_READ: return f->zero_then_write;
    case LEVEL_DONTNEED: return f->zero_then_write && f->drop_then_touch;
    default: return f->drop_then_touch && f->protect && f->unmap;
    }
}

/* One attempt at a scenario from rng's state; true if it shows what its
 * level is about. */
static bool try_scenario(uint64_t *rng, unsigned level)
{
    struct page_model model[ANON_MAX_PAGES];
    struct features f = {.rewrite = false};
    unsigned steps = 5 + level + rng_below(rng, 3);

    current.pages = 8 + rng_below(rng, 17);
    current.count = 0;
    current.steps[current.count++] = (struct anon_step){ANON_MMAP, 0, current.pages, 0};
    for (unsigned i = 0; i < current.pages; i++)
        model[i] = (struct page_model){true, PROT_READ | PROT_WRITE, UNTOUCHED};
    for (unsigned attempts = 0; current.count < steps; attempts++) {
        enum anon_op op = pick_op(rng, level, f.unmap);
        struct anon_step s;
        if (attempts == 100)
            return false; /* nothing left to do legally: start again */
        if (!pick_range(rng, model, current.pages, op, current.pages / 2, &s))
            continue;
        if (op == ANON_PROTECT)
            s.prot = rng_below(rng, 2) ? PROT_READ : PROT_NONE;
        apply(model, &s, &f);
        current.steps[current.count++] = s;
    }
    return shows_its_level(&f, level);
}

static void describe_step(const struct anon_step *s, char *buf, size_t cap)
{
    static const char *const verbs[] = {
        [ANON_MMAP] = "mmap",        [ANON_WRITE] = "write",
        [ANON_READ] = "read",        [ANON_DONTNEED] = "MADV_DONTNEED",
        [ANON_PROTECT] = "mprotect", [ANON_MUNMAP] = "munmap",
    };
    char range[32];

    if (s->count == 1)
        snprintf(range, sizeof range, "page %u", s->first);
    else
        snprintf(range, sizeof range, "pages %u-%u", s->first, s->first + s->count - 1);
    if (s->op == ANON_MMAP)
        snprintf(buf, cap, "mmap %u pages", s->count);
    else if (s->op == ANON_PROTECT)
        snprintf(buf, cap, "mprotect %s %s", s->prot == PROT_READ ? "PROT_READ" : "PROT_NONE",
                 range);
    else
        snprintf(buf, cap, "%s %s", verbs[s->op], range);
}

static void generate(uint64_t seed, unsigned level, struct scn_script *script)
{
    scn_draw_scenario(seed, level, try_scenario);
    snprintf(script->title, sizeof script->title,
             "%u pages of private anonymous memory (MADV_NOHUGEPAGE)", current.pages);
    for (unsigned i = 0; i < current.count; i++) {
        char text[SCN_TEXT_MAX];
        describe_step(&current.steps[i], text, sizeof text);
        unsigned step = scn_add_step(script, "%s", text);
        for (unsigned f = 0; f < FACTS; f++)
            scn_ask(script, step, f);
    }
}

/* ------------------------------------------------------------ running */

/* Do one step for real on the mapping at base. */
static void run_step(char *base, const struct anon_step *s)
{
    char *at = base + s->first * page_size();
    size_t bytes = s->count * page_size();

    switch (s->op) {
    case ANON_MMAP:
        raw_map(at, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        raw_advise(at, bytes, MADV_NOHUGEPAGE);
        break;
    case ANON_WRITE: store_each_page(at, s->count); break;
    case ANON_READ: load_each_page(at, s->count); break;
    case ANON_DONTNEED: raw_advise(at, bytes, MADV_DONTNEED); break;
    case ANON_PROTECT: raw_protect(at, bytes, s->prot); break;
    case ANON_MUNMAP: raw_unmap(at, bytes); break;
    }
}

/* mincore over the pages still mapped, run by run. */
static long resident_mapped(const char *base, const bool mapped[], unsigned pages)
{
    long resident = 0;

    for (unsigned i = 0; i < pages;) {
        unsigned run = 0;
        while (i + run < pages && mapped[i + run])
            run++;
        if (run > 0)
            resident += resident_in(base + i * page_size(), run);
        i += run > 0 ? run : 1;
    }
    return resident;
}

static void run_scenario(const struct scn_script *script, struct scn_answers *answers)
{
    size_t guarded = (current.pages + 2) * page_size();
    char *region = raw_map(NULL, guarded, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    char *base = region + page_size();
    bool mapped[ANON_MAX_PAGES];

    for (unsigned i = 0; i < current.count; i++) {
        const struct anon_step *s = &current.steps[i];
        if (answers != NULL)
            scn_where("%s, step %u (%s), running it for real", script->title, i + 1,
                      script->step[i]);
        long faults = thread_minor_faults();
        run_step(base, s);
        faults = thread_minor_faults() - faults;
        for (unsigned p = s->first; p < s->first + s->count; p++)
            mapped[p] = s->op != ANON_MUNMAP;
        if (answers == NULL)
            continue;
        scn_answer_long(script, answers, i, FACT_RESIDENT,
                        resident_mapped(base, mapped, current.pages));
        scn_answer_long(script, answers, i, FACT_RSS, rss_pages_in(base, current.pages));
        scn_answer_long(script, answers, i, FACT_FAULTS, faults);
    }
    raw_unmap(region, guarded);
}

/* Use the stack to a depth no step reaches, so that a step never faults a
 * stack page in. */
static void use_stack(void)
{
    volatile char reserve[64 * 1024];

    for (size_t i = 0; i < sizeof reserve; i += 512)
        reserve[i] = 1;
}

static void measure(const struct scn_script *script, struct scn_answers *answers)
{
    static bool warm;

    if (!warm) {
        /* One run of every kind of step on a scratch scenario first: the
         * code of each step and of each measurement is resident after. */
        static const struct anon_step all_kinds[] = {
            {ANON_MMAP, 0, 4, 0},     {ANON_WRITE, 0, 2, 0},           {ANON_READ, 1, 3, 0},
            {ANON_DONTNEED, 0, 1, 0}, {ANON_PROTECT, 1, 1, PROT_READ}, {ANON_MUNMAP, 2, 1, 0},
        };
        struct anon_scenario saved = current;
        memcpy(current.steps, all_kinds, sizeof all_kinds);
        current.pages = 4;
        current.count = sizeof all_kinds / sizeof all_kinds[0];
        for (int round = 0; round < 2; round++) {
            struct scn_script scratch = {.steps = 0};
            static struct scn_answers ignored;
            run_scenario(&scratch, round ? &ignored : NULL);
        }
        current = saved;
        use_stack();
        warm = true;
    }
    run_scenario(script, answers);
}

/* ---------------------------------------------------------- predicting */

static bool predict(const struct scn_script *script, struct scn_answers *answers)
{
    struct anon_facts predicted[ANON_MAX_STEPS];

    for (unsigned i = 0; i < ANON_MAX_STEPS; i++)
        predicted[i] = (struct anon_facts){-1, -1, -1};
    if (predict_anon(current.steps, current.count, predicted) != 0)
        return false;
    for (unsigned i = 0; i < current.count; i++) {
        scn_answer_long(script, answers, i, FACT_RESIDENT, predicted[i].resident_pages);
        scn_answer_long(script, answers, i, FACT_RSS, predicted[i].rss_pages);
        scn_answer_long(script, answers, i, FACT_FAULTS, predicted[i].minor_faults);
    }
    return true;
}

const struct scn_lab lab_scenarios = {
    .predictor = "predict_anon",
    .facts = facts,
    .fact_count = FACTS,
    .levels = levels,
    .generate = generate,
    .unavailable = NULL,
    .measure = measure,
    .predict = predict,
};
