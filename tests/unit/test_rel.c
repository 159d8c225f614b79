/* test_rel.c - the reliability layer driven by a fake clock: loss of
 * requests and responses, duplicates, reordering, window, backoff, wrap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rel.h"

static struct nvdp_msg
mkmsg(uint16_t type, uint16_t tag_hint)
{
    struct nvdp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = type;
    m.tag_hint = tag_hint;
    m.has_tag_hint = 1;
    return m;
}

static void
init_tx(struct rel_tx *tx, uint16_t window)
{
    struct rel_params p = REL_PARAMS_DEFAULT;

    p.window = window;
    assert_int_equal(rel_tx_init(tx, &p), 0);
}

/* ---- sender basics ---------------------------------------------------- */
static void
test_params_rejected(void **st)
{
    struct rel_tx tx;
    struct rel_params p = REL_PARAMS_DEFAULT;

    (void)st;
    p.window = 0;
    assert_int_equal(rel_tx_init(&tx, &p), -1);
    p = (struct rel_params)REL_PARAMS_DEFAULT;
    p.window = REL_WINDOW_MAX + 1;
    assert_int_equal(rel_tx_init(&tx, &p), -1);
    p = (struct rel_params)REL_PARAMS_DEFAULT;
    p.rto_max = p.rto_init - 1;
    assert_int_equal(rel_tx_init(&tx, &p), -1);
    p = (struct rel_params)REL_PARAMS_DEFAULT;
    p.max_tries = 0;
    assert_int_equal(rel_tx_init(&tx, &p), -1);
    assert_int_equal(rel_tx_init(&tx, NULL), 0); /* defaults */
    assert_int_equal(tx.p.window, 256);
    assert_int_equal(tx.p.max_tries, 8);
    rel_tx_free(&tx);
}

static void
test_submit_order_and_due(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[8];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    int dummy[3];

    (void)st;
    init_tx(&tx, 8);
    assert_int_equal(rel_tx_next_due(&tx), UINT64_MAX);
    for (int i = 0; i < 3; i++) {
        m.tag_hint = (uint16_t)(100 + i);
        assert_int_equal(rel_tx_submit(&tx, &m, &dummy[i], 1000), i + 1);
    }
    assert_int_equal(tx.outstanding, 3);
    assert_int_equal(rel_tx_space(&tx), 5);
    assert_int_equal(rel_tx_next_due(&tx), 1000);
    /* Nothing due before the submit time. */
    assert_int_equal(rel_tx_due(&tx, 999, out, 8, NULL, NULL), 0);
    assert_int_equal(rel_tx_due(&tx, 1000, out, 8, NULL, NULL), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[i]->txid, i + 1);
        assert_int_equal(out[i]->tag_hint, 100 + i); /* content copied */
    }
    assert_int_equal(tx.sent, 3);
    /* Sent: not due again until the initial timeout. */
    assert_int_equal(rel_tx_due(&tx, 1199, out, 8, NULL, NULL), 0);
    assert_int_equal(rel_tx_next_due(&tx), 1200);
    rel_tx_free(&tx);
}

static void
test_due_max_batches(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[8];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);

    (void)st;
    init_tx(&tx, 8);
    for (int i = 0; i < 5; i++)
        rel_tx_submit(&tx, &m, NULL, 0);
    assert_int_equal(rel_tx_due(&tx, 0, out, 2, NULL, NULL), 2);
    assert_int_equal(out[0]->txid, 1);
    assert_int_equal(out[1]->txid, 2);
    assert_int_equal(rel_tx_due(&tx, 0, out, 2, NULL, NULL), 2);
    assert_int_equal(out[0]->txid, 3);
    assert_int_equal(out[1]->txid, 4);
    assert_int_equal(rel_tx_due(&tx, 0, out, 2, NULL, NULL), 1);
    assert_int_equal(out[0]->txid, 5);
    assert_int_equal(rel_tx_due(&tx, 0, out, 2, NULL, NULL), 0);
    rel_tx_free(&tx);
}

/* New requests go before retransmissions in one batch. */
static void
test_new_before_retransmit(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[8];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);

    (void)st;
    init_tx(&tx, 8);
    rel_tx_submit(&tx, &m, NULL, 0);
    assert_int_equal(rel_tx_due(&tx, 0, out, 8, NULL, NULL), 1);
    rel_tx_submit(&tx, &m, NULL, 150);
    assert_int_equal(rel_tx_due(&tx, 200, out, 8, NULL, NULL), 2);
    assert_int_equal(out[0]->txid, 2);
    assert_int_equal(out[1]->txid, 1);
    assert_int_equal(tx.sent, 2);
    assert_int_equal(tx.retransmits, 1);
    rel_tx_free(&tx);
}

static void
test_window_full(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[4];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    void *u;

    (void)st;
    init_tx(&tx, 4);
    for (int i = 0; i < 4; i++)
        assert_int_not_equal(rel_tx_submit(&tx, &m, NULL, 0), 0);
    assert_int_equal(rel_tx_space(&tx), 0);
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 0);
    assert_int_equal(rel_tx_due(&tx, 0, out, 4, NULL, NULL), 4);
    /* An answer for a later txid does not open the window: txid 1 still
     * holds it (the window counts txids from the oldest unanswered). */
    assert_int_equal(rel_tx_ack(&tx, 3, &u, NULL, 0), 1);
    assert_int_equal(tx.outstanding, 3);
    assert_int_equal(rel_tx_space(&tx), 0);
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 0);
    /* Answering the oldest slides the window past it. */
    assert_int_equal(rel_tx_ack(&tx, 1, &u, NULL, 0), 1);
    assert_int_equal(tx.base, 2);
    assert_int_equal(rel_tx_space(&tx), 1);
    uint32_t t = rel_tx_submit(&tx, &m, NULL, 10);
    assert_int_equal(t, 5); /* the rejected submits did not burn a txid */
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 10), 0);
    /* The new one is findable in the reused slot; others still ackable. */
    assert_int_equal(rel_tx_ack(&tx, 5, NULL, NULL, 0), 1);
    assert_int_equal(rel_tx_ack(&tx, 2, NULL, NULL, 0), 1);
    assert_int_equal(rel_tx_ack(&tx, 4, NULL, NULL, 0), 1);
    assert_int_equal(tx.outstanding, 0);
    assert_int_equal(rel_tx_space(&tx), 4);
    rel_tx_free(&tx);
}

static void
test_set_window(void **st)
{
    struct rel_tx tx;
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);

    (void)st;
    init_tx(&tx, 8);
    rel_tx_set_window(&tx, 2); /* the peer's HELLO says 2 */
    assert_int_equal(rel_tx_space(&tx), 2);
    assert_int_not_equal(rel_tx_submit(&tx, &m, NULL, 0), 0);
    assert_int_not_equal(rel_tx_submit(&tx, &m, NULL, 0), 0);
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 0);
    rel_tx_set_window(&tx, 100); /* capped at what was allocated */
    assert_int_equal(tx.win, 8);
    assert_int_equal(rel_tx_space(&tx), 6);
    rel_tx_set_window(&tx, 0);
    assert_int_equal(tx.win, 1);
    assert_int_equal(rel_tx_space(&tx), 0);
    rel_tx_free(&tx);
}

static void
test_ack_returns_user_and_req(void **st)
{
    struct rel_tx tx;
    struct nvdp_msg m = mkmsg(NVDP_MSG_VN_CONNECT, 42), req;
    const struct nvdp_msg *out[2];
    int cookie;
    void *u = NULL;

    (void)st;
    init_tx(&tx, 2);
    uint32_t t = rel_tx_submit(&tx, &m, &cookie, 0);
    rel_tx_due(&tx, 0, out, 2, NULL, NULL);
    assert_int_equal(rel_tx_ack(&tx, t, &u, &req, 0), 1);
    assert_ptr_equal(u, &cookie);
    assert_int_equal(req.type, NVDP_MSG_VN_CONNECT);
    assert_int_equal(req.tag_hint, 42);
    assert_int_equal(req.txid, t);
    assert_int_equal(tx.acked, 1);
    /* Acked: nothing left to retransmit. */
    assert_int_equal(rel_tx_due(&tx, 100000, out, 2, NULL, NULL), 0);
    assert_int_equal(rel_tx_next_due(&tx), UINT64_MAX);
    rel_tx_free(&tx);
}

static void
test_stray_acks(void **st)
{
    struct rel_tx tx;
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    void *u = (void *)&u;

    (void)st;
    init_tx(&tx, 4);
    uint32_t t = rel_tx_submit(&tx, &m, NULL, 0);
    assert_int_equal(rel_tx_ack(&tx, 0, &u, NULL, 0), 0);     /* txid 0 */
    assert_int_equal(rel_tx_ack(&tx, t + 1, &u, NULL, 0), 0); /* never sent */
    assert_ptr_equal(u, (void *)&u);                         /* untouched */
    assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, 0), 1);
    assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, 0), 0); /* second ack */
    assert_int_equal(tx.stray_acks, 3);
    assert_int_equal(tx.acked, 1);
    assert_int_equal(tx.outstanding, 0);
    rel_tx_free(&tx);
}

/* ---- backoff and giveup ------------------------------------------------ */
struct giveups {
    int n;
    uint32_t txid[16];
    void *user[16];
    struct rel_tx *tx;      /* for the resubmitting callback */
    int resubmit; /* 0 no, 1 must succeed, 2 must fail */
};

static void
on_giveup(void *arg, const struct nvdp_msg *msg, void *user)
{
    struct giveups *g = arg;

    g->txid[g->n] = msg->txid;
    g->user[g->n] = user;
    g->n++;
    if (g->resubmit == 1)
        assert_int_not_equal(rel_tx_submit(g->tx, msg, user, 0), 0);
    else if (g->resubmit == 2)
        assert_int_equal(rel_tx_submit(g->tx, msg, user, 0), 0);
}

static void
test_backoff_doubles_to_max_then_giveup(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[2];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    struct giveups g = {0};
    int cookie;
    uint64_t now = 5000;
    /* Gaps between transmissions: 200 doubling, capped at 3200. */
    const uint64_t gaps[] = {200, 400, 800, 1600, 3200, 3200, 3200};

    (void)st;
    init_tx(&tx, 2);
    uint32_t t = rel_tx_submit(&tx, &m, &cookie, now);
    assert_int_equal(rel_tx_due(&tx, now, out, 2, on_giveup, &g), 1);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(rel_tx_next_due(&tx), now + gaps[i]);
        assert_int_equal(rel_tx_due(&tx, now + gaps[i] - 1, out, 2, on_giveup,
                                    &g), 0);
        now += gaps[i];
        assert_int_equal(rel_tx_due(&tx, now, out, 2, on_giveup, &g), 1);
        assert_int_equal(out[0]->txid, t);
    }
    /* 8 transmissions done; after the last timeout it is given up. */
    assert_int_equal(tx.sent, 1);
    assert_int_equal(tx.retransmits, 7);
    assert_int_equal(g.n, 0);
    assert_int_equal(rel_tx_due(&tx, now + 3199, out, 2, on_giveup, &g), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(rel_tx_due(&tx, now + 3200, out, 2, on_giveup, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.txid[0], t);
    assert_ptr_equal(g.user[0], &cookie);
    assert_int_equal(tx.giveups, 1);
    assert_int_equal(tx.outstanding, 0);
    /* A late answer is stray now. */
    assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, 0), 0);
    assert_int_equal(tx.stray_acks, 1);
    rel_tx_free(&tx);
}

/* A slow peer's answers set the timeout (RFC 6298): a request answered
 * after 900 ms at its first transmission makes the next one wait
 * srtt + 4 rttvar = 2700 ms; an answer to a retransmitted request is no
 * sample (Karn); the timeout never goes below rto_init nor above rto_max. */
static void
test_rto_from_round_trips(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[8];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    uint32_t t;

    (void)st;
    init_tx(&tx, 8);
    t = rel_tx_submit(&tx, &m, NULL, 1000);
    assert_int_equal(rel_tx_due(&tx, 1000, out, 8, NULL, NULL), 1);
    assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, 1900), 1);
    assert_int_equal(tx.srtt, 900);
    assert_int_equal(tx.rttvar, 450);
    rel_tx_submit(&tx, &m, NULL, 2000);
    assert_int_equal(rel_tx_due(&tx, 2000, out, 8, NULL, NULL), 1);
    assert_int_equal(rel_tx_due(&tx, 4699, out, 8, NULL, NULL), 0);
    assert_int_equal(rel_tx_due(&tx, 4700, out, 8, NULL, NULL), 1);
    /* answered after its retransmission: not a sample */
    assert_int_equal(rel_tx_ack(&tx, out[0]->txid, NULL, NULL, 9000), 1);
    assert_int_equal(tx.srtt, 900);
    /* fast answers bring it down, never below rto_init (200) */
    for (int i = 0; i < 40; i++) {
        uint64_t now = 10000 + (uint64_t)i * 10;
        t = rel_tx_submit(&tx, &m, NULL, now);
        assert_int_equal(rel_tx_due(&tx, now, out, 8, NULL, NULL), 1);
        assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, now + 1), 1);
    }
    assert_true(tx.srtt + 4 * tx.rttvar < 200);
    rel_tx_submit(&tx, &m, NULL, 20000);
    assert_int_equal(rel_tx_due(&tx, 20000, out, 8, NULL, NULL), 1);
    assert_int_equal(rel_tx_due(&tx, 20199, out, 8, NULL, NULL), 0);
    assert_int_equal(rel_tx_due(&tx, 20200, out, 8, NULL, NULL), 1);
    rel_tx_free(&tx);
}

static void
test_backoff_custom_max(void **st)
{
    struct rel_tx tx;
    struct rel_params p = {4, 100, 250, 5};
    const struct nvdp_msg *out[4];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    uint64_t now = 0;
    /* 100, 200, then capped at 250 (not 400). */
    const uint64_t gaps[] = {100, 200, 250, 250};

    (void)st;
    assert_int_equal(rel_tx_init(&tx, &p), 0);
    rel_tx_submit(&tx, &m, NULL, 0);
    rel_tx_due(&tx, 0, out, 4, NULL, NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rel_tx_next_due(&tx), now + gaps[i]);
        now += gaps[i];
        assert_int_equal(rel_tx_due(&tx, now, out, 4, NULL, NULL), 1);
    }
    assert_int_equal(rel_tx_due(&tx, now + 250, out, 4, NULL, NULL), 0);
    assert_int_equal(tx.giveups, 1);
    rel_tx_free(&tx);
}

static void
test_giveup_callback_may_resubmit(void **st)
{
    struct rel_tx tx;
    struct rel_params p = {1, 100, 100, 1};
    const struct nvdp_msg *out[2];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 7);
    struct giveups g = {0};

    (void)st;
    assert_int_equal(rel_tx_init(&tx, &p), 0);
    /* Window 1: the slot is released only after the callback returns,
     * so a resubmit from inside it finds the window full and fails
     * cleanly instead of overwriting the message being reported. */
    g.tx = &tx;
    g.resubmit = 2;
    rel_tx_submit(&tx, &m, NULL, 0);
    rel_tx_due(&tx, 0, out, 2, on_giveup, &g);
    rel_tx_due(&tx, 100, out, 2, on_giveup, &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(tx.outstanding, 0);
    rel_tx_free(&tx);

    p.window = 2;
    assert_int_equal(rel_tx_init(&tx, &p), 0);
    memset(&g, 0, sizeof(g));
    g.tx = &tx;
    g.resubmit = 1;
    uint32_t t1 = rel_tx_submit(&tx, &m, &g, 0);
    rel_tx_due(&tx, 0, out, 2, on_giveup, &g);
    /* At 100 the request is given up, resubmitted with a new txid, and the
     * new one is returned in the same batch. */
    assert_int_equal(rel_tx_due(&tx, 100, out, 2, on_giveup, &g), 1);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.txid[0], t1);
    assert_int_equal(out[0]->txid, t1 + 1);
    assert_int_equal(out[0]->tag_hint, 7);
    assert_int_equal(tx.outstanding, 1);
    rel_tx_free(&tx);
}

static void
test_kick(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[4];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    struct giveups g = {0};
    uint64_t now = 0;

    (void)st;
    init_tx(&tx, 4);
    rel_tx_submit(&tx, &m, NULL, 0);
    /* A request not sent yet (not due before 4000; submitted now: the
     * timeouts below shrink the congestion window to 1). */
    rel_tx_submit(&tx, &m, NULL, 4000);
    rel_tx_due(&tx, 0, out, 4, NULL, NULL);
    /* Five transmissions: 0, 200, 600, 1400, 3000. */
    while (tx.retransmits < 4) {
        now = rel_tx_next_due(&tx);
        rel_tx_due(&tx, now, out, 4, NULL, NULL);
    }
    assert_int_equal(now, 3000);
    assert_int_equal(tx.cwnd, 1);
    /* The not-yet-sent request is kicked too (stays new). */
    rel_tx_kick(&tx, 3500);
    assert_int_equal(rel_tx_next_due(&tx), 3500);
    assert_int_equal(rel_tx_due(&tx, 3500, out, 4, on_giveup, &g), 2);
    assert_int_equal(out[0]->txid, 2); /* new first */
    assert_int_equal(out[1]->txid, 1);
    /* Backoff restarted at the initial timeout. */
    assert_int_equal(rel_tx_next_due(&tx), 3700);
    /* And the try budget was refreshed: 8 transmissions after the kick
     * (counting the one before as the first) before giving up. */
    int sends = 1;
    while (g.n == 0) {
        now = rel_tx_next_due(&tx);
        int n = rel_tx_due(&tx, now, out, 4, on_giveup, &g);
        for (int i = 0; i < n; i++)
            if (out[i]->txid == 1)
                sends++;
    }
    assert_int_equal(sends, 7); /* kick send + 6 more = 8 with the first */
    assert_int_equal(g.txid[0], 1);
    rel_tx_free(&tx);
}

static void
test_reset_reports_in_order(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[8];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    struct giveups g = {0};
    int u[4];

    (void)st;
    init_tx(&tx, 4);
    for (int i = 0; i < 4; i++)
        rel_tx_submit(&tx, &m, &u[i], 0);
    rel_tx_due(&tx, 0, out, 8, NULL, NULL);
    rel_tx_ack(&tx, 2, NULL, NULL, 0);
    rel_tx_reset(&tx, on_giveup, &g);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.txid[0], 1);
    assert_int_equal(g.txid[1], 3);
    assert_int_equal(g.txid[2], 4);
    assert_ptr_equal(g.user[2], &u[3]);
    assert_int_equal(tx.outstanding, 0);
    assert_int_equal(rel_tx_next_due(&tx), UINT64_MAX);
    /* txids keep increasing after a reset (the peer saw 1..4). */
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 5);
    /* Reset without a callback just drops. */
    rel_tx_reset(&tx, NULL, NULL);
    assert_int_equal(tx.outstanding, 0);
    rel_tx_free(&tx);
}

static void
test_txid_wrap(void **st)
{
    struct rel_tx tx;
    const struct nvdp_msg *out[8];
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);

    (void)st;
    init_tx(&tx, 8);
    tx.next_txid = 0xFFFFFFFEu;
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 0xFFFFFFFEu);
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 0xFFFFFFFFu);
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 1); /* 0 skipped */
    assert_int_equal(rel_tx_submit(&tx, &m, NULL, 0), 2);
    /* 4 txids in flight across the wrap, 0 not counted. */
    assert_int_equal(rel_tx_space(&tx), 4);
    /* Submission order survives the wrap. */
    assert_int_equal(rel_tx_due(&tx, 0, out, 8, NULL, NULL), 4);
    assert_int_equal(out[0]->txid, 0xFFFFFFFEu);
    assert_int_equal(out[1]->txid, 0xFFFFFFFFu);
    assert_int_equal(out[2]->txid, 1);
    assert_int_equal(out[3]->txid, 2);
    assert_int_equal(rel_tx_ack(&tx, 0xFFFFFFFFu, NULL, NULL, 0), 1);
    assert_int_equal(rel_tx_ack(&tx, 1, NULL, NULL, 0), 1);
    assert_int_equal(tx.outstanding, 2);
    assert_int_equal(rel_tx_space(&tx), 4);
    assert_int_equal(rel_tx_ack(&tx, 0xFFFFFFFEu, NULL, NULL, 0), 1);
    assert_int_equal(tx.base, 2); /* oldest found across the wrap */
    assert_int_equal(rel_tx_space(&tx), 7);
    rel_tx_free(&tx);
}

/* ---- one timer per peer, congestion window ----------------------------- */

/* Sends everything due at now; returns how many went, their txids in
 * txids[] if not NULL. */
static int
send_due(struct rel_tx *tx, uint64_t now, uint32_t *txids)
{
    const struct nvdp_msg *out[64];
    int n, total = 0;

    do {
        n = rel_tx_due(tx, now, out, 64, NULL, NULL);
        for (int i = 0; txids && i < n; i++)
            txids[total + i] = out[i]->txid;
        total += n;
    } while (n == 64);
    return total;
}

/* N outstanding, one lost and the others answered: that one alone is sent
 * again, by the timer if nothing was sent after it, at once if requests
 * sent after it were answered (it cannot be merely late: the peer answers
 * in the order it reads). */
static void
test_one_lost_exactly_it(void **st)
{
    struct rel_tx tx;
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    uint32_t ids[16];

    (void)st;
    /* the last one lost: the timer, restarted by the last answer */
    init_tx(&tx, 16);
    for (int i = 0; i < 8; i++)
        rel_tx_submit(&tx, &m, NULL, 0);
    assert_int_equal(send_due(&tx, 0, NULL), 8);
    assert_int_equal(rel_tx_next_due(&tx), 200); /* the one timer */
    for (uint32_t t = 1; t <= 7; t++)
        assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, 40), 1);
    assert_int_equal(rel_tx_next_due(&tx), 40 + 200);
    assert_int_equal(send_due(&tx, 239, NULL), 0);
    assert_int_equal(send_due(&tx, 240, ids), 1);
    assert_int_equal(ids[0], 8);
    assert_int_equal(tx.retransmits, 1);
    rel_tx_free(&tx);

    /* one in the middle lost: known once 3 sent after it are answered */
    init_tx(&tx, 16);
    for (int i = 0; i < 8; i++)
        rel_tx_submit(&tx, &m, NULL, 0);
    assert_int_equal(send_due(&tx, 0, NULL), 8);
    for (uint32_t t = 1; t <= 5; t++)
        if (t != 3)
            assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, 10), 1);
    /* 4 and 5 answered: not yet (could be reordering) */
    assert_int_equal(rel_tx_next_due(&tx), 10 + 200);
    assert_int_equal(rel_tx_ack(&tx, 6, NULL, NULL, 12), 1);
    assert_int_equal(rel_tx_next_due(&tx), 12);
    assert_int_equal(send_due(&tx, 12, ids), 1);
    assert_int_equal(ids[0], 3);
    /* 7 and 8 answered later: nothing else is sent again, ever */
    assert_int_equal(rel_tx_ack(&tx, 7, NULL, NULL, 14), 1);
    assert_int_equal(rel_tx_ack(&tx, 8, NULL, NULL, 14), 1);
    assert_int_equal(send_due(&tx, 14, NULL), 0);
    assert_int_equal(rel_tx_ack(&tx, 3, NULL, NULL, 20), 1);
    assert_int_equal(tx.outstanding, 0);
    assert_int_equal(rel_tx_next_due(&tx), UINT64_MAX);
    assert_int_equal(tx.retransmits, 1);
    assert_int_equal(tx.sent, 8);
    rel_tx_free(&tx);
}

/* A peer working through a deep queue answers slowly but steadily: the
 * timer restarts at every answer and nothing is sent twice (with a timer
 * per request, requests 2..10 went again at 200 ms). */
static void
test_slow_peer_no_retransmission(void **st)
{
    struct rel_tx tx;
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);

    (void)st;
    init_tx(&tx, 16);
    for (int i = 0; i < 10; i++)
        rel_tx_submit(&tx, &m, NULL, 0);
    assert_int_equal(send_due(&tx, 0, NULL), 10);
    for (uint32_t t = 1; t <= 10; t++) {
        uint64_t now = 150 * (uint64_t)t;
        assert_true(rel_tx_next_due(&tx) > now - 1);
        assert_int_equal(send_due(&tx, now - 1, NULL), 0);
        assert_int_equal(rel_tx_ack(&tx, t, NULL, NULL, now), 1);
        assert_int_equal(send_due(&tx, now, NULL), 0);
    }
    assert_int_equal(tx.retransmits, 0);
    assert_int_equal(rel_tx_next_due(&tx), UINT64_MAX);
    rel_tx_free(&tx);
}

/* After a reset (the peer restarted: a resync's replay) a burst is held
 * to the congestion window, which doubles per round trip of answers up to
 * the window; a loss halves it once per round trip, a timeout closes it
 * to 1, and it opens again. */
static void
test_cwnd_paces_burst(void **st)
{
    struct rel_tx tx;
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    uint32_t ids[256], lost[2];
    uint64_t now = 0;
    uint16_t expect = REL_CWND_INIT, before;
    int n;

    (void)st;
    init_tx(&tx, 256);
    rel_tx_reset(&tx, NULL, NULL);
    /* lossless round trips: 16, 32, 64, 128, 256, 256 */
    for (int round = 0; round < 6; round++) {
        while (rel_tx_space(&tx) > 0)
            assert_int_not_equal(rel_tx_submit(&tx, &m, NULL, now), 0);
        assert_int_equal(rel_tx_submit(&tx, &m, NULL, now), 0);
        n = send_due(&tx, now, ids);
        assert_int_equal(n, expect);
        assert_int_equal(tx.outstanding, expect);
        assert_true(tx.outstanding <= tx.cwnd);
        now += 10;
        for (int i = 0; i < n; i++)
            assert_int_equal(rel_tx_ack(&tx, ids[i], NULL, NULL, now), 1);
        expect = expect * 2 > 256 ? 256 : (uint16_t)(expect * 2);
        assert_int_equal(tx.cwnd, expect);
    }
    /* a round of 256 with two losses: one cut, to half */
    while (rel_tx_space(&tx) > 0)
        rel_tx_submit(&tx, &m, NULL, now);
    assert_int_equal(send_due(&tx, now, ids), 256);
    lost[0] = ids[10];
    lost[1] = ids[100];
    now += 10;
    for (int i = 0; i < 256; i++)
        if (i != 10 && i != 100)
            assert_int_equal(rel_tx_ack(&tx, ids[i], NULL, NULL, now), 1);
    assert_int_equal(tx.ssthresh, 128);
    assert_true(tx.cwnd >= 128 && tx.cwnd <= 130); /* +1 per cwnd answers */
    assert_int_equal(send_due(&tx, now, ids), 2);
    assert_int_equal(tx.retransmits, 2);
    /* nothing answered for a whole timeout: closed to 1, and what is
     * outstanding (the two) is sent again */
    before = tx.cwnd;
    now = rel_tx_next_due(&tx);
    assert_int_equal(send_due(&tx, now, NULL), 2);
    assert_int_equal(tx.cwnd, 1);
    assert_int_equal(tx.ssthresh, before / 2);
    assert_int_equal(rel_tx_space(&tx), 0);
    /* answers open it again, one per answer below ssthresh */
    now += 10;
    assert_int_equal(rel_tx_ack(&tx, lost[0], NULL, NULL, now), 1);
    assert_int_equal(rel_tx_ack(&tx, lost[1], NULL, NULL, now), 1);
    assert_int_equal(tx.cwnd, 3);
    assert_int_equal(rel_tx_space(&tx), 3);
    rel_tx_free(&tx);
}

/* A peer drops a run of requests over its rate: they are seen lost as
 * later ones are answered, the window is cut once, and they go again only
 * as far as the cut window leaves room beside what is still in flight,
 * the rest as answers come back (not all at once into the same empty
 * bucket). */
static void
test_lost_run_paced(void **st)
{
    struct rel_tx tx;
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    uint32_t ids[64], again[64];
    uint64_t now = 0;
    int n;

    (void)st;
    init_tx(&tx, 64);
    for (int round = 0; round < 3; round++) { /* 16, 32, then 64 */
        while (rel_tx_space(&tx) > 0)
            rel_tx_submit(&tx, &m, NULL, now);
        n = send_due(&tx, now, ids);
        now += 5;
        for (int i = 0; i < n; i++)
            rel_tx_ack(&tx, ids[i], NULL, NULL, now);
    }
    assert_int_equal(tx.cwnd, 64);
    while (rel_tx_space(&tx) > 0)
        rel_tx_submit(&tx, &m, NULL, now);
    assert_int_equal(send_due(&tx, now, ids), 64);
    now += 5;
    /* 1..16 answered, 17..48 dropped, 49..52 answered, 53..64 in flight */
    for (int i = 0; i < 16; i++)
        assert_int_equal(rel_tx_ack(&tx, ids[i], NULL, NULL, now), 1);
    for (int i = 48; i < 52; i++)
        assert_int_equal(rel_tx_ack(&tx, ids[i], NULL, NULL, now), 1);
    assert_int_equal(tx.cwnd, 32);
    assert_int_equal(tx.nagain, 32);
    /* 12 in flight: 20 of the 32 go again now, the oldest first */
    assert_int_equal(send_due(&tx, now, again), 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(again[i], ids[16 + i]);
    assert_int_equal(send_due(&tx, now, NULL), 0);
    assert_int_equal(rel_tx_next_due(&tx), now + 200); /* the timer */
    /* the 12 answered: room for the other 12 */
    now += 5;
    for (int i = 52; i < 64; i++)
        assert_int_equal(rel_tx_ack(&tx, ids[i], NULL, NULL, now), 1);
    assert_true(rel_tx_next_due(&tx) <= now); /* due: room again */
    assert_int_equal(send_due(&tx, now, again), 12);
    assert_int_equal(again[0], ids[36]);
    assert_int_equal(tx.retransmits, 32);
    assert_int_equal(tx.cwnd, 32); /* cut once for the whole run */
    rel_tx_free(&tx);
}

/* ---- receiver ----------------------------------------------------------- */
static struct rel_resp
mkresp(uint32_t txid, uint16_t status, uint16_t tag)
{
    struct rel_resp r;

    memset(&r, 0, sizeof(r));
    r.txid = txid;
    r.status = status;
    r.req_type = NVDP_MSG_VN_CONNECT;
    r.tag = tag;
    r.has_tag = tag != 0;
    return r;
}

static void
test_rx_size_rounding(void **st)
{
    struct rel_rx rx;

    (void)st;
    assert_int_equal(rel_rx_init(&rx, 300), 0);
    assert_int_equal(rx.size, 512);
    rel_rx_free(&rx);
    assert_int_equal(rel_rx_init(&rx, 0), 0);
    assert_int_equal(rx.size, 512);
    rel_rx_free(&rx);
    assert_int_equal(rel_rx_init(&rx, 60000), 0);
    assert_int_equal(rx.size, 2 * REL_WINDOW_MAX);
    rel_rx_free(&rx);
}

static void
test_rx_dup_answered_from_cache(void **st)
{
    struct rel_rx rx;
    const struct rel_resp *c;
    struct rel_resp r = mkresp(1, NVDP_ST_OK, 100);

    (void)st;
    rel_rx_init(&rx, 8);
    rel_rx_reset(&rx, 0xabc);
    assert_int_equal(rel_rx_check(&rx, 1, &c), REL_NEW);
    assert_null(c);
    /* Not stored yet (e.g. the handler failed): still new. */
    assert_int_equal(rel_rx_check(&rx, 1, &c), REL_NEW);
    strcpy(r.reason, "why");
    rel_rx_store(&rx, &r);
    assert_int_equal(rel_rx_check(&rx, 1, &c), REL_DUP);
    assert_non_null(c);
    assert_int_equal(c->txid, 1);
    assert_int_equal(c->tag, 100);
    assert_int_equal(c->has_tag, 1);
    assert_string_equal(c->reason, "why");
    assert_int_equal(rx.dups, 1);
    /* An error answer is cached the same way. */
    r = mkresp(2, NVDP_ST_UNKNOWN_VN, 0);
    assert_int_equal(rel_rx_check(&rx, 2, &c), REL_NEW);
    rel_rx_store(&rx, &r);
    assert_int_equal(rel_rx_check(&rx, 2, &c), REL_DUP);
    assert_int_equal(c->status, NVDP_ST_UNKNOWN_VN);
    rel_rx_free(&rx);
}

/* Answers keep their reason by reference to the latest distinct reasons:
 * a flood's identical refusals share one; an answer whose reason was
 * replaced by REL_REASONS newer ones is re-sent without it, never with
 * another's. */
static void
test_rx_cache_reasons(void **st)
{
    struct rel_rx rx;
    const struct rel_resp *c;
    struct rel_resp r;

    (void)st;
    assert_true(sizeof(struct rel_kept) <= 16);
    rel_rx_init(&rx, 64);
    rel_rx_reset(&rx, 1);
    for (uint32_t t = 1; t <= 20; t++) {
        r = mkresp(t, NVDP_ST_LIMIT, 0);
        strcpy(r.reason, "port is crowded");
        rel_rx_store(&rx, &r);
    }
    assert_int_equal(rel_rx_check(&rx, 3, &c), REL_DUP);
    assert_string_equal(c->reason, "port is crowded");
    assert_int_equal(c->status, NVDP_ST_LIMIT);
    /* REL_REASONS - 1 other reasons: the first still kept */
    for (uint32_t t = 21; t < 21 + REL_REASONS - 1; t++) {
        r = mkresp(t, NVDP_ST_LIMIT, 0);
        snprintf(r.reason, sizeof(r.reason), "reason %u", t);
        rel_rx_store(&rx, &r);
    }
    assert_int_equal(rel_rx_check(&rx, 20, &c), REL_DUP);
    assert_string_equal(c->reason, "port is crowded");
    /* one more: it replaces the oldest */
    r = mkresp(30, NVDP_ST_NO_TAGS, 0);
    strcpy(r.reason, "no free tag");
    rel_rx_store(&rx, &r);
    assert_int_equal(rel_rx_check(&rx, 20, &c), REL_DUP);
    assert_string_equal(c->reason, "");
    assert_int_equal(c->status, NVDP_ST_LIMIT);
    assert_int_equal(rel_rx_check(&rx, 30, &c), REL_DUP);
    assert_string_equal(c->reason, "no free tag");
    assert_int_equal(rel_rx_check(&rx, 21, &c), REL_DUP);
    assert_string_equal(c->reason, "reason 21");
    /* an answer without a reason, and the slot reused by a later txid */
    r = mkresp(31, NVDP_ST_OK, 7);
    rel_rx_store(&rx, &r);
    assert_int_equal(rel_rx_check(&rx, 31, &c), REL_DUP);
    assert_string_equal(c->reason, "");
    assert_int_equal(c->tag, 7);
    r = mkresp(31 + 64, NVDP_ST_OK, 8);
    rel_rx_store(&rx, &r);
    assert_int_equal(rel_rx_check(&rx, 31 + 64, &c), REL_DUP);
    assert_int_equal(c->tag, 8);
    rel_rx_free(&rx);
}

static void
test_rx_reordering_and_stale(void **st)
{
    struct rel_rx rx;
    const struct rel_resp *c;
    struct rel_resp r;

    (void)st;
    rel_rx_init(&rx, 8); /* 8 slots */
    /* 5 arrives before 3 and 4. */
    assert_int_equal(rel_rx_check(&rx, 5, &c), REL_NEW);
    r = mkresp(5, 0, 5);
    rel_rx_store(&rx, &r);
    assert_int_equal(rx.hi, 5);
    assert_int_equal(rel_rx_check(&rx, 3, &c), REL_NEW);
    r = mkresp(3, 0, 3);
    rel_rx_store(&rx, &r);
    assert_int_equal(rx.hi, 5); /* hi does not go back */
    assert_int_equal(rel_rx_check(&rx, 4, &c), REL_NEW);
    assert_int_equal(rel_rx_check(&rx, 3, &c), REL_DUP);
    assert_int_equal(c->tag, 3);
    /* Move far ahead: 20 overwrites slot 4 (20 & 7 == 4). */
    for (uint32_t t = 6; t <= 20; t++) {
        assert_int_equal(rel_rx_check(&rx, t, &c), REL_NEW);
        r = mkresp(t, 0, (uint16_t)t);
        rel_rx_store(&rx, &r);
    }
    /* 13..20 are within reach (hi - txid < 8), 12 and older are stale. */
    assert_int_equal(rel_rx_check(&rx, 13, &c), REL_DUP);
    assert_int_equal(c->tag, 13);
    uint64_t s0 = rx.stale;
    assert_int_equal(rel_rx_check(&rx, 12, &c), REL_STALE);
    assert_null(c);
    assert_int_equal(rel_rx_check(&rx, 3, &c), REL_STALE);
    assert_int_equal(rel_rx_check(&rx, 0, &c), REL_STALE);
    assert_int_equal(rx.stale, s0 + 3);
    rel_rx_free(&rx);
}

static void
test_rx_reset_on_epoch_change(void **st)
{
    struct rel_rx rx;
    const struct rel_resp *c;
    struct rel_resp r = mkresp(7, 0, 1);

    (void)st;
    rel_rx_init(&rx, 16);
    rel_rx_reset(&rx, 111);
    rel_rx_store(&rx, &r);
    assert_int_equal(rel_rx_check(&rx, 7, &c), REL_DUP);
    /* Peer restarted: its txids restart at 1, and 7 is a new request. */
    rel_rx_reset(&rx, 222);
    assert_int_equal(rx.epoch, 222);
    assert_int_equal(rx.hi, 0);
    assert_int_equal(rel_rx_check(&rx, 7, &c), REL_NEW);
    assert_int_equal(rel_rx_check(&rx, 1, &c), REL_NEW);
    assert_int_equal(rx.dups, 1); /* counters survive the reset */
    rel_rx_free(&rx);
}

/* The peer's RESYNC BEGIN: it dropped what it sent before, so a copy of an
 * older request still on the way is stale, never applied (spec 10.4). */
static void
test_rx_floor(void **st)
{
    struct rel_rx rx;
    const struct rel_resp *c;
    struct rel_resp r;

    (void)st;
    rel_rx_init(&rx, 16);
    rel_rx_reset(&rx, 111);
    for (uint32_t t = 1; t <= 6; t += 5) { /* 1 and 6 seen, 2..5 not */
        r = mkresp(t, 0, 0);
        rel_rx_store(&rx, &r);
    }
    assert_int_equal(rel_rx_check(&rx, 4, &c), REL_NEW); /* reordered */
    rel_rx_floor(&rx, 7);           /* BEGIN is txid 7 */
    r = mkresp(7, 0, 0);
    rel_rx_store(&rx, &r);
    assert_int_equal(rel_rx_check(&rx, 4, &c), REL_STALE);
    assert_null(c);
    assert_int_equal(rel_rx_check(&rx, 6, &c), REL_STALE);
    assert_int_equal(rel_rx_check(&rx, 7, &c), REL_DUP); /* BEGIN again */
    assert_int_equal(rel_rx_check(&rx, 8, &c), REL_NEW);
    /* an older BEGIN does not move the floor back */
    rel_rx_floor(&rx, 3);
    assert_int_equal(rel_rx_check(&rx, 5, &c), REL_STALE);
    /* a new epoch starts without a floor */
    rel_rx_reset(&rx, 222);
    assert_int_equal(rel_rx_check(&rx, 4, &c), REL_NEW);
    rel_rx_free(&rx);
}

static void
test_rx_wrap(void **st)
{
    struct rel_rx rx;
    const struct rel_resp *c;
    struct rel_resp r;

    (void)st;
    rel_rx_init(&rx, 8);
    r = mkresp(0xFFFFFFFEu, 0, 1);
    rel_rx_store(&rx, &r);
    r = mkresp(0xFFFFFFFFu, 0, 2);
    rel_rx_store(&rx, &r);
    /* After the wrap: 1 is ahead, not ancient. */
    assert_int_equal(rel_rx_check(&rx, 1, &c), REL_NEW);
    r = mkresp(1, 0, 3);
    rel_rx_store(&rx, &r);
    assert_int_equal(rx.hi, 1);
    /* Entries from before the wrap are still duplicates. */
    assert_int_equal(rel_rx_check(&rx, 0xFFFFFFFFu, &c), REL_DUP);
    assert_int_equal(c->tag, 2);
    assert_int_equal(rel_rx_check(&rx, 0xFFFFFFFEu, &c), REL_DUP);
    assert_int_equal(rel_rx_check(&rx, 0xFFFFFFF0u, &c), REL_STALE);
    rel_rx_free(&rx);
}

/* ---- both ends through a lossy, reordering channel ---------------------- */
#define SIM_N 300

struct sim {
    struct rel_tx tx;
    struct rel_rx rx;
    int applied[SIM_N + 1];  /* by request index: times applied */
    int acked[SIM_N + 1];
    unsigned rng;
    int drop_req_pct, drop_resp_pct;
    uint64_t req_sent, resp_sent;
};

static unsigned
sim_rand(struct sim *s)
{
    s->rng = s->rng * 1103515245u + 12345u;
    return (s->rng >> 16) & 0x7fff;
}

/* Receiver: classify, apply once, answer (from cache for a duplicate). */
static int
sim_receive(struct sim *s, const struct nvdp_msg *req, struct rel_resp *ans)
{
    const struct rel_resp *c;

    switch (rel_rx_check(&s->rx, req->txid, &c)) {
    case REL_NEW:
        s->applied[req->tag_hint]++;
        *ans = mkresp(req->txid, 0, req->tag_hint);
        rel_rx_store(&s->rx, ans);
        return 1;
    case REL_DUP:
        *ans = *c;
        return 1;
    case REL_STALE:
        break;
    }
    return 0;
}

static void
sim_run(struct sim *s, int window)
{
    struct nvdp_msg m = mkmsg(NVDP_MSG_ASSOC, 0);
    const struct nvdp_msg *out[64];
    struct nvdp_msg batch[64];
    struct rel_resp ans[64];
    uint64_t now = 0;
    int next = 1, done = 0;

    struct rel_params p = {(uint16_t)window, 200, 3200, 30};

    /* More tries than the default: heavy random loss must not make a
     * request give up here; giveup has its own test. */
    assert_int_equal(rel_tx_init(&s->tx, &p), 0);
    rel_rx_init(&s->rx, (uint16_t)(2 * window));
    while (done < SIM_N) {
        while (next <= SIM_N && rel_tx_space(&s->tx) > 0) {
            m.tag_hint = (uint16_t)next;
            assert_int_not_equal(
                rel_tx_submit(&s->tx, &m, (void *)(uintptr_t)next, now), 0);
            next++;
        }
        int n = rel_tx_due(&s->tx, now, out, 64, NULL, NULL);
        int nb = 0;
        for (int i = 0; i < n; i++) {
            s->req_sent++;
            if ((int)(sim_rand(s) % 100) >= s->drop_req_pct)
                batch[nb++] = *out[i];
        }
        /* The channel reverses every other batch: reordering. */
        if (sim_rand(s) & 1)
            for (int i = 0; i < nb / 2; i++) {
                struct nvdp_msg t = batch[i];
                batch[i] = batch[nb - 1 - i];
                batch[nb - 1 - i] = t;
            }
        int na = 0;
        for (int i = 0; i < nb; i++)
            if (sim_receive(s, &batch[i], &ans[na]))
                na++;
        for (int i = 0; i < na; i++) {
            void *u;
            s->resp_sent++;
            if ((int)(sim_rand(s) % 100) < s->drop_resp_pct)
                continue;
            if (rel_tx_ack(&s->tx, ans[i].txid, &u, NULL, 0)) {
                int idx = (int)(uintptr_t)u;
                assert_int_equal(ans[i].tag, idx); /* the right answer */
                s->acked[idx]++;
                done++;
            }
        }
        uint64_t nd = rel_tx_next_due(&s->tx);
        now = nd == UINT64_MAX ? now + 1 : (nd > now ? nd : now);
        assert_true(now < 10000000); /* no livelock */
    }
    assert_int_equal(s->tx.giveups, 0);
    /* A retransmission never falls out of the receiver's reach. */
    assert_int_equal(s->rx.stale, 0);
    for (int i = 1; i <= SIM_N; i++) {
        assert_int_equal(s->applied[i], 1); /* exactly once */
        assert_int_equal(s->acked[i], 1);
    }
    rel_tx_free(&s->tx);
    rel_rx_free(&s->rx);
}

static void
test_sim_lossless(void **st)
{
    struct sim *s = calloc(1, sizeof(*s));

    (void)st;
    s->rng = 1;
    sim_run(s, 16);
    assert_int_equal(s->tx.retransmits, 0);
    assert_int_equal(s->rx.dups, 0);
    free(s);
}

static void
test_sim_request_loss(void **st)
{
    struct sim *s = calloc(1, sizeof(*s));

    (void)st;
    s->rng = 7;
    s->drop_req_pct = 30;
    sim_run(s, 16);
    assert_true(s->tx.retransmits > 0);
    free(s);
}

static void
test_sim_response_loss(void **st)
{
    struct sim *s = calloc(1, sizeof(*s));

    (void)st;
    s->rng = 11;
    s->drop_resp_pct = 30;
    sim_run(s, 16);
    /* Lost answers cause retransmissions, answered from the cache. */
    assert_true(s->tx.retransmits > 0);
    assert_true(s->rx.dups > 0);
    free(s);
}

static void
test_sim_both_loss_small_window(void **st)
{
    struct sim *s = calloc(1, sizeof(*s));

    (void)st;
    s->rng = 99;
    s->drop_req_pct = 25;
    s->drop_resp_pct = 25;
    sim_run(s, 4);
    assert_true(s->rx.dups > 0);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_params_rejected),
        cmocka_unit_test(test_submit_order_and_due),
        cmocka_unit_test(test_due_max_batches),
        cmocka_unit_test(test_new_before_retransmit),
        cmocka_unit_test(test_window_full),
        cmocka_unit_test(test_set_window),
        cmocka_unit_test(test_rto_from_round_trips),
        cmocka_unit_test(test_ack_returns_user_and_req),
        cmocka_unit_test(test_stray_acks),
        cmocka_unit_test(test_backoff_doubles_to_max_then_giveup),
        cmocka_unit_test(test_backoff_custom_max),
        cmocka_unit_test(test_giveup_callback_may_resubmit),
        cmocka_unit_test(test_kick),
        cmocka_unit_test(test_reset_reports_in_order),
        cmocka_unit_test(test_txid_wrap),
        cmocka_unit_test(test_one_lost_exactly_it),
        cmocka_unit_test(test_slow_peer_no_retransmission),
        cmocka_unit_test(test_cwnd_paces_burst),
        cmocka_unit_test(test_lost_run_paced),
        cmocka_unit_test(test_rx_size_rounding),
        cmocka_unit_test(test_rx_dup_answered_from_cache),
        cmocka_unit_test(test_rx_cache_reasons),
        cmocka_unit_test(test_rx_reordering_and_stale),
        cmocka_unit_test(test_rx_reset_on_epoch_change),
        cmocka_unit_test(test_rx_floor),
        cmocka_unit_test(test_rx_wrap),
        cmocka_unit_test(test_sim_lossless),
        cmocka_unit_test(test_sim_request_loss),
        cmocka_unit_test(test_sim_response_loss),
        cmocka_unit_test(test_sim_both_loss_small_window),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
