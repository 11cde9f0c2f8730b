/*
 * generate.c - lab 02's scenarios, made from a seed: a small file written
 * page by page, mapped MAP_SHARED (S) and maybe MAP_PRIVATE (P), stored
 * into and loaded from through both, written with pwrite(), truncated,
 * dropped from the page cache, unmapped, as the level allows.
 *
 * What is asked is what every Linux agrees on.  The file is written 4 KiB
 * at a time, so its pages are cached one by one (no large folios).  A drop
 * happens only while no mapping has loaded a page: a load maps the pages
 * around it too ("fault-around", how many is the kernel's choice), and a
 * mapped page cannot be dropped; a store maps exactly its page.  And once
 * a step makes the kernel read part of the file back from the disk (a
 * load, store, pwrite or read of a page dropped before), the count of
 * cached pages is not asked again: how far it reads ahead is the kernel's
 * choice too.  The model below knows all of that, and nothing else.
 */
#include "file_lab.h"
#include "filemap.h"

#include "cli.h"
#include "procfs.h"
#include "rng.h"
#include "scenario.h"

#include <stdio.h>
#include <string.h>

const char *const file_map_names[] = {"S", "P"};
struct file_scenario scenario_now;

/* What the generator knows: what keeps steps legal, when the number of
 * cached pages is certain, and what the scenario shows. */
struct model {
    unsigned created;
    uint64_t size;
    bool cached[FILE_MAX_PAGES];
    bool exact; /* cached[] is what the kernel has */
    bool live[2], loaded[2];
    bool s_stored[FILE_MAX_PAGES]; /* pages S maps because it stored there */
    bool p_stored[FILE_MAX_PAGES]; /* pages P has a copy of */
    bool changed[FILE_MAX_PAGES];  /* the file's byte differs from P's first view */
    bool zapped[FILE_MAX_PAGES];   /* P's copy there was truncated away */
    unsigned truncations;
    /* what the scenario shows */
    bool s_store_seen, pwrite_seen, load_seen;
    bool p_store_seen, p_sees_file_change, sigbus_seen, copy_lost, unmapped;
    bool kept_by_mapping; /* a drop that kept the pages S maps */
    unsigned drops;
};

static unsigned pages_now(const struct model *m)
{
    return (unsigned)((m->size + page_size() - 1) / page_size());
}

/* The step touches page p's data: if the cache had dropped it, the kernel
 * reads it back, with as much around it as it likes. */
static void touch_data(struct model *m, unsigned p)
{
    if (p < pages_now(m) && !m->cached[p])
        m->exact = false;
    if (p < pages_now(m))
        m->cached[p] = true;
}

static bool may_drop(const struct model *m)
{
    return !(m->live[MAP_S] && m->loaded[MAP_S]) && !(m->live[MAP_P] && m->loaded[MAP_P]);
}

/* A random step the level allows and the model makes legal; false if the
 * draw was not legal (the caller draws again). */
static bool draw_step(uint64_t *rng, unsigned level, const struct model *m, struct file_step *s)
{
    static const enum file_op by_level[][10] = {
        [LEVEL_SHARED] = {FILE_STORE, FILE_STORE, FILE_LOAD, FILE_LOAD, FILE_PWRITE},
        [LEVEL_PRIVATE] = {FILE_STORE, FILE_STORE, FILE_LOAD, FILE_LOAD, FILE_PWRITE, FILE_MAP},
        [LEVEL_TRUNCATE] = {FILE_STORE, FILE_STORE, FILE_LOAD, FILE_LOAD, FILE_PWRITE, FILE_MAP,
                            FILE_TRUNCATE},
        [LEVEL_CACHE] = {FILE_STORE, FILE_STORE, FILE_LOAD, FILE_PWRITE, FILE_MAP, FILE_TRUNCATE,
                         FILE_DROP, FILE_DROP, FILE_MUNMAP, FILE_MUNMAP},
    };
    static const unsigned choices[] = {5, 6, 7, 10};
    enum file_map map = level == LEVEL_SHARED ? MAP_S : (enum file_map)rng_below(rng, 2);

    *s = (struct file_step){.op = by_level[level][rng_below(rng, choices[level])], .map = map};
    s->page = rng_below(rng, m->created);
    switch (s->op) {
    case FILE_MAP: return !m->live[map];
    case FILE_MUNMAP: return m->live[map];
    case FILE_STORE:
    case FILE_LOAD: return m->live[map];
    case FILE_PWRITE: s->map = MAP_S; return (uint64_t)s->page * page_size() < m->size;
    case FILE_TRUNCATE: {
        unsigned now = pages_now(m);
        if (m->truncations == 2 || now < 2)
            return false;
        s->size =
            (uint64_t)(1 + rng_below(rng, now - 1)) * page_size() + (rng_below(rng, 2) ? 100 : 0);
        return s->size < m->size;
    }
    case FILE_DROP: return m->drops < 2 && may_drop(m);
    case FILE_CREATE: return false;
    }
    return false;
}

/* The model after step s, and whether cached_pages is certain after it. */
static bool apply(struct model *m, struct file_step *s, char *letter)
{
    unsigned p = s->page;
    bool past_end = p >= pages_now(m);

    switch (s->op) {
    case FILE_CREATE: break;
    case FILE_MAP:
        m->live[s->map] = true;
        m->loaded[s->map] = false;
        break;
    case FILE_MUNMAP:
        m->live[s->map] = false;
        memset(s->map == MAP_S ? m->s_stored : m->p_stored, 0, sizeof m->s_stored);
        m->unmapped = true;
        break;
    case FILE_STORE:
        s->letter = (*letter)++;
        touch_data(m, p);
        m->sigbus_seen |= past_end;
        if (s->map == MAP_S) {
            m->s_store_seen = true;
            m->s_stored[p] = !past_end;
            m->changed[p] = true;
        } else {
            m->p_store_seen = true;
            m->p_stored[p] = !past_end;
        }
        break;
    case FILE_LOAD:
        touch_data(m, p);
        m->loaded[s->map] = true;
        m->load_seen = true;
        m->sigbus_seen |= past_end;
        m->copy_lost |= past_end && s->map == MAP_P && m->zapped[p];
        m->p_sees_file_change |= s->map == MAP_P && !past_end && m->changed[p] && !m->p_stored[p];
        break;
    case FILE_PWRITE:
        s->letter = (*letter)++;
        touch_data(m, p);
        m->changed[p] = m->pwrite_seen = true;
        break;
    case FILE_TRUNCATE:
        m->size = s->size;
        m->truncations++;
        for (unsigned i = pages_now(m); i < m->created; i++) {
            m->zapped[i] |= m->p_stored[i];
            m->cached[i] = m->s_stored[i] = m->p_stored[i] = false;
        }
        break;
    case FILE_DROP:
        m->drops++;
        for (unsigned i = 0; i < m->created; i++) {
            m->cached[i] = m->live[MAP_S] && m->s_stored[i];
            m->kept_by_mapping |= m->exact && m->cached[i];
        }
        break;
    }
    return m->exact;
}

static bool shows_its_level(const struct model *m, unsigned level)
{
    switch (level) {
    case LEVEL_SHARED: return m->s_store_seen && m->pwrite_seen && m->load_seen;
    case LEVEL_PRIVATE: return m->p_store_seen && m->p_sees_file_change;
    case LEVEL_TRUNCATE: return m->p_store_seen && m->sigbus_seen && m->copy_lost;
    default: return m->kept_by_mapping && m->unmapped;
    }
}

static bool try_scenario(uint64_t *rng, unsigned level)
{
    struct model m = {.exact = true};
    unsigned steps = 7 + level + rng_below(rng, 4);
    char letter = 'P';

    m.created = 4 + rng_below(rng, 7);
    m.size = (uint64_t)m.created * page_size();
    for (unsigned i = 0; i < m.created; i++)
        m.cached[i] = true;
    scenario_now.count = 0;
    scenario_now.steps[scenario_now.count] =
        (struct file_step){.op = FILE_CREATE, .pages = m.created};
    scenario_now.asked_cached[scenario_now.count++] = true;
    scenario_now.steps[scenario_now.count] = (struct file_step){.op = FILE_MAP, .map = MAP_S};
    scenario_now.asked_cached[scenario_now.count++] = apply(&m, &scenario_now.steps[1], &letter);
    for (unsigned draws = 0; scenario_now.count < steps && draws < 1000; draws++) {
        struct file_step s;
        if (!draw_step(rng, level, &m, &s))
            continue;
        scenario_now.asked_cached[scenario_now.count] = apply(&m, &s, &letter);
        scenario_now.steps[scenario_now.count++] = s;
    }
    return scenario_now.count == steps && shows_its_level(&m, level);
}

static void describe_step(const struct file_step *s, char *buf, size_t cap)
{
    switch (s->op) {
    case FILE_CREATE:
        snprintf(buf, cap, "write a file of %u pages ('a' to '%c')", s->pages, 'a' + s->pages - 1);
        break;
    case FILE_MAP:
        snprintf(buf, cap, "map it %s as %s", s->map == MAP_S ? "MAP_SHARED" : "MAP_PRIVATE",
                 file_map_names[s->map]);
        break;
    case FILE_STORE:
        snprintf(buf, cap, "store '%c' into page %u through %s", s->letter, s->page,
                 file_map_names[s->map]);
        break;
    case FILE_LOAD:
        snprintf(buf, cap, "load page %u through %s", s->page, file_map_names[s->map]);
        break;
    case FILE_PWRITE: snprintf(buf, cap, "pwrite '%c' into page %u", s->letter, s->page); break;
    case FILE_TRUNCATE: {
        uint64_t whole = s->size / page_size(), rest = s->size % page_size();
        const char *unit = whole == 1 ? "page" : "pages";
        if (rest == 0)
            snprintf(buf, cap, "ftruncate to %llu %s", (unsigned long long)whole, unit);
        else
            snprintf(buf, cap, "ftruncate to %llu %s + %llu bytes", (unsigned long long)whole, unit,
                     (unsigned long long)rest);
        break;
    }
    case FILE_DROP: snprintf(buf, cap, "fdatasync + POSIX_FADV_DONTNEED"); break;
    case FILE_MUNMAP: snprintf(buf, cap, "munmap %s", file_map_names[s->map]); break;
    }
}

void generate_scenario(uint64_t seed, unsigned level, struct scn_script *script)
{

    scn_draw_scenario(seed, level, try_scenario);
    snprintf(script->title, sizeof script->title, "a file of %u pages; S maps it MAP_SHARED%s",
             scenario_now.steps[0].pages, level == LEVEL_SHARED ? "" : ", P MAP_PRIVATE");
    for (unsigned i = 0; i < scenario_now.count; i++) {
        const struct file_step *s = &scenario_now.steps[i];
        char text[SCN_TEXT_MAX];
        describe_step(s, text, sizeof text);
        unsigned step = scn_add_step(script, "%s", text);
        if (scenario_now.asked_cached[i])
            scn_ask(script, step, FACT_CACHED);
        if (s->op == FILE_STORE || s->op == FILE_LOAD)
            scn_ask(script, step, FACT_ACCESS);
        if (s->op == FILE_STORE || s->op == FILE_LOAD || s->op == FILE_PWRITE)
            scn_ask(script, step, FACT_READ);
    }
}
