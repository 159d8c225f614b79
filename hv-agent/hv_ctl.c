/* hv_ctl.c - hv-agent's control-socket commands (HACKING.md): arguments
 * (ctl_args.h), requests handed to hv_vnic_want(), deferred --wait answers,
 * watch events.
 * A success is held until the state journal's next commit (hv.c): a client
 * is never told ok for a change that a crash could take back. One the NVE
 * confirmed is not held for the commit of the tag (confirmed_ok). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <json-c/json.h>

#include "ctl.h"
#include "ctl_args.h"
#include "ev.h"
#include "hv.h"
#include "log.h"

#define HV_WAIT_MAX_MS 600000
#define HV_WAIT_BUCKETS 1024 /* waiters hashed by VNIC: a VNIC change must
                              * not scan thousands of unrelated waiters */


struct hv_ctl;

struct waiter {
    struct hv_ctl *ctl;
    struct ctl_conn *c;
    struct nvdp_uuid uuid;
    enum hv_want_op op; /* the request waiting */
    uint32_t wait_ms;
    struct ev_timer timer;
    LIST_ENTRY(waiter) entry;
};

struct watcher {
    struct ctl_conn *c;
    LIST_ENTRY(watcher) entry;
};

/* A success waiting for the commit that makes it true after a crash. */
struct held {
    struct ctl_conn *c;
    struct nvdp_uuid uuid;
    struct json_object *result;
    TAILQ_ENTRY(held) entry;
};
TAILQ_HEAD(held_list, held);

struct hv_ctl {
    struct hv *h;
    struct ctl_server *srv;
    struct hv_observer obs;
    LIST_HEAD(, waiter) waiters[HV_WAIT_BUCKETS];
    LIST_HEAD(, watcher) watchers;
    struct held_list held; /* in the order the answers were due */
};

static unsigned
wait_bucket(const struct nvdp_uuid *u)
{
    unsigned h = 0;

    for (int i = 0; i < 16; i++)
        h = h * 31 + u->b[i];
    return h % HV_WAIT_BUCKETS;
}

/* ---- arguments ------------------------------------------------------- */

/* Every command's arguments (ctl_args.h); a command's table names the
 * ones it takes. */
struct args {
    struct nvdp_uuid vnic;
    const char *vn;
    uint8_t mac[6];
    struct json_object *ips;
    const char *ifname;
    int reserve, migrating, up;
    int64_t wait_ms;
};

#define A(field, name, type, req) CTL_ARG(struct args, field, name, type, req)
#define A_VNIC A(vnic, "vnic", CTL_ARG_UUID, 1)
#define A_WAIT                                                             \
    CTL_ARG_RANGE(struct args, wait_ms, "wait_ms", CTL_ARG_INT, 0, 0,      \
                  HV_WAIT_MAX_MS, NULL)
#define A_ASSOC                                                            \
    A_VNIC, A(vn, "vn", CTL_ARG_STR, 1), A(mac, "mac", CTL_ARG_MAC, 1),    \
    CTL_ARG_RANGE(struct args, ips, "ips", CTL_ARG_STRS, 0, 0,             \
                  NVDP_MAX_ADDRS, NULL),                                   \
    A(ifname, "ifname", CTL_ARG_STR, 0), A_WAIT

static const struct ctl_arg args_attach[] = {A_ASSOC, CTL_ARGS_END};
static const struct ctl_arg args_preassoc[] = {
    A_ASSOC, A(reserve, "reserve", CTL_ARG_BOOL, 0), CTL_ARGS_END,
};
static const struct ctl_arg args_detach[] = {
    A_VNIC, A(migrating, "migrating", CTL_ARG_BOOL, 0), A_WAIT, CTL_ARGS_END,
};
static const struct ctl_arg args_state[] = {
    A_VNIC, A(up, "up", CTL_ARG_BOOL, 1), A_WAIT, CTL_ARGS_END,
};
static const struct ctl_arg args_none[] = {CTL_ARGS_END};

/* 0, or -1 once the usage error is answered. */
static int
args_parse(struct ctl_conn *c, struct json_object *o,
           const struct ctl_arg *tab, struct args *a)
{
    char err[256];

    memset(a, 0, sizeof(*a));
    if (ctl_args_parse(tab, o, a, err, sizeof(err)) == 0)
        return 0;
    ctl_reply_err(c, CTL_E_USAGE, "%s", err);
    return -1;
}

static int
no_args(struct ctl_conn *c, struct json_object *o)
{
    struct args a;

    return args_parse(c, o, args_none, &a);
}

/* ---- waiters ----------------------------------------------------------- */

static void
conn_closed(struct ctl_conn *c, void *arg)
{
    struct hv_ctl *ctl = arg;
    struct waiter *w, *wn;
    struct watcher *x, *xn;
    struct held *k, *kn;

    for (k = TAILQ_FIRST(&ctl->held); k != NULL; k = kn) {
        kn = TAILQ_NEXT(k, entry);
        if (k->c == c) {
            TAILQ_REMOVE(&ctl->held, k, entry);
            json_object_put(k->result);
            free(k);
        }
    }
    for (unsigned b = 0; b < HV_WAIT_BUCKETS; b++) {
        for (w = LIST_FIRST(&ctl->waiters[b]); w != NULL; w = wn) {
            wn = LIST_NEXT(w, entry);
            if (w->c == c) {
                LIST_REMOVE(w, entry);
                ev_timer_stop(ctl->h->loop, &w->timer);
                free(w);
            }
        }
    }
    for (x = LIST_FIRST(&ctl->watchers); x != NULL; x = xn) {
        xn = LIST_NEXT(x, entry);
        if (ctl_conn_id(x->c) == ctl_conn_id(c)) {
            LIST_REMOVE(x, entry);
            free(x);
        }
    }
}

/* Answers ok with v as it is now, once the next commit is done. */
static void
hold_ok(struct hv_ctl *ctl, struct ctl_conn *c, const struct hv_vnic *v)
{
    struct held *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
        return;
    }
    k->c = c;
    k->uuid = v->uuid;
    k->result = hv_vnic_to_json(v);
    TAILQ_INSERT_TAIL(&ctl->held, k, entry);
    ctl_conn_on_close(c, conn_closed, ctl);
    if (ctl->h->wake != NULL)
        ctl->h->wake(ctl->h);
}

/* Answers ok with v as the NVE just confirmed it. The request left while
 * its commit synced (hv.c run_proto), and its answer is read at a later
 * turn, after that sync: unless a request changed v since (its undo is
 * kept until its commit is synced) the answer goes out now: the tag it
 * carries is the NVE's, not ours to make durable first. It is written by
 * the next commit; a crash before that loses nothing, since
 * the NVE keeps the VNIC, and the tag of its (port, VN), until the
 * restart's resync asks for it again (nvdp.md 9.2, 11.5). Saves a lone
 * attach its second fdatasync. */
static void
confirmed_ok(struct hv_ctl *ctl, struct ctl_conn *c, const struct hv_vnic *v)
{
    if (v->undo != NULL) {
        hold_ok(ctl, c, v);
        return;
    }
    ctl_reply_ok(c, hv_vnic_to_json(v));
}

static void
held_release(struct hv_ctl *ctl, struct held *k, const char *why)
{
    TAILQ_REMOVE(&ctl->held, k, entry);
    if (why == NULL)
        ctl_reply_ok(k->c, k->result);
    else {
        ctl_reply_err(k->c, CTL_E_FAILED, "%s", why);
        json_object_put(k->result);
    }
    free(k);
}

static void
waiter_done(struct waiter *w)
{
    LIST_REMOVE(w, entry);
    if (w->ctl->h->loop != NULL)
        ev_timer_stop(w->ctl->h->loop, &w->timer);
    free(w);
}

static void
waiter_timeout(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct waiter *w = arg;
    struct hv_vnic *v = hv_state_find(&w->ctl->h->state, &w->uuid);
    struct ctl_conn *c = w->c;
    uint32_t ms = w->wait_ms;

    (void)l;
    (void)t;
    waiter_done(w);
    ctl_reply_err(c, CTL_E_TIMEOUT,
                  "no answer from the NVE within %u ms (VNIC %s); the request "
                  "stays in the desired state and is retried", ms,
                  v != NULL ? hv_vnic_state_str(v->state) : "gone");
}

/* Whether v answers w: 1 ok, -1 error (answered), 0 keep waiting. */
static int
waiter_check(struct waiter *w, const struct hv_vnic *v)
{
    struct ctl_conn *c = w->c;

    if (v->state == HV_VNIC_DETACHED) {
        if (w->op == HV_OP_DETACH) {
            struct hv_ctl *ctl = w->ctl;
            waiter_done(w);
            confirmed_ok(ctl, c, v);
            return 1;
        }
        waiter_done(w);
        ctl_reply_err(c, CTL_E_FAILED, "VNIC was detached meanwhile");
        return -1;
    }
    if (v->state == HV_VNIC_FAILED && v->gaveup) {
        waiter_done(w);
        ctl_reply_err(c, CTL_E_TIMEOUT, "no answer from the NVE; the request "
                      "stays in the desired state and is retried when the "
                      "NVE is heard again");
        return -1;
    }
    if (v->state == HV_VNIC_FAILED) {
        waiter_done(w);
        ctl_reply_err(c, CTL_E_REFUSED, "NVE refused: %s: %s",
                      nvdp_status_str(v->status), v->reason);
        return -1;
    }
    if (v->state == HV_VNIC_WITHDRAWN) {
        waiter_done(w);
        ctl_reply_err(c, CTL_E_REFUSED, "withdrawn by the NVE: %s", v->reason);
        return -1;
    }
    if (!hv_vnic_settled(v))
        return 0;
    if ((w->op == HV_OP_ATTACH && v->state == HV_VNIC_ATTACHED) ||
        (w->op == HV_OP_PREASSOC && v->state == HV_VNIC_PREASSOCIATED) ||
        (w->op == HV_OP_STATE && v->state == HV_VNIC_ATTACHED)) {
        struct hv_ctl *ctl = w->ctl;
        waiter_done(w);
        confirmed_ok(ctl, c, v);
        return 1;
    }
    return 0;
}

static void
push_event(struct hv_ctl *ctl, struct json_object *ev)
{
    struct watcher *x;

    LIST_FOREACH(x, &ctl->watchers, entry)
        ctl_conn_send(x->c, ev);
    json_object_put(ev);
}

static void
obs_vnic(void *arg, const struct hv_vnic *v)
{
    struct hv_ctl *ctl = arg;
    struct waiter *w, *wn;

    if (!LIST_EMPTY(&ctl->watchers)) {
        struct json_object *ev = hv_vnic_to_json(v);
        json_object_object_add(ev, "event", json_object_new_string("vnic"));
        push_event(ctl, ev);
    }
    for (w = LIST_FIRST(&ctl->waiters[wait_bucket(&v->uuid)]); w != NULL;
         w = wn) {
        wn = LIST_NEXT(w, entry);
        if (memcmp(w->uuid.b, v->uuid.b, 16) == 0)
            waiter_check(w, v);
    }
}

/* The commit is done: every success held until now is true on disk. */
static void
obs_saved(void *arg)
{
    struct hv_ctl *ctl = arg;
    struct held *k;

    while ((k = TAILQ_FIRST(&ctl->held)) != NULL)
        held_release(ctl, k, NULL);
}

/* A change of this VNIC could not be saved: whoever waits on it is told. */
static void
obs_not_saved(void *arg, const struct nvdp_uuid *u, const char *why)
{
    struct hv_ctl *ctl = arg;
    struct waiter *w, *wn;
    struct held *k, *kn;

    for (k = TAILQ_FIRST(&ctl->held); k != NULL; k = kn) {
        kn = TAILQ_NEXT(k, entry);
        if (memcmp(k->uuid.b, u->b, 16) == 0)
            held_release(ctl, k, why);
    }
    for (w = LIST_FIRST(&ctl->waiters[wait_bucket(u)]); w != NULL; w = wn) {
        struct ctl_conn *c = w->c;
        wn = LIST_NEXT(w, entry);
        if (memcmp(w->uuid.b, u->b, 16) != 0)
            continue;
        waiter_done(w);
        ctl_reply_err(c, CTL_E_FAILED, "%s", why);
    }
}

static void
obs_nve(void *arg, int up)
{
    struct hv_ctl *ctl = arg;
    struct json_object *ev;

    if (LIST_EMPTY(&ctl->watchers))
        return;
    ev = hv_proto_status_json(ctl->h, ctl->h->loop ? ev_now(ctl->h->loop) : 0);
    json_object_object_add(ev, "event", json_object_new_string("nve"));
    json_object_object_add(ev, "up", json_object_new_boolean(up));
    push_event(ctl, ev);
}

/* Answers now, or registers a waiter for the NVE's answer. */
static void
reply_or_wait(struct hv_ctl *ctl, struct ctl_conn *c, struct hv_vnic *v,
              enum hv_want_op op, uint32_t wait_ms)
{
    struct waiter *w;

    if (wait_ms == 0 || ctl->h->loop == NULL) {
        hold_ok(ctl, c, v);
        return;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
        return;
    }
    w->ctl = ctl;
    w->c = c;
    w->uuid = v->uuid;
    w->op = op;
    w->wait_ms = wait_ms;
    LIST_INSERT_HEAD(&ctl->waiters[wait_bucket(&w->uuid)], w, entry);
    if (waiter_check(w, v) != 0)
        return;
    ctl_conn_on_close(c, conn_closed, ctl);
    ev_timer_init(&w->timer, waiter_timeout, w);
    ev_timer_start(ctl->h->loop, &w->timer, wait_ms);
}

/* ---- commands ---------------------------------------------------------- */

static int
want_code(enum hv_want_err e)
{
    switch (e) {
    case HV_WANT_E_NOVNIC:
        return CTL_E_NOTFOUND;
    case HV_WANT_E_NOMEM:
        return CTL_E_INTERNAL;
    default:
        return CTL_E_USAGE; /* the request itself is wrong */
    }
}

/* The four requests: their arguments handed to hv_vnic_want() (which
 * looks at those of its op), answered now or once the NVE did (wait_ms). */
static void
request(struct ctl_conn *c, struct json_object *o, struct hv_ctl *ctl,
        enum hv_want_op op)
{
    static const struct ctl_arg *const tabs[] = {
        [HV_OP_ATTACH] = args_attach,
        [HV_OP_PREASSOC] = args_preassoc,
        [HV_OP_DETACH] = args_detach,
        [HV_OP_STATE] = args_state,
    };
    const char *ips[NVDP_MAX_ADDRS];
    struct hv_want_req r;
    struct hv_vnic *v;
    enum hv_want_err e;
    struct args a;
    char err[256];

    if (args_parse(c, o, tabs[op], &a) < 0)
        return;
    memset(&r, 0, sizeof(r));
    r.op = (uint8_t)op;
    r.uuid = a.vnic;
    r.vn = a.vn;
    memcpy(r.mac, a.mac, 6);
    r.nips = a.ips != NULL ? json_object_array_length(a.ips) : 0;
    for (size_t i = 0; i < r.nips; i++)
        ips[i] = json_object_get_string(json_object_array_get_idx(a.ips, i));
    r.ips = ips;
    r.ifname = a.ifname;
    r.reserve = (uint8_t)a.reserve;
    r.intent = a.migrating ? NVDP_INTENT_MIGRATION : NVDP_INTENT_SHUTDOWN;
    r.up = (uint8_t)a.up;
    if ((e = hv_vnic_want(ctl->h, &r, &v, err, sizeof(err))) != HV_WANT_OK)
        ctl_reply_err(c, want_code(e), "%s", err);
    else
        reply_or_wait(ctl, c, v, op, (uint32_t)a.wait_ms);
}

/* The table's handlers of the four: ctl.h gives a handler no row. */
#define REQUEST(name, op)                                                  \
    static void cmd_##name(struct ctl_conn *c, struct json_object *o,      \
                           void *arg)                                      \
    {                                                                      \
        request(c, o, arg, op);                                            \
    }
REQUEST(attach, HV_OP_ATTACH)
REQUEST(preassociate, HV_OP_PREASSOC)
REQUEST(detach, HV_OP_DETACH)
REQUEST(state, HV_OP_STATE)

static void
cmd_list(struct ctl_conn *c, struct json_object *o, void *arg)
{
    struct hv_ctl *ctl = arg;
    struct json_object *arr;
    struct hv_vnic *v;

    if (no_args(c, o) < 0)
        return;
    arr = json_object_new_array();
    TAILQ_FOREACH(v, &ctl->h->state.all, entry)
        json_object_array_add(arr, hv_vnic_to_json(v));
    ctl_reply_ok(c, arr);
}

static uint64_t
now_ms(const struct hv_ctl *ctl)
{
    return ctl->h->loop != NULL ? ev_now(ctl->h->loop) : ev_clock_ms();
}

static void
cmd_status(struct ctl_conn *c, struct json_object *o, void *arg)
{
    struct hv_ctl *ctl = arg;
    struct json_object *st;

    if (no_args(c, o) < 0)
        return;
    st = hv_proto_status_json(ctl->h, now_ms(ctl));
    json_object_object_add(st, "state_file",
                           json_object_new_string(ctl->h->conf.state_file));
    json_object_object_add(st, "state", hv_persist_json(ctl->h));
    json_object_object_add(st, "host", hv_host_json(ctl->h->host));
    ctl_reply_ok(c, st);
}

static void
cmd_peers(struct ctl_conn *c, struct json_object *o, void *arg)
{
    struct hv_ctl *ctl = arg;

    if (no_args(c, o) < 0)
        return;
    ctl_reply_ok(c, hv_proto_peers_json(ctl->h, now_ms(ctl)));
}

static void
cmd_counters(struct ctl_conn *c, struct json_object *o, void *arg)
{
    struct hv_ctl *ctl = arg;
    struct json_object *cnt;

    if (no_args(c, o) < 0)
        return;
    cnt = hv_proto_counters_json(ctl->h);
    json_object_object_add(cnt, "state", hv_persist_json(ctl->h));
    json_object_object_add(cnt, "control", ctl_server_stats_json(ctl->srv));
    ctl_reply_ok(c, cnt);
}

static void
cmd_watch(struct ctl_conn *c, struct json_object *o, void *arg)
{
    struct hv_ctl *ctl = arg;
    struct watcher *x;

    if (no_args(c, o) < 0)
        return;
    /* a second "watch" of one client: its handle is new (one per request),
     * its connection is not (ctl.h) */
    LIST_FOREACH(x, &ctl->watchers, entry)
        if (ctl_conn_id(x->c) == ctl_conn_id(c)) {
            ctl_reply_ok(c, NULL);
            return;
        }
    if ((x = calloc(1, sizeof(*x))) == NULL) {
        ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
        return;
    }
    x->c = c;
    LIST_INSERT_HEAD(&ctl->watchers, x, entry);
    ctl_conn_on_close(c, conn_closed, ctl);
    ctl_reply_ok(c, NULL);
}

static const struct ctl_cmd hv_cmds[] = {
    {"vnic-attach", cmd_attach,
     "{vnic, vn, mac, ips, ifname, wait_ms}: associate a VNIC"},
    {"vnic-detach", cmd_detach,
     "{vnic, migrating, wait_ms}: disassociate a VNIC"},
    {"vnic-preassociate", cmd_preassociate,
     "{vnic, vn, mac, ips, ifname, reserve, wait_ms}: pre-associate a VNIC"},
    {"vnic-state", cmd_state, "{vnic, up, wait_ms}: VNIC link up or down"},
    {"vnic-list", cmd_list, "{}: all VNICs"},
    {"status", cmd_status, "{}: agent and NVE status"},
    {"peers", cmd_peers, "{}: NVDP peers heard on the uplink"},
    {"counters", cmd_counters, "{}: protocol counters"},
    {"watch", cmd_watch, "{}: push VNIC and NVE events on this connection"},
    {NULL, NULL, NULL},
};

int
hv_ctl_start(struct hv *h, const char *path)
{
    struct hv_ctl *ctl;

    if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
        return -1;
    ctl->h = h;
    for (unsigned b = 0; b < HV_WAIT_BUCKETS; b++)
        LIST_INIT(&ctl->waiters[b]);
    LIST_INIT(&ctl->watchers);
    TAILQ_INIT(&ctl->held);
    ctl->srv = ctl_server_new(h->loop, path, &h->conf.ctl.opts, hv_cmds, ctl);
    if (ctl->srv == NULL) {
        free(ctl);
        return -1;
    }
    ctl->obs.vnic_changed = obs_vnic;
    ctl->obs.nve_changed = obs_nve;
    ctl->obs.saved = obs_saved;
    ctl->obs.not_saved = obs_not_saved;
    ctl->obs.arg = ctl;
    hv_observer_add(h, &ctl->obs);
    h->ctl = ctl;
    return 0;
}

void
hv_ctl_stop(struct hv *h)
{
    struct hv_ctl *ctl = h->ctl;
    struct waiter *w;
    struct watcher *x;
    struct held *k;

    if (ctl == NULL)
        return;
    hv_observer_del(h, &ctl->obs);
    /* the last commit is done (hv.c): nothing is held but what came
     * after it, which is not saved */
    while ((k = TAILQ_FIRST(&ctl->held)) != NULL)
        held_release(ctl, k, "hv-agent is shutting down; state not saved");
    for (unsigned b = 0; b < HV_WAIT_BUCKETS; b++) {
        while ((w = LIST_FIRST(&ctl->waiters[b])) != NULL) {
            struct ctl_conn *c = w->c;
            waiter_done(w);
            ctl_reply_err(c, CTL_E_FAILED, "hv-agent is shutting down; the "
                          "request stays in the desired state (saved)");
        }
    }
    while ((x = LIST_FIRST(&ctl->watchers)) != NULL) {
        LIST_REMOVE(x, entry);
        free(x);
    }
    ctl_server_free(ctl->srv);
    free(ctl);
    h->ctl = NULL;
}

struct ctl_server *
hv_ctl_server(const struct hv *h)
{
    return h->ctl != NULL ? h->ctl->srv : NULL;
}
