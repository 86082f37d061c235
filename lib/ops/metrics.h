/* A small metrics registry in the Prometheus model: counters, gauges and
 * histograms with fixed buckets, each with up to MDF_METRIC_MAX_LABELS
 * label names of small cardinality, rendered in the text exposition format
 * 0.0.4 (# HELP, # TYPE, escaped label values, _bucket{le=...}, _sum,
 * _count).
 *
 * Every metric has a cap on its series: a label combination past the cap
 * goes to one overflow series whose every label value is
 * MDF_METRIC_OVERFLOW, so memory stays bounded whatever the labels carry.
 *
 * Not thread-safe: one thread (the worker's loop) updates and renders; the
 * rendered text is what other threads may see (ops_server.h). A NULL
 * metric is a valid handle that records nothing, so that code run without
 * a registry (the role tests) needs no checks. */
#ifndef MDF_OPS_METRICS_H
#define MDF_OPS_METRICS_H

#include <stddef.h>

#include "buf.h"

#define MDF_METRIC_MAX_LABELS 4
#define MDF_METRIC_MAX_BUCKETS 32
#define MDF_METRIC_VALUE_MAX 128 /* bytes of one label value kept; longer ones are cut */
#define MDF_METRIC_OVERFLOW "_overflow"

typedef enum { MDF_COUNTER, MDF_GAUGE, MDF_HISTOGRAM } mdf_metric_type;

/* What a metric is. The strings are copied. */
typedef struct mdf_metric_def {
    mdf_metric_type type;
    const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total */
    const char *help; /* one line */
    const char *labels[MDF_METRIC_MAX_LABELS];
    size_t n_labels;
    size_t max_series;     /* the cap, overflow series included; 0: 1 */
    const double *buckets; /* histograms: upper bounds, increasing, +Inf implied */
    size_t n_buckets;
} mdf_metric_def;

typedef struct mdf_metrics mdf_metrics;
typedef struct mdf_metric mdf_metric;

int mdf_metrics_new(mdf_metrics **out, char *err, size_t errsz);
void mdf_metrics_free(mdf_metrics *m);

/* Registers def (m NULL: *out = NULL, MDF_OK). A name registered before
 * with the same type and label names gives that metric (two parts of a
 * program counting one fact). MDF_ERR (and err) on a bad name, label or
 * bucket list, a name taken by another kind of metric, or out of memory.
 * The metric belongs to m and lives as long as it. */
int mdf_metrics_add(mdf_metrics *m, const mdf_metric_def *def, mdf_metric **out, char *err,
                    size_t errsz);

/* values: one per label name of the metric (NULL or "" allowed). Out of
 * memory drops the update: metrics never fail their caller. */
void mdf_metric_inc(mdf_metric *x, const char *const *values, double by);    /* counter, gauge */
void mdf_metric_set(mdf_metric *x, const char *const *values, double v);     /* gauge; counter
                                                                                mirrors */
void mdf_metric_observe(mdf_metric *x, const char *const *values, double v); /* histogram */
/* Forgets every series (a gauge whose label set changes: lag per
 * partition after a rebalance). */
void mdf_metric_clear(mdf_metric *x);
/* The series now held, overflow included (for tests). */
size_t mdf_metric_series(const mdf_metric *x);

/* Appends the exposition of every metric, in registration order, to out.
 * MDF_ERR (and err) when out's cap is reached. */
int mdf_metrics_render(const mdf_metrics *m, mdf_buf *out, char *err, size_t errsz);

#endif
