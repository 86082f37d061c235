/* The ARM decoders (arm_decode.h) through the JSON reader (json_reader.h):
 * the input is read as JSON and, when it is, decoded as a cluster, a
 * bare-metal machine, a page of them, an operation status and an ARM
 * error. Oracles: the reader's tree keeps its own promises (member lookup
 * is last-wins); what it takes json-c takes too; every decoded field is a
 * terminated string of its buffer; what a decoder accepts meets the
 * conditions it checks; outputHead keeps no URL query. */
#include <stdlib.h>
#include <string.h>

#include "arm_decode.h"
#include "err.h"
#include "fuzz_util.h"
#include "json_reader.h"
#include "names.h"

#define MAX_DEPTH 64       /* the depth the ARM client reads with */
#define LOOKUPS_CHECKED 64 /* members looked up per object: lookups are linear */

#define TERMINATED(field) FUZZ_CHECK(memchr((field), '\0', sizeof(field)) != NULL)

/* The tree: sizes and types in range, and mdf_jget finds a key's last
 * member. */
static void walk(const mdf_jval *v, int depth)
{
    FUZZ_CHECK(depth <= MAX_DEPTH + 1);
    switch ((mdf_jtype)v->type) {
    case MDF_J_NULL:
    case MDF_J_BOOL:
    case MDF_J_INT:
    case MDF_J_DOUBLE:
    case MDF_J_STRING:
        return;
    case MDF_J_ARRAY:
        for (uint32_t i = 0; i < v->len; i++)
            walk(&v->u.items[i], depth + 1);
        return;
    case MDF_J_OBJECT:
        for (uint32_t i = 0; i < v->len; i++) {
            const mdf_jmember *m = &v->u.members[i];
            walk(&m->val, depth + 1);
            if (i >= LOOKUPS_CHECKED || memchr(m->key, '\0', m->klen))
                continue; /* mdf_jget takes a C string */
            char *key = fuzz_cstr((const uint8_t *)m->key, m->klen);
            const mdf_jval *last = &m->val;
            for (uint32_t j = i + 1; j < v->len; j++)
                if (v->u.members[j].klen == m->klen &&
                    memcmp(v->u.members[j].key, key, m->klen) == 0)
                    last = &v->u.members[j].val;
            FUZZ_CHECK(mdf_jget(v, key) == last);
            free(key);
        }
        return;
    }
    FUZZ_CHECK(!"a value of no known type");
}

static void check_cluster(const mdf_jval *root)
{
    char err[MDF_ERRSZ] = "";
    mdf_cluster c;
    if (mdf_arm_decode_cluster(root, &c, err, sizeof err) != MDF_OK) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    TERMINATED(c.id);
    TERMINATED(c.name);
    TERMINATED(c.location);
    TERMINATED(c.enforcement_level);
    TERMINATED(c.managed_resource_group);
    TERMINATED(c.provisioning_state);
    TERMINATED(c.detailed_status);
    TERMINATED(c.output.container_url);
    TERMINATED(c.output.identity_type);
    TERMINATED(c.output.identity_id);
    FUZZ_CHECK(c.id[0] && c.name[0]);
    FUZZ_CHECK(c.n_actions <= MDF_ARM_MAX_ACTIONS);
    FUZZ_CHECK(!c.output.overridden || c.output.set);
    FUZZ_CHECK(!c.output.set || c.output.container_url[0]);
    for (size_t i = 0; i < c.n_actions; i++) {
        const mdf_action_state *a = &c.actions[i];
        TERMINATED(a->action_type);
        TERMINATED(a->status);
        TERMINATED(a->start_time);
        TERMINATED(a->end_time);
        TERMINATED(a->message);
        TERMINATED(a->correlation_id);
        FUZZ_CHECK(mdf_cluster_action(&c, a->action_type) != NULL);
    }
}

static void check_bmm(const mdf_bmm *b)
{
    TERMINATED(b->id);
    TERMINATED(b->name);
    TERMINATED(b->machine_name);
    TERMINATED(b->rack_id);
    TERMINATED(b->power_state);
    TERMINATED(b->ready_state);
    TERMINATED(b->detailed_status);
    TERMINATED(b->cordon_status);
    TERMINATED(b->provisioning_state);
    FUZZ_CHECK(mdf_valid_bmm_name(b->name));
}

static int add_bmm(void *arg, const mdf_bmm *b)
{
    check_bmm(b);
    ++*(size_t *)arg;
    return MDF_OK;
}

static void check_machines(const mdf_jval *root)
{
    char err[MDF_ERRSZ] = "", next[MDF_URL_MAX];
    mdf_bmm b;
    if (mdf_arm_decode_bmm(root, &b, err, sizeof err) == MDF_OK)
        check_bmm(&b);
    else
        FUZZ_CHECK(err[0] != '\0');
    size_t n = 0;
    if (mdf_arm_decode_bmm_page(root, add_bmm, &n, next, sizeof next, err, sizeof err) == MDF_OK) {
        const mdf_jval *items = mdf_jget(root, "value");
        FUZZ_CHECK(items && n == items->len);
        TERMINATED(next);
    }
}

static void check_opstatus(const mdf_jval *root)
{
    char err[MDF_ERRSZ] = "";
    mdf_opstatus st;
    int rc = mdf_arm_decode_opstatus(root, &st, err, sizeof err);
    if (rc != MDF_OK) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    TERMINATED(st.status);
    TERMINATED(st.error_code);
    TERMINATED(st.error_message);
    TERMINATED(st.exit_code);
    TERMINATED(st.output_head);
    TERMINATED(st.result_url);
    TERMINATED(st.start_time);
    TERMINATED(st.end_time);
    FUZZ_CHECK(st.status[0] != '\0');
    FUZZ_CHECK(!st.result_from_ref || st.result_url[0] != '\0');
    fuzz_check_redacted(st.output_head);
    /* a success is an end */
    FUZZ_CHECK(!mdf_arm_status_succeeded(st.status) || mdf_arm_status_terminal(st.status));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[MDF_ERRSZ] = "";
    char *text = fuzz_cstr(data, size);
    mdf_jdoc *doc = NULL;
    int rc = mdf_jdoc_parse(&text, size, MAX_DEPTH, &doc, err, sizeof err);
    FUZZ_CHECK(text == NULL);
    /* One way only: json-c's strict mode still takes raw control characters
     * in strings, which the reader (RFC 8259) refuses. */
    FUZZ_CHECK(rc != MDF_OK || fuzz_json_strict((const char *)data, size, false));
    if (rc != MDF_OK) {
        FUZZ_CHECK(doc == NULL && err[0] != '\0');
        return 0;
    }
    walk(&doc->root, 0);
    check_cluster(&doc->root);
    check_machines(&doc->root);
    check_opstatus(&doc->root);
    char code[128], msg[1024];
    mdf_arm_decode_error(&doc->root, code, sizeof code, msg, sizeof msg);
    TERMINATED(code);
    TERMINATED(msg);
    mdf_jdoc_free(doc);
    return 0;
}
