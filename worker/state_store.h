/* The worker's copy of the findings state of the nodes it owns: per
 * partition of node.tasks, the last findings.state value of each key
 * (finding_state.h has what a value holds). The loop fills a partition
 * from the topic when it is assigned, and drops it when it goes; the
 * executor reads a node's value and puts the new one as it sends it.
 *
 * Capped in bytes: past the cap a value is not kept, and its node is new
 * again next time (copies, never losses). */
#ifndef MDF_WORKER_STATE_STORE_H
#define MDF_WORKER_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mdf_state_store mdf_state_store;

/* NULL when out of memory. */
mdf_state_store *mdf_state_store_new(size_t max_bytes);
void mdf_state_store_free(mdf_state_store *s);

/* Partition p's values: none until it is made ready. */
void mdf_state_store_drop(mdf_state_store *s, int32_t p);
bool mdf_state_store_ready(const mdf_state_store *s, int32_t p);
/* p is known (restored, or found empty): gets and puts may follow. */
int mdf_state_store_set_ready(mdf_state_store *s, int32_t p);

/* key's value in p, borrowed until the next put of that partition; NULL
 * when none. */
const char *mdf_state_store_get(const mdf_state_store *s, int32_t p, const char *key,
                                size_t key_len, size_t *len);
/* Keeps a copy of value as key's (value NULL: a tombstone, forgets key).
 * MDF_ERR (and err) past the cap or out of memory: key is then forgotten. */
int mdf_state_store_put(mdf_state_store *s, int32_t p, const char *key, size_t key_len,
                        const void *value, size_t len, char *err, size_t errsz);

/* Bytes held (keys and values), and values held. */
size_t mdf_state_store_bytes(const mdf_state_store *s);
size_t mdf_state_store_count(const mdf_state_store *s);

#endif
