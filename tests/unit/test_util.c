/* test_util.c - tests of the NVDP text helpers (nvdp_util.c): UUID, MAC,
 * addresses with prefixes and ranges, VN strings; good and bad inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nvdp.h"

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static void
t_uuid(void **s)
{
    struct nvdp_uuid u, keep;
    char buf[NVDP_UUID_STRLEN];
    static const char *const bad[] = {
        "", "6f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6",    /* short */
        "6f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6bb",      /* long */
        "6f1c3e2a8b4d-4e5f-9a0b-1c2d3e4f5a6b0",       /* dash moved */
        "6f1c3e2a-8b4d-4e5f-9a0b_1c2d3e4f5a6b",       /* wrong separator */
        "6g1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6b",       /* not hex */
        "{f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6}",
    };
    size_t i;

    assert_int_equal(nvdp_uuid_parse("6F1C3E2A-8B4D-4E5F-9A0B-1C2D3E4F5A6B", &u), 0);
    assert_int_equal(u.b[0], 0x6f);
    assert_int_equal(u.b[15], 0x6b);
    nvdp_uuid_fmt(&u, buf);
    assert_string_equal(buf, "6f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6b");
    keep = u;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(nvdp_uuid_parse(bad[i], &u), -1);
        /* A failed parse leaves the output alone. */
        assert_memory_equal(&u, &keep, sizeof(u));
    }
    assert_int_equal(nvdp_uuid_parse(NULL, &u), -1);
}

static void
t_mac(void **s)
{
    uint8_t m[6], keep[6];
    char buf[NVDP_MAC_STRLEN];
    static const char *const bad[] = {
        "", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5g",
        "52:54-00:12:34:56", "52.54.00.12.34.56", "5254:00:12:34:56:7",
        "52:54:00:12:34:56 ",
    };
    size_t i;

    assert_int_equal(nvdp_mac_parse("52:54:00:AB:cd:ef", m), 0);
    nvdp_mac_fmt(m, buf);
    assert_string_equal(buf, "52:54:00:ab:cd:ef");
    assert_int_equal(nvdp_mac_parse("02-00-00-00-01-01", m), 0);
    nvdp_mac_fmt(m, buf);
    assert_string_equal(buf, "02:00:00:00:01:01");
    memcpy(keep, m, 6);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nvdp_mac_parse(bad[i], m) != -1)
            fail_msg("accepted bad MAC '%s'", bad[i]);
        assert_memory_equal(m, keep, 6);
    }
    assert_int_equal(nvdp_mac_parse(NULL, m), -1);
    /* the group address's two spellings in nvdp.h are one address */
    {
        static const uint8_t group[6] = NVDP_GROUP_MAC_DEFAULT;
        assert_int_equal(nvdp_mac_parse(NVDP_GROUP_MAC_DEFAULT_STR, m), 0);
        assert_memory_equal(m, group, 6);
        nvdp_mac_fmt(group, buf);
        assert_string_equal(buf, NVDP_GROUP_MAC_DEFAULT_STR);
    }
}

static void
roundtrip(const char *in, int kind, int family, const char *out)
{
    struct nvdp_addr a;
    char buf[96];

    if (nvdp_addr_parse(MAC, in, &a) != 0)
        fail_msg("rejected '%s'", in ? in : "(null)");
    assert_int_equal(a.kind, kind);
    assert_int_equal(a.family, family);
    assert_memory_equal(a.mac, MAC, 6);
    assert_true(nvdp_addr_valid(&a));
    nvdp_addr_fmt_ip(&a, buf, sizeof(buf));
    assert_string_equal(buf, out);
}

static void
t_addr_parse(void **s)
{
    struct nvdp_addr a;
    static const uint8_t group[6] = {0x01, 0, 0x5e, 0, 0, 1};
    static const uint8_t zero[6];
    static const char *const bad[] = {
        "10.0.0", "10.0.0.256", "10.0.0.1/33", "2001:db8::/129",
        "10.0.0.1/24",          /* host bits set */
        "2001:db8::1/64",       /* host bits set */
        "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "10.0.0.0/+8",
        "10.0.0.0/24x", "/24", "10.0.0.9-10.0.0.1", /* reversed */
        "10.0.0.1-2001:db8::1", /* mixed families */
        "10.0.0.1-", "-10.0.0.1", "hello", " 10.0.0.1",
        "10.0.0.1 ", "::ffff:zz",
    };
    size_t i;

    roundtrip(NULL, NVDP_ADDR_MAC, 0, "");
    roundtrip("", NVDP_ADDR_MAC, 0, "");
    roundtrip("10.1.0.5", NVDP_ADDR_HOST, 4, "10.1.0.5");
    roundtrip("2001:DB8:100::5", NVDP_ADDR_HOST, 6, "2001:db8:100::5");
    roundtrip("10.1.0.0/24", NVDP_ADDR_PREFIX, 4, "10.1.0.0/24");
    roundtrip("0.0.0.0/0", NVDP_ADDR_PREFIX, 4, "0.0.0.0/0");
    roundtrip("10.1.0.5/32", NVDP_ADDR_PREFIX, 4, "10.1.0.5/32");
    roundtrip("10.1.0.128/25", NVDP_ADDR_PREFIX, 4, "10.1.0.128/25");
    roundtrip("2001:db8:100::/64", NVDP_ADDR_PREFIX, 6, "2001:db8:100::/64");
    roundtrip("2001:db8::1/128", NVDP_ADDR_PREFIX, 6, "2001:db8::1/128");
    roundtrip("10.1.0.10-10.1.0.20", NVDP_ADDR_RANGE, 4, "10.1.0.10-10.1.0.20");
    roundtrip("10.1.0.10-10.1.0.10", NVDP_ADDR_RANGE, 4, "10.1.0.10-10.1.0.10");
    roundtrip("2001:db8::10-2001:db8::20", NVDP_ADDR_RANGE, 6,
              "2001:db8::10-2001:db8::20");

    assert_int_equal(nvdp_addr_parse(MAC, "10.1.0.0/24", &a), 0);
    assert_int_equal(a.plen, 24);
    assert_int_equal(a.ip[0], 10);
    assert_int_equal(a.ip[4], 0); /* IPv4 uses only the first 4 bytes */

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (nvdp_addr_parse(MAC, bad[i], &a) != -1)
            fail_msg("accepted bad address '%s'", bad[i]);
    /* Station MACs only. */
    assert_int_equal(nvdp_addr_parse(group, "10.0.0.1", &a), -1);
    assert_int_equal(nvdp_addr_parse(zero, NULL, &a), -1);
}

static void
t_addr_valid_equal(void **s)
{
    struct nvdp_addr a, b;
    char buf[8];

    assert_int_equal(nvdp_addr_parse(MAC, "10.1.0.0/24", &a), 0);
    b = a;
    assert_true(nvdp_addr_equal(&a, &b));
    b.plen = 25;
    assert_false(nvdp_addr_equal(&a, &b));
    b = a;
    b.mac[5]++;
    assert_false(nvdp_addr_equal(&a, &b));
    b = a;
    b.kind = NVDP_ADDR_HOST;
    assert_false(nvdp_addr_equal(&a, &b));

    assert_int_equal(nvdp_addr_parse(MAC, "10.1.0.1-10.1.0.9", &a), 0);
    assert_int_equal(nvdp_addr_parse(MAC, "10.1.0.1-10.1.0.8", &b), 0);
    assert_false(nvdp_addr_equal(&a, &b));
    b.ip_hi[3] = 9;
    assert_true(nvdp_addr_equal(&a, &b));
    /* Bytes beyond the family's length do not matter. */
    b.ip[10] = 0x77;
    assert_true(nvdp_addr_equal(&a, &b));

    assert_int_equal(nvdp_addr_parse(MAC, NULL, &a), 0);
    assert_int_equal(nvdp_addr_parse(MAC, "", &b), 0);
    assert_true(nvdp_addr_equal(&a, &b));

    /* Hand-made invalid ones. */
    memset(&a, 0, sizeof(a));
    memcpy(a.mac, MAC, 6);
    a.kind = NVDP_ADDR_HOST;
    assert_false(nvdp_addr_valid(&a)); /* no family */
    a.family = 5;
    assert_false(nvdp_addr_valid(&a));
    a.kind = NVDP_ADDR_MAC;
    a.family = 4;
    assert_false(nvdp_addr_valid(&a)); /* MAC only has family 0 */
    a.kind = 9;
    assert_false(nvdp_addr_valid(&a));
    a.kind = NVDP_ADDR_PREFIX;
    a.family = 6;
    a.plen = 129;
    assert_false(nvdp_addr_valid(&a));

    /* A too-small output buffer truncates, never overflows. */
    assert_int_equal(nvdp_addr_parse(MAC, "10.1.0.10-10.1.0.20", &a), 0);
    nvdp_addr_fmt_ip(&a, buf, sizeof(buf));
    assert_string_equal(buf, "10.1.0.");
}

static void
t_vn(void **s)
{
    struct nvdp_vn vn, other;
    char buf[64];
    static const char *const bad[] = {
        "", "vni:", "vni:16777216", "vni:-1", "vni: 5", "vni:5x", "vni:0x10",
        "uuid:", "uuid:1234", "abc", "-5", "+5", " 5", "16777216",
        "99999999999999999999", "vni:99999999999999999999",
        "3b241101-e2bb-4255-8caf-4136c566a96z",
    };
    size_t i;

    assert_int_equal(nvdp_vn_parse("vni:10100", &vn), 0);
    assert_int_equal(vn.kind, NVDP_VN_VNI);
    assert_int_equal(vn.vni, 10100);
    nvdp_vn_fmt(&vn, buf, sizeof(buf));
    assert_string_equal(buf, "vni:10100");
    assert_int_equal(nvdp_vn_parse("10100", &other), 0);
    assert_true(nvdp_vn_equal(&vn, &other));
    assert_int_equal(nvdp_vn_parse("vni:16777215", &vn), 0);
    assert_int_equal(vn.vni, NVDP_VNI_MAX);
    assert_int_equal(nvdp_vn_parse("0", &vn), 0);
    assert_int_equal(vn.vni, 0);
    assert_false(nvdp_vn_equal(&vn, &other));

    assert_int_equal(
        nvdp_vn_parse("uuid:3B241101-E2BB-4255-8CAF-4136C566A962", &vn), 0);
    assert_int_equal(vn.kind, NVDP_VN_UUID);
    nvdp_vn_fmt(&vn, buf, sizeof(buf));
    assert_string_equal(buf, "uuid:3b241101-e2bb-4255-8caf-4136c566a962");
    assert_int_equal(
        nvdp_vn_parse("3b241101-e2bb-4255-8caf-4136c566a962", &other), 0);
    assert_true(nvdp_vn_equal(&vn, &other));
    other.uuid.b[15] ^= 1;
    assert_false(nvdp_vn_equal(&vn, &other));
    /* A VNI never equals a UUID. */
    assert_int_equal(nvdp_vn_parse("vni:5", &other), 0);
    assert_false(nvdp_vn_equal(&vn, &other));

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (nvdp_vn_parse(bad[i], &vn) != -1)
            fail_msg("accepted bad VN '%s'", bad[i]);
    assert_int_equal(nvdp_vn_parse(NULL, &vn), -1);

    memset(&vn, 0, sizeof(vn));
    nvdp_vn_fmt(&vn, buf, sizeof(buf));
    assert_string_equal(buf, "none");
}

/* Epochs scope txids: never 0, and a restart within the same second must
 * still give the peer a different one. */
static void
test_epoch_new(void **state)
{
    (void)state;
    uint32_t a = nvdp_epoch_new(), b = nvdp_epoch_new();
    assert_int_not_equal(a, 0);
    assert_int_not_equal(b, 0);
    assert_int_not_equal(a, b);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_uuid),
        cmocka_unit_test(t_mac),
        cmocka_unit_test(t_addr_parse),
        cmocka_unit_test(t_addr_valid_equal),
        cmocka_unit_test(test_epoch_new),
        cmocka_unit_test(t_vn),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
