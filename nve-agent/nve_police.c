/* nve_police.c - per-source policing of NVDP frames in the kernel: the
 * socket filter bpf/nvdp_police.bpf.c (embedded) replaces l2sock's classic
 * filter on every access port's socket. A peer the engine knows has a
 * token bucket of its own, every source not known yet shares one per port:
 * a flood is dropped in softirq, before it fills the queue a legitimate
 * hypervisor's frames wait in. On a port with auth = required, a frame
 * that is not signed with a key id the port accepts is dropped before any
 * bucket (spec 14.2): an unsigned flood takes no share. The engine's
 * limits stay the authority (spec 10.2, 11.4, 16): a known peer's kernel
 * bucket is twice its request bucket, so the kernel drops only what user
 * space would drop; a peer the engine has demoted (refused for limits
 * again and again, spec 15) gets a bucket of a few frames a second
 * instead, so that many of them together pass less than the daemon
 * reads.
 * Without BPF (kernel, privilege, build) the classic filter stays: one
 * log line, and every frame is left to user space as before. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nve.h"

#ifdef HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>

#include "../bpf/nvdp_police.h"

extern const unsigned char nvdp_police_bpf_o[];
extern const unsigned int nvdp_police_bpf_o_len;

_Static_assert(NVP_MAX_PORTS == TREE_MAX_PORTS, "a port each");
_Static_assert(NVP_KEY_IDS == NVE_POLICE_KEY_IDS, "the ids a port lists");

struct nve_police {
    struct bpf_object *obj;
    int prog_fd, ports_fd, peers_fd;
};

struct nve_police *
nve_police_new(void)
{
    DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo,
                        .object_name = "nvdp_police");
    struct nve_police *x = calloc(1, sizeof(*x));
    struct bpf_program *prog;
    int rc = -ENOMEM;

    if (x == NULL)
        goto fail;
    x->obj = bpf_object__open_mem(nvdp_police_bpf_o, nvdp_police_bpf_o_len,
                                  &oo);
    rc = x->obj == NULL ? -errno : bpf_object__load(x->obj);
    if (rc < 0)
        goto fail;
    prog = bpf_object__find_program_by_name(x->obj, "nvdp_police");
    x->prog_fd = prog ? bpf_program__fd(prog) : -1;
    x->ports_fd = bpf_object__find_map_fd_by_name(x->obj, "ports");
    x->peers_fd = bpf_object__find_map_fd_by_name(x->obj, "peers");
    if (x->prog_fd < 0 || x->ports_fd < 0 || x->peers_fd < 0) {
        rc = -ENOENT;
        goto fail;
    }
    log_info("NVDP frames policed per source in the kernel (socket filter)");
    return x;
fail:
    log_warnx("kernel policing of NVDP frames unavailable (%s): every frame "
              "reaches the daemon, which polices it alone",
              strerror(-rc));
    nve_police_free(x);
    return NULL;
}

void
nve_police_free(struct nve_police *x)
{
    if (x == NULL)
        return;
    bpf_object__close(x->obj);
    free(x);
}

/* rate per second and burst as the filter's gap and tolerance in ns */
static void
gcra(uint32_t rate, uint32_t burst, __u64 *gap, __u64 *tol)
{
    *gap = rate ? 1000000000ULL / rate : 0;
    *tol = *gap * (burst ? burst : 1);
}

int
nve_police_port(struct nve_police *x, const struct l2sock *s,
                const struct nve_police_conf *pc, int attach)
{
    uint32_t key = (uint32_t)s->ifindex;
    uint32_t rate = pc->rate, burst = pc->burst;
    struct nvp_port p = {0};

    if (x == NULL)
        return 0;
    /* a reload keeps the port's buckets and counters: new rates and
     * policy only, in the one update the filter sees whole */
    (void)bpf_map_lookup_elem(x->ports_fd, &key, &p);
    p.ethertype = s->ethertype;
    memcpy(p.group, s->group, 6);
    gcra(rate > UINT32_MAX / 2 ? 0 : 2 * rate,
         burst > UINT32_MAX / 2 ? UINT32_MAX : 2 * burst, &p.gap_peer,
         &p.tol_peer);
    gcra(rate, burst, &p.gap_new, &p.tol_new);
    gcra(pc->demoted, pc->demoted, &p.gap_demoted, &p.tol_demoted);
    p.auth_required = pc->auth_required;
    p.any_key = pc->nkey_ids > NVP_KEY_IDS;
    p.nkey_ids = (__u16)(p.any_key ? 0 : pc->nkey_ids);
    memset(p.key_id, 0, sizeof(p.key_id));
    memcpy(p.key_id, pc->key_id, p.nkey_ids * sizeof(p.key_id[0]));
    if (bpf_map_update_elem(x->ports_fd, &key, &p, BPF_ANY) < 0) {
        log_warn("police: %s: port entry", s->ifname);
        return -1;
    }
    if (attach && setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_BPF, &x->prog_fd,
                             sizeof(x->prog_fd)) < 0) {
        log_warn("police: %s: SO_ATTACH_BPF (the classic filter stays)",
                 s->ifname);
        (void)bpf_map_delete_elem(x->ports_fd, &key);
        return -1;
    }
    return 0;
}

void
nve_police_port_del(struct nve_police *x, const struct l2sock *s)
{
    uint32_t key = (uint32_t)s->ifindex;

    if (x != NULL)
        (void)bpf_map_delete_elem(x->ports_fd, &key);
}

void
nve_police_peer(struct nve_police *x, const struct l2sock *s,
                const uint8_t mac[6], enum nve_standing st)
{
    struct nvp_peer_key k = {.ifindex = (uint32_t)s->ifindex};
    struct nvp_peer e = {.demoted = st == NVE_PEER_DEMOTED};

    if (x == NULL)
        return;
    memcpy(k.mac, mac, 6);
    /* a failure leaves the source in its port's shared bucket, in its
     * standing before, or a stale entry that LRU ages out: policing
     * degrades, nothing else. One system call per change of standing,
     * never per frame. */
    if (st == NVE_PEER_LISTED) /* a reload must not undo a demotion */
        (void)bpf_map_update_elem(x->peers_fd, &k, &e, BPF_NOEXIST);
    else if (st != NVE_PEER_GONE)
        (void)bpf_map_update_elem(x->peers_fd, &k, &e, BPF_ANY);
    else
        (void)bpf_map_delete_elem(x->peers_fd, &k);
}

int
nve_police_dropped(const struct nve_police *x, const struct l2sock *s,
                   struct nve_policed *d)
{
    uint32_t key = (uint32_t)s->ifindex;
    struct nvp_port p;

    if (x == NULL || bpf_map_lookup_elem(x->ports_fd, &key, &p) < 0)
        return -1;
    d->peer = p.dropped_peer;
    d->newsrc = p.dropped_new;
    d->demoted = p.dropped_demoted;
    d->unauth = p.dropped_unauth;
    return 0;
}

int
nve_police_prog_fd(const struct nve_police *x)
{
    return x ? x->prog_fd : -1;
}

#else /* !HAVE_BPF */

int
nve_police_prog_fd(const struct nve_police *x)
{
    (void)x;
    return -1;
}

struct nve_police *
nve_police_new(void)
{
    log_warnx("kernel policing of NVDP frames unavailable (built without "
              "BPF): every frame reaches the daemon, which polices it alone");
    return NULL;
}

void
nve_police_free(struct nve_police *x)
{
    (void)x;
}

int
nve_police_port(struct nve_police *x, const struct l2sock *s,
                const struct nve_police_conf *pc, int attach)
{
    (void)x, (void)s, (void)pc, (void)attach;
    return 0;
}

void
nve_police_port_del(struct nve_police *x, const struct l2sock *s)
{
    (void)x, (void)s;
}

void
nve_police_peer(struct nve_police *x, const struct l2sock *s,
                const uint8_t mac[6], enum nve_standing st)
{
    (void)x, (void)s, (void)mac, (void)st;
}

int
nve_police_dropped(const struct nve_police *x, const struct l2sock *s,
                   struct nve_policed *d)
{
    (void)x, (void)s, (void)d;
    return -1;
}

#endif

void
nve_police_listed(struct nve_police *x, const struct l2sock *s,
                  const uint8_t (*hv)[6], unsigned n,
                  const uint8_t (*was)[6], unsigned nwas,
                  nve_police_known_fn known, void *arg)
{
    /* a port's listed hypervisors are known before they speak: a new
     * one's first frame does not compete with strangers for the shared
     * bucket (spec 15) */
    for (unsigned k = 0; k < n; k++)
        nve_police_peer(x, s, hv[k], NVE_PEER_LISTED);
    /* one taken off the list would otherwise keep its bucket until the
     * LRU evicts it: a MAC no longer trusted still beside the flood */
    for (unsigned i = 0; i < nwas; i++) {
        unsigned k = 0;
        while (k < n && memcmp(hv[k], was[i], 6) != 0)
            k++;
        if (k == n && (known == NULL || !known(arg, was[i])))
            nve_police_peer(x, s, was[i], NVE_PEER_GONE);
    }
}
