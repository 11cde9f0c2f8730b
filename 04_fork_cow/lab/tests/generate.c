/*
 * generate.c - lab 04's scenarios, made from a seed: a parent writes (and
 * maybe reads) some pages of private anonymous memory, may mark ranges
 * MADV_DONTFORK and MADV_WIPEONFORK, forks; then the child and the parent
 * write and read pages, and the child may exit.
 *
 * Every answer is the same on any Linux of 5.3 or later: the pages opt out
 * of huge pages, the first step after the mapping writes a page (so every
 * piece of the mapping has its anonymous memory set up before madvise
 * splits it, and fork copies the entries of pages only read, the zero
 * page's), and a MADV_DONTFORK range lies between pages the child keeps,
 * too narrow for anything the child maps later to land there.
 */
#include "cow.h"
#include "cow_lab.h"

#include "cli.h"
#include "rng.h"
#include "scenario.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct cow_scenario scenario_now;

/* What the generator knows of a page: enough to keep steps legal and to
 * see that a scenario shows what its level is about. */
struct page_model {
    bool parent_has, child_has; /* a page (or the zero page) behind it */
    bool written_before_fork;
    bool parent_rewrote, child_wrote; /* after the fork */
    bool dontfork, wipeonfork;
};

struct features {
    bool child_copies;  /* the child writes a page it shares with the parent */
    bool parent_writes; /* the parent writes after the fork */
    bool zero_read;     /* a read of a page without a page: the zero page */
    bool exited;
    bool knob_read; /* the child reads a MADV_DONTFORK or MADV_WIPEONFORK page */
};

static void add_step(enum cow_who who, enum cow_op op, unsigned first, unsigned count, char letter)
{
    scenario_now.steps[scenario_now.count++] = (struct cow_step){who, op, first, count, letter};
}

/* A run of up to max pages from a random start that the child may write
 * (not MADV_DONTFORK) when child is set. */
static bool pick_range(uint64_t *rng, const struct page_model m[], bool child, unsigned max,
                       unsigned *first, unsigned *count)
{
    unsigned start = rng_below(rng, scenario_now.pages), want = 1 + rng_below(rng, max), n = 0;

    while (n < want && start + n < scenario_now.pages && !(child && m[start + n].dontfork))
        n++;
    *first = start;
    *count = n;
    return n > 0;
}

/* Before the fork: the first write, more writes and reads, the knobs. */
static void plan_before_fork(uint64_t *rng, unsigned level, struct page_model m[], char *letter,
                             struct features *f)
{
    unsigned first, count;

    pick_range(rng, m, false, scenario_now.pages, &first, &count);
    add_step(COW_PARENT, COW_WRITE, first, count, (*letter)++);
    for (unsigned i = first; i < first + count; i++)
        m[i].written_before_fork = m[i].parent_has = true;
    for (unsigned extra = rng_below(rng, 3); extra > 0; extra--) {
        if (level >= LEVEL_ZERO && rng_below(rng, 2)) {
            unsigned p = rng_below(rng, scenario_now.pages);
            f->zero_read |= !m[p].parent_has;
            m[p].parent_has = true;
            add_step(COW_PARENT, COW_READ, p, 1, 0);
        } else if (pick_range(rng, m, false, 3, &first, &count)) {
            add_step(COW_PARENT, COW_WRITE, first, count, (*letter)++);
            for (unsigned i = first; i < first + count; i++)
                m[i].written_before_fork = m[i].parent_has = true;
        }
    }
    if (level == LEVEL_KNOBS) {
        /* two disjoint ranges inside the mapping, of one or two pages */
        unsigned a = 1 + rng_below(rng, scenario_now.pages - 4), a_len = 1 + rng_below(rng, 2);
        unsigned b = a + a_len + rng_below(rng, scenario_now.pages - a - a_len - 1);
        enum cow_op first_knob = rng_below(rng, 2) ? COW_DONTFORK : COW_WIPEONFORK;
        enum cow_op second_knob = first_knob == COW_DONTFORK ? COW_WIPEONFORK : COW_DONTFORK;
        add_step(COW_PARENT, first_knob, a, a_len, 0);
        add_step(COW_PARENT, second_knob, b, 1, 0);
        for (unsigned i = a; i <= b; i++) {
            bool in_first = i < a + a_len, in_second = i == b;
            m[i].dontfork = (in_first && first_knob == COW_DONTFORK) ||
                            (in_second && second_knob == COW_DONTFORK);
            m[i].wipeonfork = (in_first && first_knob == COW_WIPEONFORK) ||
                              (in_second && second_knob == COW_WIPEONFORK);
        }
    }
    for (unsigned i = 0; i < scenario_now.pages; i++)
        m[i].child_has = m[i].parent_has && !m[i].dontfork && !m[i].wipeonfork;
    add_step(COW_PARENT, COW_FORK, 0, 0, 0);
}

/* One step after the fork, as the seed says. */
static void plan_after_fork(uint64_t *rng, unsigned level, struct page_model m[], char *letter,
                            struct features *f)
{
    bool child = !f->exited && rng_below(rng, 2);
    unsigned roll = rng_below(rng, 8), first, count;

    if (level >= LEVEL_ZERO && !f->exited && roll == 0 && scenario_now.count > 3) {
        add_step(COW_CHILD, COW_EXIT, 0, 0, 0);
        f->exited = true;
    } else if (level >= LEVEL_ZERO && roll < 4) {
        unsigned p = rng_below(rng, scenario_now.pages);
        bool *has = child ? &m[p].child_has : &m[p].parent_has;
        f->zero_read |= !*has && !(child && m[p].dontfork);
        f->knob_read |= child && (m[p].dontfork || m[p].wipeonfork);
        if (!(child && m[p].dontfork))
            *has = true;
        add_step(child ? COW_CHILD : COW_PARENT, COW_READ, p, 1, 0);
    } else if (pick_range(rng, m, child, 3, &first, &count)) {
        for (unsigned i = first; i < first + count; i++) {
            if (child) {
                f->child_copies |= m[i].written_before_fork && !m[i].child_wrote &&
                                   !m[i].parent_rewrote && !m[i].wipeonfork;
                m[i].child_wrote = m[i].child_has = true;
            } else {
                f->parent_writes = true;
                m[i].parent_rewrote = m[i].parent_has = true;
            }
        }
        add_step(child ? COW_CHILD : COW_PARENT, COW_WRITE, first, count, (*letter)++);
    }
}

static bool shows_its_level(const struct features *f, unsigned level)
{
    switch (level) {
    case LEVEL_FORK: return f->child_copies && f->parent_writes;
    case LEVEL_ZERO: return f->child_copies && f->zero_read && f->exited;
    default: return f->knob_read;
    }
}

static bool try_scenario(uint64_t *rng, unsigned level)
{
    struct page_model m[COW_MAX_PAGES];
    struct features f = {.child_copies = false};
    char letter = 'a';

    scenario_now.pages = (level == LEVEL_KNOBS ? 6 : 4) + rng_below(rng, 5);
    scenario_now.count = 0;
    memset(m, 0, sizeof m);
    add_step(COW_PARENT, COW_MMAP, 0, scenario_now.pages, 0);
    plan_before_fork(rng, level, m, &letter, &f);
    for (unsigned after = 3 + rng_below(rng, 4); after > 0 && scenario_now.count < COW_MAX_STEPS;
         after--)
        plan_after_fork(rng, level, m, &letter, &f);
    return shows_its_level(&f, level);
}

static void describe_step(const struct cow_step *s, char *buf, size_t cap)
{
    const char *who = s->who == COW_PARENT ? "parent" : "child";
    char range[32];

    if (s->count == 1)
        snprintf(range, sizeof range, "page %u", s->first);
    else
        snprintf(range, sizeof range, "pages %u-%u", s->first, s->first + s->count - 1);
    switch (s->op) {
    case COW_MMAP: snprintf(buf, cap, "parent: mmap %u pages", s->count); break;
    case COW_WRITE: snprintf(buf, cap, "%s: write '%c' into %s", who, s->letter, range); break;
    case COW_READ: snprintf(buf, cap, "%s: read %s", who, range); break;
    case COW_DONTFORK: snprintf(buf, cap, "parent: MADV_DONTFORK %s", range); break;
    case COW_WIPEONFORK: snprintf(buf, cap, "parent: MADV_WIPEONFORK %s", range); break;
    case COW_FORK: snprintf(buf, cap, "parent: fork()"); break;
    case COW_EXIT: snprintf(buf, cap, "child: exit; the parent reaps it"); break;
    }
}

void generate_scenario(uint64_t seed, unsigned level, struct scn_script *script)
{
    bool child_alive = false;

    scn_draw_scenario(seed, level, try_scenario);
    snprintf(script->title, sizeof script->title,
             "%u pages of private anonymous memory (MADV_NOHUGEPAGE), then fork()",
             scenario_now.pages);
    for (unsigned i = 0; i < scenario_now.count; i++) {
        const struct cow_step *s = &scenario_now.steps[i];
        char text[SCN_TEXT_MAX];
        describe_step(s, text, sizeof text);
        unsigned step = scn_add_step(script, "%s", text);
        if (s->op == COW_FORK || s->op == COW_EXIT)
            child_alive = s->op == COW_FORK;
        scn_ask(script, step, FACT_PARENT);
        if (child_alive)
            scn_ask(script, step, FACT_CHILD);
        if (s->op == COW_READ)
            scn_ask(script, step, FACT_SEES);
    }
}
