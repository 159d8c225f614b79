/* test_hv_conf.c - hv-agent.conf: the sample parses, defaults, every bad
 * line is named with file and line, -n output parses back the same. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv.h"
#include "log.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char dir[64];

static int
group_setup(void **st)
{
    (void)st;
    log_init("test_hv_conf", 1, 0);
    snprintf(dir, sizeof(dir), "/tmp/test_hv_conf.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
group_teardown(void **st)
{
    char cmd[128];

    (void)st;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
write_conf(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Loads text from a file, with stderr captured into err. */
static int
load_text(const char *text, struct hv_conf *c, char *path, size_t pathlen,
          char *err, size_t errlen)
{
    char errpath[128];
    int saved, fd, rc;
    FILE *fp;
    size_t n;

    snprintf(path, pathlen, "%s/t.conf", dir);
    snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
    write_conf(path, text);
    fflush(stderr);
    saved = dup(2);
    fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    rc = hv_conf_load(c, path);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fp = fopen(errpath, "r");
    n = fread(err, 1, errlen - 1, fp);
    err[n] = '\0';
    fclose(fp);
    return rc;
}

static void
test_sample_parses(void **st)
{
    struct hv_conf c;
    struct nvdp_vn vn;
    const char *name;

    (void)st;
    assert_int_equal(hv_conf_load(&c, TOP_SRCDIR "/conf/hv-agent.conf"), 0);
    assert_string_equal(c.name, "hv1");
    assert_string_equal(c.uplink, "eth0");
    assert_int_equal(c.ethertype, 0x88b5);
    assert_int_equal(c.hello_interval, 1000);
    assert_int_equal(c.hold_time, 10);
    assert_false(c.nve_loss_keep); /* on-nve-loss untag */
    assert_int_equal(c.rel.window, 256);
    assert_int_equal(c.rel.rto_init, 200);
    assert_int_equal(c.rel.rto_max, 3200);
    assert_int_equal(c.rel.max_tries, 8);
    assert_false(c.nve_mac_set);
    assert_int_equal(c.nvns, 2);
    assert_int_equal(hv_conf_vn_lookup(&c, "blue", &vn, &name), 0);
    assert_int_equal(vn.kind, NVDP_VN_VNI);
    assert_int_equal(vn.vni, 10100);
    assert_string_equal(name, "blue");
    assert_int_equal(hv_conf_vn_lookup(&c, "red", &vn, &name), 0);
    assert_int_equal(vn.kind, NVDP_VN_UUID);
    /* literals still work, and are not names */
    assert_int_equal(hv_conf_vn_lookup(&c, "vni:42", &vn, &name), 0);
    assert_int_equal(vn.vni, 42);
    assert_null(name);
    assert_int_equal(hv_conf_vn_lookup(&c, "green", &vn, &name), -1);
    assert_int_equal(hv_conf_vn_lookup(&c, "", &vn, &name), -1);
    hv_conf_free(&c);
}

static void
test_defaults(void **st)
{
    static const uint8_t group[6] = NVDP_GROUP_MAC_DEFAULT;
    char path[128], err[4096], host[128] = "";
    struct hv_conf c;

    (void)st;
    assert_int_equal(load_text("# nothing\n", &c, path, sizeof(path), err,
                               sizeof(err)), 0);
    gethostname(host, sizeof(host) - 1);
    if (host[0] != '\0' && strlen(host) <= NVDP_MAX_NAME)
        assert_string_equal(c.name, host);
    assert_string_equal(c.uplink, "");
    assert_int_equal(c.ethertype, NVDP_ETHERTYPE_DEFAULT);
    assert_memory_equal(c.group_mac, group, 6);
    assert_int_equal(c.hello_interval, 1000);
    assert_int_equal(c.hold_time, 10);
    assert_int_equal(c.rel.window, 256);
    assert_int_equal(c.nve_req_rate, HV_NVE_REQ_RATE);
    assert_int_equal(c.nve_req_burst, HV_NVE_REQ_BURST);
    assert_int_equal(c.resync_burst, HV_RESYNC_BURST);
    assert_string_equal(c.state_file, STATEDIR "/hv-agent.state");
    assert_string_equal(c.ctl_path, RUNDIR "/hv-agent.sock");
    hv_conf_free(&c);
}

static void
test_values(void **st)
{
    char path[128], err[4096];
    struct hv_conf c;

    (void)st;
    assert_int_equal(load_text("name = \"x\"\nuplink = \"veth9\"\n"
                               "ethertype = 0x88b6\n"
                               "nve-mac = \"02:00:00:00:00:01\"\n"
                               "hello-interval = 250\nhold-time = 2\n"
                               "on-nve-loss = keep\n"
                               "window = 8\n"
                               "retransmit { initial = 50 max = 400 tries = 3 }\n"
                               "limits { nve-request-rate = 7 "
                               "nve-request-burst = 9 resync-burst = 2 }\n"
                               "state-file = \"/tmp/x.state\"\n"
                               "control-socket = \"/tmp/x.sock\"\n",
                               &c, path, sizeof(path), err, sizeof(err)), 0);
    assert_string_equal(c.name, "x");
    assert_string_equal(c.uplink, "veth9");
    assert_int_equal(c.ethertype, 0x88b6);
    assert_true(c.nve_mac_set);
    assert_int_equal(c.nve_mac[5], 1);
    assert_int_equal(c.hello_interval, 250);
    assert_int_equal(c.hold_time, 2);
    assert_true(c.nve_loss_keep);
    assert_int_equal(c.rel.window, 8);
    assert_int_equal(c.rel.rto_init, 50);
    assert_int_equal(c.rel.rto_max, 400);
    assert_int_equal(c.rel.max_tries, 3);
    assert_int_equal(c.nve_req_rate, 7);
    assert_int_equal(c.nve_req_burst, 9);
    assert_int_equal(c.resync_burst, 2);
    assert_string_equal(c.state_file, "/tmp/x.state");
    assert_string_equal(c.ctl_path, "/tmp/x.sock");
    hv_conf_free(&c);
}

struct bad {
    const char *text;
    int line;          /* 0: a whole-file check */
    const char *words; /* must appear in the message */
};

static void
test_bad_lines_named(void **st)
{
    static const struct bad cases[] = {
        {"uplink = \"eth0\"\ngroup-mac = \"zz:00\"\n", 2, "group-mac"},
        {"\n\nhello-interval = 5\n", 3, "hello-interval"},
        {"window = 0\n", 1, "window"},
        {"window = 5000\n", 1, "window"},
        {"retransmit {\n  tries = 0\n}\n", 2, "tries"},
        {"ethertype = 0x0100\n", 1, "ethertype"},
        {"vn \"blue\" {\n}\n", 2, "vni or uuid"},
        {"vn \"blue\" {\n vni = 5\n uuid = \"6f1c2f7e-4a3b-4d2c-9e8f-0a1b2c3d4e5f\"\n}\n",
         4, "vni or uuid"},
        {"vn \"blue\" { vni = 5 }\nvn \"blue\" { vni = 6 }\n", 2, "blue"},
        {"vn \"vni:5\" { vni = 5 }\n", 1, "looks like"},
        {"vn \"x\" {\n vni = 99999999\n}\n", 2, ""},
        {"vn \"x\" {\n uuid = \"not-a-uuid\"\n}\n", 2, ""},
        {"name = \"\"\n", 1, "name"},
        {"state-file = \"relative/path\"\n", 1, "state-file"},
        {"frobnicate = 1\n", 1, "frobnicate"},
        {"uplink = \"eth0\"\non-nve-loss = drop\n", 2, "untag or keep"},
        {"uplink = \"eth0\"\nhold-time = \"ten\"\n", 2, ""},
        {"hello-interval = 1000\nhold-time = 1\n", 0, "hold-time"},
        {"retransmit { initial = 500 max = 100 }\n", 0, "max"},
        {"vn \"a\" { vni = 5 }\nvn \"b\" { vni = 5 }\n", 0, "same VN"},
        {"uplink = \"eth0\"\nuplink = {\n", 2, ""},
    };
    char path[128], err[4096], want[160];
    struct hv_conf c;

    (void)st;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_text(cases[i].text, &c, path, sizeof(path), err,
                           sizeof(err));
        if (rc != -1)
            fail_msg("case %zu accepted: %s", i, cases[i].text);
        if (cases[i].line > 0)
            snprintf(want, sizeof(want), "%s:%d", path, cases[i].line);
        else
            snprintf(want, sizeof(want), "%s", path);
        if (strstr(err, want) == NULL)
            fail_msg("case %zu: \"%s\" not in error output:\n%s", i, want,
                     err);
        if (strstr(err, cases[i].words) == NULL)
            fail_msg("case %zu: \"%s\" not in error output:\n%s", i,
                     cases[i].words, err);
    }
    /* a missing file is an error naming it */
    snprintf(path, sizeof(path), "%s/none.conf", dir);
    assert_int_equal(hv_conf_load(&c, path), -1);
}

static void
test_print_roundtrip(void **st)
{
    char path[128], err[4096], out[160];
    struct hv_conf c, d;
    FILE *fp;

    (void)st;
    assert_int_equal(load_text("name = \"n1\"\nuplink = \"u1\"\n"
                               "nve-mac = \"02:00:00:00:00:0A\"\n"
                               "hello-interval = 500\nhold-time = 4\n"
                               "vn \"blue\" { vni = 10100 }\n"
                               "vn \"red\" { uuid = \"6F1C2F7E-4A3B-4D2C-9E8F-0A1B2C3D4E5F\" }\n",
                               &c, path, sizeof(path), err, sizeof(err)), 0);
    snprintf(out, sizeof(out), "%s/printed.conf", dir);
    fp = fopen(out, "w");
    hv_conf_print(&c, fp);
    fclose(fp);
    assert_int_equal(hv_conf_load(&d, out), 0);
    assert_string_equal(c.name, d.name);
    assert_string_equal(c.uplink, d.uplink);
    assert_memory_equal(c.nve_mac, d.nve_mac, 6);
    assert_int_equal(d.nve_mac_set, 1);
    assert_int_equal(c.hello_interval, d.hello_interval);
    assert_int_equal(c.hold_time, d.hold_time);
    assert_int_equal(c.rel.window, d.rel.window);
    assert_int_equal(d.nvns, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(c.vns[i].name, d.vns[i].name);
        assert_true(nvdp_vn_equal(&c.vns[i].vn, &d.vns[i].vn));
    }
    hv_conf_free(&c);
    hv_conf_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_parses),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_bad_lines_named),
        cmocka_unit_test(test_print_roundtrip),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
