/* nve_withdraw.c - NVE-initiated withdraw (spec 13): the entries removed,
 * one WITHDRAW per owner through its session's window and queue,
 * re-submitted when given up, and the hypervisors' answers. */
#include <stdlib.h>
#include <string.h>

#include "nve_proto_int.h"

/* ours: the frame's peer_epoch is our epoch. Our txids begin at 1 in every
 * epoch, so an answer for a previous incarnation of ours would match one of
 * this one's WITHDRAWs (spec 11.3). */
void
nve_withdraw_answered(struct nve_proto *p, struct nve_peer *e,
                      const struct nvdp_msg *m, int ours)
{
    struct nvdp_msg req;
    void *user;
    char ms[NVDP_MAC_STRLEN];

    if (!nvdp_sess_response(&e->s, ours, m, &req, &user, p->now))
        return;
    if (m->status != NVDP_ST_OK)
        log_info("peer %s answered withdraw with %s: %s",
                 nve_mac_str(e->s.mac, ms), nvdp_status_str(m->status),
                 m->reason);
    else
        log_debug("peer %s acknowledged withdraw txid %u",
                  nve_mac_str(e->s.mac, ms), m->txid);
}

/* A hypervisor we still hear must learn that its VNIC is gone, or the two
 * views differ for good: the WITHDRAW goes again under a new txid. Its
 * expiry or restart ends this (nve_peer_free, nve_peer_epoch). */
static void
withdraw_giveup(void *arg, const struct nvdp_msg *m, void *user)
{
    struct nve_peer *e = user;
    struct nve_proto *p = arg;
    char ms[NVDP_MAC_STRLEN];

    if (nvdp_sess_submit_queued(&e->s, m, e, p->now) == 0)
        log_warnx("withdraw txid %u to %s unanswered: sent again",
                  m->txid, nve_mac_str(e->s.mac, ms));
    else {
        NVE_COUNT(p, e, e->port, withdraws_unsent);
        log_warnx("withdraw txid %u to %s unanswered, given up (queue full)",
                  m->txid, nve_mac_str(e->s.mac, ms));
    }
}

void
nve_withdraw_run(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    struct nvdp_out *o;

    if (!e->s.tx_ready || (e->s.wq_len == 0 &&
                           rel_tx_next_due(&e->s.tx) > now))
        return; /* nothing due: no batch to make */
    if ((o = nve_out_new(p, e, e->port, e->s.mac)) == NULL)
        return;
    nvdp_sess_put_due(&e->s, o, now, withdraw_giveup, p);
    nve_out_send(p, o);
}

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

/* e's window for WITHDRAWs, made at the first one. 0 / -1. */
static int
peer_tx_ready(struct nve_proto *p, struct nve_peer *e)
{
    struct rel_params rp = p->conf->rel;

    if (rp.window > NVE_TX_WINDOW_MAX)
        rp.window = NVE_TX_WINDOW_MAX;
    return nvdp_sess_tx_init(&e->s, &rp, NVE_TX_QUEUE_MAX);
}

unsigned
nve_proto_withdraw(struct nve_proto *p, const struct tree_filter *f,
                   const char *reason, uint64_t now)
{
    struct wd_list l = {.per_vnic = f->vnic != NULL};
    struct nvdp_msg *m;
    struct nve_peer **sent = NULL;
    unsigned n, nsent = 0;
    char ms[NVDP_MAC_STRLEN], us[NVDP_UUID_STRLEN];

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

        nvdp_msg_init(m, NVDP_MSG_WITHDRAW);
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
                 vn ? vn->name : "?", nve_mac_str(it->hv, ms),
                 p->port[it->port].name, m->reason);
        if (e == NULL || peer_tx_ready(p, e) < 0 ||
            nvdp_sess_submit_queued(&e->s, m, e, now) < 0) {
            /* the state is gone either way; the hypervisor learns it at
             * its next request or resync */
            NVE_COUNT(p, e, it->port, withdraws_unsent);
            continue;
        }
        NVE_COUNT(p, e, it->port, withdraws);
        if (!e->wd_mark) {
            e->wd_mark = 1;
            sent[nsent++] = e;
        }
    }
    for (unsigned k = 0; k < nsent; k++) {
        sent[k]->wd_mark = 0;
        nve_withdraw_run(p, sent[k], now);
    }
    free(sent);
    free(l.v);
    free(m);
    return n;
}
