/* The extract's archive reader (tarball.h) on any bytes: it fails with a
 * message or streams the entry, and the size cap is exact: the bytes read
 * under a cap of 1 MiB are read again under a cap of their own size, and
 * refused under one byte less.
 *
 * libFuzzer's mutations of gzip bytes mostly break the stream, so a custom
 * mutator (below) mutates the tar inside and compresses it again, fixing
 * the tar headers' checksums on the way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "buf.h"
#include "err.h"
#include "fuzz_util.h"
#include "report.h"
#include "tarball.h"

#define MAX_ENTRY (1u << 20)
#define RAW_MAX (4u << 20) /* a tar the mutator works on */
#define TAR_BLOCK 512

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static int sink(void *ctx, const char *data, size_t len, char *err, size_t errsz)
{
    FUZZ_CHECK(len > 0);
    if (mdf_buf_append(ctx, data, len) != 0)
        return mdf_seterr(err, errsz, "sink full");
    return MDF_OK;
}

/* The entry under a cap of max; MDF_OK or MDF_ERR, bytes in *got. */
static int read_entry(const uint8_t *data, size_t size, size_t max, mdf_buf *got)
{
    char err[MDF_ERRSZ] = "";
    mdf_buf_init(got, MAX_ENTRY);
    int rc =
        mdf_extract_read_mem(data, size, MDF_REPORT_ENTRY_NAME, max, sink, got, err, sizeof err);
    FUZZ_CHECK(rc == MDF_OK || err[0] != '\0');
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdf_buf first, again;
    if (read_entry(data, size, MAX_ENTRY, &first) == MDF_OK) {
        FUZZ_CHECK(first.len <= MAX_ENTRY);
        FUZZ_CHECK(read_entry(data, size, first.len, &again) == MDF_OK);
        FUZZ_CHECK(again.len == first.len &&
                   (first.len == 0 || memcmp(again.data, first.data, first.len) == 0));
        mdf_buf_free(&again);
        if (first.len > 0) {
            FUZZ_CHECK(read_entry(data, size, first.len - 1, &again) == MDF_ERR);
            mdf_buf_free(&again);
        }
    }
    mdf_buf_free(&first);
    return 0;
}

/* ---- the mutator ---------------------------------------------------------- */

/* Gzip (pack) or gunzip in[0..n) into out; the bytes written, 0 on error. */
static size_t gz(bool pack, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    int r =
        pack ? deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
             : inflateInit2(&z, 15 + 16);
    if (r != Z_OK)
        return 0;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    r = pack ? deflate(&z, Z_FINISH) : inflate(&z, Z_FINISH);
    size_t got = r == Z_STREAM_END ? z.total_out : 0;
    if (pack)
        deflateEnd(&z);
    else
        inflateEnd(&z);
    return got;
}

/* An octal header field, as tar writes sizes. */
static size_t octal(const uint8_t *p, size_t n)
{
    size_t v = 0;
    for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
        v = v * 8 + (size_t)(p[i] - '0');
    return v;
}

/* Rewrites the checksum of every header the chain of sizes reaches, so that
 * a mutated header is read rather than refused for its checksum. */
static void fix_checksums(uint8_t *tar, size_t len)
{
    for (size_t off = 0; off + TAR_BLOCK <= len;) {
        uint8_t *h = tar + off;
        unsigned sum = 0;
        for (size_t i = 0; i < TAR_BLOCK; i++)
            sum += i >= 148 && i < 156 ? ' ' : h[i];
        if (sum == 8 * ' ')
            break; /* an empty block: the end */
        char field[8];
        snprintf(field, sizeof field, "%06o", sum & 0777777);
        memcpy(h + 148, field, 7); /* six digits and the NUL */
        h[155] = ' ';
        size_t size = octal(h + 124, 12);
        if (size > len)
            break;
        off += TAR_BLOCK + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    static uint8_t raw[RAW_MAX];
    static uint8_t packed[RAW_MAX];
    /* one time in eight the gzip layer itself is mutated */
    if (seed % 8 == 0 || !mdf_is_gzip(data, size))
        return LLVMFuzzerMutate(data, size, max_size);
    size_t n = gz(false, data, size, raw, sizeof raw);
    if (n == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    /* room to grow, not to fill 4 MiB with noise that no longer compresses */
    n = LLVMFuzzerMutate(raw, n, n + 65536 < sizeof raw ? n + 65536 : sizeof raw);
    fix_checksums(raw, n);
    size_t m = gz(true, raw, n, packed, sizeof packed);
    if (m == 0 || m > max_size)
        return LLVMFuzzerMutate(data, size, max_size);
    memcpy(data, packed, m);
    return m;
}
