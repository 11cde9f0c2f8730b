/*
 * driver_main.c - the test driver of a predict-and-measure lab (labs 01 to
 * 04): what the grader runs for each line of the lab's rubric.
 *
 * Usage: DRIVER TEST [KEY=VALUE...]
 *        DRIVER --list
 *
 * Linked with a lab's scenarios and tests (lab_scenarios, lab_tests) and
 * the student's files.  smoke_quiz and predict_LEVEL are the engine's
 * (common/lab/scenario.c); the other tests are the lab's own.
 */
#include "cli.h"
#include "scenario.h"

int main(int argc, char *argv[])
{
    cli_init();
    return scn_driver_main(&lab_scenarios, lab_tests, lab_test_count, argc, argv);
}
