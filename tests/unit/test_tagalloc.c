/* test_tagalloc.c - per-port tag allocator: sharing per (port, VN),
 * reference counts, hints, reserved ranges, exhaustion, hash churn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tagalloc.h"

static struct tag_alloc *
mk(unsigned lo, unsigned hi)
{
    struct tag_alloc *ta = malloc(sizeof(*ta));
    struct tagset ts;

    memset(&ts, 0, sizeof(ts));
    for (unsigned v = lo; v <= hi; v++)
        tagset_add(&ts, v);
    tag_alloc_init(ta, &ts);
    return ta;
}

static void
test_shared_per_vn(void **state)
{
    struct tag_alloc *ta = mk(1, 4094);
    int created;

    uint16_t a = tag_get(ta, 10100, 0, &created);
    assert_int_equal(a, 1);
    assert_true(created);
    uint16_t b = tag_get(ta, 10100, 0, &created);
    assert_int_equal(b, a);
    assert_false(created);
    assert_int_equal(tag_refs(ta, a), 2);
    uint16_t c = tag_get(ta, 10200, 0, &created);
    assert_int_equal(c, 2);
    assert_true(created);
    assert_int_equal(tag_lookup(ta, 10100), 1);
    assert_int_equal(tag_lookup(ta, 10200), 2);
    assert_int_equal(tag_lookup(ta, 999), 0);
    assert_int_equal(tag_vni(ta, 2), 10200);
    free(ta);
}

static void
test_refcount_and_free(void **state)
{
    struct tag_alloc *ta = mk(1, 4094);

    uint16_t a = tag_get(ta, 7, 0, NULL);
    tag_get(ta, 7, 0, NULL);
    tag_get(ta, 7, 0, NULL);
    assert_int_equal(tag_put(ta, 7), 0);
    assert_int_equal(tag_put(ta, 7), 0);
    assert_int_equal(tag_refs(ta, a), 1);
    assert_int_equal(tag_put(ta, 7), a); /* last reference frees it */
    assert_false(tag_in_use(ta, a));
    assert_int_equal(tag_lookup(ta, 7), 0);
    assert_int_equal(tag_put(ta, 7), 0); /* extra put is harmless */
    assert_int_equal(tag_free_count(ta), 4094);
    free(ta);
}

static void
test_hint(void **state)
{
    struct tag_alloc *ta = mk(100, 200);

    assert_int_equal(tag_get(ta, 1, 150, NULL), 150); /* free + allowed */
    assert_int_equal(tag_get(ta, 2, 150, NULL), 100); /* taken: lowest */
    assert_int_equal(tag_get(ta, 3, 50, NULL), 101);  /* outside range */
    assert_int_equal(tag_get(ta, 4, 4095, NULL), 102); /* invalid VID */
    /* an existing tag wins over the hint */
    assert_int_equal(tag_get(ta, 1, 180, NULL), 150);
    free(ta);
}

static void
test_reserved_and_edges(void **state)
{
    struct tag_alloc *ta = mk(0, 4095); /* 0 and 4095 never allocated */
    struct tagset ts;

    assert_int_equal(tag_allowed_count(ta), 4094);
    assert_int_equal(tag_get(ta, 1, 0, NULL), 1);
    /* reserved 1-9: allowed = 10-4094 */
    memset(&ts, 0, sizeof(ts));
    for (unsigned v = 10; v <= 4094; v++)
        tagset_add(&ts, v);
    tag_alloc_set_allowed(ta, &ts);
    /* tag 1 in use stays (reload keeps state), new ones start at 10 */
    assert_int_equal(tag_lookup(ta, 1), 1);
    assert_int_equal(tag_get(ta, 2, 5, NULL), 10);
    assert_int_equal(tag_put(ta, 1), 1);
    assert_int_equal(tag_get(ta, 3, 0, NULL), 11); /* 1 is reserved now */
    free(ta);
}

static void
test_exhaustion(void **state)
{
    struct tag_alloc *ta = mk(10, 12);
    int created = 1;

    assert_int_equal(tag_get(ta, 1, 0, NULL), 10);
    assert_int_equal(tag_get(ta, 2, 0, NULL), 11);
    assert_int_equal(tag_get(ta, 3, 0, NULL), 12);
    assert_int_equal(tag_free_count(ta), 0);
    assert_int_equal(tag_get(ta, 4, 0, &created), 0);
    assert_false(created);
    assert_int_equal(tag_lookup(ta, 4), 0);
    /* an existing VN still gets its tag when the port is full */
    assert_int_equal(tag_get(ta, 2, 0, NULL), 11);
    tag_put(ta, 2);
    tag_put(ta, 2);
    assert_int_equal(tag_get(ta, 4, 0, NULL), 11);
    free(ta);
}

static void
test_empty_set(void **state)
{
    struct tag_alloc *ta = mk(1, 0);

    assert_int_equal(tag_allowed_count(ta), 0);
    assert_int_equal(tag_get(ta, 1, 1, NULL), 0);
    free(ta);
}

/* Fill the port, free every other VN, refill: the VNI hash must keep every
 * remaining lookup right through backward-shift deletions. */
static void
test_churn(void **state)
{
    struct tag_alloc *ta = mk(1, 4094);

    for (uint32_t v = 0; v < 4094; v++)
        assert_int_equal(tag_get(ta, v * 8192 + 5, 0, NULL), v + 1);
    assert_int_equal(tag_get(ta, 1, 0, NULL), 0);
    for (uint32_t v = 0; v < 4094; v += 2)
        assert_int_equal(tag_put(ta, v * 8192 + 5), v + 1);
    for (uint32_t v = 0; v < 4094; v++)
        assert_int_equal(tag_lookup(ta, v * 8192 + 5), (v & 1) ? v + 1 : 0);
    assert_int_equal(tag_free_count(ta), 2047);
    for (uint32_t v = 0; v < 4094; v += 2)
        assert_int_equal(tag_get(ta, 1000000 + v, 0, NULL), v + 1);
    for (uint32_t v = 1; v < 4094; v += 2)
        assert_int_equal(tag_lookup(ta, v * 8192 + 5), v + 1);
    free(ta);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_per_vn),
        cmocka_unit_test(test_refcount_and_free),
        cmocka_unit_test(test_hint),
        cmocka_unit_test(test_reserved_and_edges),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
