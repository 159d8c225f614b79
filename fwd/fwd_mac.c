/* fwd_mac.c - the MAC table: (VN, MAC) -> local port, remote VTEP or
 * learned VTEP in one open-addressing array that the packet path reads
 * lock-free; local associations, static remote MACs, learning and ageing.
 * Concurrency rules are in fwd_int.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "fwd_int.h"
#include "fwd_xdp.h"

/* ---- reader-side lookup ------------------------------------------------- */

uint64_t
fwd_mac_lookup(const struct fwd *f, uint16_t vn, const uint8_t mac[6],
               uint32_t *slot)
{
    uint64_t key = fwd_mac_key(vn, mac);
    for (int attempt = 0; attempt < 4; attempt++) {
        uint32_t h = fwd_mac_hash(key);
        for (uint32_t i = 0; i < FWD_MAC_CAP; i++, h = (h + 1) & (FWD_MAC_CAP - 1)) {
            const struct fwd_mac_slot *s = &f->macs[h];
            uint64_t k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
            if (k == FWD_MK_EMPTY)
                return 0;
            if (k != key)
                continue;
            uint64_t v = __atomic_load_n(&s->val, __ATOMIC_ACQUIRE);
            /* The slot may have been deleted and reused between the two
             * loads: the value is ours only if the key is still ours. */
            if (__atomic_load_n(&s->key, __ATOMIC_ACQUIRE) != key)
                break;
            if (slot != NULL)
                *slot = h;
            return v;
        }
    }
    return 0;
}

/* ---- the occupied slots (control side, wlock held) ---------------------- */

_Static_assert(FWD_MAC_CAP % 4096 == 0, "a summary bit per bitmap word");

static void
mac_used_set(struct fwd *f, uint32_t h)
{
    f->mac_used[h / 64] |= 1ull << (h % 64);
    f->mac_used_sum[h / 4096] |= 1ull << (h / 64 % 64);
}

static void
mac_used_clear(struct fwd *f, uint32_t h)
{
    f->mac_used[h / 64] &= ~(1ull << (h % 64));
    if (f->mac_used[h / 64] == 0)
        f->mac_used_sum[h / 4096] &= ~(1ull << (h / 64 % 64));
}

uint32_t
fwd_mac_next(const struct fwd *f, uint32_t h)
{
    enum { NSUM = FWD_MAC_CAP / 4096 };
    if (h >= FWD_MAC_CAP)
        return FWD_MAC_CAP;
    uint32_t w = h / 64;
    uint64_t b = f->mac_used[w] & (~0ull << (h % 64));
    if (b != 0)
        return w * 64 + (uint32_t)__builtin_ctzll(b);
    /* the next word with a slot in use, found in the summary */
    if (++w == FWD_MAC_CAP / 64)
        return FWD_MAC_CAP;
    uint32_t s = w / 64;
    b = f->mac_used_sum[s] & (~0ull << (w % 64));
    while (b == 0) {
        if (++s == NSUM)
            return FWD_MAC_CAP;
        b = f->mac_used_sum[s];
    }
    w = s * 64 + (uint32_t)__builtin_ctzll(b);
    return w * 64 + (uint32_t)__builtin_ctzll(f->mac_used[w]);
}

/* ---- writer helpers (wlock held) ------------------------------------- */

static int
mac_find_slot(struct fwd *f, uint64_t key)
{
    uint32_t h = fwd_mac_hash(key);
    for (uint32_t i = 0; i < FWD_MAC_CAP; i++, h = (h + 1) & (FWD_MAC_CAP - 1)) {
        if (f->macs[h].key == FWD_MK_EMPTY)
            return -1;
        if (f->macs[h].key == key)
            return (int)h;
    }
    return -1;
}

static int
mac_put(struct fwd *f, uint64_t key, uint64_t val)
{
    int s = mac_find_slot(f, key);
    if (s >= 0) {
        __atomic_store_n(&f->macs[s].val, val, __ATOMIC_RELEASE);
        fwd_xdp_mac(f, (uint32_t)s);
        return s;
    }
    if (f->nmacs >= FWD_MAC_LIMIT)
        return -1;
    uint32_t h = fwd_mac_hash(key);
    while (f->macs[h].key != FWD_MK_EMPTY && f->macs[h].key != FWD_MK_TOMB)
        h = (h + 1) & (FWD_MAC_CAP - 1);
    /* value first, then the key publishes the entry */
    __atomic_store_n(&f->macs[h].val, val, __ATOMIC_RELEASE);
    /* only remote and learned entries age: leaving mac_seen untouched for
     * local ones keeps its pages out of memory on a ToR with local VNICs */
    if (FWD_MV_TYPE(val) != FWD_MAC_LOCAL)
        __atomic_store_n(&f->mac_seen[h], fwd_now_s(), __ATOMIC_RELAXED);
    __atomic_store_n(&f->macs[h].key, key, __ATOMIC_RELEASE);
    mac_used_set(f, h);
    f->nmacs++;
    fwd_xdp_mac(f, h);
    return (int)h;
}

static void
mac_remove_slot(struct fwd *f, uint32_t h)
{
    uint64_t v = f->macs[h].val, k = f->macs[h].key;
    if (FWD_MV_TYPE(v) == FWD_MAC_LOCAL)
        fwd_ip_clear_mac(f, h); /* a local MAC's IPs go with it */
    else
        fwd_remote_unref(f, FWD_MV_REMOTE(v));
    if (FWD_MV_TYPE(v) == FWD_MAC_LEARNED)
        f->nlearned--;
    __atomic_store_n(&f->macs[h].key, FWD_MK_TOMB, __ATOMIC_RELEASE);
    mac_used_clear(f, h);
    fwd_xdp_mac_del(f, k);
    f->nmacs--;
    /* A run of tombstones ending at an empty slot can become empty: no
     * probe chain passes beyond an empty slot, so a reader's result does
     * not change. Keeps chains short without rehashing under readers. */
    uint32_t n = (h + 1) & (FWD_MAC_CAP - 1);
    if (f->macs[n].key != FWD_MK_EMPTY)
        return;
    for (uint32_t i = h; f->macs[i].key == FWD_MK_TOMB;
         i = (i - 1) & (FWD_MAC_CAP - 1))
        __atomic_store_n(&f->macs[i].key, FWD_MK_EMPTY, __ATOMIC_RELEASE);
}

void
fwd_mac_flush_port(struct fwd *f, uint16_t port_id)
{
    for (uint32_t h = fwd_mac_next(f, 0); h < FWD_MAC_CAP;
         h = fwd_mac_next(f, h + 1)) {
        uint64_t v = f->macs[h].val;
        if (FWD_MV_TYPE(v) == FWD_MAC_LOCAL && FWD_MV_PORT(v) == port_id)
            mac_remove_slot(f, h);
    }
}

/* ---- API: local addresses -------------------------------------------- */

static int
mac_is_unicast(const uint8_t mac[6])
{
    static const uint8_t zero[6];
    return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

int
fwd_local_add(struct fwd *f, uint32_t vni, uint16_t port_id,
              const struct nvdp_addr *a)
{
    int vn = fwd_lock_vn(f, vni, 1, port_id < FWD_MAX_PORTS && a != NULL &&
                         mac_is_unicast(a->mac) &&
                         (a->family == 0 || fwd_ip_valid(a)));
    if (vn < 0)
        return -1;
    int rc = -1;
    uint64_t key = fwd_mac_key((uint16_t)vn, a->mac);
    int s = mac_find_slot(f, key);
    int active = 1;
    if (s >= 0) {
        uint64_t old = f->macs[s].val;
        if (FWD_MV_TYPE(old) == FWD_MAC_LOCAL) {
            if (FWD_MV_PORT(old) != port_id) /* moved: migration */
                fwd_ip_clear_mac(f, (uint32_t)s);
            active = FWD_MV_ACTIVE(old);
        } else {
            /* a local association beats a remote or learned entry */
            fwd_remote_unref(f, FWD_MV_REMOTE(old));
            if (FWD_MV_TYPE(old) == FWD_MAC_LEARNED)
                f->nlearned--;
        }
    }
    s = mac_put(f, key, FWD_MV(FWD_MAC_LOCAL, active, port_id, FWD_NO_REMOTE));
    if (s < 0) {
        errno = ENOSPC;
        goto out;
    }
    if (a->family != 0 && fwd_ip_add(f, (uint32_t)s, a) < 0)
        goto out;
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_local_del(struct fwd *f, uint32_t vni, uint16_t port_id,
              const struct nvdp_addr *a)
{
    int vn = fwd_lock_vn(f, vni, 0, port_id < FWD_MAX_PORTS && a != NULL);
    if (vn < 0)
        return -1;
    int rc = -1;
    int s = mac_find_slot(f, fwd_mac_key((uint16_t)vn, a->mac));
    /* only the location being removed: after a migration the MAC already
     * points at its new port and must stay, and so must its IPs */
    int here = s >= 0 && FWD_MV_TYPE(f->macs[s].val) == FWD_MAC_LOCAL &&
        FWD_MV_PORT(f->macs[s].val) == port_id;
    if (a->family != 0) {
        if (here)
            fwd_ip_del(f, (uint32_t)s, a);
        rc = 0; /* absent: nothing to do */
        goto out;
    }
    if (!here) {
        errno = ENOENT;
        goto out;
    }
    mac_remove_slot(f, (uint32_t)s); /* and its IPs */
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_local_set_active(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                     int active)
{
    int vn = fwd_lock_vn(f, vni, 0, 1);
    if (vn < 0)
        return -1;
    int rc = -1;
    int s = mac_find_slot(f, fwd_mac_key((uint16_t)vn, mac));
    if (s < 0 || FWD_MV_TYPE(f->macs[s].val) != FWD_MAC_LOCAL) {
        errno = ENOENT;
        goto out;
    }
    uint64_t v = f->macs[s].val;
    __atomic_store_n(&f->macs[s].val,
                     FWD_MV(FWD_MAC_LOCAL, active, FWD_MV_PORT(v), FWD_NO_REMOTE),
                     __ATOMIC_RELEASE);
    fwd_xdp_mac(f, (uint32_t)s);
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

/* ---- API: remote side -------------------------------------------------- */

static int
remote_mac_set(struct fwd *f, uint32_t vni, const uint8_t mac[6],
               const char *ip, int type)
{
    int vn = fwd_vn_get(f, vni);
    if (vn < 0) {
        errno = ENOSPC;
        return -1;
    }
    uint64_t key = fwd_mac_key((uint16_t)vn, mac);
    int s = mac_find_slot(f, key);
    if (s >= 0) {
        uint64_t old = f->macs[s].val;
        if (FWD_MV_TYPE(old) == FWD_MAC_LOCAL ||
            (type == FWD_MAC_LEARNED && FWD_MV_TYPE(old) == FWD_MAC_REMOTE)) {
            errno = EEXIST; /* never override a local or static entry */
            return -1;
        }
    }
    int was_learned = s >= 0 && FWD_MV_TYPE(f->macs[s].val) == FWD_MAC_LEARNED;
    if (type == FWD_MAC_LEARNED && !was_learned && f->nlearned >= FWD_LEARN_MAX) {
        f->learn_refused++;
        errno = ENOSPC;
        return -1;
    }
    /* Learning only points MACs at VTEPs the configuration already knows
     * (flood list, static entries): a packet from anywhere else must not
     * use up remote slots. */
    if (type == FWD_MAC_LEARNED && fwd_remote_find(f, ip) < 0) {
        f->learn_refused++;
        errno = EPERM;
        return -1;
    }
    int r = fwd_remote_get(f, ip);
    if (r < 0) {
        errno = errno == 0 ? ENOSPC : errno;
        return -1;
    }
    /* a moved MAC that moves on keeps its hold: in-flight frames follow */
    uint64_t moved = 0;
    uint32_t seen = fwd_now_s();
    if (s >= 0 && type == FWD_MAC_REMOTE && FWD_MV_MOVED(f->macs[s].val)) {
        moved = FWD_MV_F_MOVED;
        seen = f->mac_seen[s];
    }
    if (s >= 0)
        fwd_remote_unref(f, FWD_MV_REMOTE(f->macs[s].val));
    s = mac_put(f, key, FWD_MV(type, 1, 0, r) | moved);
    if (s < 0) {
        fwd_remote_unref(f, (uint16_t)r);
        errno = ENOSPC;
        return -1;
    }
    __atomic_store_n(&f->mac_seen[s], seen, __ATOMIC_RELAXED);
    f->nlearned += (type == FWD_MAC_LEARNED) - was_learned;
    return 0;
}

/* The API's remote MACs: static ones, and EVPN's (moved: a hold in ms). */
static int
remote_api(struct fwd *f, uint32_t vni, const uint8_t mac[6], const char *ip,
           int moved, uint32_t hold_ms)
{
    uint8_t fam, b[16];
    if (mac == NULL || ip == NULL || !mac_is_unicast(mac) ||
        fwd_parse_ip(ip, &fam, b) < 0) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int rc = remote_mac_set(f, vni, mac, ip, FWD_MAC_REMOTE);
    int vn = rc == 0 && moved ? fwd_vni_lookup(f, vni) : -1;
    int s = vn < 0 ? -1 : mac_find_slot(f, fwd_mac_key((uint16_t)vn, mac));
    if (s >= 0) {
        /* the hold first: a reader that sees the flag sees its deadline;
         * whole seconds, rounded up */
        __atomic_store_n(&f->mac_seen[s],
                         fwd_now_s() + (hold_ms + 999) / 1000,
                         __ATOMIC_RELAXED);
        __atomic_store_n(&f->macs[s].val, f->macs[s].val | FWD_MV_F_MOVED,
                         __ATOMIC_RELEASE);
        fwd_xdp_mac(f, (uint32_t)s);
    }
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_remote_mac_add(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                   const char *ip)
{
    return remote_api(f, vni, mac, ip, 0, 0);
}

int
fwd_remote_mac_moved(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                     const char *ip, uint32_t hold_ms)
{
    return remote_api(f, vni, mac, ip, 1, hold_ms);
}

int
fwd_remote_mac_leaving(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                       uint32_t hold_ms)
{
    int vn = fwd_lock_vn(f, vni, 1, mac != NULL && mac_is_unicast(mac));
    if (vn < 0)
        return -1;
    int rc = -1;
    uint64_t key = fwd_mac_key((uint16_t)vn, mac);
    int s = mac_find_slot(f, key);
    if (s >= 0 && FWD_MV_TYPE(f->macs[s].val) != FWD_MAC_LEARNED) {
        errno = EEXIST; /* here still, or its place is known */
        goto out;
    }
    if (s >= 0) { /* what the wire said before the move */
        fwd_remote_unref(f, FWD_MV_REMOTE(f->macs[s].val));
        f->nlearned--;
    }
    s = mac_put(f, key, FWD_MV(FWD_MAC_REMOTE, 1, 0, FWD_NO_REMOTE) |
                            FWD_MV_F_MOVED);
    if (s < 0) {
        errno = ENOSPC;
        goto out;
    }
    __atomic_store_n(&f->mac_seen[s], fwd_now_s() + (hold_ms + 999) / 1000,
                     __ATOMIC_RELAXED);
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_remote_mac_del(struct fwd *f, uint32_t vni, const uint8_t mac[6])
{
    int vn = fwd_lock_vn(f, vni, 0, 1);
    if (vn < 0)
        return -1;
    int rc = -1;
    int s = mac_find_slot(f, fwd_mac_key((uint16_t)vn, mac));
    if (s < 0 || FWD_MV_TYPE(f->macs[s].val) == FWD_MAC_LOCAL) {
        errno = ENOENT;
    } else {
        mac_remove_slot(f, (uint32_t)s);
        rc = 0;
    }
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

/* ---- learning and ageing (housekeeping thread, wlock held) ------------- */

int
fwd_learn_apply(struct fwd *f, const struct fwd_learn_ev *ev, uint32_t now)
{
    char ip[48];
    inet_ntop(ev->family == 4 ? AF_INET : AF_INET6, ev->ip, ip, sizeof(ip));
    if (ev->vn >= f->nvns)
        return -1;
    if (remote_mac_set(f, f->vns[ev->vn].vni, ev->mac, ip, FWD_MAC_LEARNED) < 0)
        return -1;
    int s = mac_find_slot(f, fwd_mac_key(ev->vn, ev->mac));
    if (s >= 0)
        __atomic_store_n(&f->mac_seen[s], now, __ATOMIC_RELAXED);
    f->learned++;
    return 0;
}

unsigned
fwd_age(struct fwd *f, uint32_t now)
{
    unsigned n = 0;
    for (uint32_t h = fwd_mac_next(f, 0); h < FWD_MAC_CAP;
         h = fwd_mac_next(f, h + 1)) {
        if (FWD_MV_TYPE(f->macs[h].val) != FWD_MAC_LEARNED)
            continue;
        uint32_t seen = __atomic_load_n(&f->mac_seen[h], __ATOMIC_RELAXED);
        if (now - seen >= f->p.mac_age_s) {
            mac_remove_slot(f, h);
            n++;
        }
    }
    f->aged += n;
    return n;
}
