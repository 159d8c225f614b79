/* hv_resync.c - resync (spec 11.5): drop what is outstanding, RESYNC BEGIN,
 * replay every VNIC, END once every replayed request is answered. */
#include <string.h>

#include "hv_proto_int.h"
#include "log.h"

void
hv_resync_answered(struct hv *h, const struct nvdp_msg *req,
                   const struct nvdp_msg *resp)
{
    struct hv_proto *p = &h->proto;

    if (resp->status != NVDP_ST_OK)
        log_warnx("resync %s refused by the NVE: %s (%s); continuing",
                  req->phase == NVDP_RESYNC_BEGIN ? "begin" : "end",
                  nvdp_status_str(resp->status), resp->reason);
    if (req->phase == NVDP_RESYNC_BEGIN)
        p->nve.open = resp->status == NVDP_ST_OK;
    if (req->phase == NVDP_RESYNC_BEGIN && p->phase == HV_RS_BEGIN) {
        log_debug("resync: begin acknowledged, replaying %zu VNICs",
                  p->replay_left);
        p->phase = HV_RS_REPLAY;
    } else if (req->phase == NVDP_RESYNC_END && p->phase == HV_RS_END) {
        log_info("resync: complete");
        p->phase = HV_RS_IDLE;
        p->kept = 0; /* every VNIC confirmed again */
    }
}

static void
reset_cb(void *arg, const struct nvdp_msg *msg, void *user)
{
    struct hv_vnic *v = user;

    (void)arg;
    (void)msg;
    if (v != NULL)
        v->inflight = 0;
}

/* Drops what is outstanding and replays every VNIC but the withdrawn
 * ones after a new RESYNC BEGIN. Once per change: while a BEGIN is still
 * to be answered, a new trigger changes nothing (the BEGIN, retransmitted
 * to whoever the NVE now is, opens the session anyway). */
void
hv_resync_start(struct hv *h, const char *why)
{
    struct hv_proto *p = &h->proto;
    struct hv_vnic *v;

    if (p->phase == HV_RS_NEEDED || p->phase == HV_RS_BEGIN) {
        log_debug("resync (%s): already starting", why);
        return;
    }
    log_info("resync: %s: replaying %zu VNICs", why, h->state.count);
    p->nve.open = 0;
    nvdp_sess_tx_reset(&p->nve, reset_cb, h);
    p->replay_left = 0;
    TAILQ_FOREACH(v, &h->state.all, entry) {
        v->inflight = 0;
        v->wd_race = 0;
        v->replay = 0;
        v->gaveup = 0;
        if (v->state == HV_VNIC_WITHDRAWN) {
            /* not replayed: END sweeps whatever the NVE still holds */
            v->may_exist = 0;
            continue;
        }
        /* the replay restates every VNIC (spec 9.9): what was acked or
         * in doubt no longer matters */
        v->acked_kind = HV_ACK_NONE;
        v->acked_unsure = 0;
        v->nacked = 0;
        v->acked_up = HV_UP_UNKNOWN;
        v->may_exist = 1;
        if (v->state == HV_VNIC_FAILED) {
            /* a resync is a fresh start: refused VNICs are tried again */
            hv_vnic_set_state(h, v, HV_VNIC_PENDING);
            hv_notify_vnic(h, v);
        }
        v->replay = 1;
        p->replay_left++;
        hv_state_mark(&h->state, v);
    }
    p->phase = HV_RS_NEEDED;
    if (h->wake != NULL)
        h->wake(h);
}

void
hv_resync_by_nve(struct hv *h, const char *why, uint64_t now)
{
    struct hv_proto *p = &h->proto;

    if (p->phase == HV_RS_NEEDED || p->phase == HV_RS_BEGIN)
        return; /* one is starting: it restates everything anyway */
    if (p->resync_deferred == NULL && tbucket_take(&p->rs, now)) {
        hv_resync_start(h, why);
        return;
    }
    if (p->resync_deferred == NULL) {
        p->nve.c.resyncs_deferred++;
        log_warnx_rl(&p->rl, "resync (%s) deferred: the NVE asked for %u "
                     "in a row", why, p->rs.burst);
    }
    p->resync_deferred = why;
}

uint64_t
hv_resync_deferred(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    const char *why = p->resync_deferred;

    if (why == NULL)
        return UINT64_MAX;
    if (!tbucket_take(&p->rs, now))
        return now + 1000 / (p->rs.rate ? p->rs.rate : 1);
    p->resync_deferred = NULL;
    if (p->phase != HV_RS_NEEDED && p->phase != HV_RS_BEGIN)
        hv_resync_start(h, why);
    return UINT64_MAX;
}

static void
resync_msg(struct hv *h, uint8_t phase, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    struct nvdp_msg m;

    /* A state file that did not load whole (hv.c) must not make the NVE
     * drop what we may have lost: the resync then ends without END. */
    if (phase == NVDP_RESYNC_END && h->state_incomplete) {
        log_info("resync: complete; END withheld: damaged state kept "
                 "aside (hv-agent(8))");
        p->phase = HV_RS_IDLE;
        p->kept = 0;
        return;
    }
    nvdp_msg_init(&m, NVDP_MSG_RESYNC);
    m.has_phase = 1;
    m.phase = phase;
    if (nvdp_sess_submit(&p->nve, &m, NULL, now) == 0)
        return;
    if (phase == NVDP_RESYNC_BEGIN) {
        p->nve.c.resyncs++;
        p->phase = HV_RS_BEGIN;
    } else
        p->phase = HV_RS_END;
}

void
hv_resync_step(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;

    if (nvdp_sess_tx_space(&p->nve) == 0)
        return;
    if (p->phase == HV_RS_NEEDED)
        resync_msg(h, NVDP_RESYNC_BEGIN, now);
    else if (p->phase == HV_RS_REPLAY && p->replay_left == 0)
        resync_msg(h, NVDP_RESYNC_END, now);
}

void
hv_resync_gaveup(struct hv *h, const struct nvdp_msg *msg)
{
    log_warnx("resync %s unanswered: retrying when the NVE is heard",
              msg->phase == NVDP_RESYNC_BEGIN ? "begin" : "end");
    h->proto.phase = msg->phase == NVDP_RESYNC_BEGIN ? HV_RS_NEEDED :
                                                       HV_RS_REPLAY;
}
