/* nve.c - nve-agent's daemon glue: applies a configuration (first start and
 * reload) to the forwarder, containment tree, protocol engine and sockets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>

#include "ctl.h"
#include "nve.h"

/* ---- sockets ------------------------------------------------------------ */

static int
nve_link_send(void *arg, const uint8_t dst[6], const uint8_t *frame,
              size_t len)
{
    struct nve_link *k = arg;
    const struct nve_link_ops *ops = k->owner->link_ops;

    if (ops)
        return ops->send(ops->arg, k->id, dst, frame, len);
    return l2sock_send(&k->sock, dst, frame, len);
}

static void
nve_send(void *arg, uint16_t port, const uint8_t dst[6], const uint8_t *frame,
         size_t len)
{
    struct nve *n = arg;

    if (port >= TREE_MAX_PORTS || !n->link[port].open)
        return;
    /* an answer may promise forwarding (an ASSOC's OK): the fast path's
     * maps first */
    fwd_flush(n->fwd);
    /* through the port's queue: a frame the port refuses for now waits
     * there, retried from the loop, and later ones behind it */
    (void)txq_send(&n->link[port].txq, dst, frame, len, ev_clock_ms());
}


#define NVE_RX_BATCH 8

static void
nve_link_read(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct nve_link *k = arg;
    struct nve *n = k->owner;
    int got, rounds = 0;

    /* bounded: other ports and the control socket get their turn */
    while (rounds++ < 64 &&
           (got = l2sock_recv(&k->sock, n->rxbuf, NVE_RX_BATCH)) > 0) {
        for (int i = 0; i < got; i++)
            nve_proto_input(n->proto, k->id, n->rxbuf[i].src, n->rxbuf[i].dst,
                            n->rxbuf[i].payload, n->rxbuf[i].paylen, ev_now(l));
        if (got < NVE_RX_BATCH)
            break;
    }
    nve_kick(n);
}

/* The engine's peers, mirrored into the kernel's policing. */
static void
nve_peer_known(void *arg, uint16_t port, const uint8_t mac[6],
               enum nve_standing st)
{
    struct nve *n = arg;
    const struct nve_port *pc =
        n->conf != NULL ? nve_conf_port_by_id(n->conf, port) : NULL;

    /* a listed hypervisor stays known when the engine forgets it: it is
     * not a stranger to the port (spec 15) */
    if (st == NVE_PEER_GONE && pc != NULL && pc->nhv &&
        nve_port_allows_hv(pc, mac))
        st = NVE_PEER_KNOWN;
    if (port < TREE_MAX_PORTS && n->link[port].open)
        nve_police_peer(n->police, &n->link[port].sock, mac, st);
}

void
nve_police_sync(struct nve *n)
{
    struct nve_policed d;

    for (uint16_t i = 0; i < TREE_MAX_PORTS; i++)
        if (n->link[i].open &&
            nve_police_dropped(n->police, &n->link[i].sock, &d) == 0)
            nve_proto_port_policed(n->proto, i, &d);
}

static int
nve_link_open(struct nve *n, const struct nve_port *pc)
{
    struct nve_link *k = &n->link[pc->id];
    struct nvdp_cnt cnt;

    if (k->open)
        return 0;
    k->owner = n;
    k->id = pc->id;
    if (n->link_ops) {
        unsigned mtu = NVDP_MTU_DEFAULT;
        if (n->link_ops->open(n->link_ops->arg, pc->id, pc->ifname, &mtu) < 0)
            return -1;
        k->sock.mtu = mtu;
        snprintf(k->sock.ifname, sizeof(k->sock.ifname), "%s", pc->ifname);
    } else {
        if (l2sock_open(&k->sock, pc->ifname, n->conf_next->ethertype,
                        n->conf_next->group) < 0)
            return -1;
        if (ev_io_add(n->loop, k->sock.fd, EPOLLIN, nve_link_read, k) < 0) {
            l2sock_close(&k->sock);
            return -1;
        }
    }
    cnt = nve_proto_port_cnt(n->proto, pc->id);
    txq_init(&k->txq, n->loop, nve_link_send, k, &cnt, k->sock.ifname);
    k->open = 1;
    return 0;
}

static void
nve_link_close(struct nve *n, uint16_t id)
{
    struct nve_link *k = &n->link[id];

    if (!k->open)
        return;
    k->open = 0;
    txq_free(&k->txq);
    if (n->link_ops) {
        n->link_ops->close(n->link_ops->arg, id);
        return;
    }
    nve_police_port_del(n->police, &k->sock);
    ev_io_del(n->loop, k->sock.fd);
    l2sock_close(&k->sock);
}

/* ---- timers ------------------------------------------------------------- */

static void
nve_timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    nve_kick(arg);
}

void
nve_kick(struct nve *n)
{
    uint64_t next;

    if (n->proto == NULL || n->loop == NULL)
        return;
    next = nve_proto_timers(n->proto, ev_now(n->loop));
    if (next == UINT64_MAX)
        next = ev_now(n->loop) + 1000;
    ev_timer_at(n->loop, &n->timer, next);
}

/* ---- the tree -> forwarder (and EVPN) adapter ----------------------- */

_Static_assert(TREE_MAX_PORTS == FWD_MAX_PORTS, "a tree port is a fwd port");

static int
sink_bind(void *a, uint16_t port, uint16_t tag, uint32_t vni)
{
    return fwd_vn_bind(((struct nve *)a)->fwd, port, tag, vni);
}

static int
sink_unbind(void *a, uint16_t port, uint16_t tag)
{
    return fwd_vn_unbind(((struct nve *)a)->fwd, port, tag);
}

/* The forwarder first: EVPN relies on its local entry having replaced a
 * remote one it programmed. */
static int
sink_add(void *a, uint32_t vni, uint16_t port, const struct nvdp_addr *ad)
{
    struct nve *n = a;
    int rc = fwd_local_add(n->fwd, vni, port, ad);

    if (rc == 0 && n->evpn)
        nve_evpn_local(n->evpn, vni, port, ad, 1, 0);
    return rc;
}

static int
sink_del_as(struct nve *n, uint32_t vni, uint16_t port,
            const struct nvdp_addr *ad, int migrating)
{
    int rc = fwd_local_del(n->fwd, vni, port, ad);

    if (n->evpn)
        nve_evpn_local(n->evpn, vni, port, ad, 0, migrating);
    return rc;
}

static int
sink_del(void *a, uint32_t vni, uint16_t port, const struct nvdp_addr *ad)
{
    return sink_del_as(a, vni, port, ad, 0);
}

static int
sink_leave(void *a, uint32_t vni, uint16_t port, const struct nvdp_addr *ad)
{
    return sink_del_as(a, vni, port, ad, 1);
}

static int
sink_active(void *a, uint32_t vni, const uint8_t mac[6], int active)
{
    /* a VNIC down is still here: its routes stay */
    return fwd_local_set_active(((struct nve *)a)->fwd, vni, mac, active);
}

void
nve_sink(struct tree_sink *s, struct nve *n)
{
    s->arg = n;
    s->vn_bind = sink_bind;
    s->vn_unbind = sink_unbind;
    s->local_add = sink_add;
    s->local_del = sink_del;
    s->local_leave = sink_leave;
    s->set_active = sink_active;
}

/* ---- configuration ------------------------------------------------------ */

static const struct nve_port *
old_port_named(const struct nve_conf *c, const char *name)
{
    if (c == NULL)
        return NULL;
    for (unsigned i = 0; i < c->nports; i++)
        if (strcmp(c->ports[i].name, name) == 0)
            return &c->ports[i];
    return NULL;
}

/* Keeps the id of a port that stays (same name and interface) so its tags,
 * peers and forwarder entries survive; new ports take free ids. */
static int
assign_ids(const struct nve_conf *old, struct nve_conf *c)
{
    uint8_t used[TREE_MAX_PORTS] = {0};
    uint16_t next = 0;

    for (unsigned i = 0; i < c->nports; i++) {
        const struct nve_port *o = old_port_named(old, c->ports[i].name);
        c->ports[i].id = UINT16_MAX;
        if (o && strcmp(o->ifname, c->ports[i].ifname) == 0) {
            c->ports[i].id = o->id;
            used[o->id] = 1;
        }
    }
    /* ids of removed ports are not reused in this reload: their state is
     * torn down after the new ports come up */
    for (unsigned i = 0; old && i < old->nports; i++)
        used[old->ports[i].id] = 1;
    for (unsigned i = 0; i < c->nports; i++) {
        if (c->ports[i].id != UINT16_MAX)
            continue;
        while (next < TREE_MAX_PORTS && used[next])
            next++;
        if (next == TREE_MAX_PORTS)
            return -1;
        c->ports[i].id = next;
        used[next] = 1;
    }
    return 0;
}

static int
str_in(char (*list)[64], unsigned n, const char *s)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static const struct nve_remote *
remote_in(const struct nve_vn *v, const struct nve_remote *r)
{
    for (unsigned i = 0; v && i < v->nremote; i++)
        if (memcmp(v->remote[i].mac, r->mac, 6) == 0)
            return &v->remote[i];
    return NULL;
}

/* Flood lists and static remote MACs: only the differences are applied. */
static void
fwd_sync_remote(struct nve *n, const struct nve_conf *old,
                const struct nve_conf *c)
{
    for (unsigned i = 0; old && i < old->nvns; i++) {
        const struct nve_vn *o = &old->vns[i];
        const struct nve_vn *v = nve_conf_vn_by_vni(c, o->vni);
        for (unsigned k = 0; k < o->nflood; k++)
            if (!v || !str_in(v->flood, v->nflood, o->flood[k]))
                fwd_flood_del(n->fwd, o->vni, o->flood[k]);
        for (unsigned k = 0; k < o->nremote; k++) {
            const struct nve_remote *r = remote_in(v, &o->remote[k]);
            if (!r || strcmp(r->vtep, o->remote[k].vtep) != 0)
                fwd_remote_mac_del(n->fwd, o->vni, o->remote[k].mac);
        }
    }
    for (unsigned i = 0; i < c->nvns; i++) {
        const struct nve_vn *v = &c->vns[i];
        const struct nve_vn *o = old ? nve_conf_vn_by_vni(old, v->vni) : NULL;
        for (unsigned k = 0; k < v->nflood; k++)
            if (!o || !str_in(o->flood, o->nflood, v->flood[k]))
                if (fwd_flood_add(n->fwd, v->vni, v->flood[k]) < 0)
                    log_warnx("vn %s: cannot add flood VTEP %s", v->name,
                              v->flood[k]);
        for (unsigned k = 0; k < v->nremote; k++) {
            const struct nve_remote *r = remote_in(o, &v->remote[k]);
            if (!r || strcmp(r->vtep, v->remote[k].vtep) != 0)
                if (fwd_remote_mac_add(n->fwd, v->vni, v->remote[k].mac,
                                       v->remote[k].vtep) < 0)
                    log_warnx("vn %s: cannot add remote MAC", v->name);
        }
    }
}

/* Entries the new configuration no longer allows are withdrawn (WITHDRAW to
 * their hypervisors) while the old configuration still names them. */
static void
withdraw_disallowed(struct nve *n, const struct nve_conf *old,
                    const struct nve_conf *c)
{
    uint64_t now = ev_now(n->loop);

    for (unsigned i = 0; i < old->nvns; i++) {
        const struct nve_vn *o = &old->vns[i];
        if (nve_conf_vn_by_vni(c, o->vni) == NULL) {
            struct tree_filter f = {.port = TREE_ANY_PORT, .vni = o->vni};
            nve_proto_withdraw(n->proto, &f, "VN removed from the NVE", now);
        }
    }
    for (unsigned i = 0; i < c->nports; i++) {
        const struct nve_port *p = &c->ports[i];
        const struct nve_port *o = nve_conf_port_by_id(old, p->id);
        struct tree_hv *h, *nx;
        if (o == NULL)
            continue;
        for (unsigned k = 0; k < old->nvns; k++) {
            uint32_t vni = old->vns[k].vni;
            if (nve_port_allows_vn(o, vni) && !nve_port_allows_vn(p, vni) &&
                nve_conf_vn_by_vni(c, vni)) {
                struct tree_filter f = {.port = p->id, .vni = vni};
                nve_proto_withdraw(n->proto, &f,
                                   "VN no longer allowed on this port", now);
            }
        }
        for (h = n->tree.hvs; h; h = nx) {
            nx = h->next;
            if (h->port == p->id && h->nvnic > 0 &&
                !nve_port_allows_hv(p, h->mac)) {
                uint8_t mac[6]; /* h is freed with its last entry */
                memcpy(mac, h->mac, 6);
                struct tree_filter f = {.port = p->id, .any_vni = 1,
                                        .hv = mac};
                /* the hv record may be freed by this: restart the walk */
                nve_proto_withdraw(n->proto, &f,
                                   "hypervisor no longer authorised", now);
                nx = n->tree.hvs;
            }
        }
    }
}

static int
fwd_params_equal(const struct fwd_params *a, const struct fwd_params *b)
{
    return a->udp_port == b->udp_port && a->sport_min == b->sport_min &&
           a->sport_max == b->sport_max && a->ttl == b->ttl &&
           a->df == b->df && a->mac_age_s == b->mac_age_s &&
           a->fastpath == b->fastpath &&
           strcmp(a->underlay_if, b->underlay_if) == 0 &&
           strcmp(a->local_ip, b->local_ip) == 0;
}

/* The end of a loop turn: the turn's forwarder changes reach the fast
 * path's maps in a few batches rather than a system call each. */
static void
nve_turn_end(void *arg)
{
    fwd_flush(((struct nve *)arg)->fwd);
}

struct police_known {
    const struct nve_proto *proto;
    uint16_t port;
};

/* A MAC taken off a port's list stays known to the filter while the
 * engine knows it: nve_peer_known tells the filter when the engine
 * forgets it, with the new list by then. */
static int
police_engine_knows(void *arg, const uint8_t mac[6])
{
    const struct police_known *k = arg;

    return nve_proto_has_peer(k->proto, k->port, mac);
}

/* Port p's policing, at set-up (attach) and on a reload: its rates, its
 * authentication policy and key ids (spec 14.2), its listed hypervisors,
 * those the old list named and the new one does not. */
static void
police_port(struct nve *n, const struct nve_conf *old,
            const struct nve_conf *c, const struct nve_port *p, int attach)
{
    struct police_known k = {n->proto, p->id};
    const struct l2sock *s = &n->link[p->id].sock;
    const struct nve_port *o = old ? nve_conf_port_by_id(old, p->id) : NULL;
    struct nve_police_conf pc = {
        .rate = p->req_rate, .burst = p->req_burst,
        .demoted = p->req_rate ? c->demoted_rate : 0,
        .auth_required = p->auth == NVDP_AUTH_REQUIRED,
    };

    if (pc.auth_required) {
        pc.nkey_ids = nve_conf_key_ids(c, p, pc.key_id, NVE_POLICE_KEY_IDS);
        if (pc.nkey_ids > NVE_POLICE_KEY_IDS && n->police != NULL)
            log_warnx("port %s: its keys have more than %u ids: the kernel's "
                      "filter checks that frames are signed, not their key "
                      "ids", p->name, NVE_POLICE_KEY_IDS);
    }
    if (nve_police_port(n->police, s, &pc, attach) < 0)
        return;
    nve_police_listed(n->police, s, p->hv, p->nhv, o ? o->hv : NULL,
                      o ? o->nhv : 0, police_engine_knows, &k);
}

static int
nve_first_start(struct nve *n, struct nve_conf *c)
{
    struct tree_sink sink;
    struct tree_limits lim;

    if ((n->fwd = fwd_new(&c->fwd)) == NULL) {
        log_warnx("cannot create the forwarder");
        return -1;
    }
    if (n->loop != NULL) {
        fwd_mirror_defer(n->fwd, 1);
        ev_prepare_set(n->loop, nve_turn_end, n);
    }
    if (c->evpn.enabled &&
        (n->evpn = nve_evpn_new(n->loop, c, n->fwd)) == NULL) {
        log_warnx("evpn: cannot start (see above)");
        return -1;
    }
    nve_sink(&sink, n);
    nve_conf_tree_limits(c, &lim);
    if (tree_init(&n->tree, &sink, &lim) < 0)
        return -1;
    n->proto = nve_proto_new(c, &n->tree, n->epoch, nve_send, n);
    if (n->proto == NULL)
        return -1;
    nve_proto_auth_start(n->proto, nvdp_auth_counter_start());
    if (n->link_ops == NULL) {
        n->police = nve_police_new();
        nve_proto_set_peer_hook(n->proto, nve_peer_known, n);
    }
    if (n->rxbuf == NULL &&
        (n->rxbuf = calloc(NVE_RX_BATCH, sizeof(*n->rxbuf))) == NULL)
        return -1;
    ev_timer_init(&n->timer, nve_timer_cb, n);
    return 0;
}

int
nve_apply_conf(struct nve *n, struct nve_conf *c)
{
    struct nve_conf *old = n->conf;
    uint8_t opened[TREE_MAX_PORTS] = {0};
    uint64_t now = ev_now(n->loop);

    if (assign_ids(old, c) < 0) {
        log_warnx("%s: too many ports", c->path);
        nve_conf_free(c);
        return -1;
    }
    if (old) {
        if (c->ethertype != old->ethertype ||
            memcmp(c->group, old->group, 6) != 0) {
            log_warnx("%s: ethertype and group-mac need a restart: refused",
                      c->path);
            nve_conf_free(c);
            return -1;
        }
        if (!fwd_params_equal(&c->fwd, &old->fwd))
            log_warnx("%s: underlay changes take effect at the next "
                      "restart", c->path);
        c->fwd = old->fwd;
        if (c->evpn.enabled != old->evpn.enabled ||
            c->evpn.shadow_port != old->evpn.shadow_port) {
            log_warnx("%s: evpn on/off and its shadow-udp-port take effect "
                      "at the next restart", c->path);
            c->evpn = old->evpn;
        }
        if (strcmp(c->ctl_path, old->ctl_path) != 0 ||
            ctl_conf_differs(&c->ctl, &old->ctl))
            log_warnx("%s: control-socket and control-* changes take effect "
                      "at the next restart", c->path);
        c->ctl = old->ctl;
    } else if (nve_first_start(n, c) < 0) {
        nve_conf_free(c);
        return -1;
    }

    /* 1. sockets of new ports: any failure refuses the whole config */
    n->conf_next = c;
    for (unsigned i = 0; i < c->nports; i++) {
        const struct nve_port *p = &c->ports[i];
        if (n->link[p->id].open)
            continue;
        if (nve_link_open(n, p) < 0) {
            log_warnx("%s:%d: port \"%s\": cannot open interface %s%s",
                      c->path, p->line, p->name, p->ifname,
                      old ? ": configuration refused" : "");
            for (unsigned k = 0; k < TREE_MAX_PORTS; k++)
                if (opened[k])
                    nve_link_close(n, (uint16_t)k);
            n->conf_next = NULL;
            nve_conf_free(c);
            return -1;
        }
        opened[p->id] = 1;
    }
    n->conf_next = NULL;

    /* 2. withdraw what is no longer allowed, remove ports that went */
    if (old) {
        withdraw_disallowed(n, old, c);
        for (unsigned i = 0; i < old->nports; i++) {
            const struct nve_port *o = &old->ports[i];
            int kept = 0;
            for (unsigned k = 0; k < c->nports; k++)
                kept |= c->ports[k].id == o->id;
            if (kept)
                continue;
            log_info("port %s (%s) removed", o->name, o->ifname);
            nve_proto_port_down(n->proto, o->id);
            tree_port_del(&n->tree, o->id);
            fwd_port_del(n->fwd, o->id);
            nve_link_close(n, o->id);
        }
    }

    /* 3. the new configuration */
    nve_conf_tree_limits(c, &n->tree.lim);
    nve_proto_set_conf(n->proto, c);
    for (unsigned i = 0; i < c->nports; i++) {
        const struct nve_port *p = &c->ports[i];
        nve_conf_tree_port(p, &n->tree);
        if (n->link_ops == NULL && n->link[p->id].open)
            police_port(n, old, c, p, opened[p->id]);
        if (opened[p->id]) {
            if (fwd_port_add(n->fwd, p->id, p->ifname) < 0)
                log_warnx("port %s: forwarder refused interface %s", p->name,
                          p->ifname);
            nve_proto_port_up(n->proto, p->id, p->name, n->link[p->id].sock.mac,
                              n->link[p->id].sock.mtu, now);
            log_info("port %s (%s) up, mtu %u", p->name, p->ifname,
                     n->link[p->id].sock.mtu);
        }
    }
    fwd_sync_remote(n, old, c);
    if (n->evpn)
        nve_evpn_apply_conf(n->evpn, old, c);
    n->conf = c;
    nve_conf_free(old);
    nve_kick(n);
    return 0;
}

int
nve_reload(struct nve *n)
{
    struct nve_conf *c = nve_conf_load(n->conf_path);

    n->reloads++;
    if (c == NULL) {
        n->reload_failures++;
        log_warnx("reload of %s refused: the running configuration is kept",
                  n->conf_path);
        return -1;
    }
    if (nve_apply_conf(n, c) < 0) {
        n->reload_failures++;
        return -1;
    }
    log_info("configuration %s reloaded: %u ports, %u VNs", n->conf_path,
             n->conf->nports, n->conf->nvns);
    return 0;
}

void
nve_shutdown(struct nve *n)
{
    if (n->ctl) {
        ctl_server_free(n->ctl);
        n->ctl = NULL;
    }
    if (n->fwd)
        fwd_stop(n->fwd);
    for (unsigned i = 0; i < TREE_MAX_PORTS; i++)
        nve_link_close(n, (uint16_t)i);
    if (n->loop)
        ev_timer_stop(n->loop, &n->timer);
    nve_proto_free(n->proto);
    n->proto = NULL;
    nve_police_free(n->police);
    n->police = NULL;
    tree_free(&n->tree);
    nve_evpn_free(n->evpn); /* FRR withdraws our routes with the devices */
    n->evpn = NULL;
    if (n->fwd)
        fwd_free(n->fwd);
    n->fwd = NULL;
    nve_conf_free(n->conf);
    n->conf = NULL;
    free(n->rxbuf);
    n->rxbuf = NULL;
}
