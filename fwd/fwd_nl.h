/* fwd_nl.h - rtnetlink next-hop resolution for the forwarder's remote
 * VTEPs (housekeeping thread only). */
#ifndef FWD_NL_H
#define FWD_NL_H

#include <stdint.h>

int fwd_nl_open(void);
/* MAC of the next hop toward dst (family 4 or 6) through ifindex; nh gets
 * the next hop's address (the gateway or dst). 0, or -1 when the route or
 * the neighbour entry is missing (the caller triggers resolution). */
int fwd_nl_nexthop_mac(int fd, int family, const uint8_t *dst, int ifindex,
                       uint8_t mac[6], uint8_t nh[16]);

#endif
