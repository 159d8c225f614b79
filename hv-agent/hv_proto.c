/* hv_proto.c - hv-agent's NVDP engine: hellos, NVE liveness and epochs,
 * reconciliation of desired vs acknowledged state, resync. No I/O: frames
 * come in through hv_proto_input(), leave through the send callback. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hv.h"
#include "log.h"

#define HV_RX_CACHE 512 /* dedupe slots for the NVE's requests */
#define HV_LOG_EVERY_MS 1000

static const uint8_t zero_mac[6];

static void start_resync(struct hv *h, const char *why);

/* ---- small helpers --------------------------------------------------- */

static const char *
mac_str(const uint8_t mac[6], char buf[18])
{
    nvdp_mac_fmt(mac, buf);
    return buf;
}

static const char *
vnic_str(const struct hv_vnic *v, char buf[37])
{
    nvdp_uuid_fmt(&v->uuid, buf);
    return buf;
}

static const uint8_t *
dst_mac(const struct hv *h)
{
    const struct hv_proto *p = &h->proto;

    if (h->conf.nve_mac_set)
        return h->conf.nve_mac;
    if (p->nve_selected)
        return p->nve.mac;
    return h->conf.group_mac;
}

static uint16_t
tx_limit(const struct hv *h)
{
    const struct hv_proto *p = &h->proto;
    uint16_t lim = h->conf.rel.window;

    if (lim > p->tx.p.window)
        lim = p->tx.p.window;
    if (p->nve.window == 0)
        return 1; /* until the NVE's HELLO tells us its window */
    if (p->nve.window < lim)
        lim = p->nve.window;
    return lim;
}

/* Room for new requests: what rel_tx_submit() accepts (the txid span from
 * the oldest unanswered request, rel.h) and at most tx_limit() outstanding.
 * reconcile() takes a VNIC off the dirty list only when this says a request
 * fits, so no VNIC is dropped by a refused submit (spec 10.6 rule 2). */
static uint16_t
tx_space(const struct hv *h)
{
    const struct hv_proto *p = &h->proto;
    uint16_t lim = tx_limit(h), room = rel_tx_space(&p->tx);

    if (p->tx.outstanding >= lim)
        return 0;
    lim = (uint16_t)(lim - p->tx.outstanding);
    return room < lim ? room : lim;
}

static void
set_state(struct hv *h, struct hv_vnic *v, unsigned state)
{
    char u[37];

    if (v->state == state)
        return;
    log_debug("vnic %s: %s -> %s", vnic_str(v, u), hv_vnic_state_str(v->state),
              hv_vnic_state_str(state));
    v->state = (uint8_t)state;
}

static void
replay_done(struct hv *h, struct hv_vnic *v)
{
    if (v->replay) {
        v->replay = 0;
        if (h->proto.replay_left > 0)
            h->proto.replay_left--;
    }
}

static void
vnic_forget(struct hv *h, struct hv_vnic *v)
{
    char u[37];

    log_info("vnic %s: detached", vnic_str(v, u));
    replay_done(h, v);
    v->state = HV_VNIC_DETACHED;
    hv_notify_vnic(h, v);
    hv_state_remove(&h->state, v); /* queues the record's removal */
    hv_state_changed(h, NULL);
}

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

/* ---- what a VNIC needs next ------------------------------------------ */

static int
addr_in(const struct nvdp_addr *a, const struct nvdp_addr *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (nvdp_addr_equal(a, &set[i]))
            return 1;
    return 0;
}

static int
mac_in(const uint8_t mac[6], const struct nvdp_addr *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(mac, set[i].mac, 6) == 0)
            return 1;
    return 0;
}

/* Addresses the NVE holds that are no longer wanted, as DISASSOC would
 * carry them: a MAC we no longer use at all goes as MAC-only (which
 * removes its IPs with it), otherwise each stale IP on its own. */
static size_t
removed_addrs(const struct hv_vnic *v, struct nvdp_addr *out)
{
    size_t n = 0;

    for (size_t i = 0; i < v->nacked && n < NVDP_MAX_ADDRS; i++) {
        const struct nvdp_addr *a = &v->acked[i];

        if (addr_in(a, v->addr, v->naddr))
            continue;
        if (!mac_in(a->mac, v->addr, v->naddr)) {
            struct nvdp_addr m;
            if (nvdp_addr_parse(a->mac, NULL, &m) < 0 || addr_in(&m, out, n))
                continue;
            out[n++] = m;
        } else if (a->kind != NVDP_ADDR_MAC)
            out[n++] = *a;
    }
    return n;
}

static int
desired_acked(const struct hv_vnic *v)
{
    for (size_t i = 0; i < v->naddr; i++)
        if (!addr_in(&v->addr[i], v->acked, v->nacked))
            return 0;
    return 1;
}

enum { NEXT_NONE = 0, NEXT_SEND = 1, NEXT_FORGET = 2 };

/* The one request that brings v closer to its desired state, in the order
 * the NVE needs them: leave an old VN, drop stale addresses, (pre)associate,
 * then the admin state. */
static int
vnic_next(const struct hv_vnic *v, struct nvdp_msg *m)
{
    uint16_t kind;

    if (v->state == HV_VNIC_FAILED)
        return NEXT_NONE;
    memset(m, 0, offsetof(struct nvdp_msg, addr));
    m->has_vnic = 1;
    m->vnic = v->uuid;
    if (v->state == HV_VNIC_WITHDRAWN && v->want != HV_WANT_DETACH) {
        /* The NVE may have applied our last ASSOC after it withdrew the
         * VNIC (spec 10.6 rule 5): remove it from this port only. */
        if (!v->may_exist)
            return NEXT_NONE;
        m->type = NVDP_MSG_VNIC_DISASSOC;
        m->has_intent = 1;
        m->intent = NVDP_INTENT_MIGRATION;
        return NEXT_SEND;
    }
    if (v->want == HV_WANT_DETACH) {
        if (!v->may_exist)
            return NEXT_FORGET;
        m->type = NVDP_MSG_VNIC_DISASSOC;
        m->has_intent = 1;
        m->intent = v->intent ? v->intent : NVDP_INTENT_SHUTDOWN;
        return NEXT_SEND;
    }
    if (v->want == HV_WANT_PREASSOC &&
        (v->acked_kind == NVDP_MSG_ASSOC ||
         (v->acked_kind == NVDP_MSG_PREASSOC && v->acked_rr && !v->reserve))) {
        /* the NVE never gives back an association or a reservation on a
         * PREASSOC (spec 9.7): leave this port first, the PREASSOC
         * follows */
        m->type = NVDP_MSG_VNIC_DISASSOC;
        m->has_intent = 1;
        m->intent = NVDP_INTENT_MIGRATION;
        return NEXT_SEND;
    }
    if (v->acked_kind != HV_ACK_NONE && !nvdp_vn_equal(&v->acked_vn, &v->vn)) {
        m->type = NVDP_MSG_VN_DISCONNECT;
        m->vn = v->acked_vn;
        return NEXT_SEND;
    }
    m->vn = v->vn;
    if (v->acked_kind != HV_ACK_NONE &&
        (m->naddr = (uint16_t)removed_addrs(v, m->addr)) > 0) {
        m->type = NVDP_MSG_DISASSOC;
        return NEXT_SEND;
    }
    kind = v->want == HV_WANT_ATTACH ? NVDP_MSG_ASSOC : NVDP_MSG_PREASSOC;
    if (v->acked_kind != kind || v->acked_unsure || !desired_acked(v) ||
        (kind == NVDP_MSG_PREASSOC && v->acked_rr != v->reserve)) {
        m->type = kind;
        m->naddr = v->naddr;
        memcpy(m->addr, v->addr, v->naddr * sizeof(v->addr[0]));
        if (v->tag != 0 || v->tag_hint != 0) {
            m->has_tag_hint = 1;
            m->tag_hint = v->tag != 0 ? v->tag : v->tag_hint;
        }
        if (kind == NVDP_MSG_PREASSOC) {
            m->has_flags = 1;
            m->rflags = v->reserve ? NVDP_RF_RR : 0;
        }
        return NEXT_SEND;
    }
    /* After a fresh association the NVE's admin state is up unless we
     * said otherwise: only a wanted "down" needs a message then. */
    if (kind == NVDP_MSG_ASSOC &&
        ((v->acked_up == HV_UP_UNKNOWN && !v->up) ||
         v->acked_up == HV_UP_DOUBT ||
         (v->acked_up != HV_UP_UNKNOWN && v->acked_up != v->up))) {
        m->naddr = 0;
        m->type = NVDP_MSG_VNIC_STATE;
        m->has_state = 1;
        m->state = v->up ? NVDP_VNIC_UP : NVDP_VNIC_DOWN;
        return NEXT_SEND;
    }
    return NEXT_NONE;
}

int
hv_vnic_settled(const struct hv_vnic *v)
{
    struct nvdp_msg *m;
    int r;

    if (v->state == HV_VNIC_FAILED || v->state == HV_VNIC_WITHDRAWN ||
        v->state == HV_VNIC_DETACHED)
        return 1;
    if (v->inflight || v->replay || v->state == HV_VNIC_PENDING ||
        v->state == HV_VNIC_DETACHING)
        return 0;
    if ((m = malloc(sizeof(*m))) == NULL)
        return 0;
    r = vnic_next(v, m);
    free(m);
    return r == NEXT_NONE;
}

/* The state v reports, from what the NVE acknowledged (spec 12.2):
 * attached / preassociated only when the NVE holds the desired VN and
 * addresses (a VNIC_STATE may still be on its way: the tag is right), so
 * an answer to an older desired state never confirms a newer one. failed
 * and withdrawn stay until something else happens to the VNIC. */
static unsigned
vnic_derived(const struct hv_vnic *v)
{
    struct nvdp_msg *m;
    unsigned ns = HV_VNIC_PENDING;
    int r;

    if (v->state == HV_VNIC_FAILED || v->state == HV_VNIC_WITHDRAWN)
        return v->state;
    if (v->want == HV_WANT_DETACH)
        return HV_VNIC_DETACHING;
    if ((m = malloc(sizeof(*m))) == NULL)
        return v->state;
    r = vnic_next(v, m);
    if (r == NEXT_NONE || (r == NEXT_SEND && m->type == NVDP_MSG_VNIC_STATE))
        ns = v->acked_kind == NVDP_MSG_ASSOC ? HV_VNIC_ATTACHED :
                                               HV_VNIC_PREASSOCIATED;
    free(m);
    return ns;
}

/* ---- answers to our requests ----------------------------------------- */

static void
vnic_fail(struct hv *h, struct hv_vnic *v, uint16_t status,
          const char *reason)
{
    char u[37];

    set_state(h, v, HV_VNIC_FAILED);
    v->status = status;
    snprintf(v->reason, sizeof(v->reason), "%s",
             reason != NULL && *reason ? reason : nvdp_status_str(status));
    log_warnx("vnic %s: NVE refused: %s (%s)", vnic_str(v, u),
              nvdp_status_str(status), v->reason);
}

/* Acked addresses minus what a DISASSOC removed. */
static void
acked_remove(struct hv_vnic *v, const struct nvdp_msg *req)
{
    size_t n = 0;

    for (size_t i = 0; i < v->nacked; i++) {
        const struct nvdp_addr *a = &v->acked[i];
        struct nvdp_addr m;
        int gone = addr_in(a, req->addr, req->naddr);

        if (!gone && nvdp_addr_parse(a->mac, NULL, &m) == 0 &&
            addr_in(&m, req->addr, req->naddr))
            gone = 1;
        if (!gone)
            v->acked[n++] = *a;
    }
    v->nacked = (uint16_t)n;
}

/* What the NVE holds after it applied req (spec 10.6 rule 3): recorded from
 * the request that was answered, whatever is desired by now. */
static void
acked_apply(struct hv *h, struct hv_vnic *v, const struct nvdp_msg *req,
            const struct nvdp_msg *resp)
{
    switch (req->type) {
    case NVDP_MSG_ASSOC:
    case NVDP_MSG_PREASSOC:
        v->acked_unsure = 0;
        v->acked_kind = req->type;
        v->acked_vn = req->vn;
        v->acked_rr = (req->rflags & NVDP_RF_RR) != 0;
        hv_state_set_acked(v, req->addr, req->naddr);
        if (resp->has_tag) {
            v->tag = resp->tag;
            if (v->tag_hint != resp->tag) {
                v->tag_hint = resp->tag; /* TAG_HINT after restarts */
                hv_state_changed(h, v);
            }
        } else if (req->type == NVDP_MSG_PREASSOC)
            v->tag = 0;
        break;
    case NVDP_MSG_VN_DISCONNECT:
        v->acked_unsure = 0;
        v->acked_kind = HV_ACK_NONE;
        v->acked_up = HV_UP_UNKNOWN; /* a new entry starts up */
        v->nacked = 0;
        memset(&v->acked_vn, 0, sizeof(v->acked_vn));
        v->tag = 0;
        v->tag_hint = 0; /* a hint is only meaningful for its VN */
        break;
    case NVDP_MSG_DISASSOC:
        acked_remove(v, req);
        break;
    case NVDP_MSG_VNIC_STATE:
        v->acked_up = req->state == NVDP_VNIC_UP;
        break;
    case NVDP_MSG_VNIC_DISASSOC:
        v->acked_unsure = 0;
        v->may_exist = 0;
        v->acked_kind = HV_ACK_NONE;
        v->acked_up = HV_UP_UNKNOWN;
        v->nacked = 0;
        v->tag = 0;
        break;
    }
}

/* req was given up: the NVE may or may not have applied it. acked_* then
 * says what it may hold (what vnic_next() removes if unwanted) and
 * acked_unsure that it may hold less: only a new answer confirms. */
static void
acked_doubt(struct hv_vnic *v, const struct nvdp_msg *req)
{
    struct nvdp_addr a[NVDP_MAX_ADDRS];
    size_t n = 0;

    if (req->type == NVDP_MSG_VNIC_STATE) {
        v->acked_up = HV_UP_DOUBT; /* the rest is as known */
        return;
    }
    v->acked_unsure = 1;
    switch (req->type) {
    case NVDP_MSG_ASSOC:
    case NVDP_MSG_PREASSOC:
        /* vnic_next() left any other VN first: the NVE holds this VN or
         * nothing */
        if (v->acked_kind == HV_ACK_NONE) {
            v->acked_vn = req->vn;
            v->nacked = 0;
        } else if (!nvdp_vn_equal(&v->acked_vn, &req->vn))
            break;
        if (v->acked_kind != NVDP_MSG_ASSOC)
            v->acked_kind = req->type;
        v->acked_rr |= (req->rflags & NVDP_RF_RR) != 0;
        for (size_t i = 0; i < v->nacked && n < NVDP_MAX_ADDRS; i++)
            a[n++] = v->acked[i];
        for (size_t i = 0; i < req->naddr && n < NVDP_MAX_ADDRS; i++)
            if (!addr_in(&req->addr[i], a, n))
                a[n++] = req->addr[i];
        hv_state_set_acked(v, a, n);
        break;
    default:
        /* removals: what acked_* says is still what it may hold */
        break;
    }
}

static void
vnic_answered(struct hv *h, struct hv_vnic *v, const struct nvdp_msg *req,
              const struct nvdp_msg *resp)
{
    unsigned before = v->state, ns;
    uint16_t before_tag = v->tag;
    int ok = resp->status == NVDP_ST_OK ||
             (req->type == NVDP_MSG_VNIC_DISASSOC &&
              resp->status == NVDP_ST_UNKNOWN_VNIC);
    int replayed = v->replay;
    char u[37];

    v->inflight = 0;
    if (req->type == NVDP_MSG_ASSOC || req->type == NVDP_MSG_PREASSOC)
        replay_done(h, v);
    if (ok)
        acked_apply(h, v, req, resp);
    else if (v->state == HV_VNIC_WITHDRAWN)
        /* it withdrew the VNIC and the refused request changed nothing
         * (requests are atomic): it holds nothing of it */
        v->may_exist = 0;
    else if (v->req_gen == v->gen)
        vnic_fail(h, v, resp->status, resp->reason);
    else
        /* refused what is no longer desired: moot, the desired state is
         * compared again below (spec 10.6 rule 3) */
        log_debug("vnic %s: %s refused, desired state changed since: %s",
                  vnic_str(v, u), nvdp_msg_name(req->type), resp->reason);
    if (v->wd_race) {
        /* applied before or after the NVE withdrew the VNIC: either */
        v->wd_race = 0;
        v->acked_unsure = 1;
        v->acked_up = HV_UP_DOUBT;
    }
    if (ok && v->want == HV_WANT_DETACH && !v->may_exist) {
        vnic_forget(h, v);
        return;
    }
    if (v->state == HV_VNIC_WITHDRAWN)
        v->tag = 0; /* an ASSOC answered after the WITHDRAW: not ours */
    ns = vnic_derived(v);
    /* a resync replays thousands: those go to the debug log */
    if (ns != v->state && !replayed &&
        (ns == HV_VNIC_ATTACHED || ns == HV_VNIC_PREASSOCIATED))
        log_info("vnic %s: %s, tag %u", vnic_str(v, u),
                 hv_vnic_state_str(ns), v->tag);
    set_state(h, v, ns);
    hv_state_mark(&h->state, v);
    if (v->state != before || v->tag != before_tag || hv_vnic_settled(v))
        hv_notify_vnic(h, v);
}

static void
resync_answered(struct hv *h, const struct nvdp_msg *req,
                const struct nvdp_msg *resp)
{
    struct hv_proto *p = &h->proto;

    if (resp->status != NVDP_ST_OK)
        log_warnx("resync %s refused by the NVE: %s (%s); continuing",
                  req->phase == NVDP_RESYNC_BEGIN ? "begin" : "end",
                  nvdp_status_str(resp->status), resp->reason);
    if (req->phase == NVDP_RESYNC_BEGIN)
        p->in_session = resp->status == NVDP_ST_OK;
    if (req->phase == NVDP_RESYNC_BEGIN && p->phase == HV_RS_BEGIN) {
        log_debug("resync: begin acknowledged, replaying %zu VNICs",
                  p->replay_left);
        p->phase = HV_RS_REPLAY;
    } else if (req->phase == NVDP_RESYNC_END && p->phase == HV_RS_END) {
        log_info("resync: complete");
        p->phase = HV_RS_IDLE;
    }
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
        resync_answered(h, req, m);
    else if (user != NULL)
        vnic_answered(h, user, req, m);
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

static void
answer_request(struct hv *h, const struct nvdp_msg *m, uint16_t status,
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
static int
request_new(struct hv *h, const struct nvdp_msg *m)
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

/* The NVE removed v. It cannot say whether before or after it applied
 * our last request for v (nor does a VN-wide WITHDRAW say which VN the
 * NVE held v in, when we were moving it), so what we knew becomes what it
 * may hold, and may_exist stays: a VNIC we asked the NVE to hold gets a
 * VNIC_DISASSOC (intent migration) to agree on absent either way, or is
 * moved out of what it may hold if the caller attaches it again (spec 10.6
 * rule 5, vnic_next()). */
static void
withdraw_vnic(struct hv *h, struct hv_vnic *v, const char *reason)
{
    char u[37];

    v->acked_unsure = 1;
    v->acked_up = HV_UP_DOUBT;
    v->wd_race = v->inflight;
    replay_done(h, v);
    hv_state_mark(&h->state, v);
    if (v->want == HV_WANT_DETACH)
        return; /* its VNIC_DISASSOC goes on: the same doubt */
    log_warnx("vnic %s: withdrawn by the NVE: %s", vnic_str(v, u),
              *reason ? reason : "no reason given");
    v->tag = 0; /* must not be used any more; tag_hint remembers it */
    v->status = NVDP_ST_OK;
    snprintf(v->reason, sizeof(v->reason), "%s",
             *reason ? reason : "withdrawn by the NVE");
    set_state(h, v, HV_VNIC_WITHDRAWN);
    hv_notify_vnic(h, v);
    hv_state_changed(h, v);
}

static void
handle_withdraw(struct hv *h, const struct nvdp_msg *m)
{
    struct hv_vnic *v, *next;

    h->proto.cnt.withdraws_rx++;
    if (!request_new(h, m))
        return;
    for (v = TAILQ_FIRST(&h->state.all); v != NULL; v = next) {
        next = TAILQ_NEXT(v, entry);
        if (m->has_vnic && memcmp(m->vnic.b, v->uuid.b, 16) != 0)
            continue;
        /* The NVE names the VN as we did (the one it holds, which is
         * not the desired one while we move the VNIC); a tag match also
         * identifies it (one tag per VN on our port). */
        if (m->vn.kind != NVDP_VN_NONE && !nvdp_vn_equal(&m->vn, &v->vn) &&
            !(v->acked_kind != HV_ACK_NONE &&
              nvdp_vn_equal(&m->vn, &v->acked_vn)) &&
            !(m->has_tag && v->tag != 0 && v->tag == m->tag))
            continue;
        if (v->state == HV_VNIC_WITHDRAWN)
            continue;
        withdraw_vnic(h, v, m->reason);
    }
    answer_request(h, m, NVDP_ST_OK, NULL);
}

/* ---- input ----------------------------------------------------------- */

static struct hv_peer *
peer_get(struct hv_proto *p, const uint8_t mac[6], uint64_t now)
{
    size_t oldest = 0;

    for (size_t i = 0; i < p->npeers; i++) {
        if (memcmp(p->peers[i].mac, mac, 6) == 0)
            return &p->peers[i];
        if (p->peers[i].last_heard < p->peers[oldest].last_heard)
            oldest = i;
    }
    if (p->npeers < HV_MAX_PEERS)
        oldest = p->npeers++;
    memset(&p->peers[oldest], 0, sizeof(p->peers[0]));
    memcpy(p->peers[oldest].mac, mac, 6);
    (void)now;
    return &p->peers[oldest];
}

static void
peer_hello(struct hv_peer *pe, const struct nvdp_hello *hl, uint32_t epoch,
           uint64_t now)
{
    pe->role = hl->role;
    snprintf(pe->name, sizeof(pe->name), "%s", hl->name);
    pe->hold_time = hl->hold_time;
    pe->hello_interval = hl->hello_interval;
    pe->window = hl->window;
    pe->epoch = epoch;
    pe->last_heard = now;
    pe->state = HV_PEER_UP;
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
              msg_level ? "message" : "frame", mac_str(src, m),
              nvdp_strerror(err),
              (unsigned long long)(c->rx_malformed + c->rx_msg_errors +
                                   c->rx_bad_version));
}

/* First pass over a frame: its HELLO, if any (identifies the sender). */
static int
frame_hello(const uint8_t *buf, size_t len, struct nvdp_msg *m)
{
    struct nvdp_reader r;
    int rc;

    if (nvdp_frame_open(&r, buf, len) < 0)
        return 0;
    while ((rc = nvdp_frame_next(&r, m)) != 0)
        if (rc > 0 && m->type == NVDP_MSG_HELLO)
            return 1;
    return 0;
}

static void
nve_select(struct hv *h, const uint8_t src[6], uint64_t now)
{
    struct hv_proto *p = &h->proto;
    char m[18];
    int changed = memcmp(p->nve.mac, zero_mac, 6) != 0 &&
                  memcmp(p->nve.mac, src, 6) != 0;

    if (changed) {
        log_warnx("NVE changed to %s (was %s)", mac_str(src, m),
                  mac_str(p->nve.mac, (char[18]){0}));
        memset(&p->nve, 0, sizeof(p->nve));
    }
    memcpy(p->nve.mac, src, 6);
    p->nve_selected = 1;
    (void)now;
    if (changed)
        start_resync(h, "new NVE");
}

/* Epoch bookkeeping for a frame from our NVE (spec 11.1, 11.3). */
static void
nve_epochs(struct hv *h, const struct nvdp_hdr *hdr, int unicast)
{
    struct hv_proto *p = &h->proto;
    uint32_t pe = hdr->peer_epoch;

    if (p->nve.epoch != hdr->epoch) {
        int restarted = p->nve.epoch != 0;

        p->nve.epoch = hdr->epoch;
        rel_rx_reset(&p->rx, hdr->epoch);
        if (restarted) {
            log_warnx("NVE restarted (epoch %08x)", hdr->epoch);
            start_resync(h, "NVE restarted");
            return;
        }
    }
    /* Only unicast frames say what the NVE holds for us: its group HELLO
     * carries 0 for everybody. Until our BEGIN is answered its frames
     * cannot know our session yet (start_resync ignores them then). */
    if (unicast && pe != p->epoch) {
        /* Not in session (BEGIN outstanding, or refused, e.g. we are not
         * authorised on that port): nothing was lost, and resyncing again
         * would loop. */
        if (!p->in_session || p->phase == HV_RS_NEEDED ||
            p->phase == HV_RS_BEGIN)
            return;
        log_warnx("NVE does not hold our state (peer_epoch %08x, ours %08x)",
                  pe, p->epoch);
        start_resync(h, "NVE lost our state");
    }
}

static void
nve_heard(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    char m[18];

    p->nve.last_heard = now;
    if (p->nve.state != HV_PEER_UP) {
        log_info("NVE %s up", mac_str(p->nve.mac, m));
        p->nve.state = HV_PEER_UP;
        hv_notify_nve(h, 1);
    }
    if (p->blocked) {
        struct hv_vnic *v;

        log_debug("NVE heard again: retrying");
        p->blocked = 0;
        rel_tx_kick(&p->tx, now);
        /* requests given up are submitted again (new txids) */
        TAILQ_FOREACH(v, &h->state.all, entry) {
            if (!v->gaveup)
                continue;
            v->gaveup = 0;
            if (v->state == HV_VNIC_FAILED) {
                set_state(h, v, v->want == HV_WANT_DETACH ?
                                HV_VNIC_DETACHING : HV_VNIC_PENDING);
                hv_notify_vnic(h, v);
            }
            hv_state_mark(&h->state, v);
        }
    }
}

/* Who sent this frame: 1 = our NVE, 0 = someone else. */
static int
classify(struct hv *h, const uint8_t src[6], const struct nvdp_hdr *hdr,
         const uint8_t *buf, size_t len, struct nvdp_msg *m, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    int has_hello = frame_hello(buf, len, m);
    struct hv_peer *pe = peer_get(p, src, now);
    char a[18], b[18];

    if (has_hello)
        peer_hello(pe, &m->hello, hdr->epoch, now);
    else {
        pe->epoch = hdr->epoch;
        pe->last_heard = now;
    }
    if (h->conf.nve_mac_set) {
        if (memcmp(src, h->conf.nve_mac, 6) != 0)
            goto foreign;
        if (!p->nve_selected)
            nve_select(h, src, now);
        return 1;
    }
    if (p->nve_selected && memcmp(src, p->nve.mac, 6) == 0)
        return 1;
    if (!p->nve_selected && has_hello && m->hello.role == NVDP_ROLE_NVE) {
        nve_select(h, src, now);
        return 1;
    }
foreign:
    if (pe->role == NVDP_ROLE_NVE && !pe->ignored_logged) {
        pe->ignored_logged = 1;
        log_warnx("ignoring NVE %s: using %s", mac_str(src, a),
                  mac_str(dst_mac(h), b));
    }
    return 0;
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
            else if (from_nve && is_req && request_new(h, m))
                answer_request(h, m, nvdp_err_status(rc), nvdp_strerror(rc));
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
            rel_tx_set_window(&p->tx, tx_limit(h));
            break;
        case NVDP_MSG_WITHDRAW:
            handle_withdraw(h, m);
            break;
        default:
            p->cnt.unsupported_rx++;
            if (request_new(h, m))
                answer_request(h, m, NVDP_ST_UNSUPPORTED,
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
    from_nve = classify(h, src, &r.hdr, buf, len, m, now);
    if (from_nve) {
        nve_heard(h, now);
        nve_epochs(h, &r.hdr, memcmp(dst, p->mac, 6) == 0);
    } else {
        p->cnt.rx_foreign++;
        /* Before we know the NVE, answers to our group-addressed
         * requests may come from it before its first HELLO: take those
         * unless the sender is known to be a hypervisor. */
        struct hv_peer *pe = peer_get(p, src, now);
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

/* ---- resync ------------------------------------------------------------ */

static void
reset_cb(void *arg, const struct nvdp_msg *msg, void *user)
{
    struct hv_vnic *v = user;

    (void)arg;
    (void)msg;
    if (v != NULL)
        v->inflight = 0;
}

/* Drops what is outstanding and replays every VNIC but the withdrawn
 * ones after a new RESYNC BEGIN. Once per change: while a BEGIN is still
 * to be answered, a new trigger changes nothing (the BEGIN, retransmitted
 * to whoever the NVE now is, opens the session anyway). */
static void
start_resync(struct hv *h, const char *why)
{
    struct hv_proto *p = &h->proto;
    struct hv_vnic *v;

    if (p->phase == HV_RS_NEEDED || p->phase == HV_RS_BEGIN) {
        log_debug("resync (%s): already starting", why);
        return;
    }
    log_info("resync: %s: replaying %zu VNICs", why, h->state.count);
    p->in_session = 0;
    rel_tx_reset(&p->tx, reset_cb, h);
    p->replay_left = 0;
    TAILQ_FOREACH(v, &h->state.all, entry) {
        v->inflight = 0;
        v->wd_race = 0;
        v->replay = 0;
        v->gaveup = 0;
        if (v->state == HV_VNIC_WITHDRAWN) {
            /* not replayed: END sweeps whatever the NVE still holds */
            v->may_exist = 0;
            continue;
        }
        /* the replay restates every VNIC (spec 9.9): what was acked or
         * in doubt no longer matters */
        v->acked_kind = HV_ACK_NONE;
        v->acked_unsure = 0;
        v->nacked = 0;
        v->acked_up = HV_UP_UNKNOWN;
        v->may_exist = 1;
        if (v->state == HV_VNIC_FAILED) {
            /* a resync is a fresh start: refused VNICs are tried again */
            set_state(h, v, HV_VNIC_PENDING);
            hv_notify_vnic(h, v);
        }
        v->replay = 1;
        p->replay_left++;
        hv_state_mark(&h->state, v);
    }
    p->phase = HV_RS_NEEDED;
    if (h->wake != NULL)
        h->wake(h);
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
giveup_cb(void *arg, const struct nvdp_msg *msg, void *user)
{
    struct hv *h = arg;
    struct hv_proto *p = &h->proto;
    struct hv_vnic *v = user;
    char u[37];

    p->blocked = 1;
    if (msg->type == NVDP_MSG_RESYNC) {
        log_warnx("resync %s unanswered: retrying when the NVE is heard",
                  msg->phase == NVDP_RESYNC_BEGIN ? "begin" : "end");
        p->phase = msg->phase == NVDP_RESYNC_BEGIN ? HV_RS_NEEDED :
                                                     HV_RS_REPLAY;
        return;
    }
    if (v == NULL)
        return;
    log_warnx("vnic %s: %s unanswered: retrying when the NVE is heard",
              vnic_str(v, u), nvdp_msg_name(msg->type));
    /* Submitted again when the NVE is heard (nve_heard): a give-up never
     * ends the reconciliation (spec 10.6). A detach stays detaching: an
     * NVE that still hears us keeps the VNIC until told otherwise. */
    v->inflight = 0;
    v->gaveup = 1;
    v->wd_race = 0;
    acked_doubt(v, msg);
    if (v->state == HV_VNIC_WITHDRAWN || v->state == HV_VNIC_DETACHING ||
        v->state == HV_VNIC_FAILED)
        return;
    /* reported failed to the caller meanwhile (spec 10.3) */
    set_state(h, v, HV_VNIC_FAILED);
    v->status = NVDP_ST_OK;
    snprintf(v->reason, sizeof(v->reason), "no answer from NVE");
    hv_notify_vnic(h, v);
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
    f->dst = dst_mac(h);
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
        n = rel_tx_due(&p->tx, now, out, 64, giveup_cb, h);
        for (int i = 0; i < n; i++)
            framer_add(f, out[i]);
    } while (n == 64);
    framer_send(f);
    free(f);
}

/* ---- the run loop --------------------------------------------------- */

/* Puts v's next request into the window. -1 if the window refused it: v
 * is back on the dirty list (it leaves it only for a request accepted, or
 * settled: spec 10.6 rule 2). */
static int
submit(struct hv *h, struct hv_vnic *v, const struct nvdp_msg *m,
       uint64_t now)
{
    struct hv_proto *p = &h->proto;

    if (nvdp_msg_size(m) + NVDP_HDR_LEN > p->mtu) {
        p->cnt.oversize++;
        vnic_fail(h, v, NVDP_ST_LIMIT, "request does not fit the uplink MTU");
        replay_done(h, v);
        hv_notify_vnic(h, v);
        return 0;
    }
    if (rel_tx_submit(&p->tx, m, v, now) == 0) {
        hv_state_mark(&h->state, v);
        return -1;
    }
    v->inflight = 1;
    v->req_gen = v->gen;
    if (m->type == NVDP_MSG_ASSOC || m->type == NVDP_MSG_PREASSOC)
        v->may_exist = 1;
    return 0;
}

/* A settled VNIC reports what the NVE confirmed (spec 12.2). */
static void
vnic_settle(struct hv *h, struct hv_vnic *v)
{
    unsigned ns = vnic_derived(v);

    replay_done(h, v);
    if (ns != v->state) {
        set_state(h, v, ns);
        hv_notify_vnic(h, v);
    }
}

static void
reconcile(struct hv *h, uint64_t now)
{
    struct nvdp_msg *m;
    struct hv_vnic *v;

    if ((m = malloc(sizeof(*m))) == NULL)
        return;
    while (tx_space(h) > 0 && (v = hv_state_next_dirty(&h->state)) != NULL) {
        /* Its answer, give-up or the resync that drops it marks it
         * again: it is compared with the desired state then. */
        if (v->inflight)
            continue;
        switch (vnic_next(v, m)) {
        case NEXT_SEND:
            if (submit(h, v, m, now) < 0)
                goto out;
            break;
        case NEXT_FORGET:
            vnic_forget(h, v);
            break;
        case NEXT_NONE:
            vnic_settle(h, v);
            break;
        }
    }
out:
    free(m);
}

static void
resync_msg(struct hv *h, uint8_t phase, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_msg m;

    /* A state file that did not load whole (hv.c) must not make the NVE
     * drop what we may have lost: the resync then ends without END. */
    if (phase == NVDP_RESYNC_END && h->state_incomplete) {
        log_info("resync: complete; END withheld: damaged state kept "
                 "aside (hv-agent(8))");
        p->phase = HV_RS_IDLE;
        return;
    }
    memset(&m, 0, offsetof(struct nvdp_msg, addr));
    m.type = NVDP_MSG_RESYNC;
    m.has_phase = 1;
    m.phase = phase;
    m.naddr = 0;
    if (rel_tx_submit(&p->tx, &m, NULL, now) == 0)
        return;
    if (phase == NVDP_RESYNC_BEGIN) {
        p->cnt.resyncs++;
        p->phase = HV_RS_BEGIN;
    } else
        p->phase = HV_RS_END;
}

static void
liveness(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    uint64_t hold = (p->nve.hold_time ? p->nve.hold_time : h->conf.hold_time);
    struct hv_vnic *v;
    char m[18];

    if (p->nve.state != HV_PEER_UP || now < p->nve.last_heard + hold * 1000)
        return;
    log_warnx("NVE %s down: not heard for %llus", mac_str(p->nve.mac, m),
              (unsigned long long)hold);
    p->nve.state = HV_PEER_DOWN;
    p->cnt.nve_down++;
    /* Another NVE may take over: fall back to the group address (a pinned
     * NVE stays the destination). Whoever answers next gets a resync. */
    p->nve_selected = 0;
    p->nve.window = 0;
    hv_notify_nve(h, 0);
    TAILQ_FOREACH(v, &h->state.all, entry) {
        if (v->state == HV_VNIC_ATTACHED ||
            v->state == HV_VNIC_PREASSOCIATED) {
            set_state(h, v, HV_VNIC_PENDING);
            hv_notify_vnic(h, v);
        }
    }
    start_resync(h, "NVE lost");
}

static uint64_t
nve_deadline(const struct hv *h)
{
    const struct hv_proto *p = &h->proto;
    uint64_t hold = (p->nve.hold_time ? p->nve.hold_time : h->conf.hold_time);

    if (p->nve.state != HV_PEER_UP)
        return UINT64_MAX;
    return p->nve.last_heard + hold * 1000;
}

uint64_t
hv_proto_run(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    uint64_t next, t;
    int hello = 0;

    liveness(h, now);
    if (now >= p->next_hello || p->hello_now) {
        hello = 1;
        p->hello_now = 0;
        p->next_hello = now + h->conf.hello_interval;
    }
    if (!p->blocked) {
        if (p->phase == HV_RS_NEEDED && tx_space(h) > 0)
            resync_msg(h, NVDP_RESYNC_BEGIN, now);
        /* END as early as allowed: before new work takes the window */
        if (p->phase == HV_RS_REPLAY && p->replay_left == 0 &&
            tx_space(h) > 0)
            resync_msg(h, NVDP_RESYNC_END, now);
        if (p->phase == HV_RS_IDLE || p->phase == HV_RS_REPLAY ||
            p->phase == HV_RS_END)
            reconcile(h, now);
        if (p->phase == HV_RS_REPLAY && p->replay_left == 0 &&
            tx_space(h) > 0)
            resync_msg(h, NVDP_RESYNC_END, now);
    }
    flush(h, now, hello);

    next = p->next_hello;
    if ((t = rel_tx_next_due(&p->tx)) < next)
        next = t;
    if ((t = nve_deadline(h)) < next)
        next = t;
    if (!p->blocked && tx_space(h) > 0 && !TAILQ_EMPTY(&h->state.dirty) &&
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
    start_resync(h, resync ? "started with saved state" : "started");
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

/* ---- JSON ------------------------------------------------------------ */

static struct json_object *
peer_json(const struct hv_peer *pe, uint64_t now)
{
    struct json_object *o = json_object_new_object();
    char m[18];
    const char *role = pe->role == NVDP_ROLE_NVE ? "nve" :
                       pe->role == NVDP_ROLE_HV ? "hypervisor" : "unknown";
    const char *st = pe->state == HV_PEER_UP ? "up" :
                     pe->state == HV_PEER_DOWN ? "down" : "unknown";

    json_object_object_add(o, "mac", json_object_new_string(mac_str(pe->mac, m)));
    json_object_object_add(o, "role", json_object_new_string(role));
    json_object_object_add(o, "name", pe->name[0] ?
                           json_object_new_string(pe->name) : NULL);
    json_object_object_add(o, "epoch", json_object_new_int64(pe->epoch));
    json_object_object_add(o, "state", json_object_new_string(st));
    json_object_object_add(o, "last_heard_ms", pe->last_heard ?
                           json_object_new_int64((int64_t)(now - pe->last_heard)) :
                           NULL);
    json_object_object_add(o, "hold_time", json_object_new_int(pe->hold_time));
    json_object_object_add(o, "hello_interval",
                           json_object_new_int(pe->hello_interval));
    json_object_object_add(o, "window", json_object_new_int(pe->window));
    return o;
}

struct json_object *
hv_proto_peers_json(const struct hv *h, uint64_t now)
{
    const struct hv_proto *p = &h->proto;
    struct json_object *a = json_object_new_array();

    for (size_t i = 0; i < p->npeers; i++) {
        struct hv_peer pe = p->peers[i];
        if (memcmp(pe.mac, p->nve.mac, 6) == 0)
            pe.state = p->nve.state; /* liveness is tracked for the NVE */
        else if (pe.hold_time != 0 &&
                 now >= pe.last_heard + (uint64_t)pe.hold_time * 1000)
            pe.state = HV_PEER_DOWN;
        json_object_array_add(a, peer_json(&pe, now));
    }
    return a;
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
    json_object_object_add(o, "mac", json_object_new_string(mac_str(p->mac, m)));
    json_object_object_add(nve, "mac", known ?
                           json_object_new_string(mac_str(p->nve.mac, m)) : NULL);
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
