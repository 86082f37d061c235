/* What every mdefleet record carries besides its value: the headers
 * (content-type, event-id, correlation-id) and their values. */
#ifndef MDF_KAFKA_RECORD_H
#define MDF_KAFKA_RECORD_H

#define MDF_HDR_CONTENT_TYPE "content-type"
#define MDF_HDR_EVENT_ID "event-id"             /* deterministic: a copy has the same */
#define MDF_HDR_CORRELATION_ID "correlation-id" /* the job id */

#define MDF_CONTENT_AVRO "avro/binary"
#define MDF_CONTENT_JSON "application/json"

typedef struct mdf_header {
    const char *name;
    const char *value; /* NUL-terminated */
} mdf_header;

#endif
