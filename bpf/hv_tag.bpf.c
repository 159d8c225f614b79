/* hv_tag.bpf.c - tc-bpf tagging data plane of hv-agent: VNIC -> uplink with
 * the VN's 802.1Q tag pushed, uplink -> VNIC(s) by tag + destination MAC. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "hv_tag.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, HV_TAG_MAX_VNICS);
    __type(key, __u32);
    __type(value, struct hv_tag_vnic);
} vnics SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, HV_TAG_MAX_VNICS);
    __type(key, struct hv_tag_fdb_key);
    __type(value, __u32);
} fdb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, HV_TAG_MAX_VNICS);
    __type(key, __u32);
    __type(value, struct hv_tag_members);
} members SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct hv_tag_cfg);
} cfg SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, HV_TAG_ST_MAX);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 what)
{
    __u64 *c = bpf_map_lookup_elem(&stats, &what);
    if (c)
        *c += 1;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
           a[4] == b[4] && a[5] == b[5];
}

static __always_inline int is_group(const __u8 *mac)
{
    return mac[0] & 1;
}

/* Copies every member of tag but skip_if (the sender) out of the skb. */
static __always_inline void flood_local(struct __sk_buff *skb, __u32 tag,
                                        __u32 skip_if)
{
    struct hv_tag_members *m = bpf_map_lookup_elem(&members, &tag);
    if (!m)
        return;
    for (__u32 i = 0; i < HV_TAG_MAX_MEMBERS; i++) {
        if (i >= m->n)
            break;
        __u32 ifi = m->ifindex[i];
        if (ifi && ifi != skip_if &&
            bpf_clone_redirect(skb, ifi, 0) == 0)
            count(skip_if ? HV_TAG_ST_TX_LOCAL : HV_TAG_ST_RX);
    }
}

/* tc ingress of a VNIC's host-side interface: frames the VM sent. */
SEC("tc")
int hv_tag_vnic_in(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    __u32 ifi = skb->ifindex, zero = 0;
    struct hv_tag_vnic *v = bpf_map_lookup_elem(&vnics, &ifi);
    struct hv_tag_cfg *c = bpf_map_lookup_elem(&cfg, &zero);
    struct hv_tag_fdb_key k = {};
    __u32 *dst;

    if ((void *)(eth + 1) > end)
        return TC_ACT_SHOT;
    if (!v || !v->tag || !c || !c->uplink) {
        count(HV_TAG_ST_DROP_NOTAG);
        return TC_ACT_SHOT;
    }
    if (!mac_eq(eth->h_source, v->mac)) {
        count(HV_TAG_ST_DROP_SPOOF);
        return TC_ACT_SHOT;
    }
    /* a VM must not inject tags of its own */
    if (skb->vlan_present || eth->h_proto == bpf_htons(ETH_P_8021Q) ||
        eth->h_proto == bpf_htons(ETH_P_8021AD)) {
        count(HV_TAG_ST_DROP_SPOOF);
        return TC_ACT_SHOT;
    }
    k.tag = v->tag;
    __builtin_memcpy(k.mac, eth->h_dest, 6);
    __u16 tag = v->tag;
    if (is_group(eth->h_dest)) {
        flood_local(skb, tag, ifi);
    } else if ((dst = bpf_map_lookup_elem(&fdb, &k))) {
        /* same VN on this hypervisor: deliver directly, untagged */
        count(HV_TAG_ST_TX_LOCAL);
        return bpf_redirect(*dst, 0);
    }
    if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), tag)) {
        count(HV_TAG_ST_DROP_ERR);
        return TC_ACT_SHOT;
    }
    count(HV_TAG_ST_TX);
    return bpf_redirect(c->uplink, 0);
}

/* tc ingress of the uplink: tagged frames go to the VNICs of that tag,
 * untagged ones (NVDP itself, the host's own traffic) pass. */
SEC("tc")
int hv_tag_uplink_in(struct __sk_buff *skb)
{
    void *data, *end;
    struct ethhdr *eth;
    struct hv_tag_fdb_key k = {};
    __u32 tag, *dst;

    if (skb->vlan_present) {
        tag = skb->vlan_tci & 0x0fff;
    } else {
        /* the stack normally moved the tag to metadata already; a tag
         * still in the frame is read from it */
        data = (void *)(long)skb->data;
        end = (void *)(long)skb->data_end;
        eth = data;
        if ((void *)(eth + 1) + 4 > end)
            return TC_ACT_OK;
        if (eth->h_proto != bpf_htons(ETH_P_8021Q))
            return TC_ACT_OK;
        tag = bpf_ntohs(*(__be16 *)(eth + 1)) & 0x0fff;
    }
    if (!bpf_map_lookup_elem(&members, &tag)) {
        count(HV_TAG_ST_DROP_UNKNOWN);
        return TC_ACT_SHOT;
    }
    if (bpf_skb_vlan_pop(skb)) {
        count(HV_TAG_ST_DROP_ERR);
        return TC_ACT_SHOT;
    }
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    eth = data;
    if ((void *)(eth + 1) > end)
        return TC_ACT_SHOT;
    /* A second tag under ours is nobody's business on a VNIC: VMs get
     * untagged frames only (as the VM-side path enforces the other way). */
    if (eth->h_proto == bpf_htons(ETH_P_8021Q) ||
        eth->h_proto == bpf_htons(ETH_P_8021AD)) {
        count(HV_TAG_ST_DROP_UNKNOWN);
        return TC_ACT_SHOT;
    }
    if (is_group(eth->h_dest)) {
        flood_local(skb, tag, 0);
        return TC_ACT_SHOT; /* the copies went out; the original stops */
    }
    k.tag = (__u16)tag;
    __builtin_memcpy(k.mac, eth->h_dest, 6);
    dst = bpf_map_lookup_elem(&fdb, &k);
    if (!dst) {
        count(HV_TAG_ST_DROP_UNKNOWN);
        return TC_ACT_SHOT;
    }
    count(HV_TAG_ST_RX);
    return bpf_redirect(*dst, 0);
}

char LICENSE[] SEC("license") = "GPL";
