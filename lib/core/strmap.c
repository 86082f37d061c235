#include "strmap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "random.h"

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
    m->max_probe = 0;
}

void mdf_strmap_free(mdf_strmap *m)
{
    free(m->slots);
    mdf_strmap_init(m);
}

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

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13) ^ v0;                                                                    \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16) ^ v2;                                                                    \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21) ^ v0;                                                                    \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17) ^ v2;                                                                    \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

uint64_t mdf_siphash24(const uint8_t key[16], const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL,
             v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = le64(p + i);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    /* the last 0..7 bytes, with the length's low byte on top */
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)p[whole + i] << (8 * i);
    v3 ^= b;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint8_t process_key[16];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_init(void)
{
    /* without randomness, a key from the clock and addresses: weaker, but
     * still no fixed key a crafted input could target */
    if (mdf_random_bytes(process_key, sizeof process_key) != 0) {
        uint64_t a = (uint64_t)mdf_mono_ms() ^ (uint64_t)(uintptr_t)&a;
        uint64_t b = (uint64_t)mdf_time_now_ms() ^ (uint64_t)(uintptr_t)process_key;
        memcpy(process_key, &a, 8);
        memcpy(process_key + 8, &b, 8);
    }
}

uint64_t mdf_hash_keyed(const void *data, size_t len)
{
    pthread_once(&key_once, key_init);
    return mdf_siphash24(process_key, data, len);
}

/* The key's slot, or the empty one where it would go; *probes: slots looked at. */
static struct mdf_strmap_slot *strmap_find(const mdf_strmap *m, const char *key, size_t len,
                                           uint64_t h, size_t *probes)
{
    size_t mask = m->cap - 1;
    *probes = 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask, ++*probes) {
        struct mdf_strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

int mdf_strmap_get(const mdf_strmap *m, const char *key, size_t len, size_t *value)
{
    if (m->count == 0)
        return 0;
    size_t probes;
    struct mdf_strmap_slot *s = strmap_find(m, key, len, mdf_hash_keyed(key, len), &probes);
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
    size_t probes;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key)
            *strmap_find(m, old[i].key, old[i].len, old[i].hash, &probes) = old[i];
    }
    free(old);
    return 0;
}

int mdf_strmap_put(mdf_strmap *m, const char *key, size_t len, size_t value)
{
    /* keep the load factor under 1/2 so probes stay short */
    if ((m->count + 1) * 2 > m->cap && strmap_grow(m) != 0)
        return -1;
    uint64_t h = mdf_hash_keyed(key, len);
    size_t probes;
    struct mdf_strmap_slot *s = strmap_find(m, key, len, h, &probes);
    if (probes > m->max_probe)
        m->max_probe = probes;
    if (!s->key) {
        s->key = key;
        s->len = len;
        s->hash = h;
        m->count++;
    }
    s->value = value;
    return 0;
}

int mdf_strmap_del(mdf_strmap *m, const char *key, size_t len)
{
    if (m->count == 0)
        return 0;
    size_t probes, mask = m->cap - 1;
    struct mdf_strmap_slot *s = strmap_find(m, key, len, mdf_hash_keyed(key, len), &probes);
    if (!s->key)
        return 0;
    /* backward shift: each later key of the run moves into the hole unless
     * its home slot lies after the hole (linear probing needs no tombstones) */
    size_t hole = (size_t)(s - m->slots);
    s->key = NULL;
    for (size_t j = (hole + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = (size_t)m->slots[j].hash & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            m->slots[hole] = m->slots[j];
            m->slots[j].key = NULL;
            hole = j;
        }
    }
    m->count--;
    return 1;
}
