/* fwd_nd.c - remote MAC+IP entries (EVPN type 2) for the ARP/ND proxy:
 * (VN, family, IP) -> MAC in one open-addressing array, written under
 * wlock, read lock-free by the packet path (each slot has a sequence
 * counter: a reader copies and retries, a writer never waits). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_int.h"
#include "hash.h"

/* Unkeyed, like the MAC table's: the keys are what FRR installed, at most
 * FWD_ND_LIMIT of them. */
static uint32_t
nd_hash(uint16_t vn, uint8_t family, const uint8_t *ip)
{
    uint64_t h = hash_bytes((uint64_t)vn << 8 | family, ip,
                            family == 4 ? 4 : 16);
    return (uint32_t)(h >> (64 - FWD_ND_BITS));
}

static int
nd_match(const struct fwd_nd_slot *s, uint16_t vn, uint8_t family,
         const uint8_t *ip)
{
    return s->vn == vn && s->family == family &&
           memcmp(s->ip, ip, family == 4 ? 4 : 16) == 0;
}

int
fwd_nd_lookup(const struct fwd *f, uint16_t vn, uint8_t family,
              const uint8_t *ip, uint8_t mac[6])
{
    const struct fwd_nd_slot *t = __atomic_load_n(&f->nd, __ATOMIC_ACQUIRE);
    if (t == NULL)
        return 0;
    uint32_t h = nd_hash(vn, family, ip);
    for (uint32_t i = 0; i < FWD_ND_CAP; i++, h = (h + 1) & (FWD_ND_CAP - 1)) {
        const struct fwd_nd_slot *s = &t[h];
        struct fwd_nd_slot c;
        int tries = 0;
        uint32_t q;
        do {
            if (tries++ == 4)
                return 0; /* a writer keeps changing it: treat as a miss */
            q = fwd_seq_begin(&s->seq);
            memcpy(&c, s, sizeof(c));
        } while (fwd_seq_retry(&s->seq, q));
        if (c.state == FWD_ND_EMPTY)
            return 0;
        if (c.state == FWD_ND_USED && nd_match(&c, vn, family, ip)) {
            memcpy(mac, c.mac, 6);
            return 1;
        }
    }
    return 0;
}

/* Writer side: the slot holding the key, or -1 (*free gets the first
 * reusable slot on its probe path, -1 if none). */
static int
nd_find(const struct fwd *f, uint16_t vn, uint8_t family, const uint8_t *ip,
        int *free_slot)
{
    uint32_t h = nd_hash(vn, family, ip);
    *free_slot = -1;
    for (uint32_t i = 0; i < FWD_ND_CAP; i++, h = (h + 1) & (FWD_ND_CAP - 1)) {
        const struct fwd_nd_slot *s = &f->nd[h];
        if (s->state == FWD_ND_EMPTY) {
            if (*free_slot < 0)
                *free_slot = (int)h;
            return -1;
        }
        if (s->state == FWD_ND_TOMB) {
            if (*free_slot < 0)
                *free_slot = (int)h;
        } else if (nd_match(s, vn, family, ip)) {
            return (int)h;
        }
    }
    return -1;
}

static void
nd_write(struct fwd_nd_slot *s, uint16_t vn, uint8_t family,
         const uint8_t *ip, const uint8_t *mac)
{
    fwd_seq_write_begin(&s->seq);
    s->state = FWD_ND_USED;
    s->vn = vn;
    s->family = family;
    memset(s->ip, 0, sizeof(s->ip));
    memcpy(s->ip, ip, family == 4 ? 4 : 16);
    memcpy(s->mac, mac, 6);
    fwd_seq_write_end(&s->seq);
}

static void
nd_set_state(struct fwd_nd_slot *s, uint8_t state)
{
    fwd_seq_write_begin(&s->seq);
    s->state = state;
    fwd_seq_write_end(&s->seq);
}

int
fwd_remote_ip_add(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                  int family, const uint8_t ip[16])
{
    int vn = fwd_lock_vn(f, vni, 1, mac != NULL && ip != NULL &&
                         (family == 4 || family == 6) && !(mac[0] & 1));
    int rc = -1, free_slot;
    if (vn < 0)
        return -1;
    if (f->nd == NULL) {
        struct fwd_nd_slot *t = calloc(FWD_ND_CAP, sizeof(*t));
        if (t == NULL) {
            errno = ENOMEM;
            goto out;
        }
        __atomic_store_n(&f->nd, t, __ATOMIC_RELEASE);
    }
    int s = nd_find(f, (uint16_t)vn, (uint8_t)family, ip, &free_slot);
    if (s < 0) {
        if (f->nnd >= FWD_ND_LIMIT || free_slot < 0) {
            errno = ENOSPC;
            goto out;
        }
        s = free_slot;
        f->nnd++;
    }
    nd_write(&f->nd[s], (uint16_t)vn, (uint8_t)family, ip, mac);
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_remote_ip_del(struct fwd *f, uint32_t vni, int family,
                  const uint8_t ip[16])
{
    int vn = fwd_lock_vn(f, vni, 0, ip != NULL && (family == 4 || family == 6));
    int rc = -1, free_slot;
    if (vn < 0)
        return -1;
    int s = f->nd ? nd_find(f, (uint16_t)vn, (uint8_t)family, ip, &free_slot)
                  : -1;
    if (s < 0) {
        errno = ENOENT;
        goto out;
    }
    nd_set_state(&f->nd[s], FWD_ND_TOMB);
    f->nnd--;
    /* tombstones before an empty slot end no probe chain: emptied */
    uint32_t n = ((uint32_t)s + 1) & (FWD_ND_CAP - 1);
    if (f->nd[n].state == FWD_ND_EMPTY)
        for (uint32_t i = (uint32_t)s; f->nd[i].state == FWD_ND_TOMB;
             i = (i - 1) & (FWD_ND_CAP - 1))
            nd_set_state(&f->nd[i], FWD_ND_EMPTY);
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

/* For fwd_dump_json (wlock held): calls fn for each entry of VN vn. */
void
fwd_nd_foreach(const struct fwd *f, uint16_t vn, fwd_nd_fn fn, void *arg)
{
    for (uint32_t h = 0; f->nd && h < FWD_ND_CAP; h++)
        if (f->nd[h].state == FWD_ND_USED && f->nd[h].vn == vn)
            fn(arg, f->nd[h].family, f->nd[h].ip, f->nd[h].mac);
}
