/*
 * picture.c - the two pictures of lesson 01, drawn from live data.
 *
 * Residency, from mincore(): one row per stage of the touch, one character
 * per chunk of pages (at most 64 chunks):
 *
 *   after mmap    |................................................................|
 *   1/4 touched   |################................................................|
 *   ...
 *   '#' every page of the chunk resident, '+' some, '.' none
 *
 * Layers, after the touch: the VMA (a line of /proc/self/maps), the page
 * table entries the faults wrote (VmPTE), and the frames they point at (RSS,
 * AnonHugePages; frame numbers from /proc/self/pagemap when the kernel shows
 * them, which needs CAP_SYS_ADMIN).
 */
#include "lesson01.h"

#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HUGE_KIB = 2048, VEC_PAGES = 4096 };

/* mincore's answer for one window of pages.  Static: its pages are resident
 * after the first call, so later calls add nothing to RSS. */
static unsigned char vec[VEC_PAGES];

/* Resident pages among count pages from first; -1 if part of the range is
 * not mapped at all (mincore fails with ENOMEM). */
static long long resident_in(const char *first, uint64_t count)
{
    long long resident = 0;

    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < VEC_PAGES ? count - done : VEC_PAGES;
        if (mincore((void *)(first + done * page_size()), n * page_size(), vec) != 0) {
            if (errno == ENOMEM)
                return -1;
            die_errno("mincore");
        }
        for (uint64_t i = 0; i < n; i++)
            resident += vec[i] & 1;
        done += n;
    }
    return resident;
}

void residency_scan(struct residency *r, const char *stage, const char *base, size_t size)
{
    r->stage = stage;
    r->pages = size / page_size();
    r->chunk_pages = (r->pages + RESIDENCY_COLUMNS - 1) / RESIDENCY_COLUMNS;
    r->columns = (unsigned)((r->pages + r->chunk_pages - 1) / r->chunk_pages);
    r->resident = 0;
    r->full_chunks = r->partial_chunks = 0;
    r->mapped = 1;
    for (unsigned c = 0; c < r->columns; c++) {
        uint64_t first = c * r->chunk_pages;
        uint64_t count = r->pages - first < r->chunk_pages ? r->pages - first : r->chunk_pages;
        long long resident = resident_in(base + first * page_size(), count);
        if (resident < 0) {
            r->mapped = 0;
            r->row[0] = '\0';
            return;
        }
        r->resident += (uint64_t)resident;
        r->row[c] = resident == 0 ? '.' : (uint64_t)resident == count ? '#' : '+';
        r->full_chunks += r->row[c] == '#';
        r->partial_chunks += r->row[c] == '+';
    }
    r->row[r->columns] = '\0';
}

const char *exact_size(uint64_t bytes, char buf[static 64])
{
    uint64_t unit = 1;
    char whole[32];

    while (unit < (UINT64_C(1) << 40) && bytes / (unit << 10) > 0)
        unit <<= 10;
    if (bytes % unit == 0 || unit == 1) {
        snprintf(buf, 64, "%s", human_size(bytes, whole));
    } else {
        char rest[32];
        snprintf(buf, 64, "%s + %s", human_size(bytes / unit * unit, whole),
                 human_size(bytes % unit, rest));
    }
    return buf;
}

static const char *stage_label(const char *stage)
{
    static const char *const names[][2] = {
        {"mapped", "after mmap"},       {"touched_25", "1/4 touched"},
        {"touched_50", "2/4 touched"},  {"touched_75", "3/4 touched"},
        {"touched_100", "all touched"}, {"released", "after release"},
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(stage, names[i][0]) == 0)
            return names[i][1];
    return stage;
}

void draw_residency(const struct residency stages[], int count)
{
    char chunk[64];

    printf("residency of the range (mincore), one character per %llu page%s (%s):\n"
           "'#' every page resident, '+' some, '.' none\n",
           (unsigned long long)stages[0].chunk_pages, stages[0].chunk_pages == 1 ? "" : "s",
           exact_size(stages[0].chunk_pages * page_size(), chunk));
    for (int i = 0; i < count; i++) {
        const struct residency *r = &stages[i];
        if (r->mapped)
            printf("  %-13s |%s| %llu of %llu pages\n", stage_label(r->stage), r->row,
                   (unsigned long long)r->resident, (unsigned long long)r->pages);
        else
            printf("  %-13s (no mapping there any more: mincore fails with ENOMEM)\n",
                   stage_label(r->stage));
    }
}

uint64_t huge_page_entries(const struct touch_record *rec)
{
    return rec->huge_kib > 0 ? (uint64_t)rec->huge_kib / HUGE_KIB : 0;
}

/* mincore counts a 2 MiB page as 512 resident pages of 4 KiB. */
uint64_t small_page_entries(const struct touch_record *rec)
{
    uint64_t resident = rec->stages[QUARTERS].resident;
    uint64_t in_huge = huge_page_entries(rec) * (HUGE_KIB * 1024 / page_size());

    return resident > in_huge ? resident - in_huge : 0;
}

/* "65536 x 4 KiB", "128 x 2 MiB", or both. */
static const char *frames_text(const struct touch_record *rec, char buf[static 64])
{
    uint64_t small = small_page_entries(rec), huge = huge_page_entries(rec);

    if (huge == 0)
        snprintf(buf, 64, "%llu x 4 KiB", (unsigned long long)small);
    else if (small == 0)
        snprintf(buf, 64, "%llu x 2 MiB", (unsigned long long)huge);
    else
        snprintf(buf, 64, "%llu x 2 MiB + %llu x 4 KiB", (unsigned long long)huge,
                 (unsigned long long)small);
    return buf;
}

/* "16384 entries for 4 KiB pages", "128 entries for 2 MiB pages", or both. */
static const char *entries_text(uint64_t small, uint64_t huge, char buf[static 96])
{
    if (huge == 0)
        snprintf(buf, 96, "%llu entries for 4 KiB pages", (unsigned long long)small);
    else if (small == 0)
        snprintf(buf, 96, "%llu entries for 2 MiB pages", (unsigned long long)huge);
    else
        snprintf(buf, 96, "%llu entries for 2 MiB pages and %llu for 4 KiB pages",
                 (unsigned long long)huge, (unsigned long long)small);
    return buf;
}

/* What the page tables' growth means, when it matches what the kernel does:
 * an entry of 8 bytes per 4 KiB page (a 4 KiB table maps 2 MiB), and for
 * each 2 MiB page one table of 4 KiB kept in reserve ("deposited"), so that
 * the huge page can be split into small ones later without allocating. */
static const char *pte_note(uint64_t small, uint64_t huge, long long growth_kib)
{
    long long tables_kib = (long long)((small + 511) / 512 + huge) * 4;

    if (growth_kib <= 0 || llabs(growth_kib - tables_kib) > 4)
        return ";"; /* a table that was there already, or something else */
    if (huge == 0)
        return ":\n               8 bytes per 4 KiB page, one 4 KiB table per 2 MiB;";
    if (small == 0)
        return ":\n               one 4 KiB table per 2 MiB page, unused, kept to split it later;";
    return ":\n               one 4 KiB table per 2 MiB, in use or kept to split a huge page later";
}

/* The first frames, or why they are not shown.  Said in words: a 2 MiB
 * page is 512 consecutive frames; 4 KiB pages come one by one from the
 * allocator's free lists, often adjacent, counting down. */
static void print_first_frames(const struct touch_record *rec)
{
    int up = 1, down = 1, shown = 0;

    if (!frame_visible(&rec->frames[0])) {
        printf("               frame numbers hidden: pagemap shows them only to CAP_SYS_ADMIN\n");
        return;
    }
    printf("               the range's first pages are frames");
    for (int i = 0; i < FRAMES_SHOWN && frame_visible(&rec->frames[i]); i++, shown++) {
        printf(" 0x%llx", (unsigned long long)rec->frames[i].pfn);
        up &= i == 0 || rec->frames[i].pfn == rec->frames[i - 1].pfn + 1;
        down &= i == 0 || rec->frames[i].pfn + 1 == rec->frames[i - 1].pfn;
    }
    printf("%s\n", shown < 2 ? ""
                   : up      ? " (consecutive)"
                   : down    ? " (adjacent, counting down)"
                             : " (not adjacent)");
}

void draw_layers(const struct touch_record *rec, const struct trial *t)
{
    uint64_t small = small_page_entries(rec), huge = huge_page_entries(rec);
    uint64_t faults = t->setup_faults + t->touch_faults;
    uint64_t before_touch = t->setup_faults > t->touch_faults ? 0 : rec->stages[0].resident;
    char vma_size[64], frames[64], resident[64], entries[96], before[48] = "";

    printf("where the memory was after the touch: VMA -> page table -> frames\n");
    printf("  [VMA]        %lx-%lx %s: %s of addresses, one line of /proc/self/maps\n",
           (unsigned long)rec->vma.start, (unsigned long)rec->vma.end, rec->vma.perms,
           exact_size(rec->vma.end - rec->vma.start, vma_size));
    printf("     |\n     v\n");
    long long pte_growth = rec->pte_touched - rec->before.pte_kib;
    if (before_touch > 0)
        snprintf(before, sizeof before, " (%llu were there before)",
                 (unsigned long long)before_touch);
    printf("  [page table] %s, VmPTE %lld -> %lld kB (%+lld kB)%s\n"
           "               written by %llu page faults %s%s\n",
           entries_text(small, huge, entries), rec->before.pte_kib, rec->pte_touched, pte_growth,
           pte_note(small, huge, pte_growth), (unsigned long long)faults,
           t->setup_faults > t->touch_faults ? "inside mmap (MAP_POPULATE)" : "while touching",
           before);
    printf("     |\n     v\n");
    printf("  [frames]     %s = %s of RAM: RSS %+lld KiB\n", frames_text(rec, frames),
           exact_size((small * page_size() + huge * HUGE_KIB * 1024), resident),
           (long long)rec->rss_touched - (long long)rec->before.rss_kib);
    print_first_frames(rec);
}
