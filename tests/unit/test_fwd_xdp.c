/* test_fwd_xdp.c - golden packets for the XDP fast path: for the same input
 * frame, bpf/nve_fast.bpf.c (run by BPF_PROG_TEST_RUN) gives byte for byte
 * the in-process forwarder's output with the same counters, or drops it
 * with the forwarder's reason and counters, or passes it to the forwarder;
 * every drop reason, both underlay families; what EVPN made the
 * forwarder's (moved MACs within their hold, ARP/ND); and table rewrites under
 * traffic never send a frame into another VN. Needs root (BPF): skips
 * without it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Internals on purpose: the forwarder's per-packet decisions without
 * sockets (fwd_fast.h) are the reference the program is held to. */
#include "fwd_encap.h"
#include "fwd_fast.h"
#include "fwd_int.h"
#include "fwd_pkt.h"
#include "fwd_xdp.h"
#include "../../bpf/nve_fast.h"

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 0x0b};
static const uint8_t MAC_C[6] = {2, 0, 0, 0, 0, 0x0c};
static const uint8_t MAC_D[6] = {2, 0, 0, 0, 0, 0x0d}; /* local, port 0 */
static const uint8_t MAC_E[6] = {2, 0, 0, 0, 0, 0x0e}; /* local, port 2 (no tag) */
static const uint8_t MAC_N[6] = {2, 0, 0, 0, 0, 0x4e}; /* remote, unresolved */
static const uint8_t MAC_R[6] = {2, 0, 0, 0, 0, 0x52}; /* learned */
static const uint8_t MAC_X[6] = {2, 0, 0, 0, 0, 0x77}; /* unknown */
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t UND_MAC[6] = {2, 0, 0, 0, 2, 1};
static const uint8_t NH_MAC[6] = {2, 0, 0, 0, 2, 2};
#define LO 1 /* BPF_PROG_TEST_RUN receives on the namespace's loopback */

/* ---- frames ------------------------------------------------------------- */

/* Ethernet [802.1Q tag] IPv4 or IPv6 / UDP or TCP; L4 checksum 0 (none)
 * unless csum says: 1 complete, 2 partial (the pseudo-header sum). */
struct fspec {
    const uint8_t *dst, *src;
    int tag;       /* -1: untagged */
    int v6, tcp, csum;
    uint16_t sport;
    size_t paylen;
};

static size_t
mkframe(uint8_t *b, const struct fspec *s)
{
    size_t o = 12, l4len = (s->tcp ? 20 : 8) + s->paylen;
    memcpy(b, s->dst, 6);
    memcpy(b + 6, s->src, 6);
    if (s->tag >= 0) {
        fwd_wr16(b + o, 0x8100);
        fwd_wr16(b + o + 2, (uint16_t)s->tag);
        o += 4;
    }
    fwd_wr16(b + o, s->v6 ? 0x86dd : 0x0800);
    o += 2;
    uint8_t *ip = b + o, *l4;
    uint32_t ph;
    if (s->v6) {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        fwd_wr16(ip + 4, (uint16_t)l4len);
        ip[6] = s->tcp ? 6 : 17;
        ip[7] = 64;
        ip[8] = 0xfd, ip[23] = 1;
        ip[24] = 0xfd, ip[39] = 2;
        ph = fwd_csum_add(0, ip + 8, 32);
        l4 = ip + 40;
    } else {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        fwd_wr16(ip + 2, (uint16_t)(20 + l4len));
        ip[8] = 64;
        ip[9] = s->tcp ? 6 : 17;
        ip[12] = 10, ip[15] = 1;
        ip[16] = 10, ip[19] = 2;
        fwd_wr16(ip + 10, (uint16_t)~fwd_csum_fold(fwd_csum_add(0, ip, 20)));
        ph = fwd_csum_add(0, ip + 12, 8);
        l4 = ip + 20;
    }
    memset(l4, 0, l4len);
    fwd_wr16(l4, s->sport);
    fwd_wr16(l4 + 2, 5001);
    if (s->tcp)
        l4[12] = 0x50;
    else
        fwd_wr16(l4 + 4, (uint16_t)l4len);
    for (size_t i = 0; i < s->paylen; i++)
        l4[l4len - s->paylen + i] = (uint8_t)(0x5a + i);
    size_t coff = s->tcp ? 16 : 6;
    ph += (uint32_t)(s->tcp ? 6 : 17) + (uint32_t)l4len;
    if (s->csum == 1)
        fwd_wr16(l4 + coff, (uint16_t)~fwd_csum_fold(fwd_csum_add(ph, l4, l4len)));
    else if (s->csum == 2)
        fwd_wr16(l4 + coff, fwd_csum_fold(ph));
    return (size_t)(l4 - b) + l4len;
}

/* ---- the forwarder with its fast path, and the in-process reference ------ */

#define CAP_MAX 8
struct cap {
    unsigned n;
    uint16_t port[CAP_MAX];
    size_t len[CAP_MAX];
    uint8_t buf[CAP_MAX][2048];
};

/* Captures what the forwarder sends and counts it as its sendmmsg flush
 * (fwd_dp.c) does when the kernel takes every frame. */
static void
cap_flush(struct fwd *f, struct fwd_out *o, struct fwd_txq *q)
{
    struct cap *c = o->ctx;
    for (unsigned i = 0; i < q->n && c->n < CAP_MAX; i++) {
        size_t off = 0;
        for (int k = 0; k < 3; k++) {
            memcpy(c->buf[c->n] + off, q->s[i].iov[k].iov_base, q->s[i].iov[k].iov_len);
            off += q->s[i].iov[k].iov_len;
        }
        c->port[c->n] = q->port;
        c->len[c->n++] = off;
        if (q->port == FWD_TXQ_UNDERLAY) {
            fwd_ctr_add(&f->und_tx_pkts, 1);
            fwd_ctr_add(&f->und_tx_bytes, off);
        } else {
            fwd_ctr_add(&f->ports[q->port].c.tx_pkts, 1);
            fwd_ctr_add(&f->ports[q->port].c.tx_bytes, off);
        }
    }
    q->n = 0;
}

struct env {
    struct fwd *f;
    struct fwd_out o;
    struct fwd_txq q[3];
    struct cap c;
    int v6;
};

static uint8_t
octet(const struct env *e, int k) /* last byte of VTEP addresses */
{
    (void)e;
    return (uint8_t)k;
}

static const char *
vtep(const struct env *e, int k)
{
    static char b[4][48];
    snprintf(b[k & 3], sizeof(b[0]), e->v6 ? "2001:db8::%d" : "192.0.2.%d", k);
    return b[k & 3];
}

static void
resolve_all(struct fwd *f, uint8_t skip_last)
{
    pthread_mutex_lock(&f->wlock);
    for (int r = 0; r < FWD_MAX_REMOTES; r++) {
        const struct fwd_remote *rm = &f->remotes[r];
        uint8_t last = rm->ip[rm->family == 4 ? 3 : 15];
        if (rm->used && last != skip_last)
            fwd_remote_set_nexthop(f, (uint16_t)r, NH_MAC);
    }
    pthread_mutex_unlock(&f->wlock);
}

/* VN 10100: port 0 tag 100 (A, D), port 1 tag 200 (B), E on port 2 (no
 * tag), C behind VTEP .2, N behind .9 (never resolved), flood to .2 and
 * .3. Ports 0 and 1 and the underlay are 1500-byte interfaces that take
 * redirected frames. */
static struct env *
env_new(int v6)
{
    struct env *e = calloc(1, sizeof(*e));
    struct fwd_params p;
    memset(&p, 0, sizeof(p));
    p.udp_port = 4789;
    p.sport_min = 49152;
    p.sport_max = 65535;
    p.ttl = 64;
    p.df = 1;
    p.mac_age_s = 300;
    p.fastpath = 1;
    /* a packet path (never started here): the fast path exists */
    snprintf(p.underlay_if, sizeof(p.underlay_if), "lo");
    e->v6 = v6;
    snprintf(p.local_ip, sizeof(p.local_ip), "%s", v6 ? "2001:db8::1" : "192.0.2.1");
    e->f = fwd_new(&p);
    assert_non_null(e->f);
    struct fwd *f = e->f;
    if (f->xdp == NULL || fwd_xdp_test_prog(f) < 0) {
        fwd_free(f);
        free(e);
        return NULL;
    }
    pthread_mutex_lock(&f->wlock);
    f->underlay_mtu = 1500;
    memcpy(f->underlay_mac, UND_MAC, 6);
    fwd_xdp_cfg(f);
    pthread_mutex_unlock(&f->wlock);
    fwd_txq_init(&e->q[0], -1, 0);
    fwd_txq_init(&e->q[1], -1, 1);
    fwd_txq_init(&e->q[2], -1, FWD_TXQ_UNDERLAY);
    e->o.port_q[0] = &e->q[0];
    e->o.port_q[1] = &e->q[1];
    e->o.und_q = &e->q[2];
    e->o.flush = cap_flush;
    e->o.ctx = &e->c;
    e->o.now = fwd_now_s();
    struct nvdp_addr a;
    for (int port = 0; port < 3; port++) {
        char n[8];
        snprintf(n, sizeof(n), "acc%d", port);
        assert_int_equal(fwd_port_add(f, (uint16_t)port, n), 0);
    }
    assert_int_equal(fwd_vn_bind(f, 0, 100, 10100), 0);
    assert_int_equal(fwd_vn_bind(f, 1, 200, 10100), 0);
    const struct { const uint8_t *m; uint16_t port; } loc[] = {
        {MAC_A, 0}, {MAC_D, 0}, {MAC_B, 1}, {MAC_E, 2},
    };
    for (size_t i = 0; i < sizeof(loc) / sizeof(loc[0]); i++) {
        nvdp_addr_parse(loc[i].m, "", &a);
        assert_int_equal(fwd_local_add(f, 10100, loc[i].port, &a), 0);
    }
    assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_C, vtep(e, 2)), 0);
    assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_N, vtep(e, 9)), 0);
    assert_int_equal(fwd_flood_add(f, 10100, vtep(e, 2)), 0);
    assert_int_equal(fwd_flood_add(f, 10100, vtep(e, 3)), 0);
    resolve_all(f, 9);
    /* the interfaces: the test run receives on lo (access port 0 unless a
     * test makes it the underlay); 97-99 only name redirect targets */
    assert_int_equal(fwd_xdp_dev_set(f, LO, 0, 1), 0);
    assert_int_equal(fwd_xdp_dev_set(f, 98, 1, 1), 0);
    assert_int_equal(fwd_xdp_dev_set(f, 99, -1, 1), 0);
    return e;
}

static void
env_free(struct env *e)
{
    fwd_free(e->f);
    free(e);
}

#define SKIP_WITHOUT_BPF(e) do { \
        if ((e) == NULL) { \
            print_message("no XDP fast path here (needs root, BPF): skipped\n"); \
            skip(); \
        } \
    } while (0)

/* The program's verdict on one frame; the frame it produced in out. */
static unsigned
xdp_run(struct env *e, const uint8_t *in, size_t len, uint8_t *out, size_t *olen)
{
    DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
                        .data_size_in = (uint32_t)len, .data_out = out,
                        .data_size_out = 4096, .repeat = 1);
    assert_int_equal(bpf_prog_test_run_opts(fwd_xdp_test_prog(e->f), &o), 0);
    *olen = o.data_size_out;
    return o.retval;
}

/* The forwarder on the same frame, as its rings deliver it: on an access
 * port without the tag (the kernel moved it to metadata); flags as the
 * ring would say. */
static void
slow_acc(struct env *e, const uint8_t *fr, size_t len, unsigned flags)
{
    uint8_t b[2048];
    size_t n = len;
    uint16_t tci = 0;
    memcpy(b, fr, len);
    if (len >= 18 && fwd_rd16(fr + 12) == 0x8100) {
        tci = fwd_rd16(fr + 14);
        memmove(b + 12, b + 16, len - 16);
        n = len - 4;
        flags |= FWD_RX_VLAN;
    }
    e->c.n = 0;
    fwd_access_rx(e->f, &e->o, 0, b, n, flags, tci);
    fwd_out_flush(e->f, &e->o);
}

static void
slow_und(struct env *e, const uint8_t *pk, size_t len, unsigned flags)
{
    uint8_t b[2048];
    memcpy(b, pk, len);
    e->c.n = 0;
    fwd_underlay_rx(e->f, &e->o, b, len, flags);
    fwd_out_flush(e->f, &e->o);
}

/* ---- counters as one flat list ------------------------------------------ */

#define NCTR 256
struct ctrs {
    int n;
    char name[NCTR][64];
    int64_t v[NCTR];
};

static void
flatten(struct json_object *o, const char *path, struct ctrs *c)
{
    json_object_object_foreach(o, k, v) {
        char p[64];
        snprintf(p, sizeof(p), "%s.%s", path, k);
        /* which path carried a frame differs by design; batches are the
         * forwarder's sendmmsg calls */
        if (!strcmp(p, ".fastpath") || !strcmp(p, ".forwarder.tx_batches"))
            continue;
        if (json_object_is_type(v, json_type_object)) {
            flatten(v, p, c);
        } else if (json_object_is_type(v, json_type_int) && c->n < NCTR) {
            snprintf(c->name[c->n], sizeof(c->name[0]), "%s", p);
            c->v[c->n++] = json_object_get_int64(v);
        }
    }
}

static void
ctrs(struct env *e, struct ctrs *c)
{
    struct json_object *j = fwd_counters_json(e->f);
    c->n = 0;
    flatten(j, "", c);
    json_object_put(j);
}

static int64_t
ctr(const struct ctrs *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->name[i], name))
            return c->v[i];
    fail_msg("no counter %s", name);
    return -1;
}

/* b - a == d - c, counter by counter */
static void
same_delta(const struct ctrs *a, const struct ctrs *b, const struct ctrs *c,
           const struct ctrs *d)
{
    assert_int_equal(a->n, d->n);
    for (int i = 0; i < a->n; i++) {
        int64_t x = b->v[i] - a->v[i], y = d->v[i] - c->v[i];
        if (x != y)
            fail_msg("%s: fast path +%lld, forwarder +%lld", a->name[i],
                     (long long)x, (long long)y);
    }
}

static uint64_t
xdp_passed(struct env *e)
{
    struct json_object *j = fwd_xdp_ctrs_json(e->f), *v;
    assert_true(json_object_object_get_ex(j, "passed", &v));
    uint64_t n = (uint64_t)json_object_get_int64(v);
    json_object_put(j);
    return n;
}

enum side { ACC, UND };

/* One frame through both: the program must forward it exactly as the
 * forwarder does (bytes, output, counters). cmp_len: bytes compared, 0 =
 * all (DF off: the IPv4 ID is a per-CPU counter in one, per-thread in the
 * other). */
static void
expect_fwd(struct env *e, enum side s, const uint8_t *in, size_t len,
           uint16_t out_port)
{
    uint8_t out[4096];
    size_t olen;
    struct ctrs c0, c1, c2;
    ctrs(e, &c0);
    assert_int_equal(xdp_run(e, in, len, out, &olen), XDP_REDIRECT);
    ctrs(e, &c1);
    if (s == ACC)
        slow_acc(e, in, len, 0);
    else
        slow_und(e, in, len, 0);
    ctrs(e, &c2);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], out_port);
    assert_int_equal(olen, e->c.len[0]);
    assert_memory_equal(out, e->c.buf[0], olen);
    same_delta(&c0, &c1, &c1, &c2);
}

/* The program drops it, for the forwarder's reason, with its counters. */
static void
expect_drop(struct env *e, enum side s, const uint8_t *in, size_t len, int reason)
{
    uint8_t out[4096];
    size_t olen;
    struct ctrs c0, c1, c2;
    char name[64];
    snprintf(name, sizeof(name), ".drops.%s", fwd_drop_name(reason));
    ctrs(e, &c0);
    assert_int_equal(xdp_run(e, in, len, out, &olen), XDP_DROP);
    ctrs(e, &c1);
    assert_int_equal(ctr(&c1, name), ctr(&c0, name) + 1);
    if (s == ACC)
        slow_acc(e, in, len, 0);
    else
        slow_und(e, in, len, 0);
    ctrs(e, &c2);
    assert_int_equal(e->c.n, 0);
    assert_int_equal(ctr(&c2, name), ctr(&c1, name) + 1);
    same_delta(&c0, &c1, &c1, &c2);
}

/* The program passes it on untouched, counting nothing of the
 * forwarder's: the forwarder decides (reason > 0: it drops it so). */
static void
expect_pass(struct env *e, enum side s, const uint8_t *in, size_t len, int reason,
            unsigned flags)
{
    uint8_t out[4096];
    size_t olen;
    struct ctrs c0, c1, c2;
    uint64_t p0 = xdp_passed(e);
    ctrs(e, &c0);
    assert_int_equal(xdp_run(e, in, len, out, &olen), XDP_PASS);
    ctrs(e, &c1);
    assert_int_equal(olen, len);
    assert_memory_equal(out, in, len);
    assert_int_equal(xdp_passed(e), p0 + 1);
    same_delta(&c0, &c1, &c0, &c0); /* nothing moved */
    if (s == ACC)
        slow_acc(e, in, len, flags);
    else
        slow_und(e, in, len, flags);
    ctrs(e, &c2);
    if (reason > 0) {
        char name[64];
        snprintf(name, sizeof(name), ".drops.%s", fwd_drop_name(reason));
        assert_int_equal(ctr(&c2, name), ctr(&c1, name) + 1);
        assert_int_equal(e->c.n, 0);
    }
}

static size_t
mkvx(struct env *e, uint8_t *out, uint32_t vni, const uint8_t *inner,
     size_t il, int src_last)
{
    uint8_t hdr[FWD_HDR_MAX], s[16] = {0}, d[16] = {0};
    if (e->v6) {
        s[0] = d[0] = 0x20, s[1] = d[1] = 0x01, s[2] = d[2] = 0x0d, s[3] = d[3] = 0xb8;
        s[15] = octet(e, src_last);
        d[15] = 1;
    } else {
        s[0] = d[0] = 192, s[2] = d[2] = 2;
        s[3] = octet(e, src_last);
        d[3] = 1;
    }
    unsigned hl = fwd_outer_template(hdr, e->v6 ? 6 : 4, s, d, NH_MAC, UND_MAC,
                                     &e->f->p);
    struct iovec iv = {(void *)inner, il};
    fwd_outer_finish(hdr, hl, vni, 50000, &iv, 1, il);
    memcpy(out, hdr, hl);
    memcpy(out + hl, inner, il);
    return hl + il;
}

/* ---- access port --------------------------------------------------------- */

static void
access_cases(struct env *e)
{
    struct fwd *f = e->f;
    uint8_t fr[2048];
    size_t n;
    struct fspec s = {MAC_B, MAC_A, 100, 0, 0, 0, 1234, 20};

    /* local, re-tagged: A (tag 100) -> B (port 1, tag 200) */
    expect_fwd(e, ACC, fr, mkframe(fr, &s), 1);
    s.tcp = 1, s.csum = 1, s.paylen = 333;
    expect_fwd(e, ACC, fr, mkframe(fr, &s), 1);
    /* encapsulated to C behind .2: IPv4/IPv6 inner, UDP/TCP, odd sizes,
     * checksums complete or none */
    s.dst = MAC_C;
    for (int v6 = 0; v6 < 2; v6++)
        for (int tcp = 0; tcp < 2; tcp++)
            for (size_t pl = 0; pl < 1200; pl += 397) {
                struct fspec t = {MAC_C, MAC_A, 100, v6, tcp, tcp, (uint16_t)(1000 + pl), pl};
                expect_fwd(e, ACC, fr, mkframe(fr, &t), FWD_TXQ_UNDERLAY);
            }
    /* a non-IP inner frame hashes on MACs and EtherType only */
    n = mkframe(fr, &s);
    fwd_wr16(fr + 16, 0x88b6);
    expect_fwd(e, ACC, fr, n, FWD_TXQ_UNDERLAY);

    /* every drop the program makes itself */
    s = (struct fspec){MAC_C, MAC_A, 999, 0, 0, 0, 1, 20};
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_UNKNOWN_TAG);
    s.tag = 100;
    n = mkframe(fr, &s); /* a second tag inside ours */
    memmove(fr + 20, fr + 16, n - 16);
    fwd_wr16(fr + 16, 0x8100);
    fwd_wr16(fr + 18, 5);
    expect_drop(e, ACC, fr, n + 4, FWD_DROP_UNKNOWN_TAG);
    const uint8_t grp[6] = {3, 0, 0, 0, 0, 1};
    s.src = grp;
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_BAD_SRC);
    s.src = MAC_X;
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_SRC_NOT_ASSOC);
    s.src = MAC_B; /* associated, but on port 1 */
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_SRC_NOT_ASSOC);
    s.src = MAC_A;
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_A, 0), 0);
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_VNIC_DOWN);
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_A, 1), 0);
    s.dst = MAC_D;
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_SAME_PORT);
    s.dst = MAC_B;
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_B, 0), 0);
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_VNIC_DOWN);
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_B, 1), 0);
    s.dst = MAC_E; /* behind a port with no tag for the VN */
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_UNKNOWN_TAG);
    s.dst = MAC_N; /* VTEP .9 not resolved */
    expect_drop(e, ACC, fr, mkframe(fr, &s), FWD_DROP_NO_NEIGH);

    /* what the program leaves to the forwarder, and the forwarder's own
     * drop reasons among it */
    s = (struct fspec){MAC_C, MAC_A, -1, 0, 0, 0, 1, 20};
    expect_pass(e, ACC, fr, mkframe(fr, &s), FWD_DROP_UNTAGGED, 0);
    s.tag = 0; /* priority-tagged */
    expect_pass(e, ACC, fr, mkframe(fr, &s), FWD_DROP_UNTAGGED, 0);
    s.tag = 100;
    /* outer IP header + UDP + VXLAN + the inner frame (42 + payload) */
    size_t fit = 1500 - (e->v6 ? 56 : 36) - 42;
    s.paylen = fit + 1; /* one byte over the underlay's MTU */
    expect_pass(e, ACC, fr, mkframe(fr, &s), FWD_DROP_MTU, 0);
    s.paylen = fit;
    expect_fwd(e, ACC, fr, mkframe(fr, &s), FWD_TXQ_UNDERLAY);
    s.paylen = 20;
    s.dst = BCAST;
    expect_pass(e, ACC, fr, mkframe(fr, &s), 0, 0);
    s.dst = MAC_X;
    expect_pass(e, ACC, fr, mkframe(fr, &s), 0, 0);
    /* NVDP: untagged, before anything else */
    n = mkframe(fr, &(struct fspec){MAC_C, MAC_A, -1, 0, 0, 0, 1, 20});
    fwd_wr16(fr + 12, 0x88b5);
    expect_pass(e, ACC, fr, n, 0, 0);
    /* a checksum the sender left partial (veth offload): the forwarder
     * completes it, the program cannot know */
    for (int tcp = 0; tcp < 2; tcp++) {
        struct fspec t = {MAC_C, MAC_A, 100, tcp, tcp, 2, 7, 40};
        n = mkframe(fr, &t);
        expect_pass(e, ACC, fr, n, 0, FWD_RX_CSUM);
        assert_int_equal(e->c.n, 1);
        t.csum = 1; /* the forwarder sent it complete */
        uint8_t want[2048];
        size_t wn = mkframe(want, &t);
        assert_memory_equal(e->c.buf[0] + (e->v6 ? 70 : 50), want, 12);
        assert_memory_equal(e->c.buf[0] + (e->v6 ? 70 : 50) + 12, want + 16, wn - 16);
    }
    /* an interface that cannot take redirected frames (veth peer without
     * NAPI): the forwarder sends through its socket */
    s.dst = MAC_B;
    assert_int_equal(fwd_xdp_dev_set(f, 98, 1, 0), 0);
    expect_pass(e, ACC, fr, mkframe(fr, &s), 0, 0);
    assert_int_equal(fwd_xdp_dev_set(f, 98, 1, 1), 0);
    expect_fwd(e, ACC, fr, mkframe(fr, &s), 1);
}

static void
test_access(void **st)
{
    (void)st;
    for (int v6 = 0; v6 < 2; v6++) {
        struct env *e = env_new(v6);
        SKIP_WITHOUT_BPF(e);
        access_cases(e);
        env_free(e);
    }
}

/* DF off: a changing IPv4 ID (per CPU in the program, per thread in the
 * forwarder): the rest is the same, the header checksum right */
static void
test_df_off(void **st)
{
    (void)st;
    struct env *e = env_new(0);
    SKIP_WITHOUT_BPF(e);
    struct fwd *f = e->f;
    f->p.df = 0;
    pthread_mutex_lock(&f->wlock);
    fwd_xdp_cfg(f);
    pthread_mutex_unlock(&f->wlock);
    resolve_all(f, 9);
    uint8_t fr[2048], o1[4096], o2[4096];
    size_t n = mkframe(fr, &(struct fspec){MAC_C, MAC_A, 100, 0, 0, 0, 9, 64});
    size_t l1, l2;
    assert_int_equal(xdp_run(e, fr, n, o1, &l1), XDP_REDIRECT);
    assert_int_equal(xdp_run(e, fr, n, o2, &l2), XDP_REDIRECT);
    slow_acc(e, fr, n, 0);
    assert_int_equal(l1, e->c.len[0]);
    assert_int_equal(o1[20] & 0x40, 0); /* no DF */
    assert_int_not_equal(fwd_rd16(o1 + 18), fwd_rd16(o2 + 18));
    for (const uint8_t *o = o1; o != NULL; o = o == o1 ? o2 : NULL) {
        assert_int_equal(fwd_csum_fold(fwd_csum_add(0, o + 14, 20)), 0xffff);
        assert_memory_equal(o, e->c.buf[0], 18);
        assert_memory_equal(o + 20, e->c.buf[0] + 20, 4);
        assert_memory_equal(o + 26, e->c.buf[0] + 26, l1 - 26);
    }
    env_free(e);
}

/* ---- underlay ------------------------------------------------------------- */

static void
underlay_cases(struct env *e)
{
    struct fwd *f = e->f;
    uint8_t in[2048], pk[2048];
    size_t il, n;
    struct fspec s = {MAC_B, MAC_R, -1, 0, 1, 1, 77, 100};

    assert_int_equal(fwd_xdp_dev_set(f, LO, -1, 1), 0);
    /* R is unknown: learning is the forwarder's */
    il = mkframe(in, &s);
    n = mkvx(e, pk, 10100, in, il, 3);
    expect_pass(e, UND, pk, n, 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(f->learn_head - f->learn_tail, 1);
    pthread_mutex_lock(&f->wlock);
    assert_int_equal(fwd_learn_apply(f, &f->learn[f->learn_tail & (FWD_LEARN_RING - 1)], 1), 0);
    pthread_mutex_unlock(&f->wlock);
    f->learn_tail = f->learn_head;
    /* now known behind .3: decapsulated here, and R's timestamp refreshed
     * in the table the forwarder ages */
    uint32_t slot;
    assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, MAC_R, &slot)), FWD_MAC_LEARNED);
    f->mac_seen[slot] = 1;
    expect_fwd(e, UND, pk, n, 1);
    assert_true(f->mac_seen[slot] >= fwd_now_s() - 1);
    assert_int_equal(f->learn_head - f->learn_tail, 0);
    for (int v6 = 0; v6 < 2; v6++)
        for (size_t pl = 0; pl < 1300; pl += 431) {
            struct fspec t = {MAC_B, MAC_R, -1, v6, !v6, 1, 5, pl};
            il = mkframe(in, &t);
            expect_fwd(e, UND, pk, mkvx(e, pk, 10100, in, il, 3), 1);
        }
    /* Ethernet padding after the datagram is not forwarded */
    n = mkvx(e, pk, 10100, in, il, 3);
    memset(pk + n, 0, 10);
    expect_fwd(e, UND, pk, n + 10, 1);
    /* from the static remote C: no learning needed */
    s.src = MAC_C;
    il = mkframe(in, &s);
    expect_fwd(e, UND, pk, mkvx(e, pk, 10100, in, il, 2), 1);
    /* R moved to .2: the forwarder learns it */
    s.src = MAC_R;
    il = mkframe(in, &s);
    expect_pass(e, UND, pk, mkvx(e, pk, 10100, in, il, 2), 0, 0);
    f->learn_tail = f->learn_head;

    /* drops */
    il = mkframe(in, &s);
    expect_drop(e, UND, pk, mkvx(e, pk, 999, in, il, 3), FWD_DROP_UNKNOWN_VNI);
    s.dst = MAC_C;
    il = mkframe(in, &s);
    expect_drop(e, UND, pk, mkvx(e, pk, 10100, in, il, 3), FWD_DROP_VX_TO_REMOTE);
    s.dst = MAC_B;
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_B, 0), 0);
    il = mkframe(in, &s);
    expect_drop(e, UND, pk, mkvx(e, pk, 10100, in, il, 3), FWD_DROP_VNIC_DOWN);
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_B, 1), 0);
    s.dst = MAC_E;
    il = mkframe(in, &s);
    expect_drop(e, UND, pk, mkvx(e, pk, 10100, in, il, 3), FWD_DROP_UNKNOWN_VNI);

    /* left to the forwarder: BUM, unknown unicast, a partial checksum,
     * and whatever is malformed (the forwarder's drop reasons) */
    s.dst = BCAST;
    il = mkframe(in, &s);
    expect_pass(e, UND, pk, mkvx(e, pk, 10100, in, il, 3), 0, 0);
    s.dst = MAC_X;
    il = mkframe(in, &s);
    expect_pass(e, UND, pk, mkvx(e, pk, 10100, in, il, 3), 0, 0);
    s.dst = MAC_B;
    s.csum = 2;
    il = mkframe(in, &s);
    expect_pass(e, UND, pk, mkvx(e, pk, 10100, in, il, 3), 0, FWD_RX_CSUM);
    s.csum = 1;
    il = mkframe(in, &s);
    n = mkvx(e, pk, 10100, in, il, 3);
    expect_pass(e, UND, pk, 60, FWD_DROP_VX_SHORT, 0);
    unsigned l3 = e->v6 ? 40 : 20;
#define MUT(off, val, reason) do { \
        uint8_t m[2048]; \
        memcpy(m, pk, n); \
        m[off] = (val); \
        expect_pass(e, UND, m, n, reason, 0); \
    } while (0)
    MUT(14 + l3 + 8, 0, FWD_DROP_VX_MALFORMED);      /* VXLAN I flag */
    MUT(14 + l3 + 3, 0xb6, FWD_DROP_VX_MALFORMED);   /* UDP port 4790 */
    MUT(14 + l3 + 16 + 12, 0x81, FWD_DROP_VX_MALFORMED); /* inner tag */
    if (!e->v6) {
        MUT(24, pk[24] ^ 1, FWD_DROP_VX_MALFORMED);    /* header checksum */
        MUT(20, 0x20, FWD_DROP_VX_MALFORMED);          /* a fragment */
        MUT(33, 7, FWD_DROP_VX_MALFORMED);             /* not our address */
    } else {
        MUT(14 + 39, 7, FWD_DROP_VX_MALFORMED);        /* not our address */
    }
#undef MUT
    /* the host's own traffic */
    uint8_t arp[60] = {0};
    memcpy(arp, BCAST, 6);
    fwd_wr16(arp + 12, 0x0806);
    expect_pass(e, UND, arp, sizeof(arp), FWD_DROP_VX_MALFORMED, 0);
}

static void
test_underlay(void **st)
{
    (void)st;
    for (int v6 = 0; v6 < 2; v6++) {
        struct env *e = env_new(v6);
        SKIP_WITHOUT_BPF(e);
        underlay_cases(e);
        env_free(e);
    }
}

/* ---- EVPN: what stays the forwarder's ------------------------------------- */

/* The outer destination's last byte of an encapsulated frame. */
static uint8_t
outer_dst(const struct env *e, const uint8_t *pk)
{
    return pk[e->v6 ? 14 + 39 : 14 + 19];
}

/* A MAC that moved away from here (EVPN MAC mobility): within its hold the
 * program leaves every frame for it to the forwarder, which floods it
 * while its new place is unknown, re-encapsulates the frames of VTEPs that
 * have not converged to its new VTEP (mobility_tunnelled) and refuses
 * those from that VTEP; after the hold the program takes the forwarder's
 * plain decisions again, byte for byte. */
static void
moved_cases(struct env *e)
{
    struct fwd *f = e->f;
    uint8_t in[2048], pk[2048], fr[2048];
    size_t il, n;
    uint32_t slot;
    struct nvdp_addr a;
    uint64_t mt = fwd_ctr_get(&f->mobility_tunnelled);

    /* D migrates away from port 0: its association goes, EVPN holds it as
     * leaving for a place not known yet */
    nvdp_addr_parse(MAC_D, "", &a);
    assert_int_equal(fwd_local_del(f, 10100, 0, &a), 0);
    assert_int_equal(fwd_remote_mac_leaving(f, 10100, MAC_D, 5000), 0);
    /* A -> D: flooded by the forwarder (B on port 1, .2, .3) */
    struct fspec s = {MAC_D, MAC_A, 100, e->v6, 0, 0, 7, 40};
    n = mkframe(fr, &s);
    expect_pass(e, ACC, fr, n, 0, 0);
    assert_int_equal(e->c.n, 3);
    /* C (behind .2) -> D from .2: on to the other VTEP of the VN, .3 */
    assert_int_equal(fwd_xdp_dev_set(f, LO, -1, 1), 0);
    struct fspec t = {MAC_D, MAC_C, -1, e->v6, 1, 1, 9, 60};
    il = mkframe(in, &t);
    size_t pn = mkvx(e, pk, 10100, in, il, 2);
    expect_pass(e, UND, pk, pn, 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], FWD_TXQ_UNDERLAY);
    assert_int_equal(outer_dst(e, e->c.buf[0]), 3);
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), mt + 1);

    /* its new VTEP is known: .3 */
    assert_int_equal(fwd_remote_mac_moved(f, 10100, MAC_D, vtep(e, 3), 5000),
                     0);
    expect_pass(e, UND, pk, pn, 0, 0); /* from .2: re-encapsulated to .3 */
    assert_int_equal(e->c.n, 1);
    assert_int_equal(outer_dst(e, e->c.buf[0]), 3);
    assert_memory_equal(e->c.buf[0] + (e->v6 ? 70 : 50), in, il);
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), mt + 2);
    /* from .3 itself: never back (the forwarder's drop) */
    expect_pass(e, UND, pk, mkvx(e, pk, 10100, in, il, 3),
                FWD_DROP_VX_TO_REMOTE, 0);
    /* A -> D: encapsulated to .3 by the forwarder */
    assert_int_equal(fwd_xdp_dev_set(f, LO, 0, 1), 0);
    expect_pass(e, ACC, fr, n, 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], FWD_TXQ_UNDERLAY);
    assert_int_equal(outer_dst(e, e->c.buf[0]), 3);

    /* a remote MAC that moves on (C: .2 -> .3) gets the same hold, the
     * program sees its flag as soon as the forwarder does */
    assert_int_equal(fwd_remote_mac_moved(f, 10100, MAC_C, vtep(e, 3), 5000),
                     0);
    t = (struct fspec){MAC_C, MAC_N, -1, e->v6, 0, 0, 3, 30};
    assert_int_equal(fwd_xdp_dev_set(f, LO, -1, 1), 0);
    il = mkframe(in, &t);
    /* from .2, still sending to C there (N is static: nothing to learn) */
    expect_pass(e, UND, pk, mkvx(e, pk, 10100, in, il, 2), 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(outer_dst(e, e->c.buf[0]), 3);
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), mt + 3);

    /* the holds are over: the program decides as the forwarder does */
    e->o.now = fwd_now_s();
    for (const uint8_t *m = MAC_C; m != NULL; m = m == MAC_C ? MAC_D : NULL) {
        assert_true(FWD_MV_MOVED(fwd_mac_lookup(f, 0, m, &slot)));
        f->mac_seen[slot] = e->o.now - 1;
    }
    expect_drop(e, UND, pk, mkvx(e, pk, 10100, in, il, 2),
                FWD_DROP_VX_TO_REMOTE);
    t.dst = MAC_D;
    il = mkframe(in, &t);
    expect_drop(e, UND, pk, mkvx(e, pk, 10100, in, il, 2),
                FWD_DROP_VX_TO_REMOTE);
    assert_int_equal(fwd_xdp_dev_set(f, LO, 0, 1), 0);
    expect_fwd(e, ACC, fr, n, FWD_TXQ_UNDERLAY);
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), mt + 3);
}

/* ARP and neighbour discovery from a local VNIC, unicast or not, are the
 * forwarder's (EVPN proxy, snooping): passed, and the forwarder's answer
 * is the one sent. */
static void
arp_nd_cases(struct env *e)
{
    struct fwd *f = e->f;
    uint8_t fr[256];
    const uint8_t ipa[4] = {10, 0, 0, 1}, ipc[4] = {10, 0, 0, 3};
    uint8_t ipc16[16] = {10, 0, 0, 3};
    size_t n;

    assert_int_equal(fwd_remote_ip_add(f, 10100, MAC_C, 4, ipc16), 0);
    /* A asks who has C's IP: the forwarder answers on A's port */
    memset(fr, 0, sizeof(fr));
    memset(fr, 0xff, 6);
    memcpy(fr + 6, MAC_A, 6);
    fwd_wr16(fr + 12, 0x8100);
    fwd_wr16(fr + 14, 100);
    fwd_wr16(fr + 16, 0x0806);
    uint8_t *arp = fr + 18;
    arp[1] = 1, arp[2] = 8, arp[4] = 6, arp[5] = 4, arp[7] = 1;
    memcpy(arp + 8, MAC_A, 6);
    memcpy(arp + 14, ipa, 4);
    memcpy(arp + 24, ipc, 4);
    n = 18 + 28;
    uint64_t px = fwd_ctr_get(&f->arp_proxied);
    expect_pass(e, ACC, fr, n, 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], 0);
    assert_memory_equal(e->c.buf[0] + 6, MAC_C, 6);
    assert_int_equal(fwd_ctr_get(&f->arp_proxied), px + 1);
    /* the same request unicast to C: forwarded by the forwarder */
    memcpy(fr, MAC_C, 6);
    expect_pass(e, ACC, fr, n, 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], FWD_TXQ_UNDERLAY);
    /* a unicast neighbour solicitation to B (local, port 1) */
    struct fspec s = {MAC_B, MAC_A, 100, 1, 0, 0, 1, 24};
    n = mkframe(fr, &s);
    fr[18 + 6] = 58; /* ICMPv6 */
    fr[18 + 40] = 135;
    expect_pass(e, ACC, fr, n, 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], 1);
    fr[18 + 40] = 128; /* an echo request is the program's */
    expect_fwd(e, ACC, fr, n, 1);
}

static void
test_evpn(void **st)
{
    (void)st;
    for (int v6 = 0; v6 < 2; v6++) {
        struct env *e = env_new(v6);
        SKIP_WITHOUT_BPF(e);
        arp_nd_cases(e);
        moved_cases(e);
        env_free(e);
    }
}

static int map_fd(const char *name);

/* No underlay, no packet path: no maps to write, and the view says why. */
static void
test_no_underlay(void **st)
{
    (void)st;
    struct env *e = env_new(0);
    SKIP_WITHOUT_BPF(e); /* the same forwarder with an underlay has one */
    struct fwd_params p = e->f->p;
    p.underlay_if[0] = '\0';
    struct fwd *f = fwd_new(&p);
    assert_non_null(f);
    assert_null(f->xdp);
    struct json_object *j = fwd_dump_json(f), *fp, *v;
    assert_true(json_object_object_get_ex(j, "fastpath", &fp));
    assert_true(json_object_object_get_ex(fp, "state", &v));
    assert_string_equal(json_object_get_string(v), "unavailable");
    assert_true(json_object_object_get_ex(fp, "reason", &v));
    assert_non_null(strstr(json_object_get_string(v), "no underlay"));
    json_object_put(j);
    fwd_free(f);
    env_free(e);
}

/* A mirror that cannot be written turns the fast path into a pass-through
 * (the forwarder alone decides), never into disagreeing tables. The MAC
 * map's descriptor is swapped for /dev/null: its next write fails. */
static void
test_mirror_failure(void **st)
{
    (void)st;
    struct env *e = env_new(0);
    SKIP_WITHOUT_BPF(e);
    uint8_t fr[2048];
    size_t n = mkframe(fr, &(struct fspec){MAC_B, MAC_A, 100, 0, 0, 0, 1, 20});
    expect_fwd(e, ACC, fr, n, 1);
    int macs = map_fd("nf_macs");
    assert_true(macs >= 0);
    int nul = open("/dev/null", O_RDONLY);
    assert_true(nul >= 0 && dup2(nul, macs) == macs);
    close(nul);
    struct nvdp_addr a;
    nvdp_addr_parse(MAC_X, "", &a);
    assert_int_equal(fwd_local_add(e->f, 10100, 1, &a), 0); /* the table has it */
    struct json_object *j = fwd_dump_json(e->f), *fp, *v;
    assert_true(json_object_object_get_ex(j, "fastpath", &fp));
    assert_true(json_object_object_get_ex(fp, "state", &v));
    assert_string_equal(json_object_get_string(v), "unavailable");
    assert_true(json_object_object_get_ex(fp, "reason", &v));
    assert_non_null(strstr(json_object_get_string(v), "mirroring MAC failed"));
    json_object_put(j);
    /* A -> B and A -> X: the forwarder's, both */
    expect_pass(e, ACC, fr, n, 0, 0);
    assert_int_equal(e->c.n, 1);
    n = mkframe(fr, &(struct fspec){MAC_X, MAC_A, 100, 0, 0, 0, 1, 20});
    expect_pass(e, ACC, fr, n, 0, 0);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], 1);
    env_free(e);
}

/* ---- table rewrites under traffic ------------------------------------------ */

/* Two VNs over the same ports and the same MACs (A, B local, C remote):
 * VN 10100 tags 100/200, VN 20200 tags 101/201. While a writer keeps
 * removing and re-adding bindings, local MACs, remote MACs (swapping
 * their VTEPs, so remote slots are freed and taken for the other address)
 * and flood lists, readers keep running the program: a frame it forwards
 * carries its own VN's tag or VNI, never the other's. */
struct churn {
    struct env *e;
    int stop, running;
    unsigned fwd[2], bad;
};

static void *
churn_reader(void *arg)
{
    struct churn *c = arg;
    struct env *e = c->e;
    uint8_t fr[4][256], out[4096];
    size_t n[4], olen;
    const uint16_t tags[2] = {100, 101};
    for (int v = 0; v < 2; v++) {
        n[2 * v] = mkframe(fr[2 * v], &(struct fspec){MAC_B, MAC_A, tags[v], 0, 0, 0, 1, 30});
        n[2 * v + 1] = mkframe(fr[2 * v + 1], &(struct fspec){MAC_C, MAC_A, tags[v], 0, 0, 0, 1, 30});
    }
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&c->running, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < 4; i++) {
            int v = i / 2;
            if (xdp_run(e, fr[i], n[i], out, &olen) != XDP_REDIRECT)
                continue;
            c->fwd[v]++;
            if (i % 2 == 0) { /* local: to port 1 with the VN's tag there */
                if (fwd_rd16(out + 14) != (v ? 201 : 200))
                    c->bad++;
            } else { /* encapsulated with the VN's VNI */
                unsigned vo = 14 + 20 + 8 + 4;
                uint32_t vni = (uint32_t)out[vo] << 16 | out[vo + 1] << 8 | out[vo + 2];
                if (vni != (v ? 20200u : 10100u))
                    c->bad++;
            }
        }
    }
    return NULL;
}

/* deferred: the maps written in batches, a flush per group of changes
 * (as nve-agent does per loop turn) */
static void
rewrite_under_traffic(int deferred)
{
    struct env *e = env_new(0);
    SKIP_WITHOUT_BPF(e);
    struct fwd *f = e->f;
    struct nvdp_addr a;
    assert_int_equal(fwd_vn_bind(f, 0, 101, 20200), 0);
    assert_int_equal(fwd_vn_bind(f, 1, 201, 20200), 0);
    for (const uint8_t *m = MAC_A; m != NULL; m = m == MAC_A ? MAC_B : NULL) {
        nvdp_addr_parse(m, "", &a);
        assert_int_equal(fwd_local_add(f, 20200, m == MAC_A ? 0 : 1, &a), 0);
    }
    assert_int_equal(fwd_remote_mac_add(f, 20200, MAC_C, vtep(e, 3)), 0);
    resolve_all(f, 9);
    struct churn c = {.e = e};
    pthread_t rd;
    assert_int_equal(pthread_create(&rd, NULL, churn_reader, &c), 0);
    while (!__atomic_load_n(&c.running, __ATOMIC_ACQUIRE))
        usleep(1000);
    fwd_mirror_defer(f, deferred);
    nvdp_addr_parse(MAC_B, "", &a);
    for (int i = 0; i < 400; i++) {
        int k = i & 1;
        /* bindings of port 1 out and back in */
        assert_int_equal(fwd_vn_unbind(f, 1, 200), 0);
        assert_int_equal(fwd_vn_unbind(f, 1, 201), 0);
        assert_int_equal(fwd_vn_bind(f, 1, 201, 20200), 0);
        assert_int_equal(fwd_vn_bind(f, 1, 200, 10100), 0);
        fwd_flush(f);
        /* B in both VNs (same MAC) gone and back */
        assert_int_equal(fwd_local_del(f, 20200, 1, &a), 0);
        assert_int_equal(fwd_local_del(f, 10100, 1, &a), 0);
        assert_int_equal(fwd_local_add(f, 10100, 1, &a), 0);
        assert_int_equal(fwd_local_add(f, 20200, 1, &a), 0);
        fwd_flush(f);
        /* C's VTEPs swapped: .2/.3 slots freed and retaken */
        assert_int_equal(fwd_remote_mac_del(f, 10100, MAC_C), 0);
        assert_int_equal(fwd_remote_mac_del(f, 20200, MAC_C), 0);
        assert_int_equal(fwd_flood_del(f, 10100, vtep(e, 2)), 0);
        assert_int_equal(fwd_flood_del(f, 10100, vtep(e, 3)), 0);
        assert_int_equal(fwd_remote_mac_add(f, 20200, MAC_C, vtep(e, 2 + k)), 0);
        assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_C, vtep(e, 3 - k)), 0);
        assert_int_equal(fwd_flood_add(f, 10100, vtep(e, 2)), 0);
        assert_int_equal(fwd_flood_add(f, 10100, vtep(e, 3)), 0);
        resolve_all(f, 9);
        fwd_flush(f);
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    pthread_join(rd, NULL);
    print_message("forwarded %u (VN 10100) and %u (VN 20200) under rewrites\n",
                  c.fwd[0], c.fwd[1]);
    assert_true(c.fwd[0] > 50 && c.fwd[1] > 50);
    assert_int_equal(c.bad, 0);
    env_free(e);
}

static void
test_rewrite_under_traffic(void **st)
{
    (void)st;
    rewrite_under_traffic(0);
}

static void
test_rewrite_deferred(void **st)
{
    (void)st;
    rewrite_under_traffic(1);
}

/* ---- deferred map writes ------------------------------------------------ */

static int
map_fd(const char *name)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct bpf_map_info info;
        uint32_t len = sizeof(info);
        memset(&info, 0, sizeof(info));
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
            strcmp(info.name, name) == 0)
            return fd;
    }
    return -1;
}

static unsigned
map_count(int fd, size_t ksz)
{
    uint8_t k[8], next[8];
    unsigned n = 0;
    assert_true(ksz <= sizeof(k));
    for (void *prev = NULL; bpf_map_get_next_key(fd, prev, next) == 0; prev = k) {
        memcpy(k, next, ksz);
        n++;
    }
    return n;
}

/* The maps hold what the tables hold, no more and no less: every live MAC
 * with its value (the remote slot's generation aside) and slot, every
 * binding both ways. */
static void
expect_maps_match(struct fwd *f)
{
    int macs = map_fd("nf_macs"), tags = map_fd("nf_tags"),
        vnport = map_fd("nf_vnport");
    const uint64_t low48 = (1ull << 48) - 1;
    unsigned nmac = 0, ntag = 0, nvnport = 0;
    assert_true(macs >= 0 && tags >= 0 && vnport >= 0);
    for (uint32_t h = 0; h < FWD_MAC_CAP; h++) {
        uint64_t k = f->macs[h].key;
        struct nf_mac m;
        if (k <= FWD_MK_TOMB)
            continue;
        assert_int_equal(bpf_map_lookup_elem(macs, &k, &m), 0);
        assert_true((m.val & low48) == (f->macs[h].val & low48));
        assert_int_equal(m.slot, h);
        nmac++;
    }
    assert_int_equal(map_count(macs, 8), nmac);
    for (uint32_t p = 0; p < FWD_MAX_PORTS; p++)
        for (uint32_t t = 0; t < 4096; t++) {
            uint32_t k = NF_TAG_KEY(p, t), vn;
            if (f->ports[p].tag2vn[t] == 0)
                continue;
            assert_int_equal(bpf_map_lookup_elem(tags, &k, &vn), 0);
            assert_int_equal(vn, f->ports[p].tag2vn[t] - 1u);
            ntag++;
        }
    assert_int_equal(map_count(tags, 4), ntag);
    for (uint32_t v = 0; v < FWD_MAX_VNS; v++)
        for (uint32_t p = 0; p < FWD_MAX_PORTS; p++) {
            uint32_t k = NF_VNPORT_KEY(v, p), tag;
            if (f->vns[v].port_tag[p] == 0)
                continue;
            assert_int_equal(bpf_map_lookup_elem(vnport, &k, &tag), 0);
            assert_int_equal(tag, f->vns[v].port_tag[p]);
            nvnport++;
        }
    assert_int_equal(map_count(vnport, 4), nvnport);
}

/* One random change of the kinds a control plane makes: a MAC added (or
 * moved to another port), removed, moved to the other VN, removed and
 * added again; a binding moved to the other VN; a remote MAC (whose
 * remote slot is written at once, between the queued writes). */
static void
random_change(struct env *e, unsigned *seed)
{
    static const uint32_t vni[2] = {10100, 20200};
    struct fwd *f = e->f;
    struct nvdp_addr a;
    uint8_t mac[6] = {2, 0, 0, 0, 1, 0};
    unsigned r = (unsigned)rand_r(seed);
    int v = r & 1;
    uint16_t port = (uint16_t)((r >> 1) % 3);
    mac[5] = (uint8_t)((r >> 3) % 16);
    nvdp_addr_parse(mac, "", &a);
    switch ((r >> 8) % 7) {
    case 0:
    case 1:
        fwd_local_add(f, vni[v], port, &a);
        break;
    case 2:
        fwd_local_del(f, vni[v], port, &a);
        break;
    case 3: /* to the other VN */
        fwd_local_del(f, vni[v], port, &a);
        fwd_local_add(f, vni[!v], port, &a);
        break;
    case 4: /* the same key out and back in */
        fwd_local_del(f, vni[v], port, &a);
        fwd_local_add(f, vni[v], port, &a);
        break;
    case 5: { /* a tag of port 1 to the other VN */
        uint16_t tag = (uint16_t)(300 + (r >> 16) % 4);
        fwd_vn_unbind(f, 1, tag);
        fwd_vn_bind(f, 1, tag, vni[v]);
        break;
    }
    default:
        if ((r >> 16) & 1)
            fwd_remote_mac_del(f, vni[v], mac);
        else
            fwd_remote_mac_add(f, vni[v], mac, vtep(e, 2 + (int)((r >> 17) & 1)));
        break;
    }
}

/* Batched writes are neither lost nor reordered: after mixed sequences of
 * changes (short turns, long ones past the queue's size), each flush
 * leaves the maps equal to the tables; until the flush, the program sees
 * none of a turn's queued changes. */
static void
test_deferred_mirror(void **st)
{
    (void)st;
    struct env *e = env_new(0);
    SKIP_WITHOUT_BPF(e);
    struct fwd *f = e->f;
    struct nvdp_addr a;
    int macs = map_fd("nf_macs");
    assert_true(macs >= 0);
    fwd_mirror_defer(f, 1);
    nvdp_addr_parse(MAC_X, "", &a);
    assert_int_equal(fwd_local_add(f, 10100, 1, &a), 0);
    uint64_t k = fwd_mac_key((uint16_t)fwd_vni_lookup(f, 10100), MAC_X);
    struct nf_mac m;
    assert_int_equal(bpf_map_lookup_elem(macs, &k, &m), -ENOENT); /* queued */
    fwd_flush(f);
    assert_int_equal(bpf_map_lookup_elem(macs, &k, &m), 0);
    expect_maps_match(f);
    unsigned seed = 14;
    for (int turn = 0; turn < 200; turn++) {
        /* long turns (past the queue's size), as in a resync: 3,000 MACs
         * written once each, removed in the next turn */
        int phase = turn % 50 == 48 ? 1 : turn % 50 == 49 ? 2 : 0;
        int n = phase ? 3000 : 1 + rand_r(&seed) % 40;
        for (int i = 0; i < n; i++) {
            random_change(e, &seed);
            if (phase) {
                uint8_t mac[6] = {2, 0, 1, 0, (uint8_t)(i >> 8), (uint8_t)i};
                nvdp_addr_parse(mac, "", &a);
                assert_int_equal(phase == 1 ? fwd_local_add(f, 10100, 0, &a)
                                            : fwd_local_del(f, 10100, 0, &a), 0);
            }
        }
        fwd_flush(f);
        expect_maps_match(f);
    }
    /* back to a write per change: the queue is written first */
    for (int i = 0; i < 20; i++)
        random_change(e, &seed);
    fwd_mirror_defer(f, 0);
    expect_maps_match(f);
    random_change(e, &seed);
    expect_maps_match(f);
    env_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_df_off),
        cmocka_unit_test(test_underlay),
        cmocka_unit_test(test_evpn),
        cmocka_unit_test(test_mirror_failure),
        cmocka_unit_test(test_no_underlay),
        cmocka_unit_test(test_rewrite_under_traffic),
        cmocka_unit_test(test_rewrite_deferred),
        cmocka_unit_test(test_deferred_mirror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
