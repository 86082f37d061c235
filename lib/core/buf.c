#include "buf.h"

#include <errno.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void mdf_buf_init(mdf_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    /* Keep max + 1 (room for the NUL) from overflowing. */
    b->max = max < SIZE_MAX / 2 ? max : SIZE_MAX / 2;
}

void mdf_buf_free(mdf_buf *b)
{
    free(b->data);
    mdf_buf_init(b, b->max);
}

void mdf_buf_reset(mdf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int mdf_buf_reserve(mdf_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int mdf_buf_append(mdf_buf *b, const void *data, size_t len)
{
    if (mdf_buf_reserve(b, len) != 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int mdf_buf_appendc(mdf_buf *b, char c)
{
    return mdf_buf_append(b, &c, 1);
}

int mdf_buf_appendf(mdf_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return mdf_buf_append(b, small, (size_t)n);
    if (mdf_buf_reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *mdf_buf_take(mdf_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    mdf_buf_init(b, b->max);
    return p;
}

int mdf_buf_read_file(mdf_buf *b, const char *path, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    char chunk[16384];
    size_t got;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mdf_seterr(err, errsz, "%s: cannot open: %s", path, strerror(errno));
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (mdf_buf_append(b, chunk, got) != 0) {
            mdf_seterr(err, errsz, "%s: larger than the %zu-byte cap", path, b->max);
            goto cleanup;
        }
    }
    if (ferror(fp)) {
        mdf_seterr(err, errsz, "%s: read error", path);
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    fclose(fp);
    return rc;
}
