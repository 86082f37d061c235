#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "eventid.h"
#include "strconv.h"

void sim_uuid_named(const char *name, size_t len, char out[MDF_UUID_STRSZ])
{
    /* The simulator's namespace; any fixed UUID works, this one is random. */
    static const unsigned char ns[16] = {0x6d, 0x64, 0x66, 0x73, 0x69, 0x6d, 0x4e, 0x15,
                                         0x9a, 0x0c, 0x3e, 0x51, 0x7b, 0x2d, 0x48, 0x90};
    mdf_uuid_named(ns, name, len, out);
}

void sim_imds_client_id(char out[MDF_UUID_STRSZ])
{
    sim_uuid_named("imds", 4, out);
}

int sim_format_iso_s(int64_t ms, char out[SIM_ISO_S_STRSZ])
{
    char full[MDF_TIME_STRSZ];
    if (mdf_time_format_ms(ms, full) != 0) {
        out[0] = '\0';
        return -1;
    }
    /* "2023-10-13T17:42:53.732Z" -> "2023-10-13T17:42:53Z" */
    memcpy(out, full, 19);
    out[19] = 'Z';
    out[20] = '\0';
    return 0;
}

int sim_format_http_date(int64_t ms, char out[SIM_HTTPDATE_STRSZ])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    /* Names spelled out here rather than with strftime: HTTP dates are
     * English whatever the locale. */
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1) {
        out[0] = '\0';
        return -1;
    }
    /* the modulos bound every field for the compiler; the values already fit */
    snprintf(out, SIM_HTTPDATE_STRSZ, "%s, %02u %s %04u %02u:%02u:%02u GMT", days[tm.tm_wday % 7],
             (unsigned)tm.tm_mday % 100u, months[tm.tm_mon % 12],
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
    return 0;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool sim_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return false;
    return *a == *b;
}

int sim_form_get(const char *body, size_t len, const char *key, char *out, size_t outsz)
{
    size_t klen = strlen(key);
    size_t pos = 0;
    while (pos <= len && len > 0) {
        const char *amp = memchr(body + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - body) : len;
        const char *pair = body + pos;
        size_t plen = end - pos;
        const char *eq = memchr(pair, '=', plen);
        /* Keys of the token request are plain ASCII: compare them raw. */
        if (eq && (size_t)(eq - pair) == klen && memcmp(pair, key, klen) == 0)
            return mdf_pct_decode(eq + 1, plen - klen - 1, 1, out, outsz) == 0 ? 1 : -1;
        if (!amp)
            break;
        pos = end + 1;
    }
    return 0;
}

void sim_jsonw_kstrs(mdf_jsonw *w, const char *key, const char *const *items, size_t n)
{
    mdf_jsonw_key(w, key);
    mdf_jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++)
        mdf_jsonw_str(w, items[i]);
    mdf_jsonw_arr_end(w);
}
