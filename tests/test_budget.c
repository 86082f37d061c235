/* The ARM budget controller (budget.h) driven through scripted answers,
 * then against a simulated Resource Manager bucket in virtual time: alone
 * and with others sharing the identity, it converges on the server's rate
 * without a 429 once settled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "budget.h"

/* Spends every token the budget allows at now, returning how many. */
static int spend_all(mdf_budget *b, int64_t now)
{
    int n = 0;
    while (mdf_budget_wait(b, now) == 0 && n < 100000) {
        mdf_budget_spend(b, now);
        n++;
    }
    return n;
}

/* The answer to the newest request. */
static void answer(mdf_budget *b, int64_t now, bool throttled, int64_t remaining, int64_t ra)
{
    mdf_budget_answer(b, now, b->sent, throttled, remaining, ra);
}

static void test_start_and_share(void **state)
{
    (void)state;
    mdf_budget b;
    mdf_budget_init(&b, 200, 10, 1.0, 0);
    assert_true(b.floor > 3.99 && b.floor < 4.01);
    /* one request until the server's first figure... */
    assert_int_equal(spend_all(&b, 0), 1);
    assert_int_equal(mdf_budget_wait(&b, 0), MDF_BUDGET_PROBE_MS);
    /* ...then half of what it has above the floor per round trip */
    mdf_budget_answer(&b, 5, 1, false, 199, -1);
    assert_int_equal(spend_all(&b, 5), 97); /* (199 - 4) / 2 */
    /* what we sent after a request is not in its figure: (198 - 96 - 4) / 2 */
    mdf_budget_answer(&b, 10, 2, false, 198, -1);
    assert_int_equal(spend_all(&b, 10), 49);
    mdf_budget_answer(&b, 15, 147, false, 53, -1);
    assert_int_equal(spend_all(&b, 15), 24);
    /* an answer that overtook a newer one does not count */
    mdf_budget_answer(&b, 20, 100, false, 100, -1);
    assert_int_equal(spend_all(&b, 20), 0);
    /* with nothing above the floor, the pace: 10/s */
    mdf_budget_answer(&b, 25, 171, false, 4, -1);
    assert_int_equal(spend_all(&b, 25), 0);
    assert_int_equal(spend_all(&b, 1025), 10);
    assert_int_equal(b.outstanding, 181 - 5);

    /* a server with more than the budget says: the budget stays a cap */
    mdf_budget_init(&b, 10, 1, 1.0, 0);
    assert_int_equal(spend_all(&b, 0), 1);
    mdf_budget_answer(&b, 5, 1, false, 1000, -1);
    assert_int_equal(spend_all(&b, 5), 9);
    assert_int_equal(spend_all(&b, 1005), 1);

    /* a share of 0.5: half the burst and rate, and half the burst left to
     * others on top of the reserve of our half */
    mdf_budget_init(&b, 200, 10, 0.5, 0);
    assert_true(b.top_burst == 100 && b.top_rate == 5);
    assert_true(b.floor > 101.9 && b.floor < 102.1);

    mdf_budget_init(&b, 0, 0, 1.0, 0); /* no client-side budget */
    assert_int_equal(spend_all(&b, 0), 100000);
    /* but a 429's Retry-After still holds */
    answer(&b, 0, true, -1, 300);
    assert_int_equal(mdf_budget_wait(&b, 100), 200);
    assert_int_equal(mdf_budget_wait(&b, 300), 0);
}

static void test_scripted_answers(void **state)
{
    (void)state;
    mdf_budget b;
    mdf_budget_init(&b, 200, 10, 1.0, 0);
    spend_all(&b, 0);

    /* a 429: half the rate, nothing until Retry-After */
    answer(&b, 10, true, 0, 700);
    assert_true(b.rate > 4.99 && b.rate < 5.01);
    assert_int_equal(mdf_budget_wait(&b, 10), 700);
    assert_int_equal(b.throttled, 1);
    /* more 429s of the same overshoot: held, not cut again */
    answer(&b, 20, true, 0, 100);
    assert_true(b.rate > 4.99 && b.rate < 5.01);
    assert_int_equal(mdf_budget_wait(&b, 20), 690);
    /* a server asking for a day is capped */
    answer(&b, 30, true, 0, 999999999);
    assert_int_equal(mdf_budget_wait(&b, 30), MDF_BUDGET_HOLD_MAX);

    /* remaining quota under half the floor (4): cut, once per interval */
    mdf_budget_init(&b, 200, 10, 1.0, 0);
    answer(&b, 0, false, 1, -1);
    assert_true(b.rate > 8.49 && b.rate < 8.51);
    answer(&b, 500, false, 1, -1);
    assert_true(b.rate > 8.49 && b.rate < 8.51);
    answer(&b, 1000, false, 1, -1);
    assert_true(b.rate > 7.22 && b.rate < 7.23);
    /* between half the floor and the floor: held */
    answer(&b, 3000, false, 3, -1);
    assert_true(b.rate > 7.22 && b.rate < 7.23);
    /* at the floor and above: raised additively, one second at a time */
    answer(&b, 4000, false, 150, -1);
    assert_true(b.rate > 7.72 && b.rate < 7.73);
    answer(&b, 60000, false, 150, -1);
    assert_true(b.rate > 8.22 && b.rate < 8.23);
    /* without figures, 2xx answers raise too */
    answer(&b, 61000, false, -1, -1);
    assert_true(b.rate > 8.72 && b.rate < 8.73);
    /* and the server's figure sets the tokens */
    answer(&b, 62000, false, 150, -1);
    assert_true(mdf_budget_wait(&b, 62000) == 0);
    mdf_budget_spend(&b, 62000);
    answer(&b, 62000, false, 4, -1);
    assert_true(mdf_budget_wait(&b, 62000) > 0);
    assert_int_equal(b.cuts, 2);
}

/* ---- against a simulated server ------------------------------------------------ */

enum { MAX_CLIENTS = 4, MAX_FLIGHT = 8192, LATENCY_MS = 20 };

typedef struct flight {
    int client;
    uint64_t ticket;
    int64_t at; /* when the answer arrives */
    bool throttled;
    int64_t remaining, retry_after;
} flight;

typedef struct run {
    int64_t ok, throttled, throttled_late; /* late: after the first `settle` ms */
    int64_t ok_early;                      /* before it */
    int64_t ok_per_client[MAX_CLIENTS];
    double rate_sum;
} run;

/* n clients with unbounded demand against one bucket of burst/rate for
 * ms of virtual time; requests take LATENCY_MS each way. */
static void simulate(int n, double burst, double rate, int64_t ms, int64_t settle, run *out)
{
    static flight f[MAX_FLIGHT];
    mdf_budget c[MAX_CLIENTS];
    mdf_token_bucket server;
    size_t nf = 0;
    memset(out, 0, sizeof *out);
    mdf_tb_init(&server, burst, rate, 0);
    for (int i = 0; i < n; i++)
        mdf_budget_init(&c[i], burst, rate, 1.0, 0);
    for (int64_t now = 0; now < ms; now++) {
        /* answers due now */
        for (size_t k = 0; k < nf;) {
            if (f[k].at > now) {
                k++;
                continue;
            }
            mdf_budget_answer(&c[f[k].client], now, f[k].ticket, f[k].throttled, f[k].remaining,
                              f[k].retry_after);
            f[k] = f[--nf];
        }
        for (int i = 0; i < n; i++) {
            while (nf < MAX_FLIGHT && mdf_budget_wait(&c[i], now) == 0) {
                uint64_t ticket = mdf_budget_spend(&c[i], now);
                /* the server decides when the request reaches it */
                int64_t wait = mdf_tb_take(&server, now + LATENCY_MS);
                flight *x = &f[nf++];
                *x = (flight){i,
                              ticket,
                              now + 2 * LATENCY_MS,
                              wait > 0,
                              mdf_tb_remaining(&server, now + LATENCY_MS),
                              wait > 0 ? wait : -1};
                if (wait > 0) {
                    out->throttled++;
                    if (now >= settle)
                        out->throttled_late++;
                } else if (now >= settle) {
                    out->ok++;
                    out->ok_per_client[i]++;
                } else {
                    out->ok_early++;
                }
            }
        }
    }
    for (int i = 0; i < n; i++)
        out->rate_sum += c[i].rate;
}

static void test_alone(void **state)
{
    (void)state;
    run r;
    /* writes: 200 burst + 10/s; after the first 20 s, 100 s at the bound */
    simulate(1, 200, 10, 120000, 20000, &r);
    print_message("alone: %lld ok in the first 20 s, %lld in the next 100 s, %lld 429s\n",
                  (long long)r.ok_early, (long long)r.ok, (long long)r.throttled);
    assert_int_equal(r.throttled, 0);
    /* the burst is used: 200 + 20 s x 10/s, less the round trips */
    assert_true(r.ok_early >= 390);
    assert_true(r.ok >= 990 && r.ok <= 1001);
}

static void test_shared(void **state)
{
    (void)state;
    for (int n = 2; n <= 4; n++) {
        run r;
        simulate(n, 200, 10, 120000, 20000, &r);
        print_message("%d clients: %lld ok in the first 20 s, %lld in the next 100 s, %lld 429s "
                      "(%lld after 20 s), rates sum %.2f/s\n",
                      n, (long long)r.ok_early, (long long)r.ok, (long long)r.throttled,
                      (long long)r.throttled_late, r.rate_sum);
        assert_true(r.ok_early >= 380);
        /* the server's whole rate is used, and nothing beyond it is asked */
        assert_true(r.ok >= 980);
        assert_true(r.throttled_late <= 10);
        assert_true(r.rate_sum > 7 && r.rate_sum < 14);
        /* and no client is starved */
        for (int i = 0; i < n; i++)
            assert_true(r.ok_per_client[i] > 1000 / n / 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_and_share),
        cmocka_unit_test(test_scripted_answers),
        cmocka_unit_test(test_alone),
        cmocka_unit_test(test_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
