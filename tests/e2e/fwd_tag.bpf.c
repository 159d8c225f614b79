/* fwd_tag.bpf.c - test helper for fwd_*.sh: a VM namespace's eth0 speaks
 * 802.1Q VID on the wire although this kernel has no VLAN devices. tc
 * egress pushes the tag (-DPUSH), tc ingress accepts only frames of VID and
 * pops it (-DPOP); -DXDPPASS: a do-nothing XDP program. Built by the test:
 * clang -target bpf -DVID=N -DPUSH. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef VID
#define VID 100
#endif

#ifdef PUSH
SEC("tc")
int tag_push(struct __sk_buff *skb)
{
    if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), VID))
        return TC_ACT_SHOT;
    return TC_ACT_OK;
}
#endif

#ifdef POP
SEC("tc")
int tag_pop(struct __sk_buff *skb)
{
    if (!skb->vlan_present || (skb->vlan_tci & 0x0fff) != VID)
        return TC_ACT_SHOT;
    if (bpf_skb_vlan_pop(skb))
        return TC_ACT_SHOT;
    return TC_ACT_OK;
}
#endif

char _license[] SEC("license") = "GPL";

#ifdef XDPPASS
/* fwd_dp.sh: another party's XDP program, already on an interface */
SEC("xdp")
int xdp_other(struct xdp_md *ctx)
{
    return XDP_PASS;
}
#endif
