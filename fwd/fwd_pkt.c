/* fwd_pkt.c - pure VXLAN packet functions of the receive side: underlay
 * parse, checksum completion, and the one's complement sum both sides use. */
#include <string.h>

#include "fwd_int.h"
#include "fwd_pkt.h"

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

int
fwd_vx_parse(const uint8_t *pkt, size_t len, uint16_t udp_port,
             struct fwd_vx *vx)
{
    memset(vx, 0, sizeof(*vx));
    if (len < 14)
        return FWD_DROP_VX_SHORT;
    uint16_t et = fwd_rd16(pkt + 12);
    const uint8_t *ip = pkt + 14;
    size_t left = len - 14, l3, iplen;
    if (et == FWD_ETH_P_IP) {
        if (left < 20)
            return FWD_DROP_VX_SHORT;
        l3 = (size_t)(ip[0] & 0xf) * 4;
        iplen = fwd_rd16(ip + 2);
        if ((ip[0] >> 4) != 4 || l3 < 20)
            return FWD_DROP_VX_MALFORMED;
        if (ip[9] != 17 || (fwd_rd16(ip + 6) & 0x3fff) != 0)
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
        iplen = 40 + (size_t)fwd_rd16(ip + 4);
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
    size_t ulen = fwd_rd16(udp + 4);
    if (ulen != iplen - l3)
        return ulen > iplen - l3 || ulen < 8 ? FWD_DROP_VX_SHORT
                                              : FWD_DROP_VX_MALFORMED;
    if (fwd_rd16(udp + 2) != udp_port)
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

int
fwd_vx_outer_partial(const uint8_t *pkt, const struct fwd_vx *vx)
{
    size_t alen = vx->family == 4 ? 4 : 16;
    const uint8_t *udp = pkt + vx->inner_off - FWD_VXLAN_HLEN - 8;
    uint16_t ulen = fwd_rd16(udp + 4), field = fwd_rd16(udp + 6);
    uint32_t s = fwd_csum_add(0, vx->src_ip, alen);
    s = fwd_csum_add(s, vx->dst_ip, alen);
    s += 17u + ulen;
    return field != 0 && field == fwd_csum_fold(s);
}

void
fwd_l4_csum_complete(uint8_t *et, size_t len)
{
    if (len < 2)
        return;
    uint8_t *ip = et + 2;
    size_t left = len - 2, l4off, l4len;
    int proto;
    uint16_t t = fwd_rd16(et);
    if (t == FWD_ETH_P_IP && left >= 20 && (ip[0] >> 4) == 4) {
        l4off = (size_t)(ip[0] & 0xf) * 4;
        size_t tl = fwd_rd16(ip + 2);
        if (l4off < 20 || (fwd_rd16(ip + 6) & 0x3fff) != 0 || tl > left || tl < l4off)
            return;
        proto = ip[9];
        l4len = tl - l4off;
    } else if (t == FWD_ETH_P_IPV6 && left >= 40 && (ip[0] >> 4) == 6) {
        l4off = 40;
        l4len = fwd_rd16(ip + 4);
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
    fwd_wr16(l4 + coff, c);
}
