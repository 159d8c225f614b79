/* test_hook_xml.c - the libvirt hook's domain XML parser over a corpus of
 * real-world shapes (tests/unit/xml/), UUID derivation, operation table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "hook_op.h"
#include "hook_seq.h"
#include "hook_xml.h"

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/unit/xml/%s", TOP_SRCDIR, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static const char *typeid_map(uint32_t t, void *arg)
{
    (void)arg;
    return t == 1193047 ? "vni:7000" : NULL;
}

static const char *pg_map(const char *net, const char *pg, void *arg)
{
    (void)arg;
    if (!strcmp(net, "tenants") && !strcmp(pg, "web"))
        return "vni:8000";
    if (!strcmp(pg, "db"))
        return "tenant-db";
    return NULL;
}

static const struct hook_maps maps = {typeid_map, pg_map, NULL};

static int parse(const char *name, struct hook_domain *d, char *err)
{
    size_t len;
    char *buf = slurp(name, &len);
    int rc = hook_xml_parse(buf, len, &maps, d, err, 512);
    free(buf);
    return rc;
}

static void t_multi_metadata(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(parse("multi_metadata.xml", &d, err), 0);
    assert_string_equal(d.name, "web1");
    assert_string_equal(d.uuid, "8f0b2a4c-1d3e-4f5a-9b6c-7d8e9f0a1b2c");
    assert_int_equal(d.niface, 3);
    /* upper-case MAC in metadata still matches */
    assert_string_equal(d.iface[0].mac, "52:54:00:aa:00:01");
    assert_string_equal(d.iface[0].vn, "vni:10100");
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_METADATA);
    assert_string_equal(d.iface[0].ifname, "vnet3");
    /* derived: python3 uuid.uuid5(NS, "<dom uuid>/<mac>") */
    assert_string_equal(d.iface[0].vnic, "20d152f4-1f1a-5f22-af35-3fcbbfc6e9a2");
    /* <ip> from libvirt and from our metadata, deduplicated */
    assert_int_equal(d.iface[0].nips, 2);
    assert_string_equal(d.iface[0].ips[0], "10.1.0.11");
    assert_string_equal(d.iface[0].ips[1], "2001:db8:1::11");
    assert_string_equal(d.iface[1].vn, "tenant-b");
    assert_string_equal(d.iface[1].vnic, "11111111-2222-3333-4444-555555555555");
    assert_int_equal(d.iface[1].nips, 0);
    /* third interface has no VN: not ours */
    assert_int_equal(d.iface[2].vn_src, HOOK_VN_NONE);
    assert_string_equal(d.iface[2].vnic, "");
    assert_int_equal(d.iface[2].refused, 0);
}

static void t_no_metadata(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(parse("no_metadata.xml", &d, err), 0);
    assert_int_equal(d.niface, 1);
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_NONE);
    assert_string_equal(d.iface[0].ifname, "");
}

static void t_default_vn_lxc(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(parse("default_vn.xml", &d, err), 0);
    assert_int_equal(d.niface, 2);
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_DEFAULT);
    assert_string_equal(d.iface[0].vn, "vni:300");
    /* LXC at "start": only <guest actual> names the host side */
    assert_string_equal(d.iface[0].ifname, "vnet7");
    assert_string_equal(d.iface[0].vnic, "9492f1b9-4c60-570c-b7a8-114cdf57cc01");
    /* a per-MAC entry wins over the default whatever the order */
    assert_int_equal(d.iface[1].vn_src, HOOK_VN_METADATA);
    assert_string_equal(d.iface[1].vn, "vni:301");
    assert_string_equal(d.iface[1].ifname, "vnet8");
}

static void t_qbg(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(parse("qbg.xml", &d, err), 0);
    assert_int_equal(d.niface, 2);
    assert_true(d.iface[0].has_qbg);
    assert_int_equal(d.iface[0].qbg_typeid, 1193047);
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_QBG);
    assert_string_equal(d.iface[0].vn, "vni:7000");
    /* the instanceid is the VNIC UUID */
    assert_string_equal(d.iface[0].vnic, "09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f");
    assert_true(d.iface[0].vnic_from_qbg);
    assert_string_equal(d.iface[0].ifname, "macvtap0");
    /* typeid 42 is not in the map: not ours */
    assert_true(d.iface[1].has_qbg);
    assert_int_equal(d.iface[1].vn_src, HOOK_VN_NONE);
}

static void t_qbg_no_maps(void **s)
{
    static struct hook_domain d;
    char err[512];
    size_t len;
    char *buf = slurp("qbg.xml", &len);
    assert_int_equal(hook_xml_parse(buf, len, NULL, &d, err, sizeof(err)), 0);
    free(buf);
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_NONE);
}

static void t_portgroup(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(parse("portgroup.xml", &d, err), 0);
    assert_int_equal(d.niface, 3);
    assert_string_equal(d.iface[0].portgroup, "tenants/web");
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_PORTGROUP);
    assert_string_equal(d.iface[0].vn, "vni:8000");
    assert_string_equal(d.iface[1].vn, "tenant-db");
    assert_int_equal(d.iface[2].vn_src, HOOK_VN_NONE);
    assert_string_equal(d.iface[2].portgroup, "other/unmapped");
}

static void t_hostdev(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(parse("hostdev.xml", &d, err), 0);
    /* <hostdev> is not an interface; <interface type='hostdev'> is */
    assert_int_equal(d.niface, 3);
    /* passthrough without a VN: ignored */
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_NONE);
    assert_int_equal(d.iface[0].refused, 0);
    /* passthrough with a VN: refused with a clear reason */
    assert_int_equal(d.iface[1].vn_src, HOOK_VN_METADATA);
    assert_int_equal(d.iface[1].refused, 1);
    assert_non_null(strstr(d.iface[1].reason, "passthrough"));
    assert_non_null(strstr(d.iface[1].reason, "52:54:00:6d:90:02"));
    assert_int_equal(d.iface[2].refused, 0);
}

static void expect_err(const char *file, const char *needle)
{
    static struct hook_domain d;
    char err[512] = "";
    assert_int_equal(parse(file, &d, err), -1);
    if (!strstr(err, needle))
        fail_msg("%s: error '%s' lacks '%s'", file, err, needle);
}

static void t_errors(void **s)
{
    expect_err("malformed.xml", "malformed domain XML");
    expect_err("bad_mac.xml", "bad mac");
    expect_err("no_uuid.xml", "no valid <uuid>");
    expect_err("meta_unknown_mac.xml", "no interface with that mac");
    expect_err("not_domain.xml", "not a libvirt domain");
}

static void t_empty_and_garbage(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(hook_xml_parse("", 0, &maps, &d, err, sizeof(err)), -1);
    assert_int_equal(hook_xml_parse("\x00\xff<", 3, &maps, &d, err, sizeof(err)), -1);
    /* an external entity must not be fetched (XML_PARSE_NONET) nor crash */
    const char *xxe = "<!DOCTYPE domain [<!ENTITY x SYSTEM \"http://127.0.0.1:1/x\">]>"
                      "<domain><name>&x;</name><uuid>5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9</uuid></domain>";
    assert_int_equal(hook_xml_parse(xxe, strlen(xxe), &maps, &d, err, sizeof(err)), 0);
    assert_int_equal(d.niface, 0);
    /* nor read from a file (XML_PARSE_NONET does not cover file://: only
     * leaving out XML_PARSE_NOENT / XML_PARSE_DTDLOAD does) */
    const char *xfe = "<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                      "<domain><name>&x;</name><uuid>5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9</uuid></domain>";
    if (hook_xml_parse(xfe, strlen(xfe), &maps, &d, err, sizeof(err)) == 0)
        assert_null(strstr(d.name, "root:"));
    /* an entity expanding to 10^7 bytes (billion laughs): refused or kept
     * small, never expanded into memory */
    char bl[2048];
    int n = snprintf(bl, sizeof(bl), "<!DOCTYPE domain [<!ENTITY a \"%s\">",
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    for (char c = 'b'; c <= 'h'; c++)
        n += snprintf(bl + n, sizeof(bl) - (size_t)n,
                      "<!ENTITY %c \"&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;\">",
                      c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
                      c - 1, c - 1, c - 1);
    n += snprintf(bl + n, sizeof(bl) - (size_t)n,
                  "]><domain><name a=\"&h;\">&h;</name><uuid>"
                  "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9</uuid></domain>");
    if (hook_xml_parse(bl, (size_t)n, &maps, &d, err, sizeof(err)) == 0)
        assert_true(strlen(d.name) < sizeof(d.name));
}

/* Inline domains: a metadata vnic UUID is normalised to lower case; a
 * network/portgroup too long for the map key is an error, not a silently
 * truncated name that could match another portgroup's entry. */
static void t_normalise_and_limits(void **s)
{
    static struct hook_domain d;
    char err[512], xml[2048], longnet[300];
    const char *vnic =
        "<domain><name>n</name><uuid>5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9</uuid>"
        "<metadata><nvdp:vnics xmlns:nvdp='urn:splitnve:nvdp:1'>"
        "<nvdp:vn mac='52:54:00:00:00:01' name='blue' "
        "vnic='AAAAAAAA-2222-3333-4444-55555555555B'/></nvdp:vnics></metadata>"
        "<devices><interface type='bridge'><mac address='52:54:00:00:00:01'/>"
        "</interface></devices></domain>";
    assert_int_equal(hook_xml_parse(vnic, strlen(vnic), &maps, &d, err, sizeof(err)), 0);
    assert_string_equal(d.iface[0].vnic, "aaaaaaaa-2222-3333-4444-55555555555b");

    memset(longnet, 'n', 255);
    longnet[255] = 0;
    snprintf(xml, sizeof(xml),
             "<domain><name>n</name><uuid>5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9</uuid>"
             "<devices><interface type='network'><mac address='52:54:00:00:00:01'/>"
             "<source network='%s' portgroup='web'/></interface></devices></domain>",
             longnet);
    assert_int_equal(hook_xml_parse(xml, strlen(xml), &maps, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too long"));
}

static void t_wrong_namespace(void **s)
{
    static struct hook_domain d;
    char err[512];
    assert_int_equal(parse("wrong_ns.xml", &d, err), 0);
    assert_int_equal(d.iface[0].vn_src, HOOK_VN_NONE);
}

static void t_uuid(void **s)
{
    char out[NVDP_UUID_STRLEN];
    assert_int_equal(hook_vnic_uuid("C7A5FDBD-CDAF-9455-926A-D65C16DB1809",
                                    "52-54-00-5D-C7-9F", out), 0);
    assert_string_equal(out, "4a8cee74-5c7d-538b-a34e-2fc9602463c6");
    assert_int_equal(hook_vnic_uuid("nope", "52:54:00:5d:c7:9f", out), -1);
    assert_int_equal(hook_vnic_uuid("c7a5fdbd-cdaf-9455-926a-d65c16db1809",
                                    "52:54:00:5d:c7", out), -1);
}

static void t_op_table(void **s)
{
    struct hook_step st;
    assert_int_equal(hook_op_lookup("qemu", "migrate", "begin", &st), 0);
    assert_int_equal(st.action, HOOK_ACT_PREASSOC);
    assert_int_equal(st.fatal, 1);
    assert_int_equal(hook_op_lookup("qemu", "prepare", "begin", &st), 0);
    assert_int_equal(st.action, HOOK_ACT_PREASSOC);
    assert_int_equal(st.ifname, 0);
    assert_int_equal(hook_op_lookup("qemu", "migrate", "begin", &st), 0);
    assert_int_equal(st.ifname, 0);
    assert_int_equal(hook_op_lookup("qemu", "start", "begin", &st), 0);
    assert_int_equal(st.action, HOOK_ACT_ATTACH);
    assert_int_equal(st.fatal, 1);
    assert_int_equal(st.ifname, 0); /* qemu's taps do not exist yet */
    assert_int_equal(hook_op_lookup("qemu", "started", "begin", &st), 0);
    assert_int_equal(st.ifname, 1);
    assert_int_equal(hook_op_lookup("lxc", "start", "begin", &st), 0);
    assert_int_equal(st.ifname, 1); /* lxc's veth does */
    assert_int_equal(hook_op_lookup("lxc", "started", "begin", &st), 0);
    assert_int_equal(st.action, HOOK_ACT_ATTACH);
    assert_int_equal(hook_op_lookup("qemu", "stopped", "end", &st), 0);
    assert_int_equal(st.action, HOOK_ACT_DETACH);
    assert_int_equal(st.fatal, 0);
    assert_int_equal(hook_op_lookup("lxc", "release", "end", &st), 0);
    assert_int_equal(st.action, HOOK_ACT_DETACH);
    /* reconnect must never kill a running domain */
    assert_int_equal(hook_op_lookup("qemu", "reconnect", "begin", &st), 0);
    assert_int_equal(st.fatal, 0);
    /* lxc has no migrate; unknown ops and drivers do nothing */
    assert_int_equal(hook_op_lookup("lxc", "migrate", "begin", &st), -1);
    assert_int_equal(st.action, HOOK_ACT_NONE);
    assert_int_equal(hook_op_lookup("qemu", "start", "end", &st), -1);
    assert_int_equal(hook_op_lookup("network", "start", "begin", &st), -1);
    assert_int_equal(hook_op_lookup("qemu", "restore", "begin", &st), 0);
    assert_int_equal(st.action, HOOK_ACT_NONE);
}

/* Every step of a start or a stop shares its sequence's budget: the first
 * step opens it, the last closes it, reconnect/attach stand alone. */
static void t_op_sequences(void **s)
{
    static const struct {
        const char *drv, *op, *sub;
        enum hook_phase ph;
        enum hook_seq_role role;
    } want[] = {
        {"qemu", "migrate", "begin", HOOK_PH_START, HOOK_SEQ_OPEN},
        {"qemu", "prepare", "begin", HOOK_PH_START, HOOK_SEQ_JOIN},
        {"qemu", "start", "begin", HOOK_PH_START, HOOK_SEQ_CONT},
        {"qemu", "started", "begin", HOOK_PH_START, HOOK_SEQ_CLOSE},
        {"qemu", "stopped", "end", HOOK_PH_STOP, HOOK_SEQ_OPEN},
        {"qemu", "release", "end", HOOK_PH_STOP, HOOK_SEQ_CLOSE},
        {"qemu", "reconnect", "begin", HOOK_PH_NONE, HOOK_SEQ_OWN},
        {"qemu", "attach", "begin", HOOK_PH_NONE, HOOK_SEQ_OWN},
        {"lxc", "prepare", "begin", HOOK_PH_START, HOOK_SEQ_JOIN},
        {"lxc", "start", "begin", HOOK_PH_START, HOOK_SEQ_CONT},
        {"lxc", "started", "begin", HOOK_PH_START, HOOK_SEQ_CLOSE},
        {"lxc", "stopped", "end", HOOK_PH_STOP, HOOK_SEQ_OPEN},
        {"lxc", "release", "end", HOOK_PH_STOP, HOOK_SEQ_CLOSE},
        {"lxc", "reconnect", "begin", HOOK_PH_NONE, HOOK_SEQ_OWN},
    };
    struct hook_step st;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(hook_op_lookup(want[i].drv, want[i].op, want[i].sub, &st), 0);
        assert_int_equal(st.phase, want[i].ph);
        assert_int_equal(st.role, want[i].role);
    }
}

static void t_seq_begin(void **s)
{
    const struct hook_seq_rec rec = {1200, 1};
    struct hook_seq_rec r;
    /* a step of its own, and a sequence's first step: the full bound */
    r = hook_seq_begin(HOOK_SEQ_OWN, &rec, 0, 5000);
    assert_int_equal(r.left_ms, 5000);
    assert_int_equal(r.intent, -1);
    r = hook_seq_begin(HOOK_SEQ_OPEN, &rec, 0, 5000);
    assert_int_equal(r.left_ms, 5000);
    /* prepare joins a migrate of the same start, not an old leftover */
    r = hook_seq_begin(HOOK_SEQ_JOIN, &rec, 4999, 5000);
    assert_int_equal(r.left_ms, 1200);
    r = hook_seq_begin(HOOK_SEQ_JOIN, &rec, 5000, 5000);
    assert_int_equal(r.left_ms, 5000);
    r = hook_seq_begin(HOOK_SEQ_JOIN, NULL, 0, 5000);
    assert_int_equal(r.left_ms, 5000);
    /* later steps continue whatever the age (a migration's transfer lies
     * between them), and keep the stop's intent */
    r = hook_seq_begin(HOOK_SEQ_CONT, &rec, 600000, 5000);
    assert_int_equal(r.left_ms, 1200);
    r = hook_seq_begin(HOOK_SEQ_CLOSE, &rec, 0, 5000);
    assert_int_equal(r.left_ms, 1200);
    assert_int_equal(r.intent, 1);
    r = hook_seq_begin(HOOK_SEQ_CLOSE, NULL, 0, 5000);
    assert_int_equal(r.left_ms, 5000);
    assert_int_equal(r.intent, -1);
}

/* Three processes of one start share one file: what one step spends, the
 * next does not get; the closing step removes the file. */
static void t_seq_files(void **s)
{
    char dir[] = "/tmp/test_hook_seq.XXXXXX", sub[64], path[128];
    const char *u = "8f0b2a4c-1d3e-4f5a-9b6c-7d8e9f0a1b2c";
    struct hook_seq q;

    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/run", dir); /* created on first use */
    snprintf(path, sizeof(path), "%s/%s.start", sub, u);
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_START, HOOK_SEQ_JOIN, 5000), 0);
    assert_int_equal(q.rec.left_ms, 5000);
    assert_int_equal(hook_seq_save(&q, 4200), 0);
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_START, HOOK_SEQ_CONT, 5000), 0);
    assert_int_equal(q.rec.left_ms, 800);
    assert_int_equal(hook_seq_save(&q, 1000), 0); /* overspent: nothing left */
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_START, HOOK_SEQ_CLOSE, 5000), 0);
    assert_int_equal(q.rec.left_ms, 0);
    assert_int_equal(hook_seq_save(&q, 3), 0);
    assert_int_equal(access(path, F_OK), -1);
    /* the stop keeps the intent its first step decided */
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_STOP, HOOK_SEQ_OPEN, 5000), 0);
    q.rec.intent = 1;
    assert_int_equal(hook_seq_save(&q, 10), 0);
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_STOP, HOOK_SEQ_CLOSE, 5000), 0);
    assert_int_equal(q.rec.intent, 1);
    assert_int_equal(q.rec.left_ms, 4990);
    /* a start that never reached "started" is ended by the stop */
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_START, HOOK_SEQ_OPEN, 5000), 0);
    assert_int_equal(hook_seq_save(&q, 0), 0);
    assert_int_equal(access(path, F_OK), 0);
    hook_seq_discard(sub, u, HOOK_PH_START);
    assert_int_equal(access(path, F_OK), -1);
    /* a garbled file is no sequence: a full budget */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("-3 x\n", f);
    fclose(f);
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_START, HOOK_SEQ_CONT, 5000), 0);
    assert_int_equal(q.rec.left_ms, 5000);
    unlink(path);
    /* no usable directory: -1, and a full budget of its own */
    snprintf(sub, sizeof(sub), "%s/no/such", dir);
    assert_int_equal(hook_seq_load(&q, sub, u, HOOK_PH_START, HOOK_SEQ_CONT, 700), -1);
    assert_int_equal(q.rec.left_ms, 700);
    assert_int_equal(hook_seq_save(&q, 5), 0);
    snprintf(sub, sizeof(sub), "%s/run", dir);
    rmdir(sub);
    rmdir(dir);
}

static void t_requests(void **s)
{
    static struct hook_domain d;
    char err[512];
    struct json_object *r, *a, *v;
    assert_int_equal(parse("multi_metadata.xml", &d, err), 0);

    r = hook_op_request(HOOK_ACT_ATTACH, &d, &d.iface[0], 0, 1, 1, 1500);
    assert_true(json_object_object_get_ex(r, "cmd", &v));
    assert_string_equal(json_object_get_string(v), "vnic-attach");
    assert_true(json_object_object_get_ex(r, "args", &a));
    json_object_object_get_ex(a, "vnic", &v);
    assert_string_equal(json_object_get_string(v), d.iface[0].vnic);
    json_object_object_get_ex(a, "vn", &v);
    assert_string_equal(json_object_get_string(v), "vni:10100");
    json_object_object_get_ex(a, "mac", &v);
    assert_string_equal(json_object_get_string(v), "52:54:00:aa:00:01");
    json_object_object_get_ex(a, "ips", &v);
    assert_int_equal(json_object_array_length(v), 2);
    json_object_object_get_ex(a, "ifname", &v);
    assert_string_equal(json_object_get_string(v), "vnet3");
    json_object_object_get_ex(a, "wait_ms", &v);
    assert_int_equal(json_object_get_int(v), 1500);
    assert_false(json_object_object_get_ex(a, "reserve", &v));
    json_object_put(r);

    r = hook_op_request(HOOK_ACT_PREASSOC, &d, &d.iface[2], 0, 1, 1, 100);
    json_object_object_get_ex(r, "cmd", &v);
    assert_string_equal(json_object_get_string(v), "vnic-preassociate");
    json_object_object_get_ex(r, "args", &a);
    assert_true(json_object_object_get_ex(a, "reserve", &v));
    assert_true(json_object_get_boolean(v));
    /* no <target dev>: no ifname key at all */
    assert_false(json_object_object_get_ex(a, "ifname", &v));
    json_object_put(r);

    r = hook_op_request(HOOK_ACT_DETACH, &d, &d.iface[0], 1, 1, 0, 100);
    json_object_object_get_ex(r, "cmd", &v);
    assert_string_equal(json_object_get_string(v), "vnic-detach");
    json_object_object_get_ex(r, "args", &a);
    json_object_object_get_ex(a, "migrating", &v);
    assert_true(json_object_get_boolean(v));
    assert_false(json_object_object_get_ex(a, "vn", &v));
    json_object_put(r);

    assert_null(hook_op_request(HOOK_ACT_NONE, &d, &d.iface[0], 0, 0, 0, 0));
    /* a name the XML carries is not sent when it may be stale */
    r = hook_op_request(HOOK_ACT_ATTACH, &d, &d.iface[0], 0, 1, 0, 100);
    json_object_object_get_ex(r, "args", &a);
    assert_false(json_object_object_get_ex(a, "ifname", &v));
    json_object_put(r);
}

static enum hook_verdict verdict(enum hook_action a, const char *json, char *msg)
{
    struct json_object *o = json ? json_tokener_parse(json) : NULL;
    enum hook_verdict v = hook_op_verdict(a, o, msg, 256);
    json_object_put(o);
    return v;
}

static void t_verdicts(void **s)
{
    char msg[256];
    assert_int_equal(verdict(HOOK_ACT_ATTACH,
                             "{\"ok\":true,\"result\":{\"state\":\"attached\",\"tag\":17}}",
                             msg), HOOK_V_OK);
    assert_string_equal(msg, "tag 17");
    assert_int_equal(verdict(HOOK_ACT_PREASSOC,
                             "{\"ok\":true,\"result\":{\"state\":\"preassociated\",\"tag\":null}}",
                             msg), HOOK_V_OK);
    assert_string_equal(msg, "no tag yet");
    /* an answer without waiting (wait_ms 0): the VNIC's state decides */
    assert_int_equal(verdict(HOOK_ACT_ATTACH,
                             "{\"ok\":true,\"result\":{\"state\":\"pending\"}}", msg),
                     HOOK_V_PENDING);
    assert_int_equal(verdict(HOOK_ACT_PREASSOC,
                             "{\"ok\":true,\"result\":{\"state\":\"attached\"}}", msg),
                     HOOK_V_ERROR);
    assert_int_equal(verdict(HOOK_ACT_ATTACH,
                             "{\"ok\":true,\"result\":{\"state\":\"failed\",\"status\":\"no-answer\"}}",
                             msg), HOOK_V_PENDING);
    assert_int_equal(verdict(HOOK_ACT_ATTACH,
                             "{\"ok\":true,\"result\":{\"state\":\"failed\",\"status\":\"unknown-vn\",\"reason\":\"no VN 9\"}}",
                             msg), HOOK_V_REFUSED);
    assert_string_equal(msg, "NVE refused: unknown-vn: no VN 9");
    assert_int_equal(verdict(HOOK_ACT_ATTACH,
                             "{\"ok\":true,\"result\":{\"state\":\"withdrawn\",\"reason\":\"maintenance\"}}",
                             msg), HOOK_V_REFUSED);
    assert_string_equal(msg, "withdrawn by the NVE: maintenance");
    /* a detach is done once hv-agent has it, whatever the NVE says yet */
    assert_int_equal(verdict(HOOK_ACT_DETACH,
                             "{\"ok\":true,\"result\":{\"state\":\"detaching\"}}", msg),
                     HOOK_V_OK);
    assert_string_equal(msg, "hv-agent sends it (state detaching)");
    assert_int_equal(verdict(HOOK_ACT_ATTACH, "{\"ok\":true}", msg), HOOK_V_ERROR);
    assert_int_equal(verdict(HOOK_ACT_ATTACH, "{\"ok\":true,\"result\":{}}", msg),
                     HOOK_V_ERROR);
    assert_int_equal(verdict(HOOK_ACT_ATTACH,
                             "{\"ok\":false,\"code\":5,\"error\":\"unknown-vn: vni:9\"}",
                             msg), HOOK_V_REFUSED);
    assert_string_equal(msg, "unknown-vn: vni:9");
    assert_int_equal(verdict(HOOK_ACT_ATTACH, "{\"ok\":false,\"code\":4}", msg),
                     HOOK_V_PENDING);
    /* unknown VNIC: fine when detaching, a refusal otherwise */
    assert_int_equal(verdict(HOOK_ACT_DETACH, "{\"ok\":false,\"code\":3}", msg),
                     HOOK_V_OK);
    assert_int_equal(verdict(HOOK_ACT_ATTACH, "{\"ok\":false,\"code\":3}", msg),
                     HOOK_V_REFUSED);
    assert_int_equal(verdict(HOOK_ACT_ATTACH, "{\"ok\":false,\"code\":6}", msg),
                     HOOK_V_ERROR);
    assert_int_equal(verdict(HOOK_ACT_ATTACH, "[1,2]", msg), HOOK_V_ERROR);
    assert_int_equal(verdict(HOOK_ACT_ATTACH, NULL, msg), HOOK_V_ERROR);
    assert_int_equal(verdict(HOOK_ACT_ATTACH, "{\"result\":1}", msg), HOOK_V_ERROR);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_multi_metadata), cmocka_unit_test(t_no_metadata),
        cmocka_unit_test(t_default_vn_lxc), cmocka_unit_test(t_qbg),
        cmocka_unit_test(t_qbg_no_maps),    cmocka_unit_test(t_portgroup),
        cmocka_unit_test(t_normalise_and_limits),
        cmocka_unit_test(t_op_sequences), cmocka_unit_test(t_seq_begin),
        cmocka_unit_test(t_seq_files),
        cmocka_unit_test(t_hostdev),        cmocka_unit_test(t_errors),
        cmocka_unit_test(t_empty_and_garbage), cmocka_unit_test(t_wrong_namespace),
        cmocka_unit_test(t_uuid),           cmocka_unit_test(t_op_table),
        cmocka_unit_test(t_requests),       cmocka_unit_test(t_verdicts),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
