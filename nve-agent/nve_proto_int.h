/* nve_proto_int.h - inside nve-agent's NVDP engine: its state (peers per
 * port, counters) and what its files call of each other. The rest of the
 * daemon uses nve.h only. */
#ifndef NVE_PROTO_INT_H
#define NVE_PROTO_INT_H

#include "nve.h"

/* WITHDRAW is rare: a small window keeps each peer's sender state small;
 * what does not fit the window waits in a queue (spec 10.2). */
#define NVE_TX_WINDOW_MAX 32
#define NVE_TX_QUEUE_MAX 4096

struct nve_wq {
    struct nve_wq *next;
    struct nvdp_msg m;
};

struct nve_peer {
    struct nve_peer *next;
    uint8_t mac[6];
    uint16_t port;
    uint32_t epoch;      /* the hypervisor's epoch as last heard */
    uint8_t synced;      /* RESYNC BEGIN seen in this epoch */
    uint8_t resyncing;
    uint8_t have_hello;
    uint8_t tx_ready;    /* tx initialised (first WITHDRAW) */
    uint8_t wd_mark;     /* nve_proto_withdraw: already in its send list */
    struct nve_wq *wq_head, *wq_tail; /* WITHDRAWs waiting for the window */
    unsigned wq_len;
    struct nvdp_hello hello;
    uint64_t up_since, last_heard;
    uint64_t next_nostate; /* unicast HELLO, peer_epoch 0, while !synced */
    struct rel_rx rx;
    struct rel_tx tx;
    struct nve_counters c;
};

struct nve_pport {
    uint8_t up;
    char name[32];
    unsigned mtu;
    uint64_t next_hello;
    unsigned npeers;
    struct nve_counters c;
};

struct nve_proto {
    const struct nve_conf *conf;
    struct tree *tree;
    uint32_t epoch;
    nve_send_fn send;
    void *send_arg;
    struct nve_pport port[TREE_MAX_PORTS];
    struct nve_peer *peers;
    unsigned npeers;
    struct nve_counters c;
    struct log_rl rl;
    struct log_rl rl_peer; /* peer up / restarted: a spoofer can cause many */
    uint64_t now; /* time of the input being handled */
};

/* Responses for one peer, batched into as few frames as the MTU allows. */
struct nve_out {
    struct nve_proto *p;
    struct nve_peer *peer; /* NULL: unauthorised / over the limit */
    uint16_t port;
    uint8_t dst[6];
    struct nvdp_writer w;
    uint8_t open;
    uint8_t buf[NVDP_FRAME_MAX];
};

static inline unsigned
nve_type_idx(uint16_t type)
{
    return (type & 0xFF) < NVE_NTYPES ? (type & 0xFF) : 0;
}

static inline int
nve_is_request(uint16_t type)
{
    return type >= NVDP_MSG_VN_CONNECT && type <= NVDP_MSG_VNIC_STATE;
}

static inline void
nve_count_n(struct nve_proto *p, struct nve_peer *peer, uint16_t port,
        size_t off, uint64_t n)
{
    /* One counter at the same offset in the global, port and peer sets. */
    (*(uint64_t *)((char *)&p->c + off)) += n;
    if (port < TREE_MAX_PORTS)
        (*(uint64_t *)((char *)&p->port[port].c + off)) += n;
    if (peer)
        (*(uint64_t *)((char *)&peer->c + off)) += n;
}

static inline void
nve_count(struct nve_proto *p, struct nve_peer *peer, uint16_t port, size_t off)
{
    nve_count_n(p, peer, port, off, 1);
}
#define COUNT(p, peer, port, field) \
    nve_count(p, peer, port, offsetof(struct nve_counters, field))

static inline const char *
nve_peer_str(const struct nve_peer *peer, const uint8_t *mac, char out[18])
{
    nvdp_mac_fmt(peer ? peer->mac : mac, out);
    return out;
}

static inline void
nve_jset_u64(struct json_object *o, const char *k, uint64_t v)
{
    json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* ---- nve_proto.c: output batches --------------------------------------- */
void nve_out_init(struct nve_out *o, struct nve_proto *p, struct nve_peer *peer,
                  uint16_t port, const uint8_t dst[6]);
void nve_out_flush(struct nve_out *o);
void nve_out_add(struct nve_out *o, const struct nvdp_msg *m);
void nve_out_response(struct nve_out *o, const struct rel_resp *r);
void nve_hello_msg(const struct nve_proto *p, struct nvdp_msg *m);

/* ---- nve_peer.c: hypervisor peers ------------------------------------- */
struct nve_peer *nve_peer_find(const struct nve_proto *p, uint16_t port,
                               const uint8_t mac[6]);
struct nve_peer *nve_peer_new(struct nve_proto *p, uint16_t port,
                              const uint8_t mac[6], uint32_t epoch,
                              uint64_t now);
void nve_peer_free(struct nve_proto *p, struct nve_peer *e);
uint64_t nve_peer_hold_ms(const struct nve_proto *p, const struct nve_peer *e);
void nve_peer_restarted(struct nve_proto *p, struct nve_peer *e,
                        uint32_t epoch);
void nve_peer_hello(struct nve_proto *p, struct nve_peer *e,
                    const struct nvdp_msg *m);
void nve_peer_nostate(struct nve_proto *p, struct nve_peer *e, uint64_t now);
void nve_peer_expire(struct nve_proto *p, struct nve_peer *e);

/* ---- nve_req.c: the hypervisors' requests ----------------------------- */
void nve_resp_set(struct rel_resp *r, uint16_t status, const char *reason);
/* Applies one new request; fills r (status, tag, reason). */
void nve_req_apply(struct nve_proto *p, struct nve_peer *e,
                   const struct nvdp_msg *m, uint64_t now, struct rel_resp *r);

/* ---- nve_withdraw.c: WITHDRAW out, its answers in --------------------- */
void nve_wq_clear(struct nve_peer *e);
void nve_wq_pump(struct nve_peer *e, uint64_t now);
void nve_withdraw_answered(struct nve_proto *p, struct nve_peer *e,
                           const struct nvdp_msg *m, int ours);
void nve_peer_tx_run(struct nve_proto *p, struct nve_peer *e, uint64_t now);

#endif
