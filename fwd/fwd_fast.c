/* fwd_fast.c - per-packet forwarding decisions for the forwarding thread:
 * access -> (local port | VXLAN to a remote | head-end replication) and
 * underlay -> decapsulation -> access port, with learning and counters. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct mmsghdr */
#endif
#include <string.h>

#include "fwd_arp.h"
#include "fwd_encap.h"
#include "fwd_fast.h"
#include "fwd_pkt.h"

_Static_assert(FWD_TXSLOT_HDR >= FWD_HDR_MAX &&
               FWD_TXSLOT_HDR >= 16 + FWD_ARP_REPLY_MAX - 12,
               "a slot holds outer headers or a tagged ARP/ND answer");

void
fwd_txq_init(struct fwd_txq *q, int fd, uint16_t port)
{
    memset(q, 0, sizeof(*q));
    q->fd = fd;
    q->port = port;
    for (int i = 0; i < FWD_TXQ_LEN; i++) {
        q->mm[i].msg_hdr.msg_iov = q->s[i].iov;
        q->mm[i].msg_hdr.msg_iovlen = 3;
    }
}

static inline void
drop(struct fwd *f, uint64_t *port_drops, int reason)
{
    fwd_ctr_add(&f->drops[reason], 1);
    if (port_drops != NULL)
        fwd_ctr_add(port_drops, 1);
}

/* The inner frame as two pieces: MAC addresses, then from the EtherType
 * on (skipping an in-band tag when there was one). */
struct inner {
    const uint8_t *a;   /* 12 bytes */
    const uint8_t *b;
    size_t blen;
    size_t len;         /* 12 + blen */
};

static struct fwd_txslot *
slot_get(struct fwd *f, struct fwd_out *o, struct fwd_txq *q)
{
    if (q->n == FWD_TXQ_LEN)
        o->flush(f, o, q);
    return &q->s[q->n];
}

static void
emit_local(struct fwd *f, struct fwd_out *o, uint16_t port, uint16_t tag,
           const struct inner *in)
{
    struct fwd_txq *q = o->port_q[port];
    if (q == NULL) {
        drop(f, NULL, FWD_DROP_TX_FAIL);
        return;
    }
    struct fwd_txslot *s = slot_get(f, o, q);
    s->hdr[0] = 0x81;
    s->hdr[1] = 0x00;
    s->hdr[2] = (uint8_t)(tag >> 8);
    s->hdr[3] = (uint8_t)tag;
    s->iov[0] = (struct iovec){(void *)in->a, 12};
    s->iov[1] = (struct iovec){s->hdr, 4};
    s->iov[2] = (struct iovec){(void *)in->b, in->blen};
    s->len = in->len + 4;
    q->n++;
}

/* Encapsulates toward remote r. Returns 0 or a drop reason. */
static int
emit_remote(struct fwd *f, struct fwd_out *o, uint16_t r, uint32_t vni,
            const struct inner *in, uint32_t hash)
{
    struct fwd_txq *q = o->und_q;
    if (q == NULL)
        return FWD_DROP_TX_FAIL;
    struct fwd_txslot *s = slot_get(f, o, q);
    uint8_t fam;
    unsigned hl = fwd_remote_hdr(f, r, s->hdr, &fam);
    if (hl == 0)
        return FWD_DROP_NO_NEIGH;
    /* never fragment (RFC 7348 4.3): the outer IP packet must fit */
    /* ... and its 16-bit lengths must not wrap: an MTU of 65536 (lo) or
     * a GRO-merged access frame would otherwise pass */
    if (hl - 14 + in->len > f->underlay_mtu || hl - 14 + in->len > 0xffff)
        return FWD_DROP_MTU;
    if (fam == 4 && !f->p.df) {
        /* a datagram routers may fragment needs a changing IPv4 ID
         * (RFC 6864); with DF set (the default) it stays 0 */
        o->ip_id++;
        s->hdr[18] = (uint8_t)(o->ip_id >> 8);
        s->hdr[19] = (uint8_t)o->ip_id;
    }
    s->iov[0] = (struct iovec){s->hdr, hl};
    s->iov[1] = (struct iovec){(void *)in->a, 12};
    s->iov[2] = (struct iovec){(void *)in->b, in->blen};
    fwd_outer_finish(s->hdr, hl, vni, fwd_sport(&f->p, hash), &s->iov[1], 2,
                     in->len);
    s->len = hl + in->len;
    q->n++;
    fwd_ctr_add(&f->remotes[r].tx_pkts, 1);
    return 0;
}

static uint32_t
inner_hash(const struct inner *in)
{
    uint8_t eth[14];
    memcpy(eth, in->a, 12);
    memcpy(eth + 12, in->b, 2);
    return fwd_flow_hash(eth, in->b + 2, in->blen - 2);
}

/* A frame the forwarder made (an ARP/ND answer), tagged, to port. */
static void
emit_made(struct fwd *f, struct fwd_out *o, uint16_t port, uint16_t tag,
          const uint8_t *frame, size_t len)
{
    struct fwd_txq *q = o->port_q[port];
    if (q == NULL) {
        drop(f, NULL, FWD_DROP_TX_FAIL);
        return;
    }
    struct fwd_txslot *s = slot_get(f, o, q);
    memcpy(s->hdr, frame, 12);
    s->hdr[12] = 0x81;
    s->hdr[13] = 0x00;
    s->hdr[14] = (uint8_t)(tag >> 8);
    s->hdr[15] = (uint8_t)tag;
    memcpy(s->hdr + 16, frame + 12, len - 12);
    s->iov[0] = (struct iovec){s->hdr, len + 4};
    s->iov[1] = (struct iovec){s->hdr, 0}; /* empty, never NULL */
    s->iov[2] = (struct iovec){s->hdr, 0};
    s->len = len + 4;
    q->n++;
}

/* A VM announced itself (seed 004 4.1): for the control plane, which
 * confirms its move. Dropped, counted, when the ring is full. */
static void
snoop_push(struct fwd *f, struct fwd_out *o, uint16_t vn,
           const uint8_t *mac, const struct fwd_arp *a)
{
    if (__atomic_load_n(&f->snoop_fd, __ATOMIC_RELAXED) < 0)
        return; /* nobody listens */
    uint32_t head = f->snoop_head;
    if (head - __atomic_load_n(&f->snoop_tail, __ATOMIC_ACQUIRE) >=
        FWD_SNOOP_RING) {
        fwd_ctr_add(&f->snoop_overflow, 1);
        return;
    }
    struct fwd_snoop *ev = &f->snoop[head & (FWD_SNOOP_RING - 1)];
    ev->vni = f->vns[vn].vni;
    memcpy(ev->mac, mac, 6);
    ev->family = a->family;
    memcpy(ev->ip, a->target, 16);
    __atomic_store_n(&f->snoop_head, head + 1, __ATOMIC_RELEASE);
    fwd_ctr_add(&f->snooped, 1);
    o->snooped = 1;
}

/* Broadcast/multicast ARP and ND from a local VNIC: announcements are
 * snooped, requests for a remote MAC+IP answered here (EVPN ARP/ND proxy,
 * RFC 7432 10). 1 when answered: not flooded. */
static int
arp_nd(struct fwd *f, struct fwd_out *o, uint16_t port, uint16_t tag,
       uint16_t vn, const struct inner *in)
{
    struct fwd_arp a;
    uint8_t mac[6], reply[FWD_ARP_REPLY_MAX];
    size_t len;

    switch (fwd_arp_parse(in->a, in->b, in->blen, &a)) {
    case FWD_ARP_ANNOUNCE:
    case FWD_ND_ANNOUNCE:
        snoop_push(f, o, vn, in->a + 6, &a);
        return 0;
    case FWD_ARP_REQUEST:
    case FWD_ND_SOLICIT:
        if (!fwd_nd_lookup(f, vn, a.family, a.target, mac) ||
            (len = fwd_arp_reply(&a, mac, reply)) == 0)
            return 0;
        emit_made(f, o, port, tag, reply, len);
        fwd_ctr_add(a.family == 4 ? &f->arp_proxied : &f->nd_proxied, 1);
        return 1;
    default:
        return 0;
    }
}

static void
flood_from_access(struct fwd *f, struct fwd_out *o, uint16_t in_port,
                  uint16_t vn, const struct inner *in)
{
    struct fwd_vn_member mem[FWD_MAX_PORTS];
    uint16_t fl[FWD_MAX_FLOOD], nm, nf;
    struct fwd_vn *v = &f->vns[vn];
    fwd_vn_lists(f, vn, mem, &nm, fl, &nf);
    for (unsigned i = 0; i < nm; i++)
        if (mem[i].port != in_port) {
            emit_local(f, o, mem[i].port, mem[i].tag, in);
            fwd_ctr_add(&v->c.local_pkts, 1);
        }
    uint32_t h = nf ? inner_hash(in) : 0;
    for (unsigned i = 0; i < nf; i++) {
        int r = emit_remote(f, o, fl[i], v->vni, in, h);
        if (r != 0) {
            drop(f, &v->c.drops, r);
        } else {
            fwd_ctr_add(&v->c.encap_pkts, 1);
            fwd_ctr_add(&v->c.encap_bytes, in->len);
        }
    }
    fwd_ctr_add(&v->c.flood_pkts, 1);
}

void
fwd_access_rx(struct fwd *f, struct fwd_out *o, uint16_t port,
              uint8_t *frame, size_t len, unsigned flags, uint16_t tci)
{
    struct fwd_port *pt = &f->ports[port];
    fwd_ctr_add(&pt->c.rx_pkts, 1);
    fwd_ctr_add(&pt->c.rx_bytes, len);
    if (len < 14) {
        drop(f, &pt->c.drops, FWD_DROP_RUNT);
        return;
    }
    struct inner in = {.a = frame, .b = frame + 12, .blen = len - 12};
    uint16_t vid;
    if (flags & FWD_RX_VLAN) {
        vid = tci & 0x0fff;
    } else if (fwd_rd16(frame + 12) == FWD_ETH_P_8021Q && len >= 18) {
        vid = fwd_rd16(frame + 14) & 0x0fff; /* tag left in the data */
        in.b = frame + 16;
        in.blen = len - 16;
    } else {
        drop(f, &pt->c.drops, FWD_DROP_UNTAGGED);
        return;
    }
    in.len = 12 + in.blen;
    if (vid == 0) { /* priority-tagged: no VN */
        drop(f, &pt->c.drops, FWD_DROP_UNTAGGED);
        return;
    }
    /* A second tag under ours names no VN: encapsulated, the remote VTEP
     * discards it (RFC 7348 6.1); delivered locally, it would reach the
     * other port double-tagged (VLAN hopping past the hypervisor). */
    if (in.blen >= 2 && (fwd_rd16(in.b) == FWD_ETH_P_8021Q ||
                         fwd_rd16(in.b) == FWD_ETH_P_8021AD)) {
        drop(f, &pt->c.drops, FWD_DROP_UNKNOWN_TAG);
        return;
    }
    uint16_t vn1 = __atomic_load_n(&pt->tag2vn[vid], __ATOMIC_ACQUIRE);
    if (vn1 == 0) {
        drop(f, &pt->c.drops, FWD_DROP_UNKNOWN_TAG);
        return;
    }
    uint16_t vn = vn1 - 1;
    struct fwd_vn *v = &f->vns[vn];
    const uint8_t *dst = frame, *src = frame + 6;
    if (flags & FWD_RX_CSUM) /* sender's offload: the wire needs it whole */
        fwd_l4_csum_complete((uint8_t *)in.b, in.blen);
    if (src[0] & 1) {
        drop(f, &pt->c.drops, FWD_DROP_BAD_SRC);
        return;
    }
    /* anti-spoofing: only a MAC associated to this VN on this port */
    uint64_t sv = fwd_mac_lookup(f, vn, src, NULL);
    if (FWD_MV_TYPE(sv) != FWD_MAC_LOCAL || FWD_MV_PORT(sv) != port) {
        drop(f, &pt->c.drops, FWD_DROP_SRC_NOT_ASSOC);
        fwd_ctr_add(&v->c.drops, 1);
        return;
    }
    if (!FWD_MV_ACTIVE(sv)) {
        drop(f, &pt->c.drops, FWD_DROP_VNIC_DOWN);
        fwd_ctr_add(&v->c.drops, 1);
        return;
    }
    if (dst[0] & 1) {
        if (!arp_nd(f, o, port, vid, vn, &in))
            flood_from_access(f, o, port, vn, &in);
        return;
    }
    uint64_t dv = fwd_mac_lookup(f, vn, dst, NULL);
    switch (FWD_MV_TYPE(dv)) {
    case FWD_MAC_LOCAL: {
        uint16_t dp = FWD_MV_PORT(dv);
        uint16_t tag = __atomic_load_n(&v->port_tag[dp], __ATOMIC_ACQUIRE);
        int reason = dp == port ? FWD_DROP_SAME_PORT
            : !FWD_MV_ACTIVE(dv) ? FWD_DROP_VNIC_DOWN
            : tag == 0 ? FWD_DROP_UNKNOWN_TAG : 0;
        if (reason) {
            drop(f, &pt->c.drops, reason);
            fwd_ctr_add(&v->c.drops, 1);
            return;
        }
        emit_local(f, o, dp, tag, &in);
        fwd_ctr_add(&v->c.local_pkts, 1);
        return;
    }
    case FWD_MAC_REMOTE:
    case FWD_MAC_LEARNED: {
        if (FWD_MV_REMOTE(dv) == FWD_NO_REMOTE) { /* leaving: not known */
            flood_from_access(f, o, port, vn, &in);
            return;
        }
        int r = emit_remote(f, o, FWD_MV_REMOTE(dv), v->vni, &in,
                            inner_hash(&in));
        if (r != 0) {
            drop(f, &pt->c.drops, r);
            fwd_ctr_add(&v->c.drops, 1);
            return;
        }
        fwd_ctr_add(&v->c.encap_pkts, 1);
        fwd_ctr_add(&v->c.encap_bytes, in.len);
        return;
    }
    default: /* unknown unicast */
        flood_from_access(f, o, port, vn, &in);
    }
}

/* Only a VTEP in the VN's flood list may teach us where a MAC lives: any
 * host that reaches our UDP port could otherwise point a tenant's
 * unicast at itself, and take a remote slot (FWD_MAX_REMOTES) per source
 * address it spoofs, until configured VTEPs no longer fit. Runs only for
 * a new or moved MAC, not per packet. */
static int
from_flood_member(const struct fwd *f, uint16_t vn, const struct fwd_vx *vx)
{
    struct fwd_vn_member mem[FWD_MAX_PORTS];
    uint16_t fl[FWD_MAX_FLOOD], nm, nf;
    fwd_vn_lists(f, vn, mem, &nm, fl, &nf);
    for (unsigned i = 0; i < nf; i++)
        if (fwd_remote_is(f, fl[i], vx->family, vx->src_ip))
            return 1;
    return 0;
}

/* Learning from a decapsulated frame: a new or moved source MAC goes to
 * the housekeeping thread through the SPSC ring; a known one only gets
 * its timestamp refreshed (no table write on the fast path). */
static void
learn(struct fwd *f, struct fwd_out *o, uint16_t vn, const uint8_t *src,
      const struct fwd_vx *vx)
{
    if (src[0] & 1)
        return;
    uint32_t slot;
    uint64_t v = fwd_mac_lookup(f, vn, src, &slot);
    unsigned t = FWD_MV_TYPE(v);
    if (t == FWD_MAC_LOCAL || t == FWD_MAC_REMOTE)
        return; /* configured entries win over what the wire says */
    if (t == FWD_MAC_LEARNED) {
        if (fwd_remote_is(f, FWD_MV_REMOTE(v), vx->family, vx->src_ip)) {
            if (__atomic_load_n(&f->mac_seen[slot], __ATOMIC_RELAXED) != o->now)
                __atomic_store_n(&f->mac_seen[slot], o->now, __ATOMIC_RELAXED);
            return;
        }
    }
    if (!from_flood_member(f, vn, vx))
        return;
    uint32_t head = f->learn_head;
    uint32_t tail = __atomic_load_n(&f->learn_tail, __ATOMIC_ACQUIRE);
    if (head - tail >= FWD_LEARN_RING) {
        fwd_ctr_add(&f->learn_overflow, 1);
        return;
    }
    struct fwd_learn_ev *ev = &f->learn[head & (FWD_LEARN_RING - 1)];
    ev->vn = vn;
    memcpy(ev->mac, src, 6);
    ev->family = vx->family;
    memcpy(ev->ip, vx->src_ip, 16);
    __atomic_store_n(&f->learn_head, head + 1, __ATOMIC_RELEASE);
}

/* A decapsulated frame for a MAC that moved from here within its hold,
 * and that does not come from where the MAC went (no loop between two
 * NVEs with crossed views). */
static int
moved_away(const struct fwd *f, const struct fwd_out *o, uint64_t dv,
           uint32_t slot, const struct fwd_vx *vx)
{
    return FWD_MV_TYPE(dv) == FWD_MAC_REMOTE && FWD_MV_MOVED(dv) &&
           o->now < __atomic_load_n(&f->mac_seen[slot], __ATOMIC_RELAXED) &&
           (FWD_MV_REMOTE(dv) == FWD_NO_REMOTE ||
            !fwd_remote_is(f, FWD_MV_REMOTE(dv), vx->family, vx->src_ip));
}

/* In flight for a MAC that left for a place not known yet: every VTEP of
 * the VN but the one it came from (the VM may already run behind one). */
static int
flood_leaving(struct fwd *f, struct fwd_out *o, uint16_t vn,
              const struct inner *in, const struct fwd_vx *vx)
{
    struct fwd_vn_member mem[FWD_MAX_PORTS];
    uint16_t fl[FWD_MAX_FLOOD], nm, nf;
    struct fwd_vn *v = &f->vns[vn];
    int r = 0, sent = 0;
    fwd_vn_lists(f, vn, mem, &nm, fl, &nf);
    uint32_t h = nf ? inner_hash(in) : 0;
    for (unsigned i = 0; i < nf; i++) {
        if (fwd_remote_is(f, fl[i], vx->family, vx->src_ip))
            continue;
        if ((r = emit_remote(f, o, fl[i], v->vni, in, h)) != 0) {
            drop(f, &v->c.drops, r);
            continue;
        }
        sent = 1;
        fwd_ctr_add(&v->c.encap_pkts, 1);
        fwd_ctr_add(&v->c.encap_bytes, in->len);
    }
    return sent ? 0 : FWD_DROP_VX_TO_REMOTE;
}

void
fwd_underlay_rx(struct fwd *f, struct fwd_out *o, uint8_t *pkt,
                size_t len, unsigned flags)
{
    fwd_ctr_add(&f->und_rx_pkts, 1);
    fwd_ctr_add(&f->und_rx_bytes, len);
    struct fwd_vx vx;
    int r = fwd_vx_parse(pkt, len, f->p.udp_port, &vx);
    /* a tag the kernel moved to metadata: the packet came on another VLAN
     * of the underlay's wire than our address lives on */
    if (r == 0 && (flags & FWD_RX_VLAN))
        r = FWD_DROP_VX_MALFORMED;
    if (r == 0 && (vx.family != f->local_family ||
                   memcmp(vx.dst_ip, f->local_ip, vx.family == 4 ? 4 : 16)))
        r = FWD_DROP_VX_MALFORMED; /* not for us: the filter should not pass it */
    uint8_t *inner = pkt + vx.inner_off;
    if (r == 0 && (fwd_rd16(inner + 12) == FWD_ETH_P_8021Q ||
                   fwd_rd16(inner + 12) == FWD_ETH_P_8021AD))
        r = FWD_DROP_VX_MALFORMED; /* RFC 7348 6.1: tagged inner frames discarded */
    if (r != 0) {
        drop(f, NULL, r);
        return;
    }
    int vn = fwd_vni_lookup(f, vx.vni);
    if (vn < 0) {
        drop(f, NULL, FWD_DROP_UNKNOWN_VNI);
        return;
    }
    struct fwd_vn *v = &f->vns[vn];
    /* the sending VTEP offloaded a checksum: the inner one, or only the
     * outer UDP one (then the inner is complete and must stay as it is) */
    if ((flags & FWD_RX_CSUM) && !fwd_vx_outer_partial(pkt, &vx))
        fwd_l4_csum_complete(inner + 12, vx.inner_len - 12);
    fwd_ctr_add(&v->c.decap_pkts, 1);
    fwd_ctr_add(&v->c.decap_bytes, vx.inner_len);
    struct inner in = {.a = inner, .b = inner + 12, .blen = vx.inner_len - 12,
                       .len = vx.inner_len};
    learn(f, o, (uint16_t)vn, inner + 6, &vx);
    if (!(inner[0] & 1)) {
        uint32_t slot = 0;
        uint64_t dv = fwd_mac_lookup(f, (uint16_t)vn, inner, &slot);
        unsigned t = FWD_MV_TYPE(dv);
        if (t == FWD_MAC_LOCAL) {
            uint16_t dp = FWD_MV_PORT(dv);
            uint16_t tag = __atomic_load_n(&v->port_tag[dp], __ATOMIC_ACQUIRE);
            r = !FWD_MV_ACTIVE(dv) ? FWD_DROP_VNIC_DOWN
                : tag == 0 ? FWD_DROP_UNKNOWN_VNI : 0;
            if (r == 0)
                emit_local(f, o, dp, tag, &in);
        } else if (moved_away(f, o, dv, slot, &vx)) {
            /* seed 004 4.1: in flight when the MAC left; its new VTEP */
            if (FWD_MV_REMOTE(dv) == FWD_NO_REMOTE) {
                r = flood_leaving(f, o, (uint16_t)vn, &in, &vx);
            } else if ((r = emit_remote(f, o, FWD_MV_REMOTE(dv), v->vni, &in,
                                        inner_hash(&in))) == 0) {
                fwd_ctr_add(&v->c.encap_pkts, 1);
                fwd_ctr_add(&v->c.encap_bytes, in.len);
            }
            if (r == 0) {
                fwd_ctr_add(&f->mobility_tunnelled, 1);
                return;
            }
        } else if (t != 0) {
            r = FWD_DROP_VX_TO_REMOTE; /* split horizon: never back out */
        } else {
            t = 0xff; /* unknown unicast: flood locally */
        }
        if (r != 0) {
            drop(f, NULL, r);
            fwd_ctr_add(&v->c.drops, 1);
            return;
        }
        if (t != 0xff)
            return;
    }
    struct fwd_vn_member mem[FWD_MAX_PORTS];
    uint16_t fl[FWD_MAX_FLOOD], nm, nf;
    fwd_vn_lists(f, (uint16_t)vn, mem, &nm, fl, &nf);
    if (nm == 0) {
        drop(f, NULL, FWD_DROP_UNKNOWN_VNI); /* no local member: nobody here */
        fwd_ctr_add(&v->c.drops, 1);
        return;
    }
    for (unsigned i = 0; i < nm; i++)
        emit_local(f, o, mem[i].port, mem[i].tag, &in);
    fwd_ctr_add(&v->c.flood_pkts, 1);
}

void
fwd_out_flush(struct fwd *f, struct fwd_out *o)
{
    for (int p = 0; p < FWD_MAX_PORTS; p++)
        if (o->port_q[p] != NULL && o->port_q[p]->n > 0)
            o->flush(f, o, o->port_q[p]);
    if (o->und_q != NULL && o->und_q->n > 0)
        o->flush(f, o, o->und_q);
}
