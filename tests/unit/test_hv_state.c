/* test_hv_state.c - hv-agent's VNIC table and its records: add, modify,
 * remove, the journal round trip, upserts and removals, what a commit
 * writes and how a request's change is undone, version 1 state files
 * (read once, entry by entry, damaged ones too), records with bad fields. */
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

static void
spew_n(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
}


/* What hv.c does with a dump: a journal holding the whole state. */
static void
write_journal(struct fx *f, struct hv_state *s)
{
    struct hv_journal j;
    struct hv_jbuf b = {0};

    hv_journal_init(&j, f->path, NULL);
    hv_state_dump(s, &b);
    assert_int_equal(hv_journal_rewrite(&j, &b, f->err, sizeof(f->err)), 0);
    hv_state_saved(s, 1);
    hv_journal_close(&j);
    hv_jbuf_free(&b);
}

static void
load_ok(struct fx *f, struct hv_state *t, struct hv_state_load *r)
{
    hv_state_init(t);
    assert_int_equal(hv_state_load(t, f->path, r, f->err, sizeof(f->err)), 0);
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
    struct hv_state_load r;
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

    write_journal(f, &s);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* one record per VNIC, accounted for the compaction bound */
    assert_true(s.live_bytes > 0 && s.live_bytes < (uint64_t)sb.st_size);

    load_ok(f, &t, &r);
    assert_false(hv_journal_damaged(&r.scan));
    assert_false(r.legacy);
    assert_int_equal(r.scan.records, 5);
    assert_int_equal(t.count, 5);
    assert_int_equal(t.live_bytes, s.live_bytes);
    assert_false(hv_state_unsaved(&t)); /* loading is not a change */
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

    /* what was loaded gives the same records (the failed VNIC's state is
     * not kept: the tag it had as a hint is) */
    struct hv_jbuf a = {0}, b = {0};
    hv_state_dump(&s, &a);
    hv_state_dump(&t, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    hv_jbuf_free(&a);
    hv_jbuf_free(&b);
    hv_state_free(&s);
    hv_state_free(&t);
}

static void
test_missing_file_is_empty(void **st)
{
    struct fx *f = *st;
    struct hv_state_load r;
    struct hv_state s;

    load_ok(f, &s, &r);
    assert_true(r.missing);
    assert_int_equal(s.count, 0);
    hv_state_free(&s);
    /* unreadable (not missing) is an error, not an empty state */
    assert_int_equal(mkdir(f->path, 0700), 0);
    hv_state_init(&s);
    assert_int_equal(hv_state_load(&s, f->path, &r, f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, f->path));
    rmdir(f->path);
    hv_state_free(&s);
}

/* Commits the pending changes of s into the journal at f->path. */
static void
commit(struct fx *f, struct hv_state *s, struct hv_journal *j)
{
    struct hv_jbuf b = {0};

    hv_state_batch(s, &b);
    assert_int_equal(hv_journal_append(j, &b, f->err, sizeof(f->err)), 0);
    hv_state_saved(s, 0);
    hv_jbuf_free(&b);
}

static void
test_changes_and_removals(void **st)
{
    static const char *const ip1[] = {"10.0.0.1"};
    struct fx *f = *st;
    struct hv_state s, t;
    struct hv_state_load r;
    struct hv_journal j;
    struct hv_vnic *x, *y, *l;
    struct nvdp_addr a2;
    struct nvdp_uuid u;
    struct stat sb;
    uint64_t live;

    hv_state_init(&s);
    write_journal(f, &s); /* an empty journal */
    assert_int_equal(stat(f->path, &sb), 0);
    hv_journal_init(&j, f->path, NULL);
    assert_int_equal(hv_journal_open(&j, (uint64_t)sb.st_size, 2, f->err,
                                     sizeof(f->err)), 0);

    x = add(&s, 1, "vni:1", "52:54:00:00:00:01", ip1, 1);
    y = add(&s, 2, "vni:1", "52:54:00:00:00:02", NULL, 0);
    hv_state_touch(&s, x);
    hv_state_touch(&s, y);
    hv_state_touch(&s, x); /* once is enough */
    assert_true(hv_state_unsaved(&s));
    commit(f, &s, &j);
    assert_false(hv_state_unsaved(&s));
    assert_true(x->jlen > 0 && y->jlen > 0);
    assert_int_equal(s.live_bytes, x->jlen + y->jlen);

    /* x changes, y goes: x's record, and y's removal */
    assert_int_equal(nvdp_addr_parse(x->mac, "10.0.0.2", &a2), 0);
    assert_int_equal(hv_state_set_addrs(x, &a2, 1), 0);
    x->tag = 42;
    hv_state_touch(&s, x);
    hv_state_remove(&s, y);
    assert_int_equal(s.nremoved, 1);
    /* a VNIC never committed leaves nothing to cancel */
    y = add(&s, 3, "vni:1", "52:54:00:00:00:03", NULL, 0);
    hv_state_remove(&s, y);
    assert_int_equal(s.nremoved, 1);
    commit(f, &s, &j);
    assert_int_equal(s.nremoved, 0);
    live = s.live_bytes;
    assert_int_equal(live, x->jlen);

    load_ok(f, &t, &r);
    assert_false(hv_journal_damaged(&r.scan));
    assert_int_equal(t.count, 1);
    mkuuid(&u, 1);
    assert_non_null(l = hv_state_find(&t, &u));
    assert_true(nvdp_addr_equal(&l->addr[0], &a2));
    assert_int_equal(l->tag_hint, 42);
    /* only the latest record of x is live */
    assert_int_equal(t.live_bytes, live);
    hv_state_free(&t);

    /* removed and added again in one commit: present */
    mkuuid(&u, 1);
    hv_state_remove(&s, hv_state_find(&s, &u));
    x = add(&s, 1, "vni:7", "52:54:00:00:00:07", NULL, 0);
    hv_state_touch(&s, x);
    commit(f, &s, &j);
    load_ok(f, &t, &r);
    assert_int_equal(t.count, 1);
    assert_int_equal(TAILQ_FIRST(&t.all)->vn.vni, 7);
    hv_state_free(&t);
    hv_journal_close(&j);
    hv_state_free(&s);
}

static void
test_undo(void **st)
{
    static const char *const ip1[] = {"10.0.0.1"};
    struct hv_state s;
    struct hv_vnic *v, *n;
    struct nvdp_addr a;

    (void)st;
    hv_state_init(&s);
    v = add(&s, 1, "vni:1", "52:54:00:00:00:01", ip1, 1);
    v->state = HV_VNIC_FAILED;
    v->status = NVDP_ST_NO_TAGS;
    snprintf(v->reason, sizeof(v->reason), "no tags left");
    v->tag = 9;
    hv_state_saved(&s, 0);

    /* a request changes everything it may change... */
    assert_int_equal(hv_state_undo_save(&s, v, 0), 0);
    assert_true(v->unsaved);
    nvdp_vn_parse("vni:2", &v->vn);
    snprintf(v->vn_name, sizeof(v->vn_name), "red");
    nvdp_addr_parse(v->mac, "10.9.9.9", &a);
    assert_int_equal(hv_state_set_addrs(v, &a, 1), 0);
    v->want = HV_WANT_DETACH;
    v->intent = NVDP_INTENT_SHUTDOWN;
    v->up = 0;
    snprintf(v->ifname, sizeof(v->ifname), "vnet9");
    v->state = HV_VNIC_PENDING;
    v->status = NVDP_ST_OK;
    v->reason[0] = '\0';
    /* ...a second snapshot in the same commit keeps the first */
    assert_int_equal(hv_state_undo_save(&s, v, 0), 0);
    v->up = 1;
    /* and the commit fails: all of it back */
    assert_int_equal(hv_state_undo(v), 0);
    assert_int_equal(v->vn.vni, 1);
    assert_string_equal(v->vn_name, "");
    assert_int_equal(v->naddr, 1);
    assert_int_equal(v->addr[0].ip[3], 1);
    assert_int_equal(v->want, HV_WANT_ATTACH);
    assert_int_equal(v->intent, 0);
    assert_int_equal(v->up, 1);
    assert_string_equal(v->ifname, "");
    assert_int_equal(v->state, HV_VNIC_FAILED);
    assert_int_equal(v->status, NVDP_ST_NO_TAGS);
    assert_string_equal(v->reason, "no tags left");
    assert_int_equal(v->tag, 9); /* the engine's, not the request's */
    assert_null(v->undo);
    assert_int_equal(hv_state_undo(v), 0); /* nothing left to undo */

    /* a VNIC a request created: the caller removes it */
    n = add(&s, 2, "vni:1", "52:54:00:00:00:02", NULL, 0);
    assert_int_equal(hv_state_undo_save(&s, n, 1), 0);
    assert_int_equal(hv_state_undo(n), 1);
    hv_state_remove(&s, n);
    assert_int_equal(s.nremoved, 0);

    /* a commit that succeeds forgets how to undo */
    assert_int_equal(hv_state_undo_save(&s, v, 0), 0);
    assert_non_null(v->undo);
    hv_state_saved(&s, 0);
    assert_null(v->undo);
    assert_false(v->unsaved);
    hv_state_free(&s);
}

/* A version 1 state file as that version wrote it: one entry per line. */
#define V1_HEAD "{\"version\": 1, \"vnics\": [\n"
#define V1_E(n, extra) "  {\"vnic\": \"11000000-0000-4000-8000-00000000000" \
    #n "\", \"vn\": \"vni:1\", \"mac\": \"52:54:00:00:00:0" #n "\", " \
    "\"ips\": [], \"want\": \"attached\", \"reserve\": false, \"up\": true" \
    extra "}"
#define V1_TAIL "\n]}\n"

static void
legacy_case(struct fx *f, const char *text, size_t len, unsigned records,
            unsigned damaged, const char *why)
{
    struct hv_state_load r;
    struct hv_state s;

    spew_n(f->path, text, len);
    load_ok(f, &s, &r);
    assert_true(r.legacy);
    if (r.scan.records != records || r.scan.damaged != damaged ||
        (why != NULL && strstr(r.scan.first_bad, why) == NULL))
        fail_msg("%u records, %u damaged (%s), wanted %u, %u (%s)",
                 (unsigned)r.scan.records, (unsigned)r.scan.damaged,
                 r.scan.first_bad, records, damaged, why ? why : "-");
    assert_int_equal(s.count, records);
    /* nothing loaded counts as a change to commit: hv.c rewrites it */
    assert_false(hv_state_unsaved(&s));
    hv_state_free(&s);
}

static void
test_legacy_files(void **st)
{
    static const char good[] = V1_HEAD V1_E(1, ", \"tag\": 5") ",\n"
        V1_E(2, "") ",\n" V1_E(3, "") V1_TAIL;
    struct fx *f = *st;
    char buf[1024];
    size_t n;

    legacy_case(f, good, strlen(good), 3, 0, NULL);
    /* as a person might write it: one line */
    legacy_case(f, "{\"version\": 1, \"vnics\": [" V1_E(1, "") "]}\n\n",
                strlen("{\"version\": 1, \"vnics\": [" V1_E(1, "") "]}\n\n"),
                1, 0, NULL);
    /* one bad field: that entry is lost, the others load */
    snprintf(buf, sizeof(buf), "%s", V1_HEAD V1_E(1, "") ",\n"
             V1_E(2, ", \"tag\": 5000") ",\n" V1_E(3, "") V1_TAIL);
    legacy_case(f, buf, strlen(buf), 2, 1, "bad \"tag\"");
    /* truncated: what came before the cut loads */
    n = (size_t)(strstr(good, V1_E(3, "")) - good) + 30;
    legacy_case(f, good, n, 2, 2, "not a JSON object");
    /* NUL bytes inside an entry */
    memcpy(buf, good, sizeof(good));
    memset(strstr(buf, "52:54:00:00:00:02"), 0, 4);
    legacy_case(f, buf, sizeof(good) - 1, 2, 1, "not a JSON object");
    /* binary junk instead of an entry */
    snprintf(buf, sizeof(buf), "%s", good);
    memcpy(strstr(buf, "  {\"vnic\": \"11000000-0000-4000-8000-000000000002"),
           "\x01\xff\x7f\x80junk", 8);
    legacy_case(f, buf, strlen(buf), 2, 1, "not a JSON object");
    /* valid JSON but not ours */
    legacy_case(f, "{\"version\": 2, \"vnics\": []}", 27, 0, 1,
                "not a version 1");
}

/* A journal whose records were written by someone else (CRCs right). */
static void
record_case(struct fx *f, const char *rec, const char *why)
{
    struct hv_state s, t;
    struct hv_state_load r;
    struct hv_journal j;
    struct hv_jbuf b = {0};
    size_t at;

    hv_state_init(&s);
    add(&s, 1, "vni:1", "52:54:00:00:00:01", NULL, 0);
    hv_state_dump(&s, &b);
    at = b.len;
    hv_jbuf_printf(&b, "%s", rec);
    hv_jbuf_end(&b, at);
    at = b.len;
    hv_jbuf_printf(&b, "{\"vnic\":\"11000000-0000-4000-8000-000000000002\","
                       "\"vn\":\"vni:1\",\"mac\":\"52:54:00:00:00:02\","
                       "\"want\":\"attached\"");
    hv_jbuf_end(&b, at);
    hv_journal_init(&j, f->path, NULL);
    assert_int_equal(hv_journal_rewrite(&j, &b, f->err, sizeof(f->err)), 0);
    hv_journal_close(&j);
    hv_jbuf_free(&b);
    load_ok(f, &t, &r);
    assert_int_equal(r.scan.damaged, 1);
    assert_int_equal(r.scan.first_bad_line, 3);
    if (strstr(r.scan.first_bad, why) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", r.scan.first_bad, why);
    assert_int_equal(t.count, 2); /* the records around it load */
    hv_state_free(&s);
    hv_state_free(&t);
}

#define R(fields) "{\"vnic\":\"11000000-0000-4000-8000-000000000009\"" fields

static void
test_records_with_bad_fields(void **st)
{
    struct fx *f = *st;

    record_case(f, "{\"vnic\":\"nope\",\"vn\":\"vni:1\"", "vnic");
    record_case(f, R(",\"vn\":\"vni:1\",\"mac\":\"52:54:00:00:00:09\","
                     "\"want\":\"attached\",\"tag\":5000"), "tag");
    record_case(f, R(",\"vn\":\"vni:1\",\"mac\":\"52:54:00:00:00:09\","
                     "\"want\":\"attached\",\"ips\":[\"10.0.0.300\"]"), "ips");
    record_case(f, R(",\"vn\":\"vni:1\",\"mac\":\"52:54:00:00:00:09\","
                     "\"want\":\"sideways\""), "want");
    record_case(f, R(",\"vn\":\"vni:1\",\"mac\":\"52:54:00:00:00:09\","
                     "\"want\":\"attached\",\"up\":1"), "boolean");
    record_case(f, R(",\"vn\":\"vni:1\",\"mac\":\"52:54:00:00:00:09\","
                     "\"want\":\"attached\",\"intent\":\"maybe\""), "intent");
    record_case(f, R(",\"vn\":\"nowhere\",\"mac\":\"52:54:00:00:00:09\","
                     "\"want\":\"attached\""), "vn");
    record_case(f, R(",\"vn\":\"vni:1\",\"want\":\"attached\""), "mac");
    record_case(f, R(",\"removed\":\"yes\""), "removed");
    record_case(f, "{\"vnic\":\"11000000-0000-4000-8000-000000000009\"}x",
                "JSON");
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
        cmocka_unit_test_setup_teardown(test_changes_and_removals, setup,
                                        teardown),
        cmocka_unit_test(test_undo),
        cmocka_unit_test_setup_teardown(test_legacy_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_with_bad_fields, setup,
                                        teardown),
        cmocka_unit_test(test_vnic_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
