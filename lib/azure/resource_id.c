#include "resource_id.h"

#include <stdio.h>

#include "err.h"

static int fits(int n, size_t outsz)
{
    return n >= 0 && (size_t)n < outsz ? MDF_OK : MDF_ERR;
}

int mdf_rid(char *out, size_t outsz, const char *sub, const char *rg, const char *type,
            const char *name)
{
    int n = snprintf(out, outsz,
                     "/subscriptions/%s/resourceGroups/%s/providers/" MDF_RP_NAMESPACE "/%s%s%s",
                     sub, rg, type, name ? "/" : "", name ? name : "");
    return fits(n, outsz);
}

int mdf_rid_cluster(char *out, size_t outsz, const char *sub, const char *rg, const char *cluster)
{
    return mdf_rid(out, outsz, sub, rg, MDF_RT_CLUSTERS, cluster);
}

int mdf_rid_bmm(char *out, size_t outsz, const char *sub, const char *managed_rg, const char *bmm)
{
    return mdf_rid(out, outsz, sub, managed_rg, MDF_RT_BMMS, bmm);
}

int mdf_rid_operation(char *out, size_t outsz, const char *sub, const char *location,
                      const char *op_id)
{
    int n = snprintf(out, outsz,
                     "/subscriptions/%s/providers/" MDF_RP_NAMESPACE
                     "/locations/%s/operationStatuses/%s",
                     sub, location, op_id);
    return fits(n, outsz);
}
