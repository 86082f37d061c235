/* Time: the wall clock and the monotonic clock in milliseconds, and epoch
 * milliseconds as RFC 3339 text and back. */
#ifndef MDF_CLOCK_H
#define MDF_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "absent" for an epoch-millisecond value */
#define MDF_TIME_NONE INT64_MIN
/* "2023-10-13T13:42:53.732Z" + NUL */
#define MDF_TIME_STRSZ 25

/* Wall-clock epoch milliseconds: for timestamps in records. */
int64_t mdf_time_now_ms(void);
/* Monotonic milliseconds: for timers, deadlines and durations (immune to
 * wall-clock steps). */
int64_t mdf_mono_ms(void);

/* Formats epoch milliseconds as RFC 3339 UTC with milliseconds. Returns 0,
 * or -1 (and an empty string) outside years 0001..9999. */
int mdf_time_format_ms(int64_t ms, char out[MDF_TIME_STRSZ]);

/* Parses RFC 3339 ("2023-10-13T13:42:53.732Z", offsets and any number of
 * fraction digits accepted) into epoch milliseconds. Returns 0 or -1. */
int mdf_time_parse_rfc3339(const char *s, int64_t *ms);

/* True for years 0001..9999, the range RFC 3339 can write. */
bool mdf_time_valid_ms(int64_t ms);

#endif
