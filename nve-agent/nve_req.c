/* nve_req.c - a hypervisor's requests (spec 9), one table row per message
 * type: what its VN must be, how it changes the containment tree. Here:
 * the VN's authorisation on the port, the answer and its log line. */
#include <stddef.h>
#include <string.h>

#include "nve_proto_int.h"

/* The counter of each limit a request may hit (enum tree_limit). */
static const size_t limit_counter[] = {
    [TREE_LIM_VNICS] = offsetof(struct nvdp_counters, limit_vnics),
    [TREE_LIM_SHARE] = offsetof(struct nvdp_counters, limit_share),
    [TREE_LIM_PORT_VNICS] = offsetof(struct nvdp_counters, limit_port_vnics),
    [TREE_LIM_HV_VNICS] = offsetof(struct nvdp_counters, limit_hv_vnics),
    [TREE_LIM_VNIC_ADDRS] = offsetof(struct nvdp_counters, limit_vnic_addrs),
    [TREE_LIM_HV_ADDRS] = offsetof(struct nvdp_counters, limit_hv_addrs),
    [TREE_LIM_PREASSOC] = offsetof(struct nvdp_counters, limit_preassoc),
    [TREE_LIM_PORT_ADDRS] = offsetof(struct nvdp_counters, limit_port_addrs),
    [TREE_LIM_PORT_SHARE] = offsetof(struct nvdp_counters, limit_port_share),
};

/* A port at its ceiling is the operator's to know, whatever the refusals'
 * own lines (info, rate-limited with every peer's): a warning per port,
 * at most one per NVE_FULL_LOG_MS. */
static void
log_port_full(struct nve_proto *p, uint16_t port)
{
    const struct tree_port *tp = p->tree->port[port];

    if (tp == NULL || !log_rl_allow(&p->port[port].rl_full, p->now))
        return;
    log_warnx("port %s is at its ceiling: %u VNICs (max-vnics %u), %u "
              "addresses (max-addresses %u) of %u hypervisors, %u VNICs and "
              "%u addresses reserved for hypervisors in session; only those "
              "below their reservation or fair share get more",
              p->port[port].name, tp->nvnic, tp->max_vnics, tp->naddr,
              tp->max_addrs, tp->nhv, tp->owed[TREE_RV_VNICS],
              tp->owed[TREE_RV_ADDRS]);
}

/* One request being applied. */
struct nve_req {
    struct nve_proto *p;
    struct nve_peer *e;
    const struct nvdp_msg *m;
    uint64_t now;
    struct tree_req tr;
    struct tree_res res;
};

static void
req_preassoc(struct nve_req *q)
{
    tree_preassoc(q->p->tree, &q->tr,
                  q->m->has_flags && (q->m->rflags & NVDP_RF_RR), &q->res);
}

/* This port's entry; intent shutdown then purges the VNIC's other
 * locations (spec 9.6), withdrawn from their hypervisors so that they stop
 * reporting a VNIC we no longer hold (spec 13). */
static void
req_vnic_disassoc(struct nve_req *q)
{
    struct tree_filter f = {.port = TREE_ANY_PORT, .any_vni = 1,
                            .vnic = &q->m->vnic};
    char reason[NVDP_MAX_REASON + 1], ms[NVDP_MAC_STRLEN];

    tree_vnic_disassoc(q->p->tree, &q->tr, NVDP_INTENT_MIGRATION, &q->res);
    if (q->res.status != NVDP_ST_OK || q->m->intent != NVDP_INTENT_SHUTDOWN)
        return;
    snprintf(reason, sizeof(reason), "VNIC shut down by hypervisor %s on %s",
             nve_mac_str(q->e->s.mac, ms), q->p->port[q->e->port].name);
    nve_proto_withdraw(q->p, &f, reason, q->now);
}

static void
req_vnic_state(struct nve_req *q)
{
    tree_vnic_state(q->p->tree, &q->tr, q->m->state == NVDP_VNIC_UP,
                    &q->res);
}

static void
req_resync(struct nve_req *q)
{
    nve_resync_apply(q->p, q->e, q->m);
}

static void
req_withdraw(struct nve_req *q)
{
    q->res.status = NVDP_ST_UNSUPPORTED;
    snprintf(q->res.reason, sizeof(q->res.reason),
             "WITHDRAW is sent by the NVE only");
}

/* What a request's VN must be before it is applied. */
enum {
    REQ_VN_NONE = 0, /* it names none */
    REQ_VN_NAMES,    /* a removal: from a VN we no longer know, nothing */
    REQ_VN_NEEDS,    /* known (UNKNOWN_VN) and allowed on the port */
};

typedef void (*tree_op_fn)(struct tree *t, const struct tree_req *r,
                           struct tree_res *res);

static const struct nve_req_def {
    uint16_t type;
    uint8_t vn;
    uint8_t logged;   /* the tree's result is logged (a VNIC changed) */
    tree_op_fn op;    /* the tree operation, or */
    void (*apply)(struct nve_req *q); /* one that takes more of the request */
} req_defs[] = {
    {NVDP_MSG_VN_CONNECT, REQ_VN_NEEDS, 1, tree_connect, NULL},
    {NVDP_MSG_VN_DISCONNECT, REQ_VN_NAMES, 1, tree_disconnect, NULL},
    {NVDP_MSG_ASSOC, REQ_VN_NEEDS, 1, tree_assoc, NULL},
    {NVDP_MSG_DISASSOC, REQ_VN_NAMES, 1, tree_disassoc, NULL},
    {NVDP_MSG_VNIC_DISASSOC, REQ_VN_NONE, 1, NULL, req_vnic_disassoc},
    {NVDP_MSG_PREASSOC, REQ_VN_NEEDS, 1, NULL, req_preassoc},
    {NVDP_MSG_WITHDRAW, REQ_VN_NONE, 0, NULL, req_withdraw},
    {NVDP_MSG_RESYNC, REQ_VN_NONE, 0, NULL, req_resync},
    {NVDP_MSG_VNIC_STATE, REQ_VN_NONE, 1, NULL, req_vnic_state},
};

static const struct nve_req_def *
req_def(uint16_t type)
{
    for (size_t i = 0; i < sizeof(req_defs) / sizeof(req_defs[0]); i++)
        if (req_defs[i].type == type)
            return &req_defs[i];
    return NULL;
}

static void
resp_set(struct rel_resp *r, uint16_t status, const char *reason)
{
    r->status = status;
    snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
}

/* The VN a request names, checked against the port (spec 9.1): 1 to go
 * on (*vn: the configured VN, NULL for none), 0 when r is the answer. */
static int
req_vn(struct nve_proto *p, const struct nve_port *pc,
       const struct nve_req_def *d, const struct nvdp_msg *m,
       const struct nve_vn **vn, struct rel_resp *r)
{
    char vs[64];

    *vn = NULL;
    if (d->vn == REQ_VN_NONE)
        return 1;
    *vn = nve_conf_vn_find(p->conf, &m->vn);
    if (*vn == NULL && d->vn == REQ_VN_NEEDS) {
        nvdp_vn_fmt(&m->vn, vs, sizeof(vs));
        snprintf(r->reason, sizeof(r->reason), "unknown VN %s", vs);
        r->status = NVDP_ST_UNKNOWN_VN;
        return 0;
    }
    /* removing from a VN we no longer know: nothing to remove */
    if (*vn == NULL)
        return 0;
    if (d->vn == REQ_VN_NEEDS && !nve_port_allows_vn(pc, (*vn)->vni)) {
        snprintf(r->reason, sizeof(r->reason),
                 "VN %.30s is not allowed on port %.30s", (*vn)->name,
                 pc->name);
        r->status = NVDP_ST_NOT_AUTHORISED;
        return 0;
    }
    return 1;
}

static void
log_vnic(struct nve_proto *p, struct nve_peer *e, const struct nvdp_msg *m,
         const char *what, const struct nve_vn *vn, uint16_t tag)
{
    char us[NVDP_UUID_STRLEN], ms[NVDP_MAC_STRLEN];

    if (!log_rl_allow(&p->rl_vnic, p->now))
        return;
    nvdp_uuid_fmt(&m->vnic, us);
    nve_mac_str(e->s.mac, ms);
    if (tag != 0)
        log_info("vnic %s %s: vn %s, port %s, tag %u, hypervisor %s", us,
                 what, vn ? vn->name : "?", p->port[e->port].name, tag, ms);
    else
        log_info("vnic %s %s: vn %s, port %s, hypervisor %s", us, what,
                 vn ? vn->name : "?", p->port[e->port].name, ms);
}

/* The tree's result as the answer, logged: a refusal, a VNIC that came or
 * went (before/old_tag: the tree and the entry before the request). */
static void
req_result(struct nve_req *q, const struct nve_vn *vn, uint32_t before,
           uint16_t old_tag, struct rel_resp *r)
{
    const struct tree_res *res = &q->res;
    const struct nvdp_msg *m = q->m;
    char us[NVDP_UUID_STRLEN], ms[NVDP_MAC_STRLEN];

    r->status = res->status;
    r->tag = res->tag;
    r->has_tag = res->has_tag;
    snprintf(r->reason, sizeof(r->reason), "%s", res->reason);
    if (res->status == NVDP_ST_LIMIT && res->limit != TREE_LIM_NONE &&
        res->limit < sizeof(limit_counter) / sizeof(limit_counter[0])) {
        struct nvdp_cnt k = nve_cnt(q->p, q->e, q->e->port);
        nvdp_count_n(&k, limit_counter[res->limit], 1);
        if (res->limit == TREE_LIM_PORT_VNICS ||
            res->limit == TREE_LIM_PORT_ADDRS ||
            res->limit == TREE_LIM_PORT_SHARE)
            log_port_full(q->p, q->e->port);
    }
    if (res->status != NVDP_ST_OK) {
        if (!log_rl_allow(&q->p->rl_vnic, q->p->now))
            return;
        nvdp_uuid_fmt(&m->vnic, us);
        log_info("refused %s of vnic %s from %s on %s: %s (%s)",
                 nvdp_msg_name(m->type), us, nve_mac_str(q->e->s.mac, ms),
                 q->p->port[q->e->port].name, nvdp_status_str(res->status),
                 res->reason);
    } else if (res->created || res->promoted) {
        log_vnic(q->p, q->e, m, m->type == NVDP_MSG_PREASSOC
                                    ? "pre-associated" : "associated",
                 vn, r->has_tag ? r->tag : 0);
    } else if (q->p->tree->nvnic < before) {
        log_vnic(q->p, q->e, m, "disassociated", vn, old_tag);
    }
}

void
nve_req_apply(struct nve_proto *p, struct nve_peer *e,
              const struct nvdp_msg *m, uint64_t now, struct rel_resp *r)
{
    const struct nve_port *pc = nve_conf_port_by_id(p->conf, e->port);
    const struct nve_req_def *d = req_def(m->type);
    const struct nve_vn *vn;
    struct nve_req q = {
        .p = p, .e = e, .m = m, .now = now,
        .tr = {.port = e->port, .hv = e->s.mac, .vnic = &m->vnic,
               .vn_uuid = m->vn.kind == NVDP_VN_UUID,
               .tag_hint = m->has_tag_hint ? m->tag_hint : 0,
               .addr = m->addr, .naddr = m->naddr, .now = now,
               .intent = m->has_intent ? m->intent : 0},
    };
    uint32_t before = p->tree->nvnic;
    uint16_t old_tag = 0;

    resp_set(r, NVDP_ST_OK, NULL);
    if (pc == NULL) {
        resp_set(r, NVDP_ST_INTERNAL, "port is being removed");
        return;
    }
    if (d == NULL) {
        resp_set(r, NVDP_ST_UNSUPPORTED, "unsupported request");
        return;
    }
    if (!req_vn(p, pc, d, m, &vn, r))
        return;
    /* Its first entry makes a newcomer a holder, which newcomers cannot
     * evict: the port's holders are bounded (spec 11.4). A peer in session
     * already has its place among them; the others' are not to be taken
     * (spec 15). */
    const struct nve_pport *pp = &p->port[e->port];
    if (d->vn == REQ_VN_NEEDS && !e->holds &&
        pp->nholders + pp->npool[NVE_POOL_SESSION] -
                (e->pool == NVE_POOL_SESSION) >= pc->max_hv) {
        NVE_COUNT(p, e, e->port, peers_over_limit);
        snprintf(r->reason, sizeof(r->reason),
                 "port holds its limit of %u hypervisors", pc->max_hv);
        r->status = NVDP_ST_LIMIT;
        return;
    }
    if (vn != NULL)
        q.tr.vni = vn->vni;
    if (d->logged && m->has_vnic) {
        /* for the log: the entry this request will touch, as it was */
        struct tree_vnic *v = tree_find(p->tree, &m->vnic, e->port, e->s.mac);
        if (v != NULL) {
            old_tag = v->tag;
            if (vn == NULL)
                vn = nve_conf_vn_by_vni(p->conf, v->vni);
        }
    }
    if (d->op != NULL)
        d->op(p->tree, &q.tr, &q.res);
    else
        d->apply(&q);
    if (d->logged)
        req_result(&q, vn, before, old_tag, r);
    else
        resp_set(r, q.res.status, q.res.reason);
}
