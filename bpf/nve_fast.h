/* nve_fast.h - the maps of nve-agent's XDP fast path (nve_fast.bpf.c) as
 * both sides see them: the program reads them, fwd/fwd_xdp.c writes them
 * from the forwarder's tables (fwd/fwd_int.h) and reads the counters.
 * linux/types.h types only: compiled by clang -target bpf and by cc. */
#ifndef NVE_FAST_H
#define NVE_FAST_H

#include <linux/types.h>

#include "fwd_defs.h"

/* Counters the fast path adds to the forwarder's own (same names, same
 * meaning: fwd_counters_json sums both). */
struct nf_port_ctr { /* = struct fwd_port_ctr */
    __u64 rx_pkts, rx_bytes, tx_pkts, tx_bytes, drops;
};
struct nf_vn_ctr { /* = struct fwd_vn_ctr */
    __u64 encap_pkts, encap_bytes, decap_pkts, decap_bytes;
    __u64 local_pkts, flood_pkts, drops;
};
/* nf_glob[0]: the forwarder-wide ones */
struct nf_glob {
    __u64 drops[FWD_DROP_MAX]; /* by reason, as f->drops */
    __u64 und_rx_pkts, und_rx_bytes, und_tx_pkts, und_tx_bytes;
    __u64 redirect;            /* frames the fast path sent */
    __u64 pass;                /* frames left to the in-process forwarder */
    __u64 drop;                /* frames the fast path dropped (by reason above) */
    __u64 ip_id;               /* outer IPv4 ID with DF off: per CPU */
};

/* nf_cfg[0]: the underlay and the encapsulation parameters. */
struct nf_cfg {
    __u32 enabled;     /* 0: everything passes (a table could not be mirrored) */
    __u32 und_ifindex;
    __u32 und_xmit;    /* the underlay takes redirected frames */
    __u32 mtu;         /* L3 MTU of the underlay, 0 = unknown */
    __u16 udp_port;
    __u16 sport_min, sport_max;
    __u8 local_family; /* 4 or 6 */
    __u8 df;
    __u8 local_ip[16];
};

enum { NF_DEV_ACCESS = 1, NF_DEV_UNDERLAY = 2 };
/* .rodata.dev of the program bound to an interface: what it is */
struct nf_self {
    __u32 kind;        /* NF_DEV_* */
    __u32 port;        /* access port id */
};
/* nf_devs: ifindex -> what receives there (the test program's view of
 * the interfaces: one program for all of them) */
struct nf_dev {
    __u16 port;        /* access port id */
    __u8 kind;
    __u8 pad;
};
/* nf_ports[port id]: where frames to an access port go */
struct nf_port {
    __u32 ifindex;     /* 0 = unknown */
    __u32 xmit;        /* the interface takes redirected frames */
    __u32 mtu;         /* its MTU: a tagged frame may be 18 bytes more */
    __u32 pad;
};
/* nf_macs: FWD_MK key -> the forwarder's value (with the remote's
 * generation in bits 48-63) and its slot in the forwarder's table */
struct nf_mac {
    __u64 val;
    __u32 slot;        /* its slot, for nf_seen */
    __u32 pad;
};
/* nf_remotes: remote slot -> prebuilt outer header. gen changes when the
 * slot is taken for another address: a MAC value of an older generation
 * is stale and its frame goes to the in-process forwarder. */
struct nf_remote {
    __u8 ip[16];
    __u8 hdr[FWD_HDR_MAX];
    __u8 hdr_len;      /* 0 = next hop not resolved */
    __u8 family;
    __u16 gen;
};

/* nf_seen[slot / 2].s[slot % 2]: last seen of the MAC in that slot */
struct nf_seen2 {
    __u32 s[2];
};

/* keys of nf_tags and nf_vnport */
#define NF_TAG_KEY(port, tag) ((__u32)(port) << 16 | (tag))
#define NF_VNPORT_KEY(vn, port) ((__u32)(vn) << 16 | (port))

#endif
