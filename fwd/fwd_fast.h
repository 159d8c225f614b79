/* fwd_fast.h - the per-packet forwarding decision: one access frame or one
 * underlay packet in, transmit descriptors (iovecs into the received frame
 * plus a small per-copy header) out. No sockets here: the forwarding
 * thread flushes the queues with sendmmsg, the unit tests capture them. */
#ifndef FWD_FAST_H
#define FWD_FAST_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "fwd_int.h"

#define FWD_TXQ_LEN 64 /* frames per sendmmsg */

/* outer headers, the 4-byte tag, or a whole ARP/ND answer with its tag */
#define FWD_TXSLOT_HDR 96
struct fwd_txslot {
    uint8_t hdr[FWD_TXSLOT_HDR];
    struct iovec iov[3];
    size_t len;
};

struct fwd_txq {
    int fd;
    uint16_t port;     /* access port id, or FWD_TXQ_UNDERLAY */
    unsigned n;
    struct fwd_txslot s[FWD_TXQ_LEN];
    struct mmsghdr mm[FWD_TXQ_LEN];
};
#define FWD_TXQ_UNDERLAY 0xFFFF

struct fwd_out;
typedef void (*fwd_flush_fn)(struct fwd *f, struct fwd_out *o,
                             struct fwd_txq *q);

/* Where frames go during one batch. A NULL port queue means the port has
 * no socket (yet): frames to it are counted as tx-failed. */
struct fwd_out {
    struct fwd_txq *port_q[FWD_MAX_PORTS];
    struct fwd_txq *und_q;
    fwd_flush_fn flush; /* sends and empties one queue */
    void *ctx;
    uint32_t now;       /* seconds, for learned-entry timestamps */
    uint16_t ip_id;     /* outer IPv4 ID when DF is off */
    uint8_t snooped;    /* a snoop event was queued: signal snoop_fd */
};

/* Receive flags, from the ring's tp_status. */
#define FWD_RX_VLAN 1  /* TP_STATUS_VLAN_VALID: the tag is in tci; on the
                        * underlay (VID != 0 only): another VLAN, dropped */
#define FWD_RX_CSUM 2  /* TP_STATUS_CSUMNOTREADY: L4 checksum partial */

/* One frame received on access port `port`; a tag still in the data is
 * also accepted. The frame must stay valid until the queues are flushed
 * (and may be written: a partial checksum is completed in place). */
void fwd_access_rx(struct fwd *f, struct fwd_out *o, uint16_t port,
                   uint8_t *frame, size_t len, unsigned flags, uint16_t tci);
/* One packet received on the underlay (whole Ethernet frame). */
void fwd_underlay_rx(struct fwd *f, struct fwd_out *o, uint8_t *pkt,
                     size_t len, unsigned flags);
/* Sends everything queued. */
void fwd_out_flush(struct fwd *f, struct fwd_out *o);
void fwd_txq_init(struct fwd_txq *q, int fd, uint16_t port);

#endif
