/* An open-addressing hash index from byte-string keys to size_t values.
 * Keys are borrowed: they must outlive the map (the report parser keeps
 * them in its arena). Used for de-duplication and string interning. */
#ifndef MDF_STRMAP_H
#define MDF_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct mdf_strmap {
    struct mdf_strmap_slot *slots; /* owned */
    size_t cap;                    /* power of two */
    size_t count;
} mdf_strmap;

void mdf_strmap_init(mdf_strmap *m);
void mdf_strmap_free(mdf_strmap *m);
uint64_t mdf_hash_bytes(const void *data, size_t len);
/* Returns 1 and sets *value when found, 0 when not. */
int mdf_strmap_get(const mdf_strmap *m, const char *key, size_t len, size_t *value);
/* Inserts or replaces. Returns 0, or -1 when out of memory. */
int mdf_strmap_put(mdf_strmap *m, const char *key, size_t len, size_t value);

#endif
