/* ctl_conf.h - the control socket's options in both daemons'
 * configurations (control-group, control-max-clients,
 * control-idle-timeout) and the control loop's scheduling
 * (control-priority): schema rows, validation, print-back. */
#ifndef CTL_CONF_H
#define CTL_CONF_H

#include <confuse.h>
#include <stdio.h>

#include "ctl.h"
#include "ctlprio.h"

#define CTL_CONF_GROUP_MAX 64

struct ctl_conf {
    char group[CTL_CONF_GROUP_MAX]; /* "" : none, the socket is 0600 */
    struct ctl_opts opts;           /* gid resolved from group */
    struct ctlprio prio;            /* control-priority */
};

/* Rows for the daemon's top-level cfg_opt_t table. */
#define CTL_CONF_OPTS                                             \
    CFG_STR("control-group", "", CFGF_NONE),                      \
        CFG_INT("control-max-clients", CTL_MAX_CONNS, CFGF_NONE), \
        CFG_INT("control-idle-timeout", CTL_IDLE_MS / 1000, CFGF_NONE), \
        CFG_STR("control-priority", CTLPRIO_DEFAULT, CFGF_NONE)

void ctl_conf_defaults(struct ctl_conf *c);
/* Registers the options' validators (ranges, the group exists) on the
 * schema, so that errors name file and line. 0 / -1. */
int ctl_conf_schema(cfg_t *cfg);
/* From a parsed cfg_t holding CTL_CONF_OPTS. 0, or -1 with a log line
 * naming path. */
int ctl_conf_fill(struct ctl_conf *c, cfg_t *cfg, const char *path);
void ctl_conf_print(const struct ctl_conf *c, FILE *f);
/* 1 if a and b open the socket differently (a reload keeps the running
 * socket: these take effect at restart). */
int ctl_conf_differs(const struct ctl_conf *a, const struct ctl_conf *b);

#endif
