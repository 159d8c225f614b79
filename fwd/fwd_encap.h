/* fwd_encap.h - pure VXLAN encapsulation functions of the forwarder: outer
 * header templates, per-packet completion, inner-flow hash and source port.
 * No sockets, no tables: buffers in, buffers out (golden-packet tests). */
#ifndef FWD_ENCAP_H
#define FWD_ENCAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "fwd.h"

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

#endif
