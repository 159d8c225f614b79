/* fwd_encap.c - VXLAN encapsulation: a remote VTEP's outer header, built
 * once per next hop (template), copied by the packet path under the
 * remote's sequence counter, completed per packet (lengths, VNI, source
 * port from the inner-flow hash, checksums). */
#include <string.h>

#include "fwd_encap.h"
#include "fwd_int.h"
#include "fwd_pkt.h"
#include "fwd_xdp.h"

/* ---- header templates and per-packet completion (pure) ------------------ */

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
        fwd_wr16(hdr + 12, FWD_ETH_P_IP);
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
        fwd_wr16(hdr + 12, FWD_ETH_P_IPV6);
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
    fwd_wr16(udp + 2, p->udp_port);
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
    fwd_wr16(udp, sport);
    fwd_wr16(udp + 4, ulen);
    fwd_wr16(udp + 6, 0);
    uint8_t *vx = udp + 8;
    vx[4] = (uint8_t)(vni >> 16);
    vx[5] = (uint8_t)(vni >> 8);
    vx[6] = (uint8_t)vni;
    if (!v6) {
        fwd_wr16(ip + 2, (uint16_t)(20 + ulen));
        fwd_wr16(ip + 10, 0);
        fwd_wr16(ip + 10, (uint16_t)~fwd_csum_fold(fwd_csum_add(0, ip, 20)));
        return; /* RFC 7348 5: UDP checksum SHOULD be 0 on IPv4 */
    }
    fwd_wr16(ip + 4, ulen);
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
    fwd_wr16(udp + 6, c == 0 ? 0xffff : c); /* 0 would mean "no checksum" */
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
    uint16_t et = fwd_rd16(eth + 12);
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
        if ((fwd_rd16(l3 + 6) & 0x3fff) == 0 && ihl >= 20 && l3len >= ihl + 4) {
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
            h = mix(h, (uint32_t)fwd_rd16(l4) << 16 | fwd_rd16(l4 + 2));
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

/* ---- a remote's prebuilt header ------------------------------------------ */

static void
remote_build(struct fwd *f, struct fwd_remote *rm, const uint8_t nh[6])
{
    uint8_t hdr[FWD_HDR_MAX];
    unsigned len = 0;
    int ok = nh != NULL && f->local_family == rm->family;
    if (ok)
        len = fwd_outer_template(hdr, rm->family, f->local_ip, rm->ip,
                                 f->underlay_mac, nh, &f->p);
    fwd_seq_write_begin(&rm->seq);
    if (len > 0)
        memcpy(rm->hdr, hdr, len);
    rm->hdr_len = (uint8_t)len;
    rm->resolved = len > 0;
    fwd_seq_write_end(&rm->seq);
    fwd_xdp_remote(f, (uint16_t)(rm - f->remotes), 0);
}

void
fwd_remote_set_nexthop(struct fwd *f, uint16_t r, const uint8_t mac[6])
{
    if (r < FWD_MAX_REMOTES && f->remotes[r].used)
        remote_build(f, &f->remotes[r], mac);
}

void
fwd_remote_rebuild_all(struct fwd *f)
{
    for (int i = 0; i < FWD_MAX_REMOTES; i++) {
        struct fwd_remote *rm = &f->remotes[i];
        if (rm->used && rm->resolved) {
            uint8_t nh[6];
            memcpy(nh, rm->hdr, 6);
            remote_build(f, rm, nh);
        }
    }
}


unsigned
fwd_remote_hdr(const struct fwd *f, uint16_t r, uint8_t *hdr, uint8_t *family)
{
    if (r >= FWD_MAX_REMOTES)
        return 0;
    const struct fwd_remote *rm = &f->remotes[r];
    unsigned len;
    uint32_t s;
    do {
        s = fwd_seq_begin(&rm->seq);
        len = rm->used && rm->resolved ? rm->hdr_len : 0;
        if (len > FWD_HDR_MAX)
            len = 0;
        memcpy(hdr, rm->hdr, len);
        *family = rm->family;
    } while (fwd_seq_retry(&rm->seq, s));
    return len;
}
