/* nve_peer.c - the hypervisors the NVE hears, per (port, MAC) (spec 11.4,
 * 12.3): creation, restart (epoch change), HELLO, hold expiry, the "no
 * state" HELLO until they resync, the peers view. */
#include <stdlib.h>
#include <string.h>

#include "nve_proto_int.h"

static struct nve_peer **
peer_bucket(const struct nve_proto *p, uint16_t port, const uint8_t mac[6])
{
    uint32_t i = tree_mac_hash(p->tree, port, mac) & (TREE_HV_HASH - 1);

    return (struct nve_peer **)&p->ptab[i];
}

struct nve_peer *
nve_peer_find(const struct nve_proto *p, uint16_t port, const uint8_t mac[6])
{
    for (struct nve_peer *e = *peer_bucket(p, port, mac); e; e = e->hnext)
        if (e->port == port && memcmp(e->s.mac, mac, 6) == 0)
            return e;
    return NULL;
}

/* A port's newcomers in two lists in the order they were last heard: the
 * head of one is the peer evicted for a newcomer, found without walking
 * the peers. */
static void
lru_del(struct nve_pport *pp, struct nve_peer *e)
{
    int k = e->pool;

    if (k < 0)
        return; /* a holder: in no list */
    if (e->lru_prev != NULL)
        e->lru_prev->lru_next = e->lru_next;
    else
        pp->lru_head[k] = e->lru_next;
    if (e->lru_next != NULL)
        e->lru_next->lru_prev = e->lru_prev;
    else
        pp->lru_tail[k] = e->lru_prev;
    e->lru_next = e->lru_prev = NULL;
    e->pool = -1;
    pp->npool[k]--;
}

static void
lru_add(struct nve_pport *pp, struct nve_peer *e, int k)
{
    e->pool = (int8_t)k;
    e->lru_next = NULL;
    e->lru_prev = pp->lru_tail[k];
    if (pp->lru_tail[k] != NULL)
        pp->lru_tail[k]->lru_next = e;
    else
        pp->lru_head[k] = e;
    pp->lru_tail[k] = e;
    pp->npool[k]++;
}

static void
evict(struct nve_proto *p, struct nve_peer *e, const char *why)
{
    char ms[NVDP_MAC_STRLEN];

    NVE_COUNT(p, NULL, e->port, peers_evicted);
    if (log_rl_allow(&p->rl_flood, p->now))
        log_warnx("port %s: peer %s evicted (holds no state): %s",
                  p->port[e->port].name, nve_mac_str(e->s.mac, ms), why);
    nve_peer_free(p, e);
}

void
nve_peer_place(struct nve_proto *p, struct nve_peer *e)
{
    const struct nve_port *pc = nve_conf_port_by_id(p->conf, e->port);
    struct nve_pport *pp = &p->port[e->port];
    int k = e->holds ? -1 : e->s.open ? NVE_POOL_SESSION : NVE_POOL_NEW;
    struct nve_peer *o;

    if (k != e->pool) {
        lru_del(pp, e);
        if (k >= 0)
            lru_add(pp, e, k);
    }
    /* in session: room among max-hypervisors, never a holder's */
    while (pc != NULL && k == NVE_POOL_SESSION &&
           pp->nholders + pp->npool[k] > pc->max_hv &&
           (o = pp->lru_head[k]) != e)
        evict(p, o, "port holds its limit of hypervisors");
}

void
nve_peer_heard(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    struct nve_pport *pp = &p->port[e->port];

    e->s.last_heard = now;
    if (e->pool >= 0 && pp->lru_tail[e->pool] != e) {
        int k = e->pool;
        lru_del(pp, e);
        lru_add(pp, e, k);
    }
}

struct nve_peer *
nve_peer_new(struct nve_proto *p, uint16_t port, const uint8_t mac[6],
             uint32_t epoch, uint64_t now)
{
    struct nve_peer *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    /* its requests in flight: up to the window we advertise */
    if (nvdp_sess_init(&e->s, &p->ep, mac, epoch,
                       (uint16_t)(2 * p->conf->rel.window)) < 0) {
        free(e);
        return NULL;
    }
    e->s.cnt.set[1] = &p->c;
    e->s.cnt.set[2] = &p->port[port].c;
    e->port = port;
    e->up_since = e->s.last_heard = now;
    /* entries kept through its expiry or a reload make it a holder */
    const struct tree_hv *h = tree_hv_find(p->tree, port, mac);
    e->holds = h != NULL && h->nvnic > 0;
    nve_peer_conf(p, e, now);
    if ((e->next = p->peers) != NULL)
        e->next->pprev = &e->next;
    e->pprev = &p->peers;
    p->peers = e;
    e->hnext = *peer_bucket(p, port, mac);
    *peer_bucket(p, port, mac) = e;
    p->npeers++;
    p->port[port].npeers++;
    p->port[port].nholders += e->holds;
    e->pool = -1;
    if (!e->holds)
        lru_add(&p->port[port], e, NVE_POOL_NEW);
    if (p->peer_hook != NULL)
        p->peer_hook(p->peer_hook_arg, port, mac, NVE_PEER_KNOWN);
    return e;
}

void
nve_peer_conf(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    const struct nve_port *pc = nve_conf_port_by_id(p->conf, e->port);
    uint32_t rate = pc ? pc->req_rate : 0, burst = pc ? pc->req_burst : 1;
    uint32_t strikes = p->conf->demote_refusals;

    if (now != NVE_RECONF) {
        tbucket_init(&e->rq, rate, burst, now); /* a new peer: full */
        tbucket_init(&e->strikes, strikes, strikes, now);
    } else {
        tbucket_set(&e->rq, rate, burst);
        tbucket_set(&e->strikes, strikes, strikes);
    }
}

static void
standing_set(struct nve_proto *p, struct nve_peer *e, enum nve_standing st)
{
    if (p->peer_hook != NULL)
        p->peer_hook(p->peer_hook_arg, e->port, e->s.mac, st);
}

void
nve_peer_refused(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    uint64_t hold = (uint64_t)p->conf->demote_s * 1000;
    char ms[NVDP_MAC_STRLEN];

    if (p->conf->demote_refusals == 0)
        return; /* no standing */
    if (e->demoted_until != 0) {
        /* still refused: it stays demoted (the few frames it may pass
         * would never empty the bucket again) */
        e->demoted_until = now + hold;
        return;
    }
    /* a hypervisor refused now and then at its limit is not a flood */
    if (tbucket_take(&e->strikes, now))
        return;
    e->demoted_until = now + hold;
    NVE_COUNT(p, e, e->port, peers_demoted);
    if (log_rl_allow(&p->rl_flood, now))
        log_warnx("peer %s on %s: refused for limits over %u times a "
                  "second, policed at %u frames/s for %u s",
                  nve_mac_str(e->s.mac, ms), p->port[e->port].name,
                  p->conf->demote_refusals, p->conf->demoted_rate,
                  p->conf->demote_s);
    standing_set(p, e, NVE_PEER_DEMOTED);
}

void
nve_peer_standing(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    char ms[NVDP_MAC_STRLEN];

    /* checked on its frames: a demoted peer that falls silent needs no
     * restoring until it speaks, and its first frame passes the kernel's
     * small bucket, full by then */
    if (e->demoted_until == 0 || now < e->demoted_until)
        return;
    e->demoted_until = 0;
    NVE_COUNT(p, e, e->port, peers_restored);
    if (log_rl_allow(&p->rl_flood, now))
        log_info("peer %s on %s: not refused for %u s, policed as any peer",
                 nve_mac_str(e->s.mac, ms), p->port[e->port].name,
                 p->conf->demote_s);
    standing_set(p, e, NVE_PEER_KNOWN);
}

void
nve_pport_conf(struct nve_proto *p, uint16_t port, uint64_t now)
{
    const struct nve_port *pc = nve_conf_port_by_id(p->conf, port);
    struct nve_pport *pp = &p->port[port];
    uint32_t n, rate;

    if (pc == NULL)
        return;
    /* one unicast HELLO per hello interval for every peer the port may
     * hold: what spec 15 promises, whatever number of MACs a station
     * makes up */
    n = pc->max_hv + pc->max_newcomers;
    rate = (uint32_t)(((uint64_t)n * 1000 + p->conf->hello_ms - 1) /
                      p->conf->hello_ms);
    if (now != NVE_RECONF)
        tbucket_init(&pp->uhello, rate, pc->max_newcomers, now);
    else
        tbucket_set(&pp->uhello, rate, pc->max_newcomers);
}

void
nve_peer_watch(void *arg, uint16_t port, const uint8_t mac[6], int holds)
{
    struct nve_proto *p = arg;
    struct nve_peer *e = nve_peer_find(p, port, mac);

    if (e == NULL || e->holds == !!holds)
        return;
    e->holds = !!holds;
    if (holds)
        p->port[port].nholders++;
    else
        p->port[port].nholders--;
    /* its pool follows (nve_peer_place) once the request is handled */
}

void
nve_peer_make_room(struct nve_proto *p, uint16_t port)
{
    const struct nve_port *pc = nve_conf_port_by_id(p->conf, port);
    struct nve_pport *pp = &p->port[port];
    struct nve_peer *o;

    /* more than one when a reload lowered the limit */
    while (pc != NULL && pp->npool[NVE_POOL_NEW] >= pc->max_newcomers &&
           (o = pp->lru_head[NVE_POOL_NEW]) != NULL)
        evict(p, o, "port holds its limit of newcomers");
}

int
nve_peer_uhello(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    if (now < e->next_uhello ||
        !tbucket_take(&p->port[e->port].uhello, now)) {
        NVE_COUNT(p, e, e->port, hello_suppressed);
        if (e->next_uhello < now)
            e->next_uhello = now + p->conf->hello_ms;
        return 0;
    }
    e->next_uhello = now + p->conf->hello_ms;
    return 1;
}

int
nve_peer_request_ok(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    char ms[NVDP_MAC_STRLEN];

    if (tbucket_take(&e->rq, now))
        return 1;
    if (e->resyncing && e->credit > 0) {
        e->credit--;
        NVE_COUNT(p, e, e->port, rx_resync_credit);
        return 1;
    }
    /* dropped like a lost frame: the sender's retransmission comes back
     * when the bucket has refilled; an answer would send at the flood's
     * rate (spec 10.3, 15) */
    NVE_COUNT(p, e, e->port, rx_rate_limited);
    if (log_rl_allow(&p->rl_flood, now))
        log_warnx("peer %s on %s: over %u requests/s, request dropped",
                  nve_mac_str(e->s.mac, ms), p->port[e->port].name,
                  e->rq.rate);
    return 0;
}

void
nve_peer_free(struct nve_proto *p, struct nve_peer *e)
{
    if ((*e->pprev = e->next) != NULL)
        e->next->pprev = e->pprev;
    for (struct nve_peer **b = peer_bucket(p, e->port, e->s.mac); *b;
         b = &(*b)->hnext)
        if (*b == e) {
            *b = e->hnext;
            break;
        }
    p->npeers--;
    p->port[e->port].npeers--;
    p->port[e->port].nholders -= e->holds;
    lru_del(&p->port[e->port], e);
    /* forgotten: what was reserved for it is free (spec 15) */
    tree_hv_session(p->tree, e->port, e->s.mac, 0);
    if (p->peer_hook != NULL)
        p->peer_hook(p->peer_hook_arg, e->port, e->s.mac, NVE_PEER_GONE);
    nvdp_sess_free(&e->s);
    free(e);
}

uint64_t
nve_peer_hold_ms(const struct nve_proto *p, const struct nve_peer *e)
{
    uint32_t s = p->conf->hold_s;

    if (e->s.have_hello && e->s.hello.hold_time < s)
        s = e->s.hello.hold_time;
    return (uint64_t)s * 1000;
}

/* A restarted hypervisor's txids start again and it will resync; our
 * entries stay (forwarding continues) until its RESYNC END sweeps them. */
int
nve_peer_epoch(struct nve_proto *p, struct nve_peer *e, uint32_t epoch)
{
    uint32_t old = e->s.epoch;
    char ms[NVDP_MAC_STRLEN];

    if (!nvdp_sess_epoch(&e->s, epoch))
        return 0;
    if (log_rl_allow(&p->rl_peer, p->now))
        log_info("peer %s on %s restarted (epoch %08x -> %08x)",
                 nve_mac_str(e->s.mac, ms), p->port[e->port].name, old,
                 epoch);
    NVE_COUNT(p, e, e->port, peer_restarts);
    e->resyncing = 0;
    e->credit = 0;
    /* WITHDRAWs to the old incarnation are dropped: its state on our side
     * is gone already, and the new one resyncs (spec 11.1) */
    nvdp_sess_tx_reset(&e->s, NULL, NULL);
    return 1;
}

void
nve_peer_hello(struct nve_proto *p, struct nve_peer *e,
               const struct nvdp_msg *m)
{
    char ms[NVDP_MAC_STRLEN];

    if (m->hello.role != NVDP_ROLE_HV) {
        NVE_COUNT(p, e, e->port, bad_direction);
        return;
    }
    if ((!e->s.have_hello || strcmp(e->s.hello.name, m->hello.name) != 0) &&
        log_rl_allow(&p->rl_peer, p->now))
        log_info("peer %s on %s is \"%s\" (hold %us, window %u)",
                 nve_mac_str(e->s.mac, ms), p->port[e->port].name,
                 m->hello.name, m->hello.hold_time, m->hello.window);
    nvdp_sess_hello(&e->s, &m->hello);
}

/* A hypervisor we hear but hold no session for is told so every hello
 * interval until it resyncs (spec 11.4): the first such HELLO may be lost,
 * and an idle hypervisor would never learn that we lost its state. A
 * hypervisor that signs gets every HELLO this way: it ignores the group
 * HELLO, which cannot be signed (spec 14.2). */
static void
peer_unicast_hello(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    struct nvdp_out *o;

    if ((e->s.open && !e->s.peer_signs) || now < e->next_uhello ||
        !nve_peer_uhello(p, e, now))
        return;
    if ((o = nve_out_new(p, e, e->port, e->s.mac)) == NULL)
        return;
    nvdp_out_hello(o); /* peer_epoch 0 while not in session */
    nve_out_send(p, o);
}

static void
peer_expire(struct nve_proto *p, struct nve_peer *e)
{
    char ms[NVDP_MAC_STRLEN];
    unsigned n = tree_hv_release(p->tree, e->port, e->s.mac);

    NVE_COUNT(p, e, e->port, peers_expired);
    if (log_rl_allow(&p->rl_peer, p->now))
        log_info("peer %s on %s down: not heard for %llu ms, %u entries released",
             nve_mac_str(e->s.mac, ms), p->port[e->port].name,
             (unsigned long long)nve_peer_hold_ms(p, e), n);
    nve_peer_free(p, e);
}

uint64_t
nve_peer_timers(struct nve_proto *p, struct nve_peer *e, uint64_t now,
                int *gone)
{
    uint64_t next, t;

    *gone = 0;
    next = e->s.last_heard + nve_peer_hold_ms(p, e);
    if (now >= next) {
        peer_expire(p, e);
        *gone = 1;
        return 0;
    }
    peer_unicast_hello(p, e, now);
    if ((!e->s.open || e->s.peer_signs) && e->next_uhello < next)
        next = e->next_uhello;
    nve_withdraw_run(p, e, now);
    if (e->s.tx_ready && (t = rel_tx_next_due(&e->s.tx)) < next)
        next = t;
    return next;
}

struct json_object *
nve_proto_peers_json(const struct nve_proto *p, uint64_t now)
{
    struct json_object *a = json_object_new_array();
    char ms[NVDP_MAC_STRLEN], ep[9];

    for (struct nve_peer *e = p->peers; e; e = e->next) {
        struct json_object *o = json_object_new_object();
        struct tree_hv *h = tree_hv_find(p->tree, e->port, e->s.mac);
        json_object_object_add(o, "mac", json_object_new_string(
                                             nve_mac_str(e->s.mac, ms)));
        json_object_object_add(o, "port",
                               json_object_new_string(p->port[e->port].name));
        json_object_object_add(o, "role", json_object_new_string("hypervisor"));
        json_object_object_add(o, "name", json_object_new_string(
                                   e->s.have_hello ? e->s.hello.name : ""));
        snprintf(ep, sizeof(ep), "%08x", e->s.epoch);
        json_object_object_add(o, "epoch", json_object_new_string(ep));
        json_object_object_add(o, "state", json_object_new_string(
                                               e->resyncing ? "resyncing"
                                               : e->s.open  ? "up"
                                                            : "unsynced"));
        json_object_object_add(
            o, "standing",
            json_object_new_string(e->demoted_until ? "demoted" : "good"));
        nve_jset_u64(o, "last_heard_ms", now - e->s.last_heard);
        nve_jset_u64(o, "hold_ms", nve_peer_hold_ms(p, e));
        nve_jset_u64(o, "up_ms", now - e->up_since);
        nve_jset_u64(o, "window", e->s.have_hello ? e->s.hello.window : 0);
        nve_jset_u64(o, "vnics", h ? h->nvnic : 0);
        nve_jset_u64(o, "withdraws_outstanding",
                     (e->s.tx_ready ? e->s.tx.outstanding : 0) + e->s.wq_len);
        json_object_array_add(a, o);
    }
    return a;
}
