/* hv_vdpnl.c - speaks lldpad's side of libvirt's 802.1Qbg netlink exchange
 * (lldpad qbg/vdpnl.c, event_iface.c) so hv-agent can replace lldpad. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct ucred */
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "hv_vdpnl.h"
#include "log.h"
#include "nvdp.h"

#define VDPNL_NONE 0xFFFF /* no answer yet: IFLA_PORT_RESPONSE omitted,
                           * which libvirt reads as "in progress" */
#define VDPNL_BUF 65536
#define VDPNL_MAX_ENTRIES 4096

struct vdpnl_entry {
    uint8_t uuid[16];
    int ifindex;
    uint8_t op;
    uint16_t response;
    uint64_t done_at; /* ms; 0 while pending */
};

struct hv_vdpnl {
    int fd;
    char pidfile[256];
    struct hv_vdpnl_ops ops;
    uint32_t keep_ms;
    struct vdpnl_entry *e;
    size_t ne, cap;
    struct hv_vdpnl_counters cnt;
    uint8_t buf[VDPNL_BUF];
};

uint16_t hv_vdpnl_status_response(uint16_t st)
{
    switch (st) {
    case NVDP_ST_OK: return PORT_VDP_RESPONSE_SUCCESS;
    case NVDP_ST_UNKNOWN_VN: return PORT_VDP_RESPONSE_UNUSED_VTID;
    case NVDP_ST_NOT_AUTHORISED:
    case NVDP_ST_CONFLICT: return PORT_VDP_RESPONSE_VTID_VIOLATION;
    case NVDP_ST_NO_TAGS:
    case NVDP_ST_LIMIT: return PORT_VDP_RESPONSE_INSUFFICIENT_RESOURCES;
    case NVDP_ST_MALFORMED:
    case NVDP_ST_UNSUPPORTED: return PORT_VDP_RESPONSE_INVALID_FORMAT;
    default: return PORT_VDP_RESPONSE_OUT_OF_SYNC;
    }
}

/* ---- pid file: libvirt finds us (and lldpad) through it ------------------ */
static int pidfile_claim(const char *path, char *err, size_t errlen)
{
    char buf[32];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            long pid = strtol(buf, NULL, 10);
            if (pid > 0 && pid != getpid() &&
                (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
                snprintf(err, errlen, "%s names running process %ld "
                         "(lldpad?): stop it or use another pid file",
                         path, pid);
                return -1;
            }
        }
    }
    snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static void pidfile_release(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n > 0) {
        buf[n] = 0;
        if (strtol(buf, NULL, 10) == getpid())
            unlink(path);
    }
}

struct hv_vdpnl *hv_vdpnl_open(const char *pidfile,
                               const struct hv_vdpnl_ops *ops,
                               uint32_t keep_ms, char *err, size_t errlen)
{
    struct hv_vdpnl *v = calloc(1, sizeof(*v));
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int rcv = VDPNL_BUF, one = 1;

    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    v->ops = *ops;
    v->keep_ms = keep_ms;
    snprintf(v->pidfile, sizeof(v->pidfile), "%s", pidfile);
    v->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   NETLINK_ROUTE);
    if (v->fd < 0) {
        snprintf(err, errlen, "netlink socket: %s", strerror(errno));
        free(v);
        return NULL;
    }
    setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    /* Any local process may unicast to our port: the sender's credentials
     * (kernel-checked) say whether it may associate VNICs. */
    if (setsockopt(v->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        snprintf(err, errlen, "netlink SO_PASSCRED: %s", strerror(errno));
        close(v->fd);
        free(v);
        return NULL;
    }
    /* libvirt sends to the pid in the pid file as the netlink port */
    sa.nl_pid = (uint32_t)getpid();
    if (bind(v->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "netlink bind to port %u: %s", sa.nl_pid,
                 strerror(errno));
        close(v->fd);
        free(v);
        return NULL;
    }
    if (pidfile_claim(pidfile, err, errlen) < 0) {
        close(v->fd);
        free(v);
        return NULL;
    }
    return v;
}

void hv_vdpnl_close(struct hv_vdpnl *v)
{
    if (!v)
        return;
    pidfile_release(v->pidfile);
    close(v->fd);
    free(v->e);
    free(v);
}

int hv_vdpnl_fd(const struct hv_vdpnl *v) { return v->fd; }

const struct hv_vdpnl_counters *hv_vdpnl_counters(const struct hv_vdpnl *v)
{
    return &v->cnt;
}

static struct vdpnl_entry *entry_find(const struct hv_vdpnl *v,
                                      const uint8_t uuid[16])
{
    for (size_t i = 0; i < v->ne; i++)
        if (!memcmp(v->e[i].uuid, uuid, 16))
            return &v->e[i];
    return NULL;
}

static struct vdpnl_entry *entry_get(struct hv_vdpnl *v,
                                     const uint8_t uuid[16])
{
    struct vdpnl_entry *x = entry_find(v, uuid);
    if (x)
        return x;
    /* pending requests never expire: bound what senders can make us hold
     * (one per VNIC a hypervisor could have; lookups are linear) */
    if (v->ne >= VDPNL_MAX_ENTRIES)
        return NULL;
    if (v->ne == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 16;
        void *n = realloc(v->e, nc * sizeof(*v->e));
        if (!n)
            return NULL;
        v->e = n;
        v->cap = nc;
    }
    x = &v->e[v->ne++];
    memset(x, 0, sizeof(*x));
    memcpy(x->uuid, uuid, 16);
    return x;
}

void hv_vdpnl_complete(struct hv_vdpnl *v, const uint8_t uuid[16],
                       uint16_t response, uint64_t now)
{
    struct vdpnl_entry *x = entry_find(v, uuid);
    if (!x || x->done_at)
        return;
    x->response = response;
    x->done_at = now ? now : 1;
    if (response != PORT_VDP_RESPONSE_SUCCESS)
        v->cnt.refused++;
}

int hv_vdpnl_pending(const struct hv_vdpnl *v, const uint8_t uuid[16],
                     uint8_t *op)
{
    const struct vdpnl_entry *x = entry_find(v, uuid);
    if (!x || x->done_at)
        return 0;
    if (op)
        *op = x->op;
    return 1;
}

void hv_vdpnl_expire(struct hv_vdpnl *v, uint64_t now)
{
    for (size_t i = 0; i < v->ne;) {
        if (v->e[i].done_at && now >= v->e[i].done_at &&
            now - v->e[i].done_at >= v->keep_ms)
            v->e[i] = v->e[--v->ne];
        else
            i++;
    }
}

/* ---- parsing a SETLINK the way lldpad's vdpnl_set() does --------------- */
static int parse_setlink(struct nlmsghdr *nlh, struct hv_vdpnl_req *r)
{
    static struct nla_policy port_pol[IFLA_PORT_MAX + 1] = {
        [IFLA_PORT_VF] = {.type = NLA_U32},
        [IFLA_PORT_VSI_TYPE] = {.minlen = sizeof(struct ifla_port_vsi)},
        [IFLA_PORT_INSTANCE_UUID] = {.minlen = 16, .maxlen = 16},
        [IFLA_PORT_REQUEST] = {.type = NLA_U8},
    };
    static struct nla_policy vf_pol[IFLA_VF_MAX + 1] = {
        [IFLA_VF_MAC] = {.minlen = sizeof(struct ifla_vf_mac)},
        [IFLA_VF_VLAN] = {.minlen = sizeof(struct ifla_vf_vlan)},
    };
    struct nlattr *tb[IFLA_MAX + 1], *a, *p[IFLA_PORT_MAX + 1],
        *vf[IFLA_VF_MAX + 1];
    struct ifinfomsg *ifi;
    int rem, have_port = 0;

    memset(r, 0, sizeof(*r));
    if (!nlmsg_valid_hdr(nlh, sizeof(*ifi)) ||
        nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
        return -EINVAL;
    ifi = nlmsg_data(nlh);
    r->ifindex = ifi->ifi_index;
    if (tb[IFLA_IFNAME])
        nla_strlcpy(r->ifname, tb[IFLA_IFNAME], sizeof(r->ifname));
    else if (!if_indextoname((unsigned)ifi->ifi_index, r->ifname))
        r->ifname[0] = 0;
    if (tb[IFLA_VFINFO_LIST]) {
        nla_for_each_nested(a, tb[IFLA_VFINFO_LIST], rem) {
            if (nla_type(a) != IFLA_VF_INFO ||
                nla_parse_nested(vf, IFLA_VF_MAX, a, vf_pol) < 0)
                return -EINVAL;
            if (vf[IFLA_VF_MAC]) {
                struct ifla_vf_mac *m = nla_data(vf[IFLA_VF_MAC]);
                memcpy(r->mac, m->mac, 6);
                r->has_mac = 1;
            }
            if (vf[IFLA_VF_VLAN])
                r->vlan = (uint16_t)((struct ifla_vf_vlan *)
                                         nla_data(vf[IFLA_VF_VLAN]))->vlan;
        }
    }
    if (!tb[IFLA_VF_PORTS])
        return -EINVAL;
    nla_for_each_nested(a, tb[IFLA_VF_PORTS], rem) {
        if (nla_type(a) != IFLA_VF_PORT ||
            nla_parse_nested(p, IFLA_PORT_MAX, a, port_pol) < 0)
            return -EINVAL;
        if (!p[IFLA_PORT_INSTANCE_UUID] || !p[IFLA_PORT_REQUEST] ||
            !p[IFLA_PORT_VSI_TYPE])
            return -EINVAL;
        struct ifla_port_vsi *vsi = nla_data(p[IFLA_PORT_VSI_TYPE]);
        r->mgr_id = vsi->vsi_mgr_id;
        r->type_version = vsi->vsi_type_version;
        r->type_id = (uint32_t)vsi->vsi_type_id[2] << 16 |
                     (uint32_t)vsi->vsi_type_id[1] << 8 | vsi->vsi_type_id[0];
        memcpy(r->uuid, nla_data(p[IFLA_PORT_INSTANCE_UUID]), 16);
        r->op = nla_get_u8(p[IFLA_PORT_REQUEST]);
        have_port = 1;
        break; /* libvirt sends exactly one VF port (PORT_SELF_VF) */
    }
    if (!have_port || r->op > PORT_REQUEST_DISASSOCIATE)
        return -EINVAL;
    /* associate needs a MAC to associate; disassociate does not */
    if (r->op != PORT_REQUEST_DISASSOCIATE && !r->has_mac)
        return -EINVAL;
    return 0;
}

/* ---- answers ---------------------------------------------------------------- */
static void send_to(struct hv_vdpnl *v, const struct sockaddr_nl *peer,
                    const void *buf, size_t len)
{
    if (sendto(v->fd, buf, len, 0, (const struct sockaddr *)peer,
               sizeof(*peer)) < 0)
        log_warn("vdp: netlink reply to port %u", peer->nl_pid);
}

/* NLMSG_ERROR carrying err (0 = ACK), as lldpad's vdpnl_error(). */
static void send_error(struct hv_vdpnl *v, const struct sockaddr_nl *peer,
                       const struct nlmsghdr *req, int err)
{
    struct {
        struct nlmsghdr h;
        struct nlmsgerr e;
    } m;
    memset(&m, 0, sizeof(m));
    m.h.nlmsg_len = NLMSG_LENGTH(sizeof(m.e));
    m.h.nlmsg_type = NLMSG_ERROR;
    m.h.nlmsg_seq = req->nlmsg_seq;
    m.h.nlmsg_pid = req->nlmsg_pid;
    m.e.error = err;
    m.e.msg = *req;
    send_to(v, peer, &m, m.h.nlmsg_len);
}

/* lldpad's vdpnl_getlink(): NLMSG_DONE, ifinfomsg, IFLA_VF_PORTS with one
 * IFLA_VF_PORT {INSTANCE_UUID, VF = PORT_SELF_VF, [RESPONSE]} per VSI. */
static void send_status(struct hv_vdpnl *v, const struct sockaddr_nl *peer,
                        const struct nlmsghdr *req, int ifindex)
{
    struct nl_msg *m = nlmsg_alloc_size(VDPNL_BUF);
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    struct nlattr *ports, *port;

    if (!m)
        return;
    if (!nlmsg_put(m, req->nlmsg_pid, req->nlmsg_seq, NLMSG_DONE, 0, 0) ||
        nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
        !(ports = nla_nest_start(m, IFLA_VF_PORTS)))
        goto out;
    for (size_t i = 0; i < v->ne; i++) {
        const struct vdpnl_entry *x = &v->e[i];
        if (ifindex && x->ifindex && x->ifindex != ifindex)
            continue;
        if (!(port = nla_nest_start(m, IFLA_VF_PORT)) ||
            nla_put(m, IFLA_PORT_INSTANCE_UUID, 16, x->uuid) < 0 ||
            nla_put_u32(m, IFLA_PORT_VF, (uint32_t)PORT_SELF_VF) < 0 ||
            (x->done_at &&
             nla_put_u16(m, IFLA_PORT_RESPONSE, x->response) < 0))
            break; /* full: what fits is sent */
        nla_nest_end(m, port);
    }
    nla_nest_end(m, ports);
    send_to(v, peer, nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len);
out:
    nlmsg_free(m);
}

static void handle_setlink(struct hv_vdpnl *v, const struct sockaddr_nl *peer,
                           struct nlmsghdr *nlh, uint64_t now)
{
    struct hv_vdpnl_req r;
    struct vdpnl_entry *x;
    char u[NVDP_UUID_STRLEN];
    int rc;

    v->cnt.setlink++;
    if (parse_setlink(nlh, &r) < 0) {
        v->cnt.malformed++;
        log_warnx("vdp: malformed RTM_SETLINK from port %u", peer->nl_pid);
        send_error(v, peer, nlh, -EINVAL);
        return;
    }
    nvdp_uuid_fmt((const struct nvdp_uuid *)r.uuid, u);
    log_debug("vdp: request %u for %s type %u/%u on %s", r.op, u, r.type_id,
              r.type_version, r.ifname);
    if (!(x = entry_get(v, r.uuid))) {
        send_error(v, peer, nlh, -ENOMEM);
        return;
    }
    x->ifindex = r.ifindex;
    x->op = r.op;
    x->done_at = 0;
    x->response = VDPNL_NONE;
    rc = v->ops.request ? v->ops.request(v->ops.arg, &r)
                        : PORT_VDP_RESPONSE_OUT_OF_SYNC;
    if (rc != HV_VDPNL_PENDING) {
        if (rc == PORT_VDP_RESPONSE_UNUSED_VTID)
            v->cnt.unknown_type++;
        hv_vdpnl_complete(v, r.uuid, (uint16_t)rc, now);
    }
    /* The SETLINK is acknowledged once the request is recorded (as lldpad
     * does); the VDP answer, even an immediate refusal, is what libvirt
     * polls for with RTM_GETLINK. */
    send_error(v, peer, nlh, 0);
}

/* Like libvirt's own netlink event code (and unlike a plain recvfrom):
 * only root, or our own user, may ask for an association. A message
 * without credentials (SO_PASSCRED makes the kernel attach them) is
 * refused. */
static int sender_allowed(struct msghdr *mh)
{
    if (mh->msg_flags & MSG_CTRUNC)
        return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS ||
            c->cmsg_len < CMSG_LEN(sizeof(struct ucred)))
            continue;
        struct ucred uc;
        memcpy(&uc, CMSG_DATA(c), sizeof(uc));
        return uc.uid == 0 || uc.uid == geteuid();
    }
    return 0;
}

void hv_vdpnl_input(struct hv_vdpnl *v, uint64_t now)
{
    struct sockaddr_nl peer;
    ssize_t n;

    hv_vdpnl_expire(v, now);
    for (;;) {
        union {
            struct cmsghdr h;
            uint8_t b[CMSG_SPACE(sizeof(struct ucred))];
        } cm;
        struct iovec iov = {v->buf, sizeof(v->buf)};
        struct msghdr mh = {.msg_name = &peer, .msg_namelen = sizeof(peer),
                            .msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = cm.b,
                            .msg_controllen = sizeof(cm.b)};
        n = recvmsg(v->fd, &mh, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warn("vdp: netlink receive");
            return;
        }
        if (peer.nl_pid == 0)
            continue; /* the kernel does not ask us anything */
        if (!sender_allowed(&mh)) {
            /* not answered: an unprivileged process learns nothing */
            v->cnt.unauthorised++;
            log_debug("vdp: message from port %u ignored: not root",
                      peer.nl_pid);
            continue;
        }
        struct nlmsghdr *nlh = (struct nlmsghdr *)v->buf;
        if (!NLMSG_OK(nlh, (size_t)n)) {
            v->cnt.malformed++;
            continue;
        }
        switch (nlh->nlmsg_type) {
        case RTM_SETLINK:
            handle_setlink(v, &peer, nlh, now);
            break;
        case RTM_GETLINK:
            v->cnt.getlink++;
            if (!nlmsg_valid_hdr(nlh, sizeof(struct ifinfomsg))) {
                v->cnt.malformed++;
                send_error(v, &peer, nlh, -EINVAL);
                break;
            }
            send_status(v, &peer, nlh,
                        ((struct ifinfomsg *)nlmsg_data(nlh))->ifi_index);
            break;
        default:
            v->cnt.malformed++;
            send_error(v, &peer, nlh, -EOPNOTSUPP);
        }
    }
}

struct json_object *hv_vdpnl_json(const struct hv_vdpnl *v)
{
    struct json_object *o = json_object_new_object(), *a = json_object_new_array();
    char u[NVDP_UUID_STRLEN];

    json_object_object_add(o, "pid_file", json_object_new_string(v->pidfile));
    for (size_t i = 0; i < v->ne; i++) {
        struct json_object *e = json_object_new_object();
        nvdp_uuid_fmt((const struct nvdp_uuid *)v->e[i].uuid, u);
        json_object_object_add(e, "instance", json_object_new_string(u));
        json_object_object_add(e, "request", json_object_new_int(v->e[i].op));
        json_object_object_add(e, "response", v->e[i].done_at
                               ? json_object_new_int(v->e[i].response) : NULL);
        json_object_array_add(a, e);
    }
    json_object_object_add(o, "vsis", a);
#define C(f) json_object_object_add(o, #f, json_object_new_int64((int64_t)v->cnt.f))
    C(setlink); C(getlink); C(malformed); C(unknown_type); C(refused);
    C(unauthorised);
#undef C
    return o;
}
