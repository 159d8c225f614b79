/* nve_proto_int.h - inside nve-agent's NVDP engine: its state (a session
 * per hypervisor and port, counters per port) and what its files call of
 * each other. The rest of the daemon uses nve.h only. */
#ifndef NVE_PROTO_INT_H
#define NVE_PROTO_INT_H

#include "nve.h"
#include "nvdp_session.h"
#include "tbucket.h"

/* WITHDRAW is rare: a small window keeps each peer's sender state small;
 * what does not fit the window waits in a queue (spec 10.2). */
#define NVE_TX_WINDOW_MAX 32
#define NVE_TX_QUEUE_MAX 4096

/* The newcomers' pools (spec 11.4): not in session, bounded by
 * max-newcomers; in session (RESYNC BEGIN heard), sharing max-hypervisors
 * with the holders. Each is evicted least recently heard first. */
enum { NVE_POOL_NEW = 0, NVE_POOL_SESSION = 1 };

/* A hypervisor heard on a port (spec 11.4, 12.3). */
struct nve_peer {
    struct nve_peer *next, **pprev; /* every peer */
    struct nve_peer *hnext;          /* its nve_peer_find() bucket */
    /* its pool's list, least recently heard first (holders: none) */
    struct nve_peer *lru_next, *lru_prev;
    int8_t pool;         /* NVE_POOL_*, -1 for a holder */
    /* mac, its epoch, in session (s.open: RESYNC BEGIN seen in this epoch),
     * its HELLO, its requests, our WITHDRAWs, its counters */
    struct nvdp_session s;
    uint16_t port;
    uint8_t resyncing;   /* BEGIN seen, END not yet */
    uint8_t wd_mark;     /* nve_proto_withdraw: already in its send list */
    uint8_t holds;       /* the tree holds entries of it: never evicted */
    uint64_t up_since;
    /* unicast HELLO: while not open (peer_epoch 0, spec 11.4), and to a
     * hypervisor that signs (it ignores our group HELLO, spec 14.2); one
     * per hello interval, on contact or restart too (spec 15) */
    uint64_t next_uhello;
    struct tbucket rq;   /* its requests per second (spec 16) */
    /* standing (spec 15): its refusals for limits drain strikes; empty,
     * it is demoted (the kernel polices it at demoted-rate) until
     * demoted_until, which each further refusal moves */
    struct tbucket strikes;
    uint64_t demoted_until; /* 0: in good standing */
    /* resync credit (spec 10.2): requests of this resync handled beyond
     * rq, at most the entries held at BEGIN, granted (when it held any)
     * once per NVE_CREDIT_EVERY_MS (credit_next) */
    uint32_t credit;
    uint64_t credit_next;
};

/* A peer's resync credit at most this often (spec 10.2). */
#define NVE_CREDIT_EVERY_MS 10000

struct nve_pport {
    uint8_t up;
    char name[32];
    uint8_t mac[6]; /* the source of our frames on it */
    unsigned mtu;
    uint64_t next_hello;
    unsigned npeers;
    unsigned nholders;     /* peers that hold state; the rest are newcomers */
    /* the newcomers by pool, least recently heard first (spec 11.4) */
    struct nve_peer *lru_head[2], *lru_tail[2];
    unsigned npool[2];
    struct tbucket uhello; /* unicast HELLOs to peers on the port */
    struct log_rl rl_full; /* "port at its ceiling": one per NVE_FULL_LOG_MS */
    struct nvdp_counters c;
};
#define NVE_FULL_LOG_MS 10000

struct nve_proto {
    const struct nve_conf *conf;
    struct tree *tree;
    struct nvdp_endpoint ep; /* our epoch, HELLO, the send adapter */
    nve_send_fn send;
    void *send_arg;
    nve_peer_fn peer_hook; /* NULL: none */
    void *peer_hook_arg;
    /* the message being read (nve_proto_input): one, not one per frame */
    struct nvdp_msg rx_msg;
    /* The batches being written, a stack: a frame's answers and, while
     * they are, the WITHDRAWs a VNIC's shutdown sends its other locations'
     * hypervisors (nve_req.c). Preallocated: none per frame. */
#define NVE_OUT_DEPTH 2
    struct nvdp_out out[NVE_OUT_DEPTH];
    unsigned nout;
    struct nve_pport port[TREE_MAX_PORTS];
    struct nve_peer *peers;
    struct nve_peer *ptab[TREE_HV_HASH]; /* by (port, MAC): every frame
                                           * looks its sender up */
    unsigned npeers;
    struct nvdp_counters c;
    struct log_rl rl_peer; /* peer up / restarted: a spoofer can cause many */
    struct log_rl rl_flood; /* requests dropped, newcomers evicted */
    struct log_rl rl_vnic;  /* VNIC changes and refusals: a flood of them */
    uint64_t now; /* time of the input being handled */
};

/* Where an event of peer e (NULL: none yet) on port counts: globally, on
 * the port, and for e. */
static inline struct nvdp_cnt
nve_cnt(struct nve_proto *p, struct nve_peer *e, uint16_t port)
{
    struct nvdp_cnt k = {{&p->c, &p->port[port].c, NULL}};

    return e != NULL ? e->s.cnt : k;
}
#define NVE_COUNT(p, e, port, field)                                     \
    do {                                                                 \
        struct nvdp_cnt k_ = nve_cnt(p, e, port);                        \
        NVDP_COUNT(&k_, field);                                          \
    } while (0)

static inline const char *
nve_mac_str(const uint8_t mac[6], char out[NVDP_MAC_STRLEN])
{
    nvdp_mac_fmt(mac, out);
    return out;
}

static inline void
nve_jset_u64(struct json_object *o, const char *k, uint64_t v)
{
    json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* ---- nve_proto.c -------------------------------------------------------- */
/* A batch to dst on port, in e's session when e is not NULL: the next of
 * p->out (NULL, counted and logged, if all are in use: our bug). Sent and
 * given back, the last taken first, by nve_out_send(). */
struct nvdp_out *nve_out_new(struct nve_proto *p, struct nve_peer *e,
                             uint16_t port, const uint8_t dst[6]);
void nve_out_send(struct nve_proto *p, struct nvdp_out *o);

/* ---- nve_peer.c: hypervisor peers --------------------------------------- */
struct nve_peer *nve_peer_find(const struct nve_proto *p, uint16_t port,
                               const uint8_t mac[6]);
struct nve_peer *nve_peer_new(struct nve_proto *p, uint16_t port,
                              const uint8_t mac[6], uint32_t epoch,
                              uint64_t now);
void nve_peer_free(struct nve_proto *p, struct nve_peer *e);
/* A frame of e at now: its liveness, its place among newcomers. */
void nve_peer_heard(struct nve_proto *p, struct nve_peer *e, uint64_t now);
/* e's pool after its frame was handled (its session may have opened or
 * closed, it may hold state): moved, and that pool kept to its limit. */
void nve_peer_place(struct nve_proto *p, struct nve_peer *e);
/* Room on port for a peer from a MAC not heard before: when the port holds
 * its limit of newcomers, the one heard least recently goes (peers that
 * hold state never do: spec 11.4). */
void nve_peer_make_room(struct nve_proto *p, uint16_t port);
/* The tree's hv_watch: a peer comes to hold state or holds none. */
void nve_peer_watch(void *arg, uint16_t port, const uint8_t mac[6],
                    int holds);
/* 1 when a unicast HELLO may go to e now (its interval, the port's
 * budget), else 0 (counted hello_suppressed); sets when the next may. */
int nve_peer_uhello(struct nve_proto *p, struct nve_peer *e, uint64_t now);
/* 1 when e may have one more request handled now (its token bucket);
 * else 0: the request is dropped unanswered, counted, logged. */
int nve_peer_request_ok(struct nve_proto *p, struct nve_peer *e,
                        uint64_t now);
/* e was refused LIMIT at now: a strike, and e demoted when it has had
 * more than demote-refusals in about a second (spec 15). */
void nve_peer_refused(struct nve_proto *p, struct nve_peer *e, uint64_t now);
/* A frame of demoted e at now: restored when its time is up. */
void nve_peer_standing(struct nve_proto *p, struct nve_peer *e, uint64_t now);
/* The configuration's limits into e, or into the port: buckets full at
 * now, or (now NVE_RECONF: a reload) keeping what they hold. */
#define NVE_RECONF UINT64_MAX
void nve_peer_conf(struct nve_proto *p, struct nve_peer *e, uint64_t now);
void nve_pport_conf(struct nve_proto *p, uint16_t port, uint64_t now);
uint64_t nve_peer_hold_ms(const struct nve_proto *p, const struct nve_peer *e);
/* A frame of e carries epoch: 1 if e restarted (logged, counted, its
 * WITHDRAWs dropped), else 0. */
int nve_peer_epoch(struct nve_proto *p, struct nve_peer *e, uint32_t epoch);
void nve_peer_hello(struct nve_proto *p, struct nve_peer *e,
                    const struct nvdp_msg *m);
/* Hold expiry, the "no state" HELLO, WITHDRAWs due: the next time e needs
 * the timers (UINT64_MAX: none); e may be freed (expired): then 0 and
 * *gone set. */
uint64_t nve_peer_timers(struct nve_proto *p, struct nve_peer *e,
                         uint64_t now, int *gone);

/* ---- nve_req.c: the hypervisors' requests ------------------------------- */
/* Applies one new request of e; fills r (status, tag, reason). */
void nve_req_apply(struct nve_proto *p, struct nve_peer *e,
                   const struct nvdp_msg *m, uint64_t now, struct rel_resp *r);

/* ---- nve_resync.c ------------------------------------------------------- */
void nve_resync_apply(struct nve_proto *p, struct nve_peer *e,
                      const struct nvdp_msg *m);

/* ---- nve_withdraw.c: WITHDRAW out, its answers in ----------------------- */
void nve_withdraw_answered(struct nve_proto *p, struct nve_peer *e,
                           const struct nvdp_msg *m, int ours);
/* Sends e's WITHDRAWs that are due. */
void nve_withdraw_run(struct nve_proto *p, struct nve_peer *e, uint64_t now);

#endif
