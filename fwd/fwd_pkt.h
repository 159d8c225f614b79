/* fwd_pkt.h - pure VXLAN packet functions of the forwarder's receive side:
 * decapsulation parse, checksum completion, one's complement sums, and the
 * wire constants and byte accessors fwd_encap.c and fwd_fast.c share.
 * No sockets, no tables: buffers in, buffers out (golden-packet tests). */
#ifndef FWD_PKT_H
#define FWD_PKT_H

#include <stddef.h>
#include <stdint.h>

#define FWD_VXLAN_FLAG_I 0x08
#define FWD_ETH_P_8021Q 0x8100
#define FWD_ETH_P_8021AD 0x88A8
#define FWD_ETH_P_IP 0x0800
#define FWD_ETH_P_IPV6 0x86DD

/* Big-endian 16-bit fields of a frame. */
static inline uint16_t
fwd_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void
fwd_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Result of parsing an underlay packet (whole Ethernet frame). */
struct fwd_vx {
    uint32_t vni;
    uint8_t family;
    uint8_t src_ip[16];
    uint8_t dst_ip[16];
    size_t inner_off; /* inner Ethernet frame */
    size_t inner_len;
};
/* Validates Ethernet/IP/UDP/VXLAN: IPv4 without options check beyond IHL,
 * no fragments, lengths consistent with the frame, UDP dst == udp_port,
 * VXLAN I flag set, inner frame >= 14 bytes. Returns 0 or an enum
 * fwd_drop reason (FWD_DROP_VX_SHORT / FWD_DROP_VX_MALFORMED). Trailing
 * Ethernet padding beyond the IP length is ignored. */
int fwd_vx_parse(const uint8_t *pkt, size_t len, uint16_t udp_port,
                 struct fwd_vx *vx);

/* A checksum left partial by the sender's offload (AF_PACKET's
 * TP_STATUS_CSUMNOTREADY) is one checksum; on a VXLAN packet it may be the
 * outer UDP one (a VTEP that offloads it, with the inner one complete) or
 * the inner frame's. 1 when it is the outer: the field holds the folded
 * pseudo-header sum, which a complete or absent (0) checksum does not
 * (but for a 1 in 65535 coincidence). pkt and vx as fwd_vx_parse left them. */
int fwd_vx_outer_partial(const uint8_t *pkt, const struct fwd_vx *vx);

/* Completes in place a TCP or UDP checksum left partial by a sender's
 * checksum offload (the field holds the pseudo-header sum: AF_PACKET
 * reports TP_STATUS_CSUMNOTREADY). et points at the EtherType of an
 * untagged frame, len counts from there. Not IP, a fragment or another
 * protocol: left alone. */
void fwd_l4_csum_complete(uint8_t *et, size_t len);

/* 16-bit one's complement sum helpers. */
uint32_t fwd_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t fwd_csum_fold(uint32_t sum);

#endif
