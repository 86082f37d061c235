/* Resource Manager resources as JSON (Cluster, BareMetalMachine,
 * OperationStatusResult) in the shapes of the specification's examples.
 * Shared by the ARM routes (arm.c) and the renderers (armjson.c); the
 * caller holds the state lock. */
#ifndef SIM_ARMJSON_H
#define SIM_ARMJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_writer.h"
#include "resource_id.h"
#include "state.h"

/* True when api-version's date is on or after `date` (YYYY-MM-DD): fields
 * added in a version appear from it on (actionStates from 2025-09-01, the
 * newer runtimeProtectionStatus fields from 2026-01-01-preview). */
bool sim_apiv_at_least(const char *apiv, const char *date);

/* Resource ids (the scenario's names are validated: they fit). */
void sim_cluster_id(const sim_state *st, size_t ci, char out[MDF_RID_MAX]);
void sim_bmm_id(const sim_state *st, size_t ci, size_t ni, char out[MDF_RID_MAX]);
/* The operation's status path (mdf_rid_operation) */
void sim_op_path(const sim_state *st, const sim_op *op, char out[MDF_RID_MAX]);

void sim_json_cluster(mdf_jsonw *w, const sim_state *st, size_t ci, const char *apiv,
                      int64_t real_ms);
void sim_json_bmm(mdf_jsonw *w, const sim_state *st, size_t ci, size_t ni, const char *apiv,
                  int64_t real_ms);
/* The operation's status; base_url makes its resultUrl. */
void sim_json_op(mdf_jsonw *w, const sim_state *st, const sim_op *op, const char *base_url,
                 int64_t real_ms);

/* The resultUrl of a finished extract (appended to out). */
int sim_result_url(const sim_op *op, const char *base_url, mdf_buf *out);

#endif
