#include "http_loop.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "strconv.h"
#include "url.h"
#include "vec.h"

struct xfer {
    CURL *easy;
    struct curl_slist *headers;
    mdf_http_cb cb;
    void *arg;
    mdf_http_resp resp;
    LIST_ENTRY(xfer) link;
};

struct timer {
    int64_t due;
    uint64_t seq; /* FIFO among equal due times */
    mdf_timer_cb cb;
    void *arg;
};

struct job {
    mdf_work_fn work;
    mdf_work_done_fn done;
    void *arg;
    STAILQ_ENTRY(job) link;
};
STAILQ_HEAD(job_list, job);

/* The loop's worker thread and its two queues, under mu. */
struct offload {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started, quit;
    struct job_list todo, done;
    int n_jobs; /* in either queue, or working */
};

struct mdf_http {
    CURLM *multi;
    LIST_HEAD(, xfer) xfers; /* in flight */
    int n_xfers;
    mdf_vec heap; /* struct timer, a min-heap on (due, seq) */
    uint64_t seq;
    struct offload off;
};

int mdf_http_new(mdf_http **out, char *err, size_t errsz)
{
    static int global_done;
    if (!global_done) {
        /* not thread-safe by libcurl's design: the first caller is the main thread */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return mdf_seterr(err, errsz, "libcurl initialization failed");
        global_done = 1;
    }
    mdf_http *h = calloc(1, sizeof *h);
    if (!h)
        return mdf_seterr(err, errsz, "out of memory");
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return mdf_seterr(err, errsz, "libcurl multi handle failed");
    }
    LIST_INIT(&h->xfers);
    mdf_vec_init(&h->heap, sizeof(struct timer), MDF_HTTP_MAX_TIMERS);
    pthread_mutex_init(&h->off.mu, NULL);
    pthread_cond_init(&h->off.cv, NULL);
    STAILQ_INIT(&h->off.todo);
    STAILQ_INIT(&h->off.done);
    *out = h;
    return MDF_OK;
}

static void set_url_value(char **dst, const char *v, size_t len)
{
    free(*dst);
    *dst = NULL;
    if (len == 0 || len >= MDF_URL_MAX || !(*dst = malloc(len + 1)))
        return; /* absent; an allocation failure reads the same way */
    memcpy(*dst, v, len);
    (*dst)[len] = '\0';
}

static void drop_url_values(mdf_http_resp *r)
{
    free(r->location);
    free(r->azure_async);
    r->location = r->azure_async = NULL;
}

static void xfer_free(mdf_http *h, struct xfer *x)
{
    LIST_REMOVE(x, link);
    h->n_xfers--;
    curl_multi_remove_handle(h->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    mdf_buf_free(&x->resp.body);
    drop_url_values(&x->resp);
    free(x);
}

static void offload_stop(mdf_http *h);

void mdf_http_destroy(mdf_http *h)
{
    if (!h)
        return;
    offload_stop(h);
    while (!LIST_EMPTY(&h->xfers))
        xfer_free(h, LIST_FIRST(&h->xfers));
    curl_multi_cleanup(h->multi);
    mdf_vec_free(&h->heap);
    free(h);
}

/* ---- timers ---------------------------------------------------------- */

static bool timer_less(const struct timer *a, const struct timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

int mdf_http_after(mdf_http *h, int64_t delay_ms, mdf_timer_cb cb, void *arg)
{
    /* one more slot at the end; the sift-up below fills the hole */
    if (!mdf_vec_add(&h->heap))
        return MDF_ERR;
    struct timer *heap = h->heap.data;
    struct timer t = {mdf_mono_ms() + (delay_ms > 0 ? delay_ms : 0), h->seq++, cb, arg};
    size_t i = h->heap.len - 1;
    while (i > 0 && timer_less(&t, &heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = t;
    return MDF_OK;
}

static struct timer timer_pop(mdf_http *h)
{
    struct timer *heap = h->heap.data;
    struct timer top = heap[0], last = heap[--h->heap.len];
    size_t i = 0, n = h->heap.len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && timer_less(&heap[c + 1], &heap[c]))
            c++;
        if (!timer_less(&heap[c], &last))
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (n > 0)
        heap[i] = last;
    return top;
}

static void run_timers(mdf_http *h)
{
    int64_t now = mdf_mono_ms();
    /* only those due now: a callback that re-arms for 0 ms runs next round */
    size_t budget = h->heap.len;
    while (budget-- > 0 && h->heap.len > 0 && MDF_VEC_AT(&h->heap, struct timer, 0).due <= now) {
        struct timer t = timer_pop(h);
        t.cb(t.arg);
    }
}

/* ---- transfers ----------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb;
    if (mdf_buf_append(&x->resp.body, data, n) != 0) {
        x->resp.too_big = true;
        return 0; /* aborts the transfer */
    }
    return n;
}

static void copy_value(char *dst, size_t dstsz, const char *v, size_t len)
{
    if (len >= dstsz)
        len = dstsz - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int64_t parse_ms(const char *v, size_t len, int64_t scale)
{
    int64_t n;
    if (mdf_parse_int64(v, len, &n) != 0 || n < 0 || n > INT64_MAX / 1000)
        return -1;
    return n * scale;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    mdf_http_resp *r = &x->resp;
    size_t n = size * nmemb, len = n;
    /* a new status line (after 100 Continue or a redirect) resets */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        drop_url_values(r);
        r->etag[0] = r->error_code[0] = '\0';
        r->content_range[0] = r->request_id[0] = '\0';
        r->retry_after_ms = -1;
        r->ratelimit_remaining = -1;
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n' || data[len - 1] == ' '))
        len--;
    while (v < data + len && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = v < data + len ? (size_t)(data + len - v) : 0;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(data, name, nlen) == 0)
    if (IS("location"))
        set_url_value(&r->location, v, vlen);
    else if (IS(MDF_H_AZURE_ASYNC))
        set_url_value(&r->azure_async, v, vlen);
    else if (IS("etag"))
        copy_value(r->etag, sizeof r->etag, v, vlen);
    else if (IS(MDF_H_ERROR_CODE))
        copy_value(r->error_code, sizeof r->error_code, v, vlen);
    else if (IS("content-range"))
        copy_value(r->content_range, sizeof r->content_range, v, vlen);
    else if (IS(MDF_H_REQUEST_ID))
        copy_value(r->request_id, sizeof r->request_id, v, vlen);
    else if (IS(MDF_H_RETRY_AFTER_MS) || IS(MDF_H_MS_RETRY_AFTER_MS))
        r->retry_after_ms = parse_ms(v, vlen, 1);
    else if (IS("retry-after") && r->retry_after_ms < 0)
        /* seconds; the HTTP-date form is not used by ARM */
        r->retry_after_ms = parse_ms(v, vlen, 1000);
    else if (IS(MDF_H_RATELIMIT_READS) || IS(MDF_H_RATELIMIT_WRITES)) {
        int64_t rem;
        if (mdf_parse_int64(v, vlen, &rem) == 0)
            r->ratelimit_remaining = rem;
    }
#undef IS
    return n;
}

int mdf_http_start(mdf_http *h, const mdf_http_req *req, mdf_http_cb cb, void *arg, char *err,
                   size_t errsz)
{
    mdf_url_parts u;
    if (mdf_url_parse(req->url, &u, err, errsz) != MDF_OK)
        return MDF_ERR;
    if (!mdf_url_scheme_ok(&u, req->http))
        return mdf_seterr(err, errsz, "refused: %s to %s (https only%s)", u.scheme, u.host,
                          req->http != MDF_HTTPS_ONLY ? ", or http to loopback" : "");
    struct xfer *x = calloc(1, sizeof *x);
    if (!x)
        return mdf_seterr(err, errsz, "out of memory");
    x->cb = cb;
    x->arg = arg;
    x->resp.retry_after_ms = -1;
    x->resp.ratelimit_remaining = -1;
    mdf_buf_init(&x->resp.body, req->max_response);
    x->easy = curl_easy_init();
    if (!x->easy)
        goto oom;
    for (const char *const *hd = req->headers; hd && *hd; hd++) {
        struct curl_slist *l = curl_slist_append(x->headers, *hd);
        if (!l)
            goto oom;
        x->headers = l;
    }
    CURL *e = x->easy;
    const char *method = req->method ? req->method : "GET";
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                     req->http != MDF_HTTPS_ONLY ? "http,https" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->resp.curl_error);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (req->low_speed_bytes_per_s > 0 && req->low_speed_time_s > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, req->low_speed_bytes_per_s);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, req->low_speed_time_s);
    }
    if (req->range_from > 0)
        curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)req->range_from);
    if (req->max_response > 0)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response);
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
            /* size first, then a copy: the caller's body may be gone before
             * the transfer runs */
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
        }
    }
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
        goto oom;
    LIST_INSERT_HEAD(&h->xfers, x, link);
    h->n_xfers++;
    return MDF_OK;
oom:
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x);
    return mdf_seterr(err, errsz, "out of memory");
}

static void finish_done(mdf_http *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        x->resp.curl_code = m->data.result;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->resp.status);
        if (m->data.result == CURLE_FILESIZE_EXCEEDED)
            x->resp.too_big = true;
        if (x->resp.curl_error[0] == '\0' && m->data.result != CURLE_OK)
            mdf_strlcpy(x->resp.curl_error, curl_easy_strerror(m->data.result),
                        sizeof x->resp.curl_error);
        /* unlink first: the callback may start new transfers */
        curl_multi_remove_handle(h->multi, x->easy);
        x->cb(x->arg, &x->resp);
        xfer_free(h, x);
    }
}

/* ---- offloaded work -------------------------------------------------- */

static void *offload_main(void *arg)
{
    mdf_http *h = arg;
    struct offload *o = &h->off;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (!o->quit && STAILQ_EMPTY(&o->todo))
            pthread_cond_wait(&o->cv, &o->mu);
        if (o->quit)
            break;
        struct job *j = STAILQ_FIRST(&o->todo);
        STAILQ_REMOVE_HEAD(&o->todo, link);
        pthread_mutex_unlock(&o->mu);
        j->work(j->arg);
        pthread_mutex_lock(&o->mu);
        STAILQ_INSERT_TAIL(&o->done, j, link);
        curl_multi_wakeup(h->multi); /* thread-safe: the loop picks it up */
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

int mdf_http_offload(mdf_http *h, mdf_work_fn work, mdf_work_done_fn done, void *arg)
{
    struct offload *o = &h->off;
    struct job *j = malloc(sizeof *j);
    if (!j)
        return MDF_ERR;
    *j = (struct job){.work = work, .done = done, .arg = arg};
    pthread_mutex_lock(&o->mu);
    int rc = MDF_OK;
    if (o->n_jobs >= MDF_HTTP_MAX_OFFLOAD)
        rc = MDF_ERR;
    else if (!o->started && pthread_create(&o->thread, NULL, offload_main, h) != 0)
        rc = MDF_ERR;
    if (rc == MDF_OK) {
        o->started = true;
        o->n_jobs++;
        STAILQ_INSERT_TAIL(&o->todo, j, link);
        pthread_cond_signal(&o->cv);
    }
    pthread_mutex_unlock(&o->mu);
    if (rc != MDF_OK)
        free(j);
    return rc;
}

/* The done callbacks of the finished jobs, on the loop's thread. */
static void offload_finish(mdf_http *h, bool cancelled)
{
    struct offload *o = &h->off;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        struct job *j = STAILQ_FIRST(&o->done);
        if (j) {
            STAILQ_REMOVE_HEAD(&o->done, link);
            o->n_jobs--;
        }
        pthread_mutex_unlock(&o->mu);
        if (!j)
            return;
        j->done(j->arg, cancelled); /* may offload more */
        free(j);
    }
}

static void offload_stop(mdf_http *h)
{
    struct offload *o = &h->off;
    pthread_mutex_lock(&o->mu);
    o->quit = true;
    pthread_cond_signal(&o->cv);
    /* jobs not begun are cancelled like those done but not finished */
    STAILQ_CONCAT(&o->done, &o->todo);
    pthread_mutex_unlock(&o->mu);
    if (o->started)
        pthread_join(o->thread, NULL); /* after the job under way, if any */
    offload_finish(h, true);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
}

/* ---- running ---------------------------------------------------------- */

int mdf_http_run(mdf_http *h, int timeout_ms, struct curl_waitfd *extra_fds, unsigned n_extra)
{
    int running = 0, wait = timeout_ms;
    if (h->heap.len > 0) {
        int64_t until = MDF_VEC_AT(&h->heap, struct timer, 0).due - mdf_mono_ms();
        if (until < wait)
            wait = until > 0 ? (int)until : 0;
    }
    curl_multi_poll(h->multi, extra_fds, n_extra, wait, NULL);
    curl_multi_perform(h->multi, &running);
    finish_done(h);
    offload_finish(h, false);
    run_timers(h);
    return mdf_http_pending(h);
}

int mdf_http_pending(const mdf_http *h)
{
    /* the lock is taken and given back: const to the caller */
    struct offload *o = (struct offload *)&h->off;
    pthread_mutex_lock(&o->mu);
    int jobs = o->n_jobs;
    pthread_mutex_unlock(&o->mu);
    return h->n_xfers + (int)h->heap.len + jobs;
}

void mdf_http_wakeup(mdf_http *h)
{
    curl_multi_wakeup(h->multi);
}
