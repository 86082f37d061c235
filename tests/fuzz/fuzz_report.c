/* The MDE report parser (report.h) and its output (report_output.c): any
 * input either fails with a message or gives a report whose JSON rendering
 * is one strict JSON document, with the model's own promises kept (scans
 * sorted, warnings capped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "fuzz_util.h"
#include "json_writer.h"
#include "report.h"

/* The rendering of a report is a few times its input at most; libFuzzer's
 * inputs are far smaller than the parser's cap. */
#define OUT_MAX (256u << 20)

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    return 0;
}

/* Absent start times last, else by start time: cmp_scan's order. */
static void check_sorted(const mdf_report *r)
{
    for (size_t i = 1; i < r->n_scans; i++) {
        int64_t a = r->scans[i - 1].start_ms, b = r->scans[i].start_ms;
        FUZZ_CHECK(b == MDF_TIME_NONE || (a != MDF_TIME_NONE && a <= b));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[MDF_ERRSZ] = "";
    mdf_report *r = NULL;
    if (mdf_report_parse_mem(data, size, NULL, &r, err, sizeof err) != MDF_OK) {
        FUZZ_CHECK(r == NULL && err[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(r != NULL);
    FUZZ_CHECK(r->n_warnings <= MDF_REPORT_MAX_WARNINGS);
    FUZZ_CHECK(r->n_warnings_dropped == 0 || r->n_warnings == MDF_REPORT_MAX_WARNINGS);
    check_sorted(r);

    mdf_buf out;
    mdf_jsonw w;
    mdf_buf_init(&out, OUT_MAX);
    mdf_jsonw_init(&w, &out, NULL);
    mdf_report_write_json(r, &w);
    FUZZ_CHECK(mdf_jsonw_finish(&w) == 0);
    /* valid UTF-8 too: what is not becomes U+FFFD (issue 12, case 11) */
    FUZZ_CHECK(fuzz_json_strict(out.data, out.len, true));
    mdf_buf_free(&out);

    FUZZ_CHECK(mdf_report_write_summary(r, devnull, 5) == 0);
    mdf_report_free(r);
    return 0;
}
