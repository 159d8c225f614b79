/* test_nvdp_session.c - the NVDP session both roles share: the frame
 * opener and its classes of malformed input, the batching writer, the
 * duplicate cache and answers, the window and its queue, epochs and the
 * scope of answers; and both daemons' engines fed every golden malformed
 * frame, which they must reject alike (protocol-spec/nvdp.md section 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "golden.h"
#include "hv.h"
#include "nvdp_session.h"
#include "nve.h"

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0x01, 0x01};
static const uint8_t NVE_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
#define HV_EPOCH 0x11223344u
#define NVE_EPOCH 0x55667788u

/* ---- a capture of what an endpoint sends -------------------------------- */
#define CAP_MAX 64
struct cap {
    uint8_t buf[CAP_MAX][NVDP_FRAME_MAX];
    size_t len[CAP_MAX];
    unsigned link[CAP_MAX];
    int n;
    int fail; /* send returns -1 */
};

static int
cap_send(void *arg, unsigned link, const uint8_t dst[6], const uint8_t *buf,
         size_t len)
{
    struct cap *c = arg;

    (void)dst;
    if (c->fail)
        return -1;
    assert_true(c->n < CAP_MAX);
    memcpy(c->buf[c->n], buf, len);
    c->len[c->n] = len;
    c->link[c->n] = link;
    c->n++;
    return 0;
}

/* The messages of captured frame i (at most max) and its header. */
static int
cap_msgs(const struct cap *c, int i, struct nvdp_msg *out, int max,
         struct nvdp_hdr *hdr)
{
    struct nvdp_reader r;
    int n = 0;

    assert_int_equal(nvdp_frame_open(&r, c->buf[i], c->len[i]), 0);
    if (hdr != NULL)
        *hdr = r.hdr;
    while (n < max && nvdp_frame_next(&r, &out[n]) > 0)
        n++;
    return n;
}

struct fx {
    struct cap cap;
    struct nvdp_endpoint ep;
    struct nvdp_session s;
    struct nvdp_out o;
    struct nvdp_msg m[64];
    uint8_t frame[NVDP_FRAME_MAX];
    struct nvdp_writer w;
};

static struct fx *
fx_new(uint8_t role)
{
    struct fx *x = calloc(1, sizeof(*x));
    static const struct rel_params rp = {8, 100, 800, 3};

    assert_non_null(x);
    log_init("test", 1, 0);
    nvdp_endpoint_init(&x->ep, role, role == NVDP_ROLE_HV ? HV_EPOCH
                                                          : NVE_EPOCH,
                       cap_send, &x->cap);
    nvdp_endpoint_hello(&x->ep, 10, 1000, 8, "me");
    assert_int_equal(nvdp_sess_init(&x->s, &x->ep,
                                    role == NVDP_ROLE_HV ? NVE_MAC : HV_MAC,
                                    role == NVDP_ROLE_HV ? NVE_EPOCH
                                                         : HV_EPOCH, 16),
                     0);
    assert_int_equal(nvdp_sess_tx_init(&x->s, &rp, 4), 0);
    return x;
}

static void
fx_free(struct fx *x)
{
    nvdp_sess_free(&x->s);
    free(x);
}

static struct nvdp_msg *
req(struct nvdp_msg *m, uint16_t type, uint32_t txid)
{
    nvdp_msg_init(m, type);
    m->txid = txid;
    if (type == NVDP_MSG_RESYNC) {
        m->has_phase = 1;
        m->phase = NVDP_RESYNC_BEGIN;
    }
    if (type == NVDP_MSG_WITHDRAW) {
        m->vn.kind = NVDP_VN_VNI;
        m->vn.vni = 10100;
        snprintf(m->reason, sizeof(m->reason), "test");
    }
    return m;
}

/* A frame from the peer: header, then the messages. */
static size_t
frame(struct fx *x, uint8_t flags, const struct nvdp_msg *m, int n)
{
    nvdp_writer_init(&x->w, x->frame, sizeof(x->frame), HV_EPOCH, NVE_EPOCH);
    for (int i = 0; i < n; i++)
        assert_int_equal(nvdp_writer_add(&x->w, &m[i]), 0);
    size_t len = nvdp_writer_finish(&x->w);
    x->frame[1] |= flags;
    return len;
}

/* ---- counters ----------------------------------------------------------- */

static void
t_counts_in_every_set(void **st)
{
    struct nvdp_counters a = {0}, b = {0};
    struct nvdp_cnt k = {{&a, NULL, &b}};

    (void)st;
    NVDP_COUNT(&k, rx_dup);
    NVDP_COUNT_N(&k, tx_msgs, 5);
    NVDP_COUNT_AT(&k, status, NVDP_ST_LIMIT);
    assert_int_equal(a.rx_dup, 1);
    assert_int_equal(b.rx_dup, 1);
    assert_int_equal(a.tx_msgs, 5);
    assert_int_equal(b.status[NVDP_ST_LIMIT], 1);
    assert_int_equal(nvdp_type_idx(NVDP_MSG_VNIC_STATE), 0x0B);
    assert_int_equal(nvdp_type_idx(NVDP_MSG_AUTH), 0);
}

/* ---- the opener --------------------------------------------------------- */

/* Feeds buf from src; returns nvdp_in_open()'s result. */
static int
open_from(struct fx *x, struct nvdp_in *in, const uint8_t src[6],
          const uint8_t *buf, size_t len)
{
    nvdp_in_init(in, &x->ep, &x->s.cnt, src, "p0");
    return nvdp_in_open(in, buf, len);
}

static void
t_open_rules(void **st)
{
    struct fx *x = fx_new(NVDP_ROLE_NVE);
    static const uint8_t group[6] = NVDP_GROUP_MAC_DEFAULT, zero[6];
    struct nvdp_in in;
    size_t len;

    (void)st;
    nvdp_hello_msg(&x->m[0], NVDP_ROLE_HV, 10, 1000, 8, "hv");
    len = frame(x, 0, x->m, 1);
    assert_int_equal(open_from(x, &in, HV_MAC, x->frame, len), 0);
    assert_int_equal(x->s.c.rx_frames, 1);
    /* a group or zero source MAC (spec 2) */
    assert_int_equal(open_from(x, &in, group, x->frame, len), -1);
    assert_int_equal(open_from(x, &in, zero, x->frame, len), -1);
    assert_int_equal(x->s.c.rx_malformed, 2);
    assert_int_equal(x->s.c.decode_err[-NVDP_E_VALUE], 2);
    /* truncated, another version */
    assert_int_equal(open_from(x, &in, HV_MAC, x->frame, len - 1), -1);
    assert_int_equal(x->s.c.rx_malformed, 3);
    x->frame[0] = 2;
    assert_int_equal(open_from(x, &in, HV_MAC, x->frame, len), -1);
    assert_int_equal(x->s.c.rx_bad_version, 1);
    /* the AUTH flag while authentication is not configured, with or
     * without a well-placed AUTH TLV */
    len = frame(x, NVDP_HF_AUTH, x->m, 1);
    assert_int_equal(open_from(x, &in, HV_MAC, x->frame, len), -1);
    assert_int_equal(x->s.c.auth_unsupported, 1);
    assert_int_equal(x->s.c.rx_malformed, 3);
    /* an AUTH TLV the header does not announce, after a valid message:
     * nothing of the frame is read (spec 8) */
    memcpy(x->frame + len, "\x80\xff\x00\x2c", 4);
    memset(x->frame + len + 4, 0, 44);
    x->frame[1] = 0;
    x->frame[2] = (uint8_t)((len + 48 - NVDP_HDR_LEN) >> 8);
    x->frame[3] = (uint8_t)(len + 48 - NVDP_HDR_LEN);
    assert_int_equal(open_from(x, &in, HV_MAC, x->frame, len + 48), -1);
    assert_int_equal(x->s.c.rx_malformed, 4);
    assert_int_equal(x->s.c.decode_err[-NVDP_E_AUTH], 1);
    assert_int_equal(x->s.c.rx_msgs, 0);
    /* a frame-level reason of the caller's */
    nvdp_in_init(&in, &x->ep, &x->s.cnt, HV_MAC, NULL);
    nvdp_in_reject(&in, NVDP_E_VALUE);
    assert_int_equal(x->s.c.rx_malformed, 5);
    fx_free(x);
}

static void
t_next_classes(void **st)
{
    struct fx *x = fx_new(NVDP_ROLE_NVE);
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    struct nvdp_in in;
    size_t len;

    (void)st;
    assert_non_null(m);
    /* a VN_CONNECT without its VN, a RESYNC, an unknown optional TLV */
    req(&x->m[0], NVDP_MSG_RESYNC, 7);
    len = frame(x, 0, x->m, 1);
    /* 7: VN_CONNECT txid 5 with only a VNIC (E_MISSING: answerable) */
    static const uint8_t bad[] = {0x80, 0x03, 0x00, 0x18, 0, 0, 0, 5,
                                  0x81, 0x01, 0x00, 0x10, 1, 2, 3, 4, 5, 6,
                                  7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    /* an ASSOC too short for its txid: no answer (rx_short_txid) */
    static const uint8_t shorty[] = {0x80, 0x05, 0x00, 0x02, 0, 1};
    static const uint8_t skip[] = {0x01, 0x23, 0x00, 0x02, 0xab, 0xcd};
    memcpy(x->frame + len, bad, sizeof(bad));
    len += sizeof(bad);
    memcpy(x->frame + len, shorty, sizeof(shorty));
    len += sizeof(shorty);
    memcpy(x->frame + len, skip, sizeof(skip));
    len += sizeof(skip);
    x->frame[2] = (uint8_t)((len - NVDP_HDR_LEN) >> 8);
    x->frame[3] = (uint8_t)(len - NVDP_HDR_LEN);
    assert_int_equal(open_from(x, &in, HV_MAC, x->frame, len), 0);
    assert_int_equal(nvdp_in_next(&in, m), NVDP_IN_MSG);
    assert_int_equal(m->type, NVDP_MSG_RESYNC);
    assert_int_equal(nvdp_in_next(&in, m), NVDP_IN_BAD);
    assert_int_equal(m->type, NVDP_MSG_VN_CONNECT);
    assert_int_equal(m->txid, 5);
    assert_int_equal(in.err, NVDP_E_MISSING);
    assert_int_equal(nvdp_in_next(&in, m), NVDP_IN_END);
    assert_int_equal(x->s.c.rx_msgs, 3);
    assert_int_equal(x->s.c.rx_type[nvdp_type_idx(NVDP_MSG_ASSOC)], 1);
    assert_int_equal(x->s.c.rx_msg_errors, 1);
    assert_int_equal(x->s.c.rx_short_txid, 1);
    assert_int_equal(x->s.c.rx_unknown_skipped, 1);
    assert_int_equal(x->s.c.rx_malformed, 0);
    /* a TLV running past the frame: the rest of it is lost */
    len = frame(x, 0, x->m, 1);
    x->frame[NVDP_HDR_LEN + 3] = 200;
    assert_int_equal(open_from(x, &in, HV_MAC, x->frame, len), 0);
    assert_int_equal(nvdp_in_next(&in, m), NVDP_IN_END);
    assert_int_equal(x->s.c.rx_malformed, 1);
    free(m);
    fx_free(x);
}

/* ---- the writer --------------------------------------------------------- */

static void
t_out_batches_to_mtu(void **st)
{
    struct fx *x = fx_new(NVDP_ROLE_NVE);
    struct nvdp_hdr hdr;
    int total = 0;

    (void)st;
    /* frames of at most 256 bytes, in the session: peer_epoch is the
     * hypervisor's only once it is in session, from the next frame on */
    nvdp_out_init(&x->o, &x->ep, &x->s, NULL, 3, HV_MAC, 256);
    for (uint32_t t = 1; t <= 40; t++) {
        if (t == 21)
            x->s.open = 1;
        struct rel_resp r;
        nvdp_resp_init(&r, req(&x->m[1], NVDP_MSG_ASSOC, t),
                       t % 2 ? NVDP_ST_OK : NVDP_ST_NO_TAGS, "x");
        nvdp_out_answer(&x->o, &r);
    }
    nvdp_out_flush(&x->o);
    assert_true(x->cap.n > 2);
    for (int i = 0; i < x->cap.n; i++) {
        assert_true(x->cap.len[i] <= 256);
        assert_int_equal(x->cap.link[i], 3);
        total += cap_msgs(&x->cap, i, x->m, 64, &hdr);
        assert_int_equal(hdr.epoch, NVE_EPOCH);
        if (i == 0)
            assert_int_equal(hdr.peer_epoch, 0);
        if (i == x->cap.n - 1)
            assert_int_equal(hdr.peer_epoch, HV_EPOCH);
    }
    assert_int_equal(total, 40);
    assert_int_equal(x->s.c.tx_msgs, 40);
    assert_int_equal(x->s.c.tx_frames, (uint64_t)x->cap.n);
    assert_int_equal(x->s.c.status[NVDP_ST_NO_TAGS], 20);
    assert_int_equal(x->s.c.tx_type[nvdp_type_idx(NVDP_MSG_RESPONSE)], 40);
    /* a link that refuses the frame */
    x->cap.fail = 1;
    nvdp_out_hello(&x->o);
    nvdp_out_flush(&x->o);
    assert_int_equal(x->s.c.tx_errors, 1);
    /* a message no frame can carry is our bug: counted, not sent */
    x->cap.fail = 0;
    req(&x->m[0], NVDP_MSG_ASSOC, 0); /* txid 0 is refused by the codec */
    assert_int_equal(nvdp_out_add(&x->o, &x->m[0]), -1);
    assert_int_equal(x->s.c.tx_errors, 2);
    fx_free(x);
}

/* ---- the peer's requests ------------------------------------------------ */

static void
t_duplicates_answered_from_cache(void **st)
{
    struct fx *x = fx_new(NVDP_ROLE_HV);
    struct rel_resp r;
    struct nvdp_msg got[4];

    (void)st;
    req(&x->m[0], NVDP_MSG_WITHDRAW, 9);
    assert_int_equal(nvdp_sess_request_new(&x->s, NULL, &x->m[0]), 1);
    nvdp_resp_init(&r, &x->m[0], NVDP_ST_OK, NULL);
    nvdp_sess_answer(&x->s, NULL, &r);
    /* the retransmission is answered again, not applied */
    assert_int_equal(nvdp_sess_request_new(&x->s, NULL, &x->m[0]), 0);
    assert_int_equal(x->s.c.rx_dup, 1);
    /* a malformed request goes through the cache too */
    req(&x->m[1], NVDP_MSG_ASSOC, 10);
    nvdp_sess_answer_error(&x->s, NULL, &x->m[1], NVDP_E_TOOMANY);
    nvdp_sess_answer_error(&x->s, NULL, &x->m[1], NVDP_E_TOOMANY);
    assert_int_equal(x->s.c.rx_dup, 2);
    assert_int_equal(x->s.nans, 4);
    nvdp_out_init(&x->o, &x->ep, &x->s, NULL, 0, NVE_MAC, 1500);
    nvdp_sess_put_answers(&x->s, &x->o);
    nvdp_out_flush(&x->o);
    assert_int_equal(x->s.nans, 0);
    assert_int_equal(x->cap.n, 1);
    assert_int_equal(cap_msgs(&x->cap, 0, got, 4, NULL), 4);
    assert_int_equal(got[0].txid, 9);
    assert_int_equal(got[1].txid, 9);
    assert_int_equal(got[1].status, NVDP_ST_OK);
    assert_int_equal(got[3].txid, 10);
    assert_int_equal(got[3].status, NVDP_ST_LIMIT);
    assert_int_equal(x->s.c.status[NVDP_ST_LIMIT], 2);
    /* after the peer's resync floor older txids are stale (spec 10.4) */
    rel_rx_floor(&x->s.rx, 20);
    req(&x->m[2], NVDP_MSG_WITHDRAW, 15);
    assert_int_equal(nvdp_sess_request_new(&x->s, NULL, &x->m[2]), 0);
    assert_int_equal(x->s.c.rx_stale, 1);
    /* a new peer epoch: txids begin again */
    assert_int_equal(nvdp_sess_epoch(&x->s, NVE_EPOCH + 1), 1);
    assert_int_equal(nvdp_sess_request_new(&x->s, NULL, &x->m[0]), 1);
    fx_free(x);
}

static void
t_answers_queue_bounded(void **st)
{
    struct fx *x = fx_new(NVDP_ROLE_HV);
    struct rel_resp r;

    (void)st;
    for (uint32_t t = 1; t <= NVDP_ANSWERS_MAX + 3; t++) {
        nvdp_resp_init(&r, req(&x->m[0], NVDP_MSG_WITHDRAW, t), NVDP_ST_OK,
                       NULL);
        nvdp_sess_answer(&x->s, NULL, &r);
    }
    assert_int_equal(x->s.nans, NVDP_ANSWERS_MAX);
    assert_int_equal(x->s.c.resp_dropped, 3);
    fx_free(x);
}

/* ---- our requests ------------------------------------------------------- */

struct giveups {
    struct fx *x;
    int calls, again;
};

/* As nve-agent does with a WITHDRAW: in line again under a new txid. */
static void
giveup_resubmit(void *arg, const struct nvdp_msg *m, void *user)
{
    struct giveups *g = arg;

    assert_ptr_equal(user, g->x);
    g->calls++;
    if (nvdp_sess_submit_queued(&g->x->s, m, user, 0) == 0)
        g->again++;
}

static void
t_window_queue_and_giveup(void **st)
{
    struct fx *x = fx_new(NVDP_ROLE_NVE);
    struct nvdp_hello hl = {.role = NVDP_ROLE_HV, .hold_time = 10,
                            .hello_interval = 1000, .window = 2};
    struct nvdp_msg *req_out = calloc(1, sizeof(*req_out));
    struct giveups g = {x, 0, 0};
    void *user;
    uint64_t now = 1000;

    (void)st;
    assert_non_null(req_out);
    /* one request at a time until the hypervisor's HELLO (spec 10.2) */
    assert_int_equal(nvdp_sess_tx_space(&x->s), 1);
    nvdp_sess_hello(&x->s, &hl);
    assert_int_equal(nvdp_sess_tx_space(&x->s), 2);
    for (int i = 0; i < 6; i++)
        assert_int_equal(nvdp_sess_submit_queued(
                             &x->s, req(&x->m[i], NVDP_MSG_WITHDRAW, 0), x,
                             now), 0);
    /* two in the window, four waiting, at most 4 wait */
    assert_int_equal(x->s.tx.outstanding, 2);
    assert_int_equal(x->s.wq_len, 4);
    assert_int_equal(nvdp_sess_submit_queued(
                         &x->s, req(&x->m[6], NVDP_MSG_WITHDRAW, 0), x, now),
                     -1);
    nvdp_out_init(&x->o, &x->ep, &x->s, NULL, 0, HV_MAC, 1500);
    nvdp_sess_put_due(&x->s, &x->o, now, giveup_resubmit, &g);
    nvdp_out_flush(&x->o);
    assert_int_equal(x->cap.n, 1);
    assert_int_equal(cap_msgs(&x->cap, 0, x->m, 8, NULL), 2);
    /* an answer outside our session changes nothing; one in it frees a
     * place that the queue takes */
    struct nvdp_msg resp;
    nvdp_msg_init(&resp, NVDP_MSG_RESPONSE);
    resp.txid = x->m[0].txid;
    resp.req_type = NVDP_MSG_WITHDRAW;
    assert_int_equal(nvdp_sess_response(&x->s, nvdp_sess_ours(&x->s, 0),
                                        &resp, req_out, &user, now), 0);
    assert_int_equal(x->s.c.rx_stray_responses, 1);
    assert_int_equal(nvdp_sess_response(&x->s,
                                        nvdp_sess_ours(&x->s, NVE_EPOCH),
                                        &resp, req_out, &user, now), 1);
    assert_ptr_equal(user, x);
    assert_int_equal(req_out->txid, resp.txid);
    assert_int_equal(x->s.tx.outstanding, 2);
    assert_int_equal(x->s.wq_len, 3);
    /* unanswered: retransmitted with backoff, then given up (3 tries),
     * and the callback puts them back in line under new txids */
    for (int i = 0; i < 20; i++) {
        now += 100;
        nvdp_sess_put_due(&x->s, &x->o, now, giveup_resubmit, &g);
    }
    nvdp_out_flush(&x->o);
    assert_true(x->s.c.tx_retransmits >= 4);
    assert_true(g.calls >= 2);
    assert_true(g.again >= 1);
    assert_int_equal(x->s.c.tx_giveups, (uint64_t)g.calls);
    /* the peer restarted: nothing of it stays */
    assert_int_equal(nvdp_sess_epoch(&x->s, HV_EPOCH + 1), 1);
    nvdp_sess_tx_reset(&x->s, NULL, NULL);
    assert_int_equal(x->s.tx.outstanding + x->s.wq_len, 0);
    free(req_out);
    fx_free(x);
}

static void
t_hypervisor_one_until_hello(void **st)
{
    struct fx *x = fx_new(NVDP_ROLE_HV);
    struct nvdp_hello hl = {.role = NVDP_ROLE_NVE, .hold_time = 3,
                            .hello_interval = 1000, .window = 64};

    (void)st;
    /* spec 10.2: one request until the NVE's HELLO says its window */
    assert_int_equal(nvdp_sess_tx_space(&x->s), 1);
    assert_int_not_equal(nvdp_sess_submit(&x->s, req(&x->m[0],
                                                     NVDP_MSG_RESYNC, 0),
                                          NULL, 0), 0);
    assert_int_equal(nvdp_sess_tx_space(&x->s), 0);
    assert_int_equal(nvdp_sess_submit(&x->s, req(&x->m[1], NVDP_MSG_RESYNC, 0),
                                      NULL, 0), 0);
    /* then min(own 8, its 64) */
    nvdp_sess_hello(&x->s, &hl);
    assert_int_equal(nvdp_sess_tx_space(&x->s), 7);
    /* a reload lowers ours */
    x->s.own_window = 4;
    assert_int_equal(nvdp_sess_tx_space(&x->s), 3);
    fx_free(x);
}

static void
t_epochs_and_scope(void **st)
{
    struct fx *hv = fx_new(NVDP_ROLE_HV), *nve = fx_new(NVDP_ROLE_NVE);
    uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x77};

    (void)st;
    /* a hypervisor names the NVE's epoch; takes answers naming its own, or
     * 0 while its BEGIN is unanswered */
    assert_int_equal(nvdp_sess_peer_epoch(&hv->s), NVE_EPOCH);
    assert_true(nvdp_sess_ours(&hv->s, HV_EPOCH));
    assert_true(nvdp_sess_ours(&hv->s, 0));
    assert_false(nvdp_sess_ours(&hv->s, HV_EPOCH + 1));
    hv->s.open = 1;
    assert_false(nvdp_sess_ours(&hv->s, 0));
    /* the NVE names the hypervisor's epoch only in session; takes answers
     * naming its own only */
    assert_int_equal(nvdp_sess_peer_epoch(&nve->s), 0);
    nve->s.open = 1;
    assert_int_equal(nvdp_sess_peer_epoch(&nve->s), HV_EPOCH);
    assert_true(nvdp_sess_ours(&nve->s, NVE_EPOCH));
    assert_false(nvdp_sess_ours(&nve->s, 0));
    /* the same epoch again changes nothing; another ends the session */
    assert_int_equal(nvdp_sess_epoch(&nve->s, HV_EPOCH), 0);
    assert_int_equal(nve->s.open, 1);
    assert_int_equal(nvdp_sess_epoch(&nve->s, HV_EPOCH + 1), 1);
    assert_int_equal(nve->s.open, 0);
    /* a new NVE for the hypervisor: first contact is no restart */
    nvdp_sess_new_peer(&hv->s, other);
    assert_int_equal(hv->s.epoch, 0);
    assert_int_equal(nvdp_sess_epoch(&hv->s, 0x42), 0);
    assert_memory_equal(hv->s.mac, other, 6);
    fx_free(hv);
    fx_free(nve);
}

/* ---- both roles, every golden malformed frame --------------------------- */

static const char *NVE_CONF =
    "name = \"nve\"\n"
    "port \"p0\" {\n interface = \"acc0\"\n tags = \"2-4000\"\n}\n"
    "vn \"blue\" {\n uuid = \"3b241101-e2bb-4255-8caf-4136c566a962\"\n"
    " vni = 10100\n}\n";

/* What a role did with one frame. */
struct verdict {
    struct nvdp_counters c; /* after the frame */
    uint32_t ans_txid[16];  /* its answers to malformed requests */
    uint16_t ans_status[16], ans_type[16];
    int nans;
    int applied;            /* its sender became a peer / the NVE */
};

struct role_cap {
    uint8_t buf[CAP_MAX][NVDP_FRAME_MAX];
    size_t len[CAP_MAX];
    int n;
};

static int
hv_send(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    struct role_cap *c = arg;

    (void)dst;
    assert_true(c->n < CAP_MAX);
    memcpy(c->buf[c->n], buf, len);
    c->len[c->n++] = len;
    return 0;
}

static void
nve_send(void *arg, uint16_t port, const uint8_t dst[6], const uint8_t *buf,
         size_t len)
{
    (void)port;
    hv_send(arg, dst, buf, len);
}

/* The txids of the frame's requests that the codec refuses but which
 * can be answered: what both roles must answer alike. */
static int
bad_txids(const uint8_t *buf, size_t len, uint32_t *out, int max)
{
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    struct nvdp_reader r;
    int n = 0, rc;

    assert_non_null(m);
    if (nvdp_frame_open(&r, buf, len) == 0)
        while ((rc = nvdp_frame_next(&r, m)) != 0)
            if (rc < 0 && m->txid != 0 && m->type != NVDP_MSG_RESPONSE &&
                m->type != NVDP_MSG_HELLO && n < max)
                out[n++] = m->txid;
    free(m);
    return n;
}

static void
answers(const struct role_cap *c, const uint32_t *bad, int nbad,
        struct verdict *v)
{
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    struct nvdp_reader r;

    assert_non_null(m);
    for (int i = 0; i < c->n; i++) {
        assert_int_equal(nvdp_frame_open(&r, c->buf[i], c->len[i]), 0);
        while (nvdp_frame_next(&r, m) > 0) {
            if (m->type != NVDP_MSG_RESPONSE)
                continue;
            for (int k = 0; k < nbad; k++)
                if (m->txid == bad[k] && v->nans < 16) {
                    v->ans_txid[v->nans] = m->txid;
                    v->ans_status[v->nans] = m->status;
                    v->ans_type[v->nans] = m->req_type;
                    v->nans++;
                }
        }
    }
    free(m);
}

/* hv-agent, its NVE pinned to the frame's sender. */
static void
as_hypervisor(const uint8_t *buf, size_t len, const uint32_t *bad, int nbad,
              struct verdict *v)
{
    struct hv *h = calloc(1, sizeof(*h));
    struct role_cap *c = calloc(1, sizeof(*c));

    assert_non_null(h);
    assert_non_null(c);
    hv_conf_defaults(&h->conf);
    h->conf.nve_mac_set = 1;
    memcpy(h->conf.nve_mac, NVE_MAC, 6);
    hv_state_init(&h->state);
    assert_int_equal(hv_proto_init(h, HV_EPOCH, HV_MAC, 1500, hv_send, c, 0,
                                   1000), 0);
    hv_proto_input(h, NVE_MAC, HV_MAC, buf, len, 1000);
    hv_proto_run(h, 1000); /* the answers go out */
    v->c = h->proto.nve.c;
    v->applied = hv_proto_nve_up(h);
    answers(c, bad, nbad, v);
    hv_proto_free(h);
    hv_state_free(&h->state);
    hv_conf_free(&h->conf);
    free(h);
    free(c);
}

/* nve-agent, the frame's sender a hypervisor on an open port. */
static void
as_nve(const struct nve_conf *conf, const uint8_t *buf, size_t len,
       const uint32_t *bad, int nbad, struct verdict *v)
{
    struct role_cap *c = calloc(1, sizeof(*c));
    struct tree_limits lim;
    struct tree tree;
    struct nve_proto *p;

    assert_non_null(c);
    nve_conf_tree_limits(conf, &lim);
    assert_int_equal(tree_init(&tree, NULL, &lim), 0);
    tree_port_set(&tree, conf->ports[0].id, &conf->ports[0].tags, 0);
    p = nve_proto_new(conf, &tree, NVE_EPOCH, nve_send, c);
    assert_non_null(p);
    nve_proto_port_up(p, conf->ports[0].id, "p0", NULL, 1500, 1000);
    nve_proto_input(p, conf->ports[0].id, HV_MAC, NULL, buf, len, 1000);
    v->c = *nve_proto_counters(p);
    v->applied = nve_proto_npeers(p) > 0;
    answers(c, bad, nbad, v);
    nve_proto_free(p);
    tree_free(&tree);
    free(c);
}

struct alike {
    struct nve_conf *conf;
    int frames, frame_level;
};

static void
assert_alike(const char *name, const struct verdict *a,
             const struct verdict *b)
{
    static const struct nvdp_counter_name rx[] = {
        NVDP_COUNTER(rx_frames), NVDP_COUNTER(rx_msgs),
        NVDP_COUNTER(rx_malformed), NVDP_COUNTER(rx_bad_version),
        NVDP_COUNTER(rx_msg_errors), NVDP_COUNTER(rx_short_txid),
        NVDP_COUNTER(rx_unknown_skipped), NVDP_COUNTER(auth_unsupported),
    };

    for (size_t i = 0; i < sizeof(rx) / sizeof(rx[0]); i++) {
        uint64_t x = *(const uint64_t *)((const char *)&a->c + rx[i].off);
        uint64_t y = *(const uint64_t *)((const char *)&b->c + rx[i].off);
        if (x != y)
            fail_msg("%s: %s is %llu for hv-agent, %llu for nve-agent", name,
                     rx[i].name, (unsigned long long)x,
                     (unsigned long long)y);
    }
    for (int i = 0; i < NVDP_NERR; i++)
        if (a->c.decode_err[i] != b->c.decode_err[i])
            fail_msg("%s: decode error %s counted %llu / %llu", name,
                     nvdp_strerror(-i),
                     (unsigned long long)a->c.decode_err[i],
                     (unsigned long long)b->c.decode_err[i]);
    for (int i = 0; i < NVDP_NTYPES; i++)
        if (a->c.rx_type[i] != b->c.rx_type[i])
            fail_msg("%s: messages of type %#x counted %llu / %llu", name, i,
                     (unsigned long long)a->c.rx_type[i],
                     (unsigned long long)b->c.rx_type[i]);
    if (a->nans != b->nans)
        fail_msg("%s: %d answers to malformed requests from hv-agent, %d "
                 "from nve-agent", name, a->nans, b->nans);
    for (int i = 0; i < a->nans; i++)
        if (a->ans_txid[i] != b->ans_txid[i] ||
            a->ans_status[i] != b->ans_status[i] ||
            a->ans_type[i] != b->ans_type[i])
            fail_msg("%s: answer %d: txid %u %s to %#x (hv-agent), txid %u "
                     "%s to %#x (nve-agent)", name, i, a->ans_txid[i],
                     nvdp_status_str(a->ans_status[i]), a->ans_type[i],
                     b->ans_txid[i], nvdp_status_str(b->ans_status[i]),
                     b->ans_type[i]);
    if (a->applied != b->applied)
        fail_msg("%s: the sender was taken as a peer by %s only", name,
                 a->applied ? "hv-agent" : "nve-agent");
}

static void
one_frame(void *arg, const char *name)
{
    struct alike *al = arg;
    /* oversize is larger than any frame we take */
    static uint8_t raw[2 * NVDP_FRAME_MAX];
    size_t len = golden_load(name, raw, sizeof(raw));
    const uint8_t *buf = raw + NVDP_ETH_HLEN;
    struct verdict *hv = calloc(1, sizeof(*hv));
    struct verdict *nve = calloc(1, sizeof(*nve));
    uint32_t bad[16];
    int nbad;

    assert_non_null(hv);
    assert_non_null(nve);
    assert_true(len >= NVDP_ETH_HLEN);
    len -= NVDP_ETH_HLEN;
    nbad = bad_txids(buf, len, bad, 16);
    as_hypervisor(buf, len, bad, nbad, hv);
    as_nve(al->conf, buf, len, bad, nbad, nve);
    assert_alike(name, hv, nve);
    /* every malformed request whose txid could be read is answered */
    if (hv->nans != nbad)
        fail_msg("%s: %d malformed requests, %d answered", name, nbad,
                 hv->nans);
    /* a frame-level error: nothing inside was read by either */
    if (hv->c.rx_msgs == 0) {
        assert_false(hv->applied);
        assert_int_equal(hv->c.rx_malformed + hv->c.rx_bad_version +
                             hv->c.auth_unsupported, 1);
        al->frame_level++;
    }
    al->frames++;
    free(hv);
    free(nve);
}

static struct nve_conf *
nve_conf(void)
{
    char path[] = "/tmp/test_nvdp_session.XXXXXX";
    int fd = mkstemp(path);
    struct nve_conf *c;

    log_init("test", 1, 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, NVE_CONF, strlen(NVE_CONF)),
                     (ssize_t)strlen(NVE_CONF));
    close(fd);
    c = nve_conf_load(path);
    unlink(path);
    assert_non_null(c);
    return c;
}

static void
t_roles_reject_alike(void **st)
{
    struct alike al = {nve_conf(), 0, 0};

    (void)st;
    golden_each("/malformed", one_frame, &al);
    one_frame(&al, "auth-reserved"); /* the AUTH flag, authentication off */
    /* every frame of frames/malformed/, the open-time ones among them
     * (truncated, version, oversize, epoch 0, AUTH misuse: spec 8) */
    assert_true(al.frames >= 27);
    assert_true(al.frame_level >= 8);
    nve_conf_free(al.conf);
}

/* The AUTH TLV the header does not announce, behind a valid HELLO: both
 * roles drop the whole frame, the HELLO with it (spec 8). */
static void
t_unannounced_auth_drops_frame(void **st)
{
    struct nve_conf *conf = nve_conf();
    uint8_t raw[256];
    size_t len = golden_load("malformed/auth-unannounced", raw, sizeof(raw));
    struct verdict *hv = calloc(1, sizeof(*hv));
    struct verdict *nve = calloc(1, sizeof(*nve));

    (void)st;
    as_hypervisor(raw + NVDP_ETH_HLEN, len - NVDP_ETH_HLEN, NULL, 0, hv);
    as_nve(conf, raw + NVDP_ETH_HLEN, len - NVDP_ETH_HLEN, NULL, 0, nve);
    assert_int_equal(hv->c.rx_malformed, 1);
    assert_int_equal(hv->c.rx_msgs, 0);
    assert_int_equal(hv->c.decode_err[-NVDP_E_AUTH], 1);
    assert_false(hv->applied);
    assert_int_equal(nve->c.rx_malformed, 1);
    assert_int_equal(nve->c.rx_msgs, 0);
    assert_false(nve->applied);
    free(hv);
    free(nve);
    nve_conf_free(conf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_counts_in_every_set),
        cmocka_unit_test(t_open_rules),
        cmocka_unit_test(t_next_classes),
        cmocka_unit_test(t_out_batches_to_mtu),
        cmocka_unit_test(t_duplicates_answered_from_cache),
        cmocka_unit_test(t_answers_queue_bounded),
        cmocka_unit_test(t_window_queue_and_giveup),
        cmocka_unit_test(t_hypervisor_one_until_hello),
        cmocka_unit_test(t_epochs_and_scope),
        cmocka_unit_test(t_roles_reject_alike),
        cmocka_unit_test(t_unannounced_auth_drops_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
