/* A harness for the worker's role tests: a recording fake of the request
 * port (every record a role emits, every request it completes), a scripted
 * fake of Azure (each call waits until the test answers it), a clock the
 * test moves, and helpers to make messages and read records back. */
#ifndef MDF_ROLE_HARNESS_H
#define MDF_ROLE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "config.h"
#include "metrics.h"
#include "request.h"
#include "role.h"
#include "state_store.h"

#define H_MAX_RECORDS 4096
#define H_MAX_CALLS 256
#define H_MAX_COMMITS 64
#define H_CLOCK_START 1000000 /* the test clock's first reading, ms */

typedef struct h_record {
    mdf_topic topic;
    int32_t partition; /* -1: the partitioner's choice */
    char key[600];
    char *value; /* owned, NUL-terminated */
    size_t value_len;
    char content_type[32], event_id[64], correlation[64];
    mdf_request *req;
    bool delivered;
} h_record;

typedef enum {
    AZ_GET_CLUSTER,
    AZ_SET_ENFORCEMENT,
    AZ_SCAN_RUNTIME,
    AZ_LIST_BMMS,
    AZ_RUN_DATA_EXTRACT,
    AZ_DOWNLOAD
} h_call_kind;

typedef struct h_call {
    h_call_kind kind;
    char sub[64], rg[128], name[128], arg[8192]; /* cluster or machine; level or URL */
    int limit;
    bool restricted;
    union {
        mdf_arm_cluster_cb cluster;
        mdf_arm_bmms_cb bmms;
        mdf_arm_op_cb op;
        mdf_blob_cb blob;
    } cb;
    void *cb_arg;
    bool answered;
} h_call;

typedef struct harness {
    mdf_config *cfg;
    mdf_codec *codec;
    mdf_req_port port;
    mdf_req_env env;
    mdf_az az;
    mdf_role_env role_env;
    mdf_state_store *store; /* the findings state, partitions 0..15 ready */
    mdf_state_port state;
    int64_t now;          /* the clock, ms */
    int64_t wall_at_init; /* epoch ms: the wall clock is this + (now - H_CLOCK_START) */
    bool auto_ack;        /* deliver each record at once */
    bool auto_commit;     /* commit each request at once when it asks */
    mdf_request *uncommitted[H_MAX_COMMITS]; /* asked, not auto_commit */
    size_t n_uncommitted, commits;           /* waiting now; asked in all */
    h_record records[H_MAX_RECORDS];
    size_t n_records;
    h_call calls[H_MAX_CALLS];
    size_t n_calls;
    size_t completed, stored; /* requests completed, and of those stored */
    int stops;
    const mdf_role *role;
    void *self;
    mdf_metrics *metrics; /* the role's metrics */
} harness;

/* Sets up the harness with the default configuration plus "key=value"
 * settings (NULL-terminated), and inits role. */
void h_init(harness *h, const mdf_role *role, const char *const *settings);
void h_fini(harness *h);
/* The value of the sample whose exposition line starts with `sample ` (the
 * name and its labels, as rendered), or -1 when there is none. */
double h_metric(harness *h, const char *sample);

/* A request for the Avro encoding of rec (not consumed) as type rt, on
 * topic t at partition/offset, handed to the role. */
mdf_request *h_deliver(harness *h, mdf_topic t, int32_t partition, int64_t offset, mdf_rec_type rt,
                       json_object *rec);
/* The same with raw bytes as the value. */
mdf_request *h_deliver_raw(harness *h, mdf_topic t, int32_t partition, int64_t offset,
                           const void *value, size_t len);
/* Answers every commit asked so far and not yet answered (not auto_commit):
 * committed (ok) or not (the partition went elsewhere). */
void h_commit_all(harness *h, bool ok);
/* Acknowledges every record sent so far and not yet delivered (not those
 * the acknowledgements cause). */
void h_ack_all(harness *h);

/* Records on topic t, and the i-th of them; records of job.status and dlq
 * decoded (the caller puts them). */
size_t h_count(const harness *h, mdf_topic t);
const h_record *h_nth(const harness *h, mdf_topic t, size_t i);
json_object *h_decode(harness *h, const h_record *r, mdf_rec_type rt);
json_object *h_parse_json(const h_record *r);
/* How many JobStatus records of that kind were emitted. */
size_t h_status_count(harness *h, const char *kind);
/* The last JobStatus of that kind (caller puts it), or NULL. */
json_object *h_last_status(harness *h, const char *kind);

/* The oldest call not yet answered (NULL: none), which the test answers. */
h_call *h_next_call(harness *h);
/* The same, which must be there and of kind k. */
h_call *h_expect(harness *h, h_call_kind k);
size_t h_calls_of(const harness *h, h_call_kind k);
void h_answer_cluster(harness *h, h_call *c, const char *level, const char *managed_rg);
/* The same with the whole cluster (output settings, action states). */
void h_answer_cluster_with(harness *h, h_call *c, const mdf_cluster *cl);
void h_answer_bmms(harness *h, h_call *c, const char *const *names, size_t n);
void h_answer_op(harness *h, h_call *c, const mdf_arm_error *e, const mdf_opstatus *st);
void h_answer_download(harness *h, h_call *c, mdf_blob_errcode code, const void *data, size_t len);
void h_answer_error(harness *h, h_call *c, mdf_arm_errcode code, const char *message);

/* A whole file's bytes (caller frees), for canned reports. */
char *h_read_file(const char *path, size_t *len);

#endif
