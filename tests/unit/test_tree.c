/* test_tree.c - containment tree rules: connect/assoc/preassoc, tag
 * sharing and release, conflicts, limits, migration vs shutdown intent,
 * VNIC state, resync stale sweep, hold release, expiry, withdraw, memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tree.h"

/* ---- a fake forwarder: the tables tree.c programs ---------------------- */
#define FF_MAX 64
struct ff_local {
    uint32_t vni;
    uint16_t port;
    struct nvdp_addr a;
};
struct fakefwd {
    uint32_t bind[TREE_MAX_PORTS][4096];
    int nbind, nunbind;
    struct ff_local loc[FF_MAX];
    int nloc;
    int inactive; /* MACs marked inactive */
    int nactive_calls;
    int nleave; /* removals through local_leave (a migration's) */
};

static int
same_addr(const struct nvdp_addr *a, const struct nvdp_addr *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

static int
ff_bind(void *arg, uint16_t port, uint16_t tag, uint32_t vni)
{
    struct fakefwd *f = arg;
    assert_int_equal(f->bind[port][tag], 0); /* never bound twice */
    f->bind[port][tag] = vni;
    f->nbind++;
    return 0;
}

static int
ff_unbind(void *arg, uint16_t port, uint16_t tag)
{
    struct fakefwd *f = arg;
    assert_int_not_equal(f->bind[port][tag], 0);
    f->bind[port][tag] = 0;
    f->nunbind++;
    return 0;
}

static int
ff_find(struct fakefwd *f, uint32_t vni, uint16_t port,
        const struct nvdp_addr *a)
{
    for (int i = 0; i < f->nloc; i++)
        if (f->loc[i].vni == vni && f->loc[i].port == port &&
            same_addr(&f->loc[i].a, a))
            return i;
    return -1;
}

/* Like the real forwarder: a MAC lives at one port of its VN (adding it
 * elsewhere moves it, deleting it from a port it left is a no-op); IP
 * entries are per (VN, port). */
static int
ff_find_mac(struct fakefwd *f, uint32_t vni, const uint8_t mac[6])
{
    for (int i = 0; i < f->nloc; i++)
        if (f->loc[i].vni == vni && f->loc[i].a.kind == NVDP_ADDR_MAC &&
            memcmp(f->loc[i].a.mac, mac, 6) == 0)
            return i;
    return -1;
}

static int
ff_add(void *arg, uint32_t vni, uint16_t port, const struct nvdp_addr *a)
{
    struct fakefwd *f = arg;
    int i;

    if (a->kind == NVDP_ADDR_MAC && (i = ff_find_mac(f, vni, a->mac)) >= 0) {
        f->loc[i].port = port;
        return 0;
    }
    if (ff_find(f, vni, port, a) >= 0)
        return 0;
    assert_true(f->nloc < FF_MAX);
    f->loc[f->nloc++] = (struct ff_local){vni, port, *a};
    return 0;
}

static int
ff_del(void *arg, uint32_t vni, uint16_t port, const struct nvdp_addr *a)
{
    struct fakefwd *f = arg;
    int i = ff_find(f, vni, port, a);
    if (i < 0)
        return -1;
    f->loc[i] = f->loc[--f->nloc];
    if (a->kind == NVDP_ADDR_MAC) /* its IPs on that port go with it */
        for (i = f->nloc; i-- > 0;)
            if (f->loc[i].vni == vni && f->loc[i].port == port &&
                memcmp(f->loc[i].a.mac, a->mac, 6) == 0)
                f->loc[i] = f->loc[--f->nloc];
    return 0;
}

static int
ff_leave(void *arg, uint32_t vni, uint16_t port, const struct nvdp_addr *a)
{
    ((struct fakefwd *)arg)->nleave++;
    return ff_del(arg, vni, port, a);
}

static int
ff_active(void *arg, uint32_t vni, const uint8_t mac[6], int active)
{
    struct fakefwd *f = arg;
    f->nactive_calls++;
    f->inactive += active ? -1 : 1;
    return 0;
}

/* ---- fixtures ------------------------------------------------------------ */
struct fx {
    struct tree t;
    struct fakefwd ff;
};

static const uint8_t HV1[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t HV2[6] = {2, 0, 0, 0, 0, 2};
static const uint8_t HV3[6] = {2, 0, 0, 0, 0, 3};

static struct fx *
fx_new(uint32_t max_addrs, uint32_t max_per_hv)
{
    struct fx *x = calloc(1, sizeof(*x));
    struct tree_sink s = {&x->ff, ff_bind, ff_unbind, ff_add, ff_del,
                          ff_active, ff_leave};
    struct tree_limits lim = {.max_addrs = max_addrs,
                              .max_vnics_per_hv = max_per_hv,
                              .preassoc_ms = 120000};
    struct tagset ts;

    assert_int_equal(tree_init(&x->t, &s, &lim), 0);
    memset(&ts, 0, sizeof(ts));
    for (unsigned v = 2; v <= 4000; v++)
        tagset_add(&ts, v);
    assert_int_equal(tree_port_set(&x->t, 0, &ts, 0), 0);
    assert_int_equal(tree_port_set(&x->t, 1, &ts, 0), 0);
    return x;
}

static void
fx_free(struct fx *x)
{
    tree_free(&x->t);
    free(x);
}

static struct nvdp_uuid
U(unsigned n)
{
    struct nvdp_uuid u;
    memset(&u, 0, sizeof(u));
    u.b[0] = 0x11;
    u.b[12] = (uint8_t)(n >> 24);
    u.b[13] = (uint8_t)(n >> 16);
    u.b[14] = (uint8_t)(n >> 8);
    u.b[15] = (uint8_t)n;
    return u;
}

static struct nvdp_addr
A_MAC(unsigned n)
{
    struct nvdp_addr a;
    memset(&a, 0, sizeof(a));
    a.mac[0] = 0x52;
    a.mac[3] = (uint8_t)(n >> 16);
    a.mac[4] = (uint8_t)(n >> 8);
    a.mac[5] = (uint8_t)n;
    a.kind = NVDP_ADDR_MAC;
    return a;
}

static struct nvdp_addr
A_IP4(unsigned n, uint8_t last)
{
    struct nvdp_addr a = A_MAC(n);
    a.kind = NVDP_ADDR_HOST;
    a.family = 4;
    a.ip[0] = 10;
    a.ip[1] = (uint8_t)(n >> 8);
    a.ip[2] = (uint8_t)n;
    a.ip[3] = last;
    return a;
}

static struct tree_req
R(uint16_t port, const uint8_t *hv, const struct nvdp_uuid *u, uint32_t vni,
  const struct nvdp_addr *a, uint16_t na)
{
    struct tree_req r = {.port = port, .hv = hv, .vnic = u, .vni = vni,
                         .addr = a, .naddr = na, .now = 1000};
    return r;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_connect_shares_tag(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u2 = U(2), u3 = U(3);
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, NULL, 0);

    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_true(res.has_tag);
    assert_int_equal(res.tag, 2);
    assert_int_equal(x->ff.bind[0][2], 100);
    /* second hypervisor, same bridged port, same VN: same tag */
    r = R(0, HV2, &u2, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.tag, 2);
    assert_int_equal(x->ff.nbind, 1);
    assert_int_equal(tag_refs(tree_port_tags(&x->t, 0), 2), 2);
    /* idempotent: same request again changes nothing */
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.tag, 2);
    assert_int_equal(tag_refs(tree_port_tags(&x->t, 0), 2), 2);
    assert_int_equal(x->t.nvnic, 2);
    /* other VN: other tag; other port: own allocator */
    r = R(0, HV2, &u3, 200, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.tag, 3);
    r = R(1, HV3, &u3, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.tag, 2);
    assert_int_equal(x->ff.bind[1][2], 100);
    /* unknown port */
    r = R(7, HV3, &u3, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_INTERNAL);
    fx_free(x);
}

static void
test_disconnect_frees_tag_last(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u2 = U(2);
    struct nvdp_addr a[1] = {A_IP4(1, 5)};
    struct tree_res res;
    struct tree_req r1 = R(0, HV1, &u1, 100, a, 1);
    struct tree_req r2 = R(0, HV2, &u2, 100, NULL, 0);

    tree_assoc(&x->t, &r1, &res);
    tree_connect(&x->t, &r2, &res);
    assert_int_equal(x->ff.nloc, 2); /* MAC + IP */
    tree_disconnect(&x->t, &r1, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->ff.nloc, 0);
    assert_int_equal(x->ff.bind[0][2], 100); /* u2 still holds it */
    tree_disconnect(&x->t, &r1, &res); /* not connected: OK */
    assert_int_equal(res.status, NVDP_ST_OK);
    /* disconnect naming another VN does not touch the VNIC */
    r2.vni = 999;
    tree_disconnect(&x->t, &r2, &res);
    assert_int_equal(x->t.nvnic, 1);
    r2.vni = 100;
    tree_disconnect(&x->t, &r2, &res);
    assert_int_equal(x->ff.bind[0][2], 0);
    assert_int_equal(x->ff.nunbind, 1);
    assert_int_equal(x->t.nvnic, 0);
    assert_null(x->t.hvs);
    fx_free(x);
}

static void
test_assoc_addrs_idempotent(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct nvdp_addr a[3] = {A_IP4(1, 5), A_IP4(1, 6), A_MAC(1)};
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, a, 3);

    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(res.tag, 2);
    assert_int_equal(x->ff.nloc, 3);
    struct tree_vnic *v = tree_find(&x->t, &u1, 0, HV1);
    assert_non_null(v);
    assert_int_equal(v->naddr, 3);
    assert_string_equal(tree_state_str(v), "associated");
    tree_assoc(&x->t, &r, &res); /* existing ones are no-ops */
    assert_int_equal(v->naddr, 3);
    assert_int_equal(x->ff.nloc, 3);
    /* DISASSOC of one IP keeps the MAC and the other IP */
    struct tree_req d = R(0, HV1, &u1, 100, &a[0], 1);
    tree_disassoc(&x->t, &d, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(v->naddr, 2);
    assert_int_equal(ff_find(&x->ff, 100, 0, &a[0]), -1);
    /* unknown address ignored */
    struct nvdp_addr other = A_IP4(9, 9);
    d = R(0, HV1, &u1, 100, &other, 1);
    tree_disassoc(&x->t, &d, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(v->naddr, 2);
    /* MAC-only removes the MAC and its IPs; the VNIC stays connected */
    d = R(0, HV1, &u1, 100, &a[2], 1);
    tree_disassoc(&x->t, &d, &res);
    assert_int_equal(v->naddr, 0);
    assert_int_equal(x->ff.nloc, 0);
    assert_int_equal(x->ff.bind[0][2], 100);
    /* the MAC is free for another VNIC now */
    struct nvdp_uuid u2 = U(2);
    r = R(0, HV2, &u2, 100, &a[2], 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    fx_free(x);
}

static void
test_conflicts(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u2 = U(2);
    struct nvdp_addr a = A_IP4(1, 5), b = A_IP4(2, 5);
    struct nvdp_addr ab[2] = {b, a};
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, &a, 1);

    tree_assoc(&x->t, &r, &res);
    /* same MAC in the same VN by another VNIC: refused, nothing applied */
    r = R(1, HV2, &u2, 100, ab, 2);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_CONFLICT);
    assert_non_null(strstr(res.reason, "in use"));
    assert_null(tree_find(&x->t, &u2, 1, HV2));
    assert_int_equal(x->ff.nloc, 2);
    assert_int_equal(x->ff.bind[1][2], 0);
    /* same MAC in another VN is fine */
    r.vni = 200;
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    /* the same VNIC connected to a second VN on one port: conflict */
    r = R(0, HV1, &u1, 300, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_CONFLICT);
    /* also from another hypervisor on that port */
    r = R(0, HV3, &u1, 300, NULL, 0);
    tree_preassoc(&x->t, &r, 1, &res);
    assert_int_equal(res.status, NVDP_ST_CONFLICT);
    /* multicast MAC refused */
    struct nvdp_addr mc = A_MAC(3);
    mc.mac[0] = 0x01;
    r = R(0, HV1, &u1, 100, &mc, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_MALFORMED);
    fx_free(x);
}

static void
test_limits(void **state)
{
    struct fx *x = fx_new(3, 2);
    struct nvdp_uuid u1 = U(1), u2 = U(2), u3 = U(3);
    struct nvdp_addr a[2] = {A_IP4(1, 5), A_IP4(1, 6)};
    struct nvdp_addr c = A_IP4(1, 7);
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, a, 2);

    tree_assoc(&x->t, &r, &res); /* MAC + 2 IPs = 3 records */
    assert_int_equal(res.status, NVDP_ST_OK);
    r = R(0, HV1, &u1, 100, &c, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(tree_find(&x->t, &u1, 0, HV1)->naddr, 3);
    /* re-sending known addresses is not over the limit */
    r = R(0, HV1, &u1, 100, a, 2);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    /* VNICs per hypervisor */
    r = R(0, HV1, &u2, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    r = R(0, HV1, &u3, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(x->t.nvnic, 2);
    /* VNICs per port */
    struct tagset ts;
    memset(&ts, 0, sizeof(ts));
    tagset_add(&ts, 5);
    tree_port_set(&x->t, 0, &ts, 2);
    r = R(0, HV2, &u3, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_non_null(strstr(res.reason, "port"));
    fx_free(x);
}

/* The limits a hostile hypervisor meets (spec 16): VNICs in the whole NVE,
 * addresses of one hypervisor, pre-associations of a port; each refusal
 * says which limit and changes nothing. */
static void
test_bounded_state(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct tree_res res;
    struct tree_req r;
    struct nvdp_uuid u[8];
    struct nvdp_addr a[4];

    (void)state;
    for (unsigned i = 0; i < 8; i++)
        u[i] = U(100 + i);
    /* VNICs in the NVE: every port and hypervisor together */
    x->t.lim.max_vnics = 3;
    r = R(0, HV1, &u[0], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    r = R(1, HV2, &u[1], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    r = R(0, HV3, &u[2], 200, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    r = R(1, HV3, &u[3], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_VNICS);
    assert_int_equal(x->t.nvnic, 3);
    assert_int_equal(x->t.nhv, 3);
    /* an existing VNIC still changes at the limit */
    a[0] = A_IP4(1, 1);
    r = R(0, HV1, &u[0], 100, a, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    x->t.lim.max_vnics = 0;

    /* crowded (7/8 of max_vnics held): a hypervisor at its share (7 / 3
     * hypervisors = 2) is refused, one below it (HV2: 1) gets the rest */
    x->t.lim.max_vnics = 8;
    struct nvdp_uuid w[8];
    for (unsigned i = 0; i < 8; i++)
        w[i] = U(200 + i);
    for (unsigned i = 0; i < 2; i++) {
        r = R(0, HV1, &w[i], 100, NULL, 0);
        tree_connect(&x->t, &r, &res);
        r = R(0, HV3, &w[2 + i], 200, NULL, 0);
        tree_connect(&x->t, &r, &res);
        assert_int_equal(res.status, NVDP_ST_OK);
    }
    assert_int_equal(x->t.nvnic, 7);
    r = R(0, HV1, &w[4], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_SHARE);
    r = R(1, HV2, &w[5], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    /* a new hypervisor too, up to the hard limit */
    r = R(0, HV2, &w[6], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_VNICS);
    /* the entries made here go again */
    const struct {
        uint16_t port;
        const uint8_t *hv;
        unsigned w;
    } made[] = {{0, HV1, 0}, {0, HV1, 1}, {0, HV3, 2}, {0, HV3, 3},
                {1, HV2, 5}};
    for (unsigned i = 0; i < 5; i++) {
        r = R(made[i].port, made[i].hv, &w[made[i].w], 0, NULL, 0);
        tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    }
    assert_int_equal(x->t.nvnic, 3);
    x->t.lim.max_vnics = 0;

    /* addresses of one hypervisor, over all its VNICs: HV1 holds 2 (a MAC
     * and an IP), a new VNIC with 2 more reaches 4, one more is refused */
    x->t.lim.max_addrs_per_hv = 4;
    a[0] = A_IP4(2, 1);
    r = R(0, HV1, &u[4], 100, a, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(tree_hv_find(&x->t, 0, HV1)->naddr, 4);
    a[0] = A_IP4(2, 2);
    r = R(0, HV1, &u[4], 100, a, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_HV_ADDRS);
    assert_int_equal(tree_hv_find(&x->t, 0, HV1)->naddr, 4);
    /* another hypervisor has its own budget; removal gives room back */
    a[0] = A_IP4(3, 1);
    r = R(0, HV2, &u[5], 100, a, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    r = R(0, HV1, &u[4], 100, NULL, 0);
    tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    assert_int_equal(tree_hv_find(&x->t, 0, HV1)->naddr, 2);
    a[0] = A_IP4(2, 2);
    r = R(0, HV1, &u[4], 100, a, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    x->t.lim.max_addrs_per_hv = 0;

    /* pre-associations of a port; promotion frees a place */
    tree_port_set_preassoc(&x->t, 1, 2);
    r = R(1, HV1, &u[6], 100, NULL, 0);
    tree_preassoc(&x->t, &r, 0, &res);
    r = R(1, HV1, &u[7], 100, NULL, 0);
    tree_preassoc(&x->t, &r, 1, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[1]->npreassoc, 2);
    r = R(1, HV2, &u[3], 100, NULL, 0);
    tree_preassoc(&x->t, &r, 0, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_PREASSOC);
    /* the other port is not bounded by it */
    r = R(0, HV2, &u[3], 100, NULL, 0);
    tree_preassoc(&x->t, &r, 0, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    r = R(1, HV1, &u[6], 100, NULL, 0);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(x->t.port[1]->npreassoc, 1);
    r = R(1, HV2, &u[2], 200, NULL, 0);
    tree_preassoc(&x->t, &r, 0, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[1]->npreassoc, 2);
    assert_int_equal(x->t.npreassoc, 3);
    fx_free(x);
}

/* A port's ceiling is shared like the NVE's (spec 16): once the port holds
 * 7/8 of its max-vnics (or max-addresses), a hypervisor at its share of
 * that over the port's hypervisors holding any is refused, one below it
 * (a legitimate hypervisor next to a flooding station) gets the last
 * eighth; other ports are not touched. */
static void
test_port_share(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct tree_res res;
    struct tree_req r;
    struct nvdp_uuid u[40];
    struct nvdp_addr a[4];
    struct tagset ts;

    (void)state;
    for (unsigned i = 0; i < 40; i++)
        u[i] = U(300 + i);
    assert_int_equal(tree_over_share(0, 100, 1, 100), 0);
    assert_int_equal(tree_over_share(16, 13, 2, 13), 0); /* below 7/8 */
    assert_int_equal(tree_over_share(16, 14, 2, 7), 1);
    assert_int_equal(tree_over_share(16, 14, 2, 6), 0);
    memset(&ts, 0, sizeof(ts));
    for (unsigned v = 2; v <= 4000; v++)
        tagset_add(&ts, v);
    tree_port_set(&x->t, 0, &ts, 16); /* soft line 14 */
    /* two "flooding" MACs reach the soft line, 7 each */
    for (unsigned i = 0; i < 7; i++) {
        r = R(0, HV1, &u[i], 100, NULL, 0);
        tree_connect(&x->t, &r, &res);
        assert_int_equal(res.status, NVDP_ST_OK);
        r = R(0, HV3, &u[7 + i], 100, NULL, 0);
        tree_connect(&x->t, &r, &res);
        assert_int_equal(res.status, NVDP_ST_OK);
    }
    assert_int_equal(x->t.port[0]->nvnic, 14);
    assert_int_equal(x->t.port[0]->nhv, 2);
    r = R(0, HV1, &u[14], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_PORT_SHARE);
    assert_non_null(strstr(res.reason, "port"));
    /* the legitimate hypervisor gets its VNICs from the last eighth */
    r = R(0, HV2, &u[15], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[0]->nhv, 3);
    r = R(0, HV2, &u[16], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    /* then the hard ceiling, for everyone */
    r = R(0, HV2, &u[17], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_PORT_VNICS);
    /* the same MAC on another port is another hypervisor, port 1 free */
    r = R(1, HV1, &u[18], 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    /* an existing VNIC still changes on a full port */
    a[0] = A_MAC(1);
    r = R(0, HV1, &u[0], 100, a, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[0]->naddr, 1);
    /* a hypervisor's last entry gone: it no longer counts among the port's */
    r = R(0, HV2, &u[15], 0, NULL, 0);
    tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    r = R(0, HV2, &u[16], 0, NULL, 0);
    tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    assert_int_equal(x->t.port[0]->nhv, 2);
    assert_int_equal(x->t.port[0]->nvnic, 14);

    /* addresses: port 1 may hold 8 records (soft line 7) */
    tree_port_set_addrs(&x->t, 1, 8);
    a[0] = A_IP4(10, 1);
    a[1] = A_IP4(10, 2);
    a[2] = A_IP4(10, 3);
    r = R(1, HV1, &u[18], 100, a, 3); /* MAC + 3 IPs: 4 */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    a[0] = A_IP4(11, 1);
    a[1] = A_IP4(11, 2);
    r = R(1, HV3, &u[19], 100, a, 2); /* 3: 7, the soft line */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[1]->naddr, 7);
    a[0] = A_IP4(10, 4);
    r = R(1, HV1, &u[18], 100, a, 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_PORT_SHARE);
    a[0] = A_IP4(12, 1);
    r = R(1, HV2, &u[20], 100, a, 1); /* a MAC and an IP: 9 > 8 */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_PORT_ADDRS);
    a[0] = A_MAC(12);
    r = R(1, HV2, &u[20], 100, a, 1); /* its MAC alone: 8 */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[1]->naddr, 8);
    r = R(1, HV3, &u[19], 0, NULL, 0);
    tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    assert_int_equal(x->t.port[1]->naddr, 5);
    fx_free(x);
}

/* ---- reservations (spec 15) ---------------------------------------------- */

static void
hv_mac(uint8_t mac[6], unsigned i)
{
    const uint8_t m[6] = {2, 0x66, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
    memcpy(mac, m, 6);
}

/* A new VNIC u of hv on port by VN_CONNECT (no addresses): its status. */
static uint16_t
rv_attach(struct fx *x, uint16_t port, const uint8_t *hv, unsigned u,
          struct tree_res *res)
{
    struct nvdp_uuid id = U(u);
    struct tree_req r = R(port, hv, &id, 100, NULL, 0);

    tree_connect(&x->t, &r, res);
    return res->status;
}

static void
rv_detach(struct fx *x, uint16_t port, const uint8_t *hv, unsigned u)
{
    struct nvdp_uuid id = U(u);
    struct tree_req r = R(port, hv, &id, 0, NULL, 0);
    struct tree_res res;

    tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
}

/* Run 3 of bench/RESULTS-cp.md's flood on an idle host: a station's many
 * MACs fill an open port, those that came late being below their fair
 * share take its last eighth too, and a hypervisor in session long before
 * was then refused every attach. Now the port keeps its reservation (spec
 * 15: ceiling / max-hypervisors, 64 / 8 here): the station gets the rest,
 * the hypervisor attaches and detaches as it likes, and reaches its level. */
static void
test_port_reservation(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct tree_port *p;
    struct tree_res res;
    struct tagset ts;
    uint8_t mac[6];
    unsigned u = 1000, got = 0;

    (void)state;
    memset(&ts, 0, sizeof(ts));
    for (unsigned v = 2; v <= 4000; v++)
        tagset_add(&ts, v);
    tree_port_set(&x->t, 0, &ts, 64);
    tree_port_set_share(&x->t, 0, 8);
    p = x->t.port[0];
    tree_hv_session(&x->t, 0, HV1, 1); /* its RESYNC BEGIN */
    assert_non_null(tree_hv_find(&x->t, 0, HV1));
    assert_int_equal(p->owed[TREE_RV_VNICS], 8);
    assert_int_equal(p->nhv, 0); /* in session, holding nothing */
    /* the station: 40 MACs not in session, each asking 4 at a time, in
     * rounds, until the port refuses them all */
    for (int round = 0; round < 4; round++)
        for (unsigned i = 0; i < 40; i++)
            for (unsigned k = 0; k < 4; k++) {
                hv_mac(mac, i);
                got += rv_attach(x, 0, mac, u++, &res) == NVDP_ST_OK;
            }
    assert_int_equal(got, 56);
    assert_int_equal(p->nvnic, 56);
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_PORT_SHARE);
    assert_non_null(strstr(res.reason, "reserved for hypervisors in session"));
    /* the hypervisor's attaches during the flood (flood_bench -d) */
    for (unsigned k = 0; k < 20; k++) {
        assert_int_equal(rv_attach(x, 0, HV1, 1, &res), NVDP_ST_OK);
        assert_int_equal(p->owed[TREE_RV_VNICS], 7);
        rv_detach(x, 0, HV1, 1);
        assert_int_equal(p->owed[TREE_RV_VNICS], 8);
        hv_mac(mac, k);
        assert_int_equal(rv_attach(x, 0, mac, u++, &res), NVDP_ST_LIMIT);
    }
    /* its level, then no more: the port is full */
    for (unsigned k = 0; k < 8; k++)
        assert_int_equal(rv_attach(x, 0, HV1, 1 + k, &res), NVDP_ST_OK);
    assert_int_equal(p->owed[TREE_RV_VNICS], 0);
    assert_int_equal(rv_attach(x, 0, HV1, 9, &res), NVDP_ST_LIMIT);
    assert_int_equal(p->nvnic, 64);

    /* a session opened on a full port is owed nothing (no eviction); a
     * place freed later goes to it when it asks */
    tree_hv_session(&x->t, 0, HV2, 1);
    assert_int_equal(tree_hv_find(&x->t, 0, HV2)->level[TREE_RV_VNICS], 0);
    assert_int_equal(rv_attach(x, 0, HV2, 2000, &res), NVDP_ST_LIMIT);
    hv_mac(mac, 0);
    rv_detach(x, 0, mac, 1000); /* the station's first */
    assert_int_equal(rv_attach(x, 0, HV2, 2000, &res), NVDP_ST_OK);
    assert_int_equal(tree_hv_find(&x->t, 0, HV2)->level[TREE_RV_VNICS], 1);
    /* what HV1 gives back stays its own while it is in session ... */
    rv_detach(x, 0, HV1, 1);
    rv_detach(x, 0, HV1, 2);
    assert_int_equal(p->owed[TREE_RV_VNICS], 2);
    assert_int_equal(rv_attach(x, 0, mac, u++, &res), NVDP_ST_LIMIT);
    assert_int_equal(rv_attach(x, 0, HV2, 2001, &res), NVDP_ST_LIMIT);
    /* ... and free for anyone once it is forgotten (a MAC holding none:
     * the 7/8 rule still holds beyond the reservations) */
    tree_hv_session(&x->t, 0, HV1, 0);
    assert_int_equal(p->owed[TREE_RV_VNICS], 0);
    hv_mac(mac, 200);
    assert_int_equal(rv_attach(x, 0, mac, u++, &res), NVDP_ST_OK);
    /* more peers to share among: levels shrink, nothing is evicted */
    tree_port_set_share(&x->t, 0, 64);
    assert_int_equal(tree_hv_find(&x->t, 0, HV2)->level[TREE_RV_VNICS], 1);
    assert_int_equal(p->nvnic, 63);
    /* a peer forgotten while holding nothing leaves no record */
    tree_hv_session(&x->t, 0, HV3, 1);
    tree_hv_session(&x->t, 0, HV3, 0);
    assert_null(tree_hv_find(&x->t, 0, HV3));
    /* records in session outlive their port and the tree (ASan: no leak) */
    tree_hv_session(&x->t, 1, HV3, 1);
    tree_port_del(&x->t, 1);
    assert_null(tree_hv_find(&x->t, 1, HV3));
    tree_hv_session(&x->t, 0, HV3, 1);
    fx_free(x);
}

/* The address records of a port are reserved alike: 16 / 4 = 4 each. A
 * station's addresses stop at the room not owed; the hypervisor in
 * session still gets a VNIC's MAC and IP; the 7/8 rule applies beyond. */
static void
test_port_reservation_addrs(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct tree_res res;
    struct tree_req r;
    struct nvdp_uuid u1 = U(1), u2 = U(2);
    struct nvdp_addr a[8];

    (void)state;
    tree_port_set_addrs(&x->t, 1, 16);
    tree_port_set_share(&x->t, 1, 4);
    tree_hv_session(&x->t, 1, HV1, 1);
    assert_int_equal(x->t.port[1]->owed[TREE_RV_ADDRS], 4);
    for (unsigned i = 0; i < 6; i++)
        a[i] = A_IP4(20, (uint8_t)(1 + i));
    r = R(1, HV2, &u2, 100, a, 6); /* its MAC and 6 IPs: 7 */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    for (unsigned i = 0; i < 6; i++)
        a[i] = A_IP4(20, (uint8_t)(11 + i));
    tree_assoc(&x->t, &r, &res); /* 13: over the 12 not owed */
    assert_int_equal(res.status, NVDP_ST_LIMIT);
    assert_int_equal(res.limit, TREE_LIM_PORT_SHARE);
    assert_non_null(strstr(res.reason, "addresses"));
    r = R(1, HV2, &u2, 100, a, 5); /* 12 */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[1]->naddr, 12);
    a[0] = A_IP4(30, 1);
    a[1] = A_IP4(30, 2);
    a[2] = A_IP4(30, 3);
    r = R(1, HV1, &u1, 100, a, 3); /* its MAC and 3 IPs: its 4 */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->t.port[1]->owed[TREE_RV_ADDRS], 0);
    assert_int_equal(x->t.port[1]->naddr, 16);
    fx_free(x);
}

/* The guarantee as a property, over random sequences (a seed each):
 * attaches (some with a MAC), detaches, sessions opened and closed, from
 * 12 MACs on a port of 40 VNICs and 40 addresses shared by 5. After
 * every step owed is what the levels reserve, and every hypervisor in
 * session below its level gets its next VNIC (tried, then undone). */
static void
test_reservation_random(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 40; seed++) {
        struct fx *x = fx_new(0, 0);
        struct tree_port *p;
        struct tree_res res;
        struct tagset ts;
        uint8_t mac[12][6];
        unsigned owner[400] = {0}, n = 0, rnd = seed;
        int alive[400] = {0};

        memset(&ts, 0, sizeof(ts));
        for (unsigned v = 2; v <= 4000; v++)
            tagset_add(&ts, v);
        tree_port_set(&x->t, 0, &ts, 40);
        tree_port_set_addrs(&x->t, 0, 40);
        tree_port_set_share(&x->t, 0, 5);
        p = x->t.port[0];
        for (unsigned i = 0; i < 12; i++)
            hv_mac(mac[i], i);
        for (unsigned step = 0; step < 300 && n < 390; step++) {
            rnd = rnd * 1103515245u + 12345u;
            unsigned op = (rnd >> 16) % 10, who = (rnd >> 8) % 12;
            if (op < 5) {
                struct nvdp_uuid id = U(n);
                struct nvdp_addr a = A_MAC(n);
                struct tree_req r = R(0, mac[who], &id, 100, &a, op & 1);
                if (op & 1)
                    tree_assoc(&x->t, &r, &res);
                else
                    tree_connect(&x->t, &r, &res);
                alive[n] = res.status == NVDP_ST_OK;
                owner[n++] = who;
            } else if (op < 8) {
                for (unsigned k = (rnd >> 4) % (n + 1); k < n; k++)
                    if (alive[k]) {
                        rv_detach(x, 0, mac[owner[k]], k);
                        alive[k] = 0;
                        break;
                    }
            } else {
                tree_hv_session(&x->t, 0, mac[who], op == 8);
            }
            /* owed is what the levels reserve */
            uint32_t owed[TREE_RV_N] = {0, 0};
            for (struct tree_hv *h = x->t.hvs; h; h = h->next) {
                assert_true(h->level[0] <= 8 && h->level[1] <= 8);
                if (h->sess && h->level[0] > h->nvnic)
                    owed[0] += h->level[0] - h->nvnic;
                if (h->sess && h->level[1] > h->naddr)
                    owed[1] += h->level[1] - h->naddr;
            }
            assert_int_equal(owed[0], p->owed[TREE_RV_VNICS]);
            assert_int_equal(owed[1], p->owed[TREE_RV_ADDRS]);
            /* and is there for whoever it is owed to */
            for (unsigned i = 0; i < 12; i++) {
                struct tree_hv *h = tree_hv_find(&x->t, 0, mac[i]);
                if (h == NULL || !h->sess || h->nvnic >= h->level[0])
                    continue;
                assert_int_equal(rv_attach(x, 0, mac[i], 9999, &res),
                                 NVDP_ST_OK);
                rv_detach(x, 0, mac[i], 9999);
            }
        }
        fx_free(x);
    }
}

static void
test_no_tags(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u2 = U(2), u3 = U(3);
    struct tagset ts;
    struct tree_res res;

    memset(&ts, 0, sizeof(ts));
    tagset_add(&ts, 42);
    tree_port_set(&x->t, 0, &ts, 0);
    struct tree_req r = R(0, HV1, &u1, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.tag, 42);
    r = R(0, HV1, &u2, 200, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_NO_TAGS);
    assert_int_equal(x->t.nvnic, 1);
    tree_preassoc(&x->t, &r, 1, &res);
    assert_int_equal(res.status, NVDP_ST_NO_TAGS);
    /* pre-association without RR needs no tag */
    tree_preassoc(&x->t, &r, 0, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_false(res.has_tag);
    /* ... but promoting it does */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_NO_TAGS);
    assert_string_equal(tree_state_str(tree_find(&x->t, &u2, 0, HV1)),
                        "preassociated");
    /* VN already holding the tag still connects */
    r = R(0, HV2, &u3, 100, NULL, 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.tag, 42);
    fx_free(x);
}

static void
test_preassoc_promote(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct nvdp_addr a = A_IP4(1, 5);
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, &a, 1);

    r.tag_hint = 77;
    tree_preassoc(&x->t, &r, 0, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_false(res.has_tag);
    assert_int_equal(x->ff.nloc, 0);
    assert_int_equal(x->ff.nbind, 0);
    tree_preassoc(&x->t, &r, 1, &res); /* upgrade to RR: tag (the hint) */
    assert_true(res.has_tag);
    assert_int_equal(res.tag, 77);
    /* reserved, not programmed: the forwarder learns it at ASSOC */
    assert_int_equal(x->ff.bind[0][77], 0);
    assert_true(tag_in_use(tree_port_tags(&x->t, 0), 77));
    assert_int_equal(x->ff.nloc, 0); /* still not programmed */
    assert_string_equal(tree_state_str(tree_find(&x->t, &u1, 0, HV1)),
                        "preassociated-rr");
    r.naddr = 0;
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.tag, 77);
    assert_int_equal(x->ff.bind[0][77], 100);
    assert_int_equal(x->ff.nloc, 2); /* addresses from PREASSOC programmed */
    assert_int_equal(x->t.npreassoc, 0);
    /* PREASSOC on an associated VNIC does not demote it */
    tree_preassoc(&x->t, &r, 0, &res);
    assert_string_equal(tree_state_str(tree_find(&x->t, &u1, 0, HV1)),
                        "associated");
    assert_int_equal(tree_expire(&x->t, 10000000), 0);
    fx_free(x);
}

static void
test_preassoc_expiry(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u2 = U(2);
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, NULL, 0);

    r.now = 1000;
    tree_preassoc(&x->t, &r, 1, &res);
    r = R(0, HV1, &u2, 100, NULL, 0);
    r.now = 50000;
    tree_preassoc(&x->t, &r, 0, &res);
    assert_int_equal(tree_next_expiry(&x->t), 121000);
    assert_int_equal(tree_expire(&x->t, 120999), 0);
    assert_int_equal(tree_expire(&x->t, 121000), 1);
    assert_null(tree_find(&x->t, &u1, 0, HV1));
    assert_int_equal(x->ff.bind[0][2], 0); /* RR tag released */
    assert_int_equal(tree_next_expiry(&x->t), 170000);
    /* a refresh moves the deadline */
    r.now = 160000;
    tree_preassoc(&x->t, &r, 0, &res);
    assert_int_equal(tree_expire(&x->t, 170000), 0);
    assert_int_equal(tree_expire(&x->t, 280000), 1);
    assert_int_equal(tree_next_expiry(&x->t), UINT64_MAX);
    assert_int_equal(x->t.nvnic, 0);
    fx_free(x);
}

/* Source on port 0 (HV1) associated; destination on port 1 (HV2)
 * pre-associated. A migration-intent disassociate keeps the destination. */
static void
test_migration_intent(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct nvdp_addr a = A_IP4(1, 5);
    struct tree_res res;
    struct tree_req src = R(0, HV1, &u1, 100, &a, 1);
    struct tree_req dst = R(1, HV2, &u1, 100, &a, 1);

    tree_assoc(&x->t, &src, &res);
    tree_preassoc(&x->t, &dst, 1, &res);
    assert_int_equal(res.status, NVDP_ST_OK); /* same UUID: no conflict */
    src.intent = NVDP_INTENT_MIGRATION; /* as the hypervisor said */
    tree_vnic_disassoc(&x->t, &src, NVDP_INTENT_MIGRATION, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    /* the MAC and its IP left as a migration's (EVPN keeps them a while) */
    assert_int_equal(x->ff.nleave, 2);
    assert_null(tree_find(&x->t, &u1, 0, HV1));
    assert_non_null(tree_find(&x->t, &u1, 1, HV2));
    assert_int_equal(x->ff.nloc, 0);
    assert_int_equal(x->ff.bind[0][2], 0);
    assert_int_equal(x->ff.bind[1][2], 0); /* reserved only */
    assert_true(tag_in_use(tree_port_tags(&x->t, 1), 2));
    tree_assoc(&x->t, &dst, &res);
    assert_int_equal(x->ff.bind[1][2], 100);
    assert_int_equal(x->ff.nloc, 2);
    assert_true(ff_find(&x->ff, 100, 1, &a) >= 0);
    fx_free(x);
}

/* Destination associates before the source leaves: after the source's
 * disassociate the forwarder still has the destination's entries. */
static void
test_migration_overlap(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct nvdp_addr a = A_IP4(1, 5);
    struct tree_res res;
    struct tree_req src = R(0, HV1, &u1, 100, &a, 1);
    struct tree_req dst = R(1, HV2, &u1, 100, &a, 1);

    tree_assoc(&x->t, &src, &res);
    tree_assoc(&x->t, &dst, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    tree_vnic_disassoc(&x->t, &src, NVDP_INTENT_MIGRATION, &res);
    assert_true(ff_find(&x->ff, 100, 1, &a) >= 0);
    assert_int_equal(ff_find(&x->ff, 100, 0, &a), -1);
    /* the conflict index followed the surviving holder */
    struct nvdp_uuid u2 = U(2);
    struct tree_req o = R(0, HV1, &u2, 100, &a, 1);
    tree_assoc(&x->t, &o, &res);
    assert_int_equal(res.status, NVDP_ST_CONFLICT);
    fx_free(x);
}

static void
test_shutdown_intent_purges(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u2 = U(2);
    struct nvdp_addr a = A_IP4(1, 5);
    struct tree_res res;
    struct tree_req src = R(0, HV1, &u1, 100, &a, 1);
    struct tree_req dst = R(1, HV2, &u1, 100, &a, 1);
    struct tree_req same = R(0, HV3, &u1, 100, &a, 1);
    struct tree_req other = R(0, HV1, &u2, 100, NULL, 0);

    tree_assoc(&x->t, &src, &res);
    tree_preassoc(&x->t, &dst, 1, &res);
    tree_preassoc(&x->t, &same, 0, &res);
    tree_connect(&x->t, &other, &res);
    assert_int_equal(x->t.nvnic, 4);
    src.intent = NVDP_INTENT_SHUTDOWN;
    tree_vnic_disassoc(&x->t, &src, NVDP_INTENT_SHUTDOWN, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->ff.nleave, 0); /* gone for good: local_del */
    assert_int_equal(x->t.nvnic, 1);
    assert_int_equal(x->t.npreassoc, 0);
    assert_non_null(tree_find(&x->t, &u2, 0, HV1));
    assert_int_equal(x->ff.bind[1][2], 0);
    assert_int_equal(x->ff.bind[0][2], 100);
    /* unknown VNIC: OK */
    tree_vnic_disassoc(&x->t, &src, NVDP_INTENT_SHUTDOWN, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    fx_free(x);
}

/* Two hypervisors behind one bridged port: a migration between them keeps
 * the destination's pre-association on the same port. */
static void
test_migration_same_port(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct nvdp_addr a = A_IP4(1, 5);
    struct tree_res res;
    struct tree_req src = R(0, HV1, &u1, 100, &a, 1);
    struct tree_req dst = R(0, HV2, &u1, 100, &a, 1);

    tree_assoc(&x->t, &src, &res);
    tree_preassoc(&x->t, &dst, 0, &res);
    tree_vnic_disassoc(&x->t, &src, NVDP_INTENT_MIGRATION, &res);
    assert_non_null(tree_find(&x->t, &u1, 0, HV2));
    assert_int_equal(x->ff.nloc, 0);
    assert_int_equal(x->ff.bind[0][2], 0); /* nobody holds the tag now */
    tree_assoc(&x->t, &dst, &res);
    assert_int_equal(res.tag, 2);
    assert_int_equal(x->ff.nloc, 2);
    fx_free(x);
}

static void
test_vnic_state(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u9 = U(9);
    struct nvdp_addr a = A_IP4(1, 5);
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, &a, 1);

    tree_assoc(&x->t, &r, &res);
    tree_vnic_state(&x->t, &r, 0, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(res.tag, 2);
    assert_int_equal(x->ff.inactive, 1);
    struct tree_vnic *v = tree_find(&x->t, &u1, 0, HV1);
    assert_string_equal(tree_state_str(v), "down");
    assert_int_equal(v->tag, 2); /* tag and addresses kept */
    assert_int_equal(x->ff.nloc, 2);
    tree_vnic_state(&x->t, &r, 0, &res); /* no change, no call */
    assert_int_equal(x->ff.nactive_calls, 1);
    tree_vnic_state(&x->t, &r, 1, &res);
    assert_int_equal(x->ff.inactive, 0);
    assert_string_equal(tree_state_str(v), "associated");
    struct tree_req u = R(0, HV1, &u9, 100, NULL, 0);
    tree_vnic_state(&x->t, &u, 1, &res);
    assert_int_equal(res.status, NVDP_ST_UNKNOWN_VNIC);
    fx_free(x);
}

static void
test_resync_sweep(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u[4] = {U(1), U(2), U(3), U(4)};
    struct tree_res res;

    for (int i = 0; i < 3; i++) {
        struct tree_req r = R(0, HV1, &u[i], 100, NULL, 0);
        tree_connect(&x->t, &r, &res);
    }
    struct tree_req r2 = R(0, HV2, &u[3], 100, NULL, 0);
    tree_connect(&x->t, &r2, &res);
    assert_int_equal(tree_hv_mark_stale(&x->t, 0, HV1), 3);
    /* replay of u1 with its old tag as hint refreshes it */
    struct tree_req r = R(0, HV1, &u[0], 100, NULL, 0);
    r.tag_hint = 2;
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.tag, 2);
    assert_int_equal(tree_hv_sweep_stale(&x->t, 0, HV1), 2);
    assert_non_null(tree_find(&x->t, &u[0], 0, HV1));
    assert_null(tree_find(&x->t, &u[1], 0, HV1));
    assert_non_null(tree_find(&x->t, &u[3], 0, HV2)); /* other hv kept */
    assert_int_equal(tree_hv_sweep_stale(&x->t, 0, HV1), 0);
    /* sweep that removes everything frees the hypervisor record */
    tree_hv_mark_stale(&x->t, 0, HV1);
    assert_int_equal(tree_hv_sweep_stale(&x->t, 0, HV1), 1);
    assert_null(tree_hv_find(&x->t, 0, HV1));
    fx_free(x);
}

static void
test_hv_release(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct tree_res res;
    struct nvdp_uuid u[20];
    struct nvdp_addr a[20];

    for (int i = 0; i < 20; i++) {
        u[i] = U((unsigned)i + 1);
        a[i] = A_IP4((unsigned)i + 1, 1);
        struct tree_req r = R(0, HV1, &u[i], 100 + (uint32_t)(i % 3), &a[i], 1);
        tree_assoc(&x->t, &r, &res);
        assert_int_equal(res.status, NVDP_ST_OK);
    }
    assert_int_equal(tree_hv_find(&x->t, 0, HV1)->nvnic, 20);
    assert_int_equal(tree_hv_release(&x->t, 0, HV1), 20);
    assert_int_equal(x->t.nvnic, 0);
    assert_int_equal(x->ff.nloc, 0);
    assert_int_equal(x->ff.nunbind, 3);
    assert_int_equal(tag_free_count(tree_port_tags(&x->t, 0)), 3999);
    assert_int_equal(x->t.mtabn, 0);
    assert_int_equal(tree_hv_release(&x->t, 0, HV1), 0);
    fx_free(x);
}

struct wd {
    int n;
    const uint8_t *hv;
};

static void
wd_cb(void *arg, const struct tree_vnic *v)
{
    struct wd *w = arg;
    w->n++;
    if (w->hv)
        assert_memory_equal(v->hv->mac, w->hv, 6);
}

static void
test_withdraw(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u[4] = {U(1), U(2), U(3), U(4)};
    struct tree_res res;
    struct tree_req r;

    r = R(0, HV1, &u[0], 100, NULL, 0), tree_connect(&x->t, &r, &res);
    r = R(0, HV2, &u[1], 100, NULL, 0), tree_connect(&x->t, &r, &res);
    r = R(0, HV2, &u[2], 200, NULL, 0), tree_connect(&x->t, &r, &res);
    r = R(1, HV3, &u[3], 100, NULL, 0), tree_connect(&x->t, &r, &res);
    struct wd w = {0, HV2};
    struct tree_filter f = {.port = 0, .vni = 100, .hv = HV2};
    assert_int_equal(tree_withdraw(&x->t, &f, wd_cb, &w), 1);
    assert_int_equal(w.n, 1);
    assert_null(tree_find(&x->t, &u[1], 0, HV2));
    struct wd w2 = {0, NULL};
    f = (struct tree_filter){.port = TREE_ANY_PORT, .vni = 100};
    assert_int_equal(tree_withdraw(&x->t, &f, wd_cb, &w2), 2);
    assert_int_equal(x->t.nvnic, 1);
    f = (struct tree_filter){.port = 0, .any_vni = 1, .vnic = &u[2]};
    assert_int_equal(tree_withdraw(&x->t, &f, NULL, NULL), 1);
    /* deleting a port releases what is left on it */
    r = R(1, HV3, &u[3], 100, NULL, 0), tree_connect(&x->t, &r, &res);
    tree_port_del(&x->t, 1);
    assert_int_equal(x->t.nvnic, 0);
    assert_int_equal(x->ff.bind[1][2], 0);
    tree_connect(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_INTERNAL);
    fx_free(x);
}

/* Churn through hash growth and backward-shift deletion with many
 * entries; every survivor must still be found. */
static struct nvdp_addr
A_IP6(unsigned n, uint8_t kind, uint8_t last)
{
    struct nvdp_addr a = A_MAC(n);
    a.kind = kind;
    a.family = 6;
    a.ip[0] = 0xfd;
    a.ip[15] = last;
    if (kind == NVDP_ADDR_PREFIX) {
        a.plen = 120;
        a.ip[15] = 0;
    }
    if (kind == NVDP_ADDR_RANGE) {
        memcpy(a.ip_hi, a.ip, 16);
        a.ip_hi[15] = (uint8_t)(last + 9);
    }
    return a;
}

/* The addresses of v, decoded in order, are want[0..n). */
static void
assert_addrs(const struct tree_vnic *v, const struct nvdp_addr *want,
             unsigned n)
{
    struct tree_addr_it it;
    struct nvdp_addr a;
    unsigned i = 0;

    assert_int_equal(v->naddr, n);
    for (tree_addr_first(&v->rec, v->naddr, &it); tree_addr_next(&it, &a);
         i++) {
        assert_true(i < n);
        assert_true(same_addr(&a, &want[i]));
    }
    assert_int_equal(i, n);
}

/* Packed records: every kind and family encodes to its size and back;
 * equal records are equal addresses; an entry's records move to the heap
 * when they outgrow the entry and back when they fit again, in order,
 * with the memory accounting following. */
static void
test_addr_records(void **state)
{
    struct nvdp_addr p4 = A_IP4(1, 0), r4 = A_IP4(1, 10);
    p4.kind = NVDP_ADDR_PREFIX, p4.plen = 24;
    r4.kind = NVDP_ADDR_RANGE, memcpy(r4.ip_hi, r4.ip, 4), r4.ip_hi[3] = 20;
    const struct {
        struct nvdp_addr a;
        size_t size;
    } c[] = {
        {A_MAC(1), 7},
        {A_IP4(1, 5), 11},
        {p4, 12},
        {r4, 15},
        {A_IP6(1, NVDP_ADDR_HOST, 5), 23},
        {A_IP6(1, NVDP_ADDR_PREFIX, 0), 24},
        {A_IP6(1, NVDP_ADDR_RANGE, 5), 39},
    };
    uint8_t rec[2][TREE_REC_MAX];

    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct nvdp_addr back;
        assert_true(nvdp_addr_valid(&c[i].a));
        assert_int_equal(tree_rec_encode(&c[i].a, rec[0]), c[i].size);
        assert_int_equal(tree_rec_size(rec[0][0]), c[i].size);
        assert_int_equal(tree_rec_decode(rec[0], &back), c[i].size);
        assert_true(same_addr(&back, &c[i].a));
        for (unsigned j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
            size_t n = tree_rec_encode(&c[j].a, rec[1]);
            assert_int_equal(n == c[i].size && !memcmp(rec[0], rec[1], n),
                             nvdp_addr_equal(&c[i].a, &c[j].a));
        }
    }

    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct tree_res res;
    uint64_t base = x->t.mem;
    struct nvdp_addr a[] = {A_IP4(1, 5), A_IP6(1, NVDP_ADDR_RANGE, 5),
                            A_IP4(2, 7), p4};
    struct tree_req r = R(0, HV1, &u1, 100, a, 1);

    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    struct tree_vnic *v = tree_find(&x->t, &u1, 0, HV1);
    struct nvdp_addr m1 = A_MAC(1), m2 = A_MAC(2);
    /* the MAC and its IPv4 address in the entry: no second allocation */
    struct nvdp_addr w1[] = {m1, a[0]};
    assert_addrs(v, w1, 2);
    uint64_t one = x->t.mem;
    assert_int_equal(one - base, sizeof(struct tree_vnic) + 16);
    assert_int_equal(tree_recs_heap(&v->rec, v->naddr), 0);

    r = R(0, HV1, &u1, 100, a, 4); /* adds 4 records: 7+11+39+7+11+12 */
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    struct nvdp_addr w2[] = {m1, a[0], a[1], m2, a[2], a[3]};
    assert_addrs(v, w2, 6);
    assert_int_equal(tree_recs_heap(&v->rec, v->naddr), 87);
    assert_int_equal(x->t.mem, one + 87 + 16);
    assert_int_equal(x->ff.nloc, 6);
    for (unsigned i = 0; i < 6; i++)
        assert_true(ff_find(&x->ff, 100, 0, &w2[i]) >= 0);

    /* MAC 2 goes with its IP; the range: the rest fits the entry again */
    struct nvdp_addr d[] = {m2, a[1]};
    r = R(0, HV1, &u1, 100, d, 2);
    tree_disassoc(&x->t, &r, &res);
    struct nvdp_addr w3[] = {m1, a[0], a[3]};
    assert_addrs(v, w3, 3);
    assert_int_equal(tree_recs_heap(&v->rec, v->naddr), 30);
    r = R(0, HV1, &u1, 100, &a[3], 1);
    tree_disassoc(&x->t, &r, &res);
    assert_addrs(v, w1, 2);
    assert_int_equal(tree_recs_heap(&v->rec, v->naddr), 0);
    assert_int_equal(x->t.mem, one);
    assert_int_equal(x->ff.nloc, 2);
    /* MAC 2 is free again for another VNIC */
    struct nvdp_uuid u2 = U(2);
    r = R(0, HV2, &u2, 100, &a[2], 1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);

    r = R(0, HV1, &u1, 100, a, 4);
    tree_assoc(&x->t, &r, &res); /* MAC 2 is u2's now */
    assert_int_equal(res.status, NVDP_ST_CONFLICT);
    r = R(0, HV1, &u1, 100, a, 2);
    tree_assoc(&x->t, &r, &res);
    r = R(0, HV1, &u1, 100, NULL, 0);
    tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    tree_vnic_disassoc(&x->t, &(struct tree_req){.port = 0, .hv = HV2,
                                                  .vnic = &u2, .vni = 100},
                       NVDP_INTENT_SHUTDOWN, &res);
    assert_int_equal(x->t.mem, base);
    assert_int_equal(x->ff.nloc, 0);
    fx_free(x);
}

/* The (VNI, MAC) index under churn: removals leave tombstones, and the
 * table is rebuilt, not grown, when they fill it; every MAC held is a
 * conflict for another VNIC and every MAC let go is free. */
static void
test_mac_index_churn(void **state)
{
    struct fx *x = fx_new(0, 0);
    const unsigned N = 1000, ROUNDS = 20;
    struct tree_res res;
    uint32_t maxsz = 0;

    (void)state;
    x->t.sink = (struct tree_sink){0};
    for (unsigned round = 0; round < ROUNDS; round++) {
        /* VNIC i holds MAC i + round * N; the previous round's go */
        for (unsigned i = 0; i < N; i++) {
            struct nvdp_uuid u = U(i);
            struct nvdp_addr a = A_IP4(i + round * N, 1);
            struct tree_req r = R(0, HV1, &u, 100, NULL, 0);
            tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
            r = R(0, HV1, &u, 100, &a, 1);
            tree_assoc(&x->t, &r, &res);
            assert_int_equal(res.status, NVDP_ST_OK);
        }
        assert_int_equal(x->t.mtabn, N);
        if (x->t.mtabsz > maxsz)
            maxsz = x->t.mtabsz;
        for (unsigned i = 0; i < N; i += 97) {
            struct nvdp_uuid other = U(N + i);
            struct nvdp_addr held = A_MAC(i + round * N);
            struct tree_req r = R(0, HV2, &other, 100, &held, 1);
            tree_assoc(&x->t, &r, &res);
            assert_int_equal(res.status, NVDP_ST_CONFLICT);
            if (round > 0) {
                struct nvdp_addr gone = A_MAC(i + (round - 1) * N);
                r = R(0, HV2, &other, 100, &gone, 1);
                tree_assoc(&x->t, &r, &res);
                assert_int_equal(res.status, NVDP_ST_OK);
                r = R(0, HV2, &other, 100, NULL, 0);
                tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
            }
        }
    }
    /* 1,000 MACs held, 20,000 held and let go: the table sized for the
     * first (a rebuild at most half full), not for all of them */
    assert_true(maxsz <= 4096);
    fx_free(x);
}

static void
test_many_and_memory(void **state)
{
    struct fx *x = fx_new(0, 0);
    const unsigned N = 10000;
    struct tree_res res;

    x->t.sink = (struct tree_sink){0}; /* the fake has 64 slots */
    for (unsigned i = 0; i < N; i++) {
        struct nvdp_uuid u = U(i);
        struct nvdp_addr a = A_IP4(i, 1);
        struct tree_req r = R(0, HV1, &u, 100, &a, 1);
        tree_assoc(&x->t, &r, &res);
        assert_int_equal(res.status, NVDP_ST_OK);
    }
    double per = (double)x->t.mem / N;
    print_message("tree state per VNIC (1 MAC + 1 IPv4): %.1f bytes\n", per);
    /* 96 for the entry with its records (one malloc chunk), 13 each for
     * the UUID and (VNI, MAC) tables: 130 in all, 233 when the records
     * were a second allocation of 2 x 41 bytes and an index slot was 16 */
    assert_true(per <= 136.0);
    for (unsigned i = 0; i < N; i += 3) {
        struct nvdp_uuid u = U(i);
        struct tree_req r = R(0, HV1, &u, 100, NULL, 0);
        tree_vnic_disassoc(&x->t, &r, NVDP_INTENT_SHUTDOWN, &res);
    }
    for (unsigned i = 0; i < N; i++) {
        struct nvdp_uuid u = U(i);
        struct tree_vnic *v = tree_find(&x->t, &u, 0, HV1);
        if (i % 3 == 0)
            assert_null(v);
        else
            assert_non_null(v);
    }
    assert_int_equal(x->t.nvnic, N - (N + 2) / 3);
    fx_free(x);
}

/* VNIC_STATE recorded on a pre-association takes effect at ASSOC; a VNIC
 * connected without addresses reports "connected". */
static void
test_state_before_assoc_and_connected(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1), u2 = U(2);
    struct nvdp_addr a = A_IP4(1, 5);
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, &a, 1);

    tree_preassoc(&x->t, &r, 0, &res);
    tree_vnic_state(&x->t, &r, 0, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(x->ff.nactive_calls, 0); /* nothing programmed yet */
    tree_assoc(&x->t, &r, &res);
    assert_true(res.promoted);
    assert_int_equal(x->ff.nloc, 2);
    assert_int_equal(x->ff.inactive, 1); /* programmed down */
    assert_string_equal(tree_state_str(tree_find(&x->t, &u1, 0, HV1)), "down");
    struct tree_req c = R(0, HV1, &u2, 100, NULL, 0);
    tree_connect(&x->t, &c, &res);
    assert_string_equal(tree_state_str(tree_find(&x->t, &u2, 0, HV1)),
                        "connected");
    fx_free(x);
}

/* DISASSOC of a MAC by the source of a migration leaves the destination's
 * (already associated) entry programmed. */
static void
test_disassoc_keeps_other_location(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct nvdp_addr a = A_IP4(1, 5), m = A_MAC(1);
    struct tree_res res;
    struct tree_req src = R(0, HV1, &u1, 100, &a, 1);
    struct tree_req dst = R(1, HV2, &u1, 100, &a, 1);

    tree_assoc(&x->t, &src, &res);
    tree_assoc(&x->t, &dst, &res);
    struct tree_req d = R(0, HV1, &u1, 100, &m, 1);
    tree_disassoc(&x->t, &d, &res);
    assert_int_equal(ff_find(&x->ff, 100, 0, &a), -1);
    assert_true(ff_find(&x->ff, 100, 1, &a) >= 0);
    assert_true(ff_find(&x->ff, 100, 1, &m) >= 0);
    fx_free(x);
}

/* A filter pointing into the tree (the hypervisor record's MAC, freed with
 * its last entry) must stay valid for the rest of the walk. */
static void
test_withdraw_filter_into_tree(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct tree_res res;
    struct nvdp_uuid u[8];

    for (unsigned i = 0; i < 8; i++) {
        u[i] = U(i + 1);
        struct tree_req r = R(0, i == 4 ? HV1 : HV2, &u[i], 100, NULL, 0);
        tree_connect(&x->t, &r, &res);
    }
    struct tree_hv *h = tree_hv_find(&x->t, 0, HV1);
    struct tree_filter f = {.port = 0, .any_vni = 1, .hv = h->mac};
    assert_int_equal(tree_withdraw(&x->t, &f, NULL, NULL), 1);
    assert_null(tree_hv_find(&x->t, 0, HV1));
    assert_int_equal(x->t.nvnic, 7);
    struct tree_vnic *v = tree_find(&x->t, &u[0], 0, HV2);
    struct tree_filter g = {.port = 0, .any_vni = 1, .vnic = &v->uuid};
    assert_int_equal(tree_withdraw(&x->t, &g, NULL, NULL), 1);
    assert_int_equal(x->t.nvnic, 6);
    fx_free(x);
}

/* ---- hash flooding ------------------------------------------------------- */
/* The unkeyed hash tree.c once used: mix64 (murmur3's finaliser) is a
 * bijection, so a hypervisor can choose UUIDs that all land in one slot. */
static uint64_t
fmix64_inv(uint64_t x)
{
    x ^= x >> 33;
    x *= 0x9cb4b2f8129337dbULL;
    x ^= x >> 33;
    x *= 0x4f74430c22a54005ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t
fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* UUIDs a peer chose to collide under hash(a, b) = mix64(a ^ mix64(b)):
 * the table must not turn them into one long probe run. */
static void
test_hash_flood(void **state)
{
    struct fx *x = fx_new(0, 0);
    const unsigned N = 2000;
    uint32_t run = 0, longest = 0;
    struct tree_res res;

    (void)state;
    x->t.sink = (struct tree_sink){0};
    for (unsigned i = 0; i < N; i++) {
        struct nvdp_uuid u;
        uint64_t a = fmix64_inv((uint64_t)(i + 1) << 32) ^ fmix64(0), b = 0;
        memcpy(u.b, &a, 8);
        memcpy(u.b + 8, &b, 8);
        struct tree_req r = R(0, HV1, &u, 100, NULL, 0);
        tree_connect(&x->t, &r, &res);
        assert_int_equal(res.status, NVDP_ST_OK);
    }
    assert_int_equal(x->t.nvnic, N);
    for (uint32_t i = 0; i < 2 * x->t.tabsz; i++) {
        run = x->t.tab[i % x->t.tabsz] ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    print_message("longest probe run: %u of %u entries\n", longest, N);
    assert_true(longest < N / 5);
    fx_free(x);
}

/* Spec 11.5: a resync replays ASSOC for every attached VNIC and VNIC_STATE
 * down only for those that are down, so a replayed ASSOC makes a stale
 * entry up again; outside a resync an ASSOC (more addresses) keeps it down. */
static void
test_resync_replay_resets_down(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u1 = U(1);
    struct nvdp_addr a = A_IP4(1, 5), b = A_IP4(1, 6);
    struct tree_res res;
    struct tree_req r = R(0, HV1, &u1, 100, &a, 1);

    (void)state;
    tree_assoc(&x->t, &r, &res);
    tree_vnic_state(&x->t, &r, 0, &res);
    struct tree_vnic *v = tree_find(&x->t, &u1, 0, HV1);
    assert_string_equal(tree_state_str(v), "down");
    struct tree_req more = R(0, HV1, &u1, 100, &b, 1);
    tree_assoc(&x->t, &more, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_string_equal(tree_state_str(v), "down");
    assert_int_equal(x->ff.inactive, 1);
    /* the hypervisor restarted; it wants the VNIC up now */
    tree_hv_mark_stale(&x->t, 0, HV1);
    tree_assoc(&x->t, &r, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_string_equal(tree_state_str(v), "associated");
    assert_int_equal(x->ff.inactive, 0);
    assert_int_equal(tree_hv_sweep_stale(&x->t, 0, HV1), 0);
    fx_free(x);
}

/* A resync replay restates the VNIC (spec 9.9): addresses not replayed go,
 * a stale entry in another VN or holding more than the replay asks is
 * replaced (the hypervisor lost track of it: a restart); outside a resync
 * the rules of 9.2 and 9.7 stand. */
static void
test_resync_replay_restates(void **state)
{
    struct fx *x = fx_new(0, 0);
    struct nvdp_uuid u[4] = {U(1), U(2), U(3), U(4)};
    struct nvdp_addr a[2] = {A_IP4(1, 5), A_IP4(1, 6)};
    struct nvdp_addr b = A_IP4(2, 5), c = A_IP4(3, 5), d = A_IP4(4, 5);
    struct tree_res res;
    struct tree_vnic *v;

    (void)state;
    struct tree_req r1 = R(0, HV1, &u[0], 100, a, 2);
    tree_assoc(&x->t, &r1, &res);
    struct tree_req r2 = R(0, HV1, &u[1], 100, &b, 1);
    tree_assoc(&x->t, &r2, &res);
    struct tree_req r3 = R(0, HV1, &u[2], 100, &c, 1);
    tree_assoc(&x->t, &r3, &res);
    struct tree_req r4 = R(0, HV1, &u[3], 300, &d, 1);
    tree_preassoc(&x->t, &r4, 1, &res);
    uint16_t rr_tag = res.tag;
    assert_int_equal(x->ff.nloc, 7); /* 3 MACs, 4 IPs */

    tree_hv_mark_stale(&x->t, 0, HV1);
    r1.naddr = 1;                       /* only 10.0.1.5 replayed */
    tree_assoc(&x->t, &r1, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    v = tree_find(&x->t, &u[0], 0, HV1);
    assert_int_equal(v->naddr, 2);      /* its MAC and one IP */
    assert_int_equal(x->ff.nloc, 6);
    r2.vni = 200;                       /* moved while hv-agent was down */
    tree_assoc(&x->t, &r2, &res);
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(tree_find(&x->t, &u[1], 0, HV1)->vni, 200);
    tree_preassoc(&x->t, &r3, 0, &res);  /* wanted pre-associated now */
    assert_int_equal(res.status, NVDP_ST_OK);
    assert_int_equal(tree_find(&x->t, &u[2], 0, HV1)->state,
                     TREE_ST_PREASSOC);
    tree_preassoc(&x->t, &r4, 0, &res);  /* no reservation any more */
    assert_int_equal(tree_find(&x->t, &u[3], 0, HV1)->state,
                     TREE_ST_PREASSOC);
    assert_false(tag_in_use(tree_port_tags(&x->t, 0), rr_tag));
    assert_int_equal(tree_hv_sweep_stale(&x->t, 0, HV1), 0);

    /* outside a resync: another VN is a CONFLICT, no demotion */
    r2.vni = 300;
    tree_assoc(&x->t, &r2, &res);
    assert_int_equal(res.status, NVDP_ST_CONFLICT);
    tree_preassoc(&x->t, &r1, 0, &res);
    assert_int_equal(tree_find(&x->t, &u[0], 0, HV1)->state, TREE_ST_ASSOC);
    fx_free(x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_shares_tag),
        cmocka_unit_test(test_disconnect_frees_tag_last),
        cmocka_unit_test(test_assoc_addrs_idempotent),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_no_tags),
        cmocka_unit_test(test_preassoc_promote),
        cmocka_unit_test(test_preassoc_expiry),
        cmocka_unit_test(test_migration_intent),
        cmocka_unit_test(test_migration_overlap),
        cmocka_unit_test(test_shutdown_intent_purges),
        cmocka_unit_test(test_migration_same_port),
        cmocka_unit_test(test_vnic_state),
        cmocka_unit_test(test_resync_sweep),
        cmocka_unit_test(test_hv_release),
        cmocka_unit_test(test_withdraw),
        cmocka_unit_test(test_many_and_memory),
        cmocka_unit_test(test_state_before_assoc_and_connected),
        cmocka_unit_test(test_disassoc_keeps_other_location),
        cmocka_unit_test(test_withdraw_filter_into_tree),
        cmocka_unit_test(test_hash_flood),
        cmocka_unit_test(test_addr_records),
        cmocka_unit_test(test_mac_index_churn),
        cmocka_unit_test(test_bounded_state),
        cmocka_unit_test(test_port_share),
        cmocka_unit_test(test_port_reservation),
        cmocka_unit_test(test_port_reservation_addrs),
        cmocka_unit_test(test_reservation_random),
        cmocka_unit_test(test_resync_replay_resets_down),
        cmocka_unit_test(test_resync_replay_restates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
