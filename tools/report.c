/* mdefleet-report: prints the normalized model of an MDE report
 * (mde-agent-information.json, or the data extract's .tar.gz holding it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "err.h"
#include "json_writer.h"
#include "report.h"
#include "strconv.h"

#define PROG "mdefleet-report"
#define EXIT_USAGE MDF_EXIT_USAGE

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mdefleet-report [--summary] [--rows N] [--max-bytes N] [--max-depth N] FILE\n"
            "       mdefleet-report --version | --help\n"
            "  FILE       mde-agent-information.json, or the extract's .tar.gz; - for stdin\n"
            "  --summary  a readable table instead of JSON\n"
            "  --rows N   rows per table in the summary (default 20)\n"
            "  --max-bytes N  refuse a report larger than N bytes (default %u)\n"
            "  --max-depth N  refuse nesting deeper than N (default %d)\n",
            MDF_REPORT_MAX_BYTES, MDF_REPORT_MAX_DEPTH);
}

static int parse_size(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s) {
        mdf_cli_needs_value(PROG, opt);
        return -1;
    }
    if (mdf_parse_int64(s, strlen(s), out) != 0 || *out < min || *out > max) {
        mdf_cli_usage_error(PROG, "%s takes a number from %lld to %lld", opt, (long long)min,
                            (long long)max);
        return -1;
    }
    return 0;
}

/* Reads stdin whole (within the cap), then parses it from memory. */
static int parse_stdin(const mdf_report_limits *lim, mdf_report **r, char *err, size_t errsz)
{
    mdf_buf in;
    char block[65536];
    size_t n;
    int rc = MDF_ERR;
    /* the archive is smaller than its entry: the same cap bounds both */
    mdf_buf_init(&in, lim->max_bytes);
    while ((n = fread(block, 1, sizeof block, stdin)) > 0) {
        if (mdf_buf_append(&in, block, n) != 0) {
            mdf_seterr(err, errsz, "stdin: input larger than the %zu-byte cap", lim->max_bytes);
            goto cleanup;
        }
    }
    if (ferror(stdin)) {
        mdf_seterr(err, errsz, "stdin: read error: %s", strerror(errno));
        goto cleanup;
    }
    rc = mdf_report_parse_mem(in.data ? in.data : "", in.len, lim, r, err, errsz);
cleanup:
    mdf_buf_free(&in);
    return rc;
}

int main(int argc, char **argv)
{
    mdf_report_limits lim;
    mdf_report *r = NULL;
    const char *path = NULL;
    int summary = 0;
    int64_t rows = 20, v;
    char err[MDF_ERRSZ];
    mdf_report_limits_default(&lim);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--summary")) {
            summary = 1;
        } else if (!strcmp(a, "--rows")) {
            if (parse_size(a, i + 1 < argc ? argv[++i] : NULL, 1, 1000000, &rows) != 0)
                return EXIT_USAGE;
        } else if (!strcmp(a, "--max-bytes")) {
            if (parse_size(a, i + 1 < argc ? argv[++i] : NULL, 1, INT64_MAX / 2, &v) != 0)
                return EXIT_USAGE;
            lim.max_bytes = (size_t)v;
        } else if (!strcmp(a, "--max-depth")) {
            if (parse_size(a, i + 1 < argc ? argv[++i] : NULL, 1, 10000, &v) != 0)
                return EXIT_USAGE;
            lim.max_depth = (int)v;
        } else if (mdf_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (mdf_cli_is_version(a)) {
            return mdf_cli_version(PROG, NULL, NULL);
        } else if (a[0] == '-' && a[1] != '\0') {
            return mdf_cli_unknown(PROG, a);
        } else if (path) {
            return mdf_cli_usage_error(PROG, "one FILE only (see --help)");
        } else {
            path = a;
        }
    }
    if (!path)
        return mdf_cli_usage_error(PROG, "no FILE (see --help)");

    int rc = strcmp(path, "-") == 0 ? parse_stdin(&lim, &r, err, sizeof err)
                                    : mdf_report_parse_file(path, &lim, &r, err, sizeof err);
    if (rc != MDF_OK) {
        fprintf(stderr, "mdefleet-report: %s\n", err);
        return 1;
    }
    if (summary) {
        rc = mdf_report_write_summary(r, stdout, (size_t)rows);
    } else {
        mdf_buf out;
        mdf_jsonw w;
        mdf_buf_init(&out, 1u << 20); /* flushed to stdout as it fills */
        mdf_jsonw_init(&w, &out, stdout);
        mdf_report_write_json(r, &w);
        rc = mdf_jsonw_finish(&w);
        if (rc == 0 && fputc('\n', stdout) == EOF)
            rc = -1;
        mdf_buf_free(&out);
    }
    mdf_report_free(r);
    if (rc != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "mdefleet-report: cannot write the output\n");
        return 1;
    }
    return 0;
}
