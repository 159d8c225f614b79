/* nvdp_session.h - what both NVDP roles do alike, written once: a received
 * frame opened (source, header, AUTH rules) and read message by message
 * with malformed input counted by class and logged; the per-peer session
 * (epochs, our requests through the window, the peer's through the
 * duplicate cache, answers); frames batched to the MTU and finished in one
 * place; the counters of protocol-spec/nvdp.md section 17. No I/O, time
 * passed in: frames leave through the endpoint's send callback. */
#ifndef NVDP_SESSION_H
#define NVDP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "nvdp_auth.h"
#include "nvdp.h"
#include "rel.h"

struct json_object;

/* ---- counters --------------------------------------------------------- */
#define NVDP_NTYPES 16 /* message types by low byte (0x01..0x0B used) */
#define NVDP_NERR 11   /* decode errors by -nvdp_err */

struct nvdp_counters {
    /* protocol-spec/nvdp.md section 17 */
    uint64_t rx_frames, tx_frames, rx_msgs, tx_msgs;
    uint64_t rx_malformed, rx_bad_version, rx_msg_errors, rx_unknown_skipped;
    uint64_t rx_short_txid, rx_dup, rx_stale, auth_unsupported;
    uint64_t tx_retransmits, tx_giveups, rx_stray_responses;
    uint64_t peers_expired, resyncs;
    uint64_t auth_ok, auth_fail, replay, unauth_accepted; /* section 14 */
    /* both daemons' own */
    uint64_t tx_errors; /* frames the link refused, messages not encoded */
    /* frames the link refused for now, kept and retried (txq.h); of those,
     * dropped unsent (too old, queue full, another error) */
    uint64_t tx_deferred, tx_retry_dropped;
    uint64_t rx_type[NVDP_NTYPES], tx_type[NVDP_NTYPES]; /* by low byte */
    uint64_t status[NVDP_ST_MAX + 1]; /* RESPONSEs sent, by status */
    uint64_t decode_err[NVDP_NERR];   /* by -nvdp_err */
    /* hv-agent's own (hv-agent(8)) */
    uint64_t rx_foreign, hello_rx, responses_rx, refusals_rx, withdraws_rx;
    uint64_t unsupported_rx, resp_dropped, oversize;
    uint64_t rx_group_unsigned; /* with a key: the NVE's group HELLOs */
    /* nve-agent's own (nve-agent(8)) */
    uint64_t unauthorised, peer_restarts, peers_over_limit, withdraws;
    uint64_t withdraws_unsent, bad_direction;
    /* bounded state (spec 15, 16): both daemons', then nve-agent's */
    uint64_t rx_rate_limited, hello_suppressed, resyncs_deferred;
    uint64_t rx_resync_credit; /* nve-agent: spec 10.2 */
    uint64_t peers_evicted, limit_vnics, limit_port_vnics, limit_hv_vnics;
    uint64_t limit_vnic_addrs, limit_hv_addrs, limit_preassoc, limit_share;
    uint64_t limit_port_addrs, limit_port_share;
    /* dropped before the socket by the kernel's per-source policing */
    uint64_t rx_policed, rx_policed_new, rx_policed_demoted;
    uint64_t rx_policed_unauth; /* auth = required: not signed (spec 14.2) */
    /* standing (spec 15): peers demoted for refusals, restored */
    uint64_t peers_demoted, peers_restored;
};

/* Where an event counts: in up to NVDP_CNT_SETS sets at once (nve-agent:
 * global, port, peer; hv-agent: one). NULL entries are skipped. */
#define NVDP_CNT_SETS 3
struct nvdp_cnt {
    struct nvdp_counters *set[NVDP_CNT_SETS];
};

void nvdp_count_n(const struct nvdp_cnt *k, size_t off, uint64_t n);
#define NVDP_COUNT_N(k, field, n) \
    nvdp_count_n(k, offsetof(struct nvdp_counters, field), n)
#define NVDP_COUNT(k, field) NVDP_COUNT_N(k, field, 1)
/* One element of a counter array (rx_type, status...). */
#define NVDP_COUNT_AT(k, array, i)                                       \
    nvdp_count_n(k, offsetof(struct nvdp_counters, array) +             \
                        (size_t)(i) * sizeof(uint64_t), 1)
/* Index of a message type in rx_type / tx_type (0: unknown). */
unsigned nvdp_type_idx(uint16_t type);
/* Adds the section 17 counters and both daemons' own (tx_errors,
 * rx_by_type, tx_by_type, tx_status, decode_errors) to o. */
void nvdp_counters_json(const struct nvdp_counters *c, struct json_object *o);
/* A counter's name in a JSON view and where it is: NVDP_COUNTER(rx_dup). */
struct nvdp_counter_name {
    const char *name;
    size_t off;
};
#define NVDP_COUNTER(x) {#x, offsetof(struct nvdp_counters, x)}
/* Adds the n counters of table t to o. */
void nvdp_counters_json_add(const struct nvdp_counters *c,
                            const struct nvdp_counter_name *t, size_t n,
                            struct json_object *o);

/* ---- the endpoint: what we are ---------------------------------------- */
/* Sends one frame: buf/len is the NVDP header and TLVs (no Ethernet
 * header); link is the caller's (nve-agent: the access port). 0 / -1. */
typedef int (*nvdp_send_fn)(void *arg, unsigned link, const uint8_t dst[6],
                            const uint8_t *buf, size_t len);

struct nvdp_endpoint {
    uint32_t epoch;          /* ours, never 0 */
    struct nvdp_hello hello; /* what our HELLO says, role first */
    nvdp_send_fn send;
    void *send_arg;
    struct log_rl rl;        /* warnings a peer can cause */
    uint64_t auth_ctr;       /* the next AUTH counter we send (spec 14) */
};

void nvdp_endpoint_init(struct nvdp_endpoint *ep, uint8_t role,
                        uint32_t epoch, nvdp_send_fn send, void *send_arg);
/* What our HELLO advertises (start and reload). */
void nvdp_endpoint_hello(struct nvdp_endpoint *ep, uint16_t hold_time,
                         uint16_t hello_interval, uint16_t window,
                         const char *name);

/* The first AUTH counter we send: it must exceed every counter of our
 * previous runs (the daemons start from CLOCK_REALTIME in microseconds). */
void nvdp_endpoint_auth_counter(struct nvdp_endpoint *ep, uint64_t start);

/* ---- a received frame -------------------------------------------------- */
struct nvdp_in {
    struct nvdp_endpoint *ep;
    const uint8_t *src;  /* its source MAC */
    const char *via;     /* where it arrived, for log lines; NULL = uplink */
    struct nvdp_cnt cnt; /* what it counts in (the caller may change it once
                          * it knows the peer) */
    struct nvdp_reader rd;
    int err;             /* after NVDP_IN_BAD: the request's decode error */
    /* authentication (nvdp_in_auth before nvdp_in_open) */
    const uint8_t *dst;              /* its destination MAC */
    const struct nvdp_keyring *keys; /* the sender's keys, NULL: none */
    const struct nvdp_replay *rp;    /* the sender's window, NULL: none */
    uint8_t policy;                  /* enum nvdp_auth_policy */
    uint8_t authed;                  /* after open: it was authenticated */
    uint16_t key_id;
    uint64_t ctr; /* its AUTH counter, when authed */
};

/* Starts reading a frame from src: counts it (rx_frames). */
void nvdp_in_init(struct nvdp_in *in, struct nvdp_endpoint *ep,
                  const struct nvdp_cnt *cnt, const uint8_t src[6],
                  const char *via);
/* What authenticates the frame (spec 14): it was sent to dst; keys (NULL:
 * none) and rp (NULL: no window yet) are the sender's; policy the
 * receiver's for it. Without this call: policy off, no keys. */
void nvdp_in_auth(struct nvdp_in *in, const uint8_t dst[6],
                  const struct nvdp_keyring *keys, int policy,
                  const struct nvdp_replay *rp);
/* Opens the frame (spec 8): a group or zero source MAC, the header (3),
 * the AUTH rules (14): the flag while the policy is off, an AUTH TLV the
 * header does not announce, an unknown key or a wrong HMAC (auth_fail),
 * a replayed counter (replay), no AUTH where it is required (auth_fail).
 * 0, or -1: the frame is dropped, nothing in it is processed, counted by
 * class and logged (rate-limited). In optional mode an unauthenticated
 * frame counts unauth_accepted, an authenticated one auth_ok. */
int nvdp_in_open(struct nvdp_in *in, const uint8_t *buf, size_t len);
/* Drops the frame for the caller's own frame-level reason err (an
 * nvdp_err), counted and logged as nvdp_in_open() does. */
void nvdp_in_reject(struct nvdp_in *in, int err);

enum { NVDP_IN_END = 0, NVDP_IN_MSG = 1, NVDP_IN_BAD = 2 };
/* The frame's next message, counted (rx_msgs, rx_type): NVDP_IN_MSG with m
 * filled; NVDP_IN_BAD for a request that failed decoding but can be
 * answered (m->type and m->txid set, in->err the error: answer it with
 * nvdp_err_status(in->err)); NVDP_IN_END at the end (skipped unknown TLVs
 * counted). Every other decode error is counted by class, logged and
 * passed over here (spec 8). */
int nvdp_in_next(struct nvdp_in *in, struct nvdp_msg *m);

/* ---- a batch of frames out --------------------------------------------- */
struct nvdp_session;

/* Messages to one destination in as few frames as the MTU allows (spec
 * 10.5); each frame is finished and sent here. */
struct nvdp_out {
    struct nvdp_endpoint *ep;
    struct nvdp_session *s; /* NULL: outside a session (group HELLO...) */
    struct nvdp_cnt cnt;
    unsigned link;
    uint8_t dst[6];
    size_t cap;
    uint8_t open;
    const struct nvdp_key *key; /* nvdp_out_sign: frames signed with it */
    uint8_t src[6];
    struct nvdp_writer w;
    uint8_t buf[NVDP_FRAME_MAX];
};

/* o to dst through link, frames of at most mtu bytes (header included).
 * With s, its frames carry s's peer_epoch, evaluated when each frame
 * starts, and count in s->cnt; without, peer_epoch 0 and cnt. */
void nvdp_out_init(struct nvdp_out *o, struct nvdp_endpoint *ep,
                   struct nvdp_session *s, const struct nvdp_cnt *cnt,
                   unsigned link, const uint8_t dst[6], unsigned mtu);
/* Signs every frame of o with key (NULL: none) as sent from src (spec 14).
 * Before the first nvdp_out_add. */
void nvdp_out_sign(struct nvdp_out *o, const struct nvdp_key *key,
                   const uint8_t src[6]);
/* Appends m, sending the frame first when m does not fit. 0, or -1 when
 * m cannot be encoded at all (our bug: tx_errors, logged). */
int nvdp_out_add(struct nvdp_out *o, const struct nvdp_msg *m);
void nvdp_out_hello(struct nvdp_out *o);
/* The RESPONSE that carries answer r (counted by status). */
void nvdp_out_answer(struct nvdp_out *o, const struct rel_resp *r);
/* Sends what is pending. o may be used again. */
void nvdp_out_flush(struct nvdp_out *o);

/* An answer to request m. */
void nvdp_resp_init(struct rel_resp *r, const struct nvdp_msg *m,
                    uint16_t status, const char *reason);

/* ---- the session with one peer ------------------------------------------ */
struct nvdp_wq; /* requests waiting for the window */

struct nvdp_session {
    struct nvdp_endpoint *ep;
    uint8_t mac[6];          /* the peer's */
    uint32_t epoch;          /* the peer's, 0 = not heard yet */
    /* The NVE holds the hypervisor's state in the hypervisor's current
     * epoch (spec 11.4): on a hypervisor, its RESYNC BEGIN was answered OK;
     * on the NVE, that BEGIN arrived. */
    uint8_t open;
    uint8_t have_hello;
    struct nvdp_hello hello; /* the peer's last HELLO */
    uint16_t window;         /* the peer's HELLO window, 0 = not known */
    uint16_t own_window;     /* ours as configured (a reload may lower it) */
    uint64_t last_heard;     /* ms; set by the owner */
    struct nvdp_counters c;  /* this peer's */
    struct nvdp_cnt cnt;     /* c, and where else its events count */
    struct rel_rx rx;        /* the peer's requests: duplicate cache */
    struct rel_tx tx;        /* ours: the window (nvdp_sess_tx_init) */
    uint8_t tx_ready;
    struct nvdp_wq *wq_head, *wq_tail;
    unsigned wq_len, wq_max;
    struct nvdp_msg *ans;    /* answers for the next nvdp_sess_put_answers */
    size_t nans, ans_cap;
    struct nvdp_replay replay; /* the peer's AUTH counters (spec 14) */
    uint8_t peer_signs;        /* the peer's last frame was authenticated */
};
/* Answers waiting for the next frame (nvdp_sess_answer without o): a
 * flood of requests cannot grow it; one dropped is counted (resp_dropped)
 * and stays cached for the peer's retransmission. */
#define NVDP_ANSWERS_MAX 1024

/* A session with the peer mac (may be all zero until known) whose epoch
 * is epoch (0 = not heard yet); rx_cache: duplicate cache slots (rel_rx).
 * s->cnt counts in s->c only; the owner may add sets. 0 / -1. */
int nvdp_sess_init(struct nvdp_session *s, struct nvdp_endpoint *ep,
                   const uint8_t mac[6], uint32_t epoch, uint16_t rx_cache);
void nvdp_sess_free(struct nvdp_session *s);
/* Our side's requests: the window (p), and a queue for at most queue_max
 * requests that wait for it (nvdp_sess_submit_queued). 0 / -1. */
int nvdp_sess_tx_init(struct nvdp_session *s, const struct rel_params *p,
                      unsigned queue_max);
/* Another peer takes the session over (a hypervisor's new NVE): its epoch,
 * HELLO and liveness are not known yet; the counters and what we sent stay. */
void nvdp_sess_new_peer(struct nvdp_session *s, const uint8_t mac[6]);

/* The peer's epoch, from any frame of it (spec 11.1): a change resets the
 * duplicate cache and closes the session. 1 when the peer restarted (a
 * known epoch changed), else 0. Our requests to the old incarnation are
 * the caller's to drop (nvdp_sess_tx_reset): a hypervisor keeps the RESYNC
 * BEGIN it is sending. */
int nvdp_sess_epoch(struct nvdp_session *s, uint32_t epoch);
/* The authenticated frame in was the peer's (nvdp_in_open accepted it):
 * its counter goes into the replay window. Else only peer_signs clears. */
void nvdp_sess_auth_seen(struct nvdp_session *s, const struct nvdp_in *in);
/* The peer's HELLO: remembered, and its window bounds ours (spec 10.2). */
void nvdp_sess_hello(struct nvdp_session *s, const struct nvdp_hello *hl);
/* The peer_epoch of our frames to the peer (spec 11.3): a hypervisor names
 * the NVE's epoch as last heard; the NVE names the hypervisor's while it
 * holds its session, else 0. */
uint32_t nvdp_sess_peer_epoch(const struct nvdp_session *s);
/* Whether RESPONSEs in a frame whose header names peer_epoch may answer
 * our requests (spec 11.3): it names our epoch, or on a hypervisor 0 while
 * its BEGIN is not answered. */
int nvdp_sess_ours(const struct nvdp_session *s, uint32_t peer_epoch);

/* ---- our requests ---- */
/* Room for new requests (spec 10.2): what the window takes (it counts
 * txids from the oldest unanswered one, rel.h) and at most min(own, the
 * peer's HELLO window) outstanding; on a hypervisor one until the NVE's
 * HELLO says its window. */
uint16_t nvdp_sess_tx_space(const struct nvdp_session *s);
/* m into the window with the caller's user pointer: its txid, or 0 when
 * there is no room (the caller keeps the request: spec 10.6 rule 2). */
uint32_t nvdp_sess_submit(struct nvdp_session *s, const struct nvdp_msg *m,
                          void *user, uint64_t now);
/* m into the window, or queued behind what waits for it. 0, or -1 when
 * the queue is full. */
int nvdp_sess_submit_queued(struct nvdp_session *s, const struct nvdp_msg *m,
                            void *user, uint64_t now);
/* What waits moves into the window, then what is due at now goes into o:
 * new requests first, then retransmissions (counted tx_retransmits). A
 * request given up goes to giveup (counted tx_giveups), which may submit
 * again. */
void nvdp_sess_put_due(struct nvdp_session *s, struct nvdp_out *o,
                       uint64_t now, rel_giveup_fn giveup, void *arg);
/* Drops what is outstanding (each to cb if not NULL) and what waits. */
void nvdp_sess_tx_reset(struct nvdp_session *s, rel_giveup_fn cb, void *arg);
/* A RESPONSE m; ours: nvdp_sess_ours() for its frame. 1 when it answers a
 * request outstanding in this session: *req is that request and *user its
 * pointer, and what waits may take its place. Else 0, counted
 * rx_stray_responses (spec 10.6 rule 3). */
int nvdp_sess_response(struct nvdp_session *s, int ours,
                       const struct nvdp_msg *m, struct nvdp_msg *req,
                       void **user, uint64_t now);

/* ---- the peer's requests ---- */
/* Duplicate detection (spec 10.4): 1 if m is new and must be applied; 0
 * if it was answered before (the cached answer goes again, in o or at the
 * next nvdp_sess_put_answers() when o is NULL: rx_dup) or is too old to
 * tell (rx_stale). */
int nvdp_sess_request_new(struct nvdp_session *s, struct nvdp_out *o,
                          const struct nvdp_msg *m);
/* The answer r to a new request: cached for the request's
 * retransmissions, then sent in o (or queued when o is NULL). */
void nvdp_sess_answer(struct nvdp_session *s, struct nvdp_out *o,
                      const struct rel_resp *r);
/* A request that failed decoding (NVDP_IN_BAD), answered like any other,
 * through the duplicate cache (spec 8). */
void nvdp_sess_answer_error(struct nvdp_session *s, struct nvdp_out *o,
                            const struct nvdp_msg *m, int err);
/* Queued answers into o. */
void nvdp_sess_put_answers(struct nvdp_session *s, struct nvdp_out *o);

#endif
