/* fwd_tables.c - the forwarder's construction and its small tables:
 * ports, (port, tag) -> VN bindings, the VNI index and each VN's member and
 * flood lists, remote VTEP slots. The MAC table is fwd_mac.c, the IP
 * entries fwd_ip.c. Concurrency rules are in fwd_int.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fwd_int.h"
#include "fwd_xdp.h"
#include "log.h"

uint32_t
fwd_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_sec;
}

/* ---- construction ---------------------------------------------------- */

int
fwd_parse_ip(const char *s, uint8_t *family, uint8_t ip[16])
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
    f->snoop_fd = -1;
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
        fwd_parse_ip(f->p.local_ip, &f->local_family, f->local_ip) < 0) {
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
    /* Without an underlay there is no packet path (fwd_start): the
     * program never attaches, and maps written for it would be a system
     * call per table change for nothing. */
    if (f->p.fastpath && !f->p.underlay_if[0])
        snprintf(f->xdp_why, sizeof(f->xdp_why), "no underlay interface: "
                 "no packet path");
    else if (f->p.fastpath && fwd_xdp_open(f) < 0)
        log_warnx("fwd: no XDP fast path (%s): the in-process forwarder "
                  "forwards everything", f->xdp_why);
    return f;
}

int
fwd_fastpath_loads(const struct fwd *f)
{
    return f != NULL && f->xdp != NULL;
}

void
fwd_free(struct fwd *f)
{
    if (f == NULL)
        return;
    fwd_stop(f);
    fwd_xdp_close(f);
    free(f->vns);
    free(f->macs);
    free(f->mac_seen);
    free(f->remotes);
    free(f->nd);
    if (f->snoop_fd >= 0)
        close(f->snoop_fd);
    fwd_ip_reset(f);
    pthread_mutex_destroy(&f->wlock);
    free(f);
}

/* ---- reader-side lookups --------------------------------------------- */

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

void
fwd_vn_lists(const struct fwd *f, uint16_t vn, struct fwd_vn_member *members,
             uint16_t *nmembers, uint16_t *flood, uint16_t *nflood)
{
    const struct fwd_vn *v = &f->vns[vn];
    uint32_t s;
    do {
        s = fwd_seq_begin(&v->seq);
        uint16_t nm = v->nmembers, nf = v->nflood;
        if (nm > FWD_MAX_PORTS)
            nm = FWD_MAX_PORTS;
        if (nf > FWD_MAX_FLOOD)
            nf = FWD_MAX_FLOOD;
        memcpy(members, v->members, nm * sizeof(*members));
        memcpy(flood, v->flood, nf * sizeof(*flood));
        *nmembers = nm;
        *nflood = nf;
    } while (fwd_seq_retry(&v->seq, s));
}

/* ---- writer helpers (wlock held) ------------------------------------- */

int
fwd_vn_get(struct fwd *f, uint32_t vni)
{
    int i = fwd_vni_lookup(f, vni);
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
    fwd_xdp_vn(f, (uint16_t)i);
    return i;
}

int
fwd_lock_vn(struct fwd *f, uint32_t vni, int create, int args_ok)
{
    if (!args_ok) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->wlock);
    int vn = create ? fwd_vn_get(f, vni) : fwd_vni_lookup(f, vni);
    if (vn < 0) {
        pthread_mutex_unlock(&f->wlock);
        errno = create ? ENOSPC : ENOENT;
    }
    return vn;
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

int
fwd_remote_find(struct fwd *f, const char *ipstr)
{
    uint8_t fam, ip[16];
    if (fwd_parse_ip(ipstr, &fam, ip) < 0)
        return -1;
    for (int i = 0; i < FWD_MAX_REMOTES; i++) {
        const struct fwd_remote *rm = &f->remotes[i];
        if (rm->used && rm->family == fam && memcmp(rm->ip, ip, 16) == 0)
            return i;
    }
    return -1;
}

int
fwd_remote_get(struct fwd *f, const char *ipstr)
{
    uint8_t fam, ip[16];
    if (fwd_parse_ip(ipstr, &fam, ip) < 0)
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
    fwd_seq_write_begin(&rm->seq);
    rm->family = fam;
    memcpy(rm->ip, ip, 16);
    rm->resolved = 0;
    rm->hdr_len = 0;
    rm->used = 1;
    fwd_seq_write_end(&rm->seq);
    rm->refs = 1;
    rm->tx_pkts = 0;
    rm->gen++; /* the fast path's MAC entries of the slot's last use are stale */
    inet_ntop(fam == 4 ? AF_INET : AF_INET6, ip, rm->ipstr, sizeof(rm->ipstr));
    fwd_xdp_remote(f, (uint16_t)freeslot, 1);
    return freeslot;
}

void
fwd_remote_unref(struct fwd *f, uint16_t r)
{
    if (r >= FWD_MAX_REMOTES || !f->remotes[r].used)
        return;
    struct fwd_remote *rm = &f->remotes[r];
    if (--rm->refs > 0)
        return;
    fwd_seq_write_begin(&rm->seq);
    rm->used = 0;
    rm->resolved = 0;
    fwd_seq_write_end(&rm->seq);
    rm->free_qs = __atomic_load_n(&f->qs, __ATOMIC_ACQUIRE);
    fwd_xdp_remote(f, r, 0);
}

static void
vn_publish_members(struct fwd *f, struct fwd_vn *v)
{
    struct fwd_vn_member m[FWD_MAX_PORTS];
    uint16_t n = 0;
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        if (v->port_tag[p] != 0 && f->ports[p].used)
            m[n++] = (struct fwd_vn_member){(uint16_t)p, v->port_tag[p]};
    fwd_seq_write_begin(&v->seq);
    memcpy(v->members, m, n * sizeof(*m));
    v->nmembers = n;
    fwd_seq_write_end(&v->seq);
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
    fwd_xdp_port_gone(f, port_id);
    for (int t = 0; t < 4096; t++) {
        uint16_t vn1 = pt->tag2vn[t];
        if (vn1 == 0)
            continue;
        __atomic_store_n(&pt->tag2vn[t], 0, __ATOMIC_RELEASE);
        fwd_xdp_tag(f, port_id, (uint16_t)t);
        struct fwd_vn *v = &f->vns[vn1 - 1];
        __atomic_store_n(&v->port_tag[port_id], 0, __ATOMIC_RELEASE);
        fwd_xdp_vnport(f, (uint16_t)(vn1 - 1), port_id);
        vn_publish_members(f, v);
    }
    fwd_mac_flush_port(f, port_id); /* local MACs behind it, and their IPs */
    memset(&pt->c, 0, sizeof(pt->c));
    __atomic_add_fetch(&f->ports_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&f->wlock);
    return 0;
}

int
fwd_vn_bind(struct fwd *f, uint16_t port_id, uint16_t tag, uint32_t vni)
{
    int vn = fwd_lock_vn(f, vni, 1, port_id < FWD_MAX_PORTS &&
                         tag >= NVDP_TAG_MIN && tag <= NVDP_TAG_MAX &&
                         vni <= NVDP_VNI_MAX);
    if (vn < 0)
        return -1;
    int rc = -1;
    struct fwd_port *pt = &f->ports[port_id];
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
    fwd_xdp_vnport(f, (uint16_t)vn, port_id);
    fwd_xdp_tag(f, port_id, tag);
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
    fwd_xdp_tag(f, port_id, tag);
    fwd_xdp_vnport(f, (uint16_t)(vn1 - 1), port_id);
    vn_publish_members(f, v);
    pthread_mutex_unlock(&f->wlock);
    return 0;
}

/* ---- API: flood lists --------------------------------------------------- */

static int
ip_text_ok(const char *s)
{
    uint8_t fam, b[16];
    return s != NULL && fwd_parse_ip(s, &fam, b) == 0;
}

/* Position of remote r in v's flood list, or -1. */
static int
flood_pos(const struct fwd_vn *v, int r)
{
    for (int i = 0; i < v->nflood; i++)
        if (v->flood[i] == r)
            return i;
    return -1;
}

int
fwd_flood_add(struct fwd *f, uint32_t vni, const char *ip)
{
    int vn = fwd_lock_vn(f, vni, 1, ip_text_ok(ip));
    if (vn < 0)
        return -1;
    struct fwd_vn *v = &f->vns[vn];
    int r = fwd_remote_get(f, ip), rc = -1;
    if (r < 0) {
        errno = ENOSPC;
        goto out;
    }
    if (flood_pos(v, r) >= 0) { /* already there: idempotent */
        fwd_remote_unref(f, (uint16_t)r);
        rc = 0;
        goto out;
    }
    if (v->nflood >= FWD_MAX_FLOOD) {
        fwd_remote_unref(f, (uint16_t)r);
        errno = ENOSPC;
        goto out;
    }
    snprintf(v->flood_ip[v->nflood], sizeof(v->flood_ip[0]), "%s",
             f->remotes[r].ipstr);
    fwd_seq_write_begin(&v->seq);
    v->flood[v->nflood] = (uint16_t)r;
    v->nflood++;
    fwd_seq_write_end(&v->seq);
    rc = 0;
out:
    pthread_mutex_unlock(&f->wlock);
    return rc;
}

int
fwd_flood_del(struct fwd *f, uint32_t vni, const char *ip)
{
    int vn = fwd_lock_vn(f, vni, 0, ip_text_ok(ip));
    if (vn < 0)
        return -1;
    struct fwd_vn *v = &f->vns[vn];
    int r = fwd_remote_find(f, ip);
    int i = r < 0 ? -1 : flood_pos(v, r);
    if (i >= 0) {
        fwd_seq_write_begin(&v->seq);
        memmove(&v->flood[i], &v->flood[i + 1],
                (v->nflood - i - 1) * sizeof(v->flood[0]));
        v->nflood--;
        fwd_seq_write_end(&v->seq);
        memmove(v->flood_ip[i], v->flood_ip[i + 1],
                (v->nflood - i) * sizeof(v->flood_ip[0]));
        fwd_remote_unref(f, (uint16_t)r);
    }
    pthread_mutex_unlock(&f->wlock);
    if (i < 0) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

/* ---- snooped announcements (the ring's consumer) ------------------------ */

int
fwd_snoop_fd(struct fwd *f)
{
    pthread_mutex_lock(&f->wlock);
    if (f->snoop_fd < 0)
        __atomic_store_n(&f->snoop_fd, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
                         __ATOMIC_RELEASE);
    int fd = f->snoop_fd;
    pthread_mutex_unlock(&f->wlock);
    return fd;
}

/* One consumer (the control plane). The eventfd is read first: an event
 * queued meanwhile signals again. */
int
fwd_snoop_read(struct fwd *f, struct fwd_snoop *ev, int max)
{
    uint64_t v;
    int n = 0;

    if (f->snoop_fd < 0)
        return 0;
    if (read(f->snoop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return -1;
    uint32_t head = __atomic_load_n(&f->snoop_head, __ATOMIC_ACQUIRE);
    uint32_t tail = f->snoop_tail;
    for (; tail != head && n < max; tail++)
        ev[n++] = f->snoop[tail & (FWD_SNOOP_RING - 1)];
    __atomic_store_n(&f->snoop_tail, tail, __ATOMIC_RELEASE);
    return n;
}
