/*
 * shalloc_report.c - reports (layer 0): a misuse or a failed assertion, as
 * one line on stderr, then abort; and a corrupt region, as the handle's
 * error (a corrupt region is input, not a bug: the call fails, nothing
 * aborts).
 *
 * The bottom layer: it calls nothing else in the library, so any layer can
 * report a fatal problem without calling into a layer above it.  No stdio
 * and no malloc: the caller may be half-way through changing the region, in
 * a child after fork, or in a program whose malloc is what broke.  A line
 * is built in a buffer on the stack and written with one write(2).
 */
#include "shalloc_internal.h"

#include <stdlib.h>
#include <unistd.h>

void shalloc_text_put(struct shalloc_text *t, const char *s)
{
    while (*s != '\0' && t->len + 1 < t->cap)
        t->buf[t->len++] = *s++;
    t->buf[t->len] = '\0';
}

void shalloc_text_put_u64(struct shalloc_text *t, uint64_t v)
{
    char digits[24];
    int n = 0;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0 && t->len + 1 < t->cap)
        t->buf[t->len++] = digits[--n];
    t->buf[t->len] = '\0';
}

void shalloc_text_put_hex(struct shalloc_text *t, uint64_t v)
{
    char digits[19] = "0x";

    for (int i = 0; i < 16; i++)
        digits[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
    digits[18] = '\0';
    shalloc_text_put(t, digits);
}

/* One line, "shalloc: <what><detail> (<where>)", on stderr; then abort. */
static _Noreturn void fatal(const char *what, const char *detail, const char *where)
{
    char buf[512];
    struct shalloc_text t = {buf, sizeof buf - 1, 0}; /* - 1: room for the newline */

    shalloc_text_put(&t, "shalloc: ");
    shalloc_text_put(&t, what);
    shalloc_text_put(&t, detail);
    shalloc_text_put(&t, " (");
    shalloc_text_put(&t, where);
    shalloc_text_put(&t, ")");
    buf[t.len++] = '\n';
    if (write(STDERR_FILENO, buf, t.len) < 0) {
        /* nothing more we can do: abort says the rest */
    }
    abort();
}

void shalloc_panic(const char *what, const void *where)
{
    char at[24];
    struct shalloc_text t = {at, sizeof at, 0};

    shalloc_text_put(&t, "at ");
    shalloc_text_put_hex(&t, (uintptr_t)where);
    fatal(what, "", at);
}

void shalloc_assert_failed(const char *expr, const char *file, int line)
{
    char place[256];
    struct shalloc_text t = {place, sizeof place, 0};

    shalloc_text_put(&t, file);
    shalloc_text_put(&t, ":");
    shalloc_text_put_u64(&t, (uint64_t)line);
    fatal("assertion failed: ", expr, place);
}

int shalloc_corrupt(struct shalloc *h, const char *what, uint64_t offset)
{
    struct shalloc_text t = {h->error_text, sizeof h->error_text, 0};

    shalloc_text_put(&t, "corrupt region: ");
    shalloc_text_put(&t, what);
    shalloc_text_put(&t, " at offset ");
    shalloc_text_put_u64(&t, offset);
    h->error = h->error_text;
    h->error_offset = offset;
    errno = EUCLEAN;
    return -1;
}
