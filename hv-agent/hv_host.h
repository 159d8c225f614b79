/* hv_host.h - hv-agent's host integration (issue 5): the tagging data
 * plane, the 802.1Qbg netlink responder and the libvirt event watch, with
 * their hv-agent.conf options. main.c starts it; it hooks in as observer. */
#ifndef HV_HOST_H
#define HV_HOST_H

#include <confuse.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>

#include "paths.h"

struct hv_host_conf {
    char dataplane[8];          /* auto | bpf | none */
    char vdp_pidfile[PATH_MAX]; /* "" = no 802.1Qbg responder */
    char libvirt_uri[256];      /* "" = no libvirt event watch */
    char marker_dir[PATH_MAX];  /* where hv_virt leaves its markers */
};

/* Rows for hv-agent.conf's option table (hv_conf.c inserts them). */
#define HV_HOST_CFG_OPTS                                                   \
    CFG_STR("dataplane", "auto", CFGF_NONE),                               \
    CFG_STR("vdp-pid-file", "", CFGF_NONE),                                \
    CFG_STR("libvirt-uri", "", CFGF_NONE),                                 \
    CFG_STR("migration-marker-dir", PATHS_MARKER_DIR, CFGF_NONE)

void hv_host_conf_defaults(struct hv_host_conf *c);
/* From a parsed cfg_t holding HV_HOST_CFG_OPTS; -1 with a log line. */
int hv_host_conf_fill(struct hv_host_conf *c, cfg_t *cfg, const char *path);
void hv_host_conf_print(const struct hv_host_conf *c, FILE *f);

struct hv;
struct hv_host;
/* Starts what the configuration asks for. NULL (logged) only when an
 * explicitly requested part cannot run (dataplane = "bpf" unavailable,
 * the VDP pid file is lldpad's): hv-agent must not run half-configured. */
struct hv_host *hv_host_start(struct hv *h);
void hv_host_stop(struct hv_host *x);
/* 1 if what runs needs CAP_NET_ADMIN from now on: the tc-bpf data plane
 * attaches its program to each VNIC that comes, 802.1Qbg answers libvirt
 * over netlink. */
int hv_host_needs_net_admin(const struct hv_host *x);
/* {"dataplane": ..., "vdp": ..., "libvirt": ...} for status output. */
struct json_object *hv_host_json(struct hv_host *x);

#endif
