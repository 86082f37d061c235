#include "budget.h"

static bool disabled(const mdf_budget *b)
{
    return b->top_rate <= 0 || b->top_burst <= 0;
}

void mdf_budget_init(mdf_budget *b, double burst, double per_second, double share, int64_t now_ms)
{
    if (share <= 0 || share > 1)
        share = 1;
    *b = (mdf_budget){.remaining = -1, .last_cut = now_ms, .last_raise = now_ms};
    if (burst <= 0 || per_second <= 0)
        return; /* no client-side budget */
    b->top_rate = per_second * share;
    b->top_burst = burst * share < 1 ? 1 : burst * share;
    b->rate = b->top_rate;
    b->floor = burst * (1 - share) + MDF_BUDGET_FLOOR * burst * share;
    /* the first cut may come at once: no grace after start */
    b->last_cut = now_ms - MDF_BUDGET_CUT_MS;
    mdf_tb_init(&b->tb, b->top_burst, b->top_rate, now_ms);
    mdf_tb_init(&b->window, b->top_burst, b->top_rate, now_ms);
}

/* The bucket brought up to now at the old pace, then given the new one. */
static void set_rate(mdf_budget *b, int64_t now_ms, double rate)
{
    double lo = b->top_rate * MDF_BUDGET_MIN_RATE;
    if (rate < lo)
        rate = lo;
    if (rate > b->top_rate)
        rate = b->top_rate;
    mdf_tb_remaining(&b->tb, now_ms);
    mdf_tb_remaining(&b->window, now_ms);
    b->rate = rate;
    b->tb.per_second = rate;
    b->window.per_second = rate;
}

static void cut(mdf_budget *b, int64_t now_ms, double factor)
{
    if (now_ms - b->last_cut < MDF_BUDGET_CUT_MS)
        return; /* the same overshoot, already answered */
    set_rate(b, now_ms, b->rate * factor);
    b->last_cut = now_ms;
    b->last_raise = now_ms;
    b->cuts++;
}

static void raise_rate(mdf_budget *b, int64_t now_ms)
{
    int64_t dt = now_ms - b->last_raise;
    if (dt <= 0)
        return;
    if (dt > 1000)
        dt = 1000; /* after a quiet spell: one second's worth, not a jump */
    b->last_raise = now_ms;
    set_rate(b, now_ms, b->rate + MDF_BUDGET_RAISE * b->top_rate * (double)dt / 1000.0);
}

int64_t mdf_budget_wait(mdf_budget *b, int64_t now_ms)
{
    /* a server's Retry-After holds even without a client-side budget */
    if (now_ms < b->hold_until)
        return b->hold_until - now_ms;
    if (disabled(b))
        return 0;
    /* before the server's first figure, one request at a time: workers
     * starting together would each spend the whole burst */
    if (b->newest == 0 && !b->throttled && b->outstanding > 0)
        return MDF_BUDGET_PROBE_MS;
    int64_t w = mdf_tb_wait(&b->tb, now_ms), ww = mdf_tb_wait(&b->window, now_ms);
    return w > ww ? w : ww;
}

uint64_t mdf_budget_spend(mdf_budget *b, int64_t now_ms)
{
    b->outstanding++;
    if (!disabled(b)) {
        mdf_tb_take(&b->tb, now_ms);
        mdf_tb_take(&b->window, now_ms);
    }
    return ++b->sent;
}

void mdf_budget_answer(mdf_budget *b, int64_t now_ms, uint64_t ticket, bool throttled,
                       int64_t remaining, int64_t retry_after_ms)
{
    if (b->outstanding > 0)
        b->outstanding--;
    if (throttled)
        b->throttled++;
    if (remaining >= 0)
        b->remaining = remaining;
    if (throttled) {
        int64_t hold = retry_after_ms < 0 ? MDF_BUDGET_HOLD_NONE : retry_after_ms;
        if (hold < 1)
            hold = 1;
        if (hold > MDF_BUDGET_HOLD_MAX)
            hold = MDF_BUDGET_HOLD_MAX;
        if (now_ms + hold > b->hold_until)
            b->hold_until = now_ms + hold;
        if (!disabled(b)) {
            cut(b, now_ms, MDF_BUDGET_CUT_429);
            mdf_tb_remaining(&b->window, now_ms);
            b->window.tokens = 0;
        }
        return;
    }
    if (disabled(b))
        return;
    if (remaining < 0) {
        raise_rate(b, now_ms); /* no figure: only 429s steer */
        return;
    }
    double r = (double)remaining;
    if (r < b->floor / 2)
        cut(b, now_ms, MDF_BUDGET_CUT);
    else if (r >= b->floor)
        raise_rate(b, now_ms);
    if (ticket <= b->newest)
        return; /* an older figure than one we had: answers may overtake */
    b->newest = ticket;
    /* the window: what the server has left above the floor, less what we
     * sent after this request (it may not be counted yet), and of that,
     * half per round trip (others may be spending it too) */
    double allowed = (r - (double)(b->sent - ticket) - b->floor) / 2;
    mdf_tb_remaining(&b->window, now_ms);
    b->window.tokens = allowed > 0 ? allowed : 0;
}
