/* evpn_int.h - the EVPN engine's tables, shared by evpn.c (the logic) and
 * evpn_json.c (what `nvdpctl evpn` shows). Not part of the evpn_* API. */
#ifndef EVPN_INT_H
#define EVPN_INT_H

#include "evpn.h"

#define EVPN_MAX_FLOOD 64 /* == FWD_MAX_FLOOD: head-end list per VN */
#define EVPN_PORT_WORDS 4 /* bitmap of TREE_MAX_PORTS (256) ports */

/* Our own side of a MAC: what we wrote into the shadow port. */
enum evpn_lstate {
    EVPN_L_NONE = 0,  /* not written */
    EVPN_L_ADV,       /* written: FRR advertises it */
    EVPN_L_HELD,      /* no holder left (migration): written until hold.at */
    EVPN_L_TAKEN,     /* FRR moved it to the vxlan device: it lives elsewhere */
};
/* Where the kernel's bridge entry of a MAC is (the rule that says remote). */
enum evpn_kbr {
    EVPN_K_NONE = 0,
    EVPN_K_PORT,  /* on the shadow port: local (our write) */
    EVPN_K_VXLAN, /* on the vxlan device: remote (zebra's) */
};

struct evpn_vn;
struct evpn_ip;

/* A place in one of the engine's deadline queues (held MACs, withdrawals):
 * each delay is a constant, so entries join at the tail in deadline order
 * and the timer only looks at the heads. */
struct evpn_tq {
    struct evpn_tq *next, *prev;
    uint64_t at; /* 0: not queued */
};

struct evpn_mac {
    struct evpn_mac *next;  /* hash chain */
    struct evpn_mac *dnext; /* dirty list */
    struct evpn_vn *vn;
    struct evpn_ip *ips;    /* local IPs under this MAC (ip->mnext) */
    uint8_t mac[6];
    uint8_t lst;            /* enum evpn_lstate */
    uint8_t kbr;            /* enum evpn_kbr */
    uint8_t kself;          /* a vxlan self entry names a VTEP */
    uint8_t took;           /* ours when FRR made it remote: "moved" */
    uint8_t dirty;
    uint8_t fprog;          /* programmed into the forwarder as remote */
    uint8_t fmoved;         /* ... as a MAC that moved away from here */
    uint8_t fleaving;       /* held: in the forwarder as leaving (flood) */
    uint8_t stale;          /* kept through an FRR outage */
    uint8_t unseen;         /* resync: not (yet) in the dump */
    uint8_t kfam, ffam;     /* 4 or 6 */
    uint8_t kvtep[16];      /* the self entry's NDA_DST */
    uint8_t fvtep[16];      /* what the forwarder has */
    uint16_t nports;        /* local holders (ports) */
    uint64_t ports[EVPN_PORT_WORDS];
    uint32_t moves;         /* VTEP changes seen */
    struct evpn_tq hold;    /* EVPN_L_HELD until hold.at */
    struct evpn_tq del;     /* withdrawal waiting to tell it from FRR stopping */
    uint64_t del_inst;      /* the FRR that withdrew it */
    uint64_t changed;       /* last forwarder change (ms) */
};

struct evpn_ip {
    struct evpn_ip *next;   /* hash chain */
    struct evpn_ip *dnext;  /* dirty list */
    struct evpn_ip *mnext;  /* the local MAC's list */
    struct evpn_vn *vn;
    struct evpn_mac *lmac;  /* local owner, NULL when none */
    uint8_t family;         /* 4 or 6 */
    uint8_t ip[16];
    uint8_t lwritten;       /* our NOARP neighbour is in the kernel */
    uint8_t kremote;        /* zebra's extern_learn neighbour */
    uint8_t krmac[6];
    uint8_t fprog, fmac[6];
    uint8_t dirty, stale, unseen;
    uint16_t nports;
    uint64_t ports[EVPN_PORT_WORDS];
    struct evpn_tq del;
    uint64_t del_inst;
};

struct evpn_flood {
    uint8_t family, ip[16];
    uint8_t kpresent;       /* zebra's zero-MAC self entry */
    uint8_t fprog, stale, unseen;
    struct evpn_tq del;     /* in no queue: the timer looks at each VN */
    uint64_t del_inst;
};

struct evpn_vn {
    struct evpn_vn *next;   /* by VNI */
    uint32_t vni;
    uint8_t ok;             /* devices exist */
    uint8_t flood_dirty;
    struct evpn_ifs ifs;
    char error[128];        /* why the devices could not be made */
    uint64_t retry_at;
    uint16_t nflood;
    struct evpn_flood flood[EVPN_MAX_FLOOD];
    uint32_t nmacs, nips;
};

struct evpn_ifent {
    struct evpn_ifent *next;
    int ifindex;
    enum evpn_ifrole role;
    struct evpn_vn *vn;
};

/* FRR as the probe sees it. */
enum evpn_frr_state {
    EVPN_FRR_DOWN = 0,   /* not running (and nothing kept) */
    EVPN_FRR_UP,
    EVPN_FRR_OUTAGE,     /* went away: remote entries kept (grace) */
    EVPN_FRR_RECONCILE,  /* back: waiting for its re-installs */
};

struct evpn {
    struct evpn_params p;
    struct evpn_kops k;
    struct fwd *fwd;
    uint64_t seed;

    struct evpn_vn *vns;
    unsigned nvns;

    struct evpn_mac **mtab;
    uint32_t mbits, nmacs;
    struct evpn_ip **itab;
    uint32_t ibits, nips;
    struct evpn_ifent *iftab[256];

    struct evpn_mac *mdirty;
    struct evpn_ip *idirty;
    uint8_t flood_dirty;
    uint8_t resyncing;

    /* FRR */
    uint64_t inst;          /* last probe */
    uint8_t frr;            /* enum evpn_frr_state */
    uint64_t frr_since;     /* when frr took its value */
    uint64_t outage_end;    /* OUTAGE/RECONCILE: stale entries go */
    uint64_t next_probe;
    struct evpn_tq q_hold, q_mdel, q_idel; /* sentinels of the queues */

    struct evpn_counters c;
};

const char *evpn_frr_state_str(unsigned s);
const char *evpn_lstate_str(unsigned s);

#endif
