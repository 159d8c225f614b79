/* fwd_ip.c - the IP entries under local MACs (control side only, wlock
 * held): three pools by entry size and one open-addressing index over
 * them, as described at struct fwd_iphdr in fwd_int.h. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_int.h"

_Static_assert(FWD_MAC_BITS <= 20, "a MAC slot must fit fwd_iphdr.mslot");
_Static_assert(sizeof(struct fwd_ip4) == 16 && sizeof(struct fwd_ip6) == 28 &&
               sizeof(struct fwd_iprange) == 44, "IP entry sizes");
_Static_assert(offsetof(struct fwd_ip4, ip) == sizeof(struct fwd_iphdr) &&
               offsetof(struct fwd_ip6, ip) == sizeof(struct fwd_iphdr) &&
               offsetof(struct fwd_iprange, ip) == sizeof(struct fwd_iphdr) &&
               offsetof(struct fwd_iprange, ip_hi) == sizeof(struct fwd_iphdr) + 16,
               "addresses follow the header");

static const uint32_t ipp_esz[FWD_IPP_MAX] = {
    sizeof(struct fwd_ip4), sizeof(struct fwd_ip6), sizeof(struct fwd_iprange),
};

/* An address as the IP tables key it: canonical (bytes beyond the family's
 * length zero, plen only for prefixes, upper bound only for ranges). */
struct ipkey {
    uint32_t mslot;
    uint8_t fk, plen;
    uint8_t pool, alen;
    uint8_t ip[16], hi[16];
    uint32_t hash;
};

static struct fwd_iphdr *
ip_ent(const struct fwd *f, uint32_t ref)
{
    unsigned pool = FWD_IPR_POOL(ref);
    return (struct fwd_iphdr *)(f->ipp[pool].base +
        (size_t)((ref & FWD_IPR_IDXMASK) - 1) * ipp_esz[pool]);
}

/* The address bytes of an entry (alen of them), and a range's upper bound. */
static uint8_t *
ip_ent_ip(struct fwd_iphdr *e)
{
    return (uint8_t *)(e + 1);
}

static uint64_t
ip_mix(uint64_t h, const uint8_t *b, unsigned n)
{
    for (unsigned i = 0; i < n; i += 4) {
        uint32_t w;
        memcpy(&w, b + i, 4);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 31;
    }
    return h;
}

static uint32_t
ipkey_hash(const struct ipkey *k)
{
    uint64_t h = ((uint64_t)k->mslot << 16 | (uint64_t)k->fk << 8 | k->plen) + 1;
    h *= 0x9E3779B97F4A7C15ull;
    h = ip_mix(h, k->ip, k->alen);
    if (k->pool == FWD_IPP_RANGE)
        h = ip_mix(h, k->hi, k->alen);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return (uint32_t)(h >> 32);
}

static uint32_t
iphead_hash(uint32_t mslot)
{
    uint64_t h = ((uint64_t)mslot + (1ull << 32)) * 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

/* Fills k from an IP address (family 4 or 6); -1 if it is not one. */
static int
ipkey_make(const struct nvdp_addr *a, struct ipkey *k)
{
    memset(k, 0, sizeof(*k));
    if ((a->family != 4 && a->family != 6) ||
        (a->kind != NVDP_ADDR_HOST && a->kind != NVDP_ADDR_PREFIX &&
         a->kind != NVDP_ADDR_RANGE))
        return -1;
    k->alen = a->family == 4 ? 4 : 16;
    if (a->kind == NVDP_ADDR_PREFIX) {
        if (a->plen > k->alen * 8)
            return -1;
        k->plen = a->plen;
    }
    k->fk = (uint8_t)(a->kind | (a->family == 6 ? FWD_IP_V6 : 0));
    k->pool = a->kind == NVDP_ADDR_RANGE ? FWD_IPP_RANGE :
        a->family == 6 ? FWD_IPP_V6 : FWD_IPP_V4;
    memcpy(k->ip, a->ip, k->alen);
    if (a->kind == NVDP_ADDR_RANGE)
        memcpy(k->hi, a->ip_hi, k->alen);
    return 0;
}

static void
ipkey_bind(struct ipkey *k, uint32_t mslot)
{
    k->mslot = mslot;
    k->hash = ipkey_hash(k);
}

static void
ipkey_of_ent(const struct fwd *f, uint32_t ref, struct ipkey *k)
{
    struct fwd_iphdr *e = ip_ent(f, ref);
    memset(k, 0, sizeof(*k));
    k->fk = e->fk;
    k->plen = e->plen;
    k->pool = (uint8_t)FWD_IPR_POOL(ref);
    k->alen = (e->fk & FWD_IP_V6) ? 16 : 4;
    memcpy(k->ip, ip_ent_ip(e), k->alen);
    if (k->pool == FWD_IPP_RANGE)
        memcpy(k->hi, ip_ent_ip(e) + 16, k->alen);
    ipkey_bind(k, e->mslot);
}

static int
ipkey_match(const struct fwd *f, uint32_t ref, const struct ipkey *k)
{
    if (FWD_IPR_POOL(ref) != k->pool)
        return 0;
    struct fwd_iphdr *e = ip_ent(f, ref);
    const uint8_t *ip = ip_ent_ip(e);
    return e->mslot == k->mslot && e->fk == k->fk && e->plen == k->plen &&
        memcmp(ip, k->ip, k->alen) == 0 &&
        (k->pool != FWD_IPP_RANGE || memcmp(ip + 16, k->hi, k->alen) == 0);
}

/* Where an index value's probe sequence starts (unmasked). */
static uint32_t
ipidx_home(const struct fwd *f, uint32_t v)
{
    uint32_t ref = v & ~FWD_IPR_HEAD;
    if (v & FWD_IPR_HEAD)
        return iphead_hash(ip_ent(f, ref)->mslot);
    struct ipkey k;
    ipkey_of_ent(f, ref, &k);
    return k.hash;
}

static int
ipidx_rehash(struct fwd *f, uint32_t ncap)
{
    uint32_t *n = calloc(ncap, sizeof(*n));
    if (n == NULL)
        return -1;
    for (uint32_t i = 0; i < f->ipidx_cap; i++) {
        uint32_t v = f->ipidx[i];
        if (v == 0)
            continue;
        uint32_t h = ipidx_home(f, v) & (ncap - 1);
        while (n[h] != 0)
            h = (h + 1) & (ncap - 1);
        n[h] = v;
    }
    free(f->ipidx);
    f->ipidx = n;
    f->ipidx_cap = ncap;
    return 0;
}

/* Room for `more` index values at a load of at most 3/4. */
static int
ipidx_reserve(struct fwd *f, uint32_t more)
{
    uint64_t need = (uint64_t)f->ipidx_n + more;
    if (f->ipidx_cap != 0 && need * 4 <= (uint64_t)f->ipidx_cap * 3)
        return 0;
    uint64_t c = f->ipidx_cap ? f->ipidx_cap : 64;
    while (need * 4 > c * 3)
        c *= 2;
    if (c > 0x80000000ull) {
        errno = ENOSPC;
        return -1;
    }
    return ipidx_rehash(f, (uint32_t)c);
}

static void
ipidx_put(struct fwd *f, uint32_t hash, uint32_t v)
{
    uint32_t mask = f->ipidx_cap - 1, h = hash & mask;
    while (f->ipidx[h] != 0)
        h = (h + 1) & mask;
    f->ipidx[h] = v;
    f->ipidx_n++;
}

/* Backward-shift deletion: the probe sequences of the values after the hole
 * stay unbroken without tombstones. */
static void
ipidx_del_at(struct fwd *f, uint32_t i)
{
    uint32_t mask = f->ipidx_cap - 1;
    for (uint32_t j = (i + 1) & mask; f->ipidx[j] != 0; j = (j + 1) & mask) {
        uint32_t k = ipidx_home(f, f->ipidx[j]) & mask;
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            f->ipidx[i] = f->ipidx[j];
            i = j;
        }
    }
    f->ipidx[i] = 0;
    f->ipidx_n--;
}

/* Index position of the entry with key k, or -1. */
static long
ipidx_find_key(const struct fwd *f, const struct ipkey *k)
{
    if (f->ipidx_cap == 0)
        return -1;
    uint32_t mask = f->ipidx_cap - 1;
    for (uint32_t h = k->hash & mask; f->ipidx[h] != 0; h = (h + 1) & mask) {
        uint32_t v = f->ipidx[h];
        if (!(v & FWD_IPR_HEAD) && ipkey_match(f, v, k))
            return (long)h;
    }
    return -1;
}

/* Index position of the first entry of the MAC in slot mslot, or -1. */
static long
ipidx_find_head(const struct fwd *f, uint32_t mslot)
{
    if (f->ipidx_cap == 0)
        return -1;
    uint32_t mask = f->ipidx_cap - 1;
    for (uint32_t h = iphead_hash(mslot) & mask; f->ipidx[h] != 0;
         h = (h + 1) & mask) {
        uint32_t v = f->ipidx[h];
        if ((v & FWD_IPR_HEAD) && ip_ent(f, v & ~FWD_IPR_HEAD)->mslot == mslot)
            return (long)h;
    }
    return -1;
}

/* Index position of value v, known to be present, probing from hash. */
static uint32_t
ipidx_find_val(const struct fwd *f, uint32_t hash, uint32_t v)
{
    uint32_t mask = f->ipidx_cap - 1, h = hash & mask;
    while (f->ipidx[h] != v)
        h = (h + 1) & mask;
    return h;
}

static int
ipp_reserve(struct fwd *f, unsigned pool)
{
    struct fwd_ippool *p = &f->ipp[pool];
    if (p->free != 0 || p->n < p->cap)
        return 0;
    uint32_t ncap = p->cap ? p->cap * 2 : 64;
    if (ncap > FWD_IPR_IDXMASK - 1) {
        errno = ENOSPC;
        return -1;
    }
    uint8_t *nb = realloc(p->base, (size_t)ncap * ipp_esz[pool]);
    if (nb == NULL)
        return -1;
    p->base = nb;
    p->cap = ncap;
    return 0;
}

/* Takes an element of a pool with room (ipp_reserve); its reference. */
static uint32_t
ipp_alloc(struct fwd *f, unsigned pool)
{
    struct fwd_ippool *p = &f->ipp[pool];
    uint32_t ref;
    if (p->free != 0) {
        ref = p->free;
        p->free = ip_ent(f, ref)->next;
    } else {
        ref = (uint32_t)pool << 30 | (p->n + 1);
        p->n++;
    }
    return ref;
}

static void
ipp_free(struct fwd *f, uint32_t ref)
{
    struct fwd_ippool *p = &f->ipp[FWD_IPR_POOL(ref)];
    struct fwd_iphdr *e = ip_ent(f, ref);
    e->fk = FWD_IP_FREE;
    e->next = p->free;
    p->free = ref;
}

/* No IP entry left: give all their memory back. */
void
fwd_ip_reset(struct fwd *f)
{
    for (int i = 0; i < FWD_IPP_MAX; i++) {
        free(f->ipp[i].base);
        memset(&f->ipp[i], 0, sizeof(f->ipp[i]));
    }
    free(f->ipidx);
    f->ipidx = NULL;
    f->ipidx_cap = f->ipidx_n = 0;
    f->nips = 0;
}

/* Adds the IP entry k (bound to its MAC slot) unless it exists. */
static int
ip_add(struct fwd *f, const struct ipkey *k)
{
    if (ipidx_find_key(f, k) >= 0)
        return 0; /* duplicates are no-ops */
    if (ipidx_reserve(f, 2) < 0 || ipp_reserve(f, k->pool) < 0)
        return -1;
    uint32_t ref = ipp_alloc(f, k->pool);
    struct fwd_iphdr *e = ip_ent(f, ref);
    e->mslot = k->mslot;
    e->fk = k->fk;
    e->plen = k->plen;
    memcpy(ip_ent_ip(e), k->ip, k->pool == FWD_IPP_V4 ? 4 : 16);
    if (k->pool == FWD_IPP_RANGE)
        memcpy(ip_ent_ip(e) + 16, k->hi, 16);
    long hp = ipidx_find_head(f, k->mslot);
    if (hp < 0) {
        e->next = e->prev = ref;
        ipidx_put(f, iphead_hash(k->mslot), ref | FWD_IPR_HEAD);
    } else { /* append: the list keeps insertion order */
        uint32_t first = f->ipidx[hp] & ~FWD_IPR_HEAD;
        struct fwd_iphdr *fe = ip_ent(f, first);
        uint32_t last = fe->prev;
        e->prev = last;
        e->next = first;
        ip_ent(f, last)->next = ref;
        fe->prev = ref;
    }
    ipidx_put(f, k->hash, ref);
    f->nips++;
    return 0;
}

static void
ip_del(struct fwd *f, uint32_t ref)
{
    struct fwd_iphdr *e = ip_ent(f, ref);
    uint32_t mslot = e->mslot;
    ipidx_del_at(f, ipidx_find_val(f, ipidx_home(f, ref), ref));
    if (e->next == ref) { /* the MAC's only one */
        ipidx_del_at(f, ipidx_find_val(f, iphead_hash(mslot),
                                       ref | FWD_IPR_HEAD));
    } else {
        ip_ent(f, e->prev)->next = e->next;
        ip_ent(f, e->next)->prev = e->prev;
        /* same key (the MAC slot): the value changes in place */
        long hp = ipidx_find_head(f, mslot);
        if (hp >= 0 && f->ipidx[hp] == (ref | FWD_IPR_HEAD))
            f->ipidx[hp] = e->next | FWD_IPR_HEAD;
    }
    ipp_free(f, ref);
    if (--f->nips == 0)
        fwd_ip_reset(f);
}

void
fwd_ip_clear_mac(struct fwd *f, uint32_t mslot)
{
    long hp = ipidx_find_head(f, mslot);
    if (hp < 0)
        return;
    uint32_t first = f->ipidx[hp] & ~FWD_IPR_HEAD, r = first;
    ipidx_del_at(f, (uint32_t)hp);
    do {
        uint32_t next = ip_ent(f, r)->next;
        ipidx_del_at(f, ipidx_find_val(f, ipidx_home(f, r), r));
        ipp_free(f, r);
        f->nips--;
        r = next;
    } while (r != first);
    if (f->nips == 0)
        fwd_ip_reset(f);
}

int
fwd_ip_valid(const struct nvdp_addr *a)
{
    struct ipkey k;
    return ipkey_make(a, &k) == 0;
}

int
fwd_ip_add(struct fwd *f, uint32_t mslot, const struct nvdp_addr *a)
{
    struct ipkey k;
    if (ipkey_make(a, &k) < 0) {
        errno = EINVAL;
        return -1;
    }
    ipkey_bind(&k, mslot);
    return ip_add(f, &k);
}

void
fwd_ip_del(struct fwd *f, uint32_t mslot, const struct nvdp_addr *a)
{
    struct ipkey k;
    if (ipkey_make(a, &k) < 0)
        return;
    ipkey_bind(&k, mslot);
    long pos = ipidx_find_key(f, &k);
    if (pos >= 0)
        ip_del(f, f->ipidx[pos]);
}

void
fwd_ip_foreach(const struct fwd *f, uint32_t mslot, fwd_ip_fn fn, void *arg)
{
    long hp = ipidx_find_head(f, mslot);
    if (hp < 0)
        return;
    uint32_t first = f->ipidx[hp] & ~FWD_IPR_HEAD, r = first;
    do { /* the MAC's list, in insertion order */
        struct ipkey k;
        struct nvdp_addr a;
        ipkey_of_ent(f, r, &k);
        memset(&a, 0, sizeof(a));
        a.kind = k.fk & 3;
        a.family = (k.fk & FWD_IP_V6) ? 6 : 4;
        a.plen = k.plen;
        memcpy(a.ip, k.ip, 16);
        memcpy(a.ip_hi, k.hi, 16);
        fn(arg, &a);
        r = ip_ent(f, r)->next;
    } while (r != first);
}
