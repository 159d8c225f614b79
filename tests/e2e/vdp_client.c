/* vdp_client.c - sends the 802.1Qbg netlink exchange exactly as libvirt's
 * virnetdevvportprofile.c does (RTM_SETLINK to the pid in lldpad's pid
 * file, then RTM_GETLINK polls for IFLA_PORT_RESPONSE) and prints it. */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#define VDPC_INPROGRESS PORT_PROFILE_RESPONSE_INPROGRESS

struct vdpc {
    int fd;
    uint32_t dst; /* responder's port (pid) */
    uint32_t seq;
};

static int vdpc_open(struct vdpc *c, uint32_t dst)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    c->dst = dst;
    c->seq = (uint32_t)time(NULL);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    return 0;
}

/* One request/answer round trip: 0 and the answer in buf, or -1. */
static int vdpc_talk(struct vdpc *c, struct nl_msg *m, uint8_t *buf,
                     size_t cap, int timeout_ms)
{
    struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = c->dst};
    struct nlmsghdr *h = nlmsg_hdr(m);
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

    h->nlmsg_seq = ++c->seq;
    if (sendto(c->fd, h, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
        return -1;
    if (poll(&pfd, 1, timeout_ms) != 1) {
        errno = ETIMEDOUT;
        return -1;
    }
    return recv(c->fd, buf, cap, 0) > 0 ? 0 : -1;
}

/* virNetDevVPortProfileOpSetLink for 802.1Qbg (vf = PORT_SELF_VF: no
 * IFLA_PORT_VF; vlan 0 when the link has none). Returns the netlink error
 * of the answer (0 = accepted) or -EPROTO / -errno. */
static struct nl_msg *vdpc_build_setlink(int ifindex, const char *ifname,
                                         const uint8_t mac[6], uint32_t typeid,
                                         uint8_t typever, uint8_t mgrid,
                                         const uint8_t uuid[16], uint8_t op)
{
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    struct ifla_vf_mac vm = {.vf = (uint32_t)PORT_SELF_VF};
    struct ifla_vf_vlan vv = {.vf = (uint32_t)PORT_SELF_VF, .vlan = 0, .qos = 0};
    struct ifla_port_vsi vsi = {.vsi_mgr_id = mgrid, .vsi_type_version = typever};
    struct nl_msg *m = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST);
    struct nlattr *l, *i, *ps, *p;

    vsi.vsi_type_id[2] = (uint8_t)(typeid >> 16);
    vsi.vsi_type_id[1] = (uint8_t)(typeid >> 8);
    vsi.vsi_type_id[0] = (uint8_t)typeid;
    memcpy(vm.mac, mac, 6);
    nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    if (ifname)
        nla_put(m, IFLA_IFNAME, (int)strlen(ifname) + 1, ifname);
    l = nla_nest_start(m, IFLA_VFINFO_LIST);
    i = nla_nest_start(m, IFLA_VF_INFO);
    nla_put(m, IFLA_VF_MAC, sizeof(vm), &vm);
    nla_put(m, IFLA_VF_VLAN, sizeof(vv), &vv);
    nla_nest_end(m, i);
    nla_nest_end(m, l);
    ps = nla_nest_start(m, IFLA_VF_PORTS);
    p = nla_nest_start(m, IFLA_VF_PORT);
    nla_put(m, IFLA_PORT_VSI_TYPE, sizeof(vsi), &vsi);
    nla_put(m, IFLA_PORT_INSTANCE_UUID, 16, uuid);
    nla_put(m, IFLA_PORT_REQUEST, sizeof(op), &op);
    nla_nest_end(m, p);
    nla_nest_end(m, ps);
    return m;
}

static int vdpc_setlink(struct vdpc *c, int ifindex, const char *ifname,
                        const uint8_t mac[6], uint32_t typeid, uint8_t typever,
                        uint8_t mgrid, const uint8_t uuid[16], uint8_t op)
{
    struct nl_msg *m = vdpc_build_setlink(ifindex, ifname, mac, typeid,
                                          typever, mgrid, uuid, op);
    uint8_t buf[8192];
    int rc = -EPROTO;

    if (vdpc_talk(c, m, buf, sizeof(buf), 2000) < 0) {
        rc = -errno;
    } else {
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        if (h->nlmsg_type == NLMSG_ERROR)
            rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        else if (h->nlmsg_type == NLMSG_DONE)
            rc = 0;
    }
    nlmsg_free(m);
    return rc;
}

/* virNetlinkDumpLink + virNetDevVPortProfileGetStatus: the response for
 * uuid (VDPC_INPROGRESS when absent), or -1 when the answer is malformed
 * or the instance is not listed (libvirt's "Could not find netlink
 * response with expected parameters"). */
static int vdpc_status(struct vdpc *c, int ifindex, const uint8_t uuid[16])
{
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    struct nl_msg *m = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST);
    struct nlattr *tb[IFLA_MAX + 1], *p[IFLA_PORT_MAX + 1], *a;
    static uint8_t buf[65536];
    uint32_t mask = RTEXT_FILTER_VF;
    int rem, st = -1;

    nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    nla_put(m, IFLA_EXT_MASK, sizeof(mask), &mask);
    if (vdpc_talk(c, m, buf, sizeof(buf), 2000) < 0)
        goto out;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != NLMSG_DONE) ||
        nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 ||
        !tb[IFLA_VF_PORTS])
        goto out;
    nla_for_each_nested(a, tb[IFLA_VF_PORTS], rem) {
        if (nla_type(a) != IFLA_VF_PORT ||
            nla_parse_nested(p, IFLA_PORT_MAX, a, NULL) < 0)
            goto out;
        if (p[IFLA_PORT_INSTANCE_UUID] && p[IFLA_PORT_VF] &&
            !memcmp(nla_data(p[IFLA_PORT_INSTANCE_UUID]), uuid, 16) &&
            nla_get_u32(p[IFLA_PORT_VF]) == (uint32_t)PORT_SELF_VF) {
            st = p[IFLA_PORT_RESPONSE] ? nla_get_u16(p[IFLA_PORT_RESPONSE])
                                       : VDPC_INPROGRESS;
            break;
        }
    }
out:
    nlmsg_free(m);
    return st;
}

/* libvirt's loop: poll every 125 ms for up to timeout_ms. */
static int vdpc_wait(struct vdpc *c, int ifindex, const uint8_t uuid[16],
                     int timeout_ms)
{
    int st = VDPC_INPROGRESS;
    for (int t = 0; t <= timeout_ms; t += 125) {
        st = vdpc_status(c, ifindex, uuid);
        if (st != VDPC_INPROGRESS)
            return st;
        usleep(125000);
    }
    return st;
}

#ifndef VDP_CLIENT_NO_MAIN
static int parse_uuid(const char *s, uint8_t u[16])
{
    int n = 0;
    for (; *s && n < 16; s++) {
        if (*s == '-')
            continue;
        if (sscanf(s, "%2hhx", &u[n++]) != 1)
            return -1;
        s++;
    }
    return n == 16 ? 0 : -1;
}

/* Run bare (make check): the message is what lldpad's vdpnl_set()
 * parses, and a SETLINK to a port nobody listens on fails the way libvirt
 * sees a missing lldpad. */
static int selftest(void)
{
    static const uint8_t u[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    static const uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
    struct nl_msg *m = vdpc_build_setlink(1, "eth0", mac, 0x123456, 2, 11, u,
                                          PORT_REQUEST_PREASSOCIATE_RR);
    struct nlattr *tb[IFLA_MAX + 1], *p[IFLA_PORT_MAX + 1], *v[IFLA_VF_MAX + 1], *a;
    struct ifla_port_vsi *vsi;
    struct vdpc c;
    int rem, bad = 0, n = 0;

#define CHECK(x) do { if (!(x)) { printf("FAIL: %s\n", #x); bad = 1; } } while (0)
    CHECK(nlmsg_parse(nlmsg_hdr(m), sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) == 0);
    CHECK(tb[IFLA_IFNAME] && !strcmp(nla_data(tb[IFLA_IFNAME]), "eth0"));
    CHECK(tb[IFLA_VF_PORTS] && tb[IFLA_VFINFO_LIST]);
    if (bad)
        return 1;
    nla_for_each_nested(a, tb[IFLA_VF_PORTS], rem) {
        n++;
        CHECK(nla_type(a) == IFLA_VF_PORT);
        CHECK(nla_parse_nested(p, IFLA_PORT_MAX, a, NULL) == 0);
        CHECK(p[IFLA_PORT_VSI_TYPE] && p[IFLA_PORT_INSTANCE_UUID] && p[IFLA_PORT_REQUEST]);
        CHECK(!p[IFLA_PORT_VF]); /* PORT_SELF_VF: libvirt leaves it out */
        if (bad)
            return 1;
        vsi = nla_data(p[IFLA_PORT_VSI_TYPE]);
        CHECK(vsi->vsi_mgr_id == 11 && vsi->vsi_type_version == 2);
        CHECK(vsi->vsi_type_id[0] == 0x56 && vsi->vsi_type_id[1] == 0x34 &&
              vsi->vsi_type_id[2] == 0x12); /* little end first, as lldpad */
        CHECK(!memcmp(nla_data(p[IFLA_PORT_INSTANCE_UUID]), u, 16));
        CHECK(nla_len(p[IFLA_PORT_REQUEST]) == 1 &&
              nla_get_u8(p[IFLA_PORT_REQUEST]) == PORT_REQUEST_PREASSOCIATE_RR);
    }
    CHECK(n == 1);
    nla_for_each_nested(a, tb[IFLA_VFINFO_LIST], rem) {
        CHECK(nla_type(a) == IFLA_VF_INFO);
        CHECK(nla_parse_nested(v, IFLA_VF_MAX, a, NULL) == 0);
        CHECK(v[IFLA_VF_MAC] && v[IFLA_VF_VLAN]);
        if (bad)
            return 1;
        CHECK(!memcmp(((struct ifla_vf_mac *)nla_data(v[IFLA_VF_MAC]))->mac, mac, 6));
        CHECK(((struct ifla_vf_vlan *)nla_data(v[IFLA_VF_VLAN]))->vlan == 0);
    }
    nlmsg_free(m);
    /* no responder on that port: refused, never a hang (unprivileged,
     * the kernel refuses the unicast itself, as it would for libvirt) */
    CHECK(vdpc_open(&c, 0x7ffffff0) == 0);
    int rc = vdpc_setlink(&c, 1, "lo", mac, 5, 1, 0, u, PORT_REQUEST_ASSOCIATE);
    CHECK(rc == (geteuid() == 0 ? -ECONNREFUSED : -EPERM));
    close(c.fd);
#undef CHECK
    printf("%s vdp_client self-test\n", bad ? "FAIL" : "ok");
    return bad;
}

int main(int argc, char **argv)
{
    static const char *ops[] = {"preassociate", "preassociate-rr",
                                "associate", "disassociate"};
    uint8_t uuid[16], mac[6] = {0};
    struct vdpc c;
    char buf[32] = "";
    FILE *f;
    int op = -1, ifindex, rc, timeout = argc > 7 ? atoi(argv[7]) : 10000;

    if (argc == 1)
        return selftest();
    if (argc < 7) {
        fprintf(stderr, "usage: vdp_client PIDFILE IFNAME OP UUID MAC TYPEID "
                "[TIMEOUT_MS]\n  OP: preassociate preassociate-rr associate "
                "disassociate\nprints the IFLA_PORT_RESPONSE; exit 0 success, "
                "1 refused, 4 timeout, 3 no responder, 2 usage\n");
        return 2;
    }
    for (int i = 0; i < 4; i++)
        if (!strcmp(argv[3], ops[i]))
            op = i;
    if (op < 0 || parse_uuid(argv[4], uuid) < 0 ||
        sscanf(argv[5], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
               &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
        !(ifindex = (int)if_nametoindex(argv[2])))
        return 2;
    /* virNetDevVPortProfileGetLldpadPid */
    if (!(f = fopen(argv[1], "r")) || !fgets(buf, sizeof(buf), f) || atoi(buf) <= 0) {
        fprintf(stderr, "vdp_client: no pid in %s\n", argv[1]);
        return 3;
    }
    fclose(f);
    if (vdpc_open(&c, (uint32_t)atoi(buf)) < 0)
        return 3;
    rc = vdpc_setlink(&c, ifindex, argv[2], mac, (uint32_t)strtoul(argv[6], NULL, 0),
                      1, 0, uuid, (uint8_t)op);
    if (rc) {
        printf("setlink-error %d\n", rc);
        return rc == -ETIMEDOUT || rc == -ECONNREFUSED ? 3 : 1;
    }
    rc = vdpc_wait(&c, ifindex, uuid, timeout);
    printf("response %d\n", rc);
    return rc == PORT_VDP_RESPONSE_SUCCESS ? 0 : rc == VDPC_INPROGRESS ? 4 : 1;
}
#endif
