/* test_hv_proto.c - hv-agent's NVDP engine against a fake NVE built from
 * the codec, on a fake clock: addressing, answers, loss, resync, batching. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv.h"

#define MAXFRAMES 256
#define MAXMSGS 400

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t NVE_MAC[6] = {0x02, 0, 0, 0, 0, 0xee};
static const uint8_t OTHER_MAC[6] = {0x02, 0, 0, 0, 0, 0x22};
static const uint8_t GROUP[6] = NVDP_GROUP_MAC_DEFAULT;
#define HV_EPOCH 0x11111111u
#define NVE_EPOCH 0xaaaa0001u

struct frame {
    uint8_t dst[6];
    uint8_t buf[NVDP_FRAME_MAX];
    size_t len;
};

struct event {
    struct nvdp_uuid uuid;
    uint8_t state;
    uint16_t tag;
};

struct env {
    struct hv h;
    uint64_t now;
    struct frame *frames;
    size_t nframes;
    size_t seen; /* frames already handled by the fake NVE */
    struct event ev[512];
    size_t nev;
    int nve_events[8];
    size_t nnve;
    uint32_t nve_epoch;
    uint16_t nve_window;
    uint16_t nve_hold;
    uint32_t nve_txid;
    struct nvdp_msg *msgs; /* decode scratch */
    struct nvdp_msg *one;
};

static int
fake_send(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    struct env *e = arg;
    struct frame *f;

    assert_true(e->nframes < MAXFRAMES);
    assert_true(len <= e->h.proto.mtu);
    f = &e->frames[e->nframes++];
    memcpy(f->dst, dst, 6);
    memcpy(f->buf, buf, len);
    f->len = len;
    return 0;
}

static void
obs_vnic(void *arg, const struct hv_vnic *v)
{
    struct env *e = arg;

    if (e->nev < sizeof(e->ev) / sizeof(e->ev[0])) {
        e->ev[e->nev].uuid = v->uuid;
        e->ev[e->nev].state = v->state;
        e->ev[e->nev].tag = v->tag;
        e->nev++;
    }
}

static void
obs_nve(void *arg, int up)
{
    struct env *e = arg;

    if (e->nnve < 8)
        e->nve_events[e->nnve++] = up;
}

static struct env *
env_new_conf(int with_state, void (*prep)(struct env *))
{
    struct env *e = calloc(1, sizeof(*e));
    struct hv_observer o = {.vnic_changed = obs_vnic, .nve_changed = obs_nve};

    assert_non_null(e);
    e->frames = calloc(MAXFRAMES, sizeof(*e->frames));
    e->msgs = calloc(MAXMSGS, sizeof(*e->msgs));
    e->one = calloc(1, sizeof(*e->one));
    assert_non_null(e->frames);
    assert_non_null(e->msgs);
    hv_conf_defaults(&e->h.conf);
    snprintf(e->h.conf.name, sizeof(e->h.conf.name), "hv-test");
    snprintf(e->h.conf.state_file, sizeof(e->h.conf.state_file),
             "/nonexistent/hv.state");
    hv_state_init(&e->h.state);
    e->now = 1000000;
    e->nve_epoch = NVE_EPOCH;
    e->nve_window = 64;
    e->nve_hold = 3;
    e->nve_txid = 1;
    if (prep != NULL)
        prep(e);
    o.arg = e;
    assert_int_equal(hv_observer_add(&e->h, &o), 0);
    assert_int_equal(hv_proto_init(&e->h, HV_EPOCH, HV_MAC, 1500, fake_send,
                                   e, with_state, e->now), 0);
    return e;
}

static struct env *
env_new(void)
{
    return env_new_conf(0, NULL);
}

static void
env_free(struct env *e)
{
    hv_proto_free(&e->h);
    hv_state_free(&e->h.state);
    hv_conf_free(&e->h.conf);
    free(e->frames);
    free(e->msgs);
    free(e->one);
    free(e);
}

static void
run(struct env *e)
{
    hv_proto_run(&e->h, e->now);
}

static void
advance(struct env *e, uint64_t ms)
{
    e->now += ms;
    run(e);
}

/* Decodes frame f into e->msgs; returns the count. */
static size_t
decode(struct env *e, const struct frame *f, struct nvdp_hdr *hdr)
{
    struct nvdp_reader r;
    size_t n = 0;
    int rc;

    assert_int_equal(nvdp_frame_open(&r, f->buf, f->len), 0);
    if (hdr != NULL)
        *hdr = r.hdr;
    while ((rc = nvdp_frame_next(&r, &e->msgs[n])) != 0) {
        assert_true(rc > 0);
        n++;
        assert_true(n < MAXMSGS);
    }
    return n;
}

/* Requests of a given type in frames[from..], copied to out (may be NULL). */
static size_t
count_type(struct env *e, size_t from, uint16_t type, struct nvdp_msg *out,
           size_t max)
{
    size_t total = 0;

    for (size_t i = from; i < e->nframes; i++) {
        size_t n = decode(e, &e->frames[i], NULL);
        for (size_t j = 0; j < n; j++) {
            if (e->msgs[j].type != type)
                continue;
            if (out != NULL && total < max)
                out[total] = e->msgs[j];
            total++;
        }
    }
    return total;
}

/* ---- the fake NVE ------------------------------------------------------ */

static void
nve_frame_to(struct env *e, const uint8_t src[6], const uint8_t dst[6],
             uint32_t epoch, uint32_t peer_epoch, const struct nvdp_msg *m,
             size_t n)
{
    uint8_t buf[NVDP_FRAME_MAX];
    struct nvdp_writer w;
    size_t len;

    nvdp_writer_init(&w, buf, sizeof(buf), epoch, peer_epoch);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(nvdp_writer_add(&w, &m[i]), 0);
    len = nvdp_writer_finish(&w);
    hv_proto_input(&e->h, src, dst, buf, len, e->now);
}

/* Unicast to us, as everything but the NVE's periodic HELLO. */
static void
nve_frame(struct env *e, const uint8_t src[6], uint32_t epoch,
          uint32_t peer_epoch, const struct nvdp_msg *m, size_t n)
{
    nve_frame_to(e, src, HV_MAC, epoch, peer_epoch, m, n);
}

static void
hello_msg(struct nvdp_msg *m, uint8_t role, uint16_t hold, uint16_t window)
{
    memset(m, 0, sizeof(*m));
    m->type = NVDP_MSG_HELLO;
    m->hello.role = role;
    m->hello.hold_time = hold;
    m->hello.hello_interval = 1000;
    m->hello.window = window;
    snprintf(m->hello.name, sizeof(m->hello.name), "tor1");
}

static void
nve_hello_pe(struct env *e, uint32_t peer_epoch)
{
    hello_msg(e->one, NVDP_ROLE_NVE, e->nve_hold, e->nve_window);
    nve_frame(e, NVE_MAC, e->nve_epoch, peer_epoch, e->one, 1);
}

static void
nve_hello(struct env *e)
{
    nve_hello_pe(e, HV_EPOCH);
}

/* The NVE's periodic HELLO to the group: peer_epoch 0 for everybody. */
static void
nve_group_hello(struct env *e)
{
    hello_msg(e->one, NVDP_ROLE_NVE, e->nve_hold, e->nve_window);
    nve_frame_to(e, NVE_MAC, GROUP, e->nve_epoch, 0, e->one, 1);
}

static void
response(struct nvdp_msg *r, uint32_t txid, uint16_t req_type,
         uint16_t status, uint16_t tag, const char *reason)
{
    memset(r, 0, sizeof(*r));
    r->type = NVDP_MSG_RESPONSE;
    r->txid = txid;
    r->req_type = req_type;
    r->status = status;
    if (tag != 0) {
        r->has_tag = 1;
        r->tag = tag;
    }
    if (reason != NULL)
        snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static void
nve_respond(struct env *e, uint32_t txid, uint16_t req_type, uint16_t status,
            uint16_t tag, const char *reason)
{
    response(e->one, txid, req_type, status, tag, reason);
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, e->one, 1);
}

static uint16_t
tag_for(const struct nvdp_vn *vn)
{
    return (uint16_t)(100 + vn->vni % 1000);
}

/* Answers every request in frames not yet seen, OK with the VN's tag (or
 * with the hint when one is given), all in one frame. */
static size_t
nve_answer_all(struct env *e)
{
    struct nvdp_msg *resp = calloc(MAXMSGS, sizeof(*resp));
    size_t nr = 0;

    assert_non_null(resp);
    for (; e->seen < e->nframes; e->seen++) {
        size_t n = decode(e, &e->frames[e->seen], NULL);
        for (size_t j = 0; j < n; j++) {
            const struct nvdp_msg *m = &e->msgs[j];
            uint16_t tag = 0;
            if (m->type == NVDP_MSG_HELLO || m->type == NVDP_MSG_RESPONSE)
                continue;
            if (m->type == NVDP_MSG_ASSOC ||
                (m->type == NVDP_MSG_PREASSOC && (m->rflags & NVDP_RF_RR)))
                tag = m->has_tag_hint ? m->tag_hint : tag_for(&m->vn);
            response(&resp[nr++], m->txid, m->type, NVDP_ST_OK, tag, NULL);
        }
    }
    /* frames are bounded by size: send in chunks */
    for (size_t i = 0; i < nr; i += 50)
        nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, &resp[i],
                  nr - i < 50 ? nr - i : 50);
    free(resp);
    return nr;
}

/* The NVE is heard and the start-up resync (BEGIN, nothing to replay, END)
 * goes through: the agent is in session. */
static void
nve_up(struct env *e)
{
    nve_group_hello(e);
    run(e);
    assert_int_equal(nve_answer_all(e), 1); /* BEGIN */
    run(e);
    assert_int_equal(nve_answer_all(e), 1); /* END */
    assert_int_equal(e->h.proto.phase, HV_RS_IDLE);
    assert_int_equal(e->h.proto.nve.c.resyncs, 1);
}

/* ---- VNIC helpers ------------------------------------------------------ */

static void
mkuuid(struct nvdp_uuid *u, unsigned n)
{
    memset(u, 0, sizeof(*u));
    u->b[0] = 0x5e;
    u->b[14] = (uint8_t)(n >> 8);
    u->b[15] = (uint8_t)n;
}

/* What a caller asks (hv_vnic_want, as the control socket does). */
static struct hv_vnic *
want(struct env *e, struct hv_want_req *r, unsigned n)
{
    struct hv_vnic *v;
    char err[256];

    mkuuid(&r->uuid, n);
    if (hv_vnic_want(&e->h, r, &v, err, sizeof(err)) != HV_WANT_OK)
        fail_msg("hv_vnic_want: %s", err);
    return v;
}

/* Attach (or preassociate) VNIC n with MAC 52:54:00:00:n in vni, with
 * the addresses given (none: the MAC alone). */
static struct hv_vnic *
assoc(struct env *e, uint8_t op, unsigned n, uint32_t vni, int reserve,
      const char *const *ips, size_t nips)
{
    struct hv_want_req r = {.op = op, .ips = ips, .nips = nips,
                            .reserve = (uint8_t)reserve};
    uint8_t mac[6] = {0x52, 0x54, 0, 0, (uint8_t)(n >> 8), (uint8_t)n};
    char vn[32];

    snprintf(vn, sizeof(vn), "vni:%u", vni);
    r.vn = vn;
    memcpy(r.mac, mac, 6);
    return want(e, &r, n);
}

static struct hv_vnic *
attach(struct env *e, unsigned n, uint32_t vni, const char *ip)
{
    return assoc(e, HV_OP_ATTACH, n, vni, 0, &ip, ip != NULL);
}

static struct hv_vnic *
detach(struct env *e, unsigned n, uint8_t intent)
{
    struct hv_want_req r = {.op = HV_OP_DETACH, .intent = intent};

    return want(e, &r, n);
}

static struct hv_vnic *
link_state(struct env *e, unsigned n, int up)
{
    struct hv_want_req r = {.op = HV_OP_STATE, .up = (uint8_t)up};

    return want(e, &r, n);
}

static struct hv_vnic *
find(struct env *e, unsigned n)
{
    struct nvdp_uuid u;

    mkuuid(&u, n);
    return hv_state_find(&e->h.state, &u);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_attach_group_then_unicast(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[4];
    struct nvdp_hdr hdr;
    struct hv_vnic *v;
    size_t n, mark;

    (void)st;
    run(e);
    /* every start opens a session: HELLO and RESYNC BEGIN, to the group
     * address before any NVE is heard */
    assert_int_equal(e->nframes, 1);
    assert_memory_equal(e->frames[0].dst, GROUP, 6);
    n = decode(e, &e->frames[0], &hdr);
    assert_int_equal(hdr.epoch, HV_EPOCH);
    assert_int_equal(hdr.peer_epoch, 0);
    assert_int_equal(n, 2);
    assert_int_equal(e->msgs[0].type, NVDP_MSG_HELLO);
    assert_int_equal(e->msgs[0].hello.role, NVDP_ROLE_HV);
    assert_int_equal(e->msgs[0].hello.hold_time, 10);
    assert_string_equal(e->msgs[0].hello.name, "hv-test");
    assert_int_equal(e->msgs[1].type, NVDP_MSG_RESYNC);
    assert_int_equal(e->msgs[1].phase, NVDP_RESYNC_BEGIN);
    /* the NVE answers before we heard its HELLO: still the group */
    nve_answer_all(e);
    assert_int_equal(e->h.proto.phase, HV_RS_REPLAY);
    assert_false(hv_proto_nve_up(&e->h));

    v = attach(e, 1, 10100, "10.0.0.1");
    mark = e->nframes;
    run(e);
    /* END (nothing was replayed) and the ASSOC: one at a time (window 1)
     * until the NVE's HELLO gives its window */
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESYNC, req, 4), 1);
    assert_int_equal(req[0].phase, NVDP_RESYNC_END);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    nve_answer_all(e);
    mark = e->nframes;
    run(e);
    assert_memory_equal(e->frames[mark].dst, GROUP, 6);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 4), 1);
    assert_memory_equal(req[0].vnic.b, v->uuid.b, 16);
    assert_int_equal(req[0].vn.kind, NVDP_VN_VNI);
    assert_int_equal(req[0].vn.vni, 10100);
    assert_int_equal(req[0].naddr, 1);
    assert_int_equal(req[0].addr[0].kind, NVDP_ADDR_HOST);
    assert_false(req[0].has_tag_hint);
    assert_int_equal(v->state, HV_VNIC_PENDING);

    /* the NVE says hello, then answers */
    nve_group_hello(e);
    assert_true(hv_proto_nve_up(&e->h));
    assert_int_equal(e->nnve, 1);
    assert_int_equal(e->nve_events[0], 1);
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 200, NULL);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(v->tag, 200);
    assert_int_equal(v->tag_hint, 200);
    assert_true(v->unsaved); /* the tag is persisted for hints */
    assert_true(e->nev >= 1);
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_ATTACHED);
    assert_int_equal(e->ev[e->nev - 1].tag, 200);
    assert_true(hv_vnic_settled(v));

    /* from now on: unicast to the NVE, its epoch echoed */
    mark = e->nframes;
    attach(e, 2, 10100, "10.0.0.2");
    run(e);
    assert_int_equal(e->nframes, mark + 1);
    assert_memory_equal(e->frames[mark].dst, NVE_MAC, 6);
    decode(e, &e->frames[mark], &hdr);
    assert_int_equal(hdr.peer_epoch, NVE_EPOCH);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 1);
    /* nothing is sent again once everything is answered */
    e->seen = mark;
    nve_answer_all(e);
    mark = e->nframes;
    advance(e, 500);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    assert_int_equal(e->h.proto.nve.tx.outstanding, 0);
    env_free(e);
}
static void
test_refusal_stays_failed(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[2];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 999, "10.0.0.1");
    run(e);
    assert_int_equal(count_type(e, 0, NVDP_MSG_ASSOC, req, 2), 1);
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_UNKNOWN_VN, 0,
                "VN 999 is not offered on port p1");
    assert_int_equal(v->state, HV_VNIC_FAILED);
    assert_int_equal(v->status, NVDP_ST_UNKNOWN_VN);
    assert_string_equal(v->reason, "VN 999 is not offered on port p1");
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_FAILED);
    assert_true(hv_vnic_settled(v));
    assert_int_equal(e->h.proto.nve.c.refusals_rx, 1);

    /* not retried by itself, however long we wait */
    mark = e->nframes;
    for (int i = 0; i < 20; i++) {
        nve_hello(e);
        advance(e, 1000);
    }
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);

    /* the user acts: tried again */
    attach(e, 1, 999, "10.0.0.1");
    assert_int_equal(v->state, HV_VNIC_PENDING);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 2), 1);
    /* a refusal without a reason gets the status name as reason */
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_NO_TAGS, 0, NULL);
    assert_int_equal(v->state, HV_VNIC_FAILED);
    assert_string_equal(v->reason, "no-tags");
    env_free(e);
}

static void
test_loss_retransmits(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[8];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    assert_int_equal(count_type(e, 0, NVDP_MSG_ASSOC, req, 8), 1);
    uint32_t txid = req[0].txid;

    /* lost: nothing before the RTO, then the same request again */
    mark = e->nframes;
    advance(e, 199);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    advance(e, 1);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 8), 1);
    assert_int_equal(req[0].txid, txid);
    /* backoff doubles: 400 ms more */
    mark = e->nframes;
    advance(e, 399);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    advance(e, 1);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 1);
    assert_int_equal(e->h.proto.nve.tx.retransmits, 2);

    nve_respond(e, txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 7, NULL);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    mark = e->nframes;
    advance(e, 5000);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    env_free(e);
}

static void
test_duplicate_responses_ignored(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[2];
    struct hv_vnic *v;
    size_t nev;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    assert_int_equal(count_type(e, 0, NVDP_MSG_ASSOC, req, 2), 1);
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 300, NULL);
    assert_int_equal(v->tag, 300);
    nev = e->nev;
    /* the same answer again, then a contradicting one: both stray */
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 300, NULL);
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_CONFLICT, 0, "x");
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(v->tag, 300);
    assert_int_equal(e->h.proto.nve.c.rx_stray_responses, 2);
    assert_int_equal(e->nev, nev);
    /* an answer to a txid never sent is stray too */
    nve_respond(e, 4242, NVDP_MSG_ASSOC, NVDP_ST_OK, 5, NULL);
    assert_int_equal(e->h.proto.nve.c.rx_stray_responses, 3);
    assert_int_equal(v->tag, 300);
    env_free(e);
}

static void
withdraw_msg(struct nvdp_msg *m, uint32_t txid, uint32_t vni,
             const struct nvdp_uuid *vnic, const char *reason)
{
    memset(m, 0, sizeof(*m));
    m->type = NVDP_MSG_WITHDRAW;
    m->txid = txid;
    m->vn.kind = NVDP_VN_VNI;
    m->vn.vni = vni;
    if (vnic != NULL) {
        m->has_vnic = 1;
        m->vnic = *vnic;
    }
    snprintf(m->reason, sizeof(m->reason), "%s", reason);
}

static void
test_withdraw_honoured(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg resp[4];
    struct hv_vnic *v1, *v2, *v3;
    size_t mark, nev;

    (void)st;
    nve_up(e);
    v1 = attach(e, 1, 10100, "10.0.0.1");
    v2 = attach(e, 2, 10100, "10.0.0.2");
    v3 = attach(e, 3, 10200, "10.0.1.3");
    run(e);
    nve_answer_all(e);
    assert_int_equal(v1->state, HV_VNIC_ATTACHED);
    assert_int_equal(v3->state, HV_VNIC_ATTACHED);

    /* one VNIC */
    mark = e->nframes;
    withdraw_msg(e->one, 5, 10100, &v1->uuid, "operator said so");
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, e->one, 1);
    assert_int_equal(v1->state, HV_VNIC_WITHDRAWN);
    assert_int_equal(v1->tag, 0);
    assert_int_equal(v1->tag_hint, tag_for(&v1->vn));
    assert_string_equal(v1->reason, "operator said so");
    assert_int_equal(v2->state, HV_VNIC_ATTACHED);
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_WITHDRAWN);
    assert_true(v1->unsaved);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESPONSE, resp, 4), 1);
    assert_int_equal(resp[0].txid, 5);
    assert_int_equal(resp[0].status, NVDP_ST_OK);
    assert_int_equal(resp[0].req_type, NVDP_MSG_WITHDRAW);
    assert_memory_equal(e->frames[mark].dst, NVE_MAC, 6);

    /* retransmitted by the NVE: answered again, not applied again */
    nev = e->nev;
    mark = e->nframes;
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, e->one, 1);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESPONSE, resp, 4), 1);
    assert_int_equal(resp[0].txid, 5);
    assert_int_equal(e->nev, nev);
    assert_int_equal(e->h.proto.nve.c.rx_dup, 1);

    /* The WITHDRAW does not say whether the NVE applied our ASSOC before
     * or after it: a VNIC_DISASSOC of this port only makes sure (spec
     * 10.6 rule 5). */
    {
        struct nvdp_msg dis[2];
        assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, dis,
                                    2), 1);
        assert_memory_equal(&dis[0].vnic, &v1->uuid, sizeof(v1->uuid));
        assert_int_equal(dis[0].intent, NVDP_INTENT_MIGRATION);
        assert_int_equal(nve_answer_all(e), 1);
        assert_int_equal(v1->state, HV_VNIC_WITHDRAWN);
        assert_false(v1->may_exist);
    }

    /* a whole VN */
    withdraw_msg(e->one, 6, 10100, NULL, "VN removed");
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, e->one, 1);
    assert_int_equal(v2->state, HV_VNIC_WITHDRAWN);
    assert_int_equal(v3->state, HV_VNIC_ATTACHED);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, NULL, 0),
                     1);
    nve_answer_all(e);

    /* and never re-associated by us, nor cleaned up twice */
    mark = e->nframes;
    for (int i = 0; i < 10; i++) {
        nve_hello(e);
        advance(e, 1000);
    }
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    assert_int_equal(count_type(e, mark, NVDP_MSG_VNIC_DISASSOC, NULL, 0), 0);

    /* detaching a withdrawn VNIC needs no NVE: it is just forgotten */
    detach(e, 1, NVDP_INTENT_SHUTDOWN);
    mark = e->nframes;
    run(e);
    assert_null(find(e, 1));
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_DETACHED);
    assert_int_equal(count_type(e, mark, NVDP_MSG_VNIC_DISASSOC, NULL, 0), 0);
    env_free(e);
}

static void
test_epoch_change_resyncs_with_hints(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[8];
    struct hv_vnic *v1, *v2;
    size_t mark;

    (void)st;
    nve_up(e);
    v1 = attach(e, 1, 10100, "10.0.0.1");
    v2 = attach(e, 2, 10200, "10.0.1.2");
    run(e);
    nve_answer_all(e);
    assert_int_equal(v1->tag, 200);
    assert_int_equal(v2->tag, 300);

    /* the NVE restarts: its group HELLO shows a new epoch */
    e->nve_epoch = NVE_EPOCH + 1;
    mark = e->nframes;
    e->seen = mark;
    nve_group_hello(e);
    run(e);
    assert_int_equal(e->h.proto.nve.c.resyncs, 2);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESYNC, req, 8), 1);
    assert_int_equal(req[0].phase, NVDP_RESYNC_BEGIN);
    /* nothing is replayed before BEGIN is acknowledged */
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    /* forwarding continues meanwhile: the VNICs keep their tags */
    assert_int_equal(v1->state, HV_VNIC_ATTACHED);
    assert_int_equal(v1->tag, 200);
    /* its unicast "I hold nothing for you" does not start another one */
    nve_hello_pe(e, 0);
    run(e);
    assert_int_equal(e->h.proto.nve.c.resyncs, 2);

    mark = e->nframes;
    e->seen = mark;
    nve_respond(e, req[0].txid, NVDP_MSG_RESYNC, NVDP_ST_OK, 0, NULL);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 8), 2);
    for (int i = 0; i < 2; i++) {
        assert_true(req[i].has_tag_hint);
        assert_int_equal(req[i].tag_hint, req[i].vn.vni == 10100 ? 200 : 300);
    }
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESYNC, NULL, 0), 0);
    e->seen = e->nframes;

    /* one replay answered: still no END */
    mark = e->nframes;
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, req[0].tag_hint,
                NULL);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESYNC, NULL, 0), 0);
    /* the other: END follows */
    nve_respond(e, req[1].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, req[1].tag_hint,
                NULL);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESYNC, req, 8), 1);
    assert_int_equal(req[0].phase, NVDP_RESYNC_END);
    assert_int_equal(e->h.proto.phase, HV_RS_END);
    nve_respond(e, req[0].txid, NVDP_MSG_RESYNC, NVDP_ST_OK, 0, NULL);
    assert_int_equal(e->h.proto.phase, HV_RS_IDLE);
    assert_int_equal(v1->state, HV_VNIC_ATTACHED);
    assert_int_equal(v2->state, HV_VNIC_ATTACHED);

    /* more frames of that epoch change nothing */
    nve_hello(e);
    nve_group_hello(e);
    run(e);
    assert_int_equal(e->h.proto.nve.c.resyncs, 2);
    env_free(e);
}
static void
test_nve_lost_us_resyncs_once(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[4];
    size_t mark;

    (void)st;
    nve_up(e);
    attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    /* the periodic group HELLO carries 0 for everybody: no resync */
    nve_group_hello(e);
    run(e);
    assert_int_equal(e->h.proto.nve.c.resyncs, 1);
    /* same NVE epoch, but a unicast frame says it holds nothing for us
     * (it expired us) */
    mark = e->nframes;
    e->seen = mark;
    nve_hello_pe(e, 0);
    run(e);
    assert_int_equal(e->h.proto.nve.c.resyncs, 2);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESYNC, req, 4), 1);
    assert_int_equal(req[0].phase, NVDP_RESYNC_BEGIN);
    /* further such frames before our BEGIN is answered: no second one */
    nve_hello_pe(e, 0);
    nve_hello_pe(e, 0x12345678);
    run(e);
    assert_int_equal(e->h.proto.nve.c.resyncs, 2);
    /* the whole resync goes through */
    nve_answer_all(e);
    run(e);
    nve_answer_all(e);
    run(e);
    nve_answer_all(e);
    assert_int_equal(e->h.proto.phase, HV_RS_IDLE);
    assert_int_equal(find(e, 1)->state, HV_VNIC_ATTACHED);
    assert_int_equal(e->h.proto.nve.c.resyncs, 2);
    env_free(e);
}
/* An NVE (or a station claiming to be it) that flaps its epoch: a burst
 * of resyncs, then one per hello interval, not a replay of every VNIC per
 * frame (hv-agent.conf(5) limits). */
static void
test_epoch_flap_bounded(void **st)
{
    struct env *e = env_new();
    const struct nvdp_counters *c = &e->h.proto.nve.c;

    (void)st;
    nve_up(e); /* the start-up resync is not the NVE's doing */
    attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    for (int i = 0; i < 20; i++) {
        e->nve_epoch++;
        nve_group_hello(e);
        run(e);
        for (int k = 0; k < 3; k++) {
            nve_answer_all(e);
            run(e);
        }
    }
    assert_int_equal(c->resyncs, 1 + HV_RESYNC_BURST);
    assert_int_equal(c->resyncs_deferred, 1);
    /* the one that waited goes a hello interval later, then no more */
    advance(e, e->h.conf.hello_interval);
    assert_int_equal(c->resyncs, 2 + HV_RESYNC_BURST);
    nve_answer_all(e);
    run(e);
    nve_answer_all(e);
    run(e);
    nve_answer_all(e);
    for (int i = 0; i < 10; i++) { /* the NVE, steady now */
        nve_group_hello(e);
        advance(e, e->h.conf.hello_interval);
    }
    assert_int_equal(c->resyncs, 2 + HV_RESYNC_BURST);
    assert_int_equal(e->h.proto.phase, HV_RS_IDLE);
    assert_int_equal(find(e, 1)->state, HV_VNIC_ATTACHED);
    env_free(e);
}

static void
prep_slow_nve(struct env *e)
{
    e->h.conf.nve_req_rate = 10;
    e->h.conf.nve_req_burst = 5;
}

/* A storm of the NVE's requests (a frame of 40 WITHDRAWs): its bucket's
 * worth is handled, the rest dropped unanswered and counted; RESPONSEs for
 * txids we never used are counted and change nothing. */
static void
test_nve_storm_bounded(void **st)
{
    struct env *e = env_new_conf(0, prep_slow_nve);
    const struct nvdp_counters *c = &e->h.proto.nve.c;
    struct nvdp_msg *m = calloc(40, sizeof(*m));
    size_t mark;

    (void)st;
    assert_non_null(m);
    nve_up(e);
    attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    for (uint32_t i = 0; i < 40; i++)
        withdraw_msg(&m[i], 100 + i, 999, NULL, "storm");
    mark = e->nframes;
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, m, 40);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESPONSE, NULL, 0), 5);
    assert_int_equal(c->rx_rate_limited, 35);
    assert_int_equal(c->withdraws_rx, 5);
    /* a second later, its retransmissions get through again */
    e->now += 1000;
    mark = e->nframes;
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, &m[5], 5);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESPONSE, NULL, 0), 5);
    /* RESPONSEs for nothing we asked */
    for (uint32_t i = 0; i < 40; i++)
        response(&m[i], 5000 + i, NVDP_MSG_ASSOC, NVDP_ST_CONFLICT, 0, "x");
    for (int k = 0; k < 5; k++)
        nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, m, 40);
    run(e);
    assert_int_equal(c->rx_stray_responses, 200);
    assert_int_equal(find(e, 1)->state, HV_VNIC_ATTACHED);
    free(m);
    env_free(e);
}

static void
prep_saved(struct env *e)
{
    struct nvdp_uuid u;
    struct nvdp_addr a;
    struct hv_vnic *v;
    uint8_t mac[6] = {0x52, 0x54, 0, 0, 0, 9};

    mkuuid(&u, 9);
    v = hv_state_add(&e->h.state, &u);
    v->vn.kind = NVDP_VN_VNI;
    v->vn.vni = 10100;
    memcpy(v->mac, mac, 6);
    nvdp_addr_parse(mac, "10.0.0.9", &a);
    hv_state_set_addrs(v, &a, 1);
    v->want = HV_WANT_ATTACH;
    v->tag_hint = 42;
    v->may_exist = 1;
}

static void
test_start_with_state_resyncs(void **st)
{
    struct env *e = env_new_conf(1, prep_saved);
    struct nvdp_msg req[4];
    size_t mark;

    (void)st;
    run(e);
    assert_int_equal(count_type(e, 0, NVDP_MSG_RESYNC, req, 4), 1);
    assert_int_equal(req[0].phase, NVDP_RESYNC_BEGIN);
    assert_memory_equal(e->frames[0].dst, GROUP, 6);
    assert_int_equal(count_type(e, 0, NVDP_MSG_ASSOC, NULL, 0), 0);
    /* the NVE still knows our previous life, and says so: the BEGIN
     * already on its way is the answer */
    nve_group_hello(e);
    nve_hello_pe(e, 0x0badbeef);
    run(e);
    assert_int_equal(e->h.proto.nve.c.resyncs, 1);

    mark = e->nframes;
    nve_respond(e, req[0].txid, NVDP_MSG_RESYNC, NVDP_ST_OK, 0, NULL);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 4), 1);
    assert_true(req[0].has_tag_hint);
    assert_int_equal(req[0].tag_hint, 42);
    assert_memory_equal(e->frames[mark].dst, NVE_MAC, 6);
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 42, NULL);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESYNC, req, 4), 1);
    assert_int_equal(req[0].phase, NVDP_RESYNC_END);
    assert_int_equal(find(e, 9)->state, HV_VNIC_ATTACHED);
    assert_int_equal(find(e, 9)->tag, 42);
    env_free(e);
}
static void
test_nve_silence_down(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[4];
    struct hv_vnic *v;
    size_t mark, nev;

    (void)st;
    nve_up(e); /* hold 3 s */
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    advance(e, 2999);
    assert_true(hv_proto_nve_up(&e->h));
    nev = e->nev;
    advance(e, 1);
    assert_false(hv_proto_nve_up(&e->h));
    assert_int_equal(e->h.proto.nve.c.peers_expired, 1);
    assert_int_equal(e->nnve, 2);
    assert_int_equal(e->nve_events[1], 0);
    /* the VNIC is no longer confirmed: pending, observers told */
    assert_int_equal(v->state, HV_VNIC_PENDING);
    assert_true(e->nev > nev);
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_PENDING);
    /* back to the group address, where another NVE may answer */
    mark = e->nframes;
    advance(e, 1000);
    assert_true(e->nframes > mark);
    assert_memory_equal(e->frames[e->nframes - 1].dst, GROUP, 6);
    /* heard again: up, unicast, and a resync with the tag as hint */
    nve_group_hello(e);
    assert_true(hv_proto_nve_up(&e->h));
    assert_int_equal(e->nve_events[2], 1);
    mark = e->nframes;
    e->seen = mark;
    advance(e, 1000);
    assert_memory_equal(e->frames[e->nframes - 1].dst, NVE_MAC, 6);
    nve_answer_all(e); /* BEGIN */
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 4), 1);
    assert_int_equal(req[0].tag_hint, 200);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    /* the next deadline reported covers the hold time */
    uint64_t next = hv_proto_run(&e->h, e->now);
    assert_true(next <= e->now + 3000);
    env_free(e);
}
static void
prep_keep(struct env *e)
{
    e->h.conf.nve_loss_keep = 1;
}

/* Goes silent past the hold time: the NVE is down. */
static void
nve_silent(struct env *e)
{
    advance(e, 3000);
    assert_false(hv_proto_nve_up(&e->h));
}

/* BEGIN, the replay and END answered: the resync is over. */
static void
resync_through(struct env *e)
{
    for (int i = 0; i < 4 && e->h.proto.phase != HV_RS_IDLE; i++) {
        advance(e, 1000);
        nve_answer_all(e);
        run(e);
    }
    assert_int_equal(e->h.proto.phase, HV_RS_IDLE);
}

/* on-nve-loss keep: tags stay while the NVE is silent and while it comes
 * back with the same epoch in session; a new epoch, or a unicast frame
 * saying it holds no session for us, untags every VNIC until the replay
 * confirms it. */
static void
test_nve_silence_keep(void **st)
{
    struct env *e = env_new_conf(0, prep_keep);
    struct hv_vnic *v;
    size_t nev;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);

    /* silent past the hold time: still attached with its tag */
    nev = e->nev;
    nve_silent(e);
    assert_int_equal(e->h.proto.nve.c.peers_expired, 1);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(v->tag, 200);
    assert_int_equal(e->nev, nev); /* the data plane was not told */
    assert_true(e->h.proto.kept);
    /* back, same epoch: kept through the resync */
    nve_group_hello(e);
    run(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    resync_through(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_false(e->h.proto.kept);
    assert_int_equal(e->h.proto.kept_revoked, 0);

    /* silent again, and back with a new epoch: untagged at once */
    nve_silent(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    e->nve_epoch = NVE_EPOCH + 7;
    e->seen = e->nframes;
    nve_group_hello(e);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_PENDING);
    assert_int_equal(e->h.proto.kept_revoked, 1);
    resync_through(e); /* the replay confirms it, with its tag as hint */
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(v->tag, 200);

    /* silent again; same epoch, but it expired us: untagged at once */
    nve_silent(e);
    e->seen = e->nframes;
    nve_hello_pe(e, 0);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    assert_int_equal(e->h.proto.kept_revoked, 2);
    resync_through(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    env_free(e);
}

static void
test_batching_100_attaches(void **st)
{
    struct env *e = env_new();
    size_t frames_with_assoc = 0;

    (void)st;
    nve_up(e);
    e->seen = e->nframes;
    for (unsigned i = 1; i <= 100; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.%u.%u", i / 250, i % 250 + 1);
        attach(e, i, 10100 + i % 4, ip);
    }
    size_t mark = e->nframes;
    run(e);
    /* the congestion window limits the first burst: 16 after the resync
     * began, +1 for each of its BEGIN's and END's answers (rel.h) */
    assert_int_equal(e->h.proto.nve.tx.cwnd, REL_CWND_INIT + 2);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0),
                     REL_CWND_INIT + 2);
    for (size_t i = mark; i < e->nframes; i++) {
        decode(e, &e->frames[i], NULL);
        frames_with_assoc++;
        assert_true(e->frames[i].len <= 1500);
    }
    assert_true(frames_with_assoc <= 2);
    nve_answer_all(e);
    /* 18 answers: 36 next, then the other 46 (within the NVE's window, 64) */
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0),
                     2 * (REL_CWND_INIT + 2));
    assert_true(e->nframes - mark <= 3);
    nve_answer_all(e);
    assert_true(e->h.proto.nve.tx.cwnd >= 64);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0),
                     100 - 3 * (REL_CWND_INIT + 2));
    nve_answer_all(e);
    for (unsigned i = 1; i <= 100; i++)
        assert_int_equal(find(e, i)->state, HV_VNIC_ATTACHED);
    env_free(e);
}

static void
prep_bigwindow(struct env *e)
{
    e->nve_window = 1024;
}

static void
test_batching_fills_frames(void **st)
{
    struct env *e = env_new_conf(0, prep_bigwindow);

    (void)st;
    nve_up(e);
    /* 100 VNICs attached first: the congestion window opens past 100 */
    for (unsigned i = 101; i <= 200; i++)
        attach(e, i, 10100, "10.2.0.2");
    for (int round = 0; round < 4; round++) {
        run(e);
        nve_answer_all(e);
    }
    assert_true(e->h.proto.nve.tx.cwnd >= 100);
    e->seen = e->nframes;
    for (unsigned i = 1; i <= 100; i++)
        attach(e, i, 10100, "10.2.0.1");
    size_t mark = e->nframes;
    run(e);
    /* 100 ASSOCs of ~70 bytes: a handful of 1500-byte frames, not 100 */
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 100);
    assert_true(e->nframes - mark >= 4);
    assert_true(e->nframes - mark <= 7);
    for (size_t i = mark; i + 1 < e->nframes; i++)
        assert_true(e->frames[i].len > 1500 - 120);
    env_free(e);
}

static void
test_giveup_then_retry_when_heard(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[2];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    /* the NVE is alive but never answers: 8 transmissions (0, 200, 600,
     * 1400, 3000, 6200, 9400, 12600 ms), given up at 15800 ms */
    for (int i = 0; i < 157; i++) {
        if (i % 10 == 0)
            nve_group_hello(e);
        advance(e, 100);
    }
    assert_int_equal(e->h.proto.nve.tx.giveups, 0);
    assert_true(v->inflight);
    advance(e, 100);
    assert_int_equal(e->h.proto.nve.tx.giveups, 1);
    /* reported failed, for lack of an answer */
    assert_int_equal(v->state, HV_VNIC_FAILED);
    assert_string_equal(v->reason, "no answer from NVE");
    assert_true(v->gaveup);
    assert_false(v->inflight);
    assert_true(e->h.proto.blocked);
    assert_int_equal(count_type(e, 0, NVDP_MSG_ASSOC, req, 2), 8);
    uint32_t old_txid = req[0].txid;
    /* no loop of retries while nobody answers */
    mark = e->nframes;
    advance(e, 1000);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    /* heard again: submitted again at once, as a new request */
    nve_group_hello(e);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 2), 1);
    assert_true(req[0].txid != old_txid);
    e->seen = mark;
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_false(e->h.proto.blocked);
    env_free(e);
}
static void
test_malformed_and_auth_dropped(void **st)
{
    struct env *e = env_new();
    uint8_t junk[20] = {9, 0, 0, 8};
    uint8_t shorty[3] = {1, 0, 0};
    uint8_t buf[64];
    struct nvdp_writer w;
    size_t len;

    (void)st;
    hv_proto_input(&e->h, NVE_MAC, HV_MAC, junk, sizeof(junk), e->now);
    assert_int_equal(e->h.proto.nve.c.rx_bad_version, 1);
    hv_proto_input(&e->h, NVE_MAC, HV_MAC, shorty, sizeof(shorty), e->now);
    assert_int_equal(e->h.proto.nve.c.rx_malformed, 1);
    assert_false(hv_proto_nve_up(&e->h));

    hello_msg(e->one, NVDP_ROLE_NVE, 3, 64);
    nvdp_writer_init(&w, buf, sizeof(buf), NVE_EPOCH, 0);
    assert_int_equal(nvdp_writer_add(&w, e->one), 0);
    len = nvdp_writer_finish(&w);
    /* the AUTH flag while authentication is not configured */
    buf[1] |= NVDP_HF_AUTH;
    hv_proto_input(&e->h, NVE_MAC, HV_MAC, buf, len, e->now);
    assert_int_equal(e->h.proto.nve.c.auth_unsupported, 1);
    assert_false(hv_proto_nve_up(&e->h));
    /* truncated by one byte: the header length no longer fits */
    buf[1] &= (uint8_t)~NVDP_HF_AUTH;
    hv_proto_input(&e->h, NVE_MAC, HV_MAC, buf, len - 1, e->now);
    assert_int_equal(e->h.proto.nve.c.rx_malformed, 2);
    hv_proto_input(&e->h, NVE_MAC, HV_MAC, buf, len, e->now);
    assert_true(hv_proto_nve_up(&e->h));
    assert_int_equal(e->h.proto.nve.c.rx_msgs, 1);
    /* an unknown optional TLV after the HELLO is skipped and counted */
    {
        uint8_t ext[64];
        memcpy(ext, buf, len);
        memcpy(ext + len, "\x01\x23\x00\x02\xab\xcd", 6);
        ext[3] = (uint8_t)(ext[3] + 6);
        hv_proto_input(&e->h, NVE_MAC, HV_MAC, ext, len + 6, e->now);
        assert_int_equal(e->h.proto.nve.c.rx_unknown_skipped, 1);
        assert_int_equal(e->h.proto.nve.c.rx_msgs, 2);
        assert_int_equal(e->h.proto.nve.c.rx_malformed, 2);
    }
    env_free(e);
}

static void
test_other_hypervisor_ignored(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg m[2];

    (void)st;
    /* another hypervisor's group hello plus a request of its own */
    hello_msg(&m[0], NVDP_ROLE_HV, 10, 256);
    memset(&m[1], 0, sizeof(m[1]));
    m[1].type = NVDP_MSG_RESYNC;
    m[1].txid = 1;
    m[1].has_phase = 1;
    m[1].phase = NVDP_RESYNC_BEGIN;
    nve_frame(e, OTHER_MAC, 0x77, 0, m, 2);
    assert_false(hv_proto_nve_up(&e->h));
    assert_int_equal(e->h.proto.nve.c.rx_foreign, 1);
    attach(e, 1, 10100, "10.0.0.1");
    run(e);
    /* still to the group, and nothing answered to the other hypervisor */
    assert_memory_equal(e->frames[e->nframes - 1].dst, GROUP, 6);
    assert_int_equal(count_type(e, 0, NVDP_MSG_RESPONSE, NULL, 0), 0);
    /* a second NVE after the first is chosen is ignored */
    nve_hello(e);
    hello_msg(&m[0], NVDP_ROLE_NVE, 3, 64);
    nve_frame(e, OTHER_MAC, 0x99, 0, m, 1);
    advance(e, 1000);
    assert_memory_equal(e->frames[e->nframes - 1].dst, NVE_MAC, 6);
    assert_int_equal(e->h.proto.nve.c.resyncs, 1); /* the start-up one */
    env_free(e);
}

static void
test_nve_request_unsupported(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg resp[2];

    (void)st;
    nve_up(e);
    memset(e->one, 0, sizeof(*e->one));
    e->one->type = NVDP_MSG_RESYNC;
    e->one->txid = 9;
    e->one->has_phase = 1;
    e->one->phase = NVDP_RESYNC_BEGIN;
    size_t mark = e->nframes;
    nve_frame(e, NVE_MAC, NVE_EPOCH, HV_EPOCH, e->one, 1);
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESPONSE, resp, 2), 1);
    assert_int_equal(resp[0].txid, 9);
    assert_int_equal(resp[0].status, NVDP_ST_UNSUPPORTED);
    env_free(e);
}

static void
test_detach_with_intent(void **st)
{
    struct env *e = env_new();
    struct hv_jbuf b = {0};
    struct nvdp_msg req[2];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    /* committed (hv.c's part, without a file): its record exists */
    hv_state_batch(&e->h.state, &b);
    hv_state_saved(&e->h.state, 0);
    hv_jbuf_free(&b);
    detach(e, 1, NVDP_INTENT_MIGRATION);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_VNIC_DISASSOC, req, 2), 1);
    assert_int_equal(req[0].intent, NVDP_INTENT_MIGRATION);
    assert_memory_equal(req[0].vnic.b, v->uuid.b, 16);
    e->seen = mark;
    nve_answer_all(e);
    assert_null(find(e, 1));
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_DETACHED);
    assert_int_equal(e->h.state.count, 0);
    /* the record is cancelled at the next commit */
    assert_int_equal(e->h.state.nremoved, 1);
    assert_true(hv_state_unsaved(&e->h.state));
    env_free(e);
}

static void
test_address_change_and_state(void **st)
{
    struct env *e = env_new();
    const char *ips[] = {"10.0.0.1", "2001:db8::1"};
    struct nvdp_msg req[4];
    struct nvdp_addr a[2];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    nve_up(e);
    v = assoc(e, HV_OP_ATTACH, 1, 10100, 0, ips, 2);
    nvdp_addr_parse(v->mac, "10.0.0.1", &a[0]);
    nvdp_addr_parse(v->mac, "2001:db8::1", &a[1]);
    run(e);
    nve_answer_all(e);
    assert_int_equal(v->nacked, 2);

    /* one address dropped: a DISASSOC of just that one, no ASSOC */
    assoc(e, HV_OP_ATTACH, 1, 10100, 0, ips, 1);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_DISASSOC, req, 4), 1);
    assert_int_equal(req[0].naddr, 1);
    assert_true(nvdp_addr_equal(&req[0].addr[0], &a[1]));
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    e->seen = mark;
    nve_answer_all(e);
    assert_int_equal(v->nacked, 1);
    /* nothing more to do: attached again without another ASSOC */
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_ATTACHED);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);

    /* VNIC down, without disassociation */
    link_state(e, 1, 0);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_VNIC_STATE, req, 4), 1);
    assert_int_equal(req[0].state, NVDP_VNIC_DOWN);
    assert_false(hv_vnic_settled(v));
    e->seen = mark;
    nve_answer_all(e);
    assert_true(hv_vnic_settled(v));
    assert_int_equal(v->acked_up, 0);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    env_free(e);
}

static void
test_vn_change_and_preassoc(void **st)
{
    struct env *e = env_new();
    const char *ip = "10.0.0.1";
    struct nvdp_msg req[4];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    nve_up(e);
    v = assoc(e, HV_OP_PREASSOC, 1, 10100, 1, &ip, 1);
    run(e);
    assert_int_equal(count_type(e, 0, NVDP_MSG_PREASSOC, req, 4), 1);
    assert_true(req[0].has_flags);
    assert_int_equal(req[0].rflags, NVDP_RF_RR);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_PREASSOCIATED);
    assert_int_equal(v->tag, 200);

    /* promoted by an ASSOC */
    attach(e, 1, 10100, ip);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 4), 1);
    assert_int_equal(req[0].tag_hint, 200);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);

    /* moved to another VN: leave the old one first */
    attach(e, 1, 10300, "10.0.0.1");
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_VN_DISCONNECT, req, 4), 1);
    assert_int_equal(req[0].vn.vni, 10100);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    nve_answer_all(e);
    mark = e->nframes;
    run(e);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, req, 4), 1);
    assert_int_equal(req[0].vn.vni, 10300);
    assert_false(req[0].has_tag_hint); /* the old VN's tag means nothing */
    nve_answer_all(e);
    assert_int_equal(v->tag, 400);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    env_free(e);
}

static void
prep_pinned(struct env *e)
{
    memcpy(e->h.conf.nve_mac, NVE_MAC, 6);
    e->h.conf.nve_mac_set = 1;
}

static void
test_pinned_nve(void **st)
{
    struct env *e = env_new_conf(0, prep_pinned);
    struct nvdp_msg m;

    (void)st;
    /* another NVE speaks first: ignored */
    hello_msg(&m, NVDP_ROLE_NVE, 3, 64);
    nve_frame(e, OTHER_MAC, 0x99, 0, &m, 1);
    assert_false(hv_proto_nve_up(&e->h));
    attach(e, 1, 10100, "10.0.0.1");
    run(e);
    /* unicast to the pinned NVE from the start */
    assert_memory_equal(e->frames[0].dst, NVE_MAC, 6);
    nve_hello(e);
    assert_true(hv_proto_nve_up(&e->h));
    env_free(e);
}

static void
test_begin_refused_no_loop(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[4];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    /* an NVE that does not accept us on this port refuses everything and
     * never opens a session: its frames keep peer_epoch 0 */
    nve_group_hello(e);
    run(e);
    assert_int_equal(count_type(e, 0, NVDP_MSG_RESYNC, req, 4), 1);
    response(e->one, req[0].txid, NVDP_MSG_RESYNC, NVDP_ST_NOT_AUTHORISED, 0,
             "hypervisor is not authorised on this port");
    nve_frame(e, NVE_MAC, NVE_EPOCH, 0, e->one, 1);
    assert_false(e->h.proto.nve.open);
    assert_int_equal(e->h.proto.phase, HV_RS_REPLAY);
    v = attach(e, 1, 10100, "10.0.0.1");
    mark = e->nframes;
    run(e);
    e->seen = mark;
    /* END, then the ASSOC: both refused, answered with peer_epoch 0 */
    for (int i = 0; i < 3; i++) {
        for (; e->seen < e->nframes; e->seen++) {
            size_t n = decode(e, &e->frames[e->seen], NULL);
            for (size_t j = 0; j < n; j++) {
                if (e->msgs[j].type == NVDP_MSG_HELLO)
                    continue;
                response(e->one, e->msgs[j].txid, e->msgs[j].type,
                         NVDP_ST_NOT_AUTHORISED, 0,
                         "hypervisor is not authorised on this port");
                nve_frame(e, NVE_MAC, NVE_EPOCH, 0, e->one, 1);
            }
        }
        nve_hello_pe(e, 0);
        advance(e, 100);
    }
    /* refused, not resynced over and over */
    assert_int_equal(v->state, HV_VNIC_FAILED);
    assert_int_equal(v->status, NVDP_ST_NOT_AUTHORISED);
    assert_int_equal(e->h.proto.nve.c.resyncs, 1);
    assert_int_equal(e->h.proto.phase, HV_RS_IDLE);
    env_free(e);
}

static void
test_withdraw_while_assoc_in_flight(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[2], resp[2];
    struct hv_vnic *v;
    size_t mark;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_ASSOC, req, 2), 1);
    /* the NVE withdraws the VN, then our ASSOC's answer arrives: the
     * withdrawal stands, nothing is re-associated */
    withdraw_msg(e->one, 3, 10100, NULL, "VN removed");
    nve_frame(e, NVE_MAC, NVE_EPOCH, HV_EPOCH, e->one, 1);
    assert_int_equal(v->state, HV_VNIC_WITHDRAWN);
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 200, NULL);
    assert_int_equal(v->state, HV_VNIC_WITHDRAWN);
    assert_int_equal(v->tag, 0);
    mark = e->nframes;
    advance(e, 1000);
    assert_int_equal(count_type(e, mark, NVDP_MSG_ASSOC, NULL, 0), 0);
    /* the WITHDRAW's answer goes out, and since the NVE may have applied
     * our ASSOC after it withdrew the VN, a VNIC_DISASSOC of this port
     * (spec 10.6 rule 5) */
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESPONSE, resp, 2), 1);
    assert_int_equal(resp[0].txid, 3);
    assert_int_equal(resp[0].status, NVDP_ST_OK);
    assert_int_equal(count_type(e, mark, NVDP_MSG_VNIC_DISASSOC, req, 2), 1);
    assert_int_equal(req[0].intent, NVDP_INTENT_MIGRATION);
    e->seen = mark;
    nve_answer_all(e);
    assert_false(v->may_exist);
    /* attached again by the caller: a new ASSOC is needed to know */
    attach(e, 1, 10100, "10.0.0.1");
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_ASSOC, NULL, 0), 1);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    env_free(e);
}

/* Window counted in txids (rel.h): with the oldest request unanswered and
 * the later ones answered, fewer than `window` are outstanding but none
 * fits. The VNICs waiting must stay queued, not be dropped (spec 10.6 rule
 * 2): once the oldest is answered every one of them is sent. */
static void
test_refused_submit_stays_queued(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg *req = calloc(64, sizeof(*req));
    struct hv_vnic *v[12];
    size_t n;

    (void)st;
    assert_non_null(req);
    e->nve_window = 4;
    nve_up(e);
    for (unsigned i = 0; i < 12; i++)
        v[i] = attach(e, i + 1, 10100, "10.0.0.1");
    run(e);
    n = count_type(e, e->seen, NVDP_MSG_ASSOC, req, 64);
    assert_int_equal(n, 4);
    e->seen = e->nframes;
    for (size_t i = 1; i < 4; i++)   /* all but the oldest */
        nve_respond(e, req[i].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 7, NULL);
    assert_int_equal(e->h.proto.nve.tx.outstanding, 1);
    run(e);
    advance(e, 10);
    /* nothing new fits: the txid span is the window (the oldest, passed
     * over by 3 answers, is sent again: rel.h) */
    n = count_type(e, e->seen, NVDP_MSG_ASSOC, req + 4, 8);
    assert_int_equal(n, 1);
    assert_int_equal(req[4].txid, req[0].txid);
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 7, NULL);
    for (int round = 0; round < 10; round++) {
        run(e);
        nve_answer_all(e);
    }
    for (unsigned i = 0; i < 12; i++)
        assert_int_equal(v[i]->state, HV_VNIC_ATTACHED);
    assert_true(TAILQ_EMPTY(&e->h.state.dirty));
    free(req);
    env_free(e);
}

/* An answer updates what the NVE holds from the request it answers; it
 * never confirms a newer desired state, and a refusal of an older one is
 * moot (spec 10.6 rule 3, 12.2). */
static void
test_answer_to_older_desired_state(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[4];
    struct hv_vnic *v;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_ASSOC, req, 4), 1);
    e->seen = e->nframes;
    attach(e, 1, 10200, "10.0.0.1");     /* moved to another VN */
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_OK, 200, NULL);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VN_DISCONNECT, req, 4), 1);
    assert_int_equal(req[0].vn.vni, 10100);
    nve_answer_all(e);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_ASSOC, req, 4), 1);
    assert_int_equal(req[0].vn.vni, 10200);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(v->tag, tag_for(&v->vn));

    /* refused, but the caller changed the addresses meanwhile */
    attach(e, 1, 10200, "10.0.0.2");
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_DISASSOC, NULL, 0), 1);
    nve_answer_all(e);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_ASSOC, req, 4), 1);
    e->seen = e->nframes;
    attach(e, 1, 10200, "10.0.0.3");
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_CONFLICT, 0, "no");
    assert_int_equal(v->state, HV_VNIC_PENDING);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_ASSOC, req, 4), 1);
    assert_int_equal(req[0].addr[0].ip[3], 3);
    /* the same refusal for the current desired state fails it */
    e->seen = e->nframes;
    nve_respond(e, req[0].txid, NVDP_MSG_ASSOC, NVDP_ST_CONFLICT, 0, "no");
    assert_int_equal(v->state, HV_VNIC_FAILED);
    assert_string_equal(v->reason, "no");
    env_free(e);
}

/* While our BEGIN is unanswered answers count with peer_epoch 0 or ours,
 * not with another epoch of ours (a previous incarnation's txid 1). */
static void
test_answer_scoped_by_peer_epoch(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[2];

    (void)st;
    nve_group_hello(e);
    run(e);
    assert_int_equal(count_type(e, 0, NVDP_MSG_RESYNC, req, 2), 1);
    response(e->one, req[0].txid, NVDP_MSG_RESYNC, NVDP_ST_OK, 0, NULL);
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH ^ 0x77, e->one, 1);
    assert_int_equal(e->h.proto.phase, HV_RS_BEGIN);
    assert_int_equal(e->h.proto.nve.c.rx_stray_responses, 1);
    nve_frame(e, NVE_MAC, e->nve_epoch, 0, e->one, 1);
    assert_int_equal(e->h.proto.phase, HV_RS_REPLAY);
    env_free(e);
}

/* A request given up may have been applied: what it asked is what the NVE
 * may hold, removed if unwanted, confirmed by a new request (spec 10.6
 * rule 6). */
static void
test_giveup_leaves_doubt(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[16];
    struct hv_vnic *v;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    for (int i = 0; i < 170 && !v->gaveup; i++) { /* never answered */
        if (i % 10 == 0)
            nve_group_hello(e);
        advance(e, 100);
    }
    assert_int_equal(e->h.proto.nve.tx.giveups, 1);
    assert_true(v->acked_unsure);
    attach(e, 1, 10200, "10.0.0.1");     /* the caller moves it meanwhile */
    e->seen = e->nframes;
    nve_group_hello(e);
    run(e);
    /* blue may be held: left first, then red */
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VN_DISCONNECT, req, 16),
                     1);
    assert_int_equal(req[0].vn.vni, 10100);
    nve_answer_all(e);
    run(e);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(v->acked_vn.vni, 10200);
    assert_false(v->acked_unsure);

    /* VNIC_STATE down given up, then up wanted again: the NVE may be down
     * or up, so up is said explicitly */
    link_state(e, 1, 0);
    run(e);
    for (int i = 0; i < 170 && !v->gaveup; i++) {
        if (i % 10 == 0)
            nve_group_hello(e);
        advance(e, 100);
    }
    assert_int_equal(e->h.proto.nve.tx.giveups, 2);
    link_state(e, 1, 1);
    e->seen = e->nframes;
    nve_group_hello(e);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_STATE, req, 16), 1);
    assert_int_equal(req[0].state, NVDP_VNIC_UP);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    env_free(e);
}

/* A VN_DISCONNECT given up may have been applied: the entry a later ASSOC
 * of the same VN makes starts up, so a VNIC that is down is said down
 * again after it (spec 10.6 rule 6). Found by test_converge. */
static void
test_giveup_removal_doubts_link(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[16];
    struct hv_vnic *v;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    link_state(e, 1, 0);
    run(e);
    nve_answer_all(e);
    assert_int_equal(v->acked_up, 0);
    /* moved to red: blue is left first, and that is never answered */
    attach(e, 1, 10200, "10.0.0.1");
    run(e);
    for (int i = 0; i < 170 && !v->gaveup; i++) {
        if (i % 10 == 0)
            nve_group_hello(e);
        advance(e, 100);
    }
    assert_int_equal(e->h.proto.nve.tx.giveups, 1);
    /* back to blue: confirmed by an ASSOC, then said down */
    attach(e, 1, 10100, "10.0.0.1");
    e->seen = e->nframes;
    nve_group_hello(e);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_ASSOC, req, 16), 1);
    assert_int_equal(req[0].vn.vni, 10100);
    nve_answer_all(e);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_STATE, req, 16), 1);
    assert_int_equal(req[0].state, NVDP_VNIC_DOWN);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(v->acked_up, 0);
    env_free(e);
}

/* The daemon's turn writes a commit, runs the engine, then syncs (hv.c
 * run_proto). A detach of a VNIC the NVE no longer holds is forgotten
 * only once it is durable: a sync that fails undoes the detach, which a
 * VNIC forgotten meanwhile could not be (the client would hear "not
 * saved" for a detach that stands). */
static int tp_fail_sync;

static int
tp_fdatasync(int fd)
{
    if (tp_fail_sync) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static const struct hv_journal_io tp_io = {write, tp_fdatasync, fsync};

/* e's engine gets a state journal in a new directory dir (a mkdtemp
 * template), everything so far committed. */
static void
journal_open(struct env *e, char *dir)
{
    char err[512];

    assert_non_null(mkdtemp(dir));
    snprintf(e->h.conf.state_file, sizeof(e->h.conf.state_file),
             "%s/hv.state", dir);
    e->h.journal.fd = -1;
    assert_int_equal(hv_persist_open(&e->h, &tp_io, err, sizeof(err)), 0);
    assert_int_equal(hv_state_flush(&e->h), 0);
}

static void
journal_close(struct env *e, const char *dir)
{
    char cmd[64];

    hv_persist_close(&e->h);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_forget_waits_for_sync(void **st)
{
    struct env *e = env_new();
    char dir[] = "/tmp/test_hv_proto.XXXXXX";
    struct hv_vnic *v;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    /* withdrawn, and removed from this port (spec 10.6 rule 5): the NVE
     * holds nothing of it */
    withdraw_msg(e->one, 5, 10100, &v->uuid, "operator said so");
    nve_frame(e, NVE_MAC, e->nve_epoch, HV_EPOCH, e->one, 1);
    run(e);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_WITHDRAWN);
    assert_false(v->may_exist);
    journal_open(e, dir);

    /* detached; the sync fails after the engine ran */
    detach(e, 1, NVDP_INTENT_SHUTDOWN);
    assert_int_equal(hv_state_commit_write(&e->h), 1);
    run(e);
    assert_non_null(find(e, 1));
    tp_fail_sync = 1;
    assert_int_equal(hv_state_commit_sync(&e->h), -1);
    tp_fail_sync = 0;
    v = find(e, 1);
    assert_non_null(v);
    assert_int_equal(v->want, HV_WANT_ATTACH); /* undone */
    assert_int_equal(v->state, HV_VNIC_WITHDRAWN);
    run(e);
    assert_non_null(find(e, 1));
    e->h.state_retry_at = 0;
    assert_int_equal(hv_state_flush(&e->h), 0); /* the rewrite */

    /* again, and the sync works: forgotten at the next turn */
    detach(e, 1, NVDP_INTENT_SHUTDOWN);
    assert_int_equal(hv_state_commit_write(&e->h), 1);
    run(e);
    assert_non_null(find(e, 1));
    assert_int_equal(hv_state_commit_sync(&e->h), 0);
    run(e);
    assert_null(find(e, 1));
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_DETACHED);
    assert_int_equal(hv_state_flush(&e->h), 0);
    assert_int_equal(e->h.state.count, 0);

    journal_close(e, dir);
    env_free(e);
}

/* A shutdown's VNIC_DISASSOC purges the VNIC on every port (spec 9.6),
 * which no undo takes back: it leaves only once its commit is durable,
 * while a migration's leaves during the sync like any other request. */
static void
test_shutdown_waits_for_sync(void **st)
{
    struct env *e = env_new();
    char dir[] = "/tmp/test_hv_proto.XXXXXX";
    struct nvdp_msg req[4];
    struct hv_vnic *v;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    attach(e, 2, 10100, "10.0.0.2");
    run(e);
    nve_answer_all(e);
    journal_open(e, dir);

    /* shut down; the sync fails: nothing went out, the detach is undone */
    detach(e, 1, NVDP_INTENT_SHUTDOWN);
    e->seen = e->nframes;
    assert_int_equal(hv_state_commit_write(&e->h), 1);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, NULL, 0),
                     0);
    tp_fail_sync = 1;
    assert_int_equal(hv_state_commit_sync(&e->h), -1);
    tp_fail_sync = 0;
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, NULL, 0),
                     0);
    assert_int_equal(v->want, HV_WANT_ATTACH);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    e->h.state_retry_at = 0;
    assert_int_equal(hv_state_flush(&e->h), 0); /* the rewrite */

    /* again, and the sync works: it goes right after it */
    detach(e, 1, NVDP_INTENT_SHUTDOWN);
    assert_int_equal(hv_state_commit_write(&e->h), 1);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, NULL, 0),
                     0);
    assert_int_equal(hv_state_commit_sync(&e->h), 0);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, req, 4),
                     1);
    assert_int_equal(req[0].intent, NVDP_INTENT_SHUTDOWN);
    nve_answer_all(e);
    assert_null(find(e, 1));

    /* a migration's does not wait */
    detach(e, 2, NVDP_INTENT_MIGRATION);
    e->seen = e->nframes;
    assert_int_equal(hv_state_commit_write(&e->h), 1);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, req, 4),
                     1);
    assert_int_equal(req[0].intent, NVDP_INTENT_MIGRATION);
    assert_int_equal(hv_state_commit_sync(&e->h), 0);

    journal_close(e, dir);
    env_free(e);
}

/* The NVE keeps an association on PREASSOC (spec 9.7): a VNIC wanted
 * pre-associated instead leaves this port first. */
static void
test_preassoc_after_assoc_leaves_first(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[4];
    struct hv_vnic *v;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assoc(e, HV_OP_PREASSOC, 1, 10100, 0, (const char *[]){"10.0.0.1"}, 1);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, req, 4),
                     1);
    assert_int_equal(req[0].intent, NVDP_INTENT_MIGRATION);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_PREASSOC, NULL, 0), 0);
    nve_answer_all(e);
    run(e);
    assert_int_equal(count_type(e, e->seen, NVDP_MSG_PREASSOC, NULL, 0), 1);
    nve_answer_all(e);
    assert_int_equal(v->state, HV_VNIC_PREASSOCIATED);
    env_free(e);
}

static void
test_malformed_request_from_nve_answered(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg resp[2];
    struct nvdp_writer w;
    struct hv_vnic *v;
    uint8_t buf[256];
    size_t len, mark;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    /* a WITHDRAW whose VNI does not fit 24 bits: MALFORMED, not applied */
    withdraw_msg(e->one, 8, 10100, NULL, "bad");
    nvdp_writer_init(&w, buf, sizeof(buf), NVE_EPOCH, HV_EPOCH);
    assert_int_equal(nvdp_writer_add(&w, e->one), 0);
    len = nvdp_writer_finish(&w);
    for (size_t i = NVDP_HDR_LEN; i + 8 <= len; i++) {
        if (buf[i] == 0x81 && buf[i + 1] == 0x03 && buf[i + 3] == 4) {
            buf[i + 4] = 0xff; /* VNI value's top byte */
            break;
        }
    }
    mark = e->nframes;
    hv_proto_input(&e->h, NVE_MAC, HV_MAC, buf, len, e->now);
    run(e);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_equal(e->h.proto.nve.c.rx_msg_errors, 1);
    assert_int_equal(count_type(e, mark, NVDP_MSG_RESPONSE, resp, 2), 1);
    assert_int_equal(resp[0].txid, 8);
    assert_int_equal(resp[0].status, nvdp_err_status(NVDP_E_VALUE));
    assert_int_equal(resp[0].req_type, NVDP_MSG_WITHDRAW);
    env_free(e);
}

static void
test_detach_given_up_is_retried(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg req[16];
    struct hv_vnic *v;
    size_t n;

    (void)st;
    nve_up(e);
    v = attach(e, 1, 10100, "10.0.0.1");
    run(e);
    nve_answer_all(e);
    detach(e, 1, NVDP_INTENT_SHUTDOWN);
    assert_int_equal(v->state, HV_VNIC_DETACHING);
    run(e);
    /* Never answered while the NVE is heard: an NVE that hears us keeps
     * the VNIC, so forgetting it would leave the two views different for
     * good. It stays detaching and goes again under a new txid. */
    for (int i = 0; i < 180; i++) {
        if (i % 10 == 0)
            nve_group_hello(e);
        advance(e, 100);
    }
    assert_int_equal(e->h.proto.nve.tx.giveups, 1);
    assert_non_null(find(e, 1));
    assert_int_equal(v->state, HV_VNIC_DETACHING);
    n = count_type(e, e->seen, NVDP_MSG_VNIC_DISASSOC, req, 16);
    assert_true(n > 8);
    assert_true(req[n - 1].txid > req[0].txid);
    assert_int_equal(req[n - 1].intent, NVDP_INTENT_SHUTDOWN);
    /* answered at last: forgotten */
    e->seen = e->nframes - 1;
    nve_respond(e, req[n - 1].txid, NVDP_MSG_VNIC_DISASSOC, NVDP_ST_OK, 0,
                NULL);
    assert_null(find(e, 1));
    assert_int_equal(e->ev[e->nev - 1].state, HV_VNIC_DETACHED);
    env_free(e);
}

/* Peer input never crashes the engine: valid frames with random bytes
 * flipped, truncated, or pure noise, from the NVE and from strangers. */
static void
test_mutated_input_survives(void **st)
{
    struct env *e = env_new();
    struct nvdp_msg m[3];
    struct nvdp_writer w;
    uint8_t base[512], buf[512];
    size_t len;
    unsigned seed = 12345;

    (void)st;
    nve_up(e);
    for (unsigned i = 1; i <= 8; i++)
        attach(e, i, 10100 + i % 2, "10.0.0.1");
    run(e);
    hello_msg(&m[0], NVDP_ROLE_NVE, 3, 64);
    response(&m[1], 5, NVDP_MSG_ASSOC, NVDP_ST_OK, 100, "fine");
    withdraw_msg(&m[2], 77, 10100, NULL, "because");
    nvdp_writer_init(&w, base, sizeof(base), NVE_EPOCH, HV_EPOCH);
    for (int i = 0; i < 3; i++)
        assert_int_equal(nvdp_writer_add(&w, &m[i]), 0);
    len = nvdp_writer_finish(&w);
    for (int round = 0; round < 20000; round++) {
        size_t n = len;
        memcpy(buf, base, len);
        switch (rand_r(&seed) % 3) {
        case 0: /* flip a few bytes */
            for (int k = 0; k < 1 + rand_r(&seed) % 4; k++)
                buf[rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
            break;
        case 1: /* truncate */
            n = (size_t)rand_r(&seed) % len;
            break;
        default: /* noise behind a valid header */
            for (size_t k = NVDP_HDR_LEN; k < len; k++)
                buf[k] = (uint8_t)rand_r(&seed);
        }
        hv_proto_input(&e->h, rand_r(&seed) % 4 ? NVE_MAC : OTHER_MAC,
                       rand_r(&seed) % 2 ? HV_MAC : GROUP, buf, n, e->now);
        if (round % 100 == 0)
            advance(e, 10);
    }
    assert_true(e->h.proto.nve.c.rx_malformed + e->h.proto.nve.c.rx_msg_errors >
                0);
    /* still working: a clean NVE answers and the VNICs end up attached */
    e->nve_epoch = NVE_EPOCH + 7;
    nve_group_hello(e);
    for (int i = 0; i < 6; i++) {
        e->seen = 0;
        run(e);
        e->seen = e->nframes > 4 ? e->nframes - 4 : 0;
        nve_answer_all(e);
        advance(e, 300);
    }
    size_t attached = 0;
    for (unsigned i = 1; i <= 8; i++) {
        assert_non_null(find(e, i));
        if (find(e, i)->state == HV_VNIC_WITHDRAWN)
            continue; /* a mangled WITHDRAW may still be valid */
        assert_int_equal(find(e, i)->state, HV_VNIC_ATTACHED);
        attached++;
    }
    assert_true(attached >= 4); /* mangled frames name few VNs */
    env_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_group_then_unicast),
        cmocka_unit_test(test_refusal_stays_failed),
        cmocka_unit_test(test_loss_retransmits),
        cmocka_unit_test(test_duplicate_responses_ignored),
        cmocka_unit_test(test_withdraw_honoured),
        cmocka_unit_test(test_epoch_change_resyncs_with_hints),
        cmocka_unit_test(test_nve_lost_us_resyncs_once),
        cmocka_unit_test(test_start_with_state_resyncs),
        cmocka_unit_test(test_nve_silence_down),
        cmocka_unit_test(test_nve_silence_keep),
        cmocka_unit_test(test_batching_100_attaches),
        cmocka_unit_test(test_batching_fills_frames),
        cmocka_unit_test(test_giveup_then_retry_when_heard),
        cmocka_unit_test(test_malformed_and_auth_dropped),
        cmocka_unit_test(test_other_hypervisor_ignored),
        cmocka_unit_test(test_nve_request_unsupported),
        cmocka_unit_test(test_detach_with_intent),
        cmocka_unit_test(test_address_change_and_state),
        cmocka_unit_test(test_vn_change_and_preassoc),
        cmocka_unit_test(test_pinned_nve),
        cmocka_unit_test(test_begin_refused_no_loop),
        cmocka_unit_test(test_withdraw_while_assoc_in_flight),
        cmocka_unit_test(test_refused_submit_stays_queued),
        cmocka_unit_test(test_answer_to_older_desired_state),
        cmocka_unit_test(test_answer_scoped_by_peer_epoch),
        cmocka_unit_test(test_giveup_leaves_doubt),
        cmocka_unit_test(test_giveup_removal_doubts_link),
        cmocka_unit_test(test_forget_waits_for_sync),
        cmocka_unit_test(test_shutdown_waits_for_sync),
        cmocka_unit_test(test_preassoc_after_assoc_leaves_first),
        cmocka_unit_test(test_malformed_request_from_nve_answered),
        cmocka_unit_test(test_detach_given_up_is_retried),
        cmocka_unit_test(test_mutated_input_survives),
        cmocka_unit_test(test_epoch_flap_bounded),
        cmocka_unit_test(test_nve_storm_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
