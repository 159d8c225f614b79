/* txq.c - control frames a link refused for now, kept in order and
 * retried from the event loop's timer (txq.h). */
#include "config.h"
#include "txq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void txq_timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg);

void
txq_init(struct txq *q, struct ev_loop *loop, txq_send_fn send, void *arg,
         const struct nvdp_cnt *cnt, const char *name)
{
    memset(q, 0, sizeof(*q));
    q->send = send;
    q->send_arg = arg;
    q->cnt = *cnt;
    q->name = name;
    q->loop = loop;
    ev_timer_init(&q->timer, txq_timer_cb, q);
    log_rl_init(&q->rl, LOG_RL_BURST, LOG_RL_INTERVAL_MS);
}

/* The head leaves the queue unsent: counted, and said (rate-limited: a
 * link refusing for long drops many). */
static void
txq_drop_head(struct txq *q, const char *why)
{
    NVDP_COUNT(&q->cnt, tx_retry_dropped);
    log_warnx_rl(&q->rl, "%s: a refused NVDP frame dropped (%s): the "
                 "protocol retransmits", q->name, why);
    q->head = (q->head + 1) % TXQ_MAX;
    q->n--;
}

void
txq_free(struct txq *q)
{
    while (q->n > 0)
        txq_drop_head(q, "link closed");
    if (q->loop != NULL)
        ev_timer_stop(q->loop, &q->timer);
    free(q->mem);
    q->mem = NULL;
}

static void
txq_arm(struct txq *q)
{
    if (q->loop != NULL && q->n > 0 && !ev_timer_active(&q->timer))
        ev_timer_start(q->loop, &q->timer, TXQ_RETRY_MS);
}

void
txq_run(struct txq *q, uint64_t now)
{
    while (q->n > 0) {
        struct txq_frame *f = &q->q[q->head];
        if (now - f->since > TXQ_HOLD_MS) {
            txq_drop_head(q, "link refused it too long");
            continue;
        }
        if (q->send(q->send_arg, f->dst, f->buf, f->len) < 0) {
            if (errno == ENOBUFS)
                break; /* still full: the next turn of the timer */
            txq_drop_head(q, strerror(errno));
            continue;
        }
        q->head = (q->head + 1) % TXQ_MAX;
        q->n--;
    }
    txq_arm(q);
}

static void
txq_timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    (void)l;
    (void)t;
    txq_run(arg, ev_clock_ms());
}

/* Keeps a copy of the frame at the tail; a full queue loses its oldest.
 * 0, or -1 when there is no memory for it (the frame is lost). */
static int
txq_keep(struct txq *q, const uint8_t dst[6], const uint8_t *buf, size_t len,
         uint64_t now)
{
    struct txq_frame *f;
    unsigned slot;

    if (len > NVDP_FRAME_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    if (q->mem == NULL &&
        (q->mem = malloc((size_t)TXQ_MAX * NVDP_FRAME_MAX)) == NULL) {
        errno = ENOBUFS;
        return -1;
    }
    if (q->n == TXQ_MAX)
        txq_drop_head(q, "queue full");
    slot = (q->head + q->n) % TXQ_MAX;
    f = &q->q[slot];
    f->buf = q->mem + (size_t)slot * NVDP_FRAME_MAX;
    memcpy(f->buf, buf, len);
    memcpy(f->dst, dst, 6);
    f->len = len;
    f->since = now;
    q->n++;
    NVDP_COUNT(&q->cnt, tx_deferred);
    txq_arm(q);
    return 0;
}

int
txq_send(struct txq *q, const uint8_t dst[6], const uint8_t *buf, size_t len,
         uint64_t now)
{
    /* what waits goes first: this frame may be the answer to a request
     * whose earlier frames are still queued */
    if (q->n > 0)
        txq_run(q, now);
    if (q->n > 0)
        return txq_keep(q, dst, buf, len, now);
    if (q->send(q->send_arg, dst, buf, len) == 0)
        return 0;
    if (errno != ENOBUFS)
        return -1;
    return txq_keep(q, dst, buf, len, now);
}
