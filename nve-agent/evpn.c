/* evpn.c - the EVPN engine: our associations mirrored into the shadow
 * devices, zebra's entries read back and programmed into the forwarder,
 * MAC mobility, and forwarding state held through FRR outages.
 *
 * Reading the kernel (verified with FRR 8.4; nve-agent(8), EVPN):
 *  - a MAC is remote exactly when its *bridge* entry (NDA_MASTER, no
 *    NTF_SELF) is on the vxlan device; its VTEP is the NDA_DST of the vxlan
 *    device's NTF_SELF entry. FRR leaves that self entry as it was when the
 *    MAC becomes local, and rewrites it right after the bridge entry only
 *    when the MAC goes remote behind another VTEP: the old one is the best
 *    guess until a fresh one comes (microseconds later), so the MAC is
 *    programmed at once, and again if a fresh self entry follows;
 *  - zero-MAC self entries on the vxlan device are the flood list (type 3);
 *  - extern_learn neighbours on the bridge are remote MAC+IP (type 2); a
 *    withdrawal is RTM_NEWNEIGH FAILED without extern_learn, then DEL, both
 *    matched by (bridge, IP);
 *  - entries on the shadow port are our own writes echoed back.
 * Changes are marked dirty as messages come and applied by evpn_sync once
 * the socket is drained (the two messages of one type-2 route arrive
 * microseconds apart). FRR stopping deletes everything it installed: a
 * withdrawal waits withdraw_delay_ms and is applied only if the FRR that
 * made it is still running; otherwise the forwarder keeps the entry (stale)
 * until FRR re-installs it or the grace period ends. */
#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "evpn_int.h"
#include "fwd.h"
#include "hash.h"
#include "log.h"

#ifndef AF_BRIDGE
#define AF_BRIDGE 7
#endif

static const uint8_t zero_mac[6];

/* ---- names ------------------------------------------------------------- */

void
evpn_ifname(char *buf, enum evpn_ifrole role, uint32_t vni)
{
    snprintf(buf, 16, EVPN_IFPFX "%c%u", (char)role, vni & 0xFFFFFF);
}

void
evpn_ifalias(char *buf, size_t len, uint32_t vni)
{
    snprintf(buf, len, "splitnve nve-agent: EVPN shadow device of VNI %u",
             vni);
}

const char *
evpn_frr_state_str(unsigned s)
{
    static const char *const n[] = {"down", "up", "outage", "reconciling"};
    return s < 4 ? n[s] : "?";
}

const char *
evpn_lstate_str(unsigned s)
{
    static const char *const n[] = {"none", "advertised", "held", "taken"};
    return s < 4 ? n[s] : "?";
}

/* ---- hashing ----------------------------------------------------------- */

static uint32_t
mac_hash(const struct evpn *e, const struct evpn_vn *vn, const uint8_t mac[6])
{
    uint64_t h = hash_bytes(e->seed ^ vn->vni, mac, 6);
    return (uint32_t)(h >> (64 - e->mbits));
}

static uint32_t
ip_hash(const struct evpn *e, const struct evpn_vn *vn, uint8_t fam,
        const uint8_t ip[16])
{
    uint64_t h = hash_bytes(e->seed ^ vn->vni ^ ((uint64_t)fam << 32), ip,
                            fam == 4 ? 4 : 16);
    return (uint32_t)(h >> (64 - e->ibits));
}

static int
grow(void ***tab, uint32_t *bits, uint32_t n, size_t nextoff,
     uint32_t (*rehash)(const struct evpn *, const void *),
     const struct evpn *e)
{
    if (n < (1u << *bits) * 2u)
        return 0;
    uint32_t nb = *bits + 1;
    void **nt = calloc((size_t)1 << nb, sizeof(*nt));
    if (nt == NULL)
        return -1;
    uint32_t old = *bits;
    *bits = nb;
    for (uint32_t i = 0; i < (1u << old); i++) {
        void *x = (*tab)[i];
        while (x) {
            void **nx = (void **)((char *)x + nextoff);
            void *next = *nx;
            uint32_t h = rehash(e, x);
            *nx = nt[h];
            nt[h] = x;
            x = next;
        }
    }
    free(*tab);
    *tab = nt;
    return 0;
}

static uint32_t
mac_rehash(const struct evpn *e, const void *x)
{
    const struct evpn_mac *m = x;
    return mac_hash(e, m->vn, m->mac);
}

static uint32_t
ip_rehash(const struct evpn *e, const void *x)
{
    const struct evpn_ip *i = x;
    return ip_hash(e, i->vn, i->family, i->ip);
}

/* ---- VNs and interfaces ----------------------------------------------- */

static struct evpn_vn *
vn_find(const struct evpn *e, uint32_t vni)
{
    for (struct evpn_vn *v = e->vns; v; v = v->next)
        if (v->vni == vni)
            return v;
    return NULL;
}

static void
if_add(struct evpn *e, int ifindex, enum evpn_ifrole role, struct evpn_vn *v)
{
    struct evpn_ifent *x = calloc(1, sizeof(*x));
    if (x == NULL || ifindex <= 0) {
        free(x);
        return;
    }
    x->ifindex = ifindex;
    x->role = role;
    x->vn = v;
    x->next = e->iftab[ifindex & 255];
    e->iftab[ifindex & 255] = x;
}

static void
if_del_vn(struct evpn *e, const struct evpn_vn *v)
{
    for (unsigned b = 0; b < 256; b++)
        for (struct evpn_ifent **pp = &e->iftab[b]; *pp;) {
            struct evpn_ifent *x = *pp;
            if (x->vn == v) {
                *pp = x->next;
                free(x);
            } else {
                pp = &x->next;
            }
        }
}

static const struct evpn_ifent *
if_find(const struct evpn *e, int ifindex)
{
    for (const struct evpn_ifent *x = e->iftab[ifindex & 255]; x; x = x->next)
        if (x->ifindex == ifindex)
            return x;
    return NULL;
}

int
evpn_if_lookup(const struct evpn *e, int ifindex, uint32_t *vni,
               enum evpn_ifrole *role)
{
    const struct evpn_ifent *x = if_find(e, ifindex);
    if (x == NULL)
        return 0;
    *vni = x->vn->vni;
    *role = x->role;
    return 1;
}

/* ---- entries ----------------------------------------------------------- */

#define TQ_ENTRY(t, type, member) \
    ((type *)(void *)((char *)(t) - offsetof(type, member)))

static void
tq_init(struct evpn_tq *head)
{
    head->next = head->prev = head;
    head->at = 0;
}

static void
tq_del(struct evpn_tq *t)
{
    if (t->next) {
        t->prev->next = t->next;
        t->next->prev = t->prev;
    }
    t->next = t->prev = NULL;
    t->at = 0;
}

/* Nearly always at the tail: the delays are constants (a reload may
 * shorten one: then a little further forward). Without a queue (head
 * NULL) only the deadline is kept: the timer looks at such entries itself. */
static void
tq_add(struct evpn_tq *head, struct evpn_tq *t, uint64_t at)
{
    struct evpn_tq *p;

    tq_del(t);
    t->at = at ? at : 1;
    if (head == NULL)
        return;
    for (p = head->prev; p != head && p->at > t->at; p = p->prev)
        ;
    t->prev = p;
    t->next = p->next;
    p->next->prev = t;
    p->next = t;
}

static uint64_t
tq_first(const struct evpn_tq *head)
{
    return head->next != head ? head->next->at : UINT64_MAX;
}

static struct evpn_mac *
mac_find(const struct evpn *e, const struct evpn_vn *vn, const uint8_t mac[6])
{
    for (struct evpn_mac *m = e->mtab[mac_hash(e, vn, mac)]; m; m = m->next)
        if (m->vn == vn && memcmp(m->mac, mac, 6) == 0)
            return m;
    return NULL;
}

static struct evpn_mac *
mac_get(struct evpn *e, struct evpn_vn *vn, const uint8_t mac[6])
{
    struct evpn_mac *m = mac_find(e, vn, mac);
    if (m)
        return m;
    if (grow((void ***)&e->mtab, &e->mbits, e->nmacs,
             offsetof(struct evpn_mac, next), mac_rehash, e) < 0 ||
        (m = calloc(1, sizeof(*m))) == NULL)
        return NULL;
    m->vn = vn;
    memcpy(m->mac, mac, 6);
    uint32_t h = mac_hash(e, vn, mac);
    m->next = e->mtab[h];
    e->mtab[h] = m;
    e->nmacs++;
    vn->nmacs++;
    return m;
}

static struct evpn_ip *
ip_find(const struct evpn *e, const struct evpn_vn *vn, uint8_t fam,
        const uint8_t ip[16])
{
    size_t n = fam == 4 ? 4 : 16;
    for (struct evpn_ip *i = e->itab[ip_hash(e, vn, fam, ip)]; i; i = i->next)
        if (i->vn == vn && i->family == fam && memcmp(i->ip, ip, n) == 0)
            return i;
    return NULL;
}

static struct evpn_ip *
ip_get(struct evpn *e, struct evpn_vn *vn, uint8_t fam, const uint8_t ip[16])
{
    struct evpn_ip *i = ip_find(e, vn, fam, ip);
    if (i)
        return i;
    if (grow((void ***)&e->itab, &e->ibits, e->nips,
             offsetof(struct evpn_ip, next), ip_rehash, e) < 0 ||
        (i = calloc(1, sizeof(*i))) == NULL)
        return NULL;
    i->vn = vn;
    i->family = fam;
    memcpy(i->ip, ip, fam == 4 ? 4 : 16);
    uint32_t h = ip_hash(e, vn, fam, ip);
    i->next = e->itab[h];
    e->itab[h] = i;
    e->nips++;
    vn->nips++;
    return i;
}

static void
mac_dirty(struct evpn *e, struct evpn_mac *m)
{
    if (m->dirty)
        return;
    m->dirty = 1;
    m->dnext = e->mdirty;
    e->mdirty = m;
}

static void
ip_dirty(struct evpn *e, struct evpn_ip *i)
{
    if (i->dirty)
        return;
    i->dirty = 1;
    i->dnext = e->idirty;
    e->idirty = i;
}

static int
port_isset(const uint64_t *bm, uint16_t port)
{
    return port < 64 * EVPN_PORT_WORDS && (bm[port / 64] >> (port % 64)) & 1;
}

/* Adds or clears port in bm; returns 1 if that changed it. */
static int
port_mark(uint64_t *bm, uint16_t *n, uint16_t port, int on)
{
    if (port >= 64 * EVPN_PORT_WORDS || port_isset(bm, port) == on)
        return 0;
    bm[port / 64] ^= 1ull << (port % 64);
    *n = (uint16_t)(on ? *n + 1 : *n - 1);
    return 1;
}

static void
ip_unlink_mac(struct evpn_ip *i)
{
    if (i->lmac == NULL)
        return;
    for (struct evpn_ip **pp = &i->lmac->ips; *pp; pp = &(*pp)->mnext)
        if (*pp == i) {
            *pp = i->mnext;
            break;
        }
    i->lmac = NULL;
    i->mnext = NULL;
}

/* Entries that hold nothing any more are freed (dirty ones after sync). */
static int
mac_idle(const struct evpn_mac *m)
{
    return !m->dirty && m->lst == EVPN_L_NONE && m->nports == 0 &&
           m->kbr == EVPN_K_NONE && !m->kself && !m->fprog && !m->ips &&
           !m->took && !m->fleaving;
}

static void
mac_free_if_idle(struct evpn *e, struct evpn_mac *m)
{
    if (!mac_idle(m))
        return;
    for (struct evpn_mac **pp = &e->mtab[mac_hash(e, m->vn, m->mac)]; *pp;
         pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    e->nmacs--;
    m->vn->nmacs--;
    tq_del(&m->hold);
    tq_del(&m->del);
    free(m);
}

static void
ip_free_if_idle(struct evpn *e, struct evpn_ip *i)
{
    if (i->dirty || i->lmac || i->nports || i->lwritten || i->kremote ||
        i->fprog)
        return;
    for (struct evpn_ip **pp = &e->itab[ip_hash(e, i->vn, i->family, i->ip)];
         *pp; pp = &(*pp)->next)
        if (*pp == i) {
            *pp = i->next;
            break;
        }
    e->nips--;
    i->vn->nips--;
    tq_del(&i->del);
    free(i);
}

/* ---- the forwarder ----------------------------------------------------- */

static void
ipstr(uint8_t fam, const uint8_t *ip, char *buf, size_t len)
{
    if (inet_ntop(fam == 4 ? AF_INET : AF_INET6, ip, buf, (socklen_t)len) ==
        NULL)
        snprintf(buf, len, "?");
}

static void
fwd_mac_set(struct evpn *e, struct evpn_mac *m, uint64_t now)
{
    char ip[INET6_ADDRSTRLEN], mac[18];
    int moved = m->took && e->p.mobility_hold_ms > 0;
    int rc;

    ipstr(m->kfam, m->kvtep, ip, sizeof(ip));
    if (moved)
        rc = fwd_remote_mac_moved(e->fwd, m->vn->vni, m->mac, ip,
                                  e->p.mobility_hold_ms);
    else
        rc = fwd_remote_mac_add(e->fwd, m->vn->vni, m->mac, ip);
    nvdp_mac_fmt(m->mac, mac);
    if (rc < 0) {
        e->c.fwd_errors++;
        log_warnx("evpn: VNI %u: forwarder refused %s -> %s", m->vn->vni,
                  mac, ip);
        return;
    }
    if (m->fprog && (m->ffam != m->kfam || memcmp(m->fvtep, m->kvtep, 16)))
        e->c.moves++, m->moves++;
    else if (!m->fprog)
        e->c.learned++;
    log_debug("evpn: VNI %u: %s at VTEP %s%s", m->vn->vni, mac, ip,
              moved ? " (moved from here: in-flight frames follow it)" : "");
    m->fprog = 1;
    m->fmoved = (uint8_t)moved;
    m->fleaving = 0; /* its place is known now */
    m->took = 0;
    m->ffam = m->kfam;
    memcpy(m->fvtep, m->kvtep, 16);
    m->changed = now;
}

static void
fwd_mac_unset(struct evpn *e, struct evpn_mac *m, uint64_t now)
{
    char mac[18];

    /* ENOENT: the tree made it local meanwhile, nothing of ours is left */
    fwd_remote_mac_del(e->fwd, m->vn->vni, m->mac);
    nvdp_mac_fmt(m->mac, mac);
    log_debug("evpn: VNI %u: %s withdrawn", m->vn->vni, mac);
    e->c.withdrawn++;
    m->fprog = 0;
    m->fmoved = 0;
    m->changed = now;
}

/* Held for a migration: in-flight frames go to every other VTEP until the
 * VM's new NVE is known (seed 004 4.1, before the new route arrives). */
static void
fwd_leaving(struct evpn *e, struct evpn_mac *m, int on)
{
    if (on && e->p.mobility_hold_ms && !m->fprog &&
        fwd_remote_mac_leaving(e->fwd, m->vn->vni, m->mac,
                               e->p.mobility_hold_ms) == 0)
        m->fleaving = 1;
    else if (!on && m->fleaving) {
        fwd_remote_mac_del(e->fwd, m->vn->vni, m->mac);
        m->fleaving = 0;
    }
}

static void
fwd_ip_set(struct evpn *e, struct evpn_ip *i)
{
    if (fwd_remote_ip_add(e->fwd, i->vn->vni, i->krmac, i->family, i->ip) <
        0) {
        e->c.fwd_errors++;
        return;
    }
    if (!i->fprog)
        e->c.ips_learned++;
    i->fprog = 1;
    memcpy(i->fmac, i->krmac, 6);
}

static void
fwd_ip_unset(struct evpn *e, struct evpn_ip *i)
{
    fwd_remote_ip_del(e->fwd, i->vn->vni, i->family, i->ip);
    e->c.ips_withdrawn++;
    i->fprog = 0;
}

static void
fwd_flood_set(struct evpn *e, struct evpn_vn *v, struct evpn_flood *fl,
              int on)
{
    char ip[INET6_ADDRSTRLEN];

    ipstr(fl->family, fl->ip, ip, sizeof(ip));
    if (on) {
        if (fwd_flood_add(e->fwd, v->vni, ip) < 0) {
            e->c.fwd_errors++;
            log_warnx("evpn: VNI %u: forwarder refused flood VTEP %s",
                      v->vni, ip);
            return;
        }
        e->c.flood_added++;
    } else {
        fwd_flood_del(e->fwd, v->vni, ip);
        e->c.flood_removed++;
    }
    log_debug("evpn: VNI %u: flood VTEP %s %s", v->vni, ip,
              on ? "added" : "removed");
    fl->fprog = (uint8_t)on;
}

/* ---- FRR's liveness ---------------------------------------------------- */

/* FRR went away (or our BGP session did): what it deleted on the way out
 * is kept for the grace period. */
static void
outage_start(struct evpn *e, uint64_t now, const char *why)
{
    if (e->frr != EVPN_FRR_UP)
        return;
    e->frr = EVPN_FRR_OUTAGE;
    e->frr_since = now;
    e->outage_end = now + e->p.frr_grace_ms;
    e->c.frr_outages++;
    log_warnx("evpn: %s: remote entries kept for %u ms", why,
              e->p.frr_grace_ms);
}

/* FRR is back: entries it does not re-install soon go. */
static void
outage_reconcile(struct evpn *e, uint64_t now)
{
    uint64_t r = now + e->p.frr_reconcile_ms;

    if (e->frr != EVPN_FRR_OUTAGE)
        return;
    e->frr = EVPN_FRR_RECONCILE;
    e->frr_since = now;
    if (r < e->outage_end)
        e->outage_end = r;
    log_info("evpn: FRR is back: entries it does not re-install within %u ms "
             "are removed", (unsigned)(e->outage_end - now));
}

static void
frr_probe(struct evpn *e, uint64_t now)
{
    uint64_t inst = e->k.frr_probe ? e->k.frr_probe(e->k.arg) : 0;

    e->next_probe = now + e->p.probe_ms;
    if (inst == e->inst)
        return;
    if (e->inst != 0)
        outage_start(e, now, inst ? "FRR restarted" : "FRR stopped");
    e->inst = inst;
    if (inst != 0 && e->frr == EVPN_FRR_DOWN) {
        e->frr = EVPN_FRR_UP;
        e->frr_since = now;
        log_info("evpn: FRR is running");
    } else if (inst != 0) {
        outage_reconcile(e, now);
    }
}

enum { WD_WAIT, WD_APPLY, WD_KEEP };

/* A programmed entry the kernel no longer has: remove it now, after
 * withdraw_delay_ms (t in queue q; the flood lists' have none), or keep
 * it through an FRR outage. */
static int
withdraw_decide(struct evpn *e, struct evpn_tq *q, struct evpn_tq *t,
                uint64_t *inst, uint8_t *stale, uint64_t now)
{
    if (*stale)
        return WD_KEEP;
    if (e->frr == EVPN_FRR_DOWN) { /* not FRR's doing: nothing to wait for */
        tq_del(t);
        return WD_APPLY;
    }
    if (e->frr == EVPN_FRR_UP && t->at == 0) {
        tq_add(q, t, now + e->p.withdraw_delay_ms);
        *inst = e->inst;
    }
    if (e->frr == EVPN_FRR_UP && now < t->at)
        return WD_WAIT;
    int same = e->frr == EVPN_FRR_UP && e->inst == *inst;
    tq_del(t);
    if (same)
        return WD_APPLY;
    *stale = 1;
    e->c.stale_kept++;
    return WD_KEEP;
}

/* ---- kernel writes ----------------------------------------------------- */

static void
ip_write_local(struct evpn *e, struct evpn_ip *i, int add)
{
    const struct evpn_vn *v = i->vn;

    if (!v->ok || i->lmac == NULL)
        return;
    if (!add && i->kremote) { /* zebra's entry replaced ours: not ours to go */
        i->lwritten = 0;
        return;
    }
    if (e->k.ip_write(e->k.arg, &v->ifs, i->family, i->ip, i->lmac->mac,
                      add) < 0) {
        e->c.kernel_errors++;
        return;
    }
    if (add)
        e->c.mirrored++;
    else if (i->lwritten)
        e->c.unmirrored++;
    i->lwritten = (uint8_t)add;
}

/* Writes the MAC (replace: also over zebra's remote entry, which makes
 * FRR advertise it with a higher MAC Mobility sequence number) and its
 * IPs. */
static void
mac_advertise(struct evpn *e, struct evpn_mac *m, uint64_t now)
{
    struct evpn_vn *v = m->vn;
    char mac[18];

    if (!v->ok)
        return;
    if (e->k.mac_write(e->k.arg, &v->ifs, m->mac, 1) < 0) {
        e->c.kernel_errors++;
        return;
    }
    if (m->lst == EVPN_L_TAKEN) {
        e->c.reclaimed++;
        nvdp_mac_fmt(m->mac, mac);
        log_info("evpn: VNI %u: %s is here again", v->vni, mac);
    }
    if (m->lst != EVPN_L_ADV && m->lst != EVPN_L_HELD)
        e->c.mirrored++;
    m->lst = EVPN_L_ADV;
    tq_del(&m->hold);
    m->took = 0;
    m->kbr = EVPN_K_PORT; /* the echo may come later: no rewrite meanwhile */
    for (struct evpn_ip *i = m->ips; i; i = i->mnext)
        ip_write_local(e, i, 1);
}

static void
mac_unadvertise(struct evpn *e, struct evpn_mac *m)
{
    struct evpn_vn *v = m->vn;

    for (struct evpn_ip *i = m->ips, *nx; i; i = nx) {
        nx = i->mnext;
        if (i->lwritten)
            ip_write_local(e, i, 0);
        if (i->nports == 0) {
            ip_unlink_mac(i);
            ip_free_if_idle(e, i);
        }
    }
    if (v->ok && (m->lst == EVPN_L_ADV || m->lst == EVPN_L_HELD)) {
        if (e->k.mac_write(e->k.arg, &v->ifs, m->mac, 0) < 0)
            e->c.kernel_errors++;
        else
            e->c.unmirrored++;
        if (m->kbr == EVPN_K_PORT)
            m->kbr = EVPN_K_NONE;
    }
    m->lst = EVPN_L_NONE;
    tq_del(&m->hold);
    fwd_leaving(e, m, 0);
}

/* ---- associations ------------------------------------------------------ */

static int
mac_unicast(const uint8_t mac[6])
{
    return !(mac[0] & 1) && memcmp(mac, zero_mac, 6) != 0;
}

void
evpn_local_add(struct evpn *e, uint32_t vni, uint16_t port,
               const struct nvdp_addr *a, uint64_t now)
{
    struct evpn_vn *v = vn_find(e, vni);
    struct evpn_mac *m;

    if (v == NULL || !mac_unicast(a->mac) ||
        (m = mac_get(e, v, a->mac)) == NULL)
        return;
    if (a->kind == NVDP_ADDR_MAC) {
        int added = port_mark(m->ports, &m->nports, port, 1);
        /* the forwarder got the local entry first (nve.c): ours is gone */
        m->fprog = 0;
        m->fmoved = 0;
        m->fleaving = 0;
        m->stale = 0;
        tq_del(&m->del);
        /* A location FRR already moved elsewhere is not taken back by a
         * replay of the same association: only a new one (or the VM's own
         * GARP, evpn_snoop) says the VM is here. */
        if (m->lst == EVPN_L_TAKEN && !added)
            return;
        if (m->lst != EVPN_L_ADV || m->kbr != EVPN_K_PORT)
            mac_advertise(e, m, now); /* else already there: no write */
        mac_dirty(e, m);
        return;
    }
    if (a->kind != NVDP_ADDR_HOST || (a->family != 4 && a->family != 6))
        return; /* prefixes and ranges are no type-2 routes */
    struct evpn_ip *i = ip_get(e, v, a->family, a->ip);
    if (i == NULL)
        return;
    if (i->lmac != m) {
        if (i->lwritten) /* the IP moved to another MAC: rewritten below */
            i->lwritten = 0;
        ip_unlink_mac(i);
        i->lmac = m;
        i->mnext = m->ips;
        m->ips = i;
    }
    port_mark(i->ports, &i->nports, port, 1);
    if (m->lst == EVPN_L_ADV || m->lst == EVPN_L_HELD)
        ip_write_local(e, i, 1);
}

void
evpn_local_del(struct evpn *e, uint32_t vni, uint16_t port,
               const struct nvdp_addr *a, int migrating, uint64_t now)
{
    struct evpn_vn *v = vn_find(e, vni);
    struct evpn_mac *m = v ? mac_find(e, v, a->mac) : NULL;
    char mac[18];

    if (m == NULL)
        return;
    if (a->kind != NVDP_ADDR_MAC) {
        struct evpn_ip *i = (a->kind == NVDP_ADDR_HOST)
                                ? ip_find(e, v, a->family, a->ip) : NULL;
        if (i == NULL || i->lmac != m ||
            !port_mark(i->ports, &i->nports, port, 0) || i->nports)
            return;
        /* migrating: it stays with its MAC until the hold ends */
        if (!migrating) {
            if (i->lwritten)
                ip_write_local(e, i, 0);
            ip_unlink_mac(i);
            ip_free_if_idle(e, i);
        }
        return;
    }
    if (!port_mark(m->ports, &m->nports, port, 0) || m->nports)
        return; /* another port still holds it: nothing changes (4.4) */
    nvdp_mac_fmt(m->mac, mac);
    if (m->lst == EVPN_L_ADV && migrating && e->p.migration_hold_ms) {
        m->lst = EVPN_L_HELD;
        tq_add(&e->q_hold, &m->hold, now + e->p.migration_hold_ms);
        e->c.held++;
        fwd_leaving(e, m, 1);
        log_debug("evpn: VNI %u: %s migrating: advertised for %u ms more",
                  vni, mac, e->p.migration_hold_ms);
    } else if (m->lst == EVPN_L_ADV) {
        log_debug("evpn: VNI %u: %s gone: withdrawn", vni, mac);
        mac_unadvertise(e, m);
    }
    /* TAKEN: the forwarder's local entry is gone, the remote one can come */
    mac_dirty(e, m);
}

void
evpn_snoop(struct evpn *e, uint32_t vni, const uint8_t mac[6], int family,
           const uint8_t ip[16], uint64_t now)
{
    struct evpn_vn *v = vn_find(e, vni);
    struct evpn_mac *m = v ? mac_find(e, v, mac) : NULL;
    struct evpn_ip *i;

    if (m == NULL || m->nports == 0) {
        e->c.snoop_ignored++;
        return;
    }
    e->c.snooped++;
    if (m->lst != EVPN_L_ADV) /* taken by a stale route: the VM is here */
        mac_advertise(e, m, now);
    i = ip_find(e, v, (uint8_t)family, ip);
    if (i == NULL || i->lmac != m) {
        e->c.snoop_ignored++; /* only associated IPs are advertised */
        return;
    }
    ip_write_local(e, i, 1);
    mac_dirty(e, m);
}

/* ---- the kernel's neighbour table -------------------------------------- */

static struct evpn_flood *
flood_find(struct evpn_vn *v, uint8_t fam, const uint8_t *ip, int create)
{
    for (unsigned k = 0; k < v->nflood; k++)
        if (v->flood[k].family == fam &&
            memcmp(v->flood[k].ip, ip, fam == 4 ? 4 : 16) == 0)
            return &v->flood[k];
    if (!create || v->nflood == EVPN_MAX_FLOOD)
        return NULL;
    struct evpn_flood *f = &v->flood[v->nflood++];
    memset(f, 0, sizeof(*f));
    f->family = fam;
    memcpy(f->ip, ip, fam == 4 ? 4 : 16);
    return f;
}

static void
kernel_fdb_vxlan(struct evpn *e, struct evpn_vn *v, const struct evpn_nlev *m)
{
    if (m->flags & NTF_SELF) {
        if (m->dst_family == 0)
            return;
        if (memcmp(m->lladdr, zero_mac, 6) == 0) {
            struct evpn_flood *f = flood_find(v, m->dst_family, m->dst,
                                              !m->del);
            if (f) {
                f->kpresent = !m->del;
                f->unseen = 0;
                v->flood_dirty = e->flood_dirty = 1;
            }
            return;
        }
        struct evpn_mac *x = m->del ? mac_find(e, v, m->lladdr)
                                    : mac_get(e, v, m->lladdr);
        if (x == NULL)
            return;
        if (m->del) {
            /* only the VTEP we hold: another remote of the MAC going is
             * no news */
            if (x->kself && x->kfam == m->dst_family &&
                memcmp(x->kvtep, m->dst, 16) == 0)
                x->kself = 0;
        } else {
            x->kself = 1;
            x->kfam = m->dst_family;
            memcpy(x->kvtep, m->dst, 16);
            x->unseen &= (uint8_t)~2;
        }
        mac_dirty(e, x);
        return;
    }
    if (m->master == 0 && !(m->flags & NTF_MASTER))
        return;
    /* the bridge entry: on the vxlan device = remote */
    struct evpn_mac *x = m->del ? mac_find(e, v, m->lladdr)
                                : mac_get(e, v, m->lladdr);
    if (x == NULL)
        return;
    if (!m->del) {
        x->kbr = EVPN_K_VXLAN;
        x->unseen &= (uint8_t)~1;
    } else if (x->kbr == EVPN_K_VXLAN) {
        x->kbr = EVPN_K_NONE;
    }
    mac_dirty(e, x);
}

static void
kernel_fdb_port(struct evpn *e, struct evpn_vn *v, const struct evpn_nlev *m)
{
    if (m->flags & NTF_SELF || (m->master == 0 && !(m->flags & NTF_MASTER)))
        return; /* the veth's own address list */
    struct evpn_mac *x = m->del ? mac_find(e, v, m->lladdr)
                                : mac_get(e, v, m->lladdr);
    if (x == NULL)
        return;
    if (!m->del) {
        x->kbr = EVPN_K_PORT;
        x->unseen &= (uint8_t)~1;
    } else if (x->kbr == EVPN_K_PORT) {
        x->kbr = EVPN_K_NONE;
    }
    mac_dirty(e, x);
}

static void
kernel_neigh(struct evpn *e, struct evpn_vn *v, const struct evpn_nlev *m)
{
    uint8_t fam = m->family == AF_INET ? 4 : 6;
    struct evpn_ip *i;

    if (m->dst_family != fam)
        return;
    int remote = !m->del && (m->flags & NTF_EXT_LEARNED) && m->has_lladdr &&
                 !(m->state & (NUD_FAILED | NUD_INCOMPLETE));
    i = remote ? ip_get(e, v, fam, m->dst) : ip_find(e, v, fam, m->dst);
    if (i == NULL)
        return;
    if (remote) {
        i->kremote = 1;
        memcpy(i->krmac, m->lladdr, 6);
        i->unseen = 0;
    } else {
        i->kremote = 0;
        /* our own entry gone (not its echo): write it again at sync */
        if (m->del && i->lwritten)
            i->lwritten = 0;
    }
    ip_dirty(e, i);
}

void
evpn_kernel_input(struct evpn *e, const struct evpn_nlev *m, uint64_t now)
{
    const struct evpn_ifent *x = if_find(e, m->ifindex);

    if (x == NULL) {
        e->c.kernel_ignored++;
        return;
    }
    if (m->family == AF_BRIDGE) {
        if (!m->has_lladdr)
            return;
        if (x->role == EVPN_IF_VXLAN)
            kernel_fdb_vxlan(e, x->vn, m);
        else if (x->role == EVPN_IF_PORT)
            kernel_fdb_port(e, x->vn, m);
    } else if ((m->family == AF_INET || m->family == AF_INET6) &&
               x->role == EVPN_IF_BRIDGE) {
        kernel_neigh(e, x->vn, m);
    }
}

void
evpn_kernel_resync_begin(struct evpn *e)
{
    e->resyncing = 1;
    e->c.resyncs++;
    for (uint32_t b = 0; b < (1u << e->mbits); b++)
        for (struct evpn_mac *m = e->mtab[b]; m; m = m->next)
            m->unseen = (uint8_t)((m->kbr != EVPN_K_NONE) | (m->kself << 1));
    for (uint32_t b = 0; b < (1u << e->ibits); b++)
        for (struct evpn_ip *i = e->itab[b]; i; i = i->next)
            i->unseen = i->kremote;
    for (struct evpn_vn *v = e->vns; v; v = v->next)
        for (unsigned k = 0; k < v->nflood; k++)
            v->flood[k].unseen = v->flood[k].kpresent;
}

void
evpn_kernel_resync_end(struct evpn *e, uint64_t now)
{
    if (!e->resyncing)
        return;
    e->resyncing = 0;
    for (uint32_t b = 0; b < (1u << e->mbits); b++)
        for (struct evpn_mac *m = e->mtab[b]; m; m = m->next) {
            if (m->unseen & 1)
                m->kbr = EVPN_K_NONE;
            if (m->unseen & 2)
                m->kself = 0;
            if (m->unseen)
                mac_dirty(e, m);
            m->unseen = 0;
        }
    for (uint32_t b = 0; b < (1u << e->ibits); b++)
        for (struct evpn_ip *i = e->itab[b]; i; i = i->next)
            if (i->unseen) {
                i->kremote = 0;
                i->unseen = 0;
                ip_dirty(e, i);
            }
    for (struct evpn_vn *v = e->vns; v; v = v->next)
        for (unsigned k = 0; k < v->nflood; k++)
            if (v->flood[k].unseen) {
                v->flood[k].kpresent = 0;
                v->flood[k].unseen = 0;
                v->flood_dirty = e->flood_dirty = 1;
            }
    evpn_sync(e, now);
}

/* ---- applying the kernel view to the forwarder ------------------------- */

static void
mac_sync(struct evpn *e, struct evpn_mac *m, uint64_t now)
{
    char mac[18];

    if (m->kbr == EVPN_K_VXLAN &&
        (m->lst == EVPN_L_ADV || m->lst == EVPN_L_HELD)) {
        /* RFC 7432 15: the MAC appeared behind another NVE with a higher
         * sequence number; FRR moved our entry. Not written again. */
        nvdp_mac_fmt(m->mac, mac);
        log_info("evpn: VNI %u: %s now lives behind another NVE", m->vn->vni,
                 mac);
        m->lst = EVPN_L_TAKEN;
        tq_del(&m->hold);
        m->took = 1;
        e->c.taken++;
        /* its IPs that no association holds any more go with it */
        for (struct evpn_ip *i = m->ips, *nx; i; i = nx) {
            nx = i->mnext;
            if (i->nports)
                continue;
            if (i->lwritten)
                ip_write_local(e, i, 0);
            ip_unlink_mac(i);
            ip_free_if_idle(e, i);
        }
    }
    if (m->lst == EVPN_L_ADV && m->kbr == EVPN_K_NONE && m->vn->ok) {
        /* our entry vanished (not moved by FRR): the VNIC is still here */
        e->c.rewritten++;
        mac_advertise(e, m, now);
    }
    if (m->kbr == EVPN_K_VXLAN && m->kself) {
        tq_del(&m->del);
        if (m->nports) /* still associated here: local until it leaves */
            return;
        if (!m->fprog || m->stale || m->ffam != m->kfam ||
            memcmp(m->fvtep, m->kvtep, 16) != 0)
            fwd_mac_set(e, m, now);
        m->stale = 0;
        return;
    }
    if (!m->fprog)
        return;
    if (m->nports || m->kbr == EVPN_K_PORT) {
        m->fprog = 0; /* local again: the tree's entry replaced ours */
        m->stale = 0;
        tq_del(&m->del);
        return;
    }
    switch (withdraw_decide(e, &e->q_mdel, &m->del, &m->del_inst, &m->stale,
                            now)) {
    case WD_APPLY:
        fwd_mac_unset(e, m, now);
        break;
    default:
        break;
    }
}

static void
ip_sync(struct evpn *e, struct evpn_ip *i, uint64_t now)
{
    if (i->lmac && i->lwritten == 0 && i->nports &&
        (i->lmac->lst == EVPN_L_ADV || i->lmac->lst == EVPN_L_HELD) &&
        !i->kremote)
        ip_write_local(e, i, 1); /* ours vanished: the VNIC is still here */
    if (i->kremote) {
        tq_del(&i->del);
        if (!i->fprog || i->stale || memcmp(i->fmac, i->krmac, 6) != 0)
            fwd_ip_set(e, i);
        i->stale = 0;
        return;
    }
    if (i->fprog &&
        withdraw_decide(e, &e->q_idel, &i->del, &i->del_inst, &i->stale,
                        now) ==
            WD_APPLY)
        fwd_ip_unset(e, i);
}

/* FRR stopping withdraws every route it installed, its type-3 routes
 * last, long before bgpd exits (1.3 s with 8.4); a lost BGP session does
 * the same. A regular withdrawal never takes every remote VTEP at once:
 * when all flood lists empty together, what went with them is kept, and
 * their return means FRR (or the session) is back. */
static void
flood_watch(struct evpn *e, uint64_t now)
{
    unsigned present = 0, programmed = 0;

    for (struct evpn_vn *v = e->vns; v; v = v->next)
        for (unsigned k = 0; k < v->nflood; k++) {
            present += v->flood[k].kpresent;
            programmed += v->flood[k].fprog;
        }
    if (present == 0 && programmed > 0)
        outage_start(e, now, "every remote VTEP withdrawn at once (FRR "
                     "stopping, or its BGP session lost)");
    else if (present > 0 && e->inst != 0)
        outage_reconcile(e, now);
}

static void
flood_sync(struct evpn *e, struct evpn_vn *v, uint64_t now)
{
    v->flood_dirty = 0;
    for (unsigned k = 0; k < v->nflood;) {
        struct evpn_flood *f = &v->flood[k];
        if (f->kpresent) {
            tq_del(&f->del);
            if (!f->fprog || f->stale)
                fwd_flood_set(e, v, f, 1);
            f->stale = 0;
        } else if (f->fprog) {
            if (withdraw_decide(e, NULL, &f->del, &f->del_inst, &f->stale,
                                now) == WD_APPLY)
                fwd_flood_set(e, v, f, 0);
            else
                v->flood_dirty = 1; /* looked at again by the timer */
        }
        if (!f->kpresent && !f->fprog) {
            v->flood[k] = v->flood[--v->nflood];
            continue;
        }
        k++;
    }
}

void
evpn_sync(struct evpn *e, uint64_t now)
{
    struct evpn_mac *m;
    struct evpn_ip *i;

    if (e->resyncing)
        return;
    /* a withdrawal is stamped with the FRR of the last probe (at most
     * probe_ms old): not probing per association keeps a burst cheap */
    if (now >= e->next_probe)
        frr_probe(e, now);
    if (e->flood_dirty) /* before the MACs: it may say why they went */
        flood_watch(e, now);
    while ((m = e->mdirty) != NULL) {
        e->mdirty = m->dnext;
        m->dirty = 0;
        mac_sync(e, m, now);
        mac_free_if_idle(e, m);
    }
    while ((i = e->idirty) != NULL) {
        e->idirty = i->dnext;
        i->dirty = 0;
        ip_sync(e, i, now);
        ip_free_if_idle(e, i);
    }
    if (e->flood_dirty) {
        e->flood_dirty = 0;
        for (struct evpn_vn *v = e->vns; v; v = v->next)
            if (v->flood_dirty)
                flood_sync(e, v, now);
    }
}

/* ---- timers ------------------------------------------------------------ */

/* The grace or reconciliation ended: what FRR did not re-install goes. */
static void
outage_over(struct evpn *e, uint64_t now)
{
    unsigned n = 0;

    for (uint32_t b = 0; b < (1u << e->mbits); b++)
        for (struct evpn_mac *m = e->mtab[b]; m; m = m->next)
            if (m->stale) {
                m->stale = 0;
                if (m->fprog)
                    fwd_mac_unset(e, m, now), n++;
                mac_dirty(e, m);
            }
    for (uint32_t b = 0; b < (1u << e->ibits); b++)
        for (struct evpn_ip *i = e->itab[b]; i; i = i->next)
            if (i->stale) {
                i->stale = 0;
                if (i->fprog)
                    fwd_ip_unset(e, i), n++;
                ip_dirty(e, i);
            }
    for (struct evpn_vn *v = e->vns; v; v = v->next)
        for (unsigned k = 0; k < v->nflood; k++)
            if (v->flood[k].stale) {
                v->flood[k].stale = 0;
                if (v->flood[k].fprog)
                    fwd_flood_set(e, v, &v->flood[k], 0), n++;
                v->flood_dirty = e->flood_dirty = 1;
            }
    e->c.stale_removed += n;
    e->frr = e->inst ? EVPN_FRR_UP : EVPN_FRR_DOWN;
    e->frr_since = now;
    log_info("evpn: FRR outage over: %u stale entries removed", n);
}

static int vn_bring_up(struct evpn *e, struct evpn_vn *v, uint64_t now);

/* The earliest deadline of the VNs: device retries, flood withdrawals. */
static uint64_t
vn_deadlines(struct evpn *e, uint64_t now)
{
    uint64_t next = UINT64_MAX;

    for (struct evpn_vn *v = e->vns; v; v = v->next) {
        if (!v->ok && v->retry_at && now >= v->retry_at)
            vn_bring_up(e, v, now);
        if (!v->ok && v->retry_at && v->retry_at < next)
            next = v->retry_at;
        for (unsigned k = 0; k < v->nflood; k++) {
            uint64_t at = v->flood[k].del.at;
            if (at && at <= now)
                v->flood_dirty = e->flood_dirty = 1;
            else if (at && at < next)
                next = at;
        }
    }
    return next;
}

uint64_t
evpn_timers(struct evpn *e, uint64_t now)
{
    struct evpn_tq *t;
    uint64_t next;

    if (now >= e->next_probe)
        frr_probe(e, now);
    if ((e->frr == EVPN_FRR_OUTAGE || e->frr == EVPN_FRR_RECONCILE) &&
        now >= e->outage_end)
        outage_over(e, now);
    while (tq_first(&e->q_hold) <= now) {
        struct evpn_mac *m = TQ_ENTRY(e->q_hold.next, struct evpn_mac, hold);
        char mac[18];
        tq_del(&m->hold);
        nvdp_mac_fmt(m->mac, mac);
        log_debug("evpn: VNI %u: %s: migration hold over, withdrawn",
                  m->vn->vni, mac);
        e->c.hold_expired++;
        mac_unadvertise(e, m);
        mac_dirty(e, m);
    }
    /* due withdrawals stay queued: mac_sync / ip_sync decide and dequeue */
    for (t = e->q_mdel.next; t != &e->q_mdel && t->at <= now; t = t->next)
        mac_dirty(e, TQ_ENTRY(t, struct evpn_mac, del));
    for (t = e->q_idel.next; t != &e->q_idel && t->at <= now; t = t->next)
        ip_dirty(e, TQ_ENTRY(t, struct evpn_ip, del));
    next = vn_deadlines(e, now);
    evpn_sync(e, now);
    if (tq_first(&e->q_hold) < next)
        next = tq_first(&e->q_hold);
    if (tq_first(&e->q_mdel) < next)
        next = tq_first(&e->q_mdel);
    if (tq_first(&e->q_idel) < next)
        next = tq_first(&e->q_idel);
    if (e->next_probe < next)
        next = e->next_probe;
    if ((e->frr == EVPN_FRR_OUTAGE || e->frr == EVPN_FRR_RECONCILE) &&
        e->outage_end < next)
        next = e->outage_end;
    return next;
}

/* ---- VNs --------------------------------------------------------------- */

static int
vn_bring_up(struct evpn *e, struct evpn_vn *v, uint64_t now)
{
    char err[sizeof(v->error)] = "";

    if (e->k.vn_create(e->k.arg, v->vni, &e->p, &v->ifs, err, sizeof(err)) <
        0) {
        if (strcmp(err, v->error) != 0) /* once per reason */
            log_warnx("evpn: VNI %u: no shadow devices: %s", v->vni, err);
        snprintf(v->error, sizeof(v->error), "%s", err);
        e->c.vn_failures++;
        v->retry_at = now + 10000;
        return -1;
    }
    v->ok = 1;
    v->error[0] = '\0';
    v->retry_at = 0;
    if_add(e, v->ifs.bridge, EVPN_IF_BRIDGE, v);
    if_add(e, v->ifs.vxlan, EVPN_IF_VXLAN, v);
    if_add(e, v->ifs.port, EVPN_IF_PORT, v);
    if_add(e, v->ifs.peer, EVPN_IF_PEER, v);
    log_info("evpn: VNI %u: shadow devices up (bridge %d, vxlan %d, port %d)",
             v->vni, v->ifs.bridge, v->ifs.vxlan, v->ifs.port);
    /* associations made while the devices were missing */
    for (uint32_t b = 0; b < (1u << e->mbits); b++)
        for (struct evpn_mac *m = e->mtab[b]; m; m = m->next)
            if (m->vn == v && m->nports && m->lst == EVPN_L_NONE)
                mac_advertise(e, m, now);
    return 0;
}

int
evpn_vn_add(struct evpn *e, uint32_t vni, uint64_t now)
{
    struct evpn_vn *v = vn_find(e, vni);

    if (v)
        return v->ok ? 0 : -1;
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return -1;
    v->vni = vni;
    struct evpn_vn **pp = &e->vns; /* in the order they come */
    while (*pp)
        pp = &(*pp)->next;
    *pp = v;
    e->nvns++;
    return vn_bring_up(e, v, now);
}

static void
vn_forget(struct evpn *e, struct evpn_vn *v, uint64_t now, int unprogram)
{
    for (uint32_t b = 0; b < (1u << e->mbits); b++)
        for (struct evpn_mac **pp = &e->mtab[b]; *pp;) {
            struct evpn_mac *m = *pp;
            if (m->vn != v) {
                pp = &m->next;
                continue;
            }
            if (unprogram && m->fprog)
                fwd_mac_unset(e, m, now);
            if (unprogram)
                fwd_leaving(e, m, 0);
            tq_del(&m->hold);
            tq_del(&m->del);
            *pp = m->next;
            e->nmacs--;
            free(m);
        }
    for (uint32_t b = 0; b < (1u << e->ibits); b++)
        for (struct evpn_ip **pp = &e->itab[b]; *pp;) {
            struct evpn_ip *i = *pp;
            if (i->vn != v) {
                pp = &i->next;
                continue;
            }
            if (unprogram && i->fprog)
                fwd_ip_unset(e, i);
            tq_del(&i->del);
            *pp = i->next;
            e->nips--;
            free(i);
        }
    for (unsigned k = 0; unprogram && k < v->nflood; k++)
        if (v->flood[k].fprog)
            fwd_flood_set(e, v, &v->flood[k], 0);
}

static void
dirty_drop_vn(struct evpn *e, const struct evpn_vn *v)
{
    for (struct evpn_mac **pp = &e->mdirty; *pp;)
        if ((*pp)->vn == v)
            *pp = (*pp)->dnext;
        else
            pp = &(*pp)->dnext;
    for (struct evpn_ip **pp = &e->idirty; *pp;)
        if ((*pp)->vn == v)
            *pp = (*pp)->dnext;
        else
            pp = &(*pp)->dnext;
}

void
evpn_vn_del(struct evpn *e, uint32_t vni, uint64_t now)
{
    struct evpn_vn **pp = &e->vns, *v;

    while (*pp && (*pp)->vni != vni)
        pp = &(*pp)->next;
    if ((v = *pp) == NULL)
        return;
    *pp = v->next;
    e->nvns--;
    dirty_drop_vn(e, v);
    vn_forget(e, v, now, 1);
    if_del_vn(e, v);
    if (v->ok)
        e->k.vn_destroy(e->k.arg, v->vni, &v->ifs);
    log_info("evpn: VNI %u: shadow devices removed", vni);
    free(v);
}

/* ---- life cycle -------------------------------------------------------- */

struct evpn *
evpn_new(const struct evpn_params *p, const struct evpn_kops *k,
         struct fwd *f, uint64_t now)
{
    struct evpn *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->p = *p;
    e->k = *k;
    e->fwd = f;
    e->mbits = e->ibits = 8;
    e->mtab = calloc(1u << e->mbits, sizeof(*e->mtab));
    e->itab = calloc(1u << e->ibits, sizeof(*e->itab));
    if (e->mtab == NULL || e->itab == NULL) {
        free(e->mtab);
        free(e->itab);
        free(e);
        return NULL;
    }
    if (getrandom(&e->seed, sizeof(e->seed), GRND_NONBLOCK) != sizeof(e->seed))
        e->seed = (uint64_t)(uintptr_t)e ^ now;
    tq_init(&e->q_hold);
    tq_init(&e->q_mdel);
    tq_init(&e->q_idel);
    frr_probe(e, now);
    return e;
}

void
evpn_set_params(struct evpn *e, const struct evpn_params *p)
{
    uint8_t vtep[4];
    uint16_t port = e->p.shadow_port;

    memcpy(vtep, e->p.vtep, 4);
    e->p = *p;
    memcpy(e->p.vtep, vtep, 4); /* the devices keep theirs until restart */
    e->p.shadow_port = port;
}

void
evpn_free(struct evpn *e)
{
    if (e == NULL)
        return;
    while (e->vns) {
        struct evpn_vn *v = e->vns;
        e->vns = v->next;
        dirty_drop_vn(e, v);
        vn_forget(e, v, 0, 0);
        if_del_vn(e, v);
        if (v->ok)
            e->k.vn_destroy(e->k.arg, v->vni, &v->ifs);
        free(v);
    }
    free(e->mtab);
    free(e->itab);
    free(e);
}

const struct evpn_counters *
evpn_counters(const struct evpn *e)
{
    return &e->c;
}
