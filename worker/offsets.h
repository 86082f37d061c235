/* In-order offset storing per partition: a message's offset may only be
 * stored (and so committed) once it and every earlier message of its
 * partition are finished, even when they finish out of order. */
#ifndef MDF_OFFSETS_H
#define MDF_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct mdf_offsets mdf_offsets; /* one partition */

mdf_offsets *mdf_offsets_new(void);
void mdf_offsets_free(mdf_offsets *o);
/* A message is being worked on (offsets arrive in increasing order). */
int mdf_offsets_begin(mdf_offsets *o, int64_t offset);
/* It is finished. Returns the offset to store now (the next one to
 * consume), or -1 when nothing new can be stored yet. */
int64_t mdf_offsets_done(mdf_offsets *o, int64_t offset);
size_t mdf_offsets_in_flight(const mdf_offsets *o);
/* The last offset mdf_offsets_done returned (or the first begun); -1:
 * none. */
int64_t mdf_offsets_stored(const mdf_offsets *o);
/* Forget everything (the partition was revoked). */
void mdf_offsets_reset(mdf_offsets *o);

#endif
