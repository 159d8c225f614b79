/* tree.h - the NVE's containment tree: VNIC (UUID, port, hypervisor) -> VN
 * -> MAC -> IP, its states and the rules of RFC 8394 / NVDP that change it. */
#ifndef TREE_H
#define TREE_H

#include <stdint.h>
#include "nvdp.h"
#include "tagalloc.h"
#include "tree_rec.h"

#define TREE_MAX_PORTS 256 /* == FWD_MAX_PORTS */
#define TREE_ANY_PORT 0xFFFF

enum tree_state {
    TREE_ST_ASSOC = 1,       /* associated: programmed into the forwarder */
    TREE_ST_PREASSOC = 2,    /* pre-associated, no resources held */
    TREE_ST_PREASSOC_RR = 3, /* pre-associated, tag reserved */
};
#define TREE_F_DOWN 0x01  /* VNIC_STATE DOWN: kept but not forwarding */
#define TREE_F_STALE 0x02 /* marked by RESYNC BEGIN, not yet replayed */
/* The hypervisor named the VN by its UUID (else by VNI): a WITHDRAW names
 * it the same way, since the hypervisor matches the VN it sent. */
#define TREE_F_VN_UUID 0x04

struct tree_hv;

/* One VNIC as seen by one hypervisor on one port: a single VN (NVDP allows
 * one VN per VNIC per port) and its addresses. Kept small: the benchmark
 * budget is 256 bytes of NVE state per VNIC with one MAC and one IPv4, all
 * of which (tree_rec.h) fit in these 88 bytes, malloc's 96-byte chunk. */
struct tree_vnic {
    struct tree_hv *hv;       /* owner */
    struct tree_vnic *hv_next, *hv_prev;
    struct tree_vnic *same_next; /* other entries with this UUID */
    uint64_t expires;         /* pre-association deadline (ms) */
    struct nvdp_uuid uuid;
    uint32_t vni;
    uint16_t port;
    uint16_t tag;   /* 0 while pre-associated without RR */
    uint8_t state;  /* enum tree_state */
    uint8_t flags;  /* TREE_F_* */
    uint16_t naddr; /* MAC records and IP records under them */
    struct tree_recs rec; /* a MAC-only record precedes its IPs' use */
};

/* What a port's ceilings count, each with its reservations (spec 15). */
enum tree_rv { TREE_RV_VNICS, TREE_RV_ADDRS, TREE_RV_N };

/* A hypervisor (by MAC) behind a port: owner of VNIC entries, or in
 * session (spec 15: owed a reservation) while it holds none. */
struct tree_hv {
    uint8_t mac[6];
    uint16_t port;
    uint32_t nvnic;
    uint32_t naddr; /* address records of all its entries */
    uint8_t sess;   /* in session: its level is reserved for it */
    uint32_t level[TREE_RV_N]; /* places reserved, what it holds included */
    struct tree_vnic *head;
    struct tree_hv *next;
    struct tree_hv *hnext; /* in its tree_hv_find() bucket */
};

/* Where changes go: the forwarder in the daemon (nve_sink, nve.c), a
 * recorder in tests. */
struct tree_sink {
    void *arg;
    int (*vn_bind)(void *arg, uint16_t port, uint16_t tag, uint32_t vni);
    int (*vn_unbind)(void *arg, uint16_t port, uint16_t tag);
    int (*local_add)(void *arg, uint32_t vni, uint16_t port,
                     const struct nvdp_addr *a);
    int (*local_del)(void *arg, uint32_t vni, uint16_t port,
                     const struct nvdp_addr *a);
    int (*set_active)(void *arg, uint32_t vni, const uint8_t mac[6],
                      int active);
    /* local_del for the addresses of a VNIC that leaves this port to
     * migrate (VNIC_DISASSOC with intent migration): the NVE may keep
     * advertising them until the VNIC appears elsewhere. NULL: local_del. */
    int (*local_leave)(void *arg, uint32_t vni, uint16_t port,
                       const struct nvdp_addr *a);
};

struct tree_limits {
    uint32_t max_addrs;        /* MAC + IP records per VNIC entry, 0 = none */
    uint32_t max_vnics_per_hv; /* 0 = unlimited */
    uint32_t preassoc_ms;      /* pre-association lifetime */
    uint32_t max_vnics;        /* entries in the whole tree, 0 = unlimited */
    uint32_t max_addrs_per_hv; /* records of one hypervisor, 0 = none */
};

/* Which limit refused a request (tree_res.limit), for the counters. */
enum tree_limit {
    TREE_LIM_NONE = 0,
    TREE_LIM_VNIC_ADDRS, /* max_addrs */
    TREE_LIM_HV_ADDRS,   /* max_addrs_per_hv */
    TREE_LIM_HV_VNICS,   /* max_vnics_per_hv */
    TREE_LIM_PORT_VNICS, /* the port's max_vnics */
    TREE_LIM_VNICS,      /* max_vnics */
    TREE_LIM_SHARE,      /* its share of max_vnics, the NVE being crowded */
    TREE_LIM_PREASSOC,   /* the port's max_preassoc */
    TREE_LIM_PORT_ADDRS, /* the port's max_addrs */
    TREE_LIM_PORT_SHARE, /* beyond its reservation, the free room owed to
                          * others or the port crowded (spec 15) */
};

/* Told when a hypervisor comes to hold entries (holds 1: its first) or
 * holds none any more (0): the engine's peers that hold state are never
 * evicted to make room for newcomers (protocol-spec 11.4). */
typedef void (*tree_hv_watch_fn)(void *arg, uint16_t port,
                                 const uint8_t mac[6], int holds);

struct tree_port {
    struct tag_alloc ta;
    /* associated entries per tag: the forwarder knows (port, tag) -> VNI
     * only while one exists (a tag merely reserved by PREASSOC RR is not
     * programmed) */
    uint32_t active[4096];
    uint32_t max_vnics; /* 0 = unlimited */
    uint32_t nvnic;
    uint32_t max_addrs; /* address records on the port, 0 = unlimited */
    uint32_t naddr;
    uint32_t nhv;       /* hypervisors holding entries on the port */
    uint32_t max_preassoc; /* pre-associated entries, 0 = unlimited */
    uint32_t npreassoc;
    /* reservations (spec 15): a peer in session may reach ceiling /
     * nshare on its own; owed is what the levels of the peers in session
     * reserve beyond what they hold, kept with every change (O(1)) */
    uint32_t nshare; /* max-hypervisors; 0 = no reservations */
    uint32_t owed[TREE_RV_N];
};

/* Buckets of the hypervisors by (port, MAC): looked up for every request,
 * and a flood brings hundreds of them (keyed hash, chains). */
#define TREE_HV_HASH 1024

struct tree {
    struct tree_sink sink;
    struct tree_limits lim;
    struct tree_port *port[TREE_MAX_PORTS];
    struct tree_vnic **tab; /* UUID -> first entry, open addressing */
    uint32_t tabsz, tabn;
    const struct tree_vnic **mtab; /* (VNI, MAC) -> holder, for conflicts */
    uint32_t mtabsz, mtabn, mtabdead; /* slots, in use, tombstones */
    struct tree_hv *hvs;
    struct tree_hv *hvtab[TREE_HV_HASH];
    uint32_t nhv; /* hypervisors holding entries */
    uint32_t nvnic, npreassoc;
    uint64_t next_expiry;
    uint64_t seed; /* random hash key: peers choose UUIDs and MACs */
    uint8_t leaving; /* removals now are a migration's (sink.local_leave) */
    uint64_t mem; /* bytes allocated for entries and tables */
    uint64_t fwd_errors;
    tree_hv_watch_fn hv_watch;
    void *hv_watch_arg;
};

/* One request as the protocol engine hands it over. */
struct tree_req {
    uint16_t port;
    const uint8_t *hv;             /* hypervisor MAC */
    const struct nvdp_uuid *vnic;
    uint32_t vni;
    uint8_t vn_uuid;               /* the request named the VN by UUID */
    uint16_t tag_hint;             /* 0 = none */
    const struct nvdp_addr *addr;
    uint16_t naddr;
    uint64_t now;
    uint8_t intent;                /* VNIC_DISASSOC's, as the hypervisor
                                    * said it; 0 otherwise */
};
struct tree_res {
    uint16_t status; /* enum nvdp_status */
    uint16_t tag;
    uint8_t has_tag;
    uint8_t created;  /* a new VNIC entry was made */
    uint8_t promoted; /* a pre-associated entry became associated */
    uint8_t limit;    /* enum tree_limit: why LIMIT */
    char reason[96];
};

int tree_init(struct tree *t, const struct tree_sink *sink,
              const struct tree_limits *lim);
void tree_free(struct tree *t);

/* Ports: a port must exist before requests name it. Changing the allowed
 * tags keeps tags in use; deleting a port releases its entries. */
int tree_port_set(struct tree *t, uint16_t port, const struct tagset *tags,
                  uint32_t max_vnics);
void tree_port_del(struct tree *t, uint16_t port);
/* The port's limit of pre-associated entries (0 = none). */
void tree_port_set_preassoc(struct tree *t, uint16_t port, uint32_t max);
/* The fair-share rule of a ceiling max (0 = none) that all hypervisors
 * together hold held of, nhv of them, this one mine: 1 if a request that
 * adds to mine is refused (protocol-spec 16). */
int tree_over_share(uint32_t max, uint32_t held, uint32_t nhv, uint32_t mine);
/* The port's limit of address records (0 = none). */
void tree_port_set_addrs(struct tree *t, uint16_t port, uint32_t max);
/* The port's reservations (spec 15): each peer in session is owed up to
 * its ceilings / nshare (0: none). Set after the ceilings; a lower level
 * than a peer has shrinks it, nothing is evicted. */
void tree_port_set_share(struct tree *t, uint16_t port, uint32_t nshare);
/* A hypervisor's session opened (1: its RESYNC BEGIN; again is harmless)
 * or it is forgotten (0): while in session it is owed its reservation
 * on the port, whether it holds entries or not (spec 15). */
void tree_hv_session(struct tree *t, uint16_t port, const uint8_t hv[6],
                     int open);
const struct tag_alloc *tree_port_tags(const struct tree *t, uint16_t port);

/* NVDP requests. Each fills res (status OK or an error with a reason). */
void tree_connect(struct tree *t, const struct tree_req *r,
                  struct tree_res *res);
void tree_disconnect(struct tree *t, const struct tree_req *r,
                     struct tree_res *res);
void tree_assoc(struct tree *t, const struct tree_req *r,
                struct tree_res *res);
void tree_preassoc(struct tree *t, const struct tree_req *r, int rr,
                   struct tree_res *res);
void tree_disassoc(struct tree *t, const struct tree_req *r,
                   struct tree_res *res);
void tree_vnic_disassoc(struct tree *t, const struct tree_req *r,
                        uint8_t intent, struct tree_res *res);
void tree_vnic_state(struct tree *t, const struct tree_req *r, int up,
                     struct tree_res *res);

/* Hypervisor-wide operations (resync, hold expiry). Return entries hit. */
unsigned tree_hv_mark_stale(struct tree *t, uint16_t port,
                            const uint8_t hv[6]);
unsigned tree_hv_sweep_stale(struct tree *t, uint16_t port,
                             const uint8_t hv[6]);
unsigned tree_hv_release(struct tree *t, uint16_t port, const uint8_t hv[6]);
struct tree_hv *tree_hv_find(const struct tree *t, uint16_t port,
                             const uint8_t hv[6]);
/* A hash of (k, mac) keyed with the tree's random seed: MACs come from
 * peers, who must not be able to choose colliding ones (nve_peer.c's
 * peer table uses it too). */
uint32_t tree_mac_hash(const struct tree *t, uint32_t k, const uint8_t mac[6]);

/* Pre-associations past their deadline are removed; returns the count. */
unsigned tree_expire(struct tree *t, uint64_t now);
/* Earliest pre-association deadline, UINT64_MAX if none. */
uint64_t tree_next_expiry(const struct tree *t);

/* NVE-initiated removal (WITHDRAW, reload): every entry matching the
 * filter is passed to cb (before it is freed), then removed. */
struct tree_filter {
    uint16_t port;                /* TREE_ANY_PORT = all */
    uint8_t any_vni;
    uint32_t vni;
    const struct nvdp_uuid *vnic; /* NULL = all */
    const uint8_t *hv;            /* NULL = all */
};
typedef void (*tree_vnic_cb)(void *arg, const struct tree_vnic *v);
unsigned tree_withdraw(struct tree *t, const struct tree_filter *f,
                       tree_vnic_cb cb, void *arg);

/* Lookups and iteration for the control socket. */
struct tree_vnic *tree_find(const struct tree *t,
                            const struct nvdp_uuid *vnic, uint16_t port,
                            const uint8_t hv[6]);
void tree_foreach(const struct tree *t, tree_vnic_cb cb, void *arg);
const char *tree_state_str(const struct tree_vnic *v);

#endif
