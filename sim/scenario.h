/* The scenario file: what the simulated Azure looks like (subscriptions,
 * credentials, budgets, clusters, bare-metal machines, their MDE reports and
 * injected faults, and what they become in the next phase). Loaded once,
 * strictly validated, read-only afterwards: sim_state decides which of a
 * node's two versions is in effect.
 * Its fields are documented in sim/README.md. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* Subscriptions served: the top-level one and the clusters' own. A cap,
 * since each has its own throttling buckets and counters. */
#define SIM_MAX_SUBSCRIPTIONS 64

/* Enforcement levels of runtimeProtectionConfiguration, in API order. */
typedef enum {
    SIM_LEVEL_AUDIT,
    SIM_LEVEL_DISABLED,
    SIM_LEVEL_ONDEMAND,
    SIM_LEVEL_PASSIVE,
    SIM_LEVEL_REALTIME,
    SIM_LEVEL_COUNT
} sim_level;

/* "Audit", "Disabled", ... */
const char *sim_level_name(sim_level l);
/* Exact (case-sensitive, as the API's enum) match; -1 when none. */
int sim_level_parse(const char *s);

typedef struct sim_scan {
    const char *type;  /* quick | full | custom */
    const char *state; /* succeeded | failed | cancelled */
    int64_t start_ms;
    int64_t duration_ms;
    int64_t files;
} sim_scan;

typedef struct sim_threat {
    const char *name;
    const char *type;
    int64_t detected_ms;
    const char **status; /* history values in order; the last is current */
    size_t n_status;
} sim_threat;

typedef struct sim_health {
    bool healthy, licensed, real_time_protection, passive_mode;
    const char *app_version, *engine_version, *definitions_version;
    int64_t definitions_updated_ms;
    const char **issues;
    size_t n_issues;
} sim_health;

typedef struct sim_faults {
    bool agent_not_running;
    int exit_code;                /* -1: none (the command exits 0) */
    const char *operation_failed; /* NULL: none */
    int64_t http_5xx;
    int64_t slow_download_bps;     /* 0: full speed */
    int64_t broken_download_after; /* 0: never */
    bool corrupt_archive;
    int64_t archive_bomb_mib; /* 0: none; else an entry of this many MiB of zeros first */
    bool expired_sas;
    double extract_seconds; /* < 0: durations.extract_seconds */
    /* customer storage only: the first blob_401 GETs of a result blob answer
     * 401, the next blob_404 404, the next blob_5xx 503 (counted per op) */
    int64_t blob_401, blob_404, blob_5xx;
    bool blob_no_role; /* every GET: 403 AuthorizationPermissionMismatch */
    bool blob_blocked; /* every GET: 403 AuthorizationFailure */
} sim_faults;

/* What a node's mde-agent-information.json says (its `report`). */
typedef struct sim_report {
    sim_scan *scans;
    size_t n_scans;
    sim_threat *threats;
    size_t n_threats;
    sim_health health;
} sim_report;

typedef struct sim_node {
    const char *name; /* BMM resource name and machineName */
    const char *rack;
    const char **roles;
    size_t n_roles;
    const char *power_state;     /* On | Off */
    const char *ready_state;     /* "True" | "False" */
    const char *detailed_status; /* Provisioned, Available, ... */
    const char *cordon_status;   /* Cordoned | Uncordoned */
    sim_report report;
    sim_faults faults;
    /* `next`: the report and faults the node has once POST
     * /_admin/next-phase has run. Resolved when loaded: a report section or
     * the faults that `next` does not give are copies of the current ones. */
    bool has_next;
    bool next_sets_faults; /* next.faults given (it also restarts the http_5xx count) */
    sim_report next_report;
    sim_faults next_faults;
} sim_node;

/* Where a cluster's data extracts put their result archive
 * (commandOutputSettings). */
typedef struct sim_output {
    bool customer; /* false: the Cluster Manager's storage, read through a SAS URL */
    /* customer only: */
    const char *account, *container;
    const char **readers; /* client ids with Storage Blob Data Reader on the container */
    size_t n_readers;
    bool firewall;      /* the account refuses every request */
    bool user_assigned; /* associatedIdentity UserAssignedIdentity, else SystemAssigned */
} sim_output;

typedef struct sim_cluster {
    const char *resource_group, *name, *managed_resource_group;
    /* the subscription it lives in: sim_scenario.subscriptions[sub] (the
     * spelling first given, as subscription ids compare case-insensitively) */
    const char *subscription;
    size_t sub;
    sim_level enforcement_level; /* at start */
    bool patch_sync;             /* PATCH answers 200 at once instead of 202 */
    sim_output output;
    /* NULL: none; else a scanRuntime that ends Succeeded shows Failed with
     * this message in actionStates (and runs no scan) */
    const char *scan_action_failed;
    sim_node *nodes;
    size_t n_nodes;
} sim_cluster;

typedef struct sim_client {
    const char *client_id;
    const char *client_secret; /* NULL: assertions only */
} sim_client;

typedef struct sim_budget {
    double burst;
    double per_second;
    int64_t retry_after_s; /* a 429's Retry-After as given (a hostile one); 0: the bucket's wait */
} sim_budget;

typedef struct sim_scenario {
    mdf_arena arena; /* owns every string and array below */
    double time_scale;
    const char *subscription, *location;
    /* Every served subscription, distinct (case-insensitively): the
     * top-level one first, then the clusters' in order of appearance. */
    const char *subscriptions[SIM_MAX_SUBSCRIPTIONS];
    size_t n_subscriptions;
    const char **api_versions;
    size_t n_api_versions;
    const char *tenant;
    sim_client *clients;
    size_t n_clients;
    const char **federated_tokens;
    size_t n_federated_tokens;
    bool managed_identity;
    int64_t token_lifetime_s;
    sim_budget reads, writes;
    int64_t page_size;
    /* a hostile machine list: past the last machine, empty pages whose
     * nextLink is the page itself (a loop) or always a new one (endless) */
    enum { SIM_PAGING_OK, SIM_PAGING_LOOP, SIM_PAGING_ENDLESS } paging_fault;
    int64_t sas_ttl_s;
    double patch_s, scan_runtime_s, extract_s;
    sim_cluster *clusters;
    size_t n_clusters;
} sim_scenario;

/* Reads and validates the scenario at path; errors are one line naming the
 * file and the offending field. *out is freed with sim_scenario_free. */
int sim_scenario_load(const char *path, sim_scenario **out, char *err, size_t errsz);
/* The same from a JSON text (`name` appears in errors). */
int sim_scenario_parse(const char *name, const char *json, size_t len, sim_scenario **out,
                       char *err, size_t errsz);
void sim_scenario_free(sim_scenario *sc);

/* The index of a served subscription in sc->subscriptions (case-insensitive,
 * like ARM), or -1 (also for NULL). */
int sim_scenario_subscription(const sim_scenario *sc, const char *id);

#endif
