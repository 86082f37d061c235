#include "token_bucket.h"

#include <math.h>

void mdf_tb_init(mdf_token_bucket *b, double burst, double per_second, int64_t now_ms)
{
    b->tokens = burst;
    b->burst = burst;
    b->per_second = per_second;
    b->last_ms = now_ms;
}

static void refill(mdf_token_bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->per_second / 1000.0;
        b->last_ms = now_ms;
    }
    /* also when burst was lowered since the last refill */
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

int64_t mdf_tb_wait(mdf_token_bucket *b, int64_t now_ms)
{
    if (now_ms < b->last_ms)
        return b->last_ms - now_ms;
    refill(b, now_ms);
    if (b->tokens >= 1.0)
        return 0;
    /* at least 1 ms: a zero wait would invite a busy retry loop */
    double ms = ceil((1.0 - b->tokens) * 1000.0 / b->per_second);
    return ms < 1 ? 1 : (int64_t)ms;
}

int64_t mdf_tb_take(mdf_token_bucket *b, int64_t now_ms)
{
    int64_t wait = mdf_tb_wait(b, now_ms);
    if (wait == 0)
        b->tokens -= 1.0;
    return wait;
}

int64_t mdf_tb_remaining(mdf_token_bucket *b, int64_t now_ms)
{
    refill(b, now_ms);
    return (int64_t)floor(b->tokens);
}
