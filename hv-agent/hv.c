/* hv.c - hv-agent as a daemon: the run loop (uplink, engine, timers,
 * signals, reload), its observers, and the state journal behind it: a
 * change is committed before the engine acts on it and before any client
 * is told it happened. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctlprio.h"
#include "ev.h"
#include "hv.h"
#include "hv_host.h"
#include "l2sock.h"
#include "log.h"
#include "privdrop.h"
#include "sdnotify.h"
#include "txq.h"

#define RX_BATCH 16
/* After a failed commit: how soon the loop retries on its own (requests
 * retry at once), and how often a rewrite of the whole state is tried. */
#define HV_SAVE_RETRY_MS 1000
/* How long what the NVE told us may wait for a commit of its own; any
 * request's commit writes it sooner. */
#define HV_LEARNT_COMMIT_MS 100
/* The journal is compacted past max(this, HV_COMPACT_FACTOR x live). */
#define HV_COMPACT_MIN (1024 * 1024)
#define HV_COMPACT_FACTOR 4

struct hv_daemon {
    struct hv h; /* first: the engine's callbacks get &h */
    struct hv_host *host;
    struct l2sock sock;
    struct txq txq; /* frames the uplink refused for now */
    struct ev_timer proto_timer;
    struct l2sock_rx *rx;
    int in_run;  /* inside run_proto */
    int rerun;   /* woken meanwhile: run again at once */
};

/* ---- observers (hv.h): the engine, the journal and requests tell them - */

int
hv_observer_add(struct hv *h, const struct hv_observer *o)
{
    if (h->nobs >= HV_MAX_OBSERVERS)
        return -1;
    h->obs[h->nobs++] = *o;
    return 0;
}

void
hv_observer_del(struct hv *h, const struct hv_observer *o)
{
    for (size_t i = 0; i < h->nobs; i++) {
        if (h->obs[i].arg == o->arg &&
            h->obs[i].vnic_changed == o->vnic_changed &&
            h->obs[i].nve_changed == o->nve_changed) {
            memmove(&h->obs[i], &h->obs[i + 1],
                    (h->nobs - i - 1) * sizeof(h->obs[0]));
            h->nobs--;
            return;
        }
    }
}

void
hv_notify_vnic(struct hv *h, const struct hv_vnic *v)
{
    for (size_t i = 0; i < h->nobs; i++)
        if (h->obs[i].vnic_changed != NULL)
            h->obs[i].vnic_changed(h->obs[i].arg, v);
}

void
hv_notify_nve(struct hv *h, int up)
{
    for (size_t i = 0; i < h->nobs; i++)
        if (h->obs[i].nve_changed != NULL)
            h->obs[i].nve_changed(h->obs[i].arg, up);
}

static void
notify_saved(struct hv *h)
{
    for (size_t i = 0; i < h->nobs; i++)
        if (h->obs[i].saved != NULL)
            h->obs[i].saved(h->obs[i].arg);
}

static void
notify_not_saved(struct hv *h, const struct nvdp_uuid *u, const char *why)
{
    for (size_t i = 0; i < h->nobs; i++)
        if (h->obs[i].not_saved != NULL)
            h->obs[i].not_saved(h->obs[i].arg, u, why);
}

/* ---- the state journal ---------------------------------------------- */

void
hv_state_changed(struct hv *h, struct hv_vnic *v)
{
    if (v != NULL)
        hv_state_touch(&h->state, v);
    if (h->wake != NULL)
        h->wake(h);
}

void
hv_state_learnt(struct hv *h, struct hv_vnic *v)
{
    if (v != NULL)
        hv_state_touch(&h->state, v);
}

int
hv_change_begin(struct hv *h, struct hv_vnic *v, int created)
{
    return hv_state_undo_save(&h->state, v, created);
}

/* The commit failed: whoever waits on a change in it is told so, and what
 * requests changed is undone, so that memory says what the disk says. What
 * the engine learnt (a tag, a withdrawal) is true whatever the disk says:
 * it stays, and is written at the next commit that succeeds. */
static void
commit_failed(struct hv *h, const char *err, int e)
{
    struct hv_vnic *v, *next;
    char why[160];
    size_t undone = 0;

    snprintf(why, sizeof(why), "state not saved: %s", strerror(e));
    h->state_save_errors++;
    for (size_t i = 0; i < h->state.nremoved; i++)
        notify_not_saved(h, &h->state.removed[i], why);
    for (v = TAILQ_FIRST(&h->state.unsaved); v != NULL; v = next) {
        next = TAILQ_NEXT(v, uentry);
        notify_not_saved(h, &v->uuid, why);
        if (v->undo == NULL)
            continue;
        undone++;
        if (!hv_state_undo_created(v)) {
            /* the engine looks at the VNIC again: if a request built from
             * the change went out while the commit synced (run_proto),
             * its answer is moot (hv_state_undo) and the NVE is brought
             * back to what the disk says */
            (void)hv_state_undo(v);
            hv_notify_vnic(h, v);
            hv_state_mark(&h->state, v);
            if (h->wake != NULL)
                h->wake(h);
        } else if (!v->may_exist && !v->inflight) {
            /* created by the request and never sent */
            v->state = HV_VNIC_DETACHED;
            hv_notify_vnic(h, v);
            hv_state_remove(&h->state, v);
        } else {
            /* created by the request, whose ASSOC went out while the
             * commit synced: detached from the NVE, then forgotten */
            hv_state_undo_drop(v);
            v->want = HV_WANT_DETACH;
            v->intent = NVDP_INTENT_SHUTDOWN;
            v->state = HV_VNIC_DETACHING;
            v->gen++;
            hv_notify_vnic(h, v);
            hv_state_mark(&h->state, v);
            if (h->wake != NULL)
                h->wake(h);
        }
    }
    h->state_undone += undone;
    log_warnx_rl(&h->state_rl, "state journal: %s: %zu requested changes "
                 "undone and refused (%llu commits failed so far)", err,
                 undone, (unsigned long long)h->state_save_errors);
    snprintf(h->state_error, sizeof(h->state_error), "%s", why);
    h->state_retry_at = ev_clock_ms() + HV_SAVE_RETRY_MS;
}

static uint64_t
compact_limit(const struct hv *h)
{
    uint64_t lim = HV_COMPACT_FACTOR * h->state.live_bytes;

    return lim > HV_COMPACT_MIN ? lim : HV_COMPACT_MIN;
}

/* Rewrites the journal with one record per VNIC once superseded records
 * dominate it: the cost stays proportional to the changes. */
static void
maybe_compact(struct hv *h)
{
    struct hv_journal *j = &h->journal;
    uint64_t before = j->size;
    char err[512];

    if (j->size <= compact_limit(h) || j->size < h->compact_at)
        return;
    hv_jbuf_reset(&h->jbuf);
    hv_state_dump(&h->state, &h->jbuf);
    if (hv_journal_rewrite(j, &h->jbuf, err, sizeof(err)) < 0) {
        /* the old journal is intact: try again once it grew some more */
        h->state_compaction_errors++;
        h->compact_at = j->size + compact_limit(h);
        log_warnx("state journal: compaction failed: %s", err);
        return;
    }
    hv_state_saved(&h->state, 1);
    h->state_compactions++;
    h->compact_at = 0;
    log_info("state journal compacted: %llu -> %llu bytes, %zu VNICs",
             (unsigned long long)before, (unsigned long long)j->size,
             h->state.count);
}

int
hv_state_commit_write(struct hv *h)
{
    struct hv_journal *j = &h->journal;
    char err[512];
    int rc, dumped = 0;

    if (!hv_state_unsaved(&h->state)) {
        h->learnt_at = 0;
        notify_saved(h);
        return 0;
    }
    hv_jbuf_reset(&h->jbuf);
    if (j->need_rewrite && ev_clock_ms() < h->state_retry_at) {
        /* A rewrite of the whole state failed moments ago: the same
         * reason stands until the next try. */
        snprintf(err, sizeof(err), "%s: rewrite failed, retrying",
                 j->path);
        errno = h->state_errno;
        rc = -1;
    } else if (j->need_rewrite) {
        /* Nothing on disk past the last commit can be trusted: the whole
         * state goes to a new file. */
        hv_state_dump(&h->state, &h->jbuf);
        rc = hv_journal_rewrite(j, &h->jbuf, err, sizeof(err));
        dumped = 1;
    } else {
        hv_state_batch(&h->state, &h->jbuf);
        rc = hv_journal_write(j, &h->jbuf, err, sizeof(err));
    }
    if (rc < 0) {
        h->state_errno = errno;
        commit_failed(h, err, h->state_errno);
        notify_saved(h);
        return -1;
    }
    hv_state_written(&h->state, dumped);
    return dumped ? hv_state_commit_sync(h) : 1;
}

int
hv_state_commit_sync(struct hv *h)
{
    struct hv_journal *j = &h->journal;
    char err[512];

    if (hv_journal_sync(j, err, sizeof(err)) < 0) {
        h->state_errno = errno;
        hv_state_unwritten(&h->state);
        commit_failed(h, err, h->state_errno);
        notify_saved(h);
        return -1;
    }
    if (hv_state_synced(&h->state) > 0 && h->wake != NULL)
        h->wake(h); /* detached VNICs the engine forgets now */
    h->state_saves++;
    if (h->state_error[0] != '\0')
        log_info("state journal: saving again (%s before)", h->state_error);
    h->state_error[0] = '\0';
    h->state_retry_at = 0;
    h->learnt_at = 0;
    notify_saved(h);
    maybe_compact(h);
    return 0;
}

int
hv_state_flush(struct hv *h)
{
    int rc = hv_state_commit_write(h);

    return rc == 1 ? hv_state_commit_sync(h) : rc;
}

/* ---- the state file at start -------------------------------------------- */

/* Moves path aside as path.damaged-<UTC time>[-N] for a human to look at;
 * never deleted by us. Sets h->state_aside. 0 / -1. */
static int
set_aside(struct hv *h, const char *path)
{
    char stamp[32], aside[PATH_MAX];
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    for (int n = 0; n < 100; n++) {
        if (n == 0)
            snprintf(aside, sizeof(aside), "%s.damaged-%s", path, stamp);
        else
            snprintf(aside, sizeof(aside), "%s.damaged-%s-%d", path, stamp,
                     n);
        /* link, not rename: an earlier file of the same second stays */
        if (link(path, aside) == 0) {
            if (unlink(path) == -1)
                return -1;
            snprintf(h->state_aside, sizeof(h->state_aside), "%s", aside);
            return 0;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

void
hv_persist_recheck(struct hv *h)
{
    char dir[PATH_MAX], base[PATH_MAX], prefix[PATH_MAX + 16];
    struct dirent *de;
    const char *dn;
    DIR *d;
    int was = h->state_incomplete;

    snprintf(dir, sizeof(dir), "%s", h->conf.state_file);
    snprintf(base, sizeof(base), "%s", h->conf.state_file);
    snprintf(prefix, sizeof(prefix), "%s.damaged-", basename(base));
    h->state_incomplete = 0;
    h->state_aside[0] = '\0';
    dn = dirname(dir);
    if ((d = opendir(dn)) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            int n = snprintf(h->state_aside, sizeof(h->state_aside), "%s/%s",
                             dn, de->d_name);
            h->state_incomplete = 1;
            if (n < 0 || (size_t)n >= sizeof(h->state_aside))
                snprintf(h->state_aside, sizeof(h->state_aside), "%s",
                         de->d_name);
            break;
        }
    }
    closedir(d);
    if (h->state_incomplete)
        log_warnx("state: %s is kept aside: resyncs end without END, the NVE "
                  "keeps what we may have lost (move it away once checked, "
                  "then SIGHUP)", h->state_aside);
    else if (was)
        log_info("state: no damaged state file left: resyncs end with END "
                 "again");
}

static void
log_damage(const struct hv *h, const struct hv_state_load *r)
{
    const struct hv_journal_scan *s = &r->scan;
    char bad[256] = "", tail[192] = "";

    if (s->damaged > 0)
        snprintf(bad, sizeof(bad), "%llu damaged records (the first at line "
                 "%lu: %s)", (unsigned long long)s->damaged,
                 s->first_bad_line, s->first_bad);
    if (s->tail_bytes > 0)
        snprintf(tail, sizeof(tail), "%s%llu bytes after the last commit (a "
                 "write cut short by a crash, or a truncated file; %llu whole "
                 "records in them loaded)", s->damaged > 0 ? ", " : "",
                 (unsigned long long)s->tail_bytes,
                 (unsigned long long)s->uncommitted);
    log_warnx("state file %s is damaged: %s%s; %zu VNICs loaded from every "
              "valid record, others may be missing; the damaged file is kept "
              "as %s", h->conf.state_file, bad, tail, h->state.count,
              h->state_aside);
}

int
hv_persist_open(struct hv *h, const struct hv_journal_io *io, char *err,
                size_t errlen)
{
    const char *path = h->conf.state_file;
    struct hv_state_load r;
    char why[512], v1[PATH_MAX + 8];
    int damaged = 0;

    hv_journal_init(&h->journal, path, io);
    if (hv_state_load(&h->state, path, &r, why, sizeof(why)) < 0) {
        if (set_aside(h, path) < 0) {
            snprintf(err, errlen, "%s; cannot move it aside: %s", why,
                     strerror(errno));
            return -1;
        }
        log_warnx("state file %s: %s: kept as %s; starting with no VNICs",
                  path, why, h->state_aside);
        damaged = 1;
    } else if (hv_journal_damaged(&r.scan)) {
        if (set_aside(h, path) < 0) {
            snprintf(err, errlen, "%s is damaged and cannot be moved aside: "
                     "%s", path, strerror(errno));
            return -1;
        }
        h->state_damaged = r.scan.damaged;
        log_damage(h, &r);
        damaged = 1;
    } else if (r.legacy) {
        /* the old format is read once; its file stays next to the
         * journal (a link, so a failed rewrite loses nothing) */
        snprintf(v1, sizeof(v1), "%s.v1", path);
        if (link(path, v1) == -1 && errno != EEXIST)
            log_warn("state file: keeping %s", v1);
        log_info("state file %s: converted to a journal (the old file is "
                 "kept as %s)", path, v1);
    }
    if (damaged || r.legacy || !r.scan.header_ok) {
        hv_jbuf_reset(&h->jbuf);
        hv_state_dump(&h->state, &h->jbuf);
        if (hv_journal_rewrite(&h->journal, &h->jbuf, why, sizeof(why)) < 0) {
            /* run anyway: every change is refused until it can be saved */
            h->journal.need_rewrite = 1;
            h->state_errno = errno;
            snprintf(h->state_error, sizeof(h->state_error),
                     "state not saved: %s", strerror(errno));
            log_warnx("state journal: %s: changes are refused until it can "
                      "be written", why);
        } else
            hv_state_saved(&h->state, 1);
    } else if (hv_journal_open(&h->journal, r.scan.good_end, r.scan.next_seq,
                               why, sizeof(why)) < 0) {
        h->journal.need_rewrite = 1;
        h->state_errno = errno;
        snprintf(h->state_error, sizeof(h->state_error),
                 "state not saved: %s", strerror(errno));
        log_warnx("state journal: %s", why);
    }
    hv_persist_recheck(h);
    return 0;
}

void
hv_persist_close(struct hv *h)
{
    hv_journal_close(&h->journal);
    hv_jbuf_free(&h->jbuf);
}

struct json_object *
hv_persist_json(const struct hv *h)
{
    const struct hv_journal *j = &h->journal;
    struct json_object *o = json_object_new_object();

    ctl_jstr(o, "file", j->path);
    ctl_jint(o, "journal_bytes", j->size);
    ctl_jint(o, "live_bytes", h->state.live_bytes);
    ctl_jint(o, "commits", j->st.commits);
    ctl_jint(o, "records", j->st.records);
    ctl_jint(o, "rewrites", j->st.rewrites);
    ctl_jint(o, "write_errors", j->st.write_errors);
    ctl_jint(o, "sync_errors", j->st.sync_errors);
    ctl_jint(o, "saves", h->state_saves);
    ctl_jint(o, "save_errors", h->state_save_errors);
    ctl_jint(o, "undone", h->state_undone);
    ctl_jint(o, "damaged_records", h->state_damaged);
    ctl_jint(o, "compactions", h->state_compactions);
    ctl_jint(o, "compaction_errors", h->state_compaction_errors);
    json_object_object_add(o, "error", h->state_error[0] ?
                           json_object_new_string(h->state_error) : NULL);
    json_object_object_add(o, "incomplete",
                           json_object_new_boolean(h->state_incomplete));
    json_object_object_add(o, "damaged_file", h->state_aside[0] ?
                           json_object_new_string(h->state_aside) : NULL);
    return o;
}

/* ---- the run loop ------------------------------------------------------- */

static int
uplink_send(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    return l2sock_send(arg, dst, buf, len);
}

/* Through the uplink's queue: a frame the uplink refuses for now waits
 * there, retried from the loop, and later ones behind it. */
static int
send_frame(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    return txq_send(arg, dst, buf, len, ev_clock_ms());
}

/* Reads what the uplink has queued. Always done before the engine runs:
 * after a slow moment (a compaction) the answers already received must be
 * seen before the retransmission timers are. Bounded so a flood cannot
 * starve the rest of the loop. */
static void
drain_uplink(struct hv_daemon *m)
{
    int n;

    for (int round = 0; round < 64; round++) {
        uint64_t now;
        if ((n = l2sock_recv(&m->sock, m->rx, RX_BATCH)) <= 0)
            break;
        now = ev_clock_ms();
        for (int i = 0; i < n; i++)
            hv_proto_input(&m->h, m->rx[i].src, m->rx[i].dst,
                           m->rx[i].payload, m->rx[i].paylen, now);
        if (n < RX_BATCH)
            break;
    }
}

/* One turn: write what requests and the last turn changed, then the
 * uplink, then the engine, then the sync of that write, after which
 * answers held for it go out. The engine's requests travel while the disk
 * syncs, so a lone attach waits for the longer of the two, not their sum;
 * the NVE may hear of a change a crash then takes back, and the restart's
 * resync takes it back there too (its END deletes what is not replayed,
 * nvdp.md 11.5); a failed sync undoes the change and the engine brings
 * the NVE back (commit_failed). What the uplink and the engine learnt is
 * committed at the next turn, which comes with the next request or
 * HV_LEARNT_COMMIT_MS later: one write and one fdatasync per turn, for
 * everything of that turn (hv_state_learnt). */
static void
run_proto(struct hv_daemon *m)
{
    struct hv *h = &m->h;
    uint64_t now, next;
    int syncing;

    m->in_run = 1;
    m->rerun = 0;
    syncing = hv_state_commit_write(h) == 1;
    drain_uplink(m);
    now = ev_clock_ms();
    next = hv_proto_run(h, now);
    if (syncing)
        (void)hv_state_commit_sync(h);
    if (hv_state_unsaved(&h->state) && h->learnt_at == 0)
        h->learnt_at = now;
    if (m->rerun)
        next = now;
    else if (hv_state_unsaved(&h->state) && h->state_retry_at == 0 &&
             h->learnt_at + HV_LEARNT_COMMIT_MS < next)
        next = h->learnt_at + HV_LEARNT_COMMIT_MS;
    else if (hv_state_unsaved(&h->state) && h->state_retry_at != 0 &&
             h->state_retry_at < next)
        next = h->state_retry_at;
    m->in_run = 0;
    ev_timer_at(h->loop, &m->proto_timer, next);
}

static void
proto_timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    (void)l;
    (void)t;
    run_proto(arg);
}

/* New work was queued (ctl request, state change, held answer): run the
 * loop's turn as soon as the current callbacks return, once for
 * everything queued meanwhile. */
static void
wake(struct hv *h)
{
    struct hv_daemon *m = (struct hv_daemon *)h;

    if (m->in_run)
        m->rerun = 1;
    else if (h->loop != NULL)
        ev_timer_start(h->loop, &m->proto_timer, 0);
}

static void
uplink_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct hv_daemon *m = arg;

    (void)l;
    (void)fd;
    (void)events;
    wake(&m->h);
}

static void
reload(struct hv_daemon *m)
{
    struct hv *h = &m->h;
    struct hv_conf nc;

    hv_persist_recheck(h);
    if (h->conf_path == NULL) {
        log_info("SIGHUP: no configuration file to reload");
        return;
    }
    if (hv_conf_load(&nc, h->conf_path) < 0) {
        log_warnx("SIGHUP: %s has errors; keeping the running configuration",
                  h->conf_path);
        return;
    }
    if (strcmp(nc.uplink, h->conf.uplink) != 0 ||
        nc.ethertype != h->conf.ethertype ||
        memcmp(nc.group_mac, h->conf.group_mac, 6) != 0 ||
        strcmp(nc.state_file, h->conf.state_file) != 0 ||
        strcmp(nc.ctl_path, h->conf.ctl_path) != 0 ||
        ctl_conf_differs(&nc.ctl, &h->conf.ctl) ||
        nc.nve_mac_set != h->conf.nve_mac_set ||
        memcmp(nc.nve_mac, h->conf.nve_mac, 6) != 0)
        log_warnx("SIGHUP: uplink, ethertype, group-mac, nve-mac, state-file "
                  "and control-* changes take effect at restart");
    snprintf(nc.uplink, sizeof(nc.uplink), "%s", h->conf.uplink);
    nc.ethertype = h->conf.ethertype;
    memcpy(nc.group_mac, h->conf.group_mac, 6);
    memcpy(nc.nve_mac, h->conf.nve_mac, 6);
    nc.nve_mac_set = h->conf.nve_mac_set;
    memcpy(nc.state_file, h->conf.state_file, sizeof(nc.state_file));
    memcpy(nc.ctl_path, h->conf.ctl_path, sizeof(nc.ctl_path));
    nc.ctl = h->conf.ctl;
    if (memcmp(&nc.host, &h->conf.host, sizeof(nc.host)) != 0)
        log_warnx("SIGHUP: dataplane, vdp-pid-file, libvirt-uri and "
                  "migration-marker-dir changes take effect at restart");
    nc.host = h->conf.host;
    hv_conf_free(&h->conf);
    h->conf = nc;
    hv_proto_reconf(h);
    log_info("SIGHUP: configuration reloaded from %s", h->conf_path);
    wake(h);
}

static void
signal_cb(struct ev_loop *l, int signo, void *arg)
{
    struct hv_daemon *m = arg;

    if (signo == SIGHUP) {
        sdnotify_reloading();
        reload(m);
        sdnotify_ready(NULL);
        return;
    }
    log_info("signal %d: shutting down", signo);
    sdnotify_stopping();
    ev_break(l);
}

/* Everything that needs privilege is open (uplink, tc-bpf program,
 * netlink, control socket): from here on hv-agent keeps CAP_NET_ADMIN if
 * its data plane or 802.1Qbg needs it, and no other capability. */
static int
drop_privileges(struct hv_daemon *m)
{
    cap_value_t keep[1];
    size_t n = 0;

    if (hv_host_needs_net_admin(m->host))
        keep[n++] = CAP_NET_ADMIN;
    return privdrop_keep(keep, n);
}

static int
mkdir_parent(const char *path)
{
    char tmp[PATH_MAX];
    char *dir;

    snprintf(tmp, sizeof(tmp), "%s", path);
    dir = dirname(tmp);
    if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
        log_warn("mkdir %s", dir);
        return -1;
    }
    return 0;
}

/* Before the loop waits: the turn's log lines leave. */
static void
turn_end(void *arg)
{
    (void)arg;
    log_flush();
}

static int
start(struct hv_daemon *m)
{
    struct hv *h = &m->h;
    char err[768];

    if (mkdir_parent(h->conf.state_file) < 0)
        return -1;
    if (hv_persist_open(h, NULL, err, sizeof(err)) < 0) {
        log_warnx("state file %s: %s", h->conf.state_file, err);
        return -1;
    }
    if (h->state.count > 0)
        log_info("loaded %zu VNICs from %s", h->state.count,
                 h->conf.state_file);
    if (l2sock_open(&m->sock, h->conf.uplink, h->conf.ethertype,
                    h->conf.group_mac) < 0)
        return -1;
    if ((h->loop = ev_loop_new()) == NULL)
        return -1;
    /* a turn's log lines in one write (a burst logs two per VNIC) */
    log_batch(1);
    ev_prepare_set(h->loop, turn_end, m);
    /* Blocked (signalfd) before libvirt's thread starts: it inherits the
     * mask, so a SIGTERM reaches the loop instead of killing the process
     * in that thread. */
    ev_signal_add(h->loop, SIGTERM, signal_cb, m);
    ev_signal_add(h->loop, SIGINT, signal_cb, m);
    ev_signal_add(h->loop, SIGHUP, signal_cb, m);
    h->wake = wake;
    ev_timer_init(&m->proto_timer, proto_timer_cb, m);
    /* the queue first: the engine sends through it */
    txq_init(&m->txq, h->loop, uplink_send, &m->sock,
             &(struct nvdp_cnt){{&h->proto.nve.c, NULL, NULL}},
             m->sock.ifname);
    if (hv_proto_init(h, nvdp_epoch_new(), m->sock.mac, m->sock.mtu,
                      send_frame, &m->txq, h->state.count > 0,
                      ev_clock_ms()) < 0) {
        log_warnx("cannot initialise the protocol engine");
        return -1;
    }
    nvdp_endpoint_auth_counter(&h->proto.ep, nvdp_auth_counter_start());
    if (ev_io_add(h->loop, m->sock.fd, EPOLLIN, uplink_cb, m) < 0)
        return -1;
    if (hv_ctl_start(h, h->conf.ctl_path) < 0) {
        log_warnx("cannot open the control socket %s", h->conf.ctl_path);
        return -1;
    }
    if ((m->host = hv_host_start(h)) == NULL)
        return -1;
    h->host = m->host;
    signal(SIGPIPE, SIG_IGN);
    /* while privileged; a failure is logged, hv-agent runs on
     * unprioritised. Threads started later (libvirt's) do not inherit it. */
    ctlprio_apply(&h->conf.ctl.prio);
    if (drop_privileges(m) < 0)
        return -1;
    log_info("started: name %s, uplink %s (mtu %u), epoch %08x, %zu VNICs",
             h->conf.name, h->conf.uplink, m->sock.mtu, h->proto.ep.epoch,
             h->state.count);
    ev_timer_start(h->loop, &m->proto_timer, 0);
    sdnotify_ready(NULL);
    return 0;
}

/* VNICs are deliberately not disassociated: the NVE keeps them for the
 * hold time and a restarted agent resyncs with the same tags. What the
 * last turn changed is committed, and its answers go out, first. */
static void
stop(struct hv_daemon *m)
{
    struct hv *h = &m->h;

    if (h->journal.fd != -1 || h->journal.need_rewrite)
        hv_state_flush(h);
    hv_host_stop(m->host);
    m->host = h->host = NULL;
    hv_ctl_stop(h); /* removes the control socket if it was ours */
    if (h->loop != NULL) {
        ev_timer_stop(h->loop, &m->proto_timer);
        txq_free(&m->txq);
        if (m->sock.fd > 0)
            ev_io_del(h->loop, m->sock.fd);
    }
    hv_proto_free(h);
    if (m->sock.fd > 0)
        l2sock_close(&m->sock);
    if (h->loop != NULL)
        ev_loop_free(h->loop);
    h->loop = NULL;
    hv_persist_close(h);
    log_batch(0);
}

struct hv *
hv_new(void)
{
    struct hv_daemon *m = calloc(1, sizeof(*m));

    if (m == NULL || (m->rx = calloc(RX_BATCH, sizeof(*m->rx))) == NULL) {
        free(m);
        return NULL;
    }
    m->sock.fd = -1;
    m->txq.tfd = -1;
    m->h.journal.fd = -1;
    hv_state_init(&m->h.state);
    return &m->h;
}

int
hv_run(struct hv *h)
{
    struct hv_daemon *m = (struct hv_daemon *)h;
    int rc = -1;

    if (start(m) == 0 && ev_run(h->loop) == 0)
        rc = 0;
    stop(m);
    return rc;
}

void
hv_free(struct hv *h)
{
    struct hv_daemon *m = (struct hv_daemon *)h;

    if (h == NULL)
        return;
    hv_state_free(&h->state);
    hv_conf_free(&h->conf);
    free(m->rx);
    free(m);
}
