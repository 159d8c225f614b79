/* test_converge.c - both NVDP engines (hv-agent's and nve-agent's) wired
 * through a simulated access network on a fake clock: random desired-state
 * changes, lost, duplicated, delayed and reordered frames, graceful restarts
 * of either daemon, and hv-agent's state journal failing now and then (a
 * write refused, or a sync failed after the engine sent what the commit
 * held, as the daemon's turn runs them: hv-agent(8)). After the storm
 * every VNIC is settled and both views are identical (protocol-spec/
 * nvdp.md 10.6). Each round is one seed; a
 * failure prints it, CONV_SEED=N replays that round alone (CONV_ROUNDS and
 * CONV_LOG=1 for more rounds and the engines' log on stderr). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv.h"
#include "log.h"
#include "nve.h"

#define NHV 2
#define NIDS 48           /* VNIC numbers the random workload uses */
#define STORM_MS 120000   /* random changes, faults and restarts */
#define SETTLE_MS 600000  /* then only the lossy link: must converge */
#define MAXQ 200000

static const char *NVE_CONF =
    "name = \"sim-nve\"\n"
    "hello-interval = 200\n"
    "hold-time = 2\n"
    "preassoc-timeout = 86400\n" /* expiry is not what this tests */
    "port \"p0\" {\n interface = \"acc0\"\n tags = \"2-4000\"\n}\n"
    "port \"p1\" {\n interface = \"acc1\"\n tags = \"2-4000\"\n}\n"
    "vn \"blue\" {\n vni = 100\n}\n"
    "vn \"red\" {\n vni = 200\n}\n"
    "vn \"green\" {\n vni = 300\n}\n";
static const uint32_t VNIS[] = {100, 200, 300};

/* Where stderr went before the engines' log was diverted (main). */
static FILE *real_stderr;

/* ---- randomness: one xorshift stream per round ------------------------- */
static uint64_t rng;

static uint32_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static uint32_t
rnd_below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

/* percent in [0, 100) */
static int
chance(double pct)
{
    return rnd_below(1000000) < (uint32_t)(pct * 10000);
}

/* ---- the simulated network ------------------------------------------------ */
struct pkt {
    uint64_t due, seq;
    int to_nve;      /* else to hypervisor hv */
    int hv;          /* which access link (= NVE port = hypervisor index) */
    uint8_t dst[6];
    size_t len;
    uint8_t *buf;
};

struct link_model {
    double loss, dup;      /* percent */
    uint32_t delay_max;    /* ms, uniform 0..max: reorders */
    double late;           /* percent of frames held back much longer */
    uint32_t late_ms;
};

struct sim;
struct simhv {
    struct hv h;         /* first: hv_wake() gets &h */
    struct sim *s;
    int up;
    uint64_t next;       /* hv_proto_run wanted at */
    uint64_t back_at;    /* restart: when it comes back */
    uint8_t mac[6];
    char state_path[256];
};

struct sim {
    uint64_t now, seq;
    struct link_model lm;
    struct pkt *q;
    size_t nq;
    /* NVE */
    struct nve_conf *conf;
    struct tree tree;
    struct nve_proto *nve;
    int nve_up;
    uint64_t nve_next, nve_back_at;
    uint8_t port_mac[NHV][6];
    /* hypervisors */
    struct simhv hv[NHV];
    char dir[64];
    /* figures */
    uint64_t ops, frames, lost, dups, restarts_hv, restarts_nve;
    uint64_t retransmits, giveups;
    uint64_t write_faults, sync_faults, undone;
};

/* ---- hv-agent's disk: faults during the storm ------------------------------
 * No real sync (durability is not what this tests, and it would be slow);
 * a fault makes the commit fail as a full disk or an I/O error does. */
static struct sim *disk_faults; /* the round whose storm is on, or NULL */
static uint64_t all_sync_faults, all_undone; /* over the rounds */

static ssize_t
sim_write(int fd, const void *buf, size_t len)
{
    if (disk_faults != NULL && chance(1)) {
        disk_faults->write_faults++;
        errno = ENOSPC;
        return -1;
    }
    return write(fd, buf, len);
}

static int
sim_sync(int fd)
{
    (void)fd;
    if (disk_faults != NULL && chance(3)) {
        disk_faults->sync_faults++;
        errno = EIO;
        return -1;
    }
    return 0;
}

static const struct hv_journal_io sim_io = {sim_write, sim_sync, sim_sync};

static void
enqueue(struct sim *s, int to_nve, int hv, const uint8_t dst[6],
        const uint8_t *buf, size_t len)
{
    int copies = 1;

    s->frames++;
    if (chance(s->lm.loss)) {
        s->lost++;
        return;
    }
    if (chance(s->lm.dup)) {
        s->dups++;
        copies = 2;
    }
    while (copies-- > 0) {
        struct pkt *p;
        assert_true(s->nq < MAXQ);
        p = &s->q[s->nq++];
        p->due = s->now + rnd_below(s->lm.delay_max + 1);
        if (chance(s->lm.late))
            p->due += rnd_below(s->lm.late_ms);
        p->seq = s->seq++;
        p->to_nve = to_nve;
        p->hv = hv;
        memcpy(p->dst, dst, 6);
        p->len = len;
        p->buf = malloc(len);
        assert_non_null(p->buf);
        memcpy(p->buf, buf, len);
    }
}

static int
hv_send(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    struct simhv *x = arg;

    enqueue(x->s, 1, (int)(x - x->s->hv), dst, buf, len);
    return 0;
}

static void
nve_send(void *arg, uint16_t port, const uint8_t dst[6], const uint8_t *buf,
         size_t len)
{
    struct sim *s = arg;

    assert_true(port < NHV);
    enqueue(s, 0, port, dst, buf, len);
}

/* Index of the earliest frame due, -1 if none. */
static long
q_first(const struct sim *s)
{
    long best = -1;

    for (size_t i = 0; i < s->nq; i++)
        if (best < 0 || s->q[i].due < s->q[best].due ||
            (s->q[i].due == s->q[best].due && s->q[i].seq < s->q[best].seq))
            best = (long)i;
    return best;
}

/* ---- daemons: start, stop (graceful: state saved), run ------------------ */
static void
hv_wake(struct hv *h)
{
    struct simhv *x = (struct simhv *)h;

    x->next = 0; /* run at the next step */
}

static uint32_t
new_epoch(uint32_t old)
{
    uint32_t e;

    do
        e = rnd();
    while (e == 0 || e == old);
    return e;
}

static void
hv_start(struct sim *s, int i, int with_state)
{
    struct simhv *x = &s->hv[i];
    char err[256];
    uint32_t old = x->h.proto.ep.epoch;

    memset(&x->h, 0, sizeof(x->h));
    hv_conf_defaults(&x->h.conf);
    snprintf(x->h.conf.name, sizeof(x->h.conf.name), "sim-hv%d", i);
    x->h.conf.hello_interval = 200;
    x->h.conf.hold_time = 2;
    memcpy(x->h.conf.state_file, x->state_path, sizeof(x->state_path));
    x->s = s;
    x->h.wake = hv_wake;
    hv_state_init(&x->h.state);
    /* its state journal (none yet at the first start) */
    x->h.journal.fd = -1;
    assert_int_equal(hv_persist_open(&x->h, &sim_io, err, sizeof(err)), 0);
    assert_int_equal(x->h.state_incomplete, 0);
    assert_int_equal(hv_proto_init(&x->h, new_epoch(old), x->mac, 1500,
                                   hv_send, x, with_state, s->now), 0);
    x->up = 1;
    x->next = s->now;
}

static void
hv_stop(struct sim *s, int i)
{
    struct simhv *x = &s->hv[i];

    struct sim *faults = disk_faults;

    disk_faults = NULL; /* what SIGTERM commits is saved: not a fault test */
    x->h.state_retry_at = 0;
    assert_int_equal(hv_state_flush(&x->h), 0);
    disk_faults = faults;
    s->undone += x->h.state_undone;
    hv_persist_close(&x->h);
    hv_proto_free(&x->h);
    hv_state_free(&x->h.state);
    hv_conf_free(&x->h.conf);
    x->up = 0;
}

static void
nve_start(struct sim *s)
{
    struct tree_limits lim;
    static uint32_t epoch;

    nve_conf_tree_limits(s->conf, &lim);
    assert_int_equal(tree_init(&s->tree, NULL, &lim), 0);
    for (unsigned i = 0; i < s->conf->nports; i++)
        nve_conf_tree_port(&s->conf->ports[i], &s->tree);
    epoch = new_epoch(epoch);
    s->nve = nve_proto_new(s->conf, &s->tree, epoch, nve_send, s);
    assert_non_null(s->nve);
    for (unsigned i = 0; i < NHV; i++)
        nve_proto_port_up(s->nve, (uint16_t)i, i ? "p1" : "p0", NULL, 1500, s->now);
    s->nve_up = 1;
    s->nve_next = s->now;
}

static void
nve_stop(struct sim *s)
{
    nve_proto_free(s->nve);
    tree_free(&s->tree);
    s->nve = NULL;
    s->nve_up = 0;
}

static void
deliver(struct sim *s, struct pkt *p)
{
    if (p->to_nve) {
        if (s->nve_up) {
            nve_proto_input(s->nve, (uint16_t)p->hv, s->hv[p->hv].mac, NULL, p->buf,
                            p->len, s->now);
            s->nve_next = s->now; /* as nve_kick() after input */
        }
    } else if (s->hv[p->hv].up) {
        hv_proto_input(&s->hv[p->hv].h, s->port_mac[p->hv], p->dst, p->buf,
                       p->len, s->now);
        s->hv[p->hv].next = s->now;
    }
    free(p->buf);
}

/* Runs everything due at s->now; returns when the next thing is due. */
static uint64_t
step(struct sim *s)
{
    uint64_t next = s->now + 1000;
    long i;

    while ((i = q_first(s)) >= 0 && s->q[i].due <= s->now) {
        struct pkt p = s->q[i];
        s->q[i] = s->q[--s->nq];
        deliver(s, &p);
    }
    if (i >= 0 && s->q[i].due < next)
        next = s->q[i].due;
    for (int k = 0; k < NHV; k++) {
        struct simhv *x = &s->hv[k];
        if (!x->up)
            continue;
        if (x->next <= s->now) {
            /* the daemon's turn (hv.c run_proto): write, the engine, sync */
            int w = hv_state_commit_write(&x->h);
            x->next = hv_proto_run(&x->h, s->now);
            if (w == 1)
                hv_state_commit_sync(&x->h);
            /* a failed rewrite is retried a second later on the real
             * clock, which does not move here: at the next turn */
            x->h.state_retry_at = 0;
        }
        /* hv_proto_run asks for "now" while it has queued work */
        if (x->next <= s->now)
            x->next = s->now + 1;
        if (x->next < next)
            next = x->next;
    }
    if (s->nve_up) {
        if (s->nve_next <= s->now)
            s->nve_next = nve_proto_timers(s->nve, s->now);
        if (s->nve_next <= s->now)
            s->nve_next = s->now + 1;
        if (s->nve_next < next)
            next = s->nve_next;
    }
    return next;
}

/* ---- the workload: what hv-agent's callers ask (hv_vnic_want) ---------- */
static void
vnic_uuid(struct nvdp_uuid *u, unsigned n)
{
    memset(u, 0, sizeof(*u));
    u->b[0] = 0xc0;
    u->b[14] = (uint8_t)(n >> 8);
    u->b[15] = (uint8_t)n;
}

/* vnic-attach / vnic-preassociate: one MAC per VNIC number (no CONFLICT),
 * a random VN and one or two IPs. */
static void
op_want(struct hv *h, const struct hv_want_req *r)
{
    struct hv_vnic *v;
    char err[256];

    if (hv_vnic_want(h, r, &v, err, sizeof(err)) != HV_WANT_OK)
        fail_msg("hv_vnic_want: %s", err);
}

static void
op_attach(struct hv *h, unsigned n, int op, int reserve)
{
    char ip[2][32], vn[16];
    const char *ips[2] = {ip[0], ip[1]};
    struct hv_want_req r = {.op = (uint8_t)op, .vn = vn, .ips = ips,
                            .nips = 1 + rnd_below(2),
                            .reserve = (uint8_t)reserve};

    snprintf(vn, sizeof(vn), "vni:%u", VNIS[rnd_below(3)]);
    for (size_t i = 0; i < r.nips; i++)
        snprintf(ip[i], sizeof(ip[i]), "10.%u.%u.%u", 1 + (unsigned)i, n,
                 1 + rnd_below(3));
    vnic_uuid(&r.uuid, n);
    memcpy(r.mac, (uint8_t[6]){0x52, 0x54, 0, 0x5e, (uint8_t)(n >> 8),
                               (uint8_t)n}, 6);
    op_want(h, &r);
}

static void
random_op(struct sim *s)
{
    int i = (int)rnd_below(NHV);
    struct hv *h = &s->hv[i].h;
    unsigned n = 1 + rnd_below(NIDS);
    unsigned r = rnd_below(100);
    struct nvdp_uuid u;
    struct hv_vnic *v;

    vnic_uuid(&u, n);
    if (r < 3) {
        /* nvdpctl disconnect on the NVE: one VNIC, or a whole VN */
        struct tree_filter f = {.port = (uint16_t)i, .any_vni = 1};
        if (!s->nve_up)
            return;
        s->ops++;
        if (rnd_below(4))
            f.vnic = &u;
        else {
            f.any_vni = 0;
            f.vni = VNIS[rnd_below(3)];
        }
        nve_proto_withdraw(s->nve, &f, "operator", s->now);
        s->nve_next = s->now;
        return;
    }
    if (!s->hv[i].up)
        return;
    s->ops++;
    v = hv_state_find(&h->state, &u);
    if (r < 45 || v == NULL) {
        /* attach, or a new VN / addresses for an attached one; on the
         * other hypervisor this is a migration's destination */
        op_attach(h, n, HV_OP_ATTACH, 0);
    } else if (r < 55) {
        op_attach(h, n, HV_OP_PREASSOC, (int)rnd_below(2));
    } else if (r < 80) {
        /* detach: migration (this port only) or shutdown (everywhere:
         * the other hypervisor gets a WITHDRAW) */
        struct hv_want_req d = {.op = HV_OP_DETACH, .uuid = u};
        d.intent = rnd_below(3) ? NVDP_INTENT_MIGRATION :
                                  NVDP_INTENT_SHUTDOWN;
        op_want(h, &d);
    } else if (v->want == HV_WANT_ATTACH) {
        /* vnic-state */
        struct hv_want_req st = {.op = HV_OP_STATE, .uuid = u,
                                 .up = (uint8_t)!v->up};
        op_want(h, &st);
    }
}

/* ---- views -------------------------------------------------------------- */
struct nve_view {
    struct sim *s;
    int hv;
    unsigned n, bad;
    char why[512];
};

static int
addrs_same(const struct nvdp_addr *a, size_t na, const struct nvdp_addr *b,
           size_t nb)
{
    /* the tree keeps a MAC record before the MAC's IPs: compare IPs, and
     * MACs on their own */
    size_t ia = 0, ib = 0;

    for (size_t i = 0; i < na; i++)
        ia += a[i].kind != NVDP_ADDR_MAC;
    for (size_t i = 0; i < nb; i++)
        ib += b[i].kind != NVDP_ADDR_MAC;
    if (ia != ib)
        return 0;
    for (size_t i = 0; i < na; i++) {
        int found = 0;
        for (size_t j = 0; j < nb && !found; j++)
            found = memcmp(a[i].mac, b[j].mac, 6) == 0 &&
                    (a[i].kind == NVDP_ADDR_MAC || nvdp_addr_equal(&a[i], &b[j]));
        if (!found)
            return 0;
    }
    return 1;
}

static void
nve_entry(void *arg, const struct tree_vnic *t)
{
    struct nve_view *w = arg;
    struct simhv *x = &w->s->hv[w->hv];
    struct hv_vnic *v;
    const char *why = NULL;
    char u[NVDP_UUID_STRLEN];
    struct nvdp_addr ta[2 * NVDP_MAX_ADDRS];
    struct tree_addr_it it;
    size_t nta = 0;

    if (t->port != w->hv || memcmp(t->hv->mac, x->mac, 6) != 0)
        return;
    w->n++;
    for (tree_addr_first(&t->rec, t->naddr, &it);
         nta < 2 * NVDP_MAX_ADDRS && tree_addr_next(&it, &ta[nta]);)
        nta++;
    v = hv_state_find(&x->h.state, &t->uuid);
    if (v == NULL)
        why = "unknown to the hypervisor";
    else if (v->state != HV_VNIC_ATTACHED && v->state != HV_VNIC_PREASSOCIATED)
        why = "not confirmed on the hypervisor";
    else if (v->vn.vni != t->vni)
        why = "in another VN";
    else if ((nta != t->naddr || !addrs_same(v->addr, v->naddr, ta, nta)))
        why = "with other addresses";
    else if ((t->flags & TREE_F_STALE) != 0)
        why = "still stale";
    else if (v->state == HV_VNIC_ATTACHED &&
             (t->state != TREE_ST_ASSOC || t->tag != v->tag ||
              !(t->flags & TREE_F_DOWN) != !!v->up))
        why = "not associated as the hypervisor says (tag or up/down)";
    else if (v->state == HV_VNIC_PREASSOCIATED &&
             (t->state != (v->reserve ? TREE_ST_PREASSOC_RR :
                                        TREE_ST_PREASSOC) ||
              (v->reserve && t->tag != v->tag)))
        why = "not pre-associated as the hypervisor says";
    if (why != NULL) {
        w->bad++;
        nvdp_uuid_fmt(&t->uuid, u);
        snprintf(w->why, sizeof(w->why),
                 "hv%d: NVE entry %s %s (NVE: vni %u state %u tag %u flags "
                 "%#x; hv: %s vni %u tag %u reserve %u up %u, acked kind "
                 "%#x rr %u up %u)", w->hv, u, why, t->vni, t->state, t->tag,
                 t->flags, v ? hv_vnic_state_str(v->state) : "-",
                 v ? v->vn.vni : 0, v ? v->tag : 0, v ? v->reserve : 0,
                 v ? v->up : 0, v ? v->acked_kind : 0, v ? v->acked_rr : 0,
                 v ? v->acked_up : 0);
    }
}

/* 1 when every VNIC is settled and both views are the same; *why says what
 * differs otherwise. */
static int
converged(struct sim *s, char *why, size_t len)
{
    snprintf(why, len, "ok");
    if (!s->nve_up) {
        snprintf(why, len, "NVE down");
        return 0;
    }
    for (int i = 0; i < NHV; i++) {
        struct simhv *x = &s->hv[i];
        struct nve_view w = {s, i, 0, 0, ""};
        unsigned confirmed = 0;
        struct hv_vnic *v;
        char u[NVDP_UUID_STRLEN];

        if (!x->up) {
            snprintf(why, len, "hv%d down", i);
            return 0;
        }
        if (x->h.proto.phase != HV_RS_IDLE || x->h.proto.nve.tx.outstanding) {
            snprintf(why, len, "hv%d: resync phase %u, %u outstanding", i,
                     x->h.proto.phase, x->h.proto.nve.tx.outstanding);
            return 0;
        }
        TAILQ_FOREACH(v, &x->h.state.all, entry) {
            nvdp_uuid_fmt(&v->uuid, u);
            switch (v->state) {
            case HV_VNIC_ATTACHED:
            case HV_VNIC_PREASSOCIATED:
                confirmed++;
                break;
            case HV_VNIC_WITHDRAWN:
                if (!v->may_exist)
                    break;
                /* fall through */
            default:
                snprintf(why, len, "hv%d: vnic %s %s%s", i, u,
                         hv_vnic_state_str(v->state),
                         v->state == HV_VNIC_FAILED ? v->reason : "");
                return 0;
            }
        }
        tree_foreach(&s->tree, nve_entry, &w);
        if (w.bad) {
            snprintf(why, len, "%s", w.why);
            return 0;
        }
        if (w.n != confirmed) {
            snprintf(why, len, "hv%d confirms %u VNICs, the NVE holds %u", i,
                     confirmed, w.n);
            return 0;
        }
    }
    return 1;
}

/* ---- one round ----------------------------------------------------------- */
static void
sim_init(struct sim *s, uint64_t seed)
{
    char path[] = "/tmp/test_converge.XXXXXX";
    int fd;

    memset(s, 0, sizeof(*s));
    rng = seed * 0x9e3779b97f4a7c15ull + 1;
    s->now = 1000000;
    s->q = calloc(MAXQ, sizeof(*s->q));
    assert_non_null(s->q);
    assert_true((fd = mkstemp(path)) >= 0);
    assert_int_equal(write(fd, NVE_CONF, strlen(NVE_CONF)),
                     (ssize_t)strlen(NVE_CONF));
    close(fd);
    s->conf = nve_conf_load(path);
    unlink(path);
    assert_non_null(s->conf);
    snprintf(s->dir, sizeof(s->dir), "/tmp/test_converge.d.XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    /* the link: from clean to very lossy, some frames held back for
     * seconds (across restarts and resyncs) */
    static const double loss[] = {0, 5, 20, 30};
    s->lm.loss = loss[rnd_below(4)];
    s->lm.dup = rnd_below(2) ? 5 : 0;
    s->lm.delay_max = rnd_below(30);
    s->lm.late = rnd_below(2) ? 1 : 0;
    s->lm.late_ms = 3000;
    for (int i = 0; i < NHV; i++) {
        uint8_t m[6] = {0x02, 0x48, 0x56, 0, 0, (uint8_t)(i + 1)};
        uint8_t pm[6] = {0x02, 0x4e, 0x56, 0, 0, (uint8_t)(i + 1)};
        memcpy(s->hv[i].mac, m, 6);
        memcpy(s->port_mac[i], pm, 6);
        snprintf(s->hv[i].state_path, sizeof(s->hv[i].state_path),
                 "%s/hv%d.state", s->dir, i);
    }
    nve_start(s);
    for (int i = 0; i < NHV; i++)
        hv_start(s, i, 0);
}

static void
sim_free(struct sim *s)
{
    for (int i = 0; i < NHV; i++) {
        if (s->hv[i].up) {
            s->retransmits += s->hv[i].h.proto.nve.tx.retransmits;
            s->giveups += s->hv[i].h.proto.nve.tx.giveups;
            hv_stop(s, i);
        }
        unlink(s->hv[i].state_path);
        strcat(s->hv[i].state_path, ".tmp");
        unlink(s->hv[i].state_path);
    }
    rmdir(s->dir);
    if (s->nve_up)
        nve_stop(s);
    nve_conf_free(s->conf);
    for (size_t i = 0; i < s->nq; i++)
        free(s->q[i].buf);
    free(s->q);
}

/* A graceful restart (SIGTERM, then started again 0.1 to 3 s later). */
static void
maybe_restart(struct sim *s)
{
    int who = (int)rnd_below(NHV + 1);

    if (who == NHV) {
        if (!s->nve_up)
            return;
        nve_stop(s);
        s->nve_back_at = s->now + 100 + rnd_below(2900);
        s->restarts_nve++;
        return;
    }
    if (!s->hv[who].up)
        return;
    s->retransmits += s->hv[who].h.proto.nve.tx.retransmits;
    s->giveups += s->hv[who].h.proto.nve.tx.giveups;
    hv_stop(s, who);
    s->hv[who].back_at = s->now + 100 + rnd_below(2900);
    s->restarts_hv++;
}

static void
comebacks(struct sim *s)
{
    if (!s->nve_up && s->nve_back_at <= s->now)
        nve_start(s);
    for (int i = 0; i < NHV; i++)
        if (!s->hv[i].up && s->hv[i].back_at <= s->now)
            hv_start(s, i, 1);
}

/* Returns the simulated ms the settling took, UINT64_MAX if it did not. */
static uint64_t
run_round(uint64_t seed, int verbose)
{
    struct sim *s = calloc(1, sizeof(*s));
    uint64_t next_op, next_restart, end, t0, next, check, settled = 0;
    int done = 0;
    char why[512] = "";

    assert_non_null(s);
    sim_init(s, seed);
    if (verbose)
        printf("seed %llu: loss %.0f%% dup %.0f%% delay 0-%ums late %.0f%%\n",
               (unsigned long long)seed, s->lm.loss, s->lm.dup,
               s->lm.delay_max, s->lm.late);
    next_op = s->now;
    next_restart = s->now + 5000 + rnd_below(15000);
    end = s->now + STORM_MS;
    disk_faults = s;
    while (s->now < end) {
        comebacks(s);
        if (s->now >= next_op) {
            random_op(s);
            /* bursts and lulls */
            next_op = s->now + (rnd_below(10) ? rnd_below(40) :
                                               rnd_below(3000));
        }
        if (s->now >= next_restart) {
            maybe_restart(s);
            next_restart = s->now + 5000 + rnd_below(20000);
        }
        next = step(s);
        if (next_op < next)
            next = next_op;
        if (next_restart < next)
            next = next_restart;
        s->now = next > s->now ? next : s->now + 1;
    }
    /* Let restarted daemons come back; from here on only the link is
     * faulty, with no frame held back longer than the storm's longest. */
    disk_faults = NULL;
    t0 = s->now;
    end = s->now + SETTLE_MS;
    check = s->now;
    while (s->now < end) {
        comebacks(s);
        next = step(s);
        if (s->now >= check) {
            if (converged(s, why, sizeof(why))) {
                settled = s->now - t0;
                done = 1;
                break;
            }
            check = s->now + 100;
        }
        if (check < next)
            next = check;
        s->now = next > s->now ? next : s->now + 1;
    }
    if (!done)
        converged(s, why, sizeof(why));
    if (verbose || !done)
        printf("seed %llu: %llu ops, %llu frames (%llu lost, %llu "
               "duplicated), %llu+%llu restarts (hv+nve), converged %s "
               "%.1f s after the storm%s%s\n",
               (unsigned long long)seed, (unsigned long long)s->ops,
               (unsigned long long)s->frames, (unsigned long long)s->lost,
               (unsigned long long)s->dups,
               (unsigned long long)s->restarts_hv,
               (unsigned long long)s->restarts_nve,
               done ? "in" : "NOT within", (done ? settled : SETTLE_MS) /
                                              1000.0,
               done ? "" : ": ", done ? "" : why);
    if (!done)
        printf("reproduce: CONV_SEED=%llu %s\n", (unsigned long long)seed,
               "tests/unit/test_converge");
    for (int i = 0; i < NHV; i++)
        if (s->hv[i].up)
            s->undone += s->hv[i].h.state_undone;
    if (verbose || !done)
        printf("seed %llu: journal faults: %llu writes, %llu syncs; %llu "
               "requested changes undone\n", (unsigned long long)seed,
               (unsigned long long)s->write_faults,
               (unsigned long long)s->sync_faults,
               (unsigned long long)s->undone);
    all_sync_faults += s->sync_faults;
    all_undone += s->undone;
    sim_free(s);
    free(s);
    return done ? settled : UINT64_MAX;
}

static void
test_converge_random(void **st)
{
    const char *e = getenv("CONV_SEED");
    const char *r = getenv("CONV_ROUNDS");
    uint64_t base = e ? strtoull(e, NULL, 0) :
                        (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    int rounds = e ? 1 : r ? atoi(r) : 6, failed = 0;
    uint64_t worst = 0;

    (void)st;
    printf("test_converge: %d round(s) from seed %llu "
           "(CONV_SEED=N replays one)\n", rounds, (unsigned long long)base);
    for (int i = 0; i < rounds; i++) {
        uint64_t t = run_round(base + (uint64_t)i, getenv("CONV_QUIET") == NULL);
        if (t == UINT64_MAX)
            failed++;
        else if (t > worst)
            worst = t;
    }
    printf("test_converge: %d of %d rounds converged, the slowest in %.1f s "
           "(simulated)\n", rounds - failed, rounds, worst / 1000.0);
    if (real_stderr != NULL)
        stderr = real_stderr; /* cmocka's verdict and summary */
    assert_int_equal(failed, 0);
    /* the faults happened, and undid requests the engine had sent */
    assert_true(all_sync_faults > 0);
    assert_true(all_undone > 0);
}

/* The engines log every VNIC they attach: that goes to a temporary file
 * (the stdio stream only: sanitizer reports still reach fd 2), whose tail
 * is shown when the test fails, with cmocka's own error lines. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converge_random),
    };
    FILE *logf = NULL;
    char line[1024], tail[60][1024];
    unsigned n = 0;
    int rc;

    /* CONV_LOG=1: the engines' log on stderr; 2, 3: with debug lines */
    log_init("sim", 1, getenv("CONV_LOG") ? atoi(getenv("CONV_LOG")) - 1 : 0);
    if (getenv("CONV_LOG") == NULL && (logf = tmpfile()) != NULL &&
        (real_stderr = fdopen(dup(2), "w")) != NULL)
        stderr = logf;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (real_stderr != NULL) {
        stderr = real_stderr;
        if (rc != 0) {
            rewind(logf);
            while (fgets(line, sizeof(line), logf) != NULL)
                snprintf(tail[n++ % 60], sizeof(tail[0]), "%s", line);
            fprintf(stderr, "---- last lines of the engines' log:\n");
            for (unsigned i = n > 60 ? n - 60 : 0; i < n; i++)
                fputs(tail[i % 60], stderr);
        }
        fflush(stderr);
        fclose(logf);
    }
    return rc;
}
