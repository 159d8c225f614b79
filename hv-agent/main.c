/* main.c - hv-agent: options and configuration; the daemon itself (loop,
 * engine, state journal) is hv.c's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "hv.h"
#include "log.h"

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
    struct hv *h;

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
    if ((h = hv_new()) == NULL) {
        fprintf(stderr, "hv-agent: out of memory\n");
        return 1;
    }
    if (load_conf(h, conf, explicit) < 0)
        goto out;
    if (sock != NULL)
        snprintf(h->conf.ctl_path, sizeof(h->conf.ctl_path), "%s", sock);
    if (check) {
        hv_conf_print(&h->conf, stdout);
        rc = 0;
        if (h->conf.uplink[0] == '\0') {
            fprintf(stderr, "%s: no uplink set\n",
                    h->conf_path ? h->conf_path : "(defaults)");
            rc = 1;
        }
        goto out;
    }
    if (h->conf.uplink[0] == '\0') {
        log_warnx("%s: no uplink configured",
                  h->conf_path ? h->conf_path : conf);
        goto out;
    }
    if (!debug && daemon(0, 0) == -1) {
        log_warn("daemon");
        goto out;
    }
    if (!debug)
        log_init("hv-agent", 0, verbose);
    rc = hv_run(h) == 0 ? 0 : 1;
out:
    hv_free(h);
    return rc;
}
