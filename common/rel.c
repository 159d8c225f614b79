/* rel.c - NVDP reliability as pure state machines: the sender's window of
 * outstanding requests with backoff, and the receiver's dedupe cache. */
#include "config.h"
#include "rel.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Serial-number comparison (RFC 1982 style) so ordering survives the
 * 32-bit wrap of txids. */
static int32_t
rel_seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* ---- sender ----------------------------------------------------------- */
static void
rel_tx_cwnd_reset(struct rel_tx *tx)
{
    tx->cwnd = REL_CWND_INIT < tx->p.window ? REL_CWND_INIT : tx->p.window;
    tx->ssthresh = tx->p.window;
    tx->cwnd_acc = 0;
}

/* The timeout before any backoff (RFC 6298 2.2-2.3), within the bounds:
 * a peer slowed down by load is not sent again what it is about to
 * answer. */
static uint32_t
rel_tx_rto_base(const struct rel_tx *tx)
{
    uint64_t rto = (uint64_t)tx->srtt + 4 * (uint64_t)tx->rttvar;

    return rto < tx->p.rto_init  ? tx->p.rto_init
           : rto > tx->p.rto_max ? tx->p.rto_max
                                 : (uint32_t)rto;
}

int
rel_tx_init(struct rel_tx *tx, const struct rel_params *p)
{
    static const struct rel_params def = REL_PARAMS_DEFAULT;

    memset(tx, 0, sizeof(*tx));
    tx->p = p ? *p : def;
    if (tx->p.window == 0 || tx->p.window > REL_WINDOW_MAX ||
        tx->p.rto_init == 0 || tx->p.rto_max < tx->p.rto_init ||
        tx->p.max_tries == 0) {
        errno = EINVAL;
        return -1;
    }
    tx->slots = calloc(tx->p.window, sizeof(*tx->slots));
    /* 4 x window: the transmissions a window's requests and their
     * retransmissions may span (an older one is taken as lost) */
    for (tx->xmask = 1; tx->xmask < 4u * tx->p.window; tx->xmask *= 2)
        ;
    tx->xring = calloc(tx->xmask, sizeof(*tx->xring));
    tx->xmask--;
    if (tx->slots == NULL || tx->xring == NULL) {
        rel_tx_free(tx);
        return -1;
    }
    tx->xlo = 1;
    tx->next_txid = 1;
    tx->base = 1;
    tx->win = tx->p.window;
    tx->rto = rel_tx_rto_base(tx);
    rel_tx_cwnd_reset(tx);
    return 0;
}

void
rel_tx_free(struct rel_tx *tx)
{
    free(tx->slots);
    free(tx->xring);
    tx->slots = NULL;
    tx->xring = NULL;
    tx->outstanding = tx->unsent = tx->nagain = tx->npaced = 0;
}

/* Number of txids from a up to (not including) b, b not behind a; the
 * skipped value 0 does not count. */
static uint32_t
rel_seq_span(uint32_t a, uint32_t b)
{
    uint32_t d = b - a;

    return b < a && d > 0 ? d - 1 : d;
}

uint16_t
rel_tx_space(const struct rel_tx *tx)
{
    uint32_t span, room;

    if (tx->slots == NULL)
        return 0;
    span = tx->outstanding ? rel_seq_span(tx->base, tx->next_txid) : 0;
    if (span >= tx->win || tx->outstanding >= tx->p.window ||
        tx->outstanding >= tx->cwnd)
        return 0;
    room = tx->win - span;
    if (room > (uint32_t)(tx->cwnd - tx->outstanding))
        room = tx->cwnd - tx->outstanding;
    return (uint16_t)room;
}

void
rel_tx_set_window(struct rel_tx *tx, uint16_t w)
{
    if (w == 0)
        w = 1;
    tx->win = w < tx->p.window ? w : tx->p.window;
}

/* Re-finds the oldest outstanding txid after it was answered or dropped. */
static void
rel_tx_rebase(struct rel_tx *tx)
{
    uint32_t best = tx->next_txid;
    int found = 0;

    for (uint16_t i = 0; i < tx->p.window; i++) {
        const struct rel_slot *s = &tx->slots[i];
        if (s->used && (!found || rel_seq_diff(s->msg.txid, best) < 0)) {
            best = s->msg.txid;
            found = 1;
        }
    }
    tx->base = best;
}

static uint32_t
rel_tx_take_txid(struct rel_tx *tx)
{
    uint32_t t = tx->next_txid;

    tx->next_txid++;
    if (tx->next_txid == 0) /* 0 means "no txid" on the wire */
        tx->next_txid = 1;
    return t;
}

/* Slot holding txid, or NULL. Slots are allocated at txid % window when
 * free, so in-order traffic finds them at once. */
static struct rel_slot *
rel_tx_find(struct rel_tx *tx, uint32_t txid)
{
    struct rel_slot *s = &tx->slots[txid % tx->p.window];

    if (txid == 0)
        return NULL;
    if (s->used && s->msg.txid == txid)
        return s;
    for (uint16_t i = 0; i < tx->p.window; i++) {
        s = &tx->slots[i];
        if (s->used && s->msg.txid == txid)
            return s;
    }
    return NULL;
}

uint32_t
rel_tx_submit(struct rel_tx *tx, const struct nvdp_msg *msg, void *user,
              uint64_t now)
{
    struct rel_slot *s;
    uint32_t txid;

    if (rel_tx_space(tx) == 0)
        return 0;
    txid = rel_tx_take_txid(tx);
    if (tx->outstanding == 0)
        tx->base = txid;
    s = &tx->slots[txid % tx->p.window];
    if (s->used) {
        for (uint16_t i = 0; i < tx->p.window; i++) {
            if (!tx->slots[i].used) {
                s = &tx->slots[i];
                break;
            }
        }
    }
    s->msg = *msg;
    s->msg.txid = txid;
    s->user = user;
    s->due = now;
    s->first_sent = s->sent_at = s->xseq = 0;
    s->tries = 0;
    s->again = 0;
    s->used = 1;
    tx->outstanding++;
    tx->unsent++;
    return txid;
}

/* Marks a request to be sent again: REL_AGAIN_PACED within the
 * congestion window (a loss seen early), REL_AGAIN_NOW at once (the
 * timer expired, the peer came back). */
static void
rel_tx_mark_again(struct rel_tx *tx, struct rel_slot *s, uint8_t how)
{
    if (s->again == 0)
        tx->nagain++;
    if (s->again == REL_AGAIN_PACED)
        tx->npaced--;
    if (how == REL_AGAIN_PACED && s->again != REL_AGAIN_NOW)
        tx->npaced++;
    else
        how = REL_AGAIN_NOW;
    s->again = how;
}

static void
rel_tx_unmark_again(struct rel_tx *tx, struct rel_slot *s)
{
    if (s->again != 0)
        tx->nagain--;
    if (s->again == REL_AGAIN_PACED)
        tx->npaced--;
    s->again = 0;
}

/* Requests sent and neither answered nor known lost. */
static uint16_t
rel_tx_flight(const struct rel_tx *tx)
{
    return (uint16_t)(tx->outstanding - tx->unsent - tx->nagain);
}

/* Its transmission answered, or superseded by another. */
static void
rel_tx_xclear(struct rel_tx *tx, const struct rel_slot *s)
{
    uint16_t *e = &tx->xring[s->xseq & tx->xmask];

    if (s->xseq != 0 && *e == (uint16_t)(s - tx->slots) + 1)
        *e = 0;
}

/* A loss halves the window, once per round trip: losses among what was
 * sent before the last cut are the same congestion (RFC 5681 3.2 with
 * RFC 6582's recover; half of cwnd, not of the flight: answers are read
 * a frame at a time, so the flight when a loss is seen says little). */
static void
rel_tx_cwnd_cut(struct rel_tx *tx, uint64_t xseq)
{
    if (xseq <= tx->xrecover)
        return;
    tx->xrecover = tx->xseq;
    tx->ssthresh = tx->cwnd / 2 > 2 ? tx->cwnd / 2 : 2;
    tx->cwnd = tx->ssthresh;
    tx->cwnd_acc = 0;
}

/* Requests REL_REORDER or more transmissions older than the newest
 * answered one are lost: sent again at the next rel_tx_due. Each
 * transmission is passed over once. */
static void
rel_tx_detect(struct rel_tx *tx, uint64_t now)
{
    for (; tx->xlo + REL_REORDER <= tx->xacked; tx->xlo++) {
        uint16_t *e = &tx->xring[tx->xlo & tx->xmask];
        struct rel_slot *s;

        if (*e == 0)
            continue;
        s = &tx->slots[*e - 1];
        *e = 0;
        if (s->again)
            continue;
        rel_tx_mark_again(tx, s, REL_AGAIN_PACED);
        tx->again_at = now;
        rel_tx_cwnd_cut(tx, s->xseq);
    }
}

static void
rel_tx_release(struct rel_tx *tx, struct rel_slot *s)
{
    uint32_t txid = s->msg.txid;

    if (s->tries == 0)
        tx->unsent--;
    rel_tx_unmark_again(tx, s);
    rel_tx_xclear(tx, s);
    s->used = 0;
    s->user = NULL;
    tx->outstanding--;
    if (txid == tx->base)
        rel_tx_rebase(tx);
}

/* Sort helper: slots by txid in serial order. */
static int
rel_slot_cmp(const void *a, const void *b)
{
    const struct rel_slot *x = *(struct rel_slot *const *)a;
    const struct rel_slot *y = *(struct rel_slot *const *)b;
    int32_t d = rel_seq_diff(x->msg.txid, y->msg.txid);

    return d < 0 ? -1 : d > 0;
}

static void
rel_tx_mark_sent(struct rel_tx *tx, struct rel_slot *s, uint64_t now)
{
    uint16_t *xe;

    if (s->tries == 0) {
        s->first_sent = now;
        tx->sent++;
        tx->unsent--;
    } else {
        tx->retransmits++;
    }
    rel_tx_unmark_again(tx, s);
    s->sent_at = now;
    if (s->tries < UINT8_MAX)
        s->tries++;
    rel_tx_xclear(tx, s);
    xe = &tx->xring[++tx->xseq & tx->xmask];
    if (*xe != 0) /* far behind every later transmission: lost */
        rel_tx_mark_again(tx, &tx->slots[*xe - 1], REL_AGAIN_PACED);
    *xe = (uint16_t)(s - tx->slots) + 1;
    s->xseq = tx->xseq;
    /* The timer runs while anything sent is unanswered; a transmission
     * does not restart it (it times the oldest). */
    if (tx->rto_at == 0)
        tx->rto_at = now + tx->rto;
}

/* The timer expired: nothing was answered for a whole timeout. Requests
 * that waited that long since their latest transmission are given up at
 * max_tries, else marked to be sent again; the congestion window is cut,
 * the timeout doubled. */
static void
rel_tx_expire(struct rel_tx *tx, uint64_t now, rel_giveup_fn giveup,
              void *arg)
{
    uint64_t oldest = UINT64_MAX;
    int lost = 0;

    /* Give up first, so the pointers rel_tx_due returns stay valid. The
     * slot is released after the callback: the callback may submit. */
    for (uint16_t i = 0; i < tx->p.window; i++) {
        struct rel_slot *s = &tx->slots[i];
        if (s->used && s->tries > 0 && s->again != REL_AGAIN_NOW &&
            s->sent_at + tx->rto <= now && s->tries >= tx->p.max_tries) {
            tx->giveups++;
            if (giveup)
                giveup(arg, &s->msg, s->user);
            rel_tx_release(tx, s);
        }
    }
    for (uint16_t i = 0; i < tx->p.window; i++) {
        struct rel_slot *s = &tx->slots[i];
        if (!s->used || s->tries == 0 || s->again == REL_AGAIN_NOW)
            continue;
        if (s->sent_at + tx->rto <= now) {
            rel_tx_mark_again(tx, s, REL_AGAIN_NOW);
            lost++;
        } else if (s->sent_at < oldest)
            oldest = s->sent_at;
    }
    if (lost == 0) {
        /* All sent after the last answer: time the oldest of them. None
         * (all given up): the backoff was theirs, a new request starts
         * from the timeout without it. */
        if (oldest == UINT64_MAX)
            tx->rto = rel_tx_rto_base(tx);
        tx->rto_at = oldest == UINT64_MAX ? 0 : oldest + tx->rto;
        return;
    }
    tx->again_at = now;
    tx->xrecover = tx->xseq;
    tx->ssthresh = tx->cwnd / 2 > 2 ? tx->cwnd / 2 : 2;
    tx->cwnd = 1;
    tx->cwnd_acc = 0;
    tx->rto = tx->rto >= tx->p.rto_max / 2 ? tx->p.rto_max : tx->rto * 2;
    tx->rto_at = now + tx->rto;
}

int
rel_tx_due(struct rel_tx *tx, uint64_t now, const struct nvdp_msg **out,
           int max, rel_giveup_fn giveup, void *arg)
{
    struct rel_slot *fresh[REL_WINDOW_MAX], *again[REL_WINDOW_MAX];
    int nfresh = 0, nagain = 0, n = 0, budget;

    if (tx->slots == NULL)
        return 0;
    if (tx->rto_at != 0 && now >= tx->rto_at)
        rel_tx_expire(tx, now, giveup, arg);
    if (tx->unsent == 0 && tx->nagain == 0)
        return 0;
    for (uint16_t i = 0; i < tx->p.window; i++) {
        struct rel_slot *s = &tx->slots[i];
        if (!s->used)
            continue;
        if (s->tries == 0 && s->due <= now)
            fresh[nfresh++] = s;
        else if (s->again)
            again[nagain++] = s;
    }
    /* A loss seen early is sent again within the congestion window: a
     * peer that dropped it over its rate is not sent the whole run of
     * what it dropped at once, into the same empty bucket. */
    budget = tx->cwnd > rel_tx_flight(tx) + nfresh
                 ? tx->cwnd - rel_tx_flight(tx) - nfresh
                 : 0;
    /* New requests go out in submission order: a VN_CONNECT submitted
     * before an ASSOC must reach the peer first when nothing is lost. */
    qsort(fresh, (size_t)nfresh, sizeof(*fresh), rel_slot_cmp);
    qsort(again, (size_t)nagain, sizeof(*again), rel_slot_cmp);
    for (int i = 0; i < nfresh && n < max; i++) {
        rel_tx_mark_sent(tx, fresh[i], now);
        out[n++] = &fresh[i]->msg;
    }
    for (int i = 0; i < nagain && n < max; i++) {
        if (again[i]->again == REL_AGAIN_PACED) {
            if (budget == 0)
                continue;
            budget--;
        }
        rel_tx_mark_sent(tx, again[i], now);
        out[n++] = &again[i]->msg;
    }
    return n;
}

/* One round-trip sample, ms (RFC 6298, 2.2 and 2.3). */
static void
rel_tx_rtt(struct rel_tx *tx, uint64_t r)
{
    uint32_t rtt = r > 600000 ? 600000 : r == 0 ? 1 : (uint32_t)r;

    if (tx->srtt == 0) {
        tx->srtt = rtt;
        tx->rttvar = rtt / 2;
        return;
    }
    tx->rttvar =
        (3 * tx->rttvar + (tx->srtt > rtt ? tx->srtt - rtt : rtt - tx->srtt)) /
        4;
    tx->srtt = (7 * tx->srtt + rtt) / 8;
}

/* An answer opens the congestion window (RFC 5681 3.1): by one per answer
 * below ssthresh, by one per cwnd answers above. */
static void
rel_tx_cwnd_open(struct rel_tx *tx)
{
    if (tx->cwnd >= tx->p.window)
        return;
    if (tx->cwnd < tx->ssthresh) {
        tx->cwnd++;
    } else if (++tx->cwnd_acc >= tx->cwnd) {
        tx->cwnd++;
        tx->cwnd_acc = 0;
    }
}

int
rel_tx_ack(struct rel_tx *tx, uint32_t txid, void **user, struct nvdp_msg *req,
           uint64_t now)
{
    struct rel_slot *s = tx->slots ? rel_tx_find(tx, txid) : NULL;

    if (s == NULL) {
        tx->stray_acks++;
        return 0;
    }
    if (s->tries == 1 && now >= s->first_sent)
        rel_tx_rtt(tx, now - s->first_sent);
    if (user)
        *user = s->user;
    if (req)
        *req = s->msg;
    tx->acked++;
    if (s->xseq > tx->xacked) {
        tx->xacked = s->xseq;
        rel_tx_detect(tx, now);
    }
    rel_tx_cwnd_open(tx);
    rel_tx_release(tx, s);
    /* The peer is answering: the timer starts again from now, at the
     * timeout without backoff. */
    tx->rto = rel_tx_rto_base(tx);
    tx->rto_at = tx->outstanding > tx->unsent ? now + tx->rto : 0;
    return 1;
}

uint64_t
rel_tx_next_due(const struct rel_tx *tx)
{
    uint64_t best = tx->rto_at != 0 ? tx->rto_at : UINT64_MAX;

    if (tx->slots == NULL)
        return UINT64_MAX;
    if ((tx->nagain > tx->npaced ||
         (tx->npaced > 0 && rel_tx_flight(tx) < tx->cwnd)) &&
        tx->again_at < best)
        best = tx->again_at;
    if (tx->unsent > 0)
        for (uint16_t i = 0; i < tx->p.window; i++)
            if (tx->slots[i].used && tx->slots[i].tries == 0 &&
                tx->slots[i].due < best)
                best = tx->slots[i].due;
    return best;
}

void
rel_tx_reset(struct rel_tx *tx, rel_giveup_fn cb, void *arg)
{
    struct rel_slot *all[REL_WINDOW_MAX];
    int n = 0;

    if (tx->slots == NULL)
        return;
    for (uint16_t i = 0; i < tx->p.window; i++)
        if (tx->slots[i].used)
            all[n++] = &tx->slots[i];
    /* Report in submission order so a caller re-queueing them keeps it. */
    qsort(all, (size_t)n, sizeof(*all), rel_slot_cmp);
    for (int i = 0; i < n; i++) {
        if (cb)
            cb(arg, &all[i]->msg, all[i]->user);
        rel_tx_release(tx, all[i]);
    }
    tx->rto_at = 0;
    tx->rto = rel_tx_rto_base(tx);
    rel_tx_cwnd_reset(tx);
}

void
rel_tx_kick(struct rel_tx *tx, uint64_t now)
{
    if (tx->slots == NULL)
        return;
    for (uint16_t i = 0; i < tx->p.window; i++) {
        struct rel_slot *s = &tx->slots[i];
        if (!s->used)
            continue;
        if (s->tries == 0) {
            s->due = now;
            continue;
        }
        /* The peer is back: a fresh budget of tries and the initial
         * timeout, but still counted as a retransmission. */
        s->tries = 1;
        rel_tx_mark_again(tx, s, REL_AGAIN_NOW);
    }
    tx->again_at = now;
    rel_tx_cwnd_reset(tx);
    tx->rto = rel_tx_rto_base(tx);
    tx->rto_at = 0;
}

/* ---- receiver --------------------------------------------------------- */
int
rel_rx_init(struct rel_rx *rx, uint16_t size)
{
    uint32_t n = 2;

    memset(rx, 0, sizeof(*rx));
    if (size == 0)
        size = 2 * 256;
    if (size > 2 * REL_WINDOW_MAX)
        size = 2 * REL_WINDOW_MAX;
    while (n < size)
        n *= 2;
    rx->cache = calloc(n, sizeof(*rx->cache));
    if (rx->cache == NULL)
        return -1;
    rx->size = (uint16_t)n;
    return 0;
}

void
rel_rx_free(struct rel_rx *rx)
{
    free(rx->cache);
    rx->cache = NULL;
    rx->size = 0;
}

void
rel_rx_reset(struct rel_rx *rx, uint32_t epoch)
{
    rx->epoch = epoch;
    rx->hi = 0;
    rx->floor = 0;
    if (rx->cache)
        memset(rx->cache, 0, rx->size * sizeof(*rx->cache));
}

void
rel_rx_floor(struct rel_rx *rx, uint32_t txid)
{
    if (txid != 0 && (rx->floor == 0 || rel_seq_diff(txid, rx->floor) > 0))
        rx->floor = txid;
}

enum rel_verdict
rel_rx_check(struct rel_rx *rx, uint32_t txid, const struct rel_resp **cached)
{
    const struct rel_kept *c;
    int32_t d;

    if (cached)
        *cached = NULL;
    if (txid == 0 || rx->cache == NULL) {
        rx->stale++;
        return REL_STALE;
    }
    if (rx->floor != 0 && rel_seq_diff(txid, rx->floor) < 0) {
        /* sent before the peer's resync, which dropped it */
        rx->stale++;
        return REL_STALE;
    }
    if (rx->hi == 0)
        return REL_NEW;
    d = rel_seq_diff(rx->hi, txid);
    if (d < 0)
        return REL_NEW; /* ahead of everything seen */
    if ((uint32_t)d >= rx->size) {
        /* Too old: its cache slot may have been reused, so we can no
         * longer tell whether it was applied. Dropping is the safe side. */
        rx->stale++;
        return REL_STALE;
    }
    c = &rx->cache[txid & (rx->size - 1)];
    if (c->txid == txid) {
        struct rel_resp *o = &rx->out;
        rx->dups++;
        memset(o, 0, sizeof(*o));
        o->txid = c->txid;
        o->status = c->status;
        o->req_type = c->req_type;
        o->tag = c->tag;
        o->has_tag = c->has_tag;
        o->valid = 1;
        if (c->reason < REL_REASONS && rx->reason[c->reason].gen == c->rgen)
            memcpy(o->reason, rx->reason[c->reason].text, sizeof(o->reason));
        if (cached)
            *cached = o;
        return REL_DUP;
    }
    /* Within the cache's reach but never answered: a reordered or
     * earlier-lost request. */
    return REL_NEW;
}

void
rel_rx_store(struct rel_rx *rx, const struct rel_resp *resp)
{
    struct rel_kept *c;
    unsigned i = REL_REASONS;

    if (rx->cache == NULL || resp->txid == 0)
        return;
    c = &rx->cache[resp->txid & (rx->size - 1)];
    c->txid = resp->txid;
    c->status = resp->status;
    c->req_type = resp->req_type;
    c->tag = resp->tag;
    c->has_tag = resp->has_tag;
    if (resp->reason[0] != '\0') {
        for (i = 0; i < REL_REASONS; i++)
            if (strncmp(rx->reason[i].text, resp->reason,
                        sizeof(rx->reason[i].text)) == 0)
                break;
        if (i == REL_REASONS) {
            i = rx->reason_next;
            rx->reason_next = (uint8_t)((i + 1) % REL_REASONS);
            rx->reason[i].gen++;
            snprintf(rx->reason[i].text, sizeof(rx->reason[i].text), "%s",
                     resp->reason);
        }
        c->rgen = rx->reason[i].gen;
    }
    c->reason = (uint8_t)i;
    if (rx->hi == 0 || rel_seq_diff(resp->txid, rx->hi) > 0)
        rx->hi = resp->txid;
}

void
rel_resp_msg(const struct rel_resp *r, struct nvdp_msg *m)
{
    nvdp_msg_init(m, NVDP_MSG_RESPONSE);
    m->txid = r->txid;
    m->status = r->status;
    m->req_type = r->req_type;
    m->has_tag = r->has_tag;
    m->tag = r->tag;
    snprintf(m->reason, sizeof(m->reason), "%s", r->reason);
}
