/* test_conf_util.c - libconfuse validators (errors name file and line) and
 * tag-set parsing/formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_util.h"
#include "log.h"

static void
test_tagset_parse(void **st)
{
    struct tagset ts;

    (void)st;
    assert_int_equal(tagset_parse("1-99,200, 300 - 302", &ts), 0);
    assert_true(tagset_has(&ts, 1));
    assert_true(tagset_has(&ts, 99));
    assert_false(tagset_has(&ts, 100));
    assert_true(tagset_has(&ts, 200));
    assert_true(tagset_has(&ts, 301));
    assert_false(tagset_has(&ts, 303));
    assert_false(tagset_has(&ts, 0));
    assert_false(tagset_has(&ts, 5000)); /* out of range: no overflow */
    assert_int_equal(tagset_parse("4094", &ts), 0);
    assert_true(tagset_has(&ts, 4094));
    assert_int_equal(tagset_parse("", &ts), 0); /* empty set */
    assert_false(tagset_has(&ts, 1));

    /* Every malformed shape, and the set left untouched on error. */
    const char *bad[] = {"0", "4095", "1-4095", "10-5", "1,,2", "1,", ",1",
                         "a", "1-", "-5", "1 2", "99999999999", "1-2-3",
                         "12x", NULL};
    tagset_parse("7", &ts);
    for (int i = 0; bad[i]; i++) {
        struct tagset before = ts;
        assert_int_equal(tagset_parse(bad[i], &ts), -1);
        assert_memory_equal(&before, &ts, sizeof(ts));
    }
    assert_int_equal(tagset_parse(NULL, &ts), -1);
}

static void
test_tagset_fmt(void **st)
{
    struct tagset ts;
    char out[64];

    (void)st;
    tagset_parse("300-399,1-99,200,4094", &ts);
    tagset_fmt(&ts, out, sizeof(out));
    assert_string_equal(out, "1-99,200,300-399,4094");
    /* Round trip. */
    struct tagset again;
    assert_int_equal(tagset_parse(out, &again), 0);
    assert_memory_equal(&ts, &again, sizeof(ts));
    memset(&ts, 0, sizeof(ts));
    tagset_fmt(&ts, out, sizeof(out));
    assert_string_equal(out, "");
    /* Too small a buffer: truncated with "...", always terminated. */
    tagset_parse("1,3,5,7,9,11,13", &ts);
    tagset_fmt(&ts, out, 10);
    assert_true(strlen(out) < 10);
    assert_non_null(strstr(out, "..."));
    assert_int_equal(strncmp(out, "1,3", 3), 0);
}

/* ---- validators through a real libconfuse parse ------------------------ */
static cfg_opt_t opts[] = {
    CFG_STR("mac", NULL, CFGF_NONE),
    CFG_STR("uuid", NULL, CFGF_NONE),
    CFG_INT("vni", 0, CFGF_NONE),
    CFG_STR("tags", NULL, CFGF_NONE),
    CFG_STR_LIST("ifaces", NULL, CFGF_NONE),
    CFG_INT("hold", 10, CFGF_NONE),
    CFG_END()};

/* Parses text from a temporary file with cfg (freed); returns the
 * cfg_parse result and what conf_errfunc logged (stderr captured), the file
 * name replaced by FILE. */
static int
parse_with(cfg_t *cfg, const char *text, char *err, size_t errlen)
{
    char path[] = "/tmp/test_conf_util.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);

    cfg_set_error_function(cfg, conf_errfunc);
    conf_name_sections(cfg, path);

    /* Capture stderr, where log lines go in the foreground. */
    char epath[] = "/tmp/test_conf_util_err.XXXXXX";
    int efd = mkstemp(epath);
    int saved = dup(2);
    dup2(efd, 2);
    int rc = cfg_parse(cfg, path);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(efd, 0, SEEK_SET);
    ssize_t n = read(efd, err, errlen - 1);
    err[n > 0 ? n : 0] = '\0';
    close(efd);
    unlink(epath);

    /* Replace the random file name by a fixed one for the assertions. */
    char *p = strstr(err, path);
    if (p) {
        size_t pl = strlen(path);
        memmove(p + strlen("FILE"), p + pl, strlen(p + pl) + 1);
        memcpy(p, "FILE", 4);
    }
    cfg_free(cfg);
    unlink(path);
    return rc;
}

static int
parse(const char *text, char *err, size_t errlen)
{
    cfg_t *cfg = cfg_init(opts, CFGF_NONE);

    cfg_set_validate_func(cfg, "mac", conf_validate_mac);
    cfg_set_validate_func(cfg, "uuid", conf_validate_uuid);
    cfg_set_validate_func(cfg, "vni", conf_validate_vni);
    cfg_set_validate_func(cfg, "tags", conf_validate_tagset);
    cfg_set_validate_func(cfg, "ifaces", conf_validate_ifname);
    cfg_set_validate_func(cfg, "hold", conf_validate_positive);
    return parse_with(cfg, text, err, errlen);
}

static void
test_validators_accept(void **st)
{
    char err[1024];

    (void)st;
    assert_int_equal(
        parse("mac = \"02:00:00:aa:BB:cc\"\n"
              "uuid = \"6e5d2b1a-0c3f-4a5b-9c8d-7e6f5a4b3c2d\"\n"
              "vni = 16777215\n"
              "tags = \"100-199,300\"\n"
              "ifaces = {\"eth0\", \"veth-a.1\"}\n"
              "hold = 1\n",
              err, sizeof(err)),
        CFG_SUCCESS);
    assert_string_equal(err, "");
}

static void
expect_error(const char *text, const char *msg)
{
    char err[1024];

    assert_int_equal(parse(text, err, sizeof(err)), CFG_PARSE_ERROR);
    if (strstr(err, msg) == NULL)
        fail_msg("expected '%s' in '%s'", msg, err);
}

static void
test_validators_reject_with_line(void **st)
{
    (void)st;
    expect_error("\n\nmac = \"02:00:00:aa:bb\"\n",
                 "FILE:3: option 'mac': invalid MAC address '02:00:00:aa:bb'");
    expect_error("mac = \"02:00:00:aa:bb:zz\"\n", "FILE:1: option 'mac'");
    /* what passes here must parse later (nvdp_mac_parse wants one
     * separator throughout): a mixed one used to become 00:00:00:00:00:00 */
    expect_error("mac = \"02:00-00:aa:bb:cc\"\n",
                 "FILE:1: option 'mac': invalid MAC address");
    expect_error("uuid = \"6e5d2b1a-0c3f-4a5b-9c8d-7e6f5a4b3c2\"\n",
                 "FILE:1: option 'uuid': invalid UUID");
    expect_error("uuid = \"6e5d2b1a00c3f-4a5b-9c8d-7e6f5a4b3c2d\"\n",
                 "invalid UUID");
    expect_error("\nvni = 16777216\n",
                 "FILE:2: option 'vni': VNI 16777216 out of range");
    expect_error("vni = 0\n", "VNI 0 out of range");
    expect_error("tags = \"0-10\"\n", "option 'tags': invalid tag set");
    expect_error("tags = \"5-1\"\n", "invalid tag set");
    expect_error("ifaces = {\"eth0\", \"a/b\"}\n",
                 "option 'ifaces': invalid interface name 'a/b'");
    expect_error("ifaces = {\"0123456789abcdef\"}\n", "invalid interface name");
    expect_error("ifaces = {\"\"}\n", "invalid interface name");
    expect_error("hold = 0\n", "option 'hold': must be a positive integer");
    expect_error("hold = -3\n", "got -3");
}

static void
test_errfunc_without_file(void **st)
{
    char err[256];
    cfg_t *cfg = cfg_init(opts, CFGF_NONE);
    char epath[] = "/tmp/test_conf_util_err.XXXXXX";
    int efd = mkstemp(epath);
    int saved = dup(2);

    (void)st;
    cfg_set_error_function(cfg, conf_errfunc);
    cfg_set_validate_func(cfg, "hold", conf_validate_positive);
    dup2(efd, 2);
    int rc = cfg_parse_buf(cfg, "hold = 0\n");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(efd, 0, SEEK_SET);
    ssize_t n = read(efd, err, sizeof(err) - 1);
    err[n > 0 ? n : 0] = '\0';
    close(efd);
    unlink(epath);
    cfg_free(cfg);
    assert_int_equal(rc, CFG_PARSE_ERROR);
    assert_non_null(strstr(err, "must be a positive integer"));
}

/* ---- integer bounds: the same leaf name under different sections keeps
 * its own row; titled multi-sections, nesting and negative bounds. ------ */
static cfg_opt_t range_peer_opts[] = {
    CFG_INT("max", 0, CFGF_NONE),
    CFG_END()};
static cfg_opt_t range_vn_opts[] = {
    CFG_INT("vni", 1, CFGF_NONE),
    CFG_SEC("peer", range_peer_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_END()};
static cfg_opt_t range_rtx_opts[] = {
    CFG_INT("max", 100, CFGF_NONE),
    CFG_END()};
static cfg_opt_t range_opts[] = {
    CFG_INT("max", 1, CFGF_NONE),
    CFG_INT("cpu", -1, CFGF_NONE),
    CFG_INT("free", 0, CFGF_NONE),
    CFG_SEC("rtx", range_rtx_opts, CFGF_NONE),
    CFG_SEC("vn", range_vn_opts, CFGF_MULTI | CFGF_TITLE),
    CFG_END()};
static const struct conf_range range_table[] = {
    {"max", 0, 5},
    {"cpu", -1, 1023},
    {"rtx|max", 10, 600000},
    {"vn|vni", 1, 16777215},
    {"vn|peer|max", -10, -2},
    {NULL, 0, 0},
};

static int
range_validate(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_check_range(cfg, opt, range_table);
}

static int
range_parse(const char *text, char *err, size_t errlen)
{
    cfg_t *cfg = cfg_init(range_opts, CFGF_NONE);

    assert_int_equal(conf_set_ranges(cfg, range_table, range_validate), 0);
    return parse_with(cfg, text, err, errlen);
}

static void
expect_range_error(const char *text, const char *msg)
{
    char err[1024];

    assert_int_equal(range_parse(text, err, sizeof(err)), CFG_PARSE_ERROR);
    if (strstr(err, msg) == NULL)
        fail_msg("expected '%s' in '%s'", msg, err);
}

static void
test_ranges(void **st)
{
    char err[1024];

    (void)st;
    /* bounds are inclusive; an option without a row is not checked */
    assert_int_equal(range_parse("max = 5\ncpu = -1\nfree = -99\n"
                                 "rtx { max = 600000 }\n"
                                 "vn \"a\" { vni = 16777215\n"
                                 " peer \"p\" { max = -10 } }\n"
                                 "vn \"b\" { vni = 1 peer \"q\" { max = -2 } }\n",
                                 err, sizeof(err)),
                     CFG_SUCCESS);
    assert_string_equal(err, "");
    expect_range_error("\nmax = 6\n",
                       "FILE:2: option 'max': 6 out of range 0..5");
    /* "max" in rtx is checked against its own row, not the top-level one;
     * the single section rtx names the file (conf_name_sections) */
    expect_range_error("rtx {\n max = 9\n}\n",
                       "FILE:2: option 'max': 9 out of range 10..600000");
    expect_range_error("cpu = -2\n", "FILE:1: option 'cpu': -2 out of range "
                                      "-1..1023");
    expect_range_error("cpu = 1024\n", "1024 out of range -1..1023");
    expect_range_error("vn \"a\" { vni = 1 }\n\nvn \"b\" {\n vni = 0\n}\n",
                       "FILE:4: option 'vni': 0 out of range 1..16777215");
    expect_range_error("vn \"a\" {\n peer \"p\" {\n  max = -1\n }\n}\n",
                       "FILE:3: option 'max': -1 out of range -10..-2");

    /* a row naming no option is the table's bug, reported up front */
    static const struct conf_range typo[] = {{"rtx|maxx", 0, 1}, {NULL, 0, 0}};
    cfg_t *cfg = cfg_init(range_opts, CFGF_NONE);
    assert_int_equal(conf_set_ranges(cfg, typo, range_validate), -1);
    cfg_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_tagset_parse),
        cmocka_unit_test(test_tagset_fmt),
        cmocka_unit_test(test_validators_accept),
        cmocka_unit_test(test_validators_reject_with_line),
        cmocka_unit_test(test_errfunc_without_file),
        cmocka_unit_test(test_ranges),
    };
    log_init("test_conf_util", 1, 0);
    return cmocka_run_group_tests(t, NULL, NULL);
}
