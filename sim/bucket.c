#include "bucket.h"

#include <math.h>

void sim_bucket_init(sim_bucket *b, double burst, double per_second, int64_t now_ms)
{
    b->tokens = burst;
    b->burst = burst;
    b->per_second = per_second;
    b->last_ms = now_ms;
}

static void refill(sim_bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->per_second / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
}

bool sim_bucket_take(sim_bucket *b, int64_t now_ms, int64_t *remaining, int64_t *wait_ms)
{
    refill(b, now_ms);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        *remaining = (int64_t)floor(b->tokens);
        *wait_ms = 0;
        return true;
    }
    *remaining = 0;
    /* at least 1 ms: a zero wait would invite a busy retry loop */
    double ms = ceil((1.0 - b->tokens) * 1000.0 / b->per_second);
    *wait_ms = ms < 1 ? 1 : (int64_t)ms;
    return false;
}

int64_t sim_bucket_remaining(sim_bucket *b, int64_t now_ms)
{
    refill(b, now_ms);
    return (int64_t)floor(b->tokens);
}
