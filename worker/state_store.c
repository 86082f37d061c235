/* The findings state of the partitions a worker owns (state_store.h). */
#include "state_store.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "strmap.h"
#include "vec.h"

#define MAX_PARTITIONS 100000
#define MAX_ENTRIES (16u << 20) /* per partition, far past any cluster */

typedef struct entry {
    char *key; /* owned; the map borrows it */
    size_t key_len;
    char *value; /* owned; NULL: forgotten */
    size_t len;
} entry;

typedef struct part {
    int32_t p;
    mdf_strmap index; /* key -> entries[i] */
    mdf_vec entries;  /* entry */
} part;

struct mdf_state_store {
    mdf_vec parts; /* part * */
    size_t max_bytes, bytes, count;
};

mdf_state_store *mdf_state_store_new(size_t max_bytes)
{
    mdf_state_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    mdf_vec_init(&s->parts, sizeof(part *), MAX_PARTITIONS);
    s->max_bytes = max_bytes;
    return s;
}

static size_t find_part(const mdf_state_store *s, int32_t p)
{
    for (size_t i = 0; i < s->parts.len; i++) {
        if (MDF_VEC_AT(&s->parts, part *, i)->p == p)
            return i;
    }
    return SIZE_MAX;
}

static part *part_of(const mdf_state_store *s, int32_t p)
{
    size_t i = find_part(s, p);
    return i == SIZE_MAX ? NULL : MDF_VEC_AT(&s->parts, part *, i);
}

static void part_free(mdf_state_store *s, part *pt)
{
    for (size_t i = 0; i < pt->entries.len; i++) {
        entry *e = &MDF_VEC_AT(&pt->entries, entry, i);
        s->bytes -= e->key_len + (e->value ? e->len : 0);
        s->count -= e->value != NULL;
        free(e->key);
        free(e->value);
    }
    mdf_vec_free(&pt->entries);
    mdf_strmap_free(&pt->index);
    free(pt);
}

void mdf_state_store_drop(mdf_state_store *s, int32_t p)
{
    size_t i = find_part(s, p);
    if (i == SIZE_MAX)
        return;
    part_free(s, MDF_VEC_AT(&s->parts, part *, i));
    mdf_vec_remove(&s->parts, i);
}

void mdf_state_store_free(mdf_state_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->parts.len; i++)
        part_free(s, MDF_VEC_AT(&s->parts, part *, i));
    mdf_vec_free(&s->parts);
    free(s);
}

bool mdf_state_store_ready(const mdf_state_store *s, int32_t p)
{
    return part_of(s, p) != NULL;
}

int mdf_state_store_set_ready(mdf_state_store *s, int32_t p)
{
    if (part_of(s, p))
        return MDF_OK;
    part *pt = calloc(1, sizeof *pt);
    if (!pt || mdf_vec_push(&s->parts, &pt) != 0) {
        free(pt);
        return MDF_ERR;
    }
    pt->p = p;
    mdf_strmap_init(&pt->index);
    mdf_vec_init(&pt->entries, sizeof(entry), MAX_ENTRIES);
    return MDF_OK;
}

static entry *entry_of(const part *pt, const char *key, size_t key_len)
{
    size_t i;
    if (!mdf_strmap_get(&pt->index, key, key_len, &i))
        return NULL;
    return &MDF_VEC_AT(&pt->entries, entry, i);
}

const char *mdf_state_store_get(const mdf_state_store *s, int32_t p, const char *key,
                                size_t key_len, size_t *len)
{
    const part *pt = part_of(s, p);
    const entry *e = pt ? entry_of(pt, key, key_len) : NULL;
    if (!e || !e->value)
        return NULL;
    *len = e->len;
    return e->value;
}

/* Forgets e's value. */
static void forget(mdf_state_store *s, entry *e)
{
    if (!e->value)
        return;
    s->bytes -= e->len;
    s->count--;
    free(e->value);
    e->value = NULL;
    e->len = 0;
}

int mdf_state_store_put(mdf_state_store *s, int32_t p, const char *key, size_t key_len,
                        const void *value, size_t len, char *err, size_t errsz)
{
    part *pt = part_of(s, p);
    if (!pt)
        return mdf_seterr(err, errsz, "partition %d is not ready", (int)p);
    entry *e = entry_of(pt, key, key_len);
    if (e)
        forget(s, e);
    if (!value)
        return MDF_OK;
    size_t need = len + (e ? 0 : key_len);
    if (s->bytes + need > s->max_bytes)
        return mdf_seterr(err, errsz, "findings state over its cap of %zu bytes (state.max_bytes)",
                          s->max_bytes);
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return mdf_seterr(err, errsz, "out of memory");
    memcpy(copy, value, len);
    if (!e) {
        char *k = malloc(key_len ? key_len : 1);
        if (k)
            memcpy(k, key, key_len);
        e = k ? mdf_vec_add(&pt->entries) : NULL;
        if (!e || mdf_strmap_put(&pt->index, k, key_len, pt->entries.len - 1) != 0) {
            if (e)
                pt->entries.len--;
            free(k);
            free(copy);
            return mdf_seterr(err, errsz, "out of memory");
        }
        *e = (entry){.key = k, .key_len = key_len};
        s->bytes += key_len;
    }
    e->value = copy;
    e->len = len;
    s->bytes += len;
    s->count++;
    return MDF_OK;
}

size_t mdf_state_store_bytes(const mdf_state_store *s)
{
    return s->bytes;
}

size_t mdf_state_store_count(const mdf_state_store *s)
{
    return s->count;
}
