/* test_hv_want.c - hv_vnic_want(), the one entry point for a VNIC's desired
 * state: validation (nothing changes on a refusal), the change counter
 * (bumped only by a change), retry after a refusal, detach and link state,
 * the undo of a change that could not be saved. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hv.h"

struct fx {
    struct hv h;
    unsigned notified;
    uint8_t last_state;
    char err[256];
};

static void
obs_vnic(void *arg, const struct hv_vnic *v)
{
    struct fx *f = arg;

    f->notified++;
    f->last_state = v->state;
}

static int
setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct hv_observer o = {.vnic_changed = obs_vnic, .arg = f};

    log_init("test_hv_want", 1, 0);
    hv_conf_defaults(&f->h.conf);
    f->h.conf.vns = calloc(1, sizeof(*f->h.conf.vns));
    f->h.conf.nvns = 1;
    snprintf(f->h.conf.vns[0].name, sizeof(f->h.conf.vns[0].name), "blue");
    nvdp_vn_parse("vni:10100", &f->h.conf.vns[0].vn);
    hv_state_init(&f->h.state);
    f->h.proto.mtu = 1500; /* what hv_proto_init() takes from the uplink */
    hv_observer_add(&f->h, &o);
    *st = f;
    return 0;
}

static int
teardown(void **st)
{
    struct fx *f = *st;

    hv_state_free(&f->h.state);
    hv_conf_free(&f->h.conf);
    free(f);
    return 0;
}

static struct hv_want_req
req(uint8_t op, const char *vn)
{
    struct hv_want_req r;

    memset(&r, 0, sizeof(r));
    r.op = op;
    r.uuid.b[0] = 0x11;
    r.uuid.b[15] = 0x01;
    r.vn = vn;
    memcpy(r.mac, "\x52\x54\x00\x00\x00\x01", 6);
    return r;
}

static struct hv_vnic *
want_ok(struct fx *f, const struct hv_want_req *r)
{
    struct hv_vnic *v = NULL;

    if (hv_vnic_want(&f->h, r, &v, f->err, sizeof(f->err)) != HV_WANT_OK)
        fail_msg("refused: %s", f->err);
    assert_non_null(v);
    return v;
}

static void
want_err(struct fx *f, const struct hv_want_req *r, enum hv_want_err e,
         const char *words)
{
    struct hv_vnic *v = (struct hv_vnic *)1;

    assert_int_equal(hv_vnic_want(&f->h, r, &v, f->err, sizeof(f->err)), e);
    if (strstr(f->err, words) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", f->err, words);
    assert_null(v);
}

/* As if the journal committed and the engine took the VNIC off its list. */
static void
settle(struct fx *f)
{
    hv_state_saved(&f->h.state, 0);
    while (hv_state_next_dirty(&f->h.state) != NULL)
        ;
    f->notified = 0;
}

/* A request, then its change committed and taken by the engine. */
static struct hv_vnic *
want_settled(struct fx *f, const struct hv_want_req *r)
{
    struct hv_vnic *v = want_ok(f, r);

    settle(f);
    return v;
}

static void
test_attach_counts_changes_only(void **st)
{
    struct fx *f = *st;
    struct hv_want_req r = req(HV_OP_ATTACH, "blue");
    const char *ips[] = {"10.0.0.1", "10.0.0.0/24", "10.0.0.1"};
    struct hv_vnic *v;

    r.ips = ips;
    r.nips = 3;
    r.ifname = "vnet0";
    v = want_ok(f, &r);
    assert_int_equal(f->h.state.count, 1);
    assert_int_equal(v->want, HV_WANT_ATTACH);
    assert_int_equal(v->vn.vni, 10100);
    assert_string_equal(v->vn_name, "blue");
    assert_int_equal(v->naddr, 2); /* the duplicate dropped */
    assert_string_equal(v->ifname, "vnet0");
    assert_int_equal(v->state, HV_VNIC_PENDING);
    assert_int_equal(v->gen, 1);
    assert_true(v->queued);
    assert_true(v->unsaved);
    assert_non_null(v->undo);
    assert_int_equal(f->notified, 1);
    settle(f);

    /* the same again (ifname left out: as it was) changes nothing */
    r.ifname = NULL;
    assert_ptr_equal(want_ok(f, &r), v);
    assert_int_equal(v->gen, 1);
    assert_false(v->queued);
    assert_false(v->unsaved);
    assert_int_equal(f->notified, 0);

    /* other addresses: a change, from pending */
    v->state = HV_VNIC_ATTACHED;
    r.nips = 1;
    want_ok(f, &r);
    assert_int_equal(v->naddr, 1);
    assert_int_equal(v->gen, 2);
    assert_true(v->queued);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    assert_int_equal(f->notified, 1);
    settle(f);

    /* the same after a refusal: retried from pending, the refusal gone */
    v->state = HV_VNIC_FAILED;
    v->status = NVDP_ST_UNKNOWN_VN;
    v->gaveup = 1;
    snprintf(v->reason, sizeof(v->reason), "no");
    want_ok(f, &r);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    assert_int_equal(v->status, NVDP_ST_OK);
    assert_false(v->gaveup);
    assert_string_equal(v->reason, "");
    assert_int_equal(v->gen, 3);
    assert_true(v->queued);
    settle(f);

    /* preassociate with a reservation: a change; PREASSOC on a VNI */
    r = req(HV_OP_PREASSOC, "vni:200");
    r.reserve = 1;
    want_ok(f, &r);
    assert_int_equal(v->want, HV_WANT_PREASSOC);
    assert_true(v->reserve);
    assert_string_equal(v->vn_name, "");
    assert_int_equal(v->gen, 4);
}

static void
test_refusals_change_nothing(void **st)
{
    struct fx *f = *st;
    struct hv_want_req r = req(HV_OP_ATTACH, "green");
    const char *bad[] = {"10.0.0.300"}, *many[NVDP_MAX_ADDRS + 1];
    char ranges[NVDP_MAX_ADDRS][48];
    const char *big[NVDP_MAX_ADDRS];

    want_err(f, &r, HV_WANT_E_VN, "unknown VN \"green\"");
    r = req(HV_OP_ATTACH, "vni:16777216");
    want_err(f, &r, HV_WANT_E_VN, "unknown VN");
    r = req(HV_OP_ATTACH, "blue");
    memcpy(r.mac, "\x01\x00\x5e\x00\x00\x01", 6);
    want_err(f, &r, HV_WANT_E_FORMAT, "01:00:5e:00:00:01 is not a unicast");
    memset(r.mac, 0, 6);
    want_err(f, &r, HV_WANT_E_FORMAT, "not a unicast");
    r = req(HV_OP_ATTACH, "blue");
    r.ips = bad;
    r.nips = 1;
    want_err(f, &r, HV_WANT_E_FORMAT, "bad address \"10.0.0.300\"");
    for (size_t i = 0; i <= NVDP_MAX_ADDRS; i++)
        many[i] = "10.0.0.1";
    r.ips = many;
    r.nips = NVDP_MAX_ADDRS + 1;
    want_err(f, &r, HV_WANT_E_FORMAT, "at most 64 addresses");
    r.nips = 0;
    r.ifname = "a/b";
    want_err(f, &r, HV_WANT_E_FORMAT, "bad ifname \"a/b\"");
    r.ifname = "";
    want_err(f, &r, HV_WANT_E_FORMAT, "bad ifname");
    r.ifname = "sixteen-bytes-xx";
    want_err(f, &r, HV_WANT_E_FORMAT, "bad ifname");
    /* 64 IPv6 ranges do not fit a 1500-byte frame; 30 do, as an ASSOC
     * and as a PREASSOC (its FLAGS too) */
    r.ifname = NULL;
    for (int i = 0; i < NVDP_MAX_ADDRS; i++) {
        snprintf(ranges[i], sizeof(ranges[i]), "2001:db8::%x:1-2001:db8::%x:9",
                 i, i);
        big[i] = ranges[i];
    }
    r.ips = big;
    r.nips = NVDP_MAX_ADDRS;
    want_err(f, &r, HV_WANT_E_FRAME, "fit one frame");
    r = req(HV_OP_DETACH, NULL);
    want_err(f, &r, HV_WANT_E_NOVNIC, "no VNIC 11000000-0000-0000-0000-000000000001");
    r.op = HV_OP_STATE;
    want_err(f, &r, HV_WANT_E_NOVNIC, "no VNIC");
    assert_int_equal(f->h.state.count, 0);
    assert_true(TAILQ_EMPTY(&f->h.state.dirty));
    assert_false(hv_state_unsaved(&f->h.state));
    assert_int_equal(f->notified, 0);

    r = req(HV_OP_ATTACH, "blue");
    r.ips = big;
    r.nips = 30;
    want_ok(f, &r);
    r.op = HV_OP_PREASSOC;
    want_ok(f, &r);
}

static void
test_detach_and_state(void **st)
{
    struct fx *f = *st;
    struct hv_want_req r = req(HV_OP_PREASSOC, "blue");
    struct hv_vnic *v = want_settled(f, &r);

    r.op = HV_OP_STATE;
    r.up = 1;
    want_err(f, &r, HV_WANT_E_NOTATTACHED, "not attached (desired: "
                                           "preassociated)");
    r = req(HV_OP_ATTACH, "blue");
    want_ok(f, &r);
    v->state = HV_VNIC_ATTACHED;
    settle(f);

    /* up is the default: asking for it changes nothing */
    r.op = HV_OP_STATE;
    r.up = 1;
    want_ok(f, &r);
    assert_int_equal(v->gen, 2);
    assert_false(v->queued);
    r.up = 0;
    want_ok(f, &r);
    assert_false(v->up);
    assert_int_equal(v->gen, 3);
    assert_true(v->queued);
    assert_int_equal(v->state, HV_VNIC_ATTACHED); /* not a reset */
    assert_int_equal(f->notified, 0);
    settle(f);

    r.op = HV_OP_DETACH;
    r.intent = NVDP_INTENT_MIGRATION;
    want_ok(f, &r);
    assert_int_equal(v->want, HV_WANT_DETACH);
    assert_int_equal(v->intent, NVDP_INTENT_MIGRATION);
    assert_int_equal(v->state, HV_VNIC_DETACHING);
    assert_int_equal(v->gen, 4);
    assert_int_equal(f->notified, 1);
    assert_int_equal(f->last_state, HV_VNIC_DETACHING);
    settle(f);
    want_ok(f, &r); /* again: nothing */
    assert_int_equal(v->gen, 4);
    assert_false(v->queued);
    r.intent = 0; /* a shutdown after all: a change */
    want_ok(f, &r);
    assert_int_equal(v->intent, NVDP_INTENT_SHUTDOWN);
    assert_int_equal(v->gen, 5);
    assert_true(v->queued);
}

/* A change the journal could not save is undone with its count: an answer
 * to the request built before it counts again. */
static void
test_undo_restores_gen(void **st)
{
    struct fx *f = *st;
    struct hv_want_req r = req(HV_OP_ATTACH, "blue");
    struct hv_vnic *v = want_settled(f, &r);

    r.vn = "vni:300";
    want_ok(f, &r);
    r.vn = "vni:400";
    want_ok(f, &r);
    assert_int_equal(v->gen, 3);
    assert_int_equal(hv_state_undo(v), 0);
    assert_int_equal(v->gen, 1);
    assert_int_equal(v->vn.vni, 10100);
    assert_string_equal(v->vn_name, "blue");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attach_counts_changes_only,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_detach_and_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_undo_restores_gen, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
