/* fuzz_fwd.c - libFuzzer target for the forwarder's per-packet decisions
 * (fwd/fwd_fast.c, fwd_encap.c, fwd_pkt.c): any frame on either path, and
 * every frame that leaves must be well formed (iovecs inside the input or
 * the slot's header, outer Ethernet/IP/UDP/VXLAN consistent, re-tagged
 * correctly).
 *
 * Input: byte 0 = mode, bytes 1-2 = tci, byte 3 = port, bytes 4-5 = patch
 * offset, byte 6 = patch value, then the frame.
 *   mode bit 0: underlay path (else access)      bit 1: FWD_RX_CSUM
 *   mode bit 2: FWD_RX_VLAN                      bit 3: IPv6 underlay
 *   mode bit 4: wrap the frame as the inner frame of a valid VXLAN packet
 *               from a flood remote (underlay), then patch one byte
 *   mode bit 5: underlay MTU 65536 (lo) instead of 1500
 *   mode bit 6: DF off (IPv4 ID changes per packet) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Internals on purpose: the target drives the per-packet decisions
 * (fwd_fast.h) directly and checks what leaves with the pure packet
 * functions (fwd_encap.h, fwd_pkt.h). */
#include "fwd_encap.h"
#include "fwd_fast.h"
#include "fwd_pkt.h"
#include "log.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

#define VNI 10100
#define VNI2 10200
static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x0a}; /* port 0 tag 100 */
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x0b}; /* port 1 tag 200 */
static const uint8_t MAC_C[6] = {0x02, 0, 0, 0, 0, 0x0c}; /* remote .2 */
static const uint8_t MAC_D[6] = {0x02, 0, 0, 0, 0, 0x0d}; /* port 0 tag 300, VNI2 */
static const uint8_t UND_MAC[6] = {0x02, 0xee, 0, 0, 0, 1};
static const uint8_t NH_MAC[6] = {0x02, 0xee, 0, 0, 0, 2};

struct env {
    struct fwd *f;
    struct fwd_out o;
    struct fwd_txq q[4];
    int family;
    const uint8_t *in;  /* the frame handed over, for the iovec bounds */
    size_t inlen;
    unsigned nout;      /* frames sent for it */
};

static struct env envs[2];

/* The prebuilt header is checked against the parser and the local state. */
static void
check_underlay(struct env *e, const uint8_t *o, size_t len)
{
    struct fwd_vx vx;
    CHECK(fwd_vx_parse(o, len, 4789, &vx) == 0);
    CHECK(vx.vni == VNI || vx.vni == VNI2);
    CHECK(vx.family == e->family);
    CHECK(memcmp(vx.src_ip, e->f->local_ip, e->family == 4 ? 4 : 16) == 0);
    CHECK(memcmp(o, NH_MAC, 6) == 0 && memcmp(o + 6, UND_MAC, 6) == 0);
    CHECK(len - 14 <= e->f->underlay_mtu && len - 14 <= 65535);
    /* the IP length covers exactly what is sent */
    if (e->family == 4) {
        CHECK((size_t)(o[16] << 8 | o[17]) == len - 14);
        CHECK((o[20] & 0x40) == (e->f->p.df ? 0x40 : 0));
    } else {
        CHECK((size_t)(o[18] << 8 | o[19]) + 40 == len - 14);
        /* UDP checksum over the pseudo-header and the datagram */
        uint32_t s = fwd_csum_add(0, o + 22, 32);
        s += (uint32_t)(len - 54);
        s += 17;
        s = fwd_csum_add(s, o + 54, len - 54);
        CHECK(fwd_csum_fold(s) == 0xffff);
    }
    uint16_t sport = (uint16_t)(o[14 + (e->family == 4 ? 20 : 40)] << 8 |
                                o[15 + (e->family == 4 ? 20 : 40)]);
    CHECK(sport >= 49152);
    /* never a tagged inner frame (RFC 7348 6.1) */
    const uint8_t *in = o + vx.inner_off;
    CHECK(!(in[12] == 0x81 && in[13] == 0x00));
}

static void
cap_flush(struct fwd *f, struct fwd_out *o, struct fwd_txq *q)
{
    struct env *e = o->ctx;
    static uint8_t buf[70000];
    (void)f;
    for (unsigned i = 0; i < q->n; i++) {
        struct fwd_txslot *s = &q->s[i];
        size_t off = 0;
        for (int k = 0; k < 3; k++) {
            const uint8_t *b = s->iov[k].iov_base;
            size_t l = s->iov[k].iov_len;
            /* every piece is the slot's header or inside the frame */
            int in_hdr = b >= s->hdr && b + l <= s->hdr + sizeof(s->hdr);
            int in_frame = b >= e->in && b + l <= e->in + e->inlen;
            CHECK(in_hdr || in_frame);
            CHECK(off + l <= sizeof(buf));
            memcpy(buf + off, b, l);
            off += l;
        }
        CHECK(off == s->len);
        e->nout++;
        if (q->port == FWD_TXQ_UNDERLAY) {
            check_underlay(e, buf, off);
            continue;
        }
        /* re-tagged with the destination port's tag for the VN */
        CHECK(off >= 18 && buf[12] == 0x81 && buf[13] == 0x00);
        uint16_t tag = (uint16_t)(buf[14] << 8 | buf[15]);
        CHECK(q->port == 0 ? tag == 100 || tag == 300 : tag == 200);
    }
    q->n = 0;
}

static void
env_init(struct env *e, int family)
{
    struct fwd_params p;
    struct nvdp_addr a;
    memset(&p, 0, sizeof(p));
    p.udp_port = 4789;
    p.sport_min = 49152;
    p.sport_max = 65535;
    p.ttl = 64;
    p.df = 1;
    p.mac_age_s = 300;
    const char *r2 = family == 4 ? "192.0.2.2" : "2001:db8::2";
    const char *r3 = family == 4 ? "192.0.2.3" : "2001:db8::3";
    snprintf(p.local_ip, sizeof(p.local_ip), "%s",
             family == 4 ? "192.0.2.1" : "2001:db8::1");
    e->family = family;
    e->f = fwd_new(&p);
    CHECK(e->f != NULL);
    struct fwd *f = e->f;
    f->underlay_mtu = 1500;
    memcpy(f->underlay_mac, UND_MAC, 6);
    fwd_txq_init(&e->q[0], -1, 0);
    fwd_txq_init(&e->q[1], -1, 1);
    fwd_txq_init(&e->q[2], -1, FWD_TXQ_UNDERLAY);
    e->o.port_q[0] = &e->q[0];
    e->o.port_q[1] = &e->q[1];
    e->o.und_q = &e->q[2];
    e->o.flush = cap_flush;
    e->o.ctx = e;
    e->o.now = 1000;
    /* VNI 10100: A on port 0 tag 100, B on port 1 tag 200, C behind .2,
     * flood to .2 and .3; VNI 10200: D on port 0 tag 300, flood to .3.
     * Port 2 is bound but has no socket. */
    CHECK(fwd_port_add(f, 0, "acc0") == 0);
    CHECK(fwd_port_add(f, 1, "acc1") == 0);
    CHECK(fwd_port_add(f, 2, "acc2") == 0);
    CHECK(fwd_vn_bind(f, 0, 100, VNI) == 0);
    CHECK(fwd_vn_bind(f, 1, 200, VNI) == 0);
    CHECK(fwd_vn_bind(f, 2, 100, VNI) == 0);
    CHECK(fwd_vn_bind(f, 0, 300, VNI2) == 0);
    memset(&a, 0, sizeof(a));
    memcpy(a.mac, MAC_A, 6);
    CHECK(fwd_local_add(f, VNI, 0, &a) == 0);
    memcpy(a.mac, MAC_B, 6);
    CHECK(fwd_local_add(f, VNI, 1, &a) == 0);
    memcpy(a.mac, MAC_D, 6);
    CHECK(fwd_local_add(f, VNI2, 0, &a) == 0);
    CHECK(fwd_remote_mac_add(f, VNI, MAC_C, r2) == 0);
    CHECK(fwd_flood_add(f, VNI, r2) == 0);
    CHECK(fwd_flood_add(f, VNI, r3) == 0);
    CHECK(fwd_flood_add(f, VNI2, r3) == 0);
    for (int r = 0; r < FWD_MAX_REMOTES; r++)
        if (f->remotes[r].used)
            fwd_remote_set_nexthop(f, (uint16_t)r, NH_MAC);
}

/* A valid VXLAN packet from remote .2 to us around the given inner frame. */
static size_t
wrap(struct env *e, uint8_t *out, uint32_t vni, const uint8_t *in, size_t n)
{
    uint8_t src[16], hdr[FWD_HDR_MAX];
    struct fwd_params p = e->f->p;
    memcpy(src, e->f->local_ip, 16);
    src[e->family == 4 ? 3 : 15] = 2;
    unsigned hl = fwd_outer_template(hdr, e->family, src, e->f->local_ip,
                                     UND_MAC, NH_MAC, &p);
    struct iovec iov = {(void *)in, n};
    fwd_outer_finish(hdr, hl, vni, 50000, &iov, 1, n);
    memcpy(out, hdr, hl);
    memcpy(out + hl, in, n);
    return hl + n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (envs[0].f == NULL) {
        log_init("fuzz_fwd", 0, 0);
        env_init(&envs[0], 4);
        env_init(&envs[1], 6);
    }
    if (size < 7)
        return 0;
    unsigned mode = data[0];
    uint16_t tci = (uint16_t)(data[1] << 8 | data[2]);
    uint16_t port = data[3] % 3;
    size_t poff = (size_t)(data[4] << 8 | data[5]);
    uint8_t pval = data[6];
    data += 7;
    size = size - 7;
    struct env *e = &envs[(mode >> 3) & 1];
    e->f->underlay_mtu = mode & 0x20 ? 65536 : 1500;
    if (e->f->p.df != !(mode & 0x40)) {
        e->f->p.df = !(mode & 0x40);
        for (int r = 0; r < FWD_MAX_REMOTES; r++)
            if (e->f->remotes[r].used)
                fwd_remote_set_nexthop(e->f, (uint16_t)r, NH_MAC);
    }
    /* an exact-size heap copy: ASan sees any read past the frame */
    size_t n = size;
    uint8_t *fr;
    if ((mode & 0x11) == 0x11) {
        fr = malloc(size + FWD_HDR_MAX);
        CHECK(fr != NULL);
        n = wrap(e, fr, tci & 1 ? VNI2 : VNI, data, size);
        if (poff < n)
            fr[poff] = pval;
    } else {
        fr = malloc(size ? size : 1);
        CHECK(fr != NULL);
        memcpy(fr, data, size);
    }
    e->in = fr;
    e->inlen = n;
    unsigned fl = (mode & 2 ? FWD_RX_CSUM : 0) | (mode & 4 ? FWD_RX_VLAN : 0);
    e->nout = 0;
    if (mode & 1)
        fwd_underlay_rx(e->f, &e->o, fr, n, fl);
    else
        fwd_access_rx(e->f, &e->o, port, fr, n, fl, tci);
    fwd_out_flush(e->f, &e->o);
    /* an underlay packet that came tagged is for another VLAN: dropped */
    CHECK(!((mode & 5) == 5 && e->nout));
    free(fr);
    /* learned entries go through the housekeeper's path too */
    uint32_t head = e->f->learn_head;
    for (; e->f->learn_tail != head; e->f->learn_tail++) {
        const struct fwd_learn_ev *ev =
            &e->f->learn[e->f->learn_tail & (FWD_LEARN_RING - 1)];
        /* only from a VTEP of the VN's flood list: .2/.3, or .3 */
        uint8_t last = ev->ip[e->family == 4 ? 3 : 15];
        CHECK(ev->family == e->family);
        CHECK(e->f->vns[ev->vn].vni == VNI ? last == 2 || last == 3
                                           : last == 3);
        fwd_learn_apply(e->f, ev, 1000);
    }
    fwd_qs_tick(e->f);
    return 0;
}
