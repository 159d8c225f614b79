/* nve_resync.c - a hypervisor's RESYNC (spec 9.9, 11.4, 11.5): BEGIN opens
 * its session, marks its entries stale and sets the duplicate floor; END
 * sweeps what the replay did not restate. */
#include "nve_proto_int.h"

void
nve_resync_apply(struct nve_proto *p, struct nve_peer *e,
                 const struct nvdp_msg *m)
{
    const char *port = p->port[e->port].name;
    char ms[NVDP_MAC_STRLEN];
    unsigned n;

    nve_mac_str(e->s.mac, ms);
    if (m->phase == NVDP_RESYNC_BEGIN) {
        n = tree_hv_mark_stale(p->tree, e->port, e->s.mac);
        /* the hypervisor dropped what it sent before: a copy of it still
         * on the way must not undo the replay (spec 10.4) */
        rel_rx_floor(&e->s.rx, m->txid);
        NVE_COUNT(p, e, e->port, resyncs);
        e->s.open = 1;
        e->resyncing = 1;
        /* owed its reservation on the port from now on (spec 15) */
        tree_hv_session(p->tree, e->port, e->s.mac, 1);
        /* its replay of what we hold is not a new demand: it goes at the
         * path's speed, not at request-rate (spec 10.2) */
        if (n > 0 && p->now >= e->credit_next) {
            e->credit = n;
            e->credit_next = p->now + NVE_CREDIT_EVERY_MS;
        }
        log_info("peer %s on %s: resync begins, %u entries marked stale", ms,
                 port, n);
    } else if (!e->resyncing) {
        /* spec 9.9: END without BEGIN in this epoch changes nothing (marks
         * left by an earlier incarnation wait for its BEGIN) */
        log_debug("peer %s on %s: resync end without begin: ignored", ms,
                  port);
    } else {
        n = tree_hv_sweep_stale(p->tree, e->port, e->s.mac);
        e->resyncing = 0;
        e->credit = 0;
        log_info("peer %s on %s: resync done, %u stale entries removed", ms,
                 port, n);
    }
}
