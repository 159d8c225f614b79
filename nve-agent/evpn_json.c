/* evpn_json.c - what `nvdpctl evpn` shows: per VN the entries we advertise
 * through FRR and those it taught the forwarder, FRR's state, counters. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "evpn_int.h"

static struct json_object *
u64j(uint64_t v)
{
    return json_object_new_int64((int64_t)v);
}

static struct json_object *
ipj(uint8_t fam, const uint8_t *ip)
{
    char buf[INET6_ADDRSTRLEN];

    if (inet_ntop(fam == 4 ? AF_INET : AF_INET6, ip, buf, sizeof(buf)) ==
        NULL)
        snprintf(buf, sizeof(buf), "?");
    return json_object_new_string(buf);
}

static struct json_object *
macj(const uint8_t mac[6])
{
    char buf[18];

    nvdp_mac_fmt(mac, buf);
    return json_object_new_string(buf);
}

static int64_t
left(uint64_t until, uint64_t now)
{
    return until > now ? (int64_t)(until - now) : 0;
}

static struct json_object *
local_json(const struct evpn_mac *m, uint64_t now)
{
    struct json_object *o = json_object_new_object();
    struct json_object *ips = json_object_new_array();

    json_object_object_add(o, "mac", macj(m->mac));
    json_object_object_add(o, "state",
                           json_object_new_string(evpn_lstate_str(m->lst)));
    json_object_object_add(o, "ports", json_object_new_int(m->nports));
    if (m->lst == EVPN_L_HELD)
        json_object_object_add(o, "hold_ms",
                               json_object_new_int64(left(m->hold.at, now)));
    for (const struct evpn_ip *i = m->ips; i; i = i->mnext)
        if (i->lwritten)
            json_object_array_add(ips, ipj(i->family, i->ip));
    json_object_object_add(o, "ips", ips);
    return o;
}

static struct json_object *
remote_json(const struct evpn_mac *m, uint64_t now)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "mac", macj(m->mac));
    if (m->fprog)
        json_object_object_add(o, "vtep", ipj(m->ffam, m->fvtep));
    else if (m->kself)
        json_object_object_add(o, "vtep", ipj(m->kfam, m->kvtep));
    /* programmed: in the forwarder; else waiting (settling, or still
     * associated here) */
    json_object_object_add(o, "programmed", json_object_new_boolean(m->fprog));
    json_object_object_add(o, "moved", json_object_new_boolean(m->fmoved));
    json_object_object_add(o, "stale", json_object_new_boolean(m->stale));
    json_object_object_add(o, "moves", json_object_new_int64(m->moves));
    /* when the forwarder last changed for it: CLOCK_MONOTONIC ms (the
     * bench compares it with the kernel's events) */
    if (m->changed)
        json_object_object_add(o, "changed_ms",
                               json_object_new_int64((int64_t)m->changed));
    return o;
}

static struct json_object *
vn_json(const struct evpn *e, const struct evpn_vn *v, uint64_t now)
{
    struct json_object *o = json_object_new_object();
    struct json_object *dev = json_object_new_object();
    struct json_object *loc = json_object_new_array();
    struct json_object *rem = json_object_new_array();
    struct json_object *fl = json_object_new_array();
    struct json_object *rip = json_object_new_array();
    char nm[16];

    json_object_object_add(o, "vni", json_object_new_int64(v->vni));
    json_object_object_add(o, "state",
                           json_object_new_string(v->ok ? "up" : "failed"));
    if (!v->ok)
        json_object_object_add(o, "error", json_object_new_string(v->error));
    evpn_ifname(nm, EVPN_IF_BRIDGE, v->vni);
    json_object_object_add(dev, "bridge", json_object_new_string(nm));
    evpn_ifname(nm, EVPN_IF_VXLAN, v->vni);
    json_object_object_add(dev, "vxlan", json_object_new_string(nm));
    evpn_ifname(nm, EVPN_IF_PORT, v->vni);
    json_object_object_add(dev, "port", json_object_new_string(nm));
    json_object_object_add(o, "devices", dev);
    for (uint32_t b = 0; b < (1u << e->mbits); b++)
        for (const struct evpn_mac *m = e->mtab[b]; m; m = m->next) {
            if (m->vn != v)
                continue;
            if (m->lst != EVPN_L_NONE || m->nports)
                json_object_array_add(loc, local_json(m, now));
            if (m->fprog || (m->kbr == EVPN_K_VXLAN && m->kself))
                json_object_array_add(rem, remote_json(m, now));
        }
    /* the MAC+IPs zebra installed (the forwarder's ARP/ND proxy) */
    for (uint32_t b = 0; b < (1u << e->ibits); b++)
        for (const struct evpn_ip *i = e->itab[b]; i; i = i->next)
            if (i->vn == v && i->kremote) {
                struct json_object *r = json_object_new_object();
                json_object_object_add(r, "ip", ipj(i->family, i->ip));
                json_object_object_add(r, "mac", macj(i->krmac));
                json_object_object_add(r, "stale",
                                       json_object_new_boolean(i->stale));
                json_object_array_add(rip, r);
            }
    for (unsigned k = 0; k < v->nflood; k++) {
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "vtep", ipj(v->flood[k].family,
                                              v->flood[k].ip));
        json_object_object_add(f, "programmed",
                               json_object_new_boolean(v->flood[k].fprog));
        json_object_object_add(f, "stale",
                               json_object_new_boolean(v->flood[k].stale));
        json_object_array_add(fl, f);
    }
    json_object_object_add(o, "local", loc);
    json_object_object_add(o, "remote", rem);
    json_object_object_add(o, "remote_ips", rip);
    json_object_object_add(o, "flood", fl);
    return o;
}

struct json_object *
evpn_json(const struct evpn *e, uint64_t now)
{
    struct json_object *o = json_object_new_object();
    struct json_object *frr = json_object_new_object();
    struct json_object *vns = json_object_new_array();
    char vtep[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, e->p.vtep, vtep, sizeof(vtep));
    json_object_object_add(o, "vtep", json_object_new_string(vtep));
    json_object_object_add(o, "shadow_udp_port",
                           json_object_new_int(e->p.shadow_port));
    json_object_object_add(frr, "state",
                           json_object_new_string(evpn_frr_state_str(e->frr)));
    json_object_object_add(frr, "zebra_pid",
                           json_object_new_int64((int64_t)(e->inst >> 32)));
    json_object_object_add(frr, "bgpd_pid",
                           json_object_new_int64((int64_t)(e->inst & 0xffffffff)));
    json_object_object_add(frr, "since_ms",
                           json_object_new_int64(left(now, e->frr_since)));
    if (e->frr == EVPN_FRR_OUTAGE || e->frr == EVPN_FRR_RECONCILE)
        json_object_object_add(frr, "stale_kept_ms",
                               json_object_new_int64(left(e->outage_end, now)));
    json_object_object_add(o, "frr", frr);
    for (const struct evpn_vn *v = e->vns; v; v = v->next)
        json_object_array_add(vns, vn_json(e, v, now));
    json_object_object_add(o, "vns", vns);
    json_object_object_add(o, "counters", evpn_counters_json(e));
    return o;
}

struct json_object *
evpn_counters_json(const struct evpn *e)
{
    const struct evpn_counters *c = &e->c;
    struct json_object *o = json_object_new_object();
#define C(name) json_object_object_add(o, #name, u64j(c->name))
    C(mirrored);
    C(unmirrored);
    C(learned);
    C(withdrawn);
    C(ips_learned);
    C(ips_withdrawn);
    C(flood_added);
    C(flood_removed);
    C(taken);
    C(reclaimed);
    C(moves);
    C(held);
    C(hold_expired);
    C(snooped);
    C(snoop_ignored);
    C(rewritten);
    C(frr_outages);
    C(stale_kept);
    C(stale_removed);
    C(kernel_ignored);
    C(kernel_errors);
    C(fwd_errors);
    C(resyncs);
    C(vn_failures);
#undef C
    /* gauges: what is in the kernel and the forwarder now */
    uint64_t local = 0, remote = 0;
    for (uint32_t b = 0; b < (1u << e->mbits); b++)
        for (const struct evpn_mac *m = e->mtab[b]; m; m = m->next) {
            local += m->lst == EVPN_L_ADV || m->lst == EVPN_L_HELD;
            remote += m->fprog;
        }
    json_object_object_add(o, "local_macs", u64j(local));
    json_object_object_add(o, "remote_macs", u64j(remote));
    return o;
}
