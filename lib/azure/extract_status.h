/* What a finished mde-agent-information data extract says of its node:
 * a result to download, or why there is none (the agent is not running,
 * the time limit was hit, the operation failed). Shared by the worker's
 * executor and mdefleet-arm. */
#ifndef MDF_EXTRACT_STATUS_H
#define MDF_EXTRACT_STATUS_H

#include <stddef.h>

#include "arm.h"

/* NULL when the extract produced a result (st->result_url); else the
 * NodeFailure symbol (schemas/JobStatus.avsc: AgentNotRunning, TimeLimit,
 * OperationFailed, Throttled, Other) with one line in reason. limit_s is
 * the extract's limitTimeSeconds, for the message. */
const char *mdf_extract_failure(const mdf_arm_error *e, const mdf_opstatus *st, int limit_s,
                                char *reason, size_t reasonsz);

#endif
