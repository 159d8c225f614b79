/* fwd.c - the forwarder's tables and their control-plane API (fwd_*):
 * ports, (port, tag) -> VN bindings, MAC entries, remote VTEPs, counters
 * and the JSON views. Concurrency rules are in fwd_int.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fwd_int.h"
#include "fwd_pkt.h"
#include "log.h"

static const char *const drop_names[FWD_DROP_MAX] = {
    [FWD_DROP_NONE] = "none",
    [FWD_DROP_RUNT] = "runt",
    [FWD_DROP_UNTAGGED] = "untagged",
    [FWD_DROP_UNKNOWN_TAG] = "unknown-tag",
    [FWD_DROP_BAD_SRC] = "bad-src-mac",
    [FWD_DROP_SRC_NOT_ASSOC] = "src-not-associated",
    [FWD_DROP_VNIC_DOWN] = "vnic-down",
    [FWD_DROP_SAME_PORT] = "same-port",
    [FWD_DROP_MTU] = "mtu-exceeded",
    [FWD_DROP_NO_NEIGH] = "no-neighbour",
    [FWD_DROP_VX_SHORT] = "vxlan-short",
    [FWD_DROP_VX_MALFORMED] = "vxlan-malformed",
    [FWD_DROP_UNKNOWN_VNI] = "unknown-vni",
    [FWD_DROP_VX_TO_REMOTE] = "vxlan-to-remote",
    [FWD_DROP_TX_FAIL] = "tx-failed",
};

const char *
fwd_drop_name(int reason)
{
    if (reason < 0 || reason >= FWD_DROP_MAX)
        return "?";
    return drop_names[reason];
}

uint32_t
fwd_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_sec;
}

/* ---- construction ---------------------------------------------------- */

static int
parse_ip(const char *s, uint8_t *family, uint8_t ip[16])
{
    memset(ip, 0, 16);
    if (inet_pton(AF_INET, s, ip) == 1) {
        *family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, ip) == 1) {
        *family = 6;
        return 0;
    }
    return -1;
}

struct fwd *
fwd_new(const struct fwd_params *p)
{
    struct fwd *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->p = *p;
    if (f->p.udp_port == 0)
        f->p.udp_port = 4789;
    if (f->p.sport_min == 0 && f->p.sport_max == 0) {
        f->p.sport_min = 49152;
        f->p.sport_max = 65535;
    }
    if (f->p.sport_max < f->p.sport_min) {
        uint16_t t = f->p.sport_min;
        f->p.sport_min = f->p.sport_max;
        f->p.sport_max = t;
    }
    if (f->p.ttl == 0)
        f->p.ttl = 64;
    if (f->p.mac_age_s == 0)
        f->p.mac_age_s = 300;
    if (f->p.local_ip[0] != '\0' &&
        parse_ip(f->p.local_ip, &f->local_family, f->local_ip) < 0) {
        log_warnx("fwd: bad underlay local address %s", f->p.local_ip);
        free(f);
        return NULL;
    }
    f->vns = calloc(FWD_MAX_VNS, sizeof(*f->vns));
    f->macs = calloc(FWD_MAC_CAP, sizeof(*f->macs));
    f->mac_seen = calloc(FWD_MAC_CAP, sizeof(*f->mac_seen));
    f->remotes = calloc(FWD_MAX_REMOTES, sizeof(*f->remotes));
    if (f->vns == NULL || f->macs == NULL || f->mac_seen == NULL ||
        f->remotes == NULL) {
        fwd_free(f);
        return NULL;
    }
    pthread_mutex_init(&f->wlock, NULL);
    return f;
}

static void ip_reset(struct fwd *f);

void
fwd_free(struct fwd *f)
{
    if (f == NULL)
        return;
    fwd_stop(f);
    free(f->vns);
    free(f->macs);
    free(f->mac_seen);
    free(f->remotes);
    ip_reset(f);
    pthread_mutex_destroy(&f->wlock);
    free(f);
}

/* ---- reader-side lookups --------------------------------------------- */

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

int
fwd_vni_lookup(const struct fwd *f, uint32_t vni)
{
    uint32_t h = (vni * 2654435761u) & (FWD_VNI_HASH - 1);
    for (unsigned i = 0; i < FWD_VNI_HASH; i++, h = (h + 1) & (FWD_VNI_HASH - 1)) {
        uint32_t k = __atomic_load_n(&f->vni_key[h], __ATOMIC_ACQUIRE);
        if (k == 0)
            return -1;
        if (k == vni + 1)
            return f->vni_idx[h];
    }
    return -1;
}

static uint32_t
seq_begin(const uint32_t *seq)
{
    uint32_t s;
    while ((s = __atomic_load_n(seq, __ATOMIC_ACQUIRE)) & 1) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause(); /* a writer is mid-update: microseconds */
#endif
    }
    return s;
}

static int
seq_retry(const uint32_t *seq, uint32_t s)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(seq, __ATOMIC_RELAXED) != s;
}

static void
seq_write_begin(uint32_t *seq)
{
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void
seq_write_end(uint32_t *seq)
{
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

unsigned
fwd_remote_hdr(const struct fwd *f, uint16_t r, uint8_t *hdr, uint8_t *family)
{
    if (r >= FWD_MAX_REMOTES)
        return 0;
    const struct fwd_remote *rm = &f->remotes[r];
    unsigned len;
    uint32_t s;
    do {
        s = seq_begin(&rm->seq);
        len = rm->used && rm->resolved ? rm->hdr_len : 0;
        if (len > FWD_HDR_MAX)
            len = 0;
        memcpy(hdr, rm->hdr, len);
        *family = rm->family;
    } while (seq_retry(&rm->seq, s));
    return len;
}

void
fwd_vn_lists(const struct fwd *f, uint16_t vn, struct fwd_vn_member *members,
             uint16_t *nmembers, uint16_t *flood, uint16_t *nflood)
{
    const struct fwd_vn *v = &f->vns[vn];
    uint32_t s;
    do {
        s = seq_begin(&v->seq);
        uint16_t nm = v->nmembers, nf = v->nflood;
        if (nm > FWD_MAX_PORTS)
            nm = FWD_MAX_PORTS;
        if (nf > FWD_MAX_FLOOD)
            nf = FWD_MAX_FLOOD;
        memcpy(members, v->members, nm * sizeof(*members));
        memcpy(flood, v->flood, nf * sizeof(*flood));
        *nmembers = nm;
        *nflood = nf;
    } while (seq_retry(&v->seq, s));
}

/* ---- writer helpers (wlock held) ------------------------------------- */

static int
vn_find(struct fwd *f, uint32_t vni)
{
    return fwd_vni_lookup(f, vni);
}

static int
vn_get(struct fwd *f, uint32_t vni)
{
    int i = vn_find(f, vni);
    if (i >= 0)
        return i;
    if (vni > NVDP_VNI_MAX || f->nvns >= FWD_MAX_VNS)
        return -1;
    i = f->nvns++;
    struct fwd_vn *v = &f->vns[i];
    v->used = 1;
    v->vni = vni;
    uint32_t h = (vni * 2654435761u) & (FWD_VNI_HASH - 1);
    while (f->vni_key[h] != 0)
        h = (h + 1) & (FWD_VNI_HASH - 1);
    f->vni_idx[h] = (uint16_t)i;
    __atomic_store_n(&f->vni_key[h], vni + 1, __ATOMIC_RELEASE);
    return i;
}

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
    f->nmacs++;
    return (int)h;
}

/* ---- IP entries under local MACs (control side only, wlock held) -------- */

_Static_assert(FWD_MAC_CAP <= 65536, "a MAC slot must fit fwd_iphdr.mslot");
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
    uint16_t mslot;
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
iphead_hash(uint16_t mslot)
{
    uint64_t h = ((uint64_t)mslot + 0x10000) * 0xD6E8FEB86659FD93ull;
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
    k->mslot = (uint16_t)mslot;
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
    for (uint32_t h = iphead_hash((uint16_t)mslot) & mask; f->ipidx[h] != 0;
         h = (h + 1) & mask) {
        uint32_t v = f->ipidx[h];
        if ((v & FWD_IPR_HEAD) &&
            ip_ent(f, v & ~FWD_IPR_HEAD)->mslot == (uint16_t)mslot)
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
    e->fk = 0xFF;
    e->next = p->free;
    p->free = ref;
}

/* No IP entry left: give all their memory back. */
static void
ip_reset(struct fwd *f)
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
    uint16_t mslot = e->mslot;
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
        ip_reset(f);
}

/* Removes every IP entry of the MAC in slot mslot. */
static void
ip_clear_mac(struct fwd *f, uint32_t mslot)
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
        ip_reset(f);
}

static void remote_unref(struct fwd *f, uint16_t r);

static void
mac_remove_slot(struct fwd *f, uint32_t h)
{
    uint64_t v = f->macs[h].val;
    if (FWD_MV_TYPE(v) == FWD_MAC_LOCAL)
        ip_clear_mac(f, h); /* a local MAC's IPs go with it */
    else
        remote_unref(f, FWD_MV_REMOTE(v));
    if (FWD_MV_TYPE(v) == FWD_MAC_LEARNED)
        f->nlearned--;
    __atomic_store_n(&f->macs[h].key, FWD_MK_TOMB, __ATOMIC_RELEASE);
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

/* The reader has passed a quiescent point since `since` (or is idle). */
static int
reader_passed(struct fwd *f, uint64_t since)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with the reader's */
    if (!__atomic_load_n(&f->online, __ATOMIC_ACQUIRE))
        return 1;
    return __atomic_load_n(&f->qs, __ATOMIC_ACQUIRE) > since;
}

static void
remote_build(struct fwd *f, struct fwd_remote *rm, const uint8_t nh[6])
{
    uint8_t hdr[FWD_HDR_MAX];
    unsigned len = 0;
    int ok = nh != NULL && f->local_family == rm->family;
    if (ok)
        len = fwd_outer_template(hdr, rm->family, f->local_ip, rm->ip,
                                 f->underlay_mac, nh, &f->p);
    seq_write_begin(&rm->seq);
    if (len > 0)
        memcpy(rm->hdr, hdr, len);
    rm->hdr_len = (uint8_t)len;
    rm->resolved = len > 0;
    seq_write_end(&rm->seq);
}

void
fwd_remote_set_nexthop(struct fwd *f, uint16_t r, const uint8_t mac[6])
{
    if (r < FWD_MAX_REMOTES && f->remotes[r].used)
        remote_build(f, &f->remotes[r], mac);
}

void
fwd_remote_rebuild_all(struct fwd *f)
{
    for (int i = 0; i < FWD_MAX_REMOTES; i++) {
        struct fwd_remote *rm = &f->remotes[i];
        if (rm->used && rm->resolved) {
            uint8_t nh[6];
            memcpy(nh, rm->hdr, 6);
            remote_build(f, rm, nh);
        }
    }
}

/* The slot of an existing remote VTEP, or -1: never creates one. */
static int
remote_find(struct fwd *f, const char *ipstr)
{
    uint8_t fam, ip[16];
    if (parse_ip(ipstr, &fam, ip) < 0)
        return -1;
    for (int i = 0; i < FWD_MAX_REMOTES; i++) {
        const struct fwd_remote *rm = &f->remotes[i];
        if (rm->used && rm->family == fam && memcmp(rm->ip, ip, 16) == 0)
            return i;
    }
    return -1;
}

static int
remote_get(struct fwd *f, const char *ipstr)
{
    uint8_t fam, ip[16];
    if (parse_ip(ipstr, &fam, ip) < 0)
        return -1;
    int freeslot = -1;
    for (int i = 0; i < FWD_MAX_REMOTES; i++) {
        struct fwd_remote *rm = &f->remotes[i];
        if (rm->used) {
            if (rm->family == fam && memcmp(rm->ip, ip, 16) == 0) {
                rm->refs++;
                return i;
            }
        } else if (freeslot < 0 && reader_passed(f, rm->free_qs)) {
            freeslot = i;
        }
    }
    if (freeslot < 0)
        return -1;
    struct fwd_remote *rm = &f->remotes[freeslot];
    seq_write_begin(&rm->seq);
    rm->family = fam;
    memcpy(rm->ip, ip, 16);
    rm->resolved = 0;
    rm->hdr_len = 0;
    rm->used = 1;
    seq_write_end(&rm->seq);
    rm->refs = 1;
    rm->tx_pkts = 0;
    inet_ntop(fam == 4 ? AF_INET : AF_INET6, ip, rm->ipstr, sizeof(rm->ipstr));
    return freeslot;
}

static void
remote_unref(struct fwd *f, uint16_t r)
{
    if (r >= FWD_MAX_REMOTES || !f->remotes[r].used)
        return;
    struct fwd_remote *rm = &f->remotes[r];
    if (--rm->refs > 0)
        return;
    seq_write_begin(&rm->seq);
    rm->used = 0;
    rm->resolved = 0;
    seq_write_end(&rm->seq);
    rm->free_qs = __atomic_load_n(&f->qs, __ATOMIC_ACQUIRE);
}

static void
vn_publish_members(struct fwd *f, struct fwd_vn *v)
{
    struct fwd_vn_member m[FWD_MAX_PORTS];
    uint16_t n = 0;
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        if (v->port_tag[p] != 0 && f->ports[p].used)
            m[n++] = (struct fwd_vn_member){(uint16_t)p, v->port_tag[p]};
    seq_write_begin(&v->seq);
    memcpy(v->members, m, n * sizeof(*m));
    v->nmembers = n;
    seq_write_end(&v->seq);
}

/* ---- API: ports and bindings ------------------------------------------ */

int
fwd_port_add(struct fwd *f, uint16_t port_id, const char *ifname)
{
    if (port_id >= FWD_MAX_PORTS || ifname == NULL || strlen(ifname) >= 16) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    struct fwd_port *pt = &f->ports[port_id];
    int changed = !pt->used || strcmp(pt->ifname, ifname) != 0;
    snprintf(pt->ifname, sizeof(pt->ifname), "%s", ifname);
    __atomic_store_n(&pt->used, 1, __ATOMIC_RELEASE);
    if (changed) {
        for (int i = 0; i < f->nvns; i++)
            if (f->vns[i].port_tag[port_id])
                vn_publish_members(f, &f->vns[i]);
        __atomic_add_fetch(&f->ports_gen, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&f->wlock);
    return 0;
}

int
fwd_port_del(struct fwd *f, uint16_t port_id)
{
    if (port_id >= FWD_MAX_PORTS) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    struct fwd_port *pt = &f->ports[port_id];
    if (!pt->used) {
        pthread_mutex_unlock(&f->wlock);
        errno = ENOENT;
        return -1;
    }
    __atomic_store_n(&pt->used, 0, __ATOMIC_RELEASE);
    for (int t = 0; t < 4096; t++) {
        uint16_t vn1 = pt->tag2vn[t];
        if (vn1 == 0)
            continue;
        __atomic_store_n(&pt->tag2vn[t], 0, __ATOMIC_RELEASE);
        struct fwd_vn *v = &f->vns[vn1 - 1];
        __atomic_store_n(&v->port_tag[port_id], 0, __ATOMIC_RELEASE);
        vn_publish_members(f, v);
    }
    /* local MACs behind the port go with it, and their IPs with them */
    for (uint32_t h = 0; h < FWD_MAC_CAP; h++) {
        uint64_t k = f->macs[h].key, v = f->macs[h].val;
        if (k > FWD_MK_TOMB && FWD_MV_TYPE(v) == FWD_MAC_LOCAL &&
            FWD_MV_PORT(v) == port_id)
            mac_remove_slot(f, h);
    }
    memset(&pt->c, 0, sizeof(pt->c));
    __atomic_add_fetch(&f->ports_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&f->wlock);
    return 0;
}

int
fwd_vn_bind(struct fwd *f, uint16_t port_id, uint16_t tag, uint32_t vni)
{
    if (port_id >= FWD_MAX_PORTS || tag < NVDP_TAG_MIN || tag > NVDP_TAG_MAX ||
        vni > NVDP_VNI_MAX) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int rc = -1;
    struct fwd_port *pt = &f->ports[port_id];
    int vn = vn_get(f, vni);
    if (vn < 0) {
        errno = ENOSPC;
        goto out;
    }
    struct fwd_vn *v = &f->vns[vn];
    uint16_t old = pt->tag2vn[tag];
    if (old != 0 && old != vn + 1) {
        errno = EEXIST; /* the tag means another VN on this port */
        goto out;
    }
    if (v->port_tag[port_id] != 0 && v->port_tag[port_id] != tag) {
        errno = EEXIST; /* one tag per (port, VN) */
        goto out;
    }
    __atomic_store_n(&v->port_tag[port_id], tag, __ATOMIC_RELEASE);
    __atomic_store_n(&pt->tag2vn[tag], (uint16_t)(vn + 1), __ATOMIC_RELEASE);
    vn_publish_members(f, v);
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_vn_unbind(struct fwd *f, uint16_t port_id, uint16_t tag)
{
    if (port_id >= FWD_MAX_PORTS || tag < NVDP_TAG_MIN || tag > NVDP_TAG_MAX) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    struct fwd_port *pt = &f->ports[port_id];
    uint16_t vn1 = pt->tag2vn[tag];
    if (vn1 == 0) {
        pthread_mutex_unlock(&f->wlock);
        errno = ENOENT;
        return -1;
    }
    struct fwd_vn *v = &f->vns[vn1 - 1];
    __atomic_store_n(&pt->tag2vn[tag], 0, __ATOMIC_RELEASE);
    __atomic_store_n(&v->port_tag[port_id], 0, __ATOMIC_RELEASE);
    vn_publish_members(f, v);
    pthread_mutex_unlock(&f->wlock);
    return 0;
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
    struct ipkey k;
    if (port_id >= FWD_MAX_PORTS || a == NULL || !mac_is_unicast(a->mac) ||
        (a->family != 0 && ipkey_make(a, &k) < 0)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int rc = -1;
    int vn = vn_get(f, vni);
    if (vn < 0) {
        errno = ENOSPC;
        goto out;
    }
    uint64_t key = fwd_mac_key((uint16_t)vn, a->mac);
    int s = mac_find_slot(f, key);
    int active = 1;
    if (s >= 0) {
        uint64_t old = f->macs[s].val;
        if (FWD_MV_TYPE(old) == FWD_MAC_LOCAL) {
            if (FWD_MV_PORT(old) != port_id) /* moved: migration */
                ip_clear_mac(f, (uint32_t)s);
            active = FWD_MV_ACTIVE(old);
        } else {
            /* a local association beats a remote or learned entry */
            remote_unref(f, FWD_MV_REMOTE(old));
            if (FWD_MV_TYPE(old) == FWD_MAC_LEARNED)
                f->nlearned--;
        }
    }
    s = mac_put(f, key, FWD_MV(FWD_MAC_LOCAL, active, port_id, FWD_NO_REMOTE));
    if (s < 0) {
        errno = ENOSPC;
        goto out;
    }
    if (a->family != 0) {
        ipkey_bind(&k, (uint32_t)s);
        if (ip_add(f, &k) < 0)
            goto out;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_local_del(struct fwd *f, uint32_t vni, uint16_t port_id,
              const struct nvdp_addr *a)
{
    if (port_id >= FWD_MAX_PORTS || a == NULL) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int rc = -1;
    int vn = vn_find(f, vni);
    if (vn < 0) {
        errno = ENOENT;
        goto out;
    }
    int s = mac_find_slot(f, fwd_mac_key((uint16_t)vn, a->mac));
    /* only the location being removed: after a migration the MAC already
     * points at its new port and must stay, and so must its IPs */
    int here = s >= 0 && FWD_MV_TYPE(f->macs[s].val) == FWD_MAC_LOCAL &&
        FWD_MV_PORT(f->macs[s].val) == port_id;
    if (a->family != 0) {
        struct ipkey k;
        if (here && ipkey_make(a, &k) == 0) {
            ipkey_bind(&k, (uint32_t)s);
            long pos = ipidx_find_key(f, &k);
            if (pos >= 0)
                ip_del(f, f->ipidx[pos]);
        }
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
    pthread_mutex_lock(&f->wlock);
    int rc = -1;
    int vn = vn_find(f, vni);
    int s = vn < 0 ? -1 : mac_find_slot(f, fwd_mac_key((uint16_t)vn, mac));
    if (s < 0 || FWD_MV_TYPE(f->macs[s].val) != FWD_MAC_LOCAL) {
        errno = ENOENT;
        goto out;
    }
    uint64_t v = f->macs[s].val;
    __atomic_store_n(&f->macs[s].val,
                     FWD_MV(FWD_MAC_LOCAL, active, FWD_MV_PORT(v), FWD_NO_REMOTE),
                     __ATOMIC_RELEASE);
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
    int vn = vn_get(f, vni);
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
    if (type == FWD_MAC_LEARNED && remote_find(f, ip) < 0) {
        f->learn_refused++;
        errno = EPERM;
        return -1;
    }
    int r = remote_get(f, ip);
    if (r < 0) {
        errno = errno == 0 ? ENOSPC : errno;
        return -1;
    }
    if (s >= 0)
        remote_unref(f, FWD_MV_REMOTE(f->macs[s].val));
    s = mac_put(f, key, FWD_MV(type, 1, 0, r));
    if (s < 0) {
        remote_unref(f, (uint16_t)r);
        errno = ENOSPC;
        return -1;
    }
    __atomic_store_n(&f->mac_seen[s], fwd_now_s(), __ATOMIC_RELAXED);
    f->nlearned += (type == FWD_MAC_LEARNED) - was_learned;
    return 0;
}

int
fwd_remote_mac_add(struct fwd *f, uint32_t vni, const uint8_t mac[6],
                   const char *ip)
{
    if (mac == NULL || ip == NULL || !mac_is_unicast(mac)) {
        errno = EINVAL;
        return -1;
    }
    uint8_t fam, b[16];
    if (parse_ip(ip, &fam, b) < 0) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int rc = remote_mac_set(f, vni, mac, ip, FWD_MAC_REMOTE);
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_remote_mac_del(struct fwd *f, uint32_t vni, const uint8_t mac[6])
{
    pthread_mutex_lock(&f->wlock);
    int rc = -1;
    int vn = vn_find(f, vni);
    int s = vn < 0 ? -1 : mac_find_slot(f, fwd_mac_key((uint16_t)vn, mac));
    if (s < 0 || FWD_MV_TYPE(f->macs[s].val) == FWD_MAC_LOCAL) {
        errno = ENOENT;
    } else {
        mac_remove_slot(f, (uint32_t)s);
        rc = 0;
    }
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_flood_add(struct fwd *f, uint32_t vni, const char *ip)
{
    uint8_t fam, b[16];
    if (ip == NULL || parse_ip(ip, &fam, b) < 0) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int rc = -1;
    int vn = vn_get(f, vni);
    if (vn < 0) {
        errno = ENOSPC;
        goto out;
    }
    struct fwd_vn *v = &f->vns[vn];
    int r = remote_get(f, ip);
    if (r < 0) {
        errno = ENOSPC;
        goto out;
    }
    for (int i = 0; i < v->nflood; i++)
        if (v->flood[i] == r) { /* already there: idempotent */
            remote_unref(f, (uint16_t)r);
            rc = 0;
            goto out;
        }
    if (v->nflood >= FWD_MAX_FLOOD) {
        remote_unref(f, (uint16_t)r);
        errno = ENOSPC;
        goto out;
    }
    snprintf(v->flood_ip[v->nflood], sizeof(v->flood_ip[0]), "%s",
             f->remotes[r].ipstr);
    seq_write_begin(&v->seq);
    v->flood[v->nflood] = (uint16_t)r;
    v->nflood++;
    seq_write_end(&v->seq);
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_flood_del(struct fwd *f, uint32_t vni, const char *ip)
{
    uint8_t fam, b[16];
    if (ip == NULL || parse_ip(ip, &fam, b) < 0) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int rc = -1;
    int vn = vn_find(f, vni);
    if (vn < 0) {
        errno = ENOENT;
        goto out;
    }
    struct fwd_vn *v = &f->vns[vn];
    for (int i = 0; i < v->nflood; i++) {
        struct fwd_remote *rm = &f->remotes[v->flood[i]];
        if (rm->family != fam || memcmp(rm->ip, b, 16) != 0)
            continue;
        uint16_t r = v->flood[i];
        seq_write_begin(&v->seq);
        memmove(&v->flood[i], &v->flood[i + 1],
                (v->nflood - i - 1) * sizeof(v->flood[0]));
        v->nflood--;
        seq_write_end(&v->seq);
        memmove(v->flood_ip[i], v->flood_ip[i + 1],
                (v->nflood - i) * sizeof(v->flood_ip[0]));
        remote_unref(f, r);
        rc = 0;
        goto out;
    }
    errno = ENOENT;
out:
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
    for (uint32_t h = 0; h < FWD_MAC_CAP; h++) {
        uint64_t k = f->macs[h].key;
        if (k <= FWD_MK_TOMB || FWD_MV_TYPE(f->macs[h].val) != FWD_MAC_LEARNED)
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

/* ---- JSON views ---------------------------------------------------------- */

static struct json_object *
u64j(uint64_t v)
{
    return json_object_new_int64((int64_t)v);
}

static void
ip_fmt(const struct fwd *f, uint32_t ref, const uint8_t mac[6], char *buf,
       size_t len)
{
    struct ipkey k;
    struct nvdp_addr a;
    ipkey_of_ent(f, ref, &k);
    memset(&a, 0, sizeof(a));
    memcpy(a.mac, mac, 6);
    a.kind = k.fk & 3;
    a.family = (k.fk & FWD_IP_V6) ? 6 : 4;
    a.plen = k.plen;
    memcpy(a.ip, k.ip, 16);
    memcpy(a.ip_hi, k.hi, 16);
    nvdp_addr_fmt_ip(&a, buf, len);
}

static struct json_object *
mac_json(const struct fwd *f, uint32_t h, uint32_t now)
{
    static const char *const types[] = {"?", "local", "remote", "learned"};
    uint64_t k = f->macs[h].key, v = f->macs[h].val;
    uint8_t mac[6];
    char ms[18];
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(k >> (40 - 8 * i));
    nvdp_mac_fmt(mac, ms);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mac", json_object_new_string(ms));
    json_object_object_add(o, "type", json_object_new_string(types[FWD_MV_TYPE(v)]));
    if (FWD_MV_TYPE(v) == FWD_MAC_LOCAL) {
        uint16_t p = FWD_MV_PORT(v);
        json_object_object_add(o, "port", json_object_new_int(p));
        json_object_object_add(o, "ifname", json_object_new_string(f->ports[p].ifname));
        json_object_object_add(o, "active", json_object_new_boolean(FWD_MV_ACTIVE(v)));
        struct json_object *ips = json_object_new_array();
        long hp = ipidx_find_head(f, h);
        if (hp >= 0) { /* the MAC's list, in insertion order */
            uint32_t first = f->ipidx[hp] & ~FWD_IPR_HEAD, r = first;
            do {
                char buf[96];
                ip_fmt(f, r, mac, buf, sizeof(buf));
                json_object_array_add(ips, json_object_new_string(buf));
                r = ip_ent(f, r)->next;
            } while (r != first);
        }
        json_object_object_add(o, "ips", ips);
    } else {
        uint16_t r = FWD_MV_REMOTE(v);
        json_object_object_add(o, "remote", json_object_new_string(
            r < FWD_MAX_REMOTES ? f->remotes[r].ipstr : "?"));
        if (FWD_MV_TYPE(v) == FWD_MAC_LEARNED)
            json_object_object_add(o, "age_s", json_object_new_int64(
                now - __atomic_load_n(&f->mac_seen[h], __ATOMIC_RELAXED)));
    }
    return o;
}

static struct json_object *
underlay_json(struct fwd *f)
{
    struct json_object *u = json_object_new_object();
    unsigned hl = f->local_family == 6 ? 70 : 50;
    json_object_object_add(u, "interface", json_object_new_string(f->p.underlay_if));
    json_object_object_add(u, "local_ip", json_object_new_string(f->p.local_ip));
    json_object_object_add(u, "udp_port", json_object_new_int(f->p.udp_port));
    json_object_object_add(u, "sport_min", json_object_new_int(f->p.sport_min));
    json_object_object_add(u, "sport_max", json_object_new_int(f->p.sport_max));
    json_object_object_add(u, "ttl", json_object_new_int(f->p.ttl));
    json_object_object_add(u, "df", json_object_new_boolean(f->p.df));
    json_object_object_add(u, "mac_age_s", json_object_new_int64(f->p.mac_age_s));
    json_object_object_add(u, "mtu", json_object_new_int(f->underlay_mtu));
    /* the largest inner frame (without tag) that fits after encapsulation */
    json_object_object_add(u, "max_inner_frame", json_object_new_int(
        f->underlay_mtu > hl - 14 ? (int)(f->underlay_mtu - (hl - 14)) : 0));
    json_object_object_add(u, "encap_overhead", json_object_new_int(hl));
    return u;
}

struct json_object *
fwd_dump_json(struct fwd *f)
{
    pthread_mutex_lock(&f->wlock);
    uint32_t now = fwd_now_s();
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "running", json_object_new_boolean(f->dp != NULL));
    json_object_object_add(o, "underlay", underlay_json(f));

    struct json_object *ports = json_object_new_array();
    for (int p = 0; p < FWD_MAX_PORTS; p++) {
        struct fwd_port *pt = &f->ports[p];
        if (!pt->used)
            continue;
        struct json_object *po = json_object_new_object();
        json_object_object_add(po, "port", json_object_new_int(p));
        json_object_object_add(po, "ifname", json_object_new_string(pt->ifname));
        struct json_object *b = json_object_new_array();
        for (int t = 0; t < 4096; t++) {
            if (pt->tag2vn[t] == 0)
                continue;
            struct json_object *bo = json_object_new_object();
            json_object_object_add(bo, "tag", json_object_new_int(t));
            json_object_object_add(bo, "vni", json_object_new_int64(
                f->vns[pt->tag2vn[t] - 1].vni));
            json_object_array_add(b, bo);
        }
        json_object_object_add(po, "bindings", b);
        json_object_array_add(ports, po);
    }
    json_object_object_add(o, "ports", ports);

    struct json_object *vns = json_object_new_array();
    for (int i = 0; i < f->nvns; i++) {
        struct fwd_vn *v = &f->vns[i];
        struct json_object *vo = json_object_new_object();
        json_object_object_add(vo, "vni", json_object_new_int64(v->vni));
        struct json_object *mem = json_object_new_array();
        for (int m = 0; m < v->nmembers; m++) {
            struct json_object *mo = json_object_new_object();
            json_object_object_add(mo, "port", json_object_new_int(v->members[m].port));
            json_object_object_add(mo, "ifname", json_object_new_string(
                f->ports[v->members[m].port].ifname));
            json_object_object_add(mo, "tag", json_object_new_int(v->members[m].tag));
            json_object_array_add(mem, mo);
        }
        json_object_object_add(vo, "members", mem);
        struct json_object *fl = json_object_new_array();
        for (int m = 0; m < v->nflood; m++)
            json_object_array_add(fl, json_object_new_string(v->flood_ip[m]));
        json_object_object_add(vo, "flood", fl);
        json_object_object_add(vo, "macs", json_object_new_array());
        json_object_array_add(vns, vo);
    }
    for (uint32_t h = 0; h < FWD_MAC_CAP; h++) {
        uint64_t k = f->macs[h].key;
        if (k <= FWD_MK_TOMB)
            continue;
        struct json_object *vo = json_object_array_get_idx(vns, (k >> 48) - 1);
        struct json_object *macs;
        if (vo != NULL && json_object_object_get_ex(vo, "macs", &macs))
            json_object_array_add(macs, mac_json(f, h, now));
    }
    json_object_object_add(o, "vns", vns);

    struct json_object *rems = json_object_new_array();
    for (int r = 0; r < FWD_MAX_REMOTES; r++) {
        struct fwd_remote *rm = &f->remotes[r];
        if (!rm->used)
            continue;
        struct json_object *ro = json_object_new_object();
        json_object_object_add(ro, "ip", json_object_new_string(rm->ipstr));
        json_object_object_add(ro, "resolved", json_object_new_boolean(rm->resolved));
        if (rm->resolved) {
            char ms[18];
            nvdp_mac_fmt(rm->hdr, ms);
            json_object_object_add(ro, "nexthop_mac", json_object_new_string(ms));
        }
        json_object_object_add(ro, "refs", json_object_new_int64(rm->refs));
        json_object_object_add(ro, "tx_pkts", u64j(fwd_ctr_get(&rm->tx_pkts)));
        json_object_array_add(rems, ro);
    }
    json_object_object_add(o, "remotes", rems);
    json_object_object_add(o, "mac_entries", json_object_new_int64(f->nmacs));
    json_object_object_add(o, "mac_capacity", json_object_new_int64(FWD_MAC_LIMIT));
    pthread_mutex_unlock(&f->wlock);
    return o;
}

struct json_object *
fwd_counters_json(struct fwd *f)
{
    pthread_mutex_lock(&f->wlock);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "running", json_object_new_boolean(f->dp != NULL));
    struct json_object *ports = json_object_new_object();
    for (int p = 0; p < FWD_MAX_PORTS; p++) {
        struct fwd_port *pt = &f->ports[p];
        if (!pt->used)
            continue;
        struct json_object *po = json_object_new_object();
        json_object_object_add(po, "port", json_object_new_int(p));
        json_object_object_add(po, "rx_pkts", u64j(fwd_ctr_get(&pt->c.rx_pkts)));
        json_object_object_add(po, "rx_bytes", u64j(fwd_ctr_get(&pt->c.rx_bytes)));
        json_object_object_add(po, "tx_pkts", u64j(fwd_ctr_get(&pt->c.tx_pkts)));
        json_object_object_add(po, "tx_bytes", u64j(fwd_ctr_get(&pt->c.tx_bytes)));
        json_object_object_add(po, "drops", u64j(fwd_ctr_get(&pt->c.drops)));
        json_object_object_add(ports, pt->ifname, po);
    }
    json_object_object_add(o, "ports", ports);
    struct json_object *vns = json_object_new_object();
    for (int i = 0; i < f->nvns; i++) {
        struct fwd_vn *v = &f->vns[i];
        char k[16];
        snprintf(k, sizeof(k), "%u", v->vni);
        struct json_object *vo = json_object_new_object();
        json_object_object_add(vo, "encap_pkts", u64j(fwd_ctr_get(&v->c.encap_pkts)));
        json_object_object_add(vo, "encap_bytes", u64j(fwd_ctr_get(&v->c.encap_bytes)));
        json_object_object_add(vo, "decap_pkts", u64j(fwd_ctr_get(&v->c.decap_pkts)));
        json_object_object_add(vo, "decap_bytes", u64j(fwd_ctr_get(&v->c.decap_bytes)));
        json_object_object_add(vo, "local_pkts", u64j(fwd_ctr_get(&v->c.local_pkts)));
        json_object_object_add(vo, "flood_pkts", u64j(fwd_ctr_get(&v->c.flood_pkts)));
        json_object_object_add(vo, "drops", u64j(fwd_ctr_get(&v->c.drops)));
        json_object_object_add(vns, k, vo);
    }
    json_object_object_add(o, "vns", vns);
    struct json_object *d = json_object_new_object();
    for (int r = 1; r < FWD_DROP_MAX; r++)
        json_object_object_add(d, fwd_drop_name(r), u64j(fwd_ctr_get(&f->drops[r])));
    json_object_object_add(o, "drops", d);
    struct json_object *u = json_object_new_object();
    json_object_object_add(u, "rx_pkts", u64j(fwd_ctr_get(&f->und_rx_pkts)));
    json_object_object_add(u, "rx_bytes", u64j(fwd_ctr_get(&f->und_rx_bytes)));
    json_object_object_add(u, "tx_pkts", u64j(fwd_ctr_get(&f->und_tx_pkts)));
    json_object_object_add(u, "tx_bytes", u64j(fwd_ctr_get(&f->und_tx_bytes)));
    json_object_object_add(u, "mtu", json_object_new_int(f->underlay_mtu));
    json_object_object_add(o, "underlay", u);
    struct json_object *l = json_object_new_object();
    json_object_object_add(l, "learned", u64j(f->learned));
    json_object_object_add(l, "aged", u64j(f->aged));
    json_object_object_add(l, "learned_entries", u64j(f->nlearned));
    json_object_object_add(l, "learn_refused", u64j(f->learn_refused));
    json_object_object_add(l, "ring_overflow", u64j(fwd_ctr_get(&f->learn_overflow)));
    json_object_object_add(l, "tx_batches", u64j(fwd_ctr_get(&f->tx_batches)));
    json_object_object_add(o, "forwarder", l);
    pthread_mutex_unlock(&f->wlock);
    return o;
}
