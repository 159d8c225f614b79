/* main.c - hv-agent: options, configuration, and the wiring of the uplink
 * socket, the event loop, timers, signals and the control socket. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ev.h"
#include "hv.h"
#include "hv_host.h"
#include "l2sock.h"
#include "log.h"

#define RX_BATCH 16

struct hv_main {
    struct hv h;
    struct hv_host *host; /* data plane, 802.1Qbg, libvirt events */
    struct l2sock sock;
    struct ev_timer proto_timer;
    struct l2sock_rx *rx;
    uint64_t next_save; /* ms: earliest time for the next state save */
};

/* A save costs a full rewrite plus two fsyncs: with thousands of VNICs
 * changing at once, saving on every loop iteration would be quadratic.
 * Saves stay immediate while cheap and are spaced to keep them under a
 * tenth of the time, at most one second apart. */
#define SAVE_SPACING_MAX_MS 1000
#define SAVE_COST_FACTOR 10

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: hv-agent [-dnhV] [-v...] [-f config] [-s socket]\n"
            "  -d         stay in the foreground, log to stderr\n"
            "  -v         more verbose logging (repeat for more)\n"
            "  -f config  configuration file (default %s)\n"
            "  -s socket  control socket (default: the configuration's "
            "control-socket, %s)\n"
            "  -n         check the configuration, print it normalised, exit\n"
            "  -h         this help\n"
            "  -V         print the version and exit\n"
            "state file: the configuration's state-file (default %s)\n",
            HV_CONF_DEFAULT, HV_CTL_DEFAULT, HV_STATE_DEFAULT);
}

static int
send_frame(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    return l2sock_send(arg, dst, buf, len);
}

/* Reads what the uplink has queued. Always done before the engine runs:
 * after a slow moment (a big state save) the answers already received
 * must be seen before the retransmission timers are. Bounded so a flood
 * cannot starve the rest of the loop. */
static void
drain_uplink(struct hv_main *m)
{
    int n;

    for (int round = 0; round < 64; round++) {
        uint64_t now;
        if ((n = l2sock_recv(&m->sock, m->rx, RX_BATCH)) <= 0)
            break;
        now = ev_clock_ms();
        for (int i = 0; i < n; i++)
            hv_proto_input(&m->h, m->rx[i].src, m->rx[i].dst,
                           m->rx[i].payload, m->rx[i].paylen, now);
        if (n < RX_BATCH)
            break;
    }
}

static void
run_proto(struct hv_main *m)
{
    uint64_t now, next;

    drain_uplink(m);
    now = ev_clock_ms();
    next = hv_proto_run(&m->h, now);
    if (m->h.state_dirty) {
        now = ev_clock_ms();
        if (now >= m->next_save) {
            uint64_t cost;
            hv_state_flush(&m->h);
            cost = ev_clock_ms() - now;
            m->next_save = now + (cost * SAVE_COST_FACTOR <
                                  SAVE_SPACING_MAX_MS ?
                                  cost * SAVE_COST_FACTOR :
                                  SAVE_SPACING_MAX_MS);
        }
        if (m->h.state_dirty && m->next_save < next)
            next = m->next_save;
    }
    ev_timer_at(m->h.loop, &m->proto_timer, next);
}

static void
proto_timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    (void)l;
    (void)t;
    run_proto(arg);
}

/* New work was queued (ctl request, state change): run the engine as soon
 * as the current callback returns, once for everything queued meanwhile. */
static void
wake(struct hv *h)
{
    struct hv_main *m = (struct hv_main *)h;

    if (h->loop != NULL)
        ev_timer_start(h->loop, &m->proto_timer, 0);
}

static void
uplink_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    run_proto(arg);
}

static void
reload(struct hv_main *m)
{
    struct hv *h = &m->h;
    struct hv_conf nc;

    if (h->conf_path == NULL) {
        log_info("SIGHUP: no configuration file to reload");
        return;
    }
    if (hv_conf_load(&nc, h->conf_path) < 0) {
        log_warnx("SIGHUP: %s has errors; keeping the running configuration",
                  h->conf_path);
        return;
    }
    if (strcmp(nc.uplink, h->conf.uplink) != 0 ||
        nc.ethertype != h->conf.ethertype ||
        memcmp(nc.group_mac, h->conf.group_mac, 6) != 0 ||
        strcmp(nc.state_file, h->conf.state_file) != 0 ||
        strcmp(nc.ctl_path, h->conf.ctl_path) != 0 ||
        nc.nve_mac_set != h->conf.nve_mac_set ||
        memcmp(nc.nve_mac, h->conf.nve_mac, 6) != 0)
        log_warnx("SIGHUP: uplink, ethertype, group-mac, nve-mac, state-file "
                  "and control-socket changes take effect at restart");
    snprintf(nc.uplink, sizeof(nc.uplink), "%s", h->conf.uplink);
    nc.ethertype = h->conf.ethertype;
    memcpy(nc.group_mac, h->conf.group_mac, 6);
    memcpy(nc.nve_mac, h->conf.nve_mac, 6);
    nc.nve_mac_set = h->conf.nve_mac_set;
    memcpy(nc.state_file, h->conf.state_file, sizeof(nc.state_file));
    memcpy(nc.ctl_path, h->conf.ctl_path, sizeof(nc.ctl_path));
    if (memcmp(&nc.host, &h->conf.host, sizeof(nc.host)) != 0)
        log_warnx("SIGHUP: dataplane, vdp-pid-file, libvirt-uri and "
                  "migration-marker-dir changes take effect at restart");
    nc.host = h->conf.host;
    hv_conf_free(&h->conf);
    h->conf = nc;
    hv_proto_reconf(h);
    log_info("SIGHUP: configuration reloaded from %s", h->conf_path);
    wake(h);
}

static void
signal_cb(struct ev_loop *l, int signo, void *arg)
{
    struct hv_main *m = arg;

    if (signo == SIGHUP) {
        reload(m);
        return;
    }
    log_info("signal %d: shutting down", signo);
    ev_break(l);
}

static int
mkdir_parent(const char *path)
{
    char tmp[PATH_MAX];
    char *dir;

    snprintf(tmp, sizeof(tmp), "%s", path);
    dir = dirname(tmp);
    if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
        log_warn("mkdir %s", dir);
        return -1;
    }
    return 0;
}

static int
load_conf(struct hv *h, const char *path, int explicit)
{
    if (!explicit && access(path, F_OK) == -1) {
        /* no file at the default place: built-in defaults */
        hv_conf_defaults(&h->conf);
        h->conf_path = NULL;
        return 0;
    }
    h->conf_path = path;
    return hv_conf_load(&h->conf, path);
}

static int
start(struct hv_main *m)
{
    struct hv *h = &m->h;
    char err[512];
    int resync;

    if (mkdir_parent(h->conf.state_file) < 0)
        return -1;
    if (hv_state_load(&h->state, h->conf.state_file, err, sizeof(err)) < 0)
        log_warnx("state file: %s; starting with no VNICs", err);
    resync = h->state.count > 0;
    if (resync)
        log_info("loaded %zu VNICs from %s", h->state.count,
                 h->conf.state_file);
    if (l2sock_open(&m->sock, h->conf.uplink, h->conf.ethertype,
                    h->conf.group_mac) < 0)
        return -1;
    if ((h->loop = ev_loop_new()) == NULL)
        return -1;
    h->wake = wake;
    ev_timer_init(&m->proto_timer, proto_timer_cb, m);
    if (hv_proto_init(h, nvdp_epoch_new(), m->sock.mac, m->sock.mtu, send_frame,
                      &m->sock, resync, ev_clock_ms()) < 0) {
        log_warnx("cannot initialise the protocol engine");
        return -1;
    }
    if (ev_io_add(h->loop, m->sock.fd, EPOLLIN, uplink_cb, m) < 0)
        return -1;
    if (hv_ctl_start(h, h->conf.ctl_path) < 0) {
        log_warnx("cannot open the control socket %s", h->conf.ctl_path);
        return -1;
    }
    if ((m->host = hv_host_start(h)) == NULL)
        return -1;
    h->host = m->host;
    ev_signal_add(h->loop, SIGTERM, signal_cb, m);
    ev_signal_add(h->loop, SIGINT, signal_cb, m);
    ev_signal_add(h->loop, SIGHUP, signal_cb, m);
    signal(SIGPIPE, SIG_IGN);
    log_info("started: name %s, uplink %s (mtu %u), epoch %08x, %zu VNICs",
             h->conf.name, h->conf.uplink, m->sock.mtu, h->proto.epoch,
             h->state.count);
    ev_timer_start(h->loop, &m->proto_timer, 0);
    return 0;
}

/* VNICs are deliberately not disassociated: the NVE keeps them for the
 * hold time and a restarted agent resyncs with the same tags. */
static void
stop(struct hv_main *m)
{
    struct hv *h = &m->h;

    h->state_dirty = 1;
    hv_state_flush(h);
    hv_host_stop(m->host);
    m->host = h->host = NULL;
    hv_ctl_stop(h); /* removes the control socket if it was ours */
    if (h->loop != NULL) {
        ev_timer_stop(h->loop, &m->proto_timer);
        if (m->sock.fd > 0)
            ev_io_del(h->loop, m->sock.fd);
    }
    hv_proto_free(h);
    if (m->sock.fd > 0)
        l2sock_close(&m->sock);
    if (h->loop != NULL)
        ev_loop_free(h->loop);
    hv_state_free(&h->state);
    hv_conf_free(&h->conf);
}

int
main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *conf = HV_CONF_DEFAULT, *sock = NULL;
    int ch, debug = 0, verbose = 0, check = 0, explicit = 0, rc = 1;
    struct hv_main *m;

    while ((ch = getopt_long(argc, argv, "dvf:s:nhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd': debug = 1; break;
        case 'v': verbose++; break;
        case 'f': conf = optarg; explicit = 1; break;
        case 's': sock = optarg; break;
        case 'n': check = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("hv-agent %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init("hv-agent", debug || check, verbose);
    if ((m = calloc(1, sizeof(*m))) == NULL ||
        (m->rx = calloc(RX_BATCH, sizeof(*m->rx))) == NULL) {
        fprintf(stderr, "hv-agent: out of memory\n");
        return 1;
    }
    m->sock.fd = -1;
    hv_state_init(&m->h.state);
    if (load_conf(&m->h, conf, explicit) < 0)
        goto out;
    if (sock != NULL)
        snprintf(m->h.conf.ctl_path, sizeof(m->h.conf.ctl_path), "%s", sock);
    if (check) {
        hv_conf_print(&m->h.conf, stdout);
        rc = 0;
        if (m->h.conf.uplink[0] == '\0') {
            fprintf(stderr, "%s: no uplink set\n",
                    m->h.conf_path ? m->h.conf_path : "(defaults)");
            rc = 1;
        }
        goto out_conf;
    }
    if (m->h.conf.uplink[0] == '\0') {
        log_warnx("%s: no uplink configured",
                  m->h.conf_path ? m->h.conf_path : conf);
        goto out_conf;
    }
    if (!debug && daemon(0, 0) == -1) {
        log_warn("daemon");
        goto out_conf;
    }
    if (!debug)
        log_init("hv-agent", 0, verbose);
    if (start(m) == 0 && ev_run(m->h.loop) == 0)
        rc = 0;
    stop(m);
    free(m->rx);
    free(m);
    return rc;
out_conf:
    hv_conf_free(&m->h.conf);
out:
    free(m->rx);
    free(m);
    return rc;
}
