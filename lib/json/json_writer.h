/* A small streaming JSON writer. It appends to a bounded mdf_buf and, when
 * given a FILE, flushes to it as it goes, so that writing a large document
 * costs a fixed amount of memory. Errors (cap reached, I/O) are sticky and
 * reported once by mdf_jsonw_finish(). */
#ifndef MDF_JSON_WRITER_H
#define MDF_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

#define MDF_JSONW_MAXDEPTH 32

typedef struct mdf_jsonw {
    mdf_buf *out; /* borrowed */
    FILE *fp;     /* borrowed; NULL: keep everything in out */
    int depth;
    bool first[MDF_JSONW_MAXDEPTH];
    bool after_key;
    bool failed;
    /* mdf_jsonw_ktime writes epoch ms numbers, not RFC 3339 text: the
     * Kafka records use OCSF's one time style, files for people the text. */
    bool epoch_ms;
} mdf_jsonw;

void mdf_jsonw_init(mdf_jsonw *w, mdf_buf *out, FILE *fp);
/* Flushes to fp (if any); returns 0, or -1 if anything failed on the way. */
int mdf_jsonw_finish(mdf_jsonw *w);

void mdf_jsonw_obj_begin(mdf_jsonw *w);
void mdf_jsonw_obj_end(mdf_jsonw *w);
void mdf_jsonw_arr_begin(mdf_jsonw *w);
void mdf_jsonw_arr_end(mdf_jsonw *w);
void mdf_jsonw_key(mdf_jsonw *w, const char *key);

/* Values; a NULL string is written as null. */
void mdf_jsonw_str(mdf_jsonw *w, const char *s);
void mdf_jsonw_strn(mdf_jsonw *w, const char *s, size_t len);
void mdf_jsonw_int(mdf_jsonw *w, int64_t v);
void mdf_jsonw_bool(mdf_jsonw *w, bool v);
void mdf_jsonw_null(mdf_jsonw *w);
/* Inserts already-serialized JSON text as one value. */
void mdf_jsonw_raw(mdf_jsonw *w, const char *json, size_t len);

/* key + value shorthands */
void mdf_jsonw_kstr(mdf_jsonw *w, const char *key, const char *s);
void mdf_jsonw_kint(mdf_jsonw *w, const char *key, int64_t v);
void mdf_jsonw_kbool(mdf_jsonw *w, const char *key, bool v);
void mdf_jsonw_knull(mdf_jsonw *w, const char *key);
/* Epoch ms as RFC 3339 text (clock.h), or as the number with epoch_ms;
 * null when MDF_TIME_NONE or out of range. */
void mdf_jsonw_ktime(mdf_jsonw *w, const char *key, int64_t ms);

#endif
