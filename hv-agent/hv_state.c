/* hv_state.c - the VNIC table (hash by UUID, creation-ordered list, dirty
 * queue for the engine), what of it the next commit must write, and how to
 * undo a request's change. Records and loading: hv_state_file.c. No I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "hv_state.h"

/* What a control request may change of a VNIC, kept until the change is
 * committed (hv_state_undo_save). */
struct hv_vnic_undo {
    int created;
    struct nvdp_vn vn;
    char vn_name[64];
    uint8_t mac[6];
    uint16_t naddr;
    struct nvdp_addr *addr;
    uint8_t want, reserve, up, intent;
    char ifname[IF_NAMESIZE];
    uint8_t state, gaveup;
    uint16_t status;
    char reason[NVDP_MAX_REASON + 1];
    uint32_t gen; /* undone, the desired state is the one of this gen */
    /* written (hv_state_written), with the request's state: the engine
     * runs until the sync, and what it changes of these is its news */
    uint8_t written, w_state, w_gaveup;
    uint16_t w_status;
};

static unsigned
uuid_hash(const struct nvdp_uuid *u)
{
    uint32_t h = 2166136261u;

    for (int i = 0; i < 16; i++)
        h = (h ^ u->b[i]) * 16777619u;
    return h % HV_STATE_BUCKETS;
}

void
hv_state_init(struct hv_state *s)
{
    memset(s, 0, sizeof(*s));
    TAILQ_INIT(&s->all);
    TAILQ_INIT(&s->dirty);
    TAILQ_INIT(&s->unsaved);
    TAILQ_INIT(&s->syncing);
}

static void
undo_free(struct hv_vnic *v)
{
    if (v->undo != NULL) {
        free(v->undo->addr);
        free(v->undo);
        v->undo = NULL;
    }
}

static void
vnic_free(struct hv_vnic *v)
{
    undo_free(v);
    free(v->addr);
    free(v->acked);
    free(v);
}

static void vnic_unlink(struct hv_state *s, struct hv_vnic *v);

void
hv_state_free(struct hv_state *s)
{
    struct hv_vnic *v;

    while ((v = TAILQ_FIRST(&s->all)) != NULL)
        vnic_unlink(s, v);
    free(s->removed);
    s->removed = NULL;
    s->nremoved = s->removed_cap = 0;
    free(s->sremoved);
    s->sremoved = NULL;
    s->nsremoved = s->sremoved_cap = 0;
}

struct hv_vnic *
hv_state_find(const struct hv_state *s, const struct nvdp_uuid *u)
{
    struct hv_vnic *v;

    for (v = s->hash[uuid_hash(u)]; v != NULL; v = v->hnext)
        if (memcmp(v->uuid.b, u->b, 16) == 0)
            return v;
    return NULL;
}

struct hv_vnic *
hv_state_add(struct hv_state *s, const struct nvdp_uuid *u)
{
    struct hv_vnic *v;
    unsigned h = uuid_hash(u);

    if ((v = calloc(1, sizeof(*v))) == NULL)
        return NULL;
    v->uuid = *u;
    v->up = 1;
    v->acked_up = HV_UP_UNKNOWN;
    v->state = HV_VNIC_PENDING;
    v->hnext = s->hash[h];
    s->hash[h] = v;
    TAILQ_INSERT_TAIL(&s->all, v, entry);
    s->count++;
    return v;
}

/* Out of every list, freed. */
static void
vnic_unlink(struct hv_state *s, struct hv_vnic *v)
{
    struct hv_vnic **pp;

    for (pp = &s->hash[uuid_hash(&v->uuid)]; *pp != NULL;
         pp = &(*pp)->hnext) {
        if (*pp == v) {
            *pp = v->hnext;
            break;
        }
    }
    TAILQ_REMOVE(&s->all, v, entry);
    if (v->queued)
        TAILQ_REMOVE(&s->dirty, v, dirty);
    if (v->unsaved)
        TAILQ_REMOVE(&s->unsaved, v, uentry);
    if (v->syncing)
        TAILQ_REMOVE(&s->syncing, v, sentry);
    s->live_bytes -= v->jlen;
    s->count--;
    vnic_free(v);
}

static void
removed_add(struct hv_state *s, const struct nvdp_uuid *u)
{
    if (s->nremoved == s->removed_cap) {
        size_t cap = s->removed_cap ? s->removed_cap * 2 : 64;
        struct nvdp_uuid *n = realloc(s->removed, cap * sizeof(*n));
        if (n != NULL) {
            s->removed = n;
            s->removed_cap = cap;
        }
    }
    if (s->nremoved < s->removed_cap)
        s->removed[s->nremoved++] = *u;
}

void
hv_state_remove(struct hv_state *s, struct hv_vnic *v)
{
    /* A VNIC that was never committed leaves nothing to cancel. If the
     * removal record cannot be queued (no memory), the VNIC comes back at
     * the next start, as the resync would find it: detached again then. */
    if (v->jlen != 0)
        removed_add(s, &v->uuid);
    vnic_unlink(s, v);
}

static int
addrs_copy(struct nvdp_addr **dst, uint16_t *dn, const struct nvdp_addr *a,
           size_t n)
{
    struct nvdp_addr *na = NULL;

    if (n > NVDP_MAX_ADDRS) {
        errno = E2BIG;
        return -1;
    }
    if (n > 0) {
        if ((na = calloc(n, sizeof(*na))) == NULL)
            return -1;
        memcpy(na, a, n * sizeof(*na));
    }
    free(*dst);
    *dst = na;
    *dn = (uint16_t)n;
    return 0;
}

int
hv_state_set_addrs(struct hv_vnic *v, const struct nvdp_addr *a, size_t n)
{
    return addrs_copy(&v->addr, &v->naddr, a, n);
}

int
hv_state_set_acked(struct hv_vnic *v, const struct nvdp_addr *a, size_t n)
{
    return addrs_copy(&v->acked, &v->nacked, a, n);
}

void
hv_state_mark(struct hv_state *s, struct hv_vnic *v)
{
    if (v->queued)
        return;
    v->queued = 1;
    TAILQ_INSERT_TAIL(&s->dirty, v, dirty);
}

struct hv_vnic *
hv_state_next_dirty(struct hv_state *s)
{
    struct hv_vnic *v = TAILQ_FIRST(&s->dirty);

    if (v != NULL) {
        TAILQ_REMOVE(&s->dirty, v, dirty);
        v->queued = 0;
    }
    return v;
}

/* ---- what the next commit writes --------------------------------------- */

void
hv_state_touch(struct hv_state *s, struct hv_vnic *v)
{
    if (v->unsaved)
        return;
    v->unsaved = 1;
    TAILQ_INSERT_TAIL(&s->unsaved, v, uentry);
}

int
hv_state_undo_save(struct hv_state *s, struct hv_vnic *v, int created)
{
    struct hv_vnic_undo *u;

    hv_state_touch(s, v);
    if (v->undo != NULL)
        return 0;
    if ((u = calloc(1, sizeof(*u))) == NULL)
        return -1;
    if (v->naddr > 0 && (u->addr = calloc(v->naddr, sizeof(*u->addr))) ==
                            NULL) {
        free(u);
        return -1;
    }
    u->created = created;
    u->vn = v->vn;
    memcpy(u->vn_name, v->vn_name, sizeof(u->vn_name));
    memcpy(u->mac, v->mac, 6);
    u->naddr = v->naddr;
    if (v->naddr > 0)
        memcpy(u->addr, v->addr, v->naddr * sizeof(*u->addr));
    u->want = v->want;
    u->reserve = v->reserve;
    u->up = v->up;
    u->intent = v->intent;
    memcpy(u->ifname, v->ifname, sizeof(u->ifname));
    u->state = v->state;
    u->gaveup = v->gaveup;
    u->status = v->status;
    memcpy(u->reason, v->reason, sizeof(u->reason));
    u->gen = v->gen;
    v->undo = u;
    return 0;
}

void
hv_state_undo_drop(struct hv_vnic *v)
{
    undo_free(v);
}

int
hv_state_undo_created(const struct hv_vnic *v)
{
    return v->undo != NULL && v->undo->created;
}

int
hv_state_undo(struct hv_vnic *v)
{
    struct hv_vnic_undo *u = v->undo;
    int news;

    if (u == NULL)
        return 0;
    if (u->created)
        return 1;
    /* What the request reset (state, status, reason) comes back unless
     * the engine has had news of the VNIC since the write (a commit's
     * sync runs while the engine works, run_proto): its news stand. */
    news = u->written && (v->state != u->w_state ||
                          v->gaveup != u->w_gaveup ||
                          v->status != u->w_status);
    v->vn = u->vn;
    memcpy(v->vn_name, u->vn_name, sizeof(v->vn_name));
    memcpy(v->mac, u->mac, 6);
    free(v->addr);
    v->addr = u->addr; /* ownership moves back */
    v->naddr = u->naddr;
    u->addr = NULL;
    v->want = u->want;
    v->reserve = u->reserve;
    v->up = u->up;
    v->intent = u->intent;
    memcpy(v->ifname, u->ifname, sizeof(v->ifname));
    if (!news) {
        v->state = u->state;
        v->gaveup = u->gaveup;
        v->status = u->status;
        memcpy(v->reason, u->reason, sizeof(v->reason));
    }
    /* An answer to a request built before the change counts again; one
     * built from the change (sent while its commit synced) must not: the
     * desired state then takes a generation no request was built from. */
    if (v->inflight && v->req_gen != u->gen)
        v->gen++;
    else
        v->gen = u->gen;
    undo_free(v);
    return 0;
}

int
hv_state_unsaved(const struct hv_state *s)
{
    return !TAILQ_EMPTY(&s->unsaved) || s->nremoved > 0;
}

void
hv_state_written(struct hv_state *s, int dumped)
{
    struct hv_vnic *v;
    struct nvdp_uuid *r;
    size_t cap;

    if (dumped) {
        /* the journal now holds exactly one record per VNIC */
        s->live_bytes = 0;
        TAILQ_FOREACH(v, &s->all, entry) {
            v->jlen = v->plen;
            s->live_bytes += v->jlen;
        }
    }
    while ((v = TAILQ_FIRST(&s->unsaved)) != NULL) {
        TAILQ_REMOVE(&s->unsaved, v, uentry);
        v->unsaved = 0;
        if (!dumped) {
            s->live_bytes += v->plen;
            s->live_bytes -= v->jlen;
            v->jlen = v->plen;
        }
        if (v->undo != NULL) {
            v->undo->written = 1;
            v->undo->w_state = v->state;
            v->undo->w_gaveup = v->gaveup;
            v->undo->w_status = v->status;
        }
        if (!v->syncing) {
            v->syncing = 1;
            TAILQ_INSERT_TAIL(&s->syncing, v, sentry);
        }
    }
    /* the removals written change places with the (empty) syncing ones */
    r = s->sremoved;
    cap = s->sremoved_cap;
    s->sremoved = s->removed;
    s->sremoved_cap = s->removed_cap;
    s->nsremoved = s->nremoved;
    s->removed = r;
    s->removed_cap = cap;
    s->nremoved = 0;
}

unsigned
hv_state_synced(struct hv_state *s)
{
    struct hv_vnic *v;
    unsigned n = 0;

    while ((v = TAILQ_FIRST(&s->syncing)) != NULL) {
        TAILQ_REMOVE(&s->syncing, v, sentry);
        v->syncing = 0;
        undo_free(v); /* no request runs between write and sync */
        if (v->after_sync) {
            v->after_sync = 0;
            hv_state_mark(s, v);
            n++;
        }
    }
    s->nsremoved = 0;
    return n;
}

void
hv_state_unwritten(struct hv_state *s)
{
    struct hv_vnic *v;

    while ((v = TAILQ_FIRST(&s->syncing)) != NULL) {
        TAILQ_REMOVE(&s->syncing, v, sentry);
        v->syncing = 0;
        v->after_sync = 0; /* its change is undone */
        hv_state_touch(s, v);
    }
    for (size_t i = 0; i < s->nsremoved; i++)
        removed_add(s, &s->sremoved[i]);
    s->nsremoved = 0;
}

void
hv_state_saved(struct hv_state *s, int dumped)
{
    hv_state_written(s, dumped);
    (void)hv_state_synced(s);
}

/* ---- names ----------------------------------------------------------- */

static const char *const state_names[] = {
    [HV_VNIC_PENDING] = "pending",
    [HV_VNIC_ATTACHED] = "attached",
    [HV_VNIC_PREASSOCIATED] = "preassociated",
    [HV_VNIC_FAILED] = "failed",
    [HV_VNIC_WITHDRAWN] = "withdrawn",
    [HV_VNIC_DETACHING] = "detaching",
    [HV_VNIC_DETACHED] = "detached",
};

const char *
hv_vnic_state_str(unsigned state)
{
    if (state < sizeof(state_names) / sizeof(state_names[0]))
        return state_names[state];
    return "unknown";
}

const char *
hv_want_str(unsigned want)
{
    switch (want) {
    case HV_WANT_ATTACH: return "attached";
    case HV_WANT_PREASSOC: return "preassociated";
    case HV_WANT_DETACH: return "detached";
    }
    return "unknown";
}

const char *
hv_intent_str(unsigned intent)
{
    switch (intent) {
    case NVDP_INTENT_SHUTDOWN: return "shutdown";
    case NVDP_INTENT_MIGRATION: return "migration";
    }
    return NULL;
}

/* ---- JSON ------------------------------------------------------------ */

static struct json_object *
jstr_or_null(const char *s)
{
    return (s != NULL && *s != '\0') ? json_object_new_string(s) : NULL;
}

static struct json_object *
ips_to_json(const struct hv_vnic *v)
{
    struct json_object *a = json_object_new_array();
    char buf[128];

    for (unsigned i = 0; i < v->naddr; i++) {
        if (v->addr[i].kind == NVDP_ADDR_MAC)
            continue;
        nvdp_addr_fmt_ip(&v->addr[i], buf, sizeof(buf));
        json_object_array_add(a, json_object_new_string(buf));
    }
    return a;
}

struct json_object *
hv_vnic_to_json(const struct hv_vnic *v)
{
    struct json_object *o = json_object_new_object();
    char buf[128];
    int has_tag = v->tag != 0 && (v->state == HV_VNIC_ATTACHED ||
                                  v->state == HV_VNIC_PREASSOCIATED);

    nvdp_uuid_fmt(&v->uuid, buf);
    ctl_jadd(o, "vnic", json_object_new_string(buf));
    nvdp_vn_fmt(&v->vn, buf, sizeof(buf));
    ctl_jadd(o, "vn", json_object_new_string(buf));
    ctl_jadd(o, "vn_name", jstr_or_null(v->vn_name));
    nvdp_mac_fmt(v->mac, buf);
    ctl_jadd(o, "mac", json_object_new_string(buf));
    ctl_jadd(o, "ips", ips_to_json(v));
    ctl_jadd(o, "state", json_object_new_string(hv_vnic_state_str(v->state)));
    ctl_jadd(o, "tag", has_tag ? json_object_new_int(v->tag) : NULL);
    ctl_jadd(o, "status",
             v->state != HV_VNIC_FAILED
                 ? NULL
                 : json_object_new_string(
                       v->gaveup ? "no-answer" : nvdp_status_str(v->status)));
    ctl_jadd(o, "reason",
             v->state == HV_VNIC_FAILED || v->state == HV_VNIC_WITHDRAWN
                 ? jstr_or_null(v->reason)
                 : NULL);
    ctl_jadd(o, "intent", jstr_or_null(hv_intent_str(v->intent)));
    ctl_jadd(o, "desired", json_object_new_string(hv_want_str(v->want)));
    ctl_jadd(o, "up", json_object_new_boolean(v->up));
    ctl_jadd(o, "reserve", json_object_new_boolean(v->reserve));
    ctl_jadd(o, "ifname", jstr_or_null(v->ifname));
    ctl_jadd(o, "tag_hint",
             v->tag_hint ? json_object_new_int(v->tag_hint) : NULL);
    return o;
}
