/* A request: one consumed message and the work it causes. This is the one
 * API a role sees (role.h): it reads the message, keeps its own state on
 * the request, emits records, and finishes, drops or dead-letters it.
 *
 * Nothing lost: a request's offset may be stored only once the role has
 * finished it and every record it emitted is acknowledged. The request
 * counts its records in flight and tells its port when it is complete; the
 * port (the worker's loop, or a recorder in the role tests) carries the
 * records and stores the offset. */
#ifndef MDF_WORKER_REQUEST_H
#define MDF_WORKER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "avro_codec.h"
#include "buf.h"
#include "config.h"
#include "kafka_record.h"

typedef struct mdf_request mdf_request;

/* The message a request is for. */
typedef struct mdf_msg {
    mdf_topic topic;
    int32_t partition;
    int64_t offset;
    const char *key; /* NULL when the message has none */
    size_t key_len;
    const char *value; /* NUL-terminated (not counted in value_len) */
    size_t value_len;
    const char *correlation; /* the correlation-id header; "" when none */
} mdf_msg;

/* Where records go and where a complete request goes. */
typedef struct mdf_req_port {
    /* Queues one record of r. On MDF_OK, mdf_req_delivered(r, ...) follows
     * exactly once; on MDF_ERR (and err) it does not. */
    int (*send)(void *ctx, mdf_request *r, mdf_topic t, int32_t partition, const char *key,
                size_t key_len, const void *value, size_t value_len, const mdf_header *headers,
                size_t n_headers, char *err, size_t errsz);
    /* r is finished and every record it sent is accounted for: the port
     * stores its offset when `store`, then frees it (mdf_req_free). */
    void (*complete)(void *ctx, mdf_request *r, bool store);
    /* Something went wrong that only a restart mends (a record that cannot
     * be sent): stop taking work; the request runs again elsewhere. */
    void (*stop)(void *ctx, const char *why);
    /* Commits r's offset to the consumer group (once the messages before it
     * are finished too); mdf_req_committed(r, ...) follows exactly once. */
    void (*commit)(void *ctx, mdf_request *r);
    void *ctx;
} mdf_req_port;

/* What every request of a worker shares; it outlives them. */
typedef struct mdf_req_env {
    const mdf_req_port *port;
    mdf_codec *codec;
    mdf_codec_opts codec_opts;
    const char *topics[MDF_TOPIC__COUNT]; /* full topic names */
} mdf_req_env;

/* ---- the port's side: creating and completing requests ---------------- */

/* A request for m (key, value and correlation copied); owner is the
 * port's own data for it. NULL when out of memory. */
mdf_request *mdf_req_new(const mdf_req_env *env, const mdf_msg *m, void *owner);
/* Frees r and the role's state on it (the port calls it, from complete or
 * at teardown). */
void mdf_req_free(mdf_request *r);
void *mdf_req_owner(const mdf_request *r);
/* A record sent through the port was acknowledged (ok) or failed for good
 * (then r's offset is never stored). */
void mdf_req_delivered(mdf_request *r, bool ok);
/* The port's answer to commit: r's offset is committed (ok), or r can no
 * longer commit it (its partition went to another worker, which runs the
 * message again). */
void mdf_req_committed(mdf_request *r, bool ok);
/* False once r can no longer store its offset (a record was lost, or the
 * role dropped it). */
bool mdf_req_storable(const mdf_request *r);

/* ---- the role's side ----------------------------------------------------- */

const mdf_msg *mdf_req_msg(const mdf_request *r);
const mdf_req_env *mdf_req_env_of(const mdf_request *r);

/* The value as record type rt (caller puts it), or NULL after dead-
 * lettering r with the decoder's reason. */
json_object *mdf_req_decode(mdf_request *r, mdf_rec_type rt);

/* The correlation id (job id) of every record r emits from now on; by
 * default the message's header, else each record's event id. */
void mdf_req_set_correlation(mdf_request *r, const char *id);
/* The role's state, owned by r and freed with it by free_state. */
void mdf_req_set_state(mdf_request *r, void *state, void (*free_state)(void *state));
void *mdf_req_state(const mdf_request *r);

/* Sends a record caused by r, with the content-type, event-id and
 * correlation-id headers; r's offset waits for its acknowledgement. */
void mdf_req_emit(mdf_request *r, mdf_topic t, const char *key, size_t key_len, const void *value,
                  size_t value_len, const char *content_type, const char *event_id);
/* The same to one partition of t (a state record goes to the partition of
 * the work it records; mdf_req_emit lets the partitioner choose by key). */
void mdf_req_emit_at(mdf_request *r, mdf_topic t, int32_t partition, const char *key,
                     size_t key_len, const void *value, size_t value_len, const char *content_type,
                     const char *event_id);
/* A JSON record (b's bytes). */
void mdf_req_emit_json(mdf_request *r, mdf_topic t, const char *key, const mdf_buf *b,
                       const char *event_id);
/* rec (not consumed) encoded as record type rt with the worker's framing.
 * A record that does not fit its schema (or the record cap) is a bug:
 * logged, r never stores its offset, and the worker stops. */
void mdf_req_emit_avro(mdf_request *r, mdf_topic t, mdf_rec_type rt, json_object *rec,
                       const char *key, const char *event_id);
/* The same, for a role that has a smaller form of rec to try: MDF_ERR (and
 * err) when rec does not encode, and then nothing is sent and r is as it
 * was. */
int mdf_req_try_emit_avro(mdf_request *r, mdf_topic t, mdf_rec_type rt, json_object *rec,
                          const char *key, const char *event_id, char *err, size_t errsz);

/* Calls cb(r) once every record r has sent so far is acknowledged (at once
 * when none is outstanding), before r can complete: a role writes what
 * depends on its records being kept (a node's state) from there, then
 * finishes r. One at a time. When a record fails, cb is not called and r
 * is finished unstored (it runs again; the worker stops). */
void mdf_req_when_delivered(mdf_request *r, void (*cb)(mdf_request *r));

/* Calls cb(r) once every record r has sent so far is acknowledged and
 * r's offset is committed, as if r were finished: records sent from cb
 * are sent at most once, because a crash after the commit no longer runs
 * the message again. The planner sends a job's node tasks from there, so
 * that a rerun of a scan request (a crash before the commit) never
 * follows tasks that may have ended the job already. cb is not called,
 * and r is dropped, when a record failed or the commit cannot be made.
 * One barrier at a time; r finishes as usual from cb. */
void mdf_req_when_committed(mdf_request *r, void (*cb)(mdf_request *r));

/* The role is done with r: its offset is stored once all is delivered. */
void mdf_req_finish(mdf_request *r);
/* The role gives r up unfinished (its work went to another worker): its
 * offset is never stored, so the message runs again. */
void mdf_req_drop(mdf_request *r);
/* r cannot be processed: its bytes and the reason go to the DLQ, then r
 * finishes. */
void mdf_req_dead_letter(mdf_request *r, const char *reason);

#endif
