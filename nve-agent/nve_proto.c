/* nve_proto.c - the NVE side of NVDP, I/O-free: frames in (port, source MAC,
 * bytes, time), frames out through a send callback. Its entry points (life
 * cycle, input, timers), per-peer batching of output, counters. */
#include <stdlib.h>
#include <string.h>

#include "nve_proto_int.h"

/* ---- output ------------------------------------------------------------- */

static uint32_t
out_peer_epoch(const struct nve_out *o)
{
    /* 0 until the hypervisor resynced with us in its current epoch: that is
     * how it learns we have none of its state (first contact, our restart,
     * hold expiry). */
    return o->peer && o->peer->synced ? o->peer->epoch : 0;
}

void
nve_out_init(struct nve_out *o, struct nve_proto *p, struct nve_peer *peer,
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

void
nve_out_flush(struct nve_out *o)
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

void
nve_out_add(struct nve_out *o, const struct nvdp_msg *m)
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
            nve_count(p, o->peer, o->port,
                  offsetof(struct nve_counters, tx_type) +
                      nve_type_idx(m->type) * sizeof(uint64_t));
            return;
        }
        if (o->w.nmsg == 0)
            break; /* does not fit an empty frame: our bug, count it */
        nve_out_flush(o);
    }
    COUNT(p, o->peer, o->port, tx_errors);
    log_warnx_rl(&p->rl, "cannot encode %s for port %u", nvdp_msg_name(m->type),
                 o->port);
}

void
nve_out_response(struct nve_out *o, const struct rel_resp *r)
{
    struct nvdp_msg m;

    rel_resp_msg(r, &m);
    if (r->status <= NVDP_ST_MAX)
        nve_count(o->p, o->peer, o->port,
              offsetof(struct nve_counters, status) +
                  r->status * sizeof(uint64_t));
    nve_out_add(o, &m);
}

void
nve_hello_msg(const struct nve_proto *p, struct nvdp_msg *m)
{
    nvdp_hello_msg(m, NVDP_ROLE_NVE, (uint16_t)p->conf->hold_s,
                   (uint16_t)p->conf->hello_ms, p->conf->rel.window,
                   p->conf->name);
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
        nve_count(p, e, port, offsetof(struct nve_counters, decode_err) +
                              (size_t)(-err) * sizeof(uint64_t));
    log_warnx_rl(&p->rl, "malformed NVDP %s from %s on %s: %s",
                 frame ? "frame" : "message", nve_peer_str(NULL, src, ms),
                 p->port[port].name, nvdp_strerror(err));
}

/* Requests from a hypervisor we keep no state for (not authorised on this
 * port, or the port is full of peers): answered, never applied. */
static void
refuse(struct nve_proto *p, struct nve_out *o, const struct nvdp_msg *m,
       uint16_t status, const char *reason)
{
    struct rel_resp r = {.txid = m->txid, .req_type = m->type};

    nve_resp_set(&r, status, reason);
    nve_out_response(o, &r);
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
                  nvdp_msg_name(m->type), m->txid, nve_peer_str(e, NULL, ms));
        if (cached)
            nve_out_response(o, cached);
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
            nve_peer_hello(p, e, m);
        return;
    }
    if (m->type == NVDP_MSG_RESPONSE) {
        if (e)
            nve_withdraw_answered(p, e, m, peer_epoch == p->epoch);
        return;
    }
    if (!nve_is_request(m->type))
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
               nve_peer_str(e, NULL, ms));
    nve_req_apply(p, e, m, now, &r);
    if (r.has_tag)
        log_debug("%s txid %u from %s: %s, tag %u", nvdp_msg_name(m->type),
                  m->txid, nve_peer_str(e, NULL, ms), nvdp_status_str(r.status),
                  r.tag);
    else
        log_debug("%s txid %u from %s: %s%s%s", nvdp_msg_name(m->type),
                  m->txid, nve_peer_str(e, NULL, ms), nvdp_status_str(r.status),
                  r.reason[0] ? ": " : "", r.reason);
    r.valid = 1;
    rel_rx_store(&e->rx, &r);
    nve_out_response(o, &r);
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
            nve_resp_set(&r, NVDP_ST_NOT_AUTHORISED,
                     "hypervisor is not authorised on this port");
        else
            nve_resp_set(&r, nvdp_err_status(err), nvdp_strerror(err));
        nve_out_response(o, &r);
        return;
    }
    if (!request_new(p, o, e, m))
        return;
    nve_resp_set(&r, nvdp_err_status(err), nvdp_strerror(err));
    r.valid = 1;
    rel_rx_store(&e->rx, &r);
    nve_out_response(o, &r);
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
    e = nve_peer_find(p, port, src);
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
                     nve_peer_str(NULL, src, ms), p->port[port].name);
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
            nve_peer_free(p, e), e = NULL;
    } else if (e == NULL) {
        if (p->port[port].npeers >= p->conf->max_hv_per_port) {
            /* dropped, not answered: a flood of spoofed MACs must not
             * turn us into an amplifier (spec section 15) */
            COUNT(p, NULL, port, peers_over_limit);
            log_warnx_rl(&p->rl, "port %s holds %u hypervisors: frame from "
                         "%s dropped", p->port[port].name,
                         p->conf->max_hv_per_port, nve_peer_str(NULL, src, ms));
            return;
        } else if ((e = nve_peer_new(p, port, src, rd.hdr.epoch, now)) != NULL) {
            fresh = 1;
            if (log_rl_allow(&p->rl_peer, now))
                log_info("peer %s on %s up (epoch %08x)",
                         nve_peer_str(e, NULL, ms), p->port[port].name, e->epoch);
        }
    } else if (e->epoch != rd.hdr.epoch) {
        nve_peer_restarted(p, e, rd.hdr.epoch);
        fresh = 1;
    }
    if (e)
        e->last_heard = now;
    if (fresh)
        e->next_nostate = now + p->conf->hello_ms;

    if ((o = malloc(sizeof(*o) + sizeof(*m))) == NULL)
        return;
    m = (struct nvdp_msg *)(o + 1);
    nve_out_init(o, p, e, port, src);
    /* A new or restarted peer hears from us at once (unicast, peer_epoch
     * 0): it learns our MAC and that it must resync. */
    if (fresh) {
        struct nvdp_msg h;
        nve_hello_msg(p, &h);
        nve_out_add(o, &h);
    }
    for (;;) {
        rc = nvdp_frame_next(&rd, m);
        if (rc == 0)
            break;
        COUNT(p, e, port, rx_msgs);
        nve_count(p, e, port, offsetof(struct nve_counters, rx_type) +
                              nve_type_idx(m->type) * sizeof(uint64_t));
        if (rc < 0) {
            int answerable = m->txid != 0 && m->type != NVDP_MSG_HELLO &&
                             m->type != NVDP_MSG_RESPONSE &&
                             (nve_is_request(m->type) || rc == NVDP_E_UNKNOWN);
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
        nve_count_n(p, e, port, offsetof(struct nve_counters, rx_unknown_skipped),
                rd.skipped);
    nve_out_flush(o);
    free(o);
}

static void
send_hello(struct nve_proto *p, uint16_t port)
{
    struct nve_out *o = malloc(sizeof(*o));
    struct nvdp_msg h;

    if (o == NULL)
        return;
    nve_out_init(o, p, NULL, port, p->conf->group);
    nve_hello_msg(p, &h);
    nve_out_add(o, &h);
    nve_out_flush(o);
    free(o);
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
        t = e->last_heard + nve_peer_hold_ms(p, e);
        if (now >= t) {
            nve_peer_expire(p, e);
            continue;
        }
        if (t < next)
            next = t;
        nve_peer_nostate(p, e, now);
        if (!e->synced && e->next_nostate < next)
            next = e->next_nostate;
        nve_peer_tx_run(p, e, now);
        if (e->tx_ready && (t = rel_tx_next_due(&e->tx)) < next)
            next = t;
    }
    if ((n = tree_expire(p->tree, now)) > 0)
        log_info("%u pre-associations expired", n);
    if ((t = tree_next_expiry(p->tree)) < next)
        next = t;
    return next;
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
        nve_peer_free(p, p->peers);
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
            nve_peer_free(p, e);
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
            nve_peer_free(p, e);
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
        nve_jset_u64(o, flat[i].name,
                 *(const uint64_t *)((const char *)c + flat[i].off));
    for (unsigned i = 1; i <= (NVDP_MSG_VNIC_STATE & 0xFF); i++) {
        const char *n = nvdp_msg_name((uint16_t)(0x8000 | i));
        nve_jset_u64(rx, n, c->rx_type[i]);
        nve_jset_u64(tx, n, c->tx_type[i]);
    }
    nve_jset_u64(rx, "unknown", c->rx_type[0]);
    for (unsigned i = 0; i <= NVDP_ST_MAX; i++)
        nve_jset_u64(st, nvdp_status_str((uint16_t)i), c->status[i]);
    for (int i = 1; i < NVE_NERR; i++)
        nve_jset_u64(de, nvdp_strerror(-i), c->decode_err[i]);
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
        json_object_object_add(peers, nve_peer_str(e, NULL, ms),
                               nve_counters_json(&e->c));
    json_object_object_add(o, "ports", ports);
    json_object_object_add(o, "peers", peers);
    return o;
}
