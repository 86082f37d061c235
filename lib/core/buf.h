/* A growable byte buffer with a hard maximum (like curl's dynbuf): every
 * append past `max` fails instead of growing without bound. The data is
 * always NUL-terminated so it can be used as a C string. */
#ifndef MDF_BUF_H
#define MDF_BUF_H

#include <stddef.h>

typedef struct mdf_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* the most bytes it may ever hold (excluding the NUL) */
} mdf_buf;

void mdf_buf_init(mdf_buf *b, size_t max);
/* Frees the storage and leaves an empty buffer with the same max. */
void mdf_buf_free(mdf_buf *b);
void mdf_buf_reset(mdf_buf *b);
/* Returns 0, or -1 when the append would exceed max or memory ran out
 * (the buffer is then unchanged). */
/* Makes room for `extra` more bytes up front. Returns 0 or -1. */
int mdf_buf_reserve(mdf_buf *b, size_t extra);
int mdf_buf_append(mdf_buf *b, const void *data, size_t len);
int mdf_buf_appendc(mdf_buf *b, char c);
int mdf_buf_appendf(mdf_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends the whole file at path; its size is capped by b->max. Errors
 * name the file ("PATH: cannot open: ...", "PATH: larger than the N-byte
 * cap", "PATH: read error"). */
int mdf_buf_read_file(mdf_buf *b, const char *path, char *err, size_t errsz);
/* Hands the storage to the caller (free() it) and empties the buffer. */
char *mdf_buf_take(mdf_buf *b, size_t *len);

#endif
