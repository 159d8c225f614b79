/* nve_withdraw.c - NVE-initiated withdraw (spec 13): the entries removed,
 * one WITHDRAW per owner through the window and its queue, re-submitted
 * when given up, and the hypervisors' answers. */
#include <stdlib.h>
#include <string.h>

#include "nve_proto_int.h"

void
nve_wq_clear(struct nve_peer *e)
{
    while (e->wq_head) {
        struct nve_wq *q = e->wq_head;
        e->wq_head = q->next;
        free(q);
    }
    e->wq_tail = NULL;
    e->wq_len = 0;
}

/* Moves queued WITHDRAWs into the window while it has room. */
void
nve_wq_pump(struct nve_peer *e, uint64_t now)
{
    while (e->wq_head && e->tx_ready && rel_tx_space(&e->tx) > 0) {
        struct nve_wq *q = e->wq_head;
        if (rel_tx_submit(&e->tx, &q->m, e, now) == 0)
            break;
        e->wq_head = q->next;
        if (e->wq_head == NULL)
            e->wq_tail = NULL;
        e->wq_len--;
        free(q);
    }
}

/* ours: the frame's peer_epoch is our epoch. Our txids begin at 1 in every
 * epoch, so an answer for a previous incarnation of ours would match one of
 * this one's WITHDRAWs (spec 11.3). */
void
nve_withdraw_answered(struct nve_proto *p, struct nve_peer *e,
                const struct nvdp_msg *m, int ours)
{
    struct nvdp_msg req;
    void *user;
    char ms[18];

    if (!ours || !e->tx_ready || !rel_tx_ack(&e->tx, m->txid, &user, &req)) {
        COUNT(p, e, e->port, rx_stray_responses);
        return;
    }
    nve_wq_pump(e, p->now);
    if (m->status != NVDP_ST_OK)
        log_info("peer %s answered withdraw with %s: %s",
                 nve_peer_str(e, NULL, ms), nvdp_status_str(m->status), m->reason);
    else
        log_debug("peer %s acknowledged withdraw txid %u",
                  nve_peer_str(e, NULL, ms), m->txid);
}

/* ---- timers ------------------------------------------------------------- */

static int wq_submit(struct nve_peer *e, const struct nvdp_msg *m,
                     uint64_t now);

/* A hypervisor we still hear must learn that its VNIC is gone, or the two
 * views differ for good: the WITHDRAW goes again under a new txid. Its
 * expiry or restart ends this (nve_peer_free, nve_peer_restarted). */
static void
withdraw_giveup(void *arg, const struct nvdp_msg *m, void *user)
{
    struct nve_peer *e = user;
    struct nve_proto *p = arg;
    char ms[18];

    COUNT(p, e, e->port, tx_giveups);
    if (wq_submit(e, m, p->now) == 0)
        log_warnx("withdraw txid %u to %s unanswered: sent again",
                  m->txid, nve_peer_str(e, NULL, ms));
    else {
        COUNT(p, e, e->port, withdraws_unsent);
        log_warnx("withdraw txid %u to %s unanswered, given up (queue full)",
                  m->txid, nve_peer_str(e, NULL, ms));
    }
}

void
nve_peer_tx_run(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    const struct nvdp_msg *due[NVE_TX_WINDOW_MAX];
    struct nve_out *o;
    int n;

    if (!e->tx_ready)
        return;
    nve_wq_pump(e, now);
    uint64_t rtx = e->tx.retransmits;
    n = rel_tx_due(&e->tx, now, due, NVE_TX_WINDOW_MAX, withdraw_giveup, p);
    if (e->tx.retransmits > rtx)
        nve_count_n(p, e, e->port, offsetof(struct nve_counters, tx_retransmits),
                e->tx.retransmits - rtx);
    if (n <= 0 || (o = malloc(sizeof(*o))) == NULL)
        return;
    nve_out_init(o, p, e, e->port, e->mac);
    for (int i = 0; i < n; i++)
        nve_out_add(o, due[i]);
    nve_out_flush(o);
    free(o);
}

/* ---- withdraw ----------------------------------------------------------- */

struct wd_item {
    uint16_t port;
    uint8_t hv[6];
    uint32_t vni;
    uint16_t tag;
    uint8_t by_uuid; /* the hypervisor names the VN by UUID */
    struct nvdp_uuid vnic;
};
struct wd_list {
    struct wd_item *v;
    unsigned n, cap;
    int per_vnic;
};

static void
wd_collect(void *arg, const struct tree_vnic *v)
{
    struct wd_list *l = arg;
    uint8_t by_uuid = (v->flags & TREE_F_VN_UUID) != 0;

    if (!l->per_vnic)
        for (unsigned i = 0; i < l->n; i++)
            if (l->v[i].port == v->port && l->v[i].vni == v->vni &&
                l->v[i].by_uuid == by_uuid &&
                memcmp(l->v[i].hv, v->hv->mac, 6) == 0)
                return; /* one VN-wide WITHDRAW per hypervisor and name */
    if (l->n == l->cap) {
        unsigned nc = l->cap ? l->cap * 2 : 16;
        struct wd_item *nv = realloc(l->v, nc * sizeof(*nv));
        if (nv == NULL)
            return;
        l->v = nv;
        l->cap = nc;
    }
    struct wd_item *it = &l->v[l->n++];
    it->port = v->port;
    memcpy(it->hv, v->hv->mac, 6);
    it->vni = v->vni;
    it->tag = v->tag;
    it->by_uuid = by_uuid;
    it->vnic = v->uuid;
}

static int
peer_tx_ready(struct nve_proto *p, struct nve_peer *e)
{
    struct rel_params rp = p->conf->rel;

    if (e->tx_ready)
        return 0;
    if (rp.window > NVE_TX_WINDOW_MAX)
        rp.window = NVE_TX_WINDOW_MAX;
    if (rel_tx_init(&e->tx, &rp) < 0)
        return -1;
    if (e->have_hello)
        rel_tx_set_window(&e->tx, e->hello.window);
    e->tx_ready = 1;
    return 0;
}

/* Into the window if it has room, else queued behind what waits. */
static int
wq_submit(struct nve_peer *e, const struct nvdp_msg *m, uint64_t now)
{
    struct nve_wq *q;

    if (e->wq_head == NULL && rel_tx_submit(&e->tx, m, e, now) != 0)
        return 0;
    if (e->wq_len >= NVE_TX_QUEUE_MAX || (q = malloc(sizeof(*q))) == NULL)
        return -1;
    q->next = NULL;
    q->m = *m;
    if (e->wq_tail)
        e->wq_tail->next = q;
    else
        e->wq_head = q;
    e->wq_tail = q;
    e->wq_len++;
    return 0;
}

unsigned
nve_proto_withdraw(struct nve_proto *p, const struct tree_filter *f,
                   const char *reason, uint64_t now)
{
    struct wd_list l = {.per_vnic = f->vnic != NULL};
    struct nvdp_msg *m;
    struct nve_peer **sent = NULL;
    unsigned n, nsent = 0;
    char ms[18], us[37];

    p->now = now;
    n = tree_withdraw(p->tree, f, wd_collect, &l);
    if (l.n == 0) {
        free(l.v);
        return n;
    }
    /* the peers that got a WITHDRAW, to send at once: at most one per item */
    if ((m = calloc(1, sizeof(*m))) == NULL ||
        (sent = calloc(l.n, sizeof(*sent))) == NULL) {
        free(m);
        free(l.v);
        return n;
    }
    for (unsigned i = 0; i < l.n; i++) {
        struct wd_item *it = &l.v[i];
        struct nve_peer *e = nve_peer_find(p, it->port, it->hv);
        const struct nve_vn *vn = nve_conf_vn_by_vni(p->conf, it->vni);

        memset(m, 0, sizeof(*m));
        m->type = NVDP_MSG_WITHDRAW;
        /* the hypervisor matches the VN as it named it (spec 5.6) */
        if (it->by_uuid && vn && vn->has_uuid) {
            m->vn.kind = NVDP_VN_UUID;
            m->vn.uuid = vn->uuid;
        } else {
            m->vn.kind = NVDP_VN_VNI;
            m->vn.vni = it->vni;
        }
        if (l.per_vnic) {
            m->has_vnic = 1;
            m->vnic = it->vnic;
        }
        if (it->tag) {
            m->has_tag = 1;
            m->tag = it->tag;
        }
        snprintf(m->reason, sizeof(m->reason), "%s",
                 reason && *reason ? reason : "withdrawn by the NVE operator");
        nvdp_uuid_fmt(&it->vnic, us);
        log_info("withdraw %s%s of vn %s from %s on %s: %s",
                 l.per_vnic ? "vnic " : "all vnics", l.per_vnic ? us : "",
                 vn ? vn->name : "?", nve_peer_str(NULL, it->hv, ms),
                 p->port[it->port].name, m->reason);
        if (e == NULL || peer_tx_ready(p, e) < 0 || wq_submit(e, m, now) < 0) {
            /* the state is gone either way; the hypervisor learns it at
             * its next request or resync */
            COUNT(p, e, it->port, withdraws_unsent);
            continue;
        }
        COUNT(p, e, it->port, withdraws);
        if (!e->wd_mark) {
            e->wd_mark = 1;
            sent[nsent++] = e;
        }
    }
    for (unsigned k = 0; k < nsent; k++) {
        sent[k]->wd_mark = 0;
        nve_peer_tx_run(p, sent[k], now);
    }
    free(sent);
    free(l.v);
    free(m);
    return n;
}
