/* A token bucket, the way Azure Resource Manager meters requests: it holds
 * up to `burst` tokens, refills at `per_second`, and each request takes
 * one. The ARM client paces itself with one; the simulator throttles with
 * one. */
#ifndef MDF_TOKEN_BUCKET_H
#define MDF_TOKEN_BUCKET_H

#include <stdint.h>

typedef struct mdf_token_bucket {
    double tokens;
    double burst;
    double per_second;
    int64_t last_ms; /* time of the last refill; asked earlier, it waits for it */
} mdf_token_bucket;

void mdf_tb_init(mdf_token_bucket *b, double burst, double per_second, int64_t now_ms);

/* Takes one token: 0, or (nothing taken) the milliseconds until one is
 * there, at least 1. */
int64_t mdf_tb_take(mdf_token_bucket *b, int64_t now_ms);

/* 0 when a token is there now, else the ms until one is (at least 1);
 * takes none. */
int64_t mdf_tb_wait(mdf_token_bucket *b, int64_t now_ms);

/* Whole tokens available now, taking none. */
int64_t mdf_tb_remaining(mdf_token_bucket *b, int64_t now_ms);

#endif
