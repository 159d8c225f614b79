/* fwd_defs.h - the forwarder's constants that its XDP program
 * (bpf/nve_fast.bpf.c) shares: table sizes, drop reasons, the MAC table's
 * key and value encoding. Macros and enums only, no includes: clang
 * -target bpf compiles it as well (with uint*_t defined by the includer). */
#ifndef FWD_DEFS_H
#define FWD_DEFS_H

#define FWD_MAX_PORTS 256          /* also in fwd.h: a difference won't compile */
#define FWD_MAX_VNS 4096
#define FWD_MAC_BITS 18            /* 196,608 MACs: 100,000 VNICs with room */
#define FWD_MAC_CAP (1u << FWD_MAC_BITS)
#define FWD_MAC_LIMIT (FWD_MAC_CAP / 4 * 3) /* keep probe chains short */
#define FWD_MAX_REMOTES 1024
#define FWD_HDR_MAX 70             /* Ethernet 14 + IPv6 40 + UDP 8 + VXLAN 8 */
#define FWD_VXLAN_HLEN 8
#define FWD_NO_REMOTE 0xFFFF

/* Drop reasons: one counter each, names in fwd_drop_name(). */
enum fwd_drop {
    FWD_DROP_NONE = 0,
    FWD_DROP_RUNT,           /* access frame shorter than an Ethernet header */
    FWD_DROP_UNTAGGED,       /* access frame without 802.1Q tag */
    FWD_DROP_UNKNOWN_TAG,    /* (port, tag) bound to no VN */
    FWD_DROP_BAD_SRC,        /* multicast/zero source MAC */
    FWD_DROP_SRC_NOT_ASSOC,  /* anti-spoofing: MAC not associated here */
    FWD_DROP_VNIC_DOWN,      /* source or destination VNIC is down */
    FWD_DROP_SAME_PORT,      /* destination behind the ingress port */
    FWD_DROP_MTU,            /* too big for the underlay after encap */
    FWD_DROP_NO_NEIGH,       /* remote VTEP's next hop not resolved */
    FWD_DROP_VX_SHORT,       /* underlay packet too short for VXLAN */
    FWD_DROP_VX_MALFORMED,   /* bad IP/UDP lengths, flags, fragments */
    FWD_DROP_UNKNOWN_VNI,    /* VNI with no local member */
    FWD_DROP_VX_TO_REMOTE,   /* decapsulated frame for a remote MAC */
    FWD_DROP_TX_FAIL,        /* the kernel refused the frame */
    FWD_DROP_MAX
};

/* MAC table: key (VN index + 1) << 48 | MAC (0 and 1 mark empty and
 * deleted slots); value bits below: type 0-1, active 2, moved 3, port
 * 16-31, remote 32-47. Bits 48-63 of a value are free: the XDP program's
 * copy keeps the remote slot's generation there. */
#define FWD_MK(vn, mac48) ((uint64_t)((vn) + 1) << 48 | (mac48))
#define FWD_MK_EMPTY 0
#define FWD_MK_TOMB 1
enum fwd_mac_type {
    FWD_MAC_LOCAL = 1,
    FWD_MAC_REMOTE = 2,   /* static or API */
    FWD_MAC_LEARNED = 3,  /* learned from decapsulated traffic, ages */
};
#define FWD_MV_TYPE(v) ((unsigned)((v) & 3))
#define FWD_MV_ACTIVE(v) ((unsigned)(((v) >> 2) & 1))
/* A remote MAC that moved away from here (EVPN MAC mobility): until
 * mac_seen[slot] (s), frames for it that still arrive from the underlay
 * are re-encapsulated to its remote instead of dropped; with remote
 * FWD_NO_REMOTE (where it went is not known yet) to the flood list. The
 * XDP program leaves every such MAC to the in-process forwarder. */
#define FWD_MV_MOVED(v) ((unsigned)(((v) >> 3) & 1))
#define FWD_MV_F_MOVED (1ull << 3)
#define FWD_MV_PORT(v) ((uint16_t)((v) >> 16))
#define FWD_MV_REMOTE(v) ((uint16_t)((v) >> 32))
#define FWD_MV_GEN(v) ((uint16_t)((v) >> 48))
#define FWD_MV(type, active, port, remote) \
    ((uint64_t)(type) | ((uint64_t)((active) ? 1 : 0) << 2) | \
     ((uint64_t)(port) << 16) | ((uint64_t)(remote) << 32))

#endif
