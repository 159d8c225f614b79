/* fwd_xdp.c - the forwarder's XDP fast path: loads bpf/nve_fast.bpf.c
 * (embedded at build time) with libbpf, mirrors the tables into its maps,
 * attaches it (bound to each device) to the underlay and the access ports,
 * and reads its per-CPU counters. See fwd_xdp.h. */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_int.h"
#include "fwd_xdp.h"
#include "log.h"

#ifdef HAVE_BPF
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bpf/nve_fast.h"
#include "fwd_nl.h"

/* generated from bpf/nve_fast.bpf.o by xxd -i (Makefile.am) */
extern const unsigned char nve_fast_bpf_o[];
extern const unsigned int nve_fast_bpf_o_len;

#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6)
#endif

_Static_assert(sizeof(struct nf_port_ctr) == sizeof(struct fwd_port_ctr),
               "the fast path's port counters are the forwarder's");
_Static_assert(sizeof(struct nf_vn_ctr) == sizeof(struct fwd_vn_ctr),
               "the fast path's VN counters are the forwarder's");
_Static_assert(sizeof(((struct nf_remote *)0)->hdr) ==
               sizeof(((struct fwd_remote *)0)->hdr), "outer header size");

#define RETRY_S 10 /* a failed attach is tried again after this */
/* Interfaces attached per fwd_xdp_sync: each costs a verification (a
 * fraction of a second) that the housekeeping thread's other work (learning,
 * next hops) waits for; with many ports they are attached over seconds. */
#define ATTACH_PER_SYNC 2
/* Map writes queued while deferred (fwd_mirror_defer) before the queue
 * writes itself out: a batch system call per run of up to this many. */
#define QUEUE_MAX 1024

enum {
    M_CFG, M_DEVS, M_PORTS, M_TAGS, M_VNPORT, M_VNIS, M_VNS, M_MACS,
    M_REMOTES, M_SEEN, M_GLOB, M_PCTR, M_VCTR, M_RCTR, M_MAX
};
static const char *const map_names[M_MAX] = {
    "nf_cfg", "nf_devs", "nf_ports", "nf_tags", "nf_vnport", "nf_vnis",
    "nf_vns", "nf_macs", "nf_remotes", "nf_seen", "nf_glob", "nf_pctr",
    "nf_vctr", "nf_rctr",
};

/* A queued write of a small map (key <= 8 bytes, value <= 16: the MAC
 * table, bindings, VNs), in the order the tables changed. */
struct xdp_op {
    uint8_t m;              /* M_* */
    uint8_t del;
    uint8_t key[8];
    uint8_t val[16];
};

/* One interface the program is (to be) attached to. */
struct xdp_dev {
    char ifname[IF_NAMESIZE];
    int ifindex;            /* known interface index, 0 = none */
    int link_fd;            /* the attachment (a bpf_link), -1 = none */
    struct bpf_object *obj; /* the program bound to this interface */
    uint8_t xmit;           /* takes redirected frames */
    uint8_t stale;          /* the port went: rewrite its maps (atomic) */
    uint32_t mtu;
    uint32_t retry_at;      /* s: next attach attempt after a failure */
    uint8_t transient;      /* the last attempt was interrupted */
    char err[128];          /* why not attached, "" = attached or untried */
};

struct fwd_xdp {
    struct bpf_object *obj; /* the maps */
    int fd[M_MAX];
    struct bpf_object *test_obj; /* the test program, loaded on demand */
    int test_fd;
    int ncpus;
    void *pcpu;             /* per-CPU values, read one key at a time */
    uint32_t *seen;         /* nf_seen mapped: f->mac_seen */
    size_t seen_len;
    int genl_fd;
    int failed;             /* a mirror failed: pass-through */
    uint32_t ksz[M_MAX], vsz[M_MAX];
    int defer;              /* queue map writes until fwd_flush */
    uint8_t nobatch[M_MAX]; /* the kernel has no batch op for it */
    unsigned nops;          /* queued (wlock) */
    struct xdp_op *ops;     /* QUEUE_MAX */
    uint8_t *kbuf, *vbuf;   /* a run's keys and values, as the batch op reads them */
    struct nf_cfg cfg;      /* as last written */
    struct xdp_dev und;
    struct xdp_dev port[FWD_MAX_PORTS];
};

static int
libbpf_log(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
    /* the verifier's log on a refused load, at -vv */
    if (lvl <= LIBBPF_WARN && log_getverbose() > 1)
        return vfprintf(stderr, fmt, ap);
    return 0;
}

/* ---- mirroring ----------------------------------------------------------- */

/* What a failed write of each map stops mirroring (the log line). */
static const char *const map_what[M_MAX] = {
    "configuration", "interface", "port", "binding", "binding", "VNI", "VN",
    "MAC", "remote", "MAC ageing", "counters", "port counters",
    "VN counters", "remote counter",
};
/* The maps whose writes queue while deferred: those the control plane
 * writes per VNIC (small keys and values, not per CPU). The others are
 * written at once, after the queue: every write reaches the maps in the
 * order the tables changed. */
static const uint8_t map_queued[M_MAX] = {
    [M_TAGS] = 1, [M_VNPORT] = 1, [M_VNIS] = 1, [M_VNS] = 1, [M_MACS] = 1,
};

/* A map write failed: from now on the program passes every frame to the
 * in-process forwarder, whose tables stay right. cfg is an array: writing
 * it cannot fail for lack of memory. */
static void
xdp_fail(struct fwd *f, const char *what, int err)
{
    struct fwd_xdp *x = f->xdp;
    uint32_t zero = 0;
    __atomic_store_n(&x->nops, 0, __ATOMIC_RELAXED); /* moot now */
    if (x->failed)
        return;
    x->failed = 1;
    x->cfg.enabled = 0;
    bpf_map_update_elem(x->fd[M_CFG], &zero, &x->cfg, BPF_ANY);
    snprintf(f->xdp_why, sizeof(f->xdp_why), "mirroring %s failed: %s", what,
             strerror(err));
    log_warnx("fwd: fast path off, every frame goes to the in-process "
              "forwarder: %s", f->xdp_why);
}

/* Writes the n keys (and values) of kbuf/vbuf to map m, in their order: one
 * batch system call (the kernel applies it element by element, in order,
 * as n calls would), or one call each where the kernel has no batch op
 * for the map. Deleting an absent key is no error. */
static void
run_write(struct fwd *f, int m, int isdel, unsigned n)
{
    struct fwd_xdp *x = f->xdp;
    DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);
    const uint8_t *k = x->kbuf, *v = x->vbuf;
    unsigned done = 0;
    while (done < n && !x->failed) {
        uint32_t cnt = 1;
        int rc;
        const void *kp = k + (size_t)done * x->ksz[m];
        const void *vp = v + (size_t)done * x->vsz[m];
        if (n - done == 1 || x->nobatch[m]) {
            rc = isdel ? bpf_map_delete_elem(x->fd[m], kp)
                       : bpf_map_update_elem(x->fd[m], kp, vp, BPF_ANY);
            cnt = rc < 0 ? 0 : 1;
        } else {
            cnt = n - done;
            rc = isdel ? bpf_map_delete_batch(x->fd[m], kp, &cnt, &bo)
                       : bpf_map_update_batch(x->fd[m], kp, vp, &cnt, &bo);
            if (rc < 0 && (errno == EINVAL || errno == ENOTSUP ||
                           errno == 524 /* ENOTSUPP */) && cnt == 0) {
                /* older kernel (batch ops on hash maps: 5.6) */
                x->nobatch[m] = 1;
                log_info("fwd: no batch %s of %s in this kernel (%s): one "
                         "system call per entry", isdel ? "delete" : "update",
                         map_names[m], strerror(errno));
                continue;
            }
        }
        done += cnt;
        if (rc < 0) {
            if (!isdel || errno != ENOENT) {
                xdp_fail(f, map_what[m], errno);
                return;
            }
            done++; /* absent: skipped, as the tables had it */
        }
    }
}

/* Writes the queue (wlock): each run of one map and one kind of write in
 * one call, the runs in the order the tables changed, so that the maps
 * pass through the states the per-entry writes gave, and end in the same. */
static void
xdp_flush(struct fwd *f)
{
    struct fwd_xdp *x = f->xdp;
    unsigned n = x->nops;
    for (unsigned i = 0, j; i < n && !x->failed; i = j) {
        int m = x->ops[i].m, isdel = x->ops[i].del;
        for (j = i; j < n && x->ops[j].m == m && x->ops[j].del == isdel; j++) {
            memcpy(x->kbuf + (size_t)(j - i) * x->ksz[m], x->ops[j].key, x->ksz[m]);
            if (!isdel)
                memcpy(x->vbuf + (size_t)(j - i) * x->vsz[m], x->ops[j].val,
                       x->vsz[m]);
        }
        run_write(f, m, isdel, j - i);
    }
    __atomic_store_n(&x->nops, 0, __ATOMIC_RELAXED);
}

static void
queue(struct fwd *f, int m, int isdel, const void *k, const void *v)
{
    struct fwd_xdp *x = f->xdp;
    if (x->failed)
        return;
    if (x->nops == QUEUE_MAX)
        xdp_flush(f);
    struct xdp_op *o = &x->ops[x->nops];
    o->m = (uint8_t)m;
    o->del = (uint8_t)isdel;
    memcpy(o->key, k, x->ksz[m]);
    if (!isdel)
        memcpy(o->val, v, x->vsz[m]);
    __atomic_store_n(&x->nops, x->nops + 1, __ATOMIC_RELAXED);
    if (!x->defer)
        xdp_flush(f);
}

static void
put(struct fwd *f, int m, const void *k, const void *v)
{
    if (map_queued[m]) {
        queue(f, m, 0, k, v);
        return;
    }
    xdp_flush(f);
    if (bpf_map_update_elem(f->xdp->fd[m], k, v, BPF_ANY) < 0)
        xdp_fail(f, map_what[m], errno);
}

static void
del(struct fwd *f, int m, const void *k)
{
    if (map_queued[m]) {
        queue(f, m, 1, k, NULL);
        return;
    }
    xdp_flush(f);
    if (bpf_map_delete_elem(f->xdp->fd[m], k) < 0 && errno != ENOENT)
        xdp_fail(f, map_what[m], errno);
}

void
fwd_xdp_flush(struct fwd *f)
{
    if (f->xdp != NULL)
        xdp_flush(f);
}

void
fwd_mirror_defer(struct fwd *f, int on)
{
    if (f->xdp == NULL)
        return;
    pthread_mutex_lock(&f->wlock);
    f->xdp->defer = on;
    xdp_flush(f);
    pthread_mutex_unlock(&f->wlock);
}

void
fwd_flush(struct fwd *f)
{
    struct fwd_xdp *x = f != NULL ? f->xdp : NULL;
    /* nothing queued by this thread (the housekeeping thread flushes its
     * own): no lock */
    if (x == NULL || __atomic_load_n(&x->nops, __ATOMIC_RELAXED) == 0)
        return;
    pthread_mutex_lock(&f->wlock);
    xdp_flush(f);
    pthread_mutex_unlock(&f->wlock);
}

void
fwd_xdp_cfg(struct fwd *f)
{
    struct fwd_xdp *x = f->xdp;
    uint32_t zero = 0;
    if (x == NULL)
        return;
    x->cfg.enabled = !x->failed;
    x->cfg.mtu = __atomic_load_n(&f->underlay_mtu, __ATOMIC_RELAXED);
    x->cfg.udp_port = f->p.udp_port;
    x->cfg.sport_min = f->p.sport_min;
    x->cfg.sport_max = f->p.sport_max;
    x->cfg.local_family = f->local_family;
    x->cfg.df = f->p.df;
    memcpy(x->cfg.local_ip, f->local_ip, 16);
    put(f, M_CFG, &zero, &x->cfg);
}

void
fwd_xdp_vn(struct fwd *f, uint16_t vn)
{
    if (f->xdp == NULL)
        return;
    uint32_t k = vn, vni = f->vns[vn].vni;
    put(f, M_VNS, &k, &vni);
    put(f, M_VNIS, &vni, &k);
}

void
fwd_xdp_tag(struct fwd *f, uint16_t port, uint16_t tag)
{
    if (f->xdp == NULL)
        return;
    uint32_t k = NF_TAG_KEY(port, tag), vn1 = f->ports[port].tag2vn[tag];
    uint32_t vn = vn1 - 1;
    if (vn1)
        put(f, M_TAGS, &k, &vn);
    else
        del(f, M_TAGS, &k);
}

void
fwd_xdp_vnport(struct fwd *f, uint16_t vn, uint16_t port)
{
    if (f->xdp == NULL)
        return;
    uint32_t k = NF_VNPORT_KEY(vn, port), tag = f->vns[vn].port_tag[port];
    if (tag)
        put(f, M_VNPORT, &k, &tag);
    else
        del(f, M_VNPORT, &k);
}

void
fwd_xdp_mac(struct fwd *f, uint32_t slot)
{
    if (f->xdp == NULL)
        return;
    uint64_t k = f->macs[slot].key, v = f->macs[slot].val;
    struct nf_mac m = {.val = v, .slot = slot};
    if (FWD_MV_TYPE(v) != FWD_MAC_LOCAL && FWD_MV_REMOTE(v) < FWD_MAX_REMOTES)
        m.val |= (uint64_t)f->remotes[FWD_MV_REMOTE(v)].gen << 48;
    put(f, M_MACS, &k, &m);
}

void
fwd_xdp_mac_del(struct fwd *f, uint64_t key)
{
    if (f->xdp != NULL)
        del(f, M_MACS, &key);
}

void
fwd_xdp_remote(struct fwd *f, uint16_t r, int fresh)
{
    struct fwd_xdp *x = f->xdp;
    const struct fwd_remote *rm = &f->remotes[r];
    uint32_t k = r;
    if (x == NULL)
        return;
    if (fresh) {
        memset(x->pcpu, 0, (size_t)x->ncpus * 8);
        put(f, M_RCTR, &k, x->pcpu);
    }
    if (!rm->used) {
        del(f, M_REMOTES, &k);
        return;
    }
    struct nf_remote v;
    memset(&v, 0, sizeof(v));
    memcpy(v.ip, rm->ip, 16);
    v.family = rm->family;
    v.gen = rm->gen;
    if (rm->resolved) {
        v.hdr_len = rm->hdr_len;
        memcpy(v.hdr, rm->hdr, rm->hdr_len);
    }
    put(f, M_REMOTES, &k, &v);
}

void
fwd_xdp_port_gone(struct fwd *f, uint16_t port)
{
    struct fwd_xdp *x = f->xdp;
    uint32_t k = port;
    if (x == NULL)
        return;
    /* stop redirecting to it and receiving on it now; the attachment
     * goes at the next fwd_xdp_sync */
    struct nf_port none = {0};
    put(f, M_PORTS, &k, &none);
    uint32_t ifi = (uint32_t)__atomic_load_n(&x->port[port].ifindex, __ATOMIC_RELAXED);
    if (ifi)
        del(f, M_DEVS, &ifi);
    /* a port added again at once keeps its interface: the next sync must
     * still write its maps back */
    __atomic_store_n(&x->port[port].stale, 1, __ATOMIC_RELEASE);
    memset(x->pcpu, 0, (size_t)x->ncpus * ((sizeof(struct nf_port_ctr) + 7) & ~7u));
    put(f, M_PCTR, &k, x->pcpu);
}

/* ---- counters -------------------------------------------------------------- */

/* Sums a per-CPU value of n u64 counters into sum (added in place). */
static void
pcpu_sum(struct fwd *f, int m, uint32_t key, uint64_t *sum, size_t n)
{
    struct fwd_xdp *x = f->xdp;
    size_t vsz = (n * 8 + 7) & ~(size_t)7;
    if (x == NULL || bpf_map_lookup_elem(x->fd[m], &key, x->pcpu) < 0)
        return;
    for (int c = 0; c < x->ncpus; c++) {
        const uint64_t *v = (const uint64_t *)((const char *)x->pcpu + c * vsz);
        for (size_t i = 0; i < n; i++)
            sum[i] += v[i];
    }
}

void
fwd_xdp_port_ctrs(struct fwd *f, uint16_t port, struct fwd_port_ctr *c)
{
    pcpu_sum(f, M_PCTR, port, (uint64_t *)c, sizeof(*c) / 8);
}

void
fwd_xdp_vn_ctrs(struct fwd *f, uint16_t vn, struct fwd_vn_ctr *c)
{
    pcpu_sum(f, M_VCTR, vn, (uint64_t *)c, sizeof(*c) / 8);
}

uint64_t
fwd_xdp_remote_tx(struct fwd *f, uint16_t r)
{
    uint64_t n = 0;
    pcpu_sum(f, M_RCTR, r, &n, 1);
    return n;
}

static void
glob_sum(struct fwd *f, struct nf_glob *g)
{
    memset(g, 0, sizeof(*g));
    pcpu_sum(f, M_GLOB, 0, (uint64_t *)g, sizeof(*g) / 8);
}

void
fwd_xdp_glob(struct fwd *f, uint64_t *drops, uint64_t und[4])
{
    struct nf_glob g;
    if (f->xdp == NULL)
        return;
    glob_sum(f, &g);
    for (int r = 0; r < FWD_DROP_MAX; r++)
        drops[r] += g.drops[r];
    und[0] += g.und_rx_pkts;
    und[1] += g.und_rx_bytes;
    und[2] += g.und_tx_pkts;
    und[3] += g.und_tx_bytes;
}

struct json_object *
fwd_xdp_ctrs_json(struct fwd *f)
{
    struct nf_glob g;
    struct json_object *o = json_object_new_object();
    if (f->xdp == NULL)
        memset(&g, 0, sizeof(g));
    else
        glob_sum(f, &g);
    json_object_object_add(o, "redirected", json_object_new_int64((int64_t)g.redirect));
    json_object_object_add(o, "passed", json_object_new_int64((int64_t)g.pass));
    json_object_object_add(o, "dropped", json_object_new_int64((int64_t)g.drop));
    return o;
}

static struct json_object *
dev_json(const struct xdp_dev *d)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "ifname", json_object_new_string(d->ifname));
    json_object_object_add(o, "attached", json_object_new_boolean(d->link_fd >= 0));
    json_object_object_add(o, "xmit", json_object_new_boolean(d->xmit));
    json_object_object_add(o, "mtu", json_object_new_int64(d->mtu));
    if (d->err[0])
        json_object_object_add(o, "error", json_object_new_string(d->err));
    return o;
}

struct json_object *
fwd_xdp_state_json(struct fwd *f)
{
    struct fwd_xdp *x = f->xdp;
    struct json_object *o = json_object_new_object();
    const char *st = !f->p.fastpath ? "off" : x == NULL || x->failed
        ? "unavailable" : "on";
    json_object_object_add(o, "state", json_object_new_string(st));
    if (f->xdp_why[0])
        json_object_object_add(o, "reason", json_object_new_string(f->xdp_why));
    struct json_object *a = json_object_new_array();
    if (x != NULL) {
        if (x->und.ifname[0])
            json_object_array_add(a, dev_json(&x->und));
        for (int p = 0; p < FWD_MAX_PORTS; p++)
            if (x->port[p].ifname[0])
                json_object_array_add(a, dev_json(&x->port[p]));
    }
    json_object_object_add(o, "interfaces", a);
    return o;
}

/* ---- attachment ------------------------------------------------------------ */

static void
dev_detach(struct xdp_dev *d)
{
    if (d->link_fd >= 0)
        close(d->link_fd); /* a bpf_link: closing it detaches */
    d->link_fd = -1;
    if (d->obj != NULL)
        bpf_object__close(d->obj);
    d->obj = NULL;
}

/* A copy of the object sharing every map, with one program loaded:
 * "nve_fast" bound to ifindex, which is port (-1: the underlay), or
 * (ifindex 0) "nve_fast_test". The object, or NULL with -errno in *rc. */
static struct bpf_object *
prog_load(struct fwd_xdp *x, int ifindex, int port, int *rc)
{
    DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "nve_fast");
    struct bpf_object *obj = bpf_object__open_mem(nve_fast_bpf_o,
                                                  nve_fast_bpf_o_len, &oo);
    *rc = obj == NULL ? -errno : 0;
    for (int m = 0; *rc == 0 && m < M_MAX; m++) {
        struct bpf_map *mp = bpf_object__find_map_by_name(obj, map_names[m]);
        *rc = mp == NULL ? -ENOENT : bpf_map__reuse_fd(mp, x->fd[m]);
    }
    struct bpf_program *dev = NULL, *test = NULL;
    if (*rc == 0) {
        dev = bpf_object__find_program_by_name(obj, "nve_fast");
        test = bpf_object__find_program_by_name(obj, "nve_fast_test");
        *rc = dev == NULL || test == NULL ? -ENOENT : 0;
    }
    if (*rc == 0) {
        bpf_program__set_autoload(ifindex ? test : dev, false);
        if (ifindex) {
            bpf_program__set_ifindex(dev, (uint32_t)ifindex);
            bpf_program__set_flags(dev, BPF_F_XDP_DEV_BOUND_ONLY);
            /* what the interface is: a constant of the program */
            struct nf_self self = {
                .kind = port < 0 ? NF_DEV_UNDERLAY : NF_DEV_ACCESS,
                .port = port < 0 ? 0 : (uint32_t)port};
            struct bpf_map *ro = bpf_object__find_map_by_name(obj, ".rodata.dev");
            *rc = ro == NULL ? -ENOENT
                : bpf_map__set_initial_value(ro, &self, sizeof(self));
        }
    }
    if (*rc == 0)
        *rc = bpf_object__load(obj);
    if (*rc != 0) {
        bpf_object__close(obj);
        return NULL;
    }
    return obj;
}

/* Loads the program bound to ifindex and attaches it in driver mode. 0,
 * or -1 with d->err set. */
static int
dev_attach(struct fwd_xdp *x, struct xdp_dev *d, int ifindex, int port)
{
    uint64_t feat = 0, meta = 0;
    if (fwd_nl_xdp_features(x->genl_fd, ifindex, &feat, &meta) < 0) {
        snprintf(d->err, sizeof(d->err), "XDP features unknown (%s): "
                 "needs Linux 6.8", strerror(errno));
        return -1;
    }
    if (!(feat & FWD_NL_XDP_BASIC)) {
        snprintf(d->err, sizeof(d->err), "driver has no native XDP");
        return -1;
    }
    /* a tag the driver strips and does not report would be invisible:
     * a tag inside could then choose the VN */
    if (!(meta & FWD_NL_XDP_META_VLAN)) {
        snprintf(d->err, sizeof(d->err), "driver does not report VLAN tags "
                 "to XDP");
        return -1;
    }
    int rc;
    struct bpf_object *obj = prog_load(x, ifindex, port, &rc);
    if (obj == NULL) {
        snprintf(d->err, sizeof(d->err), "load: %s", strerror(-rc));
        /* the verifier gives up on a signal: libpsx sends one to every
         * thread per capability nve-agent drops after start-up */
        return rc == -EAGAIN || rc == -EINTR ? -2 : -1;
    }
    struct bpf_program *prog = bpf_object__find_program_by_name(obj, "nve_fast");
    /* a link, not a netlink attachment: it goes with our process, so a
     * crashed nve-agent leaves no program forwarding on stale tables */
    DECLARE_LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = XDP_FLAGS_DRV_MODE);
    int fd = bpf_link_create(bpf_program__fd(prog), ifindex, BPF_XDP, &lo);
    if (fd < 0) {
        snprintf(d->err, sizeof(d->err), "attach: %s%s", strerror(errno),
                 errno == EBUSY || errno == EEXIST
                     ? " (another XDP program is attached)" : "");
        bpf_object__close(obj);
        return -1;
    }
    d->obj = obj;
    d->link_fd = fd;
    d->err[0] = '\0';
    return 0;
}

/* Writes where frames to the device go and what arrives on it (wlock). */
static void
dev_maps(struct fwd *f, struct xdp_dev *d, int port)
{
    struct fwd_xdp *x = f->xdp;
    uint32_t ifi = (uint32_t)d->ifindex;
    if (port < 0) {
        x->cfg.und_ifindex = ifi;
        x->cfg.und_xmit = d->xmit;
        fwd_xdp_cfg(f);
    } else {
        uint32_t k = (uint32_t)port;
        struct nf_port np = {.ifindex = ifi, .xmit = d->xmit, .mtu = d->mtu};
        put(f, M_PORTS, &k, &np);
    }
    if (ifi == 0)
        return;
    if (d->link_fd >= 0) {
        struct nf_dev nd = {.port = port < 0 ? 0 : (uint16_t)port,
                            .kind = port < 0 ? NF_DEV_UNDERLAY : NF_DEV_ACCESS};
        put(f, M_DEVS, &ifi, &nd);
    } else {
        del(f, M_DEVS, &ifi);
    }
}

/* Brings one device in line: name (empty = not wanted), port (-1: the
 * underlay). */
static void
dev_sync(struct fwd *f, struct xdp_dev *d, const char *name, int port,
         uint32_t now, int *budget)
{
    struct fwd_xdp *x = f->xdp;
    int ifindex = name[0] ? (int)if_nametoindex(name) : 0;
    int changed = __atomic_exchange_n(&d->stale, 0, __ATOMIC_ACQ_REL);
    if (d->ifindex != ifindex || strcmp(d->ifname, name) != 0) {
        /* gone, renamed or recreated: what we knew is stale */
        if (d->ifindex) {
            uint32_t old = (uint32_t)d->ifindex;
            pthread_mutex_lock(&f->wlock);
            del(f, M_DEVS, &old);
            pthread_mutex_unlock(&f->wlock);
        }
        dev_detach(d);
        snprintf(d->ifname, sizeof(d->ifname), "%s", name);
        __atomic_store_n(&d->ifindex, ifindex, __ATOMIC_RELAXED);
        d->xmit = 0;
        d->retry_at = 0;
        d->transient = 0;
        d->err[0] = '\0';
        changed = 1;
    }
    if (ifindex == 0) {
        if (name[0] && !d->err[0])
            snprintf(d->err, sizeof(d->err), "no such interface");
        if (changed) {
            pthread_mutex_lock(&f->wlock);
            dev_maps(f, d, port);
            pthread_mutex_unlock(&f->wlock);
        }
        return;
    }
    if (d->link_fd < 0 && now >= d->retry_at && *budget > 0) {
        (*budget)--;
        char before[sizeof(d->err)];
        memcpy(before, d->err, sizeof(before));
        int rc = dev_attach(x, d, ifindex, port);
        if (rc == 0) {
            log_info("fwd: fast path attached to %s", name);
            d->transient = 0;
            changed = 1;
        } else if (rc == -2 && !d->transient) {
            /* once more at the next sync, then as any failure */
            log_debug("fwd: %s: %s, tried again", name, d->err);
            memcpy(d->err, before, sizeof(before));
            d->transient = 1;
            d->retry_at = now + 1;
        } else {
            d->transient = 0;
            d->retry_at = now + RETRY_S;
            if (strcmp(before, d->err) != 0)
                log_warnx("fwd: no fast path on %s (%s): its frames go "
                          "through the in-process forwarder", name, d->err);
        }
    }
    /* whether it takes redirected frames can change under us (a veth
     * whose peer turns GRO or XDP off): followed once a second */
    uint64_t feat = 0, meta = 0;
    uint8_t xmit = fwd_nl_xdp_features(x->genl_fd, ifindex, &feat, &meta) == 0 &&
        (feat & FWD_NL_XDP_NDO_XMIT);
    if (xmit != d->xmit) {
        log_info("fwd: %s %s redirected frames%s", name,
                 xmit ? "takes" : "does not take",
                 xmit ? "" : ": frames to it go through the in-process forwarder");
        d->xmit = xmit;
        changed = 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(x->genl_fd, SIOCGIFMTU, &ifr) == 0 && (uint32_t)ifr.ifr_mtu != d->mtu) {
        d->mtu = (uint32_t)ifr.ifr_mtu;
        changed = 1;
    }
    if (changed) {
        pthread_mutex_lock(&f->wlock);
        dev_maps(f, d, port);
        pthread_mutex_unlock(&f->wlock);
    }
}

void
fwd_xdp_sync(struct fwd *f)
{
    struct fwd_xdp *x = f->xdp;
    char names[FWD_MAX_PORTS][IF_NAMESIZE];
    if (x == NULL || x->failed)
        return;
    pthread_mutex_lock(&f->wlock);
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        snprintf(names[p], sizeof(names[p]), "%s",
                 f->ports[p].used ? f->ports[p].ifname : "");
    pthread_mutex_unlock(&f->wlock);
    uint32_t now = fwd_now_s();
    int budget = ATTACH_PER_SYNC;
    dev_sync(f, &x->und, f->p.underlay_if, -1, now, &budget);
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        if (names[p][0] || x->port[p].ifname[0])
            dev_sync(f, &x->port[p], names[p], p, now, &budget);
}

void
fwd_xdp_detach_all(struct fwd *f)
{
    struct fwd_xdp *x = f->xdp;
    if (x == NULL)
        return;
    dev_detach(&x->und);
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        dev_detach(&x->port[p]);
}

/* ---- construction ------------------------------------------------------------ */

static void
xdp_free(struct fwd_xdp *x)
{
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        dev_detach(&x->port[p]);
    dev_detach(&x->und);
    if (x->seen != NULL)
        munmap(x->seen, x->seen_len);
    if (x->test_obj != NULL)
        bpf_object__close(x->test_obj);
    if (x->obj != NULL)
        bpf_object__close(x->obj);
    if (x->genl_fd >= 0)
        close(x->genl_fd);
    free(x->pcpu);
    free(x->ops);
    free(x->kbuf);
    free(x->vbuf);
    free(x);
}

static int
xdp_load(struct fwd *f, struct fwd_xdp *x)
{
    DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "nve_fast");
    libbpf_set_print(libbpf_log);
    x->obj = bpf_object__open_mem(nve_fast_bpf_o, nve_fast_bpf_o_len, &oo);
    if (x->obj == NULL) {
        snprintf(f->xdp_why, sizeof(f->xdp_why), "open: %s", strerror(errno));
        return -1;
    }
    /* the maps only: the program is loaded (verified) per interface,
     * bound to it (dev_attach), and the test one on demand */
    struct bpf_program *p;
    bpf_object__for_each_program(p, x->obj)
        bpf_program__set_autoload(p, false);
    int rc = bpf_object__load(x->obj);
    if (rc != 0) {
        snprintf(f->xdp_why, sizeof(f->xdp_why), "the kernel refused the "
                 "maps (needs CAP_BPF): %s", strerror(-rc));
        return -1;
    }
    for (int m = 0; m < M_MAX; m++) {
        const struct bpf_map *mp = bpf_object__find_map_by_name(x->obj, map_names[m]);
        x->fd[m] = bpf_map__fd(mp);
        x->ksz[m] = bpf_map__key_size(mp);
        x->vsz[m] = bpf_map__value_size(mp);
        if (map_queued[m] && (x->ksz[m] > sizeof(x->ops->key) ||
                              x->vsz[m] > sizeof(x->ops->val))) {
            snprintf(f->xdp_why, sizeof(f->xdp_why), "%s: entries too large "
                     "to queue", map_names[m]);
            return -1;
        }
    }
    /* nf_seen: FWD_MAC_CAP u32 slots, mapped as the forwarder's mac_seen */
    x->seen_len = ((size_t)FWD_MAC_CAP * 4 + 4095) & ~(size_t)4095;
    x->seen = mmap(NULL, x->seen_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                   x->fd[M_SEEN], 0);
    if (x->seen == MAP_FAILED) {
        x->seen = NULL;
        snprintf(f->xdp_why, sizeof(f->xdp_why), "mmap: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int
fwd_xdp_open(struct fwd *f)
{
    struct fwd_xdp *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -1;
    x->genl_fd = -1;
    x->test_fd = -1;
    x->und.link_fd = -1;
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        x->port[p].link_fd = -1;
    x->ncpus = libbpf_num_possible_cpus();
    x->pcpu = x->ncpus > 0 ? calloc((size_t)x->ncpus, sizeof(struct nf_glob)) : NULL;
    x->ops = calloc(QUEUE_MAX, sizeof(*x->ops));
    x->kbuf = calloc(QUEUE_MAX, sizeof(x->ops->key));
    x->vbuf = calloc(QUEUE_MAX, sizeof(x->ops->val));
    if (x->pcpu == NULL || x->ops == NULL || x->kbuf == NULL || x->vbuf == NULL) {
        snprintf(f->xdp_why, sizeof(f->xdp_why), "cannot count CPUs or "
                 "allocate the write queue");
        xdp_free(x);
        return -1;
    }
    if (xdp_load(f, x) < 0 ||
        (x->genl_fd = fwd_nl_open_proto(NETLINK_GENERIC)) < 0) {
        if (!f->xdp_why[0])
            snprintf(f->xdp_why, sizeof(f->xdp_why), "netlink: %s",
                     strerror(errno));
        xdp_free(x);
        return -1;
    }
    /* the learned entries' timestamps now live where the program writes */
    memcpy(x->seen, f->mac_seen, (size_t)FWD_MAC_CAP * 4);
    free(f->mac_seen);
    f->mac_seen = x->seen;
    f->xdp = x;
    fwd_xdp_cfg(f);
    return 0;
}

void
fwd_xdp_close(struct fwd *f)
{
    struct fwd_xdp *x = f->xdp;
    if (x == NULL)
        return;
    /* mac_seen was the map: give the forwarder its own back (or none) */
    f->mac_seen = calloc(FWD_MAC_CAP, sizeof(*f->mac_seen));
    f->xdp = NULL;
    xdp_free(x);
}

int
fwd_xdp_test_prog(struct fwd *f)
{
    struct fwd_xdp *x = f->xdp;
    int rc;
    if (x == NULL)
        return -1;
    if (x->test_obj == NULL && (x->test_obj = prog_load(x, 0, 0, &rc)) != NULL)
        x->test_fd = bpf_program__fd(bpf_object__find_program_by_name(
            x->test_obj, "nve_fast_test"));
    return x->test_fd;
}

int
fwd_xdp_dev_set(struct fwd *f, int ifindex, int port, int xmit)
{
    struct fwd_xdp *x = f->xdp;
    if (x == NULL || port >= FWD_MAX_PORTS)
        return -1;
    struct xdp_dev *d = port < 0 ? &x->und : &x->port[port];
    pthread_mutex_lock(&f->wlock);
    d->ifindex = ifindex;
    d->xmit = (uint8_t)xmit;
    d->mtu = 1500;
    /* as if attached: the test program finds its device */
    uint32_t ifi = (uint32_t)ifindex;
    struct nf_dev nd = {.port = port < 0 ? 0 : (uint16_t)port,
                        .kind = port < 0 ? NF_DEV_UNDERLAY : NF_DEV_ACCESS};
    d->link_fd = -1;
    dev_maps(f, d, port);
    put(f, M_DEVS, &ifi, &nd);
    pthread_mutex_unlock(&f->wlock);
    return x->failed ? -1 : 0;
}

#else /* !HAVE_BPF */

int
fwd_xdp_open(struct fwd *f)
{
    snprintf(f->xdp_why, sizeof(f->xdp_why), "built without libbpf, clang "
             "and xxd (configure found no BPF toolchain)");
    return -1;
}
void fwd_xdp_close(struct fwd *f) { (void)f; }
void fwd_xdp_cfg(struct fwd *f) { (void)f; }
void fwd_xdp_vn(struct fwd *f, uint16_t vn) { (void)f; (void)vn; }
void fwd_xdp_tag(struct fwd *f, uint16_t port, uint16_t tag) { (void)f; (void)port; (void)tag; }
void fwd_xdp_vnport(struct fwd *f, uint16_t vn, uint16_t port) { (void)f; (void)vn; (void)port; }
void fwd_xdp_mac(struct fwd *f, uint32_t slot) { (void)f; (void)slot; }
void fwd_xdp_mac_del(struct fwd *f, uint64_t key) { (void)f; (void)key; }
void fwd_xdp_remote(struct fwd *f, uint16_t r, int fresh) { (void)f; (void)r; (void)fresh; }
void fwd_xdp_port_gone(struct fwd *f, uint16_t port) { (void)f; (void)port; }
void fwd_xdp_flush(struct fwd *f) { (void)f; }
void fwd_mirror_defer(struct fwd *f, int on) { (void)f; (void)on; }
void fwd_flush(struct fwd *f) { (void)f; }
void fwd_xdp_sync(struct fwd *f) { (void)f; }
void fwd_xdp_detach_all(struct fwd *f) { (void)f; }
void fwd_xdp_port_ctrs(struct fwd *f, uint16_t port, struct fwd_port_ctr *c) { (void)f; (void)port; (void)c; }
void fwd_xdp_vn_ctrs(struct fwd *f, uint16_t vn, struct fwd_vn_ctr *c) { (void)f; (void)vn; (void)c; }
uint64_t fwd_xdp_remote_tx(struct fwd *f, uint16_t r) { (void)f; (void)r; return 0; }
void fwd_xdp_glob(struct fwd *f, uint64_t *drops, uint64_t und[4]) { (void)f; (void)drops; (void)und; }
struct json_object *
fwd_xdp_state_json(struct fwd *f)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "state", json_object_new_string(
        f->p.fastpath ? "unavailable" : "off"));
    if (f->xdp_why[0])
        json_object_object_add(o, "reason", json_object_new_string(f->xdp_why));
    json_object_object_add(o, "interfaces", json_object_new_array());
    return o;
}
struct json_object *
fwd_xdp_ctrs_json(struct fwd *f)
{
    struct json_object *o = json_object_new_object();
    (void)f;
    json_object_object_add(o, "redirected", json_object_new_int64(0));
    json_object_object_add(o, "passed", json_object_new_int64(0));
    json_object_object_add(o, "dropped", json_object_new_int64(0));
    return o;
}
int fwd_xdp_test_prog(struct fwd *f) { (void)f; return -1; }
int fwd_xdp_dev_set(struct fwd *f, int ifindex, int port, int xmit) { (void)f; (void)ifindex; (void)port; (void)xmit; return -1; }

#endif
