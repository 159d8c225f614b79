# test_c_errors.py - conformance: every error RESPONSE (status + REASON) and
# the skip/reject rule for unknown TLVs (protocol-spec/nvdp.md "Errors").
import struct

import nvdp as N
from nvdptest import (test, check, IF_DIRECT, IF_SMALL, VNS, VN_NOT_ON_P2,
                      UNKNOWN_VNI, UNKNOWN_VN_UUID, HV_UNAUTH,
                      MAX_ADDRS_PER_VNIC, MAX_VNICS_PER_HV, Hv, new_vnic,
                      vm_mac, expect_ok, expect_status, vnic_entries, dump,
                      tag_of)


@test
def unknown_vn(ctx):
    hv = ctx.hv(IF_DIRECT)
    for vn in (UNKNOWN_VNI, UNKNOWN_VN_UUID):
        for mt in (N.VN_CONNECT, N.ASSOC, N.PREASSOC):
            v = new_vnic()
            r = hv.call(mt, vnic=v, vn=vn)
            expect_status(r, N.ST_UNKNOWN_VN, "%s %r" % (N.MSG_NAMES[mt], vn))
            check(r.tag is None, "error RESPONSE with TAG")
            check(r.req_type == mt, "req_type %#x" % r.req_type)
            check(not vnic_entries(ctx.ctl.vnics(), v),
                  "refused VNIC recorded")


@test
def unauthorised_hypervisor_mac(ctx):
    ctx.our_macs.add(HV_UNAUTH)
    hv = Hv(ctx, IF_DIRECT, HV_UNAUTH).start(session=False)
    r = hv.call(N.RESYNC, phase=N.RESYNC_BEGIN)
    expect_status(r, N.ST_NOT_AUTHORISED, "RESYNC BEGIN from unlisted MAC")
    v = new_vnic()
    for mt in (N.VN_CONNECT, N.ASSOC, N.PREASSOC):
        r = hv.call(mt, vnic=v, vn=VNS[0][1])
        expect_status(r, N.ST_NOT_AUTHORISED, "%s from unlisted MAC"
                      % N.MSG_NAMES[mt])
    check(not vnic_entries(ctx.ctl.vnics(), v), "refused VNIC recorded")


@test
def vn_not_allowed_on_port(ctx):
    hv = ctx.hv(IF_DIRECT)
    v = new_vnic()
    r = hv.call(N.VN_CONNECT, vnic=v, vn=VN_NOT_ON_P2[1])
    expect_status(r, N.ST_NOT_AUTHORISED, "VN not allowed on p2")
    r = hv.call(N.ASSOC, vnic=v, vn=VN_NOT_ON_P2[2],
                addrs=[(vm_mac(), "10.10.0.1")])
    expect_status(r, N.ST_NOT_AUTHORISED, "ASSOC, VN not allowed on p2")
    check(not vnic_entries(ctx.ctl.vnics(), v), "refused VNIC recorded")


@test
def no_tags_left(ctx):
    """p3 has two tags: a third VN gets NO_TAGS; freeing one makes room."""
    hv = ctx.hv(IF_SMALL)
    vns = [ctx.fresh_vn() for _ in range(3)]
    vnics = [new_vnic() for _ in range(3)]
    a = expect_ok(hv.call(N.VN_CONNECT, vnic=vnics[0], vn=vns[0][1]), "1st")
    b = expect_ok(hv.call(N.VN_CONNECT, vnic=vnics[1], vn=vns[1][1]), "2nd")
    check({a.tag, b.tag} == {500, 501}, "p3 tags %d, %d, expected 500, 501"
          % (a.tag, b.tag))
    c = hv.call(N.VN_CONNECT, vnic=vnics[2], vn=vns[2][1])
    expect_status(c, N.ST_NO_TAGS, "3rd VN on a 2-tag port")
    c = hv.call(N.ASSOC, vnic=vnics[2], vn=vns[2][1],
                addrs=[(vm_mac(), "10.11.0.1")])
    expect_status(c, N.ST_NO_TAGS, "ASSOC, 3rd VN on a 2-tag port")
    # A further VNIC on an existing VN shares its tag: no new tag needed.
    d = expect_ok(hv.call(N.VN_CONNECT, vnic=vnics[2], vn=vns[0][1]),
                  "another VNIC of VN 1")
    check(d.tag == a.tag, "shared tag %d != %d" % (d.tag, a.tag))
    expect_status(hv.call(N.VNIC_DISASSOC, vnic=vnics[1],
                          intent=N.INTENT_SHUTDOWN), N.ST_OK, "free VN 2")
    v4 = new_vnic()
    c = expect_ok(hv.call(N.VN_CONNECT, vnic=v4, vn=vns[2][1]),
                  "3rd VN after a tag was freed")
    check(c.tag == b.tag, "freed tag %d, got %d" % (b.tag, c.tag))
    # Leave p3 empty for later tests.
    hv.transact([hv.req(N.VNIC_DISASSOC, vnic=x, intent=N.INTENT_SHUTDOWN)
                 for x in (vnics[0], vnics[2], v4)])


@test
def limit_addresses_per_vnic(ctx):
    """max-addresses-per-vnic counts each MAC and each IP entry
    (nve-agent.conf(5)); beyond it LIMIT, and the refused request has no
    effect (section 7)."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v, m = new_vnic(), vm_mac()
    # One MAC + limit IPs = limit + 1 entries.
    addrs = [(m, "10.12.0.%d" % i) for i in range(1, MAX_ADDRS_PER_VNIC + 1)]
    r = hv.call(N.ASSOC, vnic=v, vn=vni, addrs=addrs)
    expect_status(r, N.ST_LIMIT, "ASSOC of 1 MAC + %d IPs (limit %d entries)"
                  % (len(addrs), MAX_ADDRS_PER_VNIC))
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v),
          "refused ASSOC left the VNIC connected")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None,
          "refused ASSOC allocated a tag")
    # Up to the limit is fine, one more is refused, the earlier ones stay.
    expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni,
                      addrs=addrs[:MAX_ADDRS_PER_VNIC - 1]),
              "ASSOC of exactly the limit")
    r = hv.call(N.ASSOC, vnic=v, vn=vni, addrs=addrs[MAX_ADDRS_PER_VNIC - 1:])
    expect_status(r, N.ST_LIMIT, "one address over the limit")
    e = vnic_entries(ctx.ctl.vnics(port="p2"), v)
    ips = set(e[0].get("ips") or []) if e else set()
    want = {"10.12.0.%d" % i for i in range(1, MAX_ADDRS_PER_VNIC)}
    check(ips == want, "after the refused address the VNIC has %s"
          % sorted(ips))


@test
def more_than_64_addresses_is_limit(ctx):
    """E_TOOMANY: more than 64 addresses in one message -> LIMIT."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = hv.call(N.ASSOC, vnic=v, vn=vni,
                addrs=[("02:77:00:00:00:%02x" % i,) for i in range(1, 66)])
    expect_status(r, N.ST_LIMIT, "ASSOC with 65 addresses")
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v), "applied")


@test
def limit_vnics_per_hypervisor(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    vnics = [new_vnic() for _ in range(MAX_VNICS_PER_HV + 1)]
    resps = []
    for i in range(0, len(vnics), 20):
        reqs = [hv.req(N.VN_CONNECT, vnic=v, vn=vni)
                for v in vnics[i:i + 20]]
        resps += hv.transact(reqs, timeout=3.0)
    for i, r in enumerate(resps[:MAX_VNICS_PER_HV]):
        expect_ok(r, "VNIC %d of %d" % (i + 1, MAX_VNICS_PER_HV))
    expect_status(resps[-1], N.ST_LIMIT, "VNIC %d (limit %d per hypervisor)"
                  % (len(vnics), MAX_VNICS_PER_HV))
    reqs = [hv.req(N.VNIC_DISASSOC, vnic=v, intent=N.INTENT_SHUTDOWN)
            for v in vnics]
    for i in range(0, len(reqs), 30):
        hv.transact(reqs[i:i + 30], timeout=3.0)


@test
def conflict_vnic_on_two_vns(ctx):
    """One VN per VNIC per port: the same VNIC on another VN -> CONFLICT."""
    hv = ctx.hv(IF_DIRECT)
    (_, vni1, _), (_, vni2, _) = ctx.fresh_vn(), ctx.fresh_vn()
    v = new_vnic()
    expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni1), "connect VN 1")
    r = hv.call(N.VN_CONNECT, vnic=v, vn=vni2)
    expect_status(r, N.ST_CONFLICT, "same VNIC to a second VN")
    r = hv.call(N.ASSOC, vnic=v, vn=vni2, addrs=[(vm_mac(),)])
    expect_status(r, N.ST_CONFLICT, "ASSOC same VNIC to a second VN")
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni2) is None,
          "refused connect allocated a tag")


@test
def conflict_mac_of_another_vnic(ctx):
    hv = ctx.hv(IF_DIRECT)
    other = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    m = vm_mac()
    v1, v2 = new_vnic(), new_vnic()
    expect_ok(hv.call(N.ASSOC, vnic=v1, vn=vni, addrs=[(m, "10.13.0.1")]),
              "ASSOC by VNIC 1")
    r = hv.call(N.ASSOC, vnic=v2, vn=vni, addrs=[(m, "10.13.0.2")])
    expect_status(r, N.ST_CONFLICT, "same MAC by another VNIC")
    r = other.call(N.ASSOC, vnic=v2, vn=vni, addrs=[(m,)])
    expect_status(r, N.ST_CONFLICT, "same MAC by another VNIC elsewhere")
    d = dump(vnic_entries(ctx.ctl.vnics(), v2))
    check(m not in d, "conflicting MAC recorded for VNIC 2: %s" % d)


def _sub_raw(t, value):
    return struct.pack("!HH", t, len(value)) + value


def _raw_request(mtype, txid, subs_raw):
    body = struct.pack("!I", txid) + subs_raw
    return N.NVDPMsg(type=mtype, value=body)


@test
def malformed_requests_answered(ctx):
    """A request whose txid is readable but whose content is bad gets
    RESPONSE MALFORMED with that txid; the rest of the frame is processed."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    vnic = N._u(new_vnic()).bytes
    vni_ok = _sub_raw(N.S_VNI, struct.pack("!I", vni))
    cases = [
        ("VN_CONNECT without VNIC", N.VN_CONNECT, vni_ok),
        ("VN_CONNECT without VN", N.VN_CONNECT, _sub_raw(N.S_VNIC, vnic)),
        ("VNIC of 15 bytes", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic[:15]) + vni_ok),
        ("VNI of 3 bytes", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic) + _sub_raw(N.S_VNI, b"\x00\x27\x10")),
        ("VNI over 24 bits", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic) + _sub_raw(N.S_VNI, b"\x01\x00\x00\x01")),
        ("sub-TLV length past the message", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic) + struct.pack("!HH", N.S_VNI, 40) +
         struct.pack("!I", vni)),
        ("VNI twice", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic) + vni_ok + vni_ok),
        ("TAG_HINT 4095", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_TAG_HINT, b"\x0f\xff")),
        ("ADDR_IP4 of 9 bytes", N.ASSOC,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_ADDR_IP4, b"\x02" * 9)),
        ("INTENT 7", N.VNIC_DISASSOC,
         _sub_raw(N.S_VNIC, vnic) + _sub_raw(N.S_INTENT, b"\x07")),
        ("STATE 0", N.VNIC_STATE,
         _sub_raw(N.S_VNIC, vnic) + _sub_raw(N.S_STATE, b"\x00")),
        ("PHASE 9", N.RESYNC, _sub_raw(N.S_PHASE, b"\x09")),
        ("group MAC address", N.ASSOC,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_ADDR_MAC, bytes.fromhex("01005e000001"))),
        ("all-zero MAC address", N.ASSOC,
         _sub_raw(N.S_VNIC, vnic) + vni_ok + _sub_raw(N.S_ADDR_MAC, b"\0" * 6)),
        ("prefix with host bits", N.ASSOC,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_ADDR_PFX4, bytes.fromhex("020000000001") +
                  bytes([10, 1, 0, 5, 24]))),
        ("prefix length 33", N.ASSOC,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_ADDR_PFX4, bytes.fromhex("020000000001") +
                  bytes([10, 1, 0, 0, 33]))),
        ("range first > last", N.ASSOC,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_ADDR_RNG4, bytes.fromhex("020000000001") +
                  bytes([10, 1, 0, 9, 10, 1, 0, 1]))),
        ("DISASSOC without address", N.DISASSOC,
         _sub_raw(N.S_VNIC, vnic) + vni_ok),
        ("VNIC_DISASSOC without INTENT", N.VNIC_DISASSOC,
         _sub_raw(N.S_VNIC, vnic)),
        ("VNI and VN_UUID", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_VN_UUID, N._u(u).bytes)),
        ("TAG_HINT 0", N.VN_CONNECT,
         _sub_raw(N.S_VNIC, vnic) + vni_ok +
         _sub_raw(N.S_TAG_HINT, b"\x00\x00")),
    ]
    from test_e_malformed import counters, grown
    c0 = counters(ctx)
    for what, mt, raw in cases:
        t = hv.next_txid()
        ok = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=vni)
        hv.send([_raw_request(mt, t, raw), ok])
        got = hv.responses([t, ok.txid])
        bad = got[t][0]
        expect_status(bad, N.ST_MALFORMED, what)
        check(bad.req_type == mt, "%s: req_type %#x" % (what, bad.req_type))
        expect_ok(got[ok.txid][0], "valid request after '%s'" % what)
    check(not vnic_entries(ctx.ctl.vnics(), str(N._u(vnic.hex()))),
          "a malformed request changed state")
    c1 = counters(ctx)
    n = c1.get("nvdp.global.rx_msg_errors", 0) - \
        c0.get("nvdp.global.rx_msg_errors", 0)
    check(grown(c0, c1, r"rx_msg_errors"),
          "message errors not counted (rx_msg_errors)")


@test
def sub_tlv_not_allowed_unsupported(ctx):
    """A known sub-TLV that the message does not allow -> UNSUPPORTED
    (section 5), e.g. VNIC in RESYNC or TAG in VN_CONNECT."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    r = hv.call(N.RESYNC, phase=N.RESYNC_BEGIN, extra=[
        N.SubVNIC(uuid=N._u(new_vnic()))])
    expect_status(r, N.ST_UNSUPPORTED, "RESYNC carrying VNIC")
    v = new_vnic()
    r = hv.call(N.VN_CONNECT, vnic=v, vn=vni, tag=300)
    expect_status(r, N.ST_UNSUPPORTED, "VN_CONNECT carrying TAG")
    check(not vnic_entries(ctx.ctl.vnics(), v), "UNSUPPORTED request applied")


@test
def wrong_direction_unsupported(ctx):
    """WITHDRAW is NVE -> hypervisor: one from a hypervisor -> UNSUPPORTED."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "connect")
    r = hv.call(N.WITHDRAW, vnic=v, vn=vni, reason="hv says so")
    expect_status(r, N.ST_UNSUPPORTED, "WITHDRAW sent by a hypervisor")
    check(vnic_entries(ctx.ctl.vnics(port="p2"), v),
          "WITHDRAW from a hypervisor removed state")


@test
def unknown_mandatory_sub_tlv_unsupported(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = hv.call(N.VN_CONNECT, vnic=v, vn=vni,
                extra=[N.NVDPSub(type=0x81F0, value=b"\x01\x02")])
    expect_status(r, N.ST_UNSUPPORTED, "unknown mandatory sub-TLV 0x81F0")
    check(not vnic_entries(ctx.ctl.vnics(), v), "UNSUPPORTED request applied")


@test
def unknown_optional_tlvs_skipped(ctx):
    """Unknown TLVs without the M bit are skipped, at both levels."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    r = hv.req(N.VN_CONNECT, vnic=v, vn=vni,
               extra=[N.NVDPSub(type=0x01F0, value=b"future"),
                      N.NVDPSub(type=0x0101, value=b"")])
    hv.send([N.NVDPMsg(type=0x0042, value=b"\x00" * 9), r,
             N.NVDPMsg(type=0x7FFF, value=b"")])
    resp = hv.responses([r.txid])[r.txid][0]
    expect_ok(resp, "request with unknown optional sub-TLVs")
    check(vnic_entries(ctx.ctl.vnics(port="p2"), v), "request not applied")


@test
def unknown_mandatory_message_unsupported(ctx):
    """An unknown message type with the M bit: RESPONSE UNSUPPORTED with
    req_type = that type and the txid from its first 4 bytes (section 4);
    later messages of the frame are still processed."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    t = hv.next_txid()
    ok = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=vni)
    hv.send([N.NVDPMsg(type=0x8070, value=struct.pack("!I", t) + b"xx"), ok])
    got = hv.responses([t, ok.txid])
    expect_status(got[t][0], N.ST_UNSUPPORTED, "unknown mandatory message")
    check(got[t][0].req_type == 0x8070, "req_type %#x, expected 0x8070"
          % got[t][0].req_type)
    expect_ok(got[ok.txid][0], "request after an unknown mandatory message")


@test
def conflict_mac_across_ports(ctx):
    """A MAC associated in a VN by a VNIC on one port cannot be associated
    by another VNIC on another port (section 9.4: any port of this NVE)."""
    from nvdptest import IF_BR1
    a = ctx.hv(IF_BR1)
    b = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    m = vm_mac()
    expect_ok(a.call(N.ASSOC, vnic=new_vnic(), vn=vni, addrs=[(m,)]),
              "ASSOC on p1")
    v2 = new_vnic()
    r = b.call(N.ASSOC, vnic=v2, vn=vni, addrs=[(m, "10.14.0.1")])
    expect_status(r, N.ST_CONFLICT, "same MAC by another VNIC on p2")
    check(not vnic_entries(ctx.ctl.vnics(port="p2"), v2), "refused ASSOC "
          "left state on p2")


@test
def limit_vnics_per_port(ctx):
    """A port's max-vnics bounds the VNICs of all its hypervisors: beyond
    it LIMIT (section 9.4)."""
    from nvdptest import P3_MAX_VNICS
    a = ctx.hv(IF_SMALL)
    b = ctx.hv(IF_SMALL)
    name, vni, u = ctx.fresh_vn()
    # 6 and 4 of 10: b stays below its fair share (7/8 of 10 over two
    # hypervisors) when the port is crowded, so it gets the last eighth
    va = [new_vnic() for _ in range(P3_MAX_VNICS * 3 // 5)]
    vb = [new_vnic() for _ in range(P3_MAX_VNICS - len(va))]
    for hv, vs in ((a, va), (b, vb)):
        for r in hv.transact([hv.req(N.VN_CONNECT, vnic=v, vn=vni)
                              for v in vs]):
            expect_ok(r, "VNIC within the port limit")
    v = new_vnic()
    r = b.call(N.VN_CONNECT, vnic=v, vn=vni)
    expect_status(r, N.ST_LIMIT, "VNIC %d on a port with max-vnics %d"
                  % (P3_MAX_VNICS + 1, P3_MAX_VNICS))
    check(not vnic_entries(ctx.ctl.vnics(port="p3"), v), "refused VNIC "
          "recorded")
    # Leave p3 empty for later tests.
    for hv, vs in ((a, va), (b, vb)):
        hv.transact([hv.req(N.VNIC_DISASSOC, vnic=x,
                            intent=N.INTENT_SHUTDOWN) for x in vs])
