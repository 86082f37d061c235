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
 * added in a version appear from it on (commandOutputSettings from
 * 2024-07-01, actionStates from 2025-09-01, the newer
 * runtimeProtectionStatus fields from 2026-01-01-preview). */
bool sim_apiv_at_least(const char *apiv, const char *date);

/* Resource ids (the scenario's names are validated: they fit). */
void sim_cluster_id(const sim_state *st, size_t ci, char out[MDF_RID_MAX]);
void sim_bmm_id(const sim_state *st, size_t ci, size_t ni, char out[MDF_RID_MAX]);
/* The operation's status path (mdf_rid_operation) */
void sim_op_path(const sim_state *st, const sim_op *op, char out[MDF_RID_MAX]);

/* base_url makes the commandOutputSettings' containerUrl. */
void sim_json_cluster(mdf_jsonw *w, const sim_state *st, size_t ci, const char *apiv,
                      const char *base_url, int64_t real_ms);
void sim_json_bmm(mdf_jsonw *w, const sim_state *st, size_t ci, size_t ni, const char *apiv,
                  int64_t real_ms);
/* The operation's status; base_url makes its resultUrl. */
void sim_json_op(mdf_jsonw *w, const sim_state *st, const sim_op *op, const char *base_url,
                 int64_t real_ms);

/* Result blob names: the Cluster Manager's SAS blob is
 * {blob_id}-action-bmmdataextcmd.tar.gz (signed with SAS version
 * 2019-12-12), a customer container's runcommand-output-{blob_id}.tar.gz. */
#define SIM_SAS_BLOB_SUFFIX "-action-bmmdataextcmd.tar.gz"
#define SIM_SAS_VERSION "2019-12-12"
#define SIM_CUSTOMER_BLOB_PREFIX "runcommand-output-"
#define SIM_CUSTOMER_BLOB_SUFFIX ".tar.gz"

/* The resultUrl of a finished extract (appended to out): a SAS URL, or for
 * a customer-storage cluster {base_url}/{account}/{container}/{blob}
 * without a query. */
int sim_result_url(const sim_state *st, const sim_op *op, const char *base_url, mdf_buf *out);

#endif
