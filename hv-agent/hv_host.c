/* hv_host.c - wires hv_dp (tagging), hv_vdpnl (libvirt's 802.1Qbg path)
 * and hv_virt (libvirt events) into hv-agent's loop and VNIC observers. */
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "ev.h"
#include "hv.h"
#include "hv_dp.h"
#include "hv_host.h"
#include "hv_vdpnl.h"
#include "hv_virt.h"
#include "log.h"

#define HV_HOST_TICK_MS 1000       /* data plane retries, VDP expiry */
#define HV_HOST_VDP_KEEP_MS 60000  /* libvirt polls for at most 10 s */

/* A VDP answer waiting for the state journal's next commit: libvirt must
 * not start a domain on a success a crash could take back. */
struct vdp_held {
    uint8_t uuid[16];
    uint16_t rsp;
    struct vdp_held *next;
};

struct hv_host {
    struct hv *h;
    struct hv_dp *dp;
    struct hv_vdpnl *vdp;
    struct hv_virt *virt;
    struct hv_observer obs;
    struct ev_timer tick;
    struct vdp_held *held;
};

void hv_host_conf_defaults(struct hv_host_conf *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->dataplane, sizeof(c->dataplane), "auto");
    snprintf(c->marker_dir, sizeof(c->marker_dir), "%s", PATHS_MARKER_DIR);
}

int hv_host_conf_fill(struct hv_host_conf *c, cfg_t *cfg, const char *path)
{
    const char *dp = cfg_getstr(cfg, "dataplane");

    if (strcmp(dp, "auto") && strcmp(dp, "bpf") && strcmp(dp, "none")) {
        log_warnx("%s: dataplane \"%s\": want auto, bpf or none", path, dp);
        return -1;
    }
    snprintf(c->dataplane, sizeof(c->dataplane), "%s", dp);
    snprintf(c->vdp_pidfile, sizeof(c->vdp_pidfile), "%s",
             cfg_getstr(cfg, "vdp-pid-file"));
    snprintf(c->libvirt_uri, sizeof(c->libvirt_uri), "%s",
             cfg_getstr(cfg, "libvirt-uri"));
    snprintf(c->marker_dir, sizeof(c->marker_dir), "%s",
             cfg_getstr(cfg, "migration-marker-dir"));
    return 0;
}

void hv_host_conf_print(const struct hv_host_conf *c, FILE *f)
{
    fprintf(f, "dataplane = \"%s\"\n", c->dataplane);
    fprintf(f, "vdp-pid-file = \"%s\"\n", c->vdp_pidfile);
    fprintf(f, "libvirt-uri = \"%s\"\n", c->libvirt_uri);
    fprintf(f, "migration-marker-dir = \"%s\"\n", c->marker_dir);
}

/* ---- VDP: libvirt's request -> the same desired-state change as the
 * control socket's vnic-attach / vnic-preassociate / vnic-detach ------- */
/* The answer for uuid goes out after the next commit (the latest wins). */
static void vdp_hold(struct hv_host *x, const uint8_t uuid[16], uint16_t rsp)
{
    struct vdp_held *k;

    for (k = x->held; k && memcmp(k->uuid, uuid, 16); k = k->next)
        ;
    if (!k) {
        if (!(k = calloc(1, sizeof(*k)))) {
            hv_vdpnl_complete(x->vdp, uuid,
                              PORT_VDP_RESPONSE_INSUFFICIENT_RESOURCES,
                              x->h->loop ? ev_now(x->h->loop) : 1);
            return;
        }
        memcpy(k->uuid, uuid, 16);
        k->next = x->held;
        x->held = k;
    }
    k->rsp = rsp;
    if (x->h->wake)
        x->h->wake(x->h);
}

/* What hv_vnic_want() refused, as VDP says it. */
static int vdp_refusal(enum hv_want_err e)
{
    switch (e) {
    case HV_WANT_E_VN:
        return PORT_VDP_RESPONSE_UNUSED_VTID;
    case HV_WANT_E_NOMEM:
        return PORT_VDP_RESPONSE_INSUFFICIENT_RESOURCES;
    case HV_WANT_E_NOVNIC: /* De-Associate of what we do not have */
        return PORT_VDP_RESPONSE_SUCCESS;
    default:
        return PORT_VDP_RESPONSE_INVALID_FORMAT;
    }
}

static int vdp_request(void *arg, const struct hv_vdpnl_req *r)
{
    struct hv_host *x = arg;
    struct hv_want_req w;
    struct hv_vnic *v;
    enum hv_want_err e;
    char vni[32], err[256];

    memset(&w, 0, sizeof(w));
    memcpy(w.uuid.b, r->uuid, 16);
    switch (r->op) {
    case PORT_REQUEST_DISASSOCIATE:
        /* VDP's De-Associate concerns this port only, which is NVDP's
         * intent migration: state the same VNIC has on other ports stays */
        w.op = HV_OP_DETACH;
        w.intent = NVDP_INTENT_MIGRATION;
        break;
    case PORT_REQUEST_ASSOCIATE:
        w.op = HV_OP_ATTACH;
        break;
    default:
        w.op = HV_OP_PREASSOC;
        w.reserve = r->op == PORT_REQUEST_PREASSOCIATE_RR;
        break;
    }
    if (w.op != HV_OP_DETACH) {
        /* The VSI type ID is the VN's 24-bit VNI (nvdp-hook(8)'s typeid
         * map is the way to name other VNs from a domain XML). */
        if (!r->type_id)
            return PORT_VDP_RESPONSE_UNUSED_VTID;
        snprintf(vni, sizeof(vni), "vni:%u", r->type_id);
        w.vn = vni;
        memcpy(w.mac, r->mac, 6);
    }
    if ((e = hv_vnic_want(x->h, &w, &v, err, sizeof(err))) != HV_WANT_OK) {
        if (e != HV_WANT_E_NOVNIC)
            log_warnx("vdp: request %u refused: %s", r->op, err);
        return vdp_refusal(e);
    }
    /* nothing to ask the NVE: the answer goes out with the next commit */
    if (w.op != HV_OP_DETACH && hv_vnic_settled(v) &&
        v->state == (w.op == HV_OP_ATTACH ? HV_VNIC_ATTACHED
                                          : HV_VNIC_PREASSOCIATED))
        vdp_hold(x, r->uuid, PORT_VDP_RESPONSE_SUCCESS);
    return HV_VDPNL_PENDING;
}

/* The answer libvirt polls for, once the VNIC settled. */
static void vdp_vnic_changed(struct hv_host *x, const struct hv_vnic *v)
{
    uint8_t op;
    int rsp = -1;

    if (!x->vdp || !hv_vdpnl_pending(x->vdp, v->uuid.b, &op))
        return;
    switch (v->state) {
    case HV_VNIC_ATTACHED:
        if (op == PORT_REQUEST_ASSOCIATE)
            rsp = PORT_VDP_RESPONSE_SUCCESS;
        break;
    case HV_VNIC_PREASSOCIATED:
        if (op == PORT_REQUEST_PREASSOCIATE || op == PORT_REQUEST_PREASSOCIATE_RR)
            rsp = PORT_VDP_RESPONSE_SUCCESS;
        break;
    case HV_VNIC_FAILED:
        rsp = hv_vdpnl_status_response(v->status);
        break;
    case HV_VNIC_WITHDRAWN:
        rsp = PORT_VDP_RESPONSE_OUT_OF_SYNC;
        break;
    case HV_VNIC_DETACHED:
        rsp = op == PORT_REQUEST_DISASSOCIATE ? PORT_VDP_RESPONSE_SUCCESS
                                              : PORT_VDP_RESPONSE_OUT_OF_SYNC;
        break;
    default:
        break;
    }
    if (rsp >= 0)
        vdp_hold(x, v->uuid.b, (uint16_t)rsp);
}

/* The commit is done: the answers held for it are true on disk. */
static void obs_saved(void *arg)
{
    struct hv_host *x = arg;
    struct vdp_held *k;

    while ((k = x->held)) {
        x->held = k->next;
        hv_vdpnl_complete(x->vdp, k->uuid, k->rsp,
                          x->h->loop ? ev_now(x->h->loop) : 1);
        free(k);
    }
}

/* The change could not be saved (and is undone): libvirt is told it
 * failed, whether its answer was held or still awaited from the NVE. */
static void obs_not_saved(void *arg, const struct nvdp_uuid *u,
                          const char *why)
{
    struct hv_host *x = arg;
    struct vdp_held **pp, *k;
    uint8_t op;

    (void)why;
    for (pp = &x->held; (k = *pp);) {
        if (!memcmp(k->uuid, u->b, 16)) {
            *pp = k->next;
            free(k);
        } else
            pp = &k->next;
    }
    if (x->vdp && hv_vdpnl_pending(x->vdp, u->b, &op))
        hv_vdpnl_complete(x->vdp, u->b,
                          PORT_VDP_RESPONSE_INSUFFICIENT_RESOURCES,
                          x->h->loop ? ev_now(x->h->loop) : 1);
}

static void vdp_readable(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct hv_host *x = arg;
    (void)fd;
    (void)events;
    hv_vdpnl_input(x->vdp, ev_now(l));
}

/* ---- observer and timer ---------------------------------------------------- */
static void obs_vnic(void *arg, const struct hv_vnic *v)
{
    struct hv_host *x = arg;
    if (x->dp)
        hv_dp_vnic_changed(x->dp, v);
    vdp_vnic_changed(x, v);
}

static void on_tick(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct hv_host *x = arg;
    if (x->dp)
        hv_dp_retry(x->dp);
    if (x->vdp)
        hv_vdpnl_expire(x->vdp, ev_now(l));
    ev_timer_start(l, t, HV_HOST_TICK_MS);
}

int hv_host_needs_net_admin(const struct hv_host *x)
{
    return x != NULL &&
           (hv_dp_backend(x->dp) == HV_DP_BPF || x->vdp != NULL);
}

struct hv_host *hv_host_start(struct hv *h)
{
    const struct hv_host_conf *c = &h->conf.host;
    struct hv_host *x = calloc(1, sizeof(*x));
    struct hv_vdpnl_ops ops;
    struct hv_vnic *v;
    char err[256];

    if (!x)
        return NULL;
    x->h = h;
    if (strcmp(c->dataplane, "none") && h->conf.uplink[0]) {
        x->dp = hv_dp_open(h->conf.uplink, c->dataplane, err, sizeof(err));
        if (!x->dp && !strcmp(c->dataplane, "bpf")) {
            log_warnx("dataplane: %s", err);
            goto fail;
        }
        if (!x->dp)
            log_warnx("dataplane: %s: VNIC traffic is not tagged", err);
    }
    if (c->vdp_pidfile[0]) {
        ops.request = vdp_request;
        ops.arg = x;
        x->vdp = hv_vdpnl_open(c->vdp_pidfile, &ops, HV_HOST_VDP_KEEP_MS,
                               err, sizeof(err));
        if (!x->vdp) {
            log_warnx("vdp: %s", err);
            goto fail;
        }
        if (h->loop && ev_io_add(h->loop, hv_vdpnl_fd(x->vdp), EPOLLIN,
                                 vdp_readable, x) < 0) {
            log_warn("vdp: event loop");
            goto fail;
        }
        log_info("vdp: answering libvirt's 802.1Qbg requests (pid file %s)",
                 c->vdp_pidfile);
    }
    if (c->libvirt_uri[0] &&
        !(x->virt = hv_virt_start(c->libvirt_uri, c->marker_dir, 5, err,
                                  sizeof(err))))
        log_warnx("libvirt: %s", err);
    x->obs.vnic_changed = obs_vnic;
    if (x->vdp) {
        x->obs.saved = obs_saved;
        x->obs.not_saved = obs_not_saved;
    }
    x->obs.arg = x;
    if (hv_observer_add(h, &x->obs) < 0) {
        log_warnx("host: no observer slot left");
        goto fail;
    }
    /* VNICs restored from the state file: blocked until attached again */
    TAILQ_FOREACH(v, &h->state.all, entry)
        if (x->dp)
            hv_dp_vnic_changed(x->dp, v);
    if (h->loop) {
        ev_timer_init(&x->tick, on_tick, x);
        ev_timer_start(h->loop, &x->tick, HV_HOST_TICK_MS);
    }
    return x;
fail:
    hv_host_stop(x);
    return NULL;
}

void hv_host_stop(struct hv_host *x)
{
    if (!x)
        return;
    if (x->obs.vnic_changed)
        hv_observer_del(x->h, &x->obs);
    if (x->h->loop) {
        ev_timer_stop(x->h->loop, &x->tick);
        if (x->vdp)
            ev_io_del(x->h->loop, hv_vdpnl_fd(x->vdp));
    }
    while (x->held) {
        struct vdp_held *k = x->held;
        x->held = k->next;
        free(k);
    }
    hv_virt_stop(x->virt);
    hv_vdpnl_close(x->vdp);
    hv_dp_close(x->dp);
    free(x);
}

struct json_object *hv_host_json(struct hv_host *x)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "dataplane", hv_dp_json(x ? x->dp : NULL));
    json_object_object_add(o, "vdp", x && x->vdp ? hv_vdpnl_json(x->vdp) : NULL);
    json_object_object_add(o, "libvirt", x && x->virt
                           ? json_object_new_boolean(hv_virt_connected(x->virt))
                           : NULL);
    return o;
}
