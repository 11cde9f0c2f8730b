/*
 * 01_mmap_large_array - a large anonymous mapping costs nothing until it
 * is touched.
 *
 * Maps SIZE bytes of anonymous memory and shows, with the kernel's own
 * numbers, that the mapping appears in /proc/self/maps at once but the
 * resident set (RSS) grows only as pages are written, one minor page fault
 * per 4 KiB page.  Two pictures drawn from live data: the range's residency
 * (mincore) as it is touched a quarter at a time, and where the memory ends
 * up (VMA -> page table -> frames).  Then it varies the experiment:
 * MAP_POPULATE moves the faults into mmap itself, MADV_HUGEPAGE backs the
 * range with 2 MiB pages (512 times fewer faults), and malloc of the same
 * size turns out to be a fresh mapping of its own.
 *
 * Usage: 01_mmap_large_array [--size SIZE] [--mode touch|populate|hugepage|malloc|all]
 *
 * Look for: rss_after_mmap_kib equal to rss_before_kib, rss_after_touch_kib
 * larger by SIZE, minor_faults equal to pages in touch mode; the residency
 * rows filling up with '#'.
 */
#include "lesson01.h"

#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const char *const mode_names[] = {"touch", "populate", "hugepage", "malloc", "all", NULL};

static void usage(void)
{
    printf("Usage: %s [--size SIZE] [--mode touch|populate|hugepage|malloc|all]\n"
           "\n"
           "Map SIZE bytes of anonymous memory and watch RSS, /proc/self/maps and the\n"
           "page-fault counter as every page is touched.\n"
           "\n"
           "  -s, --size SIZE   bytes to map; K, M, G, T, P suffixes (default 256M)\n"
           "  -m, --mode MODE   touch     mmap, then write one byte per page\n"
           "                    populate  mmap with MAP_POPULATE (faults inside mmap)\n"
           "                    hugepage  madvise(MADV_HUGEPAGE) before touching\n"
           "                    malloc    the same size through malloc\n"
           "                    all       each of the above and a comparison (default)\n"
           "  -h, --help        show this help\n",
           prog_name());
}

/* Transparent huge pages can be used for an madvise'd range unless the
 * administrator set them to "never" or the kernel was built without them. */
static int thp_available(char *why, size_t cap)
{
    struct line_reader r;
    char line[128] = "";

    if (!line_reader_open(&r, "/sys/kernel/mm/transparent_hugepage/enabled")) {
        snprintf(why, cap, "this kernel has no transparent huge pages");
        return 0;
    }
    line_reader_next(&r, line, sizeof line);
    line_reader_close(&r);
    if (strstr(line, "[never]") != NULL) {
        snprintf(why, cap, "transparent huge pages are set to never here");
        return 0;
    }
    return 1;
}

/* Map size bytes starting at a multiple of align, by over-mapping and
 * trimming both ends: the kernel can only use a huge page where a whole,
 * aligned 2 MiB range lies inside the mapping. */
static char *map_aligned(size_t size, size_t align)
{
    char *raw = map_anonymous(size + align, MAP_PRIVATE);
    char *start = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    size_t head = (size_t)(start - raw), tail = align - head;

    if (head > 0)
        unmap(raw, head);
    if (tail > 0)
        unmap(start + size, tail);
    return start;
}

/* Refuse, before touching anything, a size the kernel cannot map at all
 * (ENOMEM from mmap) or one larger than the memory available right now
 * (touching it would summon the OOM killer). */
static void check_size_fits(size_t size)
{
    uint64_t available = mem_available_bytes();

    unmap(map_anonymous(size, MAP_PRIVATE | MAP_NORESERVE), size);
    if (size > available / 10 * 9) {
        char have[32], want[32];
        die("--size %s: touching it needs more than the %s of memory available now",
            human_size(size, want), human_size(available, have));
    }
}

static void release_mapping(char *base, size_t size)
{
    unmap(base, size);
}

static void release_malloc(char *base, size_t size)
{
    (void)size;
    free(base);
}

/* mmap (optionally with MAP_POPULATE), counting what the call itself costs. */
static char *timed_map(struct trial *t, size_t size, int extra_flags)
{
    uint64_t faults = minor_faults(), start = now_ns();
    char *base = map_anonymous(size, MAP_PRIVATE | extra_flags);

    t->setup_ns = now_ns() - start;
    t->setup_faults = minor_faults() - faults;
    return base;
}

static void run_touch(struct trial *t, size_t size)
{
    struct touch_setup setup = {
        .size = size, .before = take_baseline(), .release = release_mapping};

    setup.base = timed_map(t, size, 0);
    /* If THP is "always", opt out: this mode shows the 4 KiB baseline. */
    madvise(setup.base, size, MADV_NOHUGEPAGE);
    measure_touch(t, &setup);
}

static void describe_populate(const struct trial *t, const void *ctx)
{
    (void)ctx;
    printf("MAP_POPULATE: mmap itself took %llu minor faults and %.1f ms\n",
           (unsigned long long)t->setup_faults, t->setup_ns / 1e6);
}

static void run_populate(struct trial *t, size_t size)
{
    struct touch_setup setup = {.size = size,
                                .before = take_baseline(),
                                .release = release_mapping,
                                .describe = describe_populate};

    setup.base = timed_map(t, size, MAP_POPULATE);
    measure_touch(t, &setup);
}

static void describe_hugepage(const struct trial *t, const void *ctx)
{
    (void)t;
    (void)ctx;
    printf("the range starts on a 2 MiB boundary and is marked MADV_HUGEPAGE\n");
}

static void run_hugepage(struct trial *t, size_t size)
{
    const size_t huge = 2u << 20;
    char why[128];

    if (!thp_available(why, sizeof why)) {
        t->skipped = 1;
        printf("skipped: %s\n", why);
        fact_word("mode", "hugepage");
        fact_int("skipped", 1);
        facts_end();
        return;
    }
    struct touch_setup setup = {.size = size,
                                .before = take_baseline(),
                                .release = release_mapping,
                                .describe = describe_hugepage};
    setup.base = map_aligned(size, huge);
    if (madvise(setup.base, size, MADV_HUGEPAGE) != 0)
        die_errno("madvise(MADV_HUGEPAGE)");
    measure_touch(t, &setup);
}

/* Where malloc's block landed, and which part of its maps line is new. */
struct malloc_place {
    char *block;
    size_t size;
    struct mapping vma;  /* the maps line that contains the block */
    uintptr_t new_start; /* the part of it that malloc added ... */
    uintptr_t new_end;   /* ... (equal when it added nothing there) */
    int own_mapping;     /* glibc mapped the block by itself */
};

/* The block has an anonymous mapping of its own; the maps line may be wider
 * when the kernel merged it with a neighbour. */
static void say_own_mapping(const struct malloc_place *p, uint64_t offset)
{
    uint64_t vma_bytes = p->vma.end - p->vma.start, own_bytes = p->new_end - p->new_start;
    char own_text[64], extra[32];

    printf("malloc(%zu) returned %p, %llu bytes into an anonymous mapping of its own:\n"
           "%lx-%lx, %s, the size plus %s for malloc's header and rounding to pages\n",
           p->size, (void *)p->block, (unsigned long long)offset, (unsigned long)p->new_start,
           (unsigned long)p->new_end, exact_size(own_bytes, own_text),
           human_size(own_bytes - p->size, extra));
    if (vma_bytes > own_bytes) {
        char vma_text[64], merged[64];
        printf("/proc/self/maps shows it inside one line of %s: the kernel merged it with\n"
               "%s of an anonymous mapping beside it that was there before malloc\n",
               exact_size(vma_bytes, vma_text), exact_size(vma_bytes - own_bytes, merged));
    }
}

/* The block is one of many in a mapping glibc shares out (the heap). */
static void say_shared_out(const struct malloc_place *p, uint64_t offset)
{
    char vma_text[64];

    printf("malloc(%zu) returned %p, %llu bytes into %s, %s that glibc\n"
           "carves into many blocks: a request this small is not given a mapping of its own\n",
           p->size, (void *)p->block, (unsigned long long)offset,
           p->vma.path[0] != '\0' ? p->vma.path : "an anonymous mapping (an arena)",
           exact_size(p->vma.end - p->vma.start, vma_text));
}

static void describe_malloc(const struct trial *t, const void *ctx)
{
    const struct malloc_place *p = ctx;
    uint64_t vma_bytes = p->vma.end - p->vma.start, own_bytes = p->new_end - p->new_start;
    uint64_t offset = (uintptr_t)p->block - (p->own_mapping ? p->new_start : p->vma.start);

    (void)t;
    if (p->own_mapping)
        say_own_mapping(p, offset);
    else
        say_shared_out(p, offset);
    fact_word("mode", "malloc");
    fact_int("malloc_own_mapping", p->own_mapping);
    fact_uint("malloc_offset_bytes", offset);
    fact_uint("mapping_bytes", vma_bytes);
    if (p->own_mapping) {
        fact_uint("own_mapping_bytes", own_bytes);
        fact_uint("merged_bytes", vma_bytes - own_bytes);
    }
    facts_end();
}

static void run_malloc(struct trial *t, size_t size)
{
    static struct maps_snapshot before_malloc; /* 4 KiB: not on the stack */
    static struct malloc_place place;

    maps_snapshot_take(&before_malloc);
    struct touch_setup setup = {.size = size,
                                .before = take_baseline(),
                                .release = release_malloc,
                                .describe = describe_malloc,
                                .ctx = &place};
    uint64_t faults = minor_faults(), start = now_ns();
    place.block = malloc(size);
    if (place.block == NULL)
        die_errno("malloc");
    t->setup_ns = now_ns() - start;
    t->setup_faults = minor_faults() - faults;
    place.size = size;
    if (!mapping_find(place.block, &place.vma))
        die("malloc returned %p, which no mapping contains", (void *)place.block);
    maps_new_extent(&before_malloc, &place.vma, place.block, &place.new_start, &place.new_end);
    place.own_mapping = place.vma.path[0] == '\0' && place.new_end - place.new_start >= size;
    setup.base = place.block;
    measure_touch(t, &setup);
}

/* Touch size bytes once, unmeasured, so that every mode of "all" starts from
 * the same state.  On a virtual machine the first touch of memory that the
 * host has not backed yet can cost several times more than later ones. */
static void warm_up(size_t size)
{
    uint64_t start = now_ns();
    char *base = map_anonymous(size, MAP_PRIVATE);

    touch_pages(base, size, 1);
    unmap(base, size);
    printf("warm-up: touched and released once in %.1f ms\n", (now_ns() - start) / 1e6);
    fact_uint("warmup_ns", now_ns() - start);
    facts_end();
}

static void run_mode(struct trial *t, enum mode mode, size_t size)
{
    static const char *const titles[] = {
        [MODE_TOUCH] = "touch: mmap, then write one byte in every page",
        [MODE_POPULATE] = "populate: mmap with MAP_POPULATE, then write",
        [MODE_HUGEPAGE] = "hugepage: madvise(MADV_HUGEPAGE), then write",
        [MODE_MALLOC] = "malloc: the same size from the C library's malloc",
    };

    t->mode = mode;
    subheading("%s", titles[mode]);
    switch (mode) {
    case MODE_TOUCH: run_touch(t, size); break;
    case MODE_POPULATE: run_populate(t, size); break;
    case MODE_HUGEPAGE: run_hugepage(t, size); break;
    case MODE_MALLOC: run_malloc(t, size); break;
    default: break;
    }
}

int main(int argc, char *argv[])
{
    size_t size = 256u << 20;
    int mode = MODE_ALL;
    struct trial trials[MODE_ALL] = {0};
    char size_text[32];

    cli_init();
    parse_size_and_mode(argc, argv, &size, &mode, mode_names, usage);

    size_t pages = (size + page_size() - 1) / page_size();
    heading("01_mmap_large_array: %s of anonymous memory", human_size(size, size_text));
    printf("%zu pages of %zu bytes\n", pages, page_size());
    fact_uint("size_bytes", size);
    fact_uint("page_bytes", page_size());
    fact_uint("pages", pages);
    facts_end();
    check_size_fits(size);
    prime_measurements();

    if (mode != MODE_ALL) {
        run_mode(&trials[mode], mode, size);
        return 0;
    }
    warm_up(size);
    for (int m = 0; m < MODE_ALL; m++)
        run_mode(&trials[m], (enum mode)m, size);
    print_comparison(trials, MODE_ALL);
    return 0;
}
