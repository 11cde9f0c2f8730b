/*
 * race_report.c - what race measured, said: one fact line per kind, and
 * prose chosen from the facts (which of the two groups a run fell in).
 */
#include "out.h"
#include "race.h"

#include <inttypes.h>
#include <stdio.h>

const char *race_kind_name(enum bump_kind kind)
{
    static const char *const names[KINDS] = {"racy", "racy_preempted", "atomic", "shalloc"};
    return names[kind];
}

void race_print_outcome(enum bump_kind kind, unsigned procs, uint64_t allocs,
                        const struct outcome *out)
{
    fact_word("bump", race_kind_name(kind));
    fact_uint("procs", procs);
    fact_uint("allocs", allocs);
    fact_uint("overlaps", out->overlaps);
    fact_uint("overwritten", out->overwritten);
    if (kind != SHALLOC) {
        fact_uint("lost_updates", out->lost_updates);
        fact_uint("end_rollback_blocks", out->rollback);
        fact_uint("interleaved_pct", out->interleaved_pct);
        fact_uint("yields", out->yields);
        fact_uint("others_allocs_per_yield", out->taken_per_yield);
    }
    facts_end();
}

/* What the three arena races showed, said from what they measured. */
void race_conclude(const struct outcome out[KINDS], unsigned procs, uint64_t total)
{
    const struct outcome *racy = &out[RACY], *pre = &out[RACY_PREEMPTED];

    if (procs == 1) {
        printf("\nOne process alone handed out %" PRIu64 " blocks twice: there was nobody to "
               "race.\n",
               racy->overlaps + pre->overlaps);
        return;
    }

    printf("\nLeft alone, the racy bump handed out %" PRIu64 " of %" PRIu64 " blocks twice: ",
           racy->overlaps, total);
    if (racy->interleaved_pct < 10)
        printf("the processes ran one\nafter the other (at %u%% of the checkpoints the others had "
               "moved on): with no CPU free,\na run this short fits in one time slice.\n",
               racy->interleaved_pct);
    else
        printf("the processes ran at\nthe same time (at %u%% of the checkpoints the others had "
               "moved on).\n",
               racy->interleaved_pct);
    uint64_t each = pre->taken_per_yield / (procs - 1); /* per other process */
    printf("With a yield between its read and its write, it handed out %" PRIu64 " of %" PRIu64
           " twice:\nwhile one process yielded, each other one took %" PRIu64 " blocks (of the %d\n"
           "between two yields): ",
           pre->overlaps, total, each, PREEMPT_EVERY);
    if (pre->taken_per_yield == 0)
        printf("nobody else was at work\nthen: the processes ran one after the other.\n");
    else if (2 * each >= PREEMPT_EVERY)
        printf("the processes took turns, and each stale store gave a\nwhole turn's blocks out "
               "again.\n");
    else
        printf("they ran side by side on CPUs of their own,\nand only the blocks taken during a "
               "yield were given out again.\n");
    if (out[ATOMIC].overlaps == 0)
        printf("fetch-add, interrupted the same way, handed out none twice: it reads and writes\n"
               "in one indivisible step.\n");
    else
        printf("fetch-add handed out %" PRIu64 " blocks twice: a bug in this program.\n",
               out[ATOMIC].overlaps);
}
