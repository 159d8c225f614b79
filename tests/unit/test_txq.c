/* test_txq.c - frames a link refused for now (txq.c), the clock injected
 * and the link a fake that refuses with ENOBUFS on demand: kept and sent
 * once the link accepts, in order, nothing overtaking; the queue's bound
 * and the hold bound drop and count; another error is not kept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "txq.h"

static const uint8_t DST[6] = {0x02, 0, 0, 0, 0, 0x01};

struct link {
    int refuse;       /* errno to refuse with, 0: accept */
    unsigned tries;   /* send calls */
    unsigned nsent;
    uint8_t sent[64]; /* each accepted frame's first byte */
};

static int
fake_send(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    struct link *k = arg;

    assert_memory_equal(dst, DST, 6);
    assert_int_equal(len, 100);
    k->tries++;
    if (k->refuse) {
        errno = k->refuse;
        return -1;
    }
    assert_true(k->nsent < sizeof(k->sent));
    k->sent[k->nsent++] = buf[0];
    return 0;
}

struct fx {
    struct link k;
    struct nvdp_counters c;
    struct txq q;
};

static int
setup(void **state)
{
    static struct fx x;
    struct nvdp_cnt cnt = {{&x.c, NULL, NULL}};

    memset(&x, 0, sizeof(x));
    txq_init(&x.q, NULL, fake_send, &x.k, &cnt, "acc0");
    *state = &x;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *x = *state;

    txq_free(&x->q);
    return 0;
}

/* Frame number i: 100 bytes, the first one i. */
static int
send_n(struct fx *x, uint8_t i, uint64_t now)
{
    uint8_t f[100];

    memset(f, 0, sizeof(f));
    f[0] = i;
    return txq_send(&x->q, DST, f, sizeof(f), now);
}

static void
test_sent_at_once(void **state)
{
    struct fx *x = *state;

    assert_int_equal(send_n(x, 1, 0), 0);
    assert_int_equal(x->k.nsent, 1);
    assert_int_equal(txq_len(&x->q), 0);
    assert_int_equal(x->c.tx_deferred, 0);
    assert_null(x->q.mem); /* nothing kept, nothing allocated */
}

static void
test_kept_until_accepted_in_order(void **state)
{
    struct fx *x = *state;

    x->k.refuse = ENOBUFS;
    assert_int_equal(send_n(x, 1, 0), 0);
    assert_int_equal(x->k.tries, 1); /* one try: no wait in the call */
    /* later frames wait behind it: each send tries the head once, never
     * itself ahead of it */
    assert_int_equal(send_n(x, 2, 1), 0);
    assert_int_equal(send_n(x, 3, 1), 0);
    assert_int_equal(x->k.tries, 3);
    assert_int_equal(txq_len(&x->q), 3);
    assert_int_equal(x->c.tx_deferred, 3);
    txq_run(&x->q, 2); /* still refused: kept */
    assert_int_equal(x->k.nsent, 0);
    assert_int_equal(txq_len(&x->q), 3);
    /* the link accepts: a new frame goes out after those waiting */
    x->k.refuse = 0;
    assert_int_equal(send_n(x, 4, 3), 0);
    assert_int_equal(x->k.nsent, 4);
    assert_memory_equal(x->k.sent, ((uint8_t[]){1, 2, 3, 4}), 4);
    assert_int_equal(txq_len(&x->q), 0);
    assert_int_equal(x->c.tx_retry_dropped, 0);
}

static void
test_retry_sends_in_order(void **state)
{
    struct fx *x = *state;

    x->k.refuse = ENOBUFS;
    for (uint8_t i = 1; i <= 5; i++)
        assert_int_equal(send_n(x, i, 0), 0);
    x->k.refuse = 0;
    txq_run(&x->q, 1);
    assert_int_equal(x->k.nsent, 5);
    assert_memory_equal(x->k.sent, ((uint8_t[]){1, 2, 3, 4, 5}), 5);
    /* each delivered once */
    txq_run(&x->q, 2);
    assert_int_equal(x->k.nsent, 5);
}

static void
test_full_drops_oldest(void **state)
{
    struct fx *x = *state;

    x->k.refuse = ENOBUFS;
    for (uint8_t i = 0; i < TXQ_MAX + 3; i++)
        assert_int_equal(send_n(x, i, 0), 0);
    assert_int_equal(txq_len(&x->q), TXQ_MAX);
    assert_int_equal(x->c.tx_deferred, TXQ_MAX + 3);
    assert_int_equal(x->c.tx_retry_dropped, 3);
    x->k.refuse = 0;
    txq_run(&x->q, 1);
    /* the newest TXQ_MAX, in order */
    assert_int_equal(x->k.nsent, TXQ_MAX);
    for (unsigned i = 0; i < TXQ_MAX; i++)
        assert_int_equal(x->k.sent[i], i + 3);
}

static void
test_hold_bound(void **state)
{
    struct fx *x = *state;

    x->k.refuse = ENOBUFS;
    assert_int_equal(send_n(x, 1, 1000), 0);
    assert_int_equal(send_n(x, 2, 1000 + TXQ_HOLD_MS / 2), 0);
    txq_run(&x->q, 1000 + TXQ_HOLD_MS); /* not too old yet */
    assert_int_equal(txq_len(&x->q), 2);
    assert_int_equal(x->c.tx_retry_dropped, 0);
    txq_run(&x->q, 1000 + TXQ_HOLD_MS + 1); /* the first is */
    assert_int_equal(txq_len(&x->q), 1);
    assert_int_equal(x->c.tx_retry_dropped, 1);
    x->k.refuse = 0;
    txq_run(&x->q, 1000 + TXQ_HOLD_MS + 2);
    assert_int_equal(x->k.nsent, 1);
    assert_int_equal(x->k.sent[0], 2);
}

static void
test_other_errors(void **state)
{
    struct fx *x = *state;

    /* not "for now": the caller's error (tx_errors), nothing kept */
    x->k.refuse = EIO;
    assert_int_equal(send_n(x, 1, 0), -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(txq_len(&x->q), 0);
    assert_int_equal(x->c.tx_deferred, 0);
    /* kept frames that then fail otherwise are dropped, each counted:
     * none holds the queue */
    x->k.refuse = ENOBUFS;
    assert_int_equal(send_n(x, 2, 0), 0);
    assert_int_equal(send_n(x, 3, 0), 0);
    x->k.refuse = EIO;
    txq_run(&x->q, 1);
    assert_int_equal(x->c.tx_retry_dropped, 2);
    assert_int_equal(txq_len(&x->q), 0);
}

static void
test_free_counts(void **state)
{
    struct fx *x = *state;

    x->k.refuse = ENOBUFS;
    assert_int_equal(send_n(x, 1, 0), 0);
    txq_free(&x->q); /* link closed: what waited is dropped */
    assert_int_equal(x->c.tx_retry_dropped, 1);
    assert_null(x->q.mem);
    assert_int_equal(txq_len(&x->q), 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_sent_at_once),        T(test_kept_until_accepted_in_order),
        T(test_retry_sends_in_order), T(test_full_drops_oldest),
        T(test_hold_bound),          T(test_other_errors),
        T(test_free_counts),
    };

    log_init("test_txq", 1, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
