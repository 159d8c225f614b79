/* test_nve_proto.c - the NVE protocol engine driven with frames built by the
 * codec, a fake clock and a capture send callback: every message and error
 * reply, dedupe, hold expiry, epoch change, resync, withdraw, batching,
 * malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nve.h"

#define HV_EPOCH 0x11110001u
#define NVE_EPOCH 0x22220002u

static const uint8_t HV1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t HV2[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t GROUP[6] = NVDP_GROUP_MAC_DEFAULT;

static const char *CONF =
    "name = \"tor-test\"\n"
    "hold-time = 10\n"
    "preassoc-timeout = 5\n"
    "limits {\n max-addresses-per-vnic = 8\n}\n"
    "port \"p0\" {\n interface = \"acc0\"\n tags = \"2-4000\"\n}\n"
    "port \"p1\" {\n interface = \"acc1\"\n tags = \"10\"\n"
    " hypervisors = {\"02:00:00:00:00:01\"}\n vns = {\"blue\", \"red\"}\n}\n"
    "vn \"blue\" {\n uuid = \"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n"
    " vni = 100\n}\n"
    "vn \"red\" {\n vni = 200\n}\n"
    "vn \"green\" {\n vni = 300\n}\n";

/* ---- capture ------------------------------------------------------------- */
#define CAP_MAX 64
struct cap_frame {
    uint16_t port;
    uint8_t dst[6];
    uint8_t buf[NVDP_FRAME_MAX];
    size_t len;
};
struct fx {
    struct nve_conf *conf;
    struct tree tree;
    struct nve_proto *p;
    struct cap_frame cap[CAP_MAX];
    int ncap;
    uint64_t now;
    /* frame under construction */
    struct nvdp_writer w;
    uint8_t wbuf[NVDP_FRAME_MAX];
    uint32_t txid;
};

static void
cap_send(void *arg, uint16_t port, const uint8_t dst[6], const uint8_t *f,
         size_t len)
{
    struct fx *x = arg;
    assert_true(x->ncap < CAP_MAX);
    struct cap_frame *c = &x->cap[x->ncap++];
    c->port = port;
    memcpy(c->dst, dst, 6);
    assert_true(len <= sizeof(c->buf));
    memcpy(c->buf, f, len);
    c->len = len;
}

static int
fx_setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    char path[] = "/tmp/test_nve_proto.XXXXXX";
    int fd = mkstemp(path);
    struct tree_limits lim;

    log_init("test", 1, 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, CONF, strlen(CONF)), (ssize_t)strlen(CONF));
    close(fd);
    x->conf = nve_conf_load(path);
    unlink(path);
    assert_non_null(x->conf);
    nve_conf_tree_limits(x->conf, &lim);
    assert_int_equal(tree_init(&x->tree, NULL, &lim), 0);
    for (unsigned i = 0; i < x->conf->nports; i++)
        nve_conf_tree_port(&x->conf->ports[i], &x->tree);
    x->p = nve_proto_new(x->conf, &x->tree, NVE_EPOCH, cap_send, x);
    x->now = 100000;
    nve_proto_port_up(x->p, 0, "p0", NULL, 1500, x->now);
    nve_proto_port_up(x->p, 1, "p1", NULL, 1500, x->now);
    x->txid = 1;
    *state = x;
    return 0;
}

static int
fx_teardown(void **state)
{
    struct fx *x = *state;
    nve_proto_free(x->p);
    tree_free(&x->tree);
    nve_conf_free(x->conf);
    free(x);
    return 0;
}

/* ---- frame building ------------------------------------------------------ */
static void
f_begin(struct fx *x, uint32_t epoch, uint32_t peer_epoch)
{
    nvdp_writer_init(&x->w, x->wbuf, sizeof(x->wbuf), epoch, peer_epoch);
}

static uint32_t
f_add(struct fx *x, struct nvdp_msg *m)
{
    if (m->type != NVDP_MSG_HELLO && m->type != NVDP_MSG_RESPONSE &&
        m->txid == 0)
        m->txid = x->txid++;
    assert_int_equal(nvdp_writer_add(&x->w, m), 0);
    return m->txid;
}

static void
f_send(struct fx *x, uint16_t port, const uint8_t src[6])
{
    size_t len = nvdp_writer_finish(&x->w);
    x->ncap = 0;
    nve_proto_input(x->p, port, src, NULL, x->wbuf, len, x->now);
}

static struct nvdp_msg *
msg_new(uint16_t type)
{
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    m->type = type;
    return m;
}

static struct nvdp_uuid
U(unsigned n)
{
    struct nvdp_uuid u;
    memset(&u, 0, sizeof(u));
    u.b[0] = 0xab;
    u.b[14] = (uint8_t)(n >> 8);
    u.b[15] = (uint8_t)n;
    return u;
}

static void
set_vni(struct nvdp_msg *m, uint32_t vni)
{
    m->vn.kind = NVDP_VN_VNI;
    m->vn.vni = vni;
}

static void
add_ip(struct nvdp_msg *m, unsigned n, uint8_t last)
{
    struct nvdp_addr *a = &m->addr[m->naddr++];
    memset(a, 0, sizeof(*a));
    a->mac[0] = 0x52;
    a->mac[4] = (uint8_t)(n >> 8);
    a->mac[5] = (uint8_t)n;
    a->kind = NVDP_ADDR_HOST;
    a->family = 4;
    a->ip[0] = 10;
    a->ip[2] = (uint8_t)n;
    a->ip[3] = last;
}

static struct nvdp_msg *
hv_hello(uint16_t hold)
{
    struct nvdp_msg *h = msg_new(NVDP_MSG_HELLO);
    h->hello.role = NVDP_ROLE_HV;
    h->hello.hold_time = hold;
    h->hello.hello_interval = 1000;
    h->hello.window = 16;
    snprintf(h->hello.name, sizeof(h->hello.name), "hv");
    return h;
}

static struct nvdp_msg *
assoc(unsigned vnic, uint32_t vni, unsigned mac)
{
    struct nvdp_msg *m = msg_new(NVDP_MSG_ASSOC);
    m->has_vnic = 1;
    m->vnic = U(vnic);
    set_vni(m, vni);
    add_ip(m, mac, 1);
    return m;
}

/* One request in its own frame from HV1 on port 0; returns the RESPONSE. */
static struct nvdp_msg resp_out;

/* ---- decoding what was sent ---------------------------------------------- */
struct decoded {
    struct nvdp_hdr hdr;
    int n;
    struct nvdp_msg m[64];
};

static void
decode(const struct cap_frame *c, struct decoded *d)
{
    struct nvdp_reader r;
    int rc;

    memset(d, 0, sizeof(*d));
    assert_int_equal(nvdp_frame_open(&r, c->buf, c->len), 0);
    d->hdr = r.hdr;
    while ((rc = nvdp_frame_next(&r, &d->m[d->n])) == 1)
        d->n++;
    assert_int_equal(rc, 0);
}

/* The RESPONSE for txid among everything captured. */
static const struct nvdp_msg *
find_resp(struct fx *x, uint32_t txid)
{
    static struct decoded d;
    for (int i = 0; i < x->ncap; i++) {
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++)
            if (d.m[k].type == NVDP_MSG_RESPONSE && d.m[k].txid == txid) {
                resp_out = d.m[k];
                return &resp_out;
            }
    }
    return NULL;
}

static const struct nvdp_msg *
req1(struct fx *x, uint16_t port, const uint8_t *src, struct nvdp_msg *m)
{
    f_begin(x, HV_EPOCH, 0);
    uint32_t t = f_add(x, m);
    f_send(x, port, src);
    free(m);
    return find_resp(x, t);
}

/* The hypervisor's answer to our WITHDRAW txid, in a frame naming our epoch
 * as peer_epoch (as hv-agent does once it heard us) or another one. */
static void
answer_withdraw(struct fx *x, uint16_t port, const uint8_t *src,
                uint32_t txid, uint32_t peer_epoch)
{
    struct nvdp_msg *r = msg_new(NVDP_MSG_RESPONSE);

    r->txid = txid;
    r->req_type = NVDP_MSG_WITHDRAW;
    f_begin(x, HV_EPOCH, peer_epoch);
    f_add(x, r);
    f_send(x, port, src);
    free(r);
}

/* txids of the WITHDRAWs in the captured frames. */
static int
withdraws_sent(struct fx *x, uint32_t *txid, int max)
{
    struct decoded d;
    int n = 0;

    for (int i = 0; i < x->ncap; i++) {
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++)
            if (d.m[k].type == NVDP_MSG_WITHDRAW && n < max)
                txid[n++] = d.m[k].txid;
    }
    return n;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_hello_timer(void **state)
{
    struct fx *x = *state;
    struct decoded d;

    uint64_t next = nve_proto_timers(x->p, x->now);
    assert_int_equal(x->ncap, 2); /* one per port */
    for (int i = 0; i < 2; i++) {
        assert_memory_equal(x->cap[i].dst, GROUP, 6);
        decode(&x->cap[i], &d);
        assert_int_equal(d.hdr.epoch, NVE_EPOCH);
        assert_int_equal(d.hdr.peer_epoch, 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.m[0].type, NVDP_MSG_HELLO);
        assert_int_equal(d.m[0].hello.role, NVDP_ROLE_NVE);
        assert_int_equal(d.m[0].hello.hold_time, 10);
        assert_int_equal(d.m[0].hello.hello_interval, 1000);
        assert_string_equal(d.m[0].hello.name, "tor-test");
    }
    assert_int_equal(next, x->now + 1000);
    x->ncap = 0;
    nve_proto_timers(x->p, x->now + 999);
    assert_int_equal(x->ncap, 0);
    nve_proto_timers(x->p, x->now + 1000);
    assert_int_equal(x->ncap, 2);
    assert_int_equal(nve_proto_counters(x->p)->tx_type[1], 4);
}

static void
test_assoc_and_new_peer(void **state)
{
    struct fx *x = *state;
    struct decoded d;
    const struct nvdp_msg *r;

    r = req1(x, 0, HV1, assoc(1, 100, 1));
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(r->req_type, NVDP_MSG_ASSOC);
    assert_true(r->has_tag);
    assert_int_equal(r->tag, 2);
    /* one frame, unicast: HELLO for the new peer, then the RESPONSE */
    assert_int_equal(x->ncap, 1);
    assert_memory_equal(x->cap[0].dst, HV1, 6);
    decode(&x->cap[0], &d);
    assert_int_equal(d.m[0].type, NVDP_MSG_HELLO);
    assert_int_equal(d.hdr.peer_epoch, 0); /* not resynced yet */
    assert_int_equal(nve_proto_npeers(x->p), 1);
    assert_int_equal(x->tree.nvnic, 1);
    /* VN by UUID, second VNIC, same VN: same tag */
    struct nvdp_msg *m = assoc(2, 0, 2);
    m->vn.kind = NVDP_VN_UUID;
    nvdp_uuid_parse("6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01", &m->vn.uuid);
    r = req1(x, 0, HV2, m);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(r->tag, 2);
    /* RESYNC BEGIN: from then on our frames carry the peer's epoch */
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1;
    m->phase = NVDP_RESYNC_BEGIN;
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_OK);
    decode(&x->cap[0], &d);
    assert_int_equal(d.hdr.peer_epoch, HV_EPOCH);
    assert_int_equal(d.m[0].type, NVDP_MSG_RESPONSE); /* no HELLO now */
}

static void
test_error_replies(void **state)
{
    struct fx *x = *state;
    const struct nvdp_msg *r;
    struct nvdp_msg *m;

    r = req1(x, 0, HV1, assoc(1, 999, 1));
    assert_int_equal(r->status, NVDP_ST_UNKNOWN_VN);
    assert_non_null(strstr(r->reason, "unknown VN"));
    /* hypervisor not in p1's list */
    r = req1(x, 1, HV2, assoc(1, 100, 1));
    assert_int_equal(r->status, NVDP_ST_NOT_AUTHORISED);
    assert_int_equal(nve_proto_counters(x->p)->unauthorised, 1);
    assert_int_equal(nve_proto_port_counters(x->p, 1)->unauthorised, 1);
    /* VN not allowed on p1 */
    r = req1(x, 1, HV1, assoc(1, 300, 1));
    assert_int_equal(r->status, NVDP_ST_NOT_AUTHORISED);
    assert_non_null(strstr(r->reason, "not allowed"));
    /* p1 has a single tag: blue takes it, red finds none */
    r = req1(x, 1, HV1, assoc(1, 100, 1));
    assert_int_equal(r->tag, 10);
    r = req1(x, 1, HV1, assoc(2, 200, 2));
    assert_int_equal(r->status, NVDP_ST_NO_TAGS);
    /* MAC of VNIC 1 claimed by VNIC 3 in the same VN */
    r = req1(x, 0, HV1, assoc(3, 100, 1));
    assert_int_equal(r->status, NVDP_ST_CONFLICT);
    /* limit: 8 records per VNIC */
    m = assoc(4, 100, 4);
    for (unsigned i = 0; i < 8; i++)
        add_ip(m, 4, (uint8_t)(10 + i));
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_LIMIT);
    /* VNIC_STATE of an unknown VNIC */
    m = msg_new(NVDP_MSG_VNIC_STATE);
    m->has_vnic = 1, m->vnic = U(77);
    m->has_state = 1, m->state = NVDP_VNIC_DOWN;
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_UNKNOWN_VNIC);
    /* WITHDRAW is NVE -> hypervisor only */
    m = msg_new(NVDP_MSG_WITHDRAW);
    set_vni(m, 100);
    snprintf(m->reason, sizeof(m->reason), "x");
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_UNSUPPORTED);
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    assert_int_equal(c->status[NVDP_ST_UNKNOWN_VN], 1);
    assert_int_equal(c->status[NVDP_ST_NOT_AUTHORISED], 2);
    assert_int_equal(c->status[NVDP_ST_NO_TAGS], 1);
    assert_int_equal(c->status[NVDP_ST_CONFLICT], 1);
    assert_int_equal(c->status[NVDP_ST_LIMIT], 1);
    assert_int_equal(c->status[NVDP_ST_UNKNOWN_VNIC], 1);
    assert_int_equal(c->status[NVDP_ST_UNSUPPORTED], 1);
    assert_int_equal(x->tree.nvnic, 1); /* only blue on p1 made it */
}

/* Hand-made TLVs for what the encoder refuses to produce. */
static size_t
raw_frame(uint8_t *b, uint32_t epoch, const uint8_t *tlvs, size_t n)
{
    b[0] = 1, b[1] = 0;
    b[2] = (uint8_t)(n >> 8), b[3] = (uint8_t)n;
    b[4] = (uint8_t)(epoch >> 24), b[5] = (uint8_t)(epoch >> 16);
    b[6] = (uint8_t)(epoch >> 8), b[7] = (uint8_t)epoch;
    memset(b + 8, 0, 4);
    memcpy(b + 12, tlvs, n);
    return 12 + n;
}

static void
test_unsupported_and_malformed_requests(void **state)
{
    struct fx *x = *state;
    uint8_t b[256];
    /* unknown mandatory message 0x80F0 with txid 5, then a VN_CONNECT with
     * txid 6 lacking its VNIC sub-TLV (VNI only) */
    static const uint8_t t[] = {
        0x80, 0xF0, 0x00, 0x04, 0, 0, 0, 5,
        0x80, 0x03, 0x00, 0x0C, 0, 0, 0, 6, 0x81, 0x03, 0x00, 0x04, 0, 0, 0, 100,
        0x00, 0x42, 0x00, 0x02, 0xAA, 0xBB, /* unknown optional: skipped */
    };
    size_t len = raw_frame(b, HV_EPOCH, t, sizeof(t));

    x->ncap = 0;
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    const struct nvdp_msg *r = find_resp(x, 5);
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_UNSUPPORTED);
    assert_int_equal(r->req_type, 0x80F0);
    r = find_resp(x, 6);
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_MALFORMED);
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    assert_int_equal(c->decode_err[-NVDP_E_UNKNOWN], 1);
    assert_int_equal(c->decode_err[-NVDP_E_MISSING], 1);
    assert_int_equal(c->rx_msg_errors, 2);
    assert_int_equal(c->rx_unknown_skipped, 1);
    assert_int_equal(x->tree.nvnic, 0);
    /* the same frame again: both answers come from the duplicate cache */
    x->ncap = 0;
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    r = find_resp(x, 6);
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_MALFORMED);
    assert_non_null(find_resp(x, 5));
    assert_int_equal(c->rx_dup, 2);

    /* an ASSOC too short for its txid, and a HELLO with role 0: counted,
     * never answered */
    static const uint8_t t2[] = {
        0x80, 0x05, 0x00, 0x02, 0, 1,
        0x80, 0x01, 0x00, 0x08, 0, 0, 0, 10, 0x03, 0xe8, 0, 16,
    };
    len = raw_frame(b, HV_EPOCH, t2, sizeof(t2));
    x->ncap = 0;
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    assert_int_equal(c->rx_short_txid, 1);
    assert_int_equal(c->rx_msg_errors, 5); /* 2 + 2 (the repeat) + HELLO */
    assert_int_equal(x->ncap, 0);
}

static void
test_peer_limits_and_direction(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    struct nvdp_msg *m;

    x->conf->ports[0].max_hv = 1;
    assert_int_equal(req1(x, 0, HV1, assoc(1, 100, 1))->status, NVDP_ST_OK);
    assert_int_equal(nve_proto_npeers(x->p), 1);
    /* a second hypervisor on a port that holds its limit of hypervisors
     * holding state: heard (a newcomer), its first VNIC refused */
    const struct nvdp_msg *r = req1(x, 0, HV2, assoc(2, 100, 2));
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_LIMIT);
    assert_int_equal(c->peers_over_limit, 1);
    assert_int_equal(nve_proto_npeers(x->p), 2);
    assert_int_equal(x->tree.nvnic, 1);
    /* HV1 lets its VNIC go: its place is free, HV2 gets in */
    m = msg_new(NVDP_MSG_VNIC_DISASSOC);
    m->has_vnic = 1, m->vnic = U(1), m->intent = NVDP_INTENT_SHUTDOWN;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    assert_int_equal(req1(x, 0, HV2, assoc(2, 100, 2))->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 1);
    /* an unauthorised HELLO makes no peer */
    req1(x, 1, HV2, hv_hello(10));
    assert_int_equal(nve_proto_npeers(x->p), 2);
    assert_int_equal(c->unauthorised, 1);
    /* a HELLO with the NVE role from a station: counted, ignored */
    m = hv_hello(10);
    m->hello.role = NVDP_ROLE_NVE;
    req1(x, 0, HV1, m);
    assert_int_equal(c->bad_direction, 1);
    /* a RESPONSE to nothing we asked */
    m = msg_new(NVDP_MSG_RESPONSE);
    m->txid = 99;
    m->req_type = NVDP_MSG_WITHDRAW;
    req1(x, 0, HV1, m);
    assert_int_equal(c->rx_stray_responses, 1);
}

/* A hypervisor still heard must learn that its VNIC is gone (spec 13): a
 * WITHDRAW given up goes again under a new txid until answered; one from a
 * hypervisor that expires is dropped with it. */
static void
test_withdraw_giveup(void **state)
{
    struct fx *x = *state;
    struct tree_filter f = {.port = 0, .vni = 100};
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    uint32_t first = 0, last = 0, txid[8];
    uint64_t t = x->now;

    req1(x, 0, HV1, assoc(1, 100, 1));
    x->ncap = 0;
    assert_int_equal(nve_proto_withdraw(x->p, &f, "gone", t), 1);
    assert_int_equal(withdraws_sent(x, &first, 1), 1);
    /* keep the hypervisor alive (hold 10 s) but never answer */
    for (int i = 0; i < 40; i++) {
        t += 500;
        x->now = t;
        if (i % 10 == 0)
            req1(x, 0, HV1, hv_hello(10));
        x->ncap = 0;
        nve_proto_timers(x->p, t);
        for (int k = withdraws_sent(x, txid, 8); k > 0; k--)
            last = txid[k - 1];
    }
    assert_int_equal(c->tx_giveups, 1);
    assert_true(c->tx_retransmits > 7); /* more than the first 8 tries */
    assert_true(last > first);
    assert_int_equal(c->withdraws, 1);
    assert_int_equal(c->withdraws_unsent, 0);
    /* an answer to the given-up txid changes nothing; to the new one, it
     * ends the retransmissions */
    answer_withdraw(x, 0, HV1, first, NVE_EPOCH);
    assert_int_equal(c->rx_stray_responses, 1);
    answer_withdraw(x, 0, HV1, last, NVE_EPOCH);
    x->ncap = 0;
    nve_proto_timers(x->p, t + 4000);
    assert_int_equal(withdraws_sent(x, txid, 8), 0);

    /* a hypervisor that goes silent: dropped at its expiry, with its
     * WITHDRAWs */
    x->now = t += 1000;
    req1(x, 0, HV1, assoc(2, 100, 2));
    assert_int_equal(nve_proto_withdraw(x->p, &f, "gone", t), 1);
    for (int i = 0; i < 60; i++) {
        x->ncap = 0;
        nve_proto_timers(x->p, t += 500);
    }
    assert_int_equal(nve_proto_npeers(x->p), 0);
    x->ncap = 0;
    nve_proto_timers(x->p, t += 5000);
    assert_int_equal(withdraws_sent(x, txid, 8), 0);
}

static void
test_malformed_frames(void **state)
{
    struct fx *x = *state;
    uint8_t b[256];
    static const uint8_t t[] = {0x80, 0x05, 0x00, 0x40, 0, 0, 0, 1};
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    size_t len;

    x->ncap = 0;
    memset(b, 0, sizeof(b));
    b[0] = 1;
    nve_proto_input(x->p, 0, HV1, NULL, b, 5, x->now); /* truncated header */
    assert_int_equal(c->decode_err[-NVDP_E_SHORT], 1);
    len = raw_frame(b, HV_EPOCH, t, sizeof(t));
    b[0] = 9; /* version */
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    assert_int_equal(c->decode_err[-NVDP_E_VERSION], 1);
    b[0] = 1; /* TLV claims 64 bytes, 4 present */
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    assert_int_equal(c->decode_err[-NVDP_E_LENGTH], 1);
    len = raw_frame(b, 0, t, 0); /* epoch 0 */
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    assert_int_equal(c->decode_err[-NVDP_E_VALUE], 1);
    len = raw_frame(b, HV_EPOCH, t, 0);
    b[1] = NVDP_HF_AUTH; /* authentication is not configured */
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    assert_int_equal(c->auth_unsupported, 1);
    /* a request followed by an AUTH TLV the header does not announce:
     * the whole frame is dropped, the request not applied */
    static const uint8_t ta[] = {
        0x80, 0x03, 0x00, 0x20, 0, 0, 0, 9,
        0x81, 0x01, 0x00, 0x10, 0xab, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 9,
        0x81, 0x03, 0x00, 0x04, 0, 0, 0, 100,
        0x80, 0xFF, 0x00, 0x2C, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    };
    len = raw_frame(b, HV_EPOCH, ta, sizeof(ta));
    nve_proto_input(x->p, 0, HV1, NULL, b, len, x->now);
    assert_int_equal(c->decode_err[-NVDP_E_AUTH], 1);
    assert_int_equal(x->tree.nvnic, 0);
    /* multicast source */
    len = raw_frame(b, HV_EPOCH, t, 0);
    nve_proto_input(x->p, 0, GROUP, NULL, b, len, x->now);
    assert_int_equal(c->rx_malformed, 5); /* short, length, epoch, auth,
                                           * source */
    assert_int_equal(c->rx_bad_version, 1);
    /* none of this was answered, nor created a peer... except the frame
     * with a bad TLV length, whose sender is a valid, authorised station */
    assert_int_equal(x->tree.nvnic, 0);
    for (int i = 0; i < x->ncap; i++) {
        struct decoded d;
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++)
            assert_int_not_equal(d.m[k].type, NVDP_MSG_RESPONSE);
    }
    /* and the engine still works */
    const struct nvdp_msg *r = req1(x, 0, HV1, assoc(1, 100, 1));
    assert_int_equal(r->status, NVDP_ST_OK);
}

static void
test_duplicates_from_cache(void **state)
{
    struct fx *x = *state;
    struct nvdp_msg *m = assoc(1, 100, 1);
    size_t len;
    uint8_t first[NVDP_FRAME_MAX];
    size_t first_len;

    f_begin(x, HV_EPOCH, 0);
    uint32_t t = f_add(x, m);
    len = nvdp_writer_finish(&x->w);
    memcpy(first, x->wbuf, len);
    first_len = len;
    x->ncap = 0;
    nve_proto_input(x->p, 0, HV1, NULL, first, first_len, x->now);
    const struct nvdp_msg *r = find_resp(x, t);
    assert_int_equal(r->status, NVDP_ST_OK);
    uint16_t tag = r->tag;
    /* DISASSOC the MAC, then the ASSOC retransmitted: answered, not
     * re-applied (the MAC stays gone) */
    struct nvdp_msg *d = msg_new(NVDP_MSG_DISASSOC);
    d->has_vnic = 1, d->vnic = U(1);
    set_vni(d, 100);
    d->naddr = 1;
    d->addr[0] = m->addr[0];
    d->addr[0].kind = NVDP_ADDR_MAC;
    d->addr[0].family = 0;
    r = req1(x, 0, HV1, d);
    assert_int_equal(r->status, NVDP_ST_OK);
    struct tree_vnic *v = tree_find(&x->tree, &m->vnic, 0, HV1);
    assert_int_equal(v->naddr, 0);
    x->ncap = 0;
    nve_proto_input(x->p, 0, HV1, NULL, first, first_len, x->now);
    r = find_resp(x, t);
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(r->tag, tag);
    assert_int_equal(v->naddr, 0);
    assert_int_equal(nve_proto_counters(x->p)->rx_dup, 1);
    free(m);
}

static void
test_hold_expiry_releases(void **state)
{
    struct fx *x = *state;
    struct nvdp_msg *h = msg_new(NVDP_MSG_HELLO);

    h->hello.role = NVDP_ROLE_HV;
    h->hello.hold_time = 3;
    h->hello.hello_interval = 1000;
    h->hello.window = 16;
    snprintf(h->hello.name, sizeof(h->hello.name), "hv1");
    struct nvdp_msg *a1 = assoc(1, 100, 1), *a2 = assoc(2, 100, 2);
    f_begin(x, HV_EPOCH, 0);
    f_add(x, h);
    f_add(x, a1);
    f_send(x, 0, HV1);
    /* HV2 advertises 100 s: capped by our hold-time (10 s) */
    h->hello.hold_time = 100;
    f_begin(x, HV_EPOCH + 1, 0);
    f_add(x, h);
    f_add(x, a2);
    f_send(x, 0, HV2);
    free(h);
    free(a1);
    free(a2);
    assert_int_equal(x->tree.nvnic, 2);
    const struct tag_alloc *ta = tree_port_tags(&x->tree, 0);
    assert_int_equal(tag_refs(ta, 2), 2);
    nve_proto_timers(x->p, x->now + 2999);
    assert_int_equal(nve_proto_npeers(x->p), 2);
    nve_proto_timers(x->p, x->now + 3000);
    assert_int_equal(nve_proto_npeers(x->p), 1);
    assert_int_equal(x->tree.nvnic, 1);
    assert_int_equal(tag_refs(ta, 2), 1);
    nve_proto_timers(x->p, x->now + 10000);
    assert_int_equal(nve_proto_npeers(x->p), 0);
    assert_int_equal(x->tree.nvnic, 0);
    assert_false(tag_in_use(ta, 2));
    assert_int_equal(nve_proto_counters(x->p)->peers_expired, 2);
}

static void
test_epoch_change(void **state)
{
    struct fx *x = *state;
    struct decoded d;
    struct nvdp_msg *m;

    req1(x, 0, HV1, assoc(1, 100, 1));
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    req1(x, 0, HV1, m);
    /* restarted hypervisor: txid 1 again, new epoch (a hello interval
     * after the first contact's unicast HELLO: spec 15) */
    x->now += x->conf->hello_ms;
    f_begin(x, HV_EPOCH + 7, 0);
    m = assoc(2, 100, 2);
    m->txid = 1;
    f_add(x, m);
    f_send(x, 0, HV1);
    free(m);
    const struct nvdp_msg *r = find_resp(x, 1);
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_OK); /* new, not a duplicate */
    decode(&x->cap[0], &d);
    assert_int_equal(d.m[0].type, NVDP_MSG_HELLO);
    assert_int_equal(d.hdr.peer_epoch, 0); /* it must resync with us */
    assert_int_equal(nve_proto_counters(x->p)->peer_restarts, 1);
    assert_int_equal(nve_proto_counters(x->p)->rx_dup, 0);
    assert_int_equal(x->tree.nvnic, 2); /* kept until its RESYNC END */
}

static void
test_resync_sweep(void **state)
{
    struct fx *x = *state;
    struct nvdp_msg *m;
    const struct nvdp_msg *r;

    req1(x, 0, HV1, assoc(1, 100, 1));
    req1(x, 0, HV1, assoc(2, 200, 2));
    req1(x, 0, HV2, assoc(3, 100, 3));
    assert_int_equal(x->tree.nvnic, 3);
    f_begin(x, HV_EPOCH + 1, 0); /* HV1 restarted */
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    m->txid = 1;
    f_add(x, m);
    struct nvdp_msg *a = assoc(1, 100, 1);
    a->txid = 2;
    a->has_tag_hint = 1, a->tag_hint = 2;
    f_add(x, a);
    f_send(x, 0, HV1);
    r = find_resp(x, 2);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(r->tag, 2);
    /* forwarding continues: VNIC 2 still there until END */
    assert_int_equal(x->tree.nvnic, 3);
    f_begin(x, HV_EPOCH + 1, HV_EPOCH);
    m->phase = NVDP_RESYNC_END;
    m->txid = 3;
    f_add(x, m);
    f_send(x, 0, HV1);
    r = find_resp(x, 3);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 2);
    struct nvdp_uuid u2 = U(2), u1 = U(1), u3 = U(3);
    assert_null(tree_find(&x->tree, &u2, 0, HV1));
    assert_non_null(tree_find(&x->tree, &u1, 0, HV1));
    assert_non_null(tree_find(&x->tree, &u3, 0, HV2));
    free(m);
    free(a);
}

static void
test_withdraw(void **state)
{
    struct fx *x = *state;
    struct decoded d;

    req1(x, 0, HV1, assoc(1, 100, 1));
    req1(x, 0, HV1, assoc(2, 100, 2));
    req1(x, 0, HV2, assoc(3, 100, 3));
    x->ncap = 0;
    struct nvdp_uuid u1 = U(1);
    struct tree_filter f = {.port = 0, .vni = 100, .vnic = &u1};
    assert_int_equal(nve_proto_withdraw(x->p, &f, "maintenance", x->now), 1);
    assert_int_equal(x->tree.nvnic, 2);
    assert_int_equal(x->ncap, 1);
    assert_memory_equal(x->cap[0].dst, HV1, 6);
    decode(&x->cap[0], &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.m[0].type, NVDP_MSG_WITHDRAW);
    /* named as the hypervisor named it (by VNI), though the VN has a UUID:
     * a hypervisor compares the VN it sent with the one withdrawn */
    assert_int_equal(d.m[0].vn.kind, NVDP_VN_VNI);
    assert_int_equal(d.m[0].vn.vni, 100);
    assert_true(d.m[0].has_vnic);
    assert_memory_equal(&d.m[0].vnic, &u1, 16);
    assert_string_equal(d.m[0].reason, "maintenance");
    assert_int_equal(d.m[0].tag, 2);
    uint32_t wtx = d.m[0].txid;
    /* unanswered: retransmitted after 200 ms */
    x->ncap = 0;
    nve_proto_timers(x->p, x->now + 199);
    for (int i = 0; i < x->ncap; i++)
        assert_memory_not_equal(x->cap[i].dst, HV1, 6);
    x->ncap = 0;
    nve_proto_timers(x->p, x->now + 200);
    int seen = 0;
    for (int i = 0; i < x->ncap; i++) {
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++)
            seen += d.m[k].type == NVDP_MSG_WITHDRAW && d.m[k].txid == wtx;
    }
    assert_int_equal(seen, 1);
    /* the hypervisor answers: no more retransmissions */
    struct nvdp_msg *r = msg_new(NVDP_MSG_RESPONSE);
    r->txid = wtx;
    r->req_type = NVDP_MSG_WITHDRAW;
    f_begin(x, HV_EPOCH, NVE_EPOCH);
    f_add(x, r);
    f_send(x, 0, HV1);
    free(r);
    x->ncap = 0;
    nve_proto_timers(x->p, x->now + 5000);
    assert_int_equal(withdraws_sent(x, &wtx, 1), 0);
    /* VN-wide: one WITHDRAW per hypervisor, without a VNIC */
    x->ncap = 0;
    f = (struct tree_filter){.port = 0, .vni = 100};
    assert_int_equal(nve_proto_withdraw(x->p, &f, NULL, x->now), 2);
    assert_int_equal(x->ncap, 2);
    for (int i = 0; i < 2; i++) {
        decode(&x->cap[i], &d);
        assert_int_equal(d.n, 1);
        assert_false(d.m[0].has_vnic);
        assert_true(strlen(d.m[0].reason) > 0);
    }
    assert_int_equal(x->tree.nvnic, 0);
    assert_int_equal(nve_proto_counters(x->p)->withdraws, 3);
}

static void
test_batching(void **state)
{
    struct fx *x = *state;
    struct decoded d;
    uint32_t first = x->txid;

    nve_proto_port_up(x->p, 0, "p0", NULL, 200, x->now); /* small MTU */
    f_begin(x, HV_EPOCH, 0);
    for (unsigned i = 0; i < 40; i++) {
        struct nvdp_msg *m = assoc(100 + i, 100, 100 + i);
        f_add(x, m);
        free(m);
    }
    f_send(x, 0, HV1);
    assert_int_equal(x->tree.nvnic, 40);
    assert_true(x->ncap > 1);
    int n = 0;
    uint32_t expect = first;
    for (int i = 0; i < x->ncap; i++) {
        assert_true(x->cap[i].len <= 200);
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++) {
            if (d.m[k].type != NVDP_MSG_RESPONSE)
                continue;
            assert_int_equal(d.m[k].txid, expect++); /* in order */
            assert_int_equal(d.m[k].status, NVDP_ST_OK);
            n++;
        }
    }
    assert_int_equal(n, 40);
    /* as few frames as fit: each frame but the last is nearly full */
    size_t per = nvdp_msg_size(&d.m[d.n - 1]);
    for (int i = 0; i + 1 < x->ncap; i++)
        assert_true(x->cap[i].len + per > 200);
}

static void
test_vnic_ops(void **state)
{
    struct fx *x = *state;
    const struct nvdp_msg *r;
    struct nvdp_msg *m;
    struct nvdp_uuid u1 = U(1);

    /* VN_CONNECT, PREASSOC (RR and not), VNIC_STATE, VNIC_DISASSOC,
     * VN_DISCONNECT through the wire */
    m = msg_new(NVDP_MSG_VN_CONNECT);
    m->has_vnic = 1, m->vnic = u1;
    set_vni(m, 100);
    m->has_tag_hint = 1, m->tag_hint = 77;
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(r->tag, 77);
    m = msg_new(NVDP_MSG_VNIC_STATE);
    m->has_vnic = 1, m->vnic = u1;
    m->has_state = 1, m->state = NVDP_VNIC_DOWN;
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_string_equal(tree_state_str(tree_find(&x->tree, &u1, 0, HV1)),
                        "down");
    m = msg_new(NVDP_MSG_VN_DISCONNECT);
    m->has_vnic = 1, m->vnic = u1;
    set_vni(m, 100);
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 0);
    /* pre-association without RR: no tag; with RR: tag */
    m = assoc(2, 100, 2);
    m->type = NVDP_MSG_PREASSOC;
    r = req1(x, 0, HV2, m);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_false(r->has_tag);
    m = assoc(2, 100, 2);
    m->type = NVDP_MSG_PREASSOC;
    m->has_flags = 1, m->rflags = NVDP_RF_RR;
    r = req1(x, 0, HV2, m);
    assert_true(r->has_tag);
    /* expires after preassoc-timeout (5 s) via the timers */
    nve_proto_timers(x->p, x->now + 4999);
    assert_int_equal(x->tree.nvnic, 1);
    req1(x, 0, HV2, hv_hello(10)); /* keep the peer alive */
    nve_proto_timers(x->p, x->now + 5000);
    assert_int_equal(x->tree.nvnic, 0);
    /* VNIC_DISASSOC of something unknown: OK */
    m = msg_new(NVDP_MSG_VNIC_DISASSOC);
    m->has_vnic = 1, m->vnic = U(9);
    m->has_intent = 1, m->intent = NVDP_INTENT_SHUTDOWN;
    r = req1(x, 0, HV1, m);
    assert_int_equal(r->status, NVDP_ST_OK);
}

/* Mutated copies of valid frames (bit flips, truncation, byte stores):
 * the engine must neither crash (ASan/UBSan) nor stop answering. */
static void
test_mutation_storm(void **state)
{
    struct fx *x = *state;
    uint8_t base[NVDP_FRAME_MAX], b[NVDP_FRAME_MAX];
    size_t blen;
    uint32_t rnd = 12345;
    struct nvdp_msg *m;

    f_begin(x, HV_EPOCH, 0);
    m = hv_hello(10);
    f_add(x, m);
    free(m);
    for (unsigned i = 0; i < 6; i++) {
        m = assoc(i, i % 2 ? 100 : 200, i);
        if (i == 3)
            m->type = NVDP_MSG_PREASSOC;
        f_add(x, m);
        free(m);
    }
    m = msg_new(NVDP_MSG_VNIC_DISASSOC);
    m->has_vnic = 1, m->vnic = U(2);
    m->has_intent = 1, m->intent = NVDP_INTENT_MIGRATION;
    f_add(x, m);
    free(m);
    blen = nvdp_writer_finish(&x->w);
    memcpy(base, x->wbuf, blen);
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    for (unsigned it = 0; it < 20000; it++) {
        size_t len = blen;
        memcpy(b, base, blen);
        unsigned nmut = 1 + (rnd >> 28);
        for (unsigned k = 0; k < nmut; k++) {
            rnd = rnd * 1103515245u + 12345u;
            size_t pos = (rnd >> 8) % blen;
            switch ((rnd >> 4) & 3) {
            case 0: b[pos] ^= (uint8_t)(1u << ((rnd >> 1) & 7)); break;
            case 1: b[pos] = (uint8_t)(rnd >> 16); break;
            case 2: len = pos; break;
            case 3: b[pos] = 0xff; break;
            }
        }
        /* several sources so that dedupe does not hide everything */
        uint8_t src[6] = {0x02, 0, 0, 0, 0, (uint8_t)(it % 64)};
        x->ncap = 0;
        nve_proto_input(x->p, (uint16_t)(it & 1), src, NULL, b, len,
                        x->now + it);
        if ((it & 255) == 0)
            nve_proto_timers(x->p, x->now + it);
    }
    /* everything was looked at, most of it refused somewhere */
    assert_int_equal(c->rx_frames, 20000);
    assert_true(c->rx_malformed + c->rx_bad_version + c->rx_msg_errors > 1000);
    assert_true(c->status[NVDP_ST_OK] > 1000);
    print_message("storm: %llu malformed frames, %llu message errors, %llu OK\n",
                  (unsigned long long)c->rx_malformed,
                  (unsigned long long)c->rx_msg_errors,
                  (unsigned long long)c->status[NVDP_ST_OK]);
    /* still healthy: a clean request from a new station is answered (the
     * storm's sources may hold high txids under HV_EPOCH: ours would be
     * stale for them, rightly) */
    static const uint8_t fresh[6] = {0x02, 0, 0, 0, 0x7f, 0x7f};
    const struct nvdp_msg *r = req1(x, 0, fresh, assoc(77, 100, 77));
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_OK);
}

/* With the hypervisor's HELLO window 2, five WITHDRAWs: two in flight,
 * the rest queued and sent as answers free the window. */
static void
test_withdraw_window_queue(void **state)
{
    struct fx *x = *state;
    struct decoded d;
    uint32_t seen[16];
    int nseen = 0;
    struct nvdp_msg *h = hv_hello(10);

    h->hello.window = 2;
    req1(x, 0, HV1, h);
    for (unsigned i = 1; i <= 5; i++)
        req1(x, 0, HV1, assoc(i, 100, i));
    x->ncap = 0;
    for (unsigned i = 1; i <= 5; i++) {
        struct nvdp_uuid u = U(i);
        struct tree_filter f = {.port = 0, .vni = 100, .vnic = &u};
        assert_int_equal(nve_proto_withdraw(x->p, &f, "w", x->now), 1);
    }
    assert_int_equal(nve_proto_counters(x->p)->withdraws, 5);
    assert_int_equal(nve_proto_counters(x->p)->withdraws_unsent, 0);
    for (uint64_t t = x->now;; t += 50) {
        /* collect what was sent, answer the oldest in flight */
        uint32_t pend[16];
        int npend = 0;
        for (int i = 0; i < x->ncap; i++) {
            decode(&x->cap[i], &d);
            for (int k = 0; k < d.n; k++) {
                if (d.m[k].type != NVDP_MSG_WITHDRAW)
                    continue;
                int known = 0;
                for (int j = 0; j < nseen; j++)
                    known |= seen[j] == d.m[k].txid;
                if (!known)
                    seen[nseen++] = d.m[k].txid;
            }
        }
        x->ncap = 0;
        for (int j = 0; j < nseen; j++)
            if (seen[j] != 0)
                pend[npend++] = seen[j];
        assert_true(npend <= 2);
        if (npend == 0 && nseen == 5)
            break;
        assert_true(t < x->now + 5000);
        if (npend) {
            answer_withdraw(x, 0, HV1, pend[0], NVE_EPOCH);
            for (int j = 0; j < nseen; j++)
                if (seen[j] == pend[0])
                    seen[j] = 0; /* answered */
            x->ncap = 0;
        }
        nve_proto_timers(x->p, t);
    }
    assert_int_equal(nseen, 5);
}

/* The hypervisor matches a WITHDRAW against the VN it sent: the NVE names
 * the VN as each hypervisor named it, one VN-wide WITHDRAW per name. */
static void
test_withdraw_vn_as_named(void **state)
{
    struct fx *x = *state;
    struct decoded d;
    struct nvdp_msg *m;
    struct nvdp_uuid blue;
    int by_uuid = 0, by_vni = 0;

    nvdp_uuid_parse("6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01", &blue);
    req1(x, 0, HV1, hv_hello(10)); /* its window: more than 1 (spec 10.2) */
    m = assoc(1, 0, 1);
    m->vn.kind = NVDP_VN_UUID;
    m->vn.uuid = blue;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    assert_int_equal(req1(x, 0, HV1, assoc(2, 100, 2))->status, NVDP_ST_OK);
    x->ncap = 0;
    struct tree_filter f = {.port = 0, .vni = 100};
    assert_int_equal(nve_proto_withdraw(x->p, &f, "vn retired", x->now), 2);
    for (int i = 0; i < x->ncap; i++) {
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++) {
            if (d.m[k].type != NVDP_MSG_WITHDRAW)
                continue;
            assert_false(d.m[k].has_vnic);
            if (d.m[k].vn.kind == NVDP_VN_UUID) {
                assert_memory_equal(&d.m[k].vn.uuid, &blue, 16);
                by_uuid++;
            } else {
                assert_int_equal(d.m[k].vn.vni, 100);
                by_vni++;
            }
        }
    }
    assert_int_equal(by_uuid, 1);
    assert_int_equal(by_vni, 1);
    /* per VNIC: the name that VNIC used */
    m = assoc(3, 0, 3);
    m->vn.kind = NVDP_VN_UUID;
    m->vn.uuid = blue;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    x->ncap = 0;
    struct nvdp_uuid u3 = U(3);
    f = (struct tree_filter){.port = 0, .vni = 100, .vnic = &u3};
    assert_int_equal(nve_proto_withdraw(x->p, &f, "gone", x->now), 1);
    assert_int_equal(x->ncap, 1);
    decode(&x->cap[0], &d);
    assert_int_equal(d.m[0].type, NVDP_MSG_WITHDRAW);
    assert_int_equal(d.m[0].vn.kind, NVDP_VN_UUID);
}

/* Spec 9.9: END without BEGIN (in this epoch) is OK and has no effect, even
 * when entries are still marked stale by an earlier incarnation's BEGIN. */
static void
test_resync_end_without_begin(void **state)
{
    struct fx *x = *state;
    struct nvdp_msg *m;
    const struct nvdp_msg *r;

    req1(x, 0, HV1, assoc(1, 100, 1));
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    /* the hypervisor restarts before its replay: entries stay stale */
    f_begin(x, HV_EPOCH + 1, 0);
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_END;
    m->txid = 1;
    f_add(x, m);
    f_send(x, 0, HV1);
    free(m);
    r = find_resp(x, 1);
    assert_non_null(r);
    assert_int_equal(r->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 1);
    /* a plain END with nothing stale and no BEGIN: OK, nothing removed */
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_END;
    assert_int_equal(req1(x, 0, HV2, m)->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 1);
}

/* VNIC_DISASSOC intent=shutdown purges the VNIC on every port (spec 9.6);
 * the state of other hypervisors it removes is withdrawn from them, so that
 * they do not keep reporting a VNIC the NVE no longer holds (spec 13). */
static void
test_shutdown_withdraws_elsewhere(void **state)
{
    struct fx *x = *state;
    struct decoded d;
    struct nvdp_msg *m;
    int to_hv1 = 0, to_hv2 = 0;
    struct nvdp_uuid u1 = U(1);

    assert_int_equal(req1(x, 0, HV1, assoc(1, 100, 1))->status, NVDP_ST_OK);
    m = assoc(1, 100, 1); /* the migration destination, same port */
    m->type = NVDP_MSG_PREASSOC;
    assert_int_equal(req1(x, 0, HV2, m)->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 2);
    m = msg_new(NVDP_MSG_VNIC_DISASSOC);
    m->has_vnic = 1, m->vnic = u1;
    m->has_intent = 1, m->intent = NVDP_INTENT_SHUTDOWN;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 0);
    for (int i = 0; i < x->ncap; i++) {
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++) {
            if (d.m[k].type != NVDP_MSG_WITHDRAW)
                continue;
            assert_true(d.m[k].has_vnic);
            assert_memory_equal(&d.m[k].vnic, &u1, 16);
            to_hv1 += memcmp(x->cap[i].dst, HV1, 6) == 0;
            to_hv2 += memcmp(x->cap[i].dst, HV2, 6) == 0;
        }
    }
    assert_int_equal(to_hv1, 0); /* the requester knows */
    assert_int_equal(to_hv2, 1);
    /* intent=migration leaves the other location alone, and says nothing */
    assert_int_equal(req1(x, 0, HV1, assoc(2, 100, 2))->status, NVDP_ST_OK);
    m = assoc(2, 100, 2);
    m->type = NVDP_MSG_PREASSOC;
    assert_int_equal(req1(x, 0, HV2, m)->status, NVDP_ST_OK);
    m = msg_new(NVDP_MSG_VNIC_DISASSOC);
    m->has_vnic = 1, m->vnic = U(2);
    m->has_intent = 1, m->intent = NVDP_INTENT_MIGRATION;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 1);
    for (int i = 0; i < x->ncap; i++) {
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++)
            assert_int_not_equal(d.m[k].type, NVDP_MSG_WITHDRAW);
    }
}

/* A request from before the hypervisor's RESYNC BEGIN, delayed in the
 * network, arrives after it: stale, not applied, not answered (spec 10.4). */
static void
test_resync_floor(void **state)
{
    struct fx *x = *state;
    struct nvdp_uuid u5 = U(5);
    struct nvdp_msg *m, *late = assoc(5, 100, 5);
    uint32_t late_txid;

    req1(x, 0, HV1, assoc(1, 100, 1));
    late_txid = x->txid++;               /* sent, still on its way */
    late->txid = late_txid;
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    assert_non_null(req1(x, 0, HV1, m));
    f_begin(x, HV_EPOCH, NVE_EPOCH);
    f_add(x, late);
    f_send(x, 0, HV1);
    assert_null(find_resp(x, late_txid));
    assert_null(tree_find(&x->tree, &u5, 0, HV1));
    assert_int_equal(nve_proto_counters(x->p)->rx_stale, 1);
    /* later requests go through */
    assert_int_equal(req1(x, 0, HV1, assoc(6, 100, 6))->status, NVDP_ST_OK);
    free(late);
}

/* Unicast HELLOs with peer_epoch 0 to a hypervisor we hold no session
 * for, every hello interval until its RESYNC BEGIN: one lost must not
 * leave it believing we hold its state (spec 11.4). */
static void
test_nostate_hello_repeated(void **state)
{
    struct fx *x = *state;
    struct decoded d;
    struct nvdp_msg *m;
    int unicast;

    req1(x, 0, HV1, hv_hello(10));       /* first contact */
    for (int round = 0; round < 3; round++) {
        x->ncap = 0;
        x->now += x->conf->hello_ms;
        nve_proto_timers(x->p, x->now);
        unicast = 0;
        for (int i = 0; i < x->ncap; i++) {
            if (memcmp(x->cap[i].dst, HV1, 6) != 0)
                continue;
            decode(&x->cap[i], &d);
            assert_int_equal(d.m[0].type, NVDP_MSG_HELLO);
            assert_int_equal(d.hdr.peer_epoch, 0);
            unicast++;
        }
        assert_int_equal(unicast, 1);
        req1(x, 0, HV1, hv_hello(10));   /* it stays alive */
    }
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    req1(x, 0, HV1, m);
    for (int round = 0; round < 3; round++) {
        x->ncap = 0;
        x->now += x->conf->hello_ms;
        nve_proto_timers(x->p, x->now);
        for (int i = 0; i < x->ncap; i++)
            assert_memory_not_equal(x->cap[i].dst, HV1, 6);
    }
}

/* A flood of HELLOs from made-up MACs (spec 11.4, 15): the peers that
 * hold no state are a small pool evicted least recently heard first; a
 * hypervisor holding VNICs is never evicted, and a new one still gets in
 * during the flood. Unicast HELLOs stay within the port's budget. */
static void
test_newcomers_evicted(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    uint8_t mac[6] = {0x02, 0xee, 0, 0, 0, 0};
    int unicast = 0;

    x->conf->ports[0].max_newcomers = 4;
    nve_proto_set_conf(x->p, x->conf); /* the port's HELLO budget */
    assert_int_equal(req1(x, 0, HV1, assoc(1, 100, 1))->status, NVDP_ST_OK);
    x->now += x->conf->hello_ms; /* HV1 now the least recently heard */
    for (unsigned i = 0; i < 1000; i++) {
        mac[4] = (uint8_t)(i >> 8), mac[5] = (uint8_t)i;
        req1(x, 0, mac, hv_hello(10));
        for (int k = 0; k < x->ncap; k++)
            unicast += memcmp(x->cap[k].dst, mac, 6) == 0;
        assert_true(nve_proto_npeers(x->p) <= 1 + 4);
    }
    assert_int_equal(c->peers_evicted, 1000 - 4);
    assert_non_null(tree_hv_find(&x->tree, 0, HV1));
    assert_int_equal(x->tree.nvnic, 1);
    /* at one instant: the budget (its burst) bounds the HELLOs */
    assert_true(unicast <= 4);
    assert_true(c->hello_suppressed >= 1000 - 4);
    /* the newcomer heard most recently is not the one evicted: HV2, heard
     * every other frame of the flood, stays (least recently heard first) */
    for (unsigned i = 0; i < 50; i++) {
        mac[4] = 0x20, mac[5] = (uint8_t)i;
        req1(x, 0, mac, hv_hello(10));
        if (i % 2 == 0)
            req1(x, 0, HV2, hv_hello(10));
    }
    struct json_object *peers = nve_proto_peers_json(x->p, x->now);
    assert_non_null(strstr(json_object_to_json_string(peers),
                           "02:00:00:00:00:02"));
    json_object_put(peers);
    /* a new hypervisor during the flood: in at once, and it stays */
    assert_int_equal(req1(x, 0, HV2, assoc(2, 100, 2))->status, NVDP_ST_OK);
    for (unsigned i = 0; i < 100; i++) {
        mac[4] = 0x10, mac[5] = (uint8_t)i;
        req1(x, 0, mac, hv_hello(10));
    }
    assert_int_equal(x->tree.nvnic, 2);
    assert_int_equal(nve_proto_npeers(x->p), 2 + 4);
    struct nvdp_msg *m;
    /* a peer in session (its RESYNC BEGIN heard) but holding nothing is
     * in the other pool: a HELLO flood does not evict it */
    static const uint8_t HV3[6] = {0x02, 0, 0, 0, 0, 0x03};
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    assert_int_equal(req1(x, 0, HV3, m)->status, NVDP_ST_OK);
    for (unsigned i = 0; i < 100; i++) {
        mac[4] = 0x40, mac[5] = (uint8_t)i;
        req1(x, 0, mac, hv_hello(10));
    }
    peers = nve_proto_peers_json(x->p, x->now);
    assert_non_null(strstr(json_object_to_json_string(peers),
                           "02:00:00:00:00:03"));
    json_object_put(peers);
    /* its VNIC gone, HV2 is a newcomer again, evicted like any */
    m = msg_new(NVDP_MSG_VNIC_DISASSOC);
    m->has_vnic = 1, m->vnic = U(2), m->intent = NVDP_INTENT_SHUTDOWN;
    assert_int_equal(req1(x, 0, HV2, m)->status, NVDP_ST_OK);
    for (unsigned i = 0; i < 5; i++) {
        mac[4] = 0x30, mac[5] = (uint8_t)i;
        req1(x, 0, mac, hv_hello(10));
    }
    assert_int_equal(nve_proto_npeers(x->p), 1 + 1 + 4);
    peers = nve_proto_peers_json(x->p, x->now);
    assert_null(strstr(json_object_to_json_string(peers),
                       "02:00:00:00:00:02"));
    json_object_put(peers);
}

/* Peers in session but holding nothing share max-hypervisors with the
 * holders: the least recently heard goes, never a holder. */
static void
test_session_pool_bounded(void **state)
{
    struct fx *x = *state;
    static const uint8_t HV3[6] = {0x02, 0, 0, 0, 0, 0x03};
    const uint8_t *who[2] = {HV2, HV3};
    struct nvdp_msg *m;

    x->conf->ports[0].max_hv = 2;
    assert_int_equal(req1(x, 0, HV1, assoc(1, 100, 1))->status, NVDP_ST_OK);
    for (int i = 0; i < 2; i++) {
        m = msg_new(NVDP_MSG_RESYNC);
        m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
        assert_int_equal(req1(x, 0, who[i], m)->status, NVDP_ST_OK);
        x->now += 10;
    }
    assert_int_equal(nve_proto_npeers(x->p), 2); /* HV1 and HV3 */
    assert_int_equal(nve_proto_counters(x->p)->peers_evicted, 1);
    struct json_object *peers = nve_proto_peers_json(x->p, x->now);
    const char *s = json_object_to_json_string(peers);
    assert_non_null(strstr(s, "02:00:00:00:00:01"));
    assert_non_null(strstr(s, "02:00:00:00:00:03"));
    json_object_put(peers);
}

/* A station that alternates its epoch draws at most one unicast HELLO per
 * hello interval (spec 15), not one per frame. */
static void
test_epoch_flap_no_reflection(void **state)
{
    struct fx *x = *state;
    int unicast = 0;

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 30; i++) {
            f_begin(x, HV_EPOCH + (uint32_t)(i & 1), 0);
            struct nvdp_msg *m = hv_hello(10);
            f_add(x, m);
            free(m);
            f_send(x, 0, HV1);
            for (int k = 0; k < x->ncap; k++)
                unicast += memcmp(x->cap[k].dst, HV1, 6) == 0;
            x->now += x->conf->hello_ms / 30;
            x->ncap = 0;
            nve_proto_timers(x->p, x->now);
            for (int k = 0; k < x->ncap; k++)
                unicast += memcmp(x->cap[k].dst, HV1, 6) == 0;
        }
    }
    /* 3 intervals (30 frames each): 3 HELLOs, maybe one more at an edge */
    assert_true(unicast >= 3 && unicast <= 4);
    assert_true(nve_proto_counters(x->p)->peer_restarts >= 80);
    assert_true(nve_proto_counters(x->p)->hello_suppressed >= 80);
}

/* A peer's requests per second (spec 16): over its bucket, dropped
 * unanswered and counted; its retransmission is answered once the bucket
 * refilled. Another peer has its own bucket. */
static void
test_request_rate(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    int answered = 0;

    x->conf->ports[0].req_rate = 10;
    x->conf->ports[0].req_burst = 5;
    req1(x, 0, HV1, hv_hello(10)); /* made with the old bucket: reload */
    nve_proto_set_conf(x->p, x->conf);
    f_begin(x, HV_EPOCH, 0);
    for (unsigned i = 0; i < 20; i++) {
        struct nvdp_msg *m = assoc(10 + i, 100, 10 + i);
        f_add(x, m);
        free(m);
    }
    f_send(x, 0, HV1);
    for (uint32_t t = 1; t <= 20; t++)
        answered += find_resp(x, t) != NULL;
    assert_int_equal(answered, 5);
    assert_int_equal(c->rx_rate_limited, 15);
    assert_int_equal(x->tree.nvnic, 5);
    /* 100 ms later: one more token; the retransmission of txid 6 goes */
    x->now += 100;
    f_begin(x, HV_EPOCH, 0);
    struct nvdp_msg *m = assoc(15, 100, 15);
    m->txid = 6;
    f_add(x, m);
    free(m);
    f_send(x, 0, HV1);
    assert_non_null(find_resp(x, 6));
    assert_int_equal(find_resp(x, 6)->status, NVDP_ST_OK);
    /* HV2 was not limited by HV1's flood */
    assert_int_equal(req1(x, 0, HV2, assoc(40, 100, 40))->status, NVDP_ST_OK);
    assert_int_equal(c->rx_rate_limited, 15);
}

/* RESYNC BEGIN from epoch, then ASSOCs of VNICs 1..n from txid + 1, in
 * one frame from HV1; returns how many of the ASSOCs were answered. */
static unsigned
replay(struct fx *x, uint32_t epoch, uint32_t txid, unsigned n)
{
    struct nvdp_msg *m = msg_new(NVDP_MSG_RESYNC);
    unsigned answered = 0;

    f_begin(x, epoch, 0);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    m->txid = txid;
    f_add(x, m);
    free(m);
    for (unsigned i = 1; i <= n; i++) {
        m = assoc(i, 100, i);
        m->txid = txid + i;
        f_add(x, m);
        free(m);
    }
    f_send(x, 0, HV1);
    for (unsigned i = 1; i <= n; i++)
        answered += find_resp(x, txid + i) != NULL;
    return answered;
}

/* A resync's replay of what the NVE holds is handled beyond the peer's
 * request rate, up to the entries held at BEGIN, once per 10 s (spec 10.2:
 * a restarted hypervisor restates its VNICs at once). */
static void
test_resync_credit(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    struct nvdp_msg *m;

    /* a resync of nothing held grants nothing and uses no grant */
    assert_int_equal(replay(x, HV_EPOCH, 1000, 0), 0);
    x->txid = 1001;
    for (unsigned i = 1; i <= 20; i++)
        assert_int_equal(req1(x, 0, HV1, assoc(i, 100, i))->status,
                         NVDP_ST_OK);
    x->conf->ports[0].req_rate = 10;
    x->conf->ports[0].req_burst = 5;
    nve_proto_set_conf(x->p, x->conf); /* its bucket: 5 tokens */
    /* restarted: BEGIN and 4 ASSOCs on tokens, the other 16 on credit */
    x->now += 1000;
    assert_int_equal(replay(x, HV_EPOCH + 1, 1, 20), 20);
    assert_int_equal(c->rx_resync_credit, 16);
    assert_int_equal(c->rx_rate_limited, 0);
    /* END a second later (a token): nothing swept, the credit ends */
    x->now += 1000;
    f_begin(x, HV_EPOCH + 1, NVE_EPOCH);
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_END;
    m->txid = 22;
    f_add(x, m);
    f_send(x, 0, HV1);
    free(m);
    assert_non_null(find_resp(x, 22));
    assert_int_equal(find_resp(x, 22)->status, NVDP_ST_OK);
    assert_int_equal(x->tree.nvnic, 20);
    /* another resync within 10 s: no credit, the bucket only */
    x->now += 1000;
    assert_int_equal(replay(x, HV_EPOCH + 1, 100, 20), 4);
    assert_int_equal(c->rx_resync_credit, 16);
    assert_int_equal(c->rx_rate_limited, 16);
    /* 10 s after the first grant: credit again, no more than the 20
     * entries held (10 new VNICs in the replay: 4 + 20 answered) */
    x->now += 8000;
    assert_int_equal(replay(x, HV_EPOCH + 1, 200, 30), 24);
    assert_int_equal(c->rx_resync_credit, 36);
    assert_int_equal(c->rx_rate_limited, 22);
}

/* The NVE's VNICs and a port's pre-associations, refused LIMIT and counted
 * by limit (nve-agent(8)). */
static void
test_limits_counted(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    struct nvdp_msg *m;

    x->tree.lim.max_vnics = 2;
    assert_int_equal(req1(x, 0, HV1, assoc(1, 100, 1))->status, NVDP_ST_OK);
    assert_int_equal(req1(x, 0, HV2, assoc(2, 100, 2))->status, NVDP_ST_OK);
    assert_int_equal(req1(x, 0, HV2, assoc(3, 100, 3))->status,
                     NVDP_ST_LIMIT);
    assert_int_equal(c->limit_vnics, 1);
    assert_int_equal(nve_proto_port_counters(x->p, 0)->limit_vnics, 1);
    x->tree.lim.max_vnics = 0;
    tree_port_set_preassoc(&x->tree, 0, 1);
    m = assoc(4, 100, 4);
    m->type = NVDP_MSG_PREASSOC;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    m = assoc(5, 100, 5);
    m->type = NVDP_MSG_PREASSOC;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_LIMIT);
    assert_int_equal(c->limit_preassoc, 1);
    assert_int_equal(c->status[NVDP_ST_LIMIT], 2);
}

/* What the engine told the kernel's policing (nve_proto_set_peer_hook). */
struct standing_log {
    int n;
    uint8_t mac[16][6];
    enum nve_standing st[16];
};

static void
standing_hook(void *arg, uint16_t port, const uint8_t mac[6],
              enum nve_standing st)
{
    struct standing_log *l = arg;

    (void)port;
    assert_true(l->n < 16);
    memcpy(l->mac[l->n], mac, 6);
    l->st[l->n++] = st;
}

/* n ASSOCs of new VNICs from src in one frame: how many were refused. */
static int
assoc_flood(struct fx *x, const uint8_t *src, unsigned first, unsigned n)
{
    int refused = 0;
    uint32_t t0 = x->txid;

    f_begin(x, HV_EPOCH, 0);
    for (unsigned i = 0; i < n; i++) {
        struct nvdp_msg *m = assoc(first + i, 100, first + i);
        f_add(x, m);
        free(m);
    }
    f_send(x, 0, src);
    for (uint32_t t = t0; t < t0 + n; t++)
        refused +=
            find_resp(x, t) != NULL && find_resp(x, t)->status == NVDP_ST_LIMIT;
    return refused;
}

/* Run 3 of bench/RESULTS-cp.md's flood on an idle host, through the
 * engine (spec 15, 11.4): a station's MACs, not in session, fill an open
 * port; hv1, in session since its RESYNC BEGIN and holding nothing, keeps
 * its place among the port's max-hypervisors and its reservation of the
 * port's VNICs (64 / 8): each of its attaches succeeds, the station's are
 * refused LIMIT, counted, the port's ceiling logged. */
static void
test_port_reservation(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    struct nvdp_msg *m;
    uint8_t st[6] = {0x02, 0x66, 0, 0, 0, 0};
    unsigned first = 1000;
    int refused = 0;

    x->conf->ports[0].max_vnics = 64;
    x->conf->ports[0].max_hv = 8;
    nve_conf_tree_port(&x->conf->ports[0], &x->tree);
    m = msg_new(NVDP_MSG_RESYNC);
    m->has_phase = 1, m->phase = NVDP_RESYNC_BEGIN;
    assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
    assert_int_equal(x->tree.port[0]->owed[TREE_RV_VNICS], 8);
    for (int round = 0; round < 6; round++)
        for (unsigned i = 0; i < 20; i++, first += 2) {
            st[5] = (uint8_t)i;
            refused += assoc_flood(x, st, first, 2);
            x->now += 1;
        }
    assert_int_equal(x->tree.port[0]->nvnic, 56);
    assert_int_equal(x->tree.port[0]->nhv, 7); /* hv1's place kept */
    assert_true(c->limit_port_share > 0);
    assert_true(c->peers_over_limit > 0);
    assert_int_equal(c->status[NVDP_ST_LIMIT], (uint64_t)refused);
    for (unsigned k = 0; k < 10; k++) { /* attach, detach: flood_bench -d */
        assert_int_equal(req1(x, 0, HV1, assoc(1, 100, 1))->status,
                         NVDP_ST_OK);
        m = msg_new(NVDP_MSG_VNIC_DISASSOC);
        m->has_vnic = 1, m->vnic = U(1);
        m->has_intent = 1, m->intent = NVDP_INTENT_SHUTDOWN;
        assert_int_equal(req1(x, 0, HV1, m)->status, NVDP_ST_OK);
        st[5] = (uint8_t)k;
        assert_int_equal(assoc_flood(x, st, first++, 1), 1);
    }
    for (unsigned k = 0; k < 8; k++)
        assert_int_equal(req1(x, 0, HV1, assoc(1 + k, 100, 1 + k))->status,
                         NVDP_ST_OK);
    assert_int_equal(req1(x, 0, HV1, assoc(9, 100, 9))->status,
                     NVDP_ST_LIMIT);
    assert_int_equal(x->tree.port[0]->nvnic, 64);
}

static const char *
peer_standing(struct fx *x, const uint8_t *mac)
{
    static char out[16];
    char ms[NVDP_MAC_STRLEN];
    struct json_object *a = nve_proto_peers_json(x->p, x->now), *o;

    nvdp_mac_fmt(mac, ms);
    out[0] = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        o = json_object_array_get_idx(a, i);
        if (strcmp(json_object_get_string(json_object_object_get(o, "mac")),
                   ms) == 0)
            snprintf(
                out, sizeof(out), "%s",
                json_object_get_string(json_object_object_get(o, "standing")));
    }
    json_object_put(a);
    return out;
}

/* Standing (spec 15): a peer refused LIMIT beyond demote-refusals in
 * about a second is demoted (the kernel told once, counted), stays so
 * while it is still refused, and is restored demote-time after its last
 * refusal, on its next frame. A peer whose requests succeed, however
 * many, is never demoted. With demote-refusals 0, nobody is. */
static void
test_standing(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    struct standing_log l = {0};

    x->conf->demote_refusals = 4;
    x->conf->demote_s = 10;
    nve_proto_set_peer_hook(x->p, standing_hook, &l);
    x->tree.lim.max_vnics_per_hv = 1;
    assert_int_equal(req1(x, 0, HV2, assoc(1, 100, 1))->status, NVDP_ST_OK);
    assert_int_equal(req1(x, 0, HV1, assoc(2, 100, 2))->status, NVDP_ST_OK);
    l.n = 0; /* the two new peers: known */
    /* HV2 within its limits: 50 requests that succeed, no strike */
    for (unsigned i = 0; i < 50; i++)
        assert_int_equal(req1(x, 0, HV2, assoc(1, 100, 1))->status, NVDP_ST_OK);
    /* HV1 at its limit: 4 refusals, its burst; the 5th demotes it */
    assert_int_equal(assoc_flood(x, HV1, 10, 4), 4);
    assert_int_equal(l.n, 0);
    assert_string_equal(peer_standing(x, HV1), "good");
    assert_int_equal(assoc_flood(x, HV1, 20, 1), 1);
    assert_int_equal(l.n, 1);
    assert_memory_equal(l.mac[0], HV1, 6);
    assert_int_equal(l.st[0], NVE_PEER_DEMOTED);
    assert_int_equal(c->peers_demoted, 1);
    assert_int_equal(nve_proto_port_counters(x->p, 0)->peers_demoted, 1);
    assert_string_equal(peer_standing(x, HV1), "demoted");
    assert_string_equal(peer_standing(x, HV2), "good");
    /* still refused 5 s later: demoted 10 s from then, told once */
    x->now += 5000;
    assert_int_equal(assoc_flood(x, HV1, 30, 2), 2);
    x->now += 9999;
    req1(x, 0, HV1, hv_hello(10));
    assert_string_equal(peer_standing(x, HV1), "demoted");
    assert_int_equal(l.n, 1);
    /* 10 s without a refusal: its next frame restores it */
    x->now += 1;
    req1(x, 0, HV1, hv_hello(10));
    assert_string_equal(peer_standing(x, HV1), "good");
    assert_int_equal(l.n, 2);
    assert_int_equal(l.st[1], NVE_PEER_KNOWN);
    assert_int_equal(c->peers_restored, 1);
    /* its strikes refilled meanwhile: the next burst is allowed again */
    assert_int_equal(assoc_flood(x, HV1, 40, 4), 4);
    assert_int_equal(l.n, 2);
    /* no standing: the same flood demotes nobody */
    x->conf->demote_refusals = 0;
    assert_int_equal(assoc_flood(x, HV1, 50, 40), 40);
    assert_int_equal(l.n, 2);
    assert_int_equal(c->peers_demoted, 1);
}

/* Messages of type among everything captured. */
static int
captured(struct fx *x, uint16_t type)
{
    struct decoded d;
    int n = 0;

    for (int i = 0; i < x->ncap; i++) {
        decode(&x->cap[i], &d);
        for (int k = 0; k < d.n; k++)
            n += d.m[k].type == type;
    }
    return n;
}

/* Until a hypervisor's HELLO says its window, one WITHDRAW at a time
 * (spec 10.2): the rest wait for its answer or its HELLO. */
static void
test_withdraw_window_before_hello(void **state)
{
    struct fx *x = *state;
    struct tree_filter f = {.port = 0, .any_vni = 1};

    req1(x, 0, HV1, assoc(1, 100, 1));
    req1(x, 0, HV1, assoc(2, 200, 2));
    x->ncap = 0;
    assert_int_equal(nve_proto_withdraw(x->p, &f, "test", x->now), 2);
    nve_proto_timers(x->p, x->now);
    assert_int_equal(captured(x, NVDP_MSG_WITHDRAW), 1);
    req1(x, 0, HV1, hv_hello(10)); /* window 16 */
    nve_proto_timers(x->p, x->now);
    /* the second, now in the window */
    assert_int_equal(captured(x, NVDP_MSG_WITHDRAW), 1);
}

/* Our WITHDRAW txids begin at 1 in every epoch of ours: an answer naming
 * another epoch as peer_epoch is not ours (spec 11.3). */
static void
test_withdraw_answer_scoped_by_epoch(void **state)
{
    struct fx *x = *state;
    struct nvdp_uuid u = U(1);
    struct tree_filter f = {.port = 0, .vni = 100, .vnic = &u};
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    uint32_t txid;

    req1(x, 0, HV1, assoc(1, 100, 1));
    x->ncap = 0;
    assert_int_equal(nve_proto_withdraw(x->p, &f, "w", x->now), 1);
    assert_int_equal(withdraws_sent(x, &txid, 1), 1);
    answer_withdraw(x, 0, HV1, txid, NVE_EPOCH ^ 0x100);
    assert_int_equal(c->rx_stray_responses, 1);
    x->ncap = 0;
    nve_proto_timers(x->p, x->now + 200);
    assert_int_equal(withdraws_sent(x, &txid, 1), 1); /* still out */
    answer_withdraw(x, 0, HV1, txid, NVE_EPOCH);
    x->ncap = 0;
    nve_proto_timers(x->p, x->now + 5000);
    assert_int_equal(withdraws_sent(x, &txid, 1), 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_hello_timer),
        T(test_assoc_and_new_peer),
        T(test_error_replies),
        T(test_unsupported_and_malformed_requests),
        T(test_malformed_frames),
        T(test_peer_limits_and_direction),
        T(test_withdraw_giveup),
        T(test_duplicates_from_cache),
        T(test_hold_expiry_releases),
        T(test_epoch_change),
        T(test_resync_sweep),
        T(test_withdraw),
        T(test_batching),
        T(test_vnic_ops),
        T(test_mutation_storm),
        T(test_withdraw_window_queue),
        T(test_withdraw_vn_as_named),
        T(test_resync_end_without_begin),
        T(test_shutdown_withdraws_elsewhere),
        T(test_resync_floor),
        T(test_withdraw_answer_scoped_by_epoch),
        T(test_nostate_hello_repeated),
        T(test_newcomers_evicted),
        T(test_session_pool_bounded),
        T(test_epoch_flap_no_reflection),
        T(test_request_rate),
        T(test_resync_credit),
        T(test_limits_counted),
        T(test_port_reservation),
        T(test_standing),
        T(test_withdraw_window_before_hello),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
