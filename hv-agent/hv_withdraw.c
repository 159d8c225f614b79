/* hv_withdraw.c - the NVE's WITHDRAW (spec 13): the VNICs it names are
 * withdrawn, and what the NVE may still hold of them stays in doubt. */
#include <string.h>

#include "hv_proto_int.h"
#include "log.h"

/* The NVE removed v. It cannot say whether before or after it applied
 * our last request for v (nor does a VN-wide WITHDRAW say which VN the
 * NVE held v in, when we were moving it), so what we knew becomes what it
 * may hold, and may_exist stays: a VNIC we asked the NVE to hold gets a
 * VNIC_DISASSOC (intent migration) to agree on absent either way, or is
 * moved out of what it may hold if the caller attaches it again (spec 10.6
 * rule 5, vnic_next()). */
static void
withdraw_vnic(struct hv *h, struct hv_vnic *v, const char *reason)
{
    char u[NVDP_UUID_STRLEN];

    v->acked_unsure = 1;
    v->acked_up = HV_UP_DOUBT;
    v->wd_race = v->inflight;
    hv_replay_done(h, v);
    hv_state_mark(&h->state, v);
    if (v->want == HV_WANT_DETACH)
        return; /* its VNIC_DISASSOC goes on: the same doubt */
    log_warnx_rl(&h->proto.rl_wd, "vnic %s: withdrawn by the NVE: %s",
                 hv_vnic_str(v, u), *reason ? reason : "no reason given");
    v->tag = 0; /* must not be used any more; tag_hint remembers it */
    v->status = NVDP_ST_OK;
    snprintf(v->reason, sizeof(v->reason), "%s",
             *reason ? reason : "withdrawn by the NVE");
    hv_vnic_set_state(h, v, HV_VNIC_WITHDRAWN);
    hv_notify_vnic(h, v);
    /* committed at once, not with the next request (hv_state_learnt): a
     * restart must not find the VNIC wanted attached and replay it */
    hv_state_changed(h, v);
}

void
hv_withdraw_input(struct hv *h, const struct nvdp_msg *m)
{
    struct nvdp_session *s = &h->proto.nve;
    struct hv_vnic *v, *next;
    struct rel_resp r;

    s->c.withdraws_rx++;
    if (!nvdp_sess_request_new(s, NULL, m))
        return;
    /* one VNIC: found by its UUID, not by walking them all */
    v = m->has_vnic ? hv_state_find(&h->state, &m->vnic)
                    : TAILQ_FIRST(&h->state.all);
    for (; v != NULL; v = next) {
        next = m->has_vnic ? NULL : TAILQ_NEXT(v, entry);
        /* The NVE names the VN as we did (the one it holds, which is
         * not the desired one while we move the VNIC); a tag match also
         * identifies it (one tag per VN on our port). */
        if (m->vn.kind != NVDP_VN_NONE && !nvdp_vn_equal(&m->vn, &v->vn) &&
            !(v->acked_kind != HV_ACK_NONE &&
              nvdp_vn_equal(&m->vn, &v->acked_vn)) &&
            !(m->has_tag && v->tag != 0 && v->tag == m->tag))
            continue;
        if (v->state == HV_VNIC_WITHDRAWN)
            continue;
        withdraw_vnic(h, v, m->reason);
    }
    /* OK also when it names none of ours (spec 13) */
    nvdp_resp_init(&r, m, NVDP_ST_OK, NULL);
    nvdp_sess_answer(s, NULL, &r);
}
