/* txq.h - the control frames a link refused for now (ENOBUFS: its queue
 * full of data), kept in order and retried from the daemon's event loop
 * until sent or too old; never a wait inside the send call. */
#ifndef TXQ_H
#define TXQ_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "log.h"
#include "nvdp.h"
#include "nvdp_session.h"

/* Frames kept per link: a resync's burst is a few frames; a link refusing
 * longer than the hold bound has lost them anyway. */
#define TXQ_MAX 16
/* How often the head is tried again, in microseconds: finer than ev's
 * millisecond timers, so the queue has a timerfd of its own (registered
 * with the loop, created at the first refusal). A refusal lasts a few ms
 * under load, each try succeeds about one time in four: 250 us sends most
 * within a ms (bench/RESULTS-fwd.md, "Refused control frames retried from
 * the loop"). */
#define TXQ_RETRY_US 250
/* A frame not sent within this is dropped: the protocol's retransmission
 * (hundreds of ms) takes over, as for a frame lost on the wire. */
#define TXQ_HOLD_MS 50

/* Sends one frame; -1 with errno (ENOBUFS: refused for now). */
typedef int (*txq_send_fn)(void *arg, const uint8_t dst[6],
                           const uint8_t *buf, size_t len);

struct txq_frame {
    uint64_t since; /* ms: first refused */
    size_t len;
    uint8_t dst[6];
    uint8_t *buf;   /* a slot of txq.mem */
};

struct txq {
    txq_send_fn send;
    void *send_arg;
    struct nvdp_cnt cnt;    /* tx_deferred, tx_retry_dropped */
    const char *name;       /* the link, for log lines */
    struct ev_loop *loop;   /* NULL: the owner calls txq_run */
    int tfd;                /* the retry timer, -1: none yet */
    uint8_t armed;
    struct txq_frame q[TXQ_MAX];
    unsigned head, n;
    uint8_t *mem;           /* TXQ_MAX frames of NVDP_FRAME_MAX, allocated
                             * at the first refusal */
    struct log_rl rl;
};

/* q sends through send(arg); its events count in cnt (copied); name is the
 * link's (kept, not copied). With a loop, q retries on its own timer every
 * TXQ_RETRY_US while frames wait; without, the owner calls txq_run(). */
void txq_init(struct txq *q, struct ev_loop *loop, txq_send_fn send,
              void *arg, const struct nvdp_cnt *cnt, const char *name);
/* Drops what waits (counted), frees the buffers and the timer. q may be
 * initialised again. */
void txq_free(struct txq *q);
/* Sends buf, or keeps it when the link refuses it for now (ENOBUFS) or
 * frames wait before it (they go first: nothing overtakes): 0 (sent or
 * kept), or -1 with errno for another error (not kept). When TXQ_MAX
 * frames wait, the oldest is dropped (tx_retry_dropped). now in ms. */
int txq_send(struct txq *q, const uint8_t dst[6], const uint8_t *buf,
             size_t len, uint64_t now);
/* Sends what waits, in order, until the link refuses again; drops frames
 * older than TXQ_HOLD_MS or that fail otherwise (tx_retry_dropped). */
void txq_run(struct txq *q, uint64_t now);
static inline unsigned
txq_len(const struct txq *q)
{
    return q->n;
}

#endif
