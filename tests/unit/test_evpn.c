/* test_evpn.c - cmocka tests of the EVPN engine: netlink messages built in
 * the exact shapes FRR 8.4 sends (nve-agent(8), EVPN) go through the
 * decoder (evpn_nl_decode) and the engine into a real forwarder (tables
 * only); our associations come out as recorded kernel writes. Time and
 * FRR's liveness are driven by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "evpn.h"
#include "evpn_nl.h"
#include "fwd.h"
#include "log.h"

#define VNI 10100
#define BR 20 /* shadow devices' ifindexes in the fake kernel */
#define VX 21
#define VP 22
#define VQ 23
#define OTHER 99 /* a device that is not ours */

static const uint8_t M1[6] = {0x52, 0x54, 0, 0, 0, 1};
static const uint8_t M2[6] = {0x52, 0x54, 0, 0, 0, 2};
static const uint8_t ZERO[6];

/* ---- the fake kernel and FRR ------------------------------------------- */

struct fake {
    char log[4096];     /* kernel writes, in order */
    uint64_t inst;      /* what the FRR probe says */
    int create_fails;   /* vn_create refuses (a foreign device) */
    int destroyed;
    struct fwd *f;
    struct evpn *e;
    uint64_t now;
};

static void
logf_(struct fake *x, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(x->log);

    va_start(ap, fmt);
    vsnprintf(x->log + n, sizeof(x->log) - n, fmt, ap);
    va_end(ap);
}

static int
k_create(void *arg, uint32_t vni, const struct evpn_params *p,
         struct evpn_ifs *ifs, char *err, size_t errlen)
{
    struct fake *x = arg;

    if (x->create_fails) {
        snprintf(err, errlen, "device snvb%u exists and is not ours", vni);
        return -1;
    }
    *ifs = (struct evpn_ifs){BR, VX, VP, VQ};
    return 0;
}

static void
k_destroy(void *arg, uint32_t vni, const struct evpn_ifs *ifs)
{
    ((struct fake *)arg)->destroyed++;
}

static int
k_mac(void *arg, const struct evpn_ifs *ifs, const uint8_t mac[6], int add)
{
    logf_(arg, "M%c%02x;", add ? '+' : '-', mac[5]);
    return 0;
}

static int
k_ip(void *arg, const struct evpn_ifs *ifs, int family, const uint8_t ip[16],
     const uint8_t mac[6], int add)
{
    char b[64];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, ip, b, sizeof(b));
    logf_(arg, "I%c%s;", add ? '+' : '-', b);
    return 0;
}

static uint64_t
k_probe(void *arg)
{
    return ((struct fake *)arg)->inst;
}

static struct evpn_params
params(void)
{
    struct evpn_params p = {
        .vtep = {192, 0, 2, 1},
        .shadow_port = 14789,
        .withdraw_delay_ms = 500,
        .frr_grace_ms = 30000,
        .frr_reconcile_ms = 3000,
        .migration_hold_ms = 10000,
        .mobility_hold_ms = 5000,
        .probe_ms = 200,
    };
    return p;
}

static int
setup(void **state)
{
    struct fake *x = calloc(1, sizeof(*x));
    struct fwd_params fp = {.udp_port = 4789, .sport_min = 49152,
                            .sport_max = 65535, .ttl = 64, .mac_age_s = 300};
    struct evpn_kops k = {x, k_create, k_destroy, k_mac, k_ip, k_probe};
    struct evpn_params p = params();

    log_init("test_evpn", 1, 0);
    x->inst = 0x100000002ull; /* FRR runs */
    x->now = 1000;
    x->f = fwd_new(&fp);
    assert_non_null(x->f);
    x->e = evpn_new(&p, &k, x->f, x->now);
    assert_non_null(x->e);
    assert_int_equal(evpn_vn_add(x->e, VNI, x->now), 0);
    *state = x;
    return 0;
}

static int
teardown(void **state)
{
    struct fake *x = *state;
    evpn_free(x->e);
    fwd_free(x->f);
    free(x);
    return 0;
}

/* ---- messages in FRR's shapes ------------------------------------------ */

struct msg {
    int type;             /* RTM_NEWNEIGH / RTM_DELNEIGH */
    uint8_t family;
    int ifindex;
    uint16_t state;
    uint8_t flags;
    const uint8_t *lladdr;
    const char *dst;      /* textual IPv4/IPv6 */
    int master;
};

/* Built with libnl as the kernel would send it, then decoded. */
static int
decode(const struct msg *s, struct evpn_nlev *ev)
{
    struct nl_msg *m = nlmsg_alloc_simple(s->type, 0);
    struct ndmsg nd = {.ndm_family = s->family, .ndm_ifindex = s->ifindex,
                       .ndm_state = s->state, .ndm_flags = s->flags};
    uint8_t ip[16];

    assert_non_null(m);
    assert_int_equal(nlmsg_append(m, &nd, sizeof(nd), NLMSG_ALIGNTO), 0);
    if (s->lladdr)
        nla_put(m, NDA_LLADDR, 6, s->lladdr);
    if (s->dst) {
        int v6 = strchr(s->dst, ':') != NULL;
        assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, s->dst, ip), 1);
        nla_put(m, NDA_DST, v6 ? 16 : 4, ip);
    }
    if (s->master)
        nla_put_u32(m, NDA_MASTER, (uint32_t)s->master);
    int rc = evpn_nl_decode(nlmsg_hdr(m), ev);
    nlmsg_free(m);
    return rc;
}

static void
feed(struct fake *x, const struct msg *s)
{
    struct evpn_nlev ev;
    assert_int_equal(decode(s, &ev), 0);
    evpn_kernel_input(x->e, &ev, x->now);
}

/* A type-3 route: 00:00:00:00:00:00 dev vxlanV dst VTEP self permanent */
static void
type3(struct fake *x, int type, const char *vtep)
{
    struct msg m = {type, AF_BRIDGE, VX, NUD_NOARP | NUD_PERMANENT, NTF_SELF,
                    ZERO, vtep, 0};
    feed(x, &m);
}

/* A type-2 MAC route: the bridge entry first (MAC dev vxlanV extern_learn
 * master brV, NTF_MASTER not set), then the self entry. */
static void
type2_bridge(struct fake *x, int type, const uint8_t *mac)
{
    struct msg m = {type, AF_BRIDGE, VX, NUD_REACHABLE, NTF_EXT_LEARNED, mac,
                    NULL, BR};
    feed(x, &m);
}

static void
type2_self(struct fake *x, int type, const uint8_t *mac, const char *vtep)
{
    struct msg m = {type, AF_BRIDGE, VX, NUD_REACHABLE,
                    NTF_SELF | NTF_EXT_LEARNED, mac, vtep, 0};
    feed(x, &m);
}

static void
type2(struct fake *x, int type, const uint8_t *mac, const char *vtep)
{
    type2_bridge(x, type, mac);
    type2_self(x, type, mac, vtep);
}

/* The echo of our own write: MAC dev vmV master brV static */
static void
echo_local(struct fake *x, int type, const uint8_t *mac)
{
    struct msg m = {type, AF_BRIDGE, VP, NUD_NOARP, NTF_MASTER, mac, NULL, BR};
    feed(x, &m);
}

/* Type-2 MAC+IP: IP dev brV lladdr MAC extern_learn NOARP proto zebra */
static void
macip(struct fake *x, const char *ip, const uint8_t *mac)
{
    struct msg m = {RTM_NEWNEIGH, strchr(ip, ':') ? AF_INET6 : AF_INET, BR,
                    NUD_NOARP, NTF_EXT_LEARNED, mac, ip, 0};
    feed(x, &m);
}

/* Its withdrawal: NEWNEIGH FAILED without extern_learn, then DEL */
static void
macip_withdraw(struct fake *x, const char *ip, const uint8_t *mac)
{
    struct msg m = {RTM_NEWNEIGH, strchr(ip, ':') ? AF_INET6 : AF_INET, BR,
                    NUD_FAILED, 0, mac, ip, 0};
    feed(x, &m);
    m.type = RTM_DELNEIGH;
    feed(x, &m);
}

static void
advance(struct fake *x, uint64_t ms)
{
    x->now += ms;
    evpn_timers(x->e, x->now);
}

static void
sync_(struct fake *x)
{
    evpn_sync(x->e, x->now);
}

/* ---- what the forwarder holds ------------------------------------------ */

static struct json_object *
vn_json(struct json_object *dump, uint32_t vni)
{
    struct json_object *vns, *v, *n;
    assert_true(json_object_object_get_ex(dump, "vns", &vns));
    for (size_t i = 0; i < json_object_array_length(vns); i++) {
        v = json_object_array_get_idx(vns, i);
        if (json_object_object_get_ex(v, "vni", &n) &&
            json_object_get_int64(n) == vni)
            return v;
    }
    return NULL;
}

/* "remote 192.0.2.2", "remote 192.0.2.2 moved", "local", or "" */
static const char *
fwd_mac(struct fake *x, const uint8_t mac[6])
{
    static char out[96];
    char want[18];
    struct json_object *d = fwd_dump_json(x->f), *v, *macs, *m, *t;

    out[0] = '\0';
    snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
             mac[1], mac[2], mac[3], mac[4], mac[5]);
    if ((v = vn_json(d, VNI)) && json_object_object_get_ex(v, "macs", &macs))
        for (size_t i = 0; i < json_object_array_length(macs); i++) {
            m = json_object_array_get_idx(macs, i);
            json_object_object_get_ex(m, "mac", &t);
            if (strcmp(json_object_get_string(t), want) != 0)
                continue;
            json_object_object_get_ex(m, "type", &t);
            snprintf(out, sizeof(out), "%s", json_object_get_string(t));
            if (json_object_object_get_ex(m, "remote", &t))
                snprintf(out + strlen(out), sizeof(out) - strlen(out), " %s",
                         json_object_get_string(t));
            if (json_object_object_get_ex(m, "moved", &t) &&
                json_object_get_boolean(t))
                strcat(out, " moved");
        }
    json_object_put(d);
    return out;
}

/* The VN's flood list, comma-separated. */
static const char *
fwd_flood(struct fake *x)
{
    static char out[256];
    struct json_object *d = fwd_dump_json(x->f), *v, *fl;

    out[0] = '\0';
    if ((v = vn_json(d, VNI)) && json_object_object_get_ex(v, "flood", &fl))
        for (size_t i = 0; i < json_object_array_length(fl); i++)
            snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
                     i ? "," : "",
                     json_object_get_string(json_object_array_get_idx(fl, i)));
    json_object_put(d);
    return out;
}

/* The MAC the forwarder's ARP/ND proxy answers for ip ("" if none). */
static const char *
fwd_ip(struct fake *x, const char *ip)
{
    static char out[32];
    struct json_object *d = fwd_dump_json(x->f), *v, *ips, *e, *t;

    out[0] = '\0';
    if ((v = vn_json(d, VNI)) && json_object_object_get_ex(v, "remote_ips", &ips))
        for (size_t i = 0; i < json_object_array_length(ips); i++) {
            e = json_object_array_get_idx(ips, i);
            json_object_object_get_ex(e, "ip", &t);
            if (strcmp(json_object_get_string(t), ip) != 0)
                continue;
            json_object_object_get_ex(e, "mac", &t);
            snprintf(out, sizeof(out), "%s", json_object_get_string(t));
        }
    json_object_put(d);
    return out;
}

static struct nvdp_addr
mac_addr(const uint8_t mac[6])
{
    struct nvdp_addr a;
    memset(&a, 0, sizeof(a));
    memcpy(a.mac, mac, 6);
    a.kind = NVDP_ADDR_MAC;
    return a;
}

static struct nvdp_addr
ip_addr(const uint8_t mac[6], const char *ip)
{
    struct nvdp_addr a = mac_addr(mac);
    a.kind = NVDP_ADDR_HOST;
    a.family = 4;
    inet_pton(AF_INET, ip, a.ip);
    return a;
}

static void
attach(struct fake *x, uint16_t port, const uint8_t mac[6], const char *ip)
{
    struct nvdp_addr a = mac_addr(mac);
    /* the daemon's order (nve.c): the forwarder first, then EVPN */
    assert_int_equal(fwd_vn_bind(x->f, port, 10, VNI), 0);
    assert_int_equal(fwd_local_add(x->f, VNI, port, &a), 0);
    evpn_local_add(x->e, VNI, port, &a, x->now);
    if (ip) {
        struct nvdp_addr i = ip_addr(mac, ip);
        fwd_local_add(x->f, VNI, port, &i);
        evpn_local_add(x->e, VNI, port, &i, x->now);
    }
    sync_(x);
}

static void
detach(struct fake *x, uint16_t port, const uint8_t mac[6], const char *ip,
       int migrating)
{
    struct nvdp_addr a = mac_addr(mac);
    if (ip) {
        struct nvdp_addr i = ip_addr(mac, ip);
        fwd_local_del(x->f, VNI, port, &i);
        evpn_local_del(x->e, VNI, port, &i, migrating, x->now);
    }
    fwd_local_del(x->f, VNI, port, &a);
    evpn_local_del(x->e, VNI, port, &a, migrating, x->now);
    sync_(x);
}

static uint64_t
ctr(struct fake *x, const char *name)
{
    struct json_object *o = evpn_counters_json(x->e), *v;
    uint64_t n = 0;
    if (json_object_object_get_ex(o, name, &v))
        n = (uint64_t)json_object_get_int64(v);
    else
        fail_msg("no counter %s", name);
    json_object_put(o);
    return n;
}

/* ---- decoding ----------------------------------------------------------- */

static void
test_decode_shapes(void **state)
{
    struct evpn_nlev ev;
    struct msg t3 = {RTM_NEWNEIGH, AF_BRIDGE, VX, NUD_NOARP | NUD_PERMANENT,
                     NTF_SELF, ZERO, "192.0.2.2", 0};
    assert_int_equal(decode(&t3, &ev), 0);
    assert_int_equal(ev.del, 0);
    assert_int_equal(ev.family, AF_BRIDGE);
    assert_int_equal(ev.ifindex, VX);
    assert_int_equal(ev.state, 0xc0);
    assert_int_equal(ev.flags, NTF_SELF);
    assert_true(ev.has_lladdr);
    assert_int_equal(ev.dst_family, 4);
    assert_memory_equal(ev.dst, "\xc0\x00\x02\x02", 4);
    assert_int_equal(ev.master, 0);

    struct msg br = {RTM_DELNEIGH, AF_BRIDGE, VX, NUD_REACHABLE,
                     NTF_EXT_LEARNED, M1, NULL, BR};
    assert_int_equal(decode(&br, &ev), 0);
    assert_int_equal(ev.del, 1);
    assert_int_equal(ev.master, BR);
    assert_memory_equal(ev.lladdr, M1, 6);
    assert_int_equal(ev.dst_family, 0);

    struct msg n6 = {RTM_NEWNEIGH, AF_INET6, BR, NUD_NOARP, NTF_EXT_LEARNED,
                     M1, "2001:db8::11", 0};
    assert_int_equal(decode(&n6, &ev), 0);
    assert_int_equal(ev.family, AF_INET6);
    assert_int_equal(ev.dst_family, 6);
    assert_int_equal(ev.dst[15], 0x11);
}

static void
test_decode_malformed(void **state)
{
    struct evpn_nlev ev;
    struct nl_msg *m;
    struct ndmsg nd = {.ndm_family = AF_BRIDGE, .ndm_ifindex = VX};
    uint8_t five[5] = {1, 2, 3, 4, 5};

    /* not a neighbour message: not ours to read */
    m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
    nlmsg_append(m, &nd, sizeof(nd), NLMSG_ALIGNTO);
    assert_int_equal(evpn_nl_decode(nlmsg_hdr(m), &ev), 1);
    nlmsg_free(m);
    /* a bridge entry whose address is not 6 bytes */
    m = nlmsg_alloc_simple(RTM_NEWNEIGH, 0);
    nlmsg_append(m, &nd, sizeof(nd), NLMSG_ALIGNTO);
    nla_put(m, NDA_LLADDR, 5, five);
    assert_int_equal(evpn_nl_decode(nlmsg_hdr(m), &ev), -1);
    nlmsg_free(m);
    /* a destination of 5 bytes */
    m = nlmsg_alloc_simple(RTM_NEWNEIGH, 0);
    nlmsg_append(m, &nd, sizeof(nd), NLMSG_ALIGNTO);
    nla_put(m, NDA_LLADDR, 6, M1);
    nla_put(m, NDA_DST, 5, five);
    assert_int_equal(evpn_nl_decode(nlmsg_hdr(m), &ev), -1);
    nlmsg_free(m);
    /* NDA_MASTER not 4 bytes */
    m = nlmsg_alloc_simple(RTM_NEWNEIGH, 0);
    nlmsg_append(m, &nd, sizeof(nd), NLMSG_ALIGNTO);
    nla_put(m, NDA_MASTER, 2, five);
    assert_int_equal(evpn_nl_decode(nlmsg_hdr(m), &ev), -1);
    nlmsg_free(m);
    /* shorter than its ndmsg */
    m = nlmsg_alloc_simple(RTM_NEWNEIGH, 0);
    nlmsg_append(m, &nd, 4, NLMSG_ALIGNTO);
    assert_int_equal(evpn_nl_decode(nlmsg_hdr(m), &ev), -1);
    nlmsg_free(m);
}

/* ---- remote: flood lists, MACs, MAC+IP --------------------------------- */

static void
test_type3_flood_list(void **state)
{
    struct fake *x = *state;

    type3(x, RTM_NEWNEIGH, "192.0.2.2");
    type3(x, RTM_NEWNEIGH, "192.0.2.3");
    sync_(x);
    assert_string_equal(fwd_flood(x), "192.0.2.2,192.0.2.3");
    type3(x, RTM_DELNEIGH, "192.0.2.2");
    sync_(x);
    /* a withdrawal waits: is FRR stopping? */
    assert_string_equal(fwd_flood(x), "192.0.2.2,192.0.2.3");
    advance(x, 499);
    assert_string_equal(fwd_flood(x), "192.0.2.2,192.0.2.3");
    advance(x, 1);
    assert_string_equal(fwd_flood(x), "192.0.2.3");
    assert_int_equal(ctr(x, "flood_added"), 2);
    assert_int_equal(ctr(x, "flood_removed"), 1);
}

static void
test_type2_mac(void **state)
{
    struct fake *x = *state;

    type2_bridge(x, RTM_NEWNEIGH, M1);
    sync_(x);
    /* no VTEP yet: the self entry names it */
    assert_string_equal(fwd_mac(x, M1), "");
    type2_self(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2");
    /* the other order works too */
    type2_self(x, RTM_NEWNEIGH, M2, "192.0.2.3");
    sync_(x);
    assert_string_equal(fwd_mac(x, M2), "");
    type2_bridge(x, RTM_NEWNEIGH, M2);
    sync_(x);
    assert_string_equal(fwd_mac(x, M2), "remote 192.0.2.3");
    assert_int_equal(ctr(x, "learned"), 2);
    /* a remote move (RFC 7432 15 between two other NVEs): a new self */
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.3");
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.3");
    assert_int_equal(ctr(x, "moves"), 1);
    /* withdrawn: both entries deleted; applied after the delay */
    type2(x, RTM_DELNEIGH, M1, "192.0.2.3");
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.3");
    advance(x, 600);
    assert_string_equal(fwd_mac(x, M1), "");
    assert_string_equal(fwd_mac(x, M2), "remote 192.0.2.3");
    assert_int_equal(ctr(x, "withdrawn"), 1);
}

/* A withdrawal immediately followed by a new install (same MAC, another
 * VTEP) never removes the entry. */
static void
test_withdraw_then_reinstall(void **state)
{
    struct fake *x = *state;

    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    type2(x, RTM_DELNEIGH, M1, "192.0.2.2");
    sync_(x);
    advance(x, 100);
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.3");
    sync_(x);
    advance(x, 1000);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.3");
    assert_int_equal(ctr(x, "withdrawn"), 0);
}

static void
test_macip_proxy(void **state)
{
    struct fake *x = *state;

    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    macip(x, "10.1.0.11", M1);
    macip(x, "2001:db8::11", M1);
    sync_(x);
    assert_string_equal(fwd_ip(x, "10.1.0.11"), "52:54:00:00:00:01");
    assert_string_equal(fwd_ip(x, "2001:db8::11"), "52:54:00:00:00:01");
    macip_withdraw(x, "10.1.0.11", M1);
    sync_(x);
    advance(x, 600);
    assert_string_equal(fwd_ip(x, "10.1.0.11"), "");
    assert_string_equal(fwd_ip(x, "2001:db8::11"), "52:54:00:00:00:01");
    assert_int_equal(ctr(x, "ips_learned"), 2);
    assert_int_equal(ctr(x, "ips_withdrawn"), 1);
}

/* Entries on devices that are not ours, and our own echoes, change nothing
 * in the forwarder. */
static void
test_not_ours_ignored(void **state)
{
    struct fake *x = *state;
    struct msg other = {RTM_NEWNEIGH, AF_BRIDGE, OTHER, NUD_REACHABLE,
                        NTF_EXT_LEARNED, M1, NULL, BR};
    struct msg selfport = {RTM_NEWNEIGH, AF_BRIDGE, VP, NUD_PERMANENT,
                           NTF_SELF, M2, NULL, 0};

    feed(x, &other);
    feed(x, &selfport);
    echo_local(x, RTM_NEWNEIGH, M2); /* an entry we did not write */
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "");
    assert_string_equal(fwd_mac(x, M2), "");
    assert_int_equal(ctr(x, "kernel_ignored"), 1);
    assert_string_equal(x->log, "");
}

/* ---- local: associations mirrored ------------------------------------- */

static void
test_local_mirrored(void **state)
{
    struct fake *x = *state;

    attach(x, 1, M1, "10.1.0.1");
    assert_string_equal(x->log, "M+01;I+10.1.0.1;");
    echo_local(x, RTM_NEWNEIGH, M1); /* our write, echoed */
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "local");
    assert_string_equal(x->log, "M+01;I+10.1.0.1;");
    /* intent shutdown: withdrawn at once, IPs first */
    x->log[0] = '\0';
    detach(x, 1, M1, "10.1.0.1", 0);
    assert_string_equal(x->log, "I-10.1.0.1;M-01;");
    assert_int_equal(ctr(x, "mirrored"), 2);
    assert_int_equal(ctr(x, "unmirrored"), 2);
}

/* seed 001 4.4: migration keeps the routes for the hold; a move between
 * ports of this NVE changes nothing at all. */
static void
test_migration_hold_and_port_move(void **state)
{
    struct fake *x = *state;

    attach(x, 1, M1, "10.1.0.1");
    x->log[0] = '\0';
    detach(x, 1, M1, "10.1.0.1", 1);
    assert_string_equal(x->log, "");
    /* meanwhile frames for it go to the other VTEPs (where it may be) */
    assert_string_equal(fwd_mac(x, M1), "remote * moved");
    advance(x, 9999);
    assert_string_equal(x->log, "");
    advance(x, 1);
    assert_string_equal(x->log, "I-10.1.0.1;M-01;");
    assert_string_equal(fwd_mac(x, M1), "");
    assert_int_equal(ctr(x, "held"), 1);
    assert_int_equal(ctr(x, "hold_expired"), 1);

    /* port 1 -> port 2 of this NVE, in both orders */
    attach(x, 1, M2, NULL);
    x->log[0] = '\0';
    attach(x, 2, M2, NULL);
    detach(x, 1, M2, NULL, 1);
    detach(x, 2, M2, NULL, 1);
    attach(x, 1, M2, NULL);
    advance(x, 20000);
    /* rewriting a written entry is idempotent in the kernel (no event,
     * no route change); nothing was ever removed */
    assert_null(strstr(x->log, "M-"));
}

/* The migration destination: the association is the trigger (the write
 * replaces zebra's remote entry, FRR bumps the sequence number). */
static void
test_destination_advertises(void **state)
{
    struct fake *x = *state;

    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2");
    attach(x, 1, M1, NULL);
    assert_string_equal(x->log, "M+01;");
    echo_local(x, RTM_NEWNEIGH, M1); /* the bridge entry is now on our port */
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "local");
    /* zebra keeps the stale self entry; nothing is withdrawn or moved */
    advance(x, 1000);
    assert_string_equal(fwd_mac(x, M1), "local");
    assert_int_equal(ctr(x, "withdrawn"), 0);
}

/* seed 004: the old NVE sees the new route; the MAC goes to the new VTEP
 * flagged as moved (in-flight frames re-encapsulated there), and our
 * entry is not written again. */
static void
test_source_sees_move(void **state)
{
    struct fake *x = *state;

    attach(x, 1, M1, "10.1.0.1");
    echo_local(x, RTM_NEWNEIGH, M1);
    detach(x, 1, M1, "10.1.0.1", 1); /* VM paused: migration intent */
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "remote * moved");
    x->log[0] = '\0';
    /* FRR moves our bridge entry to the vxlan device, with a new self */
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2 moved");
    assert_int_equal(ctr(x, "taken"), 1);
    /* our noarp neighbour goes (zebra's MAC+IP will come); the MAC is
     * FRR's now: never written or deleted by us */
    assert_string_equal(x->log, "I-10.1.0.1;");
    advance(x, 20000); /* past the migration hold */
    assert_string_equal(x->log, "I-10.1.0.1;");
    assert_int_equal(ctr(x, "hold_expired"), 0);
}

/* The destination associated before the source let go: the forwarder keeps
 * the local entry while this NVE still holds the association; when it
 * leaves, the moved entry is programmed. */
static void
test_source_still_associated(void **state)
{
    struct fake *x = *state;

    attach(x, 1, M1, NULL);
    echo_local(x, RTM_NEWNEIGH, M1);
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "local");
    /* a replay of the same association (hypervisor resync) does not take
     * the MAC back */
    x->log[0] = '\0';
    struct nvdp_addr a = mac_addr(M1);
    evpn_local_add(x->e, VNI, 1, &a, x->now);
    sync_(x);
    assert_string_equal(x->log, "");
    detach(x, 1, M1, NULL, 1);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2 moved");
    assert_string_equal(x->log, "");
}

/* FRR leaves the vxlan self entry as it was when a MAC becomes local, and
 * rewrites it right after the bridge entry only when the MAC goes behind
 * another VTEP: the old one is programmed at once, a fresh one corrects it. */
static void
test_stale_self_entry(void **state)
{
    struct fake *x = *state;

    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    attach(x, 1, M1, NULL);
    echo_local(x, RTM_NEWNEIGH, M1);
    detach(x, 1, M1, NULL, 1);
    /* back to 192.0.2.2: only the bridge entry changes */
    type2_bridge(x, RTM_NEWNEIGH, M1);
    sync_(x);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2 moved");

    /* to another VTEP: the fresh self entry follows the bridge entry */
    type2(x, RTM_NEWNEIGH, M2, "192.0.2.2"); /* its self entry gets old */
    sync_(x);
    attach(x, 1, M2, NULL);
    echo_local(x, RTM_NEWNEIGH, M2);
    detach(x, 1, M2, NULL, 1);
    type2_bridge(x, RTM_NEWNEIGH, M2);
    sync_(x); /* the two messages in two drains: the old VTEP a moment */
    assert_string_equal(fwd_mac(x, M2), "remote 192.0.2.2 moved");
    type2_self(x, RTM_NEWNEIGH, M2, "192.0.2.3");
    sync_(x);
    assert_string_equal(fwd_mac(x, M2), "remote 192.0.2.3 moved");
}

/* The VM's GARP at an NVE whose MAC a stale route took: advertised again. */
static void
test_snoop_reclaims(void **state)
{
    struct fake *x = *state;
    uint8_t ip[16] = {10, 1, 0, 1};

    attach(x, 1, M1, "10.1.0.1");
    echo_local(x, RTM_NEWNEIGH, M1);
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    x->log[0] = '\0';
    evpn_snoop(x->e, VNI, M1, 4, ip, x->now);
    sync_(x);
    assert_string_equal(x->log, "M+01;I+10.1.0.1;I+10.1.0.1;");
    assert_int_equal(ctr(x, "reclaimed"), 1);
    assert_int_equal(ctr(x, "snooped"), 1);
    /* not associated here, or an IP it was not given: not advertised */
    x->log[0] = '\0';
    evpn_snoop(x->e, VNI, M2, 4, ip, x->now);
    ip[3] = 9;
    evpn_snoop(x->e, VNI, M1, 4, ip, x->now);
    assert_string_equal(x->log, "");
    assert_int_equal(ctr(x, "snoop_ignored"), 2);
}

/* ---- FRR outages -------------------------------------------------------- */

static void
test_frr_restart_keeps_then_reconciles(void **state)
{
    struct fake *x = *state;

    type3(x, RTM_NEWNEIGH, "192.0.2.2");
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    type2(x, RTM_NEWNEIGH, M2, "192.0.2.3");
    sync_(x);
    /* FRR stops: it deletes everything it installed while still running */
    type3(x, RTM_DELNEIGH, "192.0.2.2");
    type2(x, RTM_DELNEIGH, M1, "192.0.2.2");
    type2(x, RTM_DELNEIGH, M2, "192.0.2.3");
    sync_(x);
    x->inst = 0;
    advance(x, 600);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2");
    assert_string_equal(fwd_mac(x, M2), "remote 192.0.2.3");
    assert_string_equal(fwd_flood(x), "192.0.2.2");
    assert_int_equal(ctr(x, "frr_outages"), 1);
    assert_int_equal(ctr(x, "stale_kept"), 3);
    /* FRR is back (new pids) and re-installs M1 and the flood entry */
    advance(x, 5000);
    x->inst = 0x300000004ull;
    advance(x, 200);
    type3(x, RTM_NEWNEIGH, "192.0.2.2");
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    advance(x, 2999);
    assert_string_equal(fwd_mac(x, M2), "remote 192.0.2.3");
    /* reconciliation over: M2 was not re-installed */
    advance(x, 100);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2");
    assert_string_equal(fwd_mac(x, M2), "");
    assert_string_equal(fwd_flood(x), "192.0.2.2");
    assert_int_equal(ctr(x, "stale_removed"), 1);
    /* and withdrawals take effect normally again */
    type2(x, RTM_DELNEIGH, M1, "192.0.2.2");
    sync_(x);
    advance(x, 600);
    assert_string_equal(fwd_mac(x, M1), "");
}

/* bgpd withdraws everything when it stops, long before it exits (its pid
 * still runs); a lost BGP session looks the same: every remote VTEP gone at
 * once. Kept, and reconciled when they come back. A single VTEP leaving is
 * a plain withdrawal. */
static void
test_session_loss_keeps(void **state)
{
    struct fake *x = *state;

    type3(x, RTM_NEWNEIGH, "192.0.2.2");
    type3(x, RTM_NEWNEIGH, "192.0.2.3");
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    type2(x, RTM_NEWNEIGH, M2, "192.0.2.3");
    sync_(x);
    /* one VTEP goes (that NVE left): its MAC is withdrawn */
    type2(x, RTM_DELNEIGH, M2, "192.0.2.3");
    type3(x, RTM_DELNEIGH, "192.0.2.3");
    sync_(x);
    advance(x, 600);
    assert_string_equal(fwd_mac(x, M2), "");
    assert_string_equal(fwd_flood(x), "192.0.2.2");
    assert_int_equal(ctr(x, "frr_outages"), 0);
    /* the last one too, with the same FRR still running: kept */
    type2(x, RTM_DELNEIGH, M1, "192.0.2.2");
    type3(x, RTM_DELNEIGH, "192.0.2.2");
    sync_(x);
    advance(x, 600);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2");
    assert_string_equal(fwd_flood(x), "192.0.2.2");
    assert_int_equal(ctr(x, "frr_outages"), 1);
    /* the session is back; M1 is not re-installed within reconcile */
    advance(x, 1000);
    type3(x, RTM_NEWNEIGH, "192.0.2.2");
    sync_(x);
    advance(x, 2999);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2");
    advance(x, 1);
    assert_string_equal(fwd_mac(x, M1), "");
    assert_string_equal(fwd_flood(x), "192.0.2.2");
}

static void
test_frr_gone_grace_ends(void **state)
{
    struct fake *x = *state;

    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    x->inst = 0; /* killed: the probe sees it before the deletions */
    advance(x, 200);
    type2(x, RTM_DELNEIGH, M1, "192.0.2.2");
    sync_(x);
    advance(x, 29000);
    assert_string_equal(fwd_mac(x, M1), "remote 192.0.2.2");
    advance(x, 1000);
    assert_string_equal(fwd_mac(x, M1), "");
    assert_int_equal(ctr(x, "stale_removed"), 1);
}

/* A lost notification: the dump replaces the kernel view. */
static void
test_resync(void **state)
{
    struct fake *x = *state;

    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    type2(x, RTM_NEWNEIGH, M2, "192.0.2.2");
    sync_(x);
    evpn_kernel_resync_begin(x->e);
    type2(x, RTM_NEWNEIGH, M2, "192.0.2.3"); /* the dump: M1 is gone */
    evpn_kernel_resync_end(x->e, x->now);
    assert_string_equal(fwd_mac(x, M2), "remote 192.0.2.3");
    advance(x, 600);
    assert_string_equal(fwd_mac(x, M1), "");
    assert_int_equal(ctr(x, "resyncs"), 1);
}

/* ---- VNs ---------------------------------------------------------------- */

static void
test_vn_removed(void **state)
{
    struct fake *x = *state;

    type3(x, RTM_NEWNEIGH, "192.0.2.2");
    type2(x, RTM_NEWNEIGH, M1, "192.0.2.2");
    sync_(x);
    evpn_vn_del(x->e, VNI, x->now);
    assert_int_equal(x->destroyed, 1);
    assert_string_equal(fwd_mac(x, M1), "");
    assert_string_equal(fwd_flood(x), "");
    /* messages about its old devices are nobody's now */
    type2(x, RTM_NEWNEIGH, M2, "192.0.2.2");
    sync_(x);
    assert_string_equal(fwd_mac(x, M2), "");
}

/* A device that is not ours blocks the VN: retried, and the associations
 * made meanwhile are written when the devices come. */
static void
test_vn_devices_refused(void **state)
{
    struct fake *x = *state;
    struct nvdp_addr a = mac_addr(M2);

    x->create_fails = 1;
    assert_int_equal(evpn_vn_add(x->e, 20200, x->now), -1);
    assert_int_equal(ctr(x, "vn_failures"), 1);
    evpn_local_add(x->e, 20200, 1, &a, x->now);
    assert_string_equal(x->log, "");
    x->create_fails = 0;
    advance(x, 10000);
    assert_string_equal(x->log, "M+02;");
    assert_int_equal(ctr(x, "vn_failures"), 1);
    assert_int_equal(ctr(x, "local_macs"), 1);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_shapes),
        cmocka_unit_test(test_decode_malformed),
        T(test_type3_flood_list),
        T(test_type2_mac),
        T(test_withdraw_then_reinstall),
        T(test_macip_proxy),
        T(test_not_ours_ignored),
        T(test_local_mirrored),
        T(test_migration_hold_and_port_move),
        T(test_destination_advertises),
        T(test_source_sees_move),
        T(test_source_still_associated),
        T(test_stale_self_entry),
        T(test_snoop_reclaims),
        T(test_frr_restart_keeps_then_reconciles),
        T(test_session_loss_keeps),
        T(test_frr_gone_grace_ends),
        T(test_resync),
        T(test_vn_removed),
        T(test_vn_devices_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
