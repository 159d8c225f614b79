/* hv_proto.c - hv-agent's NVDP engine: its entry points (init, input, run,
 * reconfiguration), the messages of a frame to their handlers, the output
 * batch, status and counters. No I/O: frames come in through
 * hv_proto_input(), leave through the send callback. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hv_proto_int.h"
#include "log.h"

#define HV_RX_CACHE 512 /* dedupe slots for the NVE's requests */
#define HV_LOG_EVERY_MS 1000

static const uint8_t zero_mac[6];

/* ---- observers and context helpers ----------------------------------- */

int
hv_observer_add(struct hv *h, const struct hv_observer *o)
{
    if (h->nobs >= HV_MAX_OBSERVERS)
        return -1;
    h->obs[h->nobs++] = *o;
    return 0;
}

void
hv_observer_del(struct hv *h, const struct hv_observer *o)
{
    for (size_t i = 0; i < h->nobs; i++) {
        if (h->obs[i].arg == o->arg &&
            h->obs[i].vnic_changed == o->vnic_changed &&
            h->obs[i].nve_changed == o->nve_changed) {
            memmove(&h->obs[i], &h->obs[i + 1],
                    (h->nobs - i - 1) * sizeof(h->obs[0]));
            h->nobs--;
            return;
        }
    }
}

void
hv_notify_vnic(struct hv *h, const struct hv_vnic *v)
{
    for (size_t i = 0; i < h->nobs; i++)
        if (h->obs[i].vnic_changed != NULL)
            h->obs[i].vnic_changed(h->obs[i].arg, v);
}

void
hv_notify_nve(struct hv *h, int up)
{
    for (size_t i = 0; i < h->nobs; i++)
        if (h->obs[i].nve_changed != NULL)
            h->obs[i].nve_changed(h->obs[i].arg, up);
}

/* ours: the frame's peer_epoch names this incarnation (spec 11.3). */
static void
handle_response(struct hv *h, const struct nvdp_msg *m, int ours)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_msg *req;
    void *user = NULL;

    p->cnt.responses_rx++;
    if (!ours) {
        /* txids begin at 1 in every epoch: this answers the request of
         * a previous incarnation of ours that had the same txid */
        p->cnt.stray_responses++;
        return;
    }
    if ((req = malloc(sizeof(*req))) == NULL)
        return;
    if (!rel_tx_ack(&p->tx, m->txid, &user, req)) {
        /* a duplicate or a late answer to something we dropped */
        p->cnt.stray_responses++;
        free(req);
        return;
    }
    if (m->status != NVDP_ST_OK)
        p->cnt.refusals_rx++;
    if (req->type == NVDP_MSG_RESYNC)
        hv_resync_answered(h, req, m);
    else if (user != NULL)
        hv_vnic_answered(h, user, req, m);
    free(req);
}

/* ---- the NVE's requests (WITHDRAW) ----------------------------------- */

static void
queue_resp(struct hv *h, const struct rel_resp *rr)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_msg *r;

    if (p->nresp >= HV_RESP_MAX) {
        p->cnt.resp_dropped++;
        return;
    }
    if (p->nresp == p->resp_cap) {
        size_t cap = p->resp_cap ? p->resp_cap * 2 : 16;
        struct nvdp_msg *n = realloc(p->resp, cap * sizeof(*n));
        if (n == NULL)
            return; /* the NVE retransmits and gets the cached answer */
        p->resp = n;
        p->resp_cap = cap;
    }
    r = &p->resp[p->nresp++];
    rel_resp_msg(rr, r);
}

void
hv_answer_request(struct hv *h, const struct nvdp_msg *m, uint16_t status,
               const char *reason)
{
    struct rel_resp rr;

    memset(&rr, 0, sizeof(rr));
    rr.txid = m->txid;
    rr.status = status;
    rr.req_type = m->type;
    rr.valid = 1;
    if (reason != NULL)
        snprintf(rr.reason, sizeof(rr.reason), "%s", reason);
    rel_rx_store(&h->proto.rx, &rr);
    queue_resp(h, &rr);
}

/* Dedupe: 1 if the request is new and must be applied. */
int
hv_request_new(struct hv *h, const struct nvdp_msg *m)
{
    struct hv_proto *p = &h->proto;
    const struct rel_resp *cached = NULL;

    switch (rel_rx_check(&p->rx, m->txid, &cached)) {
    case REL_NEW:
        return 1;
    case REL_DUP:
        p->cnt.dup_requests++;
        if (cached != NULL)
            queue_resp(h, cached);
        return 0;
    case REL_STALE:
        p->cnt.stale_requests++;
        return 0;
    }
    return 0;
}

/* Counts a decode error in its class (spec section 8) and logs it, at
 * most once a second. msg_level: the error is inside one message. */
static void
log_malformed(struct hv *h, const uint8_t src[6], int err, int msg_level,
              uint64_t now)
{
    struct hv_counters *c = &h->proto.cnt;
    char m[18];

    if (err == NVDP_E_VERSION)
        c->rx_bad_version++;
    else if (msg_level)
        c->rx_msg_errors++;
    else
        c->rx_malformed++;
    if (h->last_malformed_log != 0 &&
        now < h->last_malformed_log + HV_LOG_EVERY_MS)
        return;
    h->last_malformed_log = now;
    log_warnx("malformed NVDP %s from %s: %s (%llu so far)",
              msg_level ? "message" : "frame", hv_mac_str(src, m),
              nvdp_strerror(err),
              (unsigned long long)(c->rx_malformed + c->rx_msg_errors +
                                   c->rx_bad_version));
}

static void
input_msgs(struct hv *h, struct nvdp_reader *r, const uint8_t src[6],
           int from_nve, struct nvdp_msg *m, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    /* Answers count in a frame of our session: peer_epoch is our epoch, or
     * 0 while the NVE holds none for us (our BEGIN not yet answered). */
    int ours = r->hdr.peer_epoch == p->epoch ||
               (r->hdr.peer_epoch == 0 && !p->in_session);
    int rc;

    for (;;) {
        m->type = 0;
        m->txid = 0;
        if ((rc = nvdp_frame_next(r, m)) == 0)
            break;
        if (rc < 0) {
            int is_req = m->type != 0 && m->type != NVDP_MSG_RESPONSE &&
                         m->type != NVDP_MSG_HELLO;
            log_malformed(h, src, rc, m->type != 0, now);
            if (is_req && m->txid == 0)
                p->cnt.rx_short_txid++; /* cannot be answered */
            else if (from_nve && is_req && hv_request_new(h, m))
                hv_answer_request(h, m, nvdp_err_status(rc), nvdp_strerror(rc));
            continue;
        }
        p->cnt.rx_msgs++;
        if (m->type == NVDP_MSG_RESPONSE) {
            handle_response(h, m, ours);
            continue;
        }
        if (!from_nve)
            continue;
        switch (m->type) {
        case NVDP_MSG_HELLO:
            p->cnt.hello_rx++;
            p->nve.role = m->hello.role;
            snprintf(p->nve.name, sizeof(p->nve.name), "%s", m->hello.name);
            p->nve.hold_time = m->hello.hold_time;
            p->nve.hello_interval = m->hello.hello_interval;
            p->nve.window = m->hello.window;
            /* Keep every txid we have in flight inside the NVE's answer
             * cache (2 x its window), or a stuck retry would be stale. */
            rel_tx_set_window(&p->tx, hv_tx_limit(h));
            break;
        case NVDP_MSG_WITHDRAW:
            hv_withdraw_input(h, m);
            break;
        default:
            p->cnt.unsupported_rx++;
            if (hv_request_new(h, m))
                hv_answer_request(h, m, NVDP_ST_UNSUPPORTED,
                               "not accepted by a hypervisor");
            break;
        }
    }
}

void
hv_proto_input(struct hv *h, const uint8_t src[6], const uint8_t dst[6],
               const uint8_t *buf, size_t len, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_reader r;
    struct nvdp_msg *m;
    int rc, from_nve;

    p->cnt.rx_frames++;
    if (memcmp(src, p->mac, 6) == 0)
        return; /* our own frame, looped back by a bridge */
    rc = nvdp_frame_open(&r, buf, len);
    if (rc == NVDP_E_AUTH || (rc == 0 && (r.hdr.flags & NVDP_HF_AUTH))) {
        /* authentication is not configured here: never accepted */
        p->cnt.rx_auth_unsupported++;
        return;
    }
    if (rc < 0) {
        log_malformed(h, src, rc, 0, now);
        return;
    }
    if ((m = malloc(sizeof(*m))) == NULL)
        return;
    from_nve = hv_peer_classify(h, src, &r.hdr, buf, len, m, now);
    if (from_nve) {
        hv_nve_heard(h, now);
        hv_nve_epochs(h, &r.hdr, memcmp(dst, p->mac, 6) == 0);
    } else {
        p->cnt.rx_foreign++;
        /* Before we know the NVE, answers to our group-addressed
         * requests may come from it before its first HELLO: take those
         * unless the sender is known to be a hypervisor. */
        struct hv_peer *pe = hv_peer_get(p, src, now);
        if (p->nve_selected || h->conf.nve_mac_set ||
            pe->role == NVDP_ROLE_HV) {
            free(m);
            return;
        }
    }
    input_msgs(h, &r, src, from_nve, m, now);
    p->cnt.rx_unknown_skipped += r.skipped;
    free(m);
}

/* ---- output ------------------------------------------------------------ */

struct framer {
    struct hv *h;
    struct nvdp_writer w;
    uint8_t buf[NVDP_FRAME_MAX];
    const uint8_t *dst;
};

static void
framer_start(struct framer *f)
{
    struct hv_proto *p = &f->h->proto;

    nvdp_writer_init(&f->w, f->buf, p->mtu, p->epoch, p->nve.epoch);
}

static void
framer_send(struct framer *f)
{
    struct hv_proto *p = &f->h->proto;
    size_t len;

    if (f->w.nmsg == 0)
        return;
    len = nvdp_writer_finish(&f->w);
    if (p->send(p->send_arg, f->dst, f->buf, len) < 0)
        p->cnt.tx_errors++;
    else
        p->cnt.tx_frames++;
    framer_start(f);
}

static void
framer_add(struct framer *f, const struct nvdp_msg *m)
{
    int rc = nvdp_writer_add(&f->w, m);

    if (rc == NVDP_E_NOSPACE && f->w.nmsg > 0) {
        framer_send(f);
        rc = nvdp_writer_add(&f->w, m);
    }
    if (rc == 0)
        f->h->proto.cnt.tx_msgs++;
    else {
        /* sizes are checked at submit: this is our bug, not the peer's */
        f->h->proto.cnt.oversize++;
        log_warnx("cannot encode %s: %s", nvdp_msg_name(m->type),
                  nvdp_strerror(rc));
    }
}

static void
hello_msg(const struct hv *h, struct nvdp_msg *m)
{
    nvdp_hello_msg(m, NVDP_ROLE_HV, h->conf.hold_time, h->conf.hello_interval,
                   h->conf.rel.window, h->conf.name);
}

static void
flush(struct hv *h, uint64_t now, int hello)
{
    struct hv_proto *p = &h->proto;
    const struct nvdp_msg *out[64];
    struct framer *f;
    struct nvdp_msg *hm;
    int n;

    if ((f = malloc(sizeof(*f))) == NULL)
        return;
    f->h = h;
    f->dst = hv_dst_mac(h);
    framer_start(f);
    if (hello && (hm = malloc(sizeof(*hm))) != NULL) {
        hello_msg(h, hm);
        framer_add(f, hm);
        p->cnt.hello_tx++;
        free(hm);
    }
    for (size_t i = 0; i < p->nresp; i++)
        framer_add(f, &p->resp[i]);
    p->nresp = 0;
    /* Pointers from rel_tx_due stay valid until tx changes: encode each
     * batch before asking for the next. */
    do {
        n = rel_tx_due(&p->tx, now, out, 64, hv_giveup_cb, h);
        for (int i = 0; i < n; i++)
            framer_add(f, out[i]);
    } while (n == 64);
    framer_send(f);
    free(f);
}

uint64_t
hv_proto_run(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    uint64_t next, t;
    int hello = 0;

    hv_liveness(h, now);
    if (now >= p->next_hello || p->hello_now) {
        hello = 1;
        p->hello_now = 0;
        p->next_hello = now + h->conf.hello_interval;
    }
    if (!p->blocked) {
        if (p->phase == HV_RS_NEEDED && hv_tx_space(h) > 0)
            hv_resync_msg(h, NVDP_RESYNC_BEGIN, now);
        /* END as early as allowed: before new work takes the window */
        if (p->phase == HV_RS_REPLAY && p->replay_left == 0 &&
            hv_tx_space(h) > 0)
            hv_resync_msg(h, NVDP_RESYNC_END, now);
        if (p->phase == HV_RS_IDLE || p->phase == HV_RS_REPLAY ||
            p->phase == HV_RS_END)
            hv_reconcile(h, now);
        if (p->phase == HV_RS_REPLAY && p->replay_left == 0 &&
            hv_tx_space(h) > 0)
            hv_resync_msg(h, NVDP_RESYNC_END, now);
    }
    flush(h, now, hello);

    next = p->next_hello;
    if ((t = rel_tx_next_due(&p->tx)) < next)
        next = t;
    if ((t = hv_nve_deadline(h)) < next)
        next = t;
    if (!p->blocked && hv_tx_space(h) > 0 && !TAILQ_EMPTY(&h->state.dirty) &&
        p->phase != HV_RS_BEGIN)
        next = now;
    return next < now ? now : next;
}

void
hv_proto_vnic_changed(struct hv *h, struct hv_vnic *v)
{
    v->gen++; /* a refusal of what was desired before is moot now */
    hv_state_mark(&h->state, v);
    if (h->wake != NULL)
        h->wake(h);
}

int
hv_proto_nve_up(const struct hv *h)
{
    return h->proto.nve.state == HV_PEER_UP;
}

size_t
hv_proto_max_msg(const struct hv *h)
{
    return h->proto.mtu - NVDP_HDR_LEN;
}

void
hv_proto_reconf(struct hv *h)
{
    struct hv_proto *p = &h->proto;

    p->tx.p.rto_init = h->conf.rel.rto_init;
    p->tx.p.rto_max = h->conf.rel.rto_max;
    p->tx.p.max_tries = h->conf.rel.max_tries;
    if (h->conf.rel.window > p->tx.p.window)
        log_warnx("window %u: only %u until restart", h->conf.rel.window,
                  p->tx.p.window);
    p->hello_now = 1; /* tell the NVE our new timers now */
}

int
hv_proto_init(struct hv *h, uint32_t epoch, const uint8_t mac[6],
              unsigned mtu, hv_send_fn send, void *send_arg, int resync,
              uint64_t now)
{
    struct hv_proto *p = &h->proto;

    memset(p, 0, sizeof(*p));
    p->epoch = epoch ? epoch : 1;
    memcpy(p->mac, mac, 6);
    if (mtu < 256)
        mtu = 256;
    if (mtu > NVDP_FRAME_MAX)
        mtu = NVDP_FRAME_MAX;
    p->mtu = mtu;
    p->send = send;
    p->send_arg = send_arg;
    p->next_hello = now;
    if (rel_tx_init(&p->tx, &h->conf.rel) < 0)
        return -1;
    if (rel_rx_init(&p->rx, HV_RX_CACHE) < 0) {
        rel_tx_free(&p->tx);
        return -1;
    }
    if (h->conf.nve_mac_set)
        memcpy(p->nve.mac, h->conf.nve_mac, 6);
    /* Always, even with nothing to replay (spec 11.5): BEGIN opens our
     * session and drops what the NVE still holds of a previous life. */
    hv_resync_start(h, resync ? "started with saved state" : "started");
    return 0;
}

void
hv_proto_free(struct hv *h)
{
    struct hv_proto *p = &h->proto;

    rel_tx_free(&p->tx);
    rel_rx_free(&p->rx);
    free(p->resp);
    p->resp = NULL;
    p->nresp = p->resp_cap = 0;
}

struct json_object *
hv_proto_counters_json(const struct hv *h)
{
    const struct hv_proto *p = &h->proto;
    const struct hv_counters *c = &p->cnt;
    struct json_object *o = json_object_new_object();
#define C(name, val) \
    json_object_object_add(o, name, json_object_new_int64((int64_t)(val)))
    /* protocol-spec/nvdp.md section 17 */
    C("rx_frames", c->rx_frames);
    C("tx_frames", c->tx_frames);
    C("rx_msgs", c->rx_msgs);
    C("tx_msgs", c->tx_msgs);
    C("rx_malformed", c->rx_malformed);
    C("rx_bad_version", c->rx_bad_version);
    C("rx_msg_errors", c->rx_msg_errors);
    C("rx_unknown_skipped", c->rx_unknown_skipped);
    C("rx_short_txid", c->rx_short_txid);
    C("rx_dup", c->dup_requests);
    C("rx_stale", c->stale_requests);
    C("auth_unsupported", c->rx_auth_unsupported);
    C("tx_retransmits", p->tx.retransmits);
    C("tx_giveups", p->tx.giveups);
    C("rx_stray_responses", c->stray_responses);
    C("resyncs", c->resyncs);
    /* ours */
    C("tx_errors", c->tx_errors);
    C("rx_foreign", c->rx_foreign);
    C("hello_tx", c->hello_tx);
    C("hello_rx", c->hello_rx);
    C("requests_sent", p->tx.sent);
    C("acked", p->tx.acked);
    C("responses_rx", c->responses_rx);
    C("refusals_rx", c->refusals_rx);
    C("withdraws_rx", c->withdraws_rx);
    C("resp_dropped", c->resp_dropped);
    C("unsupported_rx", c->unsupported_rx);
    C("nve_down", c->nve_down);
    C("oversize", c->oversize);
    C("outstanding", p->tx.outstanding);
    C("state_saves", h->state_saves);
    C("state_save_errors", h->state_save_errors);
#undef C
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
    char m[18];
    int known = memcmp(p->nve.mac, zero_mac, 6) != 0;

    json_object_object_add(o, "name", json_object_new_string(h->conf.name));
    json_object_object_add(o, "epoch", json_object_new_int64(p->epoch));
    json_object_object_add(o, "uplink", json_object_new_string(h->conf.uplink));
    json_object_object_add(o, "mac", json_object_new_string(hv_mac_str(p->mac, m)));
    json_object_object_add(nve, "mac", known ?
                           json_object_new_string(hv_mac_str(p->nve.mac, m)) : NULL);
    json_object_object_add(nve, "name", p->nve.name[0] ?
                           json_object_new_string(p->nve.name) : NULL);
    json_object_object_add(nve, "epoch", json_object_new_int64(p->nve.epoch));
    json_object_object_add(nve, "state", json_object_new_string(
        p->nve.state == HV_PEER_UP ? "up" :
        p->nve.state == HV_PEER_DOWN ? "down" : "unknown"));
    json_object_object_add(nve, "last_heard_ms", p->nve.last_heard ?
        json_object_new_int64((int64_t)(now - p->nve.last_heard)) : NULL);
    json_object_object_add(nve, "pinned",
                           json_object_new_boolean(h->conf.nve_mac_set));
    json_object_object_add(o, "nve", nve);
    json_object_object_add(o, "resync", json_object_new_string(
        p->phase < 5 ? phases[p->phase] : "?"));
    json_object_object_add(o, "vnics", json_object_new_int64(
        (int64_t)h->state.count));
    json_object_object_add(o, "counters", hv_proto_counters_json(h));
    return o;
}
