/* Resource names against the Microsoft.NetworkCloud API's patterns, checked
 * before a name goes into a URL, and the rules in words for the messages
 * that refuse one. */
#ifndef MDF_NAMES_H
#define MDF_NAMES_H

#include <stdbool.h>

#define MDF_RULE_SUBSCRIPTION "a subscription id (a GUID: 8-4-4-4-12 hex digits)"
#define MDF_RULE_RESOURCE_GROUP                                                                    \
    "a resource group name (1-90 letters, digits, '-', '_', '.', '(', ')'; not ending in '.')"
#define MDF_RULE_CLUSTER                                                                           \
    "a cluster name (2-30 letters, digits, '-' and '_', beginning and ending with a letter or "    \
    "digit)"
#define MDF_RULE_BMM "a bare-metal machine name (2-64 letters and digits)"
#define MDF_RULE_LEVEL "Audit, Disabled, OnDemand, Passive or RealTime (case matters)"

/* runDataExtracts: the command mdefleet runs and the range of its
 * limitTimeSeconds */
#define MDF_EXTRACT_COMMAND "mde-agent-information"
#define MDF_EXTRACT_LIMIT_MIN 60
#define MDF_EXTRACT_LIMIT_MAX 14400

/* the nodes one scan job may name, or a cluster may list: more than any
 * Nexus cluster has */
#define MDF_MAX_NODES_PER_JOB 1024

bool mdf_valid_subscription(const char *s); /* a GUID */
bool mdf_valid_resource_group(const char *s);
bool mdf_valid_cluster_name(const char *s);
bool mdf_valid_bmm_name(const char *s);
/* Audit | Disabled | OnDemand | Passive | RealTime */
bool mdf_valid_enforcement_level(const char *s);

#endif
