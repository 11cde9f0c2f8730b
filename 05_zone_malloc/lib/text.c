/*
 * text.c - lines of text without stdio or malloc: the allocator's own
 * messages, its log, show_alloc_mem.  A fixed buffer, written out with
 * write(2) when full and at the end.
 */
#include "zm_internal.h"

#include <errno.h>
#include <unistd.h>

void text_flush(struct text *t)
{
    int saved = errno;
    size_t done = 0;

    while (done < t->len) {
        ssize_t n = write(t->fd, t->buf + done, t->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* nowhere to report it: drop the text */
        done += (size_t)n;
    }
    t->len = 0;
    errno = saved;
}

static void text_char(struct text *t, char c)
{
    if (t->len == sizeof t->buf)
        text_flush(t);
    t->buf[t->len++] = c;
}

void text_str(struct text *t, const char *s)
{
    while (*s != '\0')
        text_char(t, *s++);
}

void text_uint(struct text *t, uint64_t v)
{
    char digits[20];
    int n = 0;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        text_char(t, digits[--n]);
}

/* Two hex digits. */
void text_byte(struct text *t, unsigned char byte)
{
    text_char(t, "0123456789abcdef"[byte >> 4]);
    text_char(t, "0123456789abcdef"[byte & 15]);
}

/* "0x" and at least one hex digit. */
void text_hex(struct text *t, uint64_t v)
{
    char digits[16];
    int n = 0;

    do
        digits[n++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    text_str(t, "0x");
    while (n > 0)
        text_char(t, digits[--n]);
}
