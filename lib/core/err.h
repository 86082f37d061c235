/* Status codes and the caller-supplied error buffer convention.
 *
 * Every fallible function returns MDF_OK (0) or MDF_ERR (-1) and, on error,
 * writes one readable line into `err` (of `errsz` bytes). The caller owns
 * the buffer; 256 bytes is plenty (MDF_ERRSZ). */
#ifndef MDF_ERR_H
#define MDF_ERR_H

#include <stddef.h>

#define MDF_OK 0
#define MDF_ERR (-1)
#define MDF_ERRSZ 512

#if defined(__GNUC__)
#define MDF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MDF_PRINTF(a, b)
#endif

/* Formats into err (if not NULL) and returns MDF_ERR, so that
 * `return mdf_seterr(err, errsz, "...")` reads naturally. */
int mdf_seterr(char *err, size_t errsz, const char *fmt, ...) MDF_PRINTF(3, 4);

/* Bounded copy: always NUL-terminates, returns 0 or -1 when truncated. */
int mdf_strlcpy(char *dst, const char *src, size_t dstsz);
/* The same for text: a cut falls between UTF-8 characters, never inside
 * one, so what is kept stays valid UTF-8 when src was. src holds n bytes
 * (no NUL needed). */
int mdf_strlcpy_utf8(char *dst, const char *src, size_t n, size_t dstsz);

#endif
