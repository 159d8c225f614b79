/* test_hv_state.c - hv-agent's VNIC table and state file: add, modify,
 * remove, the JSON round trip, atomic replacement, corrupt files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv_state.h"

struct fx {
    char dir[64];
    char path[128];
    char err[512];
};

static int
setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_hv_state.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/hv-agent.state", f->dir);
    *st = f;
    return 0;
}

static int
teardown(void **st)
{
    struct fx *f = *st;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void
mkuuid(struct nvdp_uuid *u, unsigned n)
{
    memset(u, 0, sizeof(*u));
    u->b[0] = 0x11;
    u->b[6] = 0x40;
    u->b[8] = 0x80;
    u->b[14] = (uint8_t)(n >> 8);
    u->b[15] = (uint8_t)n;
}

static struct hv_vnic *
add(struct hv_state *s, unsigned n, const char *vn, const char *mac,
    const char *const *ips, size_t nips)
{
    struct nvdp_addr a[8];
    struct nvdp_uuid u;
    struct hv_vnic *v;

    mkuuid(&u, n);
    assert_non_null(v = hv_state_add(s, &u));
    assert_int_equal(nvdp_vn_parse(vn, &v->vn), 0);
    assert_int_equal(nvdp_mac_parse(mac, v->mac), 0);
    for (size_t i = 0; i < nips; i++)
        assert_int_equal(nvdp_addr_parse(v->mac, ips[i], &a[i]), 0);
    if (nips == 0) {
        assert_int_equal(nvdp_addr_parse(v->mac, NULL, &a[0]), 0);
        nips = 1;
    }
    assert_int_equal(hv_state_set_addrs(v, a, nips), 0);
    v->want = HV_WANT_ATTACH;
    return v;
}

static char *
slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, (1 << 20) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void
spew(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void
test_add_find_remove(void **st)
{
    struct hv_state s;
    struct nvdp_uuid u;
    struct hv_vnic *v;

    (void)st;
    hv_state_init(&s);
    /* enough VNICs to share hash buckets */
    for (unsigned i = 0; i < 10000; i++)
        add(&s, i, "vni:10100", "52:54:00:00:00:01", NULL, 0);
    assert_int_equal(s.count, 10000);
    for (unsigned i = 0; i < 10000; i += 7) {
        mkuuid(&u, i);
        v = hv_state_find(&s, &u);
        assert_non_null(v);
        assert_memory_equal(v->uuid.b, u.b, 16);
        assert_int_equal(v->state, HV_VNIC_PENDING);
        assert_int_equal(v->up, 1);
    }
    mkuuid(&u, 77);
    hv_state_remove(&s, hv_state_find(&s, &u));
    assert_null(hv_state_find(&s, &u));
    mkuuid(&u, 78);
    assert_non_null(hv_state_find(&s, &u));
    assert_int_equal(s.count, 9999);
    mkuuid(&u, 20000);
    assert_null(hv_state_find(&s, &u));
    hv_state_free(&s);
    assert_int_equal(s.count, 0);
}

static void
test_modify_addrs_and_dirty(void **st)
{
    static const char *const ips[] = {"10.0.0.1", "10.0.0.0/24"};
    struct nvdp_addr big[NVDP_MAX_ADDRS + 1];
    struct hv_state s;
    struct hv_vnic *v, *w;

    (void)st;
    hv_state_init(&s);
    v = add(&s, 1, "vni:1", "52:54:00:00:00:01", ips, 2);
    w = add(&s, 2, "vni:1", "52:54:00:00:00:02", NULL, 0);
    assert_int_equal(v->naddr, 2);
    assert_int_equal(v->addr[1].kind, NVDP_ADDR_PREFIX);
    assert_int_equal(w->naddr, 1);
    assert_int_equal(w->addr[0].kind, NVDP_ADDR_MAC);
    /* replaced wholesale; too many is refused and changes nothing */
    memset(big, 0, sizeof(big));
    assert_int_equal(hv_state_set_addrs(v, big, NVDP_MAX_ADDRS + 1), -1);
    assert_int_equal(v->naddr, 2);
    assert_int_equal(hv_state_set_addrs(v, v->addr, 1), 0);
    assert_int_equal(v->naddr, 1);
    assert_int_equal(hv_state_set_addrs(v, NULL, 0), 0);
    assert_int_equal(v->naddr, 0);

    /* the dirty queue: FIFO, each VNIC once */
    hv_state_mark(&s, w);
    hv_state_mark(&s, v);
    hv_state_mark(&s, w);
    assert_ptr_equal(hv_state_next_dirty(&s), w);
    assert_ptr_equal(hv_state_next_dirty(&s), v);
    assert_null(hv_state_next_dirty(&s));
    /* removing a queued VNIC takes it off the queue */
    hv_state_mark(&s, v);
    hv_state_remove(&s, v);
    assert_null(hv_state_next_dirty(&s));
    hv_state_free(&s);
}

static void
test_roundtrip(void **st)
{
    static const char *const ips[] = {"10.0.0.1", "2001:db8::1",
                                      "10.1.0.0/16", "10.2.0.1-10.2.0.9"};
    struct fx *f = *st;
    struct hv_state s, t;
    struct hv_vnic *v, *l;
    struct nvdp_uuid u;
    struct stat sb;

    hv_state_init(&s);
    v = add(&s, 1, "vni:10100", "52:54:00:aa:bb:01", ips, 4);
    snprintf(v->vn_name, sizeof(v->vn_name), "blue");
    snprintf(v->ifname, sizeof(v->ifname), "vnet0");
    v->tag = 123;
    v->state = HV_VNIC_ATTACHED;
    v->up = 0;
    v = add(&s, 2, "uuid:6f1c2f7e-4a3b-4d2c-9e8f-0a1b2c3d4e5f",
            "52:54:00:aa:bb:02", NULL, 0);
    v->want = HV_WANT_PREASSOC;
    v->reserve = 1;
    v->tag_hint = 7;
    v = add(&s, 3, "vni:5", "52:54:00:aa:bb:03", NULL, 0);
    v->want = HV_WANT_DETACH;
    v->intent = NVDP_INTENT_MIGRATION;
    v->state = HV_VNIC_DETACHING;
    v = add(&s, 4, "vni:5", "52:54:00:aa:bb:04", NULL, 0);
    v->state = HV_VNIC_WITHDRAWN;
    v->tag_hint = 99;
    /* reasons are the NVE's free text: quotes, backslashes, controls */
    snprintf(v->reason, sizeof(v->reason), "port \"shut\"\\ by\tops\x01");
    v = add(&s, 5, "vni:5", "52:54:00:aa:bb:05", NULL, 0);
    v->state = HV_VNIC_FAILED;
    v->status = NVDP_ST_NO_TAGS;

    assert_int_equal(hv_state_save(&s, f->path, f->err, sizeof(f->err)), 0);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    hv_state_init(&t);
    assert_int_equal(hv_state_load(&t, f->path, f->err, sizeof(f->err)), 0);
    assert_int_equal(t.count, 5);
    /* creation order survives */
    l = TAILQ_FIRST(&t.all);
    mkuuid(&u, 1);
    assert_memory_equal(l->uuid.b, u.b, 16);

    assert_int_equal(l->vn.kind, NVDP_VN_VNI);
    assert_int_equal(l->vn.vni, 10100);
    assert_string_equal(l->vn_name, "blue");
    assert_string_equal(l->ifname, "vnet0");
    assert_int_equal(l->naddr, 4);
    v = TAILQ_FIRST(&s.all);
    for (int i = 0; i < 4; i++)
        assert_true(nvdp_addr_equal(&l->addr[i], &v->addr[i]));
    assert_int_equal(l->want, HV_WANT_ATTACH);
    assert_int_equal(l->up, 0);
    /* the tag comes back as the hint, the state as pending: the NVE's
     * answer to the replay decides */
    assert_int_equal(l->tag_hint, 123);
    assert_int_equal(l->tag, 0);
    assert_int_equal(l->state, HV_VNIC_PENDING);
    assert_true(l->may_exist);

    mkuuid(&u, 2);
    l = hv_state_find(&t, &u);
    assert_int_equal(l->vn.kind, NVDP_VN_UUID);
    assert_int_equal(l->want, HV_WANT_PREASSOC);
    assert_int_equal(l->reserve, 1);
    assert_int_equal(l->tag_hint, 7);
    assert_int_equal(l->naddr, 1);
    assert_int_equal(l->addr[0].kind, NVDP_ADDR_MAC);

    mkuuid(&u, 3);
    l = hv_state_find(&t, &u);
    assert_int_equal(l->want, HV_WANT_DETACH);
    assert_int_equal(l->intent, NVDP_INTENT_MIGRATION);
    assert_int_equal(l->state, HV_VNIC_DETACHING);

    /* a withdrawal is the NVE's decision: it survives a restart */
    mkuuid(&u, 4);
    l = hv_state_find(&t, &u);
    assert_int_equal(l->state, HV_VNIC_WITHDRAWN);
    assert_string_equal(l->reason, "port \"shut\"\\ by\tops\x01");
    assert_int_equal(l->tag_hint, 99);
    assert_false(l->may_exist);

    /* a refusal does not: retried by the resync */
    mkuuid(&u, 5);
    l = hv_state_find(&t, &u);
    assert_int_equal(l->state, HV_VNIC_PENDING);

    /* saving what was loaded gives the same file */
    char *a = slurp(f->path);
    char p2[160];
    snprintf(p2, sizeof(p2), "%s.2", f->path);
    assert_int_equal(hv_state_save(&t, p2, f->err, sizeof(f->err)), 0);
    char *b = slurp(p2);
    /* only the failed VNIC's state is not kept: otherwise identical */
    assert_string_equal(a, b);
    free(a);
    free(b);
    hv_state_free(&s);
    hv_state_free(&t);
}

static void
test_missing_file_is_empty(void **st)
{
    struct fx *f = *st;
    struct hv_state s;

    hv_state_init(&s);
    assert_int_equal(hv_state_load(&s, f->path, f->err, sizeof(f->err)), 0);
    assert_int_equal(s.count, 0);
    hv_state_free(&s);
}

static void
test_atomic_replace(void **st)
{
    struct fx *f = *st;
    struct hv_state s;
    char tmp[160];
    char *before, *after;

    hv_state_init(&s);
    add(&s, 1, "vni:1", "52:54:00:00:00:01", NULL, 0);
    assert_int_equal(hv_state_save(&s, f->path, f->err, sizeof(f->err)), 0);
    before = slurp(f->path);

    /* a save that cannot complete leaves the old file untouched: here the
     * temporary file cannot be created */
    add(&s, 2, "vni:1", "52:54:00:00:00:02", NULL, 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    assert_int_equal(mkdir(tmp, 0700), 0);
    assert_int_equal(hv_state_save(&s, f->path, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, ".tmp"));
    after = slurp(f->path);
    assert_string_equal(before, after);
    free(after);
    assert_int_equal(rmdir(tmp), 0);

    /* then it succeeds, replaces the file and leaves no temporary */
    assert_int_equal(hv_state_save(&s, f->path, f->err, sizeof(f->err)), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    after = slurp(f->path);
    assert_string_not_equal(before, after);
    assert_non_null(strstr(after, "52:54:00:00:00:02"));
    free(before);
    free(after);

    /* a directory that does not exist: an error, no crash */
    assert_int_equal(hv_state_save(&s, "/nonexistent-dir/x.state", f->err,
                                   sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "/nonexistent-dir/x.state.tmp"));
    hv_state_free(&s);
}

static void
corrupt_case(struct fx *f, const char *text, const char *why)
{
    struct hv_state s;
    char aside[160];
    char *kept;

    spew(f->path, text);
    hv_state_init(&s);
    assert_int_equal(hv_state_load(&s, f->path, f->err, sizeof(f->err)), -1);
    assert_int_equal(s.count, 0);
    if (strstr(f->err, why) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", f->err, why);
    assert_non_null(strstr(f->err, ".corrupt"));
    /* kept aside for a human, so the next start is clean */
    snprintf(aside, sizeof(aside), "%s.corrupt", f->path);
    kept = slurp(aside);
    assert_string_equal(kept, text);
    free(kept);
    assert_int_equal(access(f->path, F_OK), -1);
    hv_state_init(&s);
    assert_int_equal(hv_state_load(&s, f->path, f->err, sizeof(f->err)), 0);
    hv_state_free(&s);
}

#define GOOD_VNIC "{\"vnic\": \"11000000-0000-4000-8000-000000000001\", " \
    "\"vn\": \"vni:1\", \"mac\": \"52:54:00:00:00:01\", \"want\": \"attached\"}"

static void
test_corrupt_files(void **st)
{
    struct fx *f = *st;

    corrupt_case(f, "{\"version\": 1, \"vnics\": [" GOOD_VNIC, "JSON");
    corrupt_case(f, "\x01\x02garbage", "JSON");
    corrupt_case(f, "{\"version\": 1, \"vnics\": []} trailing", "trailing");
    corrupt_case(f, "{\"version\": 2, \"vnics\": []}", "version");
    corrupt_case(f, "[1, 2, 3]", "version");
    corrupt_case(f, "{\"version\": 1}", "vnics");
    corrupt_case(f, "{\"version\": 1, \"vnics\": [" GOOD_VNIC ", 5]}",
                 "vnics[1]");
    corrupt_case(f, "{\"version\": 1, \"vnics\": [{\"vnic\": \"nope\", "
                    "\"vn\": \"vni:1\", \"mac\": \"52:54:00:00:00:01\", "
                    "\"want\": \"attached\"}]}", "vnic");
    corrupt_case(f, "{\"version\": 1, \"vnics\": [" GOOD_VNIC ", "
                    GOOD_VNIC "]}", "duplicate");
    corrupt_case(f, "{\"version\": 1, \"vnics\": [{\"vnic\": "
                    "\"11000000-0000-4000-8000-000000000001\", \"vn\": "
                    "\"vni:1\", \"mac\": \"52:54:00:00:00:01\", \"want\": "
                    "\"attached\", \"tag\": 5000}]}", "tag");
    corrupt_case(f, "{\"version\": 1, \"vnics\": [{\"vnic\": "
                    "\"11000000-0000-4000-8000-000000000001\", \"vn\": "
                    "\"vni:1\", \"mac\": \"52:54:00:00:00:01\", \"want\": "
                    "\"attached\", \"ips\": [\"10.0.0.300\"]}]}", "ips");
    corrupt_case(f, "{\"version\": 1, \"vnics\": [{\"vnic\": "
                    "\"11000000-0000-4000-8000-000000000001\", \"vn\": "
                    "\"vni:1\", \"mac\": \"52:54:00:00:00:01\", \"want\": "
                    "\"sideways\"}]}", "want");
    corrupt_case(f, "", "JSON");
}

static void
test_good_handwritten_file(void **st)
{
    struct fx *f = *st;
    struct hv_state s;

    spew(f->path, "{\"version\": 1, \"vnics\": [" GOOD_VNIC "]}\n\n");
    hv_state_init(&s);
    assert_int_equal(hv_state_load(&s, f->path, f->err, sizeof(f->err)), 0);
    assert_int_equal(s.count, 1);
    assert_int_equal(TAILQ_FIRST(&s.all)->naddr, 1);
    assert_int_equal(TAILQ_FIRST(&s.all)->up, 1);
    hv_state_free(&s);
}

static void
test_vnic_json(void **st)
{
    static const char *const ips[] = {"10.0.0.1"};
    struct json_object *o, *x;
    struct hv_state s;
    struct hv_vnic *v;

    (void)st;
    hv_state_init(&s);
    v = add(&s, 1, "vni:10100", "52:54:00:00:00:01", ips, 1);
    v->tag = 55;
    v->state = HV_VNIC_PENDING;
    o = hv_vnic_to_json(v);
    assert_true(json_object_object_get_ex(o, "state", &x));
    assert_string_equal(json_object_get_string(x), "pending");
    /* no tag shown until attached */
    assert_true(json_object_object_get_ex(o, "tag", &x));
    assert_null(x);
    assert_true(json_object_object_get_ex(o, "ips", &x));
    assert_int_equal(json_object_array_length(x), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(x, 0)),
                        "10.0.0.1");
    json_object_put(o);

    v->state = HV_VNIC_ATTACHED;
    o = hv_vnic_to_json(v);
    assert_true(json_object_object_get_ex(o, "tag", &x));
    assert_int_equal(json_object_get_int(x), 55);
    assert_true(json_object_object_get_ex(o, "status", &x));
    assert_null(x);
    json_object_put(o);

    v->state = HV_VNIC_FAILED;
    v->status = NVDP_ST_NOT_AUTHORISED;
    snprintf(v->reason, sizeof(v->reason), "MAC not allowed on port p1");
    o = hv_vnic_to_json(v);
    assert_true(json_object_object_get_ex(o, "status", &x));
    assert_string_equal(json_object_get_string(x), "not-authorised");
    assert_true(json_object_object_get_ex(o, "reason", &x));
    assert_string_equal(json_object_get_string(x), "MAC not allowed on port p1");
    assert_true(json_object_object_get_ex(o, "vnic", &x));
    assert_string_equal(json_object_get_string(x),
                        "11000000-0000-4000-8000-000000000001");
    json_object_put(o);
    assert_string_equal(hv_vnic_state_str(HV_VNIC_WITHDRAWN), "withdrawn");
    assert_string_equal(hv_vnic_state_str(99), "unknown");
    hv_state_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_remove),
        cmocka_unit_test(test_modify_addrs_and_dirty),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_atomic_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_handwritten_file, setup,
                                        teardown),
        cmocka_unit_test(test_vnic_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
