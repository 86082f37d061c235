/* In-order offset storing when tasks finish out of order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "offsets.h"

static void test_out_of_order(void **state)
{
    (void)state;
    mdf_offsets *o = mdf_offsets_new();
    assert_non_null(o);
    for (int64_t off = 10; off < 15; off++)
        assert_int_equal(mdf_offsets_begin(o, off), 0);
    assert_int_equal(mdf_offsets_in_flight(o), 5);
    /* 12 and 11 finish first: 10 is still open, nothing can be stored */
    assert_true(mdf_offsets_done(o, 12) == -1);
    assert_true(mdf_offsets_done(o, 11) == -1);
    /* 10 finishes: everything up to the still-open 13 */
    assert_true(mdf_offsets_done(o, 10) == 13);
    assert_true(mdf_offsets_done(o, 14) == -1);
    /* the last open one: past the last begun */
    assert_true(mdf_offsets_done(o, 13) == 15);
    assert_int_equal(mdf_offsets_in_flight(o), 0);
    /* unknown offsets change nothing */
    assert_true(mdf_offsets_done(o, 99) == -1);
    mdf_offsets_free(o);
}

static void test_reset(void **state)
{
    (void)state;
    mdf_offsets *o = mdf_offsets_new();
    assert_int_equal(mdf_offsets_begin(o, 5), 0);
    assert_int_equal(mdf_offsets_begin(o, 6), 0);
    mdf_offsets_reset(o); /* the partition was revoked and assigned again */
    assert_true(mdf_offsets_done(o, 5) == -1);
    /* a redelivery starts over from an earlier offset */
    assert_int_equal(mdf_offsets_begin(o, 3), 0);
    assert_true(mdf_offsets_done(o, 3) == 4);
    mdf_offsets_free(o);
}

static void test_many(void **state)
{
    (void)state;
    mdf_offsets *o = mdf_offsets_new();
    for (int64_t i = 0; i < 1000; i++)
        assert_int_equal(mdf_offsets_begin(o, i), 0);
    /* finish the odd ones, then the even ones in reverse: only the last
     * completion releases everything */
    for (int64_t i = 1; i < 1000; i += 2)
        assert_true(mdf_offsets_done(o, i) == -1);
    for (int64_t i = 998; i > 0; i -= 2)
        assert_true(mdf_offsets_done(o, i) == -1);
    assert_true(mdf_offsets_done(o, 0) == 1000);
    mdf_offsets_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
