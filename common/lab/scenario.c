/*
 * scenario.c - the predict-and-measure engine shared by labs 01 to 04
 * (see scenario.h): scripts, the quiz's tables, the sandboxed predictor,
 * and the grader's smoke_quiz and predict_LEVEL tests.
 */
#include "scenario.h"

#include "cli.h"
#include "lab.h"
#include "memory.h"
#include "sandbox.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PREDICT_TIMEOUT_MS = 10000 };

/* How long a predictor may take: 10 s, or half the test's timeout when the
 * grader gives it a shorter one (TIMEOUT=S), so that a hung predictor is
 * reported as one, not as the whole test's hang. */
static int predict_timeout_ms(void)
{
    const char *text = getenv("LAB_TIMEOUT_S"), *why;
    uint64_t seconds;

    if (text != NULL && parse_uint(text, 1, 86400, &seconds, &why) &&
        seconds * 1000 / 2 < PREDICT_TIMEOUT_MS)
        return (int)(seconds * 1000 / 2);
    return PREDICT_TIMEOUT_MS;
}

/* ------------------------------------------------------------ scripts */

unsigned scn_add_step(struct scn_script *s, const char *fmt, ...)
{
    va_list ap;

    if (s->steps >= SCN_MAX_STEPS)
        die("a scenario has more than %d steps (a bug in the lab's generator)", SCN_MAX_STEPS);
    va_start(ap, fmt);
    vsnprintf(s->step[s->steps], SCN_TEXT_MAX, fmt, ap);
    va_end(ap);
    memset(s->asked[s->steps], 0, sizeof s->asked[s->steps]);
    return s->steps++;
}

void scn_ask(struct scn_script *s, unsigned step, unsigned fact)
{
    s->asked[step][fact] = true;
}

void scn_answer(const struct scn_script *s, struct scn_answers *a, unsigned step, unsigned fact,
                const char *fmt, ...)
{
    va_list ap;

    if (step >= s->steps || fact >= SCN_MAX_FACTS || !s->asked[step][fact])
        return;
    va_start(ap, fmt);
    vsnprintf(a->value[step][fact], SCN_VALUE_MAX, fmt, ap);
    va_end(ap);
}

void scn_answer_long(const struct scn_script *s, struct scn_answers *a, unsigned step,
                     unsigned fact, long value)
{
    scn_answer(s, a, step, fact, "%ld", value);
}

uint64_t scn_seed(uint64_t grader_seed, unsigned i)
{
    return grader_seed * SCN_SEED_STRIDE + i; /* wraps for huge seeds: still one seed each */
}

/* ------------------------------------------------- where, for crashes */

/* Two buffers, so that a crash report never reads one half-written. */
static char where_buf[2][256];
static const char *volatile where_now = "starting";

void scn_where(const char *fmt, ...)
{
    static unsigned next;
    char *buf = where_buf[next];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof where_buf[0], fmt, ap);
    va_end(ap);
    where_now = buf;
    next ^= 1;
}

static void describe_where(struct lab_text *t)
{
    lab_text_str(t, where_now);
}

/* ----------------------------------------------------------- tables */

static unsigned fact_width(const struct scn_lab *lab, unsigned f, const struct scn_script *s,
                           const struct scn_answers *kernel, const struct scn_answers *mine)
{
    size_t width = strlen(lab->facts[f].name);

    for (unsigned i = 0; i < s->steps; i++) {
        size_t w = 1; /* "?" */
        if (kernel != NULL)
            w = strlen(kernel->value[i][f]);
        if (mine != NULL && kernel != NULL && strcmp(mine->value[i][f], kernel->value[i][f]) != 0)
            w += strlen(" (you: )") + strlen(mine->value[i][f]);
        width = w > width ? w : width;
    }
    return (unsigned)width;
}

/* One cell: "?", the kernel's answer, or the kernel's and a different
 * prediction; "" where the step asks nothing. */
static void format_cell(char *cell, size_t cap, bool asked, const char *kernel, const char *mine)
{
    if (!asked)
        snprintf(cell, cap, "%s", "");
    else if (kernel == NULL)
        snprintf(cell, cap, "?");
    else if (mine != NULL && strcmp(mine, kernel) != 0)
        snprintf(cell, cap, "%s (you: %s)", kernel, mine[0] ? mine : "nothing");
    else
        snprintf(cell, cap, "%s", kernel);
}

/* Whether any step of s asks fact f (a column for it), or s is NULL. */
static bool fact_in(const struct scn_script *s, unsigned f)
{
    if (s == NULL)
        return true;
    for (unsigned i = 0; i < s->steps; i++)
        if (s->asked[i][f])
            return true;
    return false;
}

/* Print line without the spaces that padding left at its end. */
static void print_trimmed(char *line, const char *suffix)
{
    size_t len = strlen(line);

    while (len > 0 && line[len - 1] == ' ')
        line[--len] = '\0';
    printf("%s%s\n", line, suffix);
}

/* The scenario as a table: a row per step, a column per fact; kernel and
 * mine may be NULL (questions only; no prediction).  Returns how many
 * asked facts the prediction got right. */
static unsigned print_table(const struct scn_lab *lab, const struct scn_script *s,
                            const struct scn_answers *kernel, const struct scn_answers *mine)
{
    unsigned widths[SCN_MAX_FACTS], text_width = 12, right = 0;
    char line[1024];
    size_t len;

    for (unsigned i = 0; i < s->steps; i++) {
        size_t n = strlen(s->step[i]);
        text_width = n > text_width ? (unsigned)n : text_width;
    }
    for (unsigned f = 0; f < lab->fact_count; f++)
        widths[f] = fact_width(lab, f, s, kernel, mine);
    len = (size_t)snprintf(line, sizeof line, "step  %-*s", (int)text_width, "what happens");
    for (unsigned f = 0; f < lab->fact_count && len < sizeof line; f++)
        if (fact_in(s, f))
            len += (size_t)snprintf(line + len, sizeof line - len, "  %-*s", (int)widths[f],
                                    lab->facts[f].name);
    print_trimmed(line, "");
    for (unsigned i = 0; i < s->steps; i++) {
        bool differs = false;
        len = (size_t)snprintf(line, sizeof line, "%4u  %-*s", i + 1, (int)text_width, s->step[i]);
        for (unsigned f = 0; f < lab->fact_count && len < sizeof line; f++) {
            char cell[2 * SCN_VALUE_MAX + 16];
            if (!fact_in(s, f))
                continue;
            const char *k = kernel ? kernel->value[i][f] : NULL,
                       *m = mine ? mine->value[i][f] : NULL;
            format_cell(cell, sizeof cell, s->asked[i][f], k, m);
            len += (size_t)snprintf(line + len, sizeof line - len, "  %-*s", (int)widths[f], cell);
            if (s->asked[i][f] && k != NULL && m != NULL) {
                differs |= strcmp(k, m) != 0;
                right += strcmp(k, m) == 0;
            }
        }
        print_trimmed(line, differs ? "  <- differs" : "");
    }
    return right;
}

static unsigned facts_asked(const struct scn_script *s)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->steps; i++)
        for (unsigned f = 0; f < SCN_MAX_FACTS; f++)
            n += s->asked[i][f];
    return n;
}

/* What the facts mean: those s asks, or all of them when s is NULL. */
static void print_legend(const struct scn_lab *lab, const struct scn_script *s)
{
    unsigned width = 0;

    for (unsigned f = 0; f < lab->fact_count; f++) {
        size_t len = strlen(lab->facts[f].name);
        width = len > width && fact_in(s, f) ? (unsigned)len : width;
    }
    for (unsigned f = 0; f < lab->fact_count; f++)
        if (fact_in(s, f))
            printf("  %-*s  %s\n", (int)width, lab->facts[f].name, lab->facts[f].meaning);
}

/* --------------------------------------------------------- predicting */

/* The prediction, written by the sandboxed child into shared memory. */
struct prediction {
    const struct scn_lab *lab;
    const struct scn_script *script;
    bool predicted;
    struct scn_answers answers;
};

static void predict_in_child(void *arg)
{
    struct prediction *p = arg;

    memset(&p->answers, 0, sizeof p->answers);
    p->predicted = p->lab->predict(p->script, &p->answers);
}

static bool under_sanitizer(void)
{
    const char *san = getenv("LAB_SANITIZER");

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return true;
#endif
#endif
    return san != NULL && san[0] != '\0';
}

/* Ask the predictor about the current scenario.  Returns the sandbox's
 * result; *predicted says whether it gave answers (into *mine). */
static struct sandbox_result ask_predictor(const struct scn_lab *lab, const struct scn_script *s,
                                           struct scn_answers *mine, bool *predicted)
{
    struct prediction *p = map_anonymous(sizeof *p, MAP_SHARED);

    p->lab = lab;
    p->script = s;
    p->predicted = false;
    struct sandbox_result r =
        sandbox_run(predict_in_child, p, predict_timeout_ms(), !under_sanitizer());
    *predicted = r.end == SANDBOX_RETURNED && p->predicted;
    if (*predicted)
        *mine = p->answers;
    unmap(p, sizeof *p);
    return r;
}

/* --------------------------------------------------------------- quiz */

static void quiz_usage(const struct scn_lab *lab)
{
    printf("Usage: %s [--seed S] [--level LEVEL] [--answers | --compare]\n"
           "\n"
           "Print a scenario: what happens step by step, and after each step the facts to\n"
           "predict (a ? each).  The same seed and level give the same scenario.\n"
           "  --seed S      the scenario's seed (default 1); the grader's scenario i of\n"
           "                make grade SEED=G is seed G*1000+i\n"
           "  --level LEVEL which operations may appear (default %s):",
           prog_name(), lab->levels[0]);
    for (unsigned i = 0; lab->levels[i] != NULL; i++)
        printf(" %s", lab->levels[i]);
    printf("\n"
           "  --answers     run the scenario for real and print the kernel's answers\n"
           "  --compare     run it, and print your %s's answers beside the kernel's\n"
           "The facts:\n",
           lab->predictor);
    print_legend(lab, NULL);
}

struct quiz_options {
    uint64_t seed;
    int level;
    bool answers, compare;
};

static void parse_quiz_options(const struct scn_lab *lab, int argc, char *argv[],
                               struct quiz_options *o)
{
    static const struct option options[] = {
        {"seed", required_argument, NULL, 's'}, {"level", required_argument, NULL, 'l'},
        {"answers", no_argument, NULL, 'a'},    {"compare", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    int opt;

    *o = (struct quiz_options){.seed = 1, .level = 0};
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 's': o->seed = opt_uint("--seed", optarg, 0, UINT64_MAX); break;
        case 'l': o->level = opt_choice("--level", optarg, lab->levels); break;
        case 'a': o->answers = true; break;
        case 'c': o->compare = true; break;
        case 'h': quiz_usage(lab); exit(0);
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (o->answers && o->compare)
        usage_error("--answers or --compare, not both");
}

int scn_quiz_main(const struct scn_lab *lab, int argc, char *argv[])
{
    static struct scn_script script;
    static struct scn_answers kernel, mine;
    struct quiz_options o;

    parse_quiz_options(lab, argc, argv, &o);
    lab_on_crash(describe_where);
    memset(&script, 0, sizeof script);
    lab->generate(o.seed, (unsigned)o.level, &script);
    printf("scenario %" PRIu64 ", level %s: %s\n", o.seed, lab->levels[o.level], script.title);
    const char *missing = lab->unavailable ? lab->unavailable((unsigned)o.level) : NULL;
    if (missing != NULL && (o.answers || o.compare))
        printf("note: %s, so some answers here are not what the grader expects\n", missing);
    printf("after each step:\n");
    print_legend(lab, &script);
    printf("\n");
    if (!o.answers && !o.compare) {
        print_table(lab, &script, NULL, NULL);
        printf("\nthe kernel's answers: %s --seed %" PRIu64 " --level %s --answers\n", argv[0],
               o.seed, lab->levels[o.level]);
        return 0;
    }
    lab->measure(&script, &kernel);
    if (o.answers) {
        print_table(lab, &script, &kernel, NULL);
        return 0;
    }
    bool predicted;
    struct sandbox_result r = ask_predictor(lab, &script, &mine, &predicted);
    if (!predicted) {
        char why[96];
        print_table(lab, &script, &kernel, NULL);
        printf("\nyour %s %s\n", lab->predictor,
               r.end == SANDBOX_RETURNED ? "returned -1: no prediction yet"
                                         : sandbox_describe(&r, predict_timeout_ms(), why));
        return 1;
    }
    unsigned right = print_table(lab, &script, &kernel, &mine), asked = facts_asked(&script);
    printf("\nyour %s: %u of %u facts right\n", lab->predictor, right, asked);
    return right == asked ? 0 : 1;
}

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

static const char *level_unavailable(const struct scn_lab *lab, unsigned level)
{
    return lab->unavailable ? lab->unavailable(level) : NULL;
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
    struct sandbox_result r = ask_predictor(lab, &script, &mine, &predicted);
    if (r.end != SANDBOX_RETURNED) {
        char why[96];
        lab_fail("%s %s on scenario %" PRIu64 " (level %s); expected the facts after each of "
                 "its %u steps (see it: %s --seed %" PRIu64 " --level %s)",
                 lab->predictor, sandbox_describe(&r, predict_timeout_ms(), why), m->seed, name,
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
        print_table(lab, &m->script, &m->kernel, &mine);
        lab_fail("scenario %" PRIu64 " (level %s), step %u of %u (%s): %s predicted %s, "
                 "measured %s (the whole table: %s --seed %" PRIu64 " --level %s --compare)",
                 m->seed, name, step + 1, m->script.steps, m->script.step[step],
                 lab->facts[fact].name,
                 mine.value[step][fact][0] ? mine.value[step][fact] : "nothing",
                 m->kernel.value[step][fact], quiz_command(quiz), m->seed, name);
    }
    return facts_asked(&m->script);
}

static _Noreturn void grade_level(const struct scn_lab *lab, unsigned level, int argc, char *argv[])
{
    unsigned scenarios = (unsigned)lab_arg(argc, argv, "scenarios", 10), facts = 0;
    const char *missing = level_unavailable(lab, level);

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
        if (level_unavailable(lab, level) == NULL)
            measure_scenario(lab, level, &runs[level]);
    }
    for (unsigned level = 0; level < levels; level++) {
        if (level_unavailable(lab, level) != NULL)
            continue;
        static struct scn_script script;
        bool predicted;
        memset(&script, 0, sizeof script);
        lab->generate(runs[level].seed, level, &script); /* the current scenario again */
        struct sandbox_result r = ask_predictor(lab, &script, &mine, &predicted);
        if (r.end != SANDBOX_RETURNED) {
            char why[96];
            lab_fail("%s %s on scenario %" PRIu64 " (level %s); expected it to return",
                     lab->predictor, sandbox_describe(&r, predict_timeout_ms(), why),
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

static void list_tests(const struct scn_lab *lab, const struct scn_test tests[], size_t count)
{
    printf("%-18s %s\n", "smoke_quiz", "the scenarios run here and the predictor returns");
    for (unsigned level = 0; lab->levels[level] != NULL; level++)
        printf("predict_%-10s %s predicts the %s scenarios, fact by fact\n", lab->levels[level],
               lab->predictor, lab->levels[level]);
    for (size_t i = 0; i < count; i++)
        printf("%-18s %s\n", tests[i].id, tests[i].claim);
}

int scn_driver_main(const struct scn_lab *lab, const struct scn_test tests[], size_t count,
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
    lab_on_crash(describe_where);
    if (strcmp(argv[1], "smoke_quiz") == 0)
        smoke_quiz(lab);
    if (strncmp(argv[1], "predict_", 8) == 0)
        for (unsigned level = 0; lab->levels[level] != NULL; level++)
            if (strcmp(argv[1] + 8, lab->levels[level]) == 0)
                grade_level(lab, level, argc - 2, argv + 2);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(argv[1], tests[i].id) != 0)
            continue;
        scn_where("%s", tests[i].id);
        tests[i].run(argc - 2, argv + 2); /* ends with a verdict */
        lab_fail("the test ended without a verdict (a bug in the driver)");
    }
    usage_error("unknown test '%s'; --list shows the tests", argv[1]);
}
