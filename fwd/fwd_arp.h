/* fwd_arp.h - ARP and IPv6 neighbour discovery as the forwarder's proxy and
 * snooping see them (EVPN, RFC 7432 10): what an access frame asks or
 * announces, and the answer the forwarder gives for a remote MAC+IP.
 * Pure: buffers in, buffers out. */
#ifndef FWD_ARP_H
#define FWD_ARP_H

#include <stddef.h>
#include <stdint.h>

enum fwd_arp_kind {
    FWD_ARP_NONE = 0,
    FWD_ARP_REQUEST,  /* ARP request (not a probe): who has target? */
    FWD_ARP_ANNOUNCE, /* gratuitous ARP: sender IP == target IP */
    FWD_ND_SOLICIT,   /* neighbour solicitation (not DAD) for target */
    FWD_ND_ANNOUNCE,  /* unsolicited neighbour advertisement of target */
};

struct fwd_arp {
    uint8_t kind;          /* enum fwd_arp_kind */
    uint8_t family;        /* 4 or 6 */
    uint8_t target[16];    /* the address asked for, or announced */
    uint8_t sender[16];    /* the asker's address */
    uint8_t sender_mac[6]; /* the asker's MAC */
};

/* eth is an untagged frame's first 12 bytes (MACs), et its EtherType and
 * what follows (len bytes). Returns the kind (also in a->kind). IPv6 only
 * without extension headers, hop limit 255 (RFC 4861 7.1). */
int fwd_arp_parse(const uint8_t *eth, const uint8_t *et, size_t len,
                  struct fwd_arp *a);

/* The answer to a REQUEST or SOLICIT as target_mac: an untagged Ethernet
 * frame written to buf (FWD_ARP_REPLY_MAX bytes); returns its length, 0
 * for another kind. An ARP reply is padded to 60 bytes; a neighbour
 * advertisement has S and O set and the target's link-layer option. */
#define FWD_ARP_REPLY_MAX 86
size_t fwd_arp_reply(const struct fwd_arp *a, const uint8_t target_mac[6],
                     uint8_t *buf);

#endif
