/*
 * basic.c - the allocator in one process at a time: smoke_init, hooks,
 * single, walk_tiles, coalesce, two_views.
 */
#include "driver.h"

#include "cli.h"
#include "rng.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SMALL_REGION = 1 << 20 };

void test_smoke_init(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    region_create(SMALL_REGION, true);
    lab_pass("sh_init(region, %d) returned 0", SMALL_REGION);
}

/* ---------------------------------------------------------------- hooks */

/* The calls of sh_hook one operation made, against what sh.h says. */
static void expect_hooks(const unsigned before[SH_HOOK_POINTS], const unsigned want[SH_HOOK_POINTS],
                         const char *call)
{
    for (int p = 0; p < SH_HOOK_POINTS; p++) {
        unsigned made = hook_hits((enum sh_hook_point)p) - before[p];
        if (made != want[p])
            lab_fail("%s called sh_hook(%s) %u times; expected %u (see sh.h: where to call it)",
                     call, hook_names[p], made, want[p]);
    }
}

static void snapshot_hooks(unsigned hits[SH_HOOK_POINTS])
{
    for (int p = 0; p < SH_HOOK_POINTS; p++)
        hits[p] = hook_hits((enum sh_hook_point)p);
}

void test_hooks(int argc, char *argv[])
{
    static const unsigned alloc_hooks[] = {1, 1, 1}, free_hooks[] = {1, 0, 1};
    struct worker w;
    unsigned before[SH_HOOK_POINTS];
    uint32_t blocks[16];
    char call[64];

    (void)argc;
    (void)argv;
    driver_start(&w, SMALL_REGION);
    for (int i = 0; i < 16; i++) {
        snapshot_hooks(before);
        blocks[i] = take_block(&w, 24 + 40 * (size_t)i);
        snprintf(call, sizeof call, "sh_alloc(%d)", 24 + 40 * i);
        expect_hooks(before, alloc_hooks, call);
    }
    for (int i = 0; i < 16; i += 2) { /* a free, and an allocation from the free list */
        snapshot_hooks(before);
        give_block(&w, blocks[i]);
        expect_hooks(before, free_hooks, "sh_free");
        snapshot_hooks(before);
        take_block(&w, 24);
        expect_hooks(before, alloc_hooks, "sh_alloc(24), with free blocks to choose from");
    }
    snapshot_hooks(before);
    if (sh_alloc(w.view, SMALL_REGION) != 0)
        lab_fail("sh_alloc(%d) in a %d-byte region returned a block; expected 0 (ENOMEM)",
                 SMALL_REGION, SMALL_REGION);
    for (int p = SH_HOOK_CHOSEN; p < SH_HOOK_POINTS; p++)
        if (hook_hits((enum sh_hook_point)p) != before[p])
            lab_fail("sh_alloc(%d), which failed, called sh_hook(%s); a failing sh_alloc chooses "
                     "no block and changes nothing",
                     SMALL_REGION, hook_names[p]);
    lab_pass("sh_alloc calls each hook once, sh_free SH_HOOK_LOCKED and SH_HOOK_UPDATING once, a "
             "failing sh_alloc neither CHOSEN nor UPDATING");
}

/* --------------------------------------------------------------- single */

void test_single(int argc, char *argv[])
{
    struct worker w;
    uint32_t blocks[600];
    size_t n = 0;

    (void)argc;
    (void)argv;
    region_create(SMALL_REGION, false);
    ledger_create();
    errno = 0;
    if (sh_init(region.reservation, 4096) != -1 || errno != EINVAL)
        lab_fail("sh_init(region, 4096) returned a region (errno %d); expected -1 with EINVAL: a "
                 "region has at least SH_REGION_MIN (%d) bytes",
                 errno, SH_REGION_MIN);
    if (sh_init(region.reservation, SMALL_REGION) != 0)
        lab_fail("sh_init(region, %d) returned -1 (errno %d); expected 0", SMALL_REGION, errno);
    worker_start(&w, 0, region.reservation);
    errno = 0;
    if (sh_alloc(w.view, 0) != 0 || errno != EINVAL)
        lab_fail("sh_alloc(region, 0) returned a block or left errno %d; expected 0 with EINVAL",
                 errno);
    for (size_t size = 1; size <= 300; size++)
        blocks[n++] = take_block(&w, size);
    blocks[n++] = take_block(&w, 4096);
    blocks[n++] = take_block(&w, 65536);
    for (size_t i = 0; i < n; i += 2)
        give_block(&w, blocks[i]);
    for (size_t size = 1; size <= 300; size += 2) /* into the holes, or from the top */
        take_block(&w, size);
    errno = 0;
    if (sh_alloc(w.view, SMALL_REGION) != 0 || errno != ENOMEM)
        lab_fail("sh_alloc(%d) in a %d-byte region returned a block or errno %d; expected 0 with "
                 "ENOMEM",
                 SMALL_REGION, SMALL_REGION, errno);
    errno = 0;
    if (sh_alloc(w.view, SIZE_MAX) != 0 || errno != ENOMEM)
        lab_fail("sh_alloc(SIZE_MAX) returned a block or errno %d; expected 0 with ENOMEM", errno);
    while (w.live_count > 0)
        give_block(&w, w.live[w.live_count - 1]);
    uint32_t fills = 0;
    while (try_take_block(&w, 1000) != UINT32_MAX) /* to the last byte, then ENOMEM */
        fills++;
    if (fills < SMALL_REGION / 2 / 1008)
        lab_fail("the empty %d-byte region gave only %u blocks of 1000 bytes before ENOMEM; "
                 "expected at least %d (half of it)",
                 SMALL_REGION, fills, SMALL_REGION / 2 / 1008);
    while (w.live_count > 0)
        give_block(&w, w.live[w.live_count - 1]);
    lab_pass("blocks of 1 to 300 bytes, 4 KiB and 64 KiB: aligned, inside the region, never "
             "overlapping, their bytes intact; EINVAL and ENOMEM as sh.h says; %u blocks of 1000 "
             "bytes fill 1 MiB",
             fills);
}

/* ----------------------------------------------------------- walk_tiles */

/* A size for a random block: mostly small, now and then up to 4 KiB. */
static size_t random_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);

    return 1 + (size_t)(r % 8 == 0 ? (r >> 8) % 4096 : (r >> 8) % 256);
}

void test_walk_tiles(int argc, char *argv[])
{
    uint64_t ops = lab_arg(argc, argv, "ops", 3000), rng = lab_seed() * 7 + 1;
    struct worker w;
    char when[96];

    driver_start(&w, SMALL_REGION);
    check_walk(w.view, "the walk of a fresh region", 0);
    for (uint64_t i = 1; i <= ops; i++) {
        uint64_t r = rng_next(&rng);
        if (w.live_count == 0 || (w.live_count < 400 && r % 100 < 60))
            take_block(&w, random_size(&rng));
        else
            give_block(&w, w.live[(r >> 8) % w.live_count]);
        if (i % 250 == 0) {
            snprintf(when, sizeof when, "the walk after %" PRIu64 " calls (seed %" PRIu64 ")", i,
                     lab_seed());
            check_walk(w.view, when, 0);
        }
    }
    while (w.live_count > 0)
        give_block(&w, w.live[w.live_count - 1]);
    check_walk(w.view, "the walk once every block was freed", 0);
    lab_pass("%" PRIu64 " random calls: every walk tiled the region, its used extents exactly the "
             "blocks held",
             ops);
}

/* Free every step-th of the blocks w holds, from the first. */
static void give_every(struct worker *w, uint32_t step)
{
    uint32_t count = w->live_count, *ids = malloc((count + 1) * sizeof *ids);

    if (ids == NULL)
        die_errno("malloc");
    memcpy(ids, w->live, count * sizeof *ids);
    for (uint32_t k = 0; k < count; k += step)
        give_block(w, ids[k]);
    free(ids);
}

/* ------------------------------------------------------------- coalesce */

/* Shuffle the records w holds (seeded). */
static void shuffle_live(struct worker *w, uint64_t *rng)
{
    for (uint32_t i = w->live_count; i > 1; i--) {
        uint32_t j = (uint32_t)(rng_next(rng) % i), t = w->live[i - 1];
        w->live[i - 1] = w->live[j];
        w->live[j] = t;
    }
}

/* Once everything is free, a block of three quarters of the region fits. */
static void expect_one_big_block(struct worker *w, const char *after)
{
    size_t big = region.size / 4 * 3;
    uint64_t largest, extents;
    uint32_t id = try_take_block(w, big);

    if (id == UINT32_MAX) {
        walk_free_space(w->view, &largest, &extents);
        lab_fail("%s, sh_alloc(%zu) in the empty %zu-byte region returned 0 (ENOMEM); the walk "
                 "shows %" PRIu64 " free extents, the largest %" PRIu64 " bytes: sh_free must "
                 "merge a freed block with its free neighbours",
                 after, big, region.size, extents, largest);
    }
    give_block(w, id);
}

void test_coalesce(int argc, char *argv[])
{
    uint64_t rng = lab_seed() * 13 + 5, largest, extents;
    struct worker w;

    (void)argc;
    (void)argv;
    driver_start(&w, SMALL_REGION);
    while (try_take_block(&w, 200) != UINT32_MAX)
        ;
    shuffle_live(&w, &rng);
    while (w.live_count > 0)
        give_block(&w, w.live[w.live_count - 1]);
    expect_one_big_block(&w, "after filling the region with 200-byte blocks and freeing them all "
                             "in a random order");
    while (try_take_block(&w, random_size(&rng)) != UINT32_MAX)
        ;
    shuffle_live(&w, &rng);
    give_every(&w, 2); /* every other one, then the rest */
    while (w.live_count > 0)
        give_block(&w, w.live[w.live_count - 1]);
    expect_one_big_block(&w, "after filling the region with blocks of random sizes and freeing "
                             "every other one, then the rest");
    fill_until_enomem(&w, 16);
    walk_free_space(w.view, &largest, &extents);
    if (largest >= 128)
        lab_fail("sh_alloc(16) returned ENOMEM while the walk shows a free extent of %" PRIu64
                 " bytes: free space that no allocation can reach",
                 largest);
    release_fill(&w);
    expect_one_big_block(&w, "after filling the region with 16-byte blocks and freeing them");
    lab_pass("freed blocks merge: after each fill and free, one block of three quarters of the "
             "region fits; full, no free extent of 128 bytes is left");
}

/* ------------------------------------------------------------ two_views */

/* In a process of its own, at view 1 (view 0 gone): read, free, allocate. */
static void second_view(struct worker *w, void *arg)
{
    (void)arg;
    test_step = "walking the region through a second view";
    check_walk(w->view, "the walk through a second view, at another address", 0);
    for (uint32_t id = 0; id < DRIVER_RECORDS; id++) /* the first view's blocks */
        if (atomic_load(&ledger->records[id].state) == RECORD_LIVE)
            give_block(w, id);
    for (int i = 0; i < 60; i++)
        take_block(w, 16 + (size_t)i * 24);
    give_every(w, 2);
    check_walk(w->view, "the walk through the second view, after it freed and allocated", 0);
}

void test_two_views(int argc, char *argv[])
{
    struct worker w;

    (void)argc;
    (void)argv;
    driver_start(&w, SMALL_REGION);
    for (int i = 0; i < 60; i++)
        take_block(&w, 16 + (size_t)i * 24);
    give_every(&w, 3); /* free blocks, linked through view 0 */
    test_step = "a second process, its view of the region at another address";
    struct lab_child_end e =
        lab_watch_child(start_worker(1, second_view, NULL, NULL), CHILD_DEADLINE_MS, true);
    expect_worker_ok(1, &e,
                     "a process that maps the region at another address (the first "
                     "view not mapped there) walked, freed the first view's blocks and "
                     "allocated");
    w.live_count = 0; /* the second process freed them */
    check_walk(w.view, "the walk through the first view, after the second process", 0);
    lab_pass("blocks made through one view were walked and freed through another, at a "
             "different address; the first view agrees");
}
