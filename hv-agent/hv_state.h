/* hv_state.h - hv-agent's desired state: the VNICs its callers asked for,
 * what the NVE acknowledged of them, and their records in the state journal
 * (hv_journal.h): what changed since the last commit, and how to undo it. */
#ifndef HV_STATE_H
#define HV_STATE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <json-c/json.h>

#include "hv_journal.h"
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
    uint32_t gen;         /* desired-state changes (hv_vnic_want) */
    uint32_t req_gen;     /* gen the outstanding request was built from */
    uint8_t may_exist;    /* the NVE may hold state for it */
    uint8_t replay;       /* part of the current resync's replay */
    uint8_t queued;       /* on the dirty list */
    uint8_t gaveup;       /* failed for lack of an answer: retried when
                           * the NVE is heard again */

    /* ---- persistence (hv_state.c) ---- */
    uint32_t jlen;        /* bytes of its live record in the journal, 0 =
                           * none (never committed) */
    uint32_t plen;        /* bytes of the record being committed */
    uint8_t unsaved;      /* on the unsaved list */
    uint8_t syncing;      /* on the syncing list */
    uint8_t after_sync;   /* looked at again once the commit syncing
                           * its change is durable: a detach forgotten,
                           * a shutdown's VNIC_DISASSOC sent
                           * (hv_reconcile.c) */
    struct hv_vnic_undo *undo; /* how it was before a request changed it,
                                * until that change is committed */

    TAILQ_ENTRY(hv_vnic) entry;   /* all VNICs, in creation order */
    TAILQ_ENTRY(hv_vnic) dirty;   /* VNICs the engine must look at */
    TAILQ_ENTRY(hv_vnic) uentry;  /* VNICs whose record must be written */
    TAILQ_ENTRY(hv_vnic) sentry;  /* VNICs whose record is being synced */
    struct hv_vnic *hnext;        /* hash chain by UUID */
};
TAILQ_HEAD(hv_vnic_list, hv_vnic);

#define HV_STATE_BUCKETS 4096

struct hv_state {
    struct hv_vnic_list all;
    struct hv_vnic_list dirty;
    struct hv_vnic_list unsaved;
    struct hv_vnic_list syncing; /* written, not yet durable */
    size_t count;
    struct hv_vnic *hash[HV_STATE_BUCKETS];
    /* VNICs removed since the last commit that have a record to cancel */
    struct nvdp_uuid *removed;
    size_t nremoved, removed_cap;
    /* the removals written, not yet durable */
    struct nvdp_uuid *sremoved;
    size_t nsremoved, sremoved_cap;
    uint64_t live_bytes;  /* sum of the VNICs' jlen */
};

void hv_state_init(struct hv_state *s);
void hv_state_free(struct hv_state *s);
struct hv_vnic *hv_state_find(const struct hv_state *s,
                              const struct nvdp_uuid *u);
/* A new VNIC (state pending, up, no addresses); NULL on ENOMEM. */
struct hv_vnic *hv_state_add(struct hv_state *s, const struct nvdp_uuid *u);
/* Forgets v; its record, if it has one, is cancelled at the next commit. */
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

/* ---- persistence ------------------------------------------------------
 * A VNIC whose record changed is put on the unsaved list (touch); a
 * commit writes the record of each (and one for each VNIC removed since),
 * then either saved() or, when the write failed, undo() of the changes
 * requests made. */

/* v's record must be written at the next commit (idempotent). */
void hv_state_touch(struct hv_state *s, struct hv_vnic *v);
/* Keeps how v is now, before a request changes it (created: v was just
 * added for it), so that a change that cannot be saved is undone. Only
 * the first call between two commits counts. Touches v. 0 / -1 ENOMEM. */
int hv_state_undo_save(struct hv_state *s, struct hv_vnic *v, int created);
/* Puts back what a request changed (desired state and its gen, and the
 * state, status and reason it reset): an answer to a request built before
 * the change counts again. Returns 1 if v was created by the request: the
 * caller removes it. 0 otherwise (also when there is nothing to undo). */
int hv_state_undo(struct hv_vnic *v);
/* Whether v's undo is of a VNIC the request created. */
int hv_state_undo_created(const struct hv_vnic *v);
/* Forgets how v was before the request (a created VNIC kept anyway). */
void hv_state_undo_drop(struct hv_vnic *v);
/* Whether a commit has anything to write. */
int hv_state_unsaved(const struct hv_state *s);
/* The records of the pending changes, removals first, appended to b. */
void hv_state_batch(struct hv_state *s, struct hv_jbuf *b);
/* Every VNIC's record, in creation order, appended to b (the whole live
 * state, for a rewrite of the journal). */
void hv_state_dump(struct hv_state *s, struct hv_jbuf *b);
/* The batch (or the dump) is durable: the pending changes are forgotten,
 * and so is how to undo them. */
void hv_state_saved(struct hv_state *s, int dumped);
/* hv_state_saved in two halves, for a commit whose sync runs while the
 * engine works: written() when the batch is written (the VNICs leave the
 * unsaved list for the syncing list, keeping how to undo them; a VNIC
 * changed again meanwhile is unsaved and syncing at once), then synced()
 * when it is durable, or unwritten() when the sync failed (they are all
 * unsaved again, with their undo). synced() returns how many VNICs it put
 * back on the work list (after_sync: the engine acts on them now). */
void hv_state_written(struct hv_state *s, int dumped);
unsigned hv_state_synced(struct hv_state *s);
void hv_state_unwritten(struct hv_state *s);

/* What a load found. */
struct hv_state_load {
    int missing;  /* no file: empty state */
    int legacy;   /* the file was version 1's single JSON document (read
                   * entry by entry; must be rewritten as a journal) */
    struct hv_journal_scan scan; /* records, damage, tail (legacy too) */
};
/* Loads path into an empty state: every valid record, whatever else the
 * file holds (r says what). 0, or -1 with err when the file cannot be read
 * at all (the state is then empty). */
int hv_state_load(struct hv_state *s, const char *path,
                  struct hv_state_load *r, char *err, size_t errlen);
/* The same from a buffer holding a whole file (pure; -1: no memory). */
int hv_state_load_buf(struct hv_state *s, const char *buf, size_t len,
                      struct hv_state_load *r);

/* The control socket's VNIC object. */
struct json_object *hv_vnic_to_json(const struct hv_vnic *v);
const char *hv_vnic_state_str(unsigned state);
const char *hv_want_str(unsigned want);
const char *hv_intent_str(unsigned intent);

#endif
