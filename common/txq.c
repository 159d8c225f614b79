/* txq.c - control frames a link refused for now, kept in order and
 * retried from the event loop's timer (txq.h). */
#include "config.h"
#include "txq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

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
    q->tfd = -1;
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
    if (q->tfd >= 0) {
        ev_io_del(q->loop, q->tfd);
        close(q->tfd);
        q->tfd = -1;
    }
    q->armed = 0;
    free(q->mem);
    q->mem = NULL;
}

/* The retry timer ticks every TXQ_RETRY_US while frames wait, and stops
 * when none does. Without it (no loop, or no timerfd: logged) frames
 * still go before any later one, and the hold bound drops them. */
static void
txq_arm(struct txq *q)
{
    struct itimerspec its = {0};
    int want = q->n > 0;

    if (q->tfd < 0 || want == q->armed)
        return;
    if (want) {
        its.it_value.tv_nsec = TXQ_RETRY_US * 1000L;
        its.it_interval = its.it_value;
    }
    if (timerfd_settime(q->tfd, 0, &its, NULL) < 0) {
        log_warn("%s: retry timer", q->name);
        return;
    }
    q->armed = (uint8_t)want;
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
txq_timer_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    uint64_t ticks;

    (void)l;
    (void)events;
    if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
        log_warn("txq: retry timer");
    txq_run(arg, ev_clock_ms());
}

/* The retry timer, at the first refusal: most links never need one. */
static void
txq_timer_new(struct txq *q)
{
    q->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (q->tfd < 0) {
        log_warn("%s: retry timer", q->name);
        return;
    }
    if (ev_io_add(q->loop, q->tfd, EPOLLIN, txq_timer_cb, q) < 0) {
        log_warn("%s: retry timer", q->name);
        close(q->tfd);
        q->tfd = -1;
    }
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
    if (q->tfd < 0 && q->loop != NULL)
        txq_timer_new(q);
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
