/* hv_state.h - hv-agent's desired state: the VNICs its callers asked for,
 * what the NVE acknowledged of them, and their persistence in a JSON file. */
#ifndef HV_STATE_H
#define HV_STATE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <json-c/json.h>

#include "nvdp.h"

/* What the caller wants for a VNIC. */
enum hv_want {
    HV_WANT_ATTACH = 1,   /* associated (vnic-attach) */
    HV_WANT_PREASSOC = 2, /* pre-associated, optionally reserving a tag */
    HV_WANT_DETACH = 3,   /* disassociated (vnic-detach), then forgotten */
};

/* What we know of it at the NVE (the "state" callers see). */
enum hv_vnic_state {
    HV_VNIC_PENDING = 0,   /* requested, not (yet) acknowledged */
    HV_VNIC_ATTACHED,      /* NVE acknowledged ASSOC, tag known */
    HV_VNIC_PREASSOCIATED, /* NVE acknowledged PREASSOC */
    HV_VNIC_FAILED,        /* NVE refused: status + reason */
    HV_VNIC_WITHDRAWN,     /* NVE withdrew it; not re-associated by us */
    HV_VNIC_DETACHING,     /* VNIC_DISASSOC requested, not yet answered */
    HV_VNIC_DETACHED,      /* only ever shown to observers, just before
                            * the VNIC is forgotten */
};

#define HV_ACK_NONE 0 /* acked_kind: nothing acknowledged */
#define HV_UP_UNKNOWN 2 /* a new entry: up unless we say otherwise */
#define HV_UP_DOUBT 3   /* a VNIC_STATE was given up: either */

struct hv_vnic {
    /* ---- desired state (persisted) ---- */
    struct nvdp_uuid uuid;
    struct nvdp_vn vn;
    char vn_name[64];     /* name from hv-agent.conf if the caller used one */
    uint8_t mac[6];
    uint16_t naddr;
    struct nvdp_addr *addr; /* naddr entries; MAC-only when no IP given */
    uint8_t want;         /* enum hv_want */
    uint8_t reserve;      /* PREASSOC: reserve resources (RR) */
    uint8_t up;           /* VNIC_STATE wanted: 1 up, 0 down */
    uint8_t intent;       /* enum nvdp_intent for the detach, 0 = none */
    char ifname[IF_NAMESIZE]; /* host-side interface, for the data plane */
    uint16_t tag_hint;    /* last tag the NVE gave us, survives restarts */

    /* ---- actual state ---- */
    uint8_t state;        /* enum hv_vnic_state */
    uint16_t tag;         /* valid while attached (or preassociated + RR) */
    uint16_t status;      /* NVE status of the last refusal */
    char reason[NVDP_MAX_REASON + 1];

    /* ---- engine bookkeeping (hv_proto.c; not persisted) ---- */
    uint16_t acked_kind;  /* NVDP_MSG_ASSOC / _PREASSOC / HV_ACK_NONE */
    uint8_t acked_up;     /* 0, 1, HV_UP_UNKNOWN or HV_UP_DOUBT */
    uint8_t acked_unsure; /* a request was given up, or a WITHDRAW came:
                           * the NVE may hold what acked_* says, or less */
    uint8_t wd_race;      /* a WITHDRAW came while a request was out: its
                           * answer does not say what the NVE holds now */
    uint8_t acked_rr;
    struct nvdp_vn acked_vn;
    uint16_t nacked;
    struct nvdp_addr *acked; /* addresses the NVE acknowledged */
    uint8_t inflight;     /* one request at a time per VNIC */
    uint32_t gen;         /* desired-state changes (hv_proto_vnic_changed) */
    uint32_t req_gen;     /* gen the outstanding request was built from */
    uint8_t may_exist;    /* the NVE may hold state for it */
    uint8_t replay;       /* part of the current resync's replay */
    uint8_t queued;       /* on the dirty list */
    uint8_t gaveup;       /* failed for lack of an answer: retried when
                           * the NVE is heard again */

    TAILQ_ENTRY(hv_vnic) entry; /* all VNICs, in creation order */
    TAILQ_ENTRY(hv_vnic) dirty; /* VNICs the engine must look at */
    struct hv_vnic *hnext;      /* hash chain by UUID */
};
TAILQ_HEAD(hv_vnic_list, hv_vnic);

#define HV_STATE_BUCKETS 4096

struct hv_state {
    struct hv_vnic_list all;
    struct hv_vnic_list dirty;
    size_t count;
    struct hv_vnic *hash[HV_STATE_BUCKETS];
};

void hv_state_init(struct hv_state *s);
void hv_state_free(struct hv_state *s);
struct hv_vnic *hv_state_find(const struct hv_state *s,
                              const struct nvdp_uuid *u);
/* A new VNIC (state pending, up, no addresses); NULL on ENOMEM. */
struct hv_vnic *hv_state_add(struct hv_state *s, const struct nvdp_uuid *u);
void hv_state_remove(struct hv_state *s, struct hv_vnic *v);
/* Replaces the desired address list (copied). 0 / -1 (ENOMEM, E2BIG). */
int hv_state_set_addrs(struct hv_vnic *v, const struct nvdp_addr *a,
                       size_t n);
/* Engine's view of what the NVE holds: replaced wholesale. */
int hv_state_set_acked(struct hv_vnic *v, const struct nvdp_addr *a,
                       size_t n);
/* Puts v on the dirty list (idempotent). */
void hv_state_mark(struct hv_state *s, struct hv_vnic *v);
struct hv_vnic *hv_state_next_dirty(struct hv_state *s);

/* Persistence. Save writes path.tmp, fsyncs, renames over path and
 * fsyncs the directory, so a crash leaves the old or the new file. */
int hv_state_save(const struct hv_state *s, const char *path, char *err,
                  size_t errlen);
/* Loads into an empty state. 0: loaded (or no file: empty); -1: the file
 * is unreadable or corrupt: err says why, the file was renamed to
 * path.corrupt and the state is left empty. */
int hv_state_load(struct hv_state *s, const char *path, char *err,
                  size_t errlen);

/* JSON forms: the control-socket VNIC object and the state-file entry. */
struct json_object *hv_vnic_to_json(const struct hv_vnic *v);
const char *hv_vnic_state_str(unsigned state);
const char *hv_want_str(unsigned want);
const char *hv_intent_str(unsigned intent);

#endif
