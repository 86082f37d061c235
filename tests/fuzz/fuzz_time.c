/* Time parsing and formatting (clock.h). The input is text for
 * mdf_time_parse_rfc3339 and, its first 8 bytes, epoch milliseconds for
 * mdf_time_format_ms. Oracles: parse -> format -> parse gives the same
 * value when it is in range; format writes RFC 3339 exactly when the value
 * is in range, and parsing that gives the value back. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fuzz_util.h"

/* 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, epoch ms */
#define RANGE_MIN (-62135596800000LL)
#define RANGE_END 253402300800000LL
/* 2023-10-13T13:42:53.732Z: 24 characters */
#define FORMATTED_LEN (MDF_TIME_STRSZ - 1)

/* ms formatted, then parsed back. */
static void check_format(int64_t ms)
{
    char out[MDF_TIME_STRSZ];
    int rc = mdf_time_format_ms(ms, out);
    FUZZ_CHECK((rc == 0) == mdf_time_valid_ms(ms));
    if (rc != 0) {
        FUZZ_CHECK(out[0] == '\0');
        return;
    }
    FUZZ_CHECK(strlen(out) == FORMATTED_LEN && out[FORMATTED_LEN - 1] == 'Z');
    int64_t back;
    FUZZ_CHECK(mdf_time_parse_rfc3339(out, &back) == 0);
    FUZZ_CHECK(back == ms);
}

/* Calendar days only (issue 12, case 14: 2023-02-31 was taken): a
 * "YYYY-MM-DD" accepted is formatted back with the same date when no
 * offset moves it. */
static void check_calendar(const char *s, int64_t ms)
{
    char out[MDF_TIME_STRSZ];
    size_t n = strlen(s);
    if (n > 0 && (s[n - 1] == 'Z' || s[n - 1] == 'z') && mdf_time_format_ms(ms, out) == 0 &&
        strncmp(s + 17, "60", 2) != 0) /* a leap second may roll the day over */
        FUZZ_CHECK(strncmp(s, out, 10) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    int64_t ms = 0;
    if (mdf_time_parse_rfc3339(s, &ms) == 0) {
        if (mdf_time_valid_ms(ms))
            check_format(ms);
        check_calendar(s, ms);
    }
    free(s);

    if (size >= sizeof(int64_t)) {
        uint64_t u;
        memcpy(&u, data, sizeof u);
        check_format((int64_t)u);
        /* the same bits folded into years 0001..9999, so that most are valid */
        check_format((int64_t)(u % (RANGE_END - RANGE_MIN)) + RANGE_MIN);
    }
    return 0;
}
