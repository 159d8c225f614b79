# test_b_requests.py - conformance: every request type and its RESPONSE
# (protocol-spec/nvdp.md "Messages"), checked on the wire and in nvdpctl.
import nvdp as N
from nvdptest import (test, check, IF_DIRECT, IF_BR1, P2_TAGS, P2_RESERVED,
                      new_vnic, vm_mac, dump, expect_ok, expect_status,
                      tag_of, vnic_entries)


def in_p2_range(tag):
    return (P2_TAGS[0] <= tag <= P2_TAGS[1]
            and not P2_RESERVED[0] <= tag <= P2_RESERVED[1])


def vnics_on(ctx, port, vnic):
    return vnic_entries(ctx.ctl.vnics(port=port), vnic)


def state_on(ctx, port, vnic):
    """The VNIC's state on port as nvdpctl vnics shows it, or None."""
    e = vnics_on(ctx, port, vnic)
    return e[0].get("state") if e else None


def ips_on(ctx, port, vnic):
    ips = set()
    for e in vnics_on(ctx, port, vnic):
        ips.update(e.get("ips") or [])
    return ips


@test
def vn_connect_by_vni(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = hv.req(N.VN_CONNECT, vnic=v, vn=vni)
    resp = hv.transact([r])[0]
    expect_ok(resp, "VN_CONNECT by VNI")
    check(resp.txid == r.txid, "txid not echoed")
    check(resp.req_type == N.VN_CONNECT, "req_type %#x" % resp.req_type)
    check(in_p2_range(resp.tag), "tag %d outside p2's range/reserved"
          % resp.tag)
    t = tag_of(ctx.ctl.tags(port="p2"), "p2", vni)
    check(t == resp.tag, "nvdpctl tags shows %r for (p2, %s), RESPONSE %d"
          % (t, name, resp.tag))
    check(vnics_on(ctx, "p2", v), "nvdpctl vnics does not show VNIC %s" % v)


@test
def vn_connect_by_uuid_same_tag(ctx):
    """A VN named by its UUID is the same VN as by its VNI: same tag."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    a = hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni)
    b = hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=u)
    expect_ok(a, "VN_CONNECT by VNI")
    expect_ok(b, "VN_CONNECT by UUID")
    check(a.tag == b.tag, "by VNI tag %d, by UUID tag %d" % (a.tag, b.tag))


@test
def vn_connect_idempotent(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    a = expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "first connect")
    b = expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "second connect")
    check(a.tag == b.tag, "tag changed %d -> %d" % (a.tag, b.tag))
    check(len(vnics_on(ctx, "p2", v)) == 1, "VNIC listed %d times"
          % len(vnics_on(ctx, "p2", v)))


@test
def vn_disconnect_frees_tag(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    c = expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "connect")
    check(vnics_on(ctx, "p2", v), "VNIC not listed after VN_CONNECT")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == c.tag,
          "tag not listed after VN_CONNECT")
    r = hv.call(N.VN_DISCONNECT, vnic=v, vn=vni)
    expect_status(r, N.ST_OK, "VN_DISCONNECT")
    check(r.req_type == N.VN_DISCONNECT, "req_type %#x" % r.req_type)
    check(not vnics_on(ctx, "p2", v), "VNIC still listed after disconnect")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "tag of (p2, %s) not freed after the last VNIC left" % name)
    # Idempotent: disconnecting again, or by UUID, is still OK.
    expect_status(hv.call(N.VN_DISCONNECT, vnic=v, vn=vni), N.ST_OK,
                  "second VN_DISCONNECT")
    expect_status(hv.call(N.VN_DISCONNECT, vnic=new_vnic(), vn=u), N.ST_OK,
                  "VN_DISCONNECT of a VNIC never connected")


@test
def vn_disconnect_keeps_shared_tag(ctx):
    """The tag of (port, VN) stays while another VNIC of that VN is there."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v1, v2 = new_vnic(), new_vnic()
    a = expect_ok(hv.call(N.VN_CONNECT, vnic=v1, vn=vni), "connect 1")
    b = expect_ok(hv.call(N.VN_CONNECT, vnic=v2, vn=vni), "connect 2")
    check(a.tag == b.tag, "two VNICs of one VN on one port: tags %d, %d"
          % (a.tag, b.tag))
    expect_status(hv.call(N.VN_DISCONNECT, vnic=v1, vn=vni), N.ST_OK, "disc")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == a.tag,
          "tag released while VNIC 2 still uses it")
    expect_status(hv.call(N.VN_DISCONNECT, vnic=v2, vn=vni), N.ST_OK, "disc")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "tag kept after the last VNIC left")


@test
def assoc_all_address_kinds(ctx):
    """ASSOC connects implicitly and records MAC, MAC+IPv4, MAC+IPv6,
    prefixes and ranges; RESPONSE OK + TAG."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v, m = new_vnic(), vm_mac()
    addrs = [(m,), (m, "10.1.0.5"), (m, "2001:db8::5"), (m, "10.2.0.0/24"),
             (m, "2001:db8:1::/64"), (m, "10.3.0.1-10.3.0.9"),
             (m, "2001:db8:2::1-2001:db8:2::9")]
    r = hv.call(N.ASSOC, vnic=v, vn=vni, addrs=addrs)
    expect_ok(r, "ASSOC")
    check(r.req_type == N.ASSOC, "req_type %#x" % r.req_type)
    check(in_p2_range(r.tag), "tag %d out of range" % r.tag)
    e = vnics_on(ctx, "p2", v)
    check(e, "ASSOC did not record VNIC %s" % v)
    want = {"10.1.0.5", "2001:db8::5", "10.2.0.0/24", "2001:db8:1::/64",
            "10.3.0.1-10.3.0.9", "2001:db8:2::1-2001:db8:2::9"}
    check(ips_on(ctx, "p2", v) == want, "nvdpctl vnics IPs %s, expected %s"
          % (sorted(ips_on(ctx, "p2", v)), sorted(want)))
    check(m in dump(e), "nvdpctl vnics lacks MAC %s: %s" % (m, dump(e)))
    check(e[0].get("state") == "associated", "state %r" % e[0].get("state"))
    check(e[0].get("tag") == r.tag, "nvdpctl tag %r, RESPONSE %d"
          % (e[0].get("tag"), r.tag))
    # Existing addresses are no-ops: same answer, same tag.
    r2 = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni, addrs=addrs[:2]),
                   "ASSOC again")
    check(r2.tag == r.tag, "tag changed on re-ASSOC")


@test
def disassoc_addresses(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v, m1, m2 = new_vnic(), vm_mac(), vm_mac()
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni,
                          addrs=[(m1, "10.4.0.1"), (m1, "10.4.0.2"),
                                 (m2, "10.4.0.3")]), "ASSOC")
    check(ips_on(ctx, "p2", v) == {"10.4.0.1", "10.4.0.2", "10.4.0.3"},
          "after ASSOC: %s" % ips_on(ctx, "p2", v))
    r = hv.call(N.DISASSOC, vnic=v, vn=vni, addrs=[(m1, "10.4.0.1")])
    expect_status(r, N.ST_OK, "DISASSOC one IP")
    check(r.req_type == N.DISASSOC, "req_type %#x" % r.req_type)
    check(ips_on(ctx, "p2", v) == {"10.4.0.2", "10.4.0.3"},
          "after DISASSOC of 10.4.0.1: %s" % ips_on(ctx, "p2", v))
    # A MAC-only address removes the MAC and all its IPs.
    expect_status(hv.call(N.DISASSOC, vnic=v, vn=vni, addrs=[(m1,)]),
                  N.ST_OK, "DISASSOC MAC")
    check(ips_on(ctx, "p2", v) == {"10.4.0.3"},
          "after DISASSOC of MAC %s: %s" % (m1, ips_on(ctx, "p2", v)))
    check(m1 not in dump(vnics_on(ctx, "p2", v)), "MAC %s still listed" % m1)
    # Unknown addresses are ignored.
    expect_status(hv.call(N.DISASSOC, vnic=v, vn=vni,
                          addrs=[(vm_mac(), "10.9.9.9"), (m2, "10.4.0.99")]),
                  N.ST_OK, "DISASSOC of unknown addresses")
    check(ips_on(ctx, "p2", v) == {"10.4.0.3"}, "unknown DISASSOC changed "
          "the addresses: %s" % ips_on(ctx, "p2", v))
    # With no address left the VNIC stays connected with its tag (9.5).
    expect_status(hv.call(N.DISASSOC, vnic=v, vn=vni, addrs=[(m2,)]),
                  N.ST_OK, "DISASSOC of the last MAC")
    check(vnics_on(ctx, "p2", v), "VNIC gone with its last address")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == a.tag,
          "tag released with the last address")


@test
def vnic_disassoc_removes_everything(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni,
                          addrs=[(vm_mac(), "10.5.0.1")]), "ASSOC")
    check(vnics_on(ctx, "p2", v), "VNIC not listed after ASSOC")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == a.tag,
          "tag not listed after ASSOC")
    r = hv.call(N.VNIC_DISASSOC, vnic=v, intent=N.INTENT_SHUTDOWN)
    expect_status(r, N.ST_OK, "VNIC_DISASSOC")
    check(r.req_type == N.VNIC_DISASSOC, "req_type %#x" % r.req_type)
    check(not vnics_on(ctx, "p2", v), "VNIC still listed")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "tag not freed by VNIC_DISASSOC of the last VNIC")
    expect_status(hv.call(N.VNIC_DISASSOC, vnic=new_vnic(),
                          intent=N.INTENT_SHUTDOWN), N.ST_OK,
                  "VNIC_DISASSOC of an unknown VNIC")


def _preassoc_elsewhere(ctx, intent):
    """VNIC associated on p2, pre-associated on p1 (the migration target),
    then disassociated on p2 with `intent`; returns what p1 still has."""
    src = ctx.hv(IF_DIRECT)
    dst = ctx.hv(IF_BR1)
    name, vni, u = ctx.fresh_vn()
    v, m = new_vnic(), vm_mac()
    expect_ok(src.call(N.ASSOC, vnic=v, vn=vni, addrs=[(m, "10.6.0.1")]),
              "ASSOC at source")
    expect_ok(dst.call(N.PREASSOC, vnic=v, vn=vni, addrs=[(m, "10.6.0.1")],
                       flags=N.RF_RR), "PREASSOC-RR at destination")
    check(vnics_on(ctx, "p2", v), "source entry missing")
    check(vnics_on(ctx, "p1", v), "destination pre-association missing")
    expect_status(src.call(N.VNIC_DISASSOC, vnic=v, intent=intent), N.ST_OK,
                  "VNIC_DISASSOC")
    check(not vnics_on(ctx, "p2", v), "source entry kept")
    return vnics_on(ctx, "p1", v)


@test
def vnic_disassoc_migration_keeps_destination(ctx):
    left = _preassoc_elsewhere(ctx, N.INTENT_MIGRATION)
    check(left, "intent=migration purged the destination's pre-association")
    check(left[0].get("state") == "preassociated-rr",
          "destination state %r, expected preassociated-rr"
          % left[0].get("state"))


@test
def vnic_disassoc_shutdown_purges_everywhere(ctx):
    left = _preassoc_elsewhere(ctx, N.INTENT_SHUTDOWN)
    check(not left, "intent=shutdown left the pre-association on p1: %s"
          % dump(left))


@test
def preassoc_without_rr_has_no_tag(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v, m = new_vnic(), vm_mac()
    r = hv.call(N.PREASSOC, vnic=v, vn=vni, addrs=[(m, "10.7.0.1")])
    expect_status(r, N.ST_OK, "PREASSOC")
    check(r.req_type == N.PREASSOC, "req_type %#x" % r.req_type)
    check(r.tag is None, "PREASSOC without RR returned TAG %r" % r.tag)
    st = state_on(ctx, "p2", v)
    check(st == "preassociated", "VNIC state %r after PREASSOC, expected "
          "preassociated" % st)
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "PREASSOC without RR allocated a tag")
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni, addrs=[(m, "10.7.0.1")]),
                  "ASSOC promoting it")
    st = state_on(ctx, "p2", v)
    check(st == "associated", "VNIC state %r after ASSOC promoted it" % st)
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == a.tag,
          "tag of ASSOC not in nvdpctl tags")


@test
def preassoc_rr_reserves_tag(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = hv.call(N.PREASSOC, vnic=v, vn=vni, addrs=[(vm_mac(), "10.8.0.1")],
                flags=N.RF_RR)
    expect_ok(r, "PREASSOC-RR")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == r.tag,
          "RR tag %d not reserved in nvdpctl tags" % r.tag)
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni), "ASSOC")
    check(a.tag == r.tag, "ASSOC tag %d != reserved tag %d" % (a.tag, r.tag))


@test
def vnic_state_down_up(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni,
                          addrs=[(vm_mac(), "10.9.0.1")]), "ASSOC")
    r = hv.call(N.VNIC_STATE, vnic=v, state=N.VNIC_DOWN)
    expect_status(r, N.ST_OK, "VNIC_STATE down")
    check(r.req_type == N.VNIC_STATE, "req_type %#x" % r.req_type)
    st = state_on(ctx, "p2", v)
    check(st == "down", "VNIC state %r after VNIC_STATE down" % st)
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == a.tag,
          "VNIC_STATE down released the tag")
    expect_status(hv.call(N.VNIC_STATE, vnic=v, state=N.VNIC_UP), N.ST_OK,
                  "VNIC_STATE up")
    st = state_on(ctx, "p2", v)
    check(st == "associated", "VNIC state %r after VNIC_STATE up" % st)
    expect_status(hv.call(N.VNIC_STATE, vnic=v, state=N.VNIC_UP), N.ST_OK,
                  "VNIC_STATE up again (current state: OK)")


@test
def vnic_state_unknown_and_preassociated(ctx):
    """VNIC_STATE: unknown VNIC on this port -> UNKNOWN_VNIC; on a
    pre-associated VNIC the state is recorded and takes effect when it is
    associated (section 9.8)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    r = hv.call(N.VNIC_STATE, vnic=new_vnic(), state=N.VNIC_DOWN)
    expect_status(r, N.ST_UNKNOWN_VNIC, "VNIC_STATE of an unknown VNIC")
    v, m = new_vnic(), vm_mac()
    expect_status(hv.call(N.PREASSOC, vnic=v, vn=vni,
                          addrs=[(m, "10.9.1.1")]), N.ST_OK, "PREASSOC")
    r = hv.call(N.VNIC_STATE, vnic=v, state=N.VNIC_DOWN)
    expect_status(r, N.ST_OK, "VNIC_STATE down of a pre-associated VNIC")
    check(state_on(ctx, "p2", v) == "preassociated", "state %r"
          % state_on(ctx, "p2", v))
    expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni, addrs=[(m, "10.9.1.1")]),
              "ASSOC")
    check(state_on(ctx, "p2", v) == "down", "VNIC_STATE down recorded "
          "while pre-associated did not take effect at ASSOC: state %r"
          % state_on(ctx, "p2", v))


@test
def removal_with_unknown_vn_is_ok(ctx):
    """VN_DISCONNECT and DISASSOC naming a VN the NVE does not know are
    answered OK: nothing to remove (section 9.1)."""
    hv = ctx.hv(IF_DIRECT)
    from nvdptest import UNKNOWN_VNI
    r = hv.call(N.VN_DISCONNECT, vnic=new_vnic(), vn=UNKNOWN_VNI)
    expect_status(r, N.ST_OK, "VN_DISCONNECT of an unknown VN")
    r = hv.call(N.DISASSOC, vnic=new_vnic(), vn=UNKNOWN_VNI,
                addrs=[(vm_mac(),)])
    expect_status(r, N.ST_OK, "DISASSOC in an unknown VN")


@test
def preassoc_of_associated_vnic_no_demotion(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v, m = new_vnic(), vm_mac()
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni, addrs=[(m, "10.9.2.1")]),
                  "ASSOC")
    r = hv.call(N.PREASSOC, vnic=v, vn=vni, addrs=[(m, "10.9.2.1")])
    expect_status(r, N.ST_OK, "PREASSOC of an associated VNIC")
    check(state_on(ctx, "p2", v) == "associated",
          "PREASSOC demoted the VNIC to %r" % state_on(ctx, "p2", v))
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) == a.tag, "tag lost")


@test
def resync_end_without_begin(ctx):
    """END without BEGIN: OK, no effect (section 9.9)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "connect")
    r = hv.call(N.RESYNC, phase=N.RESYNC_END)
    expect_status(r, N.ST_OK, "RESYNC END without BEGIN")
    check(r.req_type == N.RESYNC, "req_type %#x" % r.req_type)
    check(vnics_on(ctx, "p2", v), "END without BEGIN deleted state")


@test
def preassoc_expires_after_timeout(ctx):
    """A pre-association not promoted within preassoc-timeout expires and
    its reserved tag is released (section 9.7); not before."""
    from nvdptest import PREASSOC_TIMEOUT, wait_until
    import time
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    t0 = time.monotonic()
    r = expect_ok(hv.call(N.PREASSOC, vnic=v, vn=vni, flags=N.RF_RR,
                          addrs=[(vm_mac(), "10.9.3.1")]), "PREASSOC-RR")
    while time.monotonic() < t0 + PREASSOC_TIMEOUT - 0.7:
        hv.poll(0.1)
    check(vnics_on(ctx, "p2", v), "pre-association expired before %d s"
          % PREASSOC_TIMEOUT)

    def gone():
        hv.poll(0.05)
        return not vnics_on(ctx, "p2", v)
    wait_until(gone, 3.0, "the pre-association to expire")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "reserved tag %d not released at expiry" % r.tag)


@test
def frames_to_other_unicast_ignored(ctx):
    """Receivers accept frames addressed to the group MAC or their own MAC;
    anything else is ignored (section 2)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = hv.req(N.VN_CONNECT, vnic=v, vn=vni)
    hv.send([r], dst="02:99:99:99:99:99")
    seen = hv.silent(0.6)
    for e in seen:
        for m in e[N.NVDP].msgs:
            check(not (isinstance(m, N.NVDPResponse) and m.txid == r.txid),
                  "frame to another station's MAC was answered")
    check(not vnics_on(ctx, "p2", v), "frame to another MAC was applied")


@test
def responses_split_at_mtu(ctx):
    """On a 1500-byte port, 150 small requests whose answers (MALFORMED with
    REASON) need several frames are all answered, in order, in frames
    within the MTU (sections 2, 10.5)."""
    hv = ctx.hv(IF_BR1)
    reqs = [hv.req(N.VN_CONNECT) for i in range(150)]   # no VNIC, no VN
    raw = N.frame(hv.mac, hv.nve_mac, hv.epoch, hv.nve_epoch, reqs)
    check(len(bytes(raw)) - 14 <= 1500, "test frame too big")
    n0 = len(hv.frames)
    hv.send(reqs)
    got = hv.responses([r.txid for r in reqs], timeout=3.0)
    for r in reqs:
        expect_status(got[r.txid][0], N.ST_MALFORMED, "txid %d" % r.txid)
    frames = [e for _, e in hv.frames[n0:] if e.dst.lower() == hv.mac]
    sizes = [len(bytes(e[N.NVDP])) - len(e[N.NVDP].payload) for e in frames]
    check(max(sizes) <= 1500, "NVE frames over the 1500-byte MTU: %s"
          % sizes)
    check(len(frames) >= 2, "answers of %d bytes in %d frame(s)"
          % (sum(sizes), len(frames)))
    check(len(frames) <= 6, "answers spread over %d frames (%s): not "
          "batched" % (len(frames), sizes))
    order = [m.txid for e in frames for m in e[N.NVDP].msgs
             if isinstance(m, N.NVDPResponse)]
    check(order == [r.txid for r in reqs], "answers out of order: %s"
          % order)


@test
def vn_by_uuid_in_every_request(ctx):
    """A VN named by VNI in one request and by UUID in the next is the same
    VN for every request type (sections 5, 6)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v, m = new_vnic(), vm_mac()
    p = expect_ok(hv.call(N.PREASSOC, vnic=v, vn=u, flags=N.RF_RR,
                          addrs=[(m, "10.9.4.1")]), "PREASSOC-RR by UUID")
    a = expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni, addrs=[(m, "10.9.4.2")]),
                  "ASSOC by VNI")
    check(a.tag == p.tag, "tag %d by VNI, %d by UUID" % (a.tag, p.tag))
    expect_status(hv.call(N.DISASSOC, vnic=v, vn=u, addrs=[(m, "10.9.4.1")]),
                  N.ST_OK, "DISASSOC by UUID")
    check(ips_on(ctx, "p2", v) == {"10.9.4.2"}, "DISASSOC by UUID: %s"
          % ips_on(ctx, "p2", v))
    expect_status(hv.call(N.VN_DISCONNECT, vnic=v, vn=u), N.ST_OK,
                  "VN_DISCONNECT by UUID")
    check(not vnics_on(ctx, "p2", v), "VN_DISCONNECT by UUID left the VNIC")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None, "tag left")


def _fwd_macs(ctx, vni):
    """{mac: entry} of the forwarder's MAC table for vni (nvdpctl fwd)."""
    j = ctx.ctl.run("fwd")
    for v in j.get("vns", []):
        if v.get("vni") == vni:
            return {m.get("mac"): m for m in v.get("macs", [])}
    return {}


def _fwd_binding(ctx, port, vni):
    j = ctx.ctl.run("fwd")
    for p in j.get("ports", []):
        if p.get("ifname") == port:
            for b in p.get("bindings", []):
                if b.get("vni") == vni:
                    return b.get("tag")
    return None


@test
def only_associated_vnics_programmed(ctx):
    """The forwarder gets associated VNICs only (9.4, 9.7); VNIC_STATE down
    stops delivery without removing state (9.8); disassociation removes the
    MAC and, with the last VNIC, the (port, tag) binding (9.3)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    va, vp = new_vnic(), new_vnic()
    ma, mp = vm_mac(), vm_mac()
    a = expect_ok(hv.call(N.ASSOC, vnic=va, vn=vni, addrs=[(ma, "10.9.5.1")]),
                  "ASSOC")
    expect_ok(hv.call(N.PREASSOC, vnic=vp, vn=vni, flags=N.RF_RR,
                      addrs=[(mp, "10.9.5.2")]), "PREASSOC-RR")
    macs = _fwd_macs(ctx, vni)
    check(ma in macs and macs[ma].get("active") is True and
          macs[ma].get("ifname") == "p2",
          "associated MAC %s not programmed active on p2: %s" % (ma, macs))
    check("10.9.5.1" in (macs[ma].get("ips") or []), "IP not programmed")
    check(mp not in macs, "pre-associated MAC %s programmed" % mp)
    check(_fwd_binding(ctx, "p2", vni) == a.tag, "binding (p2, tag %d) -> "
          "VNI %d missing" % (a.tag, vni))
    expect_status(hv.call(N.VNIC_STATE, vnic=va, state=N.VNIC_DOWN), N.ST_OK,
                  "down")
    macs = _fwd_macs(ctx, vni)
    check(ma in macs and macs[ma].get("active") is False,
          "VNIC down: forwarder entry %s" % macs.get(ma))
    expect_status(hv.call(N.VNIC_STATE, vnic=va, state=N.VNIC_UP), N.ST_OK,
                  "up")
    check(_fwd_macs(ctx, vni).get(ma, {}).get("active") is True,
          "VNIC up again: not active")
    expect_ok(hv.call(N.ASSOC, vnic=vp, vn=vni, addrs=[(mp, "10.9.5.2")]),
              "ASSOC promoting the pre-association")
    check(mp in _fwd_macs(ctx, vni), "promoted VNIC not programmed")
    for v in (va, vp):
        expect_status(hv.call(N.VNIC_DISASSOC, vnic=v,
                              intent=N.INTENT_SHUTDOWN), N.ST_OK, "disassoc")
    macs = _fwd_macs(ctx, vni)
    check(ma not in macs and mp not in macs, "MACs left in the forwarder: "
          "%s" % macs)
    check(_fwd_binding(ctx, "p2", vni) is None,
          "(p2, tag) binding left after the last VNIC left")
