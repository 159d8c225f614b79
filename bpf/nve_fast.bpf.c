/* nve_fast.bpf.c - nve-agent's XDP fast path: on the access ports and the
 * underlay it executes, without an skb, the in-process forwarder's
 * decisions (fwd/fwd_fast.c) for the common case: access -> known remote
 * MAC (VXLAN encapsulation), underlay -> known local MAC (decapsulation),
 * access -> access in the same VN, and the drops that need no more than
 * the tables. Everything else (NVDP and other untagged frames, BUM and
 * unknown unicast, learning, ARP and neighbour discovery (the forwarder's
 * EVPN proxy and snooping), MACs that moved away within their mobility
 * hold, MTU exceeded, IP options, fragments, partial checksums,
 * interfaces that cannot take redirected frames) is XDP_PASS:
 * the in-process forwarder decides it, as without this program. The maps
 * are the forwarder's tables, written by fwd/fwd_xdp.c (nve_fast.h). */
/*
 * The main steps are global functions (nf_*): the verifier checks each
 * once, on its own, instead of every path through all of them inlined
 * (which cost it over half its budget and most of a second per interface).
 * They re-read the packet pointers from ctx and take offsets, not
 * pointers. */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
#include "nve_fast.h"

#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86DD
#define ENODATA 61

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct nf_cfg);
} nf_cfg SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FWD_MAX_PORTS + 1);
    __type(key, __u32);
    __type(value, struct nf_dev);
} nf_devs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, FWD_MAX_PORTS);
    __type(key, __u32);
    __type(value, struct nf_port);
} nf_ports SEC(".maps");

/* (port, tag) -> VN index */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FWD_MAX_PORTS * 4096); /* allocated as used */
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, __u32);
} nf_tags SEC(".maps");

/* (VN index, port) -> the port's tag for that VN */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FWD_MAX_PORTS * 4096); /* allocated as used */
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, __u32);
} nf_vnport SEC(".maps");

/* VNI -> VN index, and back */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FWD_MAX_VNS);
    __type(key, __u32);
    __type(value, __u32);
} nf_vnis SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, FWD_MAX_VNS);
    __type(key, __u32);
    __type(value, __u32);
} nf_vns SEC(".maps");

/* Not preallocated: an entry replaced or deleted is freed after an RCU
 * grace period, so a lookup never returns an element already reused for
 * another key (a preallocated hash recycles them at once). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FWD_MAC_CAP);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u64);
    __type(value, struct nf_mac);
} nf_macs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FWD_MAX_REMOTES);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, struct nf_remote);
} nf_remotes SEC(".maps");

/* When a learned MAC was last seen (s, CLOCK_MONOTONIC), by slot: the
 * forwarder maps this array as its own mac_seen, so both paths refresh
 * the same word and ageing reads one place. Two slots per element: an
 * array element takes 8 bytes, mapped they must be a plain u32 array. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, FWD_MAC_CAP / 2);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, struct nf_seen2);
} nf_seen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct nf_glob);
} nf_glob SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, FWD_MAX_PORTS);
    __type(key, __u32);
    __type(value, struct nf_port_ctr);
} nf_pctr SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, FWD_MAX_VNS);
    __type(key, __u32);
    __type(value, struct nf_vn_ctr);
} nf_vctr SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, FWD_MAX_REMOTES);
    __type(key, __u32);
    __type(value, __u64);
} nf_rctr SEC(".maps");

extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx,
                                        __be16 *vlan_proto,
                                        __u16 *vlan_tci) __ksym;

/* ---- small helpers ------------------------------------------------------ */

/* Big-endian fields: one (possibly unaligned: fine on the architectures
 * that run this) load and a byte swap, not four loads and shifts. */
static __always_inline __u16 rd16(const __u8 *p)
{
    return bpf_ntohs(*(const __u16 *)p);
}

static __always_inline __u32 rd32(const __u8 *p)
{
    return bpf_ntohl(*(const __u32 *)p);
}

static __always_inline void wr16(__u8 *p, __u16 v)
{
    p[0] = (__u8)(v >> 8);
    p[1] = (__u8)v;
}

static __always_inline __u16 fold(__u64 s)
{
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (__u16)((s & 0xffff) + (s >> 16));
}

/* The one's complement sum of an IPv4 header without options (20 bytes),
 * in the byte order of the loads: ten 16-bit loads inline, not a call of
 * bpf_csum_diff per packet. */
static __always_inline __u16 ip4_hsum(const __u8 *ip)
{
    __u32 s = 0;
#pragma unroll
    for (int i = 0; i < 10; i++)
        s += *(const __u16 *)(ip + 2 * i);
    return fold(s);
}

/* Header copies as 8-, 4- and 2-byte loads and stores (unaligned: fine on
 * the architectures that run this). A packet pointer's alignment is
 * unknown to clang, which copies it byte by byte otherwise: 100 loads and
 * stores for a 50-byte outer header. Every load comes before the first
 * store: source and destination may overlap. */
struct nf_macs {
    __u64 a;
    __u32 b;
};

static __always_inline struct nf_macs macs_get(const __u8 *p)
{
    struct nf_macs m = {*(const __u64 *)p, *(const __u32 *)(p + 8)};
    return m;
}

static __always_inline void macs_put(__u8 *p, struct nf_macs m)
{
    *(__u64 *)p = m.a;
    *(__u32 *)(p + 8) = m.b;
}

/* the prebuilt outer header, 50 (IPv4) or 70 (IPv6) bytes, from the map
 * value (8-byte aligned) */
static __always_inline void hdr_put(__u8 *d, const __u8 *s, int v6)
{
#pragma unroll
    for (int i = 0; i < 48; i += 8)
        *(__u64 *)(d + i) = *(const __u64 *)(s + i);
    if (v6) {
#pragma unroll
        for (int i = 48; i < 64; i += 8)
            *(__u64 *)(d + i) = *(const __u64 *)(s + i);
        *(__u32 *)(d + 64) = *(const __u32 *)(s + 64);
        *(__u16 *)(d + 68) = *(const __u16 *)(s + 68);
    } else {
        *(__u16 *)(d + 48) = *(const __u16 *)(s + 48);
    }
}

static __always_inline struct nf_mac *mac_get(__u32 vn, const __u8 *m)
{
    __u64 key = FWD_MK(vn, (__u64)m[0] << 40 | (__u64)m[1] << 32 |
                              (__u64)m[2] << 24 | (__u64)m[3] << 16 |
                              (__u64)m[4] << 8 | m[5]);
    return bpf_map_lookup_elem(&nf_macs, &key);
}

static __always_inline int pass(struct nf_glob *g)
{
    g->pass++;
    return XDP_PASS;
}

static __always_inline struct nf_port_ctr *pctr(__u32 port)
{
    return bpf_map_lookup_elem(&nf_pctr, &port);
}

static __always_inline struct nf_vn_ctr *vctr(__u32 vn)
{
    return bpf_map_lookup_elem(&nf_vctr, &vn);
}

/* A drop on an access port, counted as fwd_access_rx counts it: the
 * frame as received (len = without tag), the port's drops, the reason,
 * and the VN's drops once the VN is known (vn >= 0). */
static __always_inline int drop_acc(struct nf_glob *g, __u32 reason,
                                    __u32 port, int vn, __u32 len)
{
    struct nf_port_ctr *pc = pctr(port);
    if (pc) {
        pc->rx_pkts++;
        pc->rx_bytes += len;
        pc->drops++;
    }
    if (vn >= 0) {
        struct nf_vn_ctr *vc = vctr((__u32)vn);
        if (vc)
            vc->drops++;
    }
    if (reason < FWD_DROP_MAX)
        g->drops[reason]++;
    g->drop++;
    return XDP_DROP;
}

/* A drop on the underlay as fwd_underlay_rx counts it; a frame of a known
 * VN (vn >= 0) was decapsulated first. */
static __always_inline int drop_und(struct nf_glob *g, __u32 reason, int vn,
                                    __u32 len, __u32 ilen)
{
    g->und_rx_pkts++;
    g->und_rx_bytes += len;
    if (vn >= 0) {
        struct nf_vn_ctr *vc = vctr((__u32)vn);
        if (vc) {
            vc->decap_pkts++;
            vc->decap_bytes += ilen;
            vc->drops++;
        }
    }
    if (reason < FWD_DROP_MAX)
        g->drops[reason]++;
    g->drop++;
    return XDP_DROP;
}

/* The interface of an access port for a tagged frame of len bytes, or 0:
 * the in-process forwarder sends it (it counts tx-failed for a frame the
 * port's MTU refuses, as the kernel refuses it from its socket). */
static __always_inline int port_out(__u32 port, __u32 len)
{
    struct nf_port *pp = bpf_map_lookup_elem(&nf_ports, &port);
    if (!pp || !pp->ifindex || !pp->xmit || len > pp->mtu + 18)
        return 0;
    struct nf_port_ctr *pc = pctr(port);
    if (pc) {
        pc->tx_pkts++;
        pc->tx_bytes += len;
    }
    return (int)pp->ifindex;
}

/* ---- what the in-process forwarder must see ----------------------------- */

/* A TCP or UDP checksum left partial by the sender's offload (veth between
 * Linux stacks): the field holds the folded pseudo-header sum. XDP cannot
 * see the skb's ip_summed, the in-process forwarder can (it completes the
 * sum, fwd_l4_csum_complete): such frames go there. A complete checksum
 * that happens to equal that value (1 in 65535) only takes the slow path.
 * et points at the inner EtherType. */
static __always_inline int csum_partial(const __u8 *et, const void *end,
                                        __u32 avail)
{
    const __u8 *ip = et + 2, *l4;
    __u32 s, l4len, proto, ihl, left = avail - 2;
    __u16 t = rd16(et), field;

    if (avail < 2)
        return 0;
    if (t == ETH_P_IP) {
        if (ip + 20 > (const __u8 *)end || (ip[0] >> 4) != 4)
            return 0;
        ihl = (ip[0] & 0xf) * 4;
        __u32 tl = rd16(ip + 2);
        if (ihl < 20 || (rd16(ip + 6) & 0x3fff) || tl < ihl || tl > left)
            return 0;
        proto = ip[9];
        l4len = tl - ihl;
        s = rd16(ip + 12) + rd16(ip + 14) + rd16(ip + 16) + rd16(ip + 18);
        l4 = ip + ihl;
    } else if (t == ETH_P_IPV6) {
        if (ip + 40 > (const __u8 *)end || (ip[0] >> 4) != 6)
            return 0;
        proto = ip[6];
        l4len = rd16(ip + 4);
        if (40 + l4len > left)
            return 0;
        s = 0;
#pragma unroll
        for (int i = 0; i < 16; i++)
            s += rd16(ip + 8 + 2 * i);
        l4 = ip + 40;
    } else {
        return 0;
    }
    if (proto == 6) {
        if (l4len < 18 || l4 + 18 > (const __u8 *)end)
            return 0;
        field = rd16(l4 + 16);
    } else if (proto == 17) {
        if (l4len < 8 || l4 + 8 > (const __u8 *)end)
            return 0;
        field = rd16(l4 + 6);
    } else {
        return 0;
    }
    return field == fold(s + proto + l4len);
}

/* csum_partial on the frame's inner EtherType at et_off, avail bytes from
 * there to the inner frame's end */
__noinline int nf_csum_partial(struct xdp_md *ctx, __u32 et_off, __u32 avail)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    /* a mask, not a comparison: the verifier keeps its bound through the
     * register copies the compiler makes */
    const __u8 *et = (const __u8 *)data + (et_off & 0xff);
    if (et + 2 > (const __u8 *)end)
        return 0;
    return csum_partial(et, end, avail);
}

/* ---- encapsulation (as fwd_encap.c) ------------------------------------- */

static __always_inline __u32 mix(__u32 h, __u32 v)
{
    h ^= v;
    h *= 0x01000193u;
    return h ^ (h >> 15);
}

/* fwd_flow_hash: eth = the MAC addresses, et = the inner EtherType (the
 * caller checked both are in the frame), the rest up to end. */
static __always_inline __u32 flow_hash(const __u8 *eth, const __u8 *et,
                                       const void *end)
{
    __u32 h = 0x811c9dc5u;
    __u16 t = rd16(et);
    const __u8 *l3 = et + 2, *l4 = 0;
    int proto = -1;

    h = mix(h, rd32(eth));
    h = mix(h, rd32(eth + 4));
    h = mix(h, rd32(eth + 8));
    h = mix(h, t);
    if (t == ETH_P_IP && l3 + 20 <= (const __u8 *)end && (l3[0] >> 4) == 4) {
        __u32 ihl = (l3[0] & 0xf) * 4;
        h = mix(h, rd32(l3 + 12));
        h = mix(h, rd32(l3 + 16));
        proto = l3[9];
        if ((rd16(l3 + 6) & 0x3fff) == 0 && ihl >= 20)
            l4 = l3 + ihl;
    } else if (t == ETH_P_IPV6 && l3 + 40 <= (const __u8 *)end &&
               (l3[0] >> 4) == 6) {
#pragma unroll
        for (int i = 0; i < 8; i++)
            h = mix(h, rd32(l3 + 8 + 4 * i));
        proto = l3[6];
        l4 = l3 + 40;
    }
    if (proto >= 0) {
        h = mix(h, (__u32)proto);
        /* the ports need 4 bytes of L4 header in the frame */
        if (l4 && l4 + 4 <= (const __u8 *)end &&
            (proto == 6 || proto == 17 || proto == 132 || proto == 136))
            h = mix(h, (__u32)rd16(l4) << 16 | rd16(l4 + 2));
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* flow_hash of the frame: MACs at its start, EtherType at et_off */
__noinline __u32 nf_flow_hash(struct xdp_md *ctx, __u32 et_off)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    const __u8 *eth = data;
    if (eth + 12 > (const __u8 *)end)
        return 0;
    const __u8 *et = eth + (et_off & 0xff); /* a mask: see nf_csum_partial */
    if (et + 2 > (const __u8 *)end)
        return 0;
    return flow_hash(eth, et, end);
}

/* One's complement sum of len bytes at p (even offset of the datagram),
 * in the byte order of the loads (bpf_csum_diff's): 256-byte blocks, then
 * 32-bit words, then the last 2 and 1 bytes. Plain bounded loops: each
 * iteration is one state for the verifier. -1 if they are not all in the
 * frame. */
static __always_inline __s64 sum_bytes(const __u8 *p, __u32 len,
                                       const void *end)
{
    __u64 s = 0;
    __u32 blocks = len / 256;
    for (__u32 i = 0; i < 16; i++) { /* up to 4 KiB: an XDP frame is smaller */
        if (i >= blocks)
            break;
        asm volatile("" : "+r"(p));
        if (p + 256 > (const __u8 *)end)
            return -1;
        s += (__u32)bpf_csum_diff(0, 0, (__be32 *)p, 256, 0);
        p += 256;
    }
    if (blocks > 16)
        return -1;
    len &= 255;
    for (__u32 i = 0; i < 64; i++) {
        if (len < 4)
            break;
        /* keeps clang from rewriting the bound as end - 4 (no pointer
         * arithmetic on the packet's end for the verifier) */
        asm volatile("" : "+r"(p));
        if (p + 4 > (const __u8 *)end)
            return -1;
        s += *(const __u32 *)p;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        if (p + 2 > (const __u8 *)end)
            return -1;
        s += *(const __u16 *)p;
        p += 2;
        len -= 2;
    }
    if (len) {
        if (p + 1 > (const __u8 *)end)
            return -1;
        s += *p; /* the last odd byte, padded with zero */
    }
    return (__s64)s;
}

/* The UDP checksum of the IPv6 datagram the frame starts with (after its
 * 14-byte Ethernet header), written in place. 0, or -1 if the frame does
 * not hold it. */
__noinline int nf_udp6_csum(struct xdp_md *ctx, __u32 ulen)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *ip = (__u8 *)data + 14, *udp = ip + 40;
    if (udp + 8 > (__u8 *)end || ulen > 4096)
        return -1;
    wr16(udp + 6, 0);
    /* over the pseudo-header (addresses, length, next header) and the
     * whole datagram (RFC 8200 8.1) */
    __s64 s = sum_bytes(udp, ulen, end);
    if (s < 0)
        return -1;
    __u64 t = (__u64)s + (__u32)bpf_csum_diff(0, 0, (__be32 *)(ip + 8), 32, 0);
    t += (__u64)bpf_htonl(ulen); /* separately: their u32 sum can carry */
    t += (__u64)bpf_htonl(17);
    __u16 c = ~fold(t);
    *(__u16 *)(udp + 6) = c ? c : 0xffff;
    return 0;
}

/* Prepends rv's outer header to the frame in place of its tag (tagged: the
 * 802.1Q tag is in the data) and completes it as fwd_outer_finish does.
 * ilen = inner frame length without tag. 0, or -1 if the frame cannot be
 * grown (then it is untouched). */
static __always_inline int encap(struct xdp_md *ctx, struct nf_glob *g,
                                 const struct nf_cfg *cfg,
                                 const struct nf_remote *rv, __u32 vni,
                                 __u16 sport, int tagged, __u32 ilen)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 hl = rv->hdr_len == 70 ? 70 : 50;

    if (data + 12 > end)
        return -1;
    struct nf_macs macs = macs_get(data);
    if (bpf_xdp_adjust_head(ctx, -(int)(tagged ? hl - 4 : hl)))
        return -1;
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    __u8 *h = data, *ip = h + 14, *udp;
    __u16 ulen = (__u16)(16 + ilen);
    if (hl == 50) {
        if (h + 50 + 12 > (__u8 *)end)
            return -1;
        hdr_put(h, rv->hdr, 0);
        macs_put(h + 50, macs);
        udp = ip + 20;
    } else {
        if (h + 70 + 12 > (__u8 *)end)
            return -1;
        hdr_put(h, rv->hdr, 1);
        macs_put(h + 70, macs);
        udp = ip + 40;
    }
    wr16(udp, sport);
    wr16(udp + 4, ulen);
    wr16(udp + 6, 0);
    udp[12] = (__u8)(vni >> 16);
    udp[13] = (__u8)(vni >> 8);
    udp[14] = (__u8)vni;
    if (hl == 50) {
        wr16(ip + 2, (__u16)(20 + ulen));
        if (!cfg->df) { /* a datagram routers may fragment: IDs change */
            g->ip_id++;
            wr16(ip + 4, (__u16)g->ip_id);
        }
        wr16(ip + 10, 0);
        *(__u16 *)(ip + 10) = (__u16)~ip4_hsum(ip);
        return 0; /* UDP checksum 0 over IPv4 */
    }
    wr16(ip + 4, ulen);
    return nf_udp6_csum(ctx, ulen);
}

/* Writes tag into the frame (tagged: replacing the one there; otherwise
 * inserting it after the MACs). */
static __always_inline int retag(struct xdp_md *ctx, int tagged, __u16 tag)
{
    void *data, *end;
    if (!tagged) {
        if (bpf_xdp_adjust_head(ctx, -4))
            return -1;
        data = (void *)(long)ctx->data;
        end = (void *)(long)ctx->data_end;
        if (data + 16 > end)
            return -1;
        macs_put(data, macs_get(data + 4));
    }
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    __u8 *h = data;
    if (h + 16 > (__u8 *)end)
        return -1;
    wr16(h + 12, ETH_P_8021Q);
    wr16(h + 14, tag); /* PCP 0, as emit_local */
    return 0;
}

/* ---- what EVPN made the forwarder's (fwd_fast.c) ------------------------ */

/* A remote entry the forwarder still treats as moved (EVPN MAC mobility):
 * leaving for a place not known yet (flooded), or moved away within its
 * hold, whose deadline is its mac_seen word (s, CLOCK_MONOTONIC like
 * bpf_ktime_get_ns). Up to and including the deadline's second: passing
 * a frame too many is safe, taking one the forwarder would re-encapsulate
 * is not. After the hold the forwarder's decisions are the plain ones. */
static __always_inline int moved_held(const struct nf_mac *m)
{
    if (!FWD_MV_MOVED(m->val) || FWD_MV_TYPE(m->val) == FWD_MAC_LOCAL)
        return 0;
    if (FWD_MV_REMOTE(m->val) == FWD_NO_REMOTE)
        return 1;
    __u32 slot = m->slot, k2 = slot >> 1;
    struct nf_seen2 *seen = bpf_map_lookup_elem(&nf_seen, &k2);
    if (!seen)
        return 1;
    __u32 now = (__u32)(bpf_ktime_get_ns() / 1000000000ull);
    return (__s32)(seen->s[slot & 1] - now) >= 0;
}

/* ARP, or an ICMPv6 neighbour discovery message (RFC 4861 types 133-137
 * right after the IPv6 header) at et (the inner EtherType): the forwarder
 * answers requests for remote MAC+IPs and snoops announcements; unicast
 * ones it forwards as the program would, so all of them go there. */
static __always_inline int arp_nd(const __u8 *et, const void *end)
{
    if (et + 2 > (const __u8 *)end)
        return 0;
    __u16 t = rd16(et);
    if (t == ETH_P_ARP)
        return 1;
    if (t != ETH_P_IPV6 || et + 2 + 40 + 1 > (const __u8 *)end)
        return 0;
    __u8 icmp = et[2 + 40];
    return et[2 + 6] == 58 && icmp >= 133 && icmp <= 137;
}

/* ---- access port -------------------------------------------------------- */

__noinline int nf_access(struct xdp_md *ctx, __u32 port, __u32 meta, __u32 tci)
{
    __u32 zero = 0;
    struct nf_glob *g = bpf_map_lookup_elem(&nf_glob, &zero);
    struct nf_cfg *cfg = bpf_map_lookup_elem(&nf_cfg, &zero);
    if (!g || !cfg)
        return XDP_PASS;
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *fr = data, *et;
    __u32 vid, eoff, len = bpf_xdp_get_buff_len(ctx);

    if (fr + 14 > (__u8 *)end)
        return pass(g);
    if (meta) { /* the tag is metadata, the data starts untagged */
        vid = tci & 0x0fff;
        eoff = 12;
    } else if (rd16(fr + 12) == ETH_P_8021Q) {
        if (fr + 18 > (__u8 *)end)
            return pass(g);
        vid = rd16(fr + 14) & 0x0fff;
        eoff = 16;
    } else {
        return pass(g); /* untagged: NVDP, or a drop the forwarder counts */
    }
    et = fr + eoff;
    if (vid == 0 || et + 2 > (__u8 *)end || len < eoff + 2)
        return pass(g);
    __u32 ilen = 12 + len - eoff; /* the frame without the tag */
    __u16 iet = rd16(et);
    /* a second tag names no VN (VLAN hopping past the hypervisor) */
    if (iet == ETH_P_8021Q || iet == ETH_P_8021AD)
        return drop_acc(g, FWD_DROP_UNKNOWN_TAG, port, -1, ilen);
    __u32 key = NF_TAG_KEY(port, vid);
    __u32 *vnp = bpf_map_lookup_elem(&nf_tags, &key);
    if (!vnp)
        return drop_acc(g, FWD_DROP_UNKNOWN_TAG, port, -1, ilen);
    __u32 vn = *vnp;
    if (fr[6] & 1)
        return drop_acc(g, FWD_DROP_BAD_SRC, port, -1, ilen);
    /* anti-spoofing: only a MAC associated to this VN on this port */
    struct nf_mac *sm = mac_get(vn, fr + 6);
    if (!sm || FWD_MV_TYPE(sm->val) != FWD_MAC_LOCAL ||
        FWD_MV_PORT(sm->val) != port)
        return drop_acc(g, FWD_DROP_SRC_NOT_ASSOC, port, (int)vn, ilen);
    if (!FWD_MV_ACTIVE(sm->val))
        return drop_acc(g, FWD_DROP_VNIC_DOWN, port, (int)vn, ilen);
    if (fr[0] & 1)
        return pass(g); /* broadcast, multicast: replication */
    if (arp_nd(et, end))
        return pass(g);
    struct nf_mac *dm = mac_get(vn, fr);
    if (!dm || moved_held(dm))
        return pass(g); /* unknown unicast (flooded), a moved MAC */
    __u64 dv = dm->val;
    struct nf_vn_ctr *vc;
    struct nf_port_ctr *pc;

    if (FWD_MV_TYPE(dv) == FWD_MAC_LOCAL) {
        __u32 dp = FWD_MV_PORT(dv);
        key = NF_VNPORT_KEY(vn, dp);
        __u32 *tp = bpf_map_lookup_elem(&nf_vnport, &key);
        __u32 tag = tp ? *tp : 0;
        __u32 reason = dp == port ? FWD_DROP_SAME_PORT
            : !FWD_MV_ACTIVE(dv) ? FWD_DROP_VNIC_DOWN
            : tag == 0 ? FWD_DROP_UNKNOWN_TAG : 0;
        if (reason)
            return drop_acc(g, reason, port, (int)vn, ilen);
        if (nf_csum_partial(ctx, eoff, len - eoff))
            return pass(g);
        int oif = port_out(dp, ilen + 4);
        if (!oif)
            return pass(g);
        if (retag(ctx, !meta, (__u16)tag))
            return XDP_ABORTED;
        if ((pc = pctr(port))) {
            pc->rx_pkts++;
            pc->rx_bytes += ilen;
        }
        if ((vc = vctr(vn)))
            vc->local_pkts++;
        g->redirect++;
        return bpf_redirect((__u32)oif, 0);
    }
    __u32 r = FWD_MV_REMOTE(dv);
    struct nf_remote *rv = bpf_map_lookup_elem(&nf_remotes, &r);
    if (!rv || rv->gen != FWD_MV_GEN(dv))
        return pass(g); /* the remote slot changed meanwhile */
    if (rv->hdr_len != 50 && rv->hdr_len != 70)
        return drop_acc(g, FWD_DROP_NO_NEIGH, port, (int)vn, ilen);
    __u32 hl = rv->hdr_len;
    /* never fragment: too big is the forwarder's drop (mtu-exceeded) */
    if (hl - 14 + ilen > cfg->mtu || hl - 14 + ilen > 0xffff)
        return pass(g);
    if (!cfg->und_ifindex || !cfg->und_xmit || nf_csum_partial(ctx, eoff, len - eoff))
        return pass(g);
    __u32 *vnip = bpf_map_lookup_elem(&nf_vns, &vn);
    if (!vnip)
        return pass(g);
    __u32 h = nf_flow_hash(ctx, eoff);
    __u32 span = (__u32)cfg->sport_max - cfg->sport_min + 1;
    __u16 sport = (__u16)(cfg->sport_min + (__u32)(((__u64)h * span) >> 32));
    if (encap(ctx, g, cfg, rv, *vnip, sport, !meta, ilen))
        return XDP_ABORTED;
    if ((pc = pctr(port))) {
        pc->rx_pkts++;
        pc->rx_bytes += ilen;
    }
    if ((vc = vctr(vn))) {
        vc->encap_pkts++;
        vc->encap_bytes += ilen;
    }
    __u64 *rc = bpf_map_lookup_elem(&nf_rctr, &r);
    if (rc)
        (*rc)++;
    g->und_tx_pkts++;
    g->und_tx_bytes += hl + ilen;
    g->redirect++;
    return bpf_redirect(cfg->und_ifindex, 0);
}

/* ---- underlay ----------------------------------------------------------- */

/* Strips the outer headers (outer bytes) and whatever Ethernet padding
 * follows the inner frame, and pushes tag after the inner MACs. */
static __always_inline int decap(struct xdp_md *ctx, __u32 outer, __u32 ilen,
                                 __u16 tag)
{
    void *data, *end;
    __u32 flen = bpf_xdp_get_buff_len(ctx);
    if (flen > outer + ilen &&
        bpf_xdp_adjust_tail(ctx, -(int)(flen - outer - ilen)))
        return -1;
    if (bpf_xdp_adjust_head(ctx, (int)outer - 4))
        return -1;
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    __u8 *h = data;
    if (h + 16 > (__u8 *)end)
        return -1;
    macs_put(h, macs_get(h + 4));
    wr16(h + 12, ETH_P_8021Q);
    wr16(h + 14, tag);
    return 0;
}

static __always_inline int ip_is(const __u8 *a, const __u8 *b, int family)
{
    if (family == 4)
        return *(const __u32 *)a == *(const __u32 *)b;
    return *(const __u64 *)a == *(const __u64 *)b &&
           *(const __u64 *)(a + 8) == *(const __u64 *)(b + 8);
}

__noinline int nf_underlay(struct xdp_md *ctx, __u32 meta, __u32 tci)
{
    __u32 zero = 0;
    struct nf_glob *g = bpf_map_lookup_elem(&nf_glob, &zero);
    struct nf_cfg *cfg = bpf_map_lookup_elem(&nf_cfg, &zero);
    if (!g || !cfg)
        return XDP_PASS;
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *fr = data, *ip = fr + 14, *udp, *sip;
    __u32 len = bpf_xdp_get_buff_len(ctx), iplen, l3;
    int fam;

    /* another VLAN of the underlay's wire: the forwarder drops it */
    if ((meta && (tci & 0x0fff)) || fr + 14 > (__u8 *)end)
        return pass(g);
    __u16 et = rd16(fr + 12);
    if (et == ETH_P_IP && cfg->local_family == 4) {
        /* no options, no fragment, to our address, good header sum */
        if (ip + 20 > (__u8 *)end || ip[0] != 0x45 || ip[9] != 17 ||
            (rd16(ip + 6) & 0x3fff) ||
            *(__u32 *)(ip + 16) != *(const __u32 *)cfg->local_ip)
            return pass(g);
        iplen = rd16(ip + 2);
        if (ip4_hsum(ip) != 0xffff)
            return pass(g);
        l3 = 20;
        fam = 4;
        sip = ip + 12;
        udp = ip + 20;
    } else if (et == ETH_P_IPV6 && cfg->local_family == 6) {
        if (ip + 40 > (__u8 *)end || (ip[0] >> 4) != 6 || ip[6] != 17 ||
            *(__u64 *)(ip + 24) != *(const __u64 *)cfg->local_ip ||
            *(__u64 *)(ip + 32) != *(const __u64 *)(cfg->local_ip + 8))
            return pass(g);
        iplen = 40 + rd16(ip + 4);
        l3 = 40;
        fam = 6;
        sip = ip + 8;
        udp = ip + 40;
    } else {
        return pass(g); /* ARP, ND, the host's own traffic */
    }
    if (14 + iplen > len || iplen < l3 + 8 + 8 + 14 ||
        udp + 8 + 8 + 14 > (__u8 *)end)
        return pass(g);
    __u32 ulen = rd16(udp + 4);
    if (rd16(udp + 2) != cfg->udp_port || ulen != iplen - l3 ||
        !(udp[8] & 0x08))
        return pass(g); /* not ours, or the forwarder's malformed drop */
    __u32 vni = (__u32)udp[12] << 16 | (__u32)udp[13] << 8 | udp[14];
    __u8 *in = udp + 16;
    __u32 ilen = ulen - 16, outer = 14 + l3 + 16;
    __u16 iet = rd16(in + 12);
    if (iet == ETH_P_8021Q || iet == ETH_P_8021AD)
        return pass(g); /* tagged inner frame: malformed */
    __u32 *vnp = bpf_map_lookup_elem(&nf_vnis, &vni);
    if (!vnp)
        return drop_und(g, FWD_DROP_UNKNOWN_VNI, -1, len, 0);
    __u32 vn = *vnp;
    /* learning stays with the forwarder: a source it does not know from
     * this VTEP goes there; a known learned one is refreshed here */
    if (!(in[6] & 1)) {
        struct nf_mac *sm = mac_get(vn, in + 6);
        if (!sm)
            return pass(g);
        if (FWD_MV_TYPE(sm->val) == FWD_MAC_LEARNED) {
            __u32 r = FWD_MV_REMOTE(sm->val), slot = sm->slot;
            struct nf_remote *rv = bpf_map_lookup_elem(&nf_remotes, &r);
            if (!rv || rv->gen != FWD_MV_GEN(sm->val) || rv->family != fam ||
                !ip_is(rv->ip, sip, fam))
                return pass(g);
            __u32 k2 = slot >> 1;
            struct nf_seen2 *seen = bpf_map_lookup_elem(&nf_seen, &k2);
            if (seen) {
                __u32 now = (__u32)(bpf_ktime_get_ns() / 1000000000ull);
                if (seen->s[slot & 1] != now)
                    seen->s[slot & 1] = now;
            }
        }
    }
    if (in[0] & 1)
        return pass(g); /* BUM: every local member */
    struct nf_mac *dm = mac_get(vn, in);
    if (!dm)
        return pass(g); /* unknown unicast: flooded locally */
    if (moved_held(dm))
        return pass(g); /* in flight to a MAC that moved: re-encapsulated */
    __u64 dv = dm->val;
    if (FWD_MV_TYPE(dv) != FWD_MAC_LOCAL) /* split horizon */
        return drop_und(g, FWD_DROP_VX_TO_REMOTE, (int)vn, len, ilen);
    __u32 dp = FWD_MV_PORT(dv), key = NF_VNPORT_KEY(vn, dp);
    __u32 *tp = bpf_map_lookup_elem(&nf_vnport, &key);
    __u32 tag = tp ? *tp : 0;
    if (!FWD_MV_ACTIVE(dv))
        return drop_und(g, FWD_DROP_VNIC_DOWN, (int)vn, len, ilen);
    if (tag == 0)
        return drop_und(g, FWD_DROP_UNKNOWN_VNI, (int)vn, len, ilen);
    if (nf_csum_partial(ctx, (__u32)(outer + 12), ilen - 12))
        return pass(g);
    int oif = port_out(dp, ilen + 4);
    if (!oif)
        return pass(g);
    if (decap(ctx, outer, ilen, (__u16)tag))
        return XDP_ABORTED;
    g->und_rx_pkts++;
    g->und_rx_bytes += len;
    struct nf_vn_ctr *vc = vctr(vn);
    if (vc) {
        vc->decap_pkts++;
        vc->decap_bytes += ilen;
    }
    g->redirect++;
    return bpf_redirect((__u32)oif, 0);
}

/* ---- entry points ------------------------------------------------------- */

/* kind and port: what the interface the frame came in on is (nf_self or
 * nf_devs); a port removed, or its interface replaced, stops here at
 * once (fwd_xdp_port_gone clears its nf_ports entry). */
static __always_inline int nf_main(struct xdp_md *ctx, int meta, __u16 tci,
                                   __u32 kind, __u32 port)
{
    __u32 zero = 0, ifi = ctx->ingress_ifindex;
    struct nf_glob *g = bpf_map_lookup_elem(&nf_glob, &zero);
    struct nf_cfg *cfg = bpf_map_lookup_elem(&nf_cfg, &zero);
    if (!g)
        return XDP_PASS;
    if (!cfg || !cfg->enabled)
        return pass(g);
    if (kind == NF_DEV_ACCESS) {
        struct nf_port *pp = bpf_map_lookup_elem(&nf_ports, &port);
        if (!pp || pp->ifindex != ifi)
            return pass(g);
        return nf_access(ctx, port, (__u32)meta, tci);
    }
    if (kind == NF_DEV_UNDERLAY && cfg->und_ifindex == ifi)
        return nf_underlay(ctx, (__u32)meta, tci);
    return pass(g);
}

/* What the interface a device-bound program is loaded for is: written by
 * fwd/fwd_xdp.c before the load. A constant to the verifier: the program
 * keeps only that kind's code and finds its interface without a map
 * lookup per frame. */
const volatile struct nf_self nf_self SEC(".rodata.dev") = {0, 0};

/* Attached to each interface, bound to it (BPF_F_XDP_DEV_BOUND_ONLY) so
 * that the driver reports a VLAN tag it took out of the frame: without
 * it a hidden outer tag would let the tag inside choose the VN. */
SEC("xdp")
int nve_fast(struct xdp_md *ctx)
{
    __be16 proto;
    __u16 tci = 0;
    int r = bpf_xdp_metadata_rx_vlan_tag(ctx, &proto, &tci);
    if (r != 0 && r != -ENODATA)
        return XDP_PASS; /* the driver cannot tell: the forwarder decides */
    return nf_main(ctx, r == 0, tci, nf_self.kind, nf_self.port);
}

/* The same decisions for BPF_PROG_TEST_RUN (golden-packet tests), which
 * runs no device-bound program: the frame carries its tag in the data. */
SEC("xdp")
int nve_fast_test(struct xdp_md *ctx)
{
    __u32 ifi = ctx->ingress_ifindex;
    struct nf_dev *dev = bpf_map_lookup_elem(&nf_devs, &ifi);
    return nf_main(ctx, 0, 0, dev ? dev->kind : 0, dev ? dev->port : 0);
}

char LICENSE[] SEC("license") = "GPL";
