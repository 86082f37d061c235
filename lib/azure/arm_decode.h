/* Decoders of Microsoft.NetworkCloud ARM payloads (clusters, bare-metal
 * machines, operation status, ARM errors) into fixed-size structs, and the
 * resource name checks that run before a name goes into a URL. Pure
 * functions: tested on the specification's own examples. */
#ifndef MDF_ARM_DECODE_H
#define MDF_ARM_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "json_reader.h"
#include "url.h"

#define MDF_ARM_MAX_ACTIONS 16

typedef struct mdf_action_state {
    char action_type[160]; /* compare case-insensitively */
    char status[32];       /* Completed | InProgress | Failed */
    char start_time[40], end_time[40];
    char message[512];
    char correlation_id[80];
} mdf_action_state;

/* Where the cluster's run-command output goes (commandOutputSettings, API
 * 2024-07-01 and later): for data extracts, the BareMetalMachineRunDataExtracts
 * override when there is one, else the default. Not set: the deprecated
 * Cluster Manager storage (SAS URLs). */
#define MDF_OUTPUT_TYPE_DATA_EXTRACTS "BareMetalMachineRunDataExtracts"
typedef struct mdf_output_settings {
    bool set;                 /* a containerUrl is configured */
    bool overridden;          /* it is the data extracts' override */
    char container_url[1024]; /* as the cluster has it (a query is not a SAS) */
    char identity_type[40];   /* SystemAssignedIdentity | UserAssignedIdentity */
    char identity_id[512];    /* the user-assigned identity's resource id */
} mdf_output_settings;

typedef struct mdf_cluster {
    char id[512];
    char name[64];
    char location[64];
    char enforcement_level[16]; /* "" when not configured */
    char managed_resource_group[96];
    char provisioning_state[32];
    char detailed_status[32];
    mdf_action_state actions[MDF_ARM_MAX_ACTIONS];
    size_t n_actions;
    mdf_output_settings output;
} mdf_cluster;

/* The cluster's latest action of actionType (case-insensitive), e.g. the
 * scan's MDF_ACTION_TYPE_SCAN_RUNTIME; NULL when it has none. */
const mdf_action_state *mdf_cluster_action(const mdf_cluster *c, const char *action_type);

typedef struct mdf_bmm {
    char id[512];
    char name[80];         /* the resource name: goes into runDataExtracts */
    char machine_name[80]; /* the OS host name */
    char rack_id[512];
    char power_state[16];
    char ready_state[8]; /* "True" | "False" */
    char detailed_status[32];
    char cordon_status[16];
    char provisioning_state[32];
} mdf_bmm;

typedef struct mdf_opstatus {
    char status[32]; /* Succeeded | Failed | Canceled | anything else: running */
    char error_code[128];
    char error_message[1024];
    bool has_exit_code;
    char exit_code[16]; /* a string: "252" = time limit hit */
    char output_head[4096];
    char result_url[MDF_URL_MAX]; /* resultUrl, or resultRef when only that is set */
    bool result_from_ref;
    char start_time[40], end_time[40];
} mdf_opstatus;

/* Case-insensitive: Succeeded, Failed, Canceled. */
bool mdf_arm_status_terminal(const char *status);
bool mdf_arm_status_succeeded(const char *status);

int mdf_arm_decode_cluster(const mdf_jval *v, mdf_cluster *out, char *err, size_t errsz);
int mdf_arm_decode_bmm(const mdf_jval *v, mdf_bmm *out, char *err, size_t errsz);
/* A list page: calls add(arg, bmm) for each machine; copies nextLink
 * ("" when none). */
int mdf_arm_decode_bmm_page(const mdf_jval *v, int (*add)(void *arg, const mdf_bmm *b), void *arg,
                            char *next_link, size_t next_sz, char *err, size_t errsz);
int mdf_arm_decode_opstatus(const mdf_jval *v, mdf_opstatus *out, char *err, size_t errsz);
/* {"error":{"code","message"}} (also Entra's {"error","error_description"});
 * leaves "" for what is not there. */
void mdf_arm_decode_error(const mdf_jval *v, char *code, size_t codesz, char *msg, size_t msgsz);

#endif
