/* hv_reconcile.c - desired against acknowledged state, per VNIC (spec
 * 10.6, 12.2): the one request that brings a VNIC closer, what an answer or
 * a give-up says the NVE holds, the work list. */
#include <stdlib.h>
#include <string.h>

#include "hv_proto_int.h"
#include "log.h"

void
hv_vnic_set_state(struct hv *h, struct hv_vnic *v, unsigned state)
{
    char u[NVDP_UUID_STRLEN];

    if (v->state == state)
        return;
    log_debug("vnic %s: %s -> %s", hv_vnic_str(v, u),
              hv_vnic_state_str(v->state), hv_vnic_state_str(state));
    v->state = (uint8_t)state;
}

void
hv_replay_done(struct hv *h, struct hv_vnic *v)
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
    char u[NVDP_UUID_STRLEN];

    if (v->syncing && v->undo != NULL) {
        /* Its detach is written, not yet durable (the commit syncs while
         * the engine runs, hv.c run_proto): a failed sync undoes it, which
         * a VNIC forgotten could not be. Forgotten once synced. */
        v->after_sync = 1;
        return;
    }
    log_info("vnic %s: detached", hv_vnic_str(v, u));
    hv_replay_done(h, v);
    v->state = HV_VNIC_DETACHED;
    hv_notify_vnic(h, v);
    hv_state_remove(&h->state, v); /* queues the record's removal */
    hv_state_learnt(h, NULL);
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
    struct nvdp_msg m; /* on the stack: asked per answer and per waiter */

    if (v->state == HV_VNIC_FAILED || v->state == HV_VNIC_WITHDRAWN ||
        v->state == HV_VNIC_DETACHED)
        return 1;
    if (v->inflight || v->replay || v->state == HV_VNIC_PENDING ||
        v->state == HV_VNIC_DETACHING)
        return 0;
    return vnic_next(v, &m) == NEXT_NONE;
}

/* The state v reports, from what the NVE acknowledged (spec 12.2):
 * attached / preassociated only when the NVE holds the desired VN and
 * addresses (a VNIC_STATE may still be on its way: the tag is right), so
 * an answer to an older desired state never confirms a newer one. failed
 * and withdrawn stay until something else happens to the VNIC. */
static unsigned
vnic_derived(const struct hv_vnic *v)
{
    /* on the stack: its 2.7 KB are past malloc's thread cache, and a
     * malloc of it per answer went through _int_malloc and its
     * consolidation (a fifth to a quarter of hv-agent's samples in a
     * burst, json-c's own allocations included) */
    struct nvdp_msg m;
    unsigned ns = HV_VNIC_PENDING;
    int r;

    if (v->state == HV_VNIC_FAILED || v->state == HV_VNIC_WITHDRAWN)
        return v->state;
    if (v->want == HV_WANT_DETACH)
        return HV_VNIC_DETACHING;
    r = vnic_next(v, &m);
    if (r == NEXT_NONE || (r == NEXT_SEND && m.type == NVDP_MSG_VNIC_STATE))
        ns = v->acked_kind == NVDP_MSG_ASSOC ? HV_VNIC_ATTACHED :
                                               HV_VNIC_PREASSOCIATED;
    return ns;
}

/* ---- answers to our requests ----------------------------------------- */

static void
vnic_fail(struct hv *h, struct hv_vnic *v, uint16_t status,
          const char *reason)
{
    char u[NVDP_UUID_STRLEN];

    hv_vnic_set_state(h, v, HV_VNIC_FAILED);
    v->status = status;
    snprintf(v->reason, sizeof(v->reason), "%s",
             reason != NULL && *reason ? reason : nvdp_status_str(status));
    log_warnx("vnic %s: NVE refused: %s (%s)", hv_vnic_str(v, u),
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
                hv_state_learnt(h, v);
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
    case NVDP_MSG_VN_DISCONNECT:
    case NVDP_MSG_VNIC_DISASSOC:
        /* what acked_* says is still what it may hold; but if the NVE
         * applied it, the entry a later ASSOC makes starts up whatever
         * the old one was (spec 9.8): its link state is in doubt */
        v->acked_up = HV_UP_DOUBT;
        break;
    default:
        /* removals of addresses: what acked_* says is still what it may
         * hold */
        break;
    }
}

void
hv_vnic_answered(struct hv *h, struct hv_vnic *v, const struct nvdp_msg *req,
                 const struct nvdp_msg *resp)
{
    unsigned before = v->state, ns;
    uint16_t before_tag = v->tag;
    int ok = resp->status == NVDP_ST_OK ||
             (req->type == NVDP_MSG_VNIC_DISASSOC &&
              resp->status == NVDP_ST_UNKNOWN_VNIC);
    int replayed = v->replay;
    char u[NVDP_UUID_STRLEN];

    v->inflight = 0;
    if (req->type == NVDP_MSG_ASSOC || req->type == NVDP_MSG_PREASSOC)
        hv_replay_done(h, v);
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
                  hv_vnic_str(v, u), nvdp_msg_name(req->type), resp->reason);
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
        log_info("vnic %s: %s, tag %u", hv_vnic_str(v, u),
                 hv_vnic_state_str(ns), v->tag);
    hv_vnic_set_state(h, v, ns);
    hv_state_mark(&h->state, v);
    if (v->state != before || v->tag != before_tag || hv_vnic_settled(v))
        hv_notify_vnic(h, v);
}

/* Our request msg for v was given up (spec 10.3). */
void
hv_giveup_cb(void *arg, const struct nvdp_msg *msg, void *user)
{
    struct hv *h = arg;
    struct hv_proto *p = &h->proto;
    struct hv_vnic *v = user;
    char u[NVDP_UUID_STRLEN];

    p->blocked = 1;
    if (msg->type == NVDP_MSG_RESYNC) {
        hv_resync_gaveup(h, msg);
        return;
    }
    if (v == NULL)
        return;
    log_warnx("vnic %s: %s unanswered: retrying when the NVE is heard",
              hv_vnic_str(v, u), nvdp_msg_name(msg->type));
    /* Submitted again when the NVE is heard (hv_nve_heard): a give-up never
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
    hv_vnic_set_state(h, v, HV_VNIC_FAILED);
    v->status = NVDP_ST_OK;
    snprintf(v->reason, sizeof(v->reason), "no answer from NVE");
    hv_notify_vnic(h, v);
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
        p->nve.c.oversize++;
        vnic_fail(h, v, NVDP_ST_LIMIT, "request does not fit the uplink MTU");
        hv_replay_done(h, v);
        hv_notify_vnic(h, v);
        return 0;
    }
    if (nvdp_sess_submit(&p->nve, m, v, now) == 0) {
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

    hv_replay_done(h, v);
    if (ns != v->state) {
        hv_vnic_set_state(h, v, ns);
        hv_notify_vnic(h, v);
    }
}

void
hv_reconcile(struct hv *h, uint64_t now)
{
    struct nvdp_msg *m;
    struct hv_vnic *v;

    if ((m = malloc(sizeof(*m))) == NULL)
        return;
    /* A VNIC leaves the work list only when its request fits the window,
     * so none is dropped by a refused submit (spec 10.6 rule 2). */
    while (nvdp_sess_tx_space(&h->proto.nve) > 0 &&
           (v = hv_state_next_dirty(&h->state)) != NULL) {
        /* Its answer, give-up or the resync that drops it marks it
         * again: it is compared with the desired state then. */
        if (v->inflight)
            continue;
        switch (vnic_next(v, m)) {
        case NEXT_SEND:
            if (m->type == NVDP_MSG_VNIC_DISASSOC &&
                m->intent == NVDP_INTENT_SHUTDOWN && v->syncing &&
                v->undo != NULL) {
                /* A shutdown purges the VNIC on every port and withdraws
                 * it from other hypervisors (spec 9.6), which an undo of
                 * this detach could not take back: it waits until its
                 * commit is durable (hv.c run_proto). */
                v->after_sync = 1;
                break;
            }
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
