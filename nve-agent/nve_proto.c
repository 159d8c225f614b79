/* nve_proto.c - the NVE side of NVDP, I/O-free: frames in (port, source MAC,
 * bytes, time), frames out through a send callback. Its entry points: life
 * cycle, a frame's messages to their handlers, timers, counters. What both
 * roles do alike is common/nvdp_session.c. */
#include <stdlib.h>
#include <string.h>

#include "nve_proto_int.h"

/* ---- output ------------------------------------------------------------- */

static int
send_frame(void *arg, unsigned link, const uint8_t dst[6], const uint8_t *buf,
           size_t len)
{
    struct nve_proto *p = arg;

    p->send(p->send_arg, (uint16_t)link, dst, buf, len);
    return 0;
}

struct nvdp_out *
nve_out_new(struct nve_proto *p, struct nve_peer *e, uint16_t port,
            const uint8_t dst[6])
{
    struct nvdp_cnt k = nve_cnt(p, e, port);
    const struct nve_port *pc = nve_conf_port_by_id(p->conf, port);
    const struct nvdp_keyring *kr;
    struct nvdp_out *o;

    if (p->nout == NVE_OUT_DEPTH) {
        NVDP_COUNT(&k, tx_errors);
        log_warnx_rl(&p->ep.rl, "no output batch left on %s",
                     p->port[port].name);
        return NULL;
    }
    o = &p->out[p->nout++];
    nvdp_out_init(o, &p->ep, e != NULL ? &e->s : NULL, &k, port, dst,
                  p->port[port].mtu ? p->port[port].mtu : NVDP_MTU_DEFAULT);
    /* Unicast to a keyed hypervisor is signed where the port requires it,
     * and in optional mode once the hypervisor signs (an unkeyed one
     * drops what it cannot check). Group frames cannot be (spec 14). */
    if (pc != NULL && pc->auth != NVDP_AUTH_OFF && !(dst[0] & 1) &&
        (kr = nve_conf_keys(p->conf, pc, dst)) != NULL &&
        (pc->auth == NVDP_AUTH_REQUIRED || (e != NULL && e->s.peer_signs)))
        nvdp_out_sign(o, &kr->key[0], p->port[port].mac);
    return o;
}

void
nve_out_send(struct nve_proto *p, struct nvdp_out *o)
{
    if (o == NULL)
        return;
    nvdp_out_flush(o);
    p->nout--;
}

static void
send_hello(struct nve_proto *p, uint16_t port)
{
    struct nvdp_out *o = nve_out_new(p, NULL, port, p->conf->group);

    if (o == NULL)
        return;
    nvdp_out_hello(o);
    nve_out_send(p, o);
}

/* ---- input -------------------------------------------------------------- */

/* Requests from a hypervisor we keep no state for (not authorised on this
 * port, or no memory for its peer entry): answered, never applied. */
static void
refuse(struct nvdp_out *o, const struct nvdp_msg *m, uint16_t status,
       const char *reason)
{
    struct rel_resp r;

    nvdp_resp_init(&r, m, status, reason);
    nvdp_out_answer(o, &r);
}

static void
handle_request(struct nve_proto *p, struct nvdp_out *o, struct nve_peer *e,
               const struct nvdp_msg *m)
{
    struct rel_resp r;
    char ms[NVDP_MAC_STRLEN];

    if (!nvdp_sess_request_new(&e->s, o, m))
        return;
    nvdp_resp_init(&r, m, NVDP_ST_OK, NULL);
    log_debug2("%s txid %u from %s", nvdp_msg_name(m->type), m->txid,
               nve_mac_str(e->s.mac, ms));
    nve_req_apply(p, e, m, p->now, &r);
    if (r.status == NVDP_ST_LIMIT)
        nve_peer_refused(p, e, p->now);
    if (r.has_tag)
        log_debug("%s txid %u from %s: %s, tag %u", nvdp_msg_name(m->type),
                  m->txid, ms, nvdp_status_str(r.status), r.tag);
    else
        log_debug("%s txid %u from %s: %s%s%s", nvdp_msg_name(m->type),
                  m->txid, ms, nvdp_status_str(r.status),
                  r.reason[0] ? ": " : "", r.reason);
    nvdp_sess_answer(&e->s, o, &r);
}

/* ours: RESPONSEs in this frame may answer our WITHDRAWs (spec 11.3). */
static void
handle_msg(struct nve_proto *p, struct nvdp_out *o, struct nve_peer *e,
           const struct nvdp_msg *m, int ours, int authorised)
{
    if (m->type == NVDP_MSG_HELLO) {
        if (e != NULL)
            nve_peer_hello(p, e, m);
        return;
    }
    if (m->type == NVDP_MSG_RESPONSE) {
        if (e != NULL)
            nve_withdraw_answered(p, e, m, ours);
        return;
    }
    if (e != NULL) {
        if (nve_peer_request_ok(p, e, p->now))
            handle_request(p, o, e, m);
    } else if (!authorised)
        refuse(o, m, NVDP_ST_NOT_AUTHORISED,
               "hypervisor is not authorised on this port");
    else /* no memory for its peer entry */
        refuse(o, m, NVDP_ST_INTERNAL, "out of memory for this hypervisor");
}

/* A request that failed decoding, answered like any other (through the
 * duplicate cache when we keep state for the sender). */
static void
answer_error(struct nve_proto *p, struct nvdp_out *o, struct nve_peer *e,
             const struct nvdp_msg *m, int err, int authorised)
{
    if (e != NULL) {
        if (nve_peer_request_ok(p, e, p->now))
            nvdp_sess_answer_error(&e->s, o, m, err);
    } else if (!authorised)
        refuse(o, m, NVDP_ST_NOT_AUTHORISED,
               "hypervisor is not authorised on this port");
    else
        refuse(o, m, nvdp_err_status(err), nvdp_strerror(err));
}

/* The peer entry the frame's sender has, or gets (spec 11.4); NULL when
 * none is kept for it. *fresh: new or restarted, so it is told at once
 * that we hold no session for it (at most once per hello interval). A
 * sender not heard before takes the place of the newcomer heard least
 * recently when the port holds its limit of newcomers. */
static void
frame_peer(struct nve_proto *p, uint16_t port, const uint8_t src[6],
           uint32_t epoch, int authorised, struct nve_peer **ep, int *fresh)
{
    struct nve_peer *e = *ep;
    char ms[NVDP_MAC_STRLEN];

    *fresh = 0;
    if (!authorised) {
        NVE_COUNT(p, e, port, unauthorised);
        if (e != NULL) /* no longer authorised (reload): forget it */
            nve_peer_free(p, e), *ep = NULL;
        return;
    }
    if (e != NULL) {
        *fresh = nve_peer_epoch(p, e, epoch);
        return;
    }
    nve_peer_make_room(p, port);
    if ((*ep = e = nve_peer_new(p, port, src, epoch, p->now)) != NULL) {
        *fresh = 1;
        if (log_rl_allow(&p->rl_peer, p->now))
            log_info("peer %s on %s up (epoch %08x)", nve_mac_str(src, ms),
                     p->port[port].name, epoch);
    }
}

void
nve_proto_input(struct nve_proto *p, uint16_t port, const uint8_t src[6],
                const uint8_t dst[6], const uint8_t *buf, size_t len,
                uint64_t now)
{
    struct nvdp_in in;
    struct nvdp_cnt k;
    struct nvdp_msg *m;
    struct nve_peer *e;
    struct nvdp_out *o;
    const struct nve_port *pc;
    int rc, authorised, fresh, ours;

    if (port >= TREE_MAX_PORTS || !p->port[port].up)
        return;
    p->now = now;
    pc = nve_conf_port_by_id(p->conf, port);
    e = nve_peer_find(p, port, src);
    k = nve_cnt(p, e, port);
    nvdp_in_init(&in, &p->ep, &k, src, p->port[port].name);
    if (pc == NULL) {
        nvdp_in_reject(&in, NVDP_E_VALUE); /* the port is being removed */
        return;
    }
    nvdp_in_auth(&in, dst != NULL ? dst : p->port[port].mac,
                 nve_conf_keys(p->conf, pc, src), pc->auth,
                 e != NULL ? &e->s.replay : NULL);
    if (nvdp_in_open(&in, buf, len) < 0)
        return;
    authorised = nve_port_allows_hv(pc, src);
    frame_peer(p, port, src, in.rd.hdr.epoch, authorised, &e, &fresh);
    in.cnt = nve_cnt(p, e, port); /* e may be new, or forgotten */
    if (e != NULL) {
        nvdp_sess_auth_seen(&e->s, &in);
        nve_peer_heard(p, e, now);
        nve_peer_standing(p, e, now);
    }
    m = &p->rx_msg;
    if ((o = nve_out_new(p, e, port, src)) == NULL)
        return;
    /* A new or restarted peer hears from us at once (unicast, peer_epoch
     * 0): it learns our MAC and that it must resync. */
    if (fresh && nve_peer_uhello(p, e, now))
        nvdp_out_hello(o);
    ours = e != NULL && nvdp_sess_ours(&e->s, in.rd.hdr.peer_epoch);
    while ((rc = nvdp_in_next(&in, m)) != NVDP_IN_END) {
        if (rc == NVDP_IN_BAD)
            answer_error(p, o, e, m, in.err, authorised);
        else
            handle_msg(p, o, e, m, ours, authorised);
    }
    nve_out_send(p, o);
    if (e != NULL)
        nve_peer_place(p, e);
}

/* ---- timers ------------------------------------------------------------- */

uint64_t
nve_proto_timers(struct nve_proto *p, uint64_t now)
{
    uint64_t next = UINT64_MAX, t;
    unsigned n;
    int gone;

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
        t = nve_peer_timers(p, e, now, &gone);
        if (!gone && t < next)
            next = t;
    }
    if ((n = tree_expire(p->tree, now)) > 0)
        log_info("%u pre-associations expired", n);
    if ((t = tree_next_expiry(p->tree)) < next)
        next = t;
    return next;
}

/* ---- life cycle --------------------------------------------------------- */

static void
set_hello(struct nve_proto *p)
{
    nvdp_endpoint_hello(&p->ep, (uint16_t)p->conf->hold_s,
                        (uint16_t)p->conf->hello_ms, p->conf->rel.window,
                        p->conf->name);
}

struct nve_proto *
nve_proto_new(const struct nve_conf *c, struct tree *t, uint32_t epoch,
              nve_send_fn send, void *arg)
{
    struct nve_proto *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->conf = c;
    p->tree = t;
    p->send = send;
    p->send_arg = arg;
    nvdp_endpoint_init(&p->ep, NVDP_ROLE_NVE, epoch, send_frame, p);
    set_hello(p);
    log_rl_init(&p->rl_peer, 100, LOG_RL_INTERVAL_MS);
    log_rl_init(&p->rl_flood, LOG_RL_BURST, LOG_RL_INTERVAL_MS);
    log_rl_init(&p->rl_vnic, 1000, LOG_RL_INTERVAL_MS);
    t->hv_watch = nve_peer_watch;
    t->hv_watch_arg = p;
    return p;
}

void
nve_proto_set_peer_hook(struct nve_proto *p, nve_peer_fn fn, void *arg)
{
    p->peer_hook = fn;
    p->peer_hook_arg = arg;
}

void
nve_proto_port_policed(struct nve_proto *p, uint16_t port,
                       const struct nve_policed *d)
{
    if (port >= TREE_MAX_PORTS)
        return;
    p->port[port].c.rx_policed = d->peer;
    p->port[port].c.rx_policed_new = d->newsrc;
    p->port[port].c.rx_policed_demoted = d->demoted;
    p->port[port].c.rx_policed_unauth = d->unauth;
    p->c.rx_policed = p->c.rx_policed_new = p->c.rx_policed_demoted = 0;
    p->c.rx_policed_unauth = 0;
    for (unsigned i = 0; i < TREE_MAX_PORTS; i++) {
        p->c.rx_policed += p->port[i].c.rx_policed;
        p->c.rx_policed_new += p->port[i].c.rx_policed_new;
        p->c.rx_policed_demoted += p->port[i].c.rx_policed_demoted;
        p->c.rx_policed_unauth += p->port[i].c.rx_policed_unauth;
    }
}

void
nve_proto_free(struct nve_proto *p)
{
    if (p == NULL)
        return;
    p->tree->hv_watch = NULL;
    while (p->peers)
        nve_peer_free(p, p->peers);
    free(p);
}

void
nve_proto_set_conf(struct nve_proto *p, const struct nve_conf *c)
{
    p->conf = c;
    set_hello(p);
    /* hypervisors no longer authorised on their port are forgotten (the
     * caller has withdrawn their entries) */
    for (struct nve_peer *e = p->peers, *nx; e; e = nx) {
        const struct nve_port *pc = nve_conf_port_by_id(c, e->port);
        nx = e->next;
        if (pc == NULL || !nve_port_allows_hv(pc, e->s.mac))
            nve_peer_free(p, e);
        else
            nve_peer_conf(p, e, NVE_RECONF);
    }
    for (unsigned i = 0; i < TREE_MAX_PORTS; i++)
        if (p->port[i].up)
            nve_pport_conf(p, (uint16_t)i, NVE_RECONF);
}

void
nve_proto_port_up(struct nve_proto *p, uint16_t port, const char *name,
                  const uint8_t mac[6], unsigned mtu, uint64_t now)
{
    struct nve_pport *pp;

    if (port >= TREE_MAX_PORTS)
        return;
    pp = &p->port[port];
    if (!pp->up) {
        memset(&pp->c, 0, sizeof(pp->c));
        nve_pport_conf(p, port, now);
        log_rl_init(&pp->rl_full, 1, NVE_FULL_LOG_MS);
    }
    pp->up = 1;
    snprintf(pp->name, sizeof(pp->name), "%s", name);
    if (mac != NULL)
        memcpy(pp->mac, mac, 6);
    else
        memset(pp->mac, 0, 6);
    pp->mtu = mtu ? mtu : NVDP_MTU_DEFAULT;
    pp->next_hello = now;
}

void
nve_proto_auth_start(struct nve_proto *p, uint64_t ctr)
{
    nvdp_endpoint_auth_counter(&p->ep, ctr);
}

void
nve_proto_port_down(struct nve_proto *p, uint16_t port)
{
    if (port >= TREE_MAX_PORTS)
        return;
    for (struct nve_peer *e = p->peers, *nx; e; e = nx) {
        nx = e->next;
        if (e->port == port) {
            tree_hv_release(p->tree, port, e->s.mac);
            nve_peer_free(p, e);
        }
    }
    p->port[port].up = 0;
}

uint32_t
nve_proto_epoch(const struct nve_proto *p)
{
    return p->ep.epoch;
}

unsigned
nve_proto_npeers(const struct nve_proto *p)
{
    return p->npeers;
}

int
nve_proto_has_peer(const struct nve_proto *p, uint16_t port,
                   const uint8_t mac[6])
{
    return nve_peer_find(p, port, mac) != NULL;
}

const struct nvdp_counters *
nve_proto_counters(const struct nve_proto *p)
{
    return &p->c;
}

const struct nvdp_counters *
nve_proto_port_counters(const struct nve_proto *p, uint16_t port)
{
    return port < TREE_MAX_PORTS ? &p->port[port].c : NULL;
}

struct nvdp_cnt
nve_proto_port_cnt(struct nve_proto *p, uint16_t port)
{
    return nve_cnt(p, NULL, port);
}

/* ---- JSON --------------------------------------------------------------- */

struct json_object *
nve_counters_json(const struct nvdp_counters *c)
{
    struct json_object *o = json_object_new_object();
    static const struct nvdp_counter_name own[] = {
        NVDP_COUNTER(unauthorised), NVDP_COUNTER(peer_restarts),
        NVDP_COUNTER(peers_over_limit), NVDP_COUNTER(withdraws),
        NVDP_COUNTER(withdraws_unsent), NVDP_COUNTER(bad_direction),
        NVDP_COUNTER(rx_rate_limited), NVDP_COUNTER(rx_resync_credit),
        NVDP_COUNTER(hello_suppressed),
        NVDP_COUNTER(peers_evicted), NVDP_COUNTER(limit_vnics),
        NVDP_COUNTER(limit_port_vnics), NVDP_COUNTER(limit_hv_vnics),
        NVDP_COUNTER(limit_vnic_addrs), NVDP_COUNTER(limit_hv_addrs),
        NVDP_COUNTER(limit_preassoc), NVDP_COUNTER(limit_share),
        NVDP_COUNTER(limit_port_addrs), NVDP_COUNTER(limit_port_share),
        NVDP_COUNTER(rx_policed), NVDP_COUNTER(rx_policed_new),
        NVDP_COUNTER(rx_policed_demoted), NVDP_COUNTER(rx_policed_unauth),
        NVDP_COUNTER(peers_demoted),
        NVDP_COUNTER(peers_restored),
    };

    nvdp_counters_json(c, o);
    nvdp_counters_json_add(c, own, sizeof(own) / sizeof(own[0]), o);
    return o;
}

struct json_object *
nve_proto_counters_json(const struct nve_proto *p)
{
    struct json_object *o = json_object_new_object();
    struct json_object *ports = json_object_new_object();
    struct json_object *peers = json_object_new_object();
    char ms[NVDP_MAC_STRLEN];

    json_object_object_add(o, "global", nve_counters_json(&p->c));
    for (unsigned i = 0; i < TREE_MAX_PORTS; i++)
        if (p->port[i].up)
            json_object_object_add(ports, p->port[i].name,
                                   nve_counters_json(&p->port[i].c));
    for (struct nve_peer *e = p->peers; e; e = e->next)
        json_object_object_add(peers, nve_mac_str(e->s.mac, ms),
                               nve_counters_json(&e->s.c));
    json_object_object_add(o, "ports", ports);
    json_object_object_add(o, "peers", peers);
    return o;
}
