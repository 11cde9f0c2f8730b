/*
 * scenario.h - the predict-and-measure labs (lessons 01 to 04): a seeded
 * scenario, the facts it asks after each step, the kernel's answers and a
 * student's.
 *
 * A lab describes its scenarios with a struct scn_lab: how to make the
 * scenario of a seed at a level (its steps in words, and after each step
 * the facts asked), how to run it for real, and how to ask the student's
 * predictor.  The engine does the rest, the same way for every lab:
 *
 *   quiz [--seed S] [--level L] [--answers | --compare]   (quiz_main.c)
 *       prints the scenario as a table with a "?" for every fact asked;
 *       --answers runs it and prints the kernel's answers instead;
 *       --compare prints the student's predictor's answers beside them.
 *   DRIVER smoke_quiz | predict_LEVEL [scenarios=N] | TEST   (driver_main.c)
 *       the grader's tests.  predict_LEVEL makes N scenarios of that level
 *       (seeds LAB_SEED * 1000 + 0 .. N-1), runs each for real and asks
 *       the predictor; the first fact that differs fails the test, naming
 *       the scenario, the step, both values and the quiz command that
 *       shows the whole table.
 *
 * Facts are short texts ("4", "'a'", "SIGBUS", "os.s"), compared exactly.
 * The predictor runs in a child process that may compute but not measure
 * (sandbox.h): one that calls mincore() or opens /proc is stopped, with a
 * message that says so.
 */
#ifndef ASYM_LAB_SCENARIO_H
#define ASYM_LAB_SCENARIO_H

#include "lab.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SCN_MAX_STEPS = 40,     /* steps of one scenario */
    SCN_MAX_FACTS = 4,      /* facts a lab asks about */
    SCN_TEXT_MAX = 64,      /* a step in words: "write pages 2-5" */
    SCN_VALUE_MAX = 40,     /* a fact's value as text */
    SCN_SEED_STRIDE = 1000, /* scenario seeds of grader seed S: S * 1000 + i */
};

/* One fact a lab asks: its name in the tables and what it means. */
struct scn_fact {
    const char *name;    /* "resident_pages" */
    const char *meaning; /* "pages of the mapping that mincore() reports resident" */
};

/* A scenario's questions: what it is, its steps, which facts each asks. */
struct scn_script {
    char title[160]; /* "12 pages of private anonymous memory (MADV_NOHUGEPAGE)" */
    unsigned steps;
    char step[SCN_MAX_STEPS][SCN_TEXT_MAX];
    bool asked[SCN_MAX_STEPS][SCN_MAX_FACTS];
};

/* Answers to a script's questions, as text ("" where nothing is asked). */
struct scn_answers {
    char value[SCN_MAX_STEPS][SCN_MAX_FACTS][SCN_VALUE_MAX];
};

/* A lab's scenarios.  The lab keeps "the current scenario" itself: generate
 * makes it, measure and predict work on it. */
struct scn_lab {
    const char *predictor; /* the student's function, for messages: "predict_anon" */
    const struct scn_fact *facts;
    unsigned fact_count;
    const char *const *levels; /* NULL-terminated, easiest first */
    /* Make the scenario of seed at level the current one, and its script. */
    void (*generate)(uint64_t seed, unsigned level, struct scn_script *script);
    /* Why this machine cannot run level's scenarios, or NULL if it can. */
    const char *(*unavailable)(unsigned level);
    /* Run the current scenario for real: the answers to every question. */
    void (*measure)(const struct scn_script *script, struct scn_answers *kernel);
    /* Ask the student's predictor about the current scenario, in a child
     * process (the sandbox): false if it returned -1 (no prediction). */
    bool (*predict)(const struct scn_script *script, struct scn_answers *mine);
};

/* What quiz_main.c and driver_main.c run: each lab defines these
 * (lab_tests: its driver's tests besides smoke_quiz and predict_LEVEL). */
extern const struct scn_lab lab_scenarios;
extern const struct lab_test lab_tests[];
extern const size_t lab_test_count;

int scn_quiz_main(const struct scn_lab *lab, int argc, char *argv[]);
int scn_driver_main(const struct scn_lab *lab, const struct lab_test tests[], size_t count,
                    int argc, char *argv[]);

/* Building a script: add a step in words (its index), and ask a fact. */
unsigned scn_add_step(struct scn_script *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void scn_ask(struct scn_script *s, unsigned step, unsigned fact);

/* An answer, as text (for a fact asked; ignored otherwise). */
void scn_answer(const struct scn_script *s, struct scn_answers *a, unsigned step, unsigned fact,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void scn_answer_long(const struct scn_script *s, struct scn_answers *a, unsigned step,
                     unsigned fact, long value);

/* What a driver is doing now, named by a crash or hang report ("scenario
 * 1003, step 4 of 9 (write pages 2-5), running it for real"). */
void scn_where(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For a lab's generate(): call try_scenario(rng, level), with rng's state
 * made from seed and level, until it returns true (a scenario that shows
 * what its level is about); each try goes on from the state the last one
 * left, so it draws another scenario. */
void scn_draw_scenario(uint64_t seed, unsigned level,
                       bool (*try_scenario)(uint64_t *rng, unsigned level));

/* The seed the grader's scenario i uses. */
uint64_t scn_seed(uint64_t grader_seed, unsigned i);

#endif
