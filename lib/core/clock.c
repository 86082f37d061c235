#include "clock.h"

#include <string.h>
#include <time.h>

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil), so no timezone state is involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in epoch ms */
#define MS_MIN (-62135596800000LL)
#define MS_END (253402300800000LL)

bool mdf_time_valid_ms(int64_t ms)
{
    return ms >= MS_MIN && ms < MS_END;
}

/* Writes v as exactly n digits (zero-padded). */
static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Hand-rolled rather than snprintf: this runs for every scan of a report. */
int mdf_time_format_ms(int64_t ms, char out[MDF_TIME_STRSZ])
{
    out[0] = '\0';
    if (!mdf_time_valid_ms(ms))
        return -1;
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    unsigned msec = (unsigned)(rem % 1000), sec = (unsigned)(rem / 1000);
    /* 2023-10-13T13:42:53.732Z */
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, mo, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, sec / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, sec / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, sec % 60, 2);
    out[19] = '.';
    put_digits(out + 20, msec, 3);
    out[23] = 'Z';
    out[24] = '\0';
    return 0;
}

static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        *v = *v * 10 + (c - '0');
    }
    *p += n;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int mdf_time_parse_rfc3339(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        int scale = 100, n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
        if (n == 0)
            return -1;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    /* a real calendar day (2023-02-31 is not March 3), from year 1, and a
     * result the rest of the code takes (an offset can push it out) */
    if (*p != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 60)
        return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    if (!mdf_time_valid_ms(secs * 1000 + frac))
        return -1;
    *ms = secs * 1000 + frac;
    return 0;
}

int64_t mdf_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mdf_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
