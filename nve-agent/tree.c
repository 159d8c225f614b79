/* tree.c - containment tree: VNIC entries hashed by UUID (open addressing,
 * chains of the few entries sharing a UUID), a (VNI, MAC) conflict index,
 * per-hypervisor lists, and every change told to the sink (the forwarder,
 * through nve.c). */
#include "tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "hash.h"

/* malloc's per-chunk overhead, counted so tree->mem tracks real usage. */
#define TREE_MALLOC_OVH 16

static const uint8_t zero_mac[6];

/* An entry with its MAC and IPv4 records is one 96-byte malloc chunk. */
_Static_assert(sizeof(struct tree_vnic) <= 88, "tree_vnic grew");

/* ---- the sink ------------------------------------------------------------ */

static void
fw_check(struct tree *t, int rc)
{
    if (rc < 0)
        t->fwd_errors++;
}

static void
fw_bind(struct tree *t, uint16_t port, uint16_t tag, uint32_t vni)
{
    if (t->sink.vn_bind)
        fw_check(t, t->sink.vn_bind(t->sink.arg, port, tag, vni));
}

static void
fw_unbind(struct tree *t, uint16_t port, uint16_t tag)
{
    if (t->sink.vn_unbind)
        fw_check(t, t->sink.vn_unbind(t->sink.arg, port, tag));
}

static void
fw_add(struct tree *t, const struct tree_vnic *v, const struct nvdp_addr *a)
{
    if (t->sink.local_add)
        fw_check(t, t->sink.local_add(t->sink.arg, v->vni, v->port, a));
}

static void
fw_del(struct tree *t, const struct tree_vnic *v, const struct nvdp_addr *a)
{
    /* not checked: after a migration the forwarder already moved the MAC
     * to its new port and refuses to delete it from the old one */
    if (t->leaving && t->sink.local_leave)
        t->sink.local_leave(t->sink.arg, v->vni, v->port, a);
    else if (t->sink.local_del)
        t->sink.local_del(t->sink.arg, v->vni, v->port, a);
}

static void
fw_active(struct tree *t, const struct tree_vnic *v, const uint8_t mac[6],
          int active)
{
    if (t->sink.set_active)
        fw_check(t, t->sink.set_active(t->sink.arg, v->vni, mac, active));
}

/* ---- small helpers ------------------------------------------------------ */

static int
mac_eq(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, 6) == 0;
}

static int
uuid_eq(const struct nvdp_uuid *a, const struct nvdp_uuid *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* Keyed with t->seed: UUIDs and MACs come from peers, and an unkeyed mix
 * (a bijection) lets one choose keys that all probe the same slots. */
static uint32_t
uuid_hash(const struct tree *t, const struct nvdp_uuid *u)
{
    uint64_t a, b;

    memcpy(&a, u->b, 8);
    memcpy(&b, u->b + 8, 8);
    return (uint32_t)hash_mix64(a ^ hash_mix64(b ^ t->seed) ^ t->seed);
}

static uint32_t
mac_hash(const struct tree *t, uint32_t vni, const uint8_t mac[6])
{
    uint64_t k = 0;

    memcpy(&k, mac, 6);
    return (uint32_t)hash_mix64(hash_mix64(k ^ t->seed) ^ ((uint64_t)vni << 48) ^ vni);
}

static uint64_t
tree_seed(void)
{
    uint64_t s = 0;
    struct timespec ts;

    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
        return s;
    clock_gettime(CLOCK_REALTIME, &ts);
    return hash_mix64((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^
                 (uint64_t)(uintptr_t)&s);
}

static void
mac_only(struct nvdp_addr *out, const uint8_t mac[6])
{
    memset(out, 0, sizeof(*out));
    memcpy(out->mac, mac, 6);
    out->kind = NVDP_ADDR_MAC;
}

/* ---- an entry's address records (tree_rec.h) ---------------------------- */

static uint8_t *
recs(const struct tree_vnic *v, size_t *len)
{
    return tree_recs_data(&v->rec, v->naddr, len);
}

/* Byte offset of record rec (size rl) in v's records, -1 if absent. */
static long
rec_find(const struct tree_vnic *v, const uint8_t *rec, size_t rl)
{
    size_t len, off = 0, n;
    const uint8_t *d = recs(v, &len);

    for (; off < len; off += n) {
        n = tree_rec_size(d[off]);
        if (n == rl && memcmp(d + off, rec, rl) == 0)
            return (long)off;
    }
    return -1;
}

static int
vnic_has_addr(const struct tree_vnic *v, const struct nvdp_addr *a)
{
    uint8_t rec[TREE_REC_MAX];

    return rec_find(v, rec, tree_rec_encode(a, rec)) >= 0;
}

static int
vnic_has_mac(const struct tree_vnic *v, const uint8_t mac[6])
{
    size_t len, off = 0;
    const uint8_t *d = recs(v, &len);

    for (; off < len; off += tree_rec_size(d[off]))
        if (tree_rec_is_mac(d + off, mac))
            return 1;
    return 0;
}

/* The heap block behind an entry's records (none while they fit in the
 * entry) changed from size before to size after: tree->mem follows. */
static void
recs_mem(struct tree *t, size_t before, size_t after)
{
    if (before)
        t->mem -= before + TREE_MALLOC_OVH;
    if (after)
        t->mem += after + TREE_MALLOC_OVH;
}

const char *
tree_state_str(const struct tree_vnic *v)
{
    switch (v->state) {
    case TREE_ST_ASSOC:
        if (v->flags & TREE_F_DOWN)
            return "down";
        /* VN_CONNECT without addresses, or all of them disassociated */
        return v->naddr ? "associated" : "connected";
    case TREE_ST_PREASSOC:
        return "preassociated";
    case TREE_ST_PREASSOC_RR:
        return "preassociated-rr";
    }
    return "?";
}

static void
res_set(struct tree_res *res, uint16_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
res_set(struct tree_res *res, uint16_t status, const char *fmt, ...)
{
    va_list ap;

    res->status = status;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

/* ---- UUID table --------------------------------------------------------- */

static uint32_t
tab_slot(const struct tree *t, const struct nvdp_uuid *u)
{
    uint32_t m = t->tabsz - 1, i = uuid_hash(t, u) & m;

    while (t->tab[i] != NULL && !uuid_eq(&t->tab[i]->uuid, u))
        i = (i + 1) & m;
    return i;
}

static int
tab_grow(struct tree *t)
{
    uint32_t osz = t->tabsz, nsz = osz ? osz * 2 : 64;
    struct tree_vnic **old = t->tab, **nt = calloc(nsz, sizeof(*nt));

    if (nt == NULL)
        return -1;
    t->tab = nt;
    t->tabsz = nsz;
    for (uint32_t i = 0; i < osz; i++)
        if (old[i])
            t->tab[tab_slot(t, &old[i]->uuid)] = old[i];
    free(old);
    t->mem += (uint64_t)(nsz - osz) * sizeof(*nt);
    return 0;
}

static void
tab_del(struct tree *t, uint32_t i)
{
    uint32_t m = t->tabsz - 1, j = i;

    t->tab[i] = NULL;
    t->tabn--;
    for (;;) {
        j = (j + 1) & m;
        if (t->tab[j] == NULL)
            return;
        uint32_t h = uuid_hash(t, &t->tab[j]->uuid) & m;
        int in = (i <= j) ? (h > i && h <= j) : (h > i || h <= j);
        if (!in) {
            t->tab[i] = t->tab[j];
            t->tab[j] = NULL;
            i = j;
        }
    }
}

static struct tree_vnic *
chain_head(const struct tree *t, const struct nvdp_uuid *u)
{
    if (t->tabsz == 0)
        return NULL;
    return t->tab[tab_slot(t, u)];
}

struct tree_vnic *
tree_find(const struct tree *t, const struct nvdp_uuid *vnic, uint16_t port,
          const uint8_t hv[6])
{
    for (struct tree_vnic *v = chain_head(t, vnic); v; v = v->same_next)
        if (v->port == port && mac_eq(v->hv->mac, hv))
            return v;
    return NULL;
}

/* ---- (VNI, MAC) index --------------------------------------------------- */

/* Open addressing on (VNI, MAC) -> one entry holding it. Every holder has
 * the same UUID (a MAC held by another VNIC is a conflict), so a slot is
 * only that entry, 8 bytes: its key is read from it (its VNI, its MAC
 * records). A slot does not say which of its entry's MACs it is for, so a
 * removal leaves a tombstone where the run goes on, and the table is
 * rebuilt from the entries when tombstones and slots in use fill it. */
static const struct tree_vnic mtab_tomb;
#define MTAB_TOMB (&mtab_tomb)

/* The slot of (vni, mac), or where it goes: the first tombstone of its run,
 * else the empty slot ending the run. */
static uint32_t
mtab_slot(const struct tree *t, uint32_t vni, const uint8_t mac[6])
{
    uint32_t m = t->mtabsz - 1, i = mac_hash(t, vni, mac) & m;
    uint32_t tomb = UINT32_MAX;
    const struct tree_vnic *s;

    for (; (s = t->mtab[i]) != NULL; i = (i + 1) & m) {
        if (s == MTAB_TOMB) {
            if (tomb == UINT32_MAX)
                tomb = i;
        } else if (s->vni == vni && vnic_has_mac(s, mac)) {
            return i;
        }
    }
    return tomb != UINT32_MAX ? tomb : i;
}

/* The entry the index names for (vni, mac), NULL if none holds it. */
static const struct tree_vnic *
mtab_find(const struct tree *t, uint32_t vni, const uint8_t mac[6])
{
    const struct tree_vnic *s;

    if (t->mtabsz == 0)
        return NULL;
    s = t->mtab[mtab_slot(t, vni, mac)];
    return s != MTAB_TOMB ? s : NULL;
}

/* v (holding mac) into the index unless another holder is there. */
static void
mtab_put(struct tree *t, const struct tree_vnic *v, const uint8_t mac[6])
{
    uint32_t i = mtab_slot(t, v->vni, mac);

    if (t->mtab[i] != NULL && t->mtab[i] != MTAB_TOMB)
        return;
    if (t->mtab[i] == MTAB_TOMB)
        t->mtabdead--;
    t->mtab[i] = v;
    t->mtabn++;
}

/* Rebuilt from the entries, without tombstones, at most half full. */
static int
mtab_rebuild(struct tree *t)
{
    uint32_t osz = t->mtabsz, nsz = osz ? osz : 64;
    const struct tree_vnic **old = t->mtab, **nt;

    while ((uint64_t)(t->mtabn + 1) * 2 >= nsz)
        nsz *= 2;
    if ((nt = calloc(nsz, sizeof(*nt))) == NULL)
        return -1;
    free(old);
    t->mtab = nt;
    t->mtabsz = nsz;
    t->mtabn = t->mtabdead = 0;
    t->mem += (uint64_t)(nsz - osz) * sizeof(*nt);
    for (uint32_t i = 0; i < t->tabsz; i++)
        for (const struct tree_vnic *v = t->tab[i]; v; v = v->same_next) {
            size_t len, off = 0;
            const uint8_t *d = recs(v, &len);
            for (; off < len; off += tree_rec_size(d[off]))
                if (d[off] == NVDP_ADDR_MAC)
                    mtab_put(t, v, d + off + 1);
        }
    return 0;
}

/* v has come to hold mac. */
static int
mtab_ref(struct tree *t, struct tree_vnic *v, const uint8_t mac[6])
{
    if ((uint64_t)(t->mtabn + t->mtabdead + 1) * 10 >= (uint64_t)t->mtabsz * 7
        && mtab_rebuild(t) < 0)
        return -1;
    mtab_put(t, v, mac);
    return 0;
}

/* v, still holding mac, is about to stop: if v is the slot's entry,
 * another entry of the same UUID holding it takes over, else the slot
 * goes. */
static void
mtab_unref(struct tree *t, struct tree_vnic *v, const uint8_t mac[6])
{
    uint32_t i = mtab_slot(t, v->vni, mac);

    if (t->mtab[i] != v)
        return;
    for (struct tree_vnic *o = chain_head(t, &v->uuid); o; o = o->same_next)
        if (o != v && o->vni == v->vni && vnic_has_mac(o, mac)) {
            t->mtab[i] = o;
            return;
        }
    t->mtabn--;
    /* the end of a run needs no tombstone */
    if (t->mtab[(i + 1) & (t->mtabsz - 1)] == NULL) {
        t->mtab[i] = NULL;
    } else {
        t->mtab[i] = MTAB_TOMB;
        t->mtabdead++;
    }
}

/* ---- hypervisors -------------------------------------------------------- */

uint32_t
tree_mac_hash(const struct tree *t, uint32_t k, const uint8_t mac[6])
{
    return mac_hash(t, k, mac);
}

static struct tree_hv **
hv_bucket(struct tree *t, uint16_t port, const uint8_t mac[6])
{
    return &t->hvtab[mac_hash(t, port, mac) & (TREE_HV_HASH - 1)];
}

struct tree_hv *
tree_hv_find(const struct tree *t, uint16_t port, const uint8_t hv[6])
{
    uint32_t i = mac_hash(t, port, hv) & (TREE_HV_HASH - 1);

    for (struct tree_hv *h = t->hvtab[i]; h; h = h->hnext)
        if (h->port == port && mac_eq(h->mac, hv))
            return h;
    return NULL;
}

/* A hypervisor's record on a port, made when it first holds an entry or
 * opens its session (spec 15); it counts among the port's hypervisors
 * holding entries only while it does (hv_holds). */
static struct tree_hv *
hv_get(struct tree *t, uint16_t port, const uint8_t mac[6])
{
    struct tree_hv *h = tree_hv_find(t, port, mac);

    if (h)
        return h;
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return NULL;
    memcpy(h->mac, mac, 6);
    h->port = port;
    h->next = t->hvs;
    t->hvs = h;
    h->hnext = *hv_bucket(t, port, mac);
    *hv_bucket(t, port, mac) = h;
    return h;
}

/* h came to hold entries (holds 1: its first) or holds none any more. */
static void
hv_holds(struct tree *t, const struct tree_hv *h, int holds)
{
    uint32_t d = holds ? 1 : (uint32_t)-1;

    t->nhv += d;
    if (t->port[h->port] != NULL)
        t->port[h->port]->nhv += d;
    if (t->hv_watch != NULL)
        t->hv_watch(t->hv_watch_arg, h->port, h->mac, holds);
}

/* h is freed once it neither holds entries nor is in session. */
static void
hv_put(struct tree *t, struct tree_hv *h)
{
    if (h->nvnic > 0 || h->sess)
        return;
    for (struct tree_hv **pp = &t->hvs; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            for (struct tree_hv **b = hv_bucket(t, h->port, h->mac); *b;
                 b = &(*b)->hnext)
                if (*b == h) {
                    *b = h->hnext;
                    break;
                }
            free(h);
            return;
        }
}

/* ---- reservations (protocol-spec 15) -------------------------------------
 * Each hypervisor in session on a port has a level per ceiling (VNICs,
 * address records): places of the ceiling reserved for it, those it holds
 * included, at most its share, ceiling / nshare. The port's owed is the
 * sum over them of what their levels reserve beyond what they hold, kept
 * with every change of a count, so that a request is decided in O(1). A
 * place beyond the requester's own reserved room comes only from room
 * neither held nor owed: held + owed never grows past the ceiling, so the
 * room owed to a hypervisor is there when it asks. A level is raised from
 * that free room only, when the session opens and when its hypervisor
 * asks: never taken from others (no eviction). */

static uint32_t
rv_held(const struct tree_hv *h, int w)
{
    return w == TREE_RV_VNICS ? h->nvnic : h->naddr;
}

static uint32_t
rv_port_held(const struct tree_port *p, int w)
{
    return w == TREE_RV_VNICS ? p->nvnic : p->naddr;
}

static uint32_t
rv_max(const struct tree_port *p, int w)
{
    return w == TREE_RV_VNICS ? p->max_vnics : p->max_addrs;
}

static uint32_t
rv_share(const struct tree_port *p, int w)
{
    return p->nshare ? rv_max(p, w) / p->nshare : 0;
}

/* What h's level reserves beyond what it holds. */
static uint32_t
rv_owed(const struct tree_hv *h, int w)
{
    uint32_t held = rv_held(h, w);

    return h->sess && h->level[w] > held ? h->level[w] - held : 0;
}

/* h's count of w was was_owed's worth of reserved room before it changed:
 * the port's owed follows. */
static void
rv_moved(struct tree *t, const struct tree_hv *h, int w, uint32_t was_owed)
{
    struct tree_port *p = t->port[h->port];

    if (p != NULL && h->sess)
        p->owed[w] = p->owed[w] - was_owed + rv_owed(h, w);
}

/* The port's room on w neither held nor owed. */
static uint32_t
rv_free(const struct tree_port *p, int w)
{
    uint64_t used = (uint64_t)rv_port_held(p, w) + p->owed[w];

    return used < rv_max(p, w) ? (uint32_t)(rv_max(p, w) - used) : 0;
}

/* h's level toward its share: what it holds, then free room. */
static void
rv_raise(struct tree_port *p, struct tree_hv *h, int w)
{
    uint32_t share = rv_share(p, w), was = rv_owed(h, w);
    uint32_t base = h->level[w] > rv_held(h, w) ? h->level[w]
                                                : rv_held(h, w);
    uint64_t l = (uint64_t)base + rv_free(p, w);

    if (!h->sess || h->level[w] >= share)
        return;
    h->level[w] = l < share ? (uint32_t)l : share;
    p->owed[w] = p->owed[w] - was + rv_owed(h, w);
}

/* The port's rule for k more places of w for h (NULL: holds none, not in
 * session): 1 within h's reserved room, 0 from free room, -1 refused (the
 * room left is owed to others). The hard ceiling is checked apart. */
static int
rv_admit(struct tree_port *p, struct tree_hv *h, int w, uint32_t k)
{
    uint32_t mine = 0;

    if (rv_max(p, w) == 0)
        return 0;
    if (h != NULL && h->sess) {
        rv_raise(p, h, w);
        mine = rv_owed(h, w);
    }
    if (k <= mine)
        return 1;
    return (uint64_t)rv_port_held(p, w) + k + p->owed[w] - mine <=
                   rv_max(p, w)
               ? 0
               : -1;
}

void
tree_hv_session(struct tree *t, uint16_t port, const uint8_t hv[6], int open)
{
    struct tree_port *p = port < TREE_MAX_PORTS ? t->port[port] : NULL;
    struct tree_hv *h = tree_hv_find(t, port, hv);

    if (open) {
        if (p == NULL || (h == NULL && (h = hv_get(t, port, hv)) == NULL))
            return;
        h->sess = 1;
        for (int w = 0; w < TREE_RV_N; w++)
            rv_raise(p, h, w);
        return;
    }
    if (h == NULL || !h->sess)
        return;
    for (int w = 0; w < TREE_RV_N; w++) {
        if (p != NULL)
            p->owed[w] -= rv_owed(h, w);
        h->level[w] = 0;
    }
    h->sess = 0;
    hv_put(t, h);
}

void
tree_port_set_share(struct tree *t, uint16_t port, uint32_t nshare)
{
    struct tree_port *p = port < TREE_MAX_PORTS ? t->port[port] : NULL;

    if (p == NULL)
        return;
    p->nshare = nshare;
    memset(p->owed, 0, sizeof(p->owed));
    for (struct tree_hv *h = t->hvs; h; h = h->next) {
        if (h->port != port || !h->sess)
            continue;
        for (int w = 0; w < TREE_RV_N; w++) {
            if (h->level[w] > rv_share(p, w))
                h->level[w] = rv_share(p, w);
            p->owed[w] += rv_owed(h, w);
        }
    }
}

/* ---- init --------------------------------------------------------------- */

int
tree_init(struct tree *t, const struct tree_sink *sink,
          const struct tree_limits *lim)
{
    memset(t, 0, sizeof(*t));
    if (sink)
        t->sink = *sink;
    t->lim = *lim;
    t->seed = tree_seed();
    t->next_expiry = UINT64_MAX;
    if (tab_grow(t) < 0 || mtab_rebuild(t) < 0)
        return -1;
    return 0;
}

static void vnic_remove(struct tree *t, struct tree_vnic *v);

void
tree_free(struct tree *t)
{
    /* Entries are freed without forwarder calls: the forwarder goes too. */
    t->sink = (struct tree_sink){0};
    for (uint32_t i = 0; i < t->tabsz; i++)
        while (t->tab && t->tab[i])
            vnic_remove(t, t->tab[i]);
    while (t->hvs != NULL) { /* in session, holding nothing */
        struct tree_hv *h = t->hvs;
        t->hvs = h->next;
        free(h);
    }
    for (unsigned p = 0; p < TREE_MAX_PORTS; p++)
        free(t->port[p]);
    free(t->tab);
    free(t->mtab);
    memset(t, 0, sizeof(*t));
}

int
tree_port_set(struct tree *t, uint16_t port, const struct tagset *tags,
              uint32_t max_vnics)
{
    if (port >= TREE_MAX_PORTS)
        return -1;
    if (t->port[port] == NULL) {
        if ((t->port[port] = calloc(1, sizeof(struct tree_port))) == NULL)
            return -1;
        tag_alloc_init(&t->port[port]->ta, tags);
    } else {
        tag_alloc_set_allowed(&t->port[port]->ta, tags);
    }
    t->port[port]->max_vnics = max_vnics;
    return 0;
}

void
tree_port_set_preassoc(struct tree *t, uint16_t port, uint32_t max)
{
    if (port < TREE_MAX_PORTS && t->port[port] != NULL)
        t->port[port]->max_preassoc = max;
}

void
tree_port_set_addrs(struct tree *t, uint16_t port, uint32_t max)
{
    if (port < TREE_MAX_PORTS && t->port[port] != NULL)
        t->port[port]->max_addrs = max;
}

void
tree_port_del(struct tree *t, uint16_t port)
{
    struct tree_filter f = {.port = port, .any_vni = 1};

    if (port >= TREE_MAX_PORTS || t->port[port] == NULL)
        return;
    tree_withdraw(t, &f, NULL, NULL);
    for (struct tree_hv *h = t->hvs, *nx; h; h = nx) {
        nx = h->next;
        if (h->port == port)
            tree_hv_session(t, port, h->mac, 0);
    }
    free(t->port[port]);
    t->port[port] = NULL;
}

const struct tag_alloc *
tree_port_tags(const struct tree *t, uint16_t port)
{
    return port < TREE_MAX_PORTS && t->port[port] ? &t->port[port]->ta
                                                  : NULL;
}

/* ---- entry life cycle --------------------------------------------------- */

/* Takes the (port, VN) tag reference for v. */
static int
vnic_take_tag(struct tree *t, struct tree_vnic *v, uint16_t hint)
{
    uint16_t tag;

    if (v->tag)
        return 0;
    tag = tag_get(&t->port[v->port]->ta, v->vni, hint, NULL);
    if (tag == 0)
        return -1;
    v->tag = tag;
    return 0;
}

static void
vnic_drop_tag(struct tree *t, struct tree_vnic *v)
{
    if (v->tag == 0)
        return;
    tag_put(&t->port[v->port]->ta, v->vni);
    v->tag = 0;
}

/* v (holding its tag) became / stopped being associated. */
static void
tag_activate(struct tree *t, const struct tree_vnic *v)
{
    if (t->port[v->port]->active[v->tag]++ == 0)
        fw_bind(t, v->port, v->tag, v->vni);
}

static void
tag_deactivate(struct tree *t, const struct tree_vnic *v)
{
    if (--t->port[v->port]->active[v->tag] == 0)
        fw_unbind(t, v->port, v->tag);
}

/* Every MAC of v active or not in the forwarder (VNIC_STATE). */
static void
vnic_macs_active(struct tree *t, const struct tree_vnic *v, int active)
{
    struct tree_addr_it it;
    struct nvdp_addr a;

    for (tree_addr_first(&v->rec, v->naddr, &it); tree_addr_next(&it, &a);)
        if (a.kind == NVDP_ADDR_MAC)
            fw_active(t, v, a.mac, active);
}

/* Programs every address of an associated entry (after promotion, or when
 * another location of the same VNIC went away): MACs before the IPs under
 * them. */
static void
vnic_program(struct tree *t, struct tree_vnic *v)
{
    struct tree_addr_it it;
    struct nvdp_addr a;

    for (int ips = 0; ips < 2; ips++)
        for (tree_addr_first(&v->rec, v->naddr, &it);
             tree_addr_next(&it, &a);)
            if ((a.kind != NVDP_ADDR_MAC) == ips)
                fw_add(t, v, &a);
    if (v->flags & TREE_F_DOWN)
        vnic_macs_active(t, v, 0);
}

static void
vnic_unprogram(struct tree *t, struct tree_vnic *v)
{
    struct tree_addr_it it;
    struct nvdp_addr a;

    for (int macs = 0; macs < 2; macs++)
        for (tree_addr_first(&v->rec, v->naddr, &it);
             tree_addr_next(&it, &a);)
            if ((a.kind == NVDP_ADDR_MAC) == macs)
                fw_del(t, v, &a);
}

static struct tree_vnic *
vnic_new(struct tree *t, const struct tree_req *r, struct tree_hv *h)
{
    struct tree_vnic *v;

    if (t->tabn * 10 >= t->tabsz * 7 && tab_grow(t) < 0)
        return NULL;
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return NULL;
    v->uuid = *r->vnic;
    v->vni = r->vni;
    v->port = r->port;
    v->hv = h;
    uint32_t i = tab_slot(t, r->vnic);
    if (t->tab[i] == NULL)
        t->tabn++;
    v->same_next = t->tab[i];
    t->tab[i] = v;
    v->hv_next = h->head;
    if (h->head)
        h->head->hv_prev = v;
    h->head = v;
    uint32_t was = rv_owed(h, TREE_RV_VNICS);
    if (h->nvnic++ == 0)
        hv_holds(t, h, 1);
    rv_moved(t, h, TREE_RV_VNICS, was);
    t->port[r->port]->nvnic++;
    t->nvnic++;
    t->mem += sizeof(*v) + TREE_MALLOC_OVH;
    return v;
}

/* v enters (d 1) or leaves (-1) the pre-associated states. */
static void
preassoc_count(struct tree *t, const struct tree_vnic *v, int d)
{
    t->npreassoc += (uint32_t)d;
    if (t->port[v->port] != NULL)
        t->port[v->port]->npreassoc += (uint32_t)d;
}

static void
vnic_set_preassoc(struct tree *t, struct tree_vnic *v, uint8_t state,
                  uint64_t now)
{
    if (v->state != TREE_ST_PREASSOC && v->state != TREE_ST_PREASSOC_RR)
        preassoc_count(t, v, 1);
    v->state = state;
    v->expires = now + t->lim.preassoc_ms;
    if (v->expires < t->next_expiry)
        t->next_expiry = v->expires;
}

static void
vnic_remove(struct tree *t, struct tree_vnic *v)
{
    struct tree_hv *h = v->hv;
    int was_assoc = v->state == TREE_ST_ASSOC;

    if (was_assoc) {
        vnic_unprogram(t, v);
        tag_deactivate(t, v);
    } else {
        preassoc_count(t, v, -1);
    }
    struct tree_addr_it it;
    struct nvdp_addr a;
    for (tree_addr_first(&v->rec, v->naddr, &it); tree_addr_next(&it, &a);)
        if (a.kind == NVDP_ADDR_MAC)
            mtab_unref(t, v, a.mac);
    vnic_drop_tag(t, v);

    /* unlink from the UUID chain */
    uint32_t i = tab_slot(t, &v->uuid);
    struct tree_vnic **pp = &t->tab[i];
    while (*pp != v)
        pp = &(*pp)->same_next;
    *pp = v->same_next;
    if (t->tab[i] == NULL)
        tab_del(t, i);

    /* A migration left another associated location of this VNIC in the
     * same VN: make sure the forwarder points there, not at nothing. */
    if (was_assoc)
        for (struct tree_vnic *o = chain_head(t, &v->uuid); o;
             o = o->same_next)
            if (o->state == TREE_ST_ASSOC && o->vni == v->vni)
                vnic_program(t, o);

    if (v->hv_prev)
        v->hv_prev->hv_next = v->hv_next;
    else
        h->head = v->hv_next;
    if (v->hv_next)
        v->hv_next->hv_prev = v->hv_prev;
    uint32_t was_v = rv_owed(h, TREE_RV_VNICS);
    uint32_t was_a = rv_owed(h, TREE_RV_ADDRS);
    h->nvnic--;
    h->naddr -= v->naddr;
    rv_moved(t, h, TREE_RV_VNICS, was_v);
    rv_moved(t, h, TREE_RV_ADDRS, was_a);
    if (h->nvnic == 0)
        hv_holds(t, h, 0);
    if (t->port[v->port]) {
        t->port[v->port]->nvnic--;
        t->port[v->port]->naddr -= v->naddr;
    }
    t->nvnic--;
    recs_mem(t, tree_recs_heap(&v->rec, v->naddr), 0);
    t->mem -= sizeof(*v) + TREE_MALLOC_OVH;
    tree_recs_free(&v->rec, v->naddr);
    free(v);
    hv_put(t, h);
}

/* ---- addresses ---------------------------------------------------------- */

/* Removes v's record at byte off (told to the forwarder first). */
static void
vnic_drop_addr(struct tree *t, struct tree_vnic *v, size_t off)
{
    struct nvdp_addr a;
    size_t len, h0 = tree_recs_heap(&v->rec, v->naddr);

    tree_rec_decode(recs(v, &len) + off, &a);
    if (v->state == TREE_ST_ASSOC)
        fw_del(t, v, &a);
    if (a.kind == NVDP_ADDR_MAC)
        mtab_unref(t, v, a.mac);
    tree_recs_remove(&v->rec, v->naddr--, off);
    recs_mem(t, h0, tree_recs_heap(&v->rec, v->naddr));
    uint32_t was = rv_owed(v->hv, TREE_RV_ADDRS);
    v->hv->naddr--;
    rv_moved(t, v->hv, TREE_RV_ADDRS, was);
    t->port[v->port]->naddr--;
}

static int
vnic_push_addr(struct tree *t, struct tree_vnic *v, const struct nvdp_addr *a)
{
    uint8_t rec[TREE_REC_MAX];
    size_t rl = tree_rec_encode(a, rec), off;
    size_t h0 = tree_recs_heap(&v->rec, v->naddr);

    recs(v, &off);
    if (v->naddr == UINT16_MAX ||
        tree_recs_append(&v->rec, v->naddr, rec, rl) < 0)
        return -1;
    v->naddr++;
    recs_mem(t, h0, tree_recs_heap(&v->rec, v->naddr));
    uint32_t was = rv_owed(v->hv, TREE_RV_ADDRS);
    v->hv->naddr++;
    t->port[v->port]->naddr++;
    if (a->kind == NVDP_ADDR_MAC && mtab_ref(t, v, a->mac) < 0) {
        h0 = tree_recs_heap(&v->rec, v->naddr);
        tree_recs_remove(&v->rec, v->naddr--, off);
        recs_mem(t, h0, tree_recs_heap(&v->rec, v->naddr));
        v->hv->naddr--;
        t->port[v->port]->naddr--;
        return -1;
    }
    rv_moved(t, v->hv, TREE_RV_ADDRS, was);
    if (v->state == TREE_ST_ASSOC) {
        fw_add(t, v, a);
        if (a->kind == NVDP_ADDR_MAC && (v->flags & TREE_F_DOWN))
            fw_active(t, v, a->mac, 0);
    }
    return 0;
}

/* The port's ceiling on w shared out (spec 15): k more places for h
 * (NULL: a hypervisor holding none) within its reservation, or from room
 * owed to no one and then within the 7/8 rule (tree_over_share). */
static int
port_share_check(struct tree_port *p, struct tree_hv *h, int w, uint32_t k,
                 struct tree_res *res)
{
    static const char *const what[TREE_RV_N] = {"VNICs", "addresses"};
    int rv = rv_admit(p, h, w, k);

    if (rv < 0)
        res_set(res, NVDP_ST_LIMIT, "port is crowded: the rest of its %u "
                "%s is reserved for hypervisors in session",
                rv_max(p, w), what[w]);
    else if (rv == 0 && tree_over_share(rv_max(p, w), rv_port_held(p, w),
                                        p->nhv, h ? rv_held(h, w) : 0))
        res_set(res, NVDP_ST_LIMIT, "port is crowded: hypervisor holds its "
                "share of the port's %u %s", rv_max(p, w), what[w]);
    else
        return 0;
    res->limit = TREE_LIM_PORT_SHARE;
    return -1;
}

/* Records the addresses of a request would add (with the MAC records
 * they imply), checking conflicts and the limit first so that a refused
 * request changes nothing. */
static int
addrs_check(struct tree *t, const struct tree_req *r,
            const struct tree_vnic *v, struct tree_res *res)
{
    struct tree_hv *h;
    struct tree_port *p;
    unsigned extra = 0;

    for (unsigned i = 0; i < r->naddr; i++) {
        const struct nvdp_addr *a = &r->addr[i];
        const struct tree_vnic *s = mtab_find(t, r->vni, a->mac);
        char ms[NVDP_MAC_STRLEN];

        if (mac_eq(a->mac, zero_mac) || (a->mac[0] & 1)) {
            nvdp_mac_fmt(a->mac, ms);
            res_set(res, NVDP_ST_MALFORMED, "MAC %s is not a unicast MAC", ms);
            return -1;
        }
        if (s && !uuid_eq(&s->uuid, r->vnic)) {
            char us[NVDP_UUID_STRLEN];
            nvdp_mac_fmt(a->mac, ms);
            nvdp_uuid_fmt(&s->uuid, us);
            res_set(res, NVDP_ST_CONFLICT, "MAC %s is in use in VNI %u by VNIC %s",
                    ms, r->vni, us);
            return -1;
        }
        /* count records this request would create (dups inside the
         * request are counted twice: harmless, the limit is a ceiling) */
        struct nvdp_addr m;
        mac_only(&m, a->mac);
        int had_mac = v && vnic_has_addr(v, &m);
        for (unsigned j = 0; j < i && !had_mac; j++)
            if (mac_eq(r->addr[j].mac, a->mac))
                had_mac = 1;
        if (!had_mac)
            extra++;
        if (a->kind != NVDP_ADDR_MAC && !(v && vnic_has_addr(v, a)))
            extra++;
    }
    if (t->lim.max_addrs && (v ? v->naddr : 0) + extra > t->lim.max_addrs) {
        res_set(res, NVDP_ST_LIMIT, "VNIC would hold %u addresses, limit is %u",
                (v ? v->naddr : 0) + extra, t->lim.max_addrs);
        res->limit = TREE_LIM_VNIC_ADDRS;
        return -1;
    }
    /* what a restated entry drops is not subtracted: a ceiling again */
    h = v ? v->hv : tree_hv_find(t, r->port, r->hv);
    if (t->lim.max_addrs_per_hv && extra > 0 &&
        (h ? h->naddr : 0) + extra > t->lim.max_addrs_per_hv) {
        res_set(res, NVDP_ST_LIMIT, "hypervisor would hold %u addresses, "
                "limit is %u", (h ? h->naddr : 0) + extra,
                t->lim.max_addrs_per_hv);
        res->limit = TREE_LIM_HV_ADDRS;
        return -1;
    }
    p = t->port[r->port];
    if (p->max_addrs && extra > 0 && p->naddr + extra > p->max_addrs) {
        res_set(res, NVDP_ST_LIMIT, "port would hold %u addresses, limit "
                "is %u", p->naddr + extra, p->max_addrs);
        res->limit = TREE_LIM_PORT_ADDRS;
        return -1;
    }
    if (extra == 0)
        return 0;
    return port_share_check(p, h, TREE_RV_ADDRS, extra, res);
}

/* A resync replay restates the VNIC's addresses: those of the stale entry
 * the request does not name go (IPs first, then MACs none is left under). */
static void
addrs_restate(struct tree *t, struct tree_vnic *v, const struct tree_req *r)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t len, off = 0, rl;
        const uint8_t *d = recs(v, &len);
        while (off < len) {
            struct nvdp_addr a;
            int keep = 0;
            rl = tree_rec_decode(d + off, &a);
            if ((a.kind == NVDP_ADDR_MAC) != pass) {
                off += rl;
                continue;
            }
            for (unsigned k = 0; k < r->naddr && !keep; k++)
                keep = pass ? mac_eq(a.mac, r->addr[k].mac) :
                              nvdp_addr_equal(&a, &r->addr[k]);
            if (keep) {
                off += rl;
                continue;
            }
            vnic_drop_addr(t, v, off); /* the next record moves to off */
            d = recs(v, &len);
        }
    }
}

static int
addrs_add(struct tree *t, struct tree_vnic *v, const struct tree_req *r)
{
    for (unsigned i = 0; i < r->naddr; i++) {
        const struct nvdp_addr *a = &r->addr[i];
        struct nvdp_addr m;

        mac_only(&m, a->mac);
        if (!vnic_has_addr(v, &m) && vnic_push_addr(t, v, &m) < 0)
            return -1;
        if (a->kind != NVDP_ADDR_MAC && !vnic_has_addr(v, a) &&
            vnic_push_addr(t, v, a) < 0)
            return -1;
    }
    return 0;
}

/* ---- requests ----------------------------------------------------------- */

static int
port_check(struct tree *t, const struct tree_req *r, struct tree_res *res)
{
    memset(res, 0, sizeof(*res));
    if (r->port >= TREE_MAX_PORTS || t->port[r->port] == NULL) {
        res_set(res, NVDP_ST_INTERNAL, "port %u is not configured", r->port);
        return -1;
    }
    return 0;
}

enum attach_kind { AT_CONNECT, AT_ASSOC, AT_PREASSOC, AT_PREASSOC_RR };

/* The fair-share rule (protocol-spec 16), for the NVE's VNICs and a
 * port's VNICs and addresses: the last eighth of a ceiling max is kept
 * for hypervisors below their fair share (what they hold against the
 * ceiling's 7/8 over the nhv hypervisors holding any). held is what all
 * hold, mine what this one holds: 1 refuses a request that adds to it. A
 * station that fills the NVE or a port from many MACs does not keep a
 * hypervisor from its first VNICs. */
int
tree_over_share(uint32_t max, uint32_t held, uint32_t nhv, uint32_t mine)
{
    uint32_t soft = max - max / 8;

    if (max == 0 || held < soft || nhv == 0)
        return 0;
    return mine >= soft / nhv;
}

/* Common path of VN_CONNECT, ASSOC and PREASSOC: validate everything, then
 * create or update the entry so a refusal leaves no trace. */
static void
tree_attach(struct tree *t, const struct tree_req *r, enum attach_kind k,
            struct tree_res *res)
{
    struct tree_port *p;
    struct tree_vnic *v, *o;
    struct tree_hv *h;
    int want_tag = (k == AT_CONNECT || k == AT_ASSOC || k == AT_PREASSOC_RR);
    int is_new = 0, restate;

    if (port_check(t, r, res) < 0)
        return;
    p = t->port[r->port];
    for (o = chain_head(t, r->vnic); o; o = o->same_next)
        if (o->port == r->port && o->vni != r->vni &&
            !((o->flags & TREE_F_STALE) && mac_eq(o->hv->mac, r->hv))) {
            res_set(res, NVDP_ST_CONFLICT,
                    "VNIC is connected to VNI %u on this port", o->vni);
            return;
        }
    /* This hypervisor's own entry, not replayed yet in its resync, in
     * another VN, or holding more than the replay asks (associated, or a
     * reserved tag): the hypervisor changed the VNIC and lost track of
     * what it had (a restart). The replay restates it; END would sweep the
     * old entry anyway (spec 9.9). A stale entry that stays keeps its tag
     * and forwarding, and only the replayed addresses. */
    v = tree_find(t, r->vnic, r->port, r->hv);
    if (v != NULL && (v->vni != r->vni ||
                      ((v->flags & TREE_F_STALE) &&
                       ((v->state == TREE_ST_ASSOC && k != AT_ASSOC &&
                         k != AT_CONNECT) ||
                        (v->state == TREE_ST_PREASSOC_RR &&
                         k == AT_PREASSOC))))) {
        vnic_remove(t, v);
        v = NULL;
    }
    restate = v != NULL && (v->flags & TREE_F_STALE) && k != AT_CONNECT;
    if (addrs_check(t, r, v, res) < 0)
        return;
    if (v == NULL) {
        h = tree_hv_find(t, r->port, r->hv);
        /* within its port reservation the NVE's 7/8 rule does not apply
         * either: only the hard ceilings (spec 15) */
        int mine = rv_admit(p, h, TREE_RV_VNICS, 1) > 0;
        if (t->lim.max_vnics && t->nvnic >= t->lim.max_vnics) {
            res_set(res, NVDP_ST_LIMIT, "NVE holds its limit of %u VNICs",
                    t->lim.max_vnics);
            res->limit = TREE_LIM_VNICS;
            return;
        }
        if (h != NULL && !mine &&
            tree_over_share(t->lim.max_vnics, t->nvnic, t->nhv, h->nvnic)) {
            res_set(res, NVDP_ST_LIMIT, "NVE is crowded: hypervisor holds "
                    "its share of %u VNICs", t->lim.max_vnics);
            res->limit = TREE_LIM_SHARE;
            return;
        }
        if (p->max_vnics && p->nvnic >= p->max_vnics) {
            res_set(res, NVDP_ST_LIMIT, "port holds its limit of %u VNICs",
                    p->max_vnics);
            res->limit = TREE_LIM_PORT_VNICS;
            return;
        }
        if (!mine && port_share_check(p, h, TREE_RV_VNICS, 1, res) < 0)
            return;
        if (t->lim.max_vnics_per_hv && h &&
            h->nvnic >= t->lim.max_vnics_per_hv) {
            res_set(res, NVDP_ST_LIMIT,
                    "hypervisor holds its limit of %u VNICs",
                    t->lim.max_vnics_per_hv);
            res->limit = TREE_LIM_HV_VNICS;
            return;
        }
        if ((k == AT_PREASSOC || k == AT_PREASSOC_RR) && p->max_preassoc &&
            p->npreassoc >= p->max_preassoc) {
            res_set(res, NVDP_ST_LIMIT,
                    "port holds its limit of %u pre-associations",
                    p->max_preassoc);
            res->limit = TREE_LIM_PREASSOC;
            return;
        }
        /* A tag is needed and none is left: refuse before creating. */
        if (want_tag && tag_lookup(&p->ta, r->vni) == 0 &&
            tag_free_count(&p->ta) == 0) {
            res_set(res, NVDP_ST_NO_TAGS, "no free tag left on this port");
            return;
        }
        if ((h = hv_get(t, r->port, r->hv)) == NULL ||
            (v = vnic_new(t, r, h)) == NULL) {
            if (h)
                hv_put(t, h);
            res_set(res, NVDP_ST_INTERNAL, "out of memory");
            return;
        }
        is_new = 1;
        res->created = 1;
    }
    if (want_tag && vnic_take_tag(t, v, r->tag_hint) < 0) {
        res_set(res, NVDP_ST_NO_TAGS, "no free tag left on this port");
        if (is_new) {
            v->state = TREE_ST_PREASSOC; /* not programmed: nothing to undo */
            preassoc_count(t, v, 1);
            vnic_remove(t, v);
        }
        return;
    }
    /* A resync replay restates the VNIC: up, unless the hypervisor follows
     * it with VNIC_STATE down (spec 11.5). Outside a resync an ASSOC only
     * adds addresses and a down VNIC stays down. */
    if (k != AT_CONNECT && (v->flags & TREE_F_STALE) &&
        (v->flags & TREE_F_DOWN)) {
        v->flags &= ~TREE_F_DOWN;
        if (v->state == TREE_ST_ASSOC)
            vnic_macs_active(t, v, 1);
    }
    switch (k) {
    case AT_CONNECT:
    case AT_ASSOC:
        if (v->state != TREE_ST_ASSOC) {
            if (!is_new) {
                preassoc_count(t, v, -1);
                res->promoted = 1;
            }
            v->state = TREE_ST_ASSOC;
            tag_activate(t, v);
            vnic_program(t, v);
        }
        break;
    case AT_PREASSOC:
    case AT_PREASSOC_RR:
        if (v->state == TREE_ST_ASSOC)
            break; /* never demote a live association */
        vnic_set_preassoc(t, v,
                          (k == AT_PREASSOC_RR || v->state == TREE_ST_PREASSOC_RR)
                              ? TREE_ST_PREASSOC_RR
                              : TREE_ST_PREASSOC,
                          r->now);
        break;
    }
    v->flags &= ~(TREE_F_STALE | TREE_F_VN_UUID);
    if (r->vn_uuid)
        v->flags |= TREE_F_VN_UUID;
    if (restate)
        addrs_restate(t, v, r);
    if (addrs_add(t, v, r) < 0) {
        res_set(res, NVDP_ST_INTERNAL, "out of memory");
        return;
    }
    res->status = NVDP_ST_OK;
    if (k != AT_PREASSOC && v->tag) {
        res->tag = v->tag;
        res->has_tag = 1;
    }
}

void
tree_connect(struct tree *t, const struct tree_req *r, struct tree_res *res)
{
    struct tree_req c = *r;

    c.naddr = 0;
    tree_attach(t, &c, AT_CONNECT, res);
}

void
tree_assoc(struct tree *t, const struct tree_req *r, struct tree_res *res)
{
    tree_attach(t, r, AT_ASSOC, res);
}

void
tree_preassoc(struct tree *t, const struct tree_req *r, int rr,
              struct tree_res *res)
{
    tree_attach(t, r, rr ? AT_PREASSOC_RR : AT_PREASSOC, res);
}

void
tree_disconnect(struct tree *t, const struct tree_req *r, struct tree_res *res)
{
    struct tree_vnic *v;

    if (port_check(t, r, res) < 0)
        return;
    v = tree_find(t, r->vnic, r->port, r->hv);
    if (v && v->vni == r->vni)
        vnic_remove(t, v);
    res->status = NVDP_ST_OK;
}

void
tree_disassoc(struct tree *t, const struct tree_req *r, struct tree_res *res)
{
    struct tree_vnic *v;

    if (port_check(t, r, res) < 0)
        return;
    res->status = NVDP_ST_OK;
    v = tree_find(t, r->vnic, r->port, r->hv);
    if (v == NULL || v->vni != r->vni)
        return;
    for (unsigned k = 0; k < r->naddr; k++) {
        const struct nvdp_addr *a = &r->addr[k];
        uint8_t rec[TREE_REC_MAX];
        long at;
        if (a->kind == NVDP_ADDR_MAC) {
            /* the MAC goes with every IP under it: IPs first */
            size_t len, off = 0;
            const uint8_t *d = recs(v, &len);
            while (off < len) {
                if (d[off] != NVDP_ADDR_MAC && mac_eq(d + off + 1, a->mac)) {
                    vnic_drop_addr(t, v, off);
                    d = recs(v, &len);
                } else {
                    off += tree_rec_size(d[off]);
                }
            }
        }
        if ((at = rec_find(v, rec, tree_rec_encode(a, rec))) >= 0)
            vnic_drop_addr(t, v, (size_t)at);
    }
    /* re-assert another location's entries for MACs this one dropped */
    for (struct tree_vnic *o = chain_head(t, &v->uuid); o; o = o->same_next)
        if (o != v && o->state == TREE_ST_ASSOC && o->vni == v->vni &&
            v->state == TREE_ST_ASSOC)
            vnic_program(t, o);
}

void
tree_vnic_disassoc(struct tree *t, const struct tree_req *r, uint8_t intent,
                   struct tree_res *res)
{
    struct tree_vnic *v;

    if (port_check(t, r, res) < 0)
        return;
    res->status = NVDP_ST_OK;
    if (intent == NVDP_INTENT_SHUTDOWN) {
        /* The VNIC is gone for good: purge it from every port, including
         * pre-associations a migration destination may have made. */
        while ((v = chain_head(t, r->vnic)) != NULL)
            vnic_remove(t, v);
        return;
    }
    if ((v = tree_find(t, r->vnic, r->port, r->hv)) != NULL) {
        /* seed 001 4.4: a VNIC migrating away may stay advertised */
        t->leaving = r->intent == NVDP_INTENT_MIGRATION;
        vnic_remove(t, v);
        t->leaving = 0;
    }
}

void
tree_vnic_state(struct tree *t, const struct tree_req *r, int up,
                struct tree_res *res)
{
    struct tree_vnic *v;
    uint8_t down = up ? 0 : TREE_F_DOWN;

    if (port_check(t, r, res) < 0)
        return;
    v = tree_find(t, r->vnic, r->port, r->hv);
    if (v == NULL) {
        res_set(res, NVDP_ST_UNKNOWN_VNIC, "VNIC is not known on this port");
        return;
    }
    res->status = NVDP_ST_OK;
    if (v->tag) {
        res->tag = v->tag;
        res->has_tag = 1;
    }
    if ((v->flags & TREE_F_DOWN) == down)
        return;
    v->flags = (uint8_t)((v->flags & ~TREE_F_DOWN) | down);
    if (v->state == TREE_ST_ASSOC)
        vnic_macs_active(t, v, up);
}

/* ---- hypervisor-wide ---------------------------------------------------- */

unsigned
tree_hv_mark_stale(struct tree *t, uint16_t port, const uint8_t hv[6])
{
    struct tree_hv *h = tree_hv_find(t, port, hv);
    unsigned n = 0;

    for (struct tree_vnic *v = h ? h->head : NULL; v; v = v->hv_next, n++)
        v->flags |= TREE_F_STALE;
    return n;
}

static unsigned
hv_remove_if(struct tree *t, uint16_t port, const uint8_t hv[6],
             uint8_t flag)
{
    struct tree_hv *h = tree_hv_find(t, port, hv);
    unsigned n = 0;

    if (h == NULL)
        return 0;
    /* h is freed with its last entry: stop on count, not on pointers. */
    for (struct tree_vnic *v = h->head, *nx; v; v = nx) {
        int last = h->nvnic == 1;
        nx = v->hv_next;
        if (flag == 0 || (v->flags & flag)) {
            vnic_remove(t, v);
            n++;
            if (last)
                break;
        }
    }
    return n;
}

unsigned
tree_hv_sweep_stale(struct tree *t, uint16_t port, const uint8_t hv[6])
{
    return hv_remove_if(t, port, hv, TREE_F_STALE);
}

unsigned
tree_hv_release(struct tree *t, uint16_t port, const uint8_t hv[6])
{
    return hv_remove_if(t, port, hv, 0);
}

uint64_t
tree_next_expiry(const struct tree *t)
{
    return t->npreassoc ? t->next_expiry : UINT64_MAX;
}

unsigned
tree_expire(struct tree *t, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    unsigned n = 0;

    if (t->npreassoc == 0 || now < t->next_expiry)
        return 0;
    for (uint32_t i = 0; i < t->tabsz; i++) {
    again:
        for (struct tree_vnic *v = t->tab[i]; v; v = v->same_next) {
            if (v->state == TREE_ST_ASSOC)
                continue;
            if (v->expires <= now) {
                vnic_remove(t, v);
                n++;
                /* the slot may now hold a shifted chain: rescan it */
                if (t->tab[i])
                    goto again;
                break;
            }
            if (v->expires < next)
                next = v->expires;
        }
    }
    t->next_expiry = next;
    return n;
}

static int
filter_match(const struct tree_filter *f, const struct tree_vnic *v)
{
    return (f->port == TREE_ANY_PORT || f->port == v->port) &&
           (f->any_vni || f->vni == v->vni) &&
           (f->vnic == NULL || uuid_eq(f->vnic, &v->uuid)) &&
           (f->hv == NULL || mac_eq(f->hv, v->hv->mac));
}

unsigned
tree_withdraw(struct tree *t, const struct tree_filter *fin, tree_vnic_cb cb,
              void *arg)
{
    /* The caller may point the filter into the tree itself (a hypervisor
     * record's MAC, an entry's UUID), which the removals free: copy. */
    struct tree_filter fc = *fin, *f = &fc;
    struct nvdp_uuid u;
    uint8_t mac[6];
    unsigned n = 0;

    if (fin->vnic) {
        u = *fin->vnic;
        fc.vnic = &u;
    }
    if (fin->hv) {
        memcpy(mac, fin->hv, 6);
        fc.hv = mac;
    }
    if (fin->vnic) {
        /* one VNIC: its chain only, not the whole table (a hypervisor's
         * shutdown of a VNIC lands here, once per request) */
        for (struct tree_vnic *v = chain_head(t, &u), *nx; v; v = nx) {
            nx = v->same_next;
            if (filter_match(f, v)) {
                if (cb)
                    cb(arg, v);
                vnic_remove(t, v);
                n++;
            }
        }
        return n;
    }

    for (uint32_t i = 0; i < t->tabsz; i++) {
    again:
        for (struct tree_vnic *v = t->tab[i]; v; v = v->same_next)
            if (filter_match(f, v)) {
                if (cb)
                    cb(arg, v);
                vnic_remove(t, v);
                n++;
                if (t->tab[i])
                    goto again;
                break;
            }
    }
    return n;
}

void
tree_foreach(const struct tree *t, tree_vnic_cb cb, void *arg)
{
    for (uint32_t i = 0; i < t->tabsz; i++)
        for (struct tree_vnic *v = t->tab[i]; v; v = v->same_next)
            cb(arg, v);
}
