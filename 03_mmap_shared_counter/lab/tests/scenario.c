/*
 * scenario.c - lab 03's scenarios: a counter in a page mapped before fork,
 * two children that each add 1 a few times, one load, add or store at a
 * time, in an order the seed chooses; after each step, the stepping
 * child's register and what the children and the parent see.
 *
 * The order is forced, not hoped for: each child is a real process that
 * does one step when the parent's turnstile tells it to (a byte down a
 * pipe) and reports back (a pipe too), so a lost update is exact.  The
 * pipes also order each step's memory accesses before the parent's read
 * of the counter.  Every child is started with common/child.h (its own
 * process group, killed if the driver dies) and reaped against a deadline.
 */
#include "counter.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "procfs.h"
#include "rng.h"
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { FACT_REG, FACT_CHILD, FACT_PARENT, FACTS };
enum { LEVEL_RACY, LEVEL_ATOMIC, LEVEL_PRIVATE };
enum { ANSWER_MS = 10000 }; /* a child answers a step at once; this is hang detection */

static const struct scn_fact facts[FACTS] = {
    {"reg", "the stepping child's register (after a load, an add or an atomic add)"},
    {"child_sees", "the counter in the stepping child's own mapping (private pages)"},
    {"parent_sees", "the counter as the parent reads it in its mapping"},
};
static const char *const levels[] = {"racy", "atomic", "private", NULL};
static const char *const who_names[] = {"A", "B", "parent"};

static struct counter_scenario current;

/* ---------------------------------------------------------- generating */

/* One child's steps: increments adds, each a load/add/store or one atomic
 * add as the level allows. */
static unsigned plan_child(uint64_t *rng, unsigned level, unsigned increments,
                           enum counter_op ops[], unsigned *atomics)
{
    unsigned n = 0;

    for (unsigned i = 0; i < increments; i++) {
        if (level != LEVEL_RACY && rng_below(rng, 2)) {
            ops[n++] = COUNTER_ATOMIC_ADD;
            ++*atomics;
        } else {
            ops[n++] = COUNTER_LOAD;
            ops[n++] = COUNTER_ADD;
            ops[n++] = COUNTER_STORE;
        }
    }
    return n;
}

/* Interleave the two children's steps as the seed says, then the reaping.
 * Returns whether one child's update lands between the other's load and
 * store (a lost update, or an atomic add overwritten). */
static bool interleave(uint64_t *rng, enum counter_op ops[2][9], const unsigned n[2])
{
    unsigned next[2] = {0, 0};
    bool holding[2] = {false, false}, collided = false;

    current.count = 0;
    while (next[0] < n[0] || next[1] < n[1]) {
        unsigned who = next[0] == n[0] ? 1 : next[1] == n[1] ? 0 : rng_below(rng, 2);
        enum counter_op op = ops[who][next[who]++];
        if (op == COUNTER_LOAD)
            holding[who] = true;
        if (op == COUNTER_STORE)
            holding[who] = false;
        if ((op == COUNTER_STORE || op == COUNTER_ATOMIC_ADD) && holding[!who])
            collided = true;
        current.steps[current.count++] = (struct counter_step){(enum counter_who)who, op};
    }
    current.steps[current.count++] = (struct counter_step){PARENT, COUNTER_REAP};
    return collided;
}

static bool try_scenario(uint64_t *rng, unsigned level)
{
    enum counter_op ops[2][9];
    unsigned n[2], atomics = 0, increments = 0;

    current.initial = rng_below(rng, 6);
    current.shared = level != LEVEL_PRIVATE;
    for (unsigned who = 0; who < 2; who++) {
        unsigned k = 1 + rng_below(rng, 3);
        increments += k;
        n[who] = plan_child(rng, level, k, ops[who], &atomics);
    }
    bool collided = interleave(rng, ops, n);
    if (level == LEVEL_RACY)
        return collided;
    return atomics > 0 && atomics < increments && (collided || level == LEVEL_PRIVATE);
}

static void describe_step(const struct counter_step *s, char *buf, size_t cap)
{
    static const char *const what[] = {
        [COUNTER_LOAD] = "load the counter into its register",
        [COUNTER_ADD] = "add 1 to its register",
        [COUNTER_STORE] = "store its register into the counter",
        [COUNTER_ATOMIC_ADD] = "atomic add 1 to the counter",
        [COUNTER_REAP] = "both children exited: reap them",
    };

    snprintf(buf, cap, "%s: %s", who_names[s->who], what[s->op]);
}

static void generate(uint64_t seed, unsigned level, struct scn_script *script)
{
    unsigned adds[2] = {0, 0};

    scn_draw_scenario(seed, level, try_scenario);
    for (unsigned i = 0; i < current.count; i++)
        if (current.steps[i].op == COUNTER_STORE || current.steps[i].op == COUNTER_ATOMIC_ADD)
            adds[current.steps[i].who]++;
    static const char *const times[] = {"never", "once", "twice", "three times"};
    snprintf(script->title, sizeof script->title,
             "the counter is %u in a %s page; after fork(), A adds 1 %s, B %s", current.initial,
             current.shared ? "MAP_SHARED" : "MAP_PRIVATE", times[adds[0]], times[adds[1]]);
    for (unsigned i = 0; i < current.count; i++) {
        const struct counter_step *s = &current.steps[i];
        char text[SCN_TEXT_MAX];
        describe_step(s, text, sizeof text);
        unsigned step = scn_add_step(script, "%s", text);
        if (s->op == COUNTER_LOAD || s->op == COUNTER_ADD || s->op == COUNTER_ATOMIC_ADD)
            scn_ask(script, step, FACT_REG);
        if (!current.shared && s->who != PARENT)
            scn_ask(script, step, FACT_CHILD);
        scn_ask(script, step, FACT_PARENT);
    }
}

/* ------------------------------------------------------------ running */

/* The page the counter is in. */
struct counter_page {
    _Atomic unsigned value;
};

/* A child at the turnstile. */
struct stepper {
    pid_t pid;
    uint64_t started_ns;
    int command[2]; /* the parent writes one op a byte, 'q' to leave */
    int report[2];  /* the child answers each with a struct step_report */
    struct counter_page *page;
};

struct step_report {
    long reg;  /* the register after the step */
    long sees; /* the counter in this child's mapping after the step */
};

static int step_in_child(void *arg)
{
    struct stepper *me = arg;
    long reg = 0;
    char op;

    close(me->command[1]);
    close(me->report[0]);
    while (read(me->command[0], &op, 1) == 1 && op != 'q') {
        switch (op) {
        case COUNTER_LOAD:
            reg = atomic_load_explicit(&me->page->value, memory_order_relaxed);
            break;
        case COUNTER_ADD: reg++; break;
        case COUNTER_STORE:
            atomic_store_explicit(&me->page->value, (unsigned)reg, memory_order_relaxed);
            break;
        case COUNTER_ATOMIC_ADD: reg = (long)atomic_fetch_add(&me->page->value, 1) + 1; break;
        default: return 1;
        }
        struct step_report r = {reg, (long)atomic_load(&me->page->value)};
        if (write(me->report[1], &r, sizeof r) != (ssize_t)sizeof r)
            return 1;
    }
    return 0;
}

static void start_stepper(struct stepper *s, struct counter_page *page)
{
    s->page = page;
    if (pipe2(s->command, O_CLOEXEC) != 0 || pipe2(s->report, O_CLOEXEC) != 0)
        die_errno("pipe2");
    s->started_ns = now_ns();
    s->pid = child_start(step_in_child, s);
    close(s->command[0]);
    close(s->report[1]);
}

/* Stop both children (killed if need be) and reap them. */
static void stop_steppers(struct stepper steppers[2], bool kill_them)
{
    for (int i = 0; i < 2; i++) {
        if (steppers[i].pid <= 0)
            continue;
        if (kill_them)
            kill(-steppers[i].pid, SIGKILL);
        struct child_result r = child_wait(steppers[i].pid, steppers[i].started_ns, ANSWER_MS);
        if (!kill_them && !child_ok(&r)) {
            char how[64];
            die("child %s of the turnstile ended badly: %s", who_names[i], child_describe(&r, how));
        }
        close(steppers[i].command[1]);
        close(steppers[i].report[0]);
        steppers[i].pid = 0;
    }
}

/* One step of child s: send it the op, wait for its report. */
static struct step_report step_child(struct stepper steppers[2], unsigned who, enum counter_op op)
{
    struct stepper *s = &steppers[who];
    char byte = (char)op;
    struct step_report r;
    struct pollfd ready = {.fd = s->report[0], .events = POLLIN};

    if (write(s->command[1], &byte, 1) != 1)
        die_errno("write to a child of the turnstile");
    int n;
    while ((n = poll(&ready, 1, ANSWER_MS)) < 0 && errno == EINTR)
        ;
    if (n <= 0 || read(s->report[0], &r, sizeof r) != (ssize_t)sizeof r) {
        stop_steppers(steppers, true);
        die("child %s of the turnstile did not answer a step", who_names[who]);
    }
    return r;
}

static void measure(const struct scn_script *script, struct scn_answers *answers)
{
    struct counter_page *page =
        map_anonymous(page_size(), current.shared ? MAP_SHARED : MAP_PRIVATE);
    struct stepper steppers[2];

    atomic_store(&page->value, current.initial);
    for (int i = 0; i < 2; i++)
        start_stepper(&steppers[i], page);
    for (unsigned i = 0; i < current.count; i++) {
        const struct counter_step *s = &current.steps[i];
        scn_where("%s, step %u (%s), running it for real", script->title, i + 1, script->step[i]);
        if (s->who == PARENT) {
            for (int c = 0; c < 2; c++)
                if (write(steppers[c].command[1], "q", 1) != 1)
                    die_errno("write to a child of the turnstile");
            stop_steppers(steppers, false);
        } else {
            struct step_report r = step_child(steppers, s->who, s->op);
            scn_answer_long(script, answers, i, FACT_REG, r.reg);
            scn_answer_long(script, answers, i, FACT_CHILD, r.sees);
        }
        scn_answer_long(script, answers, i, FACT_PARENT, (long)atomic_load(&page->value));
    }
    unmap(page, page_size());
}

/* ---------------------------------------------------------- predicting */

static bool predict(const struct scn_script *script, struct scn_answers *answers)
{
    struct counter_facts predicted[COUNTER_MAX_STEPS];

    for (unsigned i = 0; i < COUNTER_MAX_STEPS; i++)
        predicted[i] = (struct counter_facts){-1, -1, -1};
    if (predict_counter(&current, predicted) != 0)
        return false;
    for (unsigned i = 0; i < current.count; i++) {
        scn_answer_long(script, answers, i, FACT_REG, predicted[i].reg);
        scn_answer_long(script, answers, i, FACT_CHILD, predicted[i].child_sees);
        scn_answer_long(script, answers, i, FACT_PARENT, predicted[i].parent_sees);
    }
    return true;
}

const struct scn_lab lab_scenarios = {
    .predictor = "predict_counter",
    .facts = facts,
    .fact_count = FACTS,
    .levels = levels,
    .generate = generate,
    .unavailable = NULL,
    .measure = measure,
    .predict = predict,
};
