# test_d_reliability.py - conformance: duplicates, retransmission with backoff
# of the NVE's requests, batching (protocol-spec/nvdp.md "Reliability").
import time

import nvdp as N
from nvdptest import (test, check, IF_DIRECT, RTX_INITIAL_MS, RTX_MAX_MS,
                      RTX_TRIES, new_vnic, vm_mac, expect_ok, expect_status,
                      vnic_entries, tag_of, dump, vn_arg, TestFailure)


@test
def duplicate_answered_not_reapplied(ctx):
    """A retransmitted request (same txid, same epoch) gets the cached
    RESPONSE again and is not applied a second time."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    conn = hv.req(N.VN_CONNECT, vnic=v, vn=vni)
    first = hv.transact([conn])[0]
    expect_ok(first, "VN_CONNECT")
    check(vnic_entries(ctx.ctl.vnics(port="p2"), v), "not connected")
    expect_status(hv.call(N.VN_DISCONNECT, vnic=v, vn=vni), N.ST_OK,
                  "VN_DISCONNECT")
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v), "not disconnected")
    from test_e_malformed import counters, grown
    before = counters(ctx)
    again = hv.transact([conn])[0]   # the very same request, same txid
    check(grown(before, counters(ctx), r"rx_dup"),
          "duplicate not counted (rx_dup)")
    check(again.status == first.status and again.tag == first.tag,
          "duplicate answered %s tag %r, first answer %s tag %r"
          % (again.status, again.tag, first.status, first.tag))
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v),
          "duplicate VN_CONNECT was applied again (VNIC reconnected)")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "duplicate VN_CONNECT re-allocated the tag")


@test
def duplicate_of_address_change_not_reapplied(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v, m = new_vnic(), vm_mac()
    add = hv.req(N.ASSOC, vnic=v, vn=vni, addrs=[(m, "10.20.0.1")])
    expect_ok(hv.transact([add])[0], "ASSOC")
    check("10.20.0.1" in dump(vnic_entries(ctx.ctl.vnics(port="p2"), v)),
          "ASSOC did not record 10.20.0.1")
    expect_status(hv.call(N.DISASSOC, vnic=v, vn=vni,
                          addrs=[(m, "10.20.0.1")]), N.ST_OK, "DISASSOC")
    for _ in range(3):
        expect_ok(hv.transact([add])[0], "duplicate ASSOC")
    d = dump(vnic_entries(ctx.ctl.vnics(port="p2"), v))
    check("10.20.0.1" not in d, "duplicate ASSOC re-added 10.20.0.1: %s" % d)


@test
def new_epoch_resets_txids(ctx):
    """txids are scoped by the sender's epoch: after a restart, txid 1 is a
    new request, not a duplicate of the old txid 1."""
    hv = ctx.hv(IF_DIRECT)
    (_, vni1, _), (_, vni2, _) = ctx.fresh_vn(), ctx.fresh_vn()
    v1, v2 = new_vnic(), new_vnic()
    # txid 1 of the old epoch was start()'s RESYNC BEGIN (no TAG).
    a = hv.call(N.VN_CONNECT, vnic=v1, vn=vni1)
    expect_ok(a, "VN_CONNECT before restart")
    hv.restart()
    hv.hello()
    b = hv.call(N.VN_CONNECT, vnic=v2, vn=vni2)
    check(b.txid == 1, "txid after restart %d" % b.txid)
    check(b.req_type == N.VN_CONNECT, "txid 1 of the new epoch answered "
          "with req_type %#x (the old epoch's cached RESPONSE?)" % b.req_type)
    expect_ok(b, "VN_CONNECT txid 1 after restart")
    check(vnic_entries(ctx.ctl.vnics(port="p2"), v2),
          "txid 1 of the new epoch was taken for a duplicate")
    check(b.tag != a.tag, "answer of the new txid 1 is the cached old one")


@test
def batch_of_50_requests(ctx):
    """50 requests in one frame: 50 RESPONSEs, batched in few frames,
    in order."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    # VN_CONNECT is the smallest request naming a VNIC: 36 bytes, so
    # 50 of them need a 1812-byte frame (the direct port has MTU 9000).
    reqs = [hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=vni) for _ in range(50)]
    n0 = len(hv.frames)
    hv.send(reqs)
    got = hv.responses([r.txid for r in reqs], timeout=3.0)
    tags = {got[r.txid][0].tag for r in reqs}
    for r in reqs:
        expect_ok(got[r.txid][0], "batched request txid %d" % r.txid)
    check(len(tags) == 1, "one VN on one port, several tags: %s" % tags)
    frames = {id(e) for (m, e) in got.values()}
    check(len(frames) <= 3, "50 RESPONSEs came in %d frames" % len(frames))
    order = [m.txid for _, e in hv.frames[n0:] for m in e[N.NVDP].msgs
             if isinstance(m, N.NVDPResponse)]
    check(order == sorted(order), "RESPONSEs not in request order: %s"
          % order)
    hv.transact([hv.req(N.VNIC_DISASSOC, vnic=r.sub(N.S_VNIC).uuid,
                        intent=N.INTENT_SHUTDOWN) for r in reqs], timeout=3.0)


def _withdraw_setup(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni,
                          addrs=[(vm_mac(), "10.21.0.1")]), "ASSOC")
    hv.assoc_tag = a.tag
    check(vnic_entries(ctx.ctl.vnics(port="p2"), v), "ASSOC not recorded")
    hv.answer_withdraw = False
    ctx.ctl.disconnect("p2", vni, vnic=v, hv=hv.mac, reason="scapy test")
    return hv, vni, v


def _collect_withdraws(hv, seconds, stop_after=None):
    """Keeps the hypervisor alive (HELLOs) for `seconds` while WITHDRAWs
    arrive unanswered; returns [(time, txid)]."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        hv.poll(0.05)
        if stop_after and len(hv.withdraws) >= stop_after:
            break
    return [(t, m.txid) for t, m, h in hv.withdraws]


@test
def withdraw_content_and_state(ctx):
    """nvdpctl disconnect: WITHDRAW unicast to the hypervisor with the VN,
    VNIC and REASON; the NVE removes the state when it sends it."""
    hv, vni, v = _withdraw_setup(ctx)
    tag = hv.assoc_tag
    _collect_withdraws(hv, 2.0, stop_after=1)
    check(hv.withdraws, "no WITHDRAW after nvdpctl disconnect")
    t, m, e = hv.withdraws[0]
    h = e[N.NVDP]
    check(e.dst.lower() == hv.mac, "WITHDRAW sent to %s" % e.dst)
    check(h.peer_epoch == hv.epoch, "WITHDRAW peer_epoch %#x, ours %#x"
          % (h.peer_epoch, hv.epoch))
    check(m.txid != 0, "WITHDRAW txid 0")
    s = m.sub(N.S_VNI)
    check(s is not None and s.vni == vni or m.sub(N.S_VN_UUID) is not None,
          "WITHDRAW does not name the VN: %r" % m.subs)
    s = m.sub(N.S_VNIC)
    check(s is not None and str(s.uuid) == v, "WITHDRAW VNIC %r, expected %s"
          % (s, v))
    s = m.sub(N.S_REASON)
    check(s is not None and b"scapy test" in s.text,
          "WITHDRAW REASON %r" % s)
    s = m.sub(N.S_TAG)
    check(s is None or s.tag == tag, "WITHDRAW TAG %r, the tag was %d"
          % (s, tag))
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v),
          "VNIC still in the NVE after it sent WITHDRAW")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "tag not freed by the withdraw")
    hv.send([N.response(m.txid, N.ST_OK, N.WITHDRAW)])


@test
def withdraw_retransmitted_with_backoff(ctx):
    """Unanswered, the WITHDRAW is retransmitted with the same txid after
    200, 400, 800, 1600 ms...; answered, the retransmissions stop."""
    from test_e_malformed import counters, grown
    c0 = counters(ctx)
    hv, vni, v = _withdraw_setup(ctx)
    txs = _collect_withdraws(hv, 4.5, stop_after=5)
    check(grown(c0, counters(ctx), r"tx_retransmits"),
          "retransmissions not counted (tx_retransmits)")
    check(len(txs) >= 5, "%d WITHDRAW transmissions in 4.5 s, expected 5"
          % len(txs))
    check(len({x for _, x in txs}) == 1, "retransmissions changed txid: %s"
          % txs)
    gaps = [b[0] - a[0] for a, b in zip(txs, txs[1:])]
    want = [min(RTX_INITIAL_MS * 2 ** i, RTX_MAX_MS) / 1000.0
            for i in range(len(gaps))]
    print("  info: WITHDRAW retransmission gaps %s ms"
          % [round(x * 1000) for x in gaps], flush=True)
    for g, w in zip(gaps, want):
        check(0.75 * w <= g <= 1.25 * w + 0.1,
              "retransmission gaps %s ms, expected %s ms"
              % ([round(x * 1000) for x in gaps],
                 [round(x * 1000) for x in want]))
    txid = txs[0][1]
    hv.send([N.response(txid, N.ST_OK, N.WITHDRAW)])
    n = len(hv.withdraws)
    _collect_withdraws(hv, 2 * RTX_MAX_MS / 1000.0)
    check(len(hv.withdraws) == n,
          "%d more WITHDRAWs after we answered it"
          % (len(hv.withdraws) - n))


@test
def withdraw_resent_after_8(ctx):
    """After `retransmit-tries` transmissions without an answer the
    WITHDRAW is given up (tx_giveups) and, the hypervisor being still
    heard, sent again under a new txid (sections 10.3, 13): it must learn
    that its VNIC is gone.  An answer to the given-up txid is stray; one
    to the new txid ends it."""
    from test_e_malformed import counters, grown
    c0 = counters(ctx)
    hv, vni, v = _withdraw_setup(ctx)
    total = sum(min(RTX_INITIAL_MS * 2 ** i, RTX_MAX_MS)
                for i in range(RTX_TRIES)) / 1000.0
    txs = _collect_withdraws(hv, total + 1.5)
    first = txs[0][1]
    n = len([t for t in txs if t[1] == first])
    check(n == RTX_TRIES, "%d transmissions of WITHDRAW txid %d, expected %d"
          % (n, first, RTX_TRIES))
    again = [t for _, t in txs if t != first]
    check(again, "WITHDRAW not sent again after the give-up")
    check(again[0] > first, "sent again as txid %d, not after %d"
          % (again[0], first))
    check(grown(c0, counters(ctx), r"tx_giveups"),
          "give-up not counted (tx_giveups)")
    # A late answer to a request given up is a stray RESPONSE.
    c1 = counters(ctx)
    hv.send([N.response(first, N.ST_OK, N.WITHDRAW)])
    hv.silent(0.3)
    check(grown(c1, counters(ctx), r"rx_stray_responses"),
          "RESPONSE to a given-up request not counted rx_stray_responses")
    hv.send([N.response(again[0], N.ST_OK, N.WITHDRAW)])
    hv.silent(0.3)
    k = len(hv.withdraws)
    _collect_withdraws(hv, 2 * RTX_MAX_MS / 1000.0)
    check(len(hv.withdraws) == k, "%d more WITHDRAWs after we answered the "
          "new txid" % (len(hv.withdraws) - k))


@test
def withdraw_answered_late_is_fine(ctx):
    """The hypervisor's late RESPONSE to a retransmitted request is taken;
    the NVE keeps answering our requests meanwhile."""
    hv, vni, v = _withdraw_setup(ctx)
    txs = _collect_withdraws(hv, 1.0, stop_after=2)
    check(len(txs) >= 2, "no retransmission within 1 s")
    r = hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni)
    expect_ok(r, "request while a WITHDRAW is outstanding")
    hv.send([N.response(txs[0][1], N.ST_OK, N.WITHDRAW)])
    n = len(hv.withdraws)
    _collect_withdraws(hv, 2.0)
    check(len(hv.withdraws) == n, "retransmitted after a late answer")


@test
def stale_txid_dropped(ctx):
    """A txid older than the dedupe cache (hi - txid >= 2 x window) is
    dropped silently and counted rx_stale (section 10.4)."""
    from test_e_malformed import counters, grown
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v1, v2 = new_vnic(), new_vnic()
    first = hv.req(N.VN_CONNECT, vnic=v1, vn=vni)
    expect_ok(hv.transact([first])[0], "VN_CONNECT")
    expect_status(hv.call(N.VN_DISCONNECT, vnic=v1, vn=vni), N.ST_OK,
                  "VN_DISCONNECT")
    hv.txid += 3000   # far beyond 2 x 1024 (REL_WINDOW_MAX)
    expect_ok(hv.call(N.VN_CONNECT, vnic=v2, vn=vni), "txid %d" % hv.txid)
    before = counters(ctx)
    n0 = len(hv.frames)
    hv.send([first])
    hv.silent(0.5)
    for _, e in hv.frames[n0:]:
        for m in e[N.NVDP].msgs:
            check(not (isinstance(m, N.NVDPResponse) and
                       m.txid == first.txid),
                  "stale txid %d answered" % first.txid)
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v1),
          "stale request applied")
    check(grown(before, counters(ctx), r"rx_stale"),
          "stale request not counted (rx_stale)")


@test
def txid_zero_dropped(ctx):
    """txid 0 is reserved: such a request is dropped without an answer
    (section 5) and counted."""
    from test_e_malformed import counters, grown
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    before = counters(ctx)
    n0 = len(hv.frames)
    ok = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=vni)
    hv.send([N.request(N.VN_CONNECT, 0, vnic=v, vn=vni), ok])
    got = hv.responses([ok.txid])
    expect_ok(got[ok.txid][0], "request after a txid-0 request")
    hv.silent(0.3)
    for _, e in hv.frames[n0:]:
        for m in e[N.NVDP].msgs:
            if isinstance(m, N.NVDPResponse) and m.txid == 0:
                raise TestFailure("txid 0 answered (%s)"
                                  % N.STATUS_NAMES.get(m.status))
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v), "txid 0 applied")
    check(grown(before, counters(ctx),
                r"rx_short_txid"),
          "txid-0 request not counted")


@test
def stray_response_counted(ctx):
    """A RESPONSE for no outstanding request is counted and ignored."""
    from test_e_malformed import counters, grown
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    before = counters(ctx)
    hv.send([N.response(777777, N.ST_OK, N.WITHDRAW)])
    expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni),
              "request after a stray RESPONSE")
    check(grown(before, counters(ctx), r"rx_stray_responses"),
          "stray RESPONSE not counted (rx_stray_responses)")


@test
def withdraws_respect_our_window(ctx):
    """The NVE keeps at most min(own, our HELLO window) requests outstanding
    towards us (section 10.2): with window 2 and 5 WITHDRAWs queued, only
    2 distinct txids are in flight until we answer."""
    hv = ctx.hv(IF_DIRECT, window=2)
    hv.hello()
    name, vni, u = ctx.fresh_vn()
    vnics = [new_vnic() for _ in range(5)]
    hv.transact([hv.req(N.VN_CONNECT, vnic=v, vn=vni) for v in vnics])
    hv.answer_withdraw = False
    from test_e_malformed import counters
    c0 = counters(ctx)
    # The 5 disconnects reach the NVE in one write, i.e. at one instant of
    # its clock: the first 2 WITHDRAWs leave at once (window 2) and 3 wait.
    # One nvdpctl after another left the NVE alone with the first one for
    # as long as an nvdpctl takes to start (seconds on a loaded machine):
    # its retransmission timer expired meanwhile and its congestion window
    # fell to 1 (spec 10.3), so only 1 txid was in flight, as the spec
    # allows. Nothing is answered below for 1 s, and a WITHDRAW goes under
    # a new txid only when given up (RTX_TRIES tries, seconds), so the txids
    # seen are those in flight at once: 2, or more if the window were
    # ignored.
    c = ctx.ctl.conn()
    try:
        for r in c.batch([("disconnect",
                           {"port": "p2", "vn": vn_arg(vni), "vnic": str(v),
                            "hv": hv.mac, "reason": "window"})
                          for v in vnics]):
            check(r.get("ok"), "disconnect: %s" % r.get("error"))
    finally:
        c.close()
    _collect_withdraws(hv, 1.0)
    txids = {m.txid for _, m, e in hv.withdraws}
    check(len(txids) == 2, "%d WITHDRAW txids in flight with our window 2"
          % len(txids))
    answered = set()
    end = time.monotonic() + 6.0
    while len(answered) < 5 and time.monotonic() < end:
        hv.poll(0.05)
        pend = sorted({m.txid for _, m, e in hv.withdraws} - answered)
        check(len(pend) <= 2, "%d WITHDRAWs outstanding with window 2: %s"
              % (len(pend), pend))
        if pend:
            hv.send([N.response(pend[0], N.ST_OK, N.WITHDRAW)])
            answered.add(pend[0])
    named = {str(m.sub(N.S_VNIC).uuid) for _, m, e in hv.withdraws
             if m.sub(N.S_VNIC) is not None}
    t0 = hv.withdraws[0][0] if hv.withdraws else 0
    after = counters(ctx)
    check(named == set(vnics), "WITHDRAWs named %d of the 5 VNICs; "
          "received (ms, txid): %s; answered txids %s; counters grown: %s"
          % (len(named & set(vnics)),
             [(round((t - t0) * 1000), m.txid) for t, m, e in hv.withdraws],
             sorted(answered), {k: after[k] - c0.get(k, 0) for k in after
                                if "." not in k and "withdraw" in k and
                                after[k] != c0.get(k, 0)}))


@test
def withdraw_whole_vn(ctx):
    """nvdpctl disconnect without --vnic withdraws every VNIC of the VN on
    that port; the hypervisor is told (section 13)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    vnics = [new_vnic() for _ in range(3)]
    hv.transact([hv.req(N.ASSOC, vnic=v, vn=vni,
                        addrs=[(vm_mac(), "10.22.0.%d" % i)])
                 for i, v in enumerate(vnics, 1)])
    check(len(ctx.ctl.vnics(port="p2", vn=vni)) == 3, "setup")
    ctx.ctl.disconnect("p2", vni, reason="vn gone")
    _collect_withdraws(hv, 1.5)
    check(hv.withdraws, "no WITHDRAW for a VN disconnect")
    for _, m, e in hv.withdraws:
        s = m.sub(N.S_VNI)
        su = m.sub(N.S_VN_UUID)
        check((s is not None and s.vni == vni) or
              (su is not None and str(su.uuid) == u),
              "WITHDRAW names another VN: %r" % m.subs)
    check(not ctx.ctl.vnics(port="p2", vn=vni), "VNICs left after withdraw")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None, "tag left")


@test
def mixed_batch_response_and_requests(ctx):
    """One frame carrying our RESPONSE to the NVE's WITHDRAW and new
    requests: the WITHDRAW is acknowledged and the requests answered
    (section 10.5)."""
    hv, vni, v = _withdraw_setup(ctx)
    txs = _collect_withdraws(hv, 1.0, stop_after=1)
    check(txs, "no WITHDRAW")
    reqs = [hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=vni) for _ in range(3)]
    hv.send([reqs[0], N.response(txs[0][1], N.ST_OK, N.WITHDRAW)] + reqs[1:])
    got = hv.responses([r.txid for r in reqs])
    for r in reqs:
        expect_ok(got[r.txid][0], "request batched with a RESPONSE")
    n = len(hv.withdraws)
    _collect_withdraws(hv, 1.5)
    check(len(hv.withdraws) == n, "WITHDRAW retransmitted although its "
          "RESPONSE came in a batch")


@test
def full_window_answered_and_cached(ctx):
    """The NVE answers its whole advertised window of outstanding requests
    (section 10.2), and keeps their answers for 2 x window txids: an early
    one retransmitted after 300 more is answered from the cache, not
    re-applied (section 10.4)."""
    from test_e_malformed import counters, grown
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    first = hv.req(N.VN_CONNECT, vnic=v, vn=vni)
    reqs = [first] + [hv.req(N.VN_CONNECT, vnic=v, vn=vni)
                      for _ in range(255)]
    # 256 x 36 bytes: two frames on the 9000-byte link, sent back to back.
    hv.send(reqs[:200])
    hv.send(reqs[200:])
    got = hv.responses([r.txid for r in reqs], timeout=5.0)
    tags = {got[r.txid][0].tag for r in reqs}
    check(all(got[r.txid][0].status == N.ST_OK for r in reqs),
          "not every request of a full window answered OK")
    check(len(tags) == 1, "tags %s" % tags)
    more = [hv.req(N.VNIC_STATE, vnic=v, state=N.VNIC_UP) for _ in range(44)]
    hv.transact(more, timeout=3.0)
    expect_status(hv.call(N.VN_DISCONNECT, vnic=v, vn=vni), N.ST_OK,
                  "VN_DISCONNECT")
    before = counters(ctx)
    again = hv.transact([first])[0]
    check(again.status == N.ST_OK and again.tag == got[first.txid][0].tag,
          "cached answer %s tag %r" % (again.status, again.tag))
    check(grown(before, counters(ctx), r"rx_dup"), "not counted rx_dup")
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v),
          "a retransmission 301 txids back was applied again")


@test
def in_frame_order_applied(ctx):
    """Messages of a frame are applied in order (section 10.5): detach then
    attach leaves the VNIC attached; attach then detach leaves nothing."""
    hv = ctx.hv(IF_DIRECT)
    (_, vni1, _), (_, vni2, _) = ctx.fresh_vn(), ctx.fresh_vn()
    v, w = new_vnic(), new_vnic()
    expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni1, addrs=[(vm_mac(),)]), "ASSOC")
    rs = hv.transact([hv.req(N.VNIC_DISASSOC, vnic=v,
                             intent=N.INTENT_SHUTDOWN),
                      hv.req(N.ASSOC, vnic=v, vn=vni2, addrs=[(vm_mac(),)])])
    expect_status(rs[0], N.ST_OK, "VNIC_DISASSOC")
    expect_ok(rs[1], "ASSOC after it in the same frame")
    e = vnic_entries(ctx.ctl.vnics(port="p2"), v)
    check(len(e) == 1 and e[0].get("vni") == vni2,
          "detach+attach in one frame left %s" % e)
    rs = hv.transact([hv.req(N.ASSOC, vnic=w, vn=vni1, addrs=[(vm_mac(),)]),
                      hv.req(N.VNIC_DISASSOC, vnic=w,
                             intent=N.INTENT_SHUTDOWN)])
    expect_ok(rs[0], "ASSOC")
    expect_status(rs[1], N.ST_OK, "VNIC_DISASSOC after it")
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), w),
          "attach+detach in one frame left the VNIC")
