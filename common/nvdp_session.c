/* nvdp_session.c - the NVDP session both roles share: frames opened and
 * read with malformed input counted, the per-peer session (epochs, the
 * window and its queue, the duplicate cache and answers), the batching
 * writer, the section 17 counters. */
#include "config.h"
#include "nvdp_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* ---- counters --------------------------------------------------------- */

void
nvdp_count_n(const struct nvdp_cnt *k, size_t off, uint64_t n)
{
    /* One counter at the same offset in every set. */
    for (int i = 0; i < NVDP_CNT_SETS; i++)
        if (k->set[i] != NULL)
            *(uint64_t *)((char *)k->set[i] + off) += n;
}

unsigned
nvdp_type_idx(uint16_t type)
{
    return (type & 0xFF) < NVDP_NTYPES ? (type & 0xFF) : 0;
}

static void
jset_u64(struct json_object *o, const char *k, uint64_t v)
{
    json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

void
nvdp_counters_json_add(const struct nvdp_counters *c,
                       const struct nvdp_counter_name *t, size_t n,
                       struct json_object *o)
{
    for (size_t i = 0; i < n; i++)
        jset_u64(o, t[i].name,
                 *(const uint64_t *)((const char *)c + t[i].off));
}

void
nvdp_counters_json(const struct nvdp_counters *c, struct json_object *o)
{
    struct json_object *rx = json_object_new_object(),
                       *tx = json_object_new_object(),
                       *st = json_object_new_object(),
                       *de = json_object_new_object();
    static const struct nvdp_counter_name flat[] = {
        NVDP_COUNTER(rx_frames),
        NVDP_COUNTER(tx_frames),
        NVDP_COUNTER(rx_msgs),
        NVDP_COUNTER(tx_msgs),
        NVDP_COUNTER(tx_errors),
        NVDP_COUNTER(tx_deferred),
        NVDP_COUNTER(tx_retry_dropped),
        NVDP_COUNTER(rx_malformed),
        NVDP_COUNTER(rx_bad_version),
        NVDP_COUNTER(rx_msg_errors),
        NVDP_COUNTER(rx_unknown_skipped),
        NVDP_COUNTER(rx_short_txid),
        NVDP_COUNTER(rx_dup),
        NVDP_COUNTER(rx_stale),
        NVDP_COUNTER(auth_unsupported),
        NVDP_COUNTER(tx_retransmits),
        NVDP_COUNTER(tx_giveups),
        NVDP_COUNTER(rx_stray_responses),
        NVDP_COUNTER(peers_expired),
        NVDP_COUNTER(resyncs),
        NVDP_COUNTER(auth_ok),
        NVDP_COUNTER(auth_fail),
        NVDP_COUNTER(replay),
        NVDP_COUNTER(unauth_accepted),
    };

    nvdp_counters_json_add(c, flat, sizeof(flat) / sizeof(flat[0]), o);
    for (unsigned i = 1; i <= (NVDP_MSG_VNIC_STATE & 0xFF); i++) {
        const char *n = nvdp_msg_name((uint16_t)(0x8000 | i));
        jset_u64(rx, n, c->rx_type[i]);
        jset_u64(tx, n, c->tx_type[i]);
    }
    jset_u64(rx, "unknown", c->rx_type[0]);
    for (unsigned i = 0; i <= NVDP_ST_MAX; i++)
        jset_u64(st, nvdp_status_str((uint16_t)i), c->status[i]);
    for (int i = 1; i < NVDP_NERR; i++)
        jset_u64(de, nvdp_strerror(-i), c->decode_err[i]);
    json_object_object_add(o, "rx_by_type", rx);
    json_object_object_add(o, "tx_by_type", tx);
    json_object_object_add(o, "tx_status", st);
    json_object_object_add(o, "decode_errors", de);
}

/* ---- the endpoint ------------------------------------------------------- */

void
nvdp_endpoint_init(struct nvdp_endpoint *ep, uint8_t role, uint32_t epoch,
                   nvdp_send_fn send, void *send_arg)
{
    memset(ep, 0, sizeof(*ep));
    ep->epoch = epoch ? epoch : 1;
    ep->hello.role = role;
    ep->send = send;
    ep->send_arg = send_arg;
    log_rl_init(&ep->rl, LOG_RL_BURST, LOG_RL_INTERVAL_MS);
}

void
nvdp_endpoint_hello(struct nvdp_endpoint *ep, uint16_t hold_time,
                    uint16_t hello_interval, uint16_t window, const char *name)
{
    ep->hello.hold_time = hold_time;
    ep->hello.hello_interval = hello_interval;
    ep->hello.window = window;
    snprintf(ep->hello.name, sizeof(ep->hello.name), "%s", name);
}

void
nvdp_endpoint_auth_counter(struct nvdp_endpoint *ep, uint64_t start)
{
    ep->auth_ctr = start;
}

static int
is_hypervisor(const struct nvdp_endpoint *ep)
{
    return ep->hello.role == NVDP_ROLE_HV;
}

/* ---- a received frame --------------------------------------------------- */

static const char *
mac_str(const uint8_t mac[6], char buf[NVDP_MAC_STRLEN])
{
    nvdp_mac_fmt(mac, buf);
    return buf;
}

/* A decode error, counted by class (spec 8) and logged. frame: the rest
 * of the frame is lost (a frame-level error, or its TLV framing broke). */
static void
in_malformed(struct nvdp_in *in, int err, int frame, int short_txid)
{
    char ms[NVDP_MAC_STRLEN];

    if (err == NVDP_E_VERSION)
        NVDP_COUNT(&in->cnt, rx_bad_version);
    else if (frame)
        NVDP_COUNT(&in->cnt, rx_malformed);
    else if (short_txid)
        NVDP_COUNT(&in->cnt, rx_short_txid); /* a request not answerable */
    else
        NVDP_COUNT(&in->cnt, rx_msg_errors);
    if (-err > 0 && -err < NVDP_NERR)
        NVDP_COUNT_AT(&in->cnt, decode_err, -err);
    log_warnx_rl(&in->ep->rl, "malformed NVDP %s from %s%s%s: %s",
                 frame ? "frame" : "message", mac_str(in->src, ms),
                 in->via ? " on " : "", in->via ? in->via : "",
                 nvdp_strerror(err));
}

void
nvdp_in_init(struct nvdp_in *in, struct nvdp_endpoint *ep,
             const struct nvdp_cnt *cnt, const uint8_t src[6], const char *via)
{
    memset(&in->rd, 0, sizeof(in->rd));
    in->ep = ep;
    in->src = src;
    in->via = via;
    in->cnt = *cnt;
    in->err = 0;
    in->dst = NULL;
    in->keys = NULL;
    in->rp = NULL;
    in->policy = NVDP_AUTH_OFF;
    in->authed = 0;
    in->key_id = 0;
    in->ctr = 0;
    NVDP_COUNT(&in->cnt, rx_frames);
}

void
nvdp_in_auth(struct nvdp_in *in, const uint8_t dst[6],
             const struct nvdp_keyring *keys, int policy,
             const struct nvdp_replay *rp)
{
    in->dst = dst;
    in->keys = keys;
    in->policy = (uint8_t)policy;
    in->rp = rp;
}

void
nvdp_in_reject(struct nvdp_in *in, int err)
{
    in_malformed(in, err, 1, 0);
}

/* The codec reports an AUTH TLV without the header flag only when it
 * reaches it, after the messages before it; the spec drops the whole frame
 * (section 8), so look for one first. Only TLV headers are read. */
static int
auth_tlv_present(const struct nvdp_reader *rd)
{
    const uint8_t *q = rd->p;
    size_t left = rd->left;

    while (left >= NVDP_TLV_HLEN) {
        uint16_t type = (uint16_t)(q[0] << 8 | q[1]);
        size_t len = (size_t)(q[2] << 8 | q[3]);
        if (type == NVDP_MSG_AUTH)
            return 1;
        if (len > left - NVDP_TLV_HLEN)
            return 0; /* framing error: the codec reports it in order */
        q += NVDP_TLV_HLEN + len;
        left -= NVDP_TLV_HLEN + len;
    }
    return 0;
}

static void
auth_drop(struct nvdp_in *in, size_t counter, const char *why)
{
    char ms[NVDP_MAC_STRLEN];

    nvdp_count_n(&in->cnt, counter, 1);
    log_warnx_rl(&in->ep->rl, "NVDP frame from %s%s%s dropped: %s",
                 mac_str(in->src, ms), in->via ? " on " : "",
                 in->via ? in->via : "", why);
}

static const char *
replay_str(int rc)
{
    switch (rc) {
    case NVDP_REPLAY_DUP:
        return "replayed AUTH counter";
    case NVDP_REPLAY_OLD:
        return "AUTH counter behind the replay window";
    case NVDP_REPLAY_EPOCH:
        return "earlier epoch, AUTH counter not ahead";
    }
    return "peer_epoch names an earlier epoch of ours";
}

/* An opened frame with the AUTH flag under a policy that is not off: the
 * HMAC, then the counter (spec 14). 0 or -1 (dropped, counted, logged). */
static int
auth_check(struct nvdp_in *in, const uint8_t *buf)
{
    static const uint8_t zero[6];
    char why[64];
    int rc;

    rc = nvdp_auth_verify(in->keys, in->dst ? in->dst : zero, in->src, buf,
                          &in->rd, &in->key_id, &in->ctr);
    if (rc != NVDP_AUTH_GOOD) {
        snprintf(why, sizeof(why),
                 rc == NVDP_AUTH_NOKEY ? "AUTH key id %u not configured"
                                       : "bad HMAC (key id %u)",
                 in->key_id);
        auth_drop(in, offsetof(struct nvdp_counters, auth_fail), why);
        return -1;
    }
    if (in->rp != NULL && in->rp->valid)
        rc = nvdp_replay_check(in->rp, in->ctr, in->rd.hdr.epoch);
    else if (is_hypervisor(in->ep) && in->rd.hdr.peer_epoch != 0 &&
             in->rd.hdr.peer_epoch != in->ep->epoch)
        rc = 1; /* no window yet: recorded before we restarted (spec 14) */
    if (rc != NVDP_REPLAY_NEW) {
        auth_drop(in, offsetof(struct nvdp_counters, replay), replay_str(rc));
        return -1;
    }
    in->authed = 1;
    NVDP_COUNT(&in->cnt, auth_ok);
    return 0;
}

int
nvdp_in_open(struct nvdp_in *in, const uint8_t *buf, size_t len)
{
    static const uint8_t zero[6];
    char ms[NVDP_MAC_STRLEN];
    int rc;

    if ((in->src[0] & 1) || memcmp(in->src, zero, 6) == 0) {
        nvdp_in_reject(in, NVDP_E_VALUE);
        return -1;
    }
    rc = nvdp_frame_open(&in->rd, buf, len);
    if ((in->rd.hdr.flags & NVDP_HF_AUTH) && in->policy != NVDP_AUTH_OFF) {
        if (rc < 0) {
            nvdp_in_reject(in, rc);
            return -1;
        }
        return auth_check(in, buf);
    }
    if (in->rd.hdr.flags & NVDP_HF_AUTH) {
        /* authentication is reserved, not configured: never guess */
        NVDP_COUNT(&in->cnt, auth_unsupported);
        log_warnx_rl(&in->ep->rl, "frame with AUTH from %s%s%s dropped: "
                     "authentication is not configured",
                     mac_str(in->src, ms), in->via ? " on " : "",
                     in->via ? in->via : "");
        return -1;
    }
    if (rc == 0 && auth_tlv_present(&in->rd))
        rc = NVDP_E_AUTH; /* unannounced AUTH TLV: the whole frame goes */
    if (rc < 0) {
        nvdp_in_reject(in, rc);
        return -1;
    }
    if (in->policy == NVDP_AUTH_REQUIRED) {
        auth_drop(in, offsetof(struct nvdp_counters, auth_fail),
                  "not authenticated");
        return -1;
    }
    if (in->policy == NVDP_AUTH_OPTIONAL)
        NVDP_COUNT(&in->cnt, unauth_accepted);
    return 0;
}

static int
is_request(uint16_t type)
{
    return type >= NVDP_MSG_VN_CONNECT && type <= NVDP_MSG_VNIC_STATE;
}

int
nvdp_in_next(struct nvdp_in *in, struct nvdp_msg *m)
{
    int rc, answerable;

    for (;;) {
        if ((rc = nvdp_frame_next(&in->rd, m)) == 0) {
            NVDP_COUNT_N(&in->cnt, rx_unknown_skipped, in->rd.skipped);
            in->rd.skipped = 0;
            return NVDP_IN_END;
        }
        NVDP_COUNT(&in->cnt, rx_msgs);
        NVDP_COUNT_AT(&in->cnt, rx_type, nvdp_type_idx(m->type));
        if (rc > 0)
            return NVDP_IN_MSG;
        /* Every message but HELLO and RESPONSE is a request; one whose
         * txid could be read gets an error answer (spec 8). */
        answerable = m->txid != 0 && m->type != NVDP_MSG_HELLO &&
                     m->type != NVDP_MSG_RESPONSE &&
                     (is_request(m->type) || rc == NVDP_E_UNKNOWN);
        /* type 0: the TLV framing itself broke (the codec sets the type
         * once the TLV header is sound): the rest of the frame is lost */
        in_malformed(in, rc, m->type == 0,
                     !answerable && m->type != NVDP_MSG_HELLO &&
                         m->type != NVDP_MSG_RESPONSE);
        if (answerable) {
            in->err = rc;
            return NVDP_IN_BAD;
        }
    }
}

/* ---- a batch of frames out ---------------------------------------------- */

void
nvdp_out_init(struct nvdp_out *o, struct nvdp_endpoint *ep,
              struct nvdp_session *s, const struct nvdp_cnt *cnt,
              unsigned link, const uint8_t dst[6], unsigned mtu)
{
    o->ep = ep;
    o->s = s;
    o->cnt = s != NULL ? s->cnt : *cnt;
    o->link = link;
    memcpy(o->dst, dst, 6);
    o->cap = mtu > NVDP_FRAME_MAX ? NVDP_FRAME_MAX : mtu;
    o->open = 0;
    o->key = NULL;
}

void
nvdp_out_sign(struct nvdp_out *o, const struct nvdp_key *key,
              const uint8_t src[6])
{
    o->key = key;
    memcpy(o->src, src, 6);
}

void
nvdp_out_flush(struct nvdp_out *o)
{
    size_t len;

    if (!o->open)
        return;
    o->open = 0;
    if (o->w.nmsg == 0)
        return;
    len = nvdp_writer_finish(&o->w);
    if (o->key != NULL) {
        char ms[NVDP_MAC_STRLEN];
        /* the counter never wraps: a receiver would take it as a replay */
        if (o->ep->auth_ctr == UINT64_MAX ||
            (len = nvdp_auth_sign(o->key, o->ep->auth_ctr, o->dst, o->src,
                                  o->buf, len, sizeof(o->buf))) == 0) {
            NVDP_COUNT(&o->cnt, tx_errors);
            log_warnx_rl(&o->ep->rl, "cannot sign a frame for %s: %s",
                         mac_str(o->dst, ms),
                         o->ep->auth_ctr == UINT64_MAX
                             ? "AUTH counter exhausted"
                             : "HMAC failed");
            return;
        }
        o->ep->auth_ctr++;
    }
    if (o->ep->send(o->ep->send_arg, o->link, o->dst, o->buf, len) < 0)
        NVDP_COUNT(&o->cnt, tx_errors);
    else
        NVDP_COUNT(&o->cnt, tx_frames);
}

int
nvdp_out_add(struct nvdp_out *o, const struct nvdp_msg *m)
{
    char ms[NVDP_MAC_STRLEN];
    int rc = NVDP_E_NOSPACE;

    for (int attempt = 0; attempt < 2; attempt++) {
        if (!o->open) {
            /* room for the AUTH TLV, which the flush appends */
            nvdp_writer_init(
                &o->w, o->buf, o->cap - (o->key ? NVDP_AUTH_TLV_LEN : 0),
                o->ep->epoch, o->s != NULL ? nvdp_sess_peer_epoch(o->s) : 0);
            o->open = 1;
        }
        if ((rc = nvdp_writer_add(&o->w, m)) == 0) {
            NVDP_COUNT(&o->cnt, tx_msgs);
            NVDP_COUNT_AT(&o->cnt, tx_type, nvdp_type_idx(m->type));
            return 0;
        }
        if (rc != NVDP_E_NOSPACE || o->w.nmsg == 0)
            break; /* does not fit an empty frame: our bug, count it */
        nvdp_out_flush(o);
    }
    NVDP_COUNT(&o->cnt, tx_errors);
    log_warnx_rl(&o->ep->rl, "cannot encode %s for %s: %s",
                 nvdp_msg_name(m->type), mac_str(o->dst, ms),
                 nvdp_strerror(rc));
    return -1;
}

void
nvdp_out_hello(struct nvdp_out *o)
{
    const struct nvdp_hello *hl = &o->ep->hello;
    struct nvdp_msg m;

    nvdp_hello_msg(&m, hl->role, hl->hold_time, hl->hello_interval,
                   hl->window, hl->name);
    nvdp_out_add(o, &m);
}

void
nvdp_out_answer(struct nvdp_out *o, const struct rel_resp *r)
{
    struct nvdp_msg m;

    rel_resp_msg(r, &m);
    if (r->status <= NVDP_ST_MAX)
        NVDP_COUNT_AT(&o->cnt, status, r->status);
    nvdp_out_add(o, &m);
}

void
nvdp_resp_init(struct rel_resp *r, const struct nvdp_msg *m, uint16_t status,
               const char *reason)
{
    memset(r, 0, sizeof(*r));
    r->txid = m->txid;
    r->req_type = m->type;
    r->status = status;
    snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
}

/* ---- the session -------------------------------------------------------- */

struct nvdp_wq {
    struct nvdp_wq *next;
    void *user;
    struct nvdp_msg m;
};

int
nvdp_sess_init(struct nvdp_session *s, struct nvdp_endpoint *ep,
               const uint8_t mac[6], uint32_t epoch, uint16_t rx_cache)
{
    memset(s, 0, sizeof(*s));
    if (rel_rx_init(&s->rx, rx_cache) < 0)
        return -1;
    rel_rx_reset(&s->rx, epoch);
    s->ep = ep;
    memcpy(s->mac, mac, 6);
    s->epoch = epoch;
    s->cnt.set[0] = &s->c;
    return 0;
}

static void
wq_clear(struct nvdp_session *s)
{
    while (s->wq_head != NULL) {
        struct nvdp_wq *q = s->wq_head;
        s->wq_head = q->next;
        free(q);
    }
    s->wq_tail = NULL;
    s->wq_len = 0;
}

void
nvdp_sess_free(struct nvdp_session *s)
{
    rel_rx_free(&s->rx);
    if (s->tx_ready)
        rel_tx_free(&s->tx);
    s->tx_ready = 0;
    wq_clear(s);
    free(s->ans);
    s->ans = NULL;
    s->nans = s->ans_cap = 0;
}

/* The window the peer lets us use, within ours (spec 10.2). */
static uint16_t
window_limit(const struct nvdp_session *s)
{
    uint16_t lim = s->own_window;

    if (s->tx_ready && lim > s->tx.p.window)
        lim = s->tx.p.window;
    if (s->window == 0) /* its HELLO not heard yet: one at a time */
        return 1;
    return s->window < lim ? s->window : lim;
}

int
nvdp_sess_tx_init(struct nvdp_session *s, const struct rel_params *p,
                  unsigned queue_max)
{
    if (s->tx_ready)
        return 0;
    if (rel_tx_init(&s->tx, p) < 0)
        return -1;
    s->tx_ready = 1;
    s->own_window = s->tx.p.window;
    s->wq_max = queue_max;
    if (s->window != 0)
        rel_tx_set_window(&s->tx, window_limit(s));
    return 0;
}

void
nvdp_sess_new_peer(struct nvdp_session *s, const uint8_t mac[6])
{
    memcpy(s->mac, mac, 6);
    s->epoch = 0;
    s->open = 0;
    s->have_hello = 0;
    memset(&s->hello, 0, sizeof(s->hello));
    s->window = 0;
    s->last_heard = 0;
    memset(&s->replay, 0, sizeof(s->replay));
    s->peer_signs = 0;
}

int
nvdp_sess_epoch(struct nvdp_session *s, uint32_t epoch)
{
    int restarted = s->epoch != 0;

    if (s->epoch == epoch)
        return 0;
    s->epoch = epoch;
    rel_rx_reset(&s->rx, epoch);
    if (restarted)
        s->open = 0;
    return restarted;
}

void
nvdp_sess_auth_seen(struct nvdp_session *s, const struct nvdp_in *in)
{
    s->peer_signs = in->authed;
    if (in->authed)
        nvdp_replay_accept(&s->replay, in->ctr, in->rd.hdr.epoch);
}

void
nvdp_sess_hello(struct nvdp_session *s, const struct nvdp_hello *hl)
{
    s->hello = *hl;
    s->have_hello = 1;
    s->window = hl->window;
    /* Keep every txid we have in flight inside the peer's answer cache
     * (2 x its window), or a stuck retry would be stale there. */
    if (s->tx_ready)
        rel_tx_set_window(&s->tx, window_limit(s));
}

uint32_t
nvdp_sess_peer_epoch(const struct nvdp_session *s)
{
    return is_hypervisor(s->ep) || s->open ? s->epoch : 0;
}

int
nvdp_sess_ours(const struct nvdp_session *s, uint32_t peer_epoch)
{
    return peer_epoch == s->ep->epoch ||
           (peer_epoch == 0 && is_hypervisor(s->ep) && !s->open);
}

/* ---- our requests ---- */

uint16_t
nvdp_sess_tx_space(const struct nvdp_session *s)
{
    uint16_t lim, room;

    if (!s->tx_ready)
        return 0;
    lim = window_limit(s);
    room = rel_tx_space(&s->tx);
    if (s->tx.outstanding >= lim)
        return 0;
    lim = (uint16_t)(lim - s->tx.outstanding);
    return room < lim ? room : lim;
}

uint32_t
nvdp_sess_submit(struct nvdp_session *s, const struct nvdp_msg *m,
                 void *user, uint64_t now)
{
    if (nvdp_sess_tx_space(s) == 0)
        return 0;
    return rel_tx_submit(&s->tx, m, user, now);
}

int
nvdp_sess_submit_queued(struct nvdp_session *s, const struct nvdp_msg *m,
                        void *user, uint64_t now)
{
    struct nvdp_wq *q;

    if (s->wq_head == NULL && nvdp_sess_submit(s, m, user, now) != 0)
        return 0;
    if (s->wq_len >= s->wq_max || (q = malloc(sizeof(*q))) == NULL)
        return -1;
    q->next = NULL;
    q->user = user;
    q->m = *m;
    if (s->wq_tail != NULL)
        s->wq_tail->next = q;
    else
        s->wq_head = q;
    s->wq_tail = q;
    s->wq_len++;
    return 0;
}

/* Moves queued requests into the window while it has room. */
static void
wq_pump(struct nvdp_session *s, uint64_t now)
{
    while (s->wq_head != NULL) {
        struct nvdp_wq *q = s->wq_head;
        if (nvdp_sess_submit(s, &q->m, q->user, now) == 0)
            break;
        s->wq_head = q->next;
        if (s->wq_head == NULL)
            s->wq_tail = NULL;
        s->wq_len--;
        free(q);
    }
}

struct giveup_ctx {
    struct nvdp_session *s;
    rel_giveup_fn fn;
    void *arg;
};

static void
giveup_count(void *arg, const struct nvdp_msg *m, void *user)
{
    struct giveup_ctx *g = arg;

    NVDP_COUNT(&g->s->cnt, tx_giveups);
    if (g->fn != NULL)
        g->fn(g->arg, m, user);
}

void
nvdp_sess_put_due(struct nvdp_session *s, struct nvdp_out *o, uint64_t now,
                  rel_giveup_fn giveup, void *arg)
{
    struct giveup_ctx g = {s, giveup, arg};
    const struct nvdp_msg *due[64];
    uint64_t rtx;
    int n;

    if (!s->tx_ready)
        return;
    wq_pump(s, now);
    /* Pointers from rel_tx_due stay valid until tx changes: encode each
     * batch before asking for the next. */
    do {
        rtx = s->tx.retransmits;
        n = rel_tx_due(&s->tx, now, due, 64, giveup_count, &g);
        NVDP_COUNT_N(&s->cnt, tx_retransmits, s->tx.retransmits - rtx);
        for (int i = 0; i < n; i++)
            nvdp_out_add(o, due[i]);
    } while (n == 64);
}

void
nvdp_sess_tx_reset(struct nvdp_session *s, rel_giveup_fn cb, void *arg)
{
    if (s->tx_ready)
        rel_tx_reset(&s->tx, cb, arg);
    wq_clear(s);
}

int
nvdp_sess_response(struct nvdp_session *s, int ours, const struct nvdp_msg *m,
                   struct nvdp_msg *req, void **user, uint64_t now)
{
    /* txids begin at 1 in every epoch: an answer in a frame that is not
     * ours answers a previous incarnation's request with the same txid */
    if (!ours || !s->tx_ready || !rel_tx_ack(&s->tx, m->txid, user, req, now)) {
        NVDP_COUNT(&s->cnt, rx_stray_responses);
        return 0;
    }
    wq_pump(s, now);
    return 1;
}

/* ---- the peer's requests ---- */

static void
queue_answer(struct nvdp_session *s, const struct rel_resp *r)
{
    if (s->nans >= NVDP_ANSWERS_MAX) {
        NVDP_COUNT(&s->cnt, resp_dropped);
        return;
    }
    if (s->nans == s->ans_cap) {
        size_t cap = s->ans_cap ? s->ans_cap * 2 : 16;
        struct nvdp_msg *n = realloc(s->ans, cap * sizeof(*n));
        if (n == NULL)
            return; /* the peer retransmits and gets the cached answer */
        s->ans = n;
        s->ans_cap = cap;
    }
    rel_resp_msg(r, &s->ans[s->nans++]);
}

static void
send_answer(struct nvdp_session *s, struct nvdp_out *o,
            const struct rel_resp *r)
{
    if (o != NULL)
        nvdp_out_answer(o, r);
    else
        queue_answer(s, r);
}

int
nvdp_sess_request_new(struct nvdp_session *s, struct nvdp_out *o,
                      const struct nvdp_msg *m)
{
    const struct rel_resp *cached = NULL;
    char ms[NVDP_MAC_STRLEN];

    switch (rel_rx_check(&s->rx, m->txid, &cached)) {
    case REL_NEW:
        return 1;
    case REL_DUP:
        NVDP_COUNT(&s->cnt, rx_dup);
        log_debug("duplicate %s txid %u from %s: answered from cache",
                  nvdp_msg_name(m->type), m->txid, mac_str(s->mac, ms));
        if (cached != NULL)
            send_answer(s, o, cached);
        return 0;
    case REL_STALE:
        NVDP_COUNT(&s->cnt, rx_stale);
        return 0;
    }
    return 0;
}

void
nvdp_sess_answer(struct nvdp_session *s, struct nvdp_out *o,
                 const struct rel_resp *r)
{
    struct rel_resp c = *r;

    c.valid = 1;
    rel_rx_store(&s->rx, &c);
    send_answer(s, o, &c);
}

void
nvdp_sess_answer_error(struct nvdp_session *s, struct nvdp_out *o,
                       const struct nvdp_msg *m, int err)
{
    struct rel_resp r;

    if (!nvdp_sess_request_new(s, o, m))
        return;
    nvdp_resp_init(&r, m, nvdp_err_status(err), nvdp_strerror(err));
    nvdp_sess_answer(s, o, &r);
}

void
nvdp_sess_put_answers(struct nvdp_session *s, struct nvdp_out *o)
{
    for (size_t i = 0; i < s->nans; i++) {
        const struct nvdp_msg *m = &s->ans[i];
        if (m->status <= NVDP_ST_MAX)
            NVDP_COUNT_AT(&o->cnt, status, m->status);
        nvdp_out_add(o, m);
    }
    s->nans = 0;
}
