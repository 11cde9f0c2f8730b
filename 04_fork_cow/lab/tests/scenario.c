/*
 * scenario.c - lab 04's scenarios run for real and predicted (generate.c
 * makes them): after each step, what each process's /proc/self/pagemap
 * says of every page, and what a read read.
 *
 * The child is a real process that does one step when the parent tells
 * it to (a command down a pipe) and answers with what its own pagemap
 * says (a pipe too); the parent reads its own pagemap once the child has
 * answered, so the two views are of the same moment.
 */
#include "cow.h"
#include "cow_lab.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "fault.h"
#include "memory.h"
#include "procfs.h"
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { ANSWER_MS = 10000 }; /* the child answers at once; this is hang detection */

static const struct scn_fact facts[FACTS] = {
    {"parent_pages", "the parent's pages: . no page, s shared, o its own, - not mapped"},
    {"child_pages", "the child's pages, the same way (from the fork until it exits)"},
    {"sees", "what a read read: 'x', 0 for a page never written, or SIGSEGV"},
};
static const char *const levels[] = {"fork", "zero", "knobs", NULL};

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
        page_states(run->base, scenario_now.pages, a.pages);
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

    for (unsigned i = 0; i < scenario_now.count; i++) {
        const struct cow_step *s = &scenario_now.steps[i];
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
        page_states(run.base, scenario_now.pages, parent);
        scn_answer(script, answers, i, FACT_PARENT, "%s", parent);
        scn_answer(script, answers, i, FACT_CHILD, "%s", child.pages);
        format_sees(text, sizeof text, sees);
        scn_answer(script, answers, i, FACT_SEES, "%s", text);
    }
    end_child(&run, true);
    unmap(run.base, scenario_now.pages * page_size());
}

/* ---------------------------------------------------------- predicting */

static bool predict(const struct scn_script *script, struct scn_answers *answers)
{
    struct cow_facts predicted[COW_MAX_STEPS];
    char text[SCN_VALUE_MAX];

    memset(predicted, 0, sizeof predicted);
    if (predict_cow(scenario_now.steps, scenario_now.count, predicted) != 0)
        return false;
    for (unsigned i = 0; i < scenario_now.count; i++) {
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
    .generate = generate_scenario,
    .unavailable = NULL,
    .measure = measure,
    .predict = predict,
};
