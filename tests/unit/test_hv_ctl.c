/* test_hv_ctl.c - hv-agent's control commands over a real control socket,
 * the engine answered by an in-process fake NVE: validation, --wait
 * outcomes (ok, refused, timeout), detach, watch, pipelining; answers held
 * until the state journal's commit, and refused (the change undone) when
 * the commit fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl.h"
#include "ev.h"
#include "hv.h"
#include "log.h"

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};
static const uint8_t NVE_MAC[6] = {0x02, 0, 0, 0, 0, 0xee};
#define NVE_EPOCH 0x5eed0001u
#define VNI_REFUSED 999 /* the fake NVE answers UNKNOWN_VN */
#define VNI_SILENT 555  /* the fake NVE never answers */

struct fake {
    struct hv h;
    int in_run, rerun;
    struct ev_timer run_timer, nve_timer;
    uint8_t pending[16][NVDP_FRAME_MAX];
    size_t pending_len[16];
    size_t npending;
    int stop[2];
    pthread_t thr;
    char path[108];
    char dir[64];
    struct nvdp_msg *in, *out;
};

/* The journal's writes: real, or failing with ENOSPC when told to (the
 * test thread sets it while the loop thread writes). */
static atomic_int fail_writes;

static ssize_t
io_write(int fd, const void *buf, size_t len)
{
    if (atomic_load(&fail_writes)) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, buf, len);
}

static const struct hv_journal_io test_io = {io_write, fdatasync, fsync};

/* ---- the fake NVE: answers what the agent sends, one loop turn later --- */

static void
nve_answer_frame(struct fake *f, const uint8_t *buf, size_t len)
{
    struct nvdp_writer w;
    struct nvdp_reader r;
    struct nvdp_msg *m = f->in, *o = f->out;

    if (f->npending == 16 || nvdp_frame_open(&r, buf, len) < 0)
        return;
    nvdp_writer_init(&w, f->pending[f->npending], 1500, NVE_EPOCH,
                     r.hdr.epoch);
    memset(o, 0, sizeof(*o));
    o->type = NVDP_MSG_HELLO;
    o->hello.role = NVDP_ROLE_NVE;
    o->hello.hold_time = 30;
    o->hello.hello_interval = 1000;
    o->hello.window = 64;
    snprintf(o->hello.name, sizeof(o->hello.name), "fake-nve");
    nvdp_writer_add(&w, o);
    while (nvdp_frame_next(&r, m) > 0) {
        if (m->type == NVDP_MSG_HELLO || m->type == NVDP_MSG_RESPONSE)
            continue;
        if (m->vn.kind == NVDP_VN_VNI && m->vn.vni == VNI_SILENT)
            continue;
        memset(o, 0, sizeof(*o));
        o->type = NVDP_MSG_RESPONSE;
        o->txid = m->txid;
        o->req_type = m->type;
        if (m->vn.kind == NVDP_VN_VNI && m->vn.vni == VNI_REFUSED) {
            o->status = NVDP_ST_UNKNOWN_VN;
            snprintf(o->reason, sizeof(o->reason), "VN 999 not offered here");
        } else if (m->type == NVDP_MSG_ASSOC ||
                   (m->type == NVDP_MSG_PREASSOC &&
                    (m->rflags & NVDP_RF_RR))) {
            o->has_tag = 1;
            o->tag = (uint16_t)(100 + m->vn.vni % 1000);
        }
        nvdp_writer_add(&w, o);
    }
    f->pending_len[f->npending++] = nvdp_writer_finish(&w);
}

static int
fake_send(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    struct fake *f = arg;

    (void)dst;
    nve_answer_frame(f, buf, len);
    ev_timer_start(f->h.loop, &f->nve_timer, 1);
    return 0;
}

/* hv.c's turn: commit, then the engine (the fake NVE's answers come in
 * through nve_cb). */
static void
run_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct fake *f = arg;
    uint64_t next;

    (void)t;
    f->in_run = 1;
    f->rerun = 0;
    hv_state_flush(&f->h);
    next = hv_proto_run(&f->h, ev_now(l));
    if (f->rerun || (hv_state_unsaved(&f->h.state) && !f->h.state_retry_at))
        next = ev_now(l);
    f->in_run = 0;
    ev_timer_at(l, &f->run_timer, next);
}

static void
nve_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct fake *f = arg;
    size_t n = f->npending;

    (void)t;
    f->npending = 0;
    for (size_t i = 0; i < n; i++)
        hv_proto_input(&f->h, NVE_MAC, HV_MAC, f->pending[i],
                       f->pending_len[i], ev_now(l));
    ev_timer_start(l, &f->run_timer, 0);
}

static void
wake(struct hv *h)
{
    struct fake *f = (struct fake *)h;

    if (f->in_run)
        f->rerun = 1;
    else
        ev_timer_start(h->loop, &f->run_timer, 0);
}

static void
stop_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    (void)fd;
    (void)events;
    (void)arg;
    ev_break(l);
}

static void *
srv_thread(void *arg)
{
    struct fake *f = arg;

    ev_run(f->h.loop);
    return NULL;
}

static int
setup(void **st)
{
    struct fake *f = calloc(1, sizeof(*f));
    char err[512];

    log_init("test_hv_ctl", 1, 0);
    atomic_store(&fail_writes, 0);
    f->in = calloc(1, sizeof(*f->in));
    f->out = calloc(1, sizeof(*f->out));
    hv_conf_defaults(&f->h.conf);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_hv_ctl.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->h.conf.state_file, sizeof(f->h.conf.state_file),
             "%s/hv.state", f->dir);
    f->h.conf.vns = calloc(1, sizeof(*f->h.conf.vns));
    f->h.conf.nvns = 1;
    snprintf(f->h.conf.vns[0].name, sizeof(f->h.conf.vns[0].name), "blue");
    nvdp_vn_parse("vni:10100", &f->h.conf.vns[0].vn);
    hv_state_init(&f->h.state);
    if (hv_persist_open(&f->h, &test_io, err, sizeof(err)) < 0)
        return -1;
    f->h.loop = ev_loop_new();
    f->h.wake = wake;
    ev_timer_init(&f->run_timer, run_cb, f);
    ev_timer_init(&f->nve_timer, nve_cb, f);
    if (hv_proto_init(&f->h, 0x1234, HV_MAC, 1500, fake_send, f, 0,
                      ev_clock_ms()) < 0)
        return -1;
    snprintf(f->path, sizeof(f->path), "/tmp/test_hv_ctl.%d.sock",
             (int)getpid());
    if (hv_ctl_start(&f->h, f->path) < 0 || pipe(f->stop) < 0)
        return -1;
    ev_io_add(f->h.loop, f->stop[0], EPOLLIN, stop_cb, f);
    ev_timer_start(f->h.loop, &f->run_timer, 0);
    pthread_create(&f->thr, NULL, srv_thread, f);
    *st = f;
    return 0;
}

static int
teardown(void **st)
{
    struct fake *f = *st;

    if (write(f->stop[1], "x", 1) != 1)
        return -1;
    pthread_join(f->thr, NULL);
    hv_ctl_stop(&f->h);
    ev_timer_stop(f->h.loop, &f->run_timer);
    ev_timer_stop(f->h.loop, &f->nve_timer);
    ev_io_del(f->h.loop, f->stop[0]);
    close(f->stop[0]);
    close(f->stop[1]);
    hv_proto_free(&f->h);
    hv_persist_close(&f->h);
    hv_state_free(&f->h.state);
    unlink(f->h.conf.state_file);
    rmdir(f->dir);
    hv_conf_free(&f->h.conf);
    ev_loop_free(f->h.loop);
    free(f->in);
    free(f->out);
    free(f);
    return 0;
}

/* ---- client helpers ----------------------------------------------------- */

static struct json_object *
call(struct fake *f, const char *json)
{
    struct json_object *req = json_tokener_parse(json), *resp = NULL;
    int fd = ctl_client_connect(f->path);

    assert_non_null(req);
    assert_true(fd >= 0);
    assert_int_equal(ctl_client_call(fd, req, &resp, 10000), 0);
    json_object_put(req);
    close(fd);
    return resp;
}

static const char *
jstr(struct json_object *o, const char *path)
{
    char buf[128], *save = NULL;
    struct json_object *x = o;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        if (x == NULL || !json_object_object_get_ex(x, k, &x))
            return NULL;
    return x ? json_object_get_string(x) : NULL;
}

static int
jint(struct json_object *o, const char *path)
{
    const char *s = jstr(o, path);

    return s ? atoi(s) : -1;
}

/* Expects an error with code and a message containing words. */
static void
expect_err(struct fake *f, const char *json, int code, const char *words)
{
    struct json_object *r = call(f, json);

    const char *ok = jstr(r, "ok"), *err = jstr(r, "error");

    if (ok == NULL || strcmp(ok, "false") != 0 || jint(r, "code") != code ||
        err == NULL || strstr(err, words) == NULL)
        fail_msg("%s\n -> %s (wanted code %d with \"%s\")", json,
                 json_object_to_json_string(r), code, words);
    json_object_put(r);
}

#define V1 "11111111-2222-4333-8444-000000000001"
#define V2 "11111111-2222-4333-8444-000000000002"
#define V3 "11111111-2222-4333-8444-000000000003"
#define V4 "11111111-2222-4333-8444-000000000004"

static void
test_validation(void **st)
{
    struct fake *f = *st;
    char big[4096];
    size_t off;

    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vn\": \"blue\", "
                  "\"mac\": \"52:54:00:00:00:01\"}}", CTL_E_USAGE, "vnic");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"x\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\"}}",
               CTL_E_USAGE, "argument \"vnic\" must be a UUID, not \"x\"");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"green\", \"mac\": \"52:54:00:00:00:01\"}}",
               CTL_E_USAGE, "unknown VN \"green\"");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\"}}", CTL_E_USAGE, "mac");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\", \"mac\": \"01:00:5e:00:00:01\"}}",
               CTL_E_USAGE, "unicast");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                  "\"ips\": \"10.0.0.1\"}}", CTL_E_USAGE, "array");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                  "\"ips\": [\"10.0.0.300\"]}}", CTL_E_USAGE, "10.0.0.300");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                  "\"wait\": 5}}", CTL_E_USAGE, "unknown argument \"wait\"");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                  "\"wait_ms\": -1}}", CTL_E_USAGE, "wait_ms");
    /* 64 IPv6 ranges do not fit a 1500-byte frame */
    off = (size_t)snprintf(big, sizeof(big),
                           "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \""
                           V1 "\", \"vn\": \"blue\", \"mac\": "
                           "\"52:54:00:00:00:01\", \"ips\": [");
    for (int i = 0; i < 64; i++)
        off += (size_t)snprintf(big + off, sizeof(big) - off,
                                "%s\"2001:db8::%x:1-2001:db8::%x:9\"",
                                i ? ", " : "", i, i);
    snprintf(big + off, sizeof(big) - off, "]}}");
    expect_err(f, big, CTL_E_USAGE, "fit");
    /* 65: more than a VNIC may have, refused as an argument */
    snprintf(big + off, sizeof(big) - off, ", \"10.0.0.1\"]}}");
    expect_err(f, big, CTL_E_USAGE,
               "argument \"ips\" must be an array of at most 64 strings");
    expect_err(f, "{\"cmd\": \"vnic-detach\", \"args\": {\"vnic\": \"" V4 "\"}}",
               CTL_E_NOTFOUND, V4);
    expect_err(f, "{\"cmd\": \"vnic-state\", \"args\": {\"vnic\": \"" V4 "\", "
                  "\"up\": true}}", CTL_E_NOTFOUND, V4);
    expect_err(f, "{\"cmd\": \"vnic-list\", \"args\": {\"all\": 1}}",
               CTL_E_USAGE, "unknown argument \"all\" (takes none)");
    expect_err(f, "{\"cmd\": \"vnic-detach\", \"args\": {\"vnic\": \"" V4 "\", "
                  "\"reserve\": true}}", CTL_E_USAGE,
               "unknown argument \"reserve\" (known: vnic, migrating, "
               "wait_ms)");
    expect_err(f, "{\"cmd\": \"vnic-preassociate\", \"args\": {\"vnic\": \""
                  V1 "\", \"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                  "\"reserve\": 1}}", CTL_E_USAGE,
               "argument \"reserve\" must be true or false");
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                  "\"ifname\": \"../x\"}}", CTL_E_USAGE, "bad ifname");
    /* nothing was created by any of these */
    struct json_object *r = call(f, "{\"cmd\": \"vnic-list\"}");
    assert_int_equal(json_object_array_length(
                         json_object_object_get(r, "result")), 0);
    json_object_put(r);
}

static void
test_attach_wait_outcomes(void **st)
{
    struct fake *f = *st;
    struct json_object *r;

    r = call(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", \"ips\": "
                "[\"10.0.0.1\", \"10.0.0.0/24\"], \"ifname\": \"vnet0\", "
                "\"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "ok"), "true");
    assert_string_equal(jstr(r, "result.state"), "attached");
    assert_int_equal(jint(r, "result.tag"), 200);
    assert_string_equal(jstr(r, "result.vn"), "vni:10100");
    assert_string_equal(jstr(r, "result.vn_name"), "blue");
    assert_string_equal(jstr(r, "result.ifname"), "vnet0");
    json_object_put(r);

    /* refused: code 5 with the NVE's status and reason */
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V2 "\", "
                  "\"vn\": \"vni:999\", \"mac\": \"52:54:00:00:00:02\", "
                  "\"wait_ms\": 5000}}", CTL_E_REFUSED,
               "unknown-vn: VN 999 not offered here");
    r = call(f, "{\"cmd\": \"vnic-list\"}");
    assert_string_equal(jstr(json_object_array_get_idx(
                                 json_object_object_get(r, "result"), 1),
                             "state"), "failed");
    assert_string_equal(jstr(json_object_array_get_idx(
                                 json_object_object_get(r, "result"), 1),
                             "status"), "unknown-vn");
    json_object_put(r);

    /* no answer: code 4, and the request stays */
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V3 "\", "
                  "\"vn\": \"vni:555\", \"mac\": \"52:54:00:00:00:03\", "
                  "\"wait_ms\": 300}}", CTL_E_TIMEOUT,
               "stays in the desired state");
    r = call(f, "{\"cmd\": \"vnic-list\"}");
    assert_int_equal(json_object_array_length(
                         json_object_object_get(r, "result")), 3);
    assert_string_equal(jstr(json_object_array_get_idx(
                                 json_object_object_get(r, "result"), 2),
                             "state"), "pending");
    json_object_put(r);

    /* without wait_ms: answered at once */
    r = call(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V4 "\", "
                "\"vn\": \"vni:10200\", \"mac\": \"52:54:00:00:00:04\"}}");
    assert_string_equal(jstr(r, "ok"), "true");
    assert_string_equal(jstr(r, "result.state"), "pending");
    json_object_put(r);

    r = call(f, "{\"cmd\": \"status\"}");
    assert_string_equal(jstr(r, "result.nve.state"), "up");
    assert_string_equal(jstr(r, "result.nve.name"), "fake-nve");
    assert_int_equal(jint(r, "result.vnics"), 4);
    json_object_put(r);
}

static void
test_state_preassoc_detach(void **st)
{
    struct fake *f = *st;
    struct json_object *r;

    r = call(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                "\"vn\": \"vni:10100\", \"mac\": \"52:54:00:00:00:01\", "
                "\"wait_ms\": 5000}}");
    json_object_put(r);
    r = call(f, "{\"cmd\": \"vnic-state\", \"args\": {\"vnic\": \"" V1 "\", "
                "\"up\": false, \"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "ok"), "true");
    assert_string_equal(jstr(r, "result.up"), "false");
    assert_string_equal(jstr(r, "result.state"), "attached");
    json_object_put(r);
    expect_err(f, "{\"cmd\": \"vnic-state\", \"args\": {\"vnic\": \"" V1 "\"}}",
               CTL_E_USAGE, "up");

    r = call(f, "{\"cmd\": \"vnic-preassociate\", \"args\": {\"vnic\": \"" V2
                "\", \"vn\": \"vni:10300\", \"mac\": \"52:54:00:00:00:02\", "
                "\"reserve\": true, \"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "result.state"), "preassociated");
    assert_int_equal(jint(r, "result.tag"), 400);
    assert_string_equal(jstr(r, "result.reserve"), "true");
    json_object_put(r);
    expect_err(f, "{\"cmd\": \"vnic-state\", \"args\": {\"vnic\": \"" V2 "\", "
                  "\"up\": true}}", CTL_E_USAGE, "not attached");

    r = call(f, "{\"cmd\": \"vnic-detach\", \"args\": {\"vnic\": \"" V1 "\", "
                "\"migrating\": true, \"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "ok"), "true");
    assert_string_equal(jstr(r, "result.state"), "detached");
    assert_string_equal(jstr(r, "result.intent"), "migration");
    json_object_put(r);
    r = call(f, "{\"cmd\": \"vnic-list\"}");
    assert_int_equal(json_object_array_length(
                         json_object_object_get(r, "result")), 1);
    json_object_put(r);
}

/* What a restart would load from the journal right now. */
static struct hv_vnic *
on_disk(struct fake *f, struct hv_state *s, const char *uuid)
{
    struct hv_state_load r;
    struct nvdp_uuid u;
    char err[256];

    hv_state_init(s);
    assert_int_equal(hv_state_load(s, f->h.conf.state_file, &r, err,
                                   sizeof(err)), 0);
    assert_false(hv_journal_damaged(&r.scan));
    assert_int_equal(nvdp_uuid_parse(uuid, &u), 0);
    return hv_state_find(s, &u);
}

/* The tag an answer carried reaches the disk with a later commit, which
 * the answer does not wait for (hv_state_learnt): it comes soon. */
static void
tag_on_disk_soon(struct fake *f, const char *uuid, uint16_t tag)
{
    struct hv_state s;
    struct hv_vnic *v;
    int found = 0;

    for (int i = 0; i < 200 && !found; i++) {
        assert_non_null(v = on_disk(f, &s, uuid));
        found = v->tag_hint == tag;
        hv_state_free(&s);
        if (!found)
            usleep(10000);
    }
    assert_true(found);
}

static void
test_ok_means_saved(void **st)
{
    struct fake *f = *st;
    struct json_object *r;
    struct hv_state s;
    struct hv_vnic *v;

    /* when the client hears ok, a restart would find the VNIC; its tag,
     * the NVE's, follows with a later commit */
    r = call(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                "\"ips\": [\"10.0.0.1\"], \"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "ok"), "true");
    assert_int_equal(jint(r, "result.tag"), 200);
    json_object_put(r);
    assert_non_null(v = on_disk(f, &s, V1));
    assert_int_equal(v->want, HV_WANT_ATTACH);
    hv_state_free(&s);
    tag_on_disk_soon(f, V1, 200);

    /* without waiting: the desired state is on disk when ok comes */
    r = call(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V2 "\", "
                "\"vn\": \"vni:555\", \"mac\": \"52:54:00:00:00:02\"}}");
    assert_string_equal(jstr(r, "result.state"), "pending");
    json_object_put(r);
    assert_non_null(on_disk(f, &s, V2));
    hv_state_free(&s);

    /* a detach acknowledged is gone for good */
    r = call(f, "{\"cmd\": \"vnic-detach\", \"args\": {\"vnic\": \"" V1 "\", "
                "\"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "result.state"), "detached");
    json_object_put(r);
    /* on disk as wanted detached (a restart only detaches it again), its
     * removal record following with a later commit */
    v = on_disk(f, &s, V1);
    assert_true(v == NULL || v->want == HV_WANT_DETACH);
    hv_state_free(&s);
    for (int i = 0; i < 200 && (v = on_disk(f, &s, V1)) != NULL; i++) {
        hv_state_free(&s);
        usleep(10000);
    }
    assert_null(v);
    assert_int_equal(s.count, 1);
    hv_state_free(&s);
    r = call(f, "{\"cmd\": \"counters\"}");
    assert_true(jint(r, "result.state.commits") >= 3);
    assert_int_equal(jint(r, "result.state.save_errors"), 0);
    json_object_put(r);
}

static void
test_not_saved_is_refused_and_undone(void **st)
{
    struct fake *f = *st;
    struct json_object *r, *a;
    struct hv_state s;
    struct hv_vnic *v;

    r = call(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                "\"ips\": [\"10.0.0.1\"], \"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "ok"), "true");
    json_object_put(r);

    atomic_store(&fail_writes, 1); /* the disk is full */
    /* a new VNIC: refused with the reason, and not kept */
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V2 "\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:02\", "
                  "\"wait_ms\": 5000}}", CTL_E_FAILED,
               "state not saved: No space left on device");
    /* a change of an existing one, and a detach: refused, undone */
    expect_err(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:01\", "
                  "\"ips\": [\"10.0.0.9\"]}}", CTL_E_FAILED,
               "No space left on device");
    expect_err(f, "{\"cmd\": \"vnic-detach\", \"args\": {\"vnic\": \"" V1 "\", "
                  "\"wait_ms\": 5000}}", CTL_E_FAILED, "state not saved");
    r = call(f, "{\"cmd\": \"vnic-list\"}");
    a = json_object_object_get(r, "result");
    assert_int_equal(json_object_array_length(a), 1);
    assert_string_equal(jstr(json_object_array_get_idx(a, 0), "vnic"), V1);
    assert_string_equal(jstr(json_object_array_get_idx(a, 0), "desired"),
                        "attached");
    assert_string_equal(jstr(json_object_array_get_idx(a, 0), "state"),
                        "attached");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(
                            json_object_object_get(
                                json_object_array_get_idx(a, 0), "ips"), 0)),
                        "10.0.0.1");
    json_object_put(r);
    r = call(f, "{\"cmd\": \"status\"}");
    assert_true(jint(r, "result.state.save_errors") >= 3);
    assert_int_equal(jint(r, "result.state.undone"), 3);
    assert_non_null(strstr(jstr(r, "result.state.error"), "No space"));
    json_object_put(r);

    /* space again: the same requests succeed, and are on disk */
    atomic_store(&fail_writes, 0);
    r = call(f, "{\"cmd\": \"vnic-attach\", \"args\": {\"vnic\": \"" V2 "\", "
                "\"vn\": \"blue\", \"mac\": \"52:54:00:00:00:02\", "
                "\"wait_ms\": 5000}}");
    assert_string_equal(jstr(r, "ok"), "true");
    assert_string_equal(jstr(r, "result.state"), "attached");
    json_object_put(r);
    tag_on_disk_soon(f, V2, 200);
    assert_non_null(v = on_disk(f, &s, V1));
    assert_int_equal(v->addr[0].ip[3], 1); /* 10.0.0.1, not .9 */
    hv_state_free(&s);
    r = call(f, "{\"cmd\": \"status\"}");
    assert_null(jstr(r, "result.state.error"));
    json_object_put(r);
}

static void
test_watch_and_pipelining(void **st)
{
    struct fake *f = *st;
    struct json_object *req, *m = NULL;
    int w = ctl_client_connect(f->path), c = ctl_client_connect(f->path);
    int got_pending = 0, got_attached = 0;

    assert_true(w >= 0 && c >= 0);
    /* twice on one connection: still one watcher, each event once */
    for (int i = 0; i < 2; i++) {
        req = json_tokener_parse("{\"cmd\": \"watch\"}");
        assert_int_equal(ctl_client_call(w, req, &m, 5000), 0);
        assert_string_equal(jstr(m, "ok"), "true");
        json_object_put(m);
        json_object_put(req);
    }

    /* a waiting request does not hold up the next one on the connection */
    req = json_tokener_parse("{\"cmd\": \"vnic-attach\", \"id\": 1, \"args\": "
                             "{\"vnic\": \"" V3 "\", \"vn\": \"vni:555\", "
                             "\"mac\": \"52:54:00:00:00:03\", \"wait_ms\": 500}}");
    assert_int_equal(ctl_client_send(c, req), 0);
    json_object_put(req);
    req = json_tokener_parse("{\"cmd\": \"vnic-attach\", \"id\": 2, \"args\": "
                             "{\"vnic\": \"" V1 "\", \"vn\": \"vni:10100\", "
                             "\"mac\": \"52:54:00:00:00:01\", \"wait_ms\": 5000}}");
    assert_int_equal(ctl_client_send(c, req), 0);
    json_object_put(req);
    assert_int_equal(ctl_client_recv(c, &m, 5000), 0);
    assert_int_equal(jint(m, "id"), 2);
    assert_string_equal(jstr(m, "result.state"), "attached");
    json_object_put(m);
    assert_int_equal(ctl_client_recv(c, &m, 5000), 0);
    assert_int_equal(jint(m, "id"), 1);
    assert_int_equal(jint(m, "code"), CTL_E_TIMEOUT);
    json_object_put(m);

    /* the watcher saw V1 go pending then attached, with its tag */
    while (ctl_client_recv(w, &m, 300) == 0) {
        const char *ev = jstr(m, "event"), *vn = jstr(m, "vnic");
        if (ev != NULL && strcmp(ev, "vnic") == 0 && vn != NULL &&
            strcmp(vn, V1) == 0) {
            if (strcmp(jstr(m, "state"), "pending") == 0)
                got_pending = 1;
            if (strcmp(jstr(m, "state"), "attached") == 0 &&
                jint(m, "tag") == 200)
                got_attached++;
        }
        json_object_put(m);
    }
    assert_true(got_pending);
    assert_int_equal(got_attached, 1);
    close(w);
    close(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_wait_outcomes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_state_preassoc_detach, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ok_means_saved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_saved_is_refused_and_undone,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_and_pipelining, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
