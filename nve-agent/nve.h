/* nve.h - nve-agent's context: the parsed configuration, the one context
 * struct the daemon passes down, and the APIs between its modules. */
#ifndef NVE_H
#define NVE_H

#include <net/if.h>
#include <stdio.h>
#include <stdint.h>
#include <json-c/json.h>

#include "conf_util.h"
#include "ctl_conf.h"
#include "ev.h"
#include "fwd.h"
#include "l2sock.h"
#include "log.h"
#include "nvdp.h"
#include "nvdp_session.h"
#include "paths.h"
#include "rel.h"
#include "tree.h"
#include "txq.h"

#define NVE_CONF_DEFAULT SYSCONFDIR "/splitnve/nve-agent.conf"
#define NVE_CTL_DEFAULT PATHS_NVE_SOCKET

/* ---- configuration (nve_conf.c) ---------------------------------------- */
struct nve_remote {
    uint8_t mac[6];
    char vtep[64];
};

struct nve_vn {
    char name[64];
    struct nvdp_uuid uuid;
    uint8_t has_uuid;
    uint32_t vni;
    char (*flood)[64];
    unsigned nflood;
    struct nve_remote *remote;
    unsigned nremote;
    int line;
};

struct nve_port {
    char name[32];
    char ifname[IF_NAMESIZE];
    uint16_t id;              /* forwarder / tree port id, stable on reload */
    char tags_str[256];       /* as configured, for printing */
    char reserved_str[256];
    struct tagset tags;       /* allocatable: tags minus reserved */
    uint8_t (*hv)[6];         /* allowed hypervisors; nhv 0 = any */
    unsigned nhv;
    uint32_t *vni;            /* allowed VNs by VNI; all_vns = every VN */
    char (*vn_name)[64];
    unsigned nvn;
    uint8_t all_vns;
    /* its own or the limits section's (nve-agent.conf(5)) */
    uint32_t max_vnics;       /* 0 = unlimited */
    uint32_t max_addrs;       /* address records, 0 = unlimited */
    uint32_t max_hv;          /* hypervisors holding state */
    uint32_t max_newcomers;   /* peers holding none, evicted LRU */
    uint32_t max_preassoc;    /* pre-associated entries, 0 = unlimited */
    uint32_t req_rate;        /* requests per second per peer, 0 = any */
    uint32_t req_burst;
    uint8_t auth;             /* enum nvdp_auth_policy */
    char key_path[256];       /* "": no port key */
    struct nvdp_keyring keys; /* every hypervisor's on the port */
    int line;
};

/* A hypervisor's own keys (section "hypervisor"), wherever it is. */
struct nve_hv_key {
    char name[64];
    uint8_t mac[6];
    char key_path[256];
    struct nvdp_keyring keys;
    int line;
};

/* evpn { }: BGP EVPN through FRR (evpn.h). */
struct nve_evpn_conf {
    uint8_t enabled;            /* the section is present */
    uint16_t shadow_port;       /* shadow vxlan devices' UDP port */
    char frr_rundir[108];       /* zebra.pid, bgpd.pid, vty sockets */
    uint32_t withdraw_delay_ms;
    uint32_t frr_grace_s, frr_reconcile_s;
    uint32_t migration_hold_s, mobility_hold_s;
    int line;
};

struct nve_conf {
    char path[256];
    char name[NVDP_MAX_NAME + 1];
    uint16_t ethertype;
    uint8_t group[6];
    uint32_t hello_ms;        /* our HELLO interval */
    uint32_t hold_s;          /* cap on a hypervisor's advertised hold */
    uint32_t preassoc_s;      /* pre-association lifetime */
    struct rel_params rel;    /* WITHDRAW requests we send */
    char ctl_path[108];
    struct ctl_conf ctl;      /* who may use the control socket */
    uint32_t max_addrs;       /* per VNIC entry */
    uint32_t max_vnics_per_hv;
    uint32_t max_hv_per_port;
    uint32_t max_addrs_per_hv;
    uint32_t max_vnics;       /* in the whole NVE */
    uint32_t max_vnics_per_port, max_addrs_per_port; /* 0 = unlimited */
    uint32_t max_newcomers;   /* per port */
    uint32_t max_preassoc;    /* per port */
    uint32_t req_rate, req_burst; /* per peer */
    /* standing (spec 15): refused LIMIT beyond demote_refusals a second
     * (0: never), a peer is policed at demoted_rate frames/s until it has
     * been refused none for demote_s */
    uint32_t demote_refusals, demoted_rate, demote_s;
    struct fwd_params fwd;
    int fwd_cpu; /* CPU the forwarding thread is pinned to, -1 = none */
    struct nve_evpn_conf evpn;
    struct nve_port *ports;
    unsigned nports;
    struct nve_vn *vns;
    unsigned nvns;
    struct nve_hv_key *hv_keys;
    unsigned nhv_keys;
};

/* Parses and cross-checks path; errors are logged as "FILE:LINE: ..." and
 * give NULL. */
struct nve_conf *nve_conf_load(const char *path);
void nve_conf_free(struct nve_conf *c);
/* The configuration back in config syntax, every option, defaults filled. */
void nve_conf_print(const struct nve_conf *c, FILE *out);
const struct nve_vn *nve_conf_vn_find(const struct nve_conf *c,
                                      const struct nvdp_vn *vn);
const struct nve_vn *nve_conf_vn_by_vni(const struct nve_conf *c,
                                        uint32_t vni);
/* "blue", "vni:10100", "10100", "uuid:..." or a bare UUID. */
const struct nve_vn *nve_conf_vn_lookup(const struct nve_conf *c,
                                        const char *s);
const struct nve_port *nve_conf_port_by_name(const struct nve_conf *c,
                                             const char *name);
const struct nve_port *nve_conf_port_by_id(const struct nve_conf *c,
                                           uint16_t id);
/* The tree's limits as configured (start and reload). */
void nve_conf_tree_limits(const struct nve_conf *c, struct tree_limits *lim);
/* Port p in the tree: its tags and limits. 0 / -1. */
int nve_conf_tree_port(const struct nve_port *p, struct tree *t);
int nve_port_allows_hv(const struct nve_port *p, const uint8_t mac[6]);
/* The keys of hypervisor mac on port p: its own, else the port's; NULL
 * when neither is configured. */
const struct nvdp_keyring *nve_conf_keys(const struct nve_conf *c,
                                         const struct nve_port *p,
                                         const uint8_t mac[6]);
int nve_port_allows_vn(const struct nve_port *p, uint32_t vni);
/* The key ids a frame on port p may be signed with: its port key file's and
 * every hypervisor section's (any sender's keys, nve_conf_keys), each once,
 * in ids. Returns how many, or max + 1 when there are more than max. */
unsigned nve_conf_key_ids(const struct nve_conf *c, const struct nve_port *p,
                          uint16_t *ids, unsigned max);

/* ---- protocol engine (nve_proto.c, nve_proto_int.h and its files) ----- */
typedef void (*nve_send_fn)(void *arg, uint16_t port, const uint8_t dst[6],
                            const uint8_t *frame, size_t len);

struct nve_proto;
struct nve_peer;

struct nve_proto *nve_proto_new(const struct nve_conf *c, struct tree *t,
                                uint32_t epoch, nve_send_fn send, void *arg);
/* A peer's standing with the kernel's policing (spec 15). */
enum nve_standing {
    NVE_PEER_GONE = 0,    /* forgotten: a source not known yet again */
    NVE_PEER_KNOWN = 1,   /* new, or restored: a bucket of its own */
    NVE_PEER_DEMOTED = 2, /* keeps being refused for limits: a small one */
    NVE_PEER_LISTED = 3,  /* on its port's list: known unless the kernel's
                           * policing has it already (standing and bucket
                           * kept); nve_police only */
};
/* Told of every peer the engine comes to know on a port, demotes,
 * restores and forgets: the kernel's policing (nve_police.c) follows its
 * table. */
typedef void (*nve_peer_fn)(void *arg, uint16_t port, const uint8_t mac[6],
                            enum nve_standing st);
void nve_proto_set_peer_hook(struct nve_proto *p, nve_peer_fn fn, void *arg);
/* Frames the kernel's policing dropped before a port's socket. */
struct nve_policed {
    uint64_t peer;    /* known peers over their bucket (rx_policed) */
    uint64_t newsrc;  /* sources not known yet (rx_policed_new) */
    uint64_t demoted; /* demoted peers over theirs (rx_policed_demoted) */
    uint64_t unauth;  /* auth = required: not signed (rx_policed_unauth) */
};
/* d (nve_police_dropped) into the port's counters and the global ones
 * (spec 17). */
void nve_proto_port_policed(struct nve_proto *p, uint16_t port,
                            const struct nve_policed *d);
void nve_proto_free(struct nve_proto *p);
/* A new configuration (reload): peers of removed ports and hypervisors no
 * longer authorised are dropped by the caller through withdraw/release. */
void nve_proto_set_conf(struct nve_proto *p, const struct nve_conf *c);
/* Access port up: its MTU bounds our frames, its MAC (NULL: unknown, all
 * zero) is the source our signatures cover; HELLO starts at now. */
void nve_proto_port_up(struct nve_proto *p, uint16_t port, const char *name,
                       const uint8_t mac[6], unsigned mtu, uint64_t now);
/* The first AUTH counter we send (nvdp_auth_counter_start()). */
void nve_proto_auth_start(struct nve_proto *p, uint64_t ctr);
/* Port gone: its peers are forgotten (their state released). */
void nve_proto_port_down(struct nve_proto *p, uint16_t port);
/* One received frame from src to dst (NULL: the port's MAC): payload
 * starts at the NVDP header. */
void nve_proto_input(struct nve_proto *p, uint16_t port, const uint8_t src[6],
                     const uint8_t dst[6], const uint8_t *buf, size_t len,
                     uint64_t now);
/* HELLOs, hold expiry, pre-association expiry, WITHDRAW retransmissions.
 * Returns the next time it wants to run. */
uint64_t nve_proto_timers(struct nve_proto *p, uint64_t now);
/* NVE-initiated withdraw: removes the matching entries now and queues a
 * WITHDRAW to each owner. Returns the number of entries removed. */
unsigned nve_proto_withdraw(struct nve_proto *p, const struct tree_filter *f,
                            const char *reason, uint64_t now);
uint32_t nve_proto_epoch(const struct nve_proto *p);
unsigned nve_proto_npeers(const struct nve_proto *p);
/* 1 if the engine has a peer mac on port (in its table: the kernel's
 * policing mirrors it until it is forgotten). */
int nve_proto_has_peer(const struct nve_proto *p, uint16_t port,
                       const uint8_t mac[6]);
const struct nvdp_counters *nve_proto_counters(const struct nve_proto *p);
const struct nvdp_counters *nve_proto_port_counters(const struct nve_proto *p,
                                                   uint16_t port);
/* Where the port's link events count (txq.h): globally and on the port. */
struct nvdp_cnt nve_proto_port_cnt(struct nve_proto *p, uint16_t port);
struct json_object *nve_proto_peers_json(const struct nve_proto *p,
                                         uint64_t now);
/* A counters set as nvdpctl counters shows it (nve-agent(8)). */
struct json_object *nve_counters_json(const struct nvdp_counters *c);
struct json_object *nve_proto_counters_json(const struct nve_proto *p);

/* ---- the daemon (nve.c) ------------------------------------------------- */
struct ev_loop;
struct ctl_server;

struct nve;
/* Replaces the access-port sockets (unit tests of configuration changes). */
struct nve_link_ops {
    int (*open)(void *arg, uint16_t id, const char *ifname, unsigned *mtu);
    void (*close)(void *arg, uint16_t id);
    /* 0, or -1 with errno (ENOBUFS: refused for now, kept and retried) */
    int (*send)(void *arg, uint16_t id, const uint8_t dst[6],
                const uint8_t *frame, size_t len);
    void *arg;
};

struct nve_link {
    struct l2sock sock;
    struct txq txq; /* frames the port refused for now */
    int open;
    uint16_t id;
    struct nve *owner;
};

/* ---- kernel policing of NVDP frames (nve_police.c) ---------------------- */
struct nve_police;
/* The socket filter loaded, or NULL (logged once: every frame goes to user
 * space, as without it). */
struct nve_police *nve_police_new(void);
void nve_police_free(struct nve_police *x);
#define NVE_POLICE_KEY_IDS 16 /* key ids the filter checks per port */
/* What the filter does on a port. */
struct nve_police_conf {
    uint32_t rate, burst; /* the port's request rate (0: none) and burst */
    uint32_t demoted;     /* a demoted peer's frames/s and burst (0: none) */
    /* auth = required (spec 14.2): frames without an AUTH TLV in its place,
     * or with a key id not among the first nkey_ids of key_id, dropped
     * before any bucket; more than NVE_POLICE_KEY_IDS: ids not checked */
    uint8_t auth_required;
    unsigned nkey_ids;
    uint16_t key_id[NVE_POLICE_KEY_IDS];
};
/* Port s polices as pc says: attach (a new socket) replaces l2sock's
 * classic filter; without it, a reload's new rates and policy (counters
 * and buckets kept). 0, or -1 (logged; the classic filter stays). */
int nve_police_port(struct nve_police *x, const struct l2sock *s,
                    const struct nve_police_conf *pc, int attach);
void nve_police_port_del(struct nve_police *x, const struct l2sock *s);
/* A peer's standing on s: a bucket of its own (known: full), the demoted
 * one, or back to the port's shared one (gone); listed: known if it is
 * not there yet, else left as it is. */
void nve_police_peer(struct nve_police *x, const struct l2sock *s,
                     const uint8_t mac[6], enum nve_standing st);
/* A port's n listed hypervisors, known on s before the engine hears them
 * (a bucket of their own from their first frame); the nwas its list named
 * before (a reload) and no longer does are strangers again at once, but
 * for those known(arg, mac) says the engine still knows (they go when it
 * forgets them). */
typedef int (*nve_police_known_fn)(void *arg, const uint8_t mac[6]);
void nve_police_listed(struct nve_police *x, const struct l2sock *s,
                       const uint8_t (*hv)[6], unsigned n,
                       const uint8_t (*was)[6], unsigned nwas,
                       nve_police_known_fn known, void *arg);
/* Frames the filter dropped on s since it was attached. -1 without the
 * filter. */
int nve_police_dropped(const struct nve_police *x, const struct l2sock *s,
                       struct nve_policed *d);
/* The filter's program (tests run it with BPF_PROG_TEST_RUN). */
int nve_police_prog_fd(const struct nve_police *x);

struct nve {
    struct nve_conf *conf;
    struct nve_conf *conf_next; /* being applied */
    char conf_path[256];
    char ctl_path[108];
    struct ev_loop *loop;
    struct fwd *fwd;
    struct nve_evpn *evpn; /* NULL without evpn { } */
    struct tree tree;
    struct nve_proto *proto;
    struct ctl_server *ctl;
    struct nve_link link[TREE_MAX_PORTS];
    struct ev_timer timer;
    struct l2sock_rx *rxbuf;    /* receive batch */
    const struct nve_link_ops *link_ops; /* NULL: AF_PACKET (l2sock) */
    struct nve_police *police;  /* NULL: none (link_ops, no BPF) */
    uint64_t started;
    uint32_t epoch;
    uint64_t reloads, reload_failures;
};

/* Boot epoch: never 0, differs across quick restarts. */
/* Applies c (first start or reload) to the forwarder, tree, protocol engine
 * and sockets; takes ownership of c. -1 leaves the old config running. */
int nve_apply_conf(struct nve *n, struct nve_conf *c);
/* Re-reads n->conf_path; a bad file is refused and logged. */
int nve_reload(struct nve *n);
void nve_shutdown(struct nve *n);
/* The kernel's drops (nve_police_dropped) into the engine's counters. */
void nve_police_sync(struct nve *n);
/* Re-arm the protocol timer (after input or a control command). */
void nve_kick(struct nve *n);
/* The containment tree's sink on the forwarder and EVPN: each change of the
 * tree becomes the fwd_* call that programs it (tree.c knows no forwarder)
 * and, with evpn { }, what FRR is told. */
void nve_sink(struct tree_sink *s, struct nve *n);

/* ---- EVPN through FRR (nve_evpn.c; the engine is evpn.h) --------------- */
struct nve_evpn;
/* NULL (logged) if netlink cannot be opened. The VNs come with
 * nve_evpn_apply_conf. */
struct nve_evpn *nve_evpn_new(struct ev_loop *l, const struct nve_conf *c,
                              struct fwd *f);
void nve_evpn_free(struct nve_evpn *x);
/* VNs added and removed (shadow devices), timers and FRR's run directory. */
void nve_evpn_apply_conf(struct nve_evpn *x, const struct nve_conf *old,
                         const struct nve_conf *c);
/* An association (add) or its end; migrating: VNIC_DISASSOC's intent. */
void nve_evpn_local(struct nve_evpn *x, uint32_t vni, uint16_t port,
                    const struct nvdp_addr *a, int add, int migrating);
struct json_object *nve_evpn_json(const struct nve_evpn *x);
struct json_object *nve_evpn_counters_json(const struct nve_evpn *x);

/* ---- control socket (nve_ctl.c) ----------------------------------------- */
const struct ctl_cmd *nve_ctl_table(void);
/* Runs one command: its result, or NULL with *code (enum ctl_code) and a
 * message in err. */
struct json_object *nve_ctl_run(struct nve *n, const char *cmd,
                                struct json_object *args, int *code,
                                char *err, size_t errlen);
/* The JSON the commands answer, exposed for unit tests. */
struct json_object *nve_ctl_status(struct nve *n);
struct json_object *nve_ctl_ports(struct nve *n);
struct json_object *nve_ctl_vns(struct nve *n);
struct json_object *nve_ctl_tags(struct nve *n, const char *port);
struct json_object *nve_ctl_vnics(struct nve *n, const char *port,
                                  const char *vn);

#endif
