/* rel.h - NVDP reliability: request window, retransmission with backoff,
 * duplicate detection. Pure state machines: no sockets, time passed in. */
#ifndef REL_H
#define REL_H

#include <stdint.h>
#include "nvdp.h"

/* ---- Sender side (one per peer) -------------------------------------- */
#define REL_WINDOW_MAX 1024

struct rel_params {
    uint16_t window;     /* requests outstanding at once (1..REL_WINDOW_MAX) */
    uint32_t rto_init;   /* ms before the first retransmission */
    uint32_t rto_max;    /* backoff ceiling, ms */
    uint8_t max_tries;   /* transmissions before giving up */
};
#define REL_PARAMS_DEFAULT {256, 200, 3200, 8}

struct rel_slot {
    struct nvdp_msg msg; /* txid assigned at submit */
    void *user;
    uint64_t due;        /* unsent: when it may go (its submit time) */
    uint64_t first_sent; /* first transmission (round-trip samples) */
    uint64_t sent_at;    /* latest transmission, 0 until the first */
    uint64_t xseq;       /* number of its latest transmission, 0: none */
    uint8_t tries;       /* transmissions so far */
    uint8_t again;       /* to be sent again: 0 no, REL_AGAIN_* */
    uint8_t used;
};

/* The window is counted in txids from the oldest unanswered request (as in
 * TCP), not only in requests outstanding: a request stuck in retransmission
 * holds the window, so its txid never falls out of the receiver's dedupe
 * reach (2 x window) where it would be dropped as stale on every try.
 *
 * Retransmission is driven by one timer per peer (spec 10.3, as TCP's,
 * RFC 6298 5.1-5.7), not one per request: it runs while requests are
 * outstanding and is restarted by every answer, so a peer working through
 * a deep queue (a restarted NVE with 40 hypervisors replaying) is not sent
 * again what it is about to answer. When it expires, nothing was answered
 * for a whole timeout: the requests that have waited that long are sent
 * again (a lost one among answered ones: exactly it) and the timeout
 * doubles until the next answer. A request is also known lost, without
 * waiting for the timer, once REL_REORDER requests transmitted after it
 * have been answered (the peer answers in the order it reads; TCP's fast
 * retransmit, counted in transmissions as RACK does in time): a peer
 * dropping requests over its rate (spec 10.2) gets them again within the
 * congestion window (as many as it is answering), not after a stall of
 * the whole window and a timeout.
 *
 * Within the window, a congestion window (cwnd, in requests outstanding)
 * paces a burst to what the peer absorbs: it starts small after a reset
 * (the peer restarted: a resync's replay), opens by one per answer (slow
 * start, doubling per round trip) up to ssthresh, then by one per cwnd
 * answers; a loss halves it (once per round trip), the timer's
 * expiry closes it to 1 (ssthresh: half of what it was). */
#define REL_CWND_INIT 16
#define REL_REORDER 3
#define REL_AGAIN_PACED 1
#define REL_AGAIN_NOW 2

struct rel_tx {
    struct rel_params p;
    uint32_t next_txid;  /* never 0 */
    uint32_t base;       /* oldest outstanding txid; next_txid when none */
    uint16_t win;        /* effective window, <= p.window (peer's HELLO) */
    uint16_t outstanding;
    uint16_t unsent;     /* outstanding, never transmitted yet */
    uint16_t nagain;     /* outstanding, marked to be sent again */
    uint16_t npaced;     /* ... of which within the congestion window */
    struct rel_slot *slots; /* p.window entries */
    /* Round-trip time of answered requests (RFC 6298; Karn: only those
     * answered at their first transmission), ms; srtt 0 = no sample yet.
     * The timeout is max(rto_init, srtt + 4 rttvar), capped at rto_max. */
    uint32_t srtt, rttvar;
    /* the one retransmission timer: expires at rto_at (0: stopped);
     * requests marked to be sent again are due since again_at */
    uint64_t rto_at, again_at;
    uint32_t rto;        /* current timeout, backed off at each expiry */
    /* congestion window (requests), its threshold, answers toward +1 */
    uint16_t cwnd, ssthresh, cwnd_acc;
    /* Transmissions are numbered (xseq); xring[xseq & xmask] is 1 + the
     * slot of an unanswered transmission, 0 once answered or sent again.
     * xlo: every transmission before it is answered or known lost;
     * xacked: the highest answered; xrecover: the latest transmission
     * when the window was last cut (one cut per loss). */
    uint16_t *xring;
    uint64_t xseq, xlo, xacked, xrecover;
    uint32_t xmask;
    /* counters */
    uint64_t sent, retransmits, acked, giveups, stray_acks;
};

int rel_tx_init(struct rel_tx *tx, const struct rel_params *p);
void rel_tx_free(struct rel_tx *tx);
/* Room for more requests: within the window (txids from the oldest
 * unanswered) and the congestion window (requests outstanding). */
uint16_t rel_tx_space(const struct rel_tx *tx);
/* Lower (or restore) the window to min(w, p.window), e.g. to the peer's
 * HELLO window; w = 0 is treated as 1. Requests already out stay out. */
void rel_tx_set_window(struct rel_tx *tx, uint16_t w);
/* Copies msg in, assigns msg->txid (returned), due now. 0 if no room. */
uint32_t rel_tx_submit(struct rel_tx *tx, const struct nvdp_msg *msg,
                       void *user, uint64_t now);
/* Up to max messages to send at now: new ones first, in submission order,
 * then those to send again (the timer expired, or rel_tx_kick), oldest
 * first. Pointers valid until the next call that changes tx. A request
 * that reached max_tries when the timer expires is not returned: it is
 * reported through giveup() and removed. Returns the count. */
typedef void (*rel_giveup_fn)(void *arg, const struct nvdp_msg *msg,
                              void *user);
int rel_tx_due(struct rel_tx *tx, uint64_t now, const struct nvdp_msg **out,
               int max, rel_giveup_fn giveup, void *arg);
/* A RESPONSE for txid arrived at now: 1 and *user (and *req) if it was
 * outstanding, 0 if unknown or already answered (counted stray). An
 * answer restarts the timer and opens the congestion window; one to a
 * request sent once is a round-trip sample (srtt). */
int rel_tx_ack(struct rel_tx *tx, uint32_t txid, void **user,
               struct nvdp_msg *req, uint64_t now);
/* When rel_tx_due has something to do next: a request not sent yet or to
 * be sent again, or the timer; UINT64_MAX if nothing is outstanding. */
uint64_t rel_tx_next_due(const struct rel_tx *tx);
/* Drop everything outstanding (peer restarted); each entry is passed to
 * cb if cb is not NULL. txids keep increasing; the congestion window
 * starts again from REL_CWND_INIT (the restarted peer's queue is empty
 * and its capacity unknown). */
void rel_tx_reset(struct rel_tx *tx, rel_giveup_fn cb, void *arg);
/* The peer came back: every outstanding request is sent again now, with a
 * fresh budget of tries, the initial timeout and congestion window. */
void rel_tx_kick(struct rel_tx *tx, uint64_t now);

/* ---- Receiver side (one per peer and epoch) -------------------------- */
/* Cached answer: enough to re-send the same RESPONSE. */
struct rel_resp {
    uint32_t txid;
    uint16_t status;
    uint16_t req_type;
    uint16_t tag;
    uint8_t has_tag;
    uint8_t valid;
    char reason[96];
};

/* A cached answer as kept: its reason by reference to the few distinct
 * reasons of the peer's latest answers (a flood's refusals all say the
 * same): 16 bytes a slot, not 108, in the hundreds of slots of each peer.
 * txid 0: an empty slot (no request has txid 0). */
struct rel_kept {
    uint32_t txid;
    uint32_t rgen;   /* its reason's generation when stored */
    uint16_t status;
    uint16_t req_type;
    uint16_t tag;
    uint8_t has_tag;
    uint8_t reason;  /* index in reason[], REL_REASONS: none */
};
#define REL_REASONS 4

struct rel_rx {
    uint32_t epoch;  /* peer epoch this state belongs to */
    uint32_t hi;     /* highest txid seen, 0 = none */
    uint32_t floor;  /* txids before it are stale (rel_rx_floor), 0 = none */
    uint16_t size;   /* cache slots, a power of two: at least 2 x the window
                      * we advertise in HELLO (what the peer may have in
                      * flight), so no retransmission is ever STALE */
    struct rel_kept *cache;
    /* the latest distinct non-empty reasons, replaced round robin (each
     * replacement a new generation): a duplicate whose reason was replaced
     * since is answered without it */
    struct {
        uint32_t gen;
        char text[96];
    } reason[REL_REASONS];
    uint8_t reason_next;
    struct rel_resp out; /* the answer rel_rx_check() hands back */
    uint64_t dups, stale;
};

enum rel_verdict { REL_NEW = 0, REL_DUP = 1, REL_STALE = 2 };

int rel_rx_init(struct rel_rx *rx, uint16_t size);
void rel_rx_free(struct rel_rx *rx);
/* Forget everything (peer epoch changed). */
void rel_rx_reset(struct rel_rx *rx, uint32_t epoch);
/* The peer dropped everything it sent before txid (its RESYNC BEGIN):
 * older txids are stale from now on in this epoch (spec 10.4). */
void rel_rx_floor(struct rel_rx *rx, uint32_t txid);
/* Classify a request txid. REL_DUP sets *cached to the stored answer, to be
 * sent again without applying the request (valid until the next call);
 * REL_STALE: ignore, counted. */
enum rel_verdict rel_rx_check(struct rel_rx *rx, uint32_t txid,
                              const struct rel_resp **cached);
/* Remember the answer given to a REL_NEW request. */
void rel_rx_store(struct rel_rx *rx, const struct rel_resp *resp);
/* Fill *m with the RESPONSE that carries answer r (a new answer or one
 * re-sent from the cache). addr[] is left as it is: naddr is 0. */
void rel_resp_msg(const struct rel_resp *r, struct nvdp_msg *m);

#endif
