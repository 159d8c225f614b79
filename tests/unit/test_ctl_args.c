/* test_ctl_args.c - the control commands' argument tables: unknown, missing
 * and mistyped arguments are refused with a message naming them; absent
 * ones keep the caller's defaults; validators and ranges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ctl_args.h"
#include "nvdp.h"

struct req {
    const char *name;
    int flag;
    int64_t wait_ms;
    struct json_object *ips;
    struct nvdp_uuid vnic;
    uint8_t mac[6];
    const char *note;
};

static const char *
short_note(const void *field)
{
    return strlen(*(const char *const *)field) > 4 ? "at most 4 bytes long"
                                                   : NULL;
}

#define R(field, name, type, must) CTL_ARG(struct req, field, name, type, must)
static const struct ctl_arg tab[] = {
    R(vnic, "vnic", CTL_ARG_UUID, 1),
    R(name, "name", CTL_ARG_STR, 0),
    R(flag, "flag", CTL_ARG_BOOL, 0),
    CTL_ARG_RANGE(struct req, wait_ms, "wait_ms", CTL_ARG_INT, 0, 0, 600000,
                  NULL),
    CTL_ARG_RANGE(struct req, ips, "ips", CTL_ARG_STRS, 0, 0, 2, NULL),
    R(mac, "mac", CTL_ARG_MAC, 0),
    CTL_ARG_RANGE(struct req, note, "note", CTL_ARG_STR, 0, 0, 0, short_note),
    CTL_ARGS_END,
};
static const struct ctl_arg none[] = {CTL_ARGS_END};

#define U1 "\"vnic\": \"11111111-2222-4333-8444-000000000001\""

/* Parses json against t into *r (defaults first); returns the result and
 * leaves the message in err. */
static int
parse(const struct ctl_arg *t, const char *json, struct req *r, char *err,
      size_t errlen)
{
    struct json_object *o = json != NULL ? json_tokener_parse(json) : NULL;
    int rc;

    if (json != NULL)
        assert_non_null(o);
    memset(r, 0, sizeof(*r));
    r->name = "dflt";
    r->flag = 1;
    r->wait_ms = 7;
    err[0] = '\0';
    rc = ctl_args_parse(t, o, r, err, errlen);
    json_object_put(o); /* borrowed strings are not looked at past here */
    return rc;
}

static void
expect_err(const struct ctl_arg *t, const char *json, const char *words)
{
    struct req r;
    char err[256];

    if (parse(t, json, &r, err, sizeof(err)) != -1 ||
        strstr(err, words) == NULL)
        fail_msg("%s: \"%s\", wanted \"%s\"", json, err, words);
}

static void
test_fills_and_defaults(void **st)
{
    struct json_object *o;
    struct req r;
    char err[256];

    (void)st;
    /* only the required one: every default stays */
    assert_int_equal(parse(tab, "{" U1 "}", &r, err, sizeof(err)), 0);
    assert_int_equal(r.vnic.b[15], 1);
    assert_string_equal(r.name, "dflt");
    assert_int_equal(r.flag, 1);
    assert_int_equal(r.wait_ms, 7);
    /* null is absent */
    assert_int_equal(parse(tab, "{" U1 ", \"name\": null, \"flag\": null}", &r,
                           err, sizeof(err)), 0);
    assert_string_equal(r.name, "dflt");
    assert_int_equal(r.flag, 1);

    o = json_tokener_parse("{" U1 ", \"name\": \"x\", \"flag\": false, "
                           "\"wait_ms\": 600000, \"ips\": [\"a\", \"b\"], "
                           "\"mac\": \"52:54:00:00:00:09\", \"note\": "
                           "\"ok\"}");
    memset(&r, 0, sizeof(r));
    assert_int_equal(ctl_args_parse(tab, o, &r, err, sizeof(err)), 0);
    assert_string_equal(r.name, "x");
    assert_int_equal(r.flag, 0);
    assert_int_equal(r.wait_ms, 600000);
    assert_int_equal(json_object_array_length(r.ips), 2);
    assert_int_equal(r.mac[5], 9);
    assert_string_equal(r.note, "ok");
    json_object_put(o);

    /* a command without arguments: none, {} and NULL are fine */
    assert_int_equal(parse(none, "{}", &r, err, sizeof(err)), 0);
    assert_int_equal(parse(none, NULL, &r, err, sizeof(err)), 0);
}

static void
test_refusals(void **st)
{
    (void)st;
    expect_err(tab, "{" U1 ", \"wait\": 5}",
               "unknown argument \"wait\" (known: vnic, name, flag, wait_ms, "
               "ips, mac, note)");
    expect_err(none, "{\"all\": 1}", "unknown argument \"all\" (takes none)");
    expect_err(tab, "{}", "missing argument \"vnic\"");
    expect_err(tab, NULL, "missing argument \"vnic\"");
    expect_err(tab, "{\"vnic\": null}", "missing argument \"vnic\"");
    expect_err(tab, "[1]", "args must be an object");
    expect_err(tab, "{\"vnic\": \"x\"}",
               "argument \"vnic\" must be a UUID, not \"x\"");
    expect_err(tab, "{\"vnic\": 5}", "argument \"vnic\" must be a UUID");
    expect_err(tab, "{" U1 ", \"name\": 5}",
               "argument \"name\" must be a string");
    expect_err(tab, "{" U1 ", \"flag\": 1}",
               "argument \"flag\" must be true or false");
    expect_err(tab, "{" U1 ", \"flag\": \"yes\"}",
               "argument \"flag\" must be true or false, not \"yes\"");
    expect_err(tab, "{" U1 ", \"wait_ms\": -1}",
               "argument \"wait_ms\" must be an integer from 0 to 600000");
    expect_err(tab, "{" U1 ", \"wait_ms\": 600001}", "from 0 to 600000");
    expect_err(tab, "{" U1 ", \"wait_ms\": 1.5}", "from 0 to 600000");
    expect_err(tab, "{" U1 ", \"ips\": \"10.0.0.1\"}",
               "argument \"ips\" must be an array of at most 2 strings, not "
               "\"10.0.0.1\"");
    expect_err(tab, "{" U1 ", \"ips\": [\"a\", \"b\", \"c\"]}",
               "at most 2 strings");
    expect_err(tab, "{" U1 ", \"ips\": [\"a\", 1]}", "at most 2 strings");
    expect_err(tab, "{" U1 ", \"mac\": \"52:54:00\"}",
               "argument \"mac\" must be a MAC address, not \"52:54:00\"");
    expect_err(tab, "{" U1 ", \"note\": \"toolong\"}",
               "argument \"note\" must be at most 4 bytes long, not "
               "\"toolong\"");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fills_and_defaults),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
