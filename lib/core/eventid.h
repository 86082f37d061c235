/* Deterministic event ids: UUIDv5 (SHA-1, RFC 4122) in mdefleet's own
 * namespace over the natural key of an event, so that a record produced
 * twice (a task redone after a worker died) carries the same id and
 * consumers can drop the copy. */
#ifndef MDF_EVENTID_H
#define MDF_EVENTID_H

#include <stddef.h>

#include "random.h" /* MDF_UUID_STRSZ */

/* The key's parts are joined with a separator that cannot occur in them
 * (0x1f), so ("a","bc") and ("ab","c") differ. parts is NULL-terminated. */
void mdf_event_id(const char *const *parts, char out[MDF_UUID_STRSZ]);
/* Shorthand for up to 6 parts. */
void mdf_event_id_of(char out[MDF_UUID_STRSZ], const char *a, const char *b, const char *c,
                     const char *d, const char *e, const char *f);
/* A name-based (v5) UUID of name[0..len) in the namespace ns (16 bytes):
 * the same name always gives the same id. */
void mdf_uuid_named(const unsigned char ns[16], const char *name, size_t len,
                    char out[MDF_UUID_STRSZ]);

#endif
