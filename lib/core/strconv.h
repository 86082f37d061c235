/* Conversions between text and values that several layers need: strict
 * decimal integers, hex digits and percent-encoding (URL query values and
 * application/x-www-form-urlencoded bodies). */
#ifndef MDF_STRCONV_H
#define MDF_STRCONV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Strict decimal integer: optional '-', digits only, no overflow. Returns
 * 0 or -1. */
int mdf_parse_int64(const char *s, size_t len, int64_t *out);

/* 0..15 for a hex digit, -1 otherwise. */
int mdf_hex_digit(char c);

/* Appends s with every byte but RFC 3986's unreserved ones (letters,
 * digits, '-', '.', '_', '~') as %XX. Returns 0, or -1 at b's cap. */
int mdf_pct_encode(mdf_buf *b, const char *s);

/* Decodes in[0..len) into out (NUL-terminated): %XX escapes, and '+' as a
 * space when `plus_is_space` (form bodies). Refuses a bad or NUL escape
 * and output longer than outsz - 1. Returns 0 or -1. */
int mdf_pct_decode(const char *in, size_t len, int plus_is_space, char *out, size_t outsz);

#endif
