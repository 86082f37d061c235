/* mdefleet-producer: checks enforcement changes and scan jobs, publishes
 * them to Kafka, and returns only when the broker has acknowledged every
 * one (or says which were not); --wait then follows the jobs to their end.
 * Usage and behaviour: producer/README.md. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_codec.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "config_load.h"
#include "err.h"
#include "follow.h"
#include "kafka_producer.h"
#include "names.h"
#include "request.h"
#include "strconv.h"
#include "vec.h"

#define PROG "mdefleet-producer"
#define EXIT_USAGE MDF_EXIT_USAGE
#define MAX_LINE 65536      /* one --file request; a scan of 1024 nodes fits */
#define MAX_REQUESTS 100000 /* per run */
#define DEFAULT_WAIT_S 3600
#define MAX_WAIT_S 604800
/* librdkafka gives a record 300 s by default before it fails it; a person
 * at a terminal wants to know sooner that the broker is not there. */
#define DEFAULT_MESSAGE_TIMEOUT_MS "30000"
/* Beyond message.timeout.ms, the time librdkafka may take to report. */
#define FLUSH_MARGIN_MS 5000

extern char **environ;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mdefleet-producer [--config FILE] [--set key=value]... COMMAND [--wait "
            "[--timeout SECONDS]]\n"
            "       mdefleet-producer --version | --help\n"
            "  --config FILE  settings (default %s when it exists)\n"
            "  enforce --subscription S --resource-group RG --cluster C --level L\n"
            "          [--requested-by WHO]\n"
            "          L: Audit | Disabled | OnDemand | Passive | RealTime\n"
            "  scan    --subscription S --resource-group RG --cluster C\n"
            "          [--managed-resource-group MRG] [--node NAME]... "
            "[--limit-time-seconds 60..14400]\n"
            "          [--requested-by WHO]\n"
            "  --file FILE   instead of a command: one JSON request per line (- for stdin),\n"
            "                {\"type\":\"enforce\"|\"scan\", \"subscription\", \"resource_group\", "
            "\"cluster\",\n"
            "                 \"level\", \"managed_resource_group\", \"nodes\":[...], "
            "\"limit_time_seconds\",\n"
            "                 \"requested_by\"}; blank lines and # comments skipped\n"
            "  --wait        follow the jobs on the job status topic until they end\n"
            "  --timeout S   give up waiting after S seconds (default %d)\n"
            "Prints each job id when the broker has acknowledged its request.\n"
            "Exit: 0 done (every job succeeded, with --wait), 1 failed, 2 bad input,\n"
            "      3 a job partly succeeded, 130 interrupted.\n"
            "Configuration keys (kafka.bootstrap.servers is required):\n",
            mdf_config_default_file(), DEFAULT_WAIT_S);
    mdf_config_describe(fp);
}

typedef enum {
    O_CONFIG,
    O_SET,
    O_FILE,
    O_WAIT,
    O_TIMEOUT,
    O_HELP,
    O_VERSION,
    O_SUB,
    O_RG,
    O_CLUSTER,
    O_LEVEL,
    O_MRG,
    O_NODE,
    O_LIMIT,
    O_BY,
    O__COUNT
} opt_id;

static const struct option_def {
    const char *name;
    opt_id id;
    bool arg, repeat;
} options[] = {
    {"config", O_CONFIG, true, false},     {"set", O_SET, true, true},
    {"file", O_FILE, true, false},         {"wait", O_WAIT, false, false},
    {"timeout", O_TIMEOUT, true, false},   {"help", O_HELP, false, true},
    {"version", O_VERSION, false, true},   {"subscription", O_SUB, true, false},
    {"resource-group", O_RG, true, false}, {"cluster", O_CLUSTER, true, false},
    {"level", O_LEVEL, true, false},       {"managed-resource-group", O_MRG, true, false},
    {"node", O_NODE, true, true},          {"limit-time-seconds", O_LIMIT, true, false},
    {"requested-by", O_BY, true, false},
};

typedef struct cli {
    const char *command; /* "enforce", "scan" or NULL (--file) */
    const char *value[O__COUNT];
    bool given[O__COUNT];
    const char **sets; /* owned array of borrowed argv strings */
    size_t n_sets;
    const char **nodes; /* the same */
    size_t n_nodes;
    int64_t timeout_s;
    int64_t limit;
} cli;

static int add_arg(const char ***list, size_t *n, size_t cap, const char *v, char *err,
                   size_t errsz)
{
    if (!*list) {
        *list = calloc(cap, sizeof **list);
        if (!*list)
            return mdf_seterr(err, errsz, "out of memory");
    }
    (*list)[(*n)++] = v; /* cap is argc: never exceeded */
    return MDF_OK;
}

static int parse_int_arg(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out,
                         char *err, size_t errsz)
{
    if (mdf_parse_int64(v, strlen(v), out) != 0 || *out < lo || *out > hi)
        return mdf_seterr(err, errsz, "--%s \"%.40s\" is not a whole number in %lld..%lld", opt, v,
                          (long long)lo, (long long)hi);
    return MDF_OK;
}

/* One option: --name VALUE or --name=VALUE. *i moves past what it used. */
static int parse_option(cli *o, int argc, char **argv, int *i, char *err, size_t errsz)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const struct option_def *d = NULL;
    for (size_t k = 0; k < sizeof options / sizeof *options && !d; k++)
        if (strlen(options[k].name) == nlen && strncmp(options[k].name, name, nlen) == 0)
            d = &options[k];
    if (!d)
        return mdf_seterr(err, errsz, "unknown option --%.*s", (int)(nlen > 60 ? 60 : nlen), name);
    const char *v = NULL;
    if (d->arg) {
        if (eq)
            v = eq + 1;
        /* "--level --cluster x" is a forgotten value, not the level "--cluster" */
        else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
            v = argv[++*i];
        else
            return mdf_seterr(err, errsz, "--%s needs a value", d->name);
    } else if (eq) {
        return mdf_seterr(err, errsz, "--%s takes no value", d->name);
    }
    if (o->given[d->id] && !d->repeat)
        return mdf_seterr(err, errsz, "--%s given twice", d->name);
    o->given[d->id] = true;
    o->value[d->id] = v;
    if (d->id == O_SET)
        return add_arg(&o->sets, &o->n_sets, (size_t)argc, v, err, errsz);
    if (d->id == O_NODE)
        return add_arg(&o->nodes, &o->n_nodes, (size_t)argc, v, err, errsz);
    if (d->id == O_TIMEOUT)
        return parse_int_arg(d->name, v, 1, MAX_WAIT_S, &o->timeout_s, err, errsz);
    if (d->id == O_LIMIT)
        return parse_int_arg(d->name, v, MDF_EXTRACT_LIMIT_MIN, MDF_EXTRACT_LIMIT_MAX, &o->limit,
                             err, errsz);
    return MDF_OK;
}

static int parse_args(cli *o, int argc, char **argv, char *err, size_t errsz)
{
    o->timeout_s = DEFAULT_WAIT_S;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) {
            o->given[O_HELP] = true;
        } else if (strncmp(a, "--", 2) == 0 && a[2]) {
            if (parse_option(o, argc, argv, &i, err, errsz) != MDF_OK)
                return MDF_ERR;
        } else if (a[0] == '-' && a[1]) {
            return mdf_seterr(err, errsz, "unknown option %.60s", a);
        } else if (o->command) {
            return mdf_seterr(err, errsz, "unexpected argument \"%.60s\"", a);
        } else if (strcmp(a, "enforce") == 0 || strcmp(a, "scan") == 0) {
            o->command = a;
        } else {
            return mdf_seterr(err, errsz,
                              "unknown command \"%.60s\" (enforce, scan, or --file FILE)", a);
        }
    }
    if (o->given[O_HELP] || o->given[O_VERSION])
        return MDF_OK;
    if (!o->command && !o->given[O_FILE])
        return mdf_seterr(err, errsz, "no command: enforce, scan or --file FILE (see --help)");
    if (o->command && o->given[O_FILE])
        return mdf_seterr(err, errsz, "--file replaces the command: give one or the other");
    if (o->given[O_FILE]) {
        for (int id = O_SUB; id < O__COUNT; id++)
            if (o->given[id])
                for (size_t k = 0; k < sizeof options / sizeof *options; k++)
                    if (options[k].id == (opt_id)id)
                        return mdf_seterr(err, errsz,
                                          "--%s cannot be used with --file (its lines carry "
                                          "the fields)",
                                          options[k].name);
    }
    if (o->given[O_TIMEOUT] && !o->given[O_WAIT])
        return mdf_seterr(err, errsz, "--timeout needs --wait");
    return MDF_OK;
}

/* The shared loader (config_load.h), with this program's own default. */
static int load_config(mdf_config **out, const cli *o, char *err, size_t errsz)
{
    static const char *const presets[][2] = {
        {"kafka.message.timeout.ms", DEFAULT_MESSAGE_TIMEOUT_MS}};
    mdf_config_src src = {.presets = presets,
                          .n_presets = sizeof presets / sizeof *presets,
                          .preset_origin = "mdefleet-producer's default",
                          .file =
                              mdf_config_file_choose(o->given[O_CONFIG] ? o->value[O_CONFIG] : NULL,
                                                     mdf_config_default_file()),
                          .envp = environ,
                          .sets = o->sets,
                          .n_sets = o->n_sets};
    return mdf_config_load(out, &src, err, errsz);
}

/* Checked after the requests: a mistake in them is worth hearing about
 * first, and needs no broker to find. */
static int need_bootstrap(const mdf_config *c, char *err, size_t errsz)
{
    const char *bs = mdf_config_get(c, "kafka.bootstrap.servers");
    if (!bs || !*bs)
        return mdf_seterr(err, errsz,
                          "kafka.bootstrap.servers is not set (--set "
                          "kafka.bootstrap.servers=HOST:PORT, MDEFLEET_KAFKA_BOOTSTRAP_SERVERS "
                          "or --config FILE)");
    return MDF_OK;
}

static int codec_setup(req_codec *rc, const mdf_config *c, char *err, size_t errsz)
{
    memset(rc, 0, sizeof *rc);
    mdf_config_codec_opts(c, &rc->opts);
    return mdf_codec_new(&rc->codec, err, errsz);
}

/* The run's requests: an mdf_vec of request, at most MAX_REQUESTS. */
typedef mdf_vec batch;

#define REQ_AT(b, i) MDF_VEC_AT(b, request, i)

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->len; i++)
        req_free(&REQ_AT(b, i));
    mdf_vec_free(b);
}

/* Appends r, which it takes over (freed on failure). */
static int batch_push(batch *b, request *r, char *err, size_t errsz)
{
    int rc = MDF_OK;
    if (b->len == MAX_REQUESTS)
        rc = mdf_seterr(err, errsz, "more than %d requests", MAX_REQUESTS);
    else if (mdf_vec_push(b, r) != 0)
        rc = mdf_seterr(err, errsz, "out of memory");
    if (rc != MDF_OK)
        req_free(r);
    return rc;
}

/* One line into line (without its end), at most MAX_LINE bytes. Returns 1
 * for a line, 0 at the end of the file, -1 for a line too long. */
static int read_line(FILE *fp, mdf_buf *line)
{
    int ch;
    bool any = false;
    mdf_buf_reset(line);
    while ((ch = getc(fp)) != EOF) {
        any = true;
        if (ch == '\n')
            break;
        /* the caller refuses the whole file: reading on to the next
         * newline could last forever (--file /dev/zero) */
        if (mdf_buf_appendc(line, (char)ch) != 0)
            return -1;
    }
    if (line->len > 0 && line->data[line->len - 1] == '\r')
        line->data[--line->len] = '\0';
    return any ? 1 : 0;
}

static bool skipped(const mdf_buf *line)
{
    for (size_t i = 0; i < line->len; i++) {
        char ch = line->data[i];
        if (ch == '#')
            return true;
        if (ch != ' ' && ch != '\t')
            return false;
    }
    return true;
}

static int read_file(batch *b, const char *path, req_codec *rc, char *err, size_t errsz)
{
    int ret = MDF_ERR;
    char why[MDF_ERRSZ];
    mdf_buf line;
    bool is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "stdin" : path;
    FILE *fp = is_stdin ? stdin : fopen(path, "r");
    mdf_buf_init(&line, MAX_LINE);
    if (!fp) {
        mdf_seterr(err, errsz, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    for (size_t lineno = 1;; lineno++) {
        int got = read_line(fp, &line);
        if (got == 0)
            break;
        if (got < 0) {
            mdf_seterr(err, errsz, "%s:%zu: longer than %d bytes", shown, lineno, MAX_LINE);
            goto cleanup;
        }
        if (skipped(&line))
            continue;
        if (memchr(line.data, '\0', line.len)) {
            mdf_seterr(err, errsz, "%s:%zu: holds a NUL byte", shown, lineno);
            goto cleanup;
        }
        request r;
        if (req_from_json_line(&r, line.data, line.len, rc, why, sizeof why) != MDF_OK ||
            batch_push(b, &r, why, sizeof why) != MDF_OK) {
            mdf_seterr(err, errsz, "%s:%zu: %s", shown, lineno, why);
            goto cleanup;
        }
    }
    if (ferror(fp)) {
        mdf_seterr(err, errsz, "%s: read error", shown);
        goto cleanup;
    }
    if (b->len == 0) {
        mdf_seterr(err, errsz, "%s: no requests", shown);
        goto cleanup;
    }
    ret = MDF_OK;
cleanup:
    if (fp && !is_stdin)
        fclose(fp);
    mdf_buf_free(&line);
    return ret;
}

static int build_requests(batch *b, const cli *o, req_codec *rc, char *err, size_t errsz)
{
    if (o->given[O_FILE])
        return read_file(b, o->value[O_FILE], rc, err, errsz);
    req_input in = {
        .scan = strcmp(o->command, "scan") == 0,
        .subscription = o->value[O_SUB],
        .resource_group = o->value[O_RG],
        .cluster = o->value[O_CLUSTER],
        .level = o->value[O_LEVEL],
        .managed_resource_group = o->value[O_MRG],
        .nodes = o->nodes,
        .n_nodes = o->n_nodes,
        .has_limit = o->given[O_LIMIT],
        .limit_time_seconds = o->limit,
        .requested_by = o->value[O_BY],
    };
    request r;
    if (req_build(&r, &in, REQ_NAMES_CLI, rc, err, errsz) != MDF_OK)
        return MDF_ERR;
    return batch_push(b, &r, err, errsz);
}

static void on_delivered(void *opaque, rd_kafka_resp_err_t e)
{
    request *r = opaque;
    r->reported = true;
    r->delivery_err = e;
}

/* How long to wait for the last acknowledgement: librdkafka fails a record
 * after message.timeout.ms, so waiting a little longer always ends with a
 * definite answer for every record. */
static int64_t flush_timeout_ms(mdf_producer *p)
{
    char v[32];
    size_t sz = sizeof v;
    int64_t ms = 300000;
    if (rd_kafka_conf_get(rd_kafka_conf(mdf_producer_handle(p)), "message.timeout.ms", v, &sz) ==
        RD_KAFKA_CONF_OK)
        mdf_parse_int64(v, strlen(v), &ms);
    return (ms > 0 ? ms : 300000) + FLUSH_MARGIN_MS;
}

/* Sends every request and waits for the broker's answers. Prints the ids
 * of the acknowledged ones; returns 0, 1 (some not acknowledged) or 130. */
static int publish(batch *b, const mdf_config *c)
{
    char err[MDF_ERRSZ] = "";
    mdf_producer *p = NULL;
    size_t sent = 0;
    if (mdf_producer_new(&p, c, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "mdefleet-producer: %s\n", err);
        return 1;
    }
    for (; sent < b->len && !interrupted; sent++) {
        request *r = &REQ_AT(b, sent);
        const mdf_header h[] = {{MDF_HDR_CONTENT_TYPE, MDF_CONTENT_AVRO},
                                {MDF_HDR_EVENT_ID, r->job_id},
                                {MDF_HDR_CORRELATION_ID, r->job_id}};
        const char *topic = mdf_config_topic_id(c, r->rec == MDF_REC_SCAN_JOB ? MDF_TOPIC_SCAN_JOBS
                                                                              : MDF_TOPIC_ENFORCE);
        if (mdf_producer_send(p, topic, r->key, strlen(r->key), r->value.data, r->value.len, h,
                              sizeof h / sizeof *h, on_delivered, r, err, sizeof err) != MDF_OK)
            break;
    }
    int64_t deadline = mdf_time_now_ms() + flush_timeout_ms(p);
    while (mdf_producer_outstanding(p) > 0 && !interrupted && mdf_time_now_ms() < deadline)
        mdf_producer_flush(p, 200);
    /* What is still out now is purged and reported as failed. */
    mdf_producer_close(p, 0);

    size_t acked = 0;
    const request *first_failed = NULL;
    for (size_t i = 0; i < b->len; i++) {
        const request *r = &REQ_AT(b, i);
        if (r->reported && r->delivery_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            printf("%s\n", r->job_id);
            acked++;
        } else if (!first_failed && i < sent) {
            first_failed = r;
        }
    }
    fflush(stdout);
    if (acked == b->len)
        return 0;
    if (interrupted) {
        fprintf(stderr,
                "mdefleet-producer: interrupted: %zu of %zu requests not acknowledged by the "
                "broker\n",
                b->len - acked, b->len);
        return FOLLOW_INTERRUPTED;
    }
    char first[MDF_ERRSZ] = "";
    if (err[0])
        snprintf(first, sizeof first, "%s", err);
    else if (first_failed)
        snprintf(first, sizeof first, "job %s: %s%s", first_failed->job_id,
                 rd_kafka_err2str(first_failed->delivery_err),
                 first_failed->delivery_err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                     ? " (is kafka.bootstrap.servers right and the broker up?)"
                     : "");
    fprintf(stderr, "mdefleet-producer: %zu of %zu requests not acknowledged by the broker: %s\n",
            b->len - acked, b->len, first);
    return 1;
}

static int run(const cli *o)
{
    char err[MDF_ERRSZ];
    int rc = EXIT_USAGE;
    mdf_config *c = NULL;
    req_codec codec = {0};
    batch b;
    follow *f = NULL;
    mdf_vec_init(&b, sizeof(request), MAX_REQUESTS);

    /* Everything is checked before anything goes out: a bad line 7 must
     * not leave lines 1-6 published. */
    if (load_config(&c, o, err, sizeof err) != MDF_OK ||
        codec_setup(&codec, c, err, sizeof err) != MDF_OK ||
        build_requests(&b, o, &codec, err, sizeof err) != MDF_OK ||
        need_bootstrap(c, err, sizeof err) != MDF_OK) {
        fprintf(stderr, "mdefleet-producer: %s\n", err);
        goto cleanup;
    }
    mdf_config_log_setup(c, PROG, environ);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    rc = 1;
    /* The status reader starts at the topic's end before the first request
     * leaves: a fast worker's first status cannot slip past it. */
    if (o->given[O_WAIT]) {
        if (follow_new(&f, c, b.len, err, sizeof err) != MDF_OK) {
            fprintf(stderr, "mdefleet-producer: --wait: %s\n", err);
            goto cleanup;
        }
        for (size_t i = 0; i < b.len; i++) {
            const request *r = &REQ_AT(&b, i);
            if (follow_add_job(f, r->job_id, r->rec == MDF_REC_SCAN_JOB, err, sizeof err) !=
                MDF_OK) {
                fprintf(stderr, "mdefleet-producer: %s\n", err);
                goto cleanup;
            }
        }
    }
    rc = publish(&b, c);
    if (rc != 0 || !f)
        goto cleanup;
    rc = follow_run(f, codec.codec, o->timeout_s * 1000, isatty(STDOUT_FILENO), &interrupted);
cleanup:
    follow_free(f);
    batch_free(&b);
    mdf_codec_destroy(codec.codec);
    mdf_config_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    char err[MDF_ERRSZ];
    cli o;
    memset(&o, 0, sizeof o);
    int rc = EXIT_USAGE;
    if (parse_args(&o, argc, argv, err, sizeof err) != MDF_OK)
        rc = mdf_cli_usage_error(PROG, "%s", err);
    else if (o.given[O_HELP]) {
        usage(stdout);
        rc = 0;
    } else if (o.given[O_VERSION])
        rc = mdf_cli_version(PROG, "librdkafka", rd_kafka_version_str());
    else
        rc = run(&o);
    free(o.sets);
    free(o.nodes);
    return rc;
}
