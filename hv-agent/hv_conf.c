/* hv_conf.c - hv-agent.conf: libconfuse schema, validation with file and
 * line in every error, the normalised print-out for -n, VN name lookup. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <confuse.h>

#include "conf_util.h"
#include "hv.h"
#include "log.h"

/* Integer options and their bounds: one row per option, checked while
 * parsing so that the error names the option and its line. */
static const struct conf_range int_bounds[] = {
    {"ethertype", 0x0600, 0xFFFF},
    {"hello-interval", 100, 60000},
    {"hold-time", 1, 3600},
    {"window", 1, REL_WINDOW_MAX},
    {"retransmit|initial", 10, 60000},
    {"retransmit|max", 10, 600000},
    {"retransmit|tries", 1, 255}, /* rel_params.max_tries is 8 bits */
    {"limits|nve-request-rate", 0, 10000000},
    {"limits|nve-request-burst", 1, 1000000},
    {"limits|resync-burst", 1, 1000},
    {NULL, 0, 0},
};

static int
validate_int(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_check_range(cfg, opt, int_bounds);
}

static int
validate_name(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);

    if (s == NULL || *s == '\0' || strlen(s) > NVDP_MAX_NAME) {
        cfg_error(cfg, "name must have 1..%d characters", NVDP_MAX_NAME);
        return -1;
    }
    return 0;
}

static int
validate_nve_loss(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);

    if (s == NULL || (strcmp(s, "untag") != 0 && strcmp(s, "keep") != 0)) {
        cfg_error(cfg, "on-nve-loss \"%s\": want untag or keep", s ? s : "");
        return -1;
    }
    return 0;
}

static int
validate_path(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);

    if (s == NULL || s[0] != '/' || strlen(s) >= 108) {
        /* 108: sun_path; the state file gets ".tmp" appended too. */
        cfg_error(cfg, "%s must be an absolute path shorter than 108 bytes",
                  opt->name);
        return -1;
    }
    return 0;
}

/* A vn section: exactly one of vni / uuid, and a name that cannot be
 * mistaken for a literal VN on the control socket. */
static int
validate_vn(cfg_t *cfg, cfg_opt_t *opt)
{
    cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
    const char *title = cfg_title(sec);
    struct nvdp_vn vn;
    int has_vni = cfg_size(sec, "vni") > 0, has_uuid = cfg_size(sec, "uuid") > 0;

    if (title == NULL || *title == '\0' || strlen(title) >= 64) {
        cfg_error(cfg, "vn name must have 1..63 characters");
        return -1;
    }
    if (nvdp_vn_parse(title, &vn) == 0 || strchr(title, ':') != NULL) {
        cfg_error(cfg, "vn name \"%s\" looks like a VNI or UUID", title);
        return -1;
    }
    if (has_vni == has_uuid) {
        cfg_error(cfg, "vn \"%s\" needs exactly one of vni or uuid", title);
        return -1;
    }
    return 0;
}

static cfg_t *
conf_schema(void)
{
    static cfg_opt_t vn_opts[] = {
        CFG_INT("vni", 0, CFGF_NODEFAULT),
        CFG_STR("uuid", NULL, CFGF_NODEFAULT),
        CFG_END(),
    };
    static cfg_opt_t rtx_opts[] = {
        CFG_INT("initial", 200, CFGF_NONE),
        CFG_INT("max", 3200, CFGF_NONE),
        CFG_INT("tries", 8, CFGF_NONE),
        CFG_END(),
    };
    static cfg_opt_t limit_opts[] = {
        CFG_INT("nve-request-rate", HV_NVE_REQ_RATE, CFGF_NONE),
        CFG_INT("nve-request-burst", HV_NVE_REQ_BURST, CFGF_NONE),
        CFG_INT("resync-burst", HV_RESYNC_BURST, CFGF_NONE),
        CFG_END(),
    };
    static cfg_opt_t opts[] = {
        CFG_STR("name", NULL, CFGF_NODEFAULT),
        CFG_STR("uplink", NULL, CFGF_NODEFAULT),
        CFG_INT("ethertype", NVDP_ETHERTYPE_DEFAULT, CFGF_NONE),
        CFG_STR("group-mac", NVDP_GROUP_MAC_DEFAULT_STR, CFGF_NONE),
        CFG_STR("nve-mac", NULL, CFGF_NODEFAULT),
        CFG_INT("hello-interval", 1000, CFGF_NONE),
        CFG_INT("hold-time", 10, CFGF_NONE),
        CFG_STR("on-nve-loss", "untag", CFGF_NONE),
        CFG_INT("window", 256, CFGF_NONE),
        CFG_SEC("retransmit", rtx_opts, CFGF_NONE),
        CFG_SEC("limits", limit_opts, CFGF_NONE),
        CFG_STR("state-file", HV_STATE_DEFAULT, CFGF_NONE),
        CFG_STR("control-socket", HV_CTL_DEFAULT, CFGF_NONE),
        CTL_CONF_OPTS,
        CFG_STR("key-file", "", CFGF_NONE),
        CFG_SEC("vn", vn_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        HV_HOST_CFG_OPTS,
        CFG_END(),
    };
    cfg_t *cfg = cfg_init(opts, CFGF_NONE);

    if (cfg == NULL)
        return NULL;
    cfg_set_error_function(cfg, conf_errfunc);
    if (conf_set_ranges(cfg, int_bounds, validate_int) < 0 ||
        ctl_conf_schema(cfg) < 0) {
        cfg_free(cfg);
        return NULL;
    }
    cfg_set_validate_func(cfg, "name", validate_name);
    cfg_set_validate_func(cfg, "uplink", conf_validate_ifname);
    cfg_set_validate_func(cfg, "group-mac", conf_validate_mac);
    cfg_set_validate_func(cfg, "nve-mac", conf_validate_mac);
    cfg_set_validate_func(cfg, "on-nve-loss", validate_nve_loss);
    cfg_set_validate_func(cfg, "state-file", validate_path);
    cfg_set_validate_func(cfg, "control-socket", validate_path);
    cfg_set_validate_func(cfg, "key-file", validate_path);
    cfg_set_validate_func(cfg, "vn|vni", conf_validate_vni);
    cfg_set_validate_func(cfg, "vn|uuid", conf_validate_uuid);
    cfg_set_validate_func(cfg, "vn", validate_vn);
    return cfg;
}

void
hv_conf_defaults(struct hv_conf *c)
{
    static const uint8_t group[6] = NVDP_GROUP_MAC_DEFAULT;
    const struct rel_params rp = REL_PARAMS_DEFAULT;

    memset(c, 0, sizeof(*c));
    if (gethostname(c->name, sizeof(c->name) - 1) == -1 || c->name[0] == '\0')
        snprintf(c->name, sizeof(c->name), "hv-agent");
    c->ethertype = NVDP_ETHERTYPE_DEFAULT;
    memcpy(c->group_mac, group, 6);
    c->hello_interval = 1000;
    c->hold_time = 10;
    c->rel = rp;
    c->nve_req_rate = HV_NVE_REQ_RATE;
    c->nve_req_burst = HV_NVE_REQ_BURST;
    c->resync_burst = HV_RESYNC_BURST;
    snprintf(c->state_file, sizeof(c->state_file), "%s", HV_STATE_DEFAULT);
    snprintf(c->ctl_path, sizeof(c->ctl_path), "%s", HV_CTL_DEFAULT);
    ctl_conf_defaults(&c->ctl);
    hv_host_conf_defaults(&c->host);
}

void
hv_conf_free(struct hv_conf *c)
{
    free(c->vns);
    c->vns = NULL;
    c->nvns = 0;
    nvdp_keyring_free(&c->keys);
}

/* Cross-option checks: libconfuse's line is past the end by now, so these
 * name the file and the options involved. */
static int
conf_check(const struct hv_conf *c, const char *path)
{
    int rc = 0;

    if ((unsigned)c->hold_time * 1000 < 2u * c->hello_interval) {
        log_warnx("%s: hold-time %us must be at least two hello-intervals "
                  "(%ums)", path, c->hold_time, c->hello_interval);
        rc = -1;
    }
    if (c->rel.rto_max < c->rel.rto_init) {
        log_warnx("%s: retransmit max %ums is below initial %ums", path,
                  c->rel.rto_max, c->rel.rto_init);
        rc = -1;
    }
    for (size_t i = 0; i < c->nvns; i++)
        for (size_t j = i + 1; j < c->nvns; j++)
            if (nvdp_vn_equal(&c->vns[i].vn, &c->vns[j].vn)) {
                log_warnx("%s: vn \"%s\" and vn \"%s\" name the same VN",
                          path, c->vns[i].name, c->vns[j].name);
                rc = -1;
            }
    return rc;
}

static int
conf_fill(struct hv_conf *c, cfg_t *cfg)
{
    cfg_t *rtx = cfg_getsec(cfg, "retransmit");
    cfg_t *lim = cfg_getsec(cfg, "limits");
    size_t n = cfg_size(cfg, "vn");

    if (cfg_size(cfg, "name") > 0)
        snprintf(c->name, sizeof(c->name), "%s", cfg_getstr(cfg, "name"));
    if (cfg_size(cfg, "uplink") > 0)
        snprintf(c->uplink, sizeof(c->uplink), "%s", cfg_getstr(cfg, "uplink"));
    c->ethertype = (uint16_t)cfg_getint(cfg, "ethertype");
    if (nvdp_mac_parse(cfg_getstr(cfg, "group-mac"), c->group_mac) < 0)
        return -1;
    if (cfg_size(cfg, "nve-mac") > 0) {
        if (nvdp_mac_parse(cfg_getstr(cfg, "nve-mac"), c->nve_mac) < 0)
            return -1;
        c->nve_mac_set = 1;
    }
    c->hello_interval = (uint16_t)cfg_getint(cfg, "hello-interval");
    c->hold_time = (uint16_t)cfg_getint(cfg, "hold-time");
    c->nve_loss_keep = strcmp(cfg_getstr(cfg, "on-nve-loss"), "keep") == 0;
    c->rel.window = (uint16_t)cfg_getint(cfg, "window");
    c->rel.rto_init = (uint32_t)cfg_getint(rtx, "initial");
    c->rel.rto_max = (uint32_t)cfg_getint(rtx, "max");
    c->rel.max_tries = (uint8_t)cfg_getint(rtx, "tries");
    c->nve_req_rate = (uint32_t)cfg_getint(lim, "nve-request-rate");
    c->nve_req_burst = (uint32_t)cfg_getint(lim, "nve-request-burst");
    c->resync_burst = (uint32_t)cfg_getint(lim, "resync-burst");
    snprintf(c->state_file, sizeof(c->state_file), "%s",
             cfg_getstr(cfg, "state-file"));
    snprintf(c->ctl_path, sizeof(c->ctl_path), "%s",
             cfg_getstr(cfg, "control-socket"));
    snprintf(c->key_path, sizeof(c->key_path), "%s",
             cfg_getstr(cfg, "key-file"));
    if (c->key_path[0]) {
        char err[PATH_MAX + 128];
        if (nvdp_keyring_load(&c->keys, c->key_path, err, sizeof(err)) < 0) {
            log_warnx("%s: key-file %s", cfg->filename, err);
            return -1;
        }
    }
    if (ctl_conf_fill(&c->ctl, cfg, cfg->filename) < 0 ||
        hv_host_conf_fill(&c->host, cfg, cfg->filename) < 0)
        return -1;
    if (n > 0 && (c->vns = calloc(n, sizeof(*c->vns))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        cfg_t *sec = cfg_getnsec(cfg, "vn", (unsigned)i);
        struct hv_vnmap *m = &c->vns[c->nvns++];
        char buf[64];

        snprintf(m->name, sizeof(m->name), "%s", cfg_title(sec));
        if (cfg_size(sec, "vni") > 0)
            snprintf(buf, sizeof(buf), "vni:%ld", cfg_getint(sec, "vni"));
        else
            snprintf(buf, sizeof(buf), "uuid:%s", cfg_getstr(sec, "uuid"));
        if (nvdp_vn_parse(buf, &m->vn) < 0)
            return -1;
    }
    return 0;
}

int
hv_conf_load(struct hv_conf *c, const char *path)
{
    cfg_t *cfg;
    int rc;

    hv_conf_defaults(c);
    if (conf_file_check(path) < 0)
        return -1;
    if ((cfg = conf_schema()) == NULL) {
        log_warnx("%s: cannot initialise the parser", path);
        return -1;
    }
    conf_name_sections(cfg, path);
    rc = cfg_parse(cfg, path);
    if (rc == CFG_FILE_ERROR) {
        log_warnx("%s: %s", path, strerror(errno));
        cfg_free(cfg);
        return -1;
    }
    if (rc != CFG_SUCCESS) {
        cfg_free(cfg);
        return -1;
    }
    if (conf_fill(c, cfg) < 0) {
        log_warnx("%s: invalid value", path);
        cfg_free(cfg);
        hv_conf_free(c);
        return -1;
    }
    cfg_free(cfg);
    if (conf_check(c, path) < 0) {
        hv_conf_free(c);
        return -1;
    }
    return 0;
}

int
hv_conf_vn_lookup(const struct hv_conf *c, const char *s, struct nvdp_vn *vn,
                  const char **name)
{
    if (name != NULL)
        *name = NULL;
    if (s == NULL || *s == '\0')
        return -1;
    for (size_t i = 0; i < c->nvns; i++) {
        if (strcmp(c->vns[i].name, s) == 0) {
            *vn = c->vns[i].vn;
            if (name != NULL)
                *name = c->vns[i].name;
            return 0;
        }
    }
    return nvdp_vn_parse(s, vn);
}

void
hv_conf_print(const struct hv_conf *c, FILE *f)
{
    char mac[NVDP_MAC_STRLEN], vn[128];

    fprintf(f, "name = \"%s\"\n", c->name);
    if (c->uplink[0] != '\0')
        fprintf(f, "uplink = \"%s\"\n", c->uplink);
    else
        fprintf(f, "# uplink not set\n");
    fprintf(f, "ethertype = 0x%04x\n", c->ethertype);
    nvdp_mac_fmt(c->group_mac, mac);
    fprintf(f, "group-mac = \"%s\"\n", mac);
    if (c->nve_mac_set) {
        nvdp_mac_fmt(c->nve_mac, mac);
        fprintf(f, "nve-mac = \"%s\"\n", mac);
    }
    fprintf(f, "hello-interval = %u\n", c->hello_interval);
    fprintf(f, "hold-time = %u\n", c->hold_time);
    fprintf(f, "on-nve-loss = %s\n", c->nve_loss_keep ? "keep" : "untag");
    fprintf(f, "window = %u\n", c->rel.window);
    fprintf(f, "retransmit {\n    initial = %u\n    max = %u\n"
            "    tries = %u\n}\n", c->rel.rto_init, c->rel.rto_max,
            c->rel.max_tries);
    fprintf(f, "limits {\n    nve-request-rate = %u\n"
            "    nve-request-burst = %u\n    resync-burst = %u\n}\n",
            c->nve_req_rate, c->nve_req_burst, c->resync_burst);
    fprintf(f, "state-file = \"%s\"\n", c->state_file);
    fprintf(f, "control-socket = \"%s\"\n", c->ctl_path);
    ctl_conf_print(&c->ctl, f);
    if (c->keys.n)
        fprintf(f, "key-file = \"%s\"    # %u key(s), sending with key %u\n",
                c->key_path, c->keys.n, c->keys.key[0].id);
    else
        fprintf(f, "# key-file: none (no authentication)\n");
    hv_host_conf_print(&c->host, f);
    for (size_t i = 0; i < c->nvns; i++) {
        const struct nvdp_vn *v = &c->vns[i].vn;

        if (v->kind == NVDP_VN_VNI)
            fprintf(f, "vn \"%s\" {\n    vni = %u\n}\n", c->vns[i].name,
                    v->vni);
        else {
            nvdp_uuid_fmt(&v->uuid, vn);
            fprintf(f, "vn \"%s\" {\n    uuid = \"%s\"\n}\n", c->vns[i].name,
                    vn);
        }
    }
}
