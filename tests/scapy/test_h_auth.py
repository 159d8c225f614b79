# test_h_auth.py - conformance: authentication and replay protection on a
# port with auth = required (protocol-spec/nvdp.md section 14). Each rule:
# a signed frame is applied and answered signed; an unsigned one, a bad
# HMAC, an unknown key id, a replay, a counter behind the window or wrapped,
# an earlier epoch's frame and a frame cut after its AUTH TLV are dropped
# whole, unanswered and counted.
import re

import nvdp as N
from nvdptest import (test, check, IF_AUTH, AUTH_KEYS, OWN_KEY, HV_OWN_KEY,
                      Hv, new_vnic, expect_ok, vnic_entries)

KEY1 = (1, AUTH_KEYS[1])
KEY2 = (2, AUTH_KEYS[2])
# What counts a frame with no AUTH TLV in its place, or with a key id the
# port does not accept: nve-agent's kernel policing where BPF is (spec
# 14.2, before the daemon), the daemon where it is not.
UNSIGNED = "auth_fail|rx_policed_unauth"


def counters(ctx):
    return {k: v for k, v in ctx.ctl.counters().items()
            if isinstance(v, int) and not isinstance(v, bool)}


def grew(ctx, before, name):
    """How much global counter name ("a|b": the counters a and b together)
    grew since before."""
    now = counters(ctx)
    return sum(now.get(n, 0) - before.get(n, 0) for n in name.split("|"))


def auth_hv(ctx, auth=KEY1):
    return ctx.hv(IF_AUTH, auth=auth)


def connect(hv, vn, vnic=None):
    return hv.req(N.VN_CONNECT, vnic=vnic or new_vnic(), vn=vn)


def unsigned(hv, msgs):
    return bytes(N.frame(hv.mac, hv.nve_mac, hv.epoch, hv.nve_epoch, msgs))


def dropped(ctx, hv, raw, txid, counter, what):
    """Sends raw; asserts no answer to txid within 1 s, counter grew and
    the NVE still answers this hypervisor."""
    before = counters(ctx)
    hv.link.send(raw)
    hv.silent(1.0, lambda e: any(
        isinstance(m, N.NVDPResponse) and m.txid == txid
        for m in e[N.NVDP].msgs))
    check(grew(ctx, before, counter) >= 1,
          "%s: %s did not grow" % (what, counter))
    name, vni, u = ctx.fresh_vn()
    expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni),
              "a signed request after %s" % what)


@test
def auth_signed_frames_applied(ctx):
    before = counters(ctx)
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "signed VN_CONNECT")
    check(vnic_entries(ctx.ctl.vnics(port="p4"), v), "VNIC not on p4")
    # every frame of the NVE to us was signed with key 1 (poll drops
    # others and counts them)
    check(hv.unsigned_rx == 0, "%d unsigned or badly signed frames from "
          "the NVE" % hv.unsigned_rx)
    check(grew(ctx, before, "auth_ok") >= 3, "auth_ok did not grow")
    check(grew(ctx, before, "auth_fail") == 0, "auth_fail grew")


@test
def auth_unsigned_dropped(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = connect(hv, vni, v)
    dropped(ctx, hv, unsigned(hv, [r]), r.txid, UNSIGNED, "an unsigned frame")
    check(not vnic_entries(ctx.ctl.vnics(port="p4"), v),
          "the unsigned request was applied")


@test
def auth_bad_hmac_dropped(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    r = connect(hv, vni)
    raw = bytearray(hv.sign(unsigned(hv, [r])))
    raw[-1] ^= 0x80
    dropped(ctx, hv, bytes(raw), r.txid, "auth_fail", "a bad HMAC")
    # the source MAC is covered: our frame sent as another p4 hypervisor
    other = ctx.mac("p4")
    r = connect(hv, vni)
    raw = bytearray(hv.sign(unsigned(hv, [r])))
    raw[6:12] = bytes.fromhex(other.replace(":", ""))
    dropped(ctx, hv, bytes(raw), r.txid, "auth_fail", "another source MAC")


@test
def auth_key_ids(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    r = connect(hv, vni)
    raw = N.auth_sign(unsigned(hv, [r]), AUTH_KEYS[1], 9, hv.ctr)
    hv.ctr += 1
    dropped(ctx, hv, raw, r.txid, UNSIGNED, "an unknown key id")
    # key 2 of the port's file is accepted too (rollover)
    hv.auth = KEY2
    expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni), "key 2")
    # a hypervisor with its own section: the port's key is not its key
    own = Hv(ctx, IF_AUTH, HV_OWN_KEY, auth=KEY1, nve_keys=OWN_KEY)
    ctx.our_macs.add(HV_OWN_KEY)
    own.nve_mac, own.nve_epoch = hv.nve_mac, hv.nve_epoch
    r = connect(own, vni)
    dropped_own = counters(ctx)
    own.link.send(own.sign(unsigned(own, [r])))
    own.silent(1.0, lambda e: any(isinstance(m, N.NVDPResponse)
                                  for m in e[N.NVDP].msgs))
    check(grew(ctx, dropped_own, "auth_fail") >= 1,
          "the port key was accepted for a hypervisor with its own key")
    own.auth = (7, OWN_KEY[7])
    own.start()
    expect_ok(own.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni), "own key 7")
    check(own.unsigned_rx == 0, "the NVE did not sign with key 7")


@test
def auth_replay_dropped(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = connect(hv, vni, v)
    raw = hv.sign(unsigned(hv, [r]))
    hv.link.send(raw)
    expect_ok(hv.responses([r.txid])[r.txid][0], "the original")
    # the same bytes again: not even answered from the duplicate cache
    dropped(ctx, hv, raw, r.txid, "replay", "a replayed frame")
    # a replayed DISASSOC cannot remove the VNIC
    d = hv.req(N.VNIC_DISASSOC, vnic=v, intent=N.INTENT_SHUTDOWN)
    raw = hv.sign(unsigned(hv, [d]))
    hv.link.send(raw)
    hv.responses([d.txid])
    expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "re-attach")
    dropped(ctx, hv, raw, d.txid, "replay", "a replayed VNIC_DISASSOC")
    check(vnic_entries(ctx.ctl.vnics(port="p4"), v),
          "the replayed VNIC_DISASSOC removed the VNIC")


@test
def auth_reordered_window(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    c = hv.ctr + 100
    hv.ctr = c + 11  # what we sign next (keepalive HELLOs) is ahead
    a, b = connect(hv, vni), connect(hv, vni)
    hv.link.send(hv.sign(unsigned(hv, [a]), c + 10))
    hv.link.send(hv.sign(unsigned(hv, [b]), c + 5))  # late, in the window
    hv.responses([a.txid, b.txid])
    late = connect(hv, vni)
    dropped(ctx, hv, hv.sign(unsigned(hv, [late]), c + 10 - N.REPLAY_WINDOW),
            late.txid, "replay", "a counter behind the window")


@test
def auth_counter_rollover(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    top = connect(hv, vni)
    hv.link.send(hv.sign(unsigned(hv, [top]), (1 << 64) - 1))
    expect_ok(hv.responses([top.txid])[top.txid][0], "counter 2^64-1")
    before = counters(ctx)
    for ctr in (0, 1):
        r = connect(hv, vni)
        hv.link.send(hv.sign(unsigned(hv, [r]), ctr))
    hv.silent(1.0, lambda e: any(isinstance(m, N.NVDPResponse)
                                 and m.txid > top.txid
                                 for m in e[N.NVDP].msgs))
    check(grew(ctx, before, "replay") >= 2, "a wrapped counter was accepted")


@test
def auth_epoch_change(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    # a frame of this incarnation, signed but held back
    old = connect(hv, vni)
    old_raw = hv.sign(unsigned(hv, [old]))
    old_epoch = hv.epoch
    hv.restart()
    hv.start()
    expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni), "new epoch")
    peer = [p for p in ctx.ctl.peers() if p.get("mac") == hv.mac]
    check(peer and peer[0].get("epoch") in (hv.epoch, "%08x" % hv.epoch),
          "peers: %r, epoch %08x" % (peer, hv.epoch))
    # the earlier incarnation's frame, never sent: a replay, not a restart
    restarts = counters(ctx).get("peer_restarts", 0)
    dropped(ctx, hv, old_raw, old.txid, "replay",
            "a frame of epoch %08x" % old_epoch)
    check(counters(ctx).get("peer_restarts", 0) == restarts,
          "the old epoch's frame was taken as a restart")


@test
def auth_truncated_after_auth(ctx):
    hv = auth_hv(ctx)
    name, vni, u = ctx.fresh_vn()
    r = connect(hv, vni)
    raw = hv.sign(unsigned(hv, [r]))
    dropped(ctx, hv, raw[:-10], r.txid, "rx_malformed|rx_policed_unauth",
            "a frame cut inside its AUTH TLV")
    # the cut frame did not use up its counter: the whole one is good
    hv.link.send(raw)
    expect_ok(hv.responses([r.txid])[r.txid][0], "the whole frame")


@test
def auth_counters_shown(ctx):
    c = counters(ctx)
    for name in ("auth_ok", "auth_fail", "replay", "unauth_accepted"):
        check(any(re.search(r"(^|\.)%s$" % name, k) for k in c),
              "nvdpctl counters has no %s" % name)
    check(c.get("nvdp.ports.p4.auth_ok", 0) > 0, "p4's auth_ok is 0")
    check(c.get("nvdp.ports.p1.auth_ok", 0) == 0, "p1 counts auth_ok")
