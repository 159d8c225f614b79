/* hv.h - hv-agent's context and the interfaces between its modules:
 * configuration, the NVDP engine, the control socket, observers, and the
 * daemon with its state journal (hv.c). */
#ifndef HV_H
#define HV_H

#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_conf.h"
#include "hv_host.h"
#include "hv_journal.h"
#include "hv_state.h"
#include "log.h"
#include "nvdp.h"
#include "nvdp_session.h"
#include "paths.h"
#include "rel.h"
#include "tbucket.h"

#define HV_CONF_DEFAULT SYSCONFDIR "/splitnve/hv-agent.conf"
#define HV_CTL_DEFAULT PATHS_HV_SOCKET
#define HV_STATE_DEFAULT STATEDIR "/hv-agent.state"

/* ---- configuration (hv_conf.c) --------------------------------------- */
struct hv_vnmap {
    char name[64];
    struct nvdp_vn vn;
};

struct hv_conf {
    char name[NVDP_MAX_NAME + 1];
    char uplink[IF_NAMESIZE];
    uint16_t ethertype;
    uint8_t group_mac[6];
    uint8_t nve_mac[6];
    uint8_t nve_mac_set;  /* pinned NVE */
    uint16_t hello_interval; /* ms */
    uint16_t hold_time;      /* s */
    uint8_t nve_loss_keep;   /* on-nve-loss keep: tags kept past the hold
                              * time while the NVE is silent */
    struct rel_params rel;   /* window, retransmit */
    /* what the NVE may make us do (protocol-spec 15, 16) */
    uint32_t nve_req_rate;   /* its requests per second, 0 = any */
    uint32_t nve_req_burst;
    uint32_t resync_burst;   /* resyncs it causes at once, then one per
                              * hello interval */
    char state_file[PATH_MAX];
    char ctl_path[PATH_MAX];
    struct ctl_conf ctl;     /* who may use the control socket */
    char key_path[PATH_MAX]; /* "": no authentication */
    struct nvdp_keyring keys; /* with keys, every NVE frame must be signed */
    struct hv_vnmap *vns;
    size_t nvns;
    struct hv_host_conf host; /* data plane, 802.1Qbg, libvirt (hv_host.c) */
};

/* Defaults for everything (name = hostname). */
void hv_conf_defaults(struct hv_conf *c);
/* Parses path into c (defaults first). Errors go through conf_errfunc
 * ("FILE:LINE: ..."); 0 / -1. */
int hv_conf_load(struct hv_conf *c, const char *path);
void hv_conf_free(struct hv_conf *c);
/* Prints c back as a normalised config file (-n). */
void hv_conf_print(const struct hv_conf *c, FILE *f);
/* Resolves a VN as the control socket accepts it: a configured name,
 * "vni:N", "uuid:U", a bare VNI or UUID. Fills *vn and, for a name, *name
 * (may be NULL). 0 / -1. */
int hv_conf_vn_lookup(const struct hv_conf *c, const char *s,
                      struct nvdp_vn *vn, const char **name);

/* ---- observers: the seam for the data plane (issue 5) ---------------- */
/* vnic_changed is called on every state change of a VNIC (attached with
 * its tag, preassociated, failed, withdrawn, pending again, detaching) and
 * once more with state HV_VNIC_DETACHED just before it is forgotten; also
 * when a request completes without a state change (e.g. vnic-state), so
 * waiters can see the VNIC settled. v->ifname is the host-side interface
 * the caller named, v->tag is valid in state attached. nve_changed is
 * called when the NVE comes up (up = 1) or is declared down. Callbacks
 * must not add or remove VNICs.
 *
 * Acknowledged means durable: a success told to a client (control socket,
 * 802.1Qbg) waits for the next commit of the state journal. saved is
 * called after every commit: what was held until then may go out.
 * not_saved comes first, for each VNIC whose change the commit could not
 * save (why: "state not saved: <reason>"): answers held or awaited for it
 * fail with why; a request's change is then undone (vnic_changed follows). */
struct hv_vnic;
struct hv_observer {
    void (*vnic_changed)(void *arg, const struct hv_vnic *v);
    void (*nve_changed)(void *arg, int up);
    void (*saved)(void *arg);
    void (*not_saved)(void *arg, const struct nvdp_uuid *u, const char *why);
    void *arg;
};
#define HV_MAX_OBSERVERS 8

/* ---- NVDP engine (hv_proto.c and the files of hv_proto_int.h) --------- */
/* Sends one frame: buf/len is the NVDP header and TLVs (no Ethernet
 * header). 0 / -1. */
typedef int (*hv_send_fn)(void *arg, const uint8_t dst[6],
                          const uint8_t *buf, size_t len);

enum hv_peer_state { HV_PEER_UNKNOWN = 0, HV_PEER_UP, HV_PEER_DOWN };

struct hv_peer {
    uint8_t mac[6];
    uint8_t role;      /* enum nvdp_role, 0 = not heard in a HELLO */
    uint8_t state;     /* enum hv_peer_state */
    char name[NVDP_MAX_NAME + 1];
    uint32_t epoch;
    uint64_t last_heard; /* ms, 0 = never */
    uint16_t hold_time;  /* s, as advertised */
    uint16_t hello_interval;
    uint16_t window;
    uint8_t ignored_logged;
};
#define HV_MAX_PEERS 32
/* What the NVE may make us do (hv-agent.conf(5) limits): its requests per
 * second and burst, resyncs it may cause at once. */
#define HV_NVE_REQ_RATE 2000
#define HV_NVE_REQ_BURST 512
#define HV_RESYNC_BURST 3

enum hv_resync_phase {
    HV_RS_IDLE = 0,
    HV_RS_NEEDED,   /* BEGIN to be sent */
    HV_RS_BEGIN,    /* BEGIN outstanding */
    HV_RS_REPLAY,   /* replaying; END when all answered */
    HV_RS_END,      /* END outstanding */
};

/* The engine's state; its files are listed in hv_proto_int.h. */
struct hv_proto {
    struct nvdp_endpoint ep; /* our epoch and HELLO */
    uint8_t mac[6];      /* our uplink MAC */
    unsigned mtu;        /* NVDP header + TLVs per frame */
    hv_send_fn send;
    void *send_arg;
    /* the message being read (hv_proto_input): one, not one per frame */
    struct nvdp_msg rx_msg;
    /* the request a RESPONSE answers, taken from the window: one, not a
     * malloc per answer */
    struct nvdp_msg acked_req;

    /* The session with the NVE we talk to: its MAC, epoch, HELLO, our
     * requests, its requests (WITHDRAW) and their answers, and all our
     * counters (nve.c; names as in protocol-spec/nvdp.md section 17). */
    struct nvdp_session nve;
    uint8_t nve_state;    /* enum hv_peer_state */
    uint8_t nve_selected; /* nve.mac is the destination */
    /* the batch being written (hv_proto_run's flush): one, not one per turn */
    struct nvdp_out out;

    struct hv_peer peers[HV_MAX_PEERS];
    size_t npeers;

    uint64_t next_hello;
    uint8_t blocked;      /* a request gave up: wait to hear the NVE */
    uint8_t phase;        /* enum hv_resync_phase */
    uint8_t hello_now;    /* send a HELLO at the next flush */
    uint8_t kept;         /* on-nve-loss keep: the NVE went silent past its
                           * hold time, the VNICs kept their tags */
    uint64_t kept_revoked; /* times kept tags were dropped on its return */
    size_t replay_left;
    /* bounds on what the NVE (or one who claims to be it) makes us do */
    struct tbucket nve_rq; /* its requests */
    struct tbucket rs;     /* resyncs it causes (epoch changes...) */
    const char *resync_deferred; /* why, while one waits for rs */
    struct log_rl rl;      /* its requests dropped, stray RESPONSEs... */
    struct log_rl rl_wd;   /* VNICs withdrawn: a VN-wide one names many */
};

/* ---- the daemon's context -------------------------------------------- */
struct ev_loop;
struct hv_ctl;

struct hv {
    struct hv_conf conf;
    struct hv_state state;
    struct hv_proto proto;
    struct hv_observer obs[HV_MAX_OBSERVERS];
    size_t nobs;
    /* ---- the state journal (hv.c) ---- */
    struct hv_journal journal;
    struct hv_jbuf jbuf;         /* the group being committed */
    uint8_t state_incomplete;    /* damaged state kept aside: resyncs end
                                  * without END (hv-agent(8)) */
    char state_aside[PATH_MAX];  /* the damaged file kept aside, if any */
    char state_error[256];       /* why the last commit failed, "" if not */
    int state_errno;             /* and its errno */
    struct log_rl state_rl;      /* failed commits are logged through it */
    uint64_t state_retry_at;     /* ms: no commit before, after a failure */
    uint64_t learnt_at;          /* ms: the first change only the engine
                                  * made since the last commit, 0 none */
    uint64_t compact_at;         /* journal size allowed before compaction */
    uint64_t state_saves, state_save_errors;
    uint64_t state_undone;       /* requests' changes undone: not saved */
    uint64_t state_damaged;      /* records lost to damage at start */
    uint64_t state_compactions, state_compaction_errors;
    struct ev_loop *loop; /* NULL in unit tests */
    struct hv_ctl *ctl;
    struct hv_host *host; /* data plane, 802.1Qbg, libvirt (main sets it) */
    const char *conf_path;
    /* Set by main: asks for hv_proto_run() soon (new work queued). */
    void (*wake)(struct hv *h);
};

/* Observers (hv.c). hv_observer_add: -1 when HV_MAX_OBSERVERS are in. */
int hv_observer_add(struct hv *h, const struct hv_observer *o);
void hv_observer_del(struct hv *h, const struct hv_observer *o);
/* Tells every observer about v (the engine, hv_vnic_want, the journal). */
void hv_notify_vnic(struct hv *h, const struct hv_vnic *v);
void hv_notify_nve(struct hv *h, int up);

/* Engine. epoch: our boot epoch (never 0); mac: our uplink MAC; mtu: the
 * uplink MTU. resync: 1 when state was loaded at start (only changes the
 * log line: every start begins with a resync). */
int hv_proto_init(struct hv *h, uint32_t epoch, const uint8_t mac[6],
                  unsigned mtu, hv_send_fn send, void *send_arg, int resync,
                  uint64_t now);
void hv_proto_free(struct hv *h);
/* A frame received on the uplink: payload starts at the NVDP header; dst
 * tells unicast frames (which carry our session's peer_epoch) from group
 * ones. */
void hv_proto_input(struct hv *h, const uint8_t src[6], const uint8_t dst[6],
                    const uint8_t *buf, size_t len, uint64_t now);
/* Timers and queued work: hellos, liveness, reconciliation, retransmits.
 * Returns the next time (ms) it must be called again. */
uint64_t hv_proto_run(struct hv *h, uint64_t now);
/* Whether the NVE is currently up (heard within its hold time). */
int hv_proto_nve_up(const struct hv *h);
/* Biggest message the uplink can carry (hv_vnic_want checks requests). */
size_t hv_proto_max_msg(const struct hv *h);
/* Applies changed timers/window from a reloaded configuration. */
void hv_proto_reconf(struct hv *h);
/* JSON for "status" and "peers". */
struct json_object *hv_proto_status_json(const struct hv *h, uint64_t now);
struct json_object *hv_proto_peers_json(const struct hv *h, uint64_t now);
struct json_object *hv_proto_counters_json(const struct hv *h);
/* A VNIC settled: no request needed or outstanding (waiters resolve). */
int hv_vnic_settled(const struct hv_vnic *v);

/* ---- a VNIC's desired state (hv_want.c) ------------------------------- */
/* What a caller (control socket, libvirt's 802.1Qbg requests) asks for. */
enum hv_want_op {
    HV_OP_ATTACH = HV_WANT_ATTACH,
    HV_OP_PREASSOC = HV_WANT_PREASSOC,
    HV_OP_DETACH = HV_WANT_DETACH,
    HV_OP_STATE, /* link up or down, of a VNIC wanted attached */
};

struct hv_want_req {
    uint8_t op;               /* enum hv_want_op */
    struct nvdp_uuid uuid;
    /* HV_OP_ATTACH, HV_OP_PREASSOC */
    const char *vn;           /* as hv_conf_vn_lookup() takes it */
    uint8_t mac[6];
    const char *const *ips;   /* nips IPv4/IPv6 hosts, prefixes, ranges */
    size_t nips;              /* 0: the MAC alone */
    const char *ifname;       /* host-side interface; NULL: as it was */
    uint8_t reserve;          /* HV_OP_PREASSOC: reserve the tag */
    uint8_t intent;           /* HV_OP_DETACH: enum nvdp_intent */
    uint8_t up;               /* HV_OP_STATE */
};

enum hv_want_err {
    HV_WANT_OK = 0,
    HV_WANT_E_VN,       /* the VN is not one we know */
    HV_WANT_E_FORMAT,   /* MAC, address, interface name, too many addresses */
    HV_WANT_E_FRAME,    /* the request would not fit one frame on the uplink */
    HV_WANT_E_NOVNIC,   /* detach or state of a VNIC we do not have */
    HV_WANT_E_NOTATTACHED, /* state of a VNIC not wanted attached */
    HV_WANT_E_NOMEM,
};

/* The one way a VNIC's desired state changes: validates r (err says why
 * not, nothing changed then), creates the VNIC for an attach or
 * preassociate, keeps how it was (undone if the next commit fails), sets
 * the desired fields, logs the transition, counts the change (v->gen: an
 * answer to an older desired state is moot) and queues the VNIC for the
 * engine and the journal. A caller asking again after a refusal or a
 * withdrawal starts over from pending. Asking for what is already desired
 * changes nothing. *vp: the VNIC (answers and waiters look at it). */
enum hv_want_err hv_vnic_want(struct hv *h, const struct hv_want_req *r,
                              struct hv_vnic **vp, char *err, size_t errlen);

/* ---- control socket (hv_ctl.c) ---------------------------------------- */
/* path NULL: a server with no socket, for in-process clients (ctl.h). */
int hv_ctl_start(struct hv *h, const char *path);
void hv_ctl_stop(struct hv *h);
/* The server hv_ctl_start made (tests/fuzz/fuzz_ctl_hv.c feeds it in
 * process). */
struct ctl_server *hv_ctl_server(const struct hv *h);

/* ---- the daemon and its state journal (hv.c) -------------------------- */
/* v's record changed and is written at the next commit; v may be NULL
 * (a VNIC was removed): the loop runs soon either way. */
void hv_state_changed(struct hv *h, struct hv_vnic *v);
/* What the NVE told us changed v's record (a tag; v NULL: a VNIC was
 * removed). Nobody waits for it to be on disk (the NVE holds it through
 * our restart's resync, hv-agent(8)): the commit that writes it comes with
 * the next request's, or HV_LEARNT_COMMIT_MS later at most. A withdrawal
 * is committed at once (hv_state_changed). */
void hv_state_learnt(struct hv *h, struct hv_vnic *v);
/* Before a request (control socket, 802.1Qbg) changes v; created: v was
 * added for it. A change the next commit cannot save is undone. 0, or -1
 * (out of memory: answer an error, change nothing). */
int hv_change_begin(struct hv *h, struct hv_vnic *v, int created);
/* Commits what changed since the last commit (one write, one fdatasync),
 * then tells the observers (not_saved, saved). 0 / -1 (not saved). */
int hv_state_flush(struct hv *h);
/* The same in two halves, as the loop runs them around the engine, so
 * that its requests travel while the disk syncs: write() returns 1 when a
 * sync() must follow (before any answer that depends on it), 0 when done
 * (nothing to write, or a whole rewrite, synced), -1 when not saved (the
 * requests' changes undone). sync() 0 / -1: a failed sync undoes the
 * requests' changes and the engine brings the NVE back to the state before
 * them (a VNIC they created is detached from it, then forgotten). */
int hv_state_commit_write(struct hv *h);
int hv_state_commit_sync(struct hv *h);
/* Loads conf.state_file at start; damage is kept aside and logged (END
 * withheld). io NULL: the real system calls. 0, or -1 when the file can
 * neither be read nor moved aside (err). */
int hv_persist_open(struct hv *h, const struct hv_journal_io *io, char *err,
                    size_t errlen);
void hv_persist_close(struct hv *h);
/* Looks again for damaged files kept aside (SIGHUP): END is withheld
 * while one is there. */
void hv_persist_recheck(struct hv *h);
/* "state" in status and counters. */
struct json_object *hv_persist_json(const struct hv *h);

/* main.c's part: a context with its configuration loaded (conf_path as
 * given), then hv_run() until SIGTERM/SIGINT. 0 on a clean stop. */
struct hv *hv_new(void);
int hv_run(struct hv *h);
void hv_free(struct hv *h);

#endif
