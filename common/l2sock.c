/* l2sock.c - the one AF_PACKET user for NVDP: a socket bound to one
 * interface and EtherType, filtered in the kernel, batched receive. */
#include "config.h"
#include "l2sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

#define L2_BATCH_MAX 64
#define L2_MIN_FRAME 60 /* Ethernet minimum without FCS */
#define L2_RCVBUF (4 * 1024 * 1024)

/* Kernel filter: untagged frames (the kernel strips a received 802.1Q tag
 * into metadata, so it is asked for explicitly), addressed to us or to our
 * group, with our EtherType. Everything else never reaches userspace. */
static int
l2sock_attach_filter(struct l2sock *s, const uint8_t group[6])
{
    uint32_t g_hi = (uint32_t)group[0] << 24 | (uint32_t)group[1] << 16 |
                    (uint32_t)group[2] << 8 | group[3];
    uint32_t g_lo = (uint32_t)group[4] << 8 | group[5];
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS,
                         (uint32_t)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 10), /* -> 12 */
        /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS,
                         (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_HOST, 5, 0), /* 9 */
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_MULTICAST, 0, 7),
        /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, g_hi, 0, 5), /* -> 12 */
        /* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4),
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, g_lo, 0, 3), /* -> 12 */
        /* 9 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
        /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->ethertype, 0, 1),
        /* 11 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
        /* 12 */ BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]),
                              .filter = code};

    return setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                      sizeof(prog));
}

/* Frames queued before the filter was attached are read and dropped. */
static void
l2sock_drain(struct l2sock *s)
{
    uint8_t b[64];

    while (recv(s->fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) >= 0)
        ;
}

static int
l2sock_ifreq(struct l2sock *s, unsigned long req, struct ifreq *ifr)
{
    memset(ifr, 0, sizeof(*ifr));
    snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", s->ifname);
    return ioctl(s->fd, req, ifr);
}

int
l2sock_open(struct l2sock *s, const char *ifname, uint16_t ethertype,
            const uint8_t group[6])
{
    struct sockaddr_ll sll = {0};
    struct packet_mreq mr = {0};
    struct ifreq ifr;
    int one = 1, e;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (strlen(ifname) >= sizeof(s->ifname)) {
        errno = ENAMETOOLONG;
        log_warnx("l2sock: interface name too long: %s", ifname);
        return -1;
    }
    snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
    s->ethertype = ethertype;
    memcpy(s->group, group, 6);
    s->ifindex = (int)if_nametoindex(ifname);
    if (s->ifindex == 0) {
        log_warn("l2sock: %s", ifname);
        return -1;
    }
    /* Protocol 0: nothing is queued until the filter is on and we bind. */
    s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        log_warn("l2sock: %s: socket(AF_PACKET)", ifname);
        return -1;
    }
    if (l2sock_attach_filter(s, group) < 0) {
        log_warn("l2sock: %s: SO_ATTACH_FILTER", ifname);
        goto fail;
    }
    l2sock_drain(s);
    /* Bursts of batched frames (a resync, thousands of attaches) must not
     * overflow the default ~200 KB queue; FORCE works for root past
     * rmem_max, the plain option is the fallback. */
    int rcvbuf = L2_RCVBUF;
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
                   sizeof(rcvbuf)) < 0)
        (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                         sizeof(rcvbuf));
    if (setsockopt(s->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0) {
        log_warn("l2sock: %s: PACKET_AUXDATA", ifname);
        goto fail;
    }
    /* Control frames first: with a priority qdisc (pfifo_fast, prio, or
     * mqprio on a NIC) TC_PRIO_CONTROL puts ours ahead of queued data. */
    int prio = 7; /* TC_PRIO_CONTROL */
    (void)setsockopt(s->fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio));
#ifdef PACKET_IGNORE_OUTGOING
    /* Our own transmissions are not input (the filter drops them too). */
    (void)setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                     sizeof(one));
#endif
    sll.sll_family = AF_PACKET;
    /* ETH_P_ALL, not our EtherType: on a bridge port (a hypervisor's uplink
     * often is one) the bridge consumes frames before protocol handlers run;
     * taps see them first. The filter above keeps only ours. */
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = s->ifindex;
    if (bind(s->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        log_warn("l2sock: %s: bind", ifname);
        goto fail;
    }
    mr.mr_ifindex = s->ifindex;
    mr.mr_type = PACKET_MR_MULTICAST;
    mr.mr_alen = 6;
    memcpy(mr.mr_address, group, 6);
    if (setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
                   sizeof(mr)) < 0) {
        log_warn("l2sock: %s: PACKET_ADD_MEMBERSHIP", ifname);
        goto fail;
    }
    if (l2sock_ifreq(s, SIOCGIFHWADDR, &ifr) < 0) {
        log_warn("l2sock: %s: SIOCGIFHWADDR", ifname);
        goto fail;
    }
    memcpy(s->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (l2sock_mtu(s) == 0)
        goto fail;
    return 0;
fail:
    e = errno;
    close(s->fd);
    s->fd = -1;
    errno = e;
    return -1;
}

void
l2sock_close(struct l2sock *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

unsigned
l2sock_mtu(struct l2sock *s)
{
    struct ifreq ifr;

    if (l2sock_ifreq(s, SIOCGIFMTU, &ifr) < 0) {
        log_warn("l2sock: %s: SIOCGIFMTU", s->ifname);
        return 0;
    }
    s->mtu = (unsigned)ifr.ifr_mtu;
    return s->mtu;
}

/* Userspace re-check of what the filter should have done, and the checks
 * only metadata allows: 1 to deliver, 0 to drop. */
static int
l2sock_accept(struct l2sock *s, struct l2sock_rx *rx, const struct msghdr *mh,
              int flags)
{
    const struct sockaddr_ll *sll = mh->msg_name;

    if (flags & MSG_TRUNC || rx->len < NVDP_L2_HLEN) {
        s->rx_errors++;
        return 0;
    }
    if (sll->sll_pkttype == PACKET_OUTGOING ||
        sll->sll_pkttype == PACKET_OTHERHOST)
        goto filtered;
    for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)mh); c;
         c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
            c->cmsg_len < CMSG_LEN(sizeof(struct tpacket_auxdata)))
            continue;
        struct tpacket_auxdata aux;
        memcpy(&aux, CMSG_DATA(c), sizeof(aux));
        /* A tagged frame belongs to some VLAN, not to the access port's
         * untagged control channel. */
        if (aux.tp_status & TP_STATUS_VLAN_VALID || aux.tp_vlan_tci != 0)
            goto filtered;
    }
    if ((uint16_t)(rx->buf[12] << 8 | rx->buf[13]) != s->ethertype)
        goto filtered;
    memcpy(rx->dst, rx->buf, 6);
    memcpy(rx->src, rx->buf + 6, 6);
    if (rx->dst[0] & 1 && memcmp(rx->dst, s->group, 6) != 0)
        goto filtered;
    rx->payload = rx->buf + NVDP_L2_HLEN;
    rx->paylen = rx->len - NVDP_L2_HLEN;
    return 1;
filtered:
    s->rx_filtered++;
    return 0;
}

int
l2sock_recv(struct l2sock *s, struct l2sock_rx *rx, int n)
{
    struct mmsghdr mm[L2_BATCH_MAX];
    struct iovec iov[L2_BATCH_MAX];
    struct sockaddr_ll sll[L2_BATCH_MAX];
    union {
        char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata)) + 64];
        struct cmsghdr align;
    } ctl[L2_BATCH_MAX];
    int got = 0;

    if (n > L2_BATCH_MAX)
        n = L2_BATCH_MAX;
    /* Loop so that 0 really means "nothing pending", even when a whole
     * batch was dropped here. */
    while (got == 0) {
        memset(mm, 0, sizeof(mm[0]) * (size_t)n);
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = rx[i].buf;
            iov[i].iov_len = sizeof(rx[i].buf);
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
            mm[i].msg_hdr.msg_name = &sll[i];
            mm[i].msg_hdr.msg_namelen = sizeof(sll[i]);
            mm[i].msg_hdr.msg_control = ctl[i].buf;
            mm[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
        }
        int r = recvmmsg(s->fd, mm, (unsigned)n, MSG_DONTWAIT, NULL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return got;
            return -1;
        }
        if (r == 0)
            return got;
        for (int i = 0; i < r; i++) {
            rx[i].len = mm[i].msg_len;
            if (!l2sock_accept(s, &rx[i], &mm[i].msg_hdr,
                               mm[i].msg_hdr.msg_flags))
                continue;
            if (got != i) { /* compact: a dropped frame left a hole */
                memcpy(rx[got].buf, rx[i].buf, rx[i].len);
                rx[got].len = rx[i].len;
                memcpy(rx[got].src, rx[i].src, 6);
                memcpy(rx[got].dst, rx[i].dst, 6);
                rx[got].payload = rx[got].buf + NVDP_L2_HLEN;
                rx[got].paylen = rx[i].paylen;
            }
            got++;
        }
        s->rx_frames += (uint64_t)got;
        if (r < n)
            break; /* the queue is empty */
    }
    return got;
}

uint64_t
l2sock_kernel_drops(struct l2sock *s)
{
    struct tpacket_stats st;
    socklen_t len = sizeof(st);

    /* The kernel resets its counters on each read: accumulate. */
    if (s->fd >= 0 &&
        getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
        s->rx_kernel_drops += st.tp_drops;
    return s->rx_kernel_drops;
}

int
l2sock_send(struct l2sock *s, const uint8_t dst[6], const uint8_t *payload,
            size_t len)
{
    static const uint8_t zeros[L2_MIN_FRAME];
    struct sockaddr_ll sll = {0};
    uint8_t hdr[NVDP_L2_HLEN];
    struct iovec iov[3];
    struct msghdr mh = {0};
    int niov = 2;

    if (len > s->mtu) {
        s->tx_errors++;
        errno = EMSGSIZE;
        return -1;
    }
    memcpy(hdr, dst, 6);
    memcpy(hdr + 6, s->mac, 6);
    hdr[12] = (uint8_t)(s->ethertype >> 8);
    hdr[13] = (uint8_t)s->ethertype;
    iov[0] = (struct iovec){hdr, sizeof(hdr)};
    iov[1] = (struct iovec){(void *)payload, len};
    /* Pad short frames ourselves: not every path does it, and the NVDP
     * header's length lets the receiver ignore the padding. */
    if (sizeof(hdr) + len < L2_MIN_FRAME)
        iov[niov++] = (struct iovec){(void *)zeros,
                                     L2_MIN_FRAME - sizeof(hdr) - len};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(s->ethertype);
    sll.sll_ifindex = s->ifindex;
    sll.sll_halen = 6;
    memcpy(sll.sll_addr, dst, 6);
    mh.msg_name = &sll;
    mh.msg_namelen = sizeof(sll);
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)niov;
    /* A frame the interface refused with ENOBUFS (its queue, or a veth
     * peer's receive ring, is full of data) was never sent: the caller
     * keeps it and tries again from its event loop (txq.h). Never a wait
     * here: the control loop runs at realtime priority (ctlprio.h), and a
     * spin would hold its CPU from the very threads that drain the queue. */
    if (sendmsg(s->fd, &mh, MSG_DONTWAIT) < 0) {
        int e = errno;
        if (e != ENOBUFS)
            log_debug("l2sock: %s: frame not sent: %s", s->ifname,
                      strerror(e));
        errno = e;
        s->tx_errors++;
        return -1;
    }
    s->tx_frames++;
    return 0;
}
