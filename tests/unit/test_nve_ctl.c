/* test_nve_ctl.c - nve-agent's control commands without a socket: the JSON
 * shapes nvdpctl and the e2e tests rely on, filters, and error codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl.h"
#include "nve.h"
#include "nve_fixture.h"

struct fx {
    struct nve *n;
    int nsent;
    uint8_t last[NVDP_FRAME_MAX];
    size_t lastlen;
};

static void
cap(void *arg, uint16_t port, const uint8_t dst[6], const uint8_t *f,
    size_t len)
{
    struct fx *x = arg;
    x->nsent++;
    memcpy(x->last, f, len);
    x->lastlen = len;
}

static int
setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));

    log_init("test", 1, 0);
    assert_non_null(x);
    x->n = nve_fixture_new(NULL, cap, x);
    assert_non_null(x->n);
    snprintf(x->n->ctl_path, sizeof(x->n->ctl_path), "/tmp/x.sock");
    *state = x;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *x = *state;
    nve_fixture_free(x->n);
    free(x);
    return 0;
}

/* ASSOC (or PREASSOC without RR) of VNIC n in vni with MAC/IP from n. */
static void
attach(struct fx *x, uint16_t port, unsigned vnic, uint32_t vni, int pre)
{
    assert_int_equal(nve_fixture_attach(x->n, port, vnic, vni, pre), 0);
}

static struct json_object *
run_ok(struct fx *x, const char *cmd, const char *args_json)
{
    struct json_object *args = args_json ? json_tokener_parse(args_json)
                                         : json_object_new_object();
    char err[256];
    int code = -1;
    struct json_object *r = nve_ctl_run(x->n, cmd, args, &code, err,
                                        sizeof(err));
    if (r == NULL)
        fail_msg("%s %s: code %d: %s", cmd, args_json ? args_json : "", code,
                 err);
    json_object_put(args);
    return r;
}

static int
run_err(struct fx *x, const char *cmd, const char *args_json)
{
    struct json_object *args = json_tokener_parse(args_json);
    char err[256];
    int code = 0;
    struct json_object *r = nve_ctl_run(x->n, cmd, args, &code, err,
                                        sizeof(err));
    assert_null(r);
    assert_true(strlen(err) > 0);
    json_object_put(args);
    return code;
}

static const char *
s_of(struct json_object *o, const char *k)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, k, &v))
        fail_msg("key %s missing in %s", k, json_object_to_json_string(o));
    return json_object_get_string(v);
}

static int64_t
i_of(struct json_object *o, const char *k)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, k, &v))
        fail_msg("key %s missing in %s", k, json_object_to_json_string(o));
    return json_object_get_int64(v);
}

static struct json_object *
get(struct json_object *o, const char *k)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v))
        fail_msg("key %s missing in %s", k, json_object_to_json_string(o));
    return v;
}

static void
test_status_ports_vns(void **state)
{
    struct fx *x = *state;
    struct json_object *r;

    attach(x, 0, 1, 100, 0);
    attach(x, 1, 2, 100, 0);
    r = run_ok(x, "status", NULL);
    assert_string_equal(s_of(r, "name"), "tor-ctl");
    assert_string_equal(s_of(r, "role"), "nve");
    assert_string_equal(s_of(r, "epoch"), "abcdef01");
    assert_int_equal(i_of(r, "ports"), 2);
    assert_int_equal(i_of(r, "vns"), 2);
    assert_int_equal(i_of(r, "peers"), 2); /* one per port */
    assert_int_equal(i_of(r, "vnics"), 2);
    assert_int_equal(i_of(r, "tags"), 2);
    json_object_put(r);

    r = run_ok(x, "ports", NULL);
    assert_int_equal(json_object_array_length(r), 2);
    struct json_object *p0 = json_object_array_get_idx(r, 0);
    struct json_object *p1 = json_object_array_get_idx(r, 1);
    assert_string_equal(s_of(p0, "name"), "p0");
    assert_string_equal(s_of(p0, "interface"), "acc0");
    assert_string_equal(s_of(p0, "tags"), "2,4-4000");
    assert_string_equal(s_of(p0, "reserved_tags"), "3");
    assert_int_equal(i_of(p0, "tags_used"), 1);
    assert_int_equal(i_of(p0, "tags_free"), 3997);
    assert_string_equal(s_of(p0, "hypervisors"), "any");
    assert_string_equal(s_of(p0, "vns"), "all");
    assert_true(json_object_is_type(get(p1, "hypervisors"), json_type_array));
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(get(p1, "hypervisors"), 0)),
        "02:00:00:00:00:01");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(get(p1, "vns"), 0)),
        "blue");
    assert_int_equal(i_of(p1, "max_vnics"), 5);
    assert_int_equal(i_of(p1, "vnics"), 1);
    json_object_put(r);

    r = run_ok(x, "vns", NULL);
    struct json_object *blue = json_object_array_get_idx(r, 0);
    struct json_object *red = json_object_array_get_idx(r, 1);
    assert_string_equal(s_of(blue, "name"), "blue");
    assert_string_equal(s_of(blue, "uuid"),
                        "6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01");
    assert_int_equal(i_of(blue, "vni"), 100);
    assert_int_equal(i_of(blue, "tags"), 2);
    assert_int_equal(json_object_array_length(get(blue, "ports")), 2);
    assert_string_equal(s_of(json_object_array_get_idx(get(blue, "remote_macs"), 0),
                             "vtep"),
                        "192.0.2.9");
    assert_null(get(red, "uuid"));
    assert_int_equal(json_object_array_length(get(red, "ports")), 1);
    json_object_put(r);
}

static void
test_tags_vnics(void **state)
{
    struct fx *x = *state;
    struct json_object *r, *o;

    attach(x, 0, 1, 100, 0);
    attach(x, 0, 2, 100, 0);
    attach(x, 0, 3, 200, 0);
    attach(x, 0, 4, 200, 1); /* pre-associated without RR: no tag */
    r = run_ok(x, "tags", NULL);
    assert_int_equal(json_object_array_length(r), 2);
    o = json_object_array_get_idx(r, 0);
    assert_string_equal(s_of(o, "port"), "p0");
    assert_int_equal(i_of(o, "tag"), 2);
    assert_string_equal(s_of(o, "vn"), "blue");
    assert_int_equal(i_of(o, "vni"), 100);
    assert_int_equal(i_of(o, "vnics"), 2);
    o = json_object_array_get_idx(r, 1);
    assert_int_equal(i_of(o, "tag"), 4); /* 3 is reserved */
    json_object_put(r);
    r = run_ok(x, "tags", "{\"port\": \"acc1\"}");
    assert_int_equal(json_object_array_length(r), 0);
    json_object_put(r);
    assert_int_equal(run_err(x, "tags", "{\"port\": \"nope\"}"),
                     CTL_E_NOTFOUND);

    r = run_ok(x, "vnics", NULL);
    assert_int_equal(json_object_array_length(r), 4);
    o = json_object_array_get_idx(r, 0); /* sorted: port, vn, vnic */
    assert_string_equal(s_of(o, "vnic"), "cc000000-0000-0000-0000-000000000001");
    assert_string_equal(s_of(o, "port"), "p0");
    assert_string_equal(s_of(o, "hv"), "02:00:00:00:00:01");
    assert_string_equal(s_of(o, "vn"), "blue");
    assert_int_equal(i_of(o, "vni"), 100);
    assert_int_equal(i_of(o, "tag"), 2);
    assert_string_equal(s_of(o, "state"), "associated");
    assert_false(json_object_get_boolean(get(o, "stale")));
    assert_string_equal(s_of(o, "mac"), "52:00:00:00:00:01");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(get(o, "ips"), 0)),
        "10.0.0.1");
    o = json_object_array_get_idx(r, 3);
    assert_string_equal(s_of(o, "state"), "preassociated");
    assert_null(get(o, "tag"));
    json_object_put(r);
    r = run_ok(x, "vnics", "{\"vn\": \"vni:200\"}");
    assert_int_equal(json_object_array_length(r), 2);
    json_object_put(r);
    r = run_ok(x, "vnics", "{\"vn\": \"blue\", \"port\": \"p0\"}");
    assert_int_equal(json_object_array_length(r), 2);
    json_object_put(r);
    assert_int_equal(run_err(x, "vnics", "{\"vn\": \"purple\"}"),
                     CTL_E_NOTFOUND);
    assert_int_equal(run_err(x, "vnics", "{\"port\": \"p9\"}"),
                     CTL_E_NOTFOUND);
}

static void
test_peers_counters_fwd(void **state)
{
    struct fx *x = *state;
    struct json_object *r, *o;

    attach(x, 0, 1, 100, 0);
    r = run_ok(x, "peers", NULL);
    assert_int_equal(json_object_array_length(r), 1);
    o = json_object_array_get_idx(r, 0);
    assert_string_equal(s_of(o, "mac"), "02:00:00:00:00:01");
    assert_string_equal(s_of(o, "port"), "p0");
    assert_string_equal(s_of(o, "role"), "hypervisor");
    assert_string_equal(s_of(o, "epoch"), "00005555");
    assert_string_equal(s_of(o, "state"), "unsynced");
    assert_int_equal(i_of(o, "vnics"), 1);
    assert_int_equal(i_of(o, "hold_ms"), 10000);
    json_object_put(r);

    r = run_ok(x, "counters", NULL);
    o = get(get(r, "nvdp"), "global");
    assert_int_equal(i_of(o, "rx_frames"), 1);
    assert_int_equal(i_of(get(o, "rx_by_type"), "assoc"), 1);
    assert_int_equal(i_of(get(o, "tx_status"), "ok"), 1);
    assert_int_equal(i_of(get(get(get(r, "nvdp"), "ports"), "p0"),
                          "rx_frames"), 1);
    assert_int_equal(i_of(get(get(get(r, "nvdp"), "peers"),
                              "02:00:00:00:00:01"), "rx_msgs"), 1);
    assert_int_equal(i_of(get(r, "tree"), "vnics"), 1);
    assert_non_null(get(r, "fwd"));
    json_object_put(r);

    /* the forwarder got the binding and the local entries */
    r = run_ok(x, "fwd", NULL);
    const char *dump = json_object_to_json_string(r);
    assert_non_null(strstr(dump, "52:00:00:00:00:01"));
    json_object_put(r);
}

static void
test_disconnect(void **state)
{
    struct fx *x = *state;
    struct json_object *r;

    attach(x, 0, 1, 100, 0);
    attach(x, 0, 2, 100, 0);
    assert_int_equal(run_err(x, "disconnect", "{\"port\": \"p0\"}"),
                     CTL_E_USAGE);
    assert_int_equal(run_err(x, "disconnect", "{\"port\": \"px\", \"vn\": "
                                              "\"blue\"}"),
                     CTL_E_NOTFOUND);
    assert_int_equal(run_err(x, "disconnect", "{\"port\": \"p0\", \"vn\": "
                                              "\"nope\"}"),
                     CTL_E_NOTFOUND);
    assert_int_equal(run_err(x, "disconnect", "{\"port\": \"p0\", \"vn\": "
                                              "\"blue\", \"vnic\": \"x\"}"),
                     CTL_E_USAGE);
    assert_int_equal(run_err(x, "disconnect", "{\"port\": \"p0\", \"vn\": "
                                              "\"blue\", \"hv\": \"zz\"}"),
                     CTL_E_USAGE);
    assert_int_equal(
        run_err(x, "disconnect",
                "{\"port\": \"p0\", \"vn\": \"blue\", \"vnic\": "
                "\"cc000000-0000-0000-0000-000000000009\"}"),
        CTL_E_NOTFOUND);
    x->nsent = 0;
    r = run_ok(x, "disconnect",
               "{\"port\": \"p0\", \"vn\": \"vni:100\", \"vnic\": "
               "\"cc000000-0000-0000-0000-000000000001\", \"reason\": \"m\"}");
    assert_int_equal(i_of(r, "withdrawn"), 1);
    assert_string_equal(s_of(r, "vn"), "blue");
    json_object_put(r);
    assert_int_equal(x->nsent, 1);
    struct nvdp_reader rd;
    struct nvdp_msg m;
    assert_int_equal(nvdp_frame_open(&rd, x->last, x->lastlen), 0);
    assert_int_equal(nvdp_frame_next(&rd, &m), 1);
    assert_int_equal(m.type, NVDP_MSG_WITHDRAW);
    assert_string_equal(m.reason, "m");
    r = run_ok(x, "disconnect", "{\"port\": \"p0\", \"vn\": \"blue\"}");
    assert_int_equal(i_of(r, "withdrawn"), 1);
    json_object_put(r);
    assert_int_equal(x->n->tree.nvnic, 0);
    /* nothing left: still OK without a vnic/hv filter */
    r = run_ok(x, "disconnect", "{\"port\": \"p0\", \"vn\": \"blue\"}");
    assert_int_equal(i_of(r, "withdrawn"), 0);
    json_object_put(r);
}

/* A usage error (code 2, nvdpctl's exit 2) whose message says words. */
static void
expect_usage(struct fx *x, const char *cmd, const char *args_json,
             const char *words)
{
    struct json_object *args = json_tokener_parse(args_json);
    char err[256];
    int code = 0;

    assert_null(nve_ctl_run(x->n, cmd, args, &code, err, sizeof(err)));
    if (code != CTL_E_USAGE || strstr(err, words) == NULL)
        fail_msg("%s %s: code %d \"%s\", wanted \"%s\"", cmd, args_json,
                 code, err, words);
    json_object_put(args);
}

/* Every command checks its arguments: a misspelt one is refused, never
 * ignored (a "prot" filter would have listed every port's tags). */
static void
test_arguments_checked(void **state)
{
    struct fx *x = *state;
    char reason[320];

    attach(x, 0, 1, 100, 0);
    expect_usage(x, "tags", "{\"prot\": \"p0\"}",
                 "unknown argument \"prot\" (known: port)");
    expect_usage(x, "status", "{\"verbose\": true}",
                 "unknown argument \"verbose\" (takes none)");
    expect_usage(x, "vnics", "{\"port\": 0}",
                 "argument \"port\" must be a string");
    expect_usage(x, "disconnect", "{\"port\": \"p0\"}",
                 "missing argument \"vn\"");
    expect_usage(x, "disconnect", "{\"port\": \"p0\", \"vn\": \"blue\", "
                 "\"vnic\": \"x\"}", "argument \"vnic\" must be a UUID");
    expect_usage(x, "disconnect", "{\"port\": \"p0\", \"vn\": \"blue\", "
                 "\"hv\": \"zz\"}", "argument \"hv\" must be a MAC address");
    snprintf(reason, sizeof(reason), "{\"port\": \"p0\", \"vn\": \"blue\", "
             "\"reason\": \"%0256d\"}", 0);
    expect_usage(x, "disconnect", reason, "must be at most 255 bytes long");
    /* nothing was withdrawn by any of these */
    assert_int_equal(x->n->tree.nvnic, 1);
}

static void
test_reload_refused_and_unknown(void **state)
{
    struct fx *x = *state;
    struct nve_conf *before = x->n->conf;

    assert_int_equal(run_err(x, "reload", "{}"), CTL_E_FAILED);
    assert_ptr_equal(x->n->conf, before);
    assert_int_equal(x->n->reload_failures, 1);
    assert_int_equal(run_err(x, "bogus", "{}"), CTL_E_USAGE);
    /* every command in the socket table has a runner */
    for (const struct ctl_cmd *c = nve_ctl_table(); c->name; c++)
        assert_non_null(c->fn);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_status_ports_vns),
        T(test_tags_vnics),
        T(test_peers_counters_fwd),
        T(test_disconnect),
        T(test_arguments_checked),
        T(test_reload_refused_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
