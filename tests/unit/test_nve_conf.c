/* test_nve_conf.c - nve-agent.conf: the sample parses with the expected
 * values, the normalised print-back re-parses identically, and every class
 * of bad line gives an error naming file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "nve.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char tmpconf[] = "/tmp/test_nve_conf.XXXXXX";
static char tmplog[] = "/tmp/test_nve_conf_log.XXXXXX";

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads text as a config with stderr (where log lines go) captured. */
static struct nve_conf *
load_text(const char *text, char *errbuf, size_t errlen)
{
    struct nve_conf *c;
    int saved = dup(2), fd;
    FILE *f;
    size_t n;

    if (text != NULL) /* NULL: the file as it is */
        write_file(tmpconf, text);
    fflush(stderr);
    fd = open(tmplog, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    c = nve_conf_load(tmpconf);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    f = fopen(tmplog, "r");
    n = fread(errbuf, 1, errlen - 1, f);
    errbuf[n] = '\0';
    fclose(f);
    return c;
}

static int
setup(void **state)
{
    int fd = mkstemp(tmpconf);
    close(fd);
    fd = mkstemp(tmplog);
    close(fd);
    log_init("test", 1, 0);
    return 0;
}

static int
teardown(void **state)
{
    unlink(tmpconf);
    unlink(tmplog);
    return 0;
}

static void
test_sample_parses(void **state)
{
    struct nve_conf *c = nve_conf_load(TOP_SRCDIR "/conf/nve-agent.conf");
    uint8_t mac[6];

    assert_non_null(c);
    assert_string_equal(c->name, "tor1");
    assert_int_equal(c->ethertype, 0x88b5);
    assert_int_equal(c->hello_ms, 1000);
    assert_int_equal(c->hold_s, 10);
    assert_int_equal(c->preassoc_s, 120);
    assert_int_equal(c->rel.window, 256);
    assert_int_equal(c->max_addrs, 64);
    assert_int_equal(c->fwd.udp_port, 4789);
    assert_int_equal(c->fwd.sport_min, 49152);
    assert_int_equal(c->fwd.sport_max, 65535);
    assert_int_equal(c->nports, 2);
    assert_int_equal(c->nvns, 2);
    const struct nve_port *p1 = nve_conf_port_by_name(c, "p1");
    const struct nve_port *p2 = nve_conf_port_by_name(c, "acc2");
    assert_non_null(p1);
    assert_non_null(p2);
    assert_string_equal(p2->name, "p2");
    /* 2-4000 minus 1000-1099 */
    assert_true(tagset_has(&p1->tags, 2));
    assert_true(tagset_has(&p1->tags, 999));
    assert_false(tagset_has(&p1->tags, 1000));
    assert_false(tagset_has(&p1->tags, 1099));
    assert_true(tagset_has(&p1->tags, 1100));
    assert_false(tagset_has(&p1->tags, 4001));
    assert_false(tagset_has(&p1->tags, 1));
    nvdp_mac_parse("02:00:00:00:01:02", mac);
    assert_true(nve_port_allows_hv(p1, mac));
    assert_true(nve_port_allows_hv(p2, mac));
    mac[5] = 9;
    assert_true(nve_port_allows_hv(p1, mac));
    assert_false(nve_port_allows_hv(p2, mac));
    assert_true(nve_port_allows_vn(p1, 10200));
    assert_true(nve_port_allows_vn(p2, 10100));
    assert_false(nve_port_allows_vn(p2, 10200));
    assert_int_equal(p2->max_vnics, 1000);
    const struct nve_vn *blue = nve_conf_vn_lookup(c, "blue");
    assert_non_null(blue);
    assert_int_equal(blue->vni, 10100);
    assert_ptr_equal(nve_conf_vn_lookup(c, "vni:10100"), blue);
    assert_ptr_equal(nve_conf_vn_lookup(c, "10100"), blue);
    assert_ptr_equal(
        nve_conf_vn_lookup(c, "uuid:6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01"),
        blue);
    assert_null(nve_conf_vn_lookup(c, "purple"));
    assert_int_equal(blue->nflood, 1);
    assert_string_equal(blue->flood[0], "192.0.2.2");
    assert_int_equal(blue->nremote, 1);
    assert_string_equal(blue->remote[0].vtep, "192.0.2.2");
    nve_conf_free(c);
}

static void
test_defaults_and_roundtrip(void **state)
{
    char err[4096], *out1 = NULL, *out2 = NULL;
    size_t l1, l2;
    struct nve_conf *c = load_text("port \"a\" {\n interface = \"veth0\"\n}\n"
                                   "vn \"v\" {\n vni = 5\n}\n",
                                   err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->ethertype, NVDP_ETHERTYPE_DEFAULT);
    assert_int_equal(c->hold_s, 10);
    assert_int_equal(c->rel.rto_init, 200);
    assert_int_equal(c->rel.rto_max, 3200);
    assert_int_equal(c->rel.max_tries, 8);
    assert_int_equal(c->max_hv_per_port, 256);
    /* a hypervisor's VNICs are bounded out of the box (spec section 15) */
    assert_int_equal(c->max_vnics_per_hv, 16384);
    assert_int_equal(c->max_vnics, 131072);
    assert_int_equal(c->max_addrs_per_hv, 65536);
    /* a port takes the limits section's values unless it has its own */
    assert_int_equal(c->ports[0].max_hv, 256);
    assert_int_equal(c->ports[0].max_newcomers, 32);
    assert_int_equal(c->ports[0].max_preassoc, 4096);
    assert_int_equal(c->ports[0].req_rate, 5000);
    assert_int_equal(c->ports[0].req_burst, 1024);
    assert_int_equal(c->max_addrs, 64);
    assert_int_equal(c->ports[0].nhv, 0);
    assert_true(c->ports[0].all_vns);
    assert_true(tagset_has(&c->ports[0].tags, 1));
    assert_true(tagset_has(&c->ports[0].tags, 4094));
    assert_true(strlen(c->name) > 0); /* host name */
    FILE *f = open_memstream(&out1, &l1);
    nve_conf_print(c, f);
    fclose(f);
    nve_conf_free(c);
    /* the normalised output is itself a valid config that prints the same
     * (but for its first comment line naming the file) */
    c = load_text(out1, err, sizeof(err));
    assert_non_null(c);
    f = open_memstream(&out2, &l2);
    nve_conf_print(c, f);
    fclose(f);
    assert_string_equal(strchr(out1, '\n'), strchr(out2, '\n'));
    assert_non_null(strstr(out1, "    tries = 8"));
    assert_non_null(strstr(out1, "max-hypervisors-per-port = 256"));
    assert_non_null(strstr(out1, "    request-rate = 5000"));
    assert_non_null(strstr(out1, "    max-newcomers = 32"));
    free(out1);
    free(out2);
    nve_conf_free(c);
}

struct bad {
    const char *what;
    const char *text;
    int line;
    const char *needle;
};

static const struct bad bads[] = {
    {"unknown option", "name = \"x\"\nfoo = 1\n", 2, "foo"},
    {"syntax", "name = \"x\"\nport \"a\" {\n interface = \"e0\"\n}}\n", 4, ""},
    {"out of range", "\nhello-interval = 5\n", 2, "hello-interval"},
    {"window", "window = 5000\n", 1, "window"},
    {"group-mac unicast", "\n\ngroup-mac = \"02:00:00:00:00:01\"\n", 3,
     "group"},
    {"bad hypervisor MAC",
     "port \"a\" {\n interface = \"e0\"\n hypervisors = {\"zz\"}\n}\n", 3,
     "MAC"},
    {"bad tag set", "port \"a\" {\n interface = \"e0\"\n tags = \"5-4095\"\n}\n",
     3, "tag"},
    {"empty tag range",
     "\nport \"a\" {\n interface = \"e0\"\n tags = \"5\"\n reserved-tags = "
     "\"1-10\"\n}\n",
     2, "no tag left"},
    {"forwarder cpu", "\nunderlay {\n cpu = -2\n}\n", 3, "cpu"},
    {"missing interface", "port \"a\" {\n tags = \"5\"\n}\n", 1, "interface"},
    {"bad interface", "port \"a\" {\n interface = \"a/b\"\n}\n", 2,
     "interface"},
    {"duplicate interface",
     "port \"a\" {\n interface = \"e0\"\n}\nport \"b\" {\n interface = "
     "\"e0\"\n}\n",
     4, "already used"},
    {"duplicate port", "port \"a\" {\n interface = \"e0\"\n}\nport \"a\" {\n "
                       "interface = \"e1\"\n}\n",
     4, "duplicate"},
    {"unknown VN in port",
     "vn \"v\" {\n vni = 1\n}\nport \"a\" {\n interface = \"e0\"\n vns = "
     "{\"v\", \"w\"}\n}\n",
     4, "unknown vn \"w\""},
    {"missing vni", "\nvn \"v\" {\n uuid = "
                    "\"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n}\n",
     2, "vni"},
    {"vni range", "vn \"v\" {\n vni = 16777216\n}\n", 2, "vni"},
    {"duplicate VNI", "vn \"v\" {\n vni = 7\n}\nvn \"w\" {\n vni = 7\n}\n", 4,
     "VNI 7"},
    {"duplicate VN name", "vn \"v\" {\n vni = 7\n}\nvn \"v\" {\n vni = 8\n}\n",
     4, "duplicate"},
    {"duplicate UUID",
     "vn \"v\" {\n vni = 7\n uuid = \"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n}"
     "\nvn \"w\" {\n vni = 8\n uuid = "
     "\"6A1F4C2E-0B7D-4E59-9C33-2F8E1D0A5B01\"\n}\n",
     5, "UUID"},
    {"bad UUID", "vn \"v\" {\n vni = 7\n uuid = \"nope\"\n}\n", 3, "UUID"},
    {"bad flood IP", "vn \"v\" {\n vni = 7\n flood = {\"1.2.3\"}\n}\n", 3,
     "IP"},
    {"bad remote MAC",
     "vn \"v\" {\n vni = 7\n remote-mac \"zz\" {\n  vtep = \"1.1.1.1\"\n "
     "}\n}\n",
     3, "remote-mac"},
    {"remote MAC without vtep",
     "vn \"v\" {\n vni = 7\n remote-mac \"02:00:00:00:00:09\" {\n }\n}\n", 3,
     "vtep"},
    {"underlay without local-ip", "\nunderlay {\n interface = \"e9\"\n}\n", 2,
     "local-ip"},
    {"bad source port range", "underlay {\n source-port-range = \"9-1\"\n}\n",
     2, "source-port-range"},
    {"retransmit order",
     "retransmit {\n initial = 500\n max = 100\n}\n", 3, "max"},
    {"retransmit tries", "retransmit {\n tries = 0\n}\n", 2, "tries"},
    {"unknown control group", "\ncontrol-group = \"no-such-group-xyz\"\n", 2,
     "no group 'no-such-group-xyz'"},
    {"no control client", "control-max-clients = 0\n", 1,
     "control-max-clients"},
    {"too many control clients", "\ncontrol-max-clients = 1025\n", 2,
     "control-max-clients"},
    {"control idle range", "\n\ncontrol-idle-timeout = 90000\n", 3,
     "control-idle-timeout"},
    {"control priority out of range", "\ncontrol-priority = \"rr 100\"\n", 2,
     "control-priority"},
    {"control priority policy", "control-priority = \"fifo 1\"\n", 1,
     "control-priority"},
    {"control priority without a value", "control-priority = \"nice\"\n", 1,
     "-20..19"},
    {"evpn without underlay", "name = \"x\"\nevpn {\n}\n", 2, "underlay"},
    {"evpn with an IPv6 VTEP",
     "underlay {\n interface = \"u0\"\n local-ip = \"2001:db8::1\"\n}\n"
     "\nevpn { }\n", 6, "IPv4"},
    {"evpn shadow port = data port",
     "underlay {\n interface = \"u0\"\n local-ip = \"192.0.2.1\"\n"
     " udp-port = 14789\n}\nevpn {\n}\n", 6, "data port"},
    {"evpn twice",
     "underlay {\n interface = \"u0\"\n local-ip = \"192.0.2.1\"\n}\n"
     "evpn {\n}\nevpn {\n}\n", 5, "only one"},
    {"evpn with a static flood list",
     "underlay {\n interface = \"u0\"\n local-ip = \"192.0.2.1\"\n}\n"
     "evpn { }\nvn \"v\" {\n vni = 7\n flood = {\"192.0.2.9\"}\n}\n", 6,
     "cannot be used with evpn"},
    {"evpn relative rundir", "evpn {\n frr-rundir = \"run/frr\"\n}\n", 2,
     "frr-rundir"},
    {"evpn reconcile 0", "evpn {\n frr-reconcile = 0\n}\n", 2,
     "frr-reconcile"},
    {"evpn unknown option", "evpn {\n grace = 5\n}\n", 2, "grace"},
    {"newcomers", "limits {\n max-newcomers-per-port = 0\n}\n", 2,
     "max-newcomers-per-port"},
    {"port request burst",
     "port \"a\" {\n interface = \"e0\"\n request-burst = 0\n}\n", 3,
     "request-burst"},
};

/* A port's own limits override the limits section; the others follow it. */
static void
test_port_limits(void **state)
{
    char err[512];
    struct nve_conf *c = load_text(
        "limits {\n request-rate = 100\n max-newcomers-per-port = 3\n}\n"
        "port \"a\" {\n interface = \"e0\"\n request-rate = 0\n"
        " max-newcomers = 8\n max-hypervisors = 2\n"
        " max-preassociations = 7\n request-burst = 9\n}\n"
        "port \"b\" {\n interface = \"e1\"\n}\n",
        err, sizeof(err));

    (void)state;
    assert_non_null(c);
    assert_int_equal(c->ports[0].req_rate, 0);
    assert_int_equal(c->ports[0].req_burst, 9);
    assert_int_equal(c->ports[0].max_newcomers, 8);
    assert_int_equal(c->ports[0].max_hv, 2);
    assert_int_equal(c->ports[0].max_preassoc, 7);
    assert_int_equal(c->ports[1].req_rate, 100);
    assert_int_equal(c->ports[1].max_newcomers, 3);
    assert_int_equal(c->ports[1].max_hv, 256);
    nve_conf_free(c);
}

static void
test_bad_lines(void **state)
{
    char err[4096], want[512];

    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct nve_conf *c = load_text(bads[i].text, err, sizeof(err));
        snprintf(want, sizeof(want), "%s:%d:", tmpconf, bads[i].line);
        if (c != NULL || strstr(err, want) == NULL ||
            strstr(err, bads[i].needle) == NULL)
            fail_msg("case '%s': expected an error with '%s' and '%s', got "
                     "%s\n[%s]", bads[i].what, want, bads[i].needle,
                     c ? "a config" : "NULL", err);
        nve_conf_free(c);
    }
}

/* The control socket's options: a group by name or number, the limits;
 * by default none (mode 0600), 64 clients, 60 s. */
static void
test_control_options(void **state)
{
    char err[2048];
    struct nve_conf *c = load_text("port \"a\" {\n interface = \"e0\"\n}\n",
                                   err, sizeof(err));

    assert_non_null(c);
    assert_string_equal(c->ctl.group, "");
    assert_int_equal(c->ctl.opts.gid, (gid_t)-1);
    assert_int_equal(c->ctl.opts.max_conns, 64);
    assert_int_equal(c->ctl.opts.idle_ms, 60000);
    nve_conf_free(c);
    c = load_text("control-group = \"root\"\ncontrol-max-clients = 5\n"
                  "control-idle-timeout = 0\n", err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->ctl.group, "root");
    assert_int_equal(c->ctl.opts.gid, 0);
    assert_int_equal(c->ctl.opts.max_conns, 5);
    assert_int_equal(c->ctl.opts.idle_ms, 0);
    nve_conf_free(c);
    c = load_text("control-group = \"0\"\n", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->ctl.opts.gid, 0);
    nve_conf_free(c);
}

/* A file others could write is refused, naming file, mode or owner. */
static void
test_file_check(void **state)
{
    char err[2048], want[512];
    struct nve_conf *c;

    write_file(tmpconf, "name = \"x\"\n");
    assert_int_equal(chmod(tmpconf, 0664), 0);
    c = load_text(NULL, err, sizeof(err));
    snprintf(want, sizeof(want), "%s: mode 0664 lets its group write it",
             tmpconf);
    assert_null(c);
    assert_non_null(strstr(err, want));
    assert_int_equal(chmod(tmpconf, 0602), 0);
    c = load_text(NULL, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "mode 0602 lets anyone write it"));
    assert_int_equal(chmod(tmpconf, 0644), 0); /* readable by all is fine */
    c = load_text(NULL, err, sizeof(err));
    assert_non_null(c);
    nve_conf_free(c);
    if (geteuid() == 0) { /* only root can give a file away */
        assert_int_equal(chown(tmpconf, 65534, (gid_t)-1), 0);
        c = load_text(NULL, err, sizeof(err));
        assert_null(c);
        assert_non_null(strstr(err, "owned by uid 65534, not by root"));
        assert_int_equal(chown(tmpconf, 0, (gid_t)-1), 0);
    }
    assert_int_equal(chmod(tmpconf, 0600), 0);
}

/* The forwarder pins its thread where told and skips NVDP frames of the
 * configured EtherType, not only the default one. */
static void
test_forwarder_params(void **state)
{
    char err[2048];
    struct nve_conf *c = load_text(
        "ethertype = 0x88b6\nunderlay {\n interface = \"u0\"\n"
        " local-ip = \"192.0.2.1\"\n cpu = 1\n}\n", err, sizeof(err));

    assert_non_null(c);
    assert_int_equal(c->fwd_cpu, 1);
    assert_int_equal(c->fwd.nvdp_ethertype, 0x88b6);
    nve_conf_free(c);
    c = load_text("name = \"x\"\n", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->fwd_cpu, -1);
    assert_int_equal(c->fwd.nvdp_ethertype, 0x88b5);
    nve_conf_free(c);
}

/* Without the section EVPN is off; with it, defaults fill in and -n prints
 * it back as a config that parses to the same values. */
static void
test_evpn_section(void **state)
{
    char err[4096], *out = NULL;
    size_t len;
    const char *base = "underlay {\n interface = \"u0\"\n"
                       " local-ip = \"192.0.2.1\"\n}\n"
                       "vn \"blue\" { vni = 10100 }\n";
    char text[1024];
    struct nve_conf *c = load_text(base, err, sizeof(err));

    assert_non_null(c);
    assert_false(c->evpn.enabled);
    nve_conf_free(c);
    snprintf(text, sizeof(text), "%sevpn {\n}\n", base);
    c = load_text(text, err, sizeof(err));
    assert_non_null(c);
    assert_true(c->evpn.enabled);
    assert_int_equal(c->evpn.shadow_port, 14789);
    assert_string_equal(c->evpn.frr_rundir, "/run/frr");
    assert_int_equal(c->evpn.withdraw_delay_ms, 500);
    assert_int_equal(c->evpn.frr_grace_s, 120);
    assert_int_equal(c->evpn.frr_reconcile_s, 10);
    assert_int_equal(c->evpn.migration_hold_s, 30);
    assert_int_equal(c->evpn.mobility_hold_s, 10);
    nve_conf_free(c);
    snprintf(text, sizeof(text),
             "%sevpn {\n shadow-udp-port = 4790\n frr-rundir = \"/tmp/f\"\n"
             " withdraw-delay = 0\n frr-grace = 5\n frr-reconcile = 2\n"
             " migration-hold = 0\n mobility-hold = 3\n}\n", base);
    c = load_text(text, err, sizeof(err));
    assert_non_null(c);
    FILE *f = open_memstream(&out, &len);
    nve_conf_print(c, f);
    fclose(f);
    nve_conf_free(c);
    assert_non_null(strstr(out, "evpn {\n    shadow-udp-port = 4790\n"));
    c = load_text(out, err, sizeof(err));
    free(out);
    assert_non_null(c);
    assert_int_equal(c->evpn.shadow_port, 4790);
    assert_string_equal(c->evpn.frr_rundir, "/tmp/f");
    assert_int_equal(c->evpn.withdraw_delay_ms, 0);
    assert_int_equal(c->evpn.frr_grace_s, 5);
    assert_int_equal(c->evpn.frr_reconcile_s, 2);
    assert_int_equal(c->evpn.migration_hold_s, 0);
    assert_int_equal(c->evpn.mobility_hold_s, 3);
    nve_conf_free(c);
}

static void
test_missing_file(void **state)
{
    char err[4096];
    int saved = dup(2), fd = open(tmplog, O_WRONLY | O_TRUNC);
    dup2(fd, 2);
    close(fd);
    struct nve_conf *c = nve_conf_load("/nonexistent/nve-agent.conf");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(tmplog, "r");
    size_t n = fread(err, 1, sizeof(err) - 1, f);
    err[n] = '\0';
    fclose(f);
    assert_null(c);
    assert_non_null(strstr(err, "/nonexistent/nve-agent.conf"));
}

/* key-file text with ids: "ID 32-byte-hex" lines */
static void
write_keys(const char *path, const unsigned *ids, unsigned n)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "%u %064x\n", ids[i], ids[i]);
    fclose(f);
    chmod(path, 0600);
}

/* The key ids the kernel's filter accepts on a port (spec 14.2): the
 * port's and every hypervisor section's, each once, and "more than max". */
static void
test_key_ids(void **state)
{
    static const unsigned port[] = {1, 2}, hv1[] = {2, 3}, hv2[] = {3, 1};
    char dir[] = "/tmp/test_nve_conf_keys.XXXXXX", text[1024], err[4096];
    char kp[3][64];
    uint16_t ids[4] = {0};
    struct nve_conf *c;

    (void)state;
    assert_non_null(mkdtemp(dir));
    for (unsigned i = 0; i < 3; i++)
        snprintf(kp[i], sizeof(kp[i]), "%s/k%u", dir, i);
    write_keys(kp[0], port, 2);
    write_keys(kp[1], hv1, 2);
    write_keys(kp[2], hv2, 2);
    snprintf(text, sizeof(text),
             "port \"p0\" { interface = \"acc0\"\n auth = required\n"
             " key-file = \"%s\" }\n"
             "hypervisor \"hv1\" { mac = \"02:00:00:00:01:01\"\n"
             " key-file = \"%s\" }\n"
             "hypervisor \"hv2\" { mac = \"02:00:00:00:01:02\"\n"
             " key-file = \"%s\" }\n"
             "vn \"blue\" { vni = 100 }\n",
             kp[0], kp[1], kp[2]);
    c = load_text(text, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(nve_conf_key_ids(c, &c->ports[0], ids, 4), 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 3);
    assert_int_equal(nve_conf_key_ids(c, &c->ports[0], ids, 3), 3);
    assert_int_equal(nve_conf_key_ids(c, &c->ports[0], ids, 2), 3);
    nve_conf_free(c);
    for (unsigned i = 0; i < 3; i++)
        unlink(kp[i]);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_parses),
        cmocka_unit_test(test_defaults_and_roundtrip),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_port_limits),
        cmocka_unit_test(test_forwarder_params),
        cmocka_unit_test(test_evpn_section),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_control_options),
        cmocka_unit_test(test_file_check),
        cmocka_unit_test(test_key_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
