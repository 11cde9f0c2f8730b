/*
 * scenario_parts.h - what the engine's files share (scenario.c,
 * scenario_quiz.c, scenario_grade.c); a lab uses scenario.h only.
 */
#ifndef ASYM_LAB_SCENARIO_PARTS_H
#define ASYM_LAB_SCENARIO_PARTS_H

#include "lab.h"
#include "sandbox.h"
#include "scenario.h"

#include <stdbool.h>

/* How long a predictor may take, in ms (10 s, or less under a short
 * TIMEOUT). */
int scn_predict_timeout_ms(void);

/* Why this machine cannot run level's scenarios (lab->unavailable, which a
 * lab may leave NULL), or NULL if it can. */
const char *scn_level_unavailable(const struct scn_lab *lab, unsigned level);

/* For lab_on_crash: what scn_where() said last. */
void scn_describe_where(struct lab_text *t);

/* The scenario as a table, a row per step and a column per fact asked:
 * "?" where kernel is NULL, the kernel's answers, and mine beside them
 * where they differ (mine may be NULL).  Returns the facts mine got right. */
unsigned scn_print_table(const struct scn_lab *lab, const struct scn_script *s,
                         const struct scn_answers *kernel, const struct scn_answers *mine);

/* What the facts s asks mean (all of them when s is NULL). */
void scn_print_legend(const struct scn_lab *lab, const struct scn_script *s);

/* The facts s asks, over all its steps. */
unsigned scn_facts_asked(const struct scn_script *s);

/* Ask the predictor about the current scenario in its sandbox; its answers
 * go to *mine when *predicted. */
struct sandbox_result scn_ask_predictor(const struct scn_lab *lab, const struct scn_script *s,
                                        struct scn_answers *mine, bool *predicted);

#endif
