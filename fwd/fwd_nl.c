/* fwd_nl.c - next-hop resolution for remote VTEPs through rtnetlink: the
 * route to a VTEP (gateway, interface) and that next hop's neighbour MAC;
 * and an interface's XDP features through generic netlink (the fast
 * path's attach decisions). Used by the housekeeping thread only, never on
 * the packet path. */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fwd_nl.h"

int
fwd_nl_open(void)
{
    return fwd_nl_open_proto(NETLINK_ROUTE);
}

int
fwd_nl_open_proto(int proto)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return -1;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int
nl_send(int fd, struct nlmsghdr *nh)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    return sendto(fd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&sa,
                  sizeof(sa)) < 0 ? -1 : 0;
}

/* Drops whatever an earlier exchange left (a reply that came after its
 * 1 s timeout, the rest of an abandoned dump): read later, it would be
 * taken for the answer about another VTEP and send its frames to the
 * wrong next hop. */
static void
nl_drain(int fd)
{
    char b[4096];
    while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
        ;
}

static void
add_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
    struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Starts a request in h (of a buffer of at least 256 bytes): header and
 * a zeroed fixed part of plen bytes, which it returns. */
static void *
req_init(struct nlmsghdr *h, unsigned short type, unsigned short flags,
         unsigned seq, size_t plen)
{
    memset(h, 0, 256);
    h->nlmsg_len = NLMSG_LENGTH(plen);
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    h->nlmsg_seq = seq;
    return NLMSG_DATA(h);
}

/* Route lookup: fills the next hop (the gateway, or dst itself when on
 * link) and the outgoing interface. */
static int
route_get(int fd, int family, const uint8_t *dst, uint8_t *nh, int *oif)
{
    union {
        struct nlmsghdr h;
        char b[8192];
    } u;
    size_t alen = family == 4 ? 4 : 16;
    struct rtmsg *rt = req_init(&u.h, RTM_GETROUTE, NLM_F_REQUEST, 1,
                                sizeof(*rt));
    rt->rtm_family = family == 4 ? AF_INET : AF_INET6;
    rt->rtm_dst_len = (unsigned char)(alen * 8);
    add_attr(&u.h, RTA_DST, dst, alen);
    nl_drain(fd);
    if (nl_send(fd, &u.h) < 0)
        return -1;
    ssize_t n = recv(fd, u.b, sizeof(u.b), 0);
    if (n < 0)
        return -1;
    memcpy(nh, dst, alen);
    *oif = 0;
    for (struct nlmsghdr *h = &u.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_seq != 1)
            continue;
        if (h->nlmsg_type == NLMSG_ERROR)
            return -1;
        if (h->nlmsg_type != RTM_NEWROUTE)
            continue;
        struct rtmsg *r = NLMSG_DATA(h);
        int len = (int)RTM_PAYLOAD(h);
        for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == alen)
                memcpy(nh, RTA_DATA(a), alen);
            else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
                memcpy(oif, RTA_DATA(a), 4);
        }
        return 0;
    }
    return -1;
}

static int
neigh_find(int fd, int family, const uint8_t *ip, int ifindex, uint8_t mac[6])
{
    union {
        struct nlmsghdr h;
        char b[32768];
    } u;
    size_t alen = family == 4 ? 4 : 16;
    struct ndmsg *nd = req_init(&u.h, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP,
                                2, sizeof(*nd));
    nd->ndm_family = family == 4 ? AF_INET : AF_INET6;
    nl_drain(fd);
    if (nl_send(fd, &u.h) < 0)
        return -1;
    int found = -1;
    for (;;) {
        ssize_t n = recv(fd, u.b, sizeof(u.b), 0);
        if (n <= 0)
            return found;
        for (struct nlmsghdr *h = &u.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != 2)
                continue;
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
                return found;
            if (h->nlmsg_type != RTM_NEWNEIGH)
                continue;
            struct ndmsg *m = NLMSG_DATA(h);
            if (m->ndm_ifindex != ifindex ||
                !(m->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY |
                                  NUD_PROBE | NUD_PERMANENT | NUD_NOARP)))
                continue;
            int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
            const uint8_t *dst = NULL, *ll = NULL;
            for (struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
                 RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == alen)
                    dst = RTA_DATA(a);
                else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
                    ll = RTA_DATA(a);
            }
            if (dst != NULL && ll != NULL && memcmp(dst, ip, alen) == 0) {
                memcpy(mac, ll, 6);
                found = 0; /* keep reading to drain the dump */
            }
        }
    }
}

int
fwd_nl_nexthop_mac(int fd, int family, const uint8_t *dst, int ifindex,
                   uint8_t mac[6], uint8_t nh[16])
{
    int oif;
    memset(nh, 0, 16);
    if (route_get(fd, family, dst, nh, &oif) < 0)
        return -1;
    if (oif != 0 && oif != ifindex) {
        errno = ENETUNREACH; /* the route leaves by another interface */
        return -1;
    }
    return neigh_find(fd, family, nh, ifindex, mac);
}

/* ---- generic netlink: the "netdev" family (Linux 6.3; its uapi header
 * linux/netdev.h is newer than what some distributions ship) ------------- */

#define NETDEV_CMD_DEV_GET 1
#define NETDEV_A_DEV_IFINDEX 1
#define NETDEV_A_DEV_XDP_FEATURES 3
#define NETDEV_A_DEV_XDP_RX_METADATA_FEATURES 5

/* One request, one answer: the reply's attributes after the genl header
 * (*attrs, *alen) in buf, or -1 (errno from an NLMSG_ERROR). */
static int
genl_call(int fd, struct nlmsghdr *req, char *buf, size_t blen,
          struct rtattr **attrs, int *alen)
{
    nl_drain(fd);
    if (nl_send(fd, req) < 0)
        return -1;
    ssize_t n = recv(fd, buf, blen, 0);
    if (n < 0)
        return -1;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
         h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_seq != req->nlmsg_seq)
            continue;
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            errno = e->error ? -e->error : EPROTO;
            return -1;
        }
        *attrs = (struct rtattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
        *alen = (int)(h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN));
        return 0;
    }
    errno = EPROTO;
    return -1;
}

static int
genl_family(int fd, const char *name)
{
    union {
        struct nlmsghdr h;
        char b[4096];
    } u;
    struct genlmsghdr *g = req_init(&u.h, GENL_ID_CTRL, NLM_F_REQUEST, 3,
                                    GENL_HDRLEN);
    g->cmd = CTRL_CMD_GETFAMILY;
    g->version = 1;
    add_attr(&u.h, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
    struct rtattr *a;
    int len;
    if (genl_call(fd, &u.h, u.b, sizeof(u.b), &a, &len) < 0)
        return -1;
    for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == CTRL_ATTR_FAMILY_ID && RTA_PAYLOAD(a) == 2)
            return *(uint16_t *)RTA_DATA(a);
    errno = ENOENT;
    return -1;
}

int
fwd_nl_xdp_features(int fd, int ifindex, uint64_t *xdp, uint64_t *rx_meta)
{
    union {
        struct nlmsghdr h;
        char b[4096];
    } u;
    int fam = genl_family(fd, "netdev");
    if (fam < 0)
        return -1;
    struct genlmsghdr *g = req_init(&u.h, (unsigned short)fam, NLM_F_REQUEST,
                                    4, GENL_HDRLEN);
    g->cmd = NETDEV_CMD_DEV_GET;
    g->version = 1;
    uint32_t ifi = (uint32_t)ifindex;
    add_attr(&u.h, NETDEV_A_DEV_IFINDEX, &ifi, 4);
    struct rtattr *a;
    int len;
    if (genl_call(fd, &u.h, u.b, sizeof(u.b), &a, &len) < 0)
        return -1;
    *xdp = *rx_meta = 0;
    for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (RTA_PAYLOAD(a) != 8)
            continue;
        if (a->rta_type == NETDEV_A_DEV_XDP_FEATURES)
            memcpy(xdp, RTA_DATA(a), 8);
        else if (a->rta_type == NETDEV_A_DEV_XDP_RX_METADATA_FEATURES)
            memcpy(rx_meta, RTA_DATA(a), 8);
    }
    return 0;
}
