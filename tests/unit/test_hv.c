/* test_hv.c - hv-agent's state journal glue (hv.c) on a temporary
 * directory: commits, compaction, a commit that fails (observers told,
 * requests' changes undone, the engine's kept), the rewrite after a failed
 * sync, a sync that fails after the engine sent the changes, damaged and version 1 files at start, END withheld while a damaged
 * file is kept aside. */
#include <errno.h>
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

#include "hv.h"

static int fail_write, fail_sync;
static unsigned writes;

static ssize_t
t_write(int fd, const void *buf, size_t len)
{
    writes++;
    if (fail_write) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, buf, len);
}

static int
t_fdatasync(int fd)
{
    if (fail_sync) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static const struct hv_journal_io t_io = {t_write, t_fdatasync, fsync};

struct fx {
    char dir[64];
    char err[512];
    struct hv *h;
    /* what the observer heard */
    unsigned saved, not_saved, detached;
    char why[160];
};

static void
obs_vnic(void *arg, const struct hv_vnic *v)
{
    struct fx *f = arg;

    if (v->state == HV_VNIC_DETACHED)
        f->detached++;
}

static void
obs_saved(void *arg)
{
    ((struct fx *)arg)->saved++;
}

static void
obs_not_saved(void *arg, const struct nvdp_uuid *u, const char *why)
{
    struct fx *f = arg;

    (void)u;
    f->not_saved++;
    snprintf(f->why, sizeof(f->why), "%s", why);
}

static struct hv *
new_hv(struct fx *f)
{
    struct hv *h = calloc(1, sizeof(*h));
    struct hv_observer o = {.vnic_changed = obs_vnic, .saved = obs_saved,
                            .not_saved = obs_not_saved, .arg = f};

    assert_non_null(h);
    hv_conf_defaults(&h->conf);
    snprintf(h->conf.state_file, sizeof(h->conf.state_file), "%s/hv.state",
             f->dir);
    hv_state_init(&h->state);
    h->proto.mtu = 1500; /* no engine: hv_vnic_want() checks frames */
    h->journal.fd = -1;
    assert_int_equal(hv_observer_add(h, &o), 0);
    return h;
}

static void
free_hv(struct hv *h)
{
    hv_persist_close(h);
    hv_state_free(&h->state);
    hv_conf_free(&h->conf);
    free(h);
}

static int
setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));

    log_init("test_hv", 1, 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_hv.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    fail_write = fail_sync = 0;
    writes = 0;
    *st = f;
    return 0;
}

static int
teardown(void **st)
{
    struct fx *f = *st;
    char cmd[128];

    if (f->h != NULL)
        free_hv(f->h);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static struct nvdp_uuid
mkuuid(unsigned n)
{
    struct nvdp_uuid u;

    memset(&u, 0, sizeof(u));
    u.b[0] = 0x22;
    u.b[6] = 0x40;
    u.b[8] = 0x80;
    u.b[14] = (uint8_t)(n >> 8);
    u.b[15] = (uint8_t)n;
    return u;
}

static struct hv_vnic *
vnic(struct hv *h, unsigned n)
{
    struct nvdp_uuid u = mkuuid(n);
    struct nvdp_addr a;
    struct hv_vnic *v;

    if ((v = hv_state_find(&h->state, &u)) != NULL)
        return v;
    assert_non_null(v = hv_state_add(&h->state, &u));
    v->vn.kind = NVDP_VN_VNI;
    v->vn.vni = 100;
    memcpy(v->mac, "\x52\x54\x00\x00\x00\x01", 6);
    v->mac[5] = (uint8_t)n;
    assert_int_equal(nvdp_addr_parse(v->mac, NULL, &a), 0);
    assert_int_equal(hv_state_set_addrs(v, &a, 1), 0);
    v->want = HV_WANT_ATTACH;
    return v;
}

/* A request's change, as the control socket makes it. */
static struct hv_vnic *
request(struct hv *h, unsigned n, uint8_t op)
{
    struct hv_want_req r = {.op = op, .uuid = mkuuid(n), .vn = "vni:100"};
    struct hv_vnic *v;
    char err[256];

    memcpy(r.mac, "\x52\x54\x00\x00\x00\x01", 6);
    r.mac[5] = (uint8_t)n;
    if (hv_vnic_want(h, &r, &v, err, sizeof(err)) != HV_WANT_OK)
        fail_msg("%s", err);
    return v;
}

static struct hv_vnic *
request_attach(struct hv *h, unsigned n)
{
    return request(h, n, HV_OP_ATTACH);
}

/* What a restart would find. */
static size_t
on_disk(struct fx *f, struct hv_state *s)
{
    struct hv_state_load r;
    char path[128];

    snprintf(path, sizeof(path), "%s/hv.state", f->dir);
    hv_state_init(s);
    assert_int_equal(hv_state_load(s, path, &r, f->err, sizeof(f->err)), 0);
    assert_false(hv_journal_damaged(&r.scan));
    return s->count;
}

static void
test_commit_and_compaction(void **st)
{
    struct fx *f = *st;
    struct hv_state s;
    struct hv_vnic *v;
    struct stat sb;
    char path[128];

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    assert_false(f->h->state_incomplete);
    /* nothing changed: no write, but held answers may go */
    writes = 0;
    assert_int_equal(hv_state_flush(f->h), 0);
    assert_int_equal(writes, 0);
    assert_int_equal(f->saved, 1);
    /* one VNIC changed 6000 times (a tag each time): the journal grows
     * past 1 MiB, then is compacted to one record */
    v = request_attach(f->h, 1);
    for (unsigned i = 0; i < 6000; i++) {
        v->tag_hint = (uint16_t)(1 + i % 4000);
        hv_state_changed(f->h, v);
        assert_int_equal(hv_state_flush(f->h), 0);
    }
    assert_true(f->h->state_compactions >= 1);
    assert_int_equal(f->h->state_compaction_errors, 0);
    assert_int_equal(f->h->state_saves, 6000);
    snprintf(path, sizeof(path), "%s/hv.state", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, f->h->journal.size);
    assert_true(sb.st_size < 1024 * 1024);
    assert_int_equal(on_disk(f, &s), 1);
    assert_int_equal(TAILQ_FIRST(&s.all)->tag_hint, 1 + 5999 % 4000);
    hv_state_free(&s);
    /* and a removal is committed too */
    v->state = HV_VNIC_DETACHED;
    hv_state_remove(&f->h->state, v);
    hv_state_changed(f->h, NULL);
    assert_int_equal(hv_state_flush(f->h), 0);
    assert_int_equal(on_disk(f, &s), 0);
    hv_state_free(&s);
}

static void
test_failed_commit(void **st)
{
    struct fx *f = *st;
    struct hv_state s;
    struct hv_vnic *v, *e;

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    e = request_attach(f->h, 1);
    v = request_attach(f->h, 2);
    assert_int_equal(hv_state_flush(f->h), 0);

    fail_write = 1;
    /* a request creates VNIC 3 and changes VNIC 2; the engine learnt a
     * tag for VNIC 1 */
    request_attach(f->h, 3);
    request(f->h, 2, HV_OP_DETACH);
    e->tag_hint = 77;
    hv_state_changed(f->h, e);
    f->saved = 0;
    assert_int_equal(hv_state_flush(f->h), -1);
    /* everyone waiting on them is told, with the reason */
    assert_int_equal(f->not_saved, 3);
    assert_string_equal(f->why, "state not saved: No space left on device");
    assert_int_equal(f->saved, 1);
    /* the requests' changes are undone, the engine's is kept */
    assert_int_equal(f->h->state.count, 2);
    assert_int_equal(f->detached, 1);
    assert_int_equal(v->want, HV_WANT_ATTACH);
    assert_int_equal(v->state, HV_VNIC_PENDING);
    assert_int_equal(v->gen, 1); /* as before the detach: not a change */
    assert_int_equal(vnic(f->h, 1)->tag_hint, 77);
    assert_int_equal(f->h->state_save_errors, 1);
    assert_int_equal(f->h->state_undone, 2);
    assert_string_equal(f->h->state_error,
                        "state not saved: No space left on device");
    /* the disk is what memory says, minus the engine's change not saved */
    assert_int_equal(on_disk(f, &s), 2);
    assert_int_equal(TAILQ_FIRST(&s.all)->tag_hint, 0);
    hv_state_free(&s);

    /* room again: the engine's change is written at the next commit */
    fail_write = 0;
    assert_int_equal(hv_state_flush(f->h), 0);
    assert_string_equal(f->h->state_error, "");
    assert_int_equal(on_disk(f, &s), 2);
    assert_int_equal(TAILQ_FIRST(&s.all)->tag_hint, 77);
    hv_state_free(&s);
}

static void
test_rewrite_after_failed_sync(void **st)
{
    struct fx *f = *st;
    struct hv_state s;
    unsigned w;

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    request_attach(f->h, 1);
    assert_int_equal(hv_state_flush(f->h), 0);
    fail_sync = 1;
    request_attach(f->h, 2);
    assert_int_equal(hv_state_flush(f->h), -1);
    assert_true(f->h->journal.need_rewrite);
    assert_int_equal(f->h->state.count, 1); /* undone */
    assert_string_equal(f->h->state_error,
                        "state not saved: Input/output error");
    /* within the retry interval: refused at once, no I/O, same reason */
    fail_sync = 0;
    w = writes;
    request_attach(f->h, 3);
    assert_int_equal(hv_state_flush(f->h), -1);
    assert_int_equal(writes, w);
    assert_string_equal(f->why, "state not saved: Input/output error");
    /* then the whole state goes to a new file */
    f->h->state_retry_at = 0;
    request_attach(f->h, 3);
    assert_int_equal(hv_state_flush(f->h), 0);
    assert_false(f->h->journal.need_rewrite);
    assert_int_equal(f->h->journal.st.rewrites, 2); /* open, then this */
    assert_int_equal(on_disk(f, &s), 2);
    hv_state_free(&s);
}

/* The loop syncs while the engine sends (hv.c run_proto): a sync that
 * fails after requests built from the changes went out undoes the changes
 * all the same, and the engine must bring the NVE back: the answers to
 * those requests no longer count, a VNIC the request created is detached
 * from the NVE rather than forgotten, and what the engine learnt between
 * the write and the sync stands. */
static void
test_failed_sync_after_send(void **st)
{
    struct fx *f = *st;
    struct hv_vnic *v, *n, *w;
    struct hv_state s;
    uint32_t sent_gen;

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    v = request_attach(f->h, 1);
    w = request_attach(f->h, 2);
    assert_int_equal(hv_state_flush(f->h), 0);
    v->state = w->state = HV_VNIC_ATTACHED; /* as the engine settles them */
    v->may_exist = w->may_exist = 1;

    /* requests: detach 1, create 3, detach 2; written */
    request(f->h, 1, HV_OP_DETACH);
    n = request_attach(f->h, 3);
    request(f->h, 2, HV_OP_DETACH);
    assert_int_equal(hv_state_commit_write(f->h), 1);
    assert_int_equal(f->saved, 1); /* nobody answered before the sync */
    /* the engine sends a DISASSOC for 1 and an ASSOC for 3, and hears
     * that the NVE withdrew 2 (its news) */
    v->inflight = 1;
    v->req_gen = sent_gen = v->gen;
    n->inflight = 1;
    n->req_gen = n->gen;
    n->may_exist = 1;
    w->state = HV_VNIC_WITHDRAWN;
    /* and the sync fails */
    fail_sync = 1;
    f->not_saved = 0;
    assert_int_equal(hv_state_commit_sync(f->h), -1);
    assert_int_equal(f->not_saved, 3);
    assert_int_equal(f->saved, 2);
    assert_string_equal(f->why, "state not saved: Input/output error");
    assert_int_equal(f->h->state_undone, 3);
    assert_true(f->h->journal.need_rewrite);
    /* 1: attached again, and the DISASSOC's answer is moot */
    assert_int_equal(v->want, HV_WANT_ATTACH);
    assert_int_equal(v->state, HV_VNIC_ATTACHED);
    assert_int_not_equal(v->gen, sent_gen);
    assert_true(v->queued); /* the engine looks at it again */
    assert_null(v->undo);
    /* 3: kept, to be detached from the NVE, then forgotten */
    assert_int_equal(f->h->state.count, 3);
    assert_int_equal(n->want, HV_WANT_DETACH);
    assert_int_equal(n->state, HV_VNIC_DETACHING);
    assert_int_not_equal(n->gen, n->req_gen);
    assert_true(n->queued);
    assert_null(n->undo);
    assert_int_equal(f->detached, 0);
    /* 2: wanted attached again; the withdrawal stands */
    assert_int_equal(w->want, HV_WANT_ATTACH);
    assert_int_equal(w->state, HV_VNIC_WITHDRAWN);

    /* the disk works again: the whole state is rewritten, as memory has it */
    fail_sync = 0;
    f->h->state_retry_at = 0;
    assert_int_equal(hv_state_flush(f->h), 0);
    assert_false(f->h->journal.need_rewrite);
    assert_int_equal(on_disk(f, &s), 3);
    assert_int_equal(hv_state_find(&s, &n->uuid)->want, HV_WANT_DETACH);
    assert_int_equal(hv_state_find(&s, &v->uuid)->want, HV_WANT_ATTACH);
    hv_state_free(&s);
}

/* A commit of removals only (VNICs the engine forgot) whose sync fails:
 * whoever waits on them is told, and they are written again, with the
 * rewrite the failed sync calls for. */
static void
test_failed_sync_of_removals(void **st)
{
    struct fx *f = *st;
    struct hv_vnic *v;
    struct nvdp_uuid gone;
    struct hv_state s;

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    request_attach(f->h, 1);
    request_attach(f->h, 2);
    assert_int_equal(hv_state_flush(f->h), 0);
    v = vnic(f->h, 1);
    gone = v->uuid;
    v->state = HV_VNIC_DETACHED; /* as the engine forgets it */
    hv_state_remove(&f->h->state, v);
    assert_int_equal(hv_state_commit_write(f->h), 1);
    fail_sync = 1;
    f->not_saved = 0;
    assert_int_equal(hv_state_commit_sync(f->h), -1);
    assert_int_equal(f->not_saved, 1);
    assert_true(hv_state_unsaved(&f->h->state));
    fail_sync = 0;
    f->h->state_retry_at = 0;
    assert_int_equal(hv_state_flush(f->h), 0);
    assert_false(f->h->journal.need_rewrite);
    assert_false(hv_state_unsaved(&f->h->state));
    assert_int_equal(on_disk(f, &s), 1);
    assert_null(hv_state_find(&s, &gone));
    hv_state_free(&s);
}

/* A write that works and a sync that works: the records are durable only
 * after the sync, and the answers go then. */
static void
test_commit_halves(void **st)
{
    struct fx *f = *st;
    struct hv_state s;

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    request_attach(f->h, 1);
    f->saved = 0;
    assert_int_equal(hv_state_commit_write(f->h), 1);
    assert_int_equal(f->saved, 0);
    assert_false(hv_state_unsaved(&f->h->state));
    /* the engine learns a tag meanwhile: that is for the next commit */
    vnic(f->h, 1)->tag_hint = 9;
    hv_state_learnt(f->h, vnic(f->h, 1));
    assert_int_equal(hv_state_commit_sync(f->h), 0);
    assert_int_equal(f->saved, 1);
    assert_null(vnic(f->h, 1)->undo);
    assert_true(hv_state_unsaved(&f->h->state));
    assert_int_equal(on_disk(f, &s), 1);
    assert_int_equal(TAILQ_FIRST(&s.all)->tag_hint, 0);
    hv_state_free(&s);
    assert_int_equal(hv_state_flush(f->h), 0);
    assert_int_equal(on_disk(f, &s), 1);
    assert_int_equal(TAILQ_FIRST(&s.all)->tag_hint, 9);
    hv_state_free(&s);
}

static void
test_damaged_at_start(void **st)
{
    struct fx *f = *st;
    char path[128], cmd[256];
    struct hv_state s;
    struct stat sb;
    FILE *fp;

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    for (unsigned i = 1; i <= 10; i++)
        request_attach(f->h, i);
    assert_int_equal(hv_state_flush(f->h), 0);
    free_hv(f->h);
    f->h = NULL;
    /* one byte of the 5th record changes */
    snprintf(path, sizeof(path), "%s/hv.state", f->dir);
    snprintf(cmd, sizeof(cmd), "sed -i '7s/vni:100/vni:101/' '%s'", path);
    assert_int_equal(system(cmd), 0);

    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->h->state.count, 9);
    assert_int_equal(f->h->state_damaged, 1);
    assert_true(f->h->state_incomplete);
    assert_non_null(strstr(f->h->state_aside, "/hv.state.damaged-"));
    assert_int_equal(stat(f->h->state_aside, &sb), 0);
    /* the journal was rebuilt from what loaded */
    assert_int_equal(on_disk(f, &s), 9);
    hv_state_free(&s);
    free_hv(f->h);

    /* a later start is clean, but the damaged file is still there */
    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->h->state_damaged, 0);
    assert_true(f->h->state_incomplete);
    /* a person moved it away: the next check (SIGHUP) lets END go again */
    snprintf(cmd, sizeof(cmd), "mv %s/hv.state.damaged-* %s/../", f->dir,
             f->dir);
    assert_int_equal(system(cmd), 0);
    hv_persist_recheck(f->h);
    assert_false(f->h->state_incomplete);
    assert_string_equal(f->h->state_aside, "");
    snprintf(cmd, sizeof(cmd), "rm -f %s/../hv.state.damaged-*", f->dir);
    assert_int_equal(system(cmd), 0);

    /* a version 1 file is converted once, and kept */
    free_hv(f->h);
    f->h = NULL;
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"version\": 1, \"vnics\": [\n  {\"vnic\": "
          "\"11000000-0000-4000-8000-000000000001\", \"vn\": \"vni:1\", "
          "\"mac\": \"52:54:00:00:00:01\", \"want\": \"attached\"}\n]}\n", fp);
    fclose(fp);
    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->h->state.count, 1);
    assert_false(f->h->state_incomplete);
    snprintf(cmd, sizeof(cmd), "%s.v1", path);
    assert_int_equal(access(cmd, F_OK), 0);
    assert_int_equal(on_disk(f, &s), 1);
    hv_state_free(&s);
}

static void
test_unreadable_at_start(void **st)
{
    struct fx *f = *st;
    char path[128];

    /* a state file hv-agent can neither read nor move aside: no start
     * (starting empty would wipe the NVE at the first resync) */
    snprintf(path, sizeof(path), "%s/hv.state", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    f->h = new_hv(f);
    assert_int_equal(hv_persist_open(f->h, &t_io, f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "cannot move it aside"));
    rmdir(path);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_commit_and_compaction),
        T(test_failed_commit),
        T(test_rewrite_after_failed_sync),
        T(test_failed_sync_after_send),
        T(test_commit_halves),
        T(test_failed_sync_of_removals),
        T(test_damaged_at_start),
        T(test_unreadable_at_start),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
