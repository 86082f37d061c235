/* Token buckets, the way Azure Resource Manager meters requests: a bucket
 * holds up to `burst` tokens, refills at `per_second` in real time (never
 * scaled by the scenario's time_scale, so throttling tests behave like
 * Azure), and each request takes one. */
#ifndef SIM_BUCKET_H
#define SIM_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sim_bucket {
    double tokens;
    double burst;
    double per_second;
    int64_t last_ms; /* monotonic time of the last refill */
} sim_bucket;

void sim_bucket_init(sim_bucket *b, double burst, double per_second, int64_t now_ms);

/* Takes one token. Returns true with *remaining the whole tokens left, or
 * false (nothing taken) with *wait_ms the time until a token is there. */
bool sim_bucket_take(sim_bucket *b, int64_t now_ms, int64_t *remaining, int64_t *wait_ms);

/* Whole tokens available now, taking none. */
int64_t sim_bucket_remaining(sim_bucket *b, int64_t now_ms);

#endif
