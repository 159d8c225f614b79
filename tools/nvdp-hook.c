/* nvdp-hook.c - the binary libvirt's hooks/qemu and hooks/lxc exec: reads
 * the domain XML on stdin and drives hv-agent over its control socket. */
#include <confuse.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "hook_op.h"
#include "hook_seq.h"
#include "hook_xml.h"
#include "log.h"
#include "paths.h"

#define HOOK_CONF SYSCONFDIR "/splitnve/nvdp-hook.conf"
#define HOOK_SOCKET PATHS_HV_SOCKET
#define HOOK_RUN_DIR RUNDIR "/nvdp-hook"
#define HOOK_XML_MAX (16 * 1024 * 1024)
/* hv-agent answers within the wait it is given: we keep this much of the
 * budget for its answer to reach us... */
#define HOOK_REPLY_MS 100
/* ...and wait this much longer before we give up on a wedged hv-agent */
#define HOOK_STUCK_MS 500

struct hook_ctx {
    const char *driver, *domain, *op, *subop;
    cfg_t *cfg;
    const char *socket;
    int bound_ms;     /* a whole start, a whole stop (timeout) */
    int pending_ok;   /* unreachable = pending */
    int log_stderr;   /* -v: the log lines go to stderr */
    int dry_run;
    struct hook_step st;
    struct hook_domain dom;
    struct hook_seq seq;
    uint64_t t0;       /* ms, monotonic: this call began */
    uint64_t deadline; /* t0 + what the sequence left for this call */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nvdp-hook [-hnv] [-c conf] [-s socket] [-t ms] -D qemu|lxc "
            "-- domain operation sub-operation extra < domain.xml\n"
            "  -D driver  qemu or lxc: the libvirt hook script that runs us\n"
            "  -c conf    configuration (default %s)\n"
            "  -s socket  hv-agent's control socket (default: the configuration's,\n"
            "             %s)\n"
            "  -t ms      bound on a whole domain start or stop (default: the\n"
            "             configuration's timeout, 5000)\n"
            "  -n         print the requests on standard output, send nothing\n"
            "  -v         log on standard error instead of syslog, with debug\n"
            "  -h         this help\n",
            HOOK_CONF, HOOK_SOCKET);
}

/* Where the decision lines go: syslog, stderr (-v), or the file
 * NVDP_HOOK_LOG names (tests: libvirt keeps no stderr of a hook that
 * succeeds, and a test host may have no syslog daemon). */
static void log_setup(struct hook_ctx *h, int verbose)
{
    const char *file = getenv("NVDP_HOOK_LOG");

    if (file && log_init_file("nvdp-hook", file, verbose) == 0)
        return;
    h->log_stderr = verbose > 0;
    log_init("nvdp-hook", h->log_stderr, verbose);
}

/* One line per decision, to the log. A failure or a warning also goes to
 * standard error: libvirt shows it with the operation it fails. */
enum say_level { SAY_INFO, SAY_WARN, SAY_FAIL };
static void say(const struct hook_ctx *h, enum say_level lvl, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
static void say(const struct hook_ctx *h, enum say_level lvl, const char *fmt,
                ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (lvl == SAY_INFO)
        log_info("%s %s %s: %s", h->driver, h->domain, h->op, line);
    else
        log_warnx("%s %s %s: %s", h->driver, h->domain, h->op, line);
    if (lvl != SAY_INFO && !h->log_stderr)
        fprintf(stderr, "nvdp-hook: %s %s %s: %s\n", h->driver, h->domain,
                h->op, line);
}

/* ---- configuration ---------------------------------------------------- */
/* A configuration the hook cannot act on: logged, and on stderr for
 * libvirt to show with the operation it fails. */
static cfg_t *conf_fail(cfg_t *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static cfg_t *conf_fail(cfg_t *cfg, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_warnx("%s", line);
    fprintf(stderr, "nvdp-hook: %s\n", line);
    cfg_free(cfg);
    return NULL;
}

/* The values, and unreachable's old name (on-timeout, until 0.1:
 * "continue" is "pending"). */
static cfg_t *conf_check(cfg_t *cfg, const char *path)
{
    const char *old = cfg_size(cfg, "on-timeout") ? cfg_getstr(cfg, "on-timeout") : NULL;
    const char *s = cfg_getstr(cfg, "stop-intent"), *u;

    if (old && cfg_size(cfg, "unreachable"))
        return conf_fail(cfg, "%s: on-timeout is the old name of unreachable: "
                         "give unreachable only", path);
    if (old && strcmp(old, "continue") && strcmp(old, "fail"))
        return conf_fail(cfg, "%s: on-timeout must be continue|fail", path);
    if (!cfg_size(cfg, "unreachable"))
        cfg_setstr(cfg, "unreachable",
                   old && !strcmp(old, "continue") ? "pending" : "fail");
    u = cfg_getstr(cfg, "unreachable");
    if ((strcmp(u, "fail") && strcmp(u, "pending")) ||
        (strcmp(s, "auto") && strcmp(s, "shutdown") && strcmp(s, "migration")) ||
        cfg_getint(cfg, "timeout") <= 0 || cfg_getint(cfg, "timeout") > 600000)
        return conf_fail(cfg, "%s: unreachable must be fail|pending, stop-intent "
                         "auto|shutdown|migration, timeout 1..600000 ms", path);
    if (old)
        log_warnx("%s: on-timeout = \"%s\" is now unreachable = \"%s\"", path,
                  old, u);
    return cfg;
}

static cfg_t *conf_load(const char *path, int must_exist)
{
    static cfg_opt_t map_opts[] = {CFG_STR("vn", NULL, CFGF_NONE), CFG_END()};
    static cfg_opt_t opts[] = {
        CFG_STR("socket", HOOK_SOCKET, CFGF_NONE),
        CFG_INT("timeout", 5000, CFGF_NONE),
        CFG_STR("unreachable", NULL, CFGF_NODEFAULT), /* conf_check: "fail" */
        CFG_STR("on-timeout", NULL, CFGF_NODEFAULT),
        CFG_STR("stop-intent", "auto", CFGF_NONE),
        CFG_STR("marker-dir", PATHS_MARKER_DIR, CFGF_NONE),
        CFG_STR("run-dir", HOOK_RUN_DIR, CFGF_NONE),
        CFG_BOOL("reserve", cfg_true, CFGF_NONE),
        CFG_SEC("typeid", map_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_SEC("portgroup", map_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_END()};
    cfg_t *cfg = cfg_init(opts, CFGF_NONE);
    struct stat st;

    if (stat(path, &st) < 0 && !must_exist)
        return conf_check(cfg, path); /* defaults: metadata-only
                                        * deployments need no file */
    switch (cfg_parse(cfg, path)) {
    case CFG_SUCCESS:
        return conf_check(cfg, path);
    case CFG_FILE_ERROR:
        return conf_fail(cfg, "%s: %s", path, strerror(errno));
    default:
        return conf_fail(cfg, "%s: syntax error", path);
    }
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

/* One request; 0 when done or tolerated, -1 when the hook fails. */
static int run_one(struct hook_ctx *h, int fd, const struct hook_iface *f,
                   int migrating)
{
    const struct hook_step *st = &h->st;
    uint64_t now = now_ms();
    int left = (int)(h->deadline > now ? h->deadline - now : 0);
    /* a detach is not waited for: hv-agent keeps it and retries, and
     * nothing libvirt does after a stop depends on the NVE's answer */
    int wait_ms = st->action == HOOK_ACT_DETACH || left <= HOOK_REPLY_MS
                      ? 0 : left - HOOK_REPLY_MS;
    struct json_object *req, *resp = NULL;
    enum say_level fail = st->fatal ? SAY_FAIL : SAY_WARN;
    enum hook_verdict v;
    char msg[512];

    req = hook_op_request(st->action, &h->dom, f, migrating,
                          cfg_getbool(h->cfg, "reserve"), st->ifname, wait_ms);
    if (h->dry_run) {
        printf("%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
        json_object_put(req);
        return 0;
    }
    log_debug("%s %s: %s %s, hv-agent waits up to %d ms", h->driver,
              h->domain, hook_action_name(st->action), f->mac, wait_ms);
    if (ctl_client_call(fd, req, &resp, wait_ms + HOOK_STUCK_MS) < 0) {
        json_object_put(req);
        say(h, fail, "%s %s to VN %s: hv-agent: %s [%llu ms]",
            hook_action_name(st->action), f->mac, f->vn,
            errno == ETIMEDOUT ? "no answer" : strerror(errno),
            (unsigned long long)(now_ms() - h->t0));
        return st->fatal ? -1 : 0;
    }
    json_object_put(req);
    v = hook_op_verdict(st->action, resp, msg, sizeof(msg));
    json_object_put(resp);
    unsigned long long ms = now_ms() - h->t0;
    switch (v) {
    case HOOK_V_OK:
        if (st->action == HOOK_ACT_DETACH)
            say(h, SAY_INFO, "%s (VNIC %s, VN %s): disassociate, intent %s: "
                "%s [%llu ms]", f->mac, f->vnic, f->vn,
                migrating ? "migration" : "shutdown", msg, ms);
        else
            say(h, SAY_INFO, "%s (VNIC %s) %s to VN %s: %s [%llu ms]", f->mac,
                f->vnic, st->action == HOOK_ACT_ATTACH ? "attached"
                                                       : "pre-associated",
                f->vn, msg, ms);
        return 0;
    case HOOK_V_PENDING:
        if (!st->fatal) {
            say(h, SAY_WARN, "%s to VN %s: pending, no answer from the NVE "
                "yet; hv-agent keeps retrying [%llu ms]", f->mac, f->vn, ms);
            return 0;
        }
        if (h->pending_ok) {
            say(h, SAY_WARN, "%s to VN %s: pending, no answer from the NVE "
                "within the start's %d ms (unreachable = pending): the domain "
                "starts, the interface passes no traffic until hv-agent has "
                "the NVE's tag [%llu ms]", f->mac, f->vn, h->bound_ms, ms);
            return 0;
        }
        say(h, SAY_FAIL, "%s to VN %s: no answer from the NVE within the "
            "start's %d ms (unreachable = fail): the start fails [%llu ms]",
            f->mac, f->vn, h->bound_ms, ms);
        return -1;
    case HOOK_V_REFUSED:
        say(h, fail, "%s of %s to VN %s refused: %s [%llu ms]",
            hook_action_name(st->action), f->mac, f->vn, msg, ms);
        return st->fatal ? -1 : 0;
    case HOOK_V_ERROR:
        say(h, fail, "%s %s to VN %s: %s [%llu ms]",
            hook_action_name(st->action), f->mac, f->vn, msg, ms);
        return st->fatal ? -1 : 0;
    }
    return -1;
}

static int ours(const struct hook_domain *d)
{
    for (int i = 0; i < d->niface; i++)
        if (d->iface[i].vn_src != HOOK_VN_NONE)
            return 1;
    return 0;
}

static int run(struct hook_ctx *h)
{
    const struct hook_step *st = &h->st;
    int fd = -1, rc = 0, migrating = 0;

    /* Refusals first: never half-attach a domain we will fail anyway. */
    for (int i = 0; i < h->dom.niface; i++) {
        const struct hook_iface *f = &h->dom.iface[i];
        if (f->vn_src != HOOK_VN_NONE && f->refused &&
            st->action != HOOK_ACT_DETACH) {
            say(h, st->fatal ? SAY_FAIL : SAY_WARN, "%s", f->reason);
            if (st->fatal)
                return 1;
        }
    }
    if (st->action == HOOK_ACT_DETACH) {
        /* release keeps what stopped decided: hv-agent's marker may be
         * gone by then */
        if (h->seq.rec.intent < 0)
            h->seq.rec.intent = stop_is_migration(h);
        migrating = h->seq.rec.intent;
    }
    if (!h->dry_run && (fd = ctl_client_connect(h->socket)) < 0) {
        say(h, st->fatal ? SAY_FAIL : SAY_WARN, "%s: cannot reach hv-agent "
            "at %s: %s", hook_action_name(st->action), h->socket,
            strerror(errno));
        return st->fatal ? 1 : 0;
    }
    for (int i = 0; i < h->dom.niface && rc == 0; i++) {
        const struct hook_iface *f = &h->dom.iface[i];
        if (f->vn_src == HOOK_VN_NONE || f->refused)
            continue;
        if (run_one(h, fd, f, migrating) < 0)
            rc = 1;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The budget this call has: what its start or stop left (hook_seq.h). */
static void seq_begin(struct hook_ctx *h)
{
    const char *dir = cfg_getstr(h->cfg, "run-dir");

    if (h->dry_run) {
        h->seq.rec = hook_seq_begin(HOOK_SEQ_OWN, NULL, 0, h->bound_ms);
        h->seq.path[0] = 0;
    } else if (hook_seq_load(&h->seq, dir, h->dom.uuid, h->st.phase,
                             h->st.role, h->bound_ms) < 0) {
        log_warnx("%s %s %s: %s: %s; this call has a budget of its own",
                  h->driver, h->domain, h->op, dir, strerror(errno));
    }
    /* a stop ends a start that never reached "started" */
    if (!h->dry_run && h->st.phase == HOOK_PH_STOP &&
        h->st.role == HOOK_SEQ_OPEN)
        hook_seq_discard(dir, h->dom.uuid, HOOK_PH_START);
    h->deadline = h->t0 + (uint64_t)h->seq.rec.left_ms;
}

static void seq_end(struct hook_ctx *h)
{
    uint64_t used = now_ms() - h->t0;

    if (h->dry_run)
        return;
    if (hook_seq_save(&h->seq, used) < 0)
        log_warnx("%s %s %s: %s: %s", h->driver, h->domain, h->op,
                  h->seq.path, strerror(errno));
    if (h->st.role == HOOK_SEQ_CLOSE)
        log_info("%s %s %s: the %s's hook calls took %llu ms (bound %d ms)",
                 h->driver, h->domain, h->op,
                 h->st.phase == HOOK_PH_STOP ? "stop" : "start",
                 (unsigned long long)(h->bound_ms - h->seq.rec.left_ms + used),
                 h->bound_ms);
}

int main(int argc, char **argv)
{
    struct hook_ctx h = {.t0 = now_ms()};
    const char *conf = getenv("NVDP_HOOK_CONF"); /* tests; libvirt clears env */
    const char *sock = NULL;
    char err[512], *xml;
    size_t len;
    int ch, timeout = 0, verbose = 0;

    while ((ch = getopt(argc, argv, "c:D:hns:t:v")) != -1) {
        switch (ch) {
        case 'c': conf = optarg; break;
        case 'D': h.driver = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'n': h.dry_run = 1; break;
        case 's': sock = optarg; break;
        case 't':
            timeout = atoi(optarg);
            if (timeout <= 0 || timeout > 600000) {
                usage(stderr);
                return 2;
            }
            break;
        case 'v': verbose++; break;
        default: usage(stderr); return 2;
        }
    }
    argc -= optind;
    argv += optind;
    if (!h.driver || argc < 3) {
        usage(stderr);
        return 2;
    }
    h.domain = argv[0];
    h.op = argv[1];
    h.subop = argv[2];
    log_setup(&h, verbose);
    if (conf && !*conf)
        conf = NULL;

    if (!(h.cfg = conf_load(conf ? conf : HOOK_CONF, conf != NULL)))
        return 1;
    h.socket = sock ? sock : cfg_getstr(h.cfg, "socket");
    h.bound_ms = timeout ? timeout : (int)cfg_getint(h.cfg, "timeout");
    h.pending_ok = !strcmp(cfg_getstr(h.cfg, "unreachable"), "pending");

    /* libvirt writes the XML to our stdin for every operation; read it all
     * even when we do nothing, so libvirt never sees EPIPE. */
    if (!(xml = read_stdin(&len))) {
        say(&h, SAY_FAIL, "reading domain XML: %s", strerror(errno));
        cfg_free(h.cfg);
        return 1;
    }
    if (hook_op_lookup(h.driver, h.op, h.subop, &h.st) < 0 ||
        h.st.action == HOOK_ACT_NONE) {
        free(xml);
        cfg_free(h.cfg);
        return 0;
    }
    struct hook_maps maps = {map_typeid, map_portgroup, h.cfg};
    if (hook_xml_parse(xml, len, &maps, &h.dom, err, sizeof(err)) < 0) {
        say(&h, h.st.fatal ? SAY_FAIL : SAY_WARN, "%s", err);
        free(xml);
        cfg_free(h.cfg);
        return h.st.fatal ? 1 : 0;
    }
    free(xml);
    int rc = 0;
    if (ours(&h.dom)) { /* else: not even hv-agent is needed */
        seq_begin(&h);
        rc = run(&h);
        seq_end(&h);
    }
    cfg_free(h.cfg);
    return rc;
}
