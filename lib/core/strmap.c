#include "strmap.h"

#include <stdlib.h>
#include <string.h>

struct mdf_strmap_slot {
    const char *key; /* NULL: empty */
    size_t len;
    uint64_t hash;
    size_t value;
};

void mdf_strmap_init(mdf_strmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}

void mdf_strmap_free(mdf_strmap *m)
{
    free(m->slots);
    mdf_strmap_init(m);
}

/* FNV-1a, 64-bit: short keys, no adversary worth a keyed hash here
 * (the table only grows with the input, which is size-capped). */
uint64_t mdf_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static struct mdf_strmap_slot *strmap_find(const mdf_strmap *m, const char *key, size_t len,
                                           uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct mdf_strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

int mdf_strmap_get(const mdf_strmap *m, const char *key, size_t len, size_t *value)
{
    if (m->count == 0)
        return 0;
    struct mdf_strmap_slot *s = strmap_find(m, key, len, mdf_hash_bytes(key, len));
    if (!s->key)
        return 0;
    *value = s->value;
    return 1;
}

static int strmap_grow(mdf_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct mdf_strmap_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return -1;
    }
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key)
            *strmap_find(m, old[i].key, old[i].len, old[i].hash) = old[i];
    }
    free(old);
    return 0;
}

int mdf_strmap_put(mdf_strmap *m, const char *key, size_t len, size_t value)
{
    /* keep the load factor under 1/2 so probes stay short */
    if ((m->count + 1) * 2 > m->cap && strmap_grow(m) != 0)
        return -1;
    uint64_t h = mdf_hash_bytes(key, len);
    struct mdf_strmap_slot *s = strmap_find(m, key, len, h);
    if (!s->key) {
        s->key = key;
        s->len = len;
        s->hash = h;
        m->count++;
    }
    s->value = value;
    return 0;
}
