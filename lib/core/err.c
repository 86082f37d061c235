#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mdf_seterr(char *err, size_t errsz, const char *fmt, ...)
{
    if (err && errsz > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return MDF_ERR;
}

int mdf_strlcpy(char *dst, const char *src, size_t dstsz)
{
    size_t n = strlen(src);
    if (dstsz == 0)
        return -1;
    if (n >= dstsz) {
        memcpy(dst, src, dstsz - 1);
        dst[dstsz - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

int mdf_strlcpy_utf8(char *dst, const char *src, size_t n, size_t dstsz)
{
    if (dstsz == 0)
        return -1;
    size_t keep = n < dstsz ? n : dstsz - 1;
    /* src[keep] is the first byte left out: when it continues a sequence,
     * leave out the sequence's start too */
    if (keep < n)
        while (keep > 0 && ((unsigned char)src[keep] & 0xC0) == 0x80)
            keep--;
    memcpy(dst, src, keep);
    dst[keep] = '\0';
    return keep < n ? -1 : 0;
}
