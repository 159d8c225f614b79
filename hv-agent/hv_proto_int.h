/* hv_proto_int.h - inside hv-agent's NVDP engine: what its files call of
 * each other. The rest of the daemon uses hv.h only. */
#ifndef HV_PROTO_INT_H
#define HV_PROTO_INT_H

#include "hv.h"

static inline const char *
hv_mac_str(const uint8_t mac[6], char buf[NVDP_MAC_STRLEN])
{
    nvdp_mac_fmt(mac, buf);
    return buf;
}

static inline const char *
hv_vnic_str(const struct hv_vnic *v, char buf[NVDP_UUID_STRLEN])
{
    nvdp_uuid_fmt(&v->uuid, buf);
    return buf;
}

/* ---- hv_peer.c: which NVE, its epochs and liveness -------------------- */
/* Where our frames go: the pinned or selected NVE, else the group. */
const uint8_t *hv_dst_mac(const struct hv *h);
struct hv_peer *hv_peer_get(struct hv_proto *p, const uint8_t mac[6],
                            uint64_t now);
/* Who sent this frame: 1 = our NVE, 0 = someone else. */
int hv_peer_classify(struct hv *h, const uint8_t src[6],
                     const struct nvdp_hdr *hdr, const uint8_t *buf,
                     size_t len, struct nvdp_msg *m, uint64_t now);
void hv_nve_hello(struct hv *h, const struct nvdp_msg *m);
void hv_nve_epochs(struct hv *h, const struct nvdp_hdr *hdr, int unicast,
                   uint64_t now);
void hv_nve_heard(struct hv *h, uint64_t now);
void hv_liveness(struct hv *h, uint64_t now);
uint64_t hv_nve_deadline(const struct hv *h);

/* ---- hv_reconcile.c: desired vs acknowledged state -------------------- */
void hv_vnic_set_state(struct hv *h, struct hv_vnic *v, unsigned state);
void hv_replay_done(struct hv *h, struct hv_vnic *v);
void hv_vnic_answered(struct hv *h, struct hv_vnic *v,
                      const struct nvdp_msg *req, const struct nvdp_msg *resp);
void hv_giveup_cb(void *arg, const struct nvdp_msg *msg, void *user);
void hv_reconcile(struct hv *h, uint64_t now);

/* ---- hv_resync.c ------------------------------------------------------ */
void hv_resync_start(struct hv *h, const char *why);
/* A resync the NVE's frames call for (its restart, our state lost there):
 * at once within the resync budget, else deferred until it has room (an
 * NVE flapping its epoch must not make us replay every VNIC per frame).
 * hv_resync_deferred() starts a deferred one when it may: the next time
 * it wants to run, UINT64_MAX if none waits. */
void hv_resync_by_nve(struct hv *h, const char *why, uint64_t now);
uint64_t hv_resync_deferred(struct hv *h, uint64_t now);
/* The resync budget and the NVE's request bucket from the configuration:
 * full at now, or (now UINT64_MAX: a reload) keeping what they hold. */
void hv_proto_limits(struct hv *h, uint64_t now);
/* Sends RESYNC BEGIN when one is needed, END once every replayed request
 * is answered: each as early as the window allows, before new work. */
void hv_resync_step(struct hv *h, uint64_t now);
void hv_resync_gaveup(struct hv *h, const struct nvdp_msg *msg);
void hv_resync_answered(struct hv *h, const struct nvdp_msg *req,
                        const struct nvdp_msg *resp);

/* ---- hv_withdraw.c ---------------------------------------------------- */
void hv_withdraw_input(struct hv *h, const struct nvdp_msg *m);

#endif
