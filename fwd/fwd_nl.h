/* fwd_nl.h - rtnetlink next-hop resolution for the forwarder's remote
 * VTEPs, and interfaces' XDP features (housekeeping thread only). */
#ifndef FWD_NL_H
#define FWD_NL_H

#include <stdint.h>

int fwd_nl_open(void);               /* NETLINK_ROUTE */
int fwd_nl_open_proto(int proto);    /* e.g. NETLINK_GENERIC */
/* MAC of the next hop toward dst (family 4 or 6) through ifindex; nh gets
 * the next hop's address (the gateway or dst). 0, or -1 when the route or
 * the neighbour entry is missing (the caller triggers resolution). */
int fwd_nl_nexthop_mac(int fd, int family, const uint8_t *dst, int ifindex,
                       uint8_t mac[6], uint8_t nh[16]);

/* XDP features of an interface (generic netlink "netdev" family, on a
 * NETLINK_GENERIC socket): NETDEV_XDP_ACT_* bits (xdp) and
 * NETDEV_XDP_RX_METADATA_* bits (rx_meta). -1 with errno when the kernel
 * has no such family (before Linux 6.3) or no such interface. */
#define FWD_NL_XDP_BASIC 1u      /* runs a native XDP program */
#define FWD_NL_XDP_NDO_XMIT 4u   /* takes frames redirected to it */
#define FWD_NL_XDP_META_VLAN 4u  /* reports a VLAN tag it took off */
int fwd_nl_xdp_features(int fd, int ifindex, uint64_t *xdp, uint64_t *rx_meta);

#endif
