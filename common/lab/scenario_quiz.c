/*
 * scenario_quiz.c - the quiz of a predict-and-measure lab (see
 * scenario.h): a scenario's questions, the kernel's answers, a
 * predictor's beside them.
 */
#include "scenario.h"
#include "scenario_parts.h"

#include "cli.h"
#include "lab.h"
#include "sandbox.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    scn_print_legend(lab, NULL);
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
    lab_on_crash(scn_describe_where);
    memset(&script, 0, sizeof script);
    lab->generate(o.seed, (unsigned)o.level, &script);
    printf("scenario %" PRIu64 ", level %s: %s\n", o.seed, lab->levels[o.level], script.title);
    const char *missing = scn_level_unavailable(lab, (unsigned)o.level);
    if (missing != NULL && (o.answers || o.compare))
        printf("note: %s, so some answers here are not what the grader expects\n", missing);
    printf("after each step:\n");
    scn_print_legend(lab, &script);
    printf("\n");
    if (!o.answers && !o.compare) {
        scn_print_table(lab, &script, NULL, NULL);
        printf("\nthe kernel's answers: %s --seed %" PRIu64 " --level %s --answers\n", argv[0],
               o.seed, lab->levels[o.level]);
        return 0;
    }
    lab->measure(&script, &kernel);
    if (o.answers) {
        scn_print_table(lab, &script, &kernel, NULL);
        return 0;
    }
    bool predicted;
    struct sandbox_result r = scn_ask_predictor(lab, &script, &mine, &predicted);
    if (!predicted) {
        char why[96];
        scn_print_table(lab, &script, &kernel, NULL);
        printf("\nyour %s %s\n", lab->predictor,
               r.end == SANDBOX_RETURNED ? "returned -1: no prediction yet"
                                         : sandbox_describe(&r, scn_predict_timeout_ms(), why));
        return 1;
    }
    unsigned right = scn_print_table(lab, &script, &kernel, &mine),
             asked = scn_facts_asked(&script);
    printf("\nyour %s: %u of %u facts right\n", lab->predictor, right, asked);
    return right == asked ? 0 : 1;
}
