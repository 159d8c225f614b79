/* nve_req.c - a hypervisor's requests applied to the containment tree
 * (spec 9): authorisation of the VN on the port, the tree operation, the
 * answer and its log line. */
#include <string.h>

#include "nve_proto_int.h"

/* ---- requests ----------------------------------------------------------- */

void
nve_resp_set(struct rel_resp *r, uint16_t status, const char *reason)
{
    r->status = status;
    snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
}

static void
log_vnic(struct nve_proto *p, struct nve_peer *e, const struct nvdp_msg *m,
         const char *what, const struct nve_vn *vn, const struct rel_resp *r)
{
    char us[37], ms[18];

    nvdp_uuid_fmt(&m->vnic, us);
    if (r->has_tag)
        log_info("vnic %s %s: vn %s, port %s, tag %u, hypervisor %s", us,
                 what, vn ? vn->name : "?", p->port[e->port].name, r->tag,
                 nve_peer_str(e, NULL, ms));
    else
        log_info("vnic %s %s: vn %s, port %s, hypervisor %s", us, what,
                 vn ? vn->name : "?", p->port[e->port].name,
                 nve_peer_str(e, NULL, ms));
}

/* The other locations of a VNIC its hypervisor shut down. */
static void
shutdown_elsewhere(struct nve_proto *p, const struct nve_peer *e,
                   const struct nvdp_uuid *vnic, uint64_t now)
{
    struct tree_filter f = {.port = TREE_ANY_PORT, .any_vni = 1,
                            .vnic = vnic};
    char reason[NVDP_MAX_REASON + 1], ms[18];

    snprintf(reason, sizeof(reason), "VNIC shut down by hypervisor %s on %s",
             nve_peer_str(e, NULL, ms), p->port[e->port].name);
    nve_proto_withdraw(p, &f, reason, now);
}

/* Applies one new request; fills r (status, tag, reason). */
void
nve_req_apply(struct nve_proto *p, struct nve_peer *e,
               const struct nvdp_msg *m, uint64_t now, struct rel_resp *r)
{
    const struct nve_port *pc = nve_conf_port_by_id(p->conf, e->port);
    const struct nve_vn *vn = NULL;
    struct tree_req tr = {.port = e->port, .hv = e->mac, .vnic = &m->vnic,
                          .vn_uuid = m->vn.kind == NVDP_VN_UUID,
                          .tag_hint = m->has_tag_hint ? m->tag_hint : 0,
                          .addr = m->addr, .naddr = m->naddr, .now = now};
    struct tree_res res;
    uint32_t before = p->tree->nvnic;
    uint16_t old_tag = 0;
    int needs_vn = m->type == NVDP_MSG_VN_CONNECT ||
                   m->type == NVDP_MSG_ASSOC || m->type == NVDP_MSG_PREASSOC;
    int names_vn = needs_vn || m->type == NVDP_MSG_VN_DISCONNECT ||
                   m->type == NVDP_MSG_DISASSOC;
    char vs[64];

    memset(&res, 0, sizeof(res));
    nve_resp_set(r, NVDP_ST_OK, NULL);
    if (pc == NULL) {
        nve_resp_set(r, NVDP_ST_INTERNAL, "port is being removed");
        return;
    }
    if (names_vn) {
        vn = nve_conf_vn_find(p->conf, &m->vn);
        if (vn == NULL && needs_vn) {
            nvdp_vn_fmt(&m->vn, vs, sizeof(vs));
            snprintf(r->reason, sizeof(r->reason), "unknown VN %s", vs);
            r->status = NVDP_ST_UNKNOWN_VN;
            return;
        }
        /* removing from a VN we no longer know: nothing to remove */
        if (vn == NULL)
            return;
        if (needs_vn && !nve_port_allows_vn(pc, vn->vni)) {
            snprintf(r->reason, sizeof(r->reason),
                     "VN %.30s is not allowed on port %.30s", vn->name,
                     pc->name);
            r->status = NVDP_ST_NOT_AUTHORISED;
            return;
        }
        tr.vni = vn->vni;
    }
    if (m->has_vnic) {
        /* for the log: the entry this request will touch, as it was */
        struct tree_vnic *v = tree_find(p->tree, &m->vnic, e->port, e->mac);
        if (v) {
            old_tag = v->tag;
            if (vn == NULL)
                vn = nve_conf_vn_by_vni(p->conf, v->vni);
        }
    }
    switch (m->type) {
    case NVDP_MSG_VN_CONNECT:
        tree_connect(p->tree, &tr, &res);
        break;
    case NVDP_MSG_ASSOC:
        tree_assoc(p->tree, &tr, &res);
        break;
    case NVDP_MSG_PREASSOC:
        tree_preassoc(p->tree, &tr,
                      m->has_flags && (m->rflags & NVDP_RF_RR), &res);
        break;
    case NVDP_MSG_VN_DISCONNECT:
        tree_disconnect(p->tree, &tr, &res);
        break;
    case NVDP_MSG_DISASSOC:
        tree_disassoc(p->tree, &tr, &res);
        break;
    case NVDP_MSG_VNIC_DISASSOC:
        /* this port's entry; intent=shutdown then purges the VNIC's other
         * locations (spec 9.6), withdrawn from their hypervisors so that
         * they stop reporting a VNIC we no longer hold (spec 13) */
        tree_vnic_disassoc(p->tree, &tr, NVDP_INTENT_MIGRATION, &res);
        if (res.status == NVDP_ST_OK && m->intent == NVDP_INTENT_SHUTDOWN)
            shutdown_elsewhere(p, e, &m->vnic, now);
        break;
    case NVDP_MSG_VNIC_STATE:
        tree_vnic_state(p->tree, &tr, m->state == NVDP_VNIC_UP, &res);
        break;
    case NVDP_MSG_RESYNC:
        if (m->phase == NVDP_RESYNC_BEGIN) {
            unsigned n = tree_hv_mark_stale(p->tree, e->port, e->mac);
            /* the hypervisor dropped what it sent before: a copy of it
             * still on the way must not undo the replay (spec 10.4) */
            rel_rx_floor(&e->rx, m->txid);
            COUNT(p, e, e->port, resyncs);
            e->synced = 1;
            e->resyncing = 1;
            log_info("peer %s on %s: resync begins, %u entries marked stale",
                     nve_peer_str(e, NULL, vs), p->port[e->port].name, n);
        } else if (!e->resyncing) {
            /* spec 9.9: END without BEGIN in this epoch changes nothing
             * (marks left by an earlier incarnation wait for its BEGIN) */
            log_debug("peer %s on %s: resync end without begin: ignored",
                      nve_peer_str(e, NULL, vs), p->port[e->port].name);
        } else {
            unsigned n = tree_hv_sweep_stale(p->tree, e->port, e->mac);
            e->resyncing = 0;
            log_info("peer %s on %s: resync done, %u stale entries removed",
                     nve_peer_str(e, NULL, vs), p->port[e->port].name, n);
        }
        return;
    case NVDP_MSG_WITHDRAW:
        nve_resp_set(r, NVDP_ST_UNSUPPORTED, "WITHDRAW is sent by the NVE only");
        return;
    default:
        nve_resp_set(r, NVDP_ST_UNSUPPORTED, "unsupported request");
        return;
    }
    r->status = res.status;
    r->tag = res.tag;
    r->has_tag = res.has_tag;
    snprintf(r->reason, sizeof(r->reason), "%s", res.reason);
    if (res.status != NVDP_ST_OK) {
        char us[37], ms[18];
        nvdp_uuid_fmt(&m->vnic, us);
        log_info("refused %s of vnic %s from %s on %s: %s (%s)",
                 nvdp_msg_name(m->type), us, nve_peer_str(e, NULL, ms),
                 p->port[e->port].name, nvdp_status_str(res.status),
                 res.reason);
    } else if (res.created || res.promoted) {
        log_vnic(p, e, m, m->type == NVDP_MSG_PREASSOC ? "pre-associated"
                                                       : "associated",
                 vn, r);
    } else if (p->tree->nvnic < before) {
        struct rel_resp was = *r;
        was.tag = old_tag;
        was.has_tag = old_tag != 0;
        log_vnic(p, e, m, "disassociated", vn, &was);
    }
}
