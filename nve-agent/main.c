/* main.c - nve-agent entry point: options, configuration, event loop, signal
 * handling. Everything else lives in libnve (nve.c and the modules). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "ctlprio.h"
#include "ev.h"
#include "nve.h"
#include "privdrop.h"
#include "sdnotify.h"

/* What nve-agent needs once started: NET_RAW to open a port's sockets
 * (NVDP's and the forwarder's ring) when a reload adds one, NET_ADMIN for
 * their buffer sizes and for what it programs in the kernel (netlink, XDP
 * attach); with the XDP fast path, BPF and PERFMON (the verifier refuses
 * the program without the latter): the housekeeping thread loads it for
 * each interface after start-up, and for a port a reload adds. */
static int
drop_privileges(const struct nve *n)
{
    cap_value_t keep[4] = {CAP_NET_RAW, CAP_NET_ADMIN};
    size_t k = 2;

    if (n->conf->fwd.underlay_if[0] && fwd_fastpath_loads(n->fwd)) {
        keep[k++] = CAP_BPF;
        keep[k++] = CAP_PERFMON;
    }
    return privdrop_keep(keep, k);
}

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: nve-agent [-dhnV] [-v]... [-f config] [-s socket]\n"
            "  -d         stay in the foreground, log to stderr\n"
            "  -v         more verbose (repeat for per-message tracing)\n"
            "  -f file    configuration (default %s)\n"
            "  -s socket  control socket (default: the configuration's "
            "control-socket, %s)\n"
            "  -n         check the configuration, print it normalised, exit\n"
            "  -V         print the version and exit\n"
            "  -h         this help\n",
            NVE_CONF_DEFAULT, NVE_CTL_DEFAULT);
}

static void
on_hup(struct ev_loop *l, int signo, void *arg)
{
    log_info("SIGHUP: reloading the configuration");
    sdnotify_reloading();
    nve_reload(arg);
    sdnotify_ready(NULL);
}

static void
on_term(struct ev_loop *l, int signo, void *arg)
{
    log_info("%s: shutting down", strsignal(signo));
    sdnotify_stopping();
    ev_break(l);
}

/* 0, or -1 if the result does not fit out. */
static int
abspath(const char *path, char *out, size_t outlen)
{
    char cwd[PATH_MAX];
    int n;

    if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        n = snprintf(out, outlen, "%s", path);
    else
        n = snprintf(out, outlen, "%s/%s", cwd, path);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static struct nve n; /* large (per-port sockets): not on the stack */
    const char *conf_path = NVE_CONF_DEFAULT, *sock = NULL;
    int ch, foreground = 0, verbose = 0, check = 0, rc = 0;
    struct nve_conf *c;

    while ((ch = getopt_long(argc, argv, "dvf:s:nhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            foreground = 1;
            break;
        case 'v':
            verbose++;
            break;
        case 'f':
            conf_path = optarg;
            break;
        case 's':
            sock = optarg;
            break;
        case 'n':
            check = 1;
            break;
        case 'V':
            printf("nve-agent (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init("nve-agent", foreground || check, verbose);
    if ((c = nve_conf_load(conf_path)) == NULL)
        return 1;
    if (check) {
        nve_conf_print(c, stdout);
        nve_conf_free(c);
        fprintf(stderr, "configuration OK\n");
        return 0;
    }
    /* daemon() moves to /: keep the paths that SIGHUP and the control
     * socket use valid */
    if (abspath(conf_path, n.conf_path, sizeof(n.conf_path)) < 0 ||
        abspath(sock ? sock : c->ctl_path, n.ctl_path, sizeof(n.ctl_path)) <
            0) {
        log_warnx("configuration or control socket path too long");
        nve_conf_free(c);
        return 1;
    }
    if (!foreground && daemon(0, 0) < 0)
        fatal("daemon");
    signal(SIGPIPE, SIG_IGN);
    if ((n.loop = ev_loop_new()) == NULL)
        fatalx("cannot create the event loop");
    /* Blocked (signalfd) before the forwarder's threads start: they
     * inherit the mask, so a SIGTERM or SIGHUP reaches the loop instead of
     * killing the process in one of them. */
    ev_signal_add(n.loop, SIGHUP, on_hup, &n);
    ev_signal_add(n.loop, SIGTERM, on_term, &n);
    ev_signal_add(n.loop, SIGINT, on_term, &n);
    n.epoch = nvdp_epoch_new();
    n.started = ev_clock_ms();
    if (nve_apply_conf(&n, c) < 0) {
        nve_shutdown(&n);
        ev_loop_free(n.loop);
        return 1;
    }
    if (n.conf->fwd.underlay_if[0] && fwd_start(n.fwd, n.conf->fwd_cpu) < 0) {
        log_warnx("forwarder did not start on underlay %s",
                  n.conf->fwd.underlay_if);
        rc = 1;
        goto out;
    }
    n.ctl = ctl_server_new(n.loop, n.ctl_path, &n.conf->ctl.opts,
                           nve_ctl_table(), &n);
    if (n.ctl == NULL) {
        log_warnx("cannot listen on %s", n.ctl_path);
        rc = 1;
        goto out;
    }
    /* after the forwarding threads started: they keep the normal policy
     * (and any started later, SCHED_RESET_ON_FORK); a failure is logged
     * and the daemon runs on unprioritised */
    ctlprio_apply(&n.conf->ctl.prio);
    if (drop_privileges(&n) < 0) {
        rc = 1;
        goto out;
    }
    log_info("started: %s, epoch %08x, %u ports, %u VNs, control %s",
             n.conf->name, n.epoch, n.conf->nports, n.conf->nvns, n.ctl_path);
    sdnotify_ready(NULL);
    if (ev_run(n.loop) < 0) {
        log_warnx("event loop failed");
        rc = 1;
    }
out:
    nve_shutdown(&n); /* closes and unlinks the control socket */
    ev_loop_free(n.loop);
    return rc;
}
