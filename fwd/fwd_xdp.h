/* fwd_xdp.h - the forwarder's XDP fast path (bpf/nve_fast.bpf.c): its maps
 * mirror the forwarder's tables, written by the same writer functions in
 * the same critical section (wlock); its per-CPU counters are added to the
 * forwarder's. Without libbpf at build time, or when the kernel refuses
 * it, f->xdp stays NULL, every function here does nothing and
 * f->xdp_why says why: the in-process forwarder alone forwards, as before.
 * Internal to fwd/. */
#ifndef FWD_XDP_H
#define FWD_XDP_H

#include <json-c/json.h>
#include <stdint.h>

struct fwd;
struct fwd_port_ctr;
struct fwd_vn_ctr;

/* fwd_new with p.fastpath: creates the maps (the program is verified per
 * interface when attached); f->mac_seen becomes the map the program
 * refreshes too. -1 (logged, f->xdp_why set) when not possible. */
int fwd_xdp_open(struct fwd *f);
void fwd_xdp_close(struct fwd *f);

/* Mirrors of one table entry, called right after the writer changed it
 * (wlock held). A map write that fails turns the whole fast path into a
 * pass-through (everything to the in-process forwarder) rather than let
 * the two disagree. While deferred (fwd_mirror_defer), the writes of the
 * per-VNIC maps (MACs, bindings, VNs) queue in the order the tables
 * changed; any other map write, and fwd_flush / fwd_xdp_flush, writes the
 * queue first, each run of one map and kind in one batch system call. The
 * program sees the maps go through the same states as with a write per
 * entry, later. */
void fwd_xdp_cfg(struct fwd *f);                     /* params, MTU */
void fwd_xdp_vn(struct fwd *f, uint16_t vn);         /* a new VN */
void fwd_xdp_tag(struct fwd *f, uint16_t port, uint16_t tag);
void fwd_xdp_vnport(struct fwd *f, uint16_t vn, uint16_t port);
void fwd_xdp_mac(struct fwd *f, uint32_t slot);      /* live entry */
void fwd_xdp_mac_del(struct fwd *f, uint64_t key);
/* remote slot r as it is now (used or not); fresh: just taken, its
 * counter starts from 0 */
void fwd_xdp_remote(struct fwd *f, uint16_t r, int fresh);
void fwd_xdp_port_gone(struct fwd *f, uint16_t port);
/* the queue written (wlock held): the housekeeping thread after its own
 * table writes */
void fwd_xdp_flush(struct fwd *f);

/* Attachment to the underlay and the access ports (the housekeeping
 * thread, once a second; takes wlock itself): attaches where missing
 * (interface appeared, recreated; a few per call), detaches from ports
 * that went, follows whether each interface takes redirected frames and
 * its MTU. */
void fwd_xdp_sync(struct fwd *f);
void fwd_xdp_detach_all(struct fwd *f);

/* Counters (wlock held): what the fast path adds to the forwarder's. */
void fwd_xdp_port_ctrs(struct fwd *f, uint16_t port, struct fwd_port_ctr *c);
void fwd_xdp_vn_ctrs(struct fwd *f, uint16_t vn, struct fwd_vn_ctr *c);
uint64_t fwd_xdp_remote_tx(struct fwd *f, uint16_t r);
/* drops[FWD_DROP_MAX] and underlay rx/tx pkts/bytes added in place */
void fwd_xdp_glob(struct fwd *f, uint64_t *drops, uint64_t und[4]);
/* {state, reason, interfaces: [{ifname, attached, xmit, mtu, error}]} and
 * {redirected, passed, dropped} */
struct json_object *fwd_xdp_state_json(struct fwd *f);
struct json_object *fwd_xdp_ctrs_json(struct fwd *f);

/* Tests (tests/unit/test_fwd_xdp.c): the same decisions as a program
 * BPF_PROG_TEST_RUN takes (-1 without a fast path), and a 1500-byte
 * interface made known as access port `port` (-1: the underlay) without
 * attaching. */
int fwd_xdp_test_prog(struct fwd *f);
int fwd_xdp_dev_set(struct fwd *f, int ifindex, int port, int xmit);

#endif
