/* nl_watch.c - when did the kernel's fdb say so? The EVPN bench's clock on
 * the kernel side (the anchor's data plane, and nve-agent's shadow
 * devices). Subscribes to RTNLGRP_NEIGH in the current network namespace,
 * prints "ready" once subscribed, then waits:
 *
 *   nl_watch count VXLAN_DEV N TIMEOUT_S
 *       until N distinct MACs have their bridge entry on VXLAN_DEV;
 *       prints "at PCT MS" when 10, 50 and 90 % of N were there
 *   nl_watch mac VXLAN_DEV MAC TIMEOUT_S
 *       until MAC's bridge entry is on VXLAN_DEV (the old NVE of a move
 *       points away; its self entry may be a stale one that does not change)
 *
 * and prints the CLOCK_MONOTONIC time in ms of the message that completed
 * it (or "timeout", or "overrun" when notifications were lost). Only the
 * kernel's own notifications are read.
 *
 * In C, not Python: on the loaded 2-core host a Python listener took 20 s
 * to read a 20,000-message burst that the kernel had written in under one,
 * and timed itself instead of the kernel (and overran at 10,000). */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nvdp.h"

#ifndef AF_BRIDGE
#define AF_BRIDGE 7
#endif

static double
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The distinct MACs seen, open addressing (N is at most a few 10,000). */
struct macset {
    uint64_t *k; /* MAC + 1 (0: free), tombstone UINT64_MAX */
    size_t cap, n;
};

static size_t
ms_slot(const struct macset *s, uint64_t k, int for_insert)
{
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    size_t tomb = SIZE_MAX;

    for (;; i = (i + 1) & (s->cap - 1)) {
        if (s->k[i] == k)
            return i;
        if (s->k[i] == UINT64_MAX && tomb == SIZE_MAX)
            tomb = i;
        if (s->k[i] == 0)
            return for_insert && tomb != SIZE_MAX ? tomb : i;
    }
}

static void
ms_update(struct macset *s, const uint8_t mac[6], int add)
{
    uint64_t k = 1;
    size_t i;

    for (int b = 0; b < 6; b++)
        k = k << 8 | mac[b];
    i = ms_slot(s, k, add);
    if (add && s->k[i] != k) {
        s->k[i] = k;
        s->n++;
    } else if (!add && s->k[i] == k) {
        s->k[i] = UINT64_MAX;
        s->n--;
    }
}

static void
usage(void)
{
    fprintf(stderr, "usage: nl_watch count VXLAN_DEV N TIMEOUT_S\n"
                    "       nl_watch mac VXLAN_DEV MAC TIMEOUT_S\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static uint8_t buf[1 << 16];
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = 1 << (RTNLGRP_NEIGH - 1)};
    struct macset set = {0};
    uint8_t want_mac[6];
    long want = 0, marks[3];
    int count, fd, sz = 64 << 20, dev, m = 0;
    double deadline;

    if (argc != 5)
        usage();
    count = strcmp(argv[1], "count") == 0;
    if (!count && strcmp(argv[1], "mac") != 0)
        usage();
    if ((dev = (int)if_nametoindex(argv[2])) == 0) {
        fprintf(stderr, "nl_watch: %s: no such device\n", argv[2]);
        return 2;
    }
    if (count) {
        if ((want = atol(argv[3])) <= 0)
            usage();
        for (int p = 0; p < 3; p++)
            marks[p] = (want * (p == 0 ? 10 : p == 1 ? 50 : 90) + 99) / 100;
        for (set.cap = 64; set.cap < (size_t)want * 4; set.cap *= 2)
            ;
        if ((set.k = calloc(set.cap, sizeof(*set.k))) == NULL)
            return 1;
    } else if (nvdp_mac_parse(argv[3], want_mac) < 0) {
        usage();
    }
    deadline = mono_ms() + atof(argv[4]) * 1e3;
    if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0 ||
        (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 &&
         setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("nl_watch: netlink");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (mono_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        struct sockaddr_nl from;
        socklen_t fl = sizeof(from);
        ssize_t len;

        if (poll(&pfd, 1, 200) <= 0)
            continue;
        len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
                       (struct sockaddr *)&from, &fl);
        if (len < 0 && errno == ENOBUFS) {
            printf("overrun\n");
            return 1;
        }
        if (len <= 0 || from.nl_pid != 0)
            continue;
        /* NLMSG_OK compares signed with unsigned: the walk by hand */
        for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)len;) {
            struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
            struct ndmsg *nd = NLMSG_DATA(h);

            if (h->nlmsg_len < sizeof(*h) || off + h->nlmsg_len > (size_t)len)
                break;
            off += NLMSG_ALIGN(h->nlmsg_len);
            const uint8_t *lladdr = NULL;
            int master = 0, alen;

            if ((h->nlmsg_type != RTM_NEWNEIGH &&
                 h->nlmsg_type != RTM_DELNEIGH) ||
                h->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)) ||
                nd->ndm_family != AF_BRIDGE || nd->ndm_ifindex != dev ||
                (nd->ndm_flags & NTF_SELF))
                continue;
            alen = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd));
            for (struct rtattr *a = (struct rtattr *)((char *)nd +
                                                      NLMSG_ALIGN(sizeof(*nd)));
                 RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
                if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
                    lladdr = RTA_DATA(a);
                else if (a->rta_type == NDA_MASTER)
                    master = 1;
            }
            if (lladdr == NULL || !master)
                continue;
            if (!count) {
                if (h->nlmsg_type == RTM_NEWNEIGH &&
                    memcmp(lladdr, want_mac, 6) == 0) {
                    printf("%.3f\n", mono_ms());
                    return 0;
                }
                continue;
            }
            ms_update(&set, lladdr, h->nlmsg_type == RTM_NEWNEIGH);
            while (m < 3 && (long)set.n >= marks[m]) {
                printf("at %d %.3f\n", m == 0 ? 10 : m == 1 ? 50 : 90,
                       mono_ms());
                m++;
            }
            if ((long)set.n >= want) {
                printf("%.3f\n", mono_ms());
                return 0;
            }
        }
        fflush(stdout);
    }
    printf("timeout\n");
    return 1;
}
