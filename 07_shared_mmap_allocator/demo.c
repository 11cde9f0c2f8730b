/*
 * demo.c - a parent and its forked child allocating from one region and
 * seeing each other's blocks, then one block of half the region (demo);
 * free and reuse, of blocks and of runs of spans (freelist).
 */
#include "cli.h"
#include "lesson07.h"
#include "out.h"
#include "procfs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { DEMO_REGION = 1 << 20, CHILD_SAW_NOTHING = 3 };

static uint64_t bump_bytes(struct shalloc *h)
{
    struct shalloc_stats st;

    shalloc_stats(h, &st);
    return st.spans_claimed * SHALLOC_SPAN_BYTES;
}

static void describe_region(struct shalloc *h)
{
    struct shalloc_stats st;
    char size_text[32];

    shalloc_stats(h, &st);
    printf("region: %s of MAP_SHARED | MAP_ANONYMOUS memory at %p\n"
           "  header and %d process slots: %" PRIu64 " bytes, then %" PRIu64
           " spans of %d KiB, claimed under the region lock by moving the bump offset\n",
           human_size(h->size, size_text), (void *)h->base, SHALLOC_SLOTS, st.data_offset,
           st.span_count, SHALLOC_SPAN_BYTES / 1024);
}

/* ---- demo -------------------------------------------------------------- */

/* The child of the demo: read the parent's block through the inherited
 * pointer, allocate one of its own and leave its offset in root 0. */
static int demo_child(void *arg)
{
    struct shalloc *h = arg;
    const char *parents = shalloc_pointer(h, atomic_load(shalloc_root(h, 1)));
    bool saw_parent = parents != NULL && strncmp(parents, "hello from the parent", 21) == 0;

    printf("child  (pid %d) reads the parent's block at %p: \"%s\"\n", (int)getpid(),
           (const void *)parents, parents);
    char *mine = alloc_or_die(h, 64);
    snprintf(mine, 64, "hello from the child, pid %d", (int)getpid());
    atomic_store(shalloc_root(h, 0), shalloc_offset(h, mine));
    printf("child  allocated 64 bytes at offset %" PRIu64 " (%p) and wrote \"%s\"\n",
           shalloc_offset(h, mine), (void *)mine, mine);
    printf("child  sees the bump offset at %" PRIu64
           " bytes: its first block claimed a span of its own\n",
           bump_bytes(h));
    close_region(h); /* give back the rest of its span */
    return saw_parent ? 0 : CHILD_SAW_NOTHING;
}

/* One block of half the region: a run of whole spans, and address space
 * only until it is touched (the region is anonymous shared memory). */
static void show_large_block(struct shalloc *h)
{
    char *big = alloc_or_die(h, h->size / 2), size_text[32];
    size_t bytes = shalloc_block_size(h, big);

    subheading("one block of half the region");
    big[0] = 'a'; /* its first page and its last */
    big[bytes - 1] = 'z';
    long long region_rss = smaps_kib(h->base, "Rss");
    printf("alloc(%zu) at offset %" PRIu64 ": a run of %zu spans (%s); written at both ends,\n"
           "the region's resident memory in this process is %lld KiB of %zu KiB\n",
           h->size / 2, shalloc_offset(h, big), bytes / SHALLOC_SPAN_BYTES,
           human_size(bytes, size_text), region_rss, h->size / 1024);
    fact_word("step", "large_block");
    fact_uint("region_bytes", h->size);
    fact_uint("block_bytes", bytes);
    fact_int("region_rss_kib", region_rss);
    facts_end();
    shalloc_free(h, big);
}

/* Parent and child in one region; then one block of half of it. */
static bool fork_scene(const struct options *o)
{
    struct shalloc h;

    heading("07_shared_mmap_allocator: one allocator, parent and child");
    open_region(&h, NULL, o->size != 0 ? o->size : DEMO_REGION);
    describe_region(&h);

    char *mine = alloc_or_die(&h, 64);
    snprintf(mine, 64, "hello from the parent, pid %d", (int)getpid());
    atomic_store(shalloc_root(&h, 1), shalloc_offset(&h, mine));
    uint64_t bump_before = bump_bytes(&h);
    printf("parent (pid %d) allocated 64 bytes at offset %" PRIu64 " (%p) and wrote \"%s\"\n",
           (int)getpid(), shalloc_offset(&h, mine), (void *)mine, mine);
    printf("parent sees the bump offset at %" PRIu64 " bytes; now fork\n", bump_before);

    struct child_result r = child_run(demo_child, &h, CHILD_TIMEOUT_MS);
    bool child_saw_parent = child_ok(&r);
    if (r.end != CHILD_EXITED || (r.code != 0 && r.code != CHILD_SAW_NOTHING)) {
        char what[64];
        die("the child failed: %s", child_describe(&r, what));
    }

    uint64_t child_off = atomic_load(shalloc_root(&h, 0));
    const char *childs = shalloc_pointer(&h, child_off);
    bool parent_saw_child = childs != NULL && strncmp(childs, "hello from the child", 20) == 0;
    uint64_t bump_after = bump_bytes(&h);
    printf("parent after the child ended: root 0 holds offset %" PRIu64 " -> \"%s\"\n", child_off,
           childs);
    printf("parent sees the bump offset at %" PRIu64 " bytes: the child's claim is shared\n",
           bump_after);
    shalloc_free(&h, (void *)childs); /* any process may free any block */
    shalloc_free(&h, mine);
    show_large_block(&h);
    bool ok = report_check(&h);

    fact_word("command", "demo");
    fact_uint("parent_offset", shalloc_offset(&h, mine));
    fact_uint("child_offset", child_off);
    fact_int("child_saw_parent", child_saw_parent);
    fact_int("parent_saw_child", parent_saw_child);
    fact_uint("bump_before_bytes", bump_before);
    fact_uint("bump_after_bytes", bump_after);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    close_region(&h);
    return ok && child_saw_parent && parent_saw_child;
}

/*
 * The demo: the fork scene, then a short pass of each claim the tutorial
 * gets wrong, so that the default run shows them all: the naive bump races
 * (and fetch-add does not), processes killed by SIGKILL leave a region the
 * checker passes, and a pointer stored by another process means nothing
 * here while its offset does.
 */
int run_demo(const struct options *o)
{
    const struct options race = {.procs = 2, .ops = 100000};
    const struct options crash = {.procs = 2, .ops = 5000, .kills = 4, .seed = 1};
    const struct options share = {0};

    bool ok = fork_scene(o);
    ok = run_race(&race) == 0 && ok;
    ok = run_crash(&crash) == 0 && ok;
    ok = run_share(&share) == 0 && ok;
    printf("\nThe commands race, crash and share run these at length; --help lists them all.\n");
    return ok ? 0 : 1;
}

/* ---- freelist ---------------------------------------------------------- */

/* A free block comes straight back, last freed first. */
static void show_reuse(struct shalloc *h)
{
    subheading("free, then allocate the same size: the same block comes back");
    void *a = alloc_or_die(h, 100);
    uint64_t first = shalloc_offset(h, a);
    shalloc_free(h, a);
    void *b = alloc_or_die(h, 100);
    printf("alloc(100) at offset %" PRIu64 ", freed, alloc(100) again at offset %" PRIu64 "\n",
           first, shalloc_offset(h, b));
    void *c = alloc_or_die(h, 100);
    shalloc_free(h, b);
    shalloc_free(h, c);
    void *d = alloc_or_die(h, 100);
    printf("free x (%" PRIu64 ") then y (%" PRIu64 "): the next alloc gets %" PRIu64
           ", the last one freed\n",
           first, shalloc_offset(h, c), shalloc_offset(h, d));
    fact_word("step", "reuse");
    fact_int("same_block", shalloc_offset(h, b) == first);
    fact_int("last_freed_first", d == c);
    facts_end();
    shalloc_free(h, d);
}

/* Requests are rounded up to a class: the difference is internal waste. */
static void show_classes(struct shalloc *h)
{
    static const size_t requests[] = {1, 16, 17, 100, 513, 1500, 4096};
    uint64_t asked = 0, given = 0;

    subheading("requests are rounded up to one of %d size classes", SHALLOC_CLASSES);
    printf("  %8s %8s %8s\n", "request", "block", "waste");
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        void *p = alloc_or_die(h, requests[i]);
        size_t block = shalloc_block_size(h, p);
        printf("  %8zu %8zu %8zu\n", requests[i], block, block - requests[i]);
        asked += requests[i];
        given += block;
        shalloc_free(h, p);
    }
    fact_word("step", "classes");
    fact_uint("requested_bytes", asked);
    fact_uint("block_bytes", given);
    fact_uint("internal_waste_pct", (given - asked) * 100 / given);
    facts_end();
}

/* The child takes one block of 200 bytes and leaves its offset in root 0. */
static int take_one(void *arg)
{
    struct shalloc *h = arg;

    atomic_store(shalloc_root(h, 0), shalloc_offset(h, alloc_or_die(h, 200)));
    close_region(h);
    return 0;
}

static uint64_t child_takes_one(struct shalloc *h)
{
    struct child_result r = child_run(take_one, h, CHILD_TIMEOUT_MS);

    if (!child_ok(&r)) {
        char what[64];
        die("child: %s", child_describe(&r, what));
    }
    return atomic_load(shalloc_root(h, 0));
}

/* A freed block waits in the freeing process's cache, not for everyone. */
static void show_caches(struct shalloc *h)
{
    subheading("a freed block stays in the cache of the process that freed it");
    void *mine = alloc_or_die(h, 200);
    uint64_t off = shalloc_offset(h, mine);
    shalloc_free(h, mine);
    uint64_t first = child_takes_one(h);
    printf("parent freed offset %" PRIu64 "; a child's alloc(200) got %" PRIu64 "\n", off, first);
    shalloc_flush(h);
    uint64_t second = child_takes_one(h);
    printf("after the parent flushed its cache, the next child got %" PRIu64 "\n", second);
    shalloc_free(h, shalloc_pointer(h, first)); /* blocks the children allocated */
    shalloc_free(h, shalloc_pointer(h, second));
    fact_word("step", "caches");
    fact_int("child_got_freed_block", first == off);
    fact_int("child_got_it_after_flush", second == off);
    facts_end();
}

/* Free memory of one class cannot serve another: the price of classes. */
static void show_fragmentation(struct shalloc *h)
{
    enum { COUNT = 300 };
    void *blocks[COUNT];

    subheading("fragmentation: free bytes that cannot serve a request");
    for (int i = 0; i < COUNT; i++)
        blocks[i] = alloc_or_die(h, 48);
    for (int i = 0; i < COUNT; i += 2)
        shalloc_free(h, blocks[i]);
    struct shalloc_stats st;
    shalloc_stats(h, &st);
    uint64_t bump_before = bump_bytes(h);
    void *big = alloc_or_die(h, 2500);
    uint64_t bump_after = bump_bytes(h);
    printf("%d blocks of 48 bytes, every other one freed: %" PRIu64
           " bytes free or cached in the region,\n"
           "yet alloc(2500) had to claim a new span (bump %" PRIu64 " -> %" PRIu64 ")\n",
           COUNT, st.bytes_free + st.bytes_cached, bump_before, bump_after);
    print_class_table(h);
    fact_word("step", "fragmentation");
    fact_uint("free_bytes", st.bytes_free + st.bytes_cached);
    fact_int("new_span_for_2500", bump_after > bump_before);
    facts_end();
    shalloc_free(h, big);
    for (int i = 1; i < COUNT; i += 2)
        shalloc_free(h, blocks[i]);
}

/* A block above 4 KiB is a run of whole spans: freed, it is reused; two
 * freed side by side merge into one that serves a larger block; the last
 * one freed goes back to the wilderness. */
static void show_runs(struct shalloc *h)
{
    subheading("blocks above 4 KiB: runs of whole spans, merged when freed");
    uint64_t bump_before = bump_bytes(h);
    char *a = alloc_or_die(h, 40000);
    size_t run_bytes = shalloc_block_size(h, a);
    uint64_t first = shalloc_offset(h, a);
    shalloc_free(h, a);
    a = alloc_or_die(h, 40000);
    uint64_t again = shalloc_offset(h, a);
    printf("alloc(40000): a run of %zu spans (%zu bytes) at offset %" PRIu64
           "; freed, alloc(40000) again at %" PRIu64 "\n",
           run_bytes / SHALLOC_SPAN_BYTES, run_bytes, first, again);
    char *b = alloc_or_die(h, 40000), *guard = alloc_or_die(h, 20000);
    shalloc_free(h, a);
    shalloc_free(h, b);
    char *merged = alloc_or_die(h, 90000);
    uint64_t merged_at = shalloc_offset(h, merged);
    printf("alloc(40000) twice more, side by side, then a guard; the two freed merge into one\n"
           "free run of %zu spans, and alloc(90000) takes it, at offset %" PRIu64 "\n",
           2 * run_bytes / SHALLOC_SPAN_BYTES, merged_at);
    shalloc_free(h, merged);
    shalloc_free(h, guard);
    uint64_t bump_after = bump_bytes(h);
    printf("all freed: the runs merged back into the wilderness, the bump is back at %" PRIu64
           " bytes (it was %" PRIu64 ")\n",
           bump_after, bump_before);
    print_class_table(h);
    fact_word("step", "runs");
    fact_uint("run_bytes", run_bytes);
    fact_int("same_run", again == first);
    fact_int("merged_run_reused", merged_at == again);
    fact_int("back_to_wilderness", bump_after == bump_before);
    facts_end();
}

int run_freelist(const struct options *o)
{
    struct shalloc h;

    (void)o;
    heading("freelist: free blocks are reused, class by class");
    open_region(&h, NULL, DEMO_REGION);
    show_reuse(&h);
    show_classes(&h);
    show_caches(&h);
    show_fragmentation(&h);
    show_runs(&h);
    bool ok = report_check(&h);
    fact_word("command", "freelist");
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    close_region(&h);
    return ok ? 0 : 1;
}
