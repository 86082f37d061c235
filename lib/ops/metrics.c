/* The metrics registry (metrics.h). Series are kept in a vector per metric
 * and found by a linear search: the caps keep them few, and the loop
 * updates a handful per task. */
#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "vec.h"

#define MAX_METRICS 256
#define MAX_NAME 128
#define MAX_HELP 512

typedef struct series {
    char *values[MDF_METRIC_MAX_LABELS]; /* owned */
    double value;                        /* counter, gauge; histogram: sum */
    double count;                        /* histogram */
    double *bucket;                      /* owned: n_buckets non-cumulative counts; histogram */
} series;

struct mdf_metric {
    mdf_metric_type type;
    char name[MAX_NAME];
    char help[MAX_HELP];
    char labels[MDF_METRIC_MAX_LABELS][MAX_NAME];
    size_t n_labels;
    size_t max_series;
    double buckets[MDF_METRIC_MAX_BUCKETS];
    size_t n_buckets;
    mdf_vec series; /* series */
};

struct mdf_metrics {
    mdf_vec metrics; /* mdf_metric *, owned */
};

int mdf_metrics_new(mdf_metrics **out, char *err, size_t errsz)
{
    mdf_metrics *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return mdf_seterr(err, errsz, "out of memory");
    mdf_vec_init(&m->metrics, sizeof(mdf_metric *), MAX_METRICS);
    *out = m;
    return MDF_OK;
}

static void series_free(series *s)
{
    for (size_t i = 0; i < MDF_METRIC_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->bucket);
}

void mdf_metric_clear(mdf_metric *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->series.len; i++)
        series_free(&MDF_VEC_AT(&x->series, series, i));
    x->series.len = 0;
}

size_t mdf_metric_series(const mdf_metric *x)
{
    return x ? x->series.len : 0;
}

void mdf_metrics_free(mdf_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->metrics.len; i++) {
        mdf_metric *x = MDF_VEC_AT(&m->metrics, mdf_metric *, i);
        mdf_metric_clear(x);
        mdf_vec_free(&x->series);
        free(x);
    }
    mdf_vec_free(&m->metrics);
    free(m);
}

/* Prometheus metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* (labels
 * without ':'; "le" is the histogram's own). */
static bool valid_name(const char *s, bool label)
{
    if (!s || !*s || strlen(s) >= MAX_NAME)
        return false;
    for (const char *p = s; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                     (!label && *p == ':');
        if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
            return false;
    }
    return true;
}

static int check_def(const mdf_metric_def *d, char *err, size_t errsz)
{
    if (!valid_name(d->name, false))
        return mdf_seterr(err, errsz, "metric name '%s' is not valid", d->name ? d->name : "");
    size_t n = strlen(d->name);
    bool total = n > 6 && strcmp(d->name + n - 6, "_total") == 0;
    if ((d->type == MDF_COUNTER) != total)
        return mdf_seterr(err, errsz, "metric %s: counters, and only they, end in _total", d->name);
    if (d->help && (strlen(d->help) >= MAX_HELP || strchr(d->help, '\n')))
        return mdf_seterr(err, errsz, "metric %s: help is not one short line", d->name);
    if (d->n_labels > MDF_METRIC_MAX_LABELS)
        return mdf_seterr(err, errsz, "metric %s: more than %d labels", d->name,
                          MDF_METRIC_MAX_LABELS);
    for (size_t i = 0; i < d->n_labels; i++) {
        if (!valid_name(d->labels[i], true) || strncmp(d->labels[i], "__", 2) == 0 ||
            (d->type == MDF_HISTOGRAM && strcmp(d->labels[i], "le") == 0))
            return mdf_seterr(err, errsz, "metric %s: label name '%s' is not valid", d->name,
                              d->labels[i] ? d->labels[i] : "");
    }
    if (d->type == MDF_HISTOGRAM) {
        if (d->n_buckets < 1 || d->n_buckets > MDF_METRIC_MAX_BUCKETS || !d->buckets)
            return mdf_seterr(err, errsz, "metric %s: 1 to %d buckets", d->name,
                              MDF_METRIC_MAX_BUCKETS);
        for (size_t i = 0; i < d->n_buckets; i++) {
            if (!isfinite(d->buckets[i]) || (i && d->buckets[i] <= d->buckets[i - 1]))
                return mdf_seterr(err, errsz, "metric %s: buckets must be finite and increasing",
                                  d->name);
        }
    }
    return MDF_OK;
}

/* The metric of d's name already registered, if any (same type and
 * labels; else err). */
static int find_same(mdf_metrics *m, const mdf_metric_def *d, mdf_metric **found, char *err,
                     size_t errsz)
{
    *found = NULL;
    for (size_t i = 0; i < m->metrics.len; i++) {
        mdf_metric *x = MDF_VEC_AT(&m->metrics, mdf_metric *, i);
        if (strcmp(x->name, d->name) != 0)
            continue;
        bool same = x->type == d->type && x->n_labels == d->n_labels;
        for (size_t k = 0; same && k < d->n_labels; k++)
            same = strcmp(x->labels[k], d->labels[k]) == 0;
        if (!same)
            return mdf_seterr(err, errsz, "metric %s registered twice, differently", d->name);
        *found = x;
    }
    return MDF_OK;
}

int mdf_metrics_add(mdf_metrics *m, const mdf_metric_def *d, mdf_metric **out, char *err,
                    size_t errsz)
{
    *out = NULL;
    if (!m)
        return MDF_OK;
    if (check_def(d, err, errsz) != MDF_OK || find_same(m, d, out, err, errsz) != MDF_OK)
        return MDF_ERR;
    if (*out)
        return MDF_OK; /* two roles counting the same fact */
    mdf_metric *x = calloc(1, sizeof *x);
    mdf_metric **slot = x ? mdf_vec_add(&m->metrics) : NULL;
    if (!slot) {
        free(x);
        return mdf_seterr(err, errsz, "metric %s: out of memory or past %d metrics", d->name,
                          MAX_METRICS);
    }
    *slot = x;
    x->type = d->type;
    mdf_strlcpy(x->name, d->name, sizeof x->name);
    mdf_strlcpy(x->help, d->help ? d->help : "", sizeof x->help);
    x->n_labels = d->n_labels;
    for (size_t i = 0; i < d->n_labels; i++)
        mdf_strlcpy(x->labels[i], d->labels[i], sizeof x->labels[i]);
    /* with labels, room for one real series and the overflow one */
    x->max_series = d->max_series ? d->max_series : 1;
    if (x->n_labels && x->max_series < 2)
        x->max_series = 2;
    x->n_buckets = d->type == MDF_HISTOGRAM ? d->n_buckets : 0;
    for (size_t i = 0; i < x->n_buckets; i++)
        x->buckets[i] = d->buckets[i];
    mdf_vec_init(&x->series, sizeof(series), x->max_series);
    *out = x;
    return MDF_OK;
}

/* ---- series ---------------------------------------------------------------- */

static bool series_is(const series *s, const mdf_metric *x, const char *const *values)
{
    for (size_t i = 0; i < x->n_labels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        /* values are kept cut at the cap: compare what would be kept */
        size_t n = strnlen(v, MDF_METRIC_VALUE_MAX - 1);
        if (strlen(s->values[i]) != n || memcmp(s->values[i], v, n) != 0)
            return false;
    }
    return true;
}

static bool series_overflow(const series *s, const mdf_metric *x)
{
    const char *const ov[MDF_METRIC_MAX_LABELS] = {MDF_METRIC_OVERFLOW, MDF_METRIC_OVERFLOW,
                                                   MDF_METRIC_OVERFLOW, MDF_METRIC_OVERFLOW};
    return series_is(s, x, ov);
}

static series *series_new(mdf_metric *x, const char *const *values)
{
    series *s = mdf_vec_add(&x->series);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    bool ok = true;
    for (size_t i = 0; i < x->n_labels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        size_t n = strnlen(v, MDF_METRIC_VALUE_MAX - 1);
        s->values[i] = malloc(n + 1);
        if (!s->values[i]) {
            ok = false;
            break;
        }
        memcpy(s->values[i], v, n);
        s->values[i][n] = '\0';
    }
    if (ok && x->n_buckets && !(s->bucket = calloc(x->n_buckets, sizeof *s->bucket)))
        ok = false;
    if (!ok) {
        series_free(s);
        x->series.len--;
        return NULL;
    }
    return s;
}

/* The series of values; past the cap, the overflow series (the last slot
 * is kept for it). NULL only when out of memory. */
static series *series_of(mdf_metric *x, const char *const *values)
{
    for (size_t i = 0; i < x->series.len; i++) {
        series *s = &MDF_VEC_AT(&x->series, series, i);
        if (series_is(s, x, values))
            return s;
    }
    if (x->series.len + 1 < x->max_series)
        return series_new(x, values);
    for (size_t i = 0; i < x->series.len; i++) {
        series *s = &MDF_VEC_AT(&x->series, series, i);
        if (series_overflow(s, x))
            return s;
    }
    const char *const ov[MDF_METRIC_MAX_LABELS] = {MDF_METRIC_OVERFLOW, MDF_METRIC_OVERFLOW,
                                                   MDF_METRIC_OVERFLOW, MDF_METRIC_OVERFLOW};
    return x->series.len < x->max_series ? series_new(x, ov) : NULL;
}

void mdf_metric_inc(mdf_metric *x, const char *const *values, double by)
{
    series *s = x && x->type != MDF_HISTOGRAM ? series_of(x, values) : NULL;
    /* a counter only goes up */
    if (s && (x->type == MDF_GAUGE || by >= 0))
        s->value += by;
}

void mdf_metric_set(mdf_metric *x, const char *const *values, double v)
{
    series *s = x && x->type != MDF_HISTOGRAM ? series_of(x, values) : NULL;
    if (s)
        s->value = v;
}

void mdf_metric_observe(mdf_metric *x, const char *const *values, double v)
{
    series *s = x && x->type == MDF_HISTOGRAM ? series_of(x, values) : NULL;
    if (!s || isnan(v))
        return;
    size_t i = 0;
    while (i < x->n_buckets && v > x->buckets[i])
        i++;
    if (i < x->n_buckets)
        s->bucket[i]++;
    s->count++;
    s->value += v;
}

/* ---- exposition ------------------------------------------------------------------ */

/* A sample value or bucket bound as the format spells it. */
static void format_number(char *out, size_t n, double v)
{
    if (isnan(v))
        mdf_strlcpy(out, "NaN", n);
    else if (isinf(v))
        mdf_strlcpy(out, v > 0 ? "+Inf" : "-Inf", n);
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, n, "%.0f", v); /* integers exactly (counters) */
    else
        snprintf(out, n, "%.15g", v); /* 0.005 stays 0.005 */
}

/* Label values escape \, " and newline; HELP text escapes \ and newline. */
static int put_escaped(mdf_buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        int rc;
        if (*s == '\\')
            rc = mdf_buf_append(b, "\\\\", 2);
        else if (*s == '\n')
            rc = mdf_buf_append(b, "\\n", 2);
        else if (quote && *s == '"')
            rc = mdf_buf_append(b, "\\\"", 2);
        else
            rc = mdf_buf_appendc(b, *s);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* {a="x",b="y"[,le="..."]}, or nothing without labels. le_text NULL: none. */
static int put_labels(mdf_buf *b, const mdf_metric *x, const series *s, const char *le_text)
{
    if (x->n_labels == 0 && !le_text)
        return 0;
    int rc = mdf_buf_appendc(b, '{');
    for (size_t i = 0; i < x->n_labels && rc == 0; i++) {
        rc = mdf_buf_appendf(b, "%s%s=\"", i ? "," : "", x->labels[i]);
        if (rc == 0)
            rc = put_escaped(b, s->values[i], true);
        if (rc == 0)
            rc = mdf_buf_appendc(b, '"');
    }
    if (rc == 0 && le_text)
        rc = mdf_buf_appendf(b, "%sle=\"%s\"", x->n_labels ? "," : "", le_text);
    if (rc == 0)
        rc = mdf_buf_appendc(b, '}');
    return rc;
}

static int put_sample(mdf_buf *b, const mdf_metric *x, const char *suffix, const series *s,
                      const char *le_text, double v)
{
    char num[64];
    format_number(num, sizeof num, v);
    if (mdf_buf_appendf(b, "%s%s", x->name, suffix) != 0 || put_labels(b, x, s, le_text) != 0 ||
        mdf_buf_appendf(b, " %s\n", num) != 0)
        return -1;
    return 0;
}

static int render_metric(const mdf_metric *x, mdf_buf *b)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    if (mdf_buf_appendf(b, "# HELP %s ", x->name) != 0 || put_escaped(b, x->help, false) != 0 ||
        mdf_buf_appendf(b, "\n# TYPE %s %s\n", x->name, types[x->type]) != 0)
        return -1;
    for (size_t i = 0; i < x->series.len; i++) {
        const series *s = &MDF_VEC_AT(&x->series, series, i);
        if (x->type != MDF_HISTOGRAM) {
            if (put_sample(b, x, "", s, NULL, s->value) != 0)
                return -1;
            continue;
        }
        double cum = 0;
        char le[64];
        for (size_t k = 0; k < x->n_buckets; k++) {
            cum += s->bucket[k];
            format_number(le, sizeof le, x->buckets[k]);
            if (put_sample(b, x, "_bucket", s, le, cum) != 0)
                return -1;
        }
        if (put_sample(b, x, "_bucket", s, "+Inf", s->count) != 0 ||
            put_sample(b, x, "_sum", s, NULL, s->value) != 0 ||
            put_sample(b, x, "_count", s, NULL, s->count) != 0)
            return -1;
    }
    return 0;
}

int mdf_metrics_render(const mdf_metrics *m, mdf_buf *out, char *err, size_t errsz)
{
    for (size_t i = 0; m && i < m->metrics.len; i++) {
        const mdf_metric *x = MDF_VEC_AT(&m->metrics, mdf_metric *, i);
        if (render_metric(x, out) != 0)
            return mdf_seterr(err, errsz, "metrics: exposition larger than %zu bytes", out->max);
    }
    return MDF_OK;
}
