/* ctl_conf.c - the control socket's configuration options, shared by
 * hv-agent.conf and nve-agent.conf: who may connect, how many, how long;
 * and how the control loop is scheduled. */
#include "config.h"
#include "ctl_conf.h"

#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "conf_util.h"
#include "log.h"

static const struct conf_range ctl_ranges[] = {
    {"control-max-clients", 1, CTL_MAX_CONNS_LIMIT},
    {"control-idle-timeout", 0, 86400},
    {NULL, 0, 0},
};

static int
ctl_validate_int(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_check_range(cfg, opt, ctl_ranges);
}

/* A group name, or a number: 0 and *gid, -1 if there is no such group. */
static int
ctl_group_gid(const char *name, gid_t *gid)
{
    struct group *g;
    char *end;
    unsigned long n;

    if ((g = getgrnam(name)) != NULL) {
        *gid = g->gr_gid;
        return 0;
    }
    n = strtoul(name, &end, 10);
    if (*name != '\0' && *end == '\0' && n < (gid_t)-1) {
        *gid = (gid_t)n;
        return 0;
    }
    return -1;
}

static int
ctl_validate_group(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    gid_t gid;

    if (s == NULL || *s == '\0')
        return 0;
    if (strlen(s) >= CTL_CONF_GROUP_MAX || ctl_group_gid(s, &gid) < 0) {
        cfg_error(cfg, "option 'control-group': no group '%s'", s);
        return -1;
    }
    return 0;
}

static int
ctl_validate_prio(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    struct ctlprio p;
    char err[96];

    if (s == NULL || ctlprio_parse(s, &p, err, sizeof(err)) < 0) {
        cfg_error(cfg, "option 'control-priority': %s", s ? err : "missing");
        return -1;
    }
    return 0;
}

void
ctl_conf_defaults(struct ctl_conf *c)
{
    char err[96];

    c->group[0] = '\0';
    ctl_opts_default(&c->opts);
    ctlprio_parse(CTLPRIO_DEFAULT, &c->prio, err, sizeof(err));
}

int
ctl_conf_schema(cfg_t *cfg)
{
    if (conf_set_ranges(cfg, ctl_ranges, ctl_validate_int) < 0)
        return -1;
    cfg_set_validate_func(cfg, "control-group", ctl_validate_group);
    cfg_set_validate_func(cfg, "control-priority", ctl_validate_prio);
    return 0;
}

int
ctl_conf_fill(struct ctl_conf *c, cfg_t *cfg, const char *path)
{
    const char *g = cfg_getstr(cfg, "control-group");
    char err[96];

    ctl_conf_defaults(c);
    c->opts.max_conns = (int)cfg_getint(cfg, "control-max-clients");
    c->opts.idle_ms = (uint32_t)cfg_getint(cfg, "control-idle-timeout") * 1000;
    if (ctlprio_parse(cfg_getstr(cfg, "control-priority"), &c->prio, err,
                      sizeof(err)) < 0) {
        log_warnx("%s: option 'control-priority': %s", path, err);
        return -1;
    }
    if (g == NULL || *g == '\0')
        return 0;
    /* the group may have gone since the validator saw it */
    if (strlen(g) >= sizeof(c->group) || ctl_group_gid(g, &c->opts.gid) < 0) {
        log_warnx("%s: option 'control-group': no group '%s'", path, g);
        return -1;
    }
    snprintf(c->group, sizeof(c->group), "%s", g);
    return 0;
}

void
ctl_conf_print(const struct ctl_conf *c, FILE *f)
{
    char prio[CTLPRIO_STRLEN];

    if (c->group[0] != '\0')
        fprintf(f, "control-group = \"%s\"    # gid %u, socket mode 0660\n",
                c->group, (unsigned)c->opts.gid);
    else
        fprintf(f, "control-group = \"\"    # socket mode 0600\n");
    fprintf(f, "control-max-clients = %d\n", c->opts.max_conns);
    fprintf(f, "control-idle-timeout = %u\n", c->opts.idle_ms / 1000);
    ctlprio_fmt(&c->prio, prio, sizeof(prio));
    fprintf(f, "control-priority = \"%s\"\n", prio);
}

int
ctl_conf_differs(const struct ctl_conf *a, const struct ctl_conf *b)
{
    return strcmp(a->group, b->group) != 0 || a->opts.gid != b->opts.gid ||
           a->opts.max_conns != b->opts.max_conns ||
           a->opts.idle_ms != b->opts.idle_ms ||
           a->prio.policy != b->prio.policy || a->prio.value != b->prio.value;
}
