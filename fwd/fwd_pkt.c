/* fwd_pkt.c - pure VXLAN packet functions: outer templates, per-packet
 * completion, inner-flow hash and source port, underlay parse. */
#include <string.h>

#include "fwd_int.h"
#include "fwd_pkt.h"

static inline uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

uint32_t
fwd_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    uint64_t s = sum;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < len)
        s += (uint32_t)p[i] << 8;
    while (s >> 32)
        s = (s & 0xffffffff) + (s >> 32);
    return (uint32_t)s;
}

uint16_t
fwd_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* IPv4 header checksum of a template: constant fields only; the total
 * length is added per packet (RFC 1624 style: the template holds 0). */
unsigned
fwd_outer_template(uint8_t *hdr, int family, const uint8_t *src_ip,
                   const uint8_t *dst_ip, const uint8_t src_mac[6],
                   const uint8_t nh_mac[6], const struct fwd_params *p)
{
    unsigned l3;
    memset(hdr, 0, FWD_HDR_MAX);
    memcpy(hdr, nh_mac, 6);
    memcpy(hdr + 6, src_mac, 6);
    uint8_t *ip = hdr + 14;
    if (family == 4) {
        wr16(hdr + 12, FWD_ETH_P_IP);
        ip[0] = 0x45;
        ip[1] = 0;              /* DSCP 0: the tenant's marking is not copied */
        /* With DF the path MTU is enforced by the underlay instead of being
         * silently fragmented; the forwarder itself never fragments. */
        ip[6] = p->df ? 0x40 : 0;
        ip[8] = p->ttl;
        ip[9] = 17;
        memcpy(ip + 12, src_ip, 4);
        memcpy(ip + 16, dst_ip, 4);
        l3 = 20;
    } else if (family == 6) {
        wr16(hdr + 12, FWD_ETH_P_IPV6);
        ip[0] = 0x60;
        ip[6] = 17;
        ip[7] = p->ttl;
        memcpy(ip + 8, src_ip, 16);
        memcpy(ip + 24, dst_ip, 16);
        l3 = 40;
    } else {
        return 0;
    }
    uint8_t *udp = ip + l3;
    wr16(udp + 2, p->udp_port);
    udp[8] = FWD_VXLAN_FLAG_I;
    return 14 + l3 + 8 + FWD_VXLAN_HLEN;
}

/* Sum of a byte string that starts at an odd offset of the whole. */
static uint32_t
csum_add_at(uint32_t sum, const uint8_t *p, size_t len, int odd)
{
    if (!odd)
        return fwd_csum_add(sum, p, len);
    uint32_t s = fwd_csum_add(0, p, len);
    s = fwd_csum_fold(s);
    s = (uint32_t)(((s & 0xff) << 8) | (s >> 8)); /* byte-swapped */
    return fwd_csum_fold(sum + s) ;
}

void
fwd_outer_finish(uint8_t *hdr, unsigned hlen, uint32_t vni, uint16_t sport,
                 const struct iovec *inner, int niov, size_t inner_len)
{
    uint8_t *ip = hdr + 14;
    int v6 = hlen == 70;
    uint8_t *udp = ip + (v6 ? 40 : 20);
    uint16_t ulen = (uint16_t)(8 + FWD_VXLAN_HLEN + inner_len);
    wr16(udp, sport);
    wr16(udp + 4, ulen);
    wr16(udp + 6, 0);
    uint8_t *vx = udp + 8;
    vx[4] = (uint8_t)(vni >> 16);
    vx[5] = (uint8_t)(vni >> 8);
    vx[6] = (uint8_t)vni;
    if (!v6) {
        wr16(ip + 2, (uint16_t)(20 + ulen));
        wr16(ip + 10, 0);
        wr16(ip + 10, (uint16_t)~fwd_csum_fold(fwd_csum_add(0, ip, 20)));
        return; /* RFC 7348 5: UDP checksum SHOULD be 0 on IPv4 */
    }
    wr16(ip + 4, ulen);
    /* pseudo-header: addresses, upper-layer length, next header */
    uint32_t s = fwd_csum_add(0, ip + 8, 32);
    s += ulen;
    s += 17;
    s = fwd_csum_add(s, udp, 16);
    size_t off = 0;
    for (int i = 0; i < niov; i++) {
        s = csum_add_at(s, inner[i].iov_base, inner[i].iov_len, (int)(off & 1));
        off += inner[i].iov_len;
    }
    uint16_t c = (uint16_t)~fwd_csum_fold(s);
    wr16(udp + 6, c == 0 ? 0xffff : c); /* 0 would mean "no checksum" */
}

static inline uint32_t
mix(uint32_t h, uint32_t v)
{
    h ^= v;
    h *= 0x01000193u; /* FNV-1a style on 32-bit words */
    return h ^ (h >> 15);
}

static uint32_t
mix_bytes(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i += 4)
        h = mix(h, (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
                       (uint32_t)p[i + 2] << 8 | p[i + 3]);
    return h;
}

uint32_t
fwd_flow_hash(const uint8_t *eth, const uint8_t *l3, size_t l3len)
{
    uint32_t h = 0x811c9dc5u;
    uint16_t et = rd16(eth + 12);
    h = mix_bytes(h, eth, 12);
    h = mix(h, et);
    int proto = -1;
    const uint8_t *l4 = NULL;
    size_t l4len = 0;
    if (et == FWD_ETH_P_IP && l3len >= 20 && (l3[0] >> 4) == 4) {
        size_t ihl = (size_t)(l3[0] & 0xf) * 4;
        h = mix_bytes(h, l3 + 12, 8);
        proto = l3[9];
        /* ports only in the first fragment-free packet: a fragment's
         * payload is not a header, and all fragments must hash alike */
        if ((rd16(l3 + 6) & 0x3fff) == 0 && ihl >= 20 && l3len >= ihl + 4) {
            l4 = l3 + ihl;
            l4len = l3len - ihl;
        }
    } else if (et == FWD_ETH_P_IPV6 && l3len >= 40 && (l3[0] >> 4) == 6) {
        h = mix_bytes(h, l3 + 8, 32);
        proto = l3[6];
        if (l3len >= 44) {
            l4 = l3 + 40;
            l4len = l3len - 40;
        }
    }
    if (proto >= 0) {
        h = mix(h, (uint32_t)proto);
        if (l4 != NULL && l4len >= 4 &&
            (proto == 6 || proto == 17 || proto == 132 || proto == 136))
            h = mix(h, (uint32_t)rd16(l4) << 16 | rd16(l4 + 2));
    }
    /* final avalanche (murmur3 fmix32) */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint16_t
fwd_sport(const struct fwd_params *p, uint32_t hash)
{
    uint32_t span = (uint32_t)p->sport_max - p->sport_min + 1;
    /* multiply-shift keeps all hash bits in play without a division */
    return (uint16_t)(p->sport_min + (uint32_t)(((uint64_t)hash * span) >> 32));
}

int
fwd_vx_parse(const uint8_t *pkt, size_t len, uint16_t udp_port,
             struct fwd_vx *vx)
{
    memset(vx, 0, sizeof(*vx));
    if (len < 14)
        return FWD_DROP_VX_SHORT;
    uint16_t et = rd16(pkt + 12);
    const uint8_t *ip = pkt + 14;
    size_t left = len - 14, l3, iplen;
    if (et == FWD_ETH_P_IP) {
        if (left < 20)
            return FWD_DROP_VX_SHORT;
        l3 = (size_t)(ip[0] & 0xf) * 4;
        iplen = rd16(ip + 2);
        if ((ip[0] >> 4) != 4 || l3 < 20)
            return FWD_DROP_VX_MALFORMED;
        if (ip[9] != 17 || (rd16(ip + 6) & 0x3fff) != 0)
            return FWD_DROP_VX_MALFORMED; /* not UDP, or a fragment */
        if (iplen < l3 || iplen > left)
            return iplen > left ? FWD_DROP_VX_SHORT : FWD_DROP_VX_MALFORMED;
        if (fwd_csum_fold(fwd_csum_add(0, ip, l3)) != 0xffff)
            return FWD_DROP_VX_MALFORMED;
        vx->family = 4;
        memcpy(vx->src_ip, ip + 12, 4);
        memcpy(vx->dst_ip, ip + 16, 4);
    } else if (et == FWD_ETH_P_IPV6) {
        if (left < 40)
            return FWD_DROP_VX_SHORT;
        if ((ip[0] >> 4) != 6 || ip[6] != 17)
            return FWD_DROP_VX_MALFORMED; /* extension headers not accepted */
        l3 = 40;
        iplen = 40 + (size_t)rd16(ip + 4);
        if (iplen > left)
            return FWD_DROP_VX_SHORT;
        vx->family = 6;
        memcpy(vx->src_ip, ip + 8, 16);
        memcpy(vx->dst_ip, ip + 24, 16);
    } else {
        return FWD_DROP_VX_MALFORMED;
    }
    const uint8_t *udp = ip + l3;
    if (iplen < l3 + 8)
        return FWD_DROP_VX_SHORT;
    size_t ulen = rd16(udp + 4);
    if (ulen != iplen - l3)
        return ulen > iplen - l3 || ulen < 8 ? FWD_DROP_VX_SHORT
                                              : FWD_DROP_VX_MALFORMED;
    if (rd16(udp + 2) != udp_port)
        return FWD_DROP_VX_MALFORMED;
    if (ulen < 8 + FWD_VXLAN_HLEN + 14)
        return FWD_DROP_VX_SHORT;
    /* The outer UDP checksum is not verified: RFC 7348 5 lets a VTEP
     * accept a non-zero checksum without checking it, the inner frame
     * carries its own, and verifying would cost a pass over every byte. */
    const uint8_t *vh = udp + 8;
    if (!(vh[0] & FWD_VXLAN_FLAG_I))
        return FWD_DROP_VX_MALFORMED;
    vx->vni = (uint32_t)vh[4] << 16 | (uint32_t)vh[5] << 8 | vh[6];
    vx->inner_off = (size_t)(vh + FWD_VXLAN_HLEN - pkt);
    vx->inner_len = ulen - 8 - FWD_VXLAN_HLEN;
    return 0;
}

void
fwd_l4_csum_complete(uint8_t *et, size_t len)
{
    if (len < 2)
        return;
    uint8_t *ip = et + 2;
    size_t left = len - 2, l4off, l4len;
    int proto;
    uint16_t t = rd16(et);
    if (t == FWD_ETH_P_IP && left >= 20 && (ip[0] >> 4) == 4) {
        l4off = (size_t)(ip[0] & 0xf) * 4;
        size_t tl = rd16(ip + 2);
        if (l4off < 20 || (rd16(ip + 6) & 0x3fff) != 0 || tl > left || tl < l4off)
            return;
        proto = ip[9];
        l4len = tl - l4off;
    } else if (t == FWD_ETH_P_IPV6 && left >= 40 && (ip[0] >> 4) == 6) {
        l4off = 40;
        l4len = rd16(ip + 4);
        if (40 + l4len > left)
            return;
        proto = ip[6];
    } else {
        return;
    }
    size_t coff = proto == 6 ? 16 : proto == 17 ? 6 : 0;
    if (coff == 0 || l4len < coff + 2)
        return;
    uint8_t *l4 = ip + l4off;
    uint16_t c = (uint16_t)~fwd_csum_fold(fwd_csum_add(0, l4, l4len));
    if (proto == 17 && c == 0)
        c = 0xffff;
    wr16(l4 + coff, c);
}
