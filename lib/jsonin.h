/* Streaming JSON input with caps: feed chunks as they arrive (from a file,
 * a decompressor or a download) and get one json-c tree, or an error that
 * says where the input stopped being JSON. Input over max_bytes and nesting
 * deeper than max_depth are refused. Holds no copy of the input. */
#ifndef MDF_JSONIN_H
#define MDF_JSONIN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mdf_jsonin {
    json_tokener *tok;   /* owned */
    json_object *root;   /* owned until taken by mdf_jsonin_finish */
    size_t total;        /* bytes fed so far */
    size_t max_bytes;
    int max_depth;
    int64_t line;        /* 1-based line of the next byte */
    size_t line_start;   /* offset of that line's first byte */
} mdf_jsonin;

int mdf_jsonin_init(mdf_jsonin *in, size_t max_bytes, int max_depth, char *err, size_t errsz);
/* Feeds the next chunk. Returns MDF_OK or MDF_ERR with the position. */
int mdf_jsonin_feed(mdf_jsonin *in, const char *data, size_t len, char *err, size_t errsz);
/* Ends the input; *out receives the document (caller owns: json_object_put). */
int mdf_jsonin_finish(mdf_jsonin *in, json_object **out, char *err, size_t errsz);
void mdf_jsonin_cleanup(mdf_jsonin *in);

/* One-shot parse of a complete buffer with the same caps. */
int mdf_json_parse(const char *data, size_t len, size_t max_bytes, int max_depth,
                   json_object **out, char *err, size_t errsz);

#endif
