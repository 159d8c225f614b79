/* hv_tag.h - the BPF maps shared by bpf/hv_tag.bpf.c (kernel side) and
 * hv-agent/hv_dp.c (user side): VNICs by ifindex, MACs by tag, flood lists. */
#ifndef HV_TAG_H
#define HV_TAG_H

#define HV_TAG_MAX_VNICS 4096
#define HV_TAG_MAX_MEMBERS 32 /* local VNICs of one tag (flood list) */

/* vnics: key __u32 ifindex of a VNIC's host-side interface. A VNIC with
 * tag 0 (no tag yet, withdrawn, detaching) passes no traffic at all. */
struct hv_tag_vnic {
    __u16 tag;
    __u8 mac[6];   /* the only source MAC it may send from */
};

/* fdb: where a unicast MAC of a tag lives on this hypervisor. */
struct hv_tag_fdb_key {
    __u16 tag;
    __u8 mac[6];
};

/* members: key __u32 tag -> the host-side ifindexes of its VNICs. */
struct hv_tag_members {
    __u32 n;
    __u32 ifindex[HV_TAG_MAX_MEMBERS];
};

/* cfg: one entry, key 0. */
struct hv_tag_cfg {
    __u32 uplink;     /* ifindex */
};

/* stats: per-CPU array of counters, index enum hv_tag_stat. */
enum hv_tag_stat {
    HV_TAG_ST_TX = 0,       /* VNIC -> uplink, tagged */
    HV_TAG_ST_TX_LOCAL,     /* VNIC -> VNIC of the same tag */
    HV_TAG_ST_RX,           /* uplink -> VNIC(s), untagged */
    HV_TAG_ST_DROP_NOTAG,   /* VNIC without a tag */
    HV_TAG_ST_DROP_SPOOF,   /* wrong source MAC */
    HV_TAG_ST_DROP_UNKNOWN, /* tag or MAC nobody here has */
    HV_TAG_ST_DROP_ERR,     /* push/pop/redirect failed */
    HV_TAG_ST_MAX
};

#endif
