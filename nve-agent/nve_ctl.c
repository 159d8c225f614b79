/* nve_ctl.c - nve-agent's control commands (status, ports, vns, tags, vnics,
 * peers, fwd, counters, disconnect, reload, evpn): one table row each, JSON
 * out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_args.h"
#include "nve.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
now_ms(struct nve *n)
{
    return n->loop ? ev_now(n->loop) : ev_clock_ms();
}

static const char *
vn_name_of(const struct nve *n, uint32_t vni)
{
    const struct nve_vn *v = nve_conf_vn_by_vni(n->conf, vni);

    return v ? v->name : "";
}

static const char *
port_name_of(const struct nve *n, uint16_t id)
{
    const struct nve_port *p = nve_conf_port_by_id(n->conf, id);

    return p ? p->name : "";
}

/* ---- status, ports, vns ------------------------------------------------- */

struct json_object *
nve_ctl_status(struct nve *n)
{
    struct json_object *o = json_object_new_object();
    unsigned tags = 0;
    char ep[9];

    for (unsigned i = 0; i < n->conf->nports; i++) {
        const struct tag_alloc *ta =
            tree_port_tags(&n->tree, n->conf->ports[i].id);
        tags += ta ? ta->nused : 0;
    }
    ctl_jstr(o, "name", n->conf->name);
    ctl_jstr(o, "role", "nve");
    ctl_jint(o, "pid", getpid());
    snprintf(ep, sizeof(ep), "%08x", n->epoch);
    ctl_jstr(o, "epoch", ep);
    ctl_jint(o, "uptime_ms", (int64_t)(now_ms(n) - n->started));
    ctl_jstr(o, "config", n->conf_path);
    ctl_jstr(o, "control_socket", n->ctl_path);
    ctl_jint(o, "ports", n->conf->nports);
    ctl_jint(o, "vns", n->conf->nvns);
    ctl_jint(o, "peers", n->proto ? nve_proto_npeers(n->proto) : 0);
    ctl_jint(o, "vnics", n->tree.nvnic);
    ctl_jint(o, "preassociated", n->tree.npreassoc);
    ctl_jint(o, "tags", tags);
    ctl_jint(o, "reloads", (int64_t)n->reloads);
    ctl_jint(o, "reload_failures", (int64_t)n->reload_failures);
    ctl_jint(o, "fwd_errors", (int64_t)n->tree.fwd_errors);
    return o;
}

struct json_object *
nve_ctl_ports(struct nve *n)
{
    struct json_object *a = json_object_new_array();
    char buf[1024];

    for (unsigned i = 0; i < n->conf->nports; i++) {
        const struct nve_port *p = &n->conf->ports[i];
        const struct tag_alloc *ta = tree_port_tags(&n->tree, p->id);
        const struct tree_port *tp = n->tree.port[p->id];
        struct json_object *o = json_object_new_object(), *l;
        unsigned npeers = 0;

        for (struct tree_hv *h = n->tree.hvs; h; h = h->next)
            npeers += h->port == p->id && h->nvnic > 0;
        ctl_jstr(o, "name", p->name);
        ctl_jstr(o, "interface", p->ifname);
        ctl_jint(o, "id", p->id);
        ctl_jint(o, "mtu", n->link[p->id].open ? n->link[p->id].sock.mtu : 0);
        json_object_object_add(o, "up",
                               json_object_new_boolean(n->link[p->id].open));
        tagset_fmt(&p->tags, buf, sizeof(buf));
        ctl_jstr(o, "tags", buf);
        ctl_jstr(o, "reserved_tags", p->reserved_str);
        ctl_jint(o, "tags_used", ta ? ta->nused : 0);
        ctl_jint(o, "tags_free", ta ? tag_free_count(ta) : 0);
        l = json_object_new_array();
        for (unsigned k = 0; k < p->nhv; k++) {
            nvdp_mac_fmt(p->hv[k], buf);
            json_object_array_add(l, json_object_new_string(buf));
        }
        json_object_object_add(o, "hypervisors", p->nhv ? l
                                   : (json_object_put(l),
                                      json_object_new_string("any")));
        l = json_object_new_array();
        for (unsigned k = 0; k < p->nvn; k++)
            json_object_array_add(l, json_object_new_string(p->vn_name[k]));
        json_object_object_add(o, "vns", !p->all_vns ? l
                                   : (json_object_put(l),
                                      json_object_new_string("all")));
        ctl_jint(o, "max_vnics", p->max_vnics);
        ctl_jint(o, "vnics", tp ? tp->nvnic : 0);
        ctl_jint(o, "max_addresses", p->max_addrs);
        ctl_jint(o, "addresses", tp ? tp->naddr : 0);
        ctl_jint(o, "hypervisors_with_vnics", npeers);
        /* held back for hypervisors in session (spec 15) */
        ctl_jint(o, "vnics_reserved", tp ? tp->owed[TREE_RV_VNICS] : 0);
        ctl_jint(o, "addresses_reserved", tp ? tp->owed[TREE_RV_ADDRS] : 0);
        /* frames the kernel dropped before we read them: a resync of many
         * hypervisors at once must not make any */
        ctl_jint(o, "rx_kernel_drops",
             n->link[p->id].open
                 ? (int64_t)l2sock_kernel_drops(&n->link[p->id].sock)
                 : 0);
        json_object_array_add(a, o);
    }
    return a;
}

struct json_object *
nve_ctl_vns(struct nve *n)
{
    struct json_object *a = json_object_new_array();
    char buf[64];

    for (unsigned i = 0; i < n->conf->nvns; i++) {
        const struct nve_vn *v = &n->conf->vns[i];
        struct json_object *o = json_object_new_object();
        struct json_object *fl = json_object_new_array();
        struct json_object *rm = json_object_new_array();
        struct json_object *ports = json_object_new_array();
        unsigned tags = 0;

        ctl_jstr(o, "name", v->name);
        if (v->has_uuid) {
            char u[NVDP_UUID_STRLEN];
            nvdp_uuid_fmt(&v->uuid, u);
            ctl_jstr(o, "uuid", u);
        } else {
            json_object_object_add(o, "uuid", NULL);
        }
        ctl_jint(o, "vni", v->vni);
        for (unsigned k = 0; k < v->nflood; k++)
            json_object_array_add(fl, json_object_new_string(v->flood[k]));
        for (unsigned k = 0; k < v->nremote; k++) {
            struct json_object *r = json_object_new_object();
            nvdp_mac_fmt(v->remote[k].mac, buf);
            ctl_jstr(r, "mac", buf);
            ctl_jstr(r, "vtep", v->remote[k].vtep);
            json_object_array_add(rm, r);
        }
        for (unsigned k = 0; k < n->conf->nports; k++) {
            const struct nve_port *p = &n->conf->ports[k];
            const struct tag_alloc *ta = tree_port_tags(&n->tree, p->id);
            if (nve_port_allows_vn(p, v->vni))
                json_object_array_add(ports, json_object_new_string(p->name));
            tags += ta && tag_lookup(ta, v->vni) ? 1 : 0;
        }
        json_object_object_add(o, "flood", fl);
        json_object_object_add(o, "remote_macs", rm);
        json_object_object_add(o, "ports", ports);
        ctl_jint(o, "tags", tags);
        json_object_array_add(a, o);
    }
    return a;
}

/* ---- tags, vnics -------------------------------------------------------- */

struct json_object *
nve_ctl_tags(struct nve *n, const char *port)
{
    struct json_object *a = json_object_new_array();

    for (unsigned i = 0; i < n->conf->nports; i++) {
        const struct nve_port *p = &n->conf->ports[i];
        const struct tag_alloc *ta = tree_port_tags(&n->tree, p->id);
        if (ta == NULL || (port && strcmp(port, p->name) != 0 &&
                           strcmp(port, p->ifname) != 0))
            continue;
        for (unsigned t = NVDP_TAG_MIN; t <= NVDP_TAG_MAX; t++) {
            if (!tag_in_use(ta, (uint16_t)t))
                continue;
            struct json_object *o = json_object_new_object();
            uint32_t vni = tag_vni(ta, (uint16_t)t);
            ctl_jstr(o, "port", p->name);
            ctl_jint(o, "tag", t);
            ctl_jstr(o, "vn", vn_name_of(n, vni));
            ctl_jint(o, "vni", vni);
            ctl_jint(o, "vnics", tag_refs(ta, (uint16_t)t));
            json_object_array_add(a, o);
        }
    }
    return a;
}

struct vnics_ctx {
    struct nve *n;
    struct json_object *a;
    int port;      /* -1 = all */
    int64_t vni;   /* -1 = all */
};

static void
vnic_json(void *arg, const struct tree_vnic *v)
{
    struct vnics_ctx *x = arg;
    struct json_object *o, *macs, *ips;
    struct tree_addr_it it;
    struct nvdp_addr a;
    char buf[128];

    if ((x->port >= 0 && v->port != x->port) ||
        (x->vni >= 0 && v->vni != x->vni))
        return;
    o = json_object_new_object();
    nvdp_uuid_fmt(&v->uuid, buf);
    ctl_jstr(o, "vnic", buf);
    ctl_jstr(o, "port", port_name_of(x->n, v->port));
    nvdp_mac_fmt(v->hv->mac, buf);
    ctl_jstr(o, "hv", buf);
    ctl_jstr(o, "vn", vn_name_of(x->n, v->vni));
    ctl_jint(o, "vni", v->vni);
    json_object_object_add(o, "tag",
                           v->tag ? json_object_new_int(v->tag) : NULL);
    ctl_jstr(o, "state", tree_state_str(v));
    json_object_object_add(o, "stale",
                           json_object_new_boolean(v->flags & TREE_F_STALE));
    macs = json_object_new_array();
    ips = json_object_new_array();
    for (tree_addr_first(&v->rec, v->naddr, &it); tree_addr_next(&it, &a);) {
        if (a.kind == NVDP_ADDR_MAC) {
            nvdp_mac_fmt(a.mac, buf);
            json_object_array_add(macs, json_object_new_string(buf));
        } else {
            nvdp_addr_fmt_ip(&a, buf, sizeof(buf));
            json_object_array_add(ips, json_object_new_string(buf));
        }
    }
    ctl_jstr(o, "mac", json_object_array_length(macs)
                       ? json_object_get_string(json_object_array_get_idx(macs, 0))
                       : "");
    json_object_object_add(o, "macs", macs);
    json_object_object_add(o, "ips", ips);
    json_object_array_add(x->a, o);
}

static int
vnic_cmp(const void *a, const void *b)
{
    struct json_object *x = *(struct json_object *const *)a;
    struct json_object *y = *(struct json_object *const *)b;
    static const char *keys[] = {"port", "vn", "vnic", "hv"};

    for (unsigned i = 0; i < 4; i++) {
        struct json_object *u, *v;
        json_object_object_get_ex(x, keys[i], &u);
        json_object_object_get_ex(y, keys[i], &v);
        int c = strcmp(json_object_get_string(u), json_object_get_string(v));
        if (c)
            return c;
    }
    return 0;
}

struct json_object *
nve_ctl_vnics(struct nve *n, const char *port, const char *vn)
{
    struct vnics_ctx x = {n, json_object_new_array(), -1, -1};

    if (port) {
        const struct nve_port *p = nve_conf_port_by_name(n->conf, port);
        if (p == NULL) {
            json_object_put(x.a);
            return NULL;
        }
        x.port = p->id;
    }
    if (vn) {
        const struct nve_vn *v = nve_conf_vn_lookup(n->conf, vn);
        if (v == NULL) {
            json_object_put(x.a);
            return NULL;
        }
        x.vni = v->vni;
    }
    tree_foreach(&n->tree, vnic_json, &x);
    json_object_array_sort(x.a, vnic_cmp);
    return x.a;
}

/* ---- commands ----------------------------------------------------------- */
/* Each command returns its result, or NULL with *code and err set; the
 * ctl_cmd wrappers below only translate that into an answer, so that the
 * commands are tested without a socket (tests/unit/test_nve_ctl.c). */
struct nve_ctl_err {
    int code;
    char msg[256];
};

/* Every command's arguments (ctl_args.h); a command's row names the table
 * of those it takes. */
struct nve_args {
    const char *port, *vn, *vnic, *hv, *reason;
};

/* Validators of the optional strings (ctl_args.h). */
#define STR_(x) #x
#define STR(x) STR_(x)
static const char *
reason_ok(const void *field)
{
    return strlen(*(const char *const *)field) > NVDP_MAX_REASON
               ? "at most " STR(NVDP_MAX_REASON) " bytes long" : NULL;
}

static const char *
uuid_ok(const void *field)
{
    struct nvdp_uuid u;

    return nvdp_uuid_parse(*(const char *const *)field, &u) < 0 ? "a UUID"
                                                                : NULL;
}

static const char *
mac_ok(const void *field)
{
    uint8_t mac[6];

    return nvdp_mac_parse(*(const char *const *)field, mac) < 0
               ? "a MAC address" : NULL;
}

#define A(field, req) CTL_ARG(struct nve_args, field, #field, CTL_ARG_STR, req)
#define A_CHECKED(field, valid)                                            \
    CTL_ARG_RANGE(struct nve_args, field, #field, CTL_ARG_STR, 0, 0, 0, valid)
static const struct ctl_arg args_none[] = {CTL_ARGS_END};
static const struct ctl_arg args_tags[] = {A(port, 0), CTL_ARGS_END};
static const struct ctl_arg args_vnics[] = {A(port, 0), A(vn, 0),
                                            CTL_ARGS_END};
static const struct ctl_arg args_disconnect[] = {
    A(port, 1), A(vn, 1), A_CHECKED(vnic, uuid_ok), A_CHECKED(hv, mac_ok),
    A_CHECKED(reason, reason_ok), CTL_ARGS_END,
};

static struct json_object *
ctl_fail(struct nve_ctl_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct json_object *
ctl_fail(struct nve_ctl_err *e, int code, const char *fmt, ...)
{
    va_list ap;

    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return NULL;
}

static struct json_object *
run_status(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    return nve_ctl_status(n);
}

static struct json_object *
run_ports(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    return nve_ctl_ports(n);
}

static struct json_object *
run_vns(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    return nve_ctl_vns(n);
}

static struct json_object *
run_tags(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    if (a->port && nve_conf_port_by_name(n->conf, a->port) == NULL)
        return ctl_fail(e, CTL_E_NOTFOUND, "unknown port '%.64s'", a->port);
    return nve_ctl_tags(n, a->port);
}

static struct json_object *
run_vnics(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    if (a->port && nve_conf_port_by_name(n->conf, a->port) == NULL)
        return ctl_fail(e, CTL_E_NOTFOUND, "unknown port '%.64s'", a->port);
    if (a->vn && nve_conf_vn_lookup(n->conf, a->vn) == NULL)
        return ctl_fail(e, CTL_E_NOTFOUND, "unknown VN '%.64s'", a->vn);
    return nve_ctl_vnics(n, a->port, a->vn);
}

static struct json_object *
run_peers(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    return nve_proto_peers_json(n->proto, now_ms(n));
}

static struct json_object *
run_fwd(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    struct json_object *r = fwd_dump_json(n->fwd);

    return r ? r
             : ctl_fail(e, CTL_E_INTERNAL, "forwarder tables unavailable");
}

static struct json_object *
run_counters(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    struct json_object *o = json_object_new_object(), *t;

    nve_police_sync(n);
    json_object_object_add(o, "nvdp", nve_proto_counters_json(n->proto));
    t = json_object_new_object();
    ctl_jint(t, "vnics", n->tree.nvnic);
    ctl_jint(t, "preassociated", n->tree.npreassoc);
    ctl_jint(t, "fwd_errors", (int64_t)n->tree.fwd_errors);
    ctl_jint(t, "memory_bytes", (int64_t)n->tree.mem);
    json_object_object_add(o, "tree", t);
    json_object_object_add(o, "fwd", fwd_counters_json(n->fwd));
    if (n->ctl != NULL)
        json_object_object_add(o, "control", ctl_server_stats_json(n->ctl));
    if (n->evpn)
        json_object_object_add(o, "evpn", nve_evpn_counters_json(n->evpn));
    return o;
}

static struct json_object *
run_evpn(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    if (n->evpn == NULL)
        return ctl_fail(e, CTL_E_FAILED, "EVPN is off (no evpn section in "
                        "%s)", n->conf_path);
    return nve_evpn_json(n->evpn);
}

static struct json_object *
run_disconnect(struct nve *n, const struct nve_args *a,
               struct nve_ctl_err *e)
{
    const struct nve_port *p;
    const struct nve_vn *v;
    struct nvdp_uuid u;
    uint8_t mac[6];
    struct tree_filter f = {0};
    struct json_object *o;
    unsigned cnt;

    if ((p = nve_conf_port_by_name(n->conf, a->port)) == NULL)
        return ctl_fail(e, CTL_E_NOTFOUND, "unknown port '%.64s'", a->port);
    if ((v = nve_conf_vn_lookup(n->conf, a->vn)) == NULL)
        return ctl_fail(e, CTL_E_NOTFOUND, "unknown VN '%.64s'", a->vn);
    if (a->vnic)
        nvdp_uuid_parse(a->vnic, &u); /* checked with the arguments */
    if (a->hv)
        nvdp_mac_parse(a->hv, mac);
    f.port = p->id;
    f.vni = v->vni;
    f.vnic = a->vnic ? &u : NULL;
    f.hv = a->hv ? mac : NULL;
    cnt = nve_proto_withdraw(n->proto, &f, a->reason, now_ms(n));
    nve_kick(n);
    if (cnt == 0 && (a->vnic || a->hv))
        return ctl_fail(e, CTL_E_NOTFOUND,
                        "no matching VNIC on port %s in VN %s", p->name,
                        v->name);
    o = json_object_new_object();
    ctl_jstr(o, "port", p->name);
    ctl_jstr(o, "vn", v->name);
    ctl_jint(o, "withdrawn", cnt);
    return o;
}

static struct json_object *
run_reload(struct nve *n, const struct nve_args *a, struct nve_ctl_err *e)
{
    struct json_object *o;

    if (nve_reload(n) < 0)
        return ctl_fail(e, CTL_E_FAILED,
                        "configuration %s refused (see the log); the running "
                        "configuration is kept", n->conf_path);
    o = json_object_new_object();
    ctl_jstr(o, "config", n->conf_path);
    ctl_jint(o, "ports", n->conf->nports);
    ctl_jint(o, "vns", n->conf->nvns);
    return o;
}

typedef struct json_object *(*run_fn)(struct nve *, const struct nve_args *,
                                      struct nve_ctl_err *);
static const struct {
    const char *name;
    run_fn fn;
    const struct ctl_arg *args; /* NULL: none */
} runs[] = {
    {"status", run_status, NULL},
    {"ports", run_ports, NULL},
    {"vns", run_vns, NULL},
    {"tags", run_tags, args_tags},
    {"vnics", run_vnics, args_vnics},
    {"peers", run_peers, NULL},
    {"fwd", run_fwd, NULL},
    {"counters", run_counters, NULL},
    {"disconnect", run_disconnect, args_disconnect},
    {"reload", run_reload, NULL},
    {"evpn", run_evpn, NULL},
};

struct json_object *
nve_ctl_run(struct nve *n, const char *cmd, struct json_object *args,
            int *code, char *err, size_t errlen)
{
    struct nve_ctl_err e = {0, ""};
    struct json_object *r = NULL;
    struct nve_args a;
    size_t i;

    memset(&a, 0, sizeof(a));
    for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
        if (strcmp(runs[i].name, cmd) == 0)
            break;
    if (i == sizeof(runs) / sizeof(runs[0]))
        ctl_fail(&e, CTL_E_USAGE, "unknown command '%.64s'", cmd);
    else if (ctl_args_parse(runs[i].args ? runs[i].args : args_none, args,
                            &a, e.msg, sizeof(e.msg)) < 0)
        e.code = CTL_E_USAGE;
    else
        r = runs[i].fn(n, &a, &e);
    *code = r ? 0 : e.code;
    snprintf(err, errlen, "%s", e.msg);
    return r;
}

static void
answer(struct ctl_conn *c, struct nve *n, const char *cmd,
       struct json_object *args)
{
    char err[256];
    int code;
    struct json_object *r = nve_ctl_run(n, cmd, args, &code, err, sizeof(err));

    fwd_flush(n->fwd); /* what the answer reports is what forwards */
    if (r)
        ctl_reply_ok(c, r);
    else
        ctl_reply_err(c, code, "%s", err);
}

#define CMD(nm, str)                                                         \
    static void cmd_##nm(struct ctl_conn *c, struct json_object *args,       \
                         void *arg)                                          \
    {                                                                        \
        answer(c, arg, str, args);                                           \
    }
CMD(status, "status")
CMD(ports, "ports")
CMD(vns, "vns")
CMD(tags, "tags")
CMD(vnics, "vnics")
CMD(peers, "peers")
CMD(fwd, "fwd")
CMD(counters, "counters")
CMD(disconnect, "disconnect")
CMD(reload, "reload")
CMD(evpn, "evpn")

static const struct ctl_cmd nve_cmds[] = {
    {"status", cmd_status, "daemon status"},
    {"ports", cmd_ports, "access ports, their tag ranges and authorisation"},
    {"vns", cmd_vns, "configured virtual networks"},
    {"tags", cmd_tags, "tags in use per (port, VN) {port?}"},
    {"vnics", cmd_vnics, "VNICs in the containment tree {port?, vn?}"},
    {"peers", cmd_peers, "hypervisors heard"},
    {"fwd", cmd_fwd, "forwarder tables"},
    {"counters", cmd_counters, "protocol, tree and forwarder counters"},
    {"disconnect", cmd_disconnect,
     "NVE-initiated withdraw {port, vn, vnic?, hv?, reason?}"},
    {"reload", cmd_reload, "re-read the configuration file"},
    {"evpn", cmd_evpn, "BGP EVPN: entries advertised and learned, FRR"},
    {NULL, NULL, NULL},
};

const struct ctl_cmd *
nve_ctl_table(void)
{
    return nve_cmds;
}
