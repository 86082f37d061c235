/* The paths the simulator serves, in one place: the server dispatches on
 * them, and the scenario loader keeps storage account names (the first path
 * segment of a customer blob, path style) off the other routes' first
 * segments. */
#ifndef SIM_ROUTES_H
#define SIM_ROUTES_H

/* Resource Manager: /subscriptions/... (matched case-insensitively) */
#define SIM_SEG_ARM "subscriptions"
/* IMDS: the whole path; "metadata" is its first segment */
#define SIM_SEG_IMDS "metadata"
#define SIM_PATH_IMDS "/" SIM_SEG_IMDS "/identity/oauth2/token"
/* the token endpoint: /{tenant} + this */
#define SIM_PATH_TOKEN_SUFFIX "/oauth2/v2.0/token"
/* the Cluster Manager's container of SAS result blobs */
#define SIM_SEG_SAS_CONTAINER "bmm-run-command-output"
#define SIM_SEG_ADMIN "_admin"

#endif
