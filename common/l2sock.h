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
    uint8_t group[6];
    uint64_t rx_frames, tx_frames, tx_errors, rx_errors;
    /* Dropped in userspace after the kernel filter: tagged (aux data), our
     * own, for another host, another group, another EtherType. */
    uint64_t rx_filtered;
    uint64_t rx_kernel_drops; /* queue overflows, see l2sock_kernel_drops */
};
#define NVDP_L2_HLEN 14 /* dst, src, EtherType */

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
/* Receives up to n (<= 64) frames with recvmmsg; frames with another
 * EtherType, tagged frames, our own, and frames for another host or group
 * are not delivered. Returns count, 0 when nothing is pending, -1 on
 * error. paylen may include Ethernet padding. */
int l2sock_recv(struct l2sock *s, struct l2sock_rx *rx, int n);
/* Sends one frame: Ethernet header (dst, our MAC, EtherType) + payload
 * (len <= MTU, else -1/EMSGSIZE), padded to the 60-byte minimum. Never
 * waits: -1 with errno (ENOBUFS: the interface's queue is full of data,
 * the caller retries later, see txq.h); counted in tx_errors. */
int l2sock_send(struct l2sock *s, const uint8_t dst[6],
                const uint8_t *payload, size_t len);
/* Frames the kernel dropped because our receive queue was full (4 MB),
 * accumulated into s->rx_kernel_drops and returned. For "counters". */
uint64_t l2sock_kernel_drops(struct l2sock *s);
/* Re-reads the interface MTU (e.g. after a change). */
unsigned l2sock_mtu(struct l2sock *s);

#endif
