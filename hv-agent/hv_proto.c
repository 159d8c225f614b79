/* hv_proto.c - hv-agent's NVDP engine: its entry points (init, input, run,
 * reconfiguration), the messages of a frame to their handlers, the output
 * batch, status and counters. No I/O: frames come in through
 * hv_proto_input(), leave through the send callback. What both roles do
 * alike is common/nvdp_session.c. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hv_proto_int.h"
#include "log.h"

#define HV_RX_CACHE 512 /* dedupe slots for the NVE's requests */

static const uint8_t zero_mac[6];

/* ---- input ----------------------------------------------------------- */

/* ours: the frame's peer_epoch names this incarnation (spec 11.3). */
static void
handle_response(struct hv *h, const struct nvdp_msg *m, int ours,
                uint64_t now)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_msg *req = &p->acked_req;
    void *user = NULL;

    p->nve.c.responses_rx++;
    /* not ours: a duplicate, a late answer to something we dropped, or one
     * for a previous incarnation of ours (rx_stray_responses): O(1) each,
     * nothing kept */
    if (!nvdp_sess_response(&p->nve, ours, m, req, &user, now))
        log_warnx_rl(&p->rl, "RESPONSE txid %u from the NVE answers no "
                     "request of ours", m->txid);
    else {
        if (m->status != NVDP_ST_OK)
            p->nve.c.refusals_rx++;
        if (req->type == NVDP_MSG_RESYNC)
            hv_resync_answered(h, req, m);
        else if (user != NULL)
            hv_vnic_answered(h, user, req, m);
    }
}

static void
unsupported(struct hv *h, const struct nvdp_msg *m)
{
    struct nvdp_session *s = &h->proto.nve;
    struct rel_resp r;

    s->c.unsupported_rx++;
    if (!nvdp_sess_request_new(s, NULL, m))
        return;
    nvdp_resp_init(&r, m, NVDP_ST_UNSUPPORTED, "not accepted by a hypervisor");
    nvdp_sess_answer(s, NULL, &r);
}

/* What a hypervisor does with the NVE's messages (but RESPONSE); any
 * other request is answered UNSUPPORTED. */
static const struct {
    uint16_t type;
    void (*handle)(struct hv *h, const struct nvdp_msg *m);
} nve_msgs[] = {
    {NVDP_MSG_HELLO, hv_nve_hello},
    {NVDP_MSG_WITHDRAW, hv_withdraw_input},
};

/* The NVE's requests per second (hv-agent.conf(5) limits): over the
 * bucket, one is dropped unanswered like a lost frame and comes again as
 * the NVE's retransmission; a storm of WITHDRAWs or huge batches cannot
 * keep us walking our VNICs. */
static int
nve_request_ok(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;

    if (tbucket_take(&p->nve_rq, now))
        return 1;
    p->nve.c.rx_rate_limited++;
    log_warnx_rl(&p->rl, "NVE over %u requests/s: request dropped",
                 p->nve_rq.rate);
    return 0;
}

static void
nve_msg(struct hv *h, const struct nvdp_msg *m, uint64_t now)
{
    if (m->type != NVDP_MSG_HELLO && !nve_request_ok(h, now))
        return;
    for (size_t i = 0; i < sizeof(nve_msgs) / sizeof(nve_msgs[0]); i++)
        if (nve_msgs[i].type == m->type) {
            nve_msgs[i].handle(h, m);
            return;
        }
    unsupported(h, m);
}

static void
input_msgs(struct hv *h, struct nvdp_in *in, int from_nve, struct nvdp_msg *m,
           uint64_t now)
{
    struct hv_proto *p = &h->proto;
    int ours = nvdp_sess_ours(&p->nve, in->rd.hdr.peer_epoch);
    int rc;

    while ((rc = nvdp_in_next(in, m)) != NVDP_IN_END) {
        if (rc == NVDP_IN_BAD) {
            if (from_nve && nve_request_ok(h, now))
                nvdp_sess_answer_error(&p->nve, NULL, m, in->err);
        } else if (m->type == NVDP_MSG_RESPONSE)
            handle_response(h, m, ours, now);
        else if (from_nve)
            nve_msg(h, m, now);
    }
}

void
hv_proto_input(struct hv *h, const uint8_t src[6], const uint8_t dst[6],
               const uint8_t *buf, size_t len, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_in in;
    struct nvdp_msg *m;
    int from_nve;

    nvdp_in_init(&in, &p->ep, &p->nve.cnt, src, NULL);
    if (memcmp(src, p->mac, 6) == 0)
        return; /* our own frame, looped back by a bridge */
    if (h->conf.keys.n > 0) {
        /* The NVE's group HELLO cannot be signed (spec 14): with a key
         * we hear the NVE through its signed unicast frames only. */
        if ((dst[0] & 1) && len >= 2 && !(buf[1] & NVDP_HF_AUTH)) {
            p->nve.c.rx_group_unsigned++;
            return;
        }
        nvdp_in_auth(&in, dst, &h->conf.keys, NVDP_AUTH_REQUIRED,
                     memcmp(src, p->nve.mac, 6) == 0 ? &p->nve.replay : NULL);
    }
    if (nvdp_in_open(&in, buf, len) < 0)
        return;
    m = &p->rx_msg;
    from_nve = hv_peer_classify(h, src, &in.rd.hdr, buf, len, m, now);
    if (from_nve) {
        nvdp_sess_auth_seen(&p->nve, &in);
        hv_nve_heard(h, now);
        hv_nve_epochs(h, &in.rd.hdr, memcmp(dst, p->mac, 6) == 0, now);
    } else {
        p->nve.c.rx_foreign++;
        /* Before we know the NVE, answers to our group-addressed
         * requests may come from it before its first HELLO: take those
         * unless the sender is known to be a hypervisor. */
        struct hv_peer *pe = hv_peer_get(p, src, now);
        if (p->nve_selected || h->conf.nve_mac_set ||
            pe->role == NVDP_ROLE_HV)
            return;
    }
    input_msgs(h, &in, from_nve, m, now);
}

/* ---- output ------------------------------------------------------------ */

static int
send_frame(void *arg, unsigned link, const uint8_t dst[6], const uint8_t *buf,
           size_t len)
{
    struct hv_proto *p = arg;

    (void)link;
    return p->send(p->send_arg, dst, buf, len);
}

/* One batch: HELLO, answers to the NVE's requests, our requests due. */
static void
flush(struct hv *h, uint64_t now, int hello)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_out *o = &p->out;

    nvdp_out_init(o, &p->ep, &p->nve, NULL, 0, hv_dst_mac(h), p->mtu);
    if (h->conf.keys.n > 0)
        nvdp_out_sign(o, &h->conf.keys.key[0], p->mac);
    if (hello)
        nvdp_out_hello(o);
    nvdp_sess_put_answers(&p->nve, o);
    nvdp_sess_put_due(&p->nve, o, now, hv_giveup_cb, h);
    nvdp_out_flush(o);
}

/* ---- the run loop --------------------------------------------------- */

uint64_t
hv_proto_run(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    uint64_t next, t, deferred;
    int hello = 0;

    hv_liveness(h, now);
    deferred = hv_resync_deferred(h, now);
    if (now >= p->next_hello || p->hello_now) {
        hello = 1;
        p->hello_now = 0;
        p->next_hello = now + h->conf.hello_interval;
    }
    if (!p->blocked) {
        hv_resync_step(h, now);
        if (p->phase == HV_RS_IDLE || p->phase == HV_RS_REPLAY ||
            p->phase == HV_RS_END)
            hv_reconcile(h, now);
        hv_resync_step(h, now);
    }
    flush(h, now, hello);

    next = p->next_hello;
    if ((t = rel_tx_next_due(&p->nve.tx)) < next)
        next = t;
    if ((t = hv_nve_deadline(h)) < next)
        next = t;
    if (deferred < next)
        next = deferred;
    if (!p->blocked && nvdp_sess_tx_space(&p->nve) > 0 &&
        !TAILQ_EMPTY(&h->state.dirty) && p->phase != HV_RS_BEGIN)
        next = now;
    return next < now ? now : next;
}

int
hv_proto_nve_up(const struct hv *h)
{
    return h->proto.nve_state == HV_PEER_UP;
}

size_t
hv_proto_max_msg(const struct hv *h)
{
    return h->proto.mtu - NVDP_HDR_LEN;
}

void
hv_proto_limits(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    /* one resync per hello interval once the burst is spent */
    uint32_t rs_rate = 1000u / h->conf.hello_interval;

    if (rs_rate == 0)
        rs_rate = 1;
    if (now != UINT64_MAX) {
        tbucket_init(&p->nve_rq, h->conf.nve_req_rate, h->conf.nve_req_burst,
                     now);
        tbucket_init(&p->rs, rs_rate, h->conf.resync_burst, now);
    } else {
        tbucket_set(&p->nve_rq, h->conf.nve_req_rate, h->conf.nve_req_burst);
        tbucket_set(&p->rs, rs_rate, h->conf.resync_burst);
    }
}

/* What our HELLO says, from the configuration. */
static void
hello_conf(struct hv *h)
{
    nvdp_endpoint_hello(&h->proto.ep, h->conf.hold_time,
                        h->conf.hello_interval, h->conf.rel.window,
                        h->conf.name);
}

void
hv_proto_reconf(struct hv *h)
{
    struct hv_proto *p = &h->proto;
    struct rel_tx *tx = &p->nve.tx;

    tx->p.rto_init = h->conf.rel.rto_init;
    tx->p.rto_max = h->conf.rel.rto_max;
    tx->p.max_tries = h->conf.rel.max_tries;
    p->nve.own_window = h->conf.rel.window;
    hv_proto_limits(h, UINT64_MAX);
    if (h->conf.rel.window > tx->p.window)
        log_warnx("window %u: only %u until restart", h->conf.rel.window,
                  tx->p.window);
    hello_conf(h);
    p->hello_now = 1; /* tell the NVE our new timers now */
}

int
hv_proto_init(struct hv *h, uint32_t epoch, const uint8_t mac[6],
              unsigned mtu, hv_send_fn send, void *send_arg, int resync,
              uint64_t now)
{
    struct hv_proto *p = &h->proto;

    memset(p, 0, sizeof(*p));
    nvdp_endpoint_init(&p->ep, NVDP_ROLE_HV, epoch, send_frame, p);
    hello_conf(h);
    memcpy(p->mac, mac, 6);
    if (mtu < 256)
        mtu = 256;
    if (mtu > NVDP_FRAME_MAX)
        mtu = NVDP_FRAME_MAX;
    p->mtu = mtu;
    p->send = send;
    p->send_arg = send_arg;
    p->next_hello = now;
    log_rl_init(&p->rl, LOG_RL_BURST, LOG_RL_INTERVAL_MS);
    log_rl_init(&p->rl_wd, 100, LOG_RL_INTERVAL_MS);
    hv_proto_limits(h, now);
    if (nvdp_sess_init(&p->nve, &p->ep,
                       h->conf.nve_mac_set ? h->conf.nve_mac : zero_mac, 0,
                       HV_RX_CACHE) < 0)
        return -1;
    if (nvdp_sess_tx_init(&p->nve, &h->conf.rel, 0) < 0) {
        nvdp_sess_free(&p->nve);
        return -1;
    }
    /* Always, even with nothing to replay (spec 11.5): BEGIN opens our
     * session and drops what the NVE still holds of a previous life. */
    hv_resync_start(h, resync ? "started with saved state" : "started");
    return 0;
}

void
hv_proto_free(struct hv *h)
{
    nvdp_sess_free(&h->proto.nve);
}

/* ---- JSON ------------------------------------------------------------ */

static void
jset_u64(struct json_object *o, const char *k, uint64_t v)
{
    json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

struct json_object *
hv_proto_counters_json(const struct hv *h)
{
    const struct rel_tx *tx = &h->proto.nve.tx;
    struct json_object *o = json_object_new_object();
    /* ours (hv-agent(8)) */
    static const struct nvdp_counter_name own[] = {
        NVDP_COUNTER(rx_foreign),
        NVDP_COUNTER(rx_group_unsigned),
        NVDP_COUNTER(hello_rx),
        NVDP_COUNTER(responses_rx),
        NVDP_COUNTER(refusals_rx),
        NVDP_COUNTER(withdraws_rx),
        NVDP_COUNTER(resp_dropped),
        NVDP_COUNTER(unsupported_rx),
        NVDP_COUNTER(oversize),
        NVDP_COUNTER(rx_rate_limited),
        NVDP_COUNTER(resyncs_deferred),
        {"nve_down", offsetof(struct nvdp_counters, peers_expired)},
        {"hello_tx", offsetof(struct nvdp_counters, tx_type) +
                         (NVDP_MSG_HELLO & 0xFF) * sizeof(uint64_t)},
    };

    /* protocol-spec/nvdp.md section 17, and both daemons' own */
    nvdp_counters_json(&h->proto.nve.c, o);
    nvdp_counters_json_add(&h->proto.nve.c, own, sizeof(own) / sizeof(own[0]),
                           o);
    jset_u64(o, "requests_sent", tx->sent);
    jset_u64(o, "acked", tx->acked);
    jset_u64(o, "outstanding", tx->outstanding);
    jset_u64(o, "state_saves", h->state_saves);
    jset_u64(o, "state_save_errors", h->state_save_errors);
    return o;
}

struct json_object *
hv_proto_status_json(const struct hv *h, uint64_t now)
{
    const struct hv_proto *p = &h->proto;
    struct json_object *o = json_object_new_object();
    struct json_object *nve = json_object_new_object();
    static const char *const phases[] = {"idle", "needed", "begin", "replay",
                                         "end"};
    char m[NVDP_MAC_STRLEN];
    int known = memcmp(p->nve.mac, zero_mac, 6) != 0;

    json_object_object_add(o, "name", json_object_new_string(h->conf.name));
    json_object_object_add(o, "epoch", json_object_new_int64(p->ep.epoch));
    json_object_object_add(o, "uplink", json_object_new_string(h->conf.uplink));
    json_object_object_add(o, "mac", json_object_new_string(hv_mac_str(p->mac, m)));
    json_object_object_add(nve, "mac", known ?
                           json_object_new_string(hv_mac_str(p->nve.mac, m)) : NULL);
    json_object_object_add(nve, "name", p->nve.hello.name[0] ?
                           json_object_new_string(p->nve.hello.name) : NULL);
    json_object_object_add(nve, "epoch", json_object_new_int64(p->nve.epoch));
    json_object_object_add(nve, "state", json_object_new_string(
        p->nve_state == HV_PEER_UP ? "up" :
        p->nve_state == HV_PEER_DOWN ? "down" : "unknown"));
    json_object_object_add(nve, "last_heard_ms", p->nve.last_heard ?
        json_object_new_int64((int64_t)(now - p->nve.last_heard)) : NULL);
    json_object_object_add(nve, "pinned",
                           json_object_new_boolean(h->conf.nve_mac_set));
    json_object_object_add(nve, "tags_kept", json_object_new_boolean(p->kept));
    json_object_object_add(nve, "kept_revoked",
                           json_object_new_int64((int64_t)p->kept_revoked));
    json_object_object_add(o, "nve", nve);
    json_object_object_add(o, "resync", json_object_new_string(
        p->phase < 5 ? phases[p->phase] : "?"));
    json_object_object_add(o, "vnics", json_object_new_int64(
        (int64_t)h->state.count));
    json_object_object_add(o, "counters", hv_proto_counters_json(h));
    return o;
}
