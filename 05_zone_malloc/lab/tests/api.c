/*
 * api.c - the promises of mm.h, one test each: what a trace cannot say
 * (impossible sizes, zero sizes, calloc on reused memory) or says too
 * rarely (every size's alignment, realloc keeping the last bytes).
 */
#include "cli.h"
#include "driver.h"
#include "mm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Name the call about to be made, for a crash report and for messages. */
__attribute__((format(printf, 1, 2))) static const char *step(const char *fmt, ...)
{
    static char text[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    progress.step = text;
    progress.block = 0;
    return text;
}

static const char *errno_text(int err)
{
    static char buf[24];

    return err == 0 ? "unchanged" : errno_name(err, buf);
}

/* p (from call) is a block: not NULL, 16-byte aligned. */
static void expect_block(const char *call, void *p)
{
    char buf[160];

    if (p == NULL)
        lab_fail("%s returned NULL (errno %s); expected a block", call, errno_text(errno));
    const char *wrong = misaligned(call, p, buf);
    if (wrong != NULL)
        lab_fail("%s; every block must be 16-byte aligned", wrong);
}

static void *checked_malloc(size_t n)
{
    const char *call = step("mm_malloc(%zu)", n);
    errno = 0;
    void *p = mm_malloc(n);
    expect_block(call, p);
    return p;
}

void test_smoke_init(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    allocator_start();
    lab_pass(NULL);
}

/* --------------------------------------------------------------- align */

enum { ALIGN_SMALL_SIZES = 1100 };

void test_align(int argc, char *argv[])
{
    static const size_t large[] = {4000,    4096,          8192,          65536,
                                   131071,  262144 - 8,    262144,        262145,
                                   1 << 20, (4 << 20) + 3, (16 << 20) - 1};
    enum { LARGE = sizeof large / sizeof large[0] };
    static void *blocks[ALIGN_SMALL_SIZES + 1 + LARGE];
    char buf[160];

    (void)argc;
    (void)argv;
    allocator_start();
    for (size_t n = 1; n <= ALIGN_SMALL_SIZES; n++) { /* all live at once: no reuse */
        blocks[n] = checked_malloc(n);
        memset(blocks[n], (int)n, n);
    }
    for (size_t i = 0; i < LARGE; i++) {
        blocks[ALIGN_SMALL_SIZES + 1 + i] = checked_malloc(large[i]);
        memset(blocks[ALIGN_SMALL_SIZES + 1 + i], 1, large[i]);
    }
    for (size_t n = 1; n <= 300; n += 7) {
        const char *call = step("mm_calloc(%zu, 3)", n);
        void *p = mm_calloc(n, 3);
        expect_block(call, p);
        mm_free(p);
    }
    void *grown = checked_malloc(1);
    for (size_t n = 2; n < (8u << 20); n = n * 3 / 2 + 1) {
        const char *call = step("mm_realloc(%p, %zu)", grown, n);
        void *p = mm_realloc(grown, n);
        if (p == NULL)
            lab_fail("%s returned NULL (errno %s); expected a block", call, errno_text(errno));
        if (misaligned(call, p, buf) != NULL)
            lab_fail("%s; every block must be 16-byte aligned", buf);
        grown = p;
    }
    step("mm_free of the blocks");
    mm_free(grown);
    for (size_t i = 1; i < sizeof blocks / sizeof blocks[0]; i++)
        mm_free(blocks[i]);
    lab_pass(NULL);
}

/* ---------------------------------------------------------- edge cases */

enum { REALLOC_ZERO_ROUNDS = 50000, REALLOC_ZERO_SIZE = 4000 };

/* realloc(p, 0) must free p: a loop of malloc and realloc(p, 0) that
 * leaked would map REALLOC_ZERO_ROUNDS blocks. */
static void check_realloc_zero_frees(void)
{
    uint64_t before = mapped_bytes();

    for (int i = 0; i < REALLOC_ZERO_ROUNDS; i++) {
        step("round %d of p = mm_malloc(%d); mm_realloc(p, 0)", i, REALLOC_ZERO_SIZE);
        char *p = mm_malloc(REALLOC_ZERO_SIZE);
        if (p == NULL)
            lab_fail("mm_malloc(%d) returned NULL in round %d of p = mm_malloc(%d); "
                     "mm_realloc(p, 0); expected a block",
                     REALLOC_ZERO_SIZE, i, REALLOC_ZERO_SIZE);
        p[0] = 1;
        if (mm_realloc(p, 0) != NULL)
            lab_fail("mm_realloc(p, 0) returned a block; expected NULL, having freed p");
    }
    uint64_t grown = mapped_bytes() - before;
    if (grown > (32u << 20))
        lab_fail("mm_realloc(p, 0) does not free p: %d rounds of p = mm_malloc(%d); "
                 "mm_realloc(p, 0) mapped %llu MiB more; expected p's memory to be reused",
                 REALLOC_ZERO_ROUNDS, REALLOC_ZERO_SIZE, (unsigned long long)(grown >> 20));
}

void test_edge_cases(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    allocator_start();
    step("mm_free(NULL)");
    mm_free(NULL);

    char *a = checked_malloc(0), *b = checked_malloc(0);
    if (a == b)
        lab_fail("mm_malloc(0) returned %p twice; expected a unique pointer each time", (void *)a);
    step("mm_free of two mm_malloc(0) blocks");
    mm_free(a);
    mm_free(b);

    const char *call = step("mm_realloc(NULL, 100)");
    char *p = mm_realloc(NULL, 100);
    expect_block(call, p);
    lab_fill(p, 100, 7);
    if (lab_check(p, 100, 7) != 100)
        lab_fail("the 100 bytes of mm_realloc(NULL, 100) do not keep what was written");
    mm_free(p);

    call = step("mm_calloc(0, 8)");
    p = mm_calloc(0, 8);
    expect_block(call, p);
    mm_free(p);
    call = step("mm_calloc(8, 0)");
    p = mm_calloc(8, 0);
    expect_block(call, p);
    mm_free(p);

    p = checked_malloc(100);
    step("mm_realloc(p, 0)");
    if (mm_realloc(p, 0) != NULL)
        lab_fail("mm_realloc(p, 0) returned a block; expected NULL, having freed p");
    check_realloc_zero_frees();
    lab_pass(NULL);
}

/* -------------------------------------------------------------- ENOMEM */

/* call returned p: it must be NULL with errno ENOMEM. */
static void expect_enomem(const char *call, const void *p, int err, const char *hint)
{
    if (p != NULL)
        lab_fail("%s returned %p; expected NULL with errno ENOMEM%s", call, p, hint);
    if (err != ENOMEM)
        lab_fail("%s returned NULL with errno %s; expected ENOMEM", call, errno_text(err));
}

void test_enomem(int argc, char *argv[])
{
    static const struct {
        size_t n;
        const char *text;
    } huge[] = {
        {SIZE_MAX, "SIZE_MAX"},
        {SIZE_MAX - 7, "SIZE_MAX - 7"},
        {SIZE_MAX - 15, "SIZE_MAX - 15"},
        {SIZE_MAX - 16, "SIZE_MAX - 16"},
        {SIZE_MAX - 4095, "SIZE_MAX - 4095"},
        {SIZE_MAX / 2 + 1, "SIZE_MAX / 2 + 1"},
        {PTRDIFF_MAX, "PTRDIFF_MAX"},
        {(size_t)1 << 62, "2^62"},
    };
    static const struct {
        size_t count, size;
        const char *text;
    } products[] = {
        {SIZE_MAX / 2 + 1, 2, "SIZE_MAX / 2 + 1, 2"},
        {2, SIZE_MAX / 2 + 1, "2, SIZE_MAX / 2 + 1"},
        {(size_t)1 << 32, (size_t)1 << 32, "2^32, 2^32"},
        {SIZE_MAX / 16 + 2, 16, "SIZE_MAX / 16 + 2, 16"},
        {SIZE_MAX, SIZE_MAX, "SIZE_MAX, SIZE_MAX"},
        {1, SIZE_MAX, "1, SIZE_MAX"},
    };
    char call[96];

    (void)argc;
    (void)argv;
    allocator_start();
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        snprintf(call, sizeof call, "mm_malloc(%s)", huge[i].text);
        step("%s", call);
        errno = 0;
        void *p = mm_malloc(huge[i].n);
        expect_enomem(call, p, errno, " (does the size plus a header overflow?)");
    }
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++) {
        snprintf(call, sizeof call, "mm_calloc(%s)", products[i].text);
        step("%s", call);
        errno = 0;
        void *p = mm_calloc(products[i].count, products[i].size);
        expect_enomem(call, p, errno, " (count * size overflows size_t)");
    }
    void *p = checked_malloc(64);
    lab_fill(p, 64, 3);
    for (size_t i = 0; i < 3; i++) {
        snprintf(call, sizeof call, "mm_realloc(p, %s)", huge[i].text);
        step("%s", call);
        errno = 0;
        void *q = mm_realloc(p, huge[i].n);
        expect_enomem(call, q, errno, "");
        if (lab_check(p, 64, 3) != 64)
            lab_fail("%s failed but changed p's 64 bytes; expected p untouched", call);
    }
    step("mm_free(p) after a failed mm_realloc");
    mm_free(p);
    lab_pass(NULL);
}

/* --------------------------------------------------------- calloc zeroes */

/* The first non-zero byte of [p, p + n), or n. */
static size_t first_nonzero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return i;
    return n;
}

static void *checked_calloc(size_t count, size_t size)
{
    const char *call = step("mm_calloc(%zu, %zu)", count, size);
    errno = 0;
    unsigned char *p = mm_calloc(count, size);
    expect_block(call, p);
    size_t bad = first_nonzero(p, count * size);
    if (bad < count * size)
        lab_fail("%s returned a block whose byte %zu is 0x%02x; expected every byte zero (mmap "
                 "zeroes fresh pages only, not a block freed and given out again)",
                 call, bad, p[bad]);
    return p;
}

enum { CALLOC_BLOCKS = 64 };

void test_calloc_zero(int argc, char *argv[])
{
    static const size_t fresh[] = {1, 7, 16, 100, 1000, 4096, 10000, 100000, 300000, 2 << 20};
    static const size_t reused[] = {24, 100, 500, 2000, 8000, 40000, 300000};
    void *blocks[CALLOC_BLOCKS];

    (void)argc;
    (void)argv;
    allocator_start();
    for (size_t i = 0; i < sizeof fresh / sizeof fresh[0]; i++)
        mm_free(checked_calloc(fresh[i], 1));
    for (size_t s = 0; s < sizeof reused / sizeof reused[0]; s++) {
        size_t size = reused[s];
        for (int i = 0; i < CALLOC_BLOCKS; i++) { /* dirty blocks of this size, then free them */
            blocks[i] = checked_malloc(size);
            lab_fill(blocks[i], size, (uint64_t)i + 1);
        }
        step("mm_free of %d blocks of %zu bytes", CALLOC_BLOCKS, size);
        for (int i = 0; i < CALLOC_BLOCKS; i++)
            mm_free(blocks[i]);
        for (int i = 0; i < CALLOC_BLOCKS; i++) /* the same memory, probably: zero it */
            blocks[i] = i % 2 ? checked_calloc(size, 1) : checked_calloc(size / 4, 4);
        step("mm_free of %d calloc blocks of %zu bytes", CALLOC_BLOCKS, size);
        for (int i = 0; i < CALLOC_BLOCKS; i++)
            mm_free(blocks[i]);
    }
    lab_pass(NULL);
}

/* -------------------------------------------------------- realloc keeps */

/* Resize p (old bytes, stamped stamp) to n: the first min(old, n) bytes
 * must come along.  The rest of the new block gets the pattern too. */
static void *resize_checked(void *p, size_t old, size_t n, uint64_t stamp)
{
    const char *call = step("mm_realloc(%p, %zu) of a %zu-byte block", p, n, old);
    errno = 0;
    unsigned char *q = mm_realloc(p, n);
    expect_block(call, q);
    size_t keep = old < n ? old : n, bad = lab_check(q, keep, stamp);
    if (bad < keep)
        lab_fail("%s lost byte %zu (0x%02x, expected 0x%02x); realloc keeps the first "
                 "min(old, new) = %zu bytes",
                 call, bad, q[bad], lab_pattern_byte(stamp, bad), keep);
    lab_fill_range(q, keep, n, stamp);
    return q;
}

void test_realloc_keep(int argc, char *argv[])
{
    static const size_t sizes[] = {1,   8,   15,   16,   17,   24,    31,     32,     33,     100,
                                   255, 256, 1000, 4000, 4097, 65536, 262144, 300000, 1 << 20};
    enum { SIZES = sizeof sizes / sizeof sizes[0], FENCES = 64 };
    void *fences[FENCES];
    int fence_count = 0;

    (void)argc;
    (void)argv;
    allocator_start();
    /* A vector growing then shrinking, a small block after it each time so
     * that it must often move. */
    size_t size = 1;
    void *p = checked_malloc(size);
    lab_fill(p, size, 11);
    while (size < (8u << 20) && fence_count < FENCES) {
        fences[fence_count++] = checked_malloc(24);
        size_t grown = size * 2 + 1;
        p = resize_checked(p, size, grown, 11);
        size = grown;
    }
    while (size > 1) {
        size_t shrunk = size / 3;
        p = resize_checked(p, size, shrunk ? shrunk : 1, 11);
        size = shrunk ? shrunk : 1;
    }
    mm_free(p);
    /* Every pair of sizes: grow and shrink by a little and by a lot. */
    for (size_t i = 0; i < SIZES; i++) {
        size_t old = sizes[i], targets[] = {old + 1, old * 2, old / 2 + 1, old + 4096, old};
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
            uint64_t stamp = i * 16 + t + 100;
            p = checked_malloc(old);
            lab_fill(p, old, stamp);
            void *fence = checked_malloc(old);
            p = resize_checked(p, old, targets[t], stamp);
            step("mm_free of two blocks");
            mm_free(fence);
            mm_free(p);
        }
    }
    step("mm_free of the fences");
    for (int i = 0; i < fence_count; i++)
        mm_free(fences[i]);
    lab_pass(NULL);
}
