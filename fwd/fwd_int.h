/* fwd_int.h - the forwarder's tables as both sides see them: the control
 * plane (fwd_tables.c, fwd_mac.c, fwd_ip.c: single writer under wlock) and
 * the packet path (fwd_fast.c, fwd_encap.c, fwd_dp.c: lock-free readers),
 * and the functions through which one reaches the other. Internal to fwd/:
 * users of the forwarder include fwd.h only.
 *
 * Concurrency model. Writers (the API caller and the forwarder's own
 * housekeeping thread) serialise on wlock; the forwarding thread takes it
 * only to reopen sockets after a port was added or removed, never per
 * packet. Every table is a fixed array allocated by fwd_new, so nothing the
 * reader can reach is ever freed while it runs (the IP entries under local
 * MACs grow and shrink, but only writers ever read them). Readers see consistent
 * entries through:
 *   - single aligned words read and written with __atomic (tag -> VN,
 *     VNI -> VN, MAC key/value pairs re-checked after the value is read);
 *   - a sequence counter on multi-word records (a remote's prebuilt header,
 *     a VN's member and flood lists): the reader copies and retries if the
 *     counter was odd or changed, the writer never waits for a reader.
 * A remote slot is reused for another address only after the forwarding
 * thread has passed a quiescent point (qs counter), so a reader that loaded
 * a remote index just before its last reference went away cannot send a
 * frame to an unrelated VTEP. */
#ifndef FWD_INT_H
#define FWD_INT_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "fwd.h"
#include "fwd_defs.h"

#define FWD_VNI_HASH 8192          /* power of two, > 2 * FWD_MAX_VNS */
/* Learned entries come from the wire: a hostile or broken VTEP must not
 * fill the table that local associations need. */
#define FWD_LEARN_MAX (FWD_MAC_LIMIT / 2)
#define FWD_MAX_FLOOD 64           /* head-end replication list per VN */

const char *fwd_drop_name(int reason);

struct fwd_mac_slot {
    uint64_t key; /* (vn index + 1) << 48 | MAC, or EMPTY / TOMB */
    uint64_t val;
};

struct fwd_port_ctr {
    uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, drops;
};

struct fwd_port {
    uint8_t used;
    char ifname[16];
    uint16_t tag2vn[4096]; /* vn index + 1, 0 = no binding */
    struct fwd_port_ctr c;
};

struct fwd_vn_member {
    uint16_t port, tag;
};

struct fwd_vn_ctr {
    uint64_t encap_pkts, encap_bytes, decap_pkts, decap_bytes;
    uint64_t local_pkts, flood_pkts, drops;
};

struct fwd_vn {
    uint8_t used;
    uint32_t vni;
    uint16_t port_tag[FWD_MAX_PORTS]; /* atomic: tag of (port, VN) or 0 */
    uint32_t seq;                     /* guards the two lists below */
    uint16_t nmembers;
    struct fwd_vn_member members[FWD_MAX_PORTS];
    uint16_t nflood;
    uint16_t flood[FWD_MAX_FLOOD]; /* remote indices */
    struct fwd_vn_ctr c;
    /* control side only */
    char flood_ip[FWD_MAX_FLOOD][48];
};

struct fwd_remote {
    uint32_t seq;       /* guards hdr/hdr_len/resolved */
    uint8_t used;
    uint8_t resolved;   /* next-hop MAC known: hdr is complete */
    uint8_t family;     /* 4 or 6 */
    uint8_t hdr_len;
    uint8_t hdr[FWD_HDR_MAX]; /* outer Eth/IP/UDP/VXLAN, per-packet fields 0 */
    uint8_t ip[16];
    /* control side only */
    uint16_t gen;       /* bumped each time the slot is taken (fast path) */
    uint32_t refs;
    uint64_t free_qs;   /* reusable once the reader passed this qs */
    char ipstr[48];
    uint64_t tx_pkts;   /* written by the forwarding thread */
};

/* IP entries under local MACs (fwd_ip.c): control side only, for
 * fwd_dump_json (forwarding is by MAC, anti-spoofing by source MAC: fwd_dp.c
 * and fwd_fast.c never read them). Only writers touch them, under wlock.
 *
 * An entry names its MAC by the MAC's slot in f->macs: a live MAC entry
 * never moves, and a local MAC's IPs all sit behind its current port (they
 * go when the MAC is removed or moves to another port). Entries live in
 * three dense pools by size: IPv4 hosts/prefixes (16 bytes), IPv6
 * hosts/prefixes (28) and ranges of either family (44, with the upper
 * bound). A reference is (pool << 30) | (index + 1); 0 is none. A MAC's
 * entries form a circular doubly linked list in insertion order. One
 * open-addressing index (linear probing, backward-shift deletion, no
 * tombstones) holds every entry under the hash of (MAC slot, address),
 * plus, flagged FWD_IPR_HEAD, the first entry of each MAC's list under the
 * hash of the MAC slot alone: add, delete and lookup are O(1) on average,
 * removing a MAC's IPs is proportional to their number. */
struct fwd_iphdr {
    uint32_t next, prev; /* the MAC's list; next also chains free entries */
    uint32_t mslot : 20; /* slot of the MAC in f->macs (FWD_MAC_BITS) */
    uint32_t fk : 4;     /* enum nvdp_addr_kind | FWD_IP_V6; FWD_IP_FREE */
    uint32_t plen : 8;   /* PREFIX only, else 0 */
};
#define FWD_IP_V6 4
#define FWD_IP_FREE 0xF
struct fwd_ip4 {
    struct fwd_iphdr h;
    uint8_t ip[4];
};
struct fwd_ip6 {
    struct fwd_iphdr h;
    uint8_t ip[16];
};
struct fwd_iprange {
    struct fwd_iphdr h;
    uint8_t ip[16], ip_hi[16]; /* IPv4 in the first 4 bytes, rest zero */
};
enum { FWD_IPP_V4, FWD_IPP_V6, FWD_IPP_RANGE, FWD_IPP_MAX };
#define FWD_IPR_HEAD 0x20000000u    /* index value: first entry of a MAC */
#define FWD_IPR_IDXMASK 0x1FFFFFFFu /* index + 1 */
#define FWD_IPR_POOL(r) ((unsigned)((r) >> 30))

struct fwd_ippool {
    uint8_t *base;
    uint32_t n, cap; /* elements ever handed out (high water), allocated */
    uint32_t free;   /* reference of the first free element, 0 = none */
};

/* Remote MAC+IP entries (EVPN type 2) for the ARP/ND proxy, fwd_nd.c:
 * open addressing on (VN, family, IP), read lock-free by the packet path
 * through each slot's sequence counter. Allocated at the first entry. */
#define FWD_ND_BITS 15
#define FWD_ND_CAP (1u << FWD_ND_BITS)
#define FWD_ND_LIMIT (FWD_ND_CAP / 4 * 3)
enum { FWD_ND_EMPTY = 0, FWD_ND_USED, FWD_ND_TOMB };
struct fwd_nd_slot {
    uint32_t seq;
    uint8_t state;  /* FWD_ND_* */
    uint8_t family; /* 4 or 6 */
    uint16_t vn;
    uint8_t ip[16];
    uint8_t mac[6];
};

#define FWD_SNOOP_RING 256 /* power of two, SPSC: forwarder -> control */

struct fwd_learn_ev {
    uint16_t vn;
    uint8_t mac[6];
    uint8_t family;
    uint8_t ip[16];
};
#define FWD_LEARN_RING 1024 /* power of two, SPSC: forwarder -> housekeeper */

struct fwd_dp; /* packet path state, fwd_dp.c */
struct fwd_xdp; /* XDP fast path, fwd_xdp.c */

struct fwd {
    struct fwd_params p;
    pthread_mutex_t wlock; /* writers only */

    struct fwd_port ports[FWD_MAX_PORTS];
    uint32_t ports_gen; /* bumped on port add/del: forwarder reopens sockets */

    struct fwd_vn *vns;  /* [FWD_MAX_VNS] */
    uint16_t nvns;
    uint32_t vni_key[FWD_VNI_HASH]; /* vni + 1, never removed */
    uint16_t vni_idx[FWD_VNI_HASH];

    struct fwd_mac_slot *macs; /* [FWD_MAC_CAP] */
    uint32_t *mac_seen;        /* [FWD_MAC_CAP] learned entries: last seen, s
                                * (with a fast path: its map, shared) */
    uint32_t nmacs;            /* live entries (control side) */
    uint32_t nlearned;         /* of which learned */
    /* The slots holding an entry, for the control side's walks (the
     * dump, a port's flush, ageing): a bit per slot, and a bit per word of
     * those that is not zero. The writer sets and clears them with the
     * key (O(1)); a walk costs the entries held and 64 words, not
     * FWD_MAC_CAP slots (fwd_mac_next). The packet path never reads them. */
    uint64_t mac_used[FWD_MAC_CAP / 64];
    uint64_t mac_used_sum[FWD_MAC_CAP / 64 / 64];

    struct fwd_remote *remotes; /* [FWD_MAX_REMOTES] */

    /* IP entries under local MACs (control side only, see fwd_iphdr) */
    struct fwd_ippool ipp[FWD_IPP_MAX];
    uint32_t *ipidx;    /* [ipidx_cap] references, | FWD_IPR_HEAD; 0 empty */
    uint32_t ipidx_cap; /* power of two; 0 until the first entry */
    uint32_t ipidx_n;   /* used index slots */
    uint32_t nips;      /* live IP entries */

    /* local underlay address */
    uint8_t local_family;
    uint8_t local_ip[16];
    unsigned underlay_mtu; /* L3 MTU of underlay_if, 0 = unknown */
    uint8_t underlay_mac[6];

    /* forwarding thread <-> writers */
    uint64_t qs;      /* reader's quiescent-state counter */
    uint32_t online;  /* reader is between two quiescent points */
    struct fwd_learn_ev learn[FWD_LEARN_RING];
    uint32_t learn_head, learn_tail; /* head: producer, tail: consumer */

    /* remote MAC+IP for the ARP/ND proxy (fwd_nd.c) */
    struct fwd_nd_slot *nd; /* [FWD_ND_CAP], NULL until the first entry */
    uint32_t nnd;

    /* GARPs / unsolicited NAs of local VNICs for the control plane: only
     * queued once someone asked for snoop_fd */
    int snoop_fd; /* eventfd, -1 = nobody listens */
    struct fwd_snoop snoop[FWD_SNOOP_RING];
    uint32_t snoop_head, snoop_tail; /* head: forwarder, tail: control */

    uint64_t drops[FWD_DROP_MAX];
    uint64_t und_rx_pkts, und_rx_bytes, und_tx_pkts, und_tx_bytes;
    uint64_t learn_overflow, learned, aged, tx_batches, learn_refused;
    uint64_t mobility_tunnelled, arp_proxied, nd_proxied;
    uint64_t snooped, snoop_overflow;

    struct fwd_dp *dp;
    struct fwd_xdp *xdp;  /* NULL: no fast path, xdp_why says why */
    char xdp_why[160];
};

/* Single-writer counters: a relaxed load + store is enough (one thread
 * writes, the control thread reads a possibly slightly stale value). */
static inline void fwd_ctr_add(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}
static inline uint64_t fwd_ctr_get(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static inline uint64_t fwd_mac_u64(const uint8_t m[6])
{
    return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 | (uint64_t)m[2] << 24 |
        (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}
static inline uint64_t fwd_mac_key(uint16_t vn, const uint8_t m[6])
{
    return FWD_MK(vn, fwd_mac_u64(m));
}
static inline uint32_t fwd_mac_hash(uint64_t key)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - FWD_MAC_BITS));
}

/* Sequence counters on multi-word records (see the top of this file). */
static inline uint32_t fwd_seq_begin(const uint32_t *seq)
{
    uint32_t s;
    while ((s = __atomic_load_n(seq, __ATOMIC_ACQUIRE)) & 1) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause(); /* a writer is mid-update: microseconds */
#endif
    }
    return s;
}
static inline int fwd_seq_retry(const uint32_t *seq, uint32_t s)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(seq, __ATOMIC_RELAXED) != s;
}
static inline void fwd_seq_write_begin(uint32_t *seq)
{
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}
static inline void fwd_seq_write_end(uint32_t *seq)
{
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

/* A remote's address is (family, ip): the packet path compares a VXLAN
 * source with it. Only the first 4 bytes count for IPv4. */
static inline int fwd_remote_is(const struct fwd *f, uint16_t r,
                                uint8_t family, const uint8_t *ip)
{
    const struct fwd_remote *rm = &f->remotes[r];
    return rm->family == family &&
        memcmp(rm->ip, ip, family == 4 ? 4 : 16) == 0;
}

/* Reader quiescent points (forwarding thread). */
static inline void fwd_qs_tick(struct fwd *f)
{
    __atomic_store_n(&f->qs, f->qs + 1, __ATOMIC_RELEASE);
}

/* ---- reader side: lock-free, no allocation ---- */
/* fwd_mac.c: MAC entry value, or 0 when absent; *slot gets its index. */
uint64_t fwd_mac_lookup(const struct fwd *f, uint16_t vn, const uint8_t mac[6],
                        uint32_t *slot);
/* fwd_tables.c: VN index of a VNI, or -1. */
int fwd_vni_lookup(const struct fwd *f, uint32_t vni);
/* fwd_tables.c: copies a VN's member and flood lists consistently. */
void fwd_vn_lists(const struct fwd *f, uint16_t vn,
                  struct fwd_vn_member *members, uint16_t *nmembers,
                  uint16_t *flood, uint16_t *nflood);
/* fwd_encap.c: copies a remote's prebuilt header; returns its length, 0
 * when the slot is unused or unresolved. */
unsigned fwd_remote_hdr(const struct fwd *f, uint16_t r, uint8_t *hdr,
                        uint8_t *family);

/* fwd_nd.c: the MAC that answers for (vn, family, ip); 1 when known. */
int fwd_nd_lookup(const struct fwd *f, uint16_t vn, uint8_t family,
                  const uint8_t *ip, uint8_t mac[6]);
/* fwd_nd.c, for the JSON view (wlock held): each entry of VN vn. */
typedef void (*fwd_nd_fn)(void *arg, uint8_t family, const uint8_t *ip,
                          const uint8_t mac[6]);
void fwd_nd_foreach(const struct fwd *f, uint16_t vn, fwd_nd_fn fn,
                    void *arg);

/* ---- writer side: wlock held ---- */
/* fwd_tables.c */
uint32_t fwd_now_s(void);
/* Textual IPv4 or IPv6 address -> family 4/6 and 16 bytes (zero-padded). */
int fwd_parse_ip(const char *s, uint8_t *family, uint8_t ip[16]);
/* VN index of a VNI, created if new; -1 when the VNI is invalid or the
 * table full. */
int fwd_vn_get(struct fwd *f, uint32_t vni);
/* The API's entry: takes wlock and returns the VN index of vni (made when
 * create and new). -1 without wlock and errno EINVAL when !args_ok (the
 * caller's checks of its other arguments), ENOSPC (create: no room or bad
 * VNI) or ENOENT (unknown VNI). */
int fwd_lock_vn(struct fwd *f, uint32_t vni, int create, int args_ok);
/* Slot of an existing remote VTEP, or -1: never creates one. */
int fwd_remote_find(struct fwd *f, const char *ipstr);
/* Slot of a remote VTEP with one more reference, created if new (in a slot
 * the reader no longer uses); -1 when none is free. */
int fwd_remote_get(struct fwd *f, const char *ipstr);
void fwd_remote_unref(struct fwd *f, uint16_t r);

/* fwd_mac.c: the first slot from h on that holds an entry, FWD_MAC_CAP
 * when none does; in slot order, so a walk
 *   for (h = fwd_mac_next(f, 0); h < FWD_MAC_CAP; h = fwd_mac_next(f, h + 1))
 * meets the entries as one over every slot would, and may remove the
 * entry at h. */
uint32_t fwd_mac_next(const struct fwd *f, uint32_t h);
/* fwd_mac.c: removes the local MACs behind a port (and their IPs). */
void fwd_mac_flush_port(struct fwd *f, uint16_t port_id);
/* fwd_mac.c, for the housekeeping thread: a learned MAC from the ring; the
 * learned entries not seen for mac_age_s (returns how many went). */
int fwd_learn_apply(struct fwd *f, const struct fwd_learn_ev *ev, uint32_t now);
unsigned fwd_age(struct fwd *f, uint32_t now);

/* fwd_encap.c: (re)builds a remote's header for next-hop MAC mac; all
 * resolved ones after the underlay's MAC changed. */
void fwd_remote_set_nexthop(struct fwd *f, uint16_t r, const uint8_t mac[6]);
void fwd_remote_rebuild_all(struct fwd *f);

/* fwd_ip.c: IP entries of the local MAC in slot mslot. a is an IP address
 * (family 4 or 6): fwd_ip_valid says whether the table can hold it, add
 * ignores a duplicate (-1 with errno when out of memory), del an absent
 * one; clear removes all of the MAC's, reset frees everything. */
int fwd_ip_valid(const struct nvdp_addr *a);
int fwd_ip_add(struct fwd *f, uint32_t mslot, const struct nvdp_addr *a);
void fwd_ip_del(struct fwd *f, uint32_t mslot, const struct nvdp_addr *a);
void fwd_ip_clear_mac(struct fwd *f, uint32_t mslot);
void fwd_ip_reset(struct fwd *f);
/* Calls fn for each IP entry of the MAC in slot mslot in insertion order
 * (a->mac is left zero). */
typedef void (*fwd_ip_fn)(void *arg, const struct nvdp_addr *a);
void fwd_ip_foreach(const struct fwd *f, uint32_t mslot, fwd_ip_fn fn,
                    void *arg);

#endif
