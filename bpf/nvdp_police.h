/* nvdp_police.h - the maps shared by bpf/nvdp_police.bpf.c (the socket
 * filter on nve-agent's NVDP sockets) and nve-agent/nve_police.c (user
 * side): each known peer's token bucket and standing, each port's bucket
 * for the sources not known yet and its authentication policy, and what
 * they dropped. linux/types.h types only: compiled by clang -target bpf
 * and by cc. */
#ifndef NVDP_POLICE_H
#define NVDP_POLICE_H

#include <linux/types.h>

#define NVP_MAX_PORTS 256    /* = TREE_MAX_PORTS (nve_police.c checks) */
#define NVP_MAX_PEERS 32768  /* peers with a bucket of their own, LRU */
#define NVP_KEY_IDS 16       /* key ids a port's entry lists (spec 14.2) */

/* A token bucket as a theoretical arrival time (GCRA): a frame passes when
 * tat - now <= tol - gap, and then moves tat by gap; 0 means "full". One
 * word, so a race between CPUs loses at most a frame's accounting. */
struct nvp_bucket {
    __u64 tat; /* ns, bpf_ktime_get_ns() */
};

/* ports: key __u32 ifindex of an access port. */
struct nvp_port {
    __u16 ethertype;
    __u8 group[6];
    /* auth = required (spec 14.2): a frame without an AUTH TLV in its
     * place, or with a key id not in key_id[0..nkey_ids), is dropped
     * before any bucket; any_key: too many ids to list, not checked */
    __u8 auth_required;
    __u8 any_key;
    __u16 nkey_ids;
    __u16 key_id[NVP_KEY_IDS];
    __u64 gap_peer, tol_peer; /* a known peer: ns per frame, burst x gap */
    __u64 gap_new, tol_new;   /* sources not known yet, all together */
    __u64 gap_demoted, tol_demoted; /* a demoted peer (spec 15) */
    struct nvp_bucket new_src; /* theirs */
    __u64 dropped_peer;       /* frames over a known peer's rate */
    __u64 dropped_new;        /* frames of unknown sources over theirs */
    __u64 dropped_demoted;    /* frames over a demoted peer's rate */
    __u64 dropped_unauth;     /* auth = required: frames not signed */
};

/* peers: the sources user space knows on a port (its peer table). */
struct nvp_peer_key {
    __u32 ifindex;
    __u8 mac[6];
    __u8 pad[2];
};

/* Written whole by user space (a new peer, a demotion, a restoration);
 * the filter writes only b. */
struct nvp_peer {
    struct nvp_bucket b;
    __u32 demoted; /* 1: its requests keep being refused for limits */
    __u32 pad;
};

#endif
