/* hv_want.c - the one entry point for a VNIC's desired state: every caller
 * (control socket, libvirt's 802.1Qbg requests) is validated, applied,
 * logged and handed to the engine and the journal the same way here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"
#include "log.h"

/* An attach or preassociate, resolved and checked. */
struct want_assoc {
    struct nvdp_vn vn;
    const char *vn_name;
    struct nvdp_addr addr[NVDP_MAX_ADDRS];
    size_t naddr;
};

static enum hv_want_err
fail(enum hv_want_err e, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum hv_want_err
fail(enum hv_want_err e, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return e;
}

static int
mac_unicast(const uint8_t mac[6])
{
    return !(mac[0] & 1) && memcmp(mac, "\0\0\0\0\0\0", 6) != 0;
}

/* The addresses, duplicates dropped; none given is the MAC alone. */
static enum hv_want_err
parse_addrs(const struct hv_want_req *r, struct want_assoc *a, char *err,
            size_t errlen)
{
    a->naddr = 0;
    if (r->nips > NVDP_MAX_ADDRS)
        return fail(HV_WANT_E_FORMAT, err, errlen,
                    "at most %d addresses per VNIC", NVDP_MAX_ADDRS);
    for (size_t i = 0; i < r->nips; i++) {
        const char *s = r->ips[i];
        int dup = 0;

        if (s == NULL || *s == '\0' ||
            nvdp_addr_parse(r->mac, s, &a->addr[a->naddr]) < 0)
            return fail(HV_WANT_E_FORMAT, err, errlen,
                        "bad address \"%.64s\" (want an IPv4/IPv6 address, "
                        "prefix or first-last range)", s ? s : "");
        for (size_t j = 0; j < a->naddr; j++)
            dup |= nvdp_addr_equal(&a->addr[j], &a->addr[a->naddr]);
        if (!dup)
            a->naddr++;
    }
    if (a->naddr == 0) {
        nvdp_addr_parse(r->mac, NULL, &a->addr[0]);
        a->naddr = 1;
    }
    return HV_WANT_OK;
}

/* Whether the request the engine builds for it fits one frame. The message
 * is on the stack (about 3 KB): a calloc of it per request was a tenth of
 * hv-agent's CPU in a burst of attaches. */
static int
fits_frame(const struct hv *h, const struct hv_want_req *r,
           const struct want_assoc *a)
{
    struct nvdp_msg m = {
        .type = r->op == HV_OP_ATTACH ? NVDP_MSG_ASSOC : NVDP_MSG_PREASSOC,
        .txid = 1,
        .has_vnic = 1,
        .vnic = r->uuid,
        .vn = a->vn,
        .has_tag_hint = 1,
        .tag_hint = 1,
        .has_flags = r->op == HV_OP_PREASSOC,
        .naddr = (uint16_t)a->naddr,
    };

    memcpy(m.addr, a->addr, a->naddr * sizeof(a->addr[0]));
    return nvdp_msg_size(&m) <= hv_proto_max_msg(h);
}

static enum hv_want_err
check_assoc(const struct hv *h, const struct hv_want_req *r,
            struct want_assoc *a, char *err, size_t errlen)
{
    enum hv_want_err e;

    if (hv_conf_vn_lookup(&h->conf, r->vn, &a->vn, &a->vn_name) < 0)
        return fail(HV_WANT_E_VN, err, errlen,
                    "unknown VN \"%.64s\" (want vni:N, uuid:U or a vn name "
                    "from hv-agent.conf)", r->vn ? r->vn : "");
    if (!mac_unicast(r->mac)) {
        char m[NVDP_MAC_STRLEN];
        nvdp_mac_fmt(r->mac, m);
        return fail(HV_WANT_E_FORMAT, err, errlen,
                    "mac %s is not a unicast MAC address", m);
    }
    if ((e = parse_addrs(r, a, err, errlen)) != HV_WANT_OK)
        return e;
    if (r->ifname != NULL &&
        (*r->ifname == '\0' || strlen(r->ifname) >= IF_NAMESIZE ||
         strchr(r->ifname, '/') != NULL))
        return fail(HV_WANT_E_FORMAT, err, errlen, "bad ifname \"%.64s\"",
                    r->ifname);
    if (!fits_frame(h, r, a))
        return fail(HV_WANT_E_FRAME, err, errlen,
                    "too many addresses to fit one frame on the uplink");
    return HV_WANT_OK;
}

static int
same_addrs(const struct hv_vnic *v, const struct want_assoc *a)
{
    if (v->naddr != a->naddr)
        return 0;
    for (size_t i = 0; i < a->naddr; i++)
        if (!nvdp_addr_equal(&v->addr[i], &a->addr[i]))
            return 0;
    return 1;
}

/* The change is made: counted (an answer to what was desired before is
 * moot), queued for the engine and the journal; reset: the caller acted,
 * so a refusal or a withdrawal is retried from pending. */
static void
changed(struct hv *h, struct hv_vnic *v, int reset)
{
    if (reset) {
        v->state = v->want == HV_WANT_DETACH ? HV_VNIC_DETACHING :
                                               HV_VNIC_PENDING;
        v->status = NVDP_ST_OK;
        v->reason[0] = '\0';
        v->gaveup = 0;
        hv_notify_vnic(h, v);
    }
    v->gen++;
    hv_state_mark(&h->state, v);
    hv_state_changed(h, v);
}

static enum hv_want_err
want_assoc(struct hv *h, const struct hv_want_req *r, struct hv_vnic **vp,
           char *err, size_t errlen)
{
    struct want_assoc wa, *a = &wa; /* on the stack, as in fits_frame */
    struct hv_vnic *v;
    enum hv_want_err e;
    const char *was;
    char u[NVDP_UUID_STRLEN], m[NVDP_MAC_STRLEN], vn[128];
    int created = 0, same, retry;

    if ((e = check_assoc(h, r, a, err, errlen)) != HV_WANT_OK)
        goto out;
    if ((v = hv_state_find(&h->state, &r->uuid)) == NULL) {
        if ((v = hv_state_add(&h->state, &r->uuid)) == NULL) {
            e = fail(HV_WANT_E_NOMEM, err, errlen, "out of memory");
            goto out;
        }
        created = 1;
    }
    same = !created && v->want == r->op && nvdp_vn_equal(&v->vn, &a->vn) &&
           memcmp(v->mac, r->mac, 6) == 0 && same_addrs(v, a) &&
           v->reserve == r->reserve &&
           (r->ifname == NULL || strcmp(r->ifname, v->ifname) == 0);
    retry = v->state == HV_VNIC_FAILED || v->state == HV_VNIC_WITHDRAWN;
    nvdp_uuid_fmt(&r->uuid, u);
    if (same && !retry) {
        log_debug("vnic %s: desired %s again: unchanged", u,
                  hv_want_str(v->want));
        *vp = v;
        goto out;
    }
    /* the address list is the one allocation: before anything changes */
    if (hv_change_begin(h, v, created) < 0 ||
        hv_state_set_addrs(v, a->addr, a->naddr) < 0) {
        if (created)
            hv_state_remove(&h->state, v);
        e = fail(HV_WANT_E_NOMEM, err, errlen, "out of memory");
        goto out;
    }
    was = created ? "none" : hv_want_str(v->want);
    v->vn = a->vn;
    snprintf(v->vn_name, sizeof(v->vn_name), "%s",
             a->vn_name != NULL ? a->vn_name : "");
    memcpy(v->mac, r->mac, 6);
    v->want = r->op;
    v->reserve = r->reserve;
    v->intent = 0;
    if (r->ifname != NULL)
        snprintf(v->ifname, sizeof(v->ifname), "%s", r->ifname);
    nvdp_vn_fmt(&v->vn, vn, sizeof(vn));
    nvdp_mac_fmt(v->mac, m);
    if (same)
        log_info("vnic %s: desired %s again (was %s): retried", u,
                 hv_want_str(v->want), hv_vnic_state_str(v->state));
    else
        log_info("vnic %s: desired %s -> %s%s in %s%s%s%s, mac %s, %u "
                 "address%s%s%s", u, was, hv_want_str(v->want),
                 v->want == HV_WANT_PREASSOC && v->reserve ? " (reserve)" : "",
                 vn, v->vn_name[0] ? " (" : "", v->vn_name,
                 v->vn_name[0] ? ")" : "", m, v->naddr,
                 v->naddr == 1 ? "" : "es", v->ifname[0] ? ", ifname " : "",
                 v->ifname);
    changed(h, v, 1);
    *vp = v;
out:
    return e;
}

static enum hv_want_err
want_detach(struct hv *h, const struct hv_want_req *r, struct hv_vnic *v,
            const char *u)
{
    const char *was = hv_want_str(v->want);
    uint8_t intent = r->intent ? r->intent : NVDP_INTENT_SHUTDOWN;

    if (v->want == HV_WANT_DETACH && v->intent == intent &&
        v->state == HV_VNIC_DETACHING) {
        log_debug("vnic %s: desired detached again: unchanged", u);
        return HV_WANT_OK;
    }
    if (hv_change_begin(h, v, 0) < 0)
        return HV_WANT_E_NOMEM;
    v->want = HV_WANT_DETACH;
    v->intent = intent;
    log_info("vnic %s: desired %s -> detached (intent %s)", u, was,
             hv_intent_str(intent));
    changed(h, v, v->state != HV_VNIC_DETACHING);
    return HV_WANT_OK;
}

static enum hv_want_err
want_state(struct hv *h, const struct hv_want_req *r, struct hv_vnic *v,
           const char *u, char *err, size_t errlen)
{
    uint8_t up = r->up ? 1 : 0;

    if (v->want != HV_WANT_ATTACH)
        return fail(HV_WANT_E_NOTATTACHED, err, errlen,
                    "VNIC is not attached (desired: %s)",
                    hv_want_str(v->want));
    if (v->up == up) {
        log_debug("vnic %s: desired link %s again: unchanged", u,
                  up ? "up" : "down");
        return HV_WANT_OK;
    }
    if (hv_change_begin(h, v, 0) < 0)
        return HV_WANT_E_NOMEM;
    v->up = up;
    log_info("vnic %s: desired link %s -> %s", u, up ? "down" : "up",
             up ? "up" : "down");
    changed(h, v, v->state == HV_VNIC_FAILED);
    return HV_WANT_OK;
}

enum hv_want_err
hv_vnic_want(struct hv *h, const struct hv_want_req *r, struct hv_vnic **vp,
             char *err, size_t errlen)
{
    char u[NVDP_UUID_STRLEN];
    struct hv_vnic *v;
    enum hv_want_err e;

    *vp = NULL;
    if (errlen > 0)
        err[0] = '\0';
    switch (r->op) {
    case HV_OP_ATTACH:
    case HV_OP_PREASSOC:
        return want_assoc(h, r, vp, err, errlen);
    case HV_OP_DETACH:
    case HV_OP_STATE:
        break;
    default:
        return fail(HV_WANT_E_FORMAT, err, errlen, "unknown request %u",
                    r->op);
    }
    nvdp_uuid_fmt(&r->uuid, u);
    if ((v = hv_state_find(&h->state, &r->uuid)) == NULL)
        return fail(HV_WANT_E_NOVNIC, err, errlen, "no VNIC %s", u);
    e = r->op == HV_OP_DETACH ? want_detach(h, r, v, u)
                              : want_state(h, r, v, u, err, errlen);
    if (e == HV_WANT_E_NOMEM)
        fail(e, err, errlen, "out of memory");
    if (e == HV_WANT_OK)
        *vp = v;
    return e;
}
