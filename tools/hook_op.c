/* hook_op.c - the operation table (libvirt hook operation -> NVDP action)
 * and the JSON requests/answers exchanged with hv-agent for each VNIC. */
#include "hook_op.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* libvirt's documented hook calls (docs/hooks.rst). qemu migration
 * destination: migrate -> prepare -> start -> started; any start:
 * prepare -> start -> started; any stop (also a failed start and the
 * source of a migration): stopped -> release. */
#define START HOOK_PH_START
#define STOP HOOK_PH_STOP
static const struct hook_row {
    const char *driver, *op, *subop;
    struct hook_step step;
} hook_table[] = {
    {"qemu", "migrate", "begin", {HOOK_ACT_PREASSOC, 1, 0, START, HOOK_SEQ_OPEN}},
    {"qemu", "prepare", "begin", {HOOK_ACT_PREASSOC, 1, 0, START, HOOK_SEQ_JOIN}},
    /* qemu creates its taps after "start": their names come at "started" */
    {"qemu", "start", "begin", {HOOK_ACT_ATTACH, 1, 0, START, HOOK_SEQ_CONT}},
    {"qemu", "started", "begin", {HOOK_ACT_ATTACH, 1, 1, START, HOOK_SEQ_CLOSE}},
    {"qemu", "reconnect", "begin", {HOOK_ACT_ATTACH, 0, 1, HOOK_PH_NONE, HOOK_SEQ_OWN}},
    {"qemu", "attach", "begin", {HOOK_ACT_ATTACH, 0, 1, HOOK_PH_NONE, HOOK_SEQ_OWN}},
    {"qemu", "stopped", "end", {HOOK_ACT_DETACH, 0, 0, STOP, HOOK_SEQ_OPEN}},
    {"qemu", "release", "end", {HOOK_ACT_DETACH, 0, 0, STOP, HOOK_SEQ_CLOSE}},
    {"qemu", "restore", "begin", {HOOK_ACT_NONE, 0, 0, HOOK_PH_NONE, HOOK_SEQ_OWN}},
    {"lxc", "prepare", "begin", {HOOK_ACT_PREASSOC, 1, 0, START, HOOK_SEQ_JOIN}},
    /* lxc's veth exists at "start" (<guest actual>) */
    {"lxc", "start", "begin", {HOOK_ACT_ATTACH, 1, 1, START, HOOK_SEQ_CONT}},
    {"lxc", "started", "begin", {HOOK_ACT_ATTACH, 1, 1, START, HOOK_SEQ_CLOSE}},
    {"lxc", "reconnect", "begin", {HOOK_ACT_ATTACH, 0, 1, HOOK_PH_NONE, HOOK_SEQ_OWN}},
    {"lxc", "stopped", "end", {HOOK_ACT_DETACH, 0, 0, STOP, HOOK_SEQ_OPEN}},
    {"lxc", "release", "end", {HOOK_ACT_DETACH, 0, 0, STOP, HOOK_SEQ_CLOSE}},
};
#undef START
#undef STOP

int hook_op_lookup(const char *driver, const char *op, const char *subop,
                   struct hook_step *s)
{
    for (size_t i = 0; i < sizeof(hook_table) / sizeof(hook_table[0]); i++) {
        const struct hook_row *r = &hook_table[i];
        if (!strcmp(r->driver, driver) && !strcmp(r->op, op) &&
            !strcmp(r->subop, subop)) {
            *s = r->step;
            return 0;
        }
    }
    memset(s, 0, sizeof(*s));
    return -1;
}

const char *hook_action_name(enum hook_action a)
{
    switch (a) {
    case HOOK_ACT_NONE: return "none";
    case HOOK_ACT_PREASSOC: return "preassociate";
    case HOOK_ACT_ATTACH: return "attach";
    case HOOK_ACT_DETACH: return "detach";
    }
    return "?";
}

static void add_common(struct json_object *args, const struct hook_iface *f,
                       int with_ifname)
{
    struct json_object *ips = json_object_new_array();
    json_object_object_add(args, "vn", json_object_new_string(f->vn));
    json_object_object_add(args, "mac", json_object_new_string(f->mac));
    for (int i = 0; i < f->nips; i++)
        json_object_array_add(ips, json_object_new_string(f->ips[i]));
    json_object_object_add(args, "ips", ips);
    /* the host-side interface, for hv-agent's tagging data plane; absent
     * until libvirt created it (qemu: from "started" on) */
    if (with_ifname && f->ifname[0])
        json_object_object_add(args, "ifname",
                               json_object_new_string(f->ifname));
}

struct json_object *hook_op_request(enum hook_action a,
                                    const struct hook_domain *d,
                                    const struct hook_iface *f,
                                    int migrating, int reserve, int with_ifname,
                                    int wait_ms)
{
    struct json_object *req, *args;
    const char *cmd;

    (void)d; /* the VNIC UUID already derives from the domain's */
    switch (a) {
    case HOOK_ACT_PREASSOC: cmd = "vnic-preassociate"; break;
    case HOOK_ACT_ATTACH: cmd = "vnic-attach"; break;
    case HOOK_ACT_DETACH: cmd = "vnic-detach"; break;
    default: return NULL;
    }
    req = json_object_new_object();
    args = json_object_new_object();
    json_object_object_add(req, "cmd", json_object_new_string(cmd));
    json_object_object_add(args, "vnic", json_object_new_string(f->vnic));
    if (a == HOOK_ACT_DETACH)
        json_object_object_add(args, "migrating",
                               json_object_new_boolean(migrating));
    else
        add_common(args, f, with_ifname);
    if (a == HOOK_ACT_PREASSOC)
        json_object_object_add(args, "reserve",
                               json_object_new_boolean(reserve));
    json_object_object_add(args, "wait_ms", json_object_new_int(wait_ms));
    json_object_object_add(req, "args", args);
    return req;
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) &&
                   json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

/* An ok answer carries the VNIC; its state says how far the action got
 * (hv-agent answers at once when wait_ms is 0, or when the wait is over
 * for an earlier answer). */
static enum hook_verdict judge_vnic(enum hook_action a, struct json_object *v,
                                    char *msg, size_t msglen)
{
    const char *st = jstr(v, "state"), *status = jstr(v, "status");
    const char *reason = jstr(v, "reason");
    struct json_object *tag;

    if (!st) {
        snprintf(msg, msglen, "malformed answer from hv-agent (no VNIC state)");
        return HOOK_V_ERROR;
    }
    if (a == HOOK_ACT_DETACH) {
        /* handed over: hv-agent sends it and retries until answered */
        snprintf(msg, msglen, "hv-agent sends it (state %s)", st);
        return HOOK_V_OK;
    }
    if (!strcmp(st, a == HOOK_ACT_ATTACH ? "attached" : "preassociated")) {
        if (json_object_object_get_ex(v, "tag", &tag) &&
            json_object_get_int(tag) > 0)
            snprintf(msg, msglen, "tag %d", json_object_get_int(tag));
        else
            snprintf(msg, msglen, "no tag yet");
        return HOOK_V_OK;
    }
    if (!strcmp(st, "pending") ||
        (!strcmp(st, "failed") && status && !strcmp(status, "no-answer"))) {
        snprintf(msg, msglen, "no answer from the NVE");
        return HOOK_V_PENDING;
    }
    if (!strcmp(st, "failed") || !strcmp(st, "withdrawn")) {
        snprintf(msg, msglen, "%s%s: %s",
                 !strcmp(st, "failed") ? "NVE refused: " : "withdrawn by the NVE",
                 !strcmp(st, "failed") && status ? status : "",
                 reason ? reason : "(no reason given)");
        return HOOK_V_REFUSED;
    }
    snprintf(msg, msglen, "VNIC is %s", st);
    return HOOK_V_ERROR;
}

enum hook_verdict hook_op_verdict(enum hook_action a,
                                  struct json_object *resp, char *msg,
                                  size_t msglen)
{
    struct json_object *ok, *code, *err, *res;
    int c;

    msg[0] = 0;
    if (!resp || !json_object_is_type(resp, json_type_object) ||
        !json_object_object_get_ex(resp, "ok", &ok)) {
        snprintf(msg, msglen, "malformed answer from hv-agent");
        return HOOK_V_ERROR;
    }
    if (json_object_get_boolean(ok)) {
        if (!json_object_object_get_ex(resp, "result", &res) ||
            !json_object_is_type(res, json_type_object)) {
            snprintf(msg, msglen, "malformed answer from hv-agent (no VNIC)");
            return HOOK_V_ERROR;
        }
        return judge_vnic(a, res, msg, msglen);
    }
    c = json_object_object_get_ex(resp, "code", &code)
            ? json_object_get_int(code) : CTL_E_FAILED;
    snprintf(msg, msglen, "%s",
             json_object_object_get_ex(resp, "error", &err)
                 ? json_object_get_string(err) : "(no reason given)");
    switch (c) {
    case CTL_E_TIMEOUT:
        return HOOK_V_PENDING;
    case CTL_E_NOTFOUND:
        /* detaching what hv-agent does not know is what we wanted */
        if (a == HOOK_ACT_DETACH) {
            snprintf(msg, msglen, "nothing to do: hv-agent does not know the VNIC");
            return HOOK_V_OK;
        }
        return HOOK_V_REFUSED;
    case CTL_E_REFUSED:
    case CTL_E_USAGE:
    case CTL_E_FAILED:
        return HOOK_V_REFUSED;
    default:
        return HOOK_V_ERROR;
    }
}
