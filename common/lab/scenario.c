/*
 * scenario.c - the predict-and-measure engine shared by labs 01 to 04
 * (see scenario.h): scripts, where a driver is, the tables, and the
 * predictor asked in its sandbox.  The quiz is scenario_quiz.c, the
 * grader's tests scenario_grade.c.
 */
#include "scenario.h"
#include "scenario_parts.h"

#include "cli.h"
#include "lab.h"
#include "memory.h"
#include "sandbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PREDICT_TIMEOUT_MS = 10000 };

/* How long a predictor may take: 10 s, or half the test's timeout when the
 * grader gives it a shorter one (TIMEOUT=S), so that a hung predictor is
 * reported as one, not as the whole test's hang. */
int scn_predict_timeout_ms(void)
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

void scn_draw_scenario(uint64_t seed, unsigned level,
                       bool (*try_scenario)(uint64_t *rng, unsigned level))
{
    uint64_t rng = seed * 4 + level;

    for (unsigned tries = 0; !try_scenario(&rng, level); tries++)
        if (tries == 100000)
            die("no scenario of seed %llu shows level %s (a bug in the generator)",
                (unsigned long long)seed, lab_scenarios.levels[level]);
}

const char *scn_level_unavailable(const struct scn_lab *lab, unsigned level)
{
    return lab->unavailable ? lab->unavailable(level) : NULL;
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

void scn_describe_where(struct lab_text *t)
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
unsigned scn_print_table(const struct scn_lab *lab, const struct scn_script *s,
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

unsigned scn_facts_asked(const struct scn_script *s)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->steps; i++)
        for (unsigned f = 0; f < SCN_MAX_FACTS; f++)
            n += s->asked[i][f];
    return n;
}

/* What the facts mean: those s asks, or all of them when s is NULL. */
void scn_print_legend(const struct scn_lab *lab, const struct scn_script *s)
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
struct sandbox_result scn_ask_predictor(const struct scn_lab *lab, const struct scn_script *s,
                                        struct scn_answers *mine, bool *predicted)
{
    struct prediction *p = map_anonymous(sizeof *p, MAP_SHARED);

    p->lab = lab;
    p->script = s;
    p->predicted = false;
    struct sandbox_result r =
        sandbox_run(predict_in_child, p, scn_predict_timeout_ms(), !under_sanitizer());
    *predicted = r.end == SANDBOX_RETURNED && p->predicted;
    if (*predicted)
        *mine = p->answers;
    unmap(p, sizeof *p);
    return r;
}
