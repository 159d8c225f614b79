/* evpn_nl.c - rtnetlink for the EVPN shadow devices through libnl-route-3:
 * the four netdevs of a VN (made as FRR 8.4 was found to need them:
 * up, addrgenmode none, a multicast-snooping-free bridge, a vxlan device
 * off the data port, no learning), our static fdb entries and NOARP
 * neighbours, and zebra's entries read from RTNLGRP_NEIGH and dumps.
 * A device is ours when its ifalias says so (evpn_ifalias): one of that name
 * that is not ours is never changed or removed. */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evpn_nl.h"

#define EVPN_NL_BUF 65536
#define EVPN_NL_RCVBUF (32 << 20) /* 10,000 MACs + IPs: ~20 MB of queue */
#define EVPN_NL_ROUNDS 256       /* recv calls per read: the loop moves on */
#define EVPN_NL_WBUF 32768       /* queued fdb/neighbour writes, one send */
#define EVPN_NL_WMAX 256         /* their answers must fit the receive buffer */
#define EVPN_NL_REQBUF (4 << 20)

struct evpn_nl {
    struct nl_sock *req; /* requests, each waiting for its ACK */
    struct nl_sock *ev;  /* RTNLGRP_NEIGH */
    uint8_t *buf;
    /* fdb and neighbour writes go out together: zebra reads a burst in
     * one go, where one at a time it would wake up for each */
    uint8_t *wbuf;
    size_t wlen;
    unsigned wn;
    uint32_t wseq0;            /* sequence number of the first queued */
    uint8_t wdel[EVPN_NL_WMAX]; /* a deletion: ENOENT is no error */
};

/* ---- sockets ----------------------------------------------------------- */

struct evpn_nl *
evpn_nl_open(char *err, size_t errlen)
{
    struct evpn_nl *n = calloc(1, sizeof(*n));
    int rc, sz = EVPN_NL_RCVBUF;
    struct timeval tv = {2, 0};

    if (n == NULL || (n->buf = malloc(EVPN_NL_BUF)) == NULL ||
        (n->wbuf = malloc(EVPN_NL_WBUF)) == NULL ||
        (n->req = nl_socket_alloc()) == NULL ||
        (n->ev = nl_socket_alloc()) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((rc = nl_connect(n->req, NETLINK_ROUTE)) < 0 ||
        (rc = nl_connect(n->ev, NETLINK_ROUTE)) < 0) {
        snprintf(err, errlen, "netlink: %s", nl_geterror(rc));
        goto fail;
    }
    /* a stuck kernel must not stop the daemon */
    setsockopt(nl_socket_get_fd(n->req), SOL_SOCKET, SO_RCVTIMEO, &tv,
               sizeof(tv));
    /* a batch's answers arrive before we read any: each takes far more
     * room in the queue than its bytes */
    sz = EVPN_NL_REQBUF;
    if (setsockopt(nl_socket_get_fd(n->req), SOL_SOCKET, SO_RCVBUFFORCE, &sz,
                   sizeof(sz)) < 0)
        setsockopt(nl_socket_get_fd(n->req), SOL_SOCKET, SO_RCVBUF, &sz,
                   sizeof(sz));
    sz = EVPN_NL_RCVBUF;
    nl_socket_disable_seq_check(n->ev);
    if ((rc = nl_socket_add_membership(n->ev, RTNLGRP_NEIGH)) < 0 ||
        (rc = nl_socket_set_nonblocking(n->ev)) < 0) {
        snprintf(err, errlen, "netlink RTNLGRP_NEIGH: %s", nl_geterror(rc));
        goto fail;
    }
    /* large, so that a burst of zebra's installs is not lost (a loss is a
     * full dump); FORCE passes rmem_max with CAP_NET_ADMIN */
    if (setsockopt(nl_socket_get_fd(n->ev), SOL_SOCKET, SO_RCVBUFFORCE, &sz,
                   sizeof(sz)) < 0)
        setsockopt(nl_socket_get_fd(n->ev), SOL_SOCKET, SO_RCVBUF, &sz,
                   sizeof(sz));
    return n;
fail:
    evpn_nl_close(n);
    return NULL;
}

void
evpn_nl_close(struct evpn_nl *n)
{
    if (n == NULL)
        return;
    if (n->req)
        nl_socket_free(n->req);
    if (n->ev)
        nl_socket_free(n->ev);
    free(n->buf);
    free(n->wbuf);
    free(n);
}

int
evpn_nl_fd(const struct evpn_nl *n)
{
    return nl_socket_get_fd(n->ev);
}

/* ---- reading ----------------------------------------------------------- */

int
evpn_nl_decode(const struct nlmsghdr *h, struct evpn_nlev *m)
{
    struct nlattr *tb[NDA_MAX + 1];
    const struct ndmsg *nd;

    if (h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH)
        return 1;
    if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*nd), tb, NDA_MAX, NULL) < 0)
        return -1;
    nd = nlmsg_data(h);
    memset(m, 0, sizeof(*m));
    m->del = h->nlmsg_type == RTM_DELNEIGH;
    m->family = nd->ndm_family;
    m->flags = nd->ndm_flags;
    m->state = nd->ndm_state;
    m->ifindex = nd->ndm_ifindex;
    if (tb[NDA_LLADDR]) {
        if (nla_len(tb[NDA_LLADDR]) != 6)
            return m->family == AF_BRIDGE ? -1 : 1; /* not Ethernet */
        memcpy(m->lladdr, nla_data(tb[NDA_LLADDR]), 6);
        m->has_lladdr = 1;
    }
    if (tb[NDA_DST]) {
        int len = nla_len(tb[NDA_DST]);
        if (len != 4 && len != 16)
            return -1;
        m->dst_family = len == 4 ? 4 : 6;
        memcpy(m->dst, nla_data(tb[NDA_DST]), (size_t)len);
    }
    if (tb[NDA_MASTER]) {
        if (nla_len(tb[NDA_MASTER]) != 4)
            return -1;
        m->master = (int)nla_get_u32(tb[NDA_MASTER]);
    }
    return 0;
}

/* Messages of one datagram; -1 if the kernel reported an error. *done when
 * a dump ended. */
static int
each_msg(const uint8_t *buf, int len, evpn_nl_cb cb, void *arg,
         unsigned *bad, int *done, unsigned *count)
{
    const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

    for (; nlmsg_ok(h, len); h = nlmsg_next((struct nlmsghdr *)h, &len)) {
        struct evpn_nlev m;
        if (h->nlmsg_type == NLMSG_DONE) {
            *done = 1;
            return (h->nlmsg_flags & NLM_F_DUMP_INTR) ? -1 : 0;
        }
        if (h->nlmsg_type == NLMSG_ERROR)
            return -1;
        int rc = evpn_nl_decode(h, &m);
        if (rc < 0)
            (*bad)++;
        else if (rc == 0) {
            cb(arg, &m);
            (*count)++;
        }
    }
    return 0;
}

int
evpn_nl_read(struct evpn_nl *n, evpn_nl_cb cb, void *arg, unsigned *bad)
{
    int fd = nl_socket_get_fd(n->ev), done = 0;
    unsigned count = 0;

    for (int r = 0; r < EVPN_NL_ROUNDS; r++) {
        struct sockaddr_nl sa;
        socklen_t sl = sizeof(sa);
        ssize_t len = recvfrom(fd, n->buf, EVPN_NL_BUF, MSG_DONTWAIT,
                               (struct sockaddr *)&sa, &sl);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1; /* ENOBUFS: notifications lost */
        }
        if (sa.nl_pid != 0) /* only the kernel speaks on this group */
            continue;
        each_msg(n->buf, (int)len, cb, arg, bad, &done, &count);
    }
    return (int)count;
}

/* On a socket of its own: whatever a dump leaves behind (an ACK after
 * NLMSG_DONE, a reply cut by the timeout) must not be taken by the next
 * request for its answer. */
int
evpn_nl_dump(struct evpn_nl *n, evpn_nl_cb cb, void *arg, unsigned *bad)
{
    static const uint8_t fams[] = {AF_BRIDGE, AF_INET, AF_INET6};
    struct nl_sock *sk = nl_socket_alloc();
    struct timeval tv = {2, 0};
    int rc = -1, fd;

    if (sk == NULL || nl_connect(sk, NETLINK_ROUTE) < 0)
        goto out;
    fd = nl_socket_get_fd(sk);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (unsigned f = 0; f < sizeof(fams); f++) {
        struct ndmsg nd = {.ndm_family = fams[f]};
        int done = 0;
        unsigned count = 0;
        if (nl_send_simple(sk, RTM_GETNEIGH, NLM_F_DUMP, &nd, sizeof(nd)) < 0)
            goto out;
        while (!done) {
            ssize_t len = recv(fd, n->buf, EVPN_NL_BUF, 0);
            if (len < 0 && errno == EINTR)
                continue;
            if (len <= 0 ||
                each_msg(n->buf, (int)len, cb, arg, bad, &done, &count) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    if (sk)
        nl_socket_free(sk);
    return rc;
}

/* ---- requests ---------------------------------------------------------- */

static struct nl_msg *
link_msg(int flags, int ifindex, const char *name)
{
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, flags);

    if (m == NULL || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
        (name && nla_put_string(m, IFLA_IFNAME, name) < 0)) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

/* Sends m (freed) and waits for the kernel's answer: 0 or -NLE_*. */
static int
send_sync(struct evpn_nl *n, struct nl_msg *m)
{
    return m ? nl_send_sync(n->req, m) : -NLE_NOMEM;
}

static int
link_create(struct evpn_nl *n, const char *name, const char *kind,
            const struct evpn_params *p, uint32_t vni, const char *peer)
{
    struct nl_msg *m = link_msg(NLM_F_CREATE | NLM_F_EXCL, 0, name);
    struct nlattr *li, *data, *pn;
    uint8_t zero = 0;

    if (m == NULL || (li = nla_nest_start(m, IFLA_LINKINFO)) == NULL ||
        nla_put_string(m, IFLA_INFO_KIND, kind) < 0 ||
        (data = nla_nest_start(m, IFLA_INFO_DATA)) == NULL)
        goto fail;
    if (strcmp(kind, "bridge") == 0) {
        /* a snooping bridge sends IGMP/MLD reports when made: with FRR's
         * flood list in place they would leave as real VXLAN */
        if (nla_put_u32(m, IFLA_BR_STP_STATE, 0) < 0 ||
            nla_put_u8(m, IFLA_BR_MCAST_SNOOPING, 0) < 0)
            goto fail;
    } else if (strcmp(kind, "vxlan") == 0) {
        if (nla_put_u32(m, IFLA_VXLAN_ID, vni) < 0 ||
            nla_put(m, IFLA_VXLAN_LOCAL, 4, p->vtep) < 0 ||
            nla_put_u16(m, IFLA_VXLAN_PORT, htons(p->shadow_port)) < 0 ||
            nla_put_u8(m, IFLA_VXLAN_LEARNING, zero) < 0)
            goto fail;
    } else {
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
        if ((pn = nla_nest_start(m, VETH_INFO_PEER)) == NULL ||
            nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_string(m, IFLA_IFNAME, peer) < 0)
            goto fail;
        nla_nest_end(m, pn);
    }
    nla_nest_end(m, data);
    nla_nest_end(m, li);
    return send_sync(n, m);
fail:
    nlmsg_free(m);
    return -NLE_NOMEM;
}

/* Marks a new device ours, and keeps IPv6 from giving it a link-local
 * address (whose MLD reports would otherwise be sent). */
static int
link_own(struct evpn_nl *n, int ifindex, uint32_t vni)
{
    struct nl_msg *m = link_msg(0, ifindex, NULL);
    struct nlattr *af, *in6;
    char alias[96];

    evpn_ifalias(alias, sizeof(alias), vni);
    if (m == NULL || nla_put_string(m, IFLA_IFALIAS, alias) < 0) {
        nlmsg_free(m);
        return -NLE_NOMEM;
    }
    int rc = send_sync(n, m);
    if (rc < 0)
        return rc;
    m = link_msg(0, ifindex, NULL);
    if (m == NULL || (af = nla_nest_start(m, IFLA_AF_SPEC)) == NULL ||
        (in6 = nla_nest_start(m, AF_INET6)) == NULL ||
        nla_put_u8(m, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE) < 0) {
        nlmsg_free(m);
        return -NLE_NOMEM;
    }
    nla_nest_end(m, in6);
    nla_nest_end(m, af);
    rc = send_sync(n, m);
    /* no IPv6 in this namespace: no link-local address, no MLD either */
    return rc == -NLE_AF_NOSUPPORT || rc == -NLE_OPNOTSUPP ? 0 : rc;
}

static int
link_set(struct evpn_nl *n, int ifindex, int master, int up)
{
    struct nl_msg *m = link_msg(0, ifindex, NULL);
    struct ifinfomsg *ifi;

    if (m == NULL)
        return -NLE_NOMEM;
    if (master && nla_put_u32(m, IFLA_MASTER, (uint32_t)master) < 0) {
        nlmsg_free(m);
        return -NLE_NOMEM;
    }
    if (up) {
        ifi = nlmsg_data(nlmsg_hdr(m));
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
    }
    return send_sync(n, m);
}

/* bridge link set dev X learning off */
static int
link_nolearn(struct evpn_nl *n, int ifindex)
{
    struct nl_msg *m = link_msg(0, ifindex, NULL);
    struct nlattr *li, *sd;

    if (m == NULL || (li = nla_nest_start(m, IFLA_LINKINFO)) == NULL ||
        nla_put_string(m, IFLA_INFO_SLAVE_KIND, "bridge") < 0 ||
        (sd = nla_nest_start(m, IFLA_INFO_SLAVE_DATA)) == NULL ||
        nla_put_u8(m, IFLA_BRPORT_LEARNING, 0) < 0) {
        nlmsg_free(m);
        return -NLE_NOMEM;
    }
    nla_nest_end(m, sd);
    nla_nest_end(m, li);
    return send_sync(n, m);
}

static int
link_delete(struct evpn_nl *n, int ifindex)
{
    struct nl_msg *m = nlmsg_alloc_simple(RTM_DELLINK, 0);
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};

    if (m == NULL || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
        nlmsg_free(m);
        return -NLE_NOMEM;
    }
    return send_sync(n, m);
}

/* 1: a device of that name is ours (*ifindex set), 0: none, -1: someone
 * else's (err says whose). */
static int
link_owner(struct evpn_nl *n, const char *name, uint32_t vni, int *ifindex,
           char *err, size_t errlen)
{
    struct rtnl_link *l = NULL;
    char alias[96];
    const char *a;
    int rc;

    *ifindex = 0;
    if (rtnl_link_get_kernel(n->req, 0, name, &l) < 0 || l == NULL)
        return 0;
    evpn_ifalias(alias, sizeof(alias), vni);
    a = rtnl_link_get_ifalias(l);
    *ifindex = rtnl_link_get_ifindex(l);
    rc = a && strcmp(a, alias) == 0 ? 1 : -1;
    if (rc < 0)
        snprintf(err, errlen, "device %s exists and is not ours (alias "
                 "\"%.40s\"): left alone", name, a ? a : "");
    rtnl_link_put(l);
    return rc;
}

static int
fail(struct evpn_nl *n, char *err, size_t errlen, const char *what,
     const char *name, int rc, const struct evpn_ifs *made)
{
    snprintf(err, errlen, "%s %s: %s", what, name, nl_geterror(rc));
    if (made->port)
        link_delete(n, made->port);
    if (made->vxlan)
        link_delete(n, made->vxlan);
    if (made->bridge)
        link_delete(n, made->bridge);
    return -1;
}

int
evpn_nl_vn_create(struct evpn_nl *n, uint32_t vni, const struct evpn_params *p,
                  struct evpn_ifs *ifs, char *err, size_t errlen)
{
    static const enum evpn_ifrole roles[] = {EVPN_IF_BRIDGE, EVPN_IF_VXLAN,
                                             EVPN_IF_PORT, EVPN_IF_PEER};
    char nm[4][16];
    int idx[4], rc;
    struct evpn_ifs made = {0, 0, 0, 0};

    evpn_nl_flush(n); /* in order: what was queued before the devices */
    for (int i = 0; i < 4; i++) {
        evpn_ifname(nm[i], roles[i], vni);
        if (link_owner(n, nm[i], vni, &idx[i], err, errlen) < 0)
            return -1;
    }
    /* our leftovers (a crash): made again from scratch */
    for (int i = 0; i < 4; i++)
        if (idx[i]) /* the peer may already be gone with its port */
            link_delete(n, idx[i]);
    if ((rc = link_create(n, nm[0], "bridge", p, vni, NULL)) < 0)
        return fail(n, err, errlen, "creating", nm[0], rc, &made);
    made.bridge = (int)if_nametoindex(nm[0]);
    if ((rc = link_create(n, nm[1], "vxlan", p, vni, NULL)) < 0)
        return fail(n, err, errlen, "creating", nm[1], rc, &made);
    made.vxlan = (int)if_nametoindex(nm[1]);
    if ((rc = link_create(n, nm[2], "veth", p, vni, nm[3])) < 0)
        return fail(n, err, errlen, "creating", nm[2], rc, &made);
    made.port = (int)if_nametoindex(nm[2]);
    made.peer = (int)if_nametoindex(nm[3]);
    int all[4] = {made.bridge, made.vxlan, made.port, made.peer};
    for (int i = 0; i < 4; i++)
        if (all[i] == 0 || (rc = link_own(n, all[i], vni)) < 0)
            return fail(n, err, errlen, "configuring", nm[i],
                        all[i] ? rc : -NLE_NODEV, &made);
    if ((rc = link_set(n, made.vxlan, made.bridge, 0)) < 0 ||
        (rc = link_set(n, made.port, made.bridge, 0)) < 0 ||
        (rc = link_nolearn(n, made.vxlan)) < 0)
        return fail(n, err, errlen, "enslaving to", nm[0], rc, &made);
    /* the vxlan device must be up for zebra to take the VNI; up, it holds
     * its UDP port (shadow_port) */
    for (int i = 0; i < 4; i++)
        if ((rc = link_set(n, all[i], 0, 1)) < 0)
            return fail(n, err, errlen, "bringing up", nm[i], rc, &made);
    *ifs = made;
    return 0;
}

void
evpn_nl_vn_destroy(struct evpn_nl *n, uint32_t vni, const struct evpn_ifs *ifs)
{
    static const enum evpn_ifrole roles[] = {EVPN_IF_PORT, EVPN_IF_VXLAN,
                                             EVPN_IF_BRIDGE};
    char nm[16], err[160];
    int idx;

    (void)ifs; /* by name: the indexes may have been reused */
    evpn_nl_flush(n);
    for (unsigned i = 0; i < 3; i++) {
        evpn_ifname(nm, roles[i], vni);
        if (link_owner(n, nm, vni, &idx, err, sizeof(err)) > 0)
            link_delete(n, idx);
    }
}

/* Queues one request; sent by evpn_nl_flush (at once when the buffer is
 * full). */
static int
neigh_msg(struct evpn_nl *n, int add, const struct ndmsg *nd, int dfam,
          const uint8_t *dst, const uint8_t *mac)
{
    struct nl_msg *m = nlmsg_alloc_simple(
        add ? RTM_NEWNEIGH : RTM_DELNEIGH,
        NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
    struct nlmsghdr *h;
    size_t len;

    if (m == NULL || nlmsg_append(m, (void *)nd, sizeof(*nd), NLMSG_ALIGNTO) < 0 ||
        (dst && nla_put(m, NDA_DST, dfam == 4 ? 4 : 16, dst) < 0) ||
        (mac && nla_put(m, NDA_LLADDR, 6, mac) < 0)) {
        nlmsg_free(m);
        return -1;
    }
    h = nlmsg_hdr(m);
    len = NLMSG_ALIGN(h->nlmsg_len);
    if ((n->wlen + len > EVPN_NL_WBUF || n->wn == EVPN_NL_WMAX) &&
        evpn_nl_flush(n) < 0) {
        nlmsg_free(m);
        return -1;
    }
    if (n->wn == 0)
        n->wseq0 = nl_socket_use_seq(n->req);
    else
        nl_socket_use_seq(n->req);
    h->nlmsg_seq = n->wseq0 + n->wn;
    memcpy(n->wbuf + n->wlen, h, h->nlmsg_len);
    n->wdel[n->wn++] = !add;
    n->wlen += len;
    nlmsg_free(m);
    return 0;
}

int
evpn_nl_pending(const struct evpn_nl *n)
{
    return n->wn > 0;
}

int
evpn_nl_flush(struct evpn_nl *n)
{
    int fd = nl_socket_get_fd(n->req), fails = 0;
    unsigned acked = 0, wn = n->wn;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

    if (wn == 0)
        return 0;
    n->wn = 0;
    if (sendto(fd, n->wbuf, n->wlen, 0, (struct sockaddr *)&sa, sizeof(sa)) <
        0) {
        n->wlen = 0;
        return (int)wn;
    }
    n->wlen = 0;
    /* the kernel answers each in order; a stale answer (seq out of range)
     * is skipped */
    while (acked < wn) {
        ssize_t got = recv(fd, n->buf, EVPN_NL_BUF, 0);
        int len = (int)got;
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fails + (int)(wn - acked);
        for (struct nlmsghdr *h = (struct nlmsghdr *)n->buf; nlmsg_ok(h, len);
             h = nlmsg_next(h, &len)) {
            uint32_t k = h->nlmsg_seq - n->wseq0;
            if (h->nlmsg_type != NLMSG_ERROR || k >= wn)
                continue;
            const struct nlmsgerr *e = nlmsg_data(h);
            if (e->error != 0 && !(n->wdel[k] && e->error == -ENOENT))
                fails++;
            acked++;
        }
    }
    return fails;
}

int
evpn_nl_mac_write(struct evpn_nl *n, const struct evpn_ifs *ifs,
                  const uint8_t mac[6], int add)
{
    /* bridge fdb replace MAC dev PORT master static: FRR ignores permanent
     * entries and would age dynamic ones */
    struct ndmsg nd = {.ndm_family = AF_BRIDGE, .ndm_ifindex = ifs->port,
                       .ndm_state = NUD_NOARP, .ndm_flags = NTF_MASTER};
    return neigh_msg(n, add, &nd, 0, NULL, mac);
}

int
evpn_nl_ip_write(struct evpn_nl *n, const struct evpn_ifs *ifs, int family,
                 const uint8_t ip[16], const uint8_t mac[6], int add)
{
    struct ndmsg nd = {.ndm_family = family == 4 ? AF_INET : AF_INET6,
                       .ndm_ifindex = ifs->bridge, .ndm_state = NUD_NOARP};
    return neigh_msg(n, add, &nd, family, ip, add ? mac : NULL);
}
