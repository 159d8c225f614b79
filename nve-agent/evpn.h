/* evpn.h - BGP EVPN through FRR (RFC 7432, RFC 8365): nve-agent mirrors
 * its associations into per-VN shadow kernel devices that zebra reads, and
 * programs what zebra installs there into the forwarder. The engine is pure:
 * kernel writes go through struct evpn_kops (evpn_nl.c in the daemon, a
 * recorder in the unit tests), messages come in decoded, time is passed in.
 *
 * Per VN, four netdevs in the NVE's namespace carry no traffic: a bridge
 * (EVPN_IF_BRIDGE, zebra's "SVI"), a vxlan device (EVPN_IF_VXLAN: the VNI,
 * the local VTEP, a UDP port that is not the data port), and a veth pair
 * whose first end is the bridge's only other port (EVPN_IF_PORT): every
 * associated MAC is a static fdb entry on it, every associated IP a NOARP
 * neighbour on the bridge. zebra answers with type-2/type-3 routes and
 * installs the remote ones as fdb/neighbour entries on the vxlan device and
 * the bridge; the rules for reading them are in evpn.c. */
#ifndef EVPN_H
#define EVPN_H

#include <json-c/json.h>
#include <stdint.h>

#include "nvdp.h"

struct fwd;

/* Shadow device names: EVPN_IFPFX + role letter + VNI (at most 12 chars). */
#define EVPN_IFPFX "snv"
enum evpn_ifrole {
    EVPN_IF_BRIDGE = 'b',
    EVPN_IF_VXLAN = 'x',
    EVPN_IF_PORT = 'p', /* veth end in the bridge */
    EVPN_IF_PEER = 'q', /* its peer, alone */
};
/* buf of at least 16 bytes. */
void evpn_ifname(char *buf, enum evpn_ifrole role, uint32_t vni);
/* The ifalias that marks a device as ours (created by nve-agent). */
void evpn_ifalias(char *buf, size_t len, uint32_t vni);

struct evpn_params {
    uint8_t vtep[4];              /* local VTEP (IPv4: FRR 8.4's EVPN) */
    uint16_t shadow_port;         /* the shadow vxlan devices' UDP port */
    uint32_t withdraw_delay_ms;   /* a withdrawal waits: FRR stopping? */
    uint32_t frr_grace_ms;        /* FRR down: remote entries kept */
    uint32_t frr_reconcile_ms;    /* FRR back: re-installs awaited */
    uint32_t migration_hold_ms;   /* intent migration: still advertised */
    uint32_t mobility_hold_ms;    /* moved MAC: in-flight frames tunnelled */
    uint32_t probe_ms;            /* FRR liveness probe interval */
};

/* Shadow devices of one VN (ifindexes in the NVE's namespace). */
struct evpn_ifs {
    int bridge, vxlan, port, peer;
};

/* One neighbour-table message (RTM_NEWNEIGH/RTM_DELNEIGH), decoded by
 * evpn_nl_decode. */
struct evpn_nlev {
    uint8_t del;        /* RTM_DELNEIGH */
    uint8_t family;     /* AF_BRIDGE, AF_INET, AF_INET6 */
    uint8_t flags;      /* NTF_* */
    uint8_t has_lladdr;
    uint16_t state;     /* NUD_* */
    int ifindex;
    int master;         /* NDA_MASTER, 0 when absent */
    uint8_t lladdr[6];
    uint8_t dst_family; /* NDA_DST: 0 absent, 4, 6 */
    uint8_t dst[16];
};

struct evpn_kops {
    void *arg;
    /* Creates (or takes over its own leftovers of) the VN's devices, up;
     * -1 with a reason in err (a device of that name that is not ours is
     * never touched). */
    int (*vn_create)(void *arg, uint32_t vni, const struct evpn_params *p,
                     struct evpn_ifs *ifs, char *err, size_t errlen);
    void (*vn_destroy)(void *arg, uint32_t vni, const struct evpn_ifs *ifs);
    /* static fdb entry on the port (replace) / its removal */
    int (*mac_write)(void *arg, const struct evpn_ifs *ifs,
                     const uint8_t mac[6], int add);
    /* NOARP neighbour on the bridge (replace) / its removal */
    int (*ip_write)(void *arg, const struct evpn_ifs *ifs, int family,
                    const uint8_t ip[16], const uint8_t mac[6], int add);
    /* Identifies the running FRR (zebra and bgpd): 0 when not running; a
     * different value after a restart. */
    uint64_t (*frr_probe)(void *arg);
};

struct evpn_counters {
    uint64_t mirrored;       /* local MAC/IP written for FRR */
    uint64_t unmirrored;     /* ... and removed */
    uint64_t learned;        /* remote MAC programmed (new or new VTEP) */
    uint64_t withdrawn;      /* remote MAC removed from the forwarder */
    uint64_t ips_learned, ips_withdrawn;
    uint64_t flood_added, flood_removed;
    uint64_t taken;          /* our MAC appeared behind another NVE */
    uint64_t reclaimed;      /* ... and came back here */
    uint64_t moves;          /* remote MAC changed VTEP */
    uint64_t held;           /* migration holds started */
    uint64_t hold_expired;
    uint64_t snooped;        /* GARP / unsolicited NA from a local VNIC */
    uint64_t snoop_ignored;  /* ... for a MAC or IP not associated here */
    uint64_t rewritten;      /* our entry vanished from the kernel: again */
    uint64_t frr_outages, stale_kept, stale_removed;
    uint64_t kernel_ignored; /* messages about no shadow device */
    uint64_t kernel_errors;  /* malformed messages, failed writes */
    uint64_t fwd_errors;     /* the forwarder refused an entry */
    uint64_t resyncs;        /* kernel dumps after a lost notification */
    uint64_t vn_failures;    /* shadow devices could not be made */
};

struct evpn;

struct evpn *evpn_new(const struct evpn_params *p, const struct evpn_kops *k,
                      struct fwd *f, uint64_t now);
/* Removes every shadow device (FRR withdraws their routes); the forwarder
 * is left alone (it goes with the daemon). */
void evpn_free(struct evpn *e);
/* New parameters on reload (the VTEP and port need a restart). */
void evpn_set_params(struct evpn *e, const struct evpn_params *p);

/* VNs: devices made at once (or retried by evpn_timers after a failure). */
int evpn_vn_add(struct evpn *e, uint32_t vni, uint64_t now);
/* Devices removed; what the VN programmed into the forwarder too. */
void evpn_vn_del(struct evpn *e, uint32_t vni, uint64_t now);

/* Associations (the tree's sink, through nve.c). An address with family 0
 * is the MAC; others are IPs under it. migrating: a VNIC_DISASSOC with
 * intent migration, kept for migration_hold_ms. */
void evpn_local_add(struct evpn *e, uint32_t vni, uint16_t port,
                    const struct nvdp_addr *a, uint64_t now);
void evpn_local_del(struct evpn *e, uint32_t vni, uint16_t port,
                    const struct nvdp_addr *a, int migrating, uint64_t now);
/* The forwarder saw a gratuitous ARP / unsolicited NA from an associated
 * VNIC: the VM is here (seed 004 4.1). family 4 or 6. */
void evpn_snoop(struct evpn *e, uint32_t vni, const uint8_t mac[6],
                int family, const uint8_t ip[16], uint64_t now);

/* The shadow devices' neighbour table: notifications and dumps. */
void evpn_kernel_input(struct evpn *e, const struct evpn_nlev *m,
                       uint64_t now);
/* A dump replaces the kernel view (after a lost notification). */
void evpn_kernel_resync_begin(struct evpn *e);
void evpn_kernel_resync_end(struct evpn *e, uint64_t now);
/* After a drained batch: applies what changed to the forwarder. */
void evpn_sync(struct evpn *e, uint64_t now);
/* Holds, pending withdrawals, the FRR probe, retries. Returns the next time
 * it wants to run. */
uint64_t evpn_timers(struct evpn *e, uint64_t now);

/* ifindex -> (VNI, role), 0 if not a shadow device of ours. */
int evpn_if_lookup(const struct evpn *e, int ifindex, uint32_t *vni,
                   enum evpn_ifrole *role);
const struct evpn_counters *evpn_counters(const struct evpn *e);
/* `nvdpctl evpn`: {vtep, shadow_udp_port, frr: {state, zebra_pid, bgpd_pid,
 *  since_ms, stale_kept_ms}, counters, vns: [{vni, state, error, devices:
 *  {bridge, vxlan, port}, local: [{mac, state, ports, hold_ms, ips}],
 *  remote: [{mac, vtep, programmed, moved, stale, moves, changed_ms}],
 *  remote_ips: [{ip, mac, stale}], flood: [{vtep, programmed, stale}]}]} */
struct json_object *evpn_json(const struct evpn *e, uint64_t now);
struct json_object *evpn_counters_json(const struct evpn *e);

#endif
