/* UTF-8 as RFC 3629 has it (no overlongs, no surrogates, nothing past
 * U+10FFFF): what strict JSON readers take. Bytes from outside (an agent's
 * report) are checked, and what is not UTF-8 becomes U+FFFD. */
#ifndef MDF_UTF8_H
#define MDF_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define MDF_UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* The bytes at s[0..len) (len > 0) that form the next character (1..4), or
 * with *valid false the next maximal ill-formed run (1..3 bytes), which
 * stands for one U+FFFD. */
size_t mdf_utf8_next(const char *s, size_t len, bool *valid);

/* True when s[0..len) is UTF-8 and holds no NUL. */
bool mdf_utf8_clean_already(const char *s, size_t len);

/* Appends s[0..len) to out with each ill-formed run and each NUL replaced
 * by U+FFFD; *replaced counts them. MDF_ERR when out is full. */
int mdf_utf8_clean(const char *s, size_t len, mdf_buf *out, size_t *replaced);

#endif
