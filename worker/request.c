#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "records.h"

#define CORRELATION_MAX 64 /* a job id is a UUID */

struct mdf_request {
    const mdf_req_env *env;
    mdf_msg msg;       /* its strings point into the copies below */
    char *key, *value; /* owned copies of the message */
    char correlation[CORRELATION_MAX];
    int pending;    /* records sent, not yet acknowledged */
    bool work_done; /* the role has sent everything it will */
    bool lost;      /* a record could not be delivered, or dropped: never store */
    void *state;    /* the role's, freed with free_state */
    void (*free_state)(void *state);
    void *owner;                           /* the port's */
    void (*when_delivered)(mdf_request *); /* the role's barrier, see request.h */
    void (*when_committed)(mdf_request *); /* the role's commit point, see request.h */
};

/* A NUL-terminated copy of p[0..n); NULL when out of memory. */
static char *copy_bytes(const char *p, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        if (n)
            memcpy(c, p, n);
        c[n] = '\0';
    }
    return c;
}

mdf_request *mdf_req_new(const mdf_req_env *env, const mdf_msg *m, void *owner)
{
    mdf_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->env = env;
    r->owner = owner;
    r->msg = *m;
    r->value = copy_bytes(m->value ? m->value : "", m->value ? m->value_len : 0);
    r->key = m->key ? copy_bytes(m->key, m->key_len) : NULL;
    if (!r->value || (m->key && !r->key)) {
        mdf_req_free(r);
        return NULL;
    }
    /* a header too long for a job id is not one: as if absent */
    if (m->correlation && mdf_strlcpy(r->correlation, m->correlation, sizeof r->correlation))
        r->correlation[0] = '\0';
    r->msg.key = r->key;
    r->msg.value = r->value;
    r->msg.value_len = m->value ? m->value_len : 0;
    r->msg.correlation = r->correlation;
    return r;
}

void mdf_req_free(mdf_request *r)
{
    if (!r)
        return;
    if (r->free_state)
        r->free_state(r->state);
    free(r->key);
    free(r->value);
    free(r);
}

void *mdf_req_owner(const mdf_request *r)
{
    return r->owner;
}

const mdf_msg *mdf_req_msg(const mdf_request *r)
{
    return &r->msg;
}

const mdf_req_env *mdf_req_env_of(const mdf_request *r)
{
    return r->env;
}

bool mdf_req_storable(const mdf_request *r)
{
    return !r->lost;
}

static void maybe_complete(mdf_request *r)
{
    if (!r->work_done || r->pending > 0)
        return;
    /* the port frees r */
    r->env->port->complete(r->env->port->ctx, r, !r->lost);
}

/* The role's barrier, when it waits and nothing is outstanding. A lost
 * record cancels it: what depended on the records is not written, and r
 * ends unstored (it runs again). */
static bool run_barrier(mdf_request *r)
{
    if (!r->when_delivered || r->pending > 0)
        return false;
    void (*cb)(mdf_request *) = r->when_delivered;
    r->when_delivered = NULL;
    if (r->lost) {
        mdf_req_finish(r);
        return true;
    }
    cb(r); /* may emit and finish r: r may be gone now */
    return true;
}

void mdf_req_delivered(mdf_request *r, bool ok)
{
    r->pending--;
    if (!ok)
        r->lost = true;
    if (!run_barrier(r))
        maybe_complete(r);
}

void mdf_req_when_delivered(mdf_request *r, void (*cb)(mdf_request *r))
{
    r->when_delivered = cb;
    run_barrier(r);
}

/* Everything r sent is acknowledged: ask the port to commit. */
static void ask_commit(mdf_request *r)
{
    r->env->port->commit(r->env->port->ctx, r);
}

void mdf_req_when_committed(mdf_request *r, void (*cb)(mdf_request *r))
{
    r->when_committed = cb;
    mdf_req_when_delivered(r, ask_commit);
}

void mdf_req_committed(mdf_request *r, bool ok)
{
    void (*cb)(mdf_request *) = r->when_committed;
    r->when_committed = NULL;
    if (!ok || !cb) {
        mdf_req_drop(r); /* r may be gone now */
        return;
    }
    cb(r); /* may emit and finish r: r may be gone now */
}

void mdf_req_finish(mdf_request *r)
{
    r->work_done = true;
    maybe_complete(r);
}

void mdf_req_drop(mdf_request *r)
{
    r->lost = true;
    mdf_req_finish(r);
}

json_object *mdf_req_decode(mdf_request *r, mdf_rec_type rt)
{
    char err[MDF_ERRSZ];
    json_object *rec = NULL;
    if (mdf_codec_decode(r->env->codec, rt, r->msg.value, r->msg.value_len, &rec, NULL, err,
                         sizeof err) != MDF_OK) {
        mdf_req_dead_letter(r, err);
        return NULL;
    }
    return rec;
}

void mdf_req_set_correlation(mdf_request *r, const char *id)
{
    mdf_strlcpy(r->correlation, id, sizeof r->correlation);
}

void mdf_req_set_state(mdf_request *r, void *state, void (*free_state)(void *state))
{
    r->state = state;
    r->free_state = free_state;
}

void *mdf_req_state(const mdf_request *r)
{
    return r->state;
}

void mdf_req_emit(mdf_request *r, mdf_topic t, const char *key, size_t key_len, const void *value,
                  size_t value_len, const char *content_type, const char *event_id)
{
    mdf_req_emit_at(r, t, -1, key, key_len, value, value_len, content_type, event_id);
}

void mdf_req_emit_at(mdf_request *r, mdf_topic t, int32_t partition, const char *key,
                     size_t key_len, const void *value, size_t value_len, const char *content_type,
                     const char *event_id)
{
    const mdf_req_port *port = r->env->port;
    char err[MDF_ERRSZ];
    mdf_header h[3] = {{MDF_HDR_CONTENT_TYPE, content_type},
                       {MDF_HDR_EVENT_ID, event_id},
                       {MDF_HDR_CORRELATION_ID, r->correlation[0] ? r->correlation : event_id}};
    r->pending++;
    if (port->send(port->ctx, r, t, partition, key, key_len, value, value_len, h, 3, err,
                   sizeof err) != MDF_OK) {
        r->pending--;
        r->lost = true;
        mdf_error("cannot send to %s: %s; stopping", r->env->topics[t], err);
        port->stop(port->ctx, err);
    }
}

void mdf_req_emit_json(mdf_request *r, mdf_topic t, const char *key, const mdf_buf *b,
                       const char *event_id)
{
    mdf_req_emit(r, t, key, strlen(key), b->data ? b->data : "", b->len, MDF_CONTENT_JSON,
                 event_id);
}

int mdf_req_try_emit_avro(mdf_request *r, mdf_topic t, mdf_rec_type rt, json_object *rec,
                          const char *key, const char *event_id, char *err, size_t errsz)
{
    mdf_buf out;
    mdf_buf_init(&out, MDF_CODEC_MAX_RECORD);
    int rc = mdf_codec_write(r->env->codec, &r->env->codec_opts, rt, rec, &out, err, errsz);
    if (rc == MDF_OK)
        mdf_req_emit(r, t, key, strlen(key), out.data, out.len, MDF_CONTENT_AVRO, event_id);
    mdf_buf_free(&out);
    return rc;
}

void mdf_req_emit_avro(mdf_request *r, mdf_topic t, mdf_rec_type rt, json_object *rec,
                       const char *key, const char *event_id)
{
    char err[MDF_ERRSZ], why[MDF_ERRSZ + 64];
    if (mdf_req_try_emit_avro(r, t, rt, rec, key, event_id, err, sizeof err) == MDF_OK)
        return;
    /* our own record does not fit our schema: a bug, never silent, and
     * never taken for a clean stop */
    r->lost = true;
    snprintf(why, sizeof why, "cannot encode %s: %s", mdf_rec_name(rt), err);
    mdf_error("%s; stopping", why);
    r->env->port->stop(r->env->port->ctx, why);
}

void mdf_req_dead_letter(mdf_request *r, const char *reason)
{
    const char *topic = r->env->topics[r->msg.topic];
    char id[MDF_UUID_STRSZ];
    mdf_warn("dead letter %s[%d]@%lld: %s", topic, (int)r->msg.partition, (long long)r->msg.offset,
             reason);
    json_object *d =
        mdf_rec_dead_letter(topic, r->msg.partition, r->msg.offset, r->key, r->msg.key_len,
                            r->value, r->msg.value_len, r->correlation, reason, id);
    mdf_req_emit_avro(r, MDF_TOPIC_DLQ, MDF_REC_DEAD_LETTER, d, topic, id);
    json_object_put(d);
    mdf_req_finish(r);
}
