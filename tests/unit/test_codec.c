/* test_codec.c - NVDP codec tests: every golden frame decodes to the documented
 * fields and re-encodes byte for byte; every malformed class gives its error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "golden.h"
#include "nvdp.h"

#define MAXMSG 8

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0x01, 0x01};
static const uint8_t NVE_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t GROUP_MAC[6] = NVDP_GROUP_MAC_DEFAULT;
static const uint8_t VM_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
#define HV_EPOCH 0x11223344u
#define NVE_EPOCH 0x55667788u
#define VNIC_S "6f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6b"
#define VNIC2_S "6f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6c"
#define VNUUID_S "3b241101-e2bb-4255-8caf-4136c566a962"

/* A golden frame, decoded: raw bytes plus every message and return code. */
struct gf {
    uint8_t raw[NVDP_FRAME_MAX + 64];
    size_t len;
    int open_rc;
    struct nvdp_reader r;
    int nrc;               /* next() calls made */
    int rc[MAXMSG + 1];    /* their return codes */
    struct nvdp_msg *m;    /* MAXMSG messages */
};

/* Decodes the whole frame, recording each next() result. */
static struct gf *
gf_decode(const char *name)
{
    struct gf *g = calloc(1, sizeof(*g));
    int rc;

    assert_non_null(g);
    g->m = calloc(MAXMSG, sizeof(*g->m));
    assert_non_null(g->m);
    g->len = golden_load(name, g->raw, sizeof(g->raw));
    assert_true(g->len >= NVDP_ETH_HLEN);
    assert_int_equal(g->raw[12] << 8 | g->raw[13], NVDP_ETHERTYPE_DEFAULT);
    g->open_rc = nvdp_frame_open(&g->r, g->raw + NVDP_ETH_HLEN,
                                 g->len - NVDP_ETH_HLEN);
    if (g->open_rc != 0)
        return g;
    do {
        struct nvdp_msg scratch;
        struct nvdp_msg *m = g->nrc < MAXMSG ? &g->m[g->nrc] : &scratch;
        rc = nvdp_frame_next(&g->r, m);
        assert_true(g->nrc <= MAXMSG);
        g->rc[g->nrc++] = rc;
    } while (rc != 0 && g->nrc <= MAXMSG);
    return g;
}

static void
gf_free(struct gf *g)
{
    free(g->m);
    free(g);
}

/* Re-encodes the decoded messages and checks the bytes are identical. */
static void
gf_reencode(struct gf *g, int nmsg)
{
    uint8_t out[NVDP_FRAME_MAX];
    struct nvdp_writer w;
    size_t n;
    int i;

    nvdp_writer_init(&w, out, sizeof(out), g->r.hdr.epoch,
                     g->r.hdr.peer_epoch);
    for (i = 0; i < nmsg; i++)
        assert_int_equal(nvdp_writer_add(&w, &g->m[i]), 0);
    assert_int_equal(w.nmsg, nmsg);
    n = nvdp_writer_finish(&w);
    assert_int_equal(n, NVDP_HDR_LEN + g->r.hdr.length);
    assert_true(n <= g->len - NVDP_ETH_HLEN);
    assert_memory_equal(out, g->raw + NVDP_ETH_HLEN, n);
}

/* Decodes a valid frame: header values, n messages all returning 1. */
static struct gf *
golden(const char *name, const uint8_t *dst, const uint8_t *src,
       uint32_t epoch, uint32_t peer, int nmsg)
{
    struct gf *g = gf_decode(name);
    int i;

    assert_int_equal(g->open_rc, 0);
    assert_memory_equal(g->raw, dst, 6);
    assert_memory_equal(g->raw + 6, src, 6);
    assert_int_equal(g->r.hdr.version, 1);
    assert_int_equal(g->r.hdr.epoch, epoch);
    assert_int_equal(g->r.hdr.peer_epoch, peer);
    assert_int_equal(g->nrc, nmsg + 1);
    for (i = 0; i < nmsg; i++)
        assert_int_equal(g->rc[i], 1);
    assert_int_equal(g->rc[nmsg], 0);
    return g;
}

static struct gf *
golden_hv(const char *name, int nmsg)
{
    return golden(name, NVE_MAC, HV_MAC, HV_EPOCH, NVE_EPOCH, nmsg);
}

static struct gf *
golden_nve(const char *name, int nmsg)
{
    return golden(name, HV_MAC, NVE_MAC, NVE_EPOCH, HV_EPOCH, nmsg);
}

static void
assert_uuid(const struct nvdp_uuid *u, const char *s)
{
    char buf[NVDP_UUID_STRLEN];
    nvdp_uuid_fmt(u, buf);
    assert_string_equal(buf, s);
}

static void
assert_vni(const struct nvdp_msg *m, uint32_t vni)
{
    assert_int_equal(m->vn.kind, NVDP_VN_VNI);
    assert_int_equal(m->vn.vni, vni);
}

static void
assert_vn_uuid(const struct nvdp_msg *m)
{
    assert_int_equal(m->vn.kind, NVDP_VN_UUID);
    assert_uuid(&m->vn.uuid, VNUUID_S);
}

static void
assert_addr(const struct nvdp_addr *a, const uint8_t *mac, int kind,
            const char *ip)
{
    char buf[96];
    assert_memory_equal(a->mac, mac, 6);
    assert_int_equal(a->kind, kind);
    nvdp_addr_fmt_ip(a, buf, sizeof(buf));
    assert_string_equal(buf, ip);
}

/* Only the sub-TLVs listed in the spec for this frame are flagged. */
static void
assert_flags(const struct nvdp_msg *m, int vnic, int tag, int hint, int intent,
             int flags, int state, int phase)
{
    assert_int_equal(m->has_vnic, vnic);
    assert_int_equal(m->has_tag, tag);
    assert_int_equal(m->has_tag_hint, hint);
    assert_int_equal(m->has_intent, intent);
    assert_int_equal(m->has_flags, flags);
    assert_int_equal(m->has_state, state);
    assert_int_equal(m->has_phase, phase);
}

/* ---- Valid golden frames ----------------------------------------------- */
static void
check_hello(struct gf *g, int role, const char *name)
{
    const struct nvdp_msg *m = &g->m[0];
    assert_int_equal(m->type, NVDP_MSG_HELLO);
    assert_int_equal(m->hello.role, role);
    assert_int_equal(m->hello.flags, 0);
    assert_int_equal(m->hello.hold_time, 10);
    assert_int_equal(m->hello.hello_interval, 1000);
    assert_int_equal(m->hello.window, 256);
    assert_string_equal(m->hello.name, name);
    assert_int_equal(m->txid, 0);
    assert_flags(m, 0, 0, 0, 0, 0, 0, 0);
    gf_reencode(g, 1);
}

static void
t_hello(void **s)
{
    struct gf *g;

    g = golden("hello-hv-group", GROUP_MAC, HV_MAC, HV_EPOCH, 0, 1);
    check_hello(g, NVDP_ROLE_HV, "hv1");
    gf_free(g);
    g = golden("hello-hv", NVE_MAC, HV_MAC, HV_EPOCH, NVE_EPOCH, 1);
    check_hello(g, NVDP_ROLE_HV, "hv1");
    gf_free(g);
    g = golden("hello-nve", GROUP_MAC, NVE_MAC, NVE_EPOCH, 0, 1);
    check_hello(g, NVDP_ROLE_NVE, "tor1");
    gf_free(g);
    g = golden("hello-nve-nostate", HV_MAC, NVE_MAC, NVE_EPOCH, 0, 1);
    check_hello(g, NVDP_ROLE_NVE, "tor1");
    gf_free(g);
}

static void
t_vn_connect(void **s)
{
    struct gf *g = golden_hv("vn-connect-vni", 1);
    const struct nvdp_msg *m = &g->m[0];

    assert_int_equal(m->type, NVDP_MSG_VN_CONNECT);
    assert_int_equal(m->txid, 1);
    assert_uuid(&m->vnic, VNIC_S);
    assert_vni(m, 10100);
    assert_flags(m, 1, 0, 0, 0, 0, 0, 0);
    assert_int_equal(m->naddr, 0);
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_hv("vn-connect-uuid-hint", 1);
    m = &g->m[0];
    assert_int_equal(m->type, NVDP_MSG_VN_CONNECT);
    assert_int_equal(m->txid, 2);
    assert_uuid(&m->vnic, VNIC_S);
    assert_vn_uuid(m);
    assert_flags(m, 1, 0, 1, 0, 0, 0, 0);
    assert_int_equal(m->tag_hint, 100);
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_hv("vn-disconnect", 1);
    m = &g->m[0];
    assert_int_equal(m->type, NVDP_MSG_VN_DISCONNECT);
    assert_int_equal(m->txid, 3);
    assert_uuid(&m->vnic, VNIC_S);
    assert_vni(m, 10100);
    assert_flags(m, 1, 0, 0, 0, 0, 0, 0);
    gf_reencode(g, 1);
    gf_free(g);
}

static void
t_assoc(void **s)
{
    struct gf *g = golden_hv("assoc-mac", 1);
    const struct nvdp_msg *m = &g->m[0];

    assert_int_equal(m->type, NVDP_MSG_ASSOC);
    assert_int_equal(m->txid, 4);
    assert_uuid(&m->vnic, VNIC_S);
    assert_vni(m, 10100);
    assert_int_equal(m->naddr, 1);
    assert_addr(&m->addr[0], VM_MAC, NVDP_ADDR_MAC, "");
    assert_int_equal(m->addr[0].family, 0);
    assert_flags(m, 1, 0, 0, 0, 0, 0, 0);
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_hv("assoc-all-kinds", 1);
    m = &g->m[0];
    assert_int_equal(m->txid, 5);
    assert_vn_uuid(m);
    assert_flags(m, 1, 0, 1, 0, 0, 0, 0);
    assert_int_equal(m->tag_hint, 100);
    assert_int_equal(m->naddr, 7);
    assert_addr(&m->addr[0], VM_MAC, NVDP_ADDR_MAC, "");
    assert_addr(&m->addr[1], VM_MAC, NVDP_ADDR_HOST, "10.1.0.5");
    assert_int_equal(m->addr[1].family, 4);
    assert_addr(&m->addr[2], VM_MAC, NVDP_ADDR_HOST, "2001:db8:100::5");
    assert_int_equal(m->addr[2].family, 6);
    assert_addr(&m->addr[3], VM_MAC, NVDP_ADDR_PREFIX, "10.1.0.0/24");
    assert_int_equal(m->addr[3].plen, 24);
    assert_addr(&m->addr[4], VM_MAC, NVDP_ADDR_PREFIX, "2001:db8:100::/64");
    assert_int_equal(m->addr[4].plen, 64);
    assert_addr(&m->addr[5], VM_MAC, NVDP_ADDR_RANGE, "10.1.0.10-10.1.0.20");
    assert_addr(&m->addr[6], VM_MAC, NVDP_ADDR_RANGE,
                "2001:db8:100::10-2001:db8:100::20");
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_hv("replay-assoc", 1);
    m = &g->m[0];
    assert_int_equal(m->txid, 15);
    assert_vni(m, 10100);
    assert_int_equal(m->tag_hint, 100);
    assert_int_equal(m->naddr, 2);
    assert_addr(&m->addr[0], VM_MAC, NVDP_ADDR_MAC, "");
    assert_addr(&m->addr[1], VM_MAC, NVDP_ADDR_HOST, "10.1.0.5");
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_hv("disassoc", 1);
    m = &g->m[0];
    assert_int_equal(m->type, NVDP_MSG_DISASSOC);
    assert_int_equal(m->txid, 6);
    assert_vni(m, 10100);
    assert_int_equal(m->naddr, 1);
    assert_addr(&m->addr[0], VM_MAC, NVDP_ADDR_HOST, "10.1.0.5");
    gf_reencode(g, 1);
    gf_free(g);
}

static void
t_vnic_disassoc(void **s)
{
    struct gf *g = golden_hv("vnic-disassoc-shutdown", 1);
    const struct nvdp_msg *m = &g->m[0];

    assert_int_equal(m->type, NVDP_MSG_VNIC_DISASSOC);
    assert_int_equal(m->txid, 7);
    assert_uuid(&m->vnic, VNIC_S);
    assert_int_equal(m->vn.kind, NVDP_VN_NONE);
    assert_flags(m, 1, 0, 0, 1, 0, 0, 0);
    assert_int_equal(m->intent, NVDP_INTENT_SHUTDOWN);
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_hv("vnic-disassoc-migration", 1);
    m = &g->m[0];
    assert_int_equal(m->txid, 8);
    assert_int_equal(m->intent, NVDP_INTENT_MIGRATION);
    gf_reencode(g, 1);
    gf_free(g);
}

static void
t_preassoc(void **s)
{
    struct gf *g = golden_hv("preassoc", 1);
    const struct nvdp_msg *m = &g->m[0];

    assert_int_equal(m->type, NVDP_MSG_PREASSOC);
    assert_int_equal(m->txid, 9);
    assert_vni(m, 10100);
    assert_flags(m, 1, 0, 0, 0, 0, 0, 0);
    assert_int_equal(m->rflags, 0);
    assert_int_equal(m->naddr, 1);
    assert_addr(&m->addr[0], VM_MAC, NVDP_ADDR_HOST, "10.1.0.5");
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_hv("preassoc-rr", 1);
    m = &g->m[0];
    assert_int_equal(m->txid, 10);
    assert_flags(m, 1, 0, 0, 0, 1, 0, 0);
    assert_int_equal(m->rflags, NVDP_RF_RR);
    assert_int_equal(m->naddr, 1);
    gf_reencode(g, 1);
    gf_free(g);
}

static void
t_state_resync(void **s)
{
    static const struct {
        const char *name;
        uint16_t type;
        uint32_t txid;
        int state, phase;
    } c[] = {
        {"vnic-state-down", NVDP_MSG_VNIC_STATE, 11, NVDP_VNIC_DOWN, 0},
        {"vnic-state-up", NVDP_MSG_VNIC_STATE, 12, NVDP_VNIC_UP, 0},
        {"resync-begin", NVDP_MSG_RESYNC, 13, 0, NVDP_RESYNC_BEGIN},
        {"resync-end", NVDP_MSG_RESYNC, 14, 0, NVDP_RESYNC_END},
        {"resync-end-padded", NVDP_MSG_RESYNC, 14, 0, NVDP_RESYNC_END},
    };
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct gf *g = golden_hv(c[i].name, 1);
        const struct nvdp_msg *m = &g->m[0];
        assert_int_equal(m->type, c[i].type);
        assert_int_equal(m->txid, c[i].txid);
        assert_int_equal(m->state, c[i].state);
        assert_int_equal(m->phase, c[i].phase);
        assert_flags(m, c[i].state != 0, 0, 0, 0, 0, c[i].state != 0,
                     c[i].phase != 0);
        if (c[i].state)
            assert_uuid(&m->vnic, VNIC_S);
        gf_reencode(g, 1);
        gf_free(g);
    }
}

static void
t_padding(void **s)
{
    struct gf *g = golden_hv("resync-end-padded", 1);

    /* 60-byte frame, 21 bytes of padding beyond the header length. */
    assert_int_equal(g->len, 60);
    assert_int_equal(g->r.hdr.length, 13);
    gf_free(g);
}

static void
t_withdraw(void **s)
{
    struct gf *g = golden_nve("withdraw-vnic", 1);
    const struct nvdp_msg *m = &g->m[0];

    assert_int_equal(m->type, NVDP_MSG_WITHDRAW);
    assert_int_equal(m->txid, 1);
    assert_uuid(&m->vnic, VNIC_S);
    assert_vni(m, 10100);
    assert_flags(m, 1, 1, 0, 0, 0, 0, 0);
    assert_int_equal(m->tag, 100);
    assert_string_equal(m->reason, "removed by operator");
    gf_reencode(g, 1);
    gf_free(g);

    g = golden_nve("withdraw-vn", 1);
    m = &g->m[0];
    assert_int_equal(m->txid, 2);
    assert_flags(m, 0, 0, 0, 0, 0, 0, 0);
    assert_vn_uuid(m);
    assert_string_equal(m->reason, "vn deleted");
    gf_reencode(g, 1);
    gf_free(g);
}

static void
t_responses(void **s)
{
    static const struct {
        const char *name;
        uint32_t txid;
        uint16_t status, req_type;
        int tag;
        const char *reason;
    } c[] = {
        {"response-ok-tag", 4, NVDP_ST_OK, NVDP_MSG_ASSOC, 100, ""},
        {"response-ok", 3, NVDP_ST_OK, NVDP_MSG_VN_DISCONNECT, 0, ""},
        {"response-unknown-vn", 1, NVDP_ST_UNKNOWN_VN, NVDP_MSG_VN_CONNECT, 0,
         "unknown vn vni:10100"},
        {"response-not-authorised", 4, NVDP_ST_NOT_AUTHORISED, NVDP_MSG_ASSOC,
         0, "hypervisor 02:00:00:00:01:01 not allowed on port p1"},
        {"response-no-tags", 2, NVDP_ST_NO_TAGS, NVDP_MSG_VN_CONNECT, 0,
         "no free tag on port p1"},
        {"response-limit", 5, NVDP_ST_LIMIT, NVDP_MSG_ASSOC, 0,
         "too many addresses for vnic"},
        {"response-malformed", 30, NVDP_ST_MALFORMED, NVDP_MSG_ASSOC, 0,
         "bad length"},
        {"response-unsupported", 31, NVDP_ST_UNSUPPORTED, 0x8070, 0,
         "unknown mandatory TLV"},
        {"response-conflict", 5, NVDP_ST_CONFLICT, NVDP_MSG_ASSOC, 0,
         "mac 52:54:00:12:34:56 owned by another vnic"},
    };
    size_t i;
    struct gf *g;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        const struct nvdp_msg *m;
        g = golden_nve(c[i].name, 1);
        m = &g->m[0];
        assert_int_equal(m->type, NVDP_MSG_RESPONSE);
        assert_int_equal(m->txid, c[i].txid);
        assert_int_equal(m->status, c[i].status);
        assert_int_equal(m->req_type, c[i].req_type);
        assert_int_equal(m->has_tag, c[i].tag != 0);
        assert_int_equal(m->tag, c[i].tag);
        assert_string_equal(m->reason, c[i].reason);
        gf_reencode(g, 1);
        gf_free(g);
    }
    g = golden_hv("response-withdraw-ok", 1);
    assert_int_equal(g->m[0].type, NVDP_MSG_RESPONSE);
    assert_int_equal(g->m[0].txid, 1);
    assert_int_equal(g->m[0].req_type, NVDP_MSG_WITHDRAW);
    assert_int_equal(g->m[0].status, NVDP_ST_OK);
    gf_reencode(g, 1);
    gf_free(g);
}

static void
t_batch(void **s)
{
    struct gf *g = golden_hv("batch-hv", 4);
    const uint8_t mac2[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
    int i;

    assert_int_equal(g->m[0].type, NVDP_MSG_VN_CONNECT);
    assert_int_equal(g->m[1].type, NVDP_MSG_ASSOC);
    assert_int_equal(g->m[2].type, NVDP_MSG_ASSOC);
    assert_int_equal(g->m[3].type, NVDP_MSG_VNIC_STATE);
    for (i = 0; i < 4; i++) {
        assert_int_equal(g->m[i].txid, 20 + i);
        assert_uuid(&g->m[i].vnic, i == 2 ? VNIC2_S : VNIC_S);
    }
    assert_int_equal(g->m[1].naddr, 2);
    assert_addr(&g->m[1].addr[1], VM_MAC, NVDP_ADDR_HOST, "10.1.0.5");
    assert_int_equal(g->m[2].naddr, 1);
    assert_addr(&g->m[2].addr[0], mac2, NVDP_ADDR_HOST, "10.1.0.6");
    assert_int_equal(g->m[3].state, NVDP_VNIC_UP);
    gf_reencode(g, 4);
    gf_free(g);

    g = golden_nve("batch-nve", 4);
    for (i = 0; i < 4; i++) {
        assert_int_equal(g->m[i].type, NVDP_MSG_RESPONSE);
        assert_int_equal(g->m[i].txid, 20 + i);
        assert_int_equal(g->m[i].status, NVDP_ST_OK);
        assert_int_equal(g->m[i].has_tag, i < 3);
    }
    assert_int_equal(g->m[0].req_type, NVDP_MSG_VN_CONNECT);
    assert_int_equal(g->m[3].req_type, NVDP_MSG_VNIC_STATE);
    gf_reencode(g, 4);
    gf_free(g);
}

static void
t_auth_reserved(void **s)
{
    struct gf *g = golden_hv("auth-reserved", 1);
    const uint8_t *a = g->r.auth;
    int i;

    assert_int_equal(g->r.hdr.flags, NVDP_HF_AUTH);
    assert_int_equal(g->m[0].type, NVDP_MSG_HELLO);
    assert_non_null(a);
    assert_int_equal(a[0] << 8 | a[1], 1); /* key_id */
    assert_int_equal(a[2] << 8 | a[3], 0);
    assert_int_equal(a[11], 42); /* replay counter, low byte */
    for (i = 0; i < 32; i++)
        assert_int_equal(a[12 + i], i);
    /* The AUTH TLV is the last 48 bytes of the TLV area. */
    assert_ptr_equal(a + NVDP_AUTH_LEN,
                     g->raw + NVDP_ETH_HLEN + NVDP_HDR_LEN + g->r.hdr.length);
    gf_free(g);
}

/* ---- Malformed frames ---------------------------------------------------- */
static void
t_malformed_open(void **s)
{
    static const struct {
        const char *name;
        int rc;
    } c[] = {
        {"malformed/truncated-header", NVDP_E_SHORT},
        {"malformed/truncated-frame", NVDP_E_SHORT},
        {"malformed/wrong-version", NVDP_E_VERSION},
        {"malformed/oversize", NVDP_E_LENGTH},
        {"malformed/zero-epoch", NVDP_E_VALUE},
        {"malformed/auth-missing", NVDP_E_AUTH},
    };
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct gf *g = gf_decode(c[i].name);
        if (g->open_rc != c[i].rc)
            fail_msg("%s: open %d, want %d", c[i].name, g->open_rc, c[i].rc);
        gf_free(g);
    }
}

/* One bad message: next() returns rc with type/txid given back, then 0. */
static void
t_malformed_msg(void **s)
{
    static const struct {
        const char *name;
        int rc;
        uint16_t type;
        uint32_t txid;
        uint16_t status;
    } c[] = {
        {"malformed/unknown-mandatory-sub", NVDP_E_UNKNOWN, NVDP_MSG_ASSOC, 30,
         NVDP_ST_UNSUPPORTED},
        {"malformed/unknown-mandatory-msg", NVDP_E_UNKNOWN, 0x8070, 31,
         NVDP_ST_UNSUPPORTED},
        {"malformed/too-many-addrs", NVDP_E_TOOMANY, NVDP_MSG_ASSOC, 32,
         NVDP_ST_LIMIT},
        {"malformed/dup-vnic", NVDP_E_DUP, NVDP_MSG_VN_CONNECT, 33,
         NVDP_ST_MALFORMED},
        {"malformed/dup-vn", NVDP_E_DUP, NVDP_MSG_VN_CONNECT, 34,
         NVDP_ST_MALFORMED},
        {"malformed/missing-vnic", NVDP_E_MISSING, NVDP_MSG_ASSOC, 35,
         NVDP_ST_MALFORMED},
        {"malformed/missing-addr", NVDP_E_MISSING, NVDP_MSG_DISASSOC, 36,
         NVDP_ST_MALFORMED},
        {"malformed/bad-tag-0", NVDP_E_VALUE, NVDP_MSG_RESPONSE, 4,
         NVDP_ST_MALFORMED},
        {"malformed/bad-tag-4095", NVDP_E_VALUE, NVDP_MSG_VN_CONNECT, 37,
         NVDP_ST_MALFORMED},
        {"malformed/bad-vni", NVDP_E_VALUE, NVDP_MSG_VN_CONNECT, 38,
         NVDP_ST_MALFORMED},
        {"malformed/bad-intent", NVDP_E_VALUE, NVDP_MSG_VNIC_DISASSOC, 39,
         NVDP_ST_MALFORMED},
        {"malformed/bad-prefix", NVDP_E_VALUE, NVDP_MSG_ASSOC, 40,
         NVDP_ST_MALFORMED},
        {"malformed/group-mac-addr", NVDP_E_VALUE, NVDP_MSG_ASSOC, 41,
         NVDP_ST_MALFORMED},
        {"malformed/sub-not-allowed", NVDP_E_UNKNOWN, NVDP_MSG_RESYNC, 42,
         NVDP_ST_UNSUPPORTED},
        {"malformed/short-txid", NVDP_E_SHORT, NVDP_MSG_ASSOC, 0,
         NVDP_ST_MALFORMED},
        {"malformed/bad-tlv-length", NVDP_E_LENGTH, 0, 0, NVDP_ST_MALFORMED},
    };
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct gf *g = gf_decode(c[i].name);
        assert_int_equal(g->open_rc, 0);
        if (g->nrc != 2 || g->rc[0] != c[i].rc || g->rc[1] != 0)
            fail_msg("%s: got %d calls, rc %d then %d; want %d then 0",
                     c[i].name, g->nrc, g->rc[0], g->rc[1], c[i].rc);
        if (c[i].type)
            assert_int_equal(g->m[0].type, c[i].type);
        assert_int_equal(g->m[0].txid, c[i].txid);
        assert_int_equal(nvdp_err_status(g->rc[0]), c[i].status);
        gf_free(g);
    }
}

static void
t_malformed_continue(void **s)
{
    struct gf *g;

    /* A bad sub-TLV costs one message; the frame goes on. */
    g = gf_decode("malformed/bad-sub-length");
    assert_int_equal(g->open_rc, 0);
    assert_int_equal(g->nrc, 3);
    assert_int_equal(g->rc[0], NVDP_E_LENGTH);
    assert_int_equal(g->m[0].type, NVDP_MSG_ASSOC);
    assert_int_equal(g->m[0].txid, 30);
    assert_int_equal(g->rc[1], 1);
    assert_int_equal(g->m[1].type, NVDP_MSG_RESYNC);
    assert_int_equal(g->m[1].txid, 13);
    assert_int_equal(g->rc[2], 0);
    gf_free(g);

    /* Two bytes left in the TLV area: framing error after a good message. */
    g = gf_decode("malformed/trailing-garbage");
    assert_int_equal(g->nrc, 3);
    assert_int_equal(g->rc[0], 1);
    assert_int_equal(g->rc[1], NVDP_E_SHORT);
    assert_int_equal(g->rc[2], 0);
    gf_free(g);

    /* AUTH TLV without the header flag. */
    g = gf_decode("malformed/auth-unannounced");
    assert_int_equal(g->nrc, 3);
    assert_int_equal(g->rc[0], 1);
    assert_int_equal(g->m[0].type, NVDP_MSG_HELLO);
    assert_int_equal(g->rc[1], NVDP_E_AUTH);
    assert_int_equal(g->rc[2], 0);
    gf_free(g);
}

static void
t_unknown_optional(void **s)
{
    struct gf *g = gf_decode("malformed/unknown-optional-sub");
    struct gf *ref = golden_hv("assoc-mac", 1);

    assert_int_equal(g->open_rc, 0);
    assert_int_equal(g->nrc, 2);
    assert_int_equal(g->rc[0], 1);
    assert_int_equal(g->r.skipped, 1);
    /* Decodes to exactly what the frame without the unknown TLV gives. */
    assert_memory_equal(&g->m[0], &ref->m[0], sizeof(g->m[0]));
    gf_free(g);
    gf_free(ref);

    g = gf_decode("malformed/unknown-optional-msg");
    assert_int_equal(g->nrc, 2);
    assert_int_equal(g->rc[0], 1);
    assert_int_equal(g->m[0].type, NVDP_MSG_RESYNC);
    assert_int_equal(g->m[0].phase, NVDP_RESYNC_BEGIN);
    assert_int_equal(g->r.skipped, 1);
    gf_free(g);
}

/* ---- Hand-built edge cases ---------------------------------------------- */
static void
t_open_edges(void **s)
{
    uint8_t b[NVDP_HDR_LEN + 8] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    struct nvdp_reader r;
    struct nvdp_msg *m = calloc(1, sizeof(*m));

    assert_non_null(m);
    assert_int_equal(nvdp_frame_open(&r, b, 0), NVDP_E_SHORT);
    assert_int_equal(nvdp_frame_open(&r, b, 1), NVDP_E_SHORT);
    assert_int_equal(nvdp_frame_open(&r, b, NVDP_HDR_LEN - 1), NVDP_E_SHORT);
    /* Empty frame: valid, no message. */
    assert_int_equal(nvdp_frame_open(&r, b, NVDP_HDR_LEN), 0);
    assert_int_equal(nvdp_frame_next(&r, m), 0);
    assert_int_equal(nvdp_frame_next(&r, m), 0);
    /* Unknown header flags are ignored. */
    b[1] = 0x80;
    assert_int_equal(nvdp_frame_open(&r, b, sizeof(b)), 0);
    b[1] = 0;
    /* Largest acceptable length is checked against the delivered size. */
    b[2] = (NVDP_FRAME_MAX - NVDP_HDR_LEN) >> 8;
    b[3] = (NVDP_FRAME_MAX - NVDP_HDR_LEN) & 0xff;
    assert_int_equal(nvdp_frame_open(&r, b, sizeof(b)), NVDP_E_SHORT);
    free(m);
}

static void
t_strings(void **s)
{
    int st;

    assert_string_equal(nvdp_status_str(NVDP_ST_OK), "ok");
    assert_string_equal(nvdp_status_str(NVDP_ST_NOT_AUTHORISED),
                        "not-authorised");
    assert_string_equal(nvdp_status_str(NVDP_ST_INTERNAL), "internal");
    assert_string_equal(nvdp_status_str(999), "unknown-status");
    for (st = 0; st <= NVDP_ST_MAX; st++)
        assert_string_not_equal(nvdp_status_str((uint16_t)st), "unknown-status");
    assert_string_equal(nvdp_msg_name(NVDP_MSG_VN_CONNECT), "vn-connect");
    assert_string_equal(nvdp_msg_name(NVDP_MSG_VNIC_STATE), "vnic-state");
    assert_string_equal(nvdp_msg_name(NVDP_MSG_AUTH), "auth");
    assert_string_equal(nvdp_msg_name(0x1234), "unknown");
    assert_string_equal(nvdp_strerror(NVDP_E_TOOMANY), "too many addresses");
    assert_string_equal(nvdp_strerror(-99), "unknown error");
    assert_int_equal(nvdp_err_status(NVDP_E_SHORT), NVDP_ST_MALFORMED);
    assert_int_equal(nvdp_err_status(NVDP_E_LENGTH), NVDP_ST_MALFORMED);
    assert_int_equal(nvdp_err_status(NVDP_E_VALUE), NVDP_ST_MALFORMED);
    assert_int_equal(nvdp_err_status(NVDP_E_DUP), NVDP_ST_MALFORMED);
    assert_int_equal(nvdp_err_status(NVDP_E_MISSING), NVDP_ST_MALFORMED);
    assert_int_equal(nvdp_err_status(NVDP_E_UNKNOWN), NVDP_ST_UNSUPPORTED);
    assert_int_equal(nvdp_err_status(NVDP_E_TOOMANY), NVDP_ST_LIMIT);
}

/* ---- Writer ---------------------------------------------------------- */
static struct nvdp_msg *
mk_assoc(uint32_t txid, int naddr)
{
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    int i;

    assert_non_null(m);
    m->type = NVDP_MSG_ASSOC;
    m->txid = txid;
    m->has_vnic = 1;
    assert_int_equal(nvdp_uuid_parse(VNIC_S, &m->vnic), 0);
    m->vn.kind = NVDP_VN_VNI;
    m->vn.vni = 10100;
    for (i = 0; i < naddr; i++) {
        uint8_t mac[6] = {0x52, 0x54, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250 + 1);
        assert_int_equal(nvdp_addr_parse(mac, ip, &m->addr[i]), 0);
    }
    m->naddr = (uint16_t)naddr;
    return m;
}

static void
t_writer_nospace(void **s)
{
    uint8_t buf[200], copy[200];
    struct nvdp_writer w;
    struct nvdp_msg *m = mk_assoc(1, 2);
    size_t sz = nvdp_msg_size(m), before;

    /* 4+4 + VNIC 20 + VNI 8 + 2 x ADDR_IP4 14 */
    assert_int_equal(sz, 4 + 4 + 20 + 8 + 2 * 14);
    memset(buf, 0xAA, sizeof(buf));
    nvdp_writer_init(&w, buf, NVDP_HDR_LEN + 2 * sz + 10, 7, 9);
    assert_int_equal(nvdp_writer_add(&w, m), 0);
    assert_int_equal(nvdp_writer_add(&w, m), 0);
    before = w.len;
    memcpy(copy, buf, sizeof(buf));
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_NOSPACE);
    /* Frame and the rest of the buffer untouched. */
    assert_int_equal(w.len, before);
    assert_int_equal(w.nmsg, 2);
    assert_memory_equal(buf, copy, sizeof(buf));
    assert_int_equal(nvdp_writer_finish(&w), NVDP_HDR_LEN + 2 * sz);
    assert_int_equal(buf[2] << 8 | buf[3], 2 * sz);
    /* Exactly fitting is accepted. */
    nvdp_writer_init(&w, buf, NVDP_HDR_LEN + sz, 7, 9);
    assert_int_equal(nvdp_writer_add(&w, m), 0);
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_NOSPACE);
    /* A buffer smaller than the header takes nothing. */
    nvdp_writer_init(&w, buf, 4, 7, 9);
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_NOSPACE);
    assert_int_equal(nvdp_writer_finish(&w), 0);
    free(m);
}

/* Requests are batched until the MTU; every one decodes back in order. */
static void
t_writer_batch_mtu(void **s)
{
    uint8_t buf[NVDP_MTU_DEFAULT];
    struct nvdp_writer w;
    struct nvdp_reader r;
    struct nvdp_msg *m = mk_assoc(1, 1), *d = calloc(1, sizeof(*d));
    size_t sz = nvdp_msg_size(m), n;
    uint32_t txid = 1, i;

    assert_non_null(d);
    nvdp_writer_init(&w, buf, sizeof(buf), 0x1234, 0x5678);
    while ((m->txid = txid), nvdp_writer_add(&w, m) == 0)
        txid++;
    assert_int_equal(w.nmsg, (NVDP_MTU_DEFAULT - NVDP_HDR_LEN) / sz);
    assert_true(w.nmsg > 20);
    n = nvdp_writer_finish(&w);
    assert_true(n <= NVDP_MTU_DEFAULT);
    assert_true(n + sz > NVDP_MTU_DEFAULT);
    assert_int_equal(nvdp_frame_open(&r, buf, n), 0);
    assert_int_equal(r.hdr.epoch, 0x1234);
    assert_int_equal(r.hdr.peer_epoch, 0x5678);
    for (i = 1; i <= w.nmsg; i++) {
        assert_int_equal(nvdp_frame_next(&r, d), 1);
        assert_int_equal(d->txid, i);
        assert_int_equal(d->naddr, 1);
    }
    assert_int_equal(nvdp_frame_next(&r, d), 0);
    free(m);
    free(d);
}

/* The encoder refuses what the decoder would refuse. */
static void
t_writer_invalid(void **s)
{
    uint8_t buf[NVDP_FRAME_MAX];
    struct nvdp_writer w;
    struct nvdp_msg *m = mk_assoc(1, 1);

    nvdp_writer_init(&w, buf, sizeof(buf), 1, 0);
    m->txid = 0;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    m->txid = 1;
    m->vn.vni = NVDP_VNI_MAX + 1;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    m->vn.kind = NVDP_VN_NONE;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_MISSING);
    m->vn.kind = NVDP_VN_VNI;
    m->vn.vni = 5;
    m->has_tag_hint = 1;
    m->tag_hint = 4095;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    m->tag_hint = 0;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    m->tag_hint = 4094;
    m->naddr = NVDP_MAX_ADDRS + 1;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_TOOMANY);
    m->naddr = 1;
    m->addr[0].mac[0] = 0x01; /* group MAC */
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    m->addr[0].mac[0] = 0x52;
    m->type = NVDP_MSG_DISASSOC;
    m->naddr = 0;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_MISSING);
    m->type = NVDP_MSG_VNIC_DISASSOC; /* intent required and 1|2 */
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    m->type = NVDP_MSG_WITHDRAW; /* reason required */
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_MISSING);
    m->type = 0x8077;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_UNKNOWN);
    m->type = NVDP_MSG_AUTH;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_UNKNOWN);
    memset(m, 0, sizeof(*m));
    m->type = NVDP_MSG_HELLO;
    m->hello.role = 3;
    m->hello.hold_time = 10;
    m->hello.hello_interval = 1000;
    m->hello.window = 1;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    m->hello.role = NVDP_ROLE_HV;
    m->hello.window = 0;
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_VALUE);
    assert_int_equal(w.nmsg, 0);
    assert_int_equal(w.len, NVDP_HDR_LEN);
    free(m);
}

/* Only the sub-TLVs a message allows are written, whatever else is set. */
static void
t_writer_canonical(void **s)
{
    uint8_t buf[256];
    struct nvdp_writer w;
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    struct gf *g = golden_hv("resync-begin", 1);
    size_t n;

    assert_non_null(m);
    m->type = NVDP_MSG_RESYNC;
    m->txid = 13;
    m->phase = NVDP_RESYNC_BEGIN; /* required: has_phase not needed */
    m->has_vnic = 1;              /* not allowed in RESYNC: ignored */
    m->has_tag = 1;
    m->tag = 5;
    nvdp_writer_init(&w, buf, sizeof(buf), HV_EPOCH, NVE_EPOCH);
    assert_int_equal(nvdp_writer_add(&w, m), 0);
    n = nvdp_writer_finish(&w);
    assert_int_equal(n, g->len - NVDP_ETH_HLEN);
    assert_memory_equal(buf, g->raw + NVDP_ETH_HLEN, n);
    gf_free(g);
    free(m);
}

/* ---- Hand-built frames ------------------------------------------------- */
/* Frame = header (epoch 1, peer 0, flags) + the given TLV bytes. */
static size_t
mkframe(uint8_t *buf, uint8_t flags, const uint8_t *tlvs, size_t n)
{
    uint8_t h[NVDP_HDR_LEN] = {1, flags, (uint8_t)(n >> 8), (uint8_t)n,
                               0, 0, 0, 1, 0, 0, 0, 0};
    memcpy(buf, h, sizeof(h));
    memcpy(buf + NVDP_HDR_LEN, tlvs, n);
    return NVDP_HDR_LEN + n;
}

/* Decodes a one-message frame; returns next()'s first result. */
static int
decode1(const uint8_t *tlvs, size_t n, struct nvdp_msg *m)
{
    uint8_t buf[1024];
    struct nvdp_reader r;
    struct nvdp_msg *extra = calloc(1, sizeof(*extra));
    int rc;

    assert_non_null(extra);
    assert_true(n <= sizeof(buf) - NVDP_HDR_LEN);
    assert_int_equal(nvdp_frame_open(&r, buf, mkframe(buf, 0, tlvs, n)), 0);
    rc = nvdp_frame_next(&r, m);
    /* One message per frame here: the next call always ends it. */
    assert_int_equal(nvdp_frame_next(&r, extra), 0);
    free(extra);
    return rc;
}

#define VNIC_TLV 0x81, 0x01, 0, 16, 0x6f, 0x1c, 0x3e, 0x2a, 0x8b, 0x4d, 0x4e, \
    0x5f, 0x9a, 0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b
#define VNI_TLV 0x81, 0x03, 0, 4, 0, 0, 0x27, 0x74
#define MAC_TLV 0x81, 0x10, 0, 6, 0x52, 0x54, 0, 0x12, 0x34, 0x56
#define IP4_TLV 0x81, 0x11, 0, 10, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 1, 0, 5

/* Receivers accept sub-TLVs in any order; addresses keep theirs. */
static void
t_any_order(void **s)
{
    static const uint8_t canon[] = {0x80, 0x05, 0, 4 + 20 + 8 + 10 + 14,
                                    0, 0, 0, 4, VNIC_TLV, VNI_TLV, MAC_TLV,
                                    IP4_TLV};
    static const uint8_t shuffled[] = {0x80, 0x05, 0, 4 + 20 + 8 + 10 + 14,
                                       0, 0, 0, 4, MAC_TLV, VNI_TLV, IP4_TLV,
                                       VNIC_TLV};
    struct nvdp_msg *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    uint8_t out[256];
    struct nvdp_writer w;

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(decode1(canon, sizeof(canon), a), 1);
    assert_int_equal(decode1(shuffled, sizeof(shuffled), b), 1);
    assert_memory_equal(a, b, sizeof(*a));
    assert_int_equal(b->addr[0].kind, NVDP_ADDR_MAC);
    assert_int_equal(b->addr[1].kind, NVDP_ADDR_HOST);
    /* Re-encoding the shuffled one gives the canonical bytes. */
    nvdp_writer_init(&w, out, sizeof(out), 1, 0);
    assert_int_equal(nvdp_writer_add(&w, b), 0);
    assert_int_equal(nvdp_writer_finish(&w), NVDP_HDR_LEN + sizeof(canon));
    assert_memory_equal(out + NVDP_HDR_LEN, canon, sizeof(canon));
    free(a);
    free(b);
}

static void
t_value_edges(void **s)
{
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    /* RESPONSE txid 9, unknown status 999: accepted as is. */
    static const uint8_t resp999[] = {0x80, 0x02, 0, 8, 0, 0, 0, 9,
                                      0x03, 0xe7, 0x80, 0x05};
    /* RESPONSE with an empty REASON: length below the minimum. */
    static const uint8_t reason0[] = {0x80, 0x02, 0, 12, 0, 0, 0, 9, 0, 5,
                                      0x80, 0x05, 0x81, 0x08, 0, 0};
    /* REASON with an embedded NUL. */
    static const uint8_t reasonnul[] = {0x80, 0x02, 0, 15, 0, 0, 0, 9, 0, 5,
                                        0x80, 0x05, 0x81, 0x08, 0, 3,
                                        'a', 0, 'b'};
    /* Request with txid 0. */
    static const uint8_t txid0[] = {0x80, 0x0a, 0, 9, 0, 0, 0, 0,
                                    0x81, 0x0b, 0, 1, 1};
    /* HELLO with hold_time 0; HELLO with a short fixed part. */
    static const uint8_t hold0[] = {0x80, 0x01, 0, 8, 1, 0, 0, 0, 0x03, 0xe8,
                                    0, 1};
    static const uint8_t hello_short[] = {0x80, 0x01, 0, 6, 1, 0, 0, 10,
                                          0x03, 0xe8};
    /* HELLO whose NAME is 65 bytes. */
    uint8_t longname[4 + 8 + 4 + 65] = {0x80, 0x01, 0, 8 + 4 + 65, 1, 0, 0,
                                        10, 0x03, 0xe8, 0, 1, 0x81, 0x09, 0,
                                        65};
    /* FLAGS with reserved bits set: ignored, RR kept. */
    static const uint8_t flags[] = {0x80, 0x08, 0, 4 + 20 + 8 + 8, 0, 0, 0, 3,
                                    VNIC_TLV, VNI_TLV, 0x81, 0x07, 0, 4,
                                    0xff, 0, 0, 1};
    /* A VNI whose top byte is set, a VNI of exactly 2^24 - 1. */
    static const uint8_t vnimax[] = {0x80, 0x03, 0, 4 + 20 + 8, 0, 0, 0, 3,
                                     VNIC_TLV, 0x81, 0x03, 0, 4, 0, 0xff, 0xff,
                                     0xff};
    /* RESPONSE with a VNIC: known sub-TLV, not allowed there. */
    static const uint8_t respvnic[] = {0x80, 0x02, 0, 8 + 20, 0, 0, 0, 9, 0, 0,
                                       0x80, 0x05, VNIC_TLV};
    /* Sub-TLV running past the end of its message. */
    static const uint8_t subpast[] = {0x80, 0x0a, 0, 9, 0, 0, 0, 1,
                                      0x81, 0x0b, 0, 2, 1};
    /* Tag 4094 is the highest valid one. */
    static const uint8_t tag4094[] = {0x80, 0x02, 0, 14, 0, 0, 0, 9, 0, 0,
                                      0x80, 0x05, 0x81, 0x04, 0, 2, 0x0f, 0xfe};

    assert_non_null(m);
    memset(longname + 16, 'x', 65);
    assert_int_equal(decode1(resp999, sizeof(resp999), m), 1);
    assert_int_equal(m->status, 999);
    assert_string_equal(nvdp_status_str(m->status), "unknown-status");
    assert_int_equal(decode1(reason0, sizeof(reason0), m), NVDP_E_LENGTH);
    assert_int_equal(m->txid, 9);
    assert_int_equal(decode1(reasonnul, sizeof(reasonnul), m), NVDP_E_VALUE);
    assert_int_equal(decode1(txid0, sizeof(txid0), m), NVDP_E_VALUE);
    assert_int_equal(m->txid, 0);
    assert_int_equal(decode1(hold0, sizeof(hold0), m), NVDP_E_VALUE);
    assert_int_equal(decode1(hello_short, sizeof(hello_short), m),
                     NVDP_E_SHORT);
    assert_int_equal(decode1(longname, sizeof(longname), m), NVDP_E_LENGTH);
    longname[3] = 8 + 4 + 64; /* 64 bytes: the maximum */
    longname[15] = 64;
    assert_int_equal(decode1(longname, sizeof(longname) - 1, m), 1);
    assert_int_equal(strlen(m->hello.name), 64);
    assert_int_equal(decode1(flags, sizeof(flags), m), 1);
    assert_int_equal(m->rflags, NVDP_RF_RR);
    assert_int_equal(decode1(vnimax, sizeof(vnimax), m), 1);
    assert_int_equal(m->vn.vni, NVDP_VNI_MAX);
    assert_int_equal(decode1(respvnic, sizeof(respvnic), m), NVDP_E_UNKNOWN);
    assert_int_equal(decode1(subpast, sizeof(subpast), m), NVDP_E_LENGTH);
    assert_int_equal(m->txid, 1);
    assert_int_equal(decode1(tag4094, sizeof(tag4094), m), 1);
    assert_int_equal(m->tag, 4094);
    free(m);
}

/* 64 addresses is the limit, whatever their size; 64 IPv6 ranges only
 * fit a jumbo frame. */
static void
t_max_addrs(void **s)
{
    uint8_t *buf = malloc(NVDP_FRAME_MAX);
    struct nvdp_msg *m = mk_assoc(7, NVDP_MAX_ADDRS), *d = calloc(1, sizeof(*d));
    struct nvdp_writer w;
    struct nvdp_reader r;
    size_t n;
    int i;

    assert_non_null(buf);
    assert_non_null(d);
    for (i = 0; i < NVDP_MAX_ADDRS; i++) {
        char ip[80];
        snprintf(ip, sizeof(ip), "2001:db8::%x:0-2001:db8::%x:ffff", i, i);
        assert_int_equal(nvdp_addr_parse(m->addr[i].mac, ip, &m->addr[i]), 0);
    }
    assert_int_equal(nvdp_msg_size(m), 4 + 4 + 20 + 8 + 64 * (4 + 38));
    nvdp_writer_init(&w, buf, NVDP_MTU_DEFAULT, 1, 2);
    assert_int_equal(nvdp_writer_add(&w, m), NVDP_E_NOSPACE);
    assert_int_equal(w.nmsg, 0);
    nvdp_writer_init(&w, buf, NVDP_FRAME_MAX, 1, 2);
    assert_int_equal(nvdp_writer_add(&w, m), 0);
    n = nvdp_writer_finish(&w);
    assert_int_equal(nvdp_frame_open(&r, buf, n), 0);
    assert_int_equal(nvdp_frame_next(&r, d), 1);
    assert_memory_equal(d, m, sizeof(*d) - sizeof(d->addr));
    for (i = 0; i < NVDP_MAX_ADDRS; i++)
        assert_true(nvdp_addr_equal(&d->addr[i], &m->addr[i]));
    free(buf);
    free(m);
    free(d);
}

/* AUTH misuse inside a frame that announces it. */
static void
t_auth_placement(void **s)
{
    uint8_t buf[256], tl[128];
    struct nvdp_reader r;
    size_t n = 0;
    static const uint8_t resync[] = {0x80, 0x0a, 0, 9, 0, 0, 0, 1,
                                     0x81, 0x0b, 0, 1, 1};

    /* AUTH (44 bytes) followed by another message: not last. */
    memset(tl, 0, sizeof(tl));
    tl[0] = 0x80, tl[1] = 0xff, tl[3] = NVDP_AUTH_LEN;
    n = 4 + NVDP_AUTH_LEN;
    memcpy(tl + n, resync, sizeof(resync));
    n += sizeof(resync);
    assert_int_equal(nvdp_frame_open(&r, buf, mkframe(buf, NVDP_HF_AUTH, tl, n)),
                     NVDP_E_AUTH);
    /* AUTH last but 43 bytes long. */
    memcpy(tl, resync, sizeof(resync));
    n = sizeof(resync);
    tl[n] = 0x80, tl[n + 1] = 0xff, tl[n + 2] = 0, tl[n + 3] = NVDP_AUTH_LEN - 1;
    memset(tl + n + 4, 0, NVDP_AUTH_LEN - 1);
    n += 4 + NVDP_AUTH_LEN - 1;
    assert_int_equal(nvdp_frame_open(&r, buf, mkframe(buf, NVDP_HF_AUTH, tl, n)),
                     NVDP_E_AUTH);
    /* Right length: the message area stops before it. */
    tl[sizeof(resync) + 3] = NVDP_AUTH_LEN;
    n++;
    assert_int_equal(nvdp_frame_open(&r, buf, mkframe(buf, NVDP_HF_AUTH, tl, n)), 0);
    assert_ptr_equal(r.auth, buf + NVDP_HDR_LEN + sizeof(resync) + 4);
    assert_int_equal(r.left, sizeof(resync));
}

/* Every file in frames/ and frames/malformed/ is checked by a test above,
 * and every name the tests use exists: a new golden frame cannot go
 * untested, a renamed one cannot silently drop out. */
static const char *const covered[] = {
    "assoc-all-kinds", "assoc-mac", "auth-assoc", "auth-hello",
    "auth-reserved", "batch-hv", "batch-nve",
    "disassoc", "hello-hv-group", "hello-hv", "hello-nve-nostate",
    "hello-nve", "preassoc-rr", "preassoc", "replay-assoc",
    "response-conflict", "response-limit", "response-malformed",
    "response-no-tags", "response-not-authorised", "response-ok-tag",
    "response-ok", "response-unknown-vn", "response-unsupported",
    "response-withdraw-ok", "resync-begin", "resync-end-padded",
    "resync-end", "vn-connect-uuid-hint", "vn-connect-vni", "vn-disconnect",
    "vnic-disassoc-migration", "vnic-disassoc-shutdown", "vnic-state-down",
    "vnic-state-up", "withdraw-vn", "withdraw-vnic",
    "malformed/auth-missing", "malformed/auth-not-last",
    "malformed/auth-truncated", "malformed/auth-unannounced",
    "malformed/bad-intent", "malformed/bad-prefix",
    "malformed/bad-sub-length", "malformed/bad-tag-0",
    "malformed/bad-tag-4095", "malformed/bad-tlv-length",
    "malformed/bad-vni", "malformed/dup-vn", "malformed/dup-vnic",
    "malformed/group-mac-addr", "malformed/missing-addr",
    "malformed/missing-vnic", "malformed/oversize", "malformed/short-txid",
    "malformed/sub-not-allowed", "malformed/too-many-addrs",
    "malformed/trailing-garbage", "malformed/truncated-frame",
    "malformed/truncated-header", "malformed/unknown-mandatory-msg",
    "malformed/unknown-mandatory-sub", "malformed/unknown-optional-msg",
    "malformed/unknown-optional-sub", "malformed/wrong-version",
    "malformed/zero-epoch",
};
#define NCOVERED (sizeof(covered) / sizeof(covered[0]))

static void
mark_seen(void *arg, const char *name)
{
    uint8_t *seen = arg;
    size_t i;

    for (i = 0; i < NCOVERED && strcmp(covered[i], name) != 0; i++)
        ;
    if (i == NCOVERED)
        fail_msg("golden frame %s has no test in test_codec.c", name);
    seen[i] = 1;
}

static void
t_every_frame_tested(void **s)
{
    uint8_t seen[NCOVERED] = {0};
    size_t n, i;

    n = golden_each("", mark_seen, seen) +
        golden_each("/malformed", mark_seen, seen);
    for (i = 0; i < NCOVERED; i++)
        if (!seen[i])
            fail_msg("test list names %s, which is not in frames/", covered[i]);
    assert_int_equal(n, NCOVERED);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_hello),
        cmocka_unit_test(t_vn_connect),
        cmocka_unit_test(t_assoc),
        cmocka_unit_test(t_vnic_disassoc),
        cmocka_unit_test(t_preassoc),
        cmocka_unit_test(t_state_resync),
        cmocka_unit_test(t_padding),
        cmocka_unit_test(t_withdraw),
        cmocka_unit_test(t_responses),
        cmocka_unit_test(t_batch),
        cmocka_unit_test(t_auth_reserved),
        cmocka_unit_test(t_malformed_open),
        cmocka_unit_test(t_malformed_msg),
        cmocka_unit_test(t_malformed_continue),
        cmocka_unit_test(t_unknown_optional),
        cmocka_unit_test(t_open_edges),
        cmocka_unit_test(t_strings),
        cmocka_unit_test(t_writer_nospace),
        cmocka_unit_test(t_writer_batch_mtu),
        cmocka_unit_test(t_writer_invalid),
        cmocka_unit_test(t_writer_canonical),
        cmocka_unit_test(t_any_order),
        cmocka_unit_test(t_value_edges),
        cmocka_unit_test(t_max_addrs),
        cmocka_unit_test(t_auth_placement),
        cmocka_unit_test(t_every_frame_tested),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
