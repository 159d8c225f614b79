/* l2sock.h - the only module that opens AF_PACKET sockets for NVDP: bound
 * to one interface, a classic BPF filter passing only our EtherType. */
#ifndef L2SOCK_H
#define L2SOCK_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct l2sock {
    int fd;
    int ifindex;
    unsigned mtu;
    uint16_t ethertype;
    uint8_t mac[6];
    char ifname[IF_NAMESIZE];
    uint64_t rx_frames, tx_frames, tx_errors, rx_errors;
};

struct l2sock_rx {
    uint8_t buf[9216 + 64]; /* whole Ethernet frame */
    size_t len;
    uint8_t src[6];
    uint8_t dst[6];
    const uint8_t *payload; /* after the EtherType */
    size_t paylen;
};

/* Opens a non-blocking socket on ifname for ethertype, joins the group MAC
 * (so frames to it are received without promiscuous mode). 0 / -1 with
 * errno set and a log line. */
int l2sock_open(struct l2sock *s, const char *ifname, uint16_t ethertype,
                const uint8_t group[6]);
void l2sock_close(struct l2sock *s);
/* Receives up to n frames with one recvmmsg; frames with another
 * EtherType or tagged frames are not delivered. Returns count, 0 when
 * nothing is pending, -1 on error. */
int l2sock_recv(struct l2sock *s, struct l2sock_rx *rx, int n);
/* Sends one frame: Ethernet header (dst, our MAC, EtherType) + payload. */
int l2sock_send(struct l2sock *s, const uint8_t dst[6],
                const uint8_t *payload, size_t len);
/* Re-reads the interface MTU (e.g. after a change). */
unsigned l2sock_mtu(struct l2sock *s);

#endif
