/* nve_evpn.c - nve-agent's EVPN glue: the engine (evpn.c) on the event
 * loop, its kernel side (evpn_nl.c), FRR's liveness from its pid files,
 * and the configuration's VNs. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "evpn.h"
#include "evpn_nl.h"
#include "nve.h"

struct nve_evpn {
    struct evpn *e;
    struct evpn_nl *nl;
    struct fwd *fwd;
    int snoop_fd; /* the forwarder's GARP / unsolicited NA queue */
    struct ev_loop *loop;
    struct ev_timer timer;
    struct ev_timer flush;  /* queued kernel writes go out */
    char rundir[108];
    unsigned bad;      /* malformed netlink messages */
    uint64_t overruns; /* notifications lost: dumps */
    uint64_t write_errors;
};

/* ---- FRR --------------------------------------------------------------- */

/* The pid in RUNDIR/NAME.pid if that process runs and is NAME (a pid file
 * left by a crash may name another process by now), else 0. */
static uint32_t
frr_pid(const char *rundir, const char *name)
{
    char path[160], comm[32] = "";
    unsigned long pid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.pid", rundir, name);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fscanf(f, "%lu", &pid) != 1 || pid == 0 || pid > 0x7fffffff)
        pid = 0;
    fclose(f);
    if (pid == 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
        return 0;
    snprintf(path, sizeof(path), "/proc/%lu/comm", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fgets(comm, sizeof(comm), f) == NULL)
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, name) == 0 ? (uint32_t)pid : 0;
}

/* zebra and bgpd both running: their pids, which change on a restart. */
static uint64_t
frr_probe(void *arg)
{
    const struct nve_evpn *x = arg;
    uint32_t z = frr_pid(x->rundir, "zebra"), b = frr_pid(x->rundir, "bgpd");

    return z && b ? (uint64_t)z << 32 | b : 0;
}

/* ---- the kernel side: evpn_nl.c ---------------------------------------- */

static int
k_vn_create(void *arg, uint32_t vni, const struct evpn_params *p,
            struct evpn_ifs *ifs, char *err, size_t errlen)
{
    return evpn_nl_vn_create(((struct nve_evpn *)arg)->nl, vni, p, ifs, err,
                             errlen);
}

static void
k_vn_destroy(void *arg, uint32_t vni, const struct evpn_ifs *ifs)
{
    evpn_nl_vn_destroy(((struct nve_evpn *)arg)->nl, vni, ifs);
}

static int
k_mac_write(void *arg, const struct evpn_ifs *ifs, const uint8_t mac[6],
            int add)
{
    return evpn_nl_mac_write(((struct nve_evpn *)arg)->nl, ifs, mac, add);
}

static int
k_ip_write(void *arg, const struct evpn_ifs *ifs, int family,
           const uint8_t ip[16], const uint8_t mac[6], int add)
{
    return evpn_nl_ip_write(((struct nve_evpn *)arg)->nl, ifs, family, ip, mac,
                            add);
}

/* ---- the event loop ---------------------------------------------------- */

static void
input(void *arg, const struct evpn_nlev *m)
{
    struct nve_evpn *x = arg;

    evpn_kernel_input(x->e, m, ev_now(x->loop));
}

static void
rearm(struct nve_evpn *x)
{
    ev_timer_at(x->loop, &x->timer, evpn_timers(x->e, ev_now(x->loop)));
    /* the writes of this round of the loop go out together, after it */
    if (evpn_nl_pending(x->nl) && !ev_timer_active(&x->flush))
        ev_timer_at(x->loop, &x->flush, ev_now(x->loop));
}

/* The whole neighbour table again: at start, and when notifications were
 * lost. */
static void
resync(struct nve_evpn *x)
{
    evpn_nl_flush(x->nl); /* the dump shows our writes */
    evpn_kernel_resync_begin(x->e);
    if (evpn_nl_dump(x->nl, input, x, &x->bad) < 0)
        log_warnx("evpn: neighbour table dump failed: retried");
    evpn_kernel_resync_end(x->e, ev_now(x->loop));
}

static void
nl_readable(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct nve_evpn *x = arg;

    if (evpn_nl_read(x->nl, input, x, &x->bad) < 0) {
        x->overruns++;
        log_warnx("evpn: neighbour notifications lost: reading the table "
                  "again");
        resync(x);
    }
    /* the time after the drain, not the loop's: a burst of thousands takes
     * a while, and changed_ms says when the forwarder got them */
    evpn_sync(x->e, ev_clock_ms());
    rearm(x);
}

/* VMs announcing themselves behind our access ports (seed 004 4.1). */
static void
snoop_readable(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct nve_evpn *x = arg;
    struct fwd_snoop ev[32];
    int n;

    do {
        n = fwd_snoop_read(x->fwd, ev, 32);
        for (int i = 0; i < n; i++)
            evpn_snoop(x->e, ev[i].vni, ev[i].mac, ev[i].family, ev[i].ip,
                       ev_now(l));
    } while (n == 32);
    evpn_sync(x->e, ev_now(l));
    rearm(x);
}

static void
timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    rearm(arg);
}

/* A write that failed left the engine thinking it done: the table read
 * again shows what is missing, and the engine writes it once more. */
static void
flush_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct nve_evpn *x = arg;
    int fails = evpn_nl_flush(x->nl);

    if (fails > 0) {
        x->write_errors += (uint64_t)fails;
        log_warnx("evpn: %d kernel writes failed: reading the table again",
                  fails);
        resync(x);
        rearm(x);
    }
}

/* ---- life cycle -------------------------------------------------------- */

static void
params(const struct nve_conf *c, struct evpn_params *p)
{
    memset(p, 0, sizeof(*p));
    inet_pton(AF_INET, c->fwd.local_ip, p->vtep);
    p->shadow_port = c->evpn.shadow_port;
    p->withdraw_delay_ms = c->evpn.withdraw_delay_ms;
    p->frr_grace_ms = c->evpn.frr_grace_s * 1000;
    p->frr_reconcile_ms = c->evpn.frr_reconcile_s * 1000;
    p->migration_hold_ms = c->evpn.migration_hold_s * 1000;
    p->mobility_hold_ms = c->evpn.mobility_hold_s * 1000;
    p->probe_ms = 200;
}

struct nve_evpn *
nve_evpn_new(struct ev_loop *l, const struct nve_conf *c, struct fwd *f)
{
    struct nve_evpn *x = calloc(1, sizeof(*x));
    struct evpn_params p;
    char err[160];

    if (x == NULL)
        return NULL;
    x->loop = l;
    x->fwd = f;
    x->snoop_fd = -1;
    snprintf(x->rundir, sizeof(x->rundir), "%s", c->evpn.frr_rundir);
    if ((x->nl = evpn_nl_open(err, sizeof(err))) == NULL) {
        log_warnx("evpn: %s", err);
        free(x);
        return NULL;
    }
    struct evpn_kops k = {
        .arg = x,
        .vn_create = k_vn_create,
        .vn_destroy = k_vn_destroy,
        .mac_write = k_mac_write,
        .ip_write = k_ip_write,
        .frr_probe = frr_probe,
    };
    params(c, &p);
    if ((x->e = evpn_new(&p, &k, f, ev_now(l))) == NULL ||
        ev_io_add(l, evpn_nl_fd(x->nl), EPOLLIN, nl_readable, x) < 0) {
        evpn_free(x->e);
        evpn_nl_close(x->nl);
        free(x);
        return NULL;
    }
    /* without it a move is still found by its association, only not
     * confirmed by the VM's own announcement */
    if ((x->snoop_fd = fwd_snoop_fd(f)) < 0 ||
        ev_io_add(l, x->snoop_fd, EPOLLIN, snoop_readable, x) < 0) {
        log_warn("evpn: no GARP/NA snooping");
        x->snoop_fd = -1;
    }
    ev_timer_init(&x->timer, timer_cb, x);
    ev_timer_init(&x->flush, flush_cb, x);
    log_info("evpn: VTEP %s, shadow devices on UDP port %u, FRR in %s",
             c->fwd.local_ip, p.shadow_port, x->rundir);
    return x;
}

void
nve_evpn_free(struct nve_evpn *x)
{
    if (x == NULL)
        return;
    ev_timer_stop(x->loop, &x->timer);
    ev_timer_stop(x->loop, &x->flush);
    ev_io_del(x->loop, evpn_nl_fd(x->nl));
    if (x->snoop_fd >= 0) /* the forwarder closes it */
        ev_io_del(x->loop, x->snoop_fd);
    evpn_free(x->e); /* the devices go: FRR withdraws our routes */
    evpn_nl_close(x->nl);
    free(x);
}

void
nve_evpn_apply_conf(struct nve_evpn *x, const struct nve_conf *old,
                    const struct nve_conf *c)
{
    uint64_t now = ev_now(x->loop);
    struct evpn_params p;

    params(c, &p);
    evpn_set_params(x->e, &p);
    snprintf(x->rundir, sizeof(x->rundir), "%s", c->evpn.frr_rundir);
    for (unsigned i = 0; old && i < old->nvns; i++)
        if (nve_conf_vn_by_vni(c, old->vns[i].vni) == NULL)
            evpn_vn_del(x->e, old->vns[i].vni, now);
    for (unsigned i = 0; i < c->nvns; i++)
        evpn_vn_add(x->e, c->vns[i].vni, now);
    /* the devices exist: what zebra already installed there is read now */
    resync(x);
    rearm(x);
}

void
nve_evpn_local(struct nve_evpn *x, uint32_t vni, uint16_t port,
               const struct nvdp_addr *a, int add, int migrating)
{
    uint64_t now = ev_now(x->loop);

    if (add)
        evpn_local_add(x->e, vni, port, a, now);
    else
        evpn_local_del(x->e, vni, port, a, migrating, now);
    evpn_sync(x->e, now);
    rearm(x);
}

struct json_object *
nve_evpn_json(const struct nve_evpn *x)
{
    struct json_object *o = evpn_json(x->e, ev_now(x->loop));
    struct json_object *nl = json_object_new_object();

    json_object_object_add(o, "frr_rundir", json_object_new_string(x->rundir));
    json_object_object_add(nl, "malformed", json_object_new_int64(x->bad));
    json_object_object_add(nl, "overruns",
                           json_object_new_int64((int64_t)x->overruns));
    json_object_object_add(nl, "write_errors",
                           json_object_new_int64((int64_t)x->write_errors));
    json_object_object_add(o, "netlink", nl);
    /* the forwarder's side of mobility, next to the engine's counters */
    static const struct {
        const char *fwd, *evpn;
    } mirror[] = {{"mobility_tunnelled", "tunnelled"},
                  {"arp_proxied", "arp_proxied"},
                  {"nd_proxied", "nd_proxied"}};
    struct json_object *fc = fwd_counters_json(x->fwd), *fw, *v, *c;
    if (json_object_object_get_ex(o, "counters", &c) &&
        json_object_object_get_ex(fc, "forwarder", &fw))
        for (size_t i = 0; i < sizeof(mirror) / sizeof(mirror[0]); i++)
            if (json_object_object_get_ex(fw, mirror[i].fwd, &v))
                json_object_object_add(c, mirror[i].evpn, json_object_get(v));
    json_object_put(fc);
    return o;
}

struct json_object *
nve_evpn_counters_json(const struct nve_evpn *x)
{
    return evpn_counters_json(x->e);
}
