/* nve_proto.c - the NVE side of NVDP, I/O-free: frames in (port, source MAC,
 * bytes, time), frames out through a send callback. Peers, dedupe, resync,
 * hold expiry, HELLO, WITHDRAW, per-peer batching of responses, counters. */
#include <stdlib.h>
#include <string.h>

#include "nve.h"

/* WITHDRAW is rare: a small window keeps each peer's sender state small;
 * what does not fit the window waits in a queue (spec 10.2). */
#define NVE_TX_WINDOW_MAX 32
#define NVE_TX_QUEUE_MAX 4096

struct nve_wq {
    struct nve_wq *next;
    struct nvdp_msg m;
};

struct nve_peer {
    struct nve_peer *next;
    uint8_t mac[6];
    uint16_t port;
    uint32_t epoch;      /* the hypervisor's epoch as last heard */
    uint8_t synced;      /* RESYNC BEGIN seen in this epoch */
    uint8_t resyncing;
    uint8_t have_hello;
    uint8_t tx_ready;    /* tx initialised (first WITHDRAW) */
    uint8_t wd_mark;     /* nve_proto_withdraw: already in its send list */
    struct nve_wq *wq_head, *wq_tail; /* WITHDRAWs waiting for the window */
    unsigned wq_len;
    struct nvdp_hello hello;
    uint64_t up_since, last_heard;
    uint64_t next_nostate; /* unicast HELLO, peer_epoch 0, while !synced */
    struct rel_rx rx;
    struct rel_tx tx;
    struct nve_counters c;
};

struct nve_pport {
    uint8_t up;
    char name[32];
    unsigned mtu;
    uint64_t next_hello;
    unsigned npeers;
    struct nve_counters c;
};

struct nve_proto {
    const struct nve_conf *conf;
    struct tree *tree;
    uint32_t epoch;
    nve_send_fn send;
    void *send_arg;
    struct nve_pport port[TREE_MAX_PORTS];
    struct nve_peer *peers;
    unsigned npeers;
    struct nve_counters c;
    struct log_rl rl;
    struct log_rl rl_peer; /* peer up / restarted: a spoofer can cause many */
    uint64_t now; /* time of the input being handled */
};

/* Responses for one peer, batched into as few frames as the MTU allows. */
struct nve_out {
    struct nve_proto *p;
    struct nve_peer *peer; /* NULL: unauthorised / over the limit */
    uint16_t port;
    uint8_t dst[6];
    struct nvdp_writer w;
    uint8_t open;
    uint8_t buf[NVDP_FRAME_MAX];
};

static unsigned
type_idx(uint16_t type)
{
    return (type & 0xFF) < NVE_NTYPES ? (type & 0xFF) : 0;
}

static int
is_request(uint16_t type)
{
    return type >= NVDP_MSG_VN_CONNECT && type <= NVDP_MSG_VNIC_STATE;
}

static void
count_n(struct nve_proto *p, struct nve_peer *peer, uint16_t port,
        size_t off, uint64_t n)
{
    /* One counter at the same offset in the global, port and peer sets. */
    (*(uint64_t *)((char *)&p->c + off)) += n;
    if (port < TREE_MAX_PORTS)
        (*(uint64_t *)((char *)&p->port[port].c + off)) += n;
    if (peer)
        (*(uint64_t *)((char *)&peer->c + off)) += n;
}

static void
count(struct nve_proto *p, struct nve_peer *peer, uint16_t port, size_t off)
{
    count_n(p, peer, port, off, 1);
}
#define COUNT(p, peer, port, field) \
    count(p, peer, port, offsetof(struct nve_counters, field))

static const char *
peer_str(const struct nve_peer *peer, const uint8_t *mac, char out[18])
{
    nvdp_mac_fmt(peer ? peer->mac : mac, out);
    return out;
}

/* ---- output ------------------------------------------------------------- */

static uint32_t
out_peer_epoch(const struct nve_out *o)
{
    /* 0 until the hypervisor resynced with us in its current epoch: that is
     * how it learns we have none of its state (first contact, our restart,
     * hold expiry). */
    return o->peer && o->peer->synced ? o->peer->epoch : 0;
}

static void
out_init(struct nve_out *o, struct nve_proto *p, struct nve_peer *peer,
         uint16_t port, const uint8_t dst[6])
{
    o->p = p;
    o->peer = peer;
    o->port = port;
    memcpy(o->dst, dst, 6);
    o->open = 0;
}

static size_t
port_cap(const struct nve_proto *p, uint16_t port)
{
    unsigned mtu = p->port[port].mtu ? p->port[port].mtu : NVDP_MTU_DEFAULT;

    return mtu > NVDP_FRAME_MAX ? NVDP_FRAME_MAX : mtu;
}

static void
out_flush(struct nve_out *o)
{
    struct nve_proto *p = o->p;
    size_t len;

    if (!o->open)
        return;
    o->open = 0;
    if (o->w.nmsg == 0)
        return;
    len = nvdp_writer_finish(&o->w);
    p->send(p->send_arg, o->port, o->dst, o->buf, len);
    COUNT(p, o->peer, o->port, tx_frames);
}

static void
out_add(struct nve_out *o, const struct nvdp_msg *m)
{
    struct nve_proto *p = o->p;

    for (int attempt = 0; attempt < 2; attempt++) {
        if (!o->open) {
            nvdp_writer_init(&o->w, o->buf, port_cap(p, o->port), p->epoch,
                             out_peer_epoch(o));
            o->open = 1;
        }
        if (nvdp_writer_add(&o->w, m) == 0) {
            COUNT(p, o->peer, o->port, tx_msgs);
            count(p, o->peer, o->port,
                  offsetof(struct nve_counters, tx_type) +
                      type_idx(m->type) * sizeof(uint64_t));
            return;
        }
        if (o->w.nmsg == 0)
            break; /* does not fit an empty frame: our bug, count it */
        out_flush(o);
    }
    COUNT(p, o->peer, o->port, tx_errors);
    log_warnx_rl(&p->rl, "cannot encode %s for port %u", nvdp_msg_name(m->type),
                 o->port);
}

static void
out_response(struct nve_out *o, const struct rel_resp *r)
{
    struct nvdp_msg m;

    rel_resp_msg(r, &m);
    if (r->status <= NVDP_ST_MAX)
        count(o->p, o->peer, o->port,
              offsetof(struct nve_counters, status) +
                  r->status * sizeof(uint64_t));
    out_add(o, &m);
}

static void
hello_msg(const struct nve_proto *p, struct nvdp_msg *m)
{
    nvdp_hello_msg(m, NVDP_ROLE_NVE, (uint16_t)p->conf->hold_s,
                   (uint16_t)p->conf->hello_ms, p->conf->rel.window,
                   p->conf->name);
}

/* ---- peers -------------------------------------------------------------- */

static struct nve_peer *
peer_find(const struct nve_proto *p, uint16_t port, const uint8_t mac[6])
{
    for (struct nve_peer *e = p->peers; e; e = e->next)
        if (e->port == port && memcmp(e->mac, mac, 6) == 0)
            return e;
    return NULL;
}

static uint16_t
rx_cache_size(const struct nve_proto *p)
{
    return (uint16_t)(2 * p->conf->rel.window);
}

static struct nve_peer *
peer_new(struct nve_proto *p, uint16_t port, const uint8_t mac[6],
         uint32_t epoch, uint64_t now)
{
    struct nve_peer *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    if (rel_rx_init(&e->rx, rx_cache_size(p)) < 0) {
        free(e);
        return NULL;
    }
    rel_rx_reset(&e->rx, epoch);
    memcpy(e->mac, mac, 6);
    e->port = port;
    e->epoch = epoch;
    e->up_since = e->last_heard = now;
    e->next = p->peers;
    p->peers = e;
    p->npeers++;
    p->port[port].npeers++;
    return e;
}

static void
wq_clear(struct nve_peer *e)
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
static void
wq_pump(struct nve_peer *e, uint64_t now)
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

static void
peer_free(struct nve_proto *p, struct nve_peer *e)
{
    for (struct nve_peer **pp = &p->peers; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    p->npeers--;
    p->port[e->port].npeers--;
    rel_rx_free(&e->rx);
    if (e->tx_ready)
        rel_tx_free(&e->tx);
    wq_clear(e);
    free(e);
}

static uint64_t
peer_hold_ms(const struct nve_proto *p, const struct nve_peer *e)
{
    uint32_t s = p->conf->hold_s;

    if (e->have_hello && e->hello.hold_time < s)
        s = e->hello.hold_time;
    return (uint64_t)s * 1000;
}

/* The hypervisor restarted: its txids start again and it will resync; our
 * entries stay (forwarding continues) until its RESYNC END sweeps them. */
static void
peer_restarted(struct nve_proto *p, struct nve_peer *e, uint32_t epoch)
{
    char ms[18];

    if (log_rl_allow(&p->rl_peer, p->now))
        log_info("peer %s on %s restarted (epoch %08x -> %08x)",
                 peer_str(e, NULL, ms), p->port[e->port].name, e->epoch,
                 epoch);
    COUNT(p, e, e->port, peer_restarts);
    e->epoch = epoch;
    e->synced = 0;
    e->resyncing = 0;
    rel_rx_reset(&e->rx, epoch);
    /* WITHDRAWs to the old incarnation are dropped: its state on our side
     * is gone already, and the new one resyncs (spec 11.1) */
    if (e->tx_ready)
        rel_tx_reset(&e->tx, NULL, NULL);
    wq_clear(e);
}

/* ---- requests ----------------------------------------------------------- */

static void
resp_set(struct rel_resp *r, uint16_t status, const char *reason)
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
                 peer_str(e, NULL, ms));
    else
        log_info("vnic %s %s: vn %s, port %s, hypervisor %s", us, what,
                 vn ? vn->name : "?", p->port[e->port].name,
                 peer_str(e, NULL, ms));
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
             peer_str(e, NULL, ms), p->port[e->port].name);
    nve_proto_withdraw(p, &f, reason, now);
}

/* Applies one new request; fills r (status, tag, reason). */
static void
handle_request(struct nve_proto *p, struct nve_peer *e,
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
    resp_set(r, NVDP_ST_OK, NULL);
    if (pc == NULL) {
        resp_set(r, NVDP_ST_INTERNAL, "port is being removed");
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
                     peer_str(e, NULL, vs), p->port[e->port].name, n);
        } else if (!e->resyncing) {
            /* spec 9.9: END without BEGIN in this epoch changes nothing
             * (marks left by an earlier incarnation wait for its BEGIN) */
            log_debug("peer %s on %s: resync end without begin: ignored",
                      peer_str(e, NULL, vs), p->port[e->port].name);
        } else {
            unsigned n = tree_hv_sweep_stale(p->tree, e->port, e->mac);
            e->resyncing = 0;
            log_info("peer %s on %s: resync done, %u stale entries removed",
                     peer_str(e, NULL, vs), p->port[e->port].name, n);
        }
        return;
    case NVDP_MSG_WITHDRAW:
        resp_set(r, NVDP_ST_UNSUPPORTED, "WITHDRAW is sent by the NVE only");
        return;
    default:
        resp_set(r, NVDP_ST_UNSUPPORTED, "unsupported request");
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
                 nvdp_msg_name(m->type), us, peer_str(e, NULL, ms),
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

/* ---- input -------------------------------------------------------------- */

/* A decode error: frame-level (frame != 0) or one message's. */
static void
malformed(struct nve_proto *p, struct nve_peer *e, uint16_t port,
          const uint8_t src[6], int err, int frame, uint16_t type,
          uint32_t txid)
{
    char ms[18];

    if (err == NVDP_E_VERSION)
        COUNT(p, e, port, rx_bad_version);
    else if (frame)
        COUNT(p, e, port, rx_malformed);
    else if (txid == 0 && type != NVDP_MSG_HELLO &&
             type != NVDP_MSG_RESPONSE)
        COUNT(p, e, port, rx_short_txid); /* a request we cannot answer */
    else
        COUNT(p, e, port, rx_msg_errors);
    if (-err > 0 && -err < NVE_NERR)
        count(p, e, port, offsetof(struct nve_counters, decode_err) +
                              (size_t)(-err) * sizeof(uint64_t));
    log_warnx_rl(&p->rl, "malformed NVDP %s from %s on %s: %s",
                 frame ? "frame" : "message", peer_str(NULL, src, ms),
                 p->port[port].name, nvdp_strerror(err));
}

static void
handle_hello(struct nve_proto *p, struct nve_peer *e, const struct nvdp_msg *m)
{
    char ms[18];

    if (m->hello.role != NVDP_ROLE_HV) {
        COUNT(p, e, e->port, bad_direction);
        return;
    }
    if (!e->have_hello || strcmp(e->hello.name, m->hello.name) != 0)
        log_info("peer %s on %s is \"%s\" (hold %us, window %u)",
                 peer_str(e, NULL, ms), p->port[e->port].name, m->hello.name,
                 m->hello.hold_time, m->hello.window);
    e->hello = m->hello;
    e->have_hello = 1;
    if (e->tx_ready)
        rel_tx_set_window(&e->tx, m->hello.window);
}

/* ours: the frame's peer_epoch is our epoch. Our txids begin at 1 in every
 * epoch, so an answer for a previous incarnation of ours would match one of
 * this one's WITHDRAWs (spec 11.3). */
static void
handle_response(struct nve_proto *p, struct nve_peer *e,
                const struct nvdp_msg *m, int ours)
{
    struct nvdp_msg req;
    void *user;
    char ms[18];

    if (!ours || !e->tx_ready || !rel_tx_ack(&e->tx, m->txid, &user, &req)) {
        COUNT(p, e, e->port, rx_stray_responses);
        return;
    }
    wq_pump(e, p->now);
    if (m->status != NVDP_ST_OK)
        log_info("peer %s answered withdraw with %s: %s",
                 peer_str(e, NULL, ms), nvdp_status_str(m->status), m->reason);
    else
        log_debug("peer %s acknowledged withdraw txid %u",
                  peer_str(e, NULL, ms), m->txid);
}

/* Requests from a hypervisor we keep no state for (not authorised on this
 * port, or the port is full of peers): answered, never applied. */
static void
refuse(struct nve_proto *p, struct nve_out *o, const struct nvdp_msg *m,
       uint16_t status, const char *reason)
{
    struct rel_resp r = {.txid = m->txid, .req_type = m->type};

    resp_set(&r, status, reason);
    out_response(o, &r);
}

/* Duplicate detection (spec 10.4): 1 if the request is new and must be
 * applied; otherwise a retransmission was answered from the cache, or a
 * request too old to tell was dropped. */
static int
request_new(struct nve_proto *p, struct nve_out *o, struct nve_peer *e,
            const struct nvdp_msg *m)
{
    const struct rel_resp *cached;
    char ms[18];

    switch (rel_rx_check(&e->rx, m->txid, &cached)) {
    case REL_NEW:
        return 1;
    case REL_DUP:
        COUNT(p, e, e->port, rx_dup);
        log_debug("duplicate %s txid %u from %s: answered from cache",
                  nvdp_msg_name(m->type), m->txid, peer_str(e, NULL, ms));
        if (cached)
            out_response(o, cached);
        return 0;
    case REL_STALE:
        COUNT(p, e, e->port, rx_stale);
        return 0;
    }
    return 0;
}

static void
handle_msg(struct nve_proto *p, struct nve_out *o, struct nve_peer *e,
           const struct nvdp_msg *m, uint32_t peer_epoch, int authorised)
{
    uint64_t now = p->now;
    struct rel_resp r;
    char ms[18];

    if (m->type == NVDP_MSG_HELLO) {
        if (e)
            handle_hello(p, e, m);
        return;
    }
    if (m->type == NVDP_MSG_RESPONSE) {
        if (e)
            handle_response(p, e, m, peer_epoch == p->epoch);
        return;
    }
    if (!is_request(m->type))
        return;
    if (e == NULL) {
        if (!authorised)
            refuse(p, o, m, NVDP_ST_NOT_AUTHORISED,
                   "hypervisor is not authorised on this port");
        else
            refuse(p, o, m, NVDP_ST_LIMIT,
                   "port holds its limit of hypervisors");
        return;
    }
    if (!request_new(p, o, e, m))
        return;
    memset(&r, 0, sizeof(r));
    r.txid = m->txid;
    r.req_type = m->type;
    log_debug2("%s txid %u from %s", nvdp_msg_name(m->type), m->txid,
               peer_str(e, NULL, ms));
    handle_request(p, e, m, now, &r);
    if (r.has_tag)
        log_debug("%s txid %u from %s: %s, tag %u", nvdp_msg_name(m->type),
                  m->txid, peer_str(e, NULL, ms), nvdp_status_str(r.status),
                  r.tag);
    else
        log_debug("%s txid %u from %s: %s%s%s", nvdp_msg_name(m->type),
                  m->txid, peer_str(e, NULL, ms), nvdp_status_str(r.status),
                  r.reason[0] ? ": " : "", r.reason);
    r.valid = 1;
    rel_rx_store(&e->rx, &r);
    out_response(o, &r);
}

/* A request that failed decoding, answered like any other (through the
 * duplicate cache when we keep state for the sender). */
static void
answer_error(struct nve_proto *p, struct nve_out *o, struct nve_peer *e,
             const struct nvdp_msg *m, int err, int authorised)
{
    struct rel_resp r = {.txid = m->txid, .req_type = m->type};

    if (e == NULL) {
        if (!authorised)
            resp_set(&r, NVDP_ST_NOT_AUTHORISED,
                     "hypervisor is not authorised on this port");
        else
            resp_set(&r, nvdp_err_status(err), nvdp_strerror(err));
        out_response(o, &r);
        return;
    }
    if (!request_new(p, o, e, m))
        return;
    resp_set(&r, nvdp_err_status(err), nvdp_strerror(err));
    r.valid = 1;
    rel_rx_store(&e->rx, &r);
    out_response(o, &r);
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

void
nve_proto_input(struct nve_proto *p, uint16_t port, const uint8_t src[6],
                const uint8_t *buf, size_t len, uint64_t now)
{
    static const uint8_t zero[6];
    struct nvdp_reader rd;
    struct nvdp_msg *m;
    struct nve_peer *e;
    struct nve_out *o;
    const struct nve_port *pc;
    int rc, authorised, fresh = 0;
    char ms[18];

    if (port >= TREE_MAX_PORTS || !p->port[port].up)
        return;
    p->now = now;
    pc = nve_conf_port_by_id(p->conf, port);
    e = peer_find(p, port, src);
    COUNT(p, e, port, rx_frames);
    if ((src[0] & 1) || memcmp(src, zero, 6) == 0 || pc == NULL) {
        malformed(p, e, port, src, NVDP_E_VALUE, 1, 0, 0);
        return;
    }
    rc = nvdp_frame_open(&rd, buf, len);
    if (rd.hdr.flags & NVDP_HF_AUTH) {
        /* authentication is reserved, not configured: never guess */
        COUNT(p, e, port, auth_unsupported);
        log_warnx_rl(&p->rl, "frame with AUTH from %s on %s dropped: "
                     "authentication is not configured",
                     peer_str(NULL, src, ms), p->port[port].name);
        return;
    }
    if (rc == 0 && auth_tlv_present(&rd))
        rc = NVDP_E_AUTH; /* unannounced AUTH TLV: the whole frame goes */
    if (rc < 0) {
        malformed(p, e, port, src, rc, 1, 0, 0);
        return;
    }
    authorised = nve_port_allows_hv(pc, src);
    if (!authorised) {
        COUNT(p, e, port, unauthorised);
        if (e) /* no longer authorised (reload): forget it */
            peer_free(p, e), e = NULL;
    } else if (e == NULL) {
        if (p->port[port].npeers >= p->conf->max_hv_per_port) {
            /* dropped, not answered: a flood of spoofed MACs must not
             * turn us into an amplifier (spec section 15) */
            COUNT(p, NULL, port, peers_over_limit);
            log_warnx_rl(&p->rl, "port %s holds %u hypervisors: frame from "
                         "%s dropped", p->port[port].name,
                         p->conf->max_hv_per_port, peer_str(NULL, src, ms));
            return;
        } else if ((e = peer_new(p, port, src, rd.hdr.epoch, now)) != NULL) {
            fresh = 1;
            if (log_rl_allow(&p->rl_peer, now))
                log_info("peer %s on %s up (epoch %08x)",
                         peer_str(e, NULL, ms), p->port[port].name, e->epoch);
        }
    } else if (e->epoch != rd.hdr.epoch) {
        peer_restarted(p, e, rd.hdr.epoch);
        fresh = 1;
    }
    if (e)
        e->last_heard = now;
    if (fresh)
        e->next_nostate = now + p->conf->hello_ms;

    if ((o = malloc(sizeof(*o) + sizeof(*m))) == NULL)
        return;
    m = (struct nvdp_msg *)(o + 1);
    out_init(o, p, e, port, src);
    /* A new or restarted peer hears from us at once (unicast, peer_epoch
     * 0): it learns our MAC and that it must resync. */
    if (fresh) {
        struct nvdp_msg h;
        hello_msg(p, &h);
        out_add(o, &h);
    }
    for (;;) {
        rc = nvdp_frame_next(&rd, m);
        if (rc == 0)
            break;
        COUNT(p, e, port, rx_msgs);
        count(p, e, port, offsetof(struct nve_counters, rx_type) +
                              type_idx(m->type) * sizeof(uint64_t));
        if (rc < 0) {
            int answerable = m->txid != 0 && m->type != NVDP_MSG_HELLO &&
                             m->type != NVDP_MSG_RESPONSE &&
                             (is_request(m->type) || rc == NVDP_E_UNKNOWN);
            /* type 0: the TLV framing itself broke (the codec sets the type
             * once the TLV header is sound): the rest of the frame is lost */
            malformed(p, e, port, src, rc, m->type == 0, m->type,
                      answerable ? m->txid : 0);
            /* a request whose txid we could read gets an error answer */
            if (answerable)
                answer_error(p, o, e, m, rc, authorised);
            continue;
        }
        handle_msg(p, o, e, m, rd.hdr.peer_epoch, authorised);
    }
    if (rd.skipped)
        count_n(p, e, port, offsetof(struct nve_counters, rx_unknown_skipped),
                rd.skipped);
    out_flush(o);
    free(o);
}

/* ---- timers ------------------------------------------------------------- */

static int wq_submit(struct nve_peer *e, const struct nvdp_msg *m,
                     uint64_t now);

/* A hypervisor we still hear must learn that its VNIC is gone, or the two
 * views differ for good: the WITHDRAW goes again under a new txid. Its
 * expiry or restart ends this (peer_free, peer_restarted). */
static void
withdraw_giveup(void *arg, const struct nvdp_msg *m, void *user)
{
    struct nve_peer *e = user;
    struct nve_proto *p = arg;
    char ms[18];

    COUNT(p, e, e->port, tx_giveups);
    if (wq_submit(e, m, p->now) == 0)
        log_warnx("withdraw txid %u to %s unanswered: sent again",
                  m->txid, peer_str(e, NULL, ms));
    else {
        COUNT(p, e, e->port, withdraws_unsent);
        log_warnx("withdraw txid %u to %s unanswered, given up (queue full)",
                  m->txid, peer_str(e, NULL, ms));
    }
}

static void
peer_tx_run(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    const struct nvdp_msg *due[NVE_TX_WINDOW_MAX];
    struct nve_out *o;
    int n;

    if (!e->tx_ready)
        return;
    wq_pump(e, now);
    uint64_t rtx = e->tx.retransmits;
    n = rel_tx_due(&e->tx, now, due, NVE_TX_WINDOW_MAX, withdraw_giveup, p);
    if (e->tx.retransmits > rtx)
        count_n(p, e, e->port, offsetof(struct nve_counters, tx_retransmits),
                e->tx.retransmits - rtx);
    if (n <= 0 || (o = malloc(sizeof(*o))) == NULL)
        return;
    out_init(o, p, e, e->port, e->mac);
    for (int i = 0; i < n; i++)
        out_add(o, due[i]);
    out_flush(o);
    free(o);
}

static void
send_hello(struct nve_proto *p, uint16_t port)
{
    struct nve_out *o = malloc(sizeof(*o));
    struct nvdp_msg h;

    if (o == NULL)
        return;
    out_init(o, p, NULL, port, p->conf->group);
    hello_msg(p, &h);
    out_add(o, &h);
    out_flush(o);
    free(o);
}

/* A hypervisor we hear but hold no session for is told so every hello
 * interval until it resyncs (spec 11.4): the first such HELLO may be lost,
 * and an idle hypervisor would never learn that we lost its state. */
static void
peer_nostate(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    struct nve_out *o;
    struct nvdp_msg h;

    if (e->synced || now < e->next_nostate)
        return;
    e->next_nostate = now + p->conf->hello_ms;
    if ((o = malloc(sizeof(*o))) == NULL)
        return;
    out_init(o, p, e, e->port, e->mac); /* peer_epoch 0: not synced */
    hello_msg(p, &h);
    out_add(o, &h);
    out_flush(o);
    free(o);
}

static void
peer_expire(struct nve_proto *p, struct nve_peer *e)
{
    char ms[18];
    unsigned n = tree_hv_release(p->tree, e->port, e->mac);

    COUNT(p, e, e->port, peers_expired);
    log_info("peer %s on %s down: not heard for %llu ms, %u entries released",
             peer_str(e, NULL, ms), p->port[e->port].name,
             (unsigned long long)peer_hold_ms(p, e), n);
    peer_free(p, e);
}

uint64_t
nve_proto_timers(struct nve_proto *p, uint64_t now)
{
    uint64_t next = UINT64_MAX, t;
    unsigned n;

    p->now = now;
    for (unsigned i = 0; i < TREE_MAX_PORTS; i++) {
        struct nve_pport *pp = &p->port[i];
        if (!pp->up)
            continue;
        if (now >= pp->next_hello) {
            send_hello(p, (uint16_t)i);
            pp->next_hello = now + p->conf->hello_ms;
        }
        if (pp->next_hello < next)
            next = pp->next_hello;
    }
    for (struct nve_peer *e = p->peers, *nx; e; e = nx) {
        nx = e->next;
        t = e->last_heard + peer_hold_ms(p, e);
        if (now >= t) {
            peer_expire(p, e);
            continue;
        }
        if (t < next)
            next = t;
        peer_nostate(p, e, now);
        if (!e->synced && e->next_nostate < next)
            next = e->next_nostate;
        peer_tx_run(p, e, now);
        if (e->tx_ready && (t = rel_tx_next_due(&e->tx)) < next)
            next = t;
    }
    if ((n = tree_expire(p->tree, now)) > 0)
        log_info("%u pre-associations expired", n);
    if ((t = tree_next_expiry(p->tree)) < next)
        next = t;
    return next;
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
        struct nve_peer *e = peer_find(p, it->port, it->hv);
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
                 vn ? vn->name : "?", peer_str(NULL, it->hv, ms),
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
        peer_tx_run(p, sent[k], now);
    }
    free(sent);
    free(l.v);
    free(m);
    return n;
}

/* ---- life cycle --------------------------------------------------------- */

struct nve_proto *
nve_proto_new(const struct nve_conf *c, struct tree *t, uint32_t epoch,
              nve_send_fn send, void *arg)
{
    struct nve_proto *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->conf = c;
    p->tree = t;
    p->epoch = epoch;
    p->send = send;
    p->send_arg = arg;
    log_rl_init(&p->rl, LOG_RL_BURST, LOG_RL_INTERVAL_MS);
    log_rl_init(&p->rl_peer, 100, LOG_RL_INTERVAL_MS);
    return p;
}

void
nve_proto_free(struct nve_proto *p)
{
    if (p == NULL)
        return;
    while (p->peers)
        peer_free(p, p->peers);
    free(p);
}

void
nve_proto_set_conf(struct nve_proto *p, const struct nve_conf *c)
{
    p->conf = c;
    /* hypervisors no longer authorised on their port are forgotten (the
     * caller has withdrawn their entries) */
    for (struct nve_peer *e = p->peers, *nx; e; e = nx) {
        const struct nve_port *pc = nve_conf_port_by_id(c, e->port);
        nx = e->next;
        if (pc == NULL || !nve_port_allows_hv(pc, e->mac))
            peer_free(p, e);
    }
}

void
nve_proto_port_up(struct nve_proto *p, uint16_t port, const char *name,
                  unsigned mtu, uint64_t now)
{
    struct nve_pport *pp;

    if (port >= TREE_MAX_PORTS)
        return;
    pp = &p->port[port];
    if (!pp->up)
        memset(&pp->c, 0, sizeof(pp->c));
    pp->up = 1;
    snprintf(pp->name, sizeof(pp->name), "%s", name);
    pp->mtu = mtu ? mtu : NVDP_MTU_DEFAULT;
    pp->next_hello = now;
}

void
nve_proto_port_down(struct nve_proto *p, uint16_t port)
{
    if (port >= TREE_MAX_PORTS)
        return;
    for (struct nve_peer *e = p->peers, *nx; e; e = nx) {
        nx = e->next;
        if (e->port == port) {
            tree_hv_release(p->tree, port, e->mac);
            peer_free(p, e);
        }
    }
    p->port[port].up = 0;
}

uint32_t
nve_proto_epoch(const struct nve_proto *p)
{
    return p->epoch;
}

unsigned
nve_proto_npeers(const struct nve_proto *p)
{
    return p->npeers;
}

const struct nve_counters *
nve_proto_counters(const struct nve_proto *p)
{
    return &p->c;
}

const struct nve_counters *
nve_proto_port_counters(const struct nve_proto *p, uint16_t port)
{
    return port < TREE_MAX_PORTS ? &p->port[port].c : NULL;
}

/* ---- JSON --------------------------------------------------------------- */

static void
jset_u64(struct json_object *o, const char *k, uint64_t v)
{
    json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

struct json_object *
nve_counters_json(const struct nve_counters *c)
{
    struct json_object *o = json_object_new_object();
    struct json_object *rx = json_object_new_object(),
                       *tx = json_object_new_object(),
                       *st = json_object_new_object(),
                       *de = json_object_new_object();
    static const struct {
        const char *name;
        size_t off;
    } flat[] = {
#define F(x) {#x, offsetof(struct nve_counters, x)}
        F(rx_frames), F(tx_frames), F(rx_msgs), F(tx_msgs), F(tx_errors),
        F(rx_malformed), F(rx_bad_version), F(rx_msg_errors),
        F(rx_unknown_skipped), F(rx_short_txid), F(rx_dup), F(rx_stale),
        F(auth_unsupported), F(tx_retransmits), F(tx_giveups),
        F(rx_stray_responses), F(peers_expired), F(resyncs),
        F(unauthorised), F(peer_restarts), F(peers_over_limit), F(withdraws),
        F(withdraws_unsent), F(bad_direction),
#undef F
    };

    for (size_t i = 0; i < sizeof(flat) / sizeof(flat[0]); i++)
        jset_u64(o, flat[i].name,
                 *(const uint64_t *)((const char *)c + flat[i].off));
    for (unsigned i = 1; i <= (NVDP_MSG_VNIC_STATE & 0xFF); i++) {
        const char *n = nvdp_msg_name((uint16_t)(0x8000 | i));
        jset_u64(rx, n, c->rx_type[i]);
        jset_u64(tx, n, c->tx_type[i]);
    }
    jset_u64(rx, "unknown", c->rx_type[0]);
    for (unsigned i = 0; i <= NVDP_ST_MAX; i++)
        jset_u64(st, nvdp_status_str((uint16_t)i), c->status[i]);
    for (int i = 1; i < NVE_NERR; i++)
        jset_u64(de, nvdp_strerror(-i), c->decode_err[i]);
    json_object_object_add(o, "rx_by_type", rx);
    json_object_object_add(o, "tx_by_type", tx);
    json_object_object_add(o, "tx_status", st);
    json_object_object_add(o, "decode_errors", de);
    return o;
}

struct json_object *
nve_proto_counters_json(const struct nve_proto *p)
{
    struct json_object *o = json_object_new_object();
    struct json_object *ports = json_object_new_object();
    struct json_object *peers = json_object_new_object();
    char ms[18];

    json_object_object_add(o, "global", nve_counters_json(&p->c));
    for (unsigned i = 0; i < TREE_MAX_PORTS; i++)
        if (p->port[i].up)
            json_object_object_add(ports, p->port[i].name,
                                   nve_counters_json(&p->port[i].c));
    for (struct nve_peer *e = p->peers; e; e = e->next)
        json_object_object_add(peers, peer_str(e, NULL, ms),
                               nve_counters_json(&e->c));
    json_object_object_add(o, "ports", ports);
    json_object_object_add(o, "peers", peers);
    return o;
}

struct json_object *
nve_proto_peers_json(const struct nve_proto *p, uint64_t now)
{
    struct json_object *a = json_object_new_array();
    char ms[18], ep[9];

    for (struct nve_peer *e = p->peers; e; e = e->next) {
        struct json_object *o = json_object_new_object();
        struct tree_hv *h = tree_hv_find(p->tree, e->port, e->mac);
        json_object_object_add(o, "mac",
                               json_object_new_string(peer_str(e, NULL, ms)));
        json_object_object_add(o, "port",
                               json_object_new_string(p->port[e->port].name));
        json_object_object_add(o, "role", json_object_new_string("hypervisor"));
        json_object_object_add(o, "name", json_object_new_string(
                                              e->have_hello ? e->hello.name : ""));
        snprintf(ep, sizeof(ep), "%08x", e->epoch);
        json_object_object_add(o, "epoch", json_object_new_string(ep));
        json_object_object_add(o, "state", json_object_new_string(
                                               e->resyncing ? "resyncing"
                                               : e->synced  ? "up"
                                                            : "unsynced"));
        jset_u64(o, "last_heard_ms", now - e->last_heard);
        jset_u64(o, "hold_ms", peer_hold_ms(p, e));
        jset_u64(o, "up_ms", now - e->up_since);
        jset_u64(o, "window", e->have_hello ? e->hello.window : 0);
        jset_u64(o, "vnics", h ? h->nvnic : 0);
        jset_u64(o, "withdraws_outstanding",
                 (e->tx_ready ? e->tx.outstanding : 0) + e->wq_len);
        json_object_array_add(a, o);
    }
    return a;
}
