/* test_fwd.c - cmocka tests of the forwarder without sockets: golden VXLAN
 * packets (made with Scapy), flow hash and source ports, every drop reason,
 * learning/ageing, tenant isolation, table updates during forwarding, IP
 * entries under local MACs, the MAC walks' occupancy bitmap. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Internals on purpose: the pure packet functions (fwd_encap.h, fwd_pkt.h),
 * the per-packet decisions without sockets (fwd_fast.h) and the tables'
 * state and learning ring (fwd_int.h) are what these tests check. */
#include "fwd_encap.h"
#include "fwd_arp.h"
#include "fwd_fast.h"
#include "fwd_int.h"
#include "fwd_pkt.h"

/* Golden packets: Scapy 2.5, see the generator lines next to each. */
/* Ether(dst=..0b, src=..0a)/IP(10.0.0.1>10.0.0.2, id=1)/UDP(1024>5001)/"splitnve golden!" */
static const char INNER_HEX[] =
    "02000000000b02000000000a08004500002c00010000401166be0a0000010a000002"
    "040013890018a72a73706c69746e766520676f6c64656e21";
/* Ether(02:..02:02 < 02:..02:01)/IP(192.0.2.1>192.0.2.2, id=0, DF, ttl=64)
 * /UDP(50000>4789, chksum=0)/VXLAN(flags=8, vni=10100)/inner */
static const char V4_HEX[] =
    "02000000020202000000020108004500005e000040004011b68bc0000201c0000202"
    "c35012b5004a0000080000000027740002000000000b02000000000a080045000"
    "02c00010000401166be0a0000010a000002040013890018a72a73706c69746e7665"
    "20676f6c64656e21";
/* same over IPv6 2001:db8::1 > 2001:db8::2, hlim 64, UDP checksum by Scapy */
static const char V6_HEX[] =
    "02000000020202000000020186dd60000000004a114020010db80000000000000000"
    "0000000120010db8000000000000000000000002c35012b5004a59cf0800000000"
    "27740002000000000b02000000000a08004500002c00010000401166be0a000001"
    "0a000002040013890018a72a73706c69746e766520676f6c64656e21";
/* odd-length inner (45 bytes, payload "odd"), IPv6, sport 50001, VNI 0xabcdef:
 * UDP header as Scapy computes it */
static const char INNER2_HEX[] =
    "02000000000b02000000000a08004500001f00010000401166cb0a0000010a000002"
    "04001389000b00e86f6464";
static const char V62_UDP_HEX[] = "c35112b5003d3334";

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 0x0b};
static const uint8_t MAC_C[6] = {2, 0, 0, 0, 0, 0x0c};
static const uint8_t MAC_X[6] = {2, 0, 0, 0, 0, 0x77};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t UND_MAC[6] = {2, 0, 0, 0, 2, 1};
static const uint8_t NH_MAC[6] = {2, 0, 0, 0, 2, 2};
static const uint8_t NH3_MAC[6] = {2, 0, 0, 0, 2, 3};

static size_t
unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* ---- pure functions ------------------------------------------------------ */

static struct fwd_params
params(void)
{
    struct fwd_params p;
    memset(&p, 0, sizeof(p));
    p.udp_port = 4789;
    p.sport_min = 49152;
    p.sport_max = 65535;
    p.ttl = 64;
    p.df = 1;
    p.mac_age_s = 300;
    return p;
}

static void
test_golden_v4(void **st)
{
    (void)st;
    struct fwd_params p = params();
    uint8_t inner[128], gold[256], hdr[FWD_HDR_MAX], out[256];
    size_t il = unhex(INNER_HEX, inner), gl = unhex(V4_HEX, gold);
    uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {192, 0, 2, 2};
    unsigned hl = fwd_outer_template(hdr, 4, src, dst, UND_MAC, NH_MAC, &p);
    assert_int_equal(hl, 50);
    struct iovec iv[2] = {{inner, 12}, {inner + 12, il - 12}};
    fwd_outer_finish(hdr, hl, 10100, 50000, iv, 2, il);
    memcpy(out, hdr, hl);
    memcpy(out + hl, inner, il);
    assert_int_equal(hl + il, gl);
    assert_memory_equal(out, gold, gl);
    /* the parser gives back what we built */
    struct fwd_vx vx;
    assert_int_equal(fwd_vx_parse(gold, gl, 4789, &vx), 0);
    assert_int_equal(vx.vni, 10100);
    assert_int_equal(vx.family, 4);
    assert_int_equal(vx.inner_off, 50);
    assert_int_equal(vx.inner_len, il);
    assert_memory_equal(vx.src_ip, src, 4);
    /* a checksum left partial by offload is completed in place: the field
     * holds the pseudo-header sum, the result is Scapy's 0xa72a */
    uint8_t part[128];
    memcpy(part, inner, il);
    uint32_t ps = fwd_csum_add(0, part + 26, 8); /* addresses */
    ps += 17 + 0x18;                             /* proto, UDP length */
    uint16_t pf = fwd_csum_fold(ps);
    part[40] = (uint8_t)(pf >> 8);
    part[41] = (uint8_t)pf;
    fwd_l4_csum_complete(part + 12, il - 12);
    assert_memory_equal(part, inner, il);
    /* a fragment is left alone */
    part[20] = 0x20;
    part[40] = 0x12;
    fwd_l4_csum_complete(part + 12, il - 12);
    assert_int_equal(part[40], 0x12);
    /* DF off is honoured */
    p.df = 0;
    fwd_outer_template(hdr, 4, src, dst, UND_MAC, NH_MAC, &p);
    assert_int_equal(hdr[14 + 6], 0);
}

static void
test_golden_v6(void **st)
{
    (void)st;
    struct fwd_params p = params();
    uint8_t inner[128], gold[256], hdr[FWD_HDR_MAX], out[256];
    size_t il = unhex(INNER_HEX, inner), gl = unhex(V6_HEX, gold);
    uint8_t src[16], dst[16];
    inet_pton(AF_INET6, "2001:db8::1", src);
    inet_pton(AF_INET6, "2001:db8::2", dst);
    unsigned hl = fwd_outer_template(hdr, 6, src, dst, UND_MAC, NH_MAC, &p);
    assert_int_equal(hl, 70);
    struct iovec iv[2] = {{inner, 12}, {inner + 12, il - 12}};
    fwd_outer_finish(hdr, hl, 10100, 50000, iv, 2, il);
    memcpy(out, hdr, hl);
    memcpy(out + hl, inner, il);
    assert_int_equal(hl + il, gl);
    assert_memory_equal(out, gold, gl);
    struct fwd_vx vx;
    assert_int_equal(fwd_vx_parse(gold, gl, 4789, &vx), 0);
    assert_int_equal(vx.family, 6);
    assert_int_equal(vx.inner_off, 70);

    /* odd-length pieces: the checksum must not depend on how the inner
     * frame is split (an in-band tag removed leaves a 12 + N split) */
    il = unhex(INNER2_HEX, inner);
    uint8_t udp[8];
    unhex(V62_UDP_HEX, udp);
    for (size_t cut = 1; cut < il; cut++) {
        struct iovec iv2[2] = {{inner, cut}, {inner + cut, il - cut}};
        fwd_outer_template(hdr, 6, src, dst, UND_MAC, NH_MAC, &p);
        fwd_outer_finish(hdr, hl, 0xabcdef, 50001, iv2, 2, il);
        assert_memory_equal(hdr + 54, udp, 8);
        assert_int_equal(hdr[62 + 4], 0xab);
        assert_int_equal(hdr[62 + 6], 0xef);
    }
}

static size_t
mkframe(uint8_t *b, const uint8_t dst[6], const uint8_t src[6], int tag,
        uint16_t sport, size_t paylen)
{
    size_t o = 0;
    memcpy(b, dst, 6);
    memcpy(b + 6, src, 6);
    o = 12;
    if (tag >= 0) {
        b[o++] = 0x81;
        b[o++] = 0;
        b[o++] = (uint8_t)(tag >> 8);
        b[o++] = (uint8_t)tag;
    }
    b[o++] = 0x08;
    b[o++] = 0x00;
    uint8_t *ip = b + o;
    memset(ip, 0, 28);
    ip[0] = 0x45;
    uint16_t tl = (uint16_t)(28 + paylen);
    ip[2] = (uint8_t)(tl >> 8);
    ip[3] = (uint8_t)tl;
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10, ip[15] = 1;
    ip[16] = 10, ip[19] = 2;
    ip[20] = (uint8_t)(sport >> 8);
    ip[21] = (uint8_t)sport;
    ip[22] = 0x13, ip[23] = 0x89;
    memset(ip + 28, 0x5a, paylen);
    return o + 28 + paylen;
}

static void
test_hash_sport(void **st)
{
    (void)st;
    struct fwd_params p = params();
    uint8_t fr[256];
    int seen[4] = {0};
    uint32_t h0 = 0;
    int distinct = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = mkframe(fr, MAC_B, MAC_A, -1, (uint16_t)(1000 + i), 10);
        uint32_t h = fwd_flow_hash(fr, fr + 14, n - 14);
        assert_int_equal(h, fwd_flow_hash(fr, fr + 14, n - 14)); /* stable */
        uint16_t sp = fwd_sport(&p, h);
        assert_true(sp >= 49152);
        if (i == 0)
            h0 = h;
        else if (h != h0)
            distinct++;
        struct fwd_params q = p;
        q.sport_min = 1000;
        q.sport_max = 1003;
        uint16_t s2 = fwd_sport(&q, h);
        assert_true(s2 >= 1000 && s2 <= 1003);
        seen[s2 - 1000]++;
    }
    assert_true(distinct > 3990); /* the L4 ports are in the hash */
    for (int i = 0; i < 4; i++) /* roughly uniform: 1000 expected each */
        assert_true(seen[i] > 800 && seen[i] < 1200);
    /* a fragment hashes on addresses only: all fragments alike */
    size_t n = mkframe(fr, MAC_B, MAC_A, -1, 1, 10);
    fr[14 + 6] = 0x20; /* MF */
    uint32_t a = fwd_flow_hash(fr, fr + 14, n - 14);
    fr[14 + 20] = 0x77; /* "ports" of a fragment change: same hash */
    assert_int_equal(a, fwd_flow_hash(fr, fr + 14, n - 14));
    /* full range maps the extremes inside */
    assert_int_equal(fwd_sport(&p, 0), 49152);
    assert_int_equal(fwd_sport(&p, 0xffffffffu), 65535);
}

static void
test_vx_parse_errors(void **st)
{
    (void)st;
    uint8_t g[256], b[256];
    size_t gl = unhex(V4_HEX, g);
    struct fwd_vx vx;
    /* every truncation is refused */
    for (size_t l = 0; l < gl; l++)
        assert_int_not_equal(fwd_vx_parse(g, l, 4789, &vx), 0);
    /* Ethernet padding after the IP packet is fine */
    memcpy(b, g, gl);
    memset(b + gl, 0, 10);
    assert_int_equal(fwd_vx_parse(b, gl + 10, 4789, &vx), 0);
    assert_int_equal(vx.inner_len, gl - 50);
#define MUT(off, val, want) do { memcpy(b, g, gl); b[off] = (val); \
        assert_int_equal(fwd_vx_parse(b, gl, 4789, &vx), want); } while (0)
    MUT(42, 0x00, FWD_DROP_VX_MALFORMED);      /* VXLAN I flag clear */
    MUT(37, 0xb6, FWD_DROP_VX_MALFORMED);      /* UDP dst 4790 */
    MUT(23, 6, FWD_DROP_VX_MALFORMED);         /* not UDP */
    MUT(20, 0x20, FWD_DROP_VX_MALFORMED);      /* MF: fragment */
    MUT(24, 0x00, FWD_DROP_VX_MALFORMED);      /* IP header checksum */
    MUT(14, 0x44, FWD_DROP_VX_MALFORMED);      /* IHL 4 */
    MUT(12, 0x86, FWD_DROP_VX_MALFORMED);      /* EtherType 0x8600 */
    MUT(39, 0x4b, FWD_DROP_VX_SHORT);          /* UDP length beyond packet */
    MUT(39, 0x40, FWD_DROP_VX_MALFORMED);      /* UDP length short of IP's */
    /* IPv4 total length beyond the frame */
    memcpy(b, g, gl);
    b[17] = 0x70;
    assert_int_not_equal(fwd_vx_parse(b, gl, 4789, &vx), 0);
    /* custom port */
    assert_int_equal(fwd_vx_parse(g, gl, 8472, &vx), FWD_DROP_VX_MALFORMED);
#undef MUT
}

/* ---- forwarding decisions ------------------------------------------------- */

#define CAP_MAX 512
struct cap {
    unsigned n;
    uint16_t port[CAP_MAX];
    size_t len[CAP_MAX];
    uint8_t buf[CAP_MAX][2048];
};

static void
cap_flush(struct fwd *f, struct fwd_out *o, struct fwd_txq *q)
{
    struct cap *c = o->ctx;
    for (unsigned i = 0; i < q->n; i++) {
        if (c->n == CAP_MAX)
            break;
        size_t off = 0;
        for (int k = 0; k < 3; k++) {
            memcpy(c->buf[c->n] + off, q->s[i].iov[k].iov_base, q->s[i].iov[k].iov_len);
            off += q->s[i].iov[k].iov_len;
        }
        assert_int_equal(off, q->s[i].len);
        c->port[c->n] = q->port;
        c->len[c->n] = off;
        c->n++;
    }
    q->n = 0;
}

struct env {
    struct fwd *f;
    struct fwd_out o;
    struct fwd_txq q[3];
    struct cap c;
};

static struct env *
env_new(void)
{
    struct env *e = calloc(1, sizeof(*e));
    struct fwd_params p = params();
    snprintf(p.local_ip, sizeof(p.local_ip), "192.0.2.1");
    e->f = fwd_new(&p);
    assert_non_null(e->f);
    e->f->underlay_mtu = 1500;
    memcpy(e->f->underlay_mac, UND_MAC, 6);
    fwd_txq_init(&e->q[0], -1, 0);
    fwd_txq_init(&e->q[1], -1, 1);
    fwd_txq_init(&e->q[2], -1, FWD_TXQ_UNDERLAY);
    e->o.port_q[0] = &e->q[0];
    e->o.port_q[1] = &e->q[1];
    e->o.und_q = &e->q[2];
    e->o.flush = cap_flush;
    e->o.ctx = &e->c;
    e->o.now = fwd_now_s();
    /* VN 10100: port 0 tag 100 (A), port 1 tag 200 (B), C behind
     * 192.0.2.2, flood to 192.0.2.2 and 192.0.2.3. Port 2 has no socket. */
    struct fwd *f = e->f;
    struct nvdp_addr a;
    assert_int_equal(fwd_port_add(f, 0, "acc0"), 0);
    assert_int_equal(fwd_port_add(f, 1, "acc1"), 0);
    assert_int_equal(fwd_port_add(f, 2, "acc2"), 0);
    assert_int_equal(fwd_vn_bind(f, 0, 100, 10100), 0);
    assert_int_equal(fwd_vn_bind(f, 1, 200, 10100), 0);
    nvdp_addr_parse(MAC_A, "", &a);
    assert_int_equal(fwd_local_add(f, 10100, 0, &a), 0);
    nvdp_addr_parse(MAC_B, "10.0.0.2", &a);
    assert_int_equal(fwd_local_add(f, 10100, 1, &a), 0);
    assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_C, "192.0.2.2"), 0);
    assert_int_equal(fwd_flood_add(f, 10100, "192.0.2.2"), 0);
    assert_int_equal(fwd_flood_add(f, 10100, "192.0.2.3"), 0);
    for (int r = 0; r < FWD_MAX_REMOTES; r++) {
        if (!f->remotes[r].used)
            continue;
        fwd_remote_set_nexthop(f, (uint16_t)r,
                               f->remotes[r].ip[3] == 2 ? NH_MAC : NH3_MAC);
    }
    return e;
}

static void
env_free(struct env *e)
{
    fwd_free(e->f);
    free(e);
}

static void
acc(struct env *e, uint16_t port, uint8_t *fr, size_t len)
{
    e->c.n = 0;
    fwd_access_rx(e->f, &e->o, port, fr, len, 0, 0);
    fwd_out_flush(e->f, &e->o);
}

static uint64_t
dropped(struct env *e, int r)
{
    return fwd_ctr_get(&e->f->drops[r]);
}

static void
test_access_forwarding(void **st)
{
    (void)st;
    struct env *e = env_new();
    uint8_t fr[2048], want[2048];
    /* A -> B: local, re-tagged with port 1's tag, tag from the data */
    size_t n = mkframe(fr, MAC_B, MAC_A, 100, 7, 20);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], 1);
    size_t wn = mkframe(want, MAC_B, MAC_A, 200, 7, 20);
    assert_int_equal(e->c.len[0], wn);
    assert_memory_equal(e->c.buf[0], want, wn);
    /* the same with the tag in ring metadata (how AF_PACKET delivers it) */
    n = mkframe(fr, MAC_B, MAC_A, -1, 7, 20);
    e->c.n = 0;
    fwd_access_rx(e->f, &e->o, 0, fr, n, FWD_RX_VLAN, 100);
    fwd_out_flush(e->f, &e->o);
    assert_int_equal(e->c.n, 1);
    assert_memory_equal(e->c.buf[0], want, wn);

    /* A -> C: VXLAN to 192.0.2.2, inner without tag, golden-checked */
    n = mkframe(fr, MAC_C, MAC_A, 100, 7, 20);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], FWD_TXQ_UNDERLAY);
    uint8_t *o = e->c.buf[0];
    assert_int_equal(e->c.len[0], 50 + n - 4);
    assert_memory_equal(o, NH_MAC, 6);
    assert_memory_equal(o + 6, UND_MAC, 6);
    assert_int_equal(o[14 + 19], 2); /* 192.0.2.2 */
    assert_int_equal((o[36] << 8) | o[37], 4789);
    assert_true(((o[34] << 8) | o[35]) >= 49152);
    assert_int_equal((o[46] << 16) | (o[47] << 8) | o[48], 10100);
    size_t in = mkframe(want, MAC_C, MAC_A, -1, 7, 20);
    assert_memory_equal(o + 50, want, in);
    struct fwd_vx vx;
    assert_int_equal(fwd_vx_parse(o, e->c.len[0], 4789, &vx), 0);

    /* broadcast: port 1 (tag 200), both flood remotes, never port 0,
     * port 2 not a member */
    n = mkframe(fr, BCAST, MAC_A, 100, 7, 20);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    int ports = 0, und = 0, seen3 = 0;
    for (unsigned i = 0; i < e->c.n; i++) {
        if (e->c.port[i] == 1) {
            ports++;
            assert_int_equal(e->c.buf[i][15], 200);
        } else {
            assert_int_equal(e->c.port[i], FWD_TXQ_UNDERLAY);
            und++;
            seen3 |= e->c.buf[i][14 + 19] == 3;
        }
    }
    assert_int_equal(ports, 1);
    assert_int_equal(und, 2);
    assert_true(seen3);
    /* unknown unicast floods the same way */
    n = mkframe(fr, MAC_X, MAC_A, 100, 7, 20);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    struct json_object *j = fwd_counters_json(e->f);
    assert_non_null(j);
    json_object_put(j);

    /* DF off: the IPv4 ID changes per packet and the header checksum
     * follows it */
    e->f->p.df = 0;
    for (int r = 0; r < FWD_MAX_REMOTES; r++)
        if (e->f->remotes[r].used)
            fwd_remote_set_nexthop(e->f, (uint16_t)r,
                                   e->f->remotes[r].ip[3] == 2 ? NH_MAC : NH3_MAC);
    n = mkframe(fr, MAC_C, MAC_A, 100, 7, 20);
    acc(e, 0, fr, n);
    uint16_t id1 = (uint16_t)(e->c.buf[0][18] << 8 | e->c.buf[0][19]);
    assert_int_equal(e->c.buf[0][20] & 0x40, 0);
    assert_int_equal(fwd_csum_fold(fwd_csum_add(0, e->c.buf[0] + 14, 20)), 0xffff);
    acc(e, 0, fr, n);
    uint16_t id2 = (uint16_t)(e->c.buf[0][18] << 8 | e->c.buf[0][19]);
    assert_int_not_equal(id1, id2);
    assert_int_equal(fwd_csum_fold(fwd_csum_add(0, e->c.buf[0] + 14, 20)), 0xffff);
    env_free(e);
}

static void
test_access_drops(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    uint8_t fr[2048];
    size_t n;
#define EXPECT_DROP(reason, port, frame, len) do { \
        uint64_t b4 = dropped(e, reason); \
        acc(e, port, frame, len); \
        assert_int_equal(e->c.n, 0); \
        assert_int_equal(dropped(e, reason), b4 + 1); \
    } while (0)
    EXPECT_DROP(FWD_DROP_RUNT, 0, fr, 10);
    n = mkframe(fr, MAC_B, MAC_A, -1, 7, 20);
    EXPECT_DROP(FWD_DROP_UNTAGGED, 0, fr, n);
    n = mkframe(fr, MAC_B, MAC_A, 0, 7, 20); /* priority tag */
    EXPECT_DROP(FWD_DROP_UNTAGGED, 0, fr, n);
    n = mkframe(fr, MAC_B, MAC_A, 101, 7, 20);
    EXPECT_DROP(FWD_DROP_UNKNOWN_TAG, 0, fr, n);
    n = mkframe(fr, MAC_B, MAC_A, 200, 7, 20); /* port 1's tag on port 0 */
    EXPECT_DROP(FWD_DROP_UNKNOWN_TAG, 0, fr, n);
    n = mkframe(fr, MAC_B, BCAST, 100, 7, 20);
    EXPECT_DROP(FWD_DROP_BAD_SRC, 0, fr, n);
    n = mkframe(fr, MAC_B, MAC_X, 100, 7, 20); /* spoofed source */
    EXPECT_DROP(FWD_DROP_SRC_NOT_ASSOC, 0, fr, n);
    n = mkframe(fr, MAC_A, MAC_B, 100, 7, 20); /* B exists, but on port 1 */
    EXPECT_DROP(FWD_DROP_SRC_NOT_ASSOC, 0, fr, n);
    n = mkframe(fr, MAC_B, MAC_C, 100, 7, 20); /* remote MAC as source */
    EXPECT_DROP(FWD_DROP_SRC_NOT_ASSOC, 0, fr, n);
    /* VNIC down: neither sends nor receives */
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_A, 0), 0);
    n = mkframe(fr, MAC_B, MAC_A, 100, 7, 20);
    EXPECT_DROP(FWD_DROP_VNIC_DOWN, 0, fr, n);
    n = mkframe(fr, MAC_A, MAC_B, 200, 7, 20);
    EXPECT_DROP(FWD_DROP_VNIC_DOWN, 1, fr, n);
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_A, 1), 0);
    acc(e, 1, fr, n);
    assert_int_equal(e->c.n, 1);
    /* destination behind the ingress port */
    struct nvdp_addr a;
    nvdp_addr_parse(MAC_X, "", &a);
    assert_int_equal(fwd_local_add(f, 10100, 0, &a), 0);
    n = mkframe(fr, MAC_X, MAC_A, 100, 7, 20);
    EXPECT_DROP(FWD_DROP_SAME_PORT, 0, fr, n);
    /* MTU 1500: inner 1464 fits (20+8+8+1464 = 1500), 1465 does not */
    n = mkframe(fr, MAC_C, MAC_A, 100, 7, 1464 - 14 - 28 + 4 - 4);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.len[0], 1514);
    n = mkframe(fr, MAC_C, MAC_A, 100, 7, 1465 - 14 - 28);
    EXPECT_DROP(FWD_DROP_MTU, 0, fr, n);
    /* no next hop for a remote yet */
    assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_X, "192.0.2.9"), -1); /* X is local */
    const uint8_t mac_y[6] = {2, 0, 0, 0, 0, 0x79};
    assert_int_equal(fwd_remote_mac_add(f, 10100, mac_y, "192.0.2.9"), 0);
    n = mkframe(fr, mac_y, MAC_A, 100, 7, 20);
    EXPECT_DROP(FWD_DROP_NO_NEIGH, 0, fr, n);
    /* a port without socket */
    assert_int_equal(fwd_vn_bind(f, 2, 300, 10100), 0);
    nvdp_addr_parse(mac_y, "", &a);
    assert_int_equal(fwd_remote_mac_del(f, 10100, mac_y), 0);
    assert_int_equal(fwd_local_add(f, 10100, 2, &a), 0);
    n = mkframe(fr, mac_y, MAC_A, 100, 7, 20);
    EXPECT_DROP(FWD_DROP_TX_FAIL, 0, fr, n);
    /* per-port and per-VN drop counters moved too */
    assert_true(fwd_ctr_get(&f->ports[0].c.drops) >= 12);
    assert_true(fwd_ctr_get(&f->vns[0].c.drops) >= 5);
    env_free(e);
#undef EXPECT_DROP
}

static size_t
mkvx(struct env *e, uint8_t *out, uint32_t vni, const uint8_t *inner,
     size_t il, uint8_t src_last)
{
    uint8_t hdr[FWD_HDR_MAX];
    uint8_t s[4] = {192, 0, 2, src_last}, d[4] = {192, 0, 2, 1};
    unsigned hl = fwd_outer_template(hdr, 4, s, d, NH_MAC, UND_MAC, &e->f->p);
    struct iovec iv = {(void *)inner, il};
    fwd_outer_finish(hdr, hl, vni, 50000, &iv, 1, il);
    memcpy(out, hdr, hl);
    memcpy(out + hl, inner, il);
    return hl + il;
}

static void
und(struct env *e, uint8_t *p, size_t len)
{
    e->c.n = 0;
    fwd_underlay_rx(e->f, &e->o, p, len, 0);
    fwd_out_flush(e->f, &e->o);
}

static void
test_decap(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    uint8_t in[2048], pk[2048], want[2048];
    const uint8_t mac_r[6] = {2, 0, 0, 0, 0, 0x52};
    e->o.now = 1000; /* the batch clock the forwarding thread would set */
    /* R (behind 192.0.2.3) -> B: to port 1 with tag 200 */
    size_t il = mkframe(in, MAC_B, mac_r, -1, 9, 30);
    size_t n = mkvx(e, pk, 10100, in, il, 3);
    und(e, pk, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], 1);
    size_t wn = mkframe(want, MAC_B, mac_r, 200, 9, 30);
    assert_memory_equal(e->c.buf[0], want, wn);
    /* R was queued for learning; apply, then A -> R is unicast to .3 */
    assert_int_equal(f->learn_head - f->learn_tail, 1);
    assert_int_equal(fwd_learn_apply(f, &f->learn[0], 1000), 0);
    f->learn_tail = 1;
    uint8_t fr[2048];
    n = mkframe(fr, mac_r, MAC_A, 100, 7, 20);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], FWD_TXQ_UNDERLAY);
    assert_int_equal(e->c.buf[0][14 + 19], 3);
    /* known and unchanged: no new learning event */
    n = mkvx(e, pk, 10100, in, il, 3);
    und(e, pk, n);
    assert_int_equal(f->learn_head - f->learn_tail, 0);
    /* moved to .2: a new event */
    n = mkvx(e, pk, 10100, in, il, 2);
    und(e, pk, n);
    assert_int_equal(f->learn_head - f->learn_tail, 1);
    f->learn_tail = f->learn_head;
    /* ageing removes it (age 300 s), static C stays */
    assert_int_equal(fwd_age(f, 1000 + 299), 0);
    assert_int_equal(fwd_age(f, 1000 + 300), 1);
    assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, mac_r, NULL)), 0);
    assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, MAC_C, NULL)), FWD_MAC_REMOTE);
    /* a learned source never overrides a local MAC */
    il = mkframe(in, MAC_B, MAC_A, -1, 9, 30);
    n = mkvx(e, pk, 10100, in, il, 3);
    und(e, pk, n);
    assert_int_equal(f->learn_head - f->learn_tail, 0);
    /* broadcast: every local member, never the underlay */
    il = mkframe(in, BCAST, mac_r, -1, 9, 30);
    n = mkvx(e, pk, 10100, in, il, 3);
    und(e, pk, n);
    assert_int_equal(e->c.n, 2);
    for (unsigned i = 0; i < 2; i++)
        assert_true(e->c.port[i] == 0 || e->c.port[i] == 1);
    f->learn_tail = f->learn_head;

    /* drops */
#define EXPECT_UDROP(reason, p, l) do { \
        uint64_t b4 = dropped(e, reason); \
        und(e, p, l); \
        assert_int_equal(e->c.n, 0); \
        assert_int_equal(dropped(e, reason), b4 + 1); \
    } while (0)
    il = mkframe(in, MAC_B, mac_r, -1, 9, 30);
    n = mkvx(e, pk, 999, in, il, 3);
    EXPECT_UDROP(FWD_DROP_UNKNOWN_VNI, pk, n);
    n = mkvx(e, pk, 10100, in, il, 3);
    EXPECT_UDROP(FWD_DROP_VX_SHORT, pk, 60);
    pk[42] = 0; /* flags */
    EXPECT_UDROP(FWD_DROP_VX_MALFORMED, pk, n);
    /* not our address */
    n = mkvx(e, pk, 10100, in, il, 3);
    pk[14 + 19] = 7;
    pk[24] = pk[25] = 0;
    uint16_t c = (uint16_t)~fwd_csum_fold(fwd_csum_add(0, pk + 14, 20));
    pk[24] = (uint8_t)(c >> 8);
    pk[25] = (uint8_t)c;
    EXPECT_UDROP(FWD_DROP_VX_MALFORMED, pk, n);
    /* inner frame with a VLAN tag (RFC 7348 6.1) */
    il = mkframe(in, MAC_B, mac_r, 5, 9, 30);
    n = mkvx(e, pk, 10100, in, il, 3);
    EXPECT_UDROP(FWD_DROP_VX_MALFORMED, pk, n);
    /* to a remote MAC: split horizon */
    il = mkframe(in, MAC_C, mac_r, -1, 9, 30);
    n = mkvx(e, pk, 10100, in, il, 3);
    EXPECT_UDROP(FWD_DROP_VX_TO_REMOTE, pk, n);
    f->learn_tail = f->learn_head;
    /* to a VNIC that is down */
    fwd_local_set_active(f, 10100, MAC_B, 0);
    il = mkframe(in, MAC_B, mac_r, -1, 9, 30);
    n = mkvx(e, pk, 10100, in, il, 3);
    EXPECT_UDROP(FWD_DROP_VNIC_DOWN, pk, n);
    /* a VN with no local member (only a flood list) */
    fwd_flood_add(f, 20200, "192.0.2.2");
    il = mkframe(in, BCAST, mac_r, -1, 9, 30);
    n = mkvx(e, pk, 20200, in, il, 3);
    EXPECT_UDROP(FWD_DROP_UNKNOWN_VNI, pk, n);
    assert_true(fwd_ctr_get(&f->und_rx_pkts) >= 10);
#undef EXPECT_UDROP

    /* the learning ring is bounded: a flood of new source MACs is counted
     * as overflow, never blocks or grows the forwarding thread */
    fwd_local_set_active(f, 10100, MAC_B, 1);
    f->learn_tail = f->learn_head;
    for (unsigned i = 0; i < FWD_LEARN_RING + 5; i++) {
        uint8_t src[6] = {2, 0x44, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
        il = mkframe(in, MAC_B, src, -1, 9, 30);
        n = mkvx(e, pk, 10100, in, il, 3);
        und(e, pk, n);
        assert_int_equal(e->c.n, 1); /* delivered all the same */
    }
    assert_int_equal(f->learn_head - f->learn_tail, FWD_LEARN_RING);
    assert_int_equal(fwd_ctr_get(&f->learn_overflow), 5);
    /* applied, they show in the tables as learned behind 192.0.2.3 */
    for (uint32_t t = f->learn_tail; t != f->learn_head; t++)
        assert_int_equal(fwd_learn_apply(f, &f->learn[t & (FWD_LEARN_RING - 1)], 1000), 0);
    f->learn_tail = f->learn_head;
    struct json_object *j = fwd_dump_json(f), *vns, *vn0, *macs, *rems;
    assert_true(json_object_object_get_ex(j, "vns", &vns));
    vn0 = json_object_array_get_idx(vns, 0);
    assert_true(json_object_object_get_ex(vn0, "macs", &macs));
    int learned = 0;
    for (size_t i = 0; i < json_object_array_length(macs); i++) {
        struct json_object *m = json_object_array_get_idx(macs, i), *t, *r;
        json_object_object_get_ex(m, "type", &t);
        if (strcmp(json_object_get_string(t), "learned") == 0) {
            learned++;
            assert_true(json_object_object_get_ex(m, "remote", &r));
            assert_string_equal(json_object_get_string(r), "192.0.2.3");
        }
    }
    assert_int_equal(learned, FWD_LEARN_RING);
    assert_true(json_object_object_get_ex(j, "remotes", &rems));
    const char *js = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(js, "\"nexthop_mac\":\"02:00:00:00:02:03\""));
    json_object_put(j);
    j = fwd_counters_json(f);
    js = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(js, "\"ring_overflow\":5"));
    assert_non_null(strstr(js, "\"vxlan-to-remote\":1"));
    json_object_put(j);
    env_free(e);
}

/* A checksum the sending VTEP left partial is the inner frame's or only
 * the outer UDP one (the kernel's vxlan over IPv4 offloads that one and
 * sends the inner complete): only an inner partial one is completed, a
 * complete one is never touched. */
static void
test_decap_partial_csum(void **st)
{
    (void)st;
    struct env *e = env_new();
    uint8_t inner[128], part[128], pk[256], want[256];
    size_t il = unhex(INNER_HEX, inner); /* B <- A, UDP checksum 0xa72a */
    size_t wn = 0;
    memcpy(want, inner, 12);
    want[12] = 0x81, want[13] = 0, want[14] = 0, want[15] = 200;
    memcpy(want + 16, inner + 12, il - 12);
    wn = il + 4;
    /* the outer checksum partial: the field holds the outer pseudo-header
     * sum; the inner one complete */
    size_t n = mkvx(e, pk, 10100, inner, il, 3);
    uint32_t ps = fwd_csum_add(0, pk + 26, 8) + 17 + fwd_rd16(pk + 38);
    fwd_wr16(pk + 40, fwd_csum_fold(ps));
    struct fwd_vx vx;
    assert_int_equal(fwd_vx_parse(pk, n, 4789, &vx), 0);
    assert_true(fwd_vx_outer_partial(pk, &vx));
    e->c.n = 0;
    fwd_underlay_rx(e->f, &e->o, pk, n, FWD_RX_CSUM);
    fwd_out_flush(e->f, &e->o);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.len[0], wn);
    assert_memory_equal(e->c.buf[0], want, wn);
    /* the inner one partial (outer checksum 0): completed */
    memcpy(part, inner, il);
    ps = fwd_csum_add(0, part + 26, 8) + 17 + fwd_rd16(part + 38);
    fwd_wr16(part + 40, fwd_csum_fold(ps));
    n = mkvx(e, pk, 10100, part, il, 3);
    assert_int_equal(fwd_vx_parse(pk, n, 4789, &vx), 0);
    assert_false(fwd_vx_outer_partial(pk, &vx));
    e->c.n = 0;
    fwd_underlay_rx(e->f, &e->o, pk, n, FWD_RX_CSUM);
    fwd_out_flush(e->f, &e->o);
    assert_int_equal(e->c.n, 1);
    assert_memory_equal(e->c.buf[0], want, wn);
    env_free(e);
}

/* Two VNs using the same MACs on the same ports with different tags:
 * nothing of one ever leaves with the other's tag or VNI. */
static void
test_isolation(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    struct nvdp_addr a;
    assert_int_equal(fwd_vn_bind(f, 0, 101, 20200), 0);
    assert_int_equal(fwd_vn_bind(f, 1, 201, 20200), 0);
    assert_int_equal(fwd_vn_bind(f, 0, 100, 20200), -1); /* tag taken */
    nvdp_addr_parse(MAC_A, "", &a);
    assert_int_equal(fwd_local_add(f, 20200, 0, &a), 0);
    nvdp_addr_parse(MAC_B, "", &a);
    assert_int_equal(fwd_local_add(f, 20200, 1, &a), 0);
    assert_int_equal(fwd_flood_add(f, 20200, "192.0.2.3"), 0);
    uint8_t fr[2048], pk[2048];
    const uint8_t *dsts[] = {MAC_B, BCAST, MAC_X, MAC_C};
    for (unsigned d = 0; d < 4; d++) {
        size_t n = mkframe(fr, dsts[d], MAC_A, 101, 7, 20);
        acc(e, 0, fr, n);
        assert_true(e->c.n >= 1);
        for (unsigned i = 0; i < e->c.n; i++) {
            if (e->c.port[i] == FWD_TXQ_UNDERLAY) {
                uint8_t *o = e->c.buf[i];
                assert_int_equal((o[46] << 16) | (o[47] << 8) | o[48], 20200);
                assert_int_equal(o[14 + 19], 3); /* VN 20200's only VTEP */
            } else {
                assert_int_equal(e->c.port[i], 1);
                assert_int_equal(e->c.buf[i][15], 201);
            }
        }
    }
    /* decap of VNI 20200 only reaches tag 201 / 101 */
    size_t il = mkframe(fr, BCAST, MAC_C, -1, 9, 30);
    size_t n = mkvx(e, pk, 20200, fr, il, 3);
    und(e, pk, n);
    assert_int_equal(e->c.n, 2);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(e->c.buf[i][15], e->c.port[i] == 0 ? 101 : 201);
    /* unbinding VN 20200 on port 1 stops delivery there at once */
    assert_int_equal(fwd_vn_unbind(f, 1, 201), 0);
    und(e, pk, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], 0);
    env_free(e);
}

static void
test_api_errors(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    struct nvdp_addr a;
    nvdp_addr_parse(MAC_A, "", &a);
    assert_int_equal(fwd_port_add(f, FWD_MAX_PORTS, "x"), -1);
    assert_int_equal(fwd_port_add(f, 3, "a-very-long-interface-name"), -1);
    assert_int_equal(fwd_port_del(f, 9), -1);
    assert_int_equal(fwd_vn_bind(f, 0, 0, 1), -1);
    assert_int_equal(fwd_vn_bind(f, 0, 4095, 1), -1);
    assert_int_equal(fwd_vn_bind(f, 0, 5, 0x1000000), -1);
    assert_int_equal(fwd_vn_bind(f, 0, 100, 10100), 0); /* idempotent */
    assert_int_equal(fwd_vn_bind(f, 0, 101, 10100), -1); /* 2nd tag same VN */
    assert_int_equal(fwd_vn_unbind(f, 0, 999), -1);
    assert_int_equal(fwd_local_add(f, 10100, 0, &a), 0);
    memcpy(a.mac, BCAST, 6); /* group MAC: never a local address */
    assert_int_equal(fwd_local_add(f, 10100, 0, &a), -1);
    memcpy(a.mac, MAC_A, 6);
    assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_A, "192.0.2.2"), -1);
    assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_X, "not-an-ip"), -1);
    assert_int_equal(fwd_flood_add(f, 10100, "300.1.1.1"), -1);
    assert_int_equal(fwd_flood_add(f, 10100, "192.0.2.2"), 0); /* idempotent */
    assert_int_equal(fwd_flood_del(f, 10100, "192.0.2.99"), -1);
    assert_int_equal(fwd_flood_del(f, 10100, "192.0.2.3"), 0);
    assert_int_equal(fwd_local_set_active(f, 10100, MAC_X, 0), -1);
    /* migration: A moves to port 1; deleting the old location is a no-op */
    nvdp_addr_parse(MAC_A, "", &a);
    assert_int_equal(fwd_local_add(f, 10100, 1, &a), 0);
    assert_int_equal(fwd_local_del(f, 10100, 0, &a), -1);
    assert_int_equal(FWD_MV_PORT(fwd_mac_lookup(f, 0, MAC_A, NULL)), 1);
    assert_int_equal(fwd_local_del(f, 10100, 1, &a), 0);
    assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, MAC_A, NULL)), 0);
    /* a remote with no more reference is released */
    assert_int_equal(fwd_remote_mac_del(f, 10100, MAC_C), 0);
    assert_int_equal(fwd_flood_del(f, 10100, "192.0.2.2"), 0);
    int used = 0;
    for (int r = 0; r < FWD_MAX_REMOTES; r++)
        used += f->remotes[r].used;
    assert_int_equal(used, 0);
    /* port removal takes its bindings and MACs */
    assert_int_equal(fwd_port_del(f, 1), 0);
    assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, MAC_B, NULL)), 0);
    assert_int_equal(f->ports[1].tag2vn[200], 0);
    struct json_object *j = fwd_dump_json(f);
    const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(s, "\"max_inner_frame\":1464"));
    assert_non_null(strstr(s, "acc0"));
    json_object_put(j);
    /* many MACs in and out: tombstones are reclaimed, lookups still work */
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < 40000; i++) {
            uint8_t m[6] = {2, 1, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 0};
            nvdp_addr_parse(m, "", &a);
            assert_int_equal(fwd_local_add(f, 10100, 0, &a), 0);
        }
        for (uint32_t i = 0; i < 40000; i++) {
            uint8_t m[6] = {2, 1, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 0};
            nvdp_addr_parse(m, "", &a);
            assert_int_equal(fwd_local_del(f, 10100, 0, &a), 0);
        }
    }
    /* learning never creates a remote: a VTEP outside the configuration
     * (flood list, static entries) teaches nothing and takes no slot */
    struct fwd_learn_ev stranger = {.vn = 0, .family = 4, .ip = {192, 0, 2, 77},
                                    .mac = {2, 9, 9, 9, 9, 9}};
    uint64_t refused0 = f->learn_refused;
    assert_int_equal(fwd_learn_apply(f, &stranger, 1000), -1);
    assert_int_equal(f->learn_refused, refused0 + 1);
    for (int i = 0; i < FWD_MAX_REMOTES; i++)
        assert_false(f->remotes[i].used && f->remotes[i].ip[3] == 77);
    f->learn_refused = refused0;
    /* learning is capped: the wire cannot take the room of local MACs
     * (from a configured VTEP: 192.0.2.3 is in the flood list again) */
    assert_int_equal(fwd_flood_add(f, 10100, "192.0.2.3"), 0);
    struct fwd_learn_ev ev = {.vn = 0, .family = 4, .ip = {192, 0, 2, 3}};
    for (uint32_t i = 0; i < FWD_LEARN_MAX + 10; i++) {
        uint8_t m[6] = {2, 7, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        memcpy(ev.mac, m, 6);
        fwd_learn_apply(f, &ev, 1000);
    }
    assert_int_equal(f->nlearned, FWD_LEARN_MAX);
    assert_int_equal(f->learn_refused, 10);
    nvdp_addr_parse(MAC_X, "", &a);
    assert_int_equal(fwd_local_add(f, 10100, 0, &a), 0); /* still room */
    assert_int_equal(fwd_age(f, 1000 + 300), FWD_LEARN_MAX);
    assert_int_equal(f->nlearned, 0);
    assert_int_equal(fwd_local_del(f, 10100, 0, &a), 0);
    uint32_t tomb = 0;
    for (uint32_t h = 0; h < FWD_MAC_CAP; h++)
        tomb += f->macs[h].key == FWD_MK_TOMB;
    assert_int_equal(tomb, 0);
    env_free(e);
}

/* ---- concurrency: a control thread rewrites the tables while a reader
 * forwards; every frame that comes out must be well-formed and belong to
 * a state the table had. --------------------------------------------------- */

struct race {
    struct env *e;
    int stop;
    unsigned long updates;
};

static void *
race_writer(void *arg)
{
    struct race *r = arg;
    struct fwd *f = r->e->f;
    struct nvdp_addr a;
    unsigned i = 0;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        const char *ip = (i & 1) ? "192.0.2.3" : "192.0.2.2";
        fwd_remote_mac_del(f, 10100, MAC_C);
        fwd_remote_mac_add(f, 10100, MAC_C, ip);
        fwd_flood_del(f, 10100, "192.0.2.3");
        fwd_flood_add(f, 10100, "192.0.2.3");
        uint8_t m[6] = {2, 9, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
        nvdp_addr_parse(m, "", &a);
        fwd_local_add(f, 10100, 1, &a);
        if (i > 50) {
            m[5] = (uint8_t)(i - 50);
            m[4] = (uint8_t)((i - 50) >> 8);
            fwd_local_del(f, 10100, 1, &a);
        }
        for (int k = 0; k < FWD_MAX_REMOTES; k++)
            if (f->remotes[k].used && !f->remotes[k].resolved) {
                pthread_mutex_lock(&f->wlock);
                fwd_remote_set_nexthop(f, (uint16_t)k,
                    f->remotes[k].ip[3] == 2 ? NH_MAC : NH3_MAC);
                pthread_mutex_unlock(&f->wlock);
            }
        i++;
        r->updates++;
    }
    return NULL;
}

static void
test_updates_during_forwarding(void **st)
{
    (void)st;
    struct race r = {.e = env_new()};
    struct env *e = r.e;
    struct fwd *f = e->f;
    __atomic_store_n(&f->online, 1, __ATOMIC_RELEASE);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, race_writer, &r), 0);
    uint8_t fr[256];
    size_t n = mkframe(fr, MAC_C, MAC_A, 100, 7, 20);
    size_t nb = mkframe(fr + 128, BCAST, MAC_A, 100, 7, 20);
    unsigned long out = 0, frames = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int k = 0; k < 200; k++) {
            int bc = k & 1;
            acc(e, 0, bc ? fr + 128 : fr, bc ? nb : n);
            frames++;
            for (unsigned i = 0; i < e->c.n; i++) {
                uint8_t *o = e->c.buf[i];
                out++;
                if (e->c.port[i] == 1) {
                    assert_int_equal(o[15], 200);
                    continue;
                }
                assert_int_equal(e->c.port[i], FWD_TXQ_UNDERLAY);
                struct fwd_vx vx;
                assert_int_equal(fwd_vx_parse(o, e->c.len[i], 4789, &vx), 0);
                assert_int_equal(vx.vni, 10100);
                /* header and next hop always of the same remote */
                assert_true(o[14 + 19] == 2 || o[14 + 19] == 3);
                assert_memory_equal(o, o[14 + 19] == 2 ? NH_MAC : NH3_MAC, 6);
            }
            fwd_qs_tick(f);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 700);
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    assert_true(r.updates > 100);
    assert_true(out > frames / 2);
    env_free(e);
}

/* Hostile input: golden frames mutated at random bytes and cut at random
 * lengths, plus pure noise, on both paths. Nothing may crash (the test runs
 * under ASan/UBSan), and whatever leaves must be well-formed. */
static uint32_t
rnd(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}
#define RND() rnd(&seed)

static void
test_mutated_frames(void **st)
{
    (void)st;
    struct env *e = env_new();
    uint8_t base_acc[256], base_vx[512], fr[600];
    size_t na = mkframe(base_acc, MAC_C, MAC_A, 100, 7, 40);
    uint8_t in[256];
    size_t il = mkframe(in, MAC_B, MAC_C, -1, 9, 40);
    size_t nv = mkvx(e, base_vx, 10100, in, il, 2);
    uint32_t seed = 12345;
    unsigned out = 0;
    for (int i = 0; i < 200000; i++) {
        int vx = i & 1;
        size_t n = vx ? nv : na;
        memcpy(fr, vx ? base_vx : base_acc, n);
        int muts = (int)(RND() % 4);
        for (int k = 0; k < muts; k++) {
            size_t at = RND() % n;
            fr[at] = (uint8_t)RND();
        }
        if (RND() % 4 == 0)
            n = RND() % (n + 1);
        if (i % 1000 == 999) {
            n = RND() % sizeof(fr);
            for (size_t k = 0; k < n; k++)
                fr[k] = (uint8_t)RND();
        }
        e->c.n = 0;
        if (vx)
            fwd_underlay_rx(e->f, &e->o, fr, n, RND() % 2 ? FWD_RX_CSUM : 0);
        else {
            uint16_t port = (uint16_t)(RND() % 3);
            unsigned fl = RND() % 2 ? FWD_RX_VLAN | FWD_RX_CSUM : 0;
            uint16_t tci = (uint16_t)(RND() % 2 ? 100 : RND());
            fwd_access_rx(e->f, &e->o, port, fr, n, fl, tci);
        }
        fwd_out_flush(e->f, &e->o);
        for (unsigned k = 0; k < e->c.n; k++) {
            out++;
            if (e->c.port[k] == FWD_TXQ_UNDERLAY) {
                struct fwd_vx p;
                assert_int_equal(fwd_vx_parse(e->c.buf[k], e->c.len[k], 4789, &p), 0);
                assert_int_equal(p.vni, 10100);
            } else {
                /* re-tagged with the destination port's tag for VN 10100 */
                assert_int_equal(e->c.buf[k][12], 0x81);
                uint16_t tag = (uint16_t)(e->c.buf[k][14] << 8 | e->c.buf[k][15]);
                assert_true(tag == (e->c.port[k] == 0 ? 100 : 200));
            }
        }
        if (i % 4096 == 0) { /* keep learning from filling the ring */

            for (uint32_t t = e->f->learn_tail; t != e->f->learn_head; t++)
                fwd_learn_apply(e->f, &e->f->learn[t & (FWD_LEARN_RING - 1)], 1000);
            e->f->learn_tail = e->f->learn_head;
        }
    }
    assert_true(out > 1000);
    env_free(e);
}

/* ---- IP entries under local MACs: a model of what fwd_dump_json must
 * show after adds, duplicate adds, IP and MAC removals, migrations and
 * port removal. ------------------------------------------------------------ */

#define IPM_MACS 5000 /* x 4 IPs = 20,000 entries */
#define IPM_MAX 8

struct ipm_mac {
    uint32_t vni;
    uint16_t port;
    int present;
    int n;
    char ips[IPM_MAX][64];
};

static void
ipm_mac(uint32_t i, uint8_t m[6])
{
    m[0] = 2;
    m[1] = 0xaa;
    m[2] = (uint8_t)(i >> 16);
    m[3] = (uint8_t)(i >> 8);
    m[4] = (uint8_t)i;
    m[5] = 1;
}

/* IP j of MAC i, written as nvdp_addr_fmt_ip writes it. */
static void
ipm_ip(uint32_t i, int j, char *buf, size_t len)
{
    switch (j) {
    case 0:
        snprintf(buf, len, "10.%u.%u.1", i >> 8, i & 255);
        break;
    case 1:
        snprintf(buf, len, "2001:db8::%x:1", i + 1);
        break;
    case 2:
        if (i & 1)
            snprintf(buf, len, "2001:db8:%x::/48", i + 1);
        else
            snprintf(buf, len, "172.%u.%u.0/24", i >> 8, i & 255);
        break;
    case 3:
        if (i & 1)
            snprintf(buf, len, "2001:db8:1::%x:0-2001:db8:1::%x:ffff", i + 1, i + 1);
        else
            snprintf(buf, len, "100.%u.%u.1-100.%u.%u.9", i >> 8, i & 255,
                     i >> 8, i & 255);
        break;
    default:
        snprintf(buf, len, "10.%u.%u.%d", i >> 8, i & 255, j);
        break;
    }
}

static int
ipm_find(const struct ipm_mac *m, const char *ip)
{
    for (int k = 0; k < m->n; k++)
        if (strcmp(m->ips[k], ip) == 0)
            return k;
    return -1;
}

/* fwd_local_add of IP j of MAC i at port; the model follows. */
static void
ipm_add(struct fwd *f, struct ipm_mac *mm, uint32_t i, uint16_t port, int j)
{
    struct ipm_mac *m = &mm[i];
    struct nvdp_addr a;
    uint8_t mac[6];
    char ip[64];
    ipm_mac(i, mac);
    if (j < 0)
        ip[0] = '\0';
    else
        ipm_ip(i, j, ip, sizeof(ip));
    assert_int_equal(nvdp_addr_parse(mac, ip, &a), 0);
    assert_int_equal(fwd_local_add(f, m->vni, port, &a), 0);
    if (m->present && m->port != port)
        m->n = 0; /* migration: the old location's IPs go */
    m->present = 1;
    m->port = port;
    if (j >= 0 && ipm_find(m, ip) < 0) {
        assert_true(m->n < IPM_MAX);
        snprintf(m->ips[m->n++], sizeof(m->ips[0]), "%s", ip);
    }
}

static void
ipm_del_ip(struct fwd *f, struct ipm_mac *mm, uint32_t i, int j)
{
    struct ipm_mac *m = &mm[i];
    struct nvdp_addr a;
    uint8_t mac[6];
    char ip[64];
    ipm_mac(i, mac);
    ipm_ip(i, j, ip, sizeof(ip));
    assert_int_equal(nvdp_addr_parse(mac, ip, &a), 0);
    assert_int_equal(fwd_local_del(f, m->vni, m->port, &a), 0);
    int k = ipm_find(m, ip);
    if (k >= 0) {
        memmove(m->ips[k], m->ips[k + 1], (size_t)(m->n - k - 1) * sizeof(m->ips[0]));
        m->n--;
    }
}

static void
ipm_del_mac(struct fwd *f, struct ipm_mac *mm, uint32_t i)
{
    struct nvdp_addr a;
    uint8_t mac[6];
    ipm_mac(i, mac);
    nvdp_addr_parse(mac, "", &a);
    assert_int_equal(fwd_local_del(f, mm[i].vni, mm[i].port, &a), 0);
    mm[i].present = 0;
    mm[i].n = 0;
}

/* The dump shows exactly the model: every local MAC with its VN, port and
 * IPs in the order they were added; the index holds one value per entry
 * and one per MAC with entries. */
static void
ipm_check(struct fwd *f, const struct ipm_mac *mm, uint32_t nmacs)
{
    size_t want_macs = 0, want_ips = 0, lists = 0, seen_macs = 0, seen_ips = 0;
    for (uint32_t i = 0; i < nmacs; i++) {
        want_macs += mm[i].present;
        want_ips += (size_t)mm[i].n;
        lists += mm[i].n > 0;
    }
    assert_int_equal(f->nips, want_ips);
    assert_int_equal(f->ipidx_n, want_ips + lists);
    struct json_object *j = fwd_dump_json(f), *vns;
    assert_true(json_object_object_get_ex(j, "vns", &vns));
    for (size_t v = 0; v < json_object_array_length(vns); v++) {
        struct json_object *vo = json_object_array_get_idx(vns, v), *x, *macs;
        assert_true(json_object_object_get_ex(vo, "vni", &x));
        uint32_t vni = (uint32_t)json_object_get_int64(x);
        assert_true(json_object_object_get_ex(vo, "macs", &macs));
        for (size_t k = 0; k < json_object_array_length(macs); k++) {
            struct json_object *mo = json_object_array_get_idx(macs, k), *ips;
            unsigned b[6];
            assert_true(json_object_object_get_ex(mo, "type", &x));
            assert_string_equal(json_object_get_string(x), "local");
            assert_true(json_object_object_get_ex(mo, "mac", &x));
            assert_int_equal(sscanf(json_object_get_string(x), "%x:%x:%x:%x:%x:%x",
                                    &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]), 6);
            uint32_t i = b[2] << 16 | b[3] << 8 | b[4];
            assert_true(i < nmacs);
            const struct ipm_mac *m = &mm[i];
            assert_true(m->present);
            assert_int_equal(vni, m->vni);
            assert_true(json_object_object_get_ex(mo, "port", &x));
            assert_int_equal(json_object_get_int(x), m->port);
            assert_true(json_object_object_get_ex(mo, "ips", &ips));
            assert_int_equal(json_object_array_length(ips), m->n);
            for (int n = 0; n < m->n; n++)
                assert_string_equal(json_object_get_string(
                    json_object_array_get_idx(ips, (size_t)n)), m->ips[n]);
            seen_macs++;
            seen_ips += (size_t)m->n;
        }
    }
    json_object_put(j);
    assert_int_equal(seen_macs, want_macs);
    assert_int_equal(seen_ips, want_ips);
}

static struct fwd *
ipm_fwd(void)
{
    struct fwd_params p = params();
    struct fwd *f = fwd_new(&p);
    assert_non_null(f);
    assert_int_equal(fwd_port_add(f, 0, "acc0"), 0);
    assert_int_equal(fwd_port_add(f, 1, "acc1"), 0);
    assert_int_equal(fwd_port_add(f, 2, "acc2"), 0);
    return f;
}

static void
test_ip_entries(void **st)
{
    (void)st;
    struct fwd *f = ipm_fwd();
    struct ipm_mac *mm = calloc(IPM_MACS, sizeof(*mm));
    assert_non_null(mm);
    for (uint32_t i = 0; i < IPM_MACS; i++)
        mm[i].vni = 1000 + i % 4;
    /* 20,000 IPs over 5000 MACs, 4 VNs, 3 ports; half the MACs come with
     * their first IP (no MAC-only entry before) */
    for (uint32_t i = 0; i < IPM_MACS; i++) {
        if (i % 2 == 0)
            ipm_add(f, mm, i, (uint16_t)(i % 3), -1);
        for (int j = 0; j < 4; j++)
            ipm_add(f, mm, i, (uint16_t)(i % 3), j);
    }
    assert_int_equal(f->nips, 20000);
    ipm_check(f, mm, IPM_MACS);

    /* duplicate adds are no-ops, also with bytes beyond an IPv4 address
     * or a range's bound that the address does not use */
    for (uint32_t i = 0; i < IPM_MACS; i++) {
        ipm_add(f, mm, i, mm[i].port, -1);
        for (int j = 3; j >= 0; j--)
            ipm_add(f, mm, i, mm[i].port, j);
    }
    struct nvdp_addr a;
    uint8_t mac[6];
    char ip[64];
    ipm_mac(2, mac);
    ipm_ip(2, 0, ip, sizeof(ip));
    assert_int_equal(nvdp_addr_parse(mac, ip, &a), 0);
    memset(a.ip + 4, 0x55, 12);
    memset(a.ip_hi, 0x66, 16);
    a.plen = 7; /* not a prefix: ignored */
    assert_int_equal(fwd_local_add(f, mm[2].vni, mm[2].port, &a), 0);
    ipm_ip(2, 3, ip, sizeof(ip));
    assert_int_equal(nvdp_addr_parse(mac, ip, &a), 0);
    memset(a.ip + 4, 0x55, 12);
    memset(a.ip_hi + 4, 0x66, 12);
    assert_int_equal(fwd_local_add(f, mm[2].vni, mm[2].port, &a), 0);
    assert_int_equal(f->nips, 20000);
    ipm_check(f, mm, IPM_MACS);

    /* not IP addresses fwd can hold */
    ipm_ip(2, 0, ip, sizeof(ip));
    assert_int_equal(nvdp_addr_parse(mac, ip, &a), 0);
    a.family = 5;
    assert_int_equal(fwd_local_add(f, mm[2].vni, mm[2].port, &a), -1);
    a.family = 4;
    a.kind = NVDP_ADDR_PREFIX;
    a.plen = 33;
    assert_int_equal(fwd_local_add(f, mm[2].vni, mm[2].port, &a), -1);
    a.kind = 9;
    assert_int_equal(fwd_local_add(f, mm[2].vni, mm[2].port, &a), -1);

    /* single IPs out: from the middle, the head and the tail of a MAC's
     * list; an absent IP, or one at another port, is a successful no-op */
    for (uint32_t i = 0; i < IPM_MACS; i++) {
        if (i % 5 == 0)
            ipm_del_ip(f, mm, i, 1);
        if (i % 10 == 1)
            ipm_del_ip(f, mm, i, 0);
        if (i % 10 == 3)
            ipm_del_ip(f, mm, i, 3);
        if (i % 10 == 7)
            ipm_del_ip(f, mm, i, 5); /* never added */
    }
    ipm_mac(4, mac);
    ipm_ip(4, 0, ip, sizeof(ip));
    assert_int_equal(nvdp_addr_parse(mac, ip, &a), 0);
    assert_int_equal(fwd_local_del(f, mm[4].vni, (uint16_t)((mm[4].port + 1) % 3), &a), 0);
    assert_int_equal(fwd_local_del(f, 4242, mm[4].port, &a), -1); /* no such VN */
    ipm_check(f, mm, IPM_MACS);

    /* a MAC's removal takes exactly its IPs; not at another port */
    ipm_mac(7, mac);
    nvdp_addr_parse(mac, "", &a);
    assert_int_equal(fwd_local_del(f, mm[7].vni, (uint16_t)((mm[7].port + 1) % 3), &a), -1);
    for (uint32_t i = 0; i < IPM_MACS; i += 7)
        ipm_del_mac(f, mm, i);
    ipm_check(f, mm, IPM_MACS);

    /* migration: the MAC's IPs at the old port go, the new one stays */
    for (uint32_t i = 1; i < IPM_MACS; i += 11)
        if (mm[i].present)
            ipm_add(f, mm, i, (uint16_t)((mm[i].port + 1) % 3), 4);
    ipm_check(f, mm, IPM_MACS);

    /* port removal takes exactly the entries behind it */
    assert_int_equal(fwd_port_del(f, 2), 0);
    for (uint32_t i = 0; i < IPM_MACS; i++)
        if (mm[i].port == 2) {
            mm[i].present = 0;
            mm[i].n = 0;
        }
    ipm_check(f, mm, IPM_MACS);

    /* freed entries are reused */
    for (uint32_t i = 0; i < IPM_MACS; i += 7)
        for (int j = 0; j < 4; j++)
            ipm_add(f, mm, i, 0, j);
    ipm_check(f, mm, IPM_MACS);

    /* all out: the IP tables give their memory back */
    for (uint32_t i = 0; i < IPM_MACS; i++)
        if (mm[i].present)
            ipm_del_mac(f, mm, i);
    ipm_check(f, mm, IPM_MACS);
    assert_int_equal(f->nips, 0);
    assert_null(f->ipidx);
    assert_null(f->ipp[FWD_IPP_V4].base);
    free(mm);
    fwd_free(f);
}

/* Many IPs under one MAC: the list keeps insertion order through removals
 * anywhere in it, and a duplicate is found however long the list is. */
/* 100,000 VNICs on one NVE (issue 14): as many local MACs, each with its
 * IPv4 address, MAC slots past 65,535 included; each MAC's address is
 * found under its own slot, and all of them go again. */
struct ip_seen {
    uint32_t n;
    uint8_t ip[4];
};

static void
ip_seen_cb(void *arg, const struct nvdp_addr *a)
{
    struct ip_seen *s = arg;

    s->n++;
    memcpy(s->ip, a->ip, 4);
}

static void
test_100k_local_macs(void **st)
{
    struct env *e = env_new();
    struct fwd *f = e->f;
    const uint32_t n = 100000;
    uint32_t slot, high = 0;
    struct nvdp_addr a;
    char ip[20];

    (void)st;
    assert_true(FWD_MAC_LIMIT > n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t m[6] = {2,         9, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                        (uint8_t)i};
        snprintf(ip, sizeof(ip), "10.%u.%u.%u", i >> 16, (i >> 8) & 255,
                 i & 255);
        assert_int_equal(nvdp_addr_parse(m, ip, &a), 0);
        assert_int_equal(fwd_local_add(f, 10100, 0, &a), 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t m[6] = {2,         9, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                        (uint8_t)i};
        struct ip_seen s = {0};
        assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, m, &slot)),
                         FWD_MAC_LOCAL);
        high += slot > 0xFFFF;
        fwd_ip_foreach(f, slot, ip_seen_cb, &s);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.ip[2], (i >> 8) & 255);
        assert_int_equal(s.ip[3], i & 255);
    }
    assert_true(high > 0); /* slots a 16-bit mslot could not name */
    for (uint32_t i = 0; i < n; i++) {
        uint8_t m[6] = {2,         9, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                        (uint8_t)i};
        memset(&a, 0, sizeof(a));
        memcpy(a.mac, m, 6);
        assert_int_equal(fwd_local_del(f, 10100, 0, &a), 0);
        assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, m, NULL)), 0);
    }
    env_free(e);
}

/* ---- the MAC walks (dump, a port's flush, ageing) go by the table's
 * occupancy bitmap: it must name exactly the slots that hold an entry, so
 * that the dump shows every entry once, in slot order as a walk over every
 * slot did, after inserts, deletes, reuse of deleted slots and probe chains
 * that cross a bitmap word, a summary word and the table's end. ---------- */

#define DW_BULK 3000
#define DW_CHAIN 6 /* entries per colliding run */

struct dw_mac {
    uint32_t vni;
    uint16_t vn;
    uint8_t mac[6];
    int type; /* enum fwd_mac_type */
    uint16_t port;
    int present;
};

static void
dw_add(struct fwd *f, struct dw_mac *m)
{
    struct nvdp_addr a;
    if (m->type == FWD_MAC_LOCAL) {
        assert_int_equal(nvdp_addr_parse(m->mac, "", &a), 0);
        assert_int_equal(fwd_local_add(f, m->vni, m->port, &a), 0);
    } else if (m->type == FWD_MAC_REMOTE) {
        assert_int_equal(fwd_remote_mac_add(f, m->vni, m->mac, "192.0.2.2"), 0);
    } else {
        struct fwd_learn_ev ev = {.vn = m->vn, .family = 4,
                                  .ip = {192, 0, 2, 3}};
        memcpy(ev.mac, m->mac, 6);
        assert_int_equal(fwd_learn_apply(f, &ev, 1000), 0);
    }
    m->present = 1;
}

static void
dw_del(struct fwd *f, struct dw_mac *m)
{
    struct nvdp_addr a;
    if (m->type == FWD_MAC_LOCAL) {
        assert_int_equal(nvdp_addr_parse(m->mac, "", &a), 0);
        assert_int_equal(fwd_local_del(f, m->vni, m->port, &a), 0);
    } else {
        assert_int_equal(fwd_remote_mac_del(f, m->vni, m->mac), 0);
    }
    m->present = 0;
}

/* The bitmap against every slot, the table against the model, the dump
 * against both: each entry once, per VN in slot order. */
static void
dw_check(struct fwd *f, const struct dw_mac *mm, size_t n)
{
    static const char *const types[] = {"?", "local", "remote", "learned"};
    uint32_t next = fwd_mac_next(f, 0), held = 0, slot;
    for (uint32_t h = 0; h < FWD_MAC_CAP; h++) {
        if (f->macs[h].key <= FWD_MK_TOMB)
            continue;
        assert_int_equal(next, h);
        next = fwd_mac_next(f, h + 1);
        held++;
    }
    assert_int_equal(next, FWD_MAC_CAP);
    assert_int_equal(held, f->nmacs);
    uint32_t want = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = fwd_mac_lookup(f, mm[i].vn, mm[i].mac, NULL);
        assert_int_equal(FWD_MV_TYPE(v), mm[i].present ? mm[i].type : 0);
        want += (uint32_t)mm[i].present;
    }
    assert_int_equal(held, want);
    struct json_object *j = fwd_dump_json(f), *vns, *x;
    uint32_t dumped = 0;
    assert_true(json_object_object_get_ex(j, "vns", &vns));
    for (size_t vn = 0; vn < json_object_array_length(vns); vn++) {
        struct json_object *macs;
        assert_true(json_object_object_get_ex(
            json_object_array_get_idx(vns, vn), "macs", &macs));
        int64_t prev = -1;
        for (size_t k = 0; k < json_object_array_length(macs); k++) {
            struct json_object *mo = json_object_array_get_idx(macs, k);
            unsigned b[6];
            uint8_t mac[6];
            assert_true(json_object_object_get_ex(mo, "mac", &x));
            assert_int_equal(sscanf(json_object_get_string(x),
                                    "%x:%x:%x:%x:%x:%x", &b[0], &b[1],
                                    &b[2], &b[3], &b[4], &b[5]), 6);
            for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t)b[i];
            uint64_t v = fwd_mac_lookup(f, (uint16_t)vn, mac, &slot);
            assert_int_not_equal(FWD_MV_TYPE(v), 0);
            assert_true(json_object_object_get_ex(mo, "type", &x));
            assert_string_equal(json_object_get_string(x),
                                types[FWD_MV_TYPE(v)]);
            assert_true((int64_t)slot > prev); /* slot order, none twice */
            prev = slot;
            dumped++;
        }
    }
    assert_true(json_object_object_get_ex(j, "mac_entries", &x));
    assert_int_equal(json_object_get_int64(x), held);
    json_object_put(j);
    assert_int_equal(dumped, held);
}

static void
test_dump_walk(void **st)
{
    struct env *e = env_new();
    struct fwd *f = e->f;
    /* runs of keys that hash to the same slots, each crossing a bitmap
     * word (62), a summary word (4094) or the table's end */
    static const uint32_t at[] = {62, 4094, FWD_MAC_CAP - 2};
    enum { NAT = sizeof(at) / sizeof(at[0]) };
    const size_t n = DW_BULK + NAT * DW_CHAIN;
    struct dw_mac *mm = calloc(n, sizeof(*mm));
    struct nvdp_addr a;

    (void)st;
    assert_non_null(mm);
    assert_int_equal(fwd_vn_bind(f, 2, 300, 10200), 0);
    int vn2 = fwd_vni_lookup(f, 10200);
    assert_true(vn2 > 0);
    /* from an empty table: the environment's three entries go */
    nvdp_addr_parse(MAC_A, "", &a);
    assert_int_equal(fwd_local_del(f, 10100, 0, &a), 0);
    nvdp_addr_parse(MAC_B, "", &a);
    assert_int_equal(fwd_local_del(f, 10100, 1, &a), 0);
    assert_int_equal(fwd_remote_mac_del(f, 10100, MAC_C), 0);
    dw_check(f, mm, 0);
    assert_int_equal(fwd_mac_next(f, 0), FWD_MAC_CAP);
    for (size_t i = 0; i < DW_BULK; i++) {
        struct dw_mac *m = &mm[i];
        int second = i % 2;
        m->vni = second ? 10200 : 10100;
        m->vn = (uint16_t)(second ? vn2 : 0);
        uint8_t mac[6] = {2, 0xdd, 0, (uint8_t)(i >> 8), (uint8_t)i, 1};
        memcpy(m->mac, mac, 6);
        m->type = (int)(i / 2 % 3) + 1;
        m->port = (uint16_t)(second ? 2 : i / 6 % 2);
    }
    size_t c = DW_BULK;
    int got[NAT] = {0};
    for (uint32_t k = 0; c < n; k++) {
        uint8_t mac[6] = {2, 0xdc, (uint8_t)(k >> 24), (uint8_t)(k >> 16),
                          (uint8_t)(k >> 8), (uint8_t)k};
        uint32_t h = fwd_mac_hash(fwd_mac_key(0, mac));
        for (int w = 0; w < NAT; w++) {
            if ((h != at[w] && h != ((at[w] + 1) & (FWD_MAC_CAP - 1))) ||
                got[w] == DW_CHAIN)
                continue;
            struct dw_mac *m = &mm[c];
            m->vni = 10100;
            memcpy(m->mac, mac, 6);
            m->type = got[w] % 3 + 1;
            m->port = (uint16_t)(got[w] / 3);
            got[w]++;
            c++;
        }
    }
    for (size_t i = n; i-- > 0;) /* the runs first: nothing in their way */
        dw_add(f, &mm[i]);
    dw_check(f, mm, n);
    for (int w = 0; w < NAT; w++) /* the runs are where they were meant */
        for (uint32_t s = 0; s < DW_CHAIN; s++)
            assert_true(f->macs[(at[w] + s) & (FWD_MAC_CAP - 1)].key >
                        FWD_MK_TOMB);
    /* deletes: a third of the bulk, the middle of each run (tombstones
     * inside a probe chain) and the last (cleared back to empty) */
    for (size_t i = 0; i < DW_BULK; i += 3)
        dw_del(f, &mm[i]);
    for (int w = 0; w < NAT; w++) {
        dw_del(f, &mm[DW_BULK + (size_t)w * DW_CHAIN + 2]);
        dw_del(f, &mm[DW_BULK + (size_t)w * DW_CHAIN + DW_CHAIN - 1]);
    }
    dw_check(f, mm, n);
    /* back again, into the freed slots (not always their own) */
    for (size_t i = 0; i < n; i++)
        if (!mm[i].present && i % 2 == 0)
            dw_add(f, &mm[i]);
    dw_check(f, mm, n);
    /* a port's flush: its local MACs go */
    assert_int_equal(fwd_port_del(f, 1), 0);
    for (size_t i = 0; i < n; i++)
        if (mm[i].type == FWD_MAC_LOCAL && mm[i].port == 1)
            mm[i].present = 0;
    dw_check(f, mm, n);
    /* ageing: the learned ones go */
    assert_true(fwd_age(f, 1000 + 300) > 0);
    for (size_t i = 0; i < n; i++)
        if (mm[i].type == FWD_MAC_LEARNED)
            mm[i].present = 0;
    dw_check(f, mm, n);
    for (size_t i = 0; i < n; i++)
        if (mm[i].present)
            dw_del(f, &mm[i]);
    dw_check(f, mm, n);
    assert_int_equal(fwd_mac_next(f, 0), FWD_MAC_CAP);
    for (size_t w = 0; w < FWD_MAC_CAP / 64; w++)
        assert_int_equal(f->mac_used[w], 0);
    for (size_t w = 0; w < FWD_MAC_CAP / 4096; w++)
        assert_int_equal(f->mac_used_sum[w], 0);
    free(mm);
    env_free(e);
}

static void
test_ip_entries_one_mac(void **st)
{
    (void)st;
    enum { N = 3000 };
    struct fwd *f = ipm_fwd();
    struct ipm_mac *m = calloc(1, sizeof(*m));
    static char ips[N][32];
    int live[N];
    struct nvdp_addr a;
    uint8_t mac[6];
    assert_non_null(m);
    ipm_mac(77, mac);
    for (int i = 0; i < N; i++) {
        snprintf(ips[i], sizeof(ips[i]), "10.9.%d.%d", i >> 8, i & 255);
        assert_int_equal(nvdp_addr_parse(mac, ips[i], &a), 0);
        assert_int_equal(fwd_local_add(f, 77, 1, &a), 0);
        assert_int_equal(fwd_local_add(f, 77, 1, &a), 0);
        live[i] = 1;
    }
    assert_int_equal(f->nips, N);
    for (int i = 0; i < N; i += 3) { /* the first, then every third */
        assert_int_equal(nvdp_addr_parse(mac, ips[i], &a), 0);
        assert_int_equal(fwd_local_del(f, 77, 1, &a), 0);
        live[i] = 0;
    }
    assert_int_equal(nvdp_addr_parse(mac, ips[N - 1], &a), 0); /* the last */
    assert_int_equal(fwd_local_del(f, 77, 1, &a), 0);
    live[N - 1] = 0;
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)live[i];
    assert_int_equal(f->nips, n);
    assert_int_equal(f->ipidx_n, n + 1);
    struct json_object *j = fwd_dump_json(f), *vns, *macs, *ipsj;
    assert_true(json_object_object_get_ex(j, "vns", &vns));
    assert_int_equal(json_object_array_length(vns), 1);
    assert_true(json_object_object_get_ex(json_object_array_get_idx(vns, 0), "macs", &macs));
    assert_int_equal(json_object_array_length(macs), 1);
    assert_true(json_object_object_get_ex(json_object_array_get_idx(macs, 0), "ips", &ipsj));
    assert_int_equal(json_object_array_length(ipsj), n);
    size_t k = 0;
    for (int i = 0; i < N; i++)
        if (live[i])
            assert_string_equal(json_object_get_string(
                json_object_array_get_idx(ipsj, k++)), ips[i]);
    json_object_put(j);
    for (int i = 0; i < N; i++) {
        if (!live[i])
            continue;
        assert_int_equal(nvdp_addr_parse(mac, ips[i], &a), 0);
        assert_int_equal(fwd_local_del(f, 77, 1, &a), 0);
    }
    assert_int_equal(f->nips, 0);
    assert_null(f->ipidx);
    /* the MAC entry stays without IPs */
    assert_int_equal(FWD_MV_TYPE(fwd_mac_lookup(f, 0, mac, NULL)), FWD_MAC_LOCAL);
    free(m);
    fwd_free(f);
}

/* ---- EVPN: moved MACs, ARP/ND proxy, snooped announcements ---------------- */

/* seed 004 4.1: frames still arriving for a MAC that moved away go on to
 * its new VTEP for the hold, never back where they came from. */
static void
test_moved_mac(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    uint8_t in[256], pk[512];
    const uint8_t mac_r[6] = {2, 0, 0, 0, 0, 0x52};
    size_t il = mkframe(in, MAC_C, mac_r, -1, 9, 30), n;

    /* C is remote at .2: a frame for it from .3 is not ours to forward */
    n = mkvx(e, pk, 10100, in, il, 3);
    uint64_t b4 = dropped(e, FWD_DROP_VX_TO_REMOTE);
    und(e, pk, n);
    assert_int_equal(e->c.n, 0);
    assert_int_equal(dropped(e, FWD_DROP_VX_TO_REMOTE), b4 + 1);
    /* C moved from here to .2: .3 has not converged, its frame goes on */
    assert_int_equal(fwd_remote_mac_moved(f, 10100, MAC_C, "192.0.2.2", 5000), 0);
    n = mkvx(e, pk, 10100, in, il, 3);
    und(e, pk, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], FWD_TXQ_UNDERLAY);
    assert_int_equal(e->c.buf[0][14 + 19], 2);  /* outer destination .2 */
    assert_memory_equal(e->c.buf[0] + 50, in, il); /* the frame itself */
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), 1);
    /* from .2 itself: never back (crossed views would loop) */
    n = mkvx(e, pk, 10100, in, il, 2);
    b4 = dropped(e, FWD_DROP_VX_TO_REMOTE);
    und(e, pk, n);
    assert_int_equal(e->c.n, 0);
    assert_int_equal(dropped(e, FWD_DROP_VX_TO_REMOTE), b4 + 1);
    /* moving on (to .3) keeps the hold: frames from .2 go to .3 */
    assert_int_equal(fwd_remote_mac_add(f, 10100, MAC_C, "192.0.2.3"), 0);
    for (int r = 0; r < FWD_MAX_REMOTES; r++)
        if (f->remotes[r].used && !f->remotes[r].resolved)
            fwd_remote_set_nexthop(f, (uint16_t)r, NH3_MAC);
    n = mkvx(e, pk, 10100, in, il, 2);
    und(e, pk, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.buf[0][14 + 19], 3);
    struct json_object *j = fwd_dump_json(f);
    assert_non_null(strstr(json_object_to_json_string_ext(j,
        JSON_C_TO_STRING_PLAIN), "\"moved\":true"));
    json_object_put(j);
    /* the hold is over: dropped again */
    e->o.now = fwd_now_s() + 6;
    n = mkvx(e, pk, 10100, in, il, 2);
    b4 = dropped(e, FWD_DROP_VX_TO_REMOTE);
    und(e, pk, n);
    assert_int_equal(e->c.n, 0);
    assert_int_equal(dropped(e, FWD_DROP_VX_TO_REMOTE), b4 + 1);
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), 2);
    env_free(e);
}

/* A MAC that left for a place not known yet: in-flight frames go to every
 * other VTEP of the VN; local senders flood it; a known place replaces it. */
static void
test_leaving_mac(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    uint8_t in[256], pk[512], fr[256];
    const uint8_t mac_l[6] = {2, 0, 0, 0, 0, 0x4c};
    const uint8_t mac_r[6] = {2, 0, 0, 0, 0, 0x52};
    size_t il = mkframe(in, mac_l, mac_r, -1, 9, 30), n;

    /* refused over a local or a remote entry */
    assert_int_equal(fwd_remote_mac_leaving(f, 10100, MAC_A, 5000), -1);
    assert_int_equal(fwd_remote_mac_leaving(f, 10100, MAC_C, 5000), -1);
    assert_int_equal(fwd_remote_mac_leaving(f, 10100, mac_l, 5000), 0);
    /* from .3: to the flood list but .3, i.e. .2; nothing local */
    n = mkvx(e, pk, 10100, in, il, 3);
    und(e, pk, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], FWD_TXQ_UNDERLAY);
    assert_int_equal(e->c.buf[0][14 + 19], 2);
    assert_memory_equal(e->c.buf[0] + 50, in, il);
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), 1);
    /* a local sender floods it: B (port 1) and both VTEPs */
    n = mkframe(fr, mac_l, MAC_A, 100, 7, 20);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    /* its place is known: unicast there, the hold kept */
    assert_int_equal(fwd_remote_mac_add(f, 10100, mac_l, "192.0.2.3"), 0);
    n = mkvx(e, pk, 10100, in, il, 2);
    und(e, pk, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.buf[0][14 + 19], 3);
    assert_int_equal(fwd_ctr_get(&f->mobility_tunnelled), 2);
    /* removed like any remote entry */
    assert_int_equal(fwd_remote_mac_del(f, 10100, mac_l), 0);
    env_free(e);
}

/* A broadcast ARP (op, sender IP, target IP) from src on tag, as a VM sends
 * it. */
static size_t
mkarp(uint8_t *b, const uint8_t src[6], int tag, int op, const uint8_t spa[4],
      const uint8_t tpa[4])
{
    memset(b, 0xff, 6);
    memcpy(b + 6, src, 6);
    b[12] = 0x81, b[13] = 0, b[14] = (uint8_t)(tag >> 8), b[15] = (uint8_t)tag;
    b[16] = 0x08, b[17] = 0x06;
    uint8_t *a = b + 18;
    a[0] = 0, a[1] = 1, a[2] = 8, a[3] = 0, a[4] = 6, a[5] = 4;
    a[6] = 0, a[7] = (uint8_t)op;
    memcpy(a + 8, src, 6);
    memcpy(a + 14, spa, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, tpa, 4);
    return 18 + 28;
}

/* An ICMPv6 NS (type 135) or NA (136, flags) from src (IPv6 source sip) to
 * the all-nodes group, for target. */
static size_t
mknd(uint8_t *b, const uint8_t src[6], int tag, int type, uint8_t flags,
     const uint8_t sip[16], const uint8_t target[16])
{
    static const uint8_t allnodes[16] = {0xff, 2, [15] = 1};
    memcpy(b, "\x33\x33\x00\x00\x00\x01", 6);
    memcpy(b + 6, src, 6);
    b[12] = 0x81, b[13] = 0, b[14] = (uint8_t)(tag >> 8), b[15] = (uint8_t)tag;
    b[16] = 0x86, b[17] = 0xdd;
    uint8_t *ip = b + 18, *icmp = ip + 40;
    memset(ip, 0, 40 + 32);
    ip[0] = 0x60, ip[5] = 32, ip[6] = 58, ip[7] = 255;
    memcpy(ip + 8, sip, 16);
    memcpy(ip + 24, allnodes, 16);
    icmp[0] = (uint8_t)type;
    icmp[4] = flags;
    memcpy(icmp + 8, target, 16);
    icmp[24] = type == 135 ? 1 : 2, icmp[25] = 1;
    memcpy(icmp + 26, src, 6);
    return 18 + 40 + 32;
}

static void
test_arp_nd_proxy(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    uint8_t fr[256];
    const uint8_t ipa[4] = {10, 0, 0, 1}, ipc[4] = {10, 0, 0, 3},
                  ipx[4] = {10, 0, 0, 9}, zero4[4] = {0};
    uint8_t ipc16[16] = {10, 0, 0, 3};
    size_t n;

    assert_int_equal(fwd_remote_ip_add(f, 10100, MAC_C, 4, ipc16), 0);
    /* A asks for C's IP: answered on A's port with A's tag, not flooded */
    n = mkarp(fr, MAC_A, 100, 1, ipa, ipc);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.port[0], 0);
    assert_int_equal(e->c.len[0], 64);
    const uint8_t *r = e->c.buf[0];
    assert_memory_equal(r, MAC_A, 6);
    assert_memory_equal(r + 6, MAC_C, 6);
    assert_int_equal(r[14] << 8 | r[15], 100);
    assert_int_equal(r[16] << 8 | r[17], 0x0806);
    assert_int_equal(r[18 + 7], 2);               /* reply */
    assert_memory_equal(r + 18 + 8, MAC_C, 6);    /* sha */
    assert_memory_equal(r + 18 + 14, ipc, 4);     /* spa */
    assert_memory_equal(r + 18 + 18, MAC_A, 6);   /* tha */
    assert_memory_equal(r + 18 + 24, ipa, 4);     /* tpa */
    assert_int_equal(fwd_ctr_get(&f->arp_proxied), 1);
    /* an unknown IP, or a probe (sender 0.0.0.0): flooded (B + 2 VTEPs) */
    n = mkarp(fr, MAC_A, 100, 1, ipa, ipx);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    n = mkarp(fr, MAC_A, 100, 1, zero4, ipc);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    /* withdrawn: flooded again */
    assert_int_equal(fwd_remote_ip_del(f, 10100, 4, ipc16), 0);
    assert_int_equal(fwd_remote_ip_del(f, 10100, 4, ipc16), -1);
    n = mkarp(fr, MAC_A, 100, 1, ipa, ipc);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    assert_int_equal(fwd_ctr_get(&f->arp_proxied), 1);

    /* IPv6: A solicits C's address; the answer is a valid NA (S, O) */
    const uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    const uint8_t v6c[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 3};
    const uint8_t v6zero[16] = {0};
    assert_int_equal(fwd_remote_ip_add(f, 10100, MAC_C, 6, v6c), 0);
    n = mknd(fr, MAC_A, 100, 135, 0, v6a, v6c);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 1);
    assert_int_equal(e->c.len[0], 90);
    r = e->c.buf[0];
    assert_memory_equal(r, MAC_A, 6);
    assert_memory_equal(r + 6, MAC_C, 6);
    const uint8_t *ip6 = r + 18, *icmp = ip6 + 40;
    assert_int_equal(ip6[7], 255);
    assert_memory_equal(ip6 + 8, v6c, 16);
    assert_memory_equal(ip6 + 24, v6a, 16);
    assert_int_equal(icmp[0], 136);
    assert_int_equal(icmp[4], 0x60);
    assert_memory_equal(icmp + 8, v6c, 16);
    assert_int_equal(icmp[24], 2);
    assert_memory_equal(icmp + 26, MAC_C, 6);
    uint8_t ph[40] = {0};
    memcpy(ph, ip6 + 8, 32);
    ph[35] = 32, ph[39] = 58;
    assert_int_equal(fwd_csum_fold(fwd_csum_add(fwd_csum_add(0, ph, 40),
                                                icmp, 32)), 0xffff);
    assert_int_equal(fwd_ctr_get(&f->nd_proxied), 1);
    /* duplicate address detection (from ::) is not answered */
    n = mknd(fr, MAC_A, 100, 135, 0, v6zero, v6c);
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    env_free(e);
}

static void
test_snoop(void **st)
{
    (void)st;
    struct env *e = env_new();
    struct fwd *f = e->f;
    uint8_t fr[256];
    const uint8_t ipa[4] = {10, 0, 0, 1};
    const uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    struct fwd_snoop ev[4];
    size_t n;

    /* nobody asked: nothing queued */
    n = mkarp(fr, MAC_A, 100, 1, ipa, ipa);
    acc(e, 0, fr, n);
    assert_int_equal(fwd_ctr_get(&f->snooped), 0);
    int fd = fwd_snoop_fd(f);
    assert_true(fd >= 0);
    assert_int_equal(fwd_snoop_fd(f), fd);
    /* a gratuitous ARP (request form) is still flooded, and snooped */
    acc(e, 0, fr, n);
    assert_int_equal(e->c.n, 3);
    /* an unsolicited NA (S clear) too; a solicited one is not */
    n = mknd(fr, MAC_A, 100, 136, 0x20, v6a, v6a);
    acc(e, 0, fr, n);
    n = mknd(fr, MAC_A, 100, 136, 0x60, v6a, v6a);
    acc(e, 0, fr, n);
    /* a spoofed source never gets that far */
    n = mkarp(fr, MAC_X, 100, 2, ipa, ipa);
    acc(e, 0, fr, n);
    assert_int_equal(fwd_snoop_read(f, ev, 4), 2);
    assert_int_equal(ev[0].vni, 10100);
    assert_memory_equal(ev[0].mac, MAC_A, 6);
    assert_int_equal(ev[0].family, 4);
    assert_memory_equal(ev[0].ip, ipa, 4);
    assert_int_equal(ev[1].family, 6);
    assert_memory_equal(ev[1].ip, v6a, 16);
    assert_int_equal(fwd_snoop_read(f, ev, 4), 0);
    /* a full ring drops and counts */
    n = mkarp(fr, MAC_A, 100, 1, ipa, ipa);
    for (int i = 0; i < FWD_SNOOP_RING + 3; i++)
        acc(e, 0, fr, n);
    assert_int_equal(fwd_ctr_get(&f->snoop_overflow), 3);
    env_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_v4),
        cmocka_unit_test(test_golden_v6),
        cmocka_unit_test(test_hash_sport),
        cmocka_unit_test(test_vx_parse_errors),
        cmocka_unit_test(test_access_forwarding),
        cmocka_unit_test(test_access_drops),
        cmocka_unit_test(test_decap),
        cmocka_unit_test(test_decap_partial_csum),
        cmocka_unit_test(test_isolation),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_updates_during_forwarding),
        cmocka_unit_test(test_mutated_frames),
        cmocka_unit_test(test_ip_entries),
        cmocka_unit_test(test_ip_entries_one_mac),
        cmocka_unit_test(test_moved_mac),
        cmocka_unit_test(test_leaving_mac),
        cmocka_unit_test(test_arp_nd_proxy),
        cmocka_unit_test(test_snoop),
        cmocka_unit_test(test_100k_local_macs),
        cmocka_unit_test(test_dump_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
