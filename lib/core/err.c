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
