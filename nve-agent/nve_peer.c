/* nve_peer.c - the hypervisors the NVE hears, per (port, MAC): creation,
 * restart (epoch change), HELLO, hold expiry, the "no state" HELLO until
 * they resync (spec 11.4), the peers view. */
#include <stdlib.h>
#include <string.h>

#include "nve_proto_int.h"

/* ---- peers -------------------------------------------------------------- */

struct nve_peer *
nve_peer_find(const struct nve_proto *p, uint16_t port, const uint8_t mac[6])
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

struct nve_peer *
nve_peer_new(struct nve_proto *p, uint16_t port, const uint8_t mac[6],
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

void
nve_peer_free(struct nve_proto *p, struct nve_peer *e)
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
    nve_wq_clear(e);
    free(e);
}

uint64_t
nve_peer_hold_ms(const struct nve_proto *p, const struct nve_peer *e)
{
    uint32_t s = p->conf->hold_s;

    if (e->have_hello && e->hello.hold_time < s)
        s = e->hello.hold_time;
    return (uint64_t)s * 1000;
}

/* The hypervisor restarted: its txids start again and it will resync; our
 * entries stay (forwarding continues) until its RESYNC END sweeps them. */
void
nve_peer_restarted(struct nve_proto *p, struct nve_peer *e, uint32_t epoch)
{
    char ms[18];

    if (log_rl_allow(&p->rl_peer, p->now))
        log_info("peer %s on %s restarted (epoch %08x -> %08x)",
                 nve_peer_str(e, NULL, ms), p->port[e->port].name, e->epoch,
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
    nve_wq_clear(e);
}

void
nve_peer_hello(struct nve_proto *p, struct nve_peer *e, const struct nvdp_msg *m)
{
    char ms[18];

    if (m->hello.role != NVDP_ROLE_HV) {
        COUNT(p, e, e->port, bad_direction);
        return;
    }
    if (!e->have_hello || strcmp(e->hello.name, m->hello.name) != 0)
        log_info("peer %s on %s is \"%s\" (hold %us, window %u)",
                 nve_peer_str(e, NULL, ms), p->port[e->port].name, m->hello.name,
                 m->hello.hold_time, m->hello.window);
    e->hello = m->hello;
    e->have_hello = 1;
    if (e->tx_ready)
        rel_tx_set_window(&e->tx, m->hello.window);
}

/* A hypervisor we hear but hold no session for is told so every hello
 * interval until it resyncs (spec 11.4): the first such HELLO may be lost,
 * and an idle hypervisor would never learn that we lost its state. */
void
nve_peer_nostate(struct nve_proto *p, struct nve_peer *e, uint64_t now)
{
    struct nve_out *o;
    struct nvdp_msg h;

    if (e->synced || now < e->next_nostate)
        return;
    e->next_nostate = now + p->conf->hello_ms;
    if ((o = malloc(sizeof(*o))) == NULL)
        return;
    nve_out_init(o, p, e, e->port, e->mac); /* peer_epoch 0: not synced */
    nve_hello_msg(p, &h);
    nve_out_add(o, &h);
    nve_out_flush(o);
    free(o);
}

void
nve_peer_expire(struct nve_proto *p, struct nve_peer *e)
{
    char ms[18];
    unsigned n = tree_hv_release(p->tree, e->port, e->mac);

    COUNT(p, e, e->port, peers_expired);
    log_info("peer %s on %s down: not heard for %llu ms, %u entries released",
             nve_peer_str(e, NULL, ms), p->port[e->port].name,
             (unsigned long long)nve_peer_hold_ms(p, e), n);
    nve_peer_free(p, e);
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
                               json_object_new_string(nve_peer_str(e, NULL, ms)));
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
        nve_jset_u64(o, "last_heard_ms", now - e->last_heard);
        nve_jset_u64(o, "hold_ms", nve_peer_hold_ms(p, e));
        nve_jset_u64(o, "up_ms", now - e->up_since);
        nve_jset_u64(o, "window", e->have_hello ? e->hello.window : 0);
        nve_jset_u64(o, "vnics", h ? h->nvnic : 0);
        nve_jset_u64(o, "withdraws_outstanding",
                 (e->tx_ready ? e->tx.outstanding : 0) + e->wq_len);
        json_object_array_add(a, o);
    }
    return a;
}
