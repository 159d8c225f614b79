/* hv_ctl.c - hv-agent's control-socket commands (HACKING.md): argument
 * validation, desired-state changes, deferred --wait answers, watch events.
 * A success is held until the state journal's next commit (hv.c): a client
 * is never told ok for a change that a crash could take back. */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <json-c/json.h>

#include "ctl.h"
#include "ev.h"
#include "hv.h"
#include "log.h"

#define HV_WAIT_MAX_MS 600000
#define HV_WAIT_BUCKETS 1024 /* waiters hashed by VNIC: a VNIC change must
                              * not scan thousands of unrelated waiters */

enum wait_op { OP_ATTACH, OP_PREASSOC, OP_DETACH, OP_STATE };

struct hv_ctl;

struct waiter {
    struct hv_ctl *ctl;
    struct ctl_conn *c;
    struct nvdp_uuid uuid;
    enum wait_op op;
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

/* ---- argument parsing ----------------------------------------------- */

struct args {
    struct hv *h;
    struct ctl_conn *c;
    struct json_object *o;
    int failed; /* an error was already answered */
};

static int
arg_fail(struct args *a, int code, const char *fmt, const char *what)
{
    if (!a->failed)
        ctl_reply_err(a->c, code, fmt, what);
    a->failed = 1;
    return -1;
}

/* Rejects keys the command does not know: a typo ("wait" for "wait_ms")
 * must not be silently ignored. */
static int
args_check(struct args *a, const char *const *known)
{
    if (a->o == NULL)
        return 0;
    if (!json_object_is_type(a->o, json_type_object))
        return arg_fail(a, CTL_E_USAGE, "%s", "args must be an object");
    json_object_object_foreach(a->o, key, val) {
        const char *const *k;
        (void)val;
        for (k = known; *k != NULL; k++)
            if (strcmp(*k, key) == 0)
                break;
        if (*k == NULL)
            return arg_fail(a, CTL_E_USAGE, "unknown argument \"%s\"", key);
    }
    return 0;
}

static struct json_object *
arg_get(struct args *a, const char *key)
{
    struct json_object *x;

    if (a->o == NULL || !json_object_object_get_ex(a->o, key, &x) ||
        json_object_is_type(x, json_type_null))
        return NULL;
    return x;
}

static const char *
arg_str(struct args *a, const char *key, int required)
{
    struct json_object *x = arg_get(a, key);

    if (x == NULL) {
        if (required)
            arg_fail(a, CTL_E_USAGE, "missing argument \"%s\"", key);
        return NULL;
    }
    if (!json_object_is_type(x, json_type_string)) {
        arg_fail(a, CTL_E_USAGE, "argument \"%s\" must be a string", key);
        return NULL;
    }
    return json_object_get_string(x);
}

/* -1 on error (answered), else 0/1 (dflt when absent). */
static int
arg_bool(struct args *a, const char *key, int dflt, int required)
{
    struct json_object *x = arg_get(a, key);

    if (x == NULL) {
        if (required)
            return arg_fail(a, CTL_E_USAGE, "missing argument \"%s\"", key);
        return dflt;
    }
    if (!json_object_is_type(x, json_type_boolean))
        return arg_fail(a, CTL_E_USAGE, "argument \"%s\" must be true or false",
                        key);
    return json_object_get_boolean(x);
}

static int
arg_wait(struct args *a, uint32_t *ms)
{
    struct json_object *x = arg_get(a, "wait_ms");
    int64_t v;

    *ms = 0;
    if (x == NULL)
        return 0;
    if (!json_object_is_type(x, json_type_int) ||
        (v = json_object_get_int64(x)) < 0 || v > HV_WAIT_MAX_MS)
        return arg_fail(a, CTL_E_USAGE, "%s",
                        "wait_ms must be an integer 0..600000");
    *ms = (uint32_t)v;
    return 0;
}

static int
arg_vnic(struct args *a, struct nvdp_uuid *u)
{
    const char *s = arg_str(a, "vnic", 1);

    if (s == NULL)
        return -1;
    if (nvdp_uuid_parse(s, u) < 0)
        return arg_fail(a, CTL_E_USAGE, "vnic \"%s\" is not a UUID", s);
    return 0;
}

static struct hv_vnic *
arg_existing(struct args *a)
{
    struct nvdp_uuid u;
    struct hv_vnic *v;
    char buf[37];

    if (arg_vnic(a, &u) < 0)
        return NULL;
    if ((v = hv_state_find(&a->h->state, &u)) == NULL) {
        nvdp_uuid_fmt(&u, buf);
        arg_fail(a, CTL_E_NOTFOUND, "no VNIC %s", buf);
    }
    return v;
}

/* The desired part of an attach / preassociate. */
struct attach_req {
    struct nvdp_uuid uuid;
    struct nvdp_vn vn;
    const char *vn_name;
    uint8_t mac[6];
    struct nvdp_addr addr[NVDP_MAX_ADDRS];
    size_t naddr;
    const char *ifname;
    uint32_t wait_ms;
};

static int
parse_ips(struct args *a, struct attach_req *r)
{
    struct json_object *ips = arg_get(a, "ips");
    size_t n;

    r->naddr = 0;
    if (ips != NULL && !json_object_is_type(ips, json_type_array))
        return arg_fail(a, CTL_E_USAGE, "%s", "ips must be an array of strings");
    n = ips != NULL ? json_object_array_length(ips) : 0;
    if (n > NVDP_MAX_ADDRS) {
        char lim[16];
        snprintf(lim, sizeof(lim), "%d", NVDP_MAX_ADDRS);
        return arg_fail(a, CTL_E_USAGE, "at most %s addresses per VNIC", lim);
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *x = json_object_array_get_idx(ips, i);
        const char *s;
        int dup = 0;

        if (!json_object_is_type(x, json_type_string))
            return arg_fail(a, CTL_E_USAGE, "%s",
                            "ips must be an array of strings");
        s = json_object_get_string(x);
        if (*s == '\0' || nvdp_addr_parse(r->mac, s, &r->addr[r->naddr]) < 0)
            return arg_fail(a, CTL_E_USAGE,
                            "bad address \"%s\" (want an IPv4/IPv6 address, "
                            "prefix or first-last range)", s);
        for (size_t j = 0; j < r->naddr; j++)
            dup |= nvdp_addr_equal(&r->addr[j], &r->addr[r->naddr]);
        if (!dup)
            r->naddr++;
    }
    if (r->naddr == 0) {
        nvdp_addr_parse(r->mac, NULL, &r->addr[0]);
        r->naddr = 1;
    }
    return 0;
}

static int
parse_attach(struct args *a, struct attach_req *r)
{
    const char *s;
    struct nvdp_msg *m;
    int too_big;

    memset(r, 0, sizeof(*r));
    if (arg_vnic(a, &r->uuid) < 0)
        return -1;
    if ((s = arg_str(a, "vn", 1)) == NULL)
        return -1;
    if (hv_conf_vn_lookup(&a->h->conf, s, &r->vn, &r->vn_name) < 0)
        return arg_fail(a, CTL_E_USAGE,
                        "unknown VN \"%s\" (want vni:N, uuid:U or a vn name "
                        "from hv-agent.conf)", s);
    if ((s = arg_str(a, "mac", 1)) == NULL)
        return -1;
    if (nvdp_mac_parse(s, r->mac) < 0 || (r->mac[0] & 1) ||
        memcmp(r->mac, "\0\0\0\0\0\0", 6) == 0)
        return arg_fail(a, CTL_E_USAGE,
                        "mac \"%s\" is not a unicast MAC address", s);
    if (parse_ips(a, r) < 0)
        return -1;
    if ((s = arg_str(a, "ifname", 0)) != NULL &&
        (*s == '\0' || strlen(s) >= IF_NAMESIZE || strchr(s, '/') != NULL))
        return arg_fail(a, CTL_E_USAGE, "bad ifname \"%s\"", s);
    r->ifname = s;
    if (a->failed || arg_wait(a, &r->wait_ms) < 0)
        return -1;
    /* The request must fit one frame on this uplink. */
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return arg_fail(a, CTL_E_INTERNAL, "%s", "out of memory");
    m->type = NVDP_MSG_ASSOC;
    m->txid = 1;
    m->has_vnic = 1;
    m->vn = r->vn;
    m->has_tag_hint = 1;
    m->tag_hint = 1;
    m->naddr = (uint16_t)r->naddr;
    memcpy(m->addr, r->addr, r->naddr * sizeof(r->addr[0]));
    too_big = nvdp_msg_size(m) > hv_proto_max_msg(a->h);
    free(m);
    if (too_big)
        return arg_fail(a, CTL_E_USAGE, "%s",
                        "too many addresses to fit one frame on the uplink");
    return 0;
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
        if (w->op == OP_DETACH) {
            struct hv_ctl *ctl = w->ctl;
            waiter_done(w);
            hold_ok(ctl, c, v);
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
    if ((w->op == OP_ATTACH && v->state == HV_VNIC_ATTACHED) ||
        (w->op == OP_PREASSOC && v->state == HV_VNIC_PREASSOCIATED) ||
        (w->op == OP_STATE && v->state == HV_VNIC_ATTACHED)) {
        struct hv_ctl *ctl = w->ctl;
        waiter_done(w);
        hold_ok(ctl, c, v);
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
              enum wait_op op, uint32_t wait_ms)
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

static void
desired_changed(struct hv *h, struct hv_vnic *v, int reset)
{
    if (reset) {
        /* the user acted: a refusal or a withdrawal is retried */
        v->state = v->want == HV_WANT_DETACH ? HV_VNIC_DETACHING :
                                               HV_VNIC_PENDING;
        v->status = NVDP_ST_OK;
        v->reason[0] = '\0';
        v->gaveup = 0;
        hv_notify_vnic(h, v);
    }
    hv_state_changed(h, v);
    hv_proto_vnic_changed(h, v);
}

static int
same_addrs(const struct hv_vnic *v, const struct attach_req *r)
{
    if (v->naddr != r->naddr)
        return 0;
    for (size_t i = 0; i < r->naddr; i++)
        if (!nvdp_addr_equal(&v->addr[i], &r->addr[i]))
            return 0;
    return 1;
}

static void
do_attach(struct ctl_conn *c, struct json_object *o, struct hv_ctl *ctl,
          int want, int reserve)
{
    static const char *const known_a[] = {"vnic", "vn", "mac", "ips",
                                          "wait_ms", "ifname", NULL};
    static const char *const known_p[] = {"vnic", "vn", "mac", "ips",
                                          "wait_ms", "ifname", "reserve",
                                          NULL};
    struct args a = {ctl->h, c, o, 0};
    struct attach_req r;
    struct hv_vnic *v;
    int same;

    if (args_check(&a, want == HV_WANT_ATTACH ? known_a : known_p) < 0 ||
        parse_attach(&a, &r) < 0)
        return;
    if (want == HV_WANT_PREASSOC &&
        (reserve = arg_bool(&a, "reserve", 0, 0)) < 0)
        return;
    if ((v = hv_state_find(&ctl->h->state, &r.uuid)) == NULL) {
        if ((v = hv_state_add(&ctl->h->state, &r.uuid)) == NULL ||
            hv_change_begin(ctl->h, v, 1) < 0) {
            if (v != NULL)
                hv_state_remove(&ctl->h->state, v);
            ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
            return;
        }
        v->state = HV_VNIC_PENDING;
        same = 0;
    } else {
        same = v->want == want && nvdp_vn_equal(&v->vn, &r.vn) &&
               memcmp(v->mac, r.mac, 6) == 0 && same_addrs(v, &r) &&
               v->reserve == reserve &&
               (r.ifname == NULL || strcmp(r.ifname, v->ifname) == 0);
        if (hv_change_begin(ctl->h, v, 0) < 0) {
            ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
            return;
        }
    }
    if (hv_state_set_addrs(v, r.addr, r.naddr) < 0) {
        ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
        return;
    }
    v->vn = r.vn;
    snprintf(v->vn_name, sizeof(v->vn_name), "%s", r.vn_name ? r.vn_name : "");
    memcpy(v->mac, r.mac, 6);
    v->want = (uint8_t)want;
    v->reserve = (uint8_t)reserve;
    v->intent = 0;
    if (r.ifname != NULL)
        snprintf(v->ifname, sizeof(v->ifname), "%s", r.ifname);
    /* Re-asking for what is already in place changes nothing; anything
     * else (or a retry after a refusal) starts over from pending. */
    desired_changed(ctl->h, v, !same || v->state == HV_VNIC_FAILED ||
                                   v->state == HV_VNIC_WITHDRAWN);
    reply_or_wait(ctl, c, v, want == HV_WANT_ATTACH ? OP_ATTACH : OP_PREASSOC,
                  r.wait_ms);
}

static void
cmd_attach(struct ctl_conn *c, struct json_object *o, void *arg)
{
    do_attach(c, o, arg, HV_WANT_ATTACH, 0);
}

static void
cmd_preassociate(struct ctl_conn *c, struct json_object *o, void *arg)
{
    do_attach(c, o, arg, HV_WANT_PREASSOC, 0);
}

static void
cmd_detach(struct ctl_conn *c, struct json_object *o, void *arg)
{
    static const char *const known[] = {"vnic", "migrating", "wait_ms", NULL};
    struct hv_ctl *ctl = arg;
    struct args a = {ctl->h, c, o, 0};
    struct hv_vnic *v;
    uint32_t wait_ms;
    int migrating;

    if (args_check(&a, known) < 0 || (v = arg_existing(&a)) == NULL ||
        (migrating = arg_bool(&a, "migrating", 0, 0)) < 0 ||
        arg_wait(&a, &wait_ms) < 0)
        return;
    if (hv_change_begin(ctl->h, v, 0) < 0) {
        ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
        return;
    }
    v->want = HV_WANT_DETACH;
    v->intent = migrating ? NVDP_INTENT_MIGRATION : NVDP_INTENT_SHUTDOWN;
    desired_changed(ctl->h, v, v->state != HV_VNIC_DETACHING);
    reply_or_wait(ctl, c, v, OP_DETACH, wait_ms);
}

static void
cmd_state(struct ctl_conn *c, struct json_object *o, void *arg)
{
    static const char *const known[] = {"vnic", "up", "wait_ms", NULL};
    struct hv_ctl *ctl = arg;
    struct args a = {ctl->h, c, o, 0};
    struct hv_vnic *v;
    uint32_t wait_ms;
    int up;

    if (args_check(&a, known) < 0 || (v = arg_existing(&a)) == NULL ||
        (up = arg_bool(&a, "up", 1, 1)) < 0 || arg_wait(&a, &wait_ms) < 0)
        return;
    if (v->want != HV_WANT_ATTACH) {
        ctl_reply_err(c, CTL_E_USAGE, "VNIC is not attached (desired: %s)",
                      hv_want_str(v->want));
        return;
    }
    if (v->up != up) {
        if (hv_change_begin(ctl->h, v, 0) < 0) {
            ctl_reply_err(c, CTL_E_INTERNAL, "out of memory");
            return;
        }
        v->up = (uint8_t)up;
        desired_changed(ctl->h, v, v->state == HV_VNIC_FAILED);
    }
    reply_or_wait(ctl, c, v, OP_STATE, wait_ms);
}

static void
cmd_list(struct ctl_conn *c, struct json_object *o, void *arg)
{
    static const char *const known[] = {NULL};
    struct hv_ctl *ctl = arg;
    struct args a = {ctl->h, c, o, 0};
    struct json_object *arr;
    struct hv_vnic *v;

    if (args_check(&a, known) < 0)
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
    static const char *const known[] = {NULL};
    struct hv_ctl *ctl = arg;
    struct args a = {ctl->h, c, o, 0};
    struct json_object *st;

    if (args_check(&a, known) < 0)
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
    static const char *const known[] = {NULL};
    struct hv_ctl *ctl = arg;
    struct args a = {ctl->h, c, o, 0};

    if (args_check(&a, known) < 0)
        return;
    ctl_reply_ok(c, hv_proto_peers_json(ctl->h, now_ms(ctl)));
}

static void
cmd_counters(struct ctl_conn *c, struct json_object *o, void *arg)
{
    static const char *const known[] = {NULL};
    struct hv_ctl *ctl = arg;
    struct args a = {ctl->h, c, o, 0};
    struct json_object *cnt;

    if (args_check(&a, known) < 0)
        return;
    cnt = hv_proto_counters_json(ctl->h);
    json_object_object_add(cnt, "state", hv_persist_json(ctl->h));
    ctl_reply_ok(c, cnt);
}

static void
cmd_watch(struct ctl_conn *c, struct json_object *o, void *arg)
{
    static const char *const known[] = {NULL};
    struct hv_ctl *ctl = arg;
    struct args a = {ctl->h, c, o, 0};
    struct watcher *x;

    if (args_check(&a, known) < 0)
        return;
    LIST_FOREACH(x, &ctl->watchers, entry)
        if (x->c == c) {
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
    if ((ctl->srv = ctl_server_new(h->loop, path, 0660, hv_cmds, ctl)) ==
        NULL) {
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
