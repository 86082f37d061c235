#include "tarball.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

#define READ_BLOCK 65536

int mdf_is_gzip(const void *data, size_t len)
{
    const unsigned char *p = data;
    return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

static const char *aerr(struct archive *a)
{
    const char *e = archive_error_string(a);
    return e ? e : "unknown error";
}

static int base_name_is(const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    return strcmp(slash ? slash + 1 : path, name) == 0;
}

/* Walks the opened archive `a` to the entry and streams it. */
static int extract_stream(struct archive *a, const char *name, size_t max_entry,
                          mdf_extract_sink sink, void *ctx, char *err, size_t errsz)
{
    struct archive_entry *entry;
    uint64_t skipped = 0; /* declared bytes of the entries passed over */
    for (int seen = 0; seen < MDF_TARBALL_MAX_ENTRIES; seen++) {
        int r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF)
            return mdf_seterr(err, errsz, "archive has no %s", name);
        if (r < ARCHIVE_WARN)
            return mdf_seterr(err, errsz, "unreadable archive: %s", aerr(a));
        const char *path = archive_entry_pathname(entry);
        if (!path || archive_entry_filetype(entry) != AE_IFREG || !base_name_is(path, name)) {
            /* the next header inflates this entry's data to skip it: what
             * the header declares, which is what the skip reads */
            la_int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
            skipped += size > 0 ? (uint64_t)size : 0;
            if (skipped > MDF_TARBALL_MAX_SKIPPED)
                return mdf_seterr(err, errsz,
                                  "archive has more than %u MiB before %s (entry %.200s, %lld "
                                  "bytes): not inflated",
                                  MDF_TARBALL_MAX_SKIPPED >> 20, name, path ? path : "?",
                                  (long long)size);
            continue;
        }
        la_int64_t declared = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
        if (declared > (la_int64_t)max_entry)
            return mdf_seterr(err, errsz, "%s in archive is larger than the %zu-byte cap", name,
                              max_entry);
        size_t total = 0;
        char block[READ_BLOCK];
        for (;;) {
            la_ssize_t n = archive_read_data(a, block, sizeof block);
            if (n < 0)
                return mdf_seterr(err, errsz, "unreadable archive: %s", aerr(a));
            /* a sparse map can yield fewer bytes than the header says: the
             * entry is damaged, and its size no longer what the cap saw */
            if (n == 0 && declared >= 0 && total != (size_t)declared)
                return mdf_seterr(err, errsz, "%s in archive holds %zu of its %lld bytes", name,
                                  total, (long long)declared);
            if (n == 0)
                return MDF_OK;
            /* the header's size may lie; count what really comes out */
            total += (size_t)n;
            if (total > max_entry)
                return mdf_seterr(err, errsz, "%s in archive is larger than the %zu-byte cap", name,
                                  max_entry);
            if (sink(ctx, block, (size_t)n, err, errsz) != MDF_OK)
                return MDF_ERR;
        }
    }
    return mdf_seterr(err, errsz, "archive has more than %d entries before %s",
                      MDF_TARBALL_MAX_ENTRIES, name);
}

static struct archive *extract_new(void)
{
    struct archive *a = archive_read_new();
    if (a) {
        archive_read_support_filter_gzip(a);
        archive_read_support_format_tar(a);
    }
    return a;
}

int mdf_extract_read_mem(const void *data, size_t len, const char *name, size_t max_entry,
                         mdf_extract_sink sink, void *ctx, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    struct archive *a = extract_new();
    if (!a)
        return mdf_seterr(err, errsz, "out of memory");
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        mdf_seterr(err, errsz, "unreadable archive: %s", aerr(a));
        goto cleanup;
    }
    rc = extract_stream(a, name, max_entry, sink, ctx, err, errsz);
cleanup:
    archive_read_free(a);
    return rc;
}

int mdf_extract_read_file(const char *path, const char *name, size_t max_entry,
                          mdf_extract_sink sink, void *ctx, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    struct archive *a = extract_new();
    if (!a)
        return mdf_seterr(err, errsz, "out of memory");
    if (archive_read_open_filename(a, path, READ_BLOCK) != ARCHIVE_OK) {
        mdf_seterr(err, errsz, "%s: %s", path, aerr(a));
        goto cleanup;
    }
    rc = extract_stream(a, name, max_entry, sink, ctx, err, errsz);
cleanup:
    archive_read_free(a);
    return rc;
}
