/* Azure Resource Manager ids of the Microsoft.NetworkCloud resources
 * mdefleet touches, built in one place: URLs, record keys and event ids
 * are made from them, and event ids must not drift apart. */
#ifndef MDF_RESOURCE_ID_H
#define MDF_RESOURCE_ID_H

#include <stddef.h>

#define MDF_RID_MAX 512 /* every id of validated names fits */

#define MDF_RP_NAMESPACE "Microsoft.NetworkCloud"
/* resource types of the provider */
#define MDF_RT_CLUSTERS "clusters"
#define MDF_RT_BMMS "bareMetalMachines"
#define MDF_RT_RACKS "racks"
#define MDF_RT_CLUSTER_MANAGERS "clusterManagers"
/* actions (POST .../{type}/{name}/{action}) */
#define MDF_ACTION_SCAN_RUNTIME "scanRuntime"
#define MDF_ACTION_RUN_DATA_EXTRACTS "runDataExtracts"
#define MDF_ACTION_RUN_DATA_EXTRACTS_RESTRICTED "runDataExtractsRestricted"
/* the cluster's actionStates[].actionType of a scan */
#define MDF_ACTION_TYPE_SCAN_RUNTIME                                                               \
    MDF_RP_NAMESPACE "/" MDF_RT_CLUSTERS "/" MDF_ACTION_SCAN_RUNTIME "/action"

/* /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.NetworkCloud/{type}[/{name}]
 * (name NULL: the collection). MDF_ERR when it does not fit outsz. */
int mdf_rid(char *out, size_t outsz, const char *sub, const char *rg, const char *type,
            const char *name);
/* The cluster's and a bare-metal machine's id (machines live in the
 * cluster's managed resource group). */
int mdf_rid_cluster(char *out, size_t outsz, const char *sub, const char *rg, const char *cluster);
int mdf_rid_bmm(char *out, size_t outsz, const char *sub, const char *managed_rg, const char *bmm);
/* /subscriptions/{sub}/providers/Microsoft.NetworkCloud/locations/{loc}/operationStatuses/{id} */
int mdf_rid_operation(char *out, size_t outsz, const char *sub, const char *location,
                      const char *op_id);

#endif
