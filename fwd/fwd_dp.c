/* fwd_dp.c - the forwarder's packet path: the forwarding thread (TPACKET_V3
 * rx rings on the access ports and the underlay, sendmmsg batches) and the
 * housekeeping thread (learning, ageing, next-hop resolution, MTU). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fwd_fast.h"
#include "fwd_int.h"
#include "fwd_nl.h"
#include "fwd_xdp.h"
#include "log.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* Ring geometry: TPACKET_V3 hands over whole blocks, filled by the kernel
 * and retired after RING_TOV_MS even if not full, so latency stays low
 * at low rates while a busy ring is read one block (hundreds of frames)
 * per wake-up. */
#define ACC_BLOCK (1u << 17)
#define ACC_NBLOCKS 32
#define UND_BLOCK (1u << 18)
#define UND_NBLOCKS 64
#define RING_TOV_MS 1
#define BLOCKS_PER_PASS 4

struct ring {
    int fd;
    int ifindex;
    uint8_t *map;
    size_t maplen;
    unsigned bsize, nblocks, cur;
};

struct fwd_dp {
    struct fwd *f;
    pthread_t thr, hk;
    int stop;
    int cpu;
    int evfd;
    int udp_fd;   /* holds our VXLAN port; a filter drops all it receives */
    int nl_fd;
    int und_ifindex;
    struct ring und;
    struct ring acc[FWD_MAX_PORTS];
    char acc_name[FWD_MAX_PORTS][16];
    uint32_t ports_gen;
    int need_retry;  /* some wanted socket is closed: reopen once a second */
    struct fwd_out out;
    struct fwd_txq und_q;
    struct fwd_txq *acc_q[FWD_MAX_PORTS];
};

/* ---- sockets and rings ------------------------------------------------- */

static int
attach_filter(int fd, struct sock_filter *code, unsigned short len)
{
    struct sock_fprog prog = {.len = len, .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* Access ports: everything but our own transmissions and untagged NVDP
 * (nve-agent's l2sock owns those). Other untagged frames still come up so
 * they are counted as drops. */
static int
filter_access(int fd, uint16_t nvdp_type)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 4, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nvdp_type, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0x40000),
    };
    return attach_filter(fd, code, sizeof(code) / sizeof(code[0]));
}

/* Underlay: only UDP to our VXLAN port on our local address, no fragment. */
static int
filter_underlay(int fd, const struct fwd *f)
{
    uint32_t w[4];
    memcpy(w, f->local_ip, 16);
    if (f->local_family == 4) {
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 11, 0),
            BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 9),
            BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 7),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 30),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[0]), 0, 5),
            BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
            BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 3, 0),
            BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
            BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, f->p.udp_port, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, 0),
            BPF_STMT(BPF_RET | BPF_K, 0x40000),
        };
        return attach_filter(fd, code, sizeof(code) / sizeof(code[0]));
    }
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 14, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 12),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 10),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 38),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[0]), 0, 8),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 42),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[1]), 0, 6),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 46),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[2]), 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 50),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[3]), 0, 2),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 56),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, f->p.udp_port, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0x40000),
    };
    return attach_filter(fd, code, sizeof(code) / sizeof(code[0]));
}

static void
ring_close(struct ring *r)
{
    if (r->map != NULL)
        munmap(r->map, r->maplen);
    if (r->fd >= 0)
        close(r->fd);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

/* Opens a TPACKET_V3 ring on ifname; the filter is attached before the
 * bind so no unfiltered frame is ever queued. */
static int
ring_open(struct ring *r, const char *ifname, unsigned bsize, unsigned nblocks,
          int (*filter)(int, const void *), const void *farg)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) {
        log_warn("fwd: interface %s", ifname);
        return -1;
    }
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("fwd: AF_PACKET socket");
        return -1;
    }
    r->fd = fd;
    r->ifindex = ifindex;
    int v = TPACKET_V3, one = 1, sb = 4 << 20;
    struct tpacket_req3 req = {
        .tp_block_size = bsize,
        .tp_block_nr = nblocks,
        .tp_frame_size = 2048,
        .tp_frame_nr = bsize / 2048 * nblocks,
        .tp_retire_blk_tov = RING_TOV_MS,
    };
    if (filter(fd, farg) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
        log_warn("fwd: %s: ring setup", ifname);
        ring_close(r);
        return -1;
    }
    /* not fatal: older kernels lack them, the filter covers outgoing */
    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
    r->maplen = (size_t)bsize * nblocks;
    r->map = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd, 0);
    if (r->map == MAP_FAILED)
        r->map = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        log_warn("fwd: %s: mmap ring", ifname);
        ring_close(r);
        return -1;
    }
    r->bsize = bsize;
    r->nblocks = nblocks;
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = ifindex,
    };
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        log_warn("fwd: %s: bind", ifname);
        ring_close(r);
        return -1;
    }
    return 0;
}

static int
acc_filter(int fd, const void *arg)
{
    return filter_access(fd, *(const uint16_t *)arg);
}

static int
und_filter(int fd, const void *arg)
{
    return filter_underlay(fd, arg);
}

/* ---- transmit ----------------------------------------------------------- */

static void
dp_flush(struct fwd *f, struct fwd_out *o, struct fwd_txq *q)
{
    unsigned sent = 0, failed = 0;
    uint64_t bytes = 0;
    while (sent < q->n) {
        int r = sendmmsg(q->fd, q->mm + sent, q->n - sent, MSG_DONTWAIT);
        if (r > 0) {
            for (unsigned i = sent; i < sent + (unsigned)r; i++)
                bytes += q->s[i].len;
            sent += (unsigned)r;
            continue;
        }
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == ENOBUFS || errno == ENETDOWN ||
            errno == ENXIO) {
            fwd_ctr_add(&f->drops[FWD_DROP_TX_FAIL], q->n - sent);
            break;
        }
        /* the kernel refused this frame only (e.g. larger than the
         * port's MTU): count it and send the rest */
        fwd_ctr_add(&f->drops[FWD_DROP_TX_FAIL], 1);
        failed++;
        sent++;
    }
    unsigned ok = sent - failed;
    fwd_ctr_add(&f->tx_batches, 1);
    if (q->port == FWD_TXQ_UNDERLAY) {
        fwd_ctr_add(&f->und_tx_pkts, ok);
        fwd_ctr_add(&f->und_tx_bytes, bytes);
    } else {
        fwd_ctr_add(&f->ports[q->port].c.tx_pkts, ok);
        fwd_ctr_add(&f->ports[q->port].c.tx_bytes, bytes);
    }
    q->n = 0;
}

/* ---- the forwarding thread ---------------------------------------------- */

static void
acc_close(struct fwd_dp *dp, int p)
{
    ring_close(&dp->acc[p]);
    free(dp->acc_q[p]);
    dp->acc_q[p] = NULL;
    dp->out.port_q[p] = NULL;
    dp->acc_name[p][0] = '\0';
}

/* Brings the access sockets in line with the port table (port added,
 * removed or renamed; or retry: reopen what is wanted but closed, e.g. an
 * interface that did not exist yet or was recreated). Runs in the
 * forwarding thread between batches; takes wlock, never per packet. */
static void
sync_ports(struct fwd_dp *dp, int retry)
{
    struct fwd *f = dp->f;
    uint32_t gen = __atomic_load_n(&f->ports_gen, __ATOMIC_ACQUIRE);
    if (gen == dp->ports_gen && !retry)
        return;
    dp->ports_gen = gen;
    dp->need_retry = 0;
    uint16_t et = f->p.nvdp_ethertype ? f->p.nvdp_ethertype : 0x88B5;
    pthread_mutex_lock(&f->wlock); /* ifnames are written under it */
    for (int p = 0; p < FWD_MAX_PORTS; p++) {
        struct fwd_port *pt = &f->ports[p];
        int want = pt->used;
        if (dp->acc[p].fd >= 0 && (!want || strcmp(dp->acc_name[p], pt->ifname)))
            acc_close(dp, p);
        if (!want || dp->acc[p].fd >= 0)
            continue;
        if (ring_open(&dp->acc[p], pt->ifname, ACC_BLOCK, ACC_NBLOCKS,
                      acc_filter, &et) < 0) {
            dp->need_retry = 1; /* frames to it: tx-failed until it opens */
            continue;
        }
        dp->acc_q[p] = malloc(sizeof(struct fwd_txq));
        if (dp->acc_q[p] == NULL) {
            acc_close(dp, p);
            dp->need_retry = 1;
            continue;
        }
        fwd_txq_init(dp->acc_q[p], dp->acc[p].fd, (uint16_t)p);
        dp->out.port_q[p] = dp->acc_q[p];
        snprintf(dp->acc_name[p], sizeof(dp->acc_name[p]), "%s", pt->ifname);
        log_info("fwd: access port %d on %s", p, pt->ifname);
    }
    pthread_mutex_unlock(&f->wlock);
    if (dp->und.fd < 0) {
        if (ring_open(&dp->und, f->p.underlay_if, UND_BLOCK, UND_NBLOCKS,
                      und_filter, f) < 0) {
            dp->need_retry = 1;
        } else {
            fwd_txq_init(&dp->und_q, dp->und.fd, FWD_TXQ_UNDERLAY);
            dp->out.und_q = &dp->und_q;
            log_info("fwd: underlay %s reopened", f->p.underlay_if);
        }
    }
}

/* A socket whose interface went away reports an error forever: close it
 * (the retry in sync_ports reopens it once the interface is back) rather
 * than spin on poll. */
static void
ring_failed(struct fwd_dp *dp, int port)
{
    struct ring *r = port < 0 ? &dp->und : &dp->acc[port];
    int err = 0;
    socklen_t sl = sizeof(err);
    getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
    log_warnx("fwd: %s: %s; closed, will reopen",
              port < 0 ? dp->f->p.underlay_if : dp->acc_name[port],
              err ? strerror(err) : "socket error");
    if (port < 0) {
        dp->out.und_q = NULL;
        ring_close(&dp->und);
    } else {
        acc_close(dp, port);
    }
    dp->need_retry = 1;
}

/* Reads up to BLOCKS_PER_PASS blocks; returns how many were read. */
static int
ring_read(struct fwd_dp *dp, struct ring *r, int port)
{
    int nb = 0;
    for (; nb < BLOCKS_PER_PASS; nb++) {
        struct tpacket_block_desc *bd =
            (void *)(r->map + (size_t)r->cur * r->bsize);
        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
              TP_STATUS_USER))
            break;
        uint32_t n = bd->hdr.bh1.num_pkts;
        uint8_t *pp = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
        for (uint32_t i = 0; i < n; i++) {
            struct tpacket3_hdr *h = (void *)pp;
            uint8_t *frame = pp + h->tp_mac;
            /* a truncated copy (larger than a block) counts as a runt */
            size_t len = h->tp_snaplen < h->tp_len ? 0 : h->tp_snaplen;
            /* on the underlay a priority tag (VID 0, 802.1p) is no VLAN */
            int tagged = (h->tp_status & TP_STATUS_VLAN_VALID) &&
                (port >= 0 || (h->hv1.tp_vlan_tci & 0x0fff) != 0);
            unsigned fl = (tagged ? FWD_RX_VLAN : 0) |
                (h->tp_status & TP_STATUS_CSUMNOTREADY ? FWD_RX_CSUM : 0);
            if (port < 0)
                fwd_underlay_rx(dp->f, &dp->out, frame, len, fl);
            else
                fwd_access_rx(dp->f, &dp->out, (uint16_t)port, frame, len, fl,
                              h->hv1.tp_vlan_tci);
            pp += h->tp_next_offset;
        }
        /* the frames are referenced by the queued iovecs until sent */
        fwd_out_flush(dp->f, &dp->out);
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL,
                         __ATOMIC_RELEASE);
        r->cur = (r->cur + 1) % r->nblocks;
    }
    return nb;
}

static void *
fwd_thread(void *arg)
{
    struct fwd_dp *dp = arg;
    struct fwd *f = dp->f;
    struct pollfd pfd[FWD_MAX_PORTS + 2];
    int pport[FWD_MAX_PORTS + 2];
    struct timespec ts;
    uint32_t last_retry = 0;
    __atomic_store_n(&f->online, 1, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&dp->stop, __ATOMIC_ACQUIRE)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        dp->out.now = (uint32_t)ts.tv_sec;
        int retry = dp->need_retry && dp->out.now != last_retry;
        if (retry)
            last_retry = dp->out.now; /* at most once a second */
        sync_ports(dp, retry);
        int work = dp->und.fd >= 0 ? ring_read(dp, &dp->und, -1) : 0;
        for (int p = 0; p < FWD_MAX_PORTS; p++)
            if (dp->acc[p].fd >= 0)
                work += ring_read(dp, &dp->acc[p], p);
        fwd_qs_tick(f);
        if (dp->out.snooped) { /* once per pass, not per frame */
            uint64_t one = 1;
            dp->out.snooped = 0;
            if (write(f->snoop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                fwd_ctr_add(&f->snoop_overflow, 1);
        }
        if (work)
            continue;
        int n = 0;
        pfd[n] = (struct pollfd){dp->evfd, POLLIN, 0};
        pport[n++] = -2;
        if (dp->und.fd >= 0) {
            pfd[n] = (struct pollfd){dp->und.fd, POLLIN, 0};
            pport[n++] = -1;
        }
        for (int p = 0; p < FWD_MAX_PORTS; p++)
            if (dp->acc[p].fd >= 0) {
                pfd[n] = (struct pollfd){dp->acc[p].fd, POLLIN, 0};
                pport[n++] = p;
            }
        /* idle: tell writers we hold no reference while we sleep */
        __atomic_store_n(&f->online, 0, __ATOMIC_RELEASE);
        int rc = poll(pfd, (nfds_t)n, dp->need_retry ? 250 : 100);
        __atomic_store_n(&f->online, 1, __ATOMIC_RELEASE);
        /* store-load order: no table read may pass the store above */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        fwd_qs_tick(f);
        for (int i = 1; rc > 0 && i < n; i++)
            if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
                ring_failed(dp, pport[i]);
    }
    __atomic_store_n(&f->online, 0, __ATOMIC_RELEASE);
    return NULL;
}

/* ---- the housekeeping thread -------------------------------------------- */

static void
hk_learn(struct fwd *f, uint32_t now)
{
    uint32_t head = __atomic_load_n(&f->learn_head, __ATOMIC_ACQUIRE);
    uint32_t tail = f->learn_tail;
    if (head == tail)
        return;
    pthread_mutex_lock(&f->wlock);
    for (; tail != head; tail++)
        fwd_learn_apply(f, &f->learn[tail & (FWD_LEARN_RING - 1)], now);
    fwd_xdp_flush(f); /* ours, not left to the control plane's next flush */
    pthread_mutex_unlock(&f->wlock);
    __atomic_store_n(&f->learn_tail, tail, __ATOMIC_RELEASE);
}

static void
hk_underlay(struct fwd_dp *dp)
{
    struct fwd *f = dp->f;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", f->p.underlay_if);
    if (ioctl(dp->udp_fd, SIOCGIFMTU, &ifr) == 0 &&
        (unsigned)ifr.ifr_mtu != f->underlay_mtu) {
        log_info("fwd: underlay %s MTU %d", f->p.underlay_if, ifr.ifr_mtu);
        pthread_mutex_lock(&f->wlock);
        __atomic_store_n(&f->underlay_mtu, (unsigned)ifr.ifr_mtu, __ATOMIC_RELAXED);
        fwd_xdp_cfg(f);
        pthread_mutex_unlock(&f->wlock);
    }
    if (ioctl(dp->udp_fd, SIOCGIFHWADDR, &ifr) == 0 &&
        memcmp(ifr.ifr_hwaddr.sa_data, f->underlay_mac, 6) != 0) {
        pthread_mutex_lock(&f->wlock);
        memcpy(f->underlay_mac, ifr.ifr_hwaddr.sa_data, 6);
        fwd_remote_rebuild_all(f);
        pthread_mutex_unlock(&f->wlock);
    }
}

/* Resolves the next hop of remote VTEPs: unresolved ones every call (once
 * a second), resolved ones only when `all` (every 5 s, to follow a changed
 * neighbour). A missing neighbour is solicited by sending one empty
 * datagram to the discard port, which makes the kernel resolve it. Costs
 * a route lookup and a neighbour dump per remote: fine for hundreds. */
static void
hk_neigh(struct fwd_dp *dp, int all)
{
    struct fwd *f = dp->f;
    for (int r = 0; r < FWD_MAX_REMOTES; r++) {
        uint8_t fam, ip[16], mac[6], nh[16];
        pthread_mutex_lock(&f->wlock);
        struct fwd_remote *rm = &f->remotes[r];
        int used = rm->used && (all || !rm->resolved);
        fam = rm->family;
        memcpy(ip, rm->ip, 16);
        pthread_mutex_unlock(&f->wlock);
        if (!used || fam != f->local_family)
            continue;
        if (fwd_nl_nexthop_mac(dp->nl_fd, fam, ip, dp->und_ifindex, mac, nh) < 0) {
            struct sockaddr_storage ss;
            socklen_t sl;
            memset(&ss, 0, sizeof(ss));
            if (fam == 4) {
                struct sockaddr_in *s4 = (void *)&ss;
                s4->sin_family = AF_INET;
                s4->sin_port = htons(9);
                memcpy(&s4->sin_addr, ip, 4);
                sl = sizeof(*s4);
            } else {
                struct sockaddr_in6 *s6 = (void *)&ss;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(9);
                memcpy(&s6->sin6_addr, ip, 16);
                sl = sizeof(*s6);
            }
            sendto(dp->udp_fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
            continue; /* keep a previously known MAC meanwhile */
        }
        pthread_mutex_lock(&f->wlock);
        if (rm->used && rm->family == fam && memcmp(rm->ip, ip, 16) == 0 &&
            (!rm->resolved || memcmp(rm->hdr, mac, 6) != 0)) {
            char ms[NVDP_MAC_STRLEN];
            nvdp_mac_fmt(mac, ms);
            log_info("fwd: remote %s via %s", rm->ipstr, ms);
            fwd_remote_set_nexthop(f, (uint16_t)r, mac);
        }
        pthread_mutex_unlock(&f->wlock);
    }
}

static void *
hk_thread(void *arg)
{
    struct fwd_dp *dp = arg;
    struct fwd *f = dp->f;
    unsigned tick = 0;
    while (!__atomic_load_n(&dp->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pfd = {dp->evfd, POLLIN, 0};
        poll(&pfd, 1, 50);
        uint32_t now = fwd_now_s();
        hk_learn(f, now);
        if (tick++ % 20 == 0) { /* once a second */
            hk_underlay(dp);
            hk_neigh(dp, tick % 100 == 1);
            fwd_xdp_sync(f);
            pthread_mutex_lock(&f->wlock);
            fwd_age(f, now);
            fwd_xdp_flush(f);
            pthread_mutex_unlock(&f->wlock);
        }
    }
    return NULL;
}

/* ---- start / stop ------------------------------------------------------- */

static int
udp_hold(struct fwd *f)
{
    int fam = f->local_family == 4 ? AF_INET : AF_INET6;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sock_filter none[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (fam == AF_INET) {
        struct sockaddr_in *s4 = (void *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(f->p.udp_port);
        memcpy(&s4->sin_addr, f->local_ip, 4);
        sl = sizeof(*s4);
    } else {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        struct sockaddr_in6 *s6 = (void *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(f->p.udp_port);
        memcpy(&s6->sin6_addr, f->local_ip, 16);
        sl = sizeof(*s6);
    }
    /* The socket exists so the kernel does not answer every VXLAN packet
     * with an ICMP port unreachable; its filter drops what it gets. */
    if (attach_filter(fd, none, 1) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        log_warn("fwd: cannot hold UDP port %u on %s", f->p.udp_port,
                 f->p.local_ip);
        close(fd);
        return -1;
    }
    return fd;
}

static void
dp_free(struct fwd_dp *dp)
{
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        if (dp->acc[p].fd >= 0)
            acc_close(dp, p);
    ring_close(&dp->und);
    if (dp->udp_fd >= 0)
        close(dp->udp_fd);
    if (dp->nl_fd >= 0)
        close(dp->nl_fd);
    if (dp->evfd >= 0)
        close(dp->evfd);
    free(dp);
}

int
fwd_start(struct fwd *f, int cpu)
{
    if (f->dp != NULL)
        return 0;
    if (f->p.underlay_if[0] == '\0' || f->local_family == 0) {
        log_warnx("fwd: no underlay interface or local address: "
                  "forwarder not started (tables only)");
        return -1;
    }
    struct fwd_dp *dp = calloc(1, sizeof(*dp));
    if (dp == NULL)
        return -1;
    dp->f = f;
    dp->cpu = cpu;
    dp->udp_fd = dp->nl_fd = dp->evfd = -1;
    dp->und.fd = -1;
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        dp->acc[p].fd = -1;
    dp->ports_gen = __atomic_load_n(&f->ports_gen, __ATOMIC_ACQUIRE) - 1;
    dp->und_ifindex = (int)if_nametoindex(f->p.underlay_if);
    if (dp->und_ifindex == 0) {
        log_warn("fwd: underlay interface %s", f->p.underlay_if);
        goto fail;
    }
    if ((dp->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (dp->nl_fd = fwd_nl_open()) < 0 || (dp->udp_fd = udp_hold(f)) < 0)
        goto fail;
    hk_underlay(dp);
    if (ring_open(&dp->und, f->p.underlay_if, UND_BLOCK, UND_NBLOCKS,
                  und_filter, f) < 0)
        goto fail;
    fwd_txq_init(&dp->und_q, dp->und.fd, FWD_TXQ_UNDERLAY);
    dp->out.und_q = &dp->und_q;
    dp->out.flush = dp_flush;
    dp->out.ctx = dp;
    hk_neigh(dp, 1);
    if (pthread_create(&dp->thr, NULL, fwd_thread, dp) != 0)
        goto fail;
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (pthread_setaffinity_np(dp->thr, sizeof(set), &set) != 0)
            log_warnx("fwd: cannot pin the forwarding thread to CPU %d", cpu);
    }
    pthread_setname_np(dp->thr, "nve-fwd");
    /* the housekeeping thread attaches the fast path (now that the frames
     * it passes have a reader) and follows the interfaces: verifying the
     * program takes a fraction of a second per interface, which the
     * control plane does not wait for */
    if (pthread_create(&dp->hk, NULL, hk_thread, dp) != 0) {
        __atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
        pthread_join(dp->thr, NULL);
        fwd_xdp_detach_all(f);
        goto fail;
    }
    pthread_setname_np(dp->hk, "nve-fwd-hk");
    pthread_mutex_lock(&f->wlock);
    f->dp = dp;
    pthread_mutex_unlock(&f->wlock);
    log_info("fwd: forwarding on underlay %s (%s, UDP %u, MTU %u)%s, XDP "
             "fast path %s%s", f->p.underlay_if, f->p.local_ip,
             f->p.udp_port, f->underlay_mtu, cpu >= 0 ? ", pinned" : "",
             !f->p.fastpath ? "off (configured)" : f->xdp ? "being attached"
             : "off: ", f->p.fastpath && !f->xdp ? f->xdp_why : "");
    return 0;
fail:
    dp_free(dp);
    return -1;
}

void
fwd_stop(struct fwd *f)
{
    struct fwd_dp *dp = f->dp;
    if (dp == NULL)
        return;
    uint64_t one = 1;
    __atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
    if (write(dp->evfd, &one, sizeof(one)) < 0)
        log_warn("fwd: stop");
    pthread_join(dp->thr, NULL);
    pthread_join(dp->hk, NULL);
    fwd_xdp_detach_all(f);
    pthread_mutex_lock(&f->wlock);
    f->dp = NULL;
    pthread_mutex_unlock(&f->wlock);
    dp_free(dp);
}
