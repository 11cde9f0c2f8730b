/*
 * out.h - what a lesson prints: prose for people, facts for tests.
 *
 * A fact line is made only of "key=value" tokens separated by one space:
 *     mode=touch size_bytes=268435456 minor_faults=65536 elapsed_ns=151234567
 * Keys are snake_case and name their unit (_kib, _ns, _bytes); values are
 * integers, words without spaces, or hex addresses written 0x...
 * Tests and graders read these lines, so a key, once published, stays.
 *
 * Colour (headings in bold, facts dimmed) is used only when stdout is a
 * terminal and NO_COLOR is not set.
 */
#ifndef ASYM_OUT_H
#define ASYM_OUT_H

#include <stdint.h>

/* "== title ==" between blank lines: one per lesson part. */
void heading(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "-- title --": a step inside a part. */
void subheading(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append one fact to the current fact line (starting one if needed). */
void fact_int(const char *key, long long value);
void fact_uint(const char *key, unsigned long long value);
void fact_hex(const char *key, uintptr_t value);
void fact_word(const char *key, const char *value);
/* End the current fact line. */
void facts_end(void);

#endif
