/* nve_conf.c - nve-agent.conf: libconfuse schema, defaults, cross-checks
 * that name file and line, lookups, and the normalised print-back (-n). */
#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nve.h"

#define DEF_SOCK NVE_CTL_DEFAULT

static cfg_opt_t remote_opts[] = {
    CFG_STR("vtep", NULL, CFGF_NONE),
    CFG_END()};

static cfg_opt_t vn_opts[] = {
    CFG_STR("uuid", NULL, CFGF_NONE),
    CFG_INT("vni", 0, CFGF_NONE),
    CFG_STR_LIST("flood", NULL, CFGF_NONE),
    CFG_SEC("remote-mac", remote_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END()};

static cfg_opt_t port_opts[] = {
    CFG_STR("interface", NULL, CFGF_NONE),
    CFG_STR("tags", "1-4094", CFGF_NONE),
    CFG_STR("reserved-tags", "", CFGF_NONE),
    CFG_STR_LIST("hypervisors", NULL, CFGF_NONE),
    CFG_STR_LIST("vns", NULL, CFGF_NONE),
    /* -1: the limits section's value (port_limit_opts) */
    CFG_INT("max-vnics", -1, CFGF_NONE),
    CFG_INT("max-addresses", -1, CFGF_NONE),
    CFG_INT("max-hypervisors", -1, CFGF_NONE),
    CFG_INT("max-newcomers", -1, CFGF_NONE),
    CFG_INT("max-preassociations", -1, CFGF_NONE),
    CFG_INT("request-rate", -1, CFGF_NONE),
    CFG_INT("request-burst", -1, CFGF_NONE),
    CFG_STR("auth", "off", CFGF_NONE),
    CFG_STR("key-file", "", CFGF_NONE),
    CFG_END()};

static cfg_opt_t hv_opts[] = {CFG_STR("mac", NULL, CFGF_NONE),
                              CFG_STR("key-file", NULL, CFGF_NONE), CFG_END()};

/* same layout as hv-agent.conf's */
static cfg_opt_t retransmit_opts[] = {
    CFG_INT("initial", 200, CFGF_NONE),
    CFG_INT("max", 3200, CFGF_NONE),
    CFG_INT("tries", 8, CFGF_NONE),
    CFG_END()};

static cfg_opt_t limit_opts[] = {
    CFG_INT("max-addresses-per-vnic", 64, CFGF_NONE),
    /* bounded by default: an authorised MAC must not grow us at will */
    CFG_INT("max-vnics-per-hypervisor", 16384, CFGF_NONE),
    CFG_INT("max-addresses-per-hypervisor", 65536, CFGF_NONE),
    CFG_INT("max-vnics", 131072, CFGF_NONE),
    /* a port's share of the NVE, the flood of one station bounded by
     * default (a hypervisor's port never holds this many) */
    CFG_INT("max-vnics-per-port", 8192, CFGF_NONE),
    CFG_INT("max-addresses-per-port", 32768, CFGF_NONE),
    CFG_INT("max-hypervisors-per-port", 256, CFGF_NONE),
    CFG_INT("max-newcomers-per-port", 32, CFGF_NONE),
    CFG_INT("max-preassociations-per-port", 4096, CFGF_NONE),
    CFG_INT("request-rate", 5000, CFGF_NONE),
    CFG_INT("request-burst", 1024, CFGF_NONE),
    /* standing (spec 15): a peer refused LIMIT over 64 times a second is
     * held to 10 frames/s in the kernel until refused none for 10 s */
    CFG_INT("demote-refusals", 64, CFGF_NONE),
    CFG_INT("demoted-rate", 10, CFGF_NONE),
    CFG_INT("demote-time", 10, CFGF_NONE),
    CFG_END()};

static cfg_opt_t underlay_opts[] = {
    CFG_STR("interface", "", CFGF_NONE),
    CFG_STR("local-ip", "", CFGF_NONE),
    CFG_INT("udp-port", 4789, CFGF_NONE),
    CFG_INT("ttl", 64, CFGF_NONE),
    CFG_BOOL("df", cfg_true, CFGF_NONE),
    CFG_STR("source-port-range", "49152-65535", CFGF_NONE),
    CFG_INT("mac-age", 300, CFGF_NONE),
    CFG_INT("cpu", -1, CFGF_NONE),
    CFG_BOOL("fastpath", cfg_true, CFGF_NONE),
    CFG_END()};

static cfg_opt_t evpn_opts[] = {
    CFG_INT("shadow-udp-port", 14789, CFGF_NONE),
    CFG_STR("frr-rundir", "/run/frr", CFGF_NONE),
    CFG_INT("withdraw-delay", 500, CFGF_NONE),
    CFG_INT("frr-grace", 120, CFGF_NONE),
    CFG_INT("frr-reconcile", 10, CFGF_NONE),
    CFG_INT("migration-hold", 30, CFGF_NONE),
    CFG_INT("mobility-hold", 10, CFGF_NONE),
    CFG_END()};

static cfg_opt_t top_opts[] = {
    CFG_STR("name", NULL, CFGF_NONE),
    CFG_INT("ethertype", NVDP_ETHERTYPE_DEFAULT, CFGF_NONE),
    CFG_STR("group-mac", NVDP_GROUP_MAC_DEFAULT_STR, CFGF_NONE),
    CFG_INT("hello-interval", 1000, CFGF_NONE),
    CFG_INT("hold-time", 10, CFGF_NONE),
    CFG_INT("preassoc-timeout", 120, CFGF_NONE),
    CFG_INT("window", 256, CFGF_NONE),
    CFG_SEC("retransmit", retransmit_opts, CFGF_NONE),
    CFG_STR("control-socket", DEF_SOCK, CFGF_NONE), CTL_CONF_OPTS,
    CFG_SEC("limits", limit_opts, CFGF_NONE),
    CFG_SEC("underlay", underlay_opts, CFGF_NONE),
    /* MULTI only to tell "absent" from "empty": more than one is refused */
    CFG_SEC("evpn", evpn_opts, CFGF_MULTI),
    CFG_SEC("port", port_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("vn", vn_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("hypervisor", hv_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END()};

/* libconfuse gives a section the line where it ends; operators want the
 * line where it starts, so find "KW [\"]TITLE[\"]" (or "KW =") ourselves. */
static int
find_line(const char *file, const char *kw, const char *title, int dflt)
{
    FILE *f = fopen(file, "r");
    char buf[1024];
    int n = 0;
    size_t kl = strlen(kw);

    if (f == NULL)
        return dflt;
    while (fgets(buf, sizeof(buf), f)) {
        char *p = buf;
        n++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, kw, kl) != 0 || (p[kl] != ' ' && p[kl] != '\t' &&
                                         p[kl] != '=' && p[kl] != '"'))
            continue;
        p += kl;
        while (*p == ' ' || *p == '\t')
            p++;
        if (title == NULL) {
            if (*p == '=')
                goto found;
            continue;
        }
        if (*p == '"' || *p == '\'')
            p++;
        if (strncmp(p, title, strlen(title)) == 0 &&
            strchr("\"' \t{", p[strlen(title)]))
            goto found;
    }
    n = dflt;
found:
    fclose(f);
    return n;
}

static void
cerr(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
cerr(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warnx("%s:%d: %s", file, line, msg);
}

/* Integer option within [lo, hi], checked while parsing so that the error
 * carries the option's line. */
static const struct conf_range ranges[] = {
    {"ethertype", 0x0600, 0xFFFF},
    {"hello-interval", 100, 60000},
    {"hold-time", 1, 65535},
    {"preassoc-timeout", 1, 86400},
    {"window", 1, REL_WINDOW_MAX},
    {"retransmit|initial", 10, 60000},
    {"retransmit|max", 10, 600000},
    {"retransmit|tries", 1, 255},
    {"limits|max-addresses-per-vnic", 0, 1000000},
    {"limits|max-vnics-per-hypervisor", 0, 10000000},
    {"limits|max-vnics-per-port", 0, 10000000},
    {"limits|max-addresses-per-port", 0, 100000000},
    {"limits|max-hypervisors-per-port", 1, 100000},
    {"limits|max-addresses-per-hypervisor", 0, 100000000},
    {"limits|max-vnics", 0, 100000000},
    {"limits|max-newcomers-per-port", 1, 100000},
    {"limits|max-preassociations-per-port", 0, 10000000},
    {"limits|request-rate", 0, 10000000},
    {"limits|request-burst", 1, 1000000},
    {"limits|demote-refusals", 0, 1000000},
    {"limits|demoted-rate", 1, 1000000},
    {"limits|demote-time", 1, 86400},
    {"port|max-hypervisors", -1, 100000},
    {"port|max-newcomers", -1, 100000},
    {"port|max-preassociations", -1, 10000000},
    {"port|request-rate", -1, 10000000},
    {"port|request-burst", -1, 1000000},
    {"underlay|udp-port", 1, 65535},
    {"underlay|ttl", 1, 255},
    {"underlay|mac-age", 1, 86400},
    {"underlay|cpu", -1, 1023},
    {"evpn|shadow-udp-port", 1, 65535},
    {"evpn|withdraw-delay", 0, 60000},
    {"evpn|frr-grace", 0, 86400},
    {"evpn|frr-reconcile", 1, 3600},
    {"evpn|migration-hold", 0, 3600},
    {"evpn|mobility-hold", 0, 3600},
    {"port|max-vnics", -1, 10000000},
    {"port|max-addresses", -1, 100000000},
    {"vn|vni", 1, NVDP_VNI_MAX},
    {NULL, 0, 0},
};

static int
validate_range(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_check_range(cfg, opt, ranges);
}

static int
check_ip(const char *s)
{
    struct in6_addr a6;
    struct in_addr a4;

    return (inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1)
               ? 0
               : -1;
}

static int
validate_ips(cfg_t *cfg, cfg_opt_t *opt)
{
    for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
        const char *s = cfg_opt_getnstr(opt, i);
        if (s == NULL || (*s && check_ip(s) < 0)) {
            cfg_error(cfg, "option '%s': invalid IP address '%s'",
                      cfg_opt_name(opt), s ? s : "");
            return -1;
        }
    }
    return 0;
}

static int
validate_name(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);

    if (s == NULL || *s == '\0' || strlen(s) > NVDP_MAX_NAME) {
        cfg_error(cfg, "option 'name': 1 to %d characters", NVDP_MAX_NAME);
        return -1;
    }
    return 0;
}

static int
validate_sockpath(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);

    if (s == NULL || *s != '/' || strlen(s) >= 108) {
        cfg_error(cfg, "option 'control-socket': an absolute path shorter "
                       "than 108 bytes");
        return -1;
    }
    return 0;
}

static int
validate_sportrange(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    unsigned lo, hi;
    char tail;

    if (s == NULL || sscanf(s, "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1 ||
        hi > 65535 || lo > hi) {
        cfg_error(cfg, "option 'source-port-range': expected LO-HI within "
                       "1-65535, got '%s'", s ? s : "");
        return -1;
    }
    return 0;
}

static int
validate_rundir(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);

    /* the vty sockets under it must fit a sun_path */
    if (s == NULL || *s != '/' || strlen(s) > 80) {
        cfg_error(cfg, "option 'frr-rundir': an absolute path of at most 80 "
                       "bytes");
        return -1;
    }
    return 0;
}

static cfg_t *
conf_schema(void)
{
    cfg_t *cfg = cfg_init(top_opts, CFGF_NONE);

    if (cfg == NULL)
        return NULL;
    cfg_set_error_function(cfg, conf_errfunc);
    if (conf_set_ranges(cfg, ranges, validate_range) < 0 ||
        ctl_conf_schema(cfg) < 0) {
        cfg_free(cfg);
        return NULL;
    }
    cfg_set_validate_func(cfg, "name", validate_name);
    cfg_set_validate_func(cfg, "group-mac", conf_validate_mac);
    cfg_set_validate_func(cfg, "control-socket", validate_sockpath);
    cfg_set_validate_func(cfg, "underlay|local-ip", validate_ips);
    cfg_set_validate_func(cfg, "underlay|source-port-range",
                          validate_sportrange);
    cfg_set_validate_func(cfg, "evpn|frr-rundir", validate_rundir);
    cfg_set_validate_func(cfg, "port|interface", conf_validate_ifname);
    cfg_set_validate_func(cfg, "port|tags", conf_validate_tagset);
    cfg_set_validate_func(cfg, "port|reserved-tags", conf_validate_tagset);
    cfg_set_validate_func(cfg, "port|hypervisors", conf_validate_mac);
    cfg_set_validate_func(cfg, "port|auth", conf_validate_auth);
    cfg_set_validate_func(cfg, "hypervisor|mac", conf_validate_mac);
    cfg_set_validate_func(cfg, "vn|uuid", conf_validate_uuid);
    cfg_set_validate_func(cfg, "vn|flood", validate_ips);
    cfg_set_validate_func(cfg, "vn|remote-mac|vtep", validate_ips);
    return cfg;
}

void
nve_conf_free(struct nve_conf *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nports; i++) {
        free(c->ports[i].hv);
        free(c->ports[i].vni);
        free(c->ports[i].vn_name);
        nvdp_keyring_free(&c->ports[i].keys);
    }
    for (unsigned i = 0; i < c->nhv_keys; i++)
        nvdp_keyring_free(&c->hv_keys[i].keys);
    free(c->hv_keys);
    for (unsigned i = 0; i < c->nvns; i++) {
        free(c->vns[i].flood);
        free(c->vns[i].remote);
    }
    free(c->ports);
    free(c->vns);
    free(c);
}

static int
conf_vns(struct nve_conf *c, cfg_t *cfg, const char *file)
{
    unsigned n = cfg_size(cfg, "vn");

    c->vns = calloc(n ? n : 1, sizeof(*c->vns));
    if (c->vns == NULL)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        cfg_t *s = cfg_getnsec(cfg, "vn", i);
        struct nve_vn *v = &c->vns[i];
        const char *title = cfg_title(s), *u = cfg_getstr(s, "uuid");

        c->nvns = i + 1; /* freed with c even if this entry fails */
        v->line = find_line(file, "vn", title, s->line);
        if (strlen(title) == 0 || strlen(title) >= sizeof(v->name) ||
            strpbrk(title, " \t:")) {
            cerr(file, v->line, "vn \"%s\": name must be 1-63 characters "
                 "without blanks or ':'", title);
            return -1;
        }
        snprintf(v->name, sizeof(v->name), "%s", title);
        if (u) {
            nvdp_uuid_parse(u, &v->uuid);
            v->has_uuid = 1;
        }
        v->vni = (uint32_t)cfg_getint(s, "vni");
        if (v->vni == 0) {
            cerr(file, v->line, "vn \"%s\": option 'vni' is required", title);
            return -1;
        }
        v->nflood = cfg_size(s, "flood");
        v->flood = calloc(v->nflood ? v->nflood : 1, sizeof(*v->flood));
        v->nremote = cfg_size(s, "remote-mac");
        v->remote = calloc(v->nremote ? v->nremote : 1, sizeof(*v->remote));
        if (v->flood == NULL || v->remote == NULL)
            return -1;
        for (unsigned k = 0; k < v->nflood; k++)
            snprintf(v->flood[k], sizeof(v->flood[k]), "%s",
                     cfg_getnstr(s, "flood", k));
        for (unsigned k = 0; k < v->nremote; k++) {
            cfg_t *r = cfg_getnsec(s, "remote-mac", k);
            const char *ip = cfg_getstr(r, "vtep");
            if (nvdp_mac_parse(cfg_title(r), v->remote[k].mac) < 0) {
                cerr(file, find_line(file, "remote-mac", cfg_title(r), r->line), "remote-mac \"%s\": invalid MAC address",
                     cfg_title(r));
                return -1;
            }
            if (ip == NULL || *ip == '\0') {
                cerr(file, find_line(file, "remote-mac", cfg_title(r), r->line), "remote-mac \"%s\": option 'vtep' is "
                     "required", cfg_title(r));
                return -1;
            }
            snprintf(v->remote[k].vtep, sizeof(v->remote[k].vtep), "%s", ip);
        }
        for (unsigned k = 0; k < i; k++) {
            struct nve_vn *o = &c->vns[k];
            if (o->vni == v->vni) {
                cerr(file, v->line, "vn \"%s\": VNI %u already used by vn "
                     "\"%s\" (line %d)", v->name, v->vni, o->name, o->line);
                return -1;
            }
            if (v->has_uuid && o->has_uuid &&
                memcmp(&o->uuid, &v->uuid, 16) == 0) {
                cerr(file, v->line, "vn \"%s\": UUID already used by vn "
                     "\"%s\" (line %d)", v->name, o->name, o->line);
                return -1;
            }
        }
    }
    return 0;
}

/* A key file (nvdp_keyring_load refuses one others may read or write):
 * an error names the line that names it. */
static int
load_keys(struct nvdp_keyring *kr, const char *path, const char *file, int line,
          const char *what)
{
    char err[384];

    if (nvdp_keyring_load(kr, path, err, sizeof(err)) == 0)
        return 0;
    cerr(file, line, "%s: key-file %s", what, err);
    return -1;
}

/* hypervisor "NAME" { mac, key-file }: a hypervisor's own keys. */
static int
conf_hv_keys(struct nve_conf *c, cfg_t *cfg, const char *file)
{
    unsigned n = cfg_size(cfg, "hypervisor");

    c->hv_keys = calloc(n ? n : 1, sizeof(*c->hv_keys));
    if (c->hv_keys == NULL)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        cfg_t *s = cfg_getnsec(cfg, "hypervisor", i);
        struct nve_hv_key *h = &c->hv_keys[i];
        const char *title = cfg_title(s), *mac = cfg_getstr(s, "mac"),
                   *kf = cfg_getstr(s, "key-file");
        char what[96];

        c->nhv_keys = i + 1;
        h->line = find_line(file, "hypervisor", title, s->line);
        snprintf(h->name, sizeof(h->name), "%s", title);
        snprintf(what, sizeof(what), "hypervisor \"%s\"", title);
        if (mac == NULL || kf == NULL) {
            cerr(file, h->line,
                 "%s: options 'mac' and 'key-file' are "
                 "required",
                 what);
            return -1;
        }
        nvdp_mac_parse(mac, h->mac);
        for (unsigned k = 0; k < i; k++)
            if (memcmp(c->hv_keys[k].mac, h->mac, 6) == 0) {
                cerr(file, h->line,
                     "%s: mac %s already keyed by "
                     "hypervisor \"%s\" (line %d)",
                     what, mac, c->hv_keys[k].name, c->hv_keys[k].line);
                return -1;
            }
        snprintf(h->key_path, sizeof(h->key_path), "%s", kf);
        if (load_keys(&h->keys, kf, file, h->line, what) < 0)
            return -1;
    }
    return 0;
}

/* auth and key-file of port p (after conf_hv_keys). */
static int
conf_port_auth(struct nve_conf *c, struct nve_port *p, cfg_t *s,
               const char *file)
{
    const char *kf = cfg_getstr(s, "key-file");
    char what[64];

    snprintf(what, sizeof(what), "port \"%s\"", p->name);
    p->auth = (uint8_t)nvdp_auth_policy_parse(cfg_getstr(s, "auth"));
    snprintf(p->key_path, sizeof(p->key_path), "%s", kf);
    if (kf[0] && load_keys(&p->keys, kf, file, p->line, what) < 0)
        return -1;
    if (p->auth != NVDP_AUTH_OFF && !kf[0] && c->nhv_keys == 0) {
        cerr(file, p->line,
             "%s: auth = %s needs a key: 'key-file' or a "
             "hypervisor section",
             what, nvdp_auth_policy_name(p->auth));
        return -1;
    }
    return 0;
}

/* A port's own limits, or the limits section's (parsed before ports). */
static const struct {
    const char *opt;
    size_t port_off, conf_off;
} port_limit_opts[] = {
    {"max-vnics", offsetof(struct nve_port, max_vnics),
     offsetof(struct nve_conf, max_vnics_per_port)},
    {"max-addresses", offsetof(struct nve_port, max_addrs),
     offsetof(struct nve_conf, max_addrs_per_port)},
    {"max-hypervisors", offsetof(struct nve_port, max_hv),
     offsetof(struct nve_conf, max_hv_per_port)},
    {"max-newcomers", offsetof(struct nve_port, max_newcomers),
     offsetof(struct nve_conf, max_newcomers)},
    {"max-preassociations", offsetof(struct nve_port, max_preassoc),
     offsetof(struct nve_conf, max_preassoc)},
    {"request-rate", offsetof(struct nve_port, req_rate),
     offsetof(struct nve_conf, req_rate)},
    {"request-burst", offsetof(struct nve_port, req_burst),
     offsetof(struct nve_conf, req_burst)},
};

static void
port_limits(const struct nve_conf *c, cfg_t *s, struct nve_port *p)
{
    for (size_t i = 0; i < sizeof(port_limit_opts) / sizeof(port_limit_opts[0]);
         i++) {
        long v = cfg_getint(s, port_limit_opts[i].opt);
        uint32_t *dst = (uint32_t *)((char *)p + port_limit_opts[i].port_off);
        if (v >= 0)
            *dst = (uint32_t)v;
        else
            *dst = *(const uint32_t *)((const char *)c +
                                       port_limit_opts[i].conf_off);
    }
}

static int
conf_ports(struct nve_conf *c, cfg_t *cfg, const char *file)
{
    unsigned n = cfg_size(cfg, "port");

    if (n > TREE_MAX_PORTS) {
        cerr(file, cfg_getnsec(cfg, "port", TREE_MAX_PORTS)->line,
             "at most %d ports", TREE_MAX_PORTS);
        return -1;
    }
    c->ports = calloc(n ? n : 1, sizeof(*c->ports));
    if (c->ports == NULL)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        cfg_t *s = cfg_getnsec(cfg, "port", i);
        struct nve_port *p = &c->ports[i];
        const char *title = cfg_title(s), *ifn = cfg_getstr(s, "interface");
        struct tagset res;

        c->nports = i + 1;
        p->line = find_line(file, "port", title, s->line);
        p->id = (uint16_t)i;
        if (strlen(title) == 0 || strlen(title) >= sizeof(p->name) ||
            strpbrk(title, " \t")) {
            cerr(file, p->line, "port \"%s\": name must be 1-31 characters "
                 "without blanks", title);
            return -1;
        }
        snprintf(p->name, sizeof(p->name), "%s", title);
        if (ifn == NULL) {
            cerr(file, p->line, "port \"%s\": option 'interface' is required",
                 title);
            return -1;
        }
        snprintf(p->ifname, sizeof(p->ifname), "%s", ifn);
        snprintf(p->tags_str, sizeof(p->tags_str), "%s", cfg_getstr(s, "tags"));
        snprintf(p->reserved_str, sizeof(p->reserved_str), "%s",
                 cfg_getstr(s, "reserved-tags"));
        tagset_parse(p->tags_str, &p->tags);
        tagset_parse(p->reserved_str, &res);
        for (unsigned w = 0; w < 64; w++)
            p->tags.w[w] &= ~res.w[w];
        int empty = 1;
        for (unsigned w = 0; w < 64 && empty; w++)
            empty = p->tags.w[w] == 0;
        if (empty) {
            cerr(file, p->line, "port \"%s\": no tag left: tags \"%s\" minus "
                 "reserved-tags \"%s\" is empty", title, p->tags_str,
                 p->reserved_str);
            return -1;
        }
        port_limits(c, s, p);
        if (p->req_burst == 0) {
            cerr(file, find_line(file, "request-burst", NULL, p->line),
                 "port \"%s\": option 'request-burst': 0 out of range "
                 "1..1000000", title);
            return -1;
        }
        p->nhv = cfg_size(s, "hypervisors");
        p->hv = calloc(p->nhv ? p->nhv : 1, sizeof(*p->hv));
        p->nvn = cfg_size(s, "vns");
        p->all_vns = p->nvn == 0;
        p->vni = calloc(p->nvn ? p->nvn : 1, sizeof(*p->vni));
        p->vn_name = calloc(p->nvn ? p->nvn : 1, sizeof(*p->vn_name));
        if (p->hv == NULL || p->vni == NULL || p->vn_name == NULL)
            return -1;
        for (unsigned k = 0; k < p->nhv; k++)
            nvdp_mac_parse(cfg_getnstr(s, "hypervisors", k), p->hv[k]);
        for (unsigned k = 0; k < p->nvn; k++) {
            const char *vn = cfg_getnstr(s, "vns", k);
            const struct nve_vn *v = nve_conf_vn_lookup(c, vn);
            if (v == NULL) {
                cerr(file, p->line, "port \"%s\": unknown vn \"%s\" in 'vns'",
                     title, vn);
                return -1;
            }
            p->vni[k] = v->vni;
            snprintf(p->vn_name[k], sizeof(p->vn_name[k]), "%s", v->name);
        }
        if (conf_port_auth(c, p, s, file) < 0)
            return -1;
        for (unsigned k = 0; k < i; k++)
            if (strcmp(c->ports[k].ifname, p->ifname) == 0) {
                cerr(file, p->line, "port \"%s\": interface %s already used "
                     "by port \"%s\" (line %d)", title, p->ifname,
                     c->ports[k].name, c->ports[k].line);
                return -1;
            }
    }
    return 0;
}

/* evpn { }: the VTEP is the underlay's address, which zebra reads from the
 * shadow vxlan devices (IPv4: FRR 8.4's EVPN has no IPv6 VTEPs). */
static int
conf_evpn(struct nve_conf *c, cfg_t *cfg, const char *file)
{
    struct nve_evpn_conf *ev = &c->evpn;
    struct in_addr a4;
    cfg_t *s;

    if (cfg_size(cfg, "evpn") == 0)
        return 0;
    s = cfg_getnsec(cfg, "evpn", 0);
    ev->line = find_line(file, "evpn", "", s->line);
    if (cfg_size(cfg, "evpn") > 1) {
        cerr(file, ev->line, "evpn: only one section is allowed");
        return -1;
    }
    ev->enabled = 1;
    ev->shadow_port = (uint16_t)cfg_getint(s, "shadow-udp-port");
    snprintf(ev->frr_rundir, sizeof(ev->frr_rundir), "%s",
             cfg_getstr(s, "frr-rundir"));
    ev->withdraw_delay_ms = (uint32_t)cfg_getint(s, "withdraw-delay");
    ev->frr_grace_s = (uint32_t)cfg_getint(s, "frr-grace");
    ev->frr_reconcile_s = (uint32_t)cfg_getint(s, "frr-reconcile");
    ev->migration_hold_s = (uint32_t)cfg_getint(s, "migration-hold");
    ev->mobility_hold_s = (uint32_t)cfg_getint(s, "mobility-hold");
    if (c->fwd.underlay_if[0] == '\0' ||
        inet_pton(AF_INET, c->fwd.local_ip, &a4) != 1) {
        cerr(file, ev->line, "evpn: needs underlay { interface, local-ip } "
             "with an IPv4 local-ip (the VTEP FRR advertises)");
        return -1;
    }
    if (ev->shadow_port == c->fwd.udp_port) {
        cerr(file, ev->line, "evpn: shadow-udp-port %u is the underlay's "
             "udp-port: the shadow vxlan devices would take the data port",
             ev->shadow_port);
        return -1;
    }
    return 0;
}

/* Static flood lists and remote MACs would fight FRR over the same
 * forwarder entries. */
static int
conf_evpn_vns(const struct nve_conf *c, const char *file)
{
    if (!c->evpn.enabled)
        return 0;
    for (unsigned i = 0; i < c->nvns; i++)
        if (c->vns[i].nflood || c->vns[i].nremote) {
            cerr(file, c->vns[i].line, "vn \"%s\": 'flood' and 'remote-mac' "
                 "cannot be used with evpn (FRR provides them)",
                 c->vns[i].name);
            return -1;
        }
    return 0;
}

static int
conf_top(struct nve_conf *c, cfg_t *cfg, const char *file)
{
    cfg_t *lim = cfg_getsec(cfg, "limits"), *u = cfg_getsec(cfg, "underlay");
    const char *name = cfg_getstr(cfg, "name");
    unsigned lo, hi;

    if (name == NULL) {
        char host[256] = "nve-agent";
        gethostname(host, sizeof(host) - 1);
        host[NVDP_MAX_NAME] = '\0';
        snprintf(c->name, sizeof(c->name), "%s", host);
    } else {
        snprintf(c->name, sizeof(c->name), "%s", name);
    }
    c->ethertype = (uint16_t)cfg_getint(cfg, "ethertype");
    nvdp_mac_parse(cfg_getstr(cfg, "group-mac"), c->group);
    if (!(c->group[0] & 1)) {
        cerr(file, find_line(file, "group-mac", NULL, 0), "option 'group-mac': %s is not a group address",
             cfg_getstr(cfg, "group-mac"));
        return -1;
    }
    c->hello_ms = (uint32_t)cfg_getint(cfg, "hello-interval");
    c->hold_s = (uint32_t)cfg_getint(cfg, "hold-time");
    c->preassoc_s = (uint32_t)cfg_getint(cfg, "preassoc-timeout");
    c->rel.window = (uint16_t)cfg_getint(cfg, "window");
    c->rel.rto_init = (uint32_t)cfg_getint(cfg, "retransmit|initial");
    c->rel.rto_max = (uint32_t)cfg_getint(cfg, "retransmit|max");
    c->rel.max_tries = (uint8_t)cfg_getint(cfg, "retransmit|tries");
    if (c->rel.rto_max < c->rel.rto_init) {
        cerr(file, find_line(file, "max", NULL, 0),
             "retransmit: max (%u) is below initial (%u)", c->rel.rto_max,
             c->rel.rto_init);
        return -1;
    }
    snprintf(c->ctl_path, sizeof(c->ctl_path), "%s",
             cfg_getstr(cfg, "control-socket"));
    if (ctl_conf_fill(&c->ctl, cfg, file) < 0)
        return -1;
    c->max_addrs = (uint32_t)cfg_getint(lim, "max-addresses-per-vnic");
    c->max_vnics_per_hv = (uint32_t)cfg_getint(lim, "max-vnics-per-hypervisor");
    c->max_hv_per_port = (uint32_t)cfg_getint(lim, "max-hypervisors-per-port");
    c->max_addrs_per_hv =
        (uint32_t)cfg_getint(lim, "max-addresses-per-hypervisor");
    c->max_vnics = (uint32_t)cfg_getint(lim, "max-vnics");
    c->max_vnics_per_port = (uint32_t)cfg_getint(lim, "max-vnics-per-port");
    c->max_addrs_per_port =
        (uint32_t)cfg_getint(lim, "max-addresses-per-port");
    c->max_newcomers = (uint32_t)cfg_getint(lim, "max-newcomers-per-port");
    c->max_preassoc =
        (uint32_t)cfg_getint(lim, "max-preassociations-per-port");
    c->req_rate = (uint32_t)cfg_getint(lim, "request-rate");
    c->req_burst = (uint32_t)cfg_getint(lim, "request-burst");
    c->demote_refusals = (uint32_t)cfg_getint(lim, "demote-refusals");
    c->demoted_rate = (uint32_t)cfg_getint(lim, "demoted-rate");
    c->demote_s = (uint32_t)cfg_getint(lim, "demote-time");
    snprintf(c->fwd.underlay_if, sizeof(c->fwd.underlay_if), "%s",
             cfg_getstr(u, "interface"));
    snprintf(c->fwd.local_ip, sizeof(c->fwd.local_ip), "%s",
             cfg_getstr(u, "local-ip"));
    c->fwd.udp_port = (uint16_t)cfg_getint(u, "udp-port");
    c->fwd.ttl = (uint8_t)cfg_getint(u, "ttl");
    c->fwd.df = cfg_getbool(u, "df") ? 1 : 0;
    c->fwd.mac_age_s = (uint32_t)cfg_getint(u, "mac-age");
    c->fwd_cpu = (int)cfg_getint(u, "cpu");
    c->fwd.fastpath = cfg_getbool(u, "fastpath") ? 1 : 0;
    /* The forwarder shares the access ports with NVDP: it must skip our
     * control frames whatever EtherType they use. */
    c->fwd.nvdp_ethertype = c->ethertype;
    sscanf(cfg_getstr(u, "source-port-range"), "%u-%u", &lo, &hi);
    c->fwd.sport_min = (uint16_t)lo;
    c->fwd.sport_max = (uint16_t)hi;
    if (c->fwd.underlay_if[0] && c->fwd.local_ip[0] == '\0') {
        cerr(file, find_line(file, "underlay", "", u->line), "underlay: 'local-ip' is required with "
             "'interface'");
        return -1;
    }
    return conf_evpn(c, cfg, file);
}

struct nve_conf *
nve_conf_load(const char *path)
{
    cfg_t *cfg = conf_schema();
    struct nve_conf *c = calloc(1, sizeof(*c));
    int rc;

    if (cfg == NULL || c == NULL) {
        log_warnx("%s: out of memory", path);
        goto fail;
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    if (conf_file_check(path) < 0)
        goto fail;
    conf_name_sections(cfg, path);
    rc = cfg_parse(cfg, path);
    if (rc == CFG_FILE_ERROR) {
        log_warn("%s", path);
        goto fail;
    }
    if (rc != CFG_SUCCESS) /* the error function already named the line */
        goto fail;
    if (conf_top(c, cfg, path) < 0 || conf_vns(c, cfg, path) < 0 ||
        conf_evpn_vns(c, path) < 0 || conf_hv_keys(c, cfg, path) < 0 ||
        conf_ports(c, cfg, path) < 0)
        goto fail;
    cfg_free(cfg);
    return c;
fail:
    if (cfg)
        cfg_free(cfg);
    nve_conf_free(c);
    return NULL;
}

/* ---- lookups ----------------------------------------------------------- */

const struct nve_vn *
nve_conf_vn_by_vni(const struct nve_conf *c, uint32_t vni)
{
    for (unsigned i = 0; i < c->nvns; i++)
        if (c->vns[i].vni == vni)
            return &c->vns[i];
    return NULL;
}

const struct nve_vn *
nve_conf_vn_find(const struct nve_conf *c, const struct nvdp_vn *vn)
{
    if (vn->kind == NVDP_VN_VNI)
        return nve_conf_vn_by_vni(c, vn->vni);
    if (vn->kind == NVDP_VN_UUID)
        for (unsigned i = 0; i < c->nvns; i++)
            if (c->vns[i].has_uuid &&
                memcmp(&c->vns[i].uuid, &vn->uuid, 16) == 0)
                return &c->vns[i];
    return NULL;
}

const struct nve_vn *
nve_conf_vn_lookup(const struct nve_conf *c, const char *s)
{
    struct nvdp_vn vn;

    for (unsigned i = 0; i < c->nvns; i++)
        if (strcmp(c->vns[i].name, s) == 0)
            return &c->vns[i];
    if (nvdp_vn_parse(s, &vn) == 0)
        return nve_conf_vn_find(c, &vn);
    return NULL;
}

const struct nve_port *
nve_conf_port_by_name(const struct nve_conf *c, const char *name)
{
    for (unsigned i = 0; i < c->nports; i++)
        if (strcmp(c->ports[i].name, name) == 0 ||
            strcmp(c->ports[i].ifname, name) == 0)
            return &c->ports[i];
    return NULL;
}

const struct nve_port *
nve_conf_port_by_id(const struct nve_conf *c, uint16_t id)
{
    for (unsigned i = 0; i < c->nports; i++)
        if (c->ports[i].id == id)
            return &c->ports[i];
    return NULL;
}

void
nve_conf_tree_limits(const struct nve_conf *c, struct tree_limits *lim)
{
    *lim = (struct tree_limits){
        .max_addrs = c->max_addrs,
        .max_vnics_per_hv = c->max_vnics_per_hv,
        .preassoc_ms = c->preassoc_s * 1000,
        .max_vnics = c->max_vnics,
        .max_addrs_per_hv = c->max_addrs_per_hv,
    };
}

int
nve_conf_tree_port(const struct nve_port *p, struct tree *t)
{
    if (tree_port_set(t, p->id, &p->tags, p->max_vnics) < 0)
        return -1;
    tree_port_set_preassoc(t, p->id, p->max_preassoc);
    tree_port_set_addrs(t, p->id, p->max_addrs);
    tree_port_set_share(t, p->id, p->max_hv);
    return 0;
}

int
nve_port_allows_hv(const struct nve_port *p, const uint8_t mac[6])
{
    if (p->nhv == 0)
        return 1;
    for (unsigned i = 0; i < p->nhv; i++)
        if (memcmp(p->hv[i], mac, 6) == 0)
            return 1;
    return 0;
}

const struct nvdp_keyring *
nve_conf_keys(const struct nve_conf *c, const struct nve_port *p,
              const uint8_t mac[6])
{
    for (unsigned i = 0; i < c->nhv_keys; i++)
        if (memcmp(c->hv_keys[i].mac, mac, 6) == 0)
            return &c->hv_keys[i].keys;
    return p->keys.n ? &p->keys : NULL;
}

static unsigned
key_ids_add(const struct nvdp_keyring *kr, uint16_t *ids, unsigned n,
            unsigned max)
{
    for (unsigned i = 0; i < kr->n && n <= max; i++) {
        unsigned k = 0;
        while (k < n && ids[k] != kr->key[i].id)
            k++;
        if (k < n)
            continue;
        if (n == max)
            return max + 1;
        ids[n++] = kr->key[i].id;
    }
    return n;
}

unsigned
nve_conf_key_ids(const struct nve_conf *c, const struct nve_port *p,
                 uint16_t *ids, unsigned max)
{
    unsigned n = key_ids_add(&p->keys, ids, 0, max);

    for (unsigned i = 0; i < c->nhv_keys; i++)
        n = key_ids_add(&c->hv_keys[i].keys, ids, n, max);
    return n;
}

int
nve_port_allows_vn(const struct nve_port *p, uint32_t vni)
{
    if (p->all_vns)
        return 1;
    for (unsigned i = 0; i < p->nvn; i++)
        if (p->vni[i] == vni)
            return 1;
    return 0;
}

/* ---- print-back -------------------------------------------------------- */

void
nve_conf_print(const struct nve_conf *c, FILE *o)
{
    char mac[NVDP_MAC_STRLEN], u[NVDP_UUID_STRLEN];

    fprintf(o, "# %s (normalised: every option, defaults filled)\n", c->path);
    fprintf(o, "name = \"%s\"\n", c->name);
    fprintf(o, "ethertype = 0x%04x\n", c->ethertype);
    nvdp_mac_fmt(c->group, mac);
    fprintf(o, "group-mac = \"%s\"\n", mac);
    fprintf(o, "hello-interval = %u\n", c->hello_ms);
    fprintf(o, "hold-time = %u\n", c->hold_s);
    fprintf(o, "preassoc-timeout = %u\n", c->preassoc_s);
    fprintf(o, "window = %u\n", c->rel.window);
    fprintf(o, "retransmit {\n");
    fprintf(o, "    initial = %u\n", c->rel.rto_init);
    fprintf(o, "    max = %u\n", c->rel.rto_max);
    fprintf(o, "    tries = %u\n", c->rel.max_tries);
    fprintf(o, "}\n");
    fprintf(o, "control-socket = \"%s\"\n", c->ctl_path);
    ctl_conf_print(&c->ctl, o);
    fprintf(o, "limits {\n");
    fprintf(o, "    max-addresses-per-vnic = %u\n", c->max_addrs);
    fprintf(o, "    max-vnics-per-hypervisor = %u\n", c->max_vnics_per_hv);
    fprintf(o, "    max-addresses-per-hypervisor = %u\n", c->max_addrs_per_hv);
    fprintf(o, "    max-vnics = %u\n", c->max_vnics);
    fprintf(o, "    max-vnics-per-port = %u\n", c->max_vnics_per_port);
    fprintf(o, "    max-addresses-per-port = %u\n", c->max_addrs_per_port);
    fprintf(o, "    max-hypervisors-per-port = %u\n", c->max_hv_per_port);
    fprintf(o, "    max-newcomers-per-port = %u\n", c->max_newcomers);
    fprintf(o, "    max-preassociations-per-port = %u\n", c->max_preassoc);
    fprintf(o, "    request-rate = %u\n", c->req_rate);
    fprintf(o, "    request-burst = %u\n", c->req_burst);
    fprintf(o, "    demote-refusals = %u\n", c->demote_refusals);
    fprintf(o, "    demoted-rate = %u\n", c->demoted_rate);
    fprintf(o, "    demote-time = %u\n", c->demote_s);
    fprintf(o, "}\n");
    fprintf(o, "underlay {\n");
    fprintf(o, "    interface = \"%s\"\n", c->fwd.underlay_if);
    fprintf(o, "    local-ip = \"%s\"\n", c->fwd.local_ip);
    fprintf(o, "    udp-port = %u\n", c->fwd.udp_port);
    fprintf(o, "    ttl = %u\n", c->fwd.ttl);
    fprintf(o, "    df = %s\n", c->fwd.df ? "true" : "false");
    fprintf(o, "    source-port-range = \"%u-%u\"\n", c->fwd.sport_min,
            c->fwd.sport_max);
    fprintf(o, "    mac-age = %u\n", c->fwd.mac_age_s);
    fprintf(o, "    cpu = %d\n", c->fwd_cpu);
    fprintf(o, "    fastpath = %s\n", c->fwd.fastpath ? "on" : "off");
    fprintf(o, "}\n");
    if (c->evpn.enabled) {
        const struct nve_evpn_conf *ev = &c->evpn;
        fprintf(o, "evpn {\n");
        fprintf(o, "    shadow-udp-port = %u\n", ev->shadow_port);
        fprintf(o, "    frr-rundir = \"%s\"\n", ev->frr_rundir);
        fprintf(o, "    withdraw-delay = %u\n", ev->withdraw_delay_ms);
        fprintf(o, "    frr-grace = %u\n", ev->frr_grace_s);
        fprintf(o, "    frr-reconcile = %u\n", ev->frr_reconcile_s);
        fprintf(o, "    migration-hold = %u\n", ev->migration_hold_s);
        fprintf(o, "    mobility-hold = %u\n", ev->mobility_hold_s);
        fprintf(o, "}\n");
    } else {
        fprintf(o, "# evpn: off (remote VTEPs and MACs from the vn sections)\n");
    }
    for (unsigned i = 0; i < c->nports; i++) {
        const struct nve_port *p = &c->ports[i];
        char tags[1024];
        tagset_fmt(&p->tags, tags, sizeof(tags));
        fprintf(o, "port \"%s\" {\n", p->name);
        fprintf(o, "    interface = \"%s\"\n", p->ifname);
        fprintf(o, "    tags = \"%s\"\n", p->tags_str);
        fprintf(o, "    reserved-tags = \"%s\"\n", p->reserved_str);
        fprintf(o, "    # allocatable: %s\n", tags);
        if (p->nhv) {
            fprintf(o, "    hypervisors = {");
            for (unsigned k = 0; k < p->nhv; k++) {
                nvdp_mac_fmt(p->hv[k], mac);
                fprintf(o, "%s\"%s\"", k ? ", " : "", mac);
            }
            fprintf(o, "}\n");
        } else {
            fprintf(o, "    # hypervisors: any\n");
        }
        if (!p->all_vns) {
            fprintf(o, "    vns = {");
            for (unsigned k = 0; k < p->nvn; k++)
                fprintf(o, "%s\"%s\"", k ? ", " : "", p->vn_name[k]);
            fprintf(o, "}\n");
        } else {
            fprintf(o, "    # vns: all\n");
        }
        fprintf(o, "    auth = %s\n", nvdp_auth_policy_name(p->auth));
        if (p->keys.n)
            fprintf(o,
                    "    key-file = \"%s\"    # %u key(s), sending with "
                    "key %u\n",
                    p->key_path, p->keys.n, p->keys.key[0].id);
        for (size_t k = 0;
             k < sizeof(port_limit_opts) / sizeof(port_limit_opts[0]); k++)
            fprintf(o, "    %s = %u\n", port_limit_opts[k].opt,
                    *(const uint32_t *)((const char *)p +
                                        port_limit_opts[k].port_off));
        fprintf(o, "}\n");
    }
    for (unsigned i = 0; i < c->nhv_keys; i++) {
        const struct nve_hv_key *h = &c->hv_keys[i];
        nvdp_mac_fmt(h->mac, mac);
        fprintf(o, "hypervisor \"%s\" {\n", h->name);
        fprintf(o, "    mac = \"%s\"\n", mac);
        fprintf(o,
                "    key-file = \"%s\"    # %u key(s), sending with key "
                "%u\n}\n",
                h->key_path, h->keys.n, h->keys.key[0].id);
    }
    for (unsigned i = 0; i < c->nvns; i++) {
        const struct nve_vn *v = &c->vns[i];
        fprintf(o, "vn \"%s\" {\n", v->name);
        if (v->has_uuid) {
            nvdp_uuid_fmt(&v->uuid, u);
            fprintf(o, "    uuid = \"%s\"\n", u);
        }
        fprintf(o, "    vni = %u\n", v->vni);
        fprintf(o, "    flood = {");
        for (unsigned k = 0; k < v->nflood; k++)
            fprintf(o, "%s\"%s\"", k ? ", " : "", v->flood[k]);
        fprintf(o, "}\n");
        for (unsigned k = 0; k < v->nremote; k++) {
            nvdp_mac_fmt(v->remote[k].mac, mac);
            fprintf(o, "    remote-mac \"%s\" { vtep = \"%s\" }\n", mac,
                    v->remote[k].vtep);
        }
        fprintf(o, "}\n");
    }
}
