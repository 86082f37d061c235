#include "extract_status.h"

#include <stdio.h>
#include <string.h>

#include "resource_id.h"

/* The first line of the command output that mentions the agent. */
static void agent_line(const char *head, char *out, size_t outsz)
{
    const char *p = strstr(head, "MDE agent");
    size_t n = p ? strcspn(p, "\r\n") : 0;
    snprintf(out, outsz, "%.*s", (int)(n > 200 ? 200 : n), p ? p : "");
}

const char *mdf_extract_failure(const mdf_arm_error *e, const mdf_opstatus *st, int limit_s,
                                char *reason, size_t reasonsz)
{
    if (e->code == MDF_ARM_E_OPERATION_FAILED) {
        snprintf(reason, reasonsz, "extract operation %s", e->message);
        return "OperationFailed";
    }
    if (e->code != MDF_ARM_OK) {
        snprintf(reason, reasonsz, MDF_ACTION_RUN_DATA_EXTRACTS ": %s: %s",
                 mdf_arm_errcode_name(e->code), e->message);
        return e->code == MDF_ARM_E_THROTTLED ? "Throttled" : "Other";
    }
    if (st->has_exit_code && strcmp(st->exit_code, "0") != 0) {
        char line[256];
        agent_line(st->output_head, line, sizeof line);
        if (strcmp(st->exit_code, "252") == 0) {
            snprintf(reason, reasonsz, "the extract hit its time limit of %d s (exit code 252)",
                     limit_s);
            return "TimeLimit";
        }
        if (strstr(st->output_head, "not running")) {
            snprintf(reason, reasonsz, "%s (exit code %s)",
                     line[0] ? line : "MDE agent is not running", st->exit_code);
            return "AgentNotRunning";
        }
        snprintf(reason, reasonsz, "the extract exited with code %s%s%s", st->exit_code,
                 line[0] ? ": " : "", line);
        return "OperationFailed";
    }
    if (!st->result_url[0]) {
        snprintf(reason, reasonsz, "the extract succeeded without a resultUrl or resultRef");
        return "OperationFailed";
    }
    reason[0] = '\0';
    return NULL;
}
