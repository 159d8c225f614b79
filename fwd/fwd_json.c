/* fwd_json.c - the forwarder's JSON views for the control socket: its
 * tables (fwd_dump_json) and counters (fwd_counters_json), and the names
 * of the drop reasons. Read under wlock; no table is changed here. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>

#include "fwd_int.h"
#include "fwd_xdp.h"

static const char *const drop_names[FWD_DROP_MAX] = {
    [FWD_DROP_NONE] = "none",
    [FWD_DROP_RUNT] = "runt",
    [FWD_DROP_UNTAGGED] = "untagged",
    [FWD_DROP_UNKNOWN_TAG] = "unknown-tag",
    [FWD_DROP_BAD_SRC] = "bad-src-mac",
    [FWD_DROP_SRC_NOT_ASSOC] = "src-not-associated",
    [FWD_DROP_VNIC_DOWN] = "vnic-down",
    [FWD_DROP_SAME_PORT] = "same-port",
    [FWD_DROP_MTU] = "mtu-exceeded",
    [FWD_DROP_NO_NEIGH] = "no-neighbour",
    [FWD_DROP_VX_SHORT] = "vxlan-short",
    [FWD_DROP_VX_MALFORMED] = "vxlan-malformed",
    [FWD_DROP_UNKNOWN_VNI] = "unknown-vni",
    [FWD_DROP_VX_TO_REMOTE] = "vxlan-to-remote",
    [FWD_DROP_TX_FAIL] = "tx-failed",
};

const char *
fwd_drop_name(int reason)
{
    if (reason < 0 || reason >= FWD_DROP_MAX)
        return "?";
    return drop_names[reason];
}

static struct json_object *
u64j(uint64_t v)
{
    return json_object_new_int64((int64_t)v);
}

static void
ip_json(void *ips, const struct nvdp_addr *a)
{
    char buf[96];
    nvdp_addr_fmt_ip(a, buf, sizeof(buf));
    json_object_array_add(ips, json_object_new_string(buf));
}

static struct json_object *
mac_json(const struct fwd *f, uint32_t h, uint32_t now)
{
    static const char *const types[] = {"?", "local", "remote", "learned"};
    uint64_t k = f->macs[h].key, v = f->macs[h].val;
    uint8_t mac[6];
    char ms[NVDP_MAC_STRLEN];
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(k >> (40 - 8 * i));
    nvdp_mac_fmt(mac, ms);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mac", json_object_new_string(ms));
    json_object_object_add(o, "type", json_object_new_string(types[FWD_MV_TYPE(v)]));
    if (FWD_MV_TYPE(v) == FWD_MAC_LOCAL) {
        uint16_t p = FWD_MV_PORT(v);
        json_object_object_add(o, "port", json_object_new_int(p));
        json_object_object_add(o, "ifname", json_object_new_string(f->ports[p].ifname));
        json_object_object_add(o, "active", json_object_new_boolean(FWD_MV_ACTIVE(v)));
        struct json_object *ips = json_object_new_array();
        fwd_ip_foreach(f, h, ip_json, ips);
        json_object_object_add(o, "ips", ips);
    } else {
        uint16_t r = FWD_MV_REMOTE(v);
        /* "*": leaving, its new place not known yet (the flood list) */
        json_object_object_add(o, "remote", json_object_new_string(
            r < FWD_MAX_REMOTES ? f->remotes[r].ipstr
            : r == FWD_NO_REMOTE ? "*" : "?"));
        uint32_t seen = __atomic_load_n(&f->mac_seen[h], __ATOMIC_RELAXED);
        if (FWD_MV_TYPE(v) == FWD_MAC_LEARNED)
            json_object_object_add(o, "age_s", json_object_new_int64(
                now - seen));
        /* moved: in-flight frames still follow it for hold_s */
        if (FWD_MV_MOVED(v) && seen > now) {
            json_object_object_add(o, "moved", json_object_new_boolean(1));
            json_object_object_add(o, "hold_s",
                                   json_object_new_int64(seen - now));
        }
    }
    return o;
}

static struct json_object *
underlay_json(struct fwd *f)
{
    struct json_object *u = json_object_new_object();
    unsigned hl = f->local_family == 6 ? 70 : 50;
    json_object_object_add(u, "interface", json_object_new_string(f->p.underlay_if));
    json_object_object_add(u, "local_ip", json_object_new_string(f->p.local_ip));
    json_object_object_add(u, "udp_port", json_object_new_int(f->p.udp_port));
    json_object_object_add(u, "sport_min", json_object_new_int(f->p.sport_min));
    json_object_object_add(u, "sport_max", json_object_new_int(f->p.sport_max));
    json_object_object_add(u, "ttl", json_object_new_int(f->p.ttl));
    json_object_object_add(u, "df", json_object_new_boolean(f->p.df));
    json_object_object_add(u, "mac_age_s", json_object_new_int64(f->p.mac_age_s));
    json_object_object_add(u, "mtu", json_object_new_int(f->underlay_mtu));
    /* the largest inner frame (without tag) that fits after encapsulation */
    json_object_object_add(u, "max_inner_frame", json_object_new_int(
        f->underlay_mtu > hl - 14 ? (int)(f->underlay_mtu - (hl - 14)) : 0));
    json_object_object_add(u, "encap_overhead", json_object_new_int(hl));
    return u;
}

/* The start of a used port's object in either view: {port, ...}. */
static struct json_object *
port_obj(int p)
{
    struct json_object *po = json_object_new_object();
    json_object_object_add(po, "port", json_object_new_int(p));
    return po;
}

static struct json_object *
port_json(const struct fwd *f, int p)
{
    const struct fwd_port *pt = &f->ports[p];
    struct json_object *po = port_obj(p), *b = json_object_new_array();
    json_object_object_add(po, "ifname", json_object_new_string(pt->ifname));
    for (int t = 0; t < 4096; t++) {
        if (pt->tag2vn[t] == 0)
            continue;
        struct json_object *bo = json_object_new_object();
        json_object_object_add(bo, "tag", json_object_new_int(t));
        json_object_object_add(bo, "vni", json_object_new_int64(
            f->vns[pt->tag2vn[t] - 1].vni));
        json_object_array_add(b, bo);
    }
    json_object_object_add(po, "bindings", b);
    return po;
}

static void
nd_json(void *arr, uint8_t family, const uint8_t *ip, const uint8_t mac[6])
{
    struct json_object *o = json_object_new_object();
    char is[INET6_ADDRSTRLEN], ms[18];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, ip, is, sizeof(is));
    nvdp_mac_fmt(mac, ms);
    json_object_object_add(o, "ip", json_object_new_string(is));
    json_object_object_add(o, "mac", json_object_new_string(ms));
    json_object_array_add(arr, o);
}

/* A VN with its members, flood list and remote MAC+IPs; its MACs are added
 * by the caller. */
static struct json_object *
vn_json(const struct fwd *f, const struct fwd_vn *v)
{
    struct json_object *vo = json_object_new_object();
    json_object_object_add(vo, "vni", json_object_new_int64(v->vni));
    struct json_object *mem = json_object_new_array();
    for (int m = 0; m < v->nmembers; m++) {
        struct json_object *mo = json_object_new_object();
        json_object_object_add(mo, "port", json_object_new_int(v->members[m].port));
        json_object_object_add(mo, "ifname", json_object_new_string(
            f->ports[v->members[m].port].ifname));
        json_object_object_add(mo, "tag", json_object_new_int(v->members[m].tag));
        json_object_array_add(mem, mo);
    }
    json_object_object_add(vo, "members", mem);
    struct json_object *fl = json_object_new_array();
    for (int m = 0; m < v->nflood; m++)
        json_object_array_add(fl, json_object_new_string(v->flood_ip[m]));
    json_object_object_add(vo, "flood", fl);
    json_object_object_add(vo, "macs", json_object_new_array());
    struct json_object *ips = json_object_new_array();
    fwd_nd_foreach(f, (uint16_t)(v - f->vns), nd_json, ips);
    json_object_object_add(vo, "remote_ips", ips);
    return vo;
}

static struct json_object *
remote_json(struct fwd *f, const struct fwd_remote *rm)
{
    struct json_object *ro = json_object_new_object();
    json_object_object_add(ro, "ip", json_object_new_string(rm->ipstr));
    json_object_object_add(ro, "resolved", json_object_new_boolean(rm->resolved));
    if (rm->resolved) {
        char ms[NVDP_MAC_STRLEN];
        nvdp_mac_fmt(rm->hdr, ms);
        json_object_object_add(ro, "nexthop_mac", json_object_new_string(ms));
    }
    json_object_object_add(ro, "refs", json_object_new_int64(rm->refs));
    json_object_object_add(ro, "tx_pkts", u64j(fwd_ctr_get(&rm->tx_pkts) +
        fwd_xdp_remote_tx(f, (uint16_t)(rm - f->remotes))));
    return ro;
}

struct json_object *
fwd_dump_json(struct fwd *f)
{
    pthread_mutex_lock(&f->wlock);
    uint32_t now = fwd_now_s();
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "running", json_object_new_boolean(f->dp != NULL));
    json_object_object_add(o, "underlay", underlay_json(f));
    struct json_object *ports = json_object_new_array();
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        if (f->ports[p].used)
            json_object_array_add(ports, port_json(f, p));
    json_object_object_add(o, "ports", ports);
    struct json_object *vns = json_object_new_array();
    for (int i = 0; i < f->nvns; i++)
        json_object_array_add(vns, vn_json(f, &f->vns[i]));
    for (uint32_t h = fwd_mac_next(f, 0); h < FWD_MAC_CAP;
         h = fwd_mac_next(f, h + 1)) {
        uint64_t k = f->macs[h].key;
        struct json_object *vo = json_object_array_get_idx(vns, (k >> 48) - 1);
        struct json_object *macs;
        if (vo != NULL && json_object_object_get_ex(vo, "macs", &macs))
            json_object_array_add(macs, mac_json(f, h, now));
    }
    json_object_object_add(o, "vns", vns);
    struct json_object *rems = json_object_new_array();
    for (int r = 0; r < FWD_MAX_REMOTES; r++)
        if (f->remotes[r].used)
            json_object_array_add(rems, remote_json(f, &f->remotes[r]));
    json_object_object_add(o, "remotes", rems);
    json_object_object_add(o, "mac_entries", json_object_new_int64(f->nmacs));
    json_object_object_add(o, "mac_capacity", json_object_new_int64(FWD_MAC_LIMIT));
    json_object_object_add(o, "fastpath", fwd_xdp_state_json(f));
    pthread_mutex_unlock(&f->wlock);
    return o;
}

/* ---- counters: one row per counter, in the order they are shown --------- */

struct ctr_row {
    const char *name;
    size_t off; /* of a uint64_t counter in its struct */
};
#define CTR(type, m) {#m, offsetof(type, m)}
static const struct ctr_row port_ctrs[] = {
    CTR(struct fwd_port_ctr, rx_pkts), CTR(struct fwd_port_ctr, rx_bytes),
    CTR(struct fwd_port_ctr, tx_pkts), CTR(struct fwd_port_ctr, tx_bytes),
    CTR(struct fwd_port_ctr, drops),
};
static const struct ctr_row vn_ctrs[] = {
    CTR(struct fwd_vn_ctr, encap_pkts), CTR(struct fwd_vn_ctr, encap_bytes),
    CTR(struct fwd_vn_ctr, decap_pkts), CTR(struct fwd_vn_ctr, decap_bytes),
    CTR(struct fwd_vn_ctr, local_pkts), CTR(struct fwd_vn_ctr, flood_pkts),
    CTR(struct fwd_vn_ctr, drops),
};
static const struct ctr_row und_ctrs[] = {
    {"rx_pkts", offsetof(struct fwd, und_rx_pkts)},
    {"rx_bytes", offsetof(struct fwd, und_rx_bytes)},
    {"tx_pkts", offsetof(struct fwd, und_tx_pkts)},
    {"tx_bytes", offsetof(struct fwd, und_tx_bytes)},
};
#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

/* base's counters plus the fast path's (xdp: the same struct, or NULL) */
static struct json_object *
ctrs_add(struct json_object *o, const void *base, const void *xdp,
         const struct ctr_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = fwd_ctr_get((const uint64_t *)((const char *)base +
                                                    rows[i].off));
        if (xdp != NULL)
            v += *(const uint64_t *)((const char *)xdp + rows[i].off);
        json_object_object_add(o, rows[i].name, u64j(v));
    }
    return o;
}

struct json_object *
fwd_counters_json(struct fwd *f)
{
    pthread_mutex_lock(&f->wlock);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "running", json_object_new_boolean(f->dp != NULL));
    struct json_object *ports = json_object_new_object();
    for (int p = 0; p < FWD_MAX_PORTS; p++) {
        if (!f->ports[p].used)
            continue;
        struct fwd_port_ctr x = {0};
        fwd_xdp_port_ctrs(f, (uint16_t)p, &x);
        json_object_object_add(ports, f->ports[p].ifname, ctrs_add(
            port_obj(p), &f->ports[p].c, &x, port_ctrs, NROWS(port_ctrs)));
    }
    json_object_object_add(o, "ports", ports);
    struct json_object *vns = json_object_new_object();
    for (int i = 0; i < f->nvns; i++) {
        char k[16];
        struct fwd_vn_ctr x = {0};
        fwd_xdp_vn_ctrs(f, (uint16_t)i, &x);
        snprintf(k, sizeof(k), "%u", f->vns[i].vni);
        json_object_object_add(vns, k, ctrs_add(json_object_new_object(),
            &f->vns[i].c, &x, vn_ctrs, NROWS(vn_ctrs)));
    }
    json_object_object_add(o, "vns", vns);
    /* the fast path's drops and underlay counters, same names */
    uint64_t xd[FWD_DROP_MAX] = {0}, xu[4] = {0};
    fwd_xdp_glob(f, xd, xu);
    struct json_object *d = json_object_new_object();
    for (int r = 1; r < FWD_DROP_MAX; r++)
        json_object_object_add(d, fwd_drop_name(r),
                               u64j(fwd_ctr_get(&f->drops[r]) + xd[r]));
    json_object_object_add(o, "drops", d);
    struct json_object *u = json_object_new_object();
    for (size_t i = 0; i < NROWS(und_ctrs); i++)
        json_object_object_add(u, und_ctrs[i].name, u64j(fwd_ctr_get(
            (const uint64_t *)((const char *)f + und_ctrs[i].off)) + xu[i]));
    json_object_object_add(u, "mtu", json_object_new_int(f->underlay_mtu));
    json_object_object_add(o, "underlay", u);
    struct json_object *l = json_object_new_object();
    json_object_object_add(l, "learned", u64j(f->learned));
    json_object_object_add(l, "aged", u64j(f->aged));
    json_object_object_add(l, "learned_entries", u64j(f->nlearned));
    json_object_object_add(l, "learn_refused", u64j(f->learn_refused));
    json_object_object_add(l, "ring_overflow", u64j(fwd_ctr_get(&f->learn_overflow)));
    json_object_object_add(l, "tx_batches", u64j(fwd_ctr_get(&f->tx_batches)));
    json_object_object_add(l, "mobility_tunnelled",
                           u64j(fwd_ctr_get(&f->mobility_tunnelled)));
    json_object_object_add(l, "arp_proxied", u64j(fwd_ctr_get(&f->arp_proxied)));
    json_object_object_add(l, "nd_proxied", u64j(fwd_ctr_get(&f->nd_proxied)));
    json_object_object_add(l, "snooped", u64j(fwd_ctr_get(&f->snooped)));
    json_object_object_add(l, "snoop_overflow",
                           u64j(fwd_ctr_get(&f->snoop_overflow)));
    json_object_object_add(o, "forwarder", l);
    json_object_object_add(o, "fastpath", fwd_xdp_ctrs_json(f));
    pthread_mutex_unlock(&f->wlock);
    return o;
}
