/* mdefleet-broker: librdkafka's mock cluster as a development broker. It
 * creates mdefleet's topics (config/topics) up front, because the mock
 * cluster would otherwise auto-create them with 4 partitions, writes its
 * bootstrap list to a file (ports are random) and runs until SIGTERM or
 * SIGINT. With --control it takes fault commands on stdin (a partition
 * without a leader, a broker down, errors answered to requests), for the
 * tests of what faults do. For tests
 * and one-machine runs only: data lives in memory. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "kafka_log.h"
#include "strconv.h"

#ifndef MDF_TOPICS_FILE
#define MDF_TOPICS_FILE "config/topics"
#endif

#define PROG "mdefleet-broker"
#define TOPICS_FILE_MAX (64 * 1024)
#define MAX_TOPICS 64      /* one thread each while creating them */
#define TOPIC_NAME_MAX 249 /* Kafka's limit */
#define CONNECT_TIMEOUT_MS 10000

typedef struct topic_spec {
    char name[TOPIC_NAME_MAX + 1]; /* with the prefix */
    int partitions;
} topic_spec;

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " --bootstrap-file PATH [--brokers N] [--topics FILE] [--prefix P]\n"
            "       " PROG " --version | --help\n"
            "  --bootstrap-file PATH  where to write the bootstrap list (host:port,...)\n"
            "  --brokers N            brokers in the mock cluster, 1..32 (default 3)\n"
            "  --topics FILE          topic list: name and partitions per line\n"
            "                         (default " MDF_TOPICS_FILE ")\n"
            "  --prefix P             prefix of every topic name (default \"mde.\")\n"
            "  --control              read fault commands from stdin, one per line, each\n"
            "                         answered \"ok\" or \"error: ...\" on stdout:\n"
            "                           leader TOPIC PARTITION|* BROKER|-1\n"
            "                         (-1: no leader, so that writes to it wait)\n"
            "                           down BROKER | up BROKER\n"
            "                         (its connections closed and refused, or back)\n"
            "                           errors APIKEY COUNT CODE\n"
            "                         (the next COUNT requests of API APIKEY, 0 Produce,\n"
            "                         answered with Kafka error CODE, 6 not the leader)\n"
            "Prints the bootstrap list on one line once it accepts connections; runs until\n"
            "SIGTERM/SIGINT. librdkafka 2.0.2's mock keeps about 5 MB per partition, in\n"
            "memory; a rebalance waits session.timeout.ms minus 1 s (use ~6000 ms).\n");
}

static bool topic_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* One line of config/topics: "name partitions ..." (more columns are
 * documentation). Returns 1 for a topic, 0 for a blank or comment line. */
static int parse_topic_line(char *line, const char *prefix, topic_spec *t, char *err, size_t errsz)
{
    const char *seps = " \t\r";
    char *p = line + strspn(line, seps);
    if (*p == '\0' || *p == '#')
        return 0;
    size_t nlen = strcspn(p, seps);
    const char *name = p;
    p += nlen;
    p += strspn(p, seps);
    size_t plen = strcspn(p, seps);
    int64_t parts;
    for (size_t i = 0; i < nlen; i++)
        if (!topic_char_ok(name[i]))
            return mdf_seterr(err, errsz, "\"%.*s\" is not a topic name", (int)nlen, name);
    if (plen == 0 || mdf_parse_int64(p, plen, &parts) != 0 || parts < 1 || parts > 10000)
        return mdf_seterr(err, errsz, "%.*s: partitions must be a number 1..10000", (int)nlen,
                          name);
    int w = snprintf(t->name, sizeof t->name, "%s%.*s", prefix, (int)nlen, name);
    if (w < 0 || (size_t)w >= sizeof t->name)
        return mdf_seterr(err, errsz, "%s%.*s: longer than %d characters", prefix, (int)nlen, name,
                          TOPIC_NAME_MAX);
    t->partitions = (int)parts;
    return 1;
}

/* Reads the topic list; *out is malloc'ed (caller frees), *n its length. */
static int read_topics(const char *path, const char *prefix, topic_spec **out, size_t *n, char *err,
                       size_t errsz)
{
    int rc = MDF_ERR;
    mdf_buf b;
    topic_spec *ts = NULL;
    char why[MDF_ERRSZ];
    size_t count = 0, lineno = 0;
    mdf_buf_init(&b, TOPICS_FILE_MAX);
    *out = NULL;
    *n = 0;
    if (mdf_buf_read_file(&b, path, err, errsz) != MDF_OK)
        goto cleanup;
    ts = calloc(MAX_TOPICS, sizeof *ts);
    if (!ts) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    for (char *line = b.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        if (count == MAX_TOPICS) {
            mdf_seterr(err, errsz, "%s: more than %d topics", path, MAX_TOPICS);
            goto cleanup;
        }
        int r = parse_topic_line(line, prefix, &ts[count], why, sizeof why);
        if (r < 0) {
            mdf_seterr(err, errsz, "%s:%zu: %s", path, lineno, why);
            goto cleanup;
        }
        count += (size_t)r;
        line = nl ? nl + 1 : NULL;
    }
    if (count == 0) {
        mdf_seterr(err, errsz, "%s: no topics", path);
        goto cleanup;
    }
    *out = ts;
    *n = count;
    ts = NULL;
    rc = MDF_OK;
cleanup:
    free(ts);
    mdf_buf_free(&b);
    return rc;
}

typedef struct create_job {
    rd_kafka_mock_cluster_t *mc;
    const topic_spec *topic;
    rd_kafka_resp_err_t err;
} create_job;

static void *create_topic_thread(void *arg)
{
    create_job *j = arg;
    /* replication factor 1: the mock keeps one copy whatever it says */
    j->err = rd_kafka_mock_topic_create(j->mc, j->topic->name, j->topic->partitions, 1);
    return NULL;
}

/* Creates the topics concurrently. librdkafka 2.0.2's mock thread can miss
 * the wake-up of an operation queued right after it answered the previous
 * one, and then serves it only after its 1 s poll timeout: one topic after
 * the other took 4 s or more for 9 topics. Queued together, they are
 * served together. */
static int create_topics(rd_kafka_mock_cluster_t *mc, const topic_spec *topics, size_t n, char *err,
                         size_t errsz)
{
    int rc = MDF_ERR;
    pthread_t *th = calloc(n, sizeof *th);
    create_job *jobs = calloc(n, sizeof *jobs);
    bool *started = calloc(n, sizeof *started);
    if (!th || !jobs || !started) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (create_job){mc, &topics[i], RD_KAFKA_RESP_ERR_NO_ERROR};
        started[i] = pthread_create(&th[i], NULL, create_topic_thread, &jobs[i]) == 0;
        if (!started[i])
            create_topic_thread(&jobs[i]); /* slower, still right */
    }
    for (size_t i = 0; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].err) {
            mdf_seterr(err, errsz, "topic %s: %s", topics[i].name, rd_kafka_err2str(jobs[i].err));
            goto cleanup;
        }
    }
    rc = MDF_OK;
cleanup:
    free(th);
    free(jobs);
    free(started);
    return rc;
}

/* One TCP connection attempt to host:port, closed at once; true when it
 * was accepted within timeout_ms. */
static bool try_connect(const char *host, const char *port, int timeout_ms)
{
    bool ok = false;
    struct addrinfo hints = {0}, *ai = NULL;
    int fd = -1;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        goto cleanup;
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        goto cleanup;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        ok = true;
    } else if (errno == EINPROGRESS) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        ok = poll(&pfd, 1, timeout_ms) == 1 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (ai)
        freeaddrinfo(ai);
    return ok;
}

/* Connects to the first host:port of list, retrying until timeout_ms:
 * proof the broker accepts connections before anyone is told its address. */
static int wait_connectable(const char *list, int timeout_ms, char *err, size_t errsz)
{
    char first[512], *host = first, *port;
    size_t len = strcspn(list, ",");
    if (len >= sizeof first)
        return mdf_seterr(err, errsz, "bootstrap address too long");
    memcpy(first, list, len);
    first[len] = '\0';
    port = strrchr(first, ':');
    if (!port)
        return mdf_seterr(err, errsz, "bootstrap address \"%s\" has no port", first);
    *port++ = '\0';
    if (host[0] == '[') { /* [::1]:port */
        host++;
        host[strcspn(host, "]")] = '\0';
    }
    int64_t deadline = mdf_time_now_ms() + timeout_ms;
    while (!try_connect(host, port, 1000)) {
        if (mdf_time_now_ms() >= deadline || stop_signal)
            return mdf_seterr(err, errsz, "%s:%s does not accept connections", host, port);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return MDF_OK;
}

/* Writes PATH.tmp and renames it to PATH, so that a reader never sees a
 * partial list. */
static int write_bootstrap(const char *path, const char *list, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    char tmp[4096];
    FILE *fp = NULL;
    int w = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (w < 0 || (size_t)w >= sizeof tmp)
        return mdf_seterr(err, errsz, "%s: path too long", path);
    fp = fopen(tmp, "w");
    if (!fp) {
        mdf_seterr(err, errsz, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int failed = fprintf(fp, "%s\n", list) < 0;
    failed |= fflush(fp) != 0 || fsync(fileno(fp)) != 0;
    failed |= fclose(fp) != 0;
    fp = NULL;
    if (failed) {
        mdf_seterr(err, errsz, "%s: write failed: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (rename(tmp, path) != 0) {
        mdf_seterr(err, errsz, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = MDF_OK;
cleanup:
    if (fp)
        fclose(fp);
    if (rc != MDF_OK)
        unlink(tmp);
    return rc;
}

/* ---- --control: faults on demand, for tests ----------------------------------- */

#define CONTROL_LINE_MAX 512

static int partitions_of(const topic_spec *topics, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(topics[i].name, name) == 0)
            return topics[i].partitions;
    }
    return -1;
}

/* leader TOPIC PARTITION|* BROKER|-1 */
static void control_leader(rd_kafka_mock_cluster_t *mc, const topic_spec *topics, size_t n_topics,
                           int64_t brokers, const char *line)
{
    char verb[16], topic[TOPIC_NAME_MAX + 1], part[16], broker[16], extra[2];
    int64_t p = -1, b = 0;
    int got = sscanf(line, "%15s %249s %15s %15s %1s", verb, topic, part, broker, extra);
    int n = got == 4 ? partitions_of(topics, n_topics, topic) : -1;
    if (got != 4)
        printf("error: expected: leader TOPIC PARTITION|* BROKER|-1\n");
    else if (n < 0)
        printf("error: no topic %s\n", topic);
    else if (strcmp(part, "*") != 0 &&
             (mdf_parse_int64(part, strlen(part), &p) != 0 || p < 0 || p >= n))
        printf("error: %s has partitions 0..%d, not %s\n", topic, n - 1, part);
    else if (mdf_parse_int64(broker, strlen(broker), &b) != 0 || b < -1 || b == 0 || b > brokers)
        printf("error: broker %s is not -1 or 1..%lld\n", broker, (long long)brokers);
    else {
        for (int i = p < 0 ? 0 : (int)p; i < (p < 0 ? n : (int)p + 1); i++) {
            rd_kafka_resp_err_t e = rd_kafka_mock_partition_set_leader(mc, topic, i, (int32_t)b);
            if (e) {
                printf("error: %s[%d]: %s\n", topic, i, rd_kafka_err2str(e));
                return;
            }
        }
        printf("ok\n");
    }
}

/* down|up BROKER: the broker's connections closed and refused, or back */
static void control_down_up(rd_kafka_mock_cluster_t *mc, int64_t brokers, const char *line)
{
    char verb[16], broker[16], extra[2];
    int64_t b = 0;
    if (sscanf(line, "%15s %15s %1s", verb, broker, extra) != 2 ||
        mdf_parse_int64(broker, strlen(broker), &b) != 0 || b < 1 || b > brokers) {
        printf("error: expected: %s BROKER (1..%lld)\n", verb, (long long)brokers);
        return;
    }
    rd_kafka_resp_err_t e = strcmp(verb, "down") == 0
                                ? rd_kafka_mock_broker_set_down(mc, (int32_t)b)
                                : rd_kafka_mock_broker_set_up(mc, (int32_t)b);
    if (e)
        printf("error: broker %lld: %s\n", (long long)b, rd_kafka_err2str(e));
    else
        printf("ok\n");
}

/* errors APIKEY COUNT CODE: the next COUNT requests of that API (0:
 * Produce, 1: Fetch, ...) answered with error CODE (6: not the leader) */
static void control_errors(rd_kafka_mock_cluster_t *mc, const char *line)
{
    char verb[16], key[16], count[16], code[16], extra[2];
    int64_t k = 0, c = 0, e = 0;
    if (sscanf(line, "%15s %15s %15s %15s %1s", verb, key, count, code, extra) != 4 ||
        mdf_parse_int64(key, strlen(key), &k) != 0 || k < 0 || k > 100 ||
        mdf_parse_int64(count, strlen(count), &c) != 0 || c < 1 || c > 10000 ||
        mdf_parse_int64(code, strlen(code), &e) != 0 || e < 1 || e > 200) {
        printf("error: expected: errors APIKEY(0..100) COUNT(1..10000) CODE(1..200)\n");
        return;
    }
    rd_kafka_resp_err_t *errs = malloc((size_t)c * sizeof *errs);
    if (!errs) {
        printf("error: out of memory\n");
        return;
    }
    for (int64_t i = 0; i < c; i++)
        errs[i] = (rd_kafka_resp_err_t)e;
    rd_kafka_mock_push_request_errors_array(mc, (int16_t)k, (size_t)c, errs);
    free(errs);
    printf("ok\n");
}

/* One command line; the answer goes to stdout. */
static void control(rd_kafka_mock_cluster_t *mc, const topic_spec *topics, size_t n_topics,
                    int64_t brokers, const char *line)
{
    char verb[16] = "";
    if (sscanf(line, "%15s", verb) != 1)
        verb[0] = '\0';
    if (strcmp(verb, "leader") == 0)
        control_leader(mc, topics, n_topics, brokers, line);
    else if (strcmp(verb, "down") == 0 || strcmp(verb, "up") == 0)
        control_down_up(mc, brokers, line);
    else if (strcmp(verb, "errors") == 0)
        control_errors(mc, line);
    else
        printf("error: unknown command %s (leader, down, up, errors)\n", verb);
    fflush(stdout);
}

/* Reads what stdin has (non-blocking) and runs each complete line; false
 * once stdin is closed. */
static bool control_poll(rd_kafka_mock_cluster_t *mc, const topic_spec *topics, size_t n_topics,
                         int64_t brokers, mdf_buf *pending)
{
    char chunk[256];
    ssize_t got = read(0, chunk, sizeof chunk);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (got > 0 && mdf_buf_append(pending, chunk, (size_t)got) != 0) {
        printf("error: a command longer than %d bytes\n", CONTROL_LINE_MAX);
        fflush(stdout);
        mdf_buf_reset(pending);
    }
    char *nl;
    while (pending->data && (nl = memchr(pending->data, '\n', pending->len))) {
        *nl = '\0';
        control(mc, topics, n_topics, brokers, pending->data);
        size_t rest = pending->len - (size_t)(nl + 1 - pending->data);
        memmove(pending->data, nl + 1, rest);
        pending->len = rest;
        pending->data[rest] = '\0';
    }
    return true;
}

int main(int argc, char **argv)
{
    const char *bootstrap_path = NULL, *topics_path = MDF_TOPICS_FILE, *prefix = "mde.";
    int64_t brokers = 3;
    bool with_control = false;
    char err[MDF_ERRSZ];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (mdf_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (mdf_cli_is_version(a))
            return mdf_cli_version(PROG, "librdkafka", rd_kafka_version_str());
        if (strcmp(a, "--control") == 0) {
            with_control = true;
            continue;
        }
        if (strcmp(a, "--bootstrap-file") && strcmp(a, "--brokers") && strcmp(a, "--topics") &&
            strcmp(a, "--prefix"))
            return mdf_cli_unknown(PROG, a);
        if (!v)
            return mdf_cli_needs_value(PROG, a);
        i++;
        if (strcmp(a, "--bootstrap-file") == 0)
            bootstrap_path = v;
        else if (strcmp(a, "--topics") == 0)
            topics_path = v;
        else if (strcmp(a, "--prefix") == 0)
            prefix = v;
        else if (mdf_parse_int64(v, strlen(v), &brokers) != 0 || brokers < 1 || brokers > 32)
            return mdf_cli_usage_error(PROG, "--brokers %s: not a number 1..32", v);
    }
    if (!bootstrap_path)
        return mdf_cli_usage_error(PROG, "--bootstrap-file is required (see --help)");
    for (const char *p = prefix; *p; p++) {
        if (!topic_char_ok(*p))
            return mdf_cli_usage_error(PROG, "--prefix %s: only letters, digits, '.', '_', '-'",
                                       prefix);
    }

    int rc = 1;
    topic_spec *topics = NULL;
    size_t n_topics = 0;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    bool wrote = false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* a reader waiting for the file must never take a previous run's list */
    if (unlink(bootstrap_path) != 0 && errno != ENOENT) {
        fprintf(stderr, PROG ": %s: %s\n", bootstrap_path, strerror(errno));
        goto cleanup;
    }
    if (read_topics(topics_path, prefix, &topics, &n_topics, err, sizeof err) != MDF_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        goto cleanup;
    }

    /* The mock cluster needs an rd_kafka_t for its bookkeeping: a producer
     * that never produces. log_level 3: without bootstrap.servers it would
     * warn that it cannot connect, which it is not meant to. The listeners
     * bind 127.0.0.1 only (INADDR_LOOPBACK in librdkafka 2.0.2). */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, PROG ": %s\n", err);
        goto cleanup;
    }
    mdf_log_init(PROG, MDF_LOG_INFO);
    mdf_kafka_set_log(conf, false);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err); /* takes conf */
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, PROG ": %s\n", err);
        goto cleanup;
    }
    mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!mc) {
        fprintf(stderr, PROG ": cannot create the mock cluster\n");
        goto cleanup;
    }
    if (create_topics(mc, topics, n_topics, err, sizeof err) != MDF_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        goto cleanup;
    }
    const char *list = rd_kafka_mock_cluster_bootstraps(mc);
    if (wait_connectable(list, CONNECT_TIMEOUT_MS, err, sizeof err) != MDF_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        goto cleanup;
    }
    if (write_bootstrap(bootstrap_path, list, err, sizeof err) != MDF_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        goto cleanup;
    }
    wrote = true;
    printf("%s\n", list);
    fflush(stdout);

    /* the mock brokers run on their own threads; this one waits, and
     * serves --control */
    mdf_buf pending;
    mdf_buf_init(&pending, CONTROL_LINE_MAX);
    if (with_control)
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    while (!stop_signal) {
        if (with_control) {
            struct pollfd pfd = {.fd = 0, .events = POLLIN};
            if (poll(&pfd, 1, 100) > 0 && !control_poll(mc, topics, n_topics, brokers, &pending))
                with_control = false; /* stdin closed: only signals now */
            continue;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    mdf_buf_free(&pending);
    rc = 0;
cleanup:
    if (wrote)
        unlink(bootstrap_path); /* its addresses die with us */
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    free(topics);
    return rc;
}
