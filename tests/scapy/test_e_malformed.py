# test_e_malformed.py - conformance: malformed frames are counted, change no
# state, and the NVE keeps answering (protocol-spec/nvdp.md "Errors").
import random
import re
import struct
import time

import nvdp as N
from nvdptest import (test, check, IF_DIRECT, new_vnic, expect_ok,
                      vnic_entries, dump, wait_until, TestFailure)


# Section 17: the counters both daemons expose, by JSON name.
SPEC_COUNTERS = ["rx_frames", "tx_frames", "rx_msgs", "tx_msgs",
                 "rx_malformed", "rx_bad_version", "rx_msg_errors",
                 "rx_unknown_skipped", "rx_short_txid", "rx_dup", "rx_stale",
                 "auth_unsupported", "tx_retransmits", "tx_giveups",
                 "rx_stray_responses", "peers_expired", "resyncs",
                 "rx_rate_limited", "rx_resync_credit", "hello_suppressed",
                 "peers_evicted",
                 "peers_over_limit", "limit_vnics", "limit_port_vnics",
                 "limit_hv_vnics", "limit_vnic_addrs", "limit_hv_addrs",
                 "limit_preassoc", "limit_share", "limit_port_addrs",
                 "limit_port_share"]


def counters(ctx):
    """Every numeric counter nvdpctl counters shows, flattened: nested
    names ("nvdp.global.rx_dup") and their last component ("rx_dup")."""
    return {k: v for k, v in ctx.ctl.counters().items()
            if isinstance(v, int) and not isinstance(v, bool)}


def grown(before, after, pattern):
    """Counters whose last name component matches pattern (anchored:
    section 17 names) and that grew."""
    rx = re.compile(r"(^|\.)(%s)$" % pattern)
    return {k: after[k] - before.get(k, 0) for k in after
            if rx.search(k) and after[k] > before.get(k, 0)}


def still_answers(hv, vn, what):
    v = new_vnic()
    r = hv.call(N.VN_CONNECT, vnic=v, vn=vn, timeout=2.0)
    expect_ok(r, "valid request after %s" % what)
    hv.call(N.VNIC_DISASSOC, vnic=v, intent=N.INTENT_SHUTDOWN)


def hdr(length, version=1, flags=0, epoch=1, peer=0):
    return struct.pack("!BBHII", version, flags, length, epoch, peer)


def tlv(t, value):
    return struct.pack("!HH", t, len(value)) + value


def valid_connect(txid, vnic, vni):
    return tlv(N.VN_CONNECT, struct.pack("!I", txid) +
               tlv(N.S_VNIC, N._u(vnic).bytes) +
               tlv(N.S_VNI, struct.pack("!I", vni)))


def _case(ctx, what, payloads, pattern, applied_vnic=None, answered_txid=None):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    before = counters(ctx)
    n0 = len(hv.frames)
    for p in payloads(hv, vni):
        hv.send_raw_nvdp(p)
    still_answers(hv, vni, what)
    after = counters(ctx)
    if answered_txid is not None:
        for _, e in hv.frames[n0:]:
            for m in e[N.NVDP].msgs:
                if isinstance(m, N.NVDPResponse) and \
                        m.txid == answered_txid(hv):
                    raise TestFailure("%s: the request inside the dropped "
                                      "frame was answered (%s)"
                                      % (what, N.STATUS_NAMES.get(m.status)))
    g = grown(before, after, pattern)
    check(g, "%s: no counter matching /%s/ grew; changed: %s"
          % (what, pattern, {k: after[k] - before.get(k, 0) for k in after
                             if "." not in k and
                             after[k] != before.get(k, 0)}))
    return hv


@test
def truncated_header(ctx):
    _case(ctx, "truncated header",
          lambda hv, vni: [hdr(0)[:n] for n in (1, 4, 8, 11)],
          r"rx_malformed")


@test
def header_length_beyond_frame(ctx):
    def p(hv, vni):
        body = valid_connect(hv.next_txid(), new_vnic(), vni)
        return [hdr(len(body) + 100, epoch=hv.epoch) + body,
                hdr(0xFFFF, epoch=hv.epoch) + body]
    _case(ctx, "header length beyond the frame", p, r"rx_malformed")


@test
def tlv_length_beyond_header(ctx):
    def p(hv, vni):
        t = hv.next_txid()
        body = tlv(N.VN_CONNECT, struct.pack("!I", t))[:2] + \
            struct.pack("!H", 200) + struct.pack("!I", t) + b"\x00" * 8
        return [hdr(len(body), epoch=hv.epoch) + body]
    _case(ctx, "TLV length past the TLV area", p, r"rx_malformed")


@test
def wrong_version_dropped(ctx):
    v = new_vnic()
    box = {}

    def p(hv, vni):
        box["t"] = hv.next_txid()
        box["vni"] = vni
        body = valid_connect(box["t"], v, vni)
        return [hdr(len(body), version=2, epoch=hv.epoch,
                    peer=hv.nve_epoch) + body,
                hdr(len(body), version=0, epoch=hv.epoch,
                    peer=hv.nve_epoch) + body]
    _case(ctx, "wrong version", p, r"rx_bad_version",
          answered_txid=lambda hv: box["t"])
    check(not vnic_entries(ctx.ctl.vnics(), v),
          "request in a version-2 frame was applied")


@test
def epoch_zero_dropped(ctx):
    """epoch is never 0: such a frame is malformed and not processed."""
    v = new_vnic()
    box = {}

    def p(hv, vni):
        box["t"] = hv.next_txid()
        body = valid_connect(box["t"], v, vni)
        return [hdr(len(body), epoch=0, peer=hv.nve_epoch) + body]
    _case(ctx, "epoch 0", p, r"rx_malformed",
          answered_txid=lambda hv: box["t"])
    check(not vnic_entries(ctx.ctl.vnics(), v), "epoch-0 frame applied")


@test
def oversize_frame_dropped(ctx):
    """A frame larger than the NVE's NVDP buffer (9216 bytes) is dropped;
    d2 has MTU 9000, so this is sent as the largest frame the link takes
    with a header length that claims more."""
    def p(hv, vni):
        body = b"\x00\x42\x00\x00" * 2000
        return [hdr(9216, epoch=hv.epoch) + body,
                hdr(0xFFF0, epoch=hv.epoch) + b"\x00" * 8900]
    _case(ctx, "oversize frame", p, r"rx_malformed")


@test
def garbage_frames(ctx):
    rnd = random.Random(4242)

    def p(hv, vni):
        return [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
                for _ in range(50)]
    _case(ctx, "random garbage", p, r"rx_malformed|rx_bad_version")


@test
def auth_flag_dropped(ctx):
    """AUTH flag without configured authentication: dropped, counted
    (auth_unsupported), nothing inside is processed."""
    v = new_vnic()
    box = {}

    def p(hv, vni):
        box["t"] = hv.next_txid()
        req = N.request(N.VN_CONNECT, box["t"], vnic=v, vn=vni)
        f = N.NVDP(flags=N.HF_AUTH, epoch=hv.epoch, peer_epoch=hv.nve_epoch,
                   msgs=[req, N.NVDPAuth(key_id=1, replay_lo=1)])
        return [bytes(f)]
    _case(ctx, "AUTH flag", p, r"auth_unsupported", answered_txid=lambda hv: box["t"])
    check(not vnic_entries(ctx.ctl.vnics(), v), "AUTH frame was applied")


@test
def request_too_short_for_txid(ctx):
    """A request whose value cannot hold a txid is counted and dropped; the
    next message of the same frame is still processed."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    before = counters(ctx)
    ok = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=vni)
    hv.send([N.NVDPMsg(type=N.ASSOC, value=b"\x00\x01"), ok])
    expect_ok(hv.responses([ok.txid])[ok.txid][0],
              "request after a too-short one")
    g = grown(before, counters(ctx), r"rx_short_txid")
    check(g, "too-short request not counted (rx_short_txid)")


@test
def mutated_frames_survived(ctx):
    """300 random mutations of valid frames: the NVE survives and keeps
    answering; what they created expires with the hypervisor."""
    rnd = random.Random(777)
    hv = ctx.hv(IF_DIRECT, hold=2)
    name, vni, u = ctx.fresh_vn()
    base = [bytes(N.NVDP(epoch=hv.epoch, peer_epoch=hv.nve_epoch, msgs=[
        N.request(N.ASSOC, 1000 + i, vnic=new_vnic(), vn=vni,
                  addrs=[("02:00:00:00:00:%02x" % i, "10.30.0.%d" % i)],
                  tag_hint=300),
        N.request(N.RESYNC, 2000 + i, phase=N.RESYNC_BEGIN),
        N.hello(name="x")])) for i in range(1, 10)]
    for i in range(300):
        b = bytearray(rnd.choice(base))
        for _ in range(rnd.randint(1, 6)):
            j = rnd.randrange(len(b))
            b[j] = rnd.getrandbits(8)
        if rnd.random() < 0.3:
            b = b[:rnd.randrange(len(b))]
        hv.send_raw_nvdp(bytes(b))
    # the mutations carried RESYNC BEGINs up to txid 2009 in our epoch: our
    # next requests are numbered after them (section 10.4)
    hv.txid = max(hv.txid, 3000)
    still_answers(hv, vni, "300 mutated frames")
    # Stop sending: whatever the mutations created goes with the hold time
    # (advertised again: a mutated HELLO may have changed it).
    hv.hello(hold=2)
    hv.link.close()
    ctx.links.remove(hv.link)
    wait_until(lambda: hv.mac not in dump(ctx.ctl.vnics()), 8.0,
               "state of the fuzzing hypervisor to expire")


@test
def counters_named_as_spec(ctx):
    """nvdpctl counters exposes the section 17 counters by their names."""
    c = counters(ctx)
    missing = [n for n in SPEC_COUNTERS if n not in c]
    check(not missing, "section 17 counters missing from nvdpctl counters: "
          "%s (it has: %s)" % (missing, sorted(k for k in c if "." not in k)))


@test
def malformed_hello_counted_not_answered(ctx):
    """Errors in a HELLO are counted and dropped, never answered: role 3,
    hold_time 0, window 0 (section 5.1)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    before = counters(ctx)
    n0 = len(hv.frames)
    hv.send([N.hello(role=3, name="bad")])
    hv.send([N.hello(hold_time=0, name="bad")])
    hv.send([N.hello(window=0, name="bad")])
    still_answers(hv, vni, "malformed HELLOs")
    for _, e in hv.frames[n0:]:
        for m in e[N.NVDP].msgs:
            check(not (isinstance(m, N.NVDPResponse) and m.txid == 0),
                  "a HELLO was answered")
    after = counters(ctx)
    changed = {k: after[k] - before.get(k, 0) for k in after
               if "." not in k and after[k] != before.get(k, 0)}
    check(grown(before, after, r"rx_msg_errors|rx_malformed"),
          "malformed HELLOs not counted as rx_msg_errors/rx_malformed; "
          "counters that changed: %s" % changed)
    check(not grown(before, after, r"rx_short_txid"),
          "malformed HELLOs counted as rx_short_txid (requests too short "
          "for a txid, section 17); counters that changed: %s" % changed)


@test
def unknown_optional_counted(ctx):
    """Unknown TLVs without the M bit are skipped and counted
    (rx_unknown_skipped)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    before = counters(ctx)
    r = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=vni,
               extra=[N.NVDPSub(type=0x01F1, value=b"x")])
    hv.send([N.NVDPMsg(type=0x0071, value=b"abcd"), r])
    expect_ok(hv.responses([r.txid])[r.txid][0], "request")
    g = grown(before, counters(ctx), r"rx_unknown_skipped")
    check(g, "skipped unknown TLVs not counted (rx_unknown_skipped)")


@test
def group_source_mac_dropped(ctx):
    """A frame whose source MAC is a group address is dropped and counted
    (section 2)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    before = counters(ctx)
    v = new_vnic()
    f = N.frame("03:00:00:00:00:07", hv.nve_mac, hv.epoch, hv.nve_epoch,
                [N.request(N.VN_CONNECT, 1, vnic=v, vn=vni)])
    hv.link.send(f)
    still_answers(hv, vni, "a frame from a group source MAC")
    check(not vnic_entries(ctx.ctl.vnics(), v), "frame from a group MAC "
          "applied")
    check(grown(before, counters(ctx), r"rx_malformed"),
          "frame from a group source MAC not counted (rx_malformed)")


@test
def auth_tlv_without_flag_drops_frame(ctx):
    """An AUTH TLV without the header flag makes the whole frame malformed
    (E_AUTH, scope frame): the request before it is not applied."""
    v = new_vnic()
    box = {}

    def p(hv, vni):
        box["t"] = hv.next_txid()
        req = N.request(N.VN_CONNECT, box["t"], vnic=v, vn=vni)
        f = N.NVDP(flags=0, epoch=hv.epoch, peer_epoch=hv.nve_epoch,
                   msgs=[req, N.NVDPAuth(key_id=1, replay_lo=7)])
        return [bytes(f)]
    _case(ctx, "AUTH TLV without the flag", p, r"rx_malformed",
          answered_txid=lambda hv: box["t"])
    check(not vnic_entries(ctx.ctl.vnics(), v),
          "request in a frame with an unannounced AUTH TLV was applied")


@test
def malformed_request_duplicate_same_answer(ctx):
    """A retransmitted malformed request gets the same answer from the
    duplicate cache (section 8), counted rx_dup."""
    hv = ctx.hv(IF_DIRECT)
    bad = hv.req(N.VN_CONNECT, vnic=new_vnic())    # no VN: MALFORMED
    a = hv.transact([bad])[0]
    before = counters(ctx)
    b = hv.transact([bad])[0]
    check(a.status == N.ST_MALFORMED and b.status == a.status and
          b.reason == a.reason, "answers %s/%r then %s/%r"
          % (a.status, a.reason, b.status, b.reason))
    check(grown(before, counters(ctx), r"rx_dup"),
          "retransmitted malformed request not counted rx_dup")
