/*
 * compare.c - the comparison that ends the "all" run: every mode's faults and
 * time against plain touching, as a table, as facts, and in words chosen
 * from those numbers.
 */
#include "lesson01.h"

#include "out.h"

#include <stdio.h>

static uint64_t faults_of(const struct trial *t)
{
    return t->setup_faults + t->touch_faults;
}

/* "0.70 times" and whether that is faster: the words follow the same
 * percentage as the fact time_vs_touch_pct. */
static void say_ratio(const char *what, const struct trial *t, const struct trial *touch)
{
    uint64_t total = t->setup_ns + t->touch_ns, touch_total = touch->setup_ns + touch->touch_ns;
    uint64_t pct = total * 100 / touch_total;

    printf("%s took %.2f times the time of touch: %s\n", what, (double)total / (double)touch_total,
           pct < 80    ? "faster here"
           : pct > 125 ? "slower here"
                       : "about the same, within what varies from run to run here");
}

/* The comparison in words, chosen from what was measured. */
static void say_what_changed(const struct trial trials[], int count)
{
    const struct trial *touch = &trials[MODE_TOUCH];

    for (int i = 0; i < count; i++) {
        const struct trial *t = &trials[i];
        char what[160];
        if (t->skipped || t->mode == MODE_TOUCH)
            continue;
        if (t->mode == MODE_HUGEPAGE && faults_of(t) > 0)
            snprintf(what, sizeof what,
                     "hugepage: %llu faults instead of %llu (%llu times fewer), yet the same bytes "
                     "to zero;\n  it",
                     (unsigned long long)faults_of(t), (unsigned long long)faults_of(touch),
                     (unsigned long long)(faults_of(touch) / faults_of(t)));
        else if (t->mode == MODE_POPULATE)
            snprintf(what, sizeof what,
                     "populate: the same %llu faults, taken inside mmap without a trap each;\n  it",
                     (unsigned long long)faults_of(t));
        else
            snprintf(what, sizeof what, "malloc: %llu faults, the same lazy faults as touch;\n  it",
                     (unsigned long long)faults_of(t));
        say_ratio(what, t, touch);
    }
}

/* The table of "all": every mode's cost relative to plain touching, then
 * the same numbers as facts. */
void print_comparison(const struct trial trials[], int count)
{
    const struct trial *touch = &trials[MODE_TOUCH];
    uint64_t touch_total = touch->setup_ns + touch->touch_ns;

    heading("comparison: the cost of getting SIZE bytes of usable memory");
    printf("%-9s %12s %12s %10s %10s %10s\n", "mode", "mmap faults", "touch faults", "total ms",
           "faults/ms", "vs touch");
    for (int i = 0; i < count; i++) {
        const struct trial *t = &trials[i];
        uint64_t faults = t->setup_faults + t->touch_faults, total = t->setup_ns + t->touch_ns;
        if (t->skipped)
            printf("%-9s %12s\n", mode_names[t->mode], "skipped");
        else
            printf("%-9s %12llu %12llu %10.1f %10.0f %9.2fx\n", mode_names[t->mode],
                   (unsigned long long)t->setup_faults, (unsigned long long)t->touch_faults,
                   total / 1e6, faults / (total / 1e6), (double)total / touch_total);
    }
    for (int i = 0; i < count; i++) {
        const struct trial *t = &trials[i];
        uint64_t total = t->setup_ns + t->touch_ns;
        if (t->skipped)
            continue;
        fact_word("compare_mode", mode_names[t->mode]);
        fact_uint("faults", t->setup_faults + t->touch_faults);
        fact_uint("total_ns", total);
        fact_uint("faults_per_ms", (t->setup_faults + t->touch_faults) * 1000000 / total);
        fact_uint("time_vs_touch_pct", total * 100 / touch_total);
        facts_end();
    }
    say_what_changed(trials, count);
}
