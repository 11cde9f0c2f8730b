/*
 * scenario_grade.c - the grader's side of a predict-and-measure lab (see
 * scenario.h): smoke_quiz, predict_LEVEL, and the driver's command line.
 */
#include "scenario.h"
#include "scenario_parts.h"

#include "cli.h"
#include "lab.h"
#include "memory.h"
#include "sandbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------- the grader's tests */

/* The quiz of this build, as a student types it from the top folder. */
static const char *quiz_command(char buf[static 512])
{
    const char *out = getenv("LAB_OUT"), *framework = getenv("LAB_FRAMEWORK");
    size_t root_len = framework && strlen(framework) > 11 ? strlen(framework) - 11 : 0;

    if (out == NULL)
        return "quiz";
    if (root_len > 0 && strncmp(out, framework, root_len) == 0 && out[root_len] == '/')
        out += root_len + 1; /* LAB_FRAMEWORK is ROOT/common/lab */
    snprintf(buf, 512, "%s/quiz", out);
    return buf;
}

/* The first asked fact where mine differs from kernel, as (step, fact);
 * false if there is none. */
static bool first_difference(const struct scn_lab *lab, const struct scn_script *s,
                             const struct scn_answers *kernel, const struct scn_answers *mine,
                             unsigned *step, unsigned *fact)
{
    for (unsigned i = 0; i < s->steps; i++)
        for (unsigned f = 0; f < lab->fact_count; f++)
            if (s->asked[i][f] && strcmp(kernel->value[i][f], mine->value[i][f]) != 0) {
                *step = i;
                *fact = f;
                return true;
            }
    return false;
}

/* A scenario of a test: its questions and the kernel's answers. */
struct measured {
    uint64_t seed;
    struct scn_script script;
    struct scn_answers kernel;
};

/* Make scenario seed at level and run it for real.  Every scenario of a
 * test is run before any prediction: the predictor's sandbox is a fork,
 * which leaves this process's own pages copy-on-write, and a step that
 * counts page faults must not meet one of those. */
static void measure_scenario(const struct scn_lab *lab, unsigned level, struct measured *m)
{
    memset(&m->script, 0, sizeof m->script);
    memset(&m->kernel, 0, sizeof m->kernel);
    lab->generate(m->seed, level, &m->script);
    scn_where("scenario %" PRIu64 " (level %s), running it for real", m->seed, lab->levels[level]);
    lab->measure(&m->script, &m->kernel);
}

/* Ask the predictor about a measured scenario; fail the test at the first
 * fact that differs.  Returns the facts it checked. */
static unsigned check_prediction(const struct scn_lab *lab, unsigned level,
                                 const struct measured *m)
{
    static struct scn_script script;
    static struct scn_answers mine;
    const char *name = lab->levels[level];
    char quiz[512];
    bool predicted;

    memset(&script, 0, sizeof script);
    lab->generate(m->seed, level, &script); /* the current scenario again */
    scn_where("scenario %" PRIu64 " (level %s), in %s", m->seed, name, lab->predictor);
    struct sandbox_result r = scn_ask_predictor(lab, &script, &mine, &predicted);
    if (r.end != SANDBOX_RETURNED) {
        char why[96];
        lab_fail("%s %s on scenario %" PRIu64 " (level %s); expected the facts after each of "
                 "its %u steps (see it: %s --seed %" PRIu64 " --level %s)",
                 lab->predictor, sandbox_describe(&r, scn_predict_timeout_ms(), why), m->seed, name,
                 script.steps, quiz_command(quiz), m->seed, name);
    }
    if (!predicted)
        lab_fail("%s returned -1 (no prediction) on scenario %" PRIu64 " (level %s); expected "
                 "the facts after each of its %u steps (see them: %s --seed %" PRIu64
                 " --level %s)",
                 lab->predictor, m->seed, name, script.steps, quiz_command(quiz), m->seed, name);
    unsigned step, fact;
    if (first_difference(lab, &m->script, &m->kernel, &mine, &step, &fact)) {
        printf("scenario %" PRIu64 ", level %s: %s\n", m->seed, name, m->script.title);
        scn_print_table(lab, &m->script, &m->kernel, &mine);
        lab_fail("scenario %" PRIu64 " (level %s), step %u of %u (%s): %s predicted %s, "
                 "measured %s (the whole table: %s --seed %" PRIu64 " --level %s --compare)",
                 m->seed, name, step + 1, m->script.steps, m->script.step[step],
                 lab->facts[fact].name,
                 mine.value[step][fact][0] ? mine.value[step][fact] : "nothing",
                 m->kernel.value[step][fact], quiz_command(quiz), m->seed, name);
    }
    return scn_facts_asked(&m->script);
}

static _Noreturn void grade_level(const struct scn_lab *lab, unsigned level, int argc, char *argv[])
{
    unsigned scenarios = (unsigned)lab_arg(argc, argv, "scenarios", 10), facts = 0;
    const char *missing = scn_level_unavailable(lab, level);

    if (missing != NULL)
        lab_skip("%s", missing);
    if (scenarios == 0 || scenarios > SCN_SEED_STRIDE)
        die("scenarios=%u: from 1 to %d", scenarios, SCN_SEED_STRIDE);
    struct measured *runs = map_anonymous(scenarios * sizeof *runs, MAP_PRIVATE);
    for (unsigned i = 0; i < scenarios; i++) {
        runs[i].seed = scn_seed(lab_seed(), i);
        measure_scenario(lab, level, &runs[i]);
    }
    for (unsigned i = 0; i < scenarios; i++)
        facts += check_prediction(lab, level, &runs[i]);
    lab_pass("%u scenarios (seeds %" PRIu64 " to %" PRIu64 "), %u facts: every one right",
             scenarios, runs[0].seed, runs[scenarios - 1].seed, facts);
}

/* smoke_quiz: every level's first scenario runs here, and the predictor is
 * called on it without crashing; what it answers does not matter yet. */
static _Noreturn void smoke_quiz(const struct scn_lab *lab)
{
    static struct measured runs[8];
    static struct scn_answers mine;
    unsigned ran = 0, answered = 0, levels = 0;

    while (levels < sizeof runs / sizeof runs[0] && lab->levels[levels] != NULL)
        levels++;
    for (unsigned level = 0; level < levels; level++) {
        runs[level].seed = scn_seed(lab_seed(), 0);
        if (scn_level_unavailable(lab, level) == NULL)
            measure_scenario(lab, level, &runs[level]);
    }
    for (unsigned level = 0; level < levels; level++) {
        if (scn_level_unavailable(lab, level) != NULL)
            continue;
        static struct scn_script script;
        bool predicted;
        memset(&script, 0, sizeof script);
        lab->generate(runs[level].seed, level, &script); /* the current scenario again */
        struct sandbox_result r = scn_ask_predictor(lab, &script, &mine, &predicted);
        if (r.end != SANDBOX_RETURNED) {
            char why[96];
            lab_fail("%s %s on scenario %" PRIu64 " (level %s); expected it to return",
                     lab->predictor, sandbox_describe(&r, scn_predict_timeout_ms(), why),
                     runs[level].seed, lab->levels[level]);
        }
        ran++;
        answered += predicted;
    }
    lab_pass("%u scenarios ran here; %s answered %u of them", ran, lab->predictor, answered);
}

static void driver_usage(const struct scn_lab *lab)
{
    printf("Usage: %s TEST [KEY=VALUE...]\n"
           "       %s --list\n"
           "\n"
           "A lab's test driver: runs one of the grader's tests (LAB_SEED chooses the\n"
           "cases; KEY=VALUE are the rubric's arguments).  The scenarios of a\n"
           "predict_LEVEL test are printed by the quiz beside this program, with\n"
           "%s among its levels.\n",
           prog_name(), prog_name(), lab->levels[0]);
}

static void list_tests(const struct scn_lab *lab, const struct lab_test tests[], size_t count)
{
    printf("%-18s %s\n", "smoke_quiz", "the scenarios run here and the predictor returns");
    for (unsigned level = 0; lab->levels[level] != NULL; level++)
        printf("predict_%-10s %s predicts the %s scenarios, fact by fact\n", lab->levels[level],
               lab->predictor, lab->levels[level]);
    lab_list_tests(tests, count, 18);
}

int scn_driver_main(const struct scn_lab *lab, const struct lab_test tests[], size_t count,
                    int argc, char *argv[])
{
    if (argc < 2)
        usage_error("a test or --list is needed");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        driver_usage(lab);
        return 0;
    }
    if (strcmp(argv[1], "--list") == 0) {
        list_tests(lab, tests, count);
        return 0;
    }
    for (int a = 2; a < argc; a++)
        if (strchr(argv[a], '=') == NULL)
            usage_error("unexpected argument '%s' (expected KEY=VALUE)", argv[a]);
    lab_on_crash(scn_describe_where);
    if (strcmp(argv[1], "smoke_quiz") == 0)
        smoke_quiz(lab);
    if (strncmp(argv[1], "predict_", 8) == 0)
        for (unsigned level = 0; lab->levels[level] != NULL; level++)
            if (strcmp(argv[1] + 8, lab->levels[level]) == 0)
                grade_level(lab, level, argc - 2, argv + 2);
    scn_where("%s", argv[1]);
    lab_run_test(tests, count, argc, argv, scn_describe_where);
}
