/* evpn_nl.h - rtnetlink for the EVPN shadow devices (libnl-route-3): makes
 * and removes them, writes our fdb/neighbour entries, reads zebra's. The
 * only code of nve-agent that talks libnl. */
#ifndef EVPN_NL_H
#define EVPN_NL_H

#include <stddef.h>
#include <stdint.h>

#include "evpn.h"

struct nlmsghdr;
struct evpn_nl;

/* Two sockets: one for requests and dumps, one subscribed to
 * RTNLGRP_NEIGH (non-blocking, evpn_nl_fd). NULL + err on failure. */
struct evpn_nl *evpn_nl_open(char *err, size_t errlen);
void evpn_nl_close(struct evpn_nl *n);
int evpn_nl_fd(const struct evpn_nl *n);

/* A neighbour message (RTM_NEWNEIGH/RTM_DELNEIGH) decoded: 0, 1 when it is
 * another message type, -1 when malformed. */
int evpn_nl_decode(const struct nlmsghdr *h, struct evpn_nlev *m);

typedef void (*evpn_nl_cb)(void *arg, const struct evpn_nlev *m);
/* Drains the subscribed socket, calling cb per neighbour message. Returns
 * the number of messages, or -1 when notifications were lost (ENOBUFS):
 * the caller dumps again. *bad counts malformed messages. */
int evpn_nl_read(struct evpn_nl *n, evpn_nl_cb cb, void *arg, unsigned *bad);
/* Dumps AF_BRIDGE, AF_INET and AF_INET6 neighbours through cb; -1 on
 * error. */
int evpn_nl_dump(struct evpn_nl *n, evpn_nl_cb cb, void *arg, unsigned *bad);

/* The kernel side of struct evpn_kops. */
int evpn_nl_vn_create(struct evpn_nl *n, uint32_t vni,
                      const struct evpn_params *p, struct evpn_ifs *ifs,
                      char *err, size_t errlen);
/* By name, and only devices whose ifalias says they are ours. */
void evpn_nl_vn_destroy(struct evpn_nl *n, uint32_t vni,
                        const struct evpn_ifs *ifs);
/* Queued (0), sent together by evpn_nl_flush: zebra then reads them as one
 * burst. */
int evpn_nl_mac_write(struct evpn_nl *n, const struct evpn_ifs *ifs,
                      const uint8_t mac[6], int add);
int evpn_nl_ip_write(struct evpn_nl *n, const struct evpn_ifs *ifs, int family,
                     const uint8_t ip[16], const uint8_t mac[6], int add);
/* Sends the queued writes and reads their answers: how many failed (a
 * deletion of what is not there is no failure). */
int evpn_nl_flush(struct evpn_nl *n);
int evpn_nl_pending(const struct evpn_nl *n);

#endif
