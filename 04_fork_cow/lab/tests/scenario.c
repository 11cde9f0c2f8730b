/*
 * scenario.c - lab 04's scenarios: a parent writes (and maybe reads) some
 * pages of private anonymous memory, may mark ranges MADV_DONTFORK and
 * MADV_WIPEONFORK, forks; then the child and the parent write and read
 * pages, and the child may exit.  After each step, what each process's
 * /proc/self/pagemap says of every page, and what a read read.
 *
 * The child is a real process that does one step when the parent tells
 * it to (a command down a pipe) and answers with what its own pagemap
 * says (a pipe too); the parent reads its own pagemap once the child has
 * answered, so the two views are of the same moment.  Every answer is the
 * same on any Linux of 5.3 or later: the pages opt out of huge pages, the
 * first step after the mapping writes a page (so every piece of the
 * mapping has its anonymous memory set up before madvise splits it, and
 * fork copies the entries of pages only read, the zero page's), and a
 * MADV_DONTFORK range lies between pages the child keeps, too narrow for
 * anything the child maps later to land there.
 */
#include "cow.h"
#include "cow_lab.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "fault.h"
#include "memory.h"
#include "procfs.h"
#include "rng.h"
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { FACT_PARENT, FACT_CHILD, FACT_SEES, FACTS };
enum { LEVEL_FORK, LEVEL_ZERO, LEVEL_KNOBS };
enum { ANSWER_MS = 10000 }; /* the child answers at once; this is hang detection */

static const struct scn_fact facts[FACTS] = {
    {"parent_pages", "the parent's pages: . no page, s shared, o its own, - not mapped"},
    {"child_pages", "the child's pages, the same way (from the fork until it exits)"},
    {"sees", "what a read read: 'x', 0 for a page never written, or SIGSEGV"},
};
static const char *const levels[] = {"fork", "zero", "knobs", NULL};

static struct {
    unsigned pages;
    unsigned count;
    struct cow_step steps[COW_MAX_STEPS];
} current;

/* ---------------------------------------------------------- generating */

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

static unsigned below(uint64_t *rng, unsigned n)
{
    return (unsigned)(rng_next(rng) % n);
}

static void add_step(enum cow_who who, enum cow_op op, unsigned first, unsigned count, char letter)
{
    current.steps[current.count++] = (struct cow_step){who, op, first, count, letter};
}

/* A run of up to max pages from a random start that the child may write
 * (not MADV_DONTFORK) when child is set. */
static bool pick_range(uint64_t *rng, const struct page_model m[], bool child, unsigned max,
                       unsigned *first, unsigned *count)
{
    unsigned start = below(rng, current.pages), want = 1 + below(rng, max), n = 0;

    while (n < want && start + n < current.pages && !(child && m[start + n].dontfork))
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

    pick_range(rng, m, false, current.pages, &first, &count);
    add_step(COW_PARENT, COW_WRITE, first, count, (*letter)++);
    for (unsigned i = first; i < first + count; i++)
        m[i].written_before_fork = m[i].parent_has = true;
    for (unsigned extra = below(rng, 3); extra > 0; extra--) {
        if (level >= LEVEL_ZERO && below(rng, 2)) {
            unsigned p = below(rng, current.pages);
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
        unsigned a = 1 + below(rng, current.pages - 4), a_len = 1 + below(rng, 2);
        unsigned b = a + a_len + below(rng, current.pages - a - a_len - 1);
        enum cow_op first_knob = below(rng, 2) ? COW_DONTFORK : COW_WIPEONFORK;
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
    for (unsigned i = 0; i < current.pages; i++)
        m[i].child_has = m[i].parent_has && !m[i].dontfork && !m[i].wipeonfork;
    add_step(COW_PARENT, COW_FORK, 0, 0, 0);
}

/* One step after the fork, as the seed says. */
static void plan_after_fork(uint64_t *rng, unsigned level, struct page_model m[], char *letter,
                            struct features *f)
{
    bool child = !f->exited && below(rng, 2);
    unsigned roll = below(rng, 8), first, count;

    if (level >= LEVEL_ZERO && !f->exited && roll == 0 && current.count > 3) {
        add_step(COW_CHILD, COW_EXIT, 0, 0, 0);
        f->exited = true;
    } else if (level >= LEVEL_ZERO && roll < 4) {
        unsigned p = below(rng, current.pages);
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

    current.pages = (level == LEVEL_KNOBS ? 6 : 4) + below(rng, 5);
    current.count = 0;
    memset(m, 0, sizeof m);
    add_step(COW_PARENT, COW_MMAP, 0, current.pages, 0);
    plan_before_fork(rng, level, m, &letter, &f);
    for (unsigned after = 3 + below(rng, 4); after > 0 && current.count < COW_MAX_STEPS; after--)
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

static void generate(uint64_t seed, unsigned level, struct scn_script *script)
{
    uint64_t rng = seed * 4 + level;
    bool child_alive = false;

    for (unsigned tries = 0; !try_scenario(&rng, level); tries++)
        if (tries == 100000)
            die("no scenario of seed %llu shows level %s (a bug in the generator)",
                (unsigned long long)seed, levels[level]);
    snprintf(script->title, sizeof script->title,
             "%u pages of private anonymous memory (MADV_NOHUGEPAGE), then fork()", current.pages);
    for (unsigned i = 0; i < current.count; i++) {
        const struct cow_step *s = &current.steps[i];
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

/* ------------------------------------------------------------ running */

/* What the parent tells the child, and what the child answers. */
struct command {
    char op; /* 'w' write, 'r' read, 's' say what you see, 'q' quit */
    unsigned first, count;
    char letter;
};

struct answer {
    char pages[COW_MAX_PAGES + 1];
    int sees;
};

struct cow_run {
    char *base;
    pid_t child;
    uint64_t started_ns;
    int command[2], answer[2];
};

static int sees_of(struct lab_access a)
{
    return a.fault != LAB_NO_FAULT ? SEES_SIGSEGV : a.value;
}

static int serve_in_child(void *arg)
{
    struct cow_run *run = arg;
    struct command c;

    close(run->command[1]);
    close(run->answer[0]);
    while (read(run->command[0], &c, sizeof c) == (ssize_t)sizeof c && c.op != 'q') {
        struct answer a = {.sees = 0};
        if (c.op == 'w')
            store_each_page(run->base + c.first * page_size(), c.count, c.letter);
        else if (c.op == 'r')
            a.sees = sees_of(lab_load(run->base + c.first * page_size()));
        page_states(run->base, current.pages, a.pages);
        if (write(run->answer[1], &a, sizeof a) != (ssize_t)sizeof a)
            return 1;
    }
    return 0;
}

static void start_child(struct cow_run *run)
{
    if (pipe2(run->command, O_CLOEXEC) != 0 || pipe2(run->answer, O_CLOEXEC) != 0)
        die_errno("pipe2");
    run->started_ns = now_ns();
    run->child = child_start(serve_in_child, run);
    close(run->command[0]);
    close(run->answer[1]);
}

/* Reap the child (killed first when kill_it), and close its pipes. */
static void end_child(struct cow_run *run, bool kill_it)
{
    if (run->child <= 0)
        return;
    if (kill_it)
        kill(-run->child, SIGKILL);
    struct child_result r = child_wait(run->child, run->started_ns, ANSWER_MS);
    close(run->command[1]);
    close(run->answer[0]);
    run->child = 0;
    if (!kill_it && !child_ok(&r)) {
        char how[64];
        die("the scenario's child ended badly: %s", child_describe(&r, how));
    }
}

static struct answer ask_child(struct cow_run *run, char op, const struct cow_step *s)
{
    struct command c = {op, s ? s->first : 0, s ? s->count : 0, s ? s->letter : 0};
    struct pollfd ready = {.fd = run->answer[0], .events = POLLIN};
    struct answer a;
    int n;

    if (write(run->command[1], &c, sizeof c) != (ssize_t)sizeof c)
        die_errno("write to the scenario's child");
    while ((n = poll(&ready, 1, ANSWER_MS)) < 0 && errno == EINTR)
        ;
    if (n <= 0 || read(run->answer[0], &a, sizeof a) != (ssize_t)sizeof a) {
        end_child(run, true);
        die("the scenario's child did not answer");
    }
    return a;
}

static void format_sees(char *buf, size_t cap, int sees)
{
    if (sees == SEES_SIGSEGV)
        snprintf(buf, cap, "SIGSEGV");
    else if (sees > ' ' && sees < 127)
        snprintf(buf, cap, "'%c'", sees);
    else
        snprintf(buf, cap, "%d", sees);
}

/* Do one step of the parent's (the child's are done by ask_child). */
static void parent_step(struct cow_run *run, const struct cow_step *s, int *sees)
{
    char *at = run->base + s->first * page_size();

    switch (s->op) {
    case COW_MMAP:
        run->base = map_anonymous(s->count * page_size(), MAP_PRIVATE);
        advise(run->base, s->count * page_size(), MADV_NOHUGEPAGE);
        break;
    case COW_WRITE: store_each_page(at, s->count, s->letter); break;
    case COW_READ: *sees = sees_of(lab_load(at)); break;
    case COW_DONTFORK: advise(at, s->count * page_size(), MADV_DONTFORK); break;
    case COW_WIPEONFORK: advise(at, s->count * page_size(), MADV_WIPEONFORK); break;
    case COW_FORK: start_child(run); break;
    case COW_EXIT: break; /* the child's step */
    }
}

static void measure(const struct scn_script *script, struct scn_answers *answers)
{
    struct cow_run run = {.child = 0};
    char text[SCN_VALUE_MAX];

    for (unsigned i = 0; i < current.count; i++) {
        const struct cow_step *s = &current.steps[i];
        struct answer child = {.sees = 0};
        int sees = 0;
        scn_where("%s, step %u (%s), running it for real", script->title, i + 1, script->step[i]);
        if (s->who == COW_CHILD && s->op == COW_EXIT) {
            struct command quit = {'q', 0, 0, 0};
            if (write(run.command[1], &quit, sizeof quit) != (ssize_t)sizeof quit)
                die_errno("write to the scenario's child");
            end_child(&run, false);
        } else if (s->who == COW_CHILD) {
            child = ask_child(&run, s->op == COW_WRITE ? 'w' : 'r', s);
            sees = child.sees;
        } else {
            parent_step(&run, s, &sees);
            if (run.child > 0)
                child = ask_child(&run, 's', NULL);
        }
        char parent[COW_MAX_PAGES + 1];
        page_states(run.base, current.pages, parent);
        scn_answer(script, answers, i, FACT_PARENT, "%s", parent);
        scn_answer(script, answers, i, FACT_CHILD, "%s", child.pages);
        format_sees(text, sizeof text, sees);
        scn_answer(script, answers, i, FACT_SEES, "%s", text);
    }
    end_child(&run, true);
    unmap(run.base, current.pages * page_size());
}

/* ---------------------------------------------------------- predicting */

static bool predict(const struct scn_script *script, struct scn_answers *answers)
{
    struct cow_facts predicted[COW_MAX_STEPS];
    char text[SCN_VALUE_MAX];

    memset(predicted, 0, sizeof predicted);
    if (predict_cow(current.steps, current.count, predicted) != 0)
        return false;
    for (unsigned i = 0; i < current.count; i++) {
        predicted[i].parent[COW_MAX_PAGES] = predicted[i].child[COW_MAX_PAGES] = '\0';
        scn_answer(script, answers, i, FACT_PARENT, "%s", predicted[i].parent);
        scn_answer(script, answers, i, FACT_CHILD, "%s", predicted[i].child);
        format_sees(text, sizeof text, predicted[i].sees);
        scn_answer(script, answers, i, FACT_SEES, "%s", text);
    }
    return true;
}

const struct scn_lab lab_scenarios = {
    .predictor = "predict_cow",
    .facts = facts,
    .fact_count = FACTS,
    .levels = levels,
    .generate = generate,
    .unavailable = NULL,
    .measure = measure,
    .predict = predict,
};
