#include "utf8.h"

#include "err.h"

size_t mdf_utf8_next(const char *s, size_t len, bool *valid)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
    *valid = true;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else {
        *valid = false; /* a continuation byte, C0, C1, F5..FF */
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        unsigned b = i < len ? p[i] : 0;
        if (i >= len || b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
            *valid = false;
            return i; /* the lead and the continuations that fitted */
        }
    }
    return n;
}

bool mdf_utf8_clean_already(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        bool ok;
        if (s[i] == '\0')
            return false;
        i += mdf_utf8_next(s + i, len - i, &ok);
        if (!ok)
            return false;
    }
    return true;
}

int mdf_utf8_clean(const char *s, size_t len, mdf_buf *out, size_t *replaced)
{
    *replaced = 0;
    for (size_t i = 0; i < len;) {
        bool ok;
        size_t n = mdf_utf8_next(s + i, len - i, &ok);
        if (ok && s[i] != '\0') {
            if (mdf_buf_append(out, s + i, n) != 0)
                return MDF_ERR;
        } else {
            if (mdf_buf_append(out, MDF_UTF8_REPLACEMENT, 3) != 0)
                return MDF_ERR;
            ++*replaced;
        }
        i += n;
    }
    return MDF_OK;
}
