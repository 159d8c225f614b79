/* fwd_pkt.h - pure VXLAN packet functions of the forwarder: outer header
 * templates, per-packet completion, inner-flow hash, decapsulation parse.
 * No sockets, no tables: buffers in, buffers out (golden-packet tests). */
#ifndef FWD_PKT_H
#define FWD_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "fwd.h"

#define FWD_VXLAN_FLAG_I 0x08
#define FWD_ETH_P_8021Q 0x8100
#define FWD_ETH_P_8021AD 0x88A8
#define FWD_ETH_P_IP 0x0800
#define FWD_ETH_P_IPV6 0x86DD

/* Outer header template for one remote VTEP: Ethernet (dst = next hop,
 * src = underlay MAC), IPv4 (DF per p->df, TTL p->ttl, id 0) or IPv6 (hop
 * limit p->ttl), UDP (dst p->udp_port), VXLAN (flags I). Lengths, source
 * port, VNI and checksums are filled per packet by fwd_outer_finish.
 * Returns the header length (50 for IPv4, 70 for IPv6), 0 on bad family. */
unsigned fwd_outer_template(uint8_t *hdr, int family, const uint8_t *src_ip,
                            const uint8_t *dst_ip, const uint8_t src_mac[6],
                            const uint8_t nh_mac[6],
                            const struct fwd_params *p);

/* Completes a copy of a template in place for an inner frame of inner_len
 * bytes (without 802.1Q tag) given as niov pieces: IP lengths and IPv4
 * header checksum, UDP source port and length, VNI; UDP checksum 0 on IPv4
 * (RFC 7348 5) and computed over the pseudo-header and the whole datagram
 * on IPv6 (RFC 8200 8.1; the zero-checksum exception of RFC 6935 is not
 * used). */
void fwd_outer_finish(uint8_t *hdr, unsigned hlen, uint32_t vni,
                      uint16_t sport, const struct iovec *inner, int niov,
                      size_t inner_len);

/* Hash of the inner flow (MACs, EtherType, IPv4/IPv6 addresses, protocol,
 * TCP/UDP/SCTP ports when not a fragment). eth is the untagged inner
 * frame's first 14 bytes; l3 what follows the EtherType. */
uint32_t fwd_flow_hash(const uint8_t *eth, const uint8_t *l3, size_t l3len);
/* Source port in [p->sport_min, p->sport_max] from a flow hash. */
uint16_t fwd_sport(const struct fwd_params *p, uint32_t hash);

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
