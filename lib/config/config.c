/* Configuration: one declarative table of known keys (type, default, range
 * or allowed values, description) drives parsing, checking, the environment
 * names and the documentation, so that a key added here is everywhere at
 * once. Values are validated and normalized when set, so a getter never
 * fails. kafka.* keys are not in the table: librdkafka knows its own. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "err.h"
#include "names.h"
#include "strconv.h"
#include "token.h"
#include "url.h"
#include "vec.h"

#define KAFKA_PREFIX "kafka."
#define KAFKA_PREFIX_LEN (sizeof KAFKA_PREFIX - 1)
#define ENV_PREFIX "MDEFLEET_"
#define ENV_PREFIX_LEN (sizeof ENV_PREFIX - 1)
#define ENV_KAFKA_PREFIX "MDEFLEET_KAFKA_"
#define ENV_KAFKA_PREFIX_LEN (sizeof ENV_KAFKA_PREFIX - 1)
#define TOPIC_PREFIX "topics."
#define TOPIC_PREFIX_LEN (sizeof TOPIC_PREFIX - 1)
#define KEY_MAX 256        /* longest key or variable name we look at */
#define KAFKA_MAX 256      /* kafka.* settings: far more than librdkafka has */
#define TOPIC_NAME_MAX 249 /* Kafka's limit on a topic name */
#define ORIGIN_MAX 1024

typedef enum { K_STRING, K_INT, K_BOOL, K_DOUBLE, K_ENUM, K_LIST } ktype;

/* Extra check of a string value or of each list item; writes why into msg. */
typedef int (*kcheck_fn)(const char *v, char *msg, size_t msgsz);

typedef struct keydef {
    const char *key;
    ktype type;
    const char *def;
    int64_t imin, imax;  /* K_INT: range; K_LIST: number of items */
    double dmin, dmax;   /* K_DOUBLE: range */
    const char *allowed; /* K_ENUM, K_LIST: '|'-separated; NULL: any item */
    kcheck_fn check;     /* K_STRING, K_LIST items: NULL for none */
    const char *desc;
} keydef;

static int check_topic(const char *v, char *msg, size_t msgsz);
static int check_prefix(const char *v, char *msg, size_t msgsz);
static int check_endpoint(const char *v, char *msg, size_t msgsz);
static int check_api_version(const char *v, char *msg, size_t msgsz);
static int check_host_pattern(const char *v, char *msg, size_t msgsz);
static int check_audience(const char *v, char *msg, size_t msgsz);
static int check_listen(const char *v, char *msg, size_t msgsz);

#define KSTR(k, d, chk, ds)                                                                        \
    {                                                                                              \
        k, K_STRING, d, 0, 0, 0, 0, NULL, chk, ds                                                  \
    }
#define KINT(k, d, lo, hi, ds)                                                                     \
    {                                                                                              \
        k, K_INT, d, lo, hi, 0, 0, NULL, NULL, ds                                                  \
    }
#define KDBL(k, d, lo, hi, ds)                                                                     \
    {                                                                                              \
        k, K_DOUBLE, d, 0, 0, lo, hi, NULL, NULL, ds                                               \
    }
#define KBOOL(k, d, ds)                                                                            \
    {                                                                                              \
        k, K_BOOL, d, 0, 0, 0, 0, NULL, NULL, ds                                                   \
    }
#define KENUM(k, d, a, ds)                                                                         \
    {                                                                                              \
        k, K_ENUM, d, 0, 0, 0, 0, a, NULL, ds                                                      \
    }
#define KLIST(k, d, n, a, chk, ds)                                                                 \
    {                                                                                              \
        k, K_LIST, d, 1, n, 0, 0, a, chk, ds                                                       \
    }
#define KTOPIC(name, ds) KSTR(TOPIC_PREFIX name, name, check_topic, ds)
#define KSCHEMA(rec)                                                                               \
    KINT("codec.schema_id." rec, "0", 0, 2147483647,                                               \
         "Schema Registry id of " rec " (confluent framing needs it)")

/* The order here is the order of --help and the example file. */
static const keydef keys[] = {
    KSTR("topics.prefix", "mde.", check_prefix, "Prefix of every topic name"),
#define KTOPIC_X(id, name, ds) KTOPIC(name, ds),
    MDF_TOPIC_LIST(KTOPIC_X)
#undef KTOPIC_X
        KSTR("arm.endpoint", MDF_ARM_ENDPOINT, check_endpoint, "Azure Resource Manager base URL"),
    KSTR("arm.api_version", "2026-07-01", check_api_version, "Microsoft.NetworkCloud api-version"),
    KINT("arm.reads_burst", "250", 1, 1000000,
         "ARM read budget per subscription: burst (as published)"),
    KDBL("arm.reads_per_second", "25", 0.001, 100000, "ARM read budget: refill per second"),
    KINT("arm.writes_burst", "200", 1, 1000000,
         "ARM write budget per subscription: burst (as published)"),
    KDBL("arm.writes_per_second", "10", 0.001, 100000, "ARM write budget: refill per second"),
    KDBL("arm.budget_share", "1.0", 0.01, 1,
         "Part of each subscription's ARM budget this worker may use (the rest: other tools)"),
    KINT("arm.max_retries", "6", 0, 20,
         "Retries of a failed ARM request (a 429 waits and retries until the deadline)"),
    KSTR("arm.audience", MDF_AUDIENCE_ARM, check_audience,
         "Entra ID audience of Resource Manager tokens (other in sovereign clouds)"),
    KENUM("auth.method", "client_secret", "client_secret|workload_identity|managed_identity",
          "How to get Entra ID tokens (secrets come from the AZURE_* variables)"),
    KLIST("blob.allowed_hosts", "*.blob.core.windows.net", 16, NULL, check_host_pattern,
          "Hosts result archives may be downloaded from (exact or *.suffix)"),
    KINT("blob.max_bytes", "67108864", 1024, 1073741824, "Cap on a downloaded result archive"),
    KENUM("blob.auth", "auto", "auto|sas|entra",
          "How archives are read: auto (a SAS URL with its SAS, else an Entra token), sas, entra"),
    KSTR("blob.audience", MDF_AUDIENCE_STORAGE, check_audience,
         "Entra ID audience of storage tokens (other in sovereign clouds)"),
    KBOOL("http.allow_loopback", "false",
          "Allow plain http to 127.0.0.1/::1/localhost (simulator, tests)"),
    KINT("worker.max_inflight", "200", 1, 10000, "Node tasks one worker keeps in flight"),
    KLIST("worker.roles", "planner,executor,tracker", 3, "planner|executor|tracker", NULL,
          "Roles this worker takes"),
    KINT("worker.grace_seconds", "30", 1, 3600, "On SIGTERM, how long in-flight work may finish"),
    KINT("extract.limit_time_seconds", "600", MDF_EXTRACT_LIMIT_MIN, MDF_EXTRACT_LIMIT_MAX,
         "limitTimeSeconds of runDataExtracts"),
    KBOOL("extract.restricted", "false", "Use runDataExtractsRestricted"),
    KINT("job.timeout_seconds", "7200", 60, 604800,
         "A scan job not finished by then ends TimedOut"),
    KENUM("results.mode", "delta", "delta|snapshot",
          "delta: publish what changed since a node's last state; snapshot: all of it each job"),
    KINT("state.restore_timeout_seconds", "60", 1, 3600,
         "On assignment, how long reading the nodes' findings state may take"),
    KINT("state.max_bytes", "268435456", 1048576, 4294967296,
         "Cap on the findings state one worker holds (past it, nodes are new again)"),
    KENUM("codec.framing", "single_object", "single_object|confluent",
          "Avro framing written (readers accept both)"),
    KSCHEMA("EnforcementChange"),
    KSCHEMA("ScanJob"),
    KSCHEMA("NodeTask"),
    KSCHEMA("JobStatus"),
    KSCHEMA("DeadLetter"),
    KENUM("log.level", "info", "error|warn|info|debug",
          "Least severe log level written (librdkafka's too)"),
    KENUM("log.format", "text", "text|json", "text: one readable line; json: one object per line"),
    KSTR("metrics.listen", "", check_listen,
         "HOST:PORT of /metrics, /livez and /readyz (empty: none; :PORT: every address; port 0: a "
         "free one, logged)"),
    KINT("metrics.stall_seconds", "30", 1, 3600,
         "/livez fails when the worker's loop has not turned for this long"),
    KINT("kafka.startup_timeout_seconds", "30", 1, 3600,
         "A worker that cannot reach Kafka for this long at start exits 1"),
};

#define N_KEYS (sizeof keys / sizeof keys[0])

typedef struct kafka_kv {
    char *name;   /* owned; without "kafka." */
    char *value;  /* owned */
    char *origin; /* owned; for errors */
} kafka_kv;

struct mdf_config {
    char *values[N_KEYS]; /* owned; NULL: the default */
    char *topics[N_KEYS]; /* owned full topic names, for topic keys only */
    mdf_vec kafka;        /* kafka_kv, owned, in the order first set */
};

static int find_key(const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].key, key) == 0)
            return (int)i;
    return -1;
}

static bool is_topic_key(size_t i)
{
    return keys[i].check == check_topic;
}

static const char *value_of(const mdf_config *c, size_t i)
{
    return c->values[i] ? c->values[i] : keys[i].def;
}

/* Kafka topic characters; the prefix may be empty, a name may not. */
static int check_topic_chars(const char *v, char *msg, size_t msgsz)
{
    size_t n = strlen(v);
    if (n > TOPIC_NAME_MAX)
        return mdf_seterr(msg, msgsz, "longer than %d characters", TOPIC_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return mdf_seterr(msg, msgsz,
                              "'%c' is not allowed in a topic name "
                              "(letters, digits, '.', '_', '-')",
                              ch);
    }
    return MDF_OK;
}

static int check_topic(const char *v, char *msg, size_t msgsz)
{
    if (!*v)
        return mdf_seterr(msg, msgsz, "empty topic name");
    return check_topic_chars(v, msg, msgsz);
}

static int check_prefix(const char *v, char *msg, size_t msgsz)
{
    return check_topic_chars(v, msg, msgsz);
}

static int check_endpoint(const char *v, char *msg, size_t msgsz)
{
    mdf_url_parts u;
    char why[MDF_ERRSZ];
    /* the ARM client copies it into a 512-byte field */
    if (strlen(v) >= 512)
        return mdf_seterr(msg, msgsz, "longer than 511 characters");
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return mdf_seterr(msg, msgsz, "not an https:// URL");
    if (mdf_url_parse(v, &u, why, sizeof why) != MDF_OK)
        return mdf_seterr(msg, msgsz, "%s", why);
    return MDF_OK;
}

static int check_api_version(const char *v, char *msg, size_t msgsz)
{
    size_t n = strlen(v);
    /* it goes into every URL's query string, and into a 32-byte field */
    if (n == 0 || n > 31)
        return mdf_seterr(msg, msgsz, "must be 1 to 31 characters, like 2026-07-01");
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-'))
            return mdf_seterr(msg, msgsz, "only letters, digits and '-', like 2026-07-01");
    }
    return MDF_OK;
}

/* "host" or "*.suffix", as mdf_host_matches takes them. */
static int check_host_pattern(const char *v, char *msg, size_t msgsz)
{
    size_t n = strlen(v);
    const char *name = strncmp(v, "*.", 2) == 0 ? v + 2 : v;
    if (n > 255)
        return mdf_seterr(msg, msgsz, "host longer than 255 characters");
    if (!*name)
        return mdf_seterr(msg, msgsz, "empty host after \"*.\"");
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']'))
            return mdf_seterr(msg, msgsz, "\"%s\" is not a host or *.suffix", v);
    }
    return MDF_OK;
}

/* "", ":PORT" or "HOST:PORT" ("[v6]:PORT"), PORT 0..65535 (0: a free port,
 * which the worker logs). */
static int check_listen(const char *v, char *msg, size_t msgsz)
{
    const char *colon = strrchr(v, ':');
    if (!v[0])
        return MDF_OK;
    if (!colon || !colon[1] || strlen(colon + 1) > 5)
        return mdf_seterr(msg, msgsz, "not HOST:PORT or :PORT");
    long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return mdf_seterr(msg, msgsz, "port \"%s\" is not a number", colon + 1);
        port = port * 10 + (*p - '0');
    }
    if (port > 65535)
        return mdf_seterr(msg, msgsz, "port %ld out of 0..65535", port);
    return MDF_OK;
}

/* An Entra ID resource: an https URL ending in '/' (the token's scope is
 * it + ".default"). */
static int check_audience(const char *v, char *msg, size_t msgsz)
{
    mdf_url_parts u;
    char why[MDF_ERRSZ];
    size_t n = strlen(v);
    if (n >= 256 || strncmp(v, "https://", 8) != 0 || v[n - 1] != '/' ||
        mdf_url_parse(v, &u, why, sizeof why) != MDF_OK)
        return mdf_seterr(msg, msgsz, "not an audience like https://storage.azure.com/");
    return MDF_OK;
}

/* Matches v (case-insensitive) against a '|'-separated list; copies the
 * canonical spelling into out. */
static int match_allowed(const char *allowed, const char *v, size_t vlen, char *out, size_t outsz)
{
    const char *p = allowed;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && strncasecmp(p, v, n) == 0 && n < outsz) {
            memcpy(out, p, n);
            out[n] = '\0';
            return MDF_OK;
        }
        p += n;
        if (*p == '|')
            p++;
    }
    return MDF_ERR;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '\n')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r' ||
                        (*s)[*len - 1] == '\n'))
        (*len)--;
}

/* Digits with at most one '.', nothing else: no signs, exponents, hex, inf
 * or nan, which strtod would take but no one means in a rate. */
static int parse_double(const char *v, double *out)
{
    size_t digits = 0, dots = 0;
    for (const char *p = v; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.')
            dots++;
        else
            return MDF_ERR;
    }
    if (digits == 0 || dots > 1)
        return MDF_ERR;
    errno = 0;
    *out = strtod(v, NULL);
    return errno == ERANGE ? MDF_ERR : MDF_OK;
}

static int check_list(const keydef *d, const char *v, char *out, size_t outsz, char *msg,
                      size_t msgsz)
{
    size_t used = 0;
    int64_t count = 0;
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *item = p;
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[MDF_CONFIG_LINE_MAX + 1];
        trim(&item, &n);
        if (n == 0)
            return mdf_seterr(msg, msgsz, "empty item in list \"%s\"", v);
        if (d->allowed) {
            if (match_allowed(d->allowed, item, n, one, sizeof one) != MDF_OK)
                return mdf_seterr(msg, msgsz, "unknown item \"%.*s\" (one of %s)", (int)n, item,
                                  d->allowed);
        } else {
            memcpy(one, item, n); /* n <= the value's length, which fits */
            one[n] = '\0';
        }
        if (d->check && d->check(one, msg, msgsz) != MDF_OK)
            return MDF_ERR;
        if (++count > d->imax)
            return mdf_seterr(msg, msgsz, "more than %" PRId64 " items", d->imax);
        int w = snprintf(out + used, outsz - used, "%s%s", used ? "," : "", one);
        if (w < 0 || (size_t)w >= outsz - used)
            return mdf_seterr(msg, msgsz, "list too long");
        used += (size_t)w;
        if (!comma)
            break;
        p = comma + 1;
    }
    return MDF_OK;
}

/* Checks v against d and writes its normal form into out. */
static int check_value(const keydef *d, const char *v, char *out, size_t outsz, char *msg,
                       size_t msgsz)
{
    int64_t i;
    double x;
    switch (d->type) {
    case K_STRING:
        if (d->check && d->check(v, msg, msgsz) != MDF_OK)
            return MDF_ERR;
        break;
    case K_INT:
        if (mdf_parse_int64(v, strlen(v), &i) != 0)
            return mdf_seterr(msg, msgsz, "\"%s\" is not an integer", v);
        if (i < d->imin || i > d->imax)
            return mdf_seterr(msg, msgsz, "%" PRId64 " is out of range %" PRId64 "..%" PRId64, i,
                              d->imin, d->imax);
        snprintf(out, outsz, "%" PRId64, i); /* "007" -> "7" */
        return MDF_OK;
    case K_DOUBLE:
        if (parse_double(v, &x) != MDF_OK)
            return mdf_seterr(msg, msgsz, "\"%s\" is not a number like 12.5", v);
        if (x < d->dmin || x > d->dmax)
            return mdf_seterr(msg, msgsz, "%s is out of range %g..%g", v, d->dmin, d->dmax);
        break;
    case K_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"))
            return mdf_strlcpy(out, "true", outsz) == 0 ? MDF_OK : MDF_ERR;
        if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0"))
            return mdf_strlcpy(out, "false", outsz) == 0 ? MDF_OK : MDF_ERR;
        return mdf_seterr(msg, msgsz, "\"%s\" is not a boolean (true/false/1/0/yes/no)", v);
    case K_ENUM:
        if (match_allowed(d->allowed, v, strlen(v), out, outsz) != MDF_OK)
            return mdf_seterr(msg, msgsz, "\"%s\" is not one of %s", v, d->allowed);
        return MDF_OK;
    case K_LIST:
        return check_list(d, v, out, outsz, msg, msgsz);
    }
    if (mdf_strlcpy(out, v, outsz) != 0)
        return mdf_seterr(msg, msgsz, "value too long");
    return MDF_OK;
}

/* (Re)builds the full name of topic key i: prefix + name. */
static int build_topic(mdf_config *c, size_t i)
{
    const char *prefix = value_of(c, (size_t)find_key("topics.prefix"));
    size_t plen = strlen(prefix), nlen = strlen(value_of(c, i));
    char *full = malloc(plen + nlen + 1);
    if (!full)
        return MDF_ERR;
    memcpy(full, prefix, plen);
    memcpy(full + plen, value_of(c, i), nlen + 1);
    free(c->topics[i]);
    c->topics[i] = full;
    return MDF_OK;
}

int mdf_config_new(mdf_config **out, char *err, size_t errsz)
{
    *out = NULL;
    mdf_config *c = calloc(1, sizeof *c);
    if (!c)
        return mdf_seterr(err, errsz, "out of memory");
    mdf_vec_init(&c->kafka, sizeof(kafka_kv), KAFKA_MAX);
    for (size_t i = 0; i < N_KEYS; i++) {
        if (is_topic_key(i) && build_topic(c, i) != MDF_OK) {
            mdf_config_free(c);
            return mdf_seterr(err, errsz, "out of memory");
        }
    }
    *out = c;
    return MDF_OK;
}

void mdf_config_free(mdf_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        free(c->values[i]);
        free(c->topics[i]);
    }
    for (size_t i = 0; i < c->kafka.len; i++) {
        kafka_kv *kv = &MDF_VEC_AT(&c->kafka, kafka_kv, i);
        free(kv->name);
        free(kv->value);
        free(kv->origin);
    }
    mdf_vec_free(&c->kafka);
    free(c);
}

static int set_kafka(mdf_config *c, const char *name, const char *value, const char *origin,
                     char *err, size_t errsz)
{
    int rc = MDF_ERR;
    char *v = NULL, *o = NULL;
    if (!*name || strlen(name) > KEY_MAX) {
        mdf_seterr(err, errsz, "%s: \"kafka.%s\" is not a librdkafka property name", origin, name);
        goto cleanup;
    }
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-')) {
            mdf_seterr(err, errsz, "%s: \"kafka.%s\" is not a librdkafka property name", origin,
                       name);
            goto cleanup;
        }
    }
    v = strdup(value);
    o = strdup(origin);
    if (!v || !o) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    /* set again: the new value replaces the old one in its place */
    for (size_t i = 0; i < c->kafka.len; i++) {
        kafka_kv *kv = &MDF_VEC_AT(&c->kafka, kafka_kv, i);
        if (strcmp(kv->name, name) == 0) {
            free(kv->value);
            free(kv->origin);
            kv->value = v;
            kv->origin = o;
            v = o = NULL;
            rc = MDF_OK;
            goto cleanup;
        }
    }
    if (c->kafka.len == KAFKA_MAX) {
        mdf_seterr(err, errsz, "%s: more than %d kafka.* settings", origin, KAFKA_MAX);
        goto cleanup;
    }
    char *n = strdup(name);
    kafka_kv *kv = n ? mdf_vec_add(&c->kafka) : NULL;
    if (!kv) {
        free(n);
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    *kv = (kafka_kv){n, v, o};
    v = o = NULL;
    rc = MDF_OK;
cleanup:
    free(v);
    free(o);
    return rc;
}

int mdf_config_set(mdf_config *c, const char *key, const char *value, const char *origin, char *err,
                   size_t errsz)
{
    char trimmed[MDF_CONFIG_LINE_MAX + 1], norm[MDF_CONFIG_LINE_MAX + 1], msg[MDF_ERRSZ];
    const char *v = value;
    size_t vlen = strlen(value);
    if (!origin)
        origin = "--set";
    /* surrounding blanks are never part of a value (env, file, flag alike) */
    trim(&v, &vlen);
    if (vlen > MDF_CONFIG_LINE_MAX)
        return mdf_seterr(err, errsz, "%s: %s: value longer than %d bytes", origin, key,
                          MDF_CONFIG_LINE_MAX);
    for (size_t i = 0; i < vlen; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return mdf_seterr(err, errsz, "%s: %s: control character in value", origin, key);
    memcpy(trimmed, v, vlen);
    trimmed[vlen] = '\0';

    /* mdefleet's own kafka.* keys have underscores, which librdkafka's
     * property names never do */
    int k = find_key(key);
    if (k < 0 && strncmp(key, KAFKA_PREFIX, KAFKA_PREFIX_LEN) == 0)
        return set_kafka(c, key + KAFKA_PREFIX_LEN, trimmed, origin, err, errsz);
    if (k < 0)
        return mdf_seterr(err, errsz, "%s: unknown key \"%.*s\"", origin, KEY_MAX, key);
    if (check_value(&keys[k], trimmed, norm, sizeof norm, msg, sizeof msg) != MDF_OK)
        return mdf_seterr(err, errsz, "%s: %s: %s", origin, key, msg);
    char *copy = strdup(norm);
    if (!copy)
        return mdf_seterr(err, errsz, "out of memory");
    free(c->values[k]);
    c->values[k] = copy;
    /* full topic names are kept built so mdf_config_topic can hand out a
     * stable pointer from a const config */
    bool prefix = strcmp(key, "topics.prefix") == 0;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (is_topic_key(i) && (prefix || (size_t)k == i) && build_topic(c, i) != MDF_OK)
            return mdf_seterr(err, errsz, "out of memory");
    }
    return MDF_OK;
}

/* MDEFLEET_ + the key upper-cased, '.' and '-' as '_'. */
static void env_name(const char *key, char *out, size_t outsz)
{
    size_t n = mdf_strlcpy(out, ENV_PREFIX, outsz) == 0 ? ENV_PREFIX_LEN : 0;
    for (const char *p = key; *p && n + 1 < outsz; p++) {
        char ch = *p;
        if (ch == '.' || ch == '-')
            ch = '_';
        else if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        out[n++] = ch;
    }
    out[n] = '\0';
}

bool mdf_config_env_is_service_link(const char *name)
{
    static const char *const protos[] = {"TCP", "UDP", "SCTP"};
    static const char *const parts[] = {"", "_PROTO", "_PORT", "_ADDR"};
    if (strncmp(name, ENV_PREFIX, ENV_PREFIX_LEN) != 0)
        return false;
    const char *s = name + ENV_PREFIX_LEN;
    if (!strcmp(s, "PORT") || !strcmp(s, "SERVICE_HOST") || !strcmp(s, "SERVICE_PORT"))
        return true;
    /* a named port: SERVICE_PORT_<NAME>, the port's name upper-cased */
    if (!strncmp(s, "SERVICE_PORT_", 13))
        return s[13] != '\0';
    if (strncmp(s, "PORT_", 5) != 0)
        return false;
    s += 5;
    size_t ndig = strspn(s, "0123456789");
    if (ndig == 0 || s[ndig] != '_')
        return false;
    s += ndig + 1;
    for (size_t p = 0; p < sizeof protos / sizeof *protos; p++) {
        size_t plen = strlen(protos[p]);
        if (strncmp(s, protos[p], plen) != 0)
            continue;
        for (size_t k = 0; k < sizeof parts / sizeof *parts; k++)
            if (!strcmp(s + plen, parts[k]))
                return true;
    }
    return false;
}

int mdf_config_load_env(mdf_config *c, char *const *envp, char *err, size_t errsz)
{
    char name[KEY_MAX + 1], want[KEY_MAX + 1];
    for (size_t e = 0; envp && envp[e]; e++) {
        const char *var = envp[e], *eq = strchr(var, '=');
        if (strncmp(var, ENV_PREFIX, ENV_PREFIX_LEN) != 0 || !eq)
            continue;
        size_t nlen = (size_t)(eq - var);
        if (nlen > KEY_MAX)
            return mdf_seterr(err, errsz, "%.*s...: unknown variable", 64, var);
        memcpy(name, var, nlen);
        name[nlen] = '\0';
        int k = -1;
        for (size_t i = 0; i < N_KEYS && k < 0; i++) {
            env_name(keys[i].key, want, sizeof want);
            if (strcmp(want, name) == 0)
                k = (int)i;
        }
        if (k >= 0) {
            if (mdf_config_set(c, keys[k].key, eq + 1, name, err, errsz) != MDF_OK)
                return MDF_ERR;
            continue;
        }
        if (strncmp(name, ENV_KAFKA_PREFIX, ENV_KAFKA_PREFIX_LEN) == 0 &&
            nlen > ENV_KAFKA_PREFIX_LEN) {
            /* librdkafka's names are lower case with dots */
            char key[KAFKA_PREFIX_LEN + KEY_MAX + 1];
            size_t n = KAFKA_PREFIX_LEN;
            memcpy(key, KAFKA_PREFIX, KAFKA_PREFIX_LEN);
            for (const char *p = name + ENV_KAFKA_PREFIX_LEN; *p; p++) {
                char ch = *p == '_' ? '.' : *p;
                if (ch >= 'A' && ch <= 'Z')
                    ch = (char)(ch - 'A' + 'a');
                key[n++] = ch;
            }
            key[n] = '\0';
            if (mdf_config_set(c, key, eq + 1, name, err, errsz) != MDF_OK)
                return MDF_ERR;
            continue;
        }
        /* reported at debug by mdf_config_log_setup, once the level is known */
        if (mdf_config_env_is_service_link(name))
            continue;
        return mdf_seterr(err, errsz,
                          "%s: unknown variable (settings are MDEFLEET_<KEY>, e.g. "
                          "MDEFLEET_ARM_ENDPOINT, or MDEFLEET_KAFKA_<PROPERTY>)",
                          name);
    }
    return MDF_OK;
}

static int load_lines(mdf_config *c, const char *path, char *data, size_t len, char *err,
                      size_t errsz)
{
    char origin[ORIGIN_MAX], key[KEY_MAX + 1];
    char *p = data, *end = data + len;
    for (size_t lineno = 1; p < end; lineno++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > MDF_CONFIG_LINE_MAX)
            return mdf_seterr(err, errsz, "%s:%zu: line longer than %d bytes", path, lineno,
                              MDF_CONFIG_LINE_MAX);
        if (memchr(p, '\0', n))
            return mdf_seterr(err, errsz, "%s:%zu: NUL byte", path, lineno);
        p[n] = '\0'; /* the '\n', or the buffer's own terminator */
        const char *line = p;
        p += n + 1;
        trim(&line, &n);
        if (n == 0 || line[0] == '#')
            continue;
        /* split at the first '=': values may hold more */
        const char *eq = memchr(line, '=', n);
        if (!eq)
            return mdf_seterr(err, errsz, "%s:%zu: expected key=value", path, lineno);
        const char *k = line;
        size_t klen = (size_t)(eq - line);
        trim(&k, &klen);
        if (klen == 0)
            return mdf_seterr(err, errsz, "%s:%zu: missing key before '='", path, lineno);
        if (klen > KEY_MAX)
            return mdf_seterr(err, errsz, "%s:%zu: unknown key \"%.40s...\"", path, lineno, k);
        memcpy(key, k, klen);
        key[klen] = '\0';
        snprintf(origin, sizeof origin, "%s:%zu", path, lineno);
        if (mdf_config_set(c, key, eq + 1, origin, err, errsz) != MDF_OK)
            return MDF_ERR;
    }
    return MDF_OK;
}

int mdf_config_load_file(mdf_config *c, const char *path, char *err, size_t errsz)
{
    mdf_buf b;
    mdf_buf_init(&b, MDF_CONFIG_FILE_MAX);
    int rc = mdf_buf_read_file(&b, path, err, errsz);
    /* an empty file sets nothing */
    if (rc == MDF_OK && b.len > 0)
        rc = load_lines(c, path, b.data, b.len, err, errsz);
    mdf_buf_free(&b);
    return rc;
}

int mdf_config_load_text(mdf_config *c, const char *name, const char *text, size_t len, char *err,
                         size_t errsz)
{
    if (len > MDF_CONFIG_FILE_MAX)
        return mdf_seterr(err, errsz, "%s: larger than the %d-byte cap", name, MDF_CONFIG_FILE_MAX);
    if (len == 0)
        return MDF_OK;
    /* load_lines cuts the lines in place: a copy of the caller's text */
    mdf_buf b;
    mdf_buf_init(&b, MDF_CONFIG_FILE_MAX);
    int rc = mdf_buf_append(&b, text, len) == 0 ? load_lines(c, name, b.data, b.len, err, errsz)
                                                : mdf_seterr(err, errsz, "%s: out of memory", name);
    mdf_buf_free(&b);
    return rc;
}

const char *mdf_config_get(const mdf_config *c, const char *key)
{
    int k = find_key(key);
    if (k < 0 && strncmp(key, KAFKA_PREFIX, KAFKA_PREFIX_LEN) == 0) {
        for (size_t i = 0; i < c->kafka.len; i++) {
            const kafka_kv *kv = &MDF_VEC_AT(&c->kafka, kafka_kv, i);
            if (strcmp(kv->name, key + KAFKA_PREFIX_LEN) == 0)
                return kv->value;
        }
        return NULL;
    }
    return k < 0 ? NULL : value_of(c, (size_t)k);
}

int64_t mdf_config_get_int(const mdf_config *c, const char *key)
{
    int k = find_key(key);
    int64_t v;
    if (k < 0 || keys[k].type != K_INT)
        return 0;
    const char *s = value_of(c, (size_t)k);
    return mdf_parse_int64(s, strlen(s), &v) == 0 ? v : 0;
}

bool mdf_config_get_bool(const mdf_config *c, const char *key)
{
    int k = find_key(key);
    return k >= 0 && keys[k].type == K_BOOL && strcmp(value_of(c, (size_t)k), "true") == 0;
}

double mdf_config_get_double(const mdf_config *c, const char *key)
{
    int k = find_key(key);
    double v;
    if (k < 0)
        return 0;
    if (keys[k].type == K_INT)
        return (double)mdf_config_get_int(c, key);
    if (keys[k].type != K_DOUBLE)
        return 0;
    return parse_double(value_of(c, (size_t)k), &v) == MDF_OK ? v : 0;
}

bool mdf_config_list_has(const mdf_config *c, const char *key, const char *item)
{
    int k = find_key(key);
    if (k < 0 || keys[k].type != K_LIST)
        return false;
    size_t n = strlen(item);
    /* stored normalized: items joined by ',' without blanks */
    for (const char *p = value_of(c, (size_t)k); *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0)
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

const char *mdf_config_topic(const mdf_config *c, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (is_topic_key(i) && strcmp(keys[i].key + TOPIC_PREFIX_LEN, name) == 0)
            return c->topics[i];
    return NULL;
}

const char *mdf_config_topic_id(const mdf_config *c, mdf_topic t)
{
    const char *name = mdf_topic_key(t);
    return name ? mdf_config_topic(c, name) : NULL;
}

int mdf_config_check(const mdf_config *c, char *err, size_t errsz)
{
    char msg[MDF_ERRSZ];
    if (strcmp(mdf_config_get(c, "codec.framing"), "confluent") == 0) {
        for (size_t i = 0; i < N_KEYS; i++)
            if (strncmp(keys[i].key, "codec.schema_id.", 16) == 0 &&
                mdf_config_get_int(c, keys[i].key) == 0)
                return mdf_seterr(err, errsz,
                                  "codec.framing=confluent needs %s (the Schema Registry id), "
                                  "but it is 0",
                                  keys[i].key);
    }
    mdf_url_parts u;
    const char *endpoint = mdf_config_get(c, "arm.endpoint");
    if (mdf_url_parse(endpoint, &u, msg, sizeof msg) != MDF_OK)
        return mdf_seterr(err, errsz, "arm.endpoint: %s", msg);
    if (strcmp(u.scheme, "https") != 0 &&
        !(strcmp(u.scheme, "http") == 0 && mdf_host_is_loopback(u.host) &&
          mdf_config_get_bool(c, "http.allow_loopback")))
        return mdf_seterr(err, errsz,
                          "arm.endpoint: %s is not https (plain http only to a "
                          "loopback host, with http.allow_loopback=true)",
                          u.host);
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!is_topic_key(i))
            continue;
        const char *t = c->topics[i];
        if (strlen(t) > TOPIC_NAME_MAX || !strcmp(t, ".") || !strcmp(t, ".."))
            return mdf_seterr(err, errsz, "%s: \"%.40s...\" is not a valid topic name", keys[i].key,
                              t);
        for (size_t j = 0; j < i; j++)
            if (is_topic_key(j) && strcmp(c->topics[j], t) == 0)
                return mdf_seterr(err, errsz, "%s and %s both name topic \"%s\"", keys[j].key,
                                  keys[i].key, t);
    }
    return MDF_OK;
}

int mdf_config_apply_kafka(const mdf_config *c, rd_kafka_conf_t *conf, char *err, size_t errsz)
{
    char why[512];
    for (size_t i = 0; i < c->kafka.len; i++) {
        const kafka_kv *kv = &MDF_VEC_AT(&c->kafka, kafka_kv, i);
        if (rd_kafka_conf_set(conf, kv->name, kv->value, why, sizeof why) != RD_KAFKA_CONF_OK) {
            /* keep it one line whatever librdkafka wrote */
            for (char *p = why; *p; p++)
                if (*p == '\n' || *p == '\r')
                    *p = ' ';
            return mdf_seterr(err, errsz, "%s: kafka.%s: %s", kv->origin, kv->name, why);
        }
    }
    return MDF_OK;
}

static void describe_type(const keydef *d, char *out, size_t outsz)
{
    switch (d->type) {
    case K_STRING:
        snprintf(out, outsz, "string");
        break;
    case K_INT:
        snprintf(out, outsz, "int %" PRId64 "..%" PRId64, d->imin, d->imax);
        break;
    case K_DOUBLE:
        snprintf(out, outsz, "number %g..%g", d->dmin, d->dmax);
        break;
    case K_BOOL:
        snprintf(out, outsz, "bool");
        break;
    case K_ENUM:
        snprintf(out, outsz, "one of %s", d->allowed);
        break;
    case K_LIST:
        snprintf(out, outsz, "comma list%s%s", d->allowed ? " of " : "",
                 d->allowed ? d->allowed : "");
        break;
    }
}

void mdf_config_describe(FILE *fp)
{
    char type[256], env[KEY_MAX + 1];
    fprintf(fp, "%-34s %-28s %s\n", "# key", "default", "description");
    for (size_t i = 0; i < N_KEYS; i++) {
        describe_type(&keys[i], type, sizeof type);
        env_name(keys[i].key, env, sizeof env);
        fprintf(fp, "%-34s %-28s %s [%s; %s]\n", keys[i].key, *keys[i].def ? keys[i].def : "\"\"",
                keys[i].desc, type, env);
    }
    fprintf(fp, "%-34s %-28s %s\n", "kafka.*", "(none)",
            "Passed to librdkafka as is, e.g. kafka.bootstrap.servers "
            "[MDEFLEET_KAFKA_BOOTSTRAP_SERVERS]");
}
