/* Reading the result archive of a Nexus data extract (a .tar.gz) without
 * writing anything to disk: the entry whose name ends in a given file name
 * is streamed, in chunks, to a caller's sink. */
#ifndef MDF_TARBALL_H
#define MDF_TARBALL_H

#include <stddef.h>

#define MDF_TARBALL_MAX_ENTRIES 1024 /* entries looked at before giving up */
/* Bytes of the entries before the one wanted, which gzip makes us inflate
 * to skip: with the entry's own cap, the whole inflated budget (a bomb's
 * first entry may inflate to many GiB from a few MB) */
#define MDF_TARBALL_MAX_SKIPPED (64u << 20)

/* Receives the entry's bytes; returns MDF_OK or MDF_ERR (stops the read). */
typedef int (*mdf_extract_sink)(void *ctx, const char *data, size_t len, char *err, size_t errsz);

/* Finds the first regular file whose base name is `name` in the gzip'd tar
 * at data[0..len) (or at `path`), refuses it if larger than max_entry bytes,
 * and streams it to sink. Refuses an archive whose entries before it are
 * more than MDF_TARBALL_MAX_SKIPPED bytes, or number more than
 * MDF_TARBALL_MAX_ENTRIES, before inflating them. */
int mdf_extract_read_mem(const void *data, size_t len, const char *name, size_t max_entry,
                         mdf_extract_sink sink, void *ctx, char *err, size_t errsz);
int mdf_extract_read_file(const char *path, const char *name, size_t max_entry,
                          mdf_extract_sink sink, void *ctx, char *err, size_t errsz);

/* True when the bytes start like a gzip stream. */
int mdf_is_gzip(const void *data, size_t len);

#endif
