/*
 * quiz_main.c - the quiz of a predict-and-measure lab (labs 01 to 04).
 *
 * Usage: quiz [--seed S] [--level LEVEL] [--answers | --compare]
 *
 * Linked with a lab's scenarios (lab_scenarios) and the student's files,
 * as build/lab/NN_lesson/IMPL/quiz.  It prints a scenario step by step
 * with the facts to predict after each; --answers runs it on this machine
 * and prints the kernel's answers; --compare prints the student's
 * predictor's beside them.  See common/lab/scenario.h.
 */
#include "cli.h"
#include "scenario.h"

int main(int argc, char *argv[])
{
    cli_init();
    return scn_quiz_main(&lab_scenarios, argc, argv);
}
