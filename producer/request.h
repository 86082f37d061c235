/* The requests mdefleet-producer publishes: checked field by field against
 * the API's rules, built as EnforcementChange or ScanJob records and
 * encoded, so that nothing is sent unless every request of a run is good. */
#ifndef MDF_PRODUCER_REQUEST_H
#define MDF_PRODUCER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "avro_codec.h"
#include "buf.h"
#include "eventid.h"

#define REQ_MAX_REQUESTED_BY 256

/* One request as given, with borrowed strings; NULL for what was not
 * given. Names are checked by req_build(), not here. */
typedef struct req_input {
    bool scan; /* ScanJob; else EnforcementChange */
    const char *subscription;
    const char *resource_group;
    const char *cluster;
    const char *level;                  /* enforce only */
    const char *managed_resource_group; /* scan only */
    const char *const *nodes;           /* scan only */
    size_t n_nodes;
    bool has_limit; /* scan only */
    int64_t limit_time_seconds;
    const char *requested_by; /* NULL: $USER, else "unknown" */
} req_input;

/* How errors name the fields: "--resource-group" on the command line,
 * "resource_group" in a --file line. */
typedef enum { REQ_NAMES_CLI, REQ_NAMES_FILE } req_names;

/* A request ready to publish. */
typedef struct request {
    mdf_rec_type rec;
    char job_id[MDF_UUID_STRSZ];
    char key[256]; /* the cluster's resource id, its names in lower case */
    mdf_buf value; /* owned: the framed record */
    /* filled by the delivery report */
    bool reported;
    rd_kafka_resp_err_t delivery_err;
} request;

/* How records are framed, from the configuration. */
typedef struct req_codec {
    mdf_codec *codec;
    mdf_codec_opts opts;
} req_codec;

/* Checks in, then builds and encodes it into out (with a fresh job id and
 * requested_at now). On error out is left empty. */
int req_build(request *out, const req_input *in, req_names names, req_codec *rc, char *err,
              size_t errsz);
void req_free(request *r);

/* One --file line: a JSON object {"type":"enforce"|"scan", ...}. */
int req_from_json_line(request *out, const char *line, size_t len, req_codec *rc, char *err,
                       size_t errsz);

#endif
