/* The Avro schemas of schemas/ (*.avsc), embedded at build time
 * (cmake/embed_schemas.cmake). */
#ifndef MDF_AVRO_SCHEMAS_H
#define MDF_AVRO_SCHEMAS_H

#include <stddef.h>

struct mdf_schema_src {
    const char *name; /* file name without .avsc, e.g. "ScanJob" */
    const char *text; /* the schema JSON, NUL-terminated */
    size_t len;
};

extern const struct mdf_schema_src mdf_schema_sources[];
extern const size_t mdf_schema_source_count;

#endif
