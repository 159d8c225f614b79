/* nvdp_police.bpf.c - socket filter of nve-agent's NVDP sockets
 * (SO_ATTACH_BPF): the classic filter's rules (untagged, to us or to our
 * group, our EtherType), then per-source policing before the socket's
 * queue, in softirq: on a port that requires authentication, only frames
 * that carry an AUTH TLV in its place with a key id the port accepts
 * (spec 14.2; the daemon checks the HMAC); then a known peer within its
 * token bucket (a much smaller one while user space has demoted it: spec
 * 15), the sources not known yet within one bucket per port. A flood
 * from made-up MACs or from one peer is dropped here and never fills the
 * queue that a legitimate hypervisor's frames wait in; user space's
 * limits (spec 10.2, 11.4, 16) stay the authority over what is handled. */
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "nvdp_police.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, NVP_MAX_PORTS);
    __type(key, __u32);
    __type(value, struct nvp_port);
} ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, NVP_MAX_PEERS);
    __type(key, struct nvp_peer_key);
    __type(value, struct nvp_peer);
} peers SEC(".maps");

#define KEEP 0x40000 /* bytes kept: the whole frame */

/* 1 if a frame may pass b at now (and takes its place), 0 if over. */
static __always_inline int take(struct nvp_bucket *b, __u64 now, __u64 gap,
                                __u64 tol)
{
    __u64 tat = b->tat;

    if (gap == 0)
        return 1; /* rate 0: no limit */
    if (tat < now)
        tat = now;
    if (tat - now > tol - gap)
        return 0;
    b->tat = tat + gap;
    return 1;
}

#define ETH_HLEN 14
#define NVDP_HLEN 12
#define AUTH_TLV_LEN 48       /* type, length, key id, 0, counter, hmac */
#define NVDP_TLVS_MAX 9204    /* NVDP_FRAME_MAX - the header */

/* 1 if the frame could be signed for port p (spec 14.2): version 1, the
 * AUTH flag, its length within the frame, an AUTH TLV header in its last
 * 48 bytes and a key id the port accepts. Whether it is signed is the
 * daemon's to check (the HMAC). */
static __always_inline int signed_frame(struct __sk_buff *skb,
                                        const struct nvp_port *p)
{
    __u8 h[4], a[AUTH_TLV_LEN];
    __u32 len;
    __u16 id;

    if (bpf_skb_load_bytes_relative(skb, ETH_HLEN, h, sizeof(h),
                                    BPF_HDR_START_MAC) < 0)
        return 0;
    len = (__u32)h[2] << 8 | h[3];
    if (h[0] != 1 || !(h[1] & 0x01) || len < AUTH_TLV_LEN ||
        len > NVDP_TLVS_MAX)
        return 0;
    /* the whole TLV: a frame that ends before length is truncated */
    if (bpf_skb_load_bytes_relative(skb,
                                    ETH_HLEN + NVDP_HLEN + len - AUTH_TLV_LEN,
                                    a, sizeof(a), BPF_HDR_START_MAC) < 0)
        return 0;
    if (a[0] != 0x80 || a[1] != 0xff || a[2] != 0 ||
        a[3] != AUTH_TLV_LEN - 4)
        return 0;
    if (p->any_key)
        return 1;
    id = (__u16)(a[4] << 8 | a[5]);
    for (int i = 0; i < NVP_KEY_IDS; i++)
        if (i < p->nkey_ids && p->key_id[i] == id)
            return 1;
    return 0;
}

SEC("socket")
int nvdp_police(struct __sk_buff *skb)
{
    __u32 ifindex = skb->ifindex;
    struct nvp_peer_key k = {.ifindex = skb->ifindex};
    struct nvp_peer *e;
    struct nvp_port *p;
    __u8 h[14];
    __u64 now;

    /* a tagged frame belongs to a VLAN, not to the control channel */
    if (skb->vlan_present)
        return 0;
    p = bpf_map_lookup_elem(&ports, &ifindex);
    if (p == NULL)
        return 0;
    /* relative to the MAC header: an AF_PACKET socket sees it at data,
     * BPF_PROG_TEST_RUN after it */
    if (bpf_skb_load_bytes_relative(skb, 0, h, sizeof(h),
                                    BPF_HDR_START_MAC) < 0)
        return 0;
    if ((__u16)(h[12] << 8 | h[13]) != p->ethertype)
        return 0;
    if (skb->pkt_type == PACKET_MULTICAST) {
        if (h[0] != p->group[0] || h[1] != p->group[1] ||
            h[2] != p->group[2] || h[3] != p->group[3] ||
            h[4] != p->group[4] || h[5] != p->group[5])
            return 0;
    } else if (skb->pkt_type != PACKET_HOST) {
        return 0;
    }
    /* before any bucket: an unsigned flood takes nobody's share */
    if (p->auth_required && !signed_frame(skb, p)) {
        __sync_fetch_and_add(&p->dropped_unauth, 1);
        return 0;
    }
    now = bpf_ktime_get_ns();
    __builtin_memcpy(k.mac, h + 6, 6);
    e = bpf_map_lookup_elem(&peers, &k);
    if (e != NULL && e->demoted) {
        if (take(&e->b, now, p->gap_demoted, p->tol_demoted))
            return KEEP;
        __sync_fetch_and_add(&p->dropped_demoted, 1);
        return 0;
    }
    if (e != NULL) {
        if (take(&e->b, now, p->gap_peer, p->tol_peer))
            return KEEP;
        __sync_fetch_and_add(&p->dropped_peer, 1);
        return 0;
    }
    if (take(&p->new_src, now, p->gap_new, p->tol_new))
        return KEEP;
    __sync_fetch_and_add(&p->dropped_new, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
