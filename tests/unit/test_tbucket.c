/* test_tbucket.c - the token bucket: burst, refill by elapsed time, rates
 * below one per millisecond, unlimited, a reload that lowers the burst, a
 * clock that steps back. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tbucket.h"

/* How many of n events at time now the bucket lets through. */
static unsigned
take_n(struct tbucket *b, unsigned n, uint64_t now)
{
    unsigned ok = 0;

    for (unsigned i = 0; i < n; i++)
        ok += (unsigned)tbucket_take(b, now);
    return ok;
}

static void
t_burst_then_rate(void **s)
{
    struct tbucket b;

    (void)s;
    tbucket_init(&b, 100, 10, 1000);
    assert_int_equal(take_n(&b, 50, 1000), 10); /* the burst, no more */
    assert_int_equal(b.denied, 40);
    assert_int_equal(take_n(&b, 50, 1050), 5);  /* 50 ms at 100/s */
    assert_int_equal(take_n(&b, 50, 2050), 10); /* a second: full, capped */
    assert_int_equal(take_n(&b, 1, 2055), 0);
}

static void
t_slow_rate(void **s)
{
    struct tbucket b;

    (void)s;
    /* 2 per second: a token every 500 ms, thousandths add up */
    tbucket_init(&b, 2, 1, 0);
    assert_int_equal(take_n(&b, 3, 0), 1);
    for (uint64_t t = 1; t < 500; t += 7)
        assert_int_equal(take_n(&b, 1, t), 0);
    assert_int_equal(take_n(&b, 1, 500), 1);
    assert_int_equal(take_n(&b, 1, 999), 0);
    assert_int_equal(take_n(&b, 1, 1000), 1);
}

static void
t_unlimited(void **s)
{
    struct tbucket b;

    (void)s;
    tbucket_init(&b, 0, 1, 0);
    assert_int_equal(take_n(&b, 100000, 0), 100000);
    assert_int_equal(b.denied, 0);
}

static void
t_reload_and_clock(void **s)
{
    struct tbucket b;

    (void)s;
    tbucket_init(&b, 1000, 100, 0);
    tbucket_set(&b, 1000, 5); /* what is held shrinks to the new burst */
    assert_int_equal(take_n(&b, 100, 0), 5);
    /* a clock that steps back neither refills nor blocks for good */
    assert_int_equal(take_n(&b, 1, 0), 0);
    assert_int_equal(take_n(&b, 1, 0), 0);
    tbucket_take(&b, 0);
    assert_int_equal(take_n(&b, 100, 3), 3);
    /* a very long idle time fills the bucket, no overflow */
    assert_int_equal(take_n(&b, 100, UINT64_MAX / 2), 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_burst_then_rate),
        cmocka_unit_test(t_slow_rate),
        cmocka_unit_test(t_unlimited),
        cmocka_unit_test(t_reload_and_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
