/* hv_peer.c - which NVE hv-agent talks to and whether it is alive: the
 * speakers heard on the uplink, NVE selection, epochs (spec 11.1, 11.3),
 * liveness (11.2). */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hv_proto_int.h"
#include "log.h"

static const uint8_t zero_mac[6];

const uint8_t *
hv_dst_mac(const struct hv *h)
{
    const struct hv_proto *p = &h->proto;

    if (h->conf.nve_mac_set)
        return h->conf.nve_mac;
    if (p->nve_selected)
        return p->nve.mac;
    return h->conf.group_mac;
}

/* ---- input ----------------------------------------------------------- */

struct hv_peer *
hv_peer_get(struct hv_proto *p, const uint8_t mac[6], uint64_t now)
{
    size_t oldest = 0;

    for (size_t i = 0; i < p->npeers; i++) {
        if (memcmp(p->peers[i].mac, mac, 6) == 0)
            return &p->peers[i];
        if (p->peers[i].last_heard < p->peers[oldest].last_heard)
            oldest = i;
    }
    if (p->npeers < HV_MAX_PEERS)
        oldest = p->npeers++;
    memset(&p->peers[oldest], 0, sizeof(p->peers[0]));
    memcpy(p->peers[oldest].mac, mac, 6);
    (void)now;
    return &p->peers[oldest];
}

static void
peer_hello(struct hv_peer *pe, const struct nvdp_hello *hl, uint32_t epoch,
           uint64_t now)
{
    pe->role = hl->role;
    snprintf(pe->name, sizeof(pe->name), "%s", hl->name);
    pe->hold_time = hl->hold_time;
    pe->hello_interval = hl->hello_interval;
    pe->window = hl->window;
    pe->epoch = epoch;
    pe->last_heard = now;
    pe->state = HV_PEER_UP;
}

/* Every confirmed VNIC back to pending (the data plane stops tagging its
 * traffic) until the NVE confirms it again. How many. */
static size_t
unconfirm_all(struct hv *h)
{
    struct hv_vnic *v;
    size_t n = 0;

    TAILQ_FOREACH(v, &h->state.all, entry) {
        if (v->state == HV_VNIC_ATTACHED || v->state == HV_VNIC_PREASSOCIATED) {
            hv_vnic_set_state(h, v, HV_VNIC_PENDING);
            hv_notify_vnic(h, v);
            n++;
        }
    }
    return n;
}

/* on-nve-loss keep: the tags kept while the NVE was silent are dropped as
 * soon as a frame shows that it may have given them to another VN: its
 * epoch changed (it restarted and lost every tag), another NVE answers, or
 * it holds no session for us (it expired us and released our tags). Each
 * VNIC then waits for its replay's answer, which the resync sends next,
 * before its traffic flows again (hv-agent.conf(5), nvdp.md 11.2). */
static void
kept_revoke(struct hv *h, const char *why)
{
    struct hv_proto *p = &h->proto;

    if (!p->kept)
        return;
    p->kept = 0;
    p->kept_revoked++;
    log_warnx("%s: %zu VNICs kept tagged while the NVE was silent are "
              "untagged until the resync confirms them",
              why, unconfirm_all(h));
}

/* First pass over a frame: its HELLO, if any (identifies the sender). */
static int
frame_hello(const uint8_t *buf, size_t len, struct nvdp_msg *m)
{
    struct nvdp_reader r;
    int rc;

    if (nvdp_frame_open(&r, buf, len) < 0)
        return 0;
    while ((rc = nvdp_frame_next(&r, m)) != 0)
        if (rc > 0 && m->type == NVDP_MSG_HELLO)
            return 1;
    return 0;
}

static void
nve_select(struct hv *h, const uint8_t src[6], uint64_t now)
{
    struct hv_proto *p = &h->proto;
    char m[NVDP_MAC_STRLEN];
    int changed = memcmp(p->nve.mac, zero_mac, 6) != 0 &&
                  memcmp(p->nve.mac, src, 6) != 0;

    if (changed) {
        log_warnx("NVE changed to %s (was %s)", hv_mac_str(src, m),
                  hv_mac_str(p->nve.mac, (char[NVDP_MAC_STRLEN]){0}));
        nvdp_sess_new_peer(&p->nve, src);
        p->nve_state = HV_PEER_UNKNOWN;
        kept_revoke(h, "another NVE");
    }
    memcpy(p->nve.mac, src, 6);
    p->nve_selected = 1;
    (void)now;
    if (changed)
        hv_resync_start(h, "new NVE");
}

/* The NVE's HELLO (its timers and window). */
void
hv_nve_hello(struct hv *h, const struct nvdp_msg *m)
{
    h->proto.nve.c.hello_rx++;
    nvdp_sess_hello(&h->proto.nve, &m->hello);
}

/* Epoch bookkeeping for a frame from our NVE (spec 11.1, 11.3). */
void
hv_nve_epochs(struct hv *h, const struct nvdp_hdr *hdr, int unicast,
              uint64_t now)
{
    struct hv_proto *p = &h->proto;
    uint32_t pe = hdr->peer_epoch;

    if (nvdp_sess_epoch(&p->nve, hdr->epoch)) {
        log_warnx_rl(&p->rl, "NVE restarted (epoch %08x)", hdr->epoch);
        kept_revoke(h, "NVE restarted");
        hv_resync_by_nve(h, "NVE restarted", now);
        return;
    }
    if (unicast && pe != p->ep.epoch)
        kept_revoke(h, "NVE holds no session for us");
    /* Only unicast frames say what the NVE holds for us: its group HELLO
     * carries 0 for everybody. Until our BEGIN is answered its frames
     * cannot know our session yet (start_resync ignores them then). */
    if (unicast && pe != p->ep.epoch) {
        /* Not in session (BEGIN outstanding, or refused, e.g. we are not
         * authorised on that port): nothing was lost, and resyncing again
         * would loop. */
        if (!p->nve.open || p->phase == HV_RS_NEEDED ||
            p->phase == HV_RS_BEGIN)
            return;
        log_warnx_rl(&p->rl, "NVE does not hold our state (peer_epoch "
                     "%08x, ours %08x)", pe, p->ep.epoch);
        hv_resync_by_nve(h, "NVE lost our state", now);
    }
}

void
hv_nve_heard(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    char m[NVDP_MAC_STRLEN];

    p->nve.last_heard = now;
    if (p->nve_state != HV_PEER_UP) {
        log_info("NVE %s up", hv_mac_str(p->nve.mac, m));
        p->nve_state = HV_PEER_UP;
        hv_notify_nve(h, 1);
    }
    if (p->blocked) {
        struct hv_vnic *v;

        log_debug("NVE heard again: retrying");
        p->blocked = 0;
        rel_tx_kick(&p->nve.tx, now);
        /* requests given up are submitted again (new txids) */
        TAILQ_FOREACH(v, &h->state.all, entry) {
            if (!v->gaveup)
                continue;
            v->gaveup = 0;
            if (v->state == HV_VNIC_FAILED) {
                hv_vnic_set_state(h, v, v->want == HV_WANT_DETACH ?
                                            HV_VNIC_DETACHING :
                                            HV_VNIC_PENDING);
                hv_notify_vnic(h, v);
            }
            hv_state_mark(&h->state, v);
        }
    }
}

/* Who sent this frame: 1 = our NVE, 0 = someone else. */
int
hv_peer_classify(struct hv *h, const uint8_t src[6],
                 const struct nvdp_hdr *hdr, const uint8_t *buf, size_t len,
                 struct nvdp_msg *m, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    int has_hello = frame_hello(buf, len, m);
    struct hv_peer *pe = hv_peer_get(p, src, now);
    char a[NVDP_MAC_STRLEN], b[NVDP_MAC_STRLEN];

    if (has_hello)
        peer_hello(pe, &m->hello, hdr->epoch, now);
    else {
        pe->epoch = hdr->epoch;
        pe->last_heard = now;
    }
    if (h->conf.nve_mac_set) {
        if (memcmp(src, h->conf.nve_mac, 6) != 0)
            goto foreign;
        if (!p->nve_selected)
            nve_select(h, src, now);
        return 1;
    }
    if (p->nve_selected && memcmp(src, p->nve.mac, 6) == 0)
        return 1;
    if (!p->nve_selected && has_hello && m->hello.role == NVDP_ROLE_NVE) {
        nve_select(h, src, now);
        return 1;
    }
foreign:
    if (pe->role == NVDP_ROLE_NVE && !pe->ignored_logged) {
        pe->ignored_logged = 1;
        log_warnx("ignoring NVE %s: using %s", hv_mac_str(src, a),
                  hv_mac_str(hv_dst_mac(h), b));
    }
    return 0;
}

/* The NVE's hold time as it advertises it, ours until it has. */
static uint64_t
hold_s(const struct hv *h)
{
    const struct nvdp_session *s = &h->proto.nve;

    return s->hello.hold_time ? s->hello.hold_time : h->conf.hold_time;
}

void
hv_liveness(struct hv *h, uint64_t now)
{
    struct hv_proto *p = &h->proto;
    uint64_t hold = hold_s(h);
    char m[NVDP_MAC_STRLEN];

    if (p->nve_state != HV_PEER_UP || now < p->nve.last_heard + hold * 1000)
        return;
    log_warnx("NVE %s down: not heard for %llus", hv_mac_str(p->nve.mac, m),
              (unsigned long long)hold);
    p->nve_state = HV_PEER_DOWN;
    p->nve.c.peers_expired++;
    /* Another NVE may take over: fall back to the group address (a pinned
     * NVE stays the destination). Whoever answers next gets a resync. */
    p->nve_selected = 0;
    p->nve.window = 0; /* one request at a time until its next HELLO */
    hv_notify_nve(h, 0);
    if (h->conf.nve_loss_keep) {
        /* on-nve-loss keep: traffic goes on with the tags the NVE gave,
         * until a frame says it may not hold them (kept_revoke) */
        p->kept = 1;
        log_warnx("on-nve-loss keep: %zu VNICs keep their tags while the "
                  "NVE is silent",
                  h->state.count);
    } else
        unconfirm_all(h);
    hv_resync_start(h, "NVE lost");
}

uint64_t
hv_nve_deadline(const struct hv *h)
{
    const struct hv_proto *p = &h->proto;
    uint64_t hold = hold_s(h);

    if (p->nve_state != HV_PEER_UP)
        return UINT64_MAX;
    return p->nve.last_heard + hold * 1000;
}

/* ---- JSON ------------------------------------------------------------ */

static struct json_object *
peer_json(const struct hv_peer *pe, uint64_t now)
{
    struct json_object *o = json_object_new_object();
    char m[NVDP_MAC_STRLEN];
    const char *role = pe->role == NVDP_ROLE_NVE ? "nve" :
                       pe->role == NVDP_ROLE_HV ? "hypervisor" : "unknown";
    const char *st = pe->state == HV_PEER_UP ? "up" :
                     pe->state == HV_PEER_DOWN ? "down" : "unknown";

    json_object_object_add(o, "mac", json_object_new_string(hv_mac_str(pe->mac, m)));
    json_object_object_add(o, "role", json_object_new_string(role));
    json_object_object_add(o, "name", pe->name[0] ?
                           json_object_new_string(pe->name) : NULL);
    json_object_object_add(o, "epoch", json_object_new_int64(pe->epoch));
    json_object_object_add(o, "state", json_object_new_string(st));
    json_object_object_add(o, "last_heard_ms", pe->last_heard ?
                           json_object_new_int64((int64_t)(now - pe->last_heard)) :
                           NULL);
    json_object_object_add(o, "hold_time", json_object_new_int(pe->hold_time));
    json_object_object_add(o, "hello_interval",
                           json_object_new_int(pe->hello_interval));
    json_object_object_add(o, "window", json_object_new_int(pe->window));
    return o;
}

struct json_object *
hv_proto_peers_json(const struct hv *h, uint64_t now)
{
    const struct hv_proto *p = &h->proto;
    struct json_object *a = json_object_new_array();

    for (size_t i = 0; i < p->npeers; i++) {
        struct hv_peer pe = p->peers[i];
        if (memcmp(pe.mac, p->nve.mac, 6) == 0)
            pe.state = p->nve_state; /* liveness is tracked for the NVE */
        else if (pe.hold_time != 0 &&
                 now >= pe.last_heard + (uint64_t)pe.hold_time * 1000)
            pe.state = HV_PEER_DOWN;
        json_object_array_add(a, peer_json(&pe, now));
    }
    return a;
}
