/* What the libFuzzer harnesses share: libFuzzer's entry points, an oracle
 * check that libFuzzer reports as a crash (with the input saved), and the
 * strict JSON check of output. */
#ifndef MDF_FUZZ_UTIL_H
#define MDF_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An oracle that failed is a finding like a crash: say which and abort, so
 * that libFuzzer keeps the input as crash-<sha1>. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* A NUL-terminated copy of data[0..size) (abort when out of memory): for
 * the APIs that take C strings. */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* Whether text[0..len) is exactly one JSON value for json-c's strict
 * tokener (nothing after it); utf8 also has it refuse invalid UTF-8. */
bool fuzz_json_strict(const char *text, size_t len, bool utf8);

/* No http(s) URL in text keeps its query (url.h's redaction): each one
 * ends at its '?' if it has one, as "?<redacted>" leaves it ('<' ends a
 * URL). */
void fuzz_check_redacted(const char *text);

#endif
