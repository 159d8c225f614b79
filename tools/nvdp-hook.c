/* nvdp-hook.c - the binary libvirt's hooks/qemu and hooks/lxc exec: reads
 * the domain XML on stdin and drives hv-agent over its control socket. */
#include <confuse.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "hook_op.h"
#include "hook_xml.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef RUNDIR
#define RUNDIR "/run/splitnve"
#endif
#define HOOK_CONF SYSCONFDIR "/splitnve/nvdp-hook.conf"
#define HOOK_XML_MAX (16 * 1024 * 1024)
#define HOOK_MARGIN_MS 500 /* socket time beyond hv-agent's own wait */

struct hook_ctx {
    const char *driver, *domain, *op, *subop;
    cfg_t *cfg;
    const char *socket;
    int timeout_ms;
    int verbose;
    int dry_run;
    struct hook_domain dom;
    uint64_t deadline; /* ms, monotonic */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: nvdp-hook [-nv] [-c conf] [-s socket] [-t timeout_ms] "
            "-D qemu|lxc -- domain operation sub-operation extra < domain.xml\n");
    exit(2);
}

/* ---- configuration ---------------------------------------------------- */
static cfg_t *conf_load(const char *path, int must_exist)
{
    static cfg_opt_t map_opts[] = {CFG_STR("vn", NULL, CFGF_NONE), CFG_END()};
    static cfg_opt_t opts[] = {
        CFG_STR("socket", RUNDIR "/hv-agent.sock", CFGF_NONE),
        CFG_INT("timeout", 5000, CFGF_NONE),
        CFG_STR("on-timeout", "continue", CFGF_NONE),
        CFG_STR("stop-intent", "auto", CFGF_NONE),
        CFG_STR("marker-dir", RUNDIR "/migrating", CFGF_NONE),
        CFG_BOOL("reserve", cfg_true, CFGF_NONE),
        CFG_SEC("typeid", map_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_SEC("portgroup", map_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_END()};
    cfg_t *cfg = cfg_init(opts, CFGF_NONE);
    struct stat st;

    if (stat(path, &st) < 0 && !must_exist)
        return cfg; /* defaults: metadata-only deployments need no file */
    switch (cfg_parse(cfg, path)) {
    case CFG_SUCCESS:
        break;
    case CFG_FILE_ERROR:
        fprintf(stderr, "nvdp-hook: %s: %s\n", path, strerror(errno));
        cfg_free(cfg);
        return NULL;
    default:
        fprintf(stderr, "nvdp-hook: %s: syntax error\n", path);
        cfg_free(cfg);
        return NULL;
    }
    const char *t = cfg_getstr(cfg, "on-timeout"), *s = cfg_getstr(cfg, "stop-intent");
    if ((strcmp(t, "continue") && strcmp(t, "fail")) ||
        (strcmp(s, "auto") && strcmp(s, "shutdown") && strcmp(s, "migration")) ||
        cfg_getint(cfg, "timeout") <= 0 || cfg_getint(cfg, "timeout") > 600000) {
        fprintf(stderr, "nvdp-hook: %s: on-timeout must be continue|fail, "
                "stop-intent auto|shutdown|migration, timeout 1..600000 ms\n", path);
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

static const char *map_typeid(uint32_t typeid, void *arg)
{
    cfg_t *cfg = arg;
    for (unsigned i = 0; i < cfg_size(cfg, "typeid"); i++) {
        cfg_t *s = cfg_getnsec(cfg, "typeid", i);
        char *end;
        unsigned long v = strtoul(cfg_title(s), &end, 0);
        if (!*end && v == typeid)
            return cfg_getstr(s, "vn");
    }
    return NULL;
}

/* "network/portgroup" is looked up first, then the bare portgroup name. */
static const char *map_portgroup(const char *net, const char *pg, void *arg)
{
    cfg_t *cfg = arg;
    char full[2 * HOOK_STR + 2];
    snprintf(full, sizeof(full), "%s/%s", net, pg);
    cfg_t *s = cfg_gettsec(cfg, "portgroup", full);
    if (!s)
        s = cfg_gettsec(cfg, "portgroup", pg);
    return s ? cfg_getstr(s, "vn") : NULL;
}

/* ---- stop intent -------------------------------------------------------- */
/* hv-agent's libvirt event watcher (hv_virt) leaves a marker named after
 * the domain UUID when libvirt reported the domain as migrated away
 * (suspended/stopped with reason "migrated"); without it we cannot tell a
 * migration source's stop from a shutdown and use the configured default. */
static int stop_is_migration(const struct hook_ctx *h)
{
    const char *mode = cfg_getstr(h->cfg, "stop-intent");
    char path[512];

    if (!strcmp(mode, "migration"))
        return 1;
    if (!strcmp(mode, "shutdown"))
        return 0;
    snprintf(path, sizeof(path), "%s/%s", cfg_getstr(h->cfg, "marker-dir"),
             h->dom.uuid);
    return access(path, F_OK) == 0;
}

/* ---- running -------------------------------------------------------------- */
static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    ssize_t r;

    while (buf && (r = read(0, buf + n, cap - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            return NULL;
        }
        n += (size_t)r;
        if (n == cap) {
            if (cap >= HOOK_XML_MAX) {
                errno = EFBIG;
                free(buf);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

/* One request; returns 0 when done or tolerated, -1 when the hook fails. */
static int run_one(struct hook_ctx *h, int fd, const struct hook_step *st,
                   const struct hook_iface *f, int migrating)
{
    int left = (int)(h->deadline > now_ms() ? h->deadline - now_ms() : 0);
    int wait_ms = left > 2 * HOOK_MARGIN_MS ? left - HOOK_MARGIN_MS : left / 2;
    struct json_object *req, *resp = NULL;
    enum hook_verdict v;
    char msg[512];

    req = hook_op_request(st->action, &h->dom, f, migrating,
                          cfg_getbool(h->cfg, "reserve"), st->ifname, wait_ms);
    if (h->dry_run) {
        printf("%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
        json_object_put(req);
        return 0;
    }
    if (ctl_client_call(fd, req, &resp, left) < 0) {
        json_object_put(req);
        if (errno == ETIMEDOUT)
            goto timeout;
        fprintf(stderr, "nvdp-hook: %s %s: %s %s: hv-agent: %s\n",
                h->driver, h->domain, hook_action_name(st->action), f->mac,
                strerror(errno));
        return st->fatal ? -1 : 0;
    }
    json_object_put(req);
    v = hook_op_verdict(st->action, resp, msg, sizeof(msg));
    json_object_put(resp);
    switch (v) {
    case HOOK_V_OK:
        if (h->verbose)
            fprintf(stderr, "nvdp-hook: %s %s: %s %s vnic %s vn %s%s%s\n",
                    h->driver, h->domain, hook_action_name(st->action),
                    f->mac, f->vnic, f->vn, msg[0] ? ": " : "", msg);
        return 0;
    case HOOK_V_TIMEOUT:
        goto timeout;
    case HOOK_V_REFUSED:
        fprintf(stderr, "nvdp-hook: %s %s: %s of %s to VN %s refused: %s\n",
                h->driver, h->domain, hook_action_name(st->action), f->mac,
                f->vn, msg);
        return st->fatal ? -1 : 0;
    case HOOK_V_ERROR:
        fprintf(stderr, "nvdp-hook: %s %s: %s %s: %s\n", h->driver,
                h->domain, hook_action_name(st->action), f->mac, msg);
        return st->fatal ? -1 : 0;
    }
    return -1;
timeout:
    /* hv-agent keeps the desired state and retries; the VNIC passes no
     * traffic until the NVE answers. Failing is the operator's choice. */
    fprintf(stderr, "nvdp-hook: %s %s: %s %s to VN %s: no answer from the "
            "NVE within %d ms%s\n", h->driver, h->domain,
            hook_action_name(st->action), f->mac, f->vn, h->timeout_ms,
            st->fatal && !strcmp(cfg_getstr(h->cfg, "on-timeout"), "fail")
                ? "" : " (hv-agent keeps retrying)");
    return st->fatal && !strcmp(cfg_getstr(h->cfg, "on-timeout"), "fail")
               ? -1 : 0;
}

static int run(struct hook_ctx *h, const struct hook_step *st)
{
    int fd = -1, rc = 0, migrating = 0, any = 0;

    /* Refusals first: never half-attach a domain we will fail anyway. */
    for (int i = 0; i < h->dom.niface; i++) {
        const struct hook_iface *f = &h->dom.iface[i];
        if (f->vn_src == HOOK_VN_NONE)
            continue;
        any = 1;
        if (f->refused && st->action != HOOK_ACT_DETACH) {
            fprintf(stderr, "nvdp-hook: %s %s: %s\n", h->driver, h->domain,
                    f->reason);
            if (st->fatal)
                return 1;
        }
    }
    if (!any)
        return 0; /* nothing of ours: do not even need hv-agent */
    if (st->action == HOOK_ACT_DETACH)
        migrating = stop_is_migration(h);
    if (!h->dry_run && (fd = ctl_client_connect(h->socket)) < 0) {
        fprintf(stderr, "nvdp-hook: %s %s: %s: cannot reach hv-agent at %s: "
                "%s\n", h->driver, h->domain, hook_action_name(st->action),
                h->socket, strerror(errno));
        return st->fatal ? 1 : 0;
    }
    for (int i = 0; i < h->dom.niface && rc == 0; i++) {
        const struct hook_iface *f = &h->dom.iface[i];
        if (f->vn_src == HOOK_VN_NONE || f->refused)
            continue;
        if (run_one(h, fd, st, f, migrating) < 0)
            rc = 1;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    struct hook_ctx h = {.verbose = 0};
    const char *conf = getenv("NVDP_HOOK_CONF"); /* tests; libvirt clears env */
    const char *sock = NULL;
    struct hook_step st;
    char err[512], *xml;
    size_t len;
    int ch, timeout = 0;

    while ((ch = getopt(argc, argv, "c:D:ns:t:v")) != -1) {
        switch (ch) {
        case 'c': conf = optarg; break;
        case 'D': h.driver = optarg; break;
        case 'n': h.dry_run = 1; break;
        case 's': sock = optarg; break;
        case 't': timeout = atoi(optarg); if (timeout <= 0) usage(); break;
        case 'v': h.verbose++; break;
        default: usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (!h.driver || argc < 3)
        usage();
    h.domain = argv[0];
    h.op = argv[1];
    h.subop = argv[2];

    if (!(h.cfg = conf_load(conf ? conf : HOOK_CONF, conf != NULL)))
        return 1;
    h.socket = sock ? sock : cfg_getstr(h.cfg, "socket");
    h.timeout_ms = timeout ? timeout : (int)cfg_getint(h.cfg, "timeout");

    /* libvirt writes the XML to our stdin for every operation; read it all
     * even when we do nothing, so libvirt never sees EPIPE. */
    if (!(xml = read_stdin(&len))) {
        fprintf(stderr, "nvdp-hook: reading domain XML: %s\n", strerror(errno));
        cfg_free(h.cfg);
        return 1;
    }
    if (hook_op_lookup(h.driver, h.op, h.subop, &st) < 0 ||
        st.action == HOOK_ACT_NONE) {
        free(xml);
        cfg_free(h.cfg);
        return 0;
    }
    struct hook_maps maps = {map_typeid, map_portgroup, h.cfg};
    if (hook_xml_parse(xml, len, &maps, &h.dom, err, sizeof(err)) < 0) {
        fprintf(stderr, "nvdp-hook: %s %s %s: %s\n", h.driver, h.domain,
                h.op, err);
        free(xml);
        cfg_free(h.cfg);
        return st.fatal ? 1 : 0;
    }
    free(xml);
    h.deadline = now_ms() + (uint64_t)h.timeout_ms;
    int rc = run(&h, &st);
    cfg_free(h.cfg);
    return rc;
}
