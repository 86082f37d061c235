/* An open-addressing hash index from byte-string keys to size_t values.
 * Keys are borrowed: they must outlive the map (the report parser keeps
 * them in its arena). Used for de-duplication and string interning.
 * Keys are hashed with mdf_hash_keyed: crafted keys cannot flood it. */
#ifndef MDF_STRMAP_H
#define MDF_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct mdf_strmap {
    struct mdf_strmap_slot *slots; /* owned */
    size_t cap;                    /* power of two */
    size_t count;
    size_t max_probe; /* the longest insert so far, in slots: a flood shows here */
} mdf_strmap;

void mdf_strmap_init(mdf_strmap *m);
void mdf_strmap_free(mdf_strmap *m);
/* FNV-1a: fast and the same in every process (an ETag, a request's
 * fingerprint). Not for keys an adversary picks: crafted keys collide. */
uint64_t mdf_hash_bytes(const void *data, size_t len);
/* SipHash-2-4 (Aumasson and Bernstein) of data under the 16-byte key. */
uint64_t mdf_siphash24(const uint8_t key[16], const void *data, size_t len);
/* SipHash-2-4 under a random key drawn once per process: for tables whose
 * keys come from outside (a report's ids and times), so that no input can
 * be crafted to pile its keys into one slot. The map uses it. */
uint64_t mdf_hash_keyed(const void *data, size_t len);
/* Returns 1 and sets *value when found, 0 when not. */
int mdf_strmap_get(const mdf_strmap *m, const char *key, size_t len, size_t *value);
/* Inserts or replaces. Returns 0, or -1 when out of memory. */
int mdf_strmap_put(mdf_strmap *m, const char *key, size_t len, size_t value);
/* Removes key; 1 when it was there. The map forgets the key's pointer, so
 * the key's memory may be freed after. */
int mdf_strmap_del(mdf_strmap *m, const char *key, size_t len);

#endif
