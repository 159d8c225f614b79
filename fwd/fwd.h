/* fwd.h - the forwarder library's one public header (fwd/libfwd.a): the
 * narrow API through which nve-agent's control plane programs the
 * encapsulating forwarder: (port, tag) <-> VN/VNI, MAC/IP entries per VN,
 * remote VTEPs; its JSON views; starting and stopping its threads. The
 * rest of fwd/ is internal (fwd_int.h). */
#ifndef FWD_H
#define FWD_H

#include <json-c/json.h>
#include <stdint.h>
#include "nvdp.h"

#define FWD_MAX_PORTS 256

struct fwd;

struct fwd_params {
    uint16_t udp_port;     /* VXLAN destination port, default 4789 */
    uint16_t sport_min, sport_max; /* UDP source port range (49152-65535) */
    uint8_t ttl;           /* outer IPv4 TTL / IPv6 hop limit, default 64 */
    uint8_t df;            /* set DF on outer IPv4 */
    uint32_t mac_age_s;    /* age of learned remote MACs, default 300 */
    char underlay_if[16];  /* "" = no packet path (tables only) */
    char local_ip[64];     /* underlay source address, v4 or v6 */
    uint16_t nvdp_ethertype; /* NVDP frames the access sockets ignore (0 = 0x88B5) */
    uint8_t fastpath;      /* 1: the XDP fast path where the kernel allows */
};

struct fwd *fwd_new(const struct fwd_params *p);
void fwd_free(struct fwd *f);

/* Access ports: port_id is the nve-agent's port index. */
int fwd_port_add(struct fwd *f, uint16_t port_id, const char *ifname);
int fwd_port_del(struct fwd *f, uint16_t port_id);

/* (port, tag) -> VNI. A VN is known to the forwarder by its VNI. */
int fwd_vn_bind(struct fwd *f, uint16_t port_id, uint16_t tag, uint32_t vni);
int fwd_vn_unbind(struct fwd *f, uint16_t port_id, uint16_t tag);

/* Local (associated) addresses: MAC in VN behind (port, tag). An address
 * with family 0 is a MAC entry; others are IP entries under that MAC. */
int fwd_local_add(struct fwd *f, uint32_t vni, uint16_t port_id,
                  const struct nvdp_addr *a);
int fwd_local_del(struct fwd *f, uint32_t vni, uint16_t port_id,
                  const struct nvdp_addr *a);
/* VNIC down (shutdown/startup without disassociation): stop delivering. */
int fwd_local_set_active(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                         int active);

/* Remote side: static MAC -> remote VTEP, and the flood list of a VN.
 * ip is a textual IPv4 or IPv6 address. */
int fwd_remote_mac_add(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                       const char *ip);
int fwd_remote_mac_del(struct fwd *f, uint32_t vni, const uint8_t mac[6]);
int fwd_flood_add(struct fwd *f, uint32_t vni, const char *ip);
int fwd_flood_del(struct fwd *f, uint32_t vni, const char *ip);

/* EVPN (RFC 7432 15, seed 004 4.1): a MAC that moved from this NVE to VTEP
 * ip. As fwd_remote_mac_add; in addition, for hold_ms, frames for it that
 * still arrive from the underlay (sent by VTEPs that have not converged
 * yet) are re-encapsulated to ip instead of dropped (counted
 * mobility_tunnelled), unless they came from ip. A later
 * fwd_remote_mac_add of the MAC keeps the hold. */
int fwd_remote_mac_moved(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                         const char *ip, uint32_t hold_ms);
/* A MAC that left this NVE for a place not known yet (a VNIC disassociated
 * to migrate): for hold_ms, or until its new VTEP is given, frames for it
 * that arrive from the underlay are replicated to the VN's flood list
 * (never back to their source), so that the NVE where the VM already runs
 * gets them before the others converge (counted mobility_tunnelled); local
 * senders flood it as unknown unicast. Refused (EEXIST) while a local or
 * remote entry exists. Removed with fwd_remote_mac_del. */
int fwd_remote_mac_leaving(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                           uint32_t hold_ms);
/* EVPN MAC+IP (type 2): the forwarder answers local VNICs' ARP requests and
 * neighbour solicitations for ip (family 4 or 6) with mac itself instead of
 * flooding them (ARP/ND proxy, RFC 7432 10; counted arp_proxied /
 * nd_proxied). */
int fwd_remote_ip_add(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                      int family, const uint8_t ip[16]);
int fwd_remote_ip_del(struct fwd *f, uint32_t vni, int family,
                      const uint8_t ip[16]);

/* Gratuitous ARPs and unsolicited neighbour advertisements that local
 * VNICs sent (a VM announcing itself after a move), for the control plane:
 * fwd_snoop_fd is an eventfd, readable when some are queued (queued only
 * once it was asked for), fwd_snoop_read takes up to max. */
struct fwd_snoop {
    uint32_t vni;
    uint8_t mac[6];
    uint8_t family; /* 4 or 6 */
    uint8_t ip[16];
};
int fwd_snoop_fd(struct fwd *f);
int fwd_snoop_read(struct fwd *f, struct fwd_snoop *ev, int max);

/* Tables and counters for `nvdpctl fwd` / `nvdpctl counters`.
 * fwd_dump_json: {running, underlay: {interface, local_ip, udp_port,
 *   sport_min, sport_max, ttl, df, mac_age_s, mtu, max_inner_frame,
 *   encap_overhead}, ports: [{port, ifname, bindings: [{tag, vni}]}],
 *   vns: [{vni, members: [{port, ifname, tag}], flood: [ip], macs: [{mac,
 *   type: local|remote|learned, port, ifname, active, ips | remote, age_s,
 *   moved, hold_s}], remote_ips: [{ip, mac}]}],
 *   remotes: [{ip, resolved, nexthop_mac, refs, tx_pkts}], mac_entries,
 *   mac_capacity}
 * fwd_counters_json: {running, ports: {IFNAME: {port, rx_pkts, rx_bytes,
 *   tx_pkts, tx_bytes, drops}}, vns: {"VNI": {encap_pkts, encap_bytes,
 *   decap_pkts, decap_bytes, local_pkts, flood_pkts, drops}}, drops:
 *   {REASON: n} (reasons: see fwd_drop_name in fwd_int.h), underlay: {rx_pkts,
 *   rx_bytes, tx_pkts, tx_bytes, mtu}, forwarder: {learned, aged,
 *   learned_entries, learn_refused, ring_overflow, tx_batches,
 *   mobility_tunnelled, arp_proxied, nd_proxied, snooped, snoop_overflow}} */
struct json_object *fwd_dump_json(struct fwd *f);
struct json_object *fwd_counters_json(struct fwd *f);

/* Packet path: start/stop the forwarding thread (issue: in-process VXLAN
 * forwarder). -1 with a log line if underlay_if is unset or unusable.
 * cpu >= 0 pins the forwarding thread (only it) to that CPU; -1 leaves it
 * where the process may run. Needs CAP_NET_RAW (AF_PACKET) and
 * CAP_NET_BIND_SERVICE if udp_port < 1024. */
int fwd_start(struct fwd *f, int cpu);
void fwd_stop(struct fwd *f);
/* 1 when the XDP fast path's maps exist: its housekeeping thread loads
 * the program for each interface while it runs (and for a port added
 * later), which needs CAP_BPF and CAP_PERFMON besides CAP_NET_ADMIN. */
int fwd_fastpath_loads(const struct fwd *f);

/* The XDP fast path's map writes. By default each table change reaches
 * the maps before the fwd_* call returns: a system call per entry.
 * Deferred (on), they queue in the order the tables changed until
 * fwd_flush, which writes them in batches. The program meanwhile forwards
 * by the tables as they were at the last flush (the same states as
 * before, later): the caller flushes before anything that relies on the
 * forwarding state (an answer on the wire or the control socket) and at
 * the end of each turn of its loop. Off flushes. */
void fwd_mirror_defer(struct fwd *f, int on);
void fwd_flush(struct fwd *f);

#endif
