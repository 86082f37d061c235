/* The MDE report parser: the JSON reader's tree (json_reader.h) -> the
 * normalized model (report.h). Output of the model lives in report_output.c. */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "json_reader.h"
#include "strconv.h"
#include "strmap.h"
#include "tarball.h"
#include "utf8.h"
#include "vec.h"

#define INTERN_MAX_LEN 64 /* longer strings are copied, not interned */
#define INTERN_MAX_COUNT 65536
#define FILE_BLOCK 65536

/* Where a value sits, for warnings: a[i].b[j].key (i, j = NOIDX: none). */
#define NOIDX SIZE_MAX
typedef struct loc {
    const char *a;
    size_t i;
    const char *b;
    size_t j;
} loc;

typedef struct ctx {
    mdf_report *r;
    bool oom;
    mdf_strmap interned; /* string -> index in istr */
    mdf_vec istr;        /* const char *: the interned strings */
    size_t *scan_slots;  /* open addressing over scans by (type, start) */
    size_t scan_mask;
    /* built here, handed over to r's plain arrays at the end */
    mdf_vec scans, threats, quarantine; /* mdf_scan, mdf_threat, mdf_threat */
    mdf_vec warnings;                   /* const char * */
    mdf_strmap threat_ids, quarantine_ids;
} ctx;

/* ---- warnings ---------------------------------------------------------- */

static void warn(ctx *c, const loc *l, const char *key, const char *fmt, ...) MDF_PRINTF(4, 5);

static void warn(ctx *c, const loc *l, const char *key, const char *fmt, ...)
{
    if (c->warnings.len >= MDF_REPORT_MAX_WARNINGS) {
        c->r->n_warnings_dropped++;
        return;
    }
    char where[256] = "", msg[256];
    size_t n = 0;
    if (l && l->a)
        n += (size_t)snprintf(where + n, sizeof where - n, "%s", l->a);
    if (l && l->i != NOIDX && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "[%zu]", l->i);
    if (l && l->b && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, ".%s", l->b);
    if (l && l->j != NOIDX && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "[%zu]", l->j);
    if (key && n < sizeof where)
        snprintf(where + n, sizeof where - n, "%s%s", n ? "." : "", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[520];
    int len = snprintf(line, sizeof line, "%s: %s", where, msg);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof line)
        len = (int)sizeof line - 1;
    const char *copy = mdf_arena_strndup(&c->r->arena, line, (size_t)len);
    if (!copy || mdf_vec_push(&c->warnings, &copy) != 0)
        c->oom = true;
}

static const char *type_name(const mdf_jval *v)
{
    return mdf_jtype_name(v);
}

/* ---- strings ------------------------------------------------------------ */

static const char *save_str(ctx *c, const char *s, size_t len)
{
    if (len > INTERN_MAX_LEN || c->istr.len >= INTERN_MAX_COUNT) {
        const char *p = mdf_arena_strndup(&c->r->arena, s, len);
        if (!p)
            c->oom = true;
        return p;
    }
    size_t idx;
    if (mdf_strmap_get(&c->interned, s, len, &idx))
        return MDF_VEC_AT(&c->istr, const char *, idx);
    const char *p = mdf_arena_strndup(&c->r->arena, s, len);
    if (!p || mdf_strmap_put(&c->interned, p, len, c->istr.len) != 0 ||
        mdf_vec_push(&c->istr, &p) != 0) {
        c->oom = true;
        return NULL;
    }
    return p;
}

/* A string from the report, kept whole and valid: each NUL (which would cut
 * a C string: two ids differing after it would become one) and each run
 * that is not UTF-8 (which strict JSON readers refuse) becomes U+FFFD, with
 * a warning. */
static const char *save_text(ctx *c, const char *s, size_t len, const loc *l, const char *key)
{
    if (mdf_utf8_clean_already(s, len))
        return save_str(c, s, len);
    mdf_buf b;
    size_t replaced = 0;
    mdf_buf_init(&b, 3 * len + 1); /* each byte at most one U+FFFD */
    const char *p = NULL;
    if (mdf_utf8_clean(s, len, &b, &replaced) != MDF_OK) {
        c->oom = true;
    } else {
        warn(c, l, key, "%zu NUL or invalid UTF-8 sequence(s) replaced with U+FFFD", replaced);
        p = save_str(c, b.data ? b.data : "", b.len);
    }
    mdf_buf_free(&b);
    return p;
}

/* ---- tolerant readers ---------------------------------------------------- */

static const mdf_jval *get(const mdf_jval *obj, const char *key)
{
    return mdf_jget(obj, key);
}

/* mdatp health wraps managed settings as {"displayValue","isManaged","value"} */
static const mdf_jval *unwrap(const mdf_jval *v)
{
    const mdf_jval *inner = v && v->type == MDF_J_OBJECT ? mdf_jget(v, "value") : NULL;
    return inner ? inner : v;
}

/* Present and not null. */
static const mdf_jval *get_value(const mdf_jval *obj, const char *key)
{
    const mdf_jval *v = unwrap(get(obj, key));
    return v && v->type != MDF_J_NULL ? v : NULL;
}

/* Reads an integer written as a number or as a string of digits. Absent
 * (missing or null) is not a warning; anything else unreadable is. */
static bool read_int(ctx *c, const mdf_jval *obj, const char *key, const loc *l, int64_t *out)
{
    const mdf_jval *v = get_value(obj, key);
    if (!v)
        return false;
    switch (v->type) {
    case MDF_J_INT:
        *out = v->u.i;
        return true;
    case MDF_J_DOUBLE:
        if (v->u.d >= -9.2e18 && v->u.d <= 9.2e18 && v->u.d == (double)(int64_t)v->u.d) {
            *out = (int64_t)v->u.d;
            return true;
        }
        warn(c, l, key, "not a whole number: %.*s", (int)v->len, v->s);
        return false;
    case MDF_J_STRING:
        if (mdf_parse_int64(v->s, v->len, out) == 0)
            return true;
        warn(c, l, key, "not a number: \"%.*s\"", (int)(v->len > 40 ? 40 : v->len), v->s);
        return false;
    default:
        warn(c, l, key, "expected a number, got %s", type_name(v));
        return false;
    }
}

/* Epoch milliseconds, from a number, a string of digits or RFC 3339. */
static int64_t read_time(ctx *c, const mdf_jval *obj, const char *key, const loc *l)
{
    const mdf_jval *v = get_value(obj, key);
    int64_t ms;
    if (v && v->type == MDF_J_STRING && v->len > 0 && v->len < 64 && v->s[0] != '-' &&
        memchr(v->s, 'T', v->len)) {
        char tmp[64];
        memcpy(tmp, v->s, v->len);
        tmp[v->len] = '\0';
        if (mdf_time_parse_rfc3339(tmp, &ms) == 0 && mdf_time_valid_ms(ms))
            return ms;
    }
    if (!read_int(c, obj, key, l, &ms))
        return MDF_TIME_NONE;
    if (!mdf_time_valid_ms(ms)) {
        warn(c, l, key, "time out of range: %" PRId64, ms);
        return MDF_TIME_NONE;
    }
    return ms;
}

static int64_t read_count(ctx *c, const mdf_jval *obj, const char *key, const loc *l)
{
    int64_t n;
    if (!read_int(c, obj, key, l, &n))
        return MDF_COUNT_NONE;
    if (n < 0) {
        warn(c, l, key, "negative count: %" PRId64, n);
        return MDF_COUNT_NONE;
    }
    return n;
}

/* A string; numbers and booleans are kept as their text (versions were
 * written as numbers by old agents). */
static const char *read_str(ctx *c, const mdf_jval *obj, const char *key, const loc *l)
{
    const mdf_jval *v = get_value(obj, key);
    if (!v)
        return NULL;
    switch (v->type) {
    case MDF_J_STRING:
        return save_text(c, v->s, v->len, l, key);
    case MDF_J_INT:
    case MDF_J_DOUBLE:
        return save_str(c, v->s, v->len);
    case MDF_J_BOOL:
        return save_str(c, v->b ? "true" : "false", v->b ? 4 : 5);
    default:
        warn(c, l, key, "expected a string, got %s", type_name(v));
        return NULL;
    }
}

static mdf_tri read_bool(ctx *c, const mdf_jval *obj, const char *key, const loc *l)
{
    static const char *const yes[] = {"true", "True", "enabled"};
    static const char *const no[] = {"false", "False", "disabled"};
    const mdf_jval *v = get_value(obj, key);
    if (!v)
        return MDF_UNKNOWN;
    switch (v->type) {
    case MDF_J_BOOL:
        return v->b ? MDF_YES : MDF_NO;
    case MDF_J_INT:
        if (v->u.i == 0 || v->u.i == 1)
            return v->u.i ? MDF_YES : MDF_NO;
        break;
    case MDF_J_STRING:
        for (size_t i = 0; i < 3; i++) {
            if (mdf_jstr_is(v, yes[i]))
                return MDF_YES;
            if (mdf_jstr_is(v, no[i]))
                return MDF_NO;
        }
        warn(c, l, key, "not a yes/no value: \"%.*s\"", (int)(v->len > 40 ? 40 : v->len), v->s);
        return MDF_UNKNOWN;
    default:
        break;
    }
    warn(c, l, key, "expected a boolean, got %s", type_name(v));
    return MDF_UNKNOWN;
}

/* An array member that may be absent: NULL when it is (no warning) or when
 * it is something else (a warning). */
static const mdf_jval *optional_array(ctx *c, const mdf_jval *obj, const char *key, const loc *l)
{
    const mdf_jval *v = get(obj, key);
    if (v && v->type != MDF_J_ARRAY) {
        warn(c, l, key, "expected array, got %s", type_name(v));
        return NULL;
    }
    return v;
}

/* A section that should be of `type`: warns when missing, null or not. */
static const mdf_jval *section(ctx *c, const mdf_jval *parent, const char *where, const char *key,
                               mdf_jtype type)
{
    const mdf_jval *v = get(parent, key);
    loc l = {where, NOIDX, NULL, NOIDX};
    if (!v) {
        warn(c, &l, key, "missing");
        return NULL;
    }
    if (v->type == MDF_J_NULL) {
        warn(c, &l, key, "null");
        return NULL;
    }
    if (v->type != type) {
        mdf_jval want = {.type = (uint8_t)type};
        warn(c, &l, key, "expected %s, got %s", type_name(&want), type_name(v));
        return NULL;
    }
    return v;
}

/* ---- scans ---------------------------------------------------------------- */

/* The two spellings of a scan: scanList (camelCase, numbers as strings)
 * and the threat list's scans (snake_case, numbers). */
typedef struct scan_keys {
    const char *start, *end, *files;
} scan_keys;
static const scan_keys SCANLIST_KEYS = {"startTime", "endTime", "filesScanned"};
static const scan_keys THREATLIST_KEYS = {"start_time", "end_time", "files_scanned"};

static uint64_t scan_hash(const char *type, int64_t start)
{
    /* type is interned: its address identifies it. Keyed: the start times
     * come from the report, and crafted ones must not share a slot. */
    struct {
        uintptr_t type;
        int64_t start;
    } k;
    memset(&k, 0, sizeof k);
    k.type = (uintptr_t)type;
    k.start = start;
    return mdf_hash_keyed(&k, sizeof k);
}

/* Room for `extra` more scans, so that scan_slot cannot fail. */
static int scans_reserve(ctx *c, size_t extra)
{
    if (mdf_vec_reserve(&c->scans, extra) != 0)
        return -1;
    size_t cap = c->scans.cap;
    if (c->scan_slots && c->scan_mask + 1 >= cap * 2)
        return 0;
    /* rebuild the index at load <= 1/2 */
    size_t slots = 64;
    while (slots < cap * 2)
        slots *= 2;
    free(c->scan_slots);
    c->scan_slots = calloc(slots, sizeof *c->scan_slots);
    if (!c->scan_slots)
        return -1;
    c->scan_mask = slots - 1;
    const mdf_scan *scans = c->scans.data;
    for (size_t i = 0; i < c->scans.len; i++) {
        if (scans[i].start_ms == MDF_TIME_NONE)
            continue;
        size_t k = (size_t)scan_hash(scans[i].type, scans[i].start_ms) & c->scan_mask;
        while (c->scan_slots[k])
            k = (k + 1) & c->scan_mask;
        c->scan_slots[k] = i + 1;
    }
    return 0;
}

/* Returns the scan with this type and start time, adding it if new. */
static mdf_scan *scan_slot(ctx *c, const char *type, int64_t start, bool *is_new)
{
    mdf_scan *scans = c->scans.data;
    size_t k = 0;
    if (start != MDF_TIME_NONE) {
        k = (size_t)scan_hash(type, start) & c->scan_mask;
        for (; c->scan_slots[k]; k = (k + 1) & c->scan_mask) {
            mdf_scan *s = &scans[c->scan_slots[k] - 1];
            if (s->start_ms == start && s->type == type) {
                *is_new = false;
                return s;
            }
        }
        c->scan_slots[k] = c->scans.len + 1;
    }
    mdf_scan *s = mdf_vec_add(&c->scans); /* reserved: not NULL */
    s->type = type;
    s->state = NULL;
    s->start_ms = start;
    s->end_ms = MDF_TIME_NONE;
    s->files_scanned = MDF_COUNT_NONE;
    s->threat_count = MDF_COUNT_NONE;
    *is_new = true;
    return s;
}

static void read_threat_entry(ctx *c, const mdf_jval *entry, const loc *l, bool quarantine);

static void read_scan(ctx *c, const mdf_jval *item, const loc *l, const scan_keys *keys,
                      bool threats_are_findings)
{
    if (item->type != MDF_J_OBJECT) {
        warn(c, l, NULL, "expected object, got %s", type_name(item));
        return;
    }
    const char *type = read_str(c, item, "type", l);
    int64_t start = read_time(c, item, keys->start, l);
    bool is_new;
    mdf_scan *s = scan_slot(c, type, start, &is_new);
    if (!s->state)
        s->state = read_str(c, item, "state", l);
    if (s->end_ms == MDF_TIME_NONE)
        s->end_ms = read_time(c, item, keys->end, l);
    if (s->files_scanned == MDF_COUNT_NONE)
        s->files_scanned = read_count(c, item, keys->files, l);

    const mdf_jval *threats = optional_array(c, item, "threats", l);
    if (!threats)
        return;
    size_t n = threats->len;
    if (s->threat_count == MDF_COUNT_NONE || (int64_t)n > s->threat_count)
        s->threat_count = (int64_t)n;
    if (!threats_are_findings)
        return;
    for (size_t j = 0; j < n; j++) {
        loc tl = {l->a, l->i, "threats", j};
        read_threat_entry(c, &threats->u.items[j], &tl, false);
    }
}

static void read_scan_array(ctx *c, const mdf_jval *arr, const char *where, const scan_keys *keys,
                            bool threats_are_findings)
{
    size_t n = arr->len;
    if (scans_reserve(c, n) != 0) {
        c->oom = true;
        return;
    }
    for (size_t i = 0; i < n && !c->oom; i++) {
        loc l = {where, i, NULL, NOIDX};
        read_scan(c, &arr->u.items[i], &l, keys, threats_are_findings);
    }
}

static int cmp_scan(const void *pa, const void *pb)
{
    const mdf_scan *a = pa, *b = pb;
    /* absent start times last */
    bool na = a->start_ms == MDF_TIME_NONE, nb = b->start_ms == MDF_TIME_NONE;
    if (na != nb)
        return na ? 1 : -1;
    if (a->start_ms != b->start_ms)
        return a->start_ms < b->start_ms ? -1 : 1;
    if (a->end_ms != b->end_ms)
        return a->end_ms < b->end_ms ? -1 : 1;
    return strcmp(a->type ? a->type : "", b->type ? b->type : "");
}

/* ---- threats ---------------------------------------------------------------- */

/* Splits a CARO name Type:Platform/Family.Variant!Suffix. Names of other
 * forms (e.g. "EICAR-Test-File (not a virus)") leave the parts NULL. */
static void split_name(ctx *c, mdf_threat *t)
{
    const char *name = t->name;
    if (!name)
        return;
    const char *colon = strchr(name, ':');
    const char *slash = colon ? strchr(colon + 1, '/') : NULL;
    if (!colon || colon == name || !slash || slash == colon + 1 || slash[1] == '\0' ||
        memchr(name, ' ', (size_t)(colon - name)))
        return;
    const char *fam = slash + 1;
    const char *bang = strchr(fam, '!');
    const char *fam_end = bang ? bang : fam + strlen(fam);
    const char *dot = memchr(fam, '.', (size_t)(fam_end - fam));
    t->category = save_str(c, name, (size_t)(colon - name));
    t->platform = save_str(c, colon + 1, (size_t)(slash - colon - 1));
    t->family = save_str(c, fam, (size_t)((dot ? dot : fam_end) - fam));
    if (dot && dot + 1 < fam_end)
        t->variant = save_str(c, dot + 1, (size_t)(fam_end - dot - 1));
    if (bang && bang[1])
        t->suffix = save_str(c, bang + 1, strlen(bang + 1));
}

/* The latest status: the history entry with the largest key. */
static void read_history(ctx *c, const mdf_jval *entry, const loc *l, mdf_threat *t)
{
    const mdf_jval *hist = optional_array(c, entry, "history", l);
    if (!hist)
        return;
    size_t n = hist->len;
    for (size_t k = 0; k < n; k++) {
        const mdf_jval *h = &hist->u.items[k];
        int64_t key;
        if (h->type != MDF_J_OBJECT) {
            warn(c, l, "history", "entry %zu is not an object", k);
            continue;
        }
        if (!read_int(c, h, "key", l, &key))
            continue;
        if (t->status_key == MDF_TIME_NONE || key > t->status_key) {
            t->status_key = key;
            t->status = read_str(c, h, "value", l);
        }
    }
}

static void read_threat_entry(ctx *c, const mdf_jval *entry, const loc *l, bool quarantine)
{
    if (entry->type != MDF_J_OBJECT) {
        warn(c, l, NULL, "expected object, got %s", type_name(entry));
        return;
    }
    /* {"threat":{tracking_id,name,type},"detection_time","history"}; older
     * agents put the threat's fields on the entry itself */
    const mdf_jval *th = get(entry, "threat");
    if (!th || th->type != MDF_J_OBJECT)
        th = entry;
    mdf_threat t = {.status_key = MDF_TIME_NONE, .detection_ms = MDF_TIME_NONE};
    t.tracking_id = read_str(c, th, "tracking_id", l);
    t.name = read_str(c, th, "name", l);
    t.type = read_str(c, th, "type", l);
    t.detection_ms = read_time(c, get(entry, "detection_time") ? entry : th, "detection_time", l);
    read_history(c, entry, l, &t);
    split_name(c, &t);

    mdf_strmap *ids = quarantine ? &c->quarantine_ids : &c->threat_ids;
    size_t idx;
    mdf_vec *list = quarantine ? &c->quarantine : &c->threats;
    if (t.tracking_id && mdf_strmap_get(ids, t.tracking_id, strlen(t.tracking_id), &idx)) {
        /* the same threat seen in another scan: keep its latest status */
        mdf_threat *old = &MDF_VEC_AT(list, mdf_threat, idx);
        if (t.status_key != MDF_TIME_NONE &&
            (old->status_key == MDF_TIME_NONE || t.status_key > old->status_key)) {
            old->status = t.status;
            old->status_key = t.status_key;
        }
        if (old->detection_ms == MDF_TIME_NONE)
            old->detection_ms = t.detection_ms;
        return;
    }
    if ((t.tracking_id &&
         mdf_strmap_put(ids, t.tracking_id, strlen(t.tracking_id), list->len) != 0) ||
        mdf_vec_push(list, &t) != 0)
        c->oom = true;
}

/* threatInformation.list / .quarantineList: {"threats":{"scans":[...]}},
 * {"threats":[entries]} (older agents), or a scan-like
 * {"type":"quarantined","threats":[entries]}. */
static void read_threat_container(ctx *c, const mdf_jval *cont, const char *where, bool quarantine)
{
    const mdf_jval *threats = get(cont, "threats");
    loc l = {where, NOIDX, NULL, NOIDX};
    if (!threats) {
        warn(c, &l, "threats", "missing");
        return;
    }
    if (threats->type == MDF_J_ARRAY) {
        size_t n = threats->len;
        char sub[128];
        snprintf(sub, sizeof sub, "%s.threats", where);
        for (size_t i = 0; i < n && !c->oom; i++) {
            loc el = {sub, i, NULL, NOIDX};
            read_threat_entry(c, &threats->u.items[i], &el, quarantine);
        }
        return;
    }
    if (threats->type != MDF_J_OBJECT) {
        warn(c, &l, "threats", "expected object or array, got %s", type_name(threats));
        return;
    }
    char sub[128];
    snprintf(sub, sizeof sub, "%s.threats", where);
    const mdf_jval *scans = section(c, threats, sub, "scans", MDF_J_ARRAY);
    if (!scans)
        return;
    if (quarantine) {
        size_t n = scans->len;
        snprintf(sub, sizeof sub, "%s.threats.scans", where);
        for (size_t i = 0; i < n; i++) {
            const mdf_jval *ts = get(&scans->u.items[i], "threats");
            size_t m = ts && ts->type == MDF_J_ARRAY ? ts->len : 0;
            for (size_t j = 0; j < m && !c->oom; j++) {
                loc el = {sub, i, "threats", j};
                read_threat_entry(c, &ts->u.items[j], &el, true);
            }
        }
        return;
    }
    snprintf(sub, sizeof sub, "%s.threats.scans", where);
    read_scan_array(c, scans, sub, &THREATLIST_KEYS, true);
}

/* ---- health ----------------------------------------------------------------- */

static void read_health(ctx *c, const mdf_jval *gh, const mdf_jval *defs)
{
    mdf_health *h = &c->r->health;
    loc l = {"generalHealth", NOIDX, NULL, NOIDX};
    loc ld = {"mdeDefinitions", NOIDX, NULL, NOIDX};
    h->healthy = read_bool(c, gh, "healthy", &l);
    h->licensed = read_bool(c, gh, "licensed", &l);
    h->real_time_protection_enabled = read_bool(c, gh, "realTimeProtectionEnabled", &l);
    h->real_time_protection_available = read_bool(c, gh, "realTimeProtectionAvailable", &l);
    h->passive_mode_enabled = read_bool(c, gh, "passiveModeEnabled", &l);
    h->app_version = read_str(c, gh, "appVersion", &l);
    h->engine_version = read_str(c, gh, "engineVersion", &l);
    if (!h->engine_version) /* 100.x agents (2020) */
        h->engine_version = read_str(c, gh, "versionEngine", &l);
    h->release_ring = read_str(c, gh, "releaseRing", &l);
    h->org_id = read_str(c, gh, "orgId", &l);
    h->edr_machine_id = read_str(c, gh, "edrMachineId", &l);
    h->behavior_monitoring = read_str(c, gh, "behaviorMonitoring", &l);
    h->tamper_protection = read_str(c, gh, "tamperProtection", &l);
    h->product_expiration_ms = read_time(c, gh, "productExpiration", &l);

    /* definitions: generalHealth first, the definitions section second */
    h->definitions_version = read_str(c, gh, "definitionsVersion", &l);
    if (!h->definitions_version)
        h->definitions_version = read_str(c, defs, "definitionsVersion", &ld);
    h->definitions_updated_ms = read_time(c, gh, "definitionsUpdated", &l);
    if (h->definitions_updated_ms == MDF_TIME_NONE)
        h->definitions_updated_ms = read_time(c, defs, "definitionsUpdated", &ld);
    const mdf_jval *st = get(gh, "definitionsStatus");
    if (!st)
        st = get(defs, "definitionsStatus");
    if (st && st->type == MDF_J_OBJECT)
        h->definitions_status = read_str(c, st, "$type", &l);
    else if (st)
        h->definitions_status = read_str(c, gh, "definitionsStatus", &l);

    const mdf_jval *issues = optional_array(c, gh, "healthIssues", &l);
    if (!issues)
        return;
    size_t n = issues->len;
    h->issues = mdf_arena_alloc(&c->r->arena, (n ? n : 1) * sizeof *h->issues);
    if (!h->issues) {
        c->oom = true;
        return;
    }
    h->issues_known = true;
    for (size_t i = 0; i < n; i++) {
        const mdf_jval *v = &issues->u.items[i];
        if (v->type == MDF_J_STRING)
            h->issues[h->n_issues++] = save_text(c, v->s, v->len, &l, "healthIssues");
        else
            warn(c, &l, "healthIssues", "entry %zu is not a string", i);
    }
}

static void read_rtp_stats(ctx *c, const mdf_jval *diag)
{
    const mdf_jval *rtp =
        section(c, diag, "diagnosticInformation", "realTimeProtectionStats", MDF_J_OBJECT);
    if (!rtp)
        return;
    const mdf_jval *counters =
        section(c, rtp, "diagnosticInformation.realTimeProtectionStats", "counters", MDF_J_ARRAY);
    if (!counters)
        return;
    size_t n = counters->len;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        loc l = {"diagnosticInformation.realTimeProtectionStats.counters", i, NULL, NOIDX};
        int64_t v = read_count(c, &counters->u.items[i], "total_files_scanned", &l);
        if (v != MDF_COUNT_NONE && sum <= INT64_MAX - v)
            sum += v;
    }
    c->r->rtp_files_scanned = sum;
}

/* ---- entry points ------------------------------------------------------------ */

/* doc_bytes: the JSON text's size, which bounds the lists */
static int normalize(const mdf_jval *root, size_t doc_bytes, mdf_report *r, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    ctx c = {.r = r};
    mdf_strmap_init(&c.interned);
    mdf_strmap_init(&c.threat_ids);
    mdf_strmap_init(&c.quarantine_ids);
    mdf_vec_init(&c.istr, sizeof(const char *), INTERN_MAX_COUNT);
    /* every scan and threat is a JSON object of its own: "{}" at least */
    mdf_vec_init(&c.scans, sizeof(mdf_scan), doc_bytes / 2);
    mdf_vec_init(&c.threats, sizeof(mdf_threat), doc_bytes / 2);
    mdf_vec_init(&c.quarantine, sizeof(mdf_threat), doc_bytes / 2);
    mdf_vec_init(&c.warnings, sizeof(const char *), MDF_REPORT_MAX_WARNINGS);
    if (root->type != MDF_J_OBJECT) {
        mdf_seterr(err, errsz, "not an MDE report: the top level is %s, not an object",
                   type_name(root));
        goto cleanup;
    }
    const mdf_jval *scan_list = section(&c, root, NULL, "scanList", MDF_J_ARRAY);
    if (scan_list)
        read_scan_array(&c, scan_list, "scanList", &SCANLIST_KEYS, true);
    const mdf_jval *ti = section(&c, root, NULL, "threatInformation", MDF_J_OBJECT);
    if (ti) {
        const mdf_jval *list = section(&c, ti, "threatInformation", "list", MDF_J_OBJECT);
        if (list)
            read_threat_container(&c, list, "threatInformation.list", false);
        const mdf_jval *ql = section(&c, ti, "threatInformation", "quarantineList", MDF_J_OBJECT);
        if (ql)
            read_threat_container(&c, ql, "threatInformation.quarantineList", true);
    }
    const mdf_jval *gh = section(&c, root, NULL, "generalHealth", MDF_J_OBJECT);
    const mdf_jval *defs = section(&c, root, NULL, "mdeDefinitions", MDF_J_OBJECT);
    read_health(&c, gh, defs);
    const mdf_jval *diag = section(&c, root, NULL, "diagnosticInformation", MDF_J_OBJECT);
    if (diag)
        read_rtp_stats(&c, diag);
    if (c.scans.len > 1)
        qsort(c.scans.data, c.scans.len, sizeof(mdf_scan), cmp_scan);
    rc = MDF_OK;
cleanup:
    if (c.oom)
        rc = mdf_seterr(err, errsz, "out of memory while reading the report");
    /* r owns the lists from here on, whatever the outcome */
    r->scans = mdf_vec_take(&c.scans, &r->n_scans);
    r->threats = mdf_vec_take(&c.threats, &r->n_threats);
    r->quarantine = mdf_vec_take(&c.quarantine, &r->n_quarantine);
    r->warnings = mdf_vec_take(&c.warnings, &r->n_warnings);
    mdf_strmap_free(&c.interned);
    mdf_strmap_free(&c.threat_ids);
    mdf_strmap_free(&c.quarantine_ids);
    mdf_vec_free(&c.istr);
    free(c.scan_slots);
    return rc;
}

void mdf_report_limits_default(mdf_report_limits *lim)
{
    lim->max_bytes = MDF_REPORT_MAX_BYTES;
    lim->max_depth = MDF_REPORT_MAX_DEPTH;
}

static mdf_report *report_new(void)
{
    mdf_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    mdf_arena_init(&r->arena);
    r->rtp_files_scanned = MDF_COUNT_NONE;
    mdf_health *h = &r->health;
    h->healthy = h->licensed = MDF_UNKNOWN;
    h->real_time_protection_enabled = h->passive_mode_enabled = MDF_UNKNOWN;
    h->real_time_protection_available = MDF_UNKNOWN;
    h->definitions_updated_ms = h->product_expiration_ms = MDF_TIME_NONE;
    return r;
}

void mdf_report_free(mdf_report *r)
{
    if (!r)
        return;
    free(r->scans);
    free(r->threats);
    free(r->quarantine);
    free(r->warnings);
    mdf_arena_free(&r->arena);
    free(r);
}

static int append_sink(void *buf, const char *data, size_t len, char *err, size_t errsz)
{
    mdf_buf *b = buf;
    if (mdf_buf_append(b, data, len) != 0)
        return mdf_seterr(err, errsz, "input larger than the %zu-byte cap", b->max);
    return MDF_OK;
}

/* Parses the JSON text in `in` (taken over) and normalizes it into *out. */
static int parse_buf(mdf_buf *in, const mdf_report_limits *lim, mdf_report **out, char *err,
                     size_t errsz)
{
    mdf_jdoc *doc = NULL;
    mdf_report *r = NULL;
    size_t len;
    char *text = mdf_buf_take(in, &len);
    int rc = mdf_jdoc_parse(&text, len, lim->max_depth, &doc, err, errsz);
    if (rc != MDF_OK)
        goto cleanup;
    rc = MDF_ERR;
    r = report_new();
    if (!r) {
        mdf_seterr(err, errsz, "out of memory");
        goto cleanup;
    }
    rc = normalize(&doc->root, len, r, err, errsz);
    if (rc == MDF_OK) {
        *out = r;
        r = NULL;
    }
cleanup:
    mdf_report_free(r);
    mdf_jdoc_free(doc);
    return rc;
}

int mdf_report_parse_mem(const void *data, size_t len, const mdf_report_limits *lim,
                         mdf_report **out, char *err, size_t errsz)
{
    mdf_report_limits def;
    mdf_buf in;
    int rc;
    if (!lim) {
        mdf_report_limits_default(&def);
        lim = &def;
    }
    *out = NULL;
    mdf_buf_init(&in, lim->max_bytes);
    if (mdf_is_gzip(data, len))
        rc = mdf_extract_read_mem(data, len, MDF_REPORT_ENTRY_NAME, lim->max_bytes, append_sink,
                                  &in, err, errsz);
    else
        rc = append_sink(&in, data, len, err, errsz);
    if (rc == MDF_OK)
        rc = parse_buf(&in, lim, out, err, errsz);
    mdf_buf_free(&in);
    return rc;
}

int mdf_report_parse_file(const char *path, const mdf_report_limits *lim, mdf_report **out,
                          char *err, size_t errsz)
{
    mdf_report_limits def;
    mdf_buf in;
    char block[FILE_BLOCK];
    if (!lim) {
        mdf_report_limits_default(&def);
        lim = &def;
    }
    *out = NULL;
    mdf_buf_init(&in, lim->max_bytes);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mdf_seterr(err, errsz, "%s: cannot open: %s", path, strerror(errno));
    int rc = MDF_OK;
    size_t n = fread(block, 1, sizeof block, fp);
    if (mdf_is_gzip(block, n)) {
        /* libarchive reads the file itself, block by block */
        rc = mdf_extract_read_file(path, MDF_REPORT_ENTRY_NAME, lim->max_bytes, append_sink, &in,
                                   err, errsz);
    } else {
        struct stat st;
        /* one allocation of the right size when the file says how big it is */
        if (fstat(fileno(fp), &st) == 0 && st.st_size > 0 &&
            (uint64_t)st.st_size <= lim->max_bytes && mdf_buf_reserve(&in, (size_t)st.st_size) != 0)
            rc = mdf_seterr(err, errsz, "out of memory");
        while (rc == MDF_OK && n > 0) {
            rc = append_sink(&in, block, n, err, errsz);
            n = fread(block, 1, sizeof block, fp);
        }
        if (rc == MDF_OK && ferror(fp))
            rc = mdf_seterr(err, errsz, "read error");
    }
    fclose(fp);
    if (rc == MDF_OK)
        rc = parse_buf(&in, lim, out, err, errsz);
    mdf_buf_free(&in);
    if (rc != MDF_OK && err && strncmp(err, path, strlen(path)) != 0) {
        /* name the file in the message */
        char tmp[MDF_ERRSZ];
        mdf_strlcpy(tmp, err, sizeof tmp);
        mdf_seterr(err, errsz, "%s: %s", path, tmp);
    }
    return rc;
}

bool mdf_threat_remediated(const mdf_threat *t)
{
    static const char *const done[] = {"quarantined", "removed", "cleaned", "remediated"};
    if (!t->status)
        return false;
    for (size_t i = 0; i < sizeof done / sizeof *done; i++) {
        if (strcmp(t->status, done[i]) == 0)
            return true;
    }
    return false;
}
