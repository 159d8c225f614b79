/* test_nvdpctl.c - nvdpctl's verb lookup, argument parsing/validation into
 * control requests, exit-code mapping and text formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nvdpctl.h"

#define UUID1 "6f1c7a52-0c4e-4d3b-9a55-1b2c3d4e5f60"

/* Builds the request for a command line given as words; NULL on error
 * with err filled. */
static struct json_object *
req_for(const char *line, struct nvdpctl_call *call, char *err, size_t len,
        const struct nvdpctl_cmd **out)
{
    static char buf[1024];
    char *argv[64];
    int argc = 0, nw = 0;
    char *tok, *save = NULL;
    const struct nvdpctl_cmd *cmd;

    snprintf(buf, sizeof(buf), "%s", line);
    for (tok = strtok_r(buf, " ", &save); tok && argc < 64;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    cmd = nvdpctl_lookup(argc, argv, &nw);
    if (out)
        *out = cmd;
    if (!cmd) {
        snprintf(err, len, "no such command");
        return NULL;
    }
    return nvdpctl_request(cmd, argc - nw, argv + nw, call, err, len);
}

static const char *
sget(struct json_object *o, const char *path1, const char *path2)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, path1, &v))
        return NULL;
    if (path2 && !json_object_object_get_ex(v, path2, &v))
        return NULL;
    return json_object_get_string(v);
}

static struct json_object *
args_of(struct json_object *req)
{
    struct json_object *a = NULL;

    json_object_object_get_ex(req, "args", &a);
    return a;
}

static void
test_lookup(void **state)
{
    char *a1[] = {"vnic", "attach", UUID1};
    char *a2[] = {"vnic"};
    char *a3[] = {"tags", "--port", "p1"};
    char *a4[] = {"vnicx"};
    int nw = 0;
    const struct nvdpctl_cmd *c;

    (void)state;
    c = nvdpctl_lookup(3, a1, &nw);
    assert_non_null(c);
    assert_string_equal(c->ctl, "vnic-attach");
    assert_int_equal(nw, 2);
    assert_int_equal(c->daemon, NVDPCTL_D_HV);
    assert_null(nvdpctl_lookup(1, a2, &nw));
    c = nvdpctl_lookup(3, a3, &nw);
    assert_non_null(c);
    assert_string_equal(c->ctl, "tags");
    assert_int_equal(c->daemon, NVDPCTL_D_NVE);
    assert_int_equal(nw, 1);
    assert_null(nvdpctl_lookup(1, a4, &nw));
}

static void
test_table_complete(void **state)
{
    /* Every verb the brief lists has a row with a formatter and help. */
    static const char *const ctl[] = {
        "vnic-attach", "vnic-detach", "vnic-preassociate", "vnic-state",
        "vnic-list", "status", "peers", "watch", "ports", "vns", "tags",
        "vnics", "fwd", "counters", "disconnect", "reload", NULL};
    const struct nvdpctl_cmd *c;
    int i, found;

    (void)state;
    for (i = 0; ctl[i]; i++) {
        found = 0;
        for (c = nvdpctl_cmds; c->words; c++)
            if (strcmp(c->ctl, ctl[i]) == 0) {
                found = 1;
                assert_non_null(c->build);
                assert_non_null(c->fmt);
                assert_non_null(c->help);
            }
        assert_true(found);
    }
}

static void
test_attach_full(void **state)
{
    struct nvdpctl_call call;
    char err[256] = "";
    struct json_object *req, *a, *ips;

    (void)state;
    req = req_for("vnic attach 6F1C7A52-0C4E-4D3B-9A55-1B2C3D4E5F60 --vn "
                  "vni:100 --mac 52:54:00:AA:BB:01 --ip 10.0.0.1 "
                  "--ip=2001:db8::1 --ip 10.1.0.0/16 --ip 10.2.0.1-10.2.0.9 --ifname vnet0 --wait=2.5",
                  &call, err, sizeof(err), NULL);
    if (!req)
        fail_msg("refused: %s", err);
    assert_string_equal(sget(req, "cmd", NULL), "vnic-attach");
    a = args_of(req);
    assert_string_equal(sget(a, "vnic", NULL), UUID1); /* canonical case */
    assert_string_equal(sget(a, "vn", NULL), "vni:100");
    assert_string_equal(sget(a, "mac", NULL), "52:54:00:aa:bb:01");
    assert_string_equal(sget(a, "ifname", NULL), "vnet0");
    assert_true(json_object_object_get_ex(a, "ips", &ips));
    assert_int_equal(json_object_array_length(ips), 4);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(ips, 1)),
                        "2001:db8::1");
    assert_int_equal(json_object_get_int(json_object_object_get(a, "wait_ms")),
                     2500);
    assert_int_equal(call.wait_ms, 2500);
    assert_false(call.stream);
    json_object_put(req);
}

static void
test_attach_defaults(void **state)
{
    struct nvdpctl_call call;
    char err[256] = "";
    struct json_object *req, *a, *ips;

    (void)state;
    /* No IPs: an empty array; bare --wait: the default. */
    req = req_for("vnic attach " UUID1 " --mac 52:54:00:aa:bb:01 --vn blue "
                  "--wait",
                  &call, err, sizeof(err), NULL);
    assert_non_null(req);
    a = args_of(req);
    assert_string_equal(sget(a, "vn", NULL), "blue");
    assert_true(json_object_object_get_ex(a, "ips", &ips));
    assert_int_equal(json_object_array_length(ips), 0);
    assert_int_equal(call.wait_ms, NVDPCTL_WAIT_DEFAULT_MS);
    assert_false(json_object_object_get_ex(a, "ifname", NULL));
    json_object_put(req);
    /* No --wait at all: wait_ms 0. */
    req = req_for("vnic attach " UUID1 " --mac 52:54:00:aa:bb:01 --vn blue",
                  &call, err, sizeof(err), NULL);
    assert_non_null(req);
    assert_int_equal(
        json_object_get_int(json_object_object_get(args_of(req), "wait_ms")), 0);
    assert_int_equal(call.wait_ms, 0);
    json_object_put(req);
}

/* Each bad command line is refused locally with a message naming what. */
static void
test_attach_errors(void **state)
{
    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"vnic attach not-a-uuid --vn 1 --mac 52:54:00:aa:bb:01", "not a UUID"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb", "not a MAC"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01 --ip 10.0.0.300",
         "not an IPv4/IPv6"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01 --ip", "needs a value"},
        {"vnic attach " UUID1 " --mac 52:54:00:aa:bb:01", "missing --vn"},
        {"vnic attach " UUID1 " --vn 1", "missing --mac"},
        {"vnic attach --vn 1 --mac 52:54:00:aa:bb:01", "missing UUID"},
        {"vnic attach " UUID1 " " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01",
         "unexpected argument"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01 --bogus",
         "unknown option --bogus"},
        {"vnic attach " UUID1 " --vn 1 --vn 2 --mac 52:54:00:aa:bb:01",
         "given twice"},
        {"vnic attach " UUID1 " --vn vni:99999999 --mac 52:54:00:aa:bb:01",
         "not a valid VN"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01 --wait=soon",
         "not a number of seconds"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01 --wait=-1",
         "not a number of seconds"},
        {"vnic detach " UUID1 " --migrating=yes", "takes no value"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01 --ip 10.0.0.1/8",
         "canonical prefix"},
        {"vnic attach " UUID1 " --vn 1 --mac 52:54:00:aa:bb:01 --ip 10.0.0.9-10.0.0.1",
         "not an IPv4/IPv6"},
        {"vnic attach " UUID1 " --vn 1 --mac 01:00:5e:00:00:01 --ip 10.0.0.1",
         "not a unicast MAC"},
        {"vnic attach " UUID1 " --vn 1 --mac 00:00:00:00:00:00", "not a unicast MAC"},
        {"vnic state " UUID1 " sideways", "expected up or down"},
        {"vnic state " UUID1, "missing up|down"},
        {"disconnect --vn 1", "missing --port"},
        {"disconnect --port p1 --vn 1 --hv zz", "not a MAC"},
        {"disconnect --port p1 --vn 1 --vnic 123", "not a UUID"},
        {"watch --count 0", "not a positive number"},
        {"status extra", "unexpected argument"},
        {"tags --port", "needs a value"},
        {"tags --port=", "empty --port"},
    };
    struct nvdpctl_call call;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        struct json_object *req = req_for(bad[i].line, &call, err, sizeof(err),
                                          NULL);
        if (req || !strstr(err, bad[i].msg))
            fail_msg("'%s': expected error containing '%s', got '%s'",
                     bad[i].line, bad[i].msg, req ? "(accepted)" : err);
    }
}

static void
test_other_commands(void **state)
{
    struct nvdpctl_call call;
    char err[256] = "";
    struct json_object *req, *a;

    (void)state;
    req = req_for("vnic detach " UUID1 " --migrating --wait=1", &call, err,
                  sizeof(err), NULL);
    assert_non_null(req);
    a = args_of(req);
    assert_true(json_object_get_boolean(json_object_object_get(a, "migrating")));
    assert_int_equal(call.wait_ms, 1000);
    json_object_put(req);

    req = req_for("vnic detach " UUID1, &call, err, sizeof(err), NULL);
    assert_non_null(req);
    assert_false(json_object_get_boolean(
        json_object_object_get(args_of(req), "migrating")));
    json_object_put(req);

    req = req_for("vnic preassociate " UUID1 " --vn uuid:" UUID1
                  " --mac 52:54:00:aa:bb:01 --reserve",
                  &call, err, sizeof(err), NULL);
    assert_non_null(req);
    a = args_of(req);
    assert_string_equal(sget(req, "cmd", NULL), "vnic-preassociate");
    assert_true(json_object_get_boolean(json_object_object_get(a, "reserve")));
    json_object_put(req);

    req = req_for("vnic state " UUID1 " down", &call, err, sizeof(err), NULL);
    assert_non_null(req);
    assert_false(json_object_get_boolean(json_object_object_get(args_of(req), "up")));
    json_object_put(req);

    req = req_for("disconnect --port p1 --vn vni:100 --hv 52:54:00:00:00:0A "
                  "--reason maintenance",
                  &call, err, sizeof(err), NULL);
    assert_non_null(req);
    a = args_of(req);
    assert_string_equal(sget(a, "port", NULL), "p1");
    assert_string_equal(sget(a, "hv", NULL), "52:54:00:00:00:0a");
    assert_string_equal(sget(a, "reason", NULL), "maintenance");
    assert_false(json_object_object_get_ex(a, "vnic", NULL));
    json_object_put(req);

    req = req_for("watch --count 3", &call, err, sizeof(err), NULL);
    assert_non_null(req);
    assert_true(call.stream);
    assert_int_equal(call.count, 3);
    /* --count is the CLI's business, not sent. */
    assert_int_equal(json_object_object_length(args_of(req)), 0);
    json_object_put(req);

    req = req_for("vnics --vn 100 --port p2", &call, err, sizeof(err), NULL);
    assert_non_null(req);
    assert_string_equal(sget(req, "args", "port"), "p2");
    assert_string_equal(sget(req, "args", "vn"), "100");
    json_object_put(req);

    /* "--" ends options: a positional that starts with dashes. */
    req = req_for("vnic state -- " UUID1 " up", &call, err, sizeof(err), NULL);
    assert_non_null(req);
    json_object_put(req);
}

static void
test_seconds(void **state)
{
    int ms = -5;

    (void)state;
    assert_int_equal(nvdpctl_parse_seconds("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(nvdpctl_parse_seconds("0.2", &ms), 0);
    assert_int_equal(ms, 200);
    assert_int_equal(nvdpctl_parse_seconds("30", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(nvdpctl_parse_seconds("", &ms), -1);
    assert_int_equal(nvdpctl_parse_seconds("1s", &ms), -1);
    assert_int_equal(nvdpctl_parse_seconds("nan", &ms), -1);
    assert_int_equal(nvdpctl_parse_seconds("1e9", &ms), -1);
}

static void
test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(nvdpctl_exit_for_code(1), NVDPCTL_EX_FAILED);
    assert_int_equal(nvdpctl_exit_for_code(2), NVDPCTL_EX_USAGE);
    assert_int_equal(nvdpctl_exit_for_code(3), NVDPCTL_EX_FAILED);
    assert_int_equal(nvdpctl_exit_for_code(4), NVDPCTL_EX_TIMEOUT);
    assert_int_equal(nvdpctl_exit_for_code(5), NVDPCTL_EX_REFUSED);
    assert_int_equal(nvdpctl_exit_for_code(6), NVDPCTL_EX_FAILED);
    assert_int_equal(nvdpctl_exit_for_code(99), NVDPCTL_EX_FAILED);
}

/* Runs a formatter on JSON text, returns what it printed (static). */
static const char *
fmt(nvdpctl_fmt_fn fn, const char *json)
{
    static char out[8192];
    struct json_object *o = json_tokener_parse(json);
    FILE *f = fmemopen(out, sizeof(out), "w");

    assert_non_null(f);
    memset(out, 0, sizeof(out));
    fn(f, o);
    fclose(f);
    json_object_put(o);
    return out;
}

static void
test_fmt_table(void **state)
{
    const char *s;

    (void)state;
    /* Preferred columns first, aligned, missing cells shown as "-". */
    s = fmt(nvdpctl_fmt_generic,
            "[{\"tag\": 5, \"vn\": \"vni:100\", \"port\": \"p1\", \"vnics\": 2},"
            " {\"tag\": 1234, \"vn\": \"vni:20000\", \"port\": \"p2\"}]");
    assert_string_equal(s, "PORT  VN         TAG   VNICS\n"
                           "p1    vni:100    5     2\n"
                           "p2    vni:20000  1234  -\n");
    s = fmt(nvdpctl_fmt_generic, "[]");
    assert_string_equal(s, "(none)\n");
}

static void
test_fmt_object(void **state)
{
    const char *s;

    (void)state;
    s = fmt(nvdpctl_fmt_generic,
            "{\"name\": \"hv1\", \"epoch\": 77, \"nve\": {\"mac\": "
            "\"02:00:00:00:00:01\", \"state\": \"up\"}, \"ok\": true}");
    assert_string_equal(s, "name:      hv1\n"
                           "epoch:     77\n"
                           "nve.mac:   02:00:00:00:00:01\n"
                           "nve.state: up\n"
                           "ok:        yes\n");
    /* A list of objects inside an object becomes an indented table. */
    s = fmt(nvdpctl_fmt_generic,
            "{\"port\": \"p1\", \"vnics\": [{\"vnic\": \"u1\", \"tag\": 3}]}");
    assert_string_equal(s, "port: p1\n\nvnics:\n  VNIC  TAG\n  u1    3\n");
}

static void
test_fmt_vnic(void **state)
{
    const char *s;

    (void)state;
    s = fmt(nvdpctl_fmt_vnic,
            "{\"state\": \"attached\", \"tag\": 7, \"ips\": [\"10.0.0.1\", "
            "\"10.0.0.2\"], \"vnic\": \"u1\", \"mac\": \"m\", \"vn\": \"blue\","
            " \"reason\": null}");
    /* null (reason) is left out */
    assert_string_equal(s, "vnic:  u1\n"
                           "vn:    blue\n"
                           "mac:   m\n"
                           "ips:   10.0.0.1,10.0.0.2\n"
                           "state: attached\n"
                           "tag:   7\n");
    s = fmt(nvdpctl_fmt_event,
            "{\"event\": \"vnic\", \"vnic\": \"u1\", \"state\": \"withdrawn\","
            " \"reason\": \"maintenance\", \"tag\": null, \"extra\": 1}");
    assert_string_equal(s, "vnic u1 state=withdrawn reason=maintenance extra=1\n");
    s = fmt(nvdpctl_fmt_event,
            "{\"event\": \"vnic\", \"vnic\": \"u1\", \"reason\": \"vn retired\"}");
    assert_string_equal(s, "vnic u1 reason=\"vn retired\"\n");
    /* the reason comes from the NVE: no control characters reach the
     * terminal, and an event stays one line */
    s = fmt(nvdpctl_fmt_event,
            "{\"event\": \"vnic\\n\", \"vnic\": \"u1\\u001b[2J\","
            " \"reason\": \"bad\\nvnic u2 state=attached\\r\"}");
    assert_string_equal(s, "vnic? u1?[2J reason=\"bad?vnic u2 "
                           "state=attached?\"\n");
    s = fmt(nvdpctl_fmt_vnic, "{\"vnic\": \"u1\", \"reason\": \"\\u0007x\"}");
    assert_string_equal(s, "vnic:   u1\nreason: ?x\n");
}

static void
test_fmt_counters(void **state)
{
    const char *s;

    (void)state;
    s = fmt(nvdpctl_fmt_counters,
            "{\"nvdp\": {\"rx_frames\": 12, \"rx_dup\": 0, \"ports\": "
            "{\"p1\": {\"tx\": 3, \"err\": 0}}}, \"running\": false}");
    assert_string_equal(s, "nvdp.rx_frames:   12\n"
                           "nvdp.ports.p1.tx: 3\n"
                           "running:          no\n"
                           "(2 counters at zero not shown; -f json shows all)\n");
    /* A status's embedded counters too, not its other zeros. */
    s = fmt(nvdpctl_fmt_generic,
            "{\"vnics\": 0, \"counters\": {\"rx\": 5, \"tx\": 0}, "
            "\"dp\": {\"n\": 0, \"counters\": {\"drop\": 0}}}");
    assert_string_equal(s, "vnics:       0\n"
                           "counters.rx: 5\n"
                           "dp.n:        0\n"
                           "(2 counters at zero not shown; -f json shows all)\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_attach_full),
        cmocka_unit_test(test_attach_defaults),
        cmocka_unit_test(test_attach_errors),
        cmocka_unit_test(test_other_commands),
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_fmt_table),
        cmocka_unit_test(test_fmt_object),
        cmocka_unit_test(test_fmt_vnic),
        cmocka_unit_test(test_fmt_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
