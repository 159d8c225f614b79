# golden_frames.py - checks protocol-spec/frames/ with the Scapy layer: every
# golden frame is rebuilt from field values and compared byte for byte, then
# parsed back; every malformed frame is rejected the way its header says.
"""Usage: golden_frames.py [FRAMES-DIR]   (no root needed)

Each protocol-spec/frames/*.hex file has a builder here (a frame without
one is a failure: the table must grow with the spec).  For
frames/malformed/*.hex the expected decoder outcome is read from the
file's "expect:" comment and checked against nvdp.validate(), a second
implementation of the receiver's rules; those frames are rebuilt from field
values too.
"""

import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvdp as N  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

NVE_MAC = "02:00:00:00:00:01"
HV_MAC = "02:00:00:00:01:01"
HV_EP = 0x11223344
NVE_EP = 0x55667788
VNIC_A = "6f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6b"
VNIC_B = "6f1c3e2a-8b4d-4e5f-9a0b-1c2d3e4f5a6c"
VN_U = "3b241101-e2bb-4255-8caf-4136c566a962"
VM = "52:54:00:12:34:56"
VNI = 10100


def hv(msgs, dst=NVE_MAC, peer=NVE_EP, flags=0, **kw):
    return N.frame(HV_MAC, dst, HV_EP, peer, msgs, flags=flags, **kw)


def nve(msgs, dst=HV_MAC, peer=HV_EP):
    return N.frame(NVE_MAC, dst, NVE_EP, peer, msgs)


def vnic(u=VNIC_A):
    return N.SubVNIC(uuid=N._u(u))


def vni(x=VNI):
    return N.SubVNI(vni=x)


def vnuuid():
    return N.SubVNUUID(uuid=N._u(VN_U))


def req(t, txid, *subs):
    return N.NVDPRequest(type=t, txid=txid, subs=list(subs))


def resp(txid, status, rt, *subs):
    return N.NVDPResponse(txid=txid, status=status, req_type=rt,
                          subs=list(subs))


def reason(s):
    return N.SubReason(text=s.encode())


def hello_hv():
    return N.NVDPHello(role=N.ROLE_HV, hflags=0, hold_time=10,
                       hello_interval=1000, window=256,
                       subs=[N.SubName(text=b"hv1")])


def hello_nve():
    return N.NVDPHello(role=N.ROLE_NVE, hflags=0, hold_time=10,
                       hello_interval=1000, window=256,
                       subs=[N.SubName(text=b"tor1")])


def ip4(ip, mac=VM):
    return N.SubAddrIP4(mac=mac, ip=ip)


def resync(txid, phase):
    return req(N.RESYNC, txid, N.SubPhase(phase=phase))


def auth():
    return N.NVDPAuth(key_id=1, reserved=0, replay_hi=0, replay_lo=42,
                      hmac=bytes(range(32)))


# Key 1 of the signed golden frames (spec 19) and their first counter.
KEY1 = bytes(range(32))
CTR = 0x0005F1E2D3C4B5A6


def signed(pkt, ctr=CTR):
    return N.auth_sign(bytes(pkt), KEY1, 1, ctr)


def auth_not_last():
    """A signed HELLO, then another HELLO after the AUTH TLV."""
    b = bytearray(signed(hv([hello_hv()])))
    extra = bytes(hello_hv())
    b += extra
    struct.pack_into("!H", b, 16, struct.unpack("!H", b[16:18])[0] +
                     len(extra))
    return bytes(b)


def raw_tlv(t, value, length=None):
    return N.NVDPMsg(type=t, length=length, value=value)


def raw_sub(t, value, length=None):
    return N.NVDPSub(type=t, length=length, value=value)


def with_hdr_len(f, length):
    f[N.NVDP].length = length
    return f


def cut(f, nbytes):
    """Frame bytes cut to nbytes (Ethernet header included)."""
    return bytes(f)[:nbytes]


# ---- builders: file name -> frame (Scapy packet or bytes) --------------------
GOLDEN = {
    "hello-nve.hex": lambda: nve([hello_nve()], dst=N.GROUP_MAC, peer=0),
    "hello-nve-nostate.hex": lambda: nve([hello_nve()], peer=0),
    "hello-hv-group.hex": lambda: hv([hello_hv()], dst=N.GROUP_MAC, peer=0),
    "hello-hv.hex": lambda: hv([hello_hv()]),
    "vn-connect-vni.hex": lambda: hv([req(N.VN_CONNECT, 1, vnic(), vni())]),
    "vn-connect-uuid-hint.hex": lambda: hv([req(
        N.VN_CONNECT, 2, vnic(), vnuuid(), N.SubTagHint(tag=100))]),
    "vn-disconnect.hex": lambda: hv([req(N.VN_DISCONNECT, 3, vnic(),
                                         vni())]),
    "assoc-mac.hex": lambda: hv([req(N.ASSOC, 4, vnic(), vni(),
                                     N.SubAddrMAC(mac=VM))]),
    "assoc-all-kinds.hex": lambda: hv([req(
        N.ASSOC, 5, vnic(), vnuuid(), N.SubTagHint(tag=100),
        N.SubAddrMAC(mac=VM), ip4("10.1.0.5"),
        N.SubAddrIP6(mac=VM, ip="2001:db8:100::5"),
        N.SubAddrPfx4(mac=VM, ip="10.1.0.0", plen=24),
        N.SubAddrPfx6(mac=VM, ip="2001:db8:100::", plen=64),
        N.SubAddrRng4(mac=VM, first="10.1.0.10", last="10.1.0.20"),
        N.SubAddrRng6(mac=VM, first="2001:db8:100::10",
                      last="2001:db8:100::20"))]),
    "disassoc.hex": lambda: hv([req(N.DISASSOC, 6, vnic(), vni(),
                                    ip4("10.1.0.5"))]),
    "vnic-disassoc-shutdown.hex": lambda: hv([req(
        N.VNIC_DISASSOC, 7, vnic(), N.SubIntent(intent=N.INTENT_SHUTDOWN))]),
    "vnic-disassoc-migration.hex": lambda: hv([req(
        N.VNIC_DISASSOC, 8, vnic(),
        N.SubIntent(intent=N.INTENT_MIGRATION))]),
    "preassoc.hex": lambda: hv([req(N.PREASSOC, 9, vnic(), vni(),
                                    ip4("10.1.0.5"))]),
    "preassoc-rr.hex": lambda: hv([req(N.PREASSOC, 10, vnic(), vni(),
                                       N.SubFlags(flags=N.RF_RR),
                                       ip4("10.1.0.5"))]),
    "vnic-state-down.hex": lambda: hv([req(N.VNIC_STATE, 11, vnic(),
                                           N.SubState(state=N.VNIC_DOWN))]),
    "vnic-state-up.hex": lambda: hv([req(N.VNIC_STATE, 12, vnic(),
                                         N.SubState(state=N.VNIC_UP))]),
    "resync-begin.hex": lambda: hv([resync(13, N.RESYNC_BEGIN)]),
    "resync-end.hex": lambda: hv([resync(14, N.RESYNC_END)]),
    "resync-end-padded.hex": lambda: hv([resync(14, N.RESYNC_END)]) /
    Raw(b"\x00" * 21),
    "replay-assoc.hex": lambda: hv([req(N.ASSOC, 15, vnic(), vni(),
                                        N.SubTagHint(tag=100),
                                        N.SubAddrMAC(mac=VM),
                                        ip4("10.1.0.5"))]),
    "batch-hv.hex": lambda: hv([
        req(N.VN_CONNECT, 20, vnic(), vni()),
        req(N.ASSOC, 21, vnic(), vni(), N.SubAddrMAC(mac=VM),
            ip4("10.1.0.5")),
        req(N.ASSOC, 22, vnic(VNIC_B), vni(),
            ip4("10.1.0.6", mac="52:54:00:12:34:57")),
        req(N.VNIC_STATE, 23, vnic(), N.SubState(state=N.VNIC_UP))]),
    "batch-nve.hex": lambda: nve([
        resp(20, N.ST_OK, N.VN_CONNECT, N.SubTag(tag=100)),
        resp(21, N.ST_OK, N.ASSOC, N.SubTag(tag=100)),
        resp(22, N.ST_OK, N.ASSOC, N.SubTag(tag=100)),
        resp(23, N.ST_OK, N.VNIC_STATE)]),
    "response-ok.hex": lambda: nve([resp(3, N.ST_OK, N.VN_DISCONNECT)]),
    "response-ok-tag.hex": lambda: nve([resp(4, N.ST_OK, N.ASSOC,
                                             N.SubTag(tag=100))]),
    "response-unknown-vn.hex": lambda: nve([resp(
        1, N.ST_UNKNOWN_VN, N.VN_CONNECT, reason("unknown vn vni:10100"))]),
    "response-not-authorised.hex": lambda: nve([resp(
        4, N.ST_NOT_AUTHORISED, N.ASSOC,
        reason("hypervisor 02:00:00:00:01:01 not allowed on port p1"))]),
    "response-no-tags.hex": lambda: nve([resp(
        2, N.ST_NO_TAGS, N.VN_CONNECT, reason("no free tag on port p1"))]),
    "response-limit.hex": lambda: nve([resp(
        5, N.ST_LIMIT, N.ASSOC, reason("too many addresses for vnic"))]),
    "response-conflict.hex": lambda: nve([resp(
        5, N.ST_CONFLICT, N.ASSOC,
        reason("mac 52:54:00:12:34:56 owned by another vnic"))]),
    "response-malformed.hex": lambda: nve([resp(
        30, N.ST_MALFORMED, N.ASSOC, reason("bad length"))]),
    "response-unsupported.hex": lambda: nve([resp(
        31, N.ST_UNSUPPORTED, 0x8070, reason("unknown mandatory TLV"))]),
    "response-withdraw-ok.hex": lambda: hv([resp(1, N.ST_OK, N.WITHDRAW)]),
    "withdraw-vnic.hex": lambda: nve([req(
        N.WITHDRAW, 1, vnic(), vni(), N.SubTag(tag=100),
        reason("removed by operator"))]),
    "withdraw-vn.hex": lambda: nve([req(N.WITHDRAW, 2, vnuuid(),
                                        reason("vn deleted"))]),
    "auth-reserved.hex": lambda: hv([hello_hv(), auth()], flags=N.HF_AUTH),
    "auth-hello.hex": lambda: signed(hv([hello_hv()])),
    "auth-assoc.hex": lambda: signed(hv([req(N.ASSOC, 4, vnic(), vni(),
                                            N.SubAddrMAC(mac=VM))]),
                                     CTR + 1),
}

MALFORMED = {
    "auth-missing.hex": lambda: hv([hello_hv()], flags=N.HF_AUTH),
    "auth-unannounced.hex": lambda: hv([hello_hv(), auth()]),
    "auth-not-last.hex": auth_not_last,
    "auth-truncated.hex": lambda: signed(hv([hello_hv()]))[:-10],
    "bad-intent.hex": lambda: hv([req(N.VNIC_DISASSOC, 39, vnic(),
                                      N.SubIntent(intent=3))]),
    "bad-prefix.hex": lambda: hv([req(N.ASSOC, 40, vnic(), vni(),
                                      N.SubAddrPfx4(mac=VM, ip="10.1.0.5",
                                                    plen=24))]),
    "bad-sub-length.hex": lambda: hv([
        req(N.ASSOC, 30, vnic(), raw_sub(N.S_VNI, b"\x00\x27\x74")),
        resync(13, N.RESYNC_BEGIN)]),
    "bad-tag-0.hex": lambda: nve([resp(4, N.ST_OK, N.ASSOC,
                                       N.SubTag(tag=0))]),
    "bad-tag-4095.hex": lambda: hv([req(N.VN_CONNECT, 37, vnic(), vni(),
                                        N.SubTagHint(tag=4095))]),
    "bad-tlv-length.hex": lambda: hv([N.NVDPRequest(
        type=N.RESYNC, length=40, txid=13,
        subs=[N.SubPhase(phase=N.RESYNC_BEGIN)])]),
    "bad-vni.hex": lambda: hv([req(N.VN_CONNECT, 38, vnic(),
                                   vni(0x01000000))]),
    "dup-vn.hex": lambda: hv([req(N.VN_CONNECT, 34, vnic(), vni(),
                                  vnuuid())]),
    "dup-vnic.hex": lambda: hv([req(N.VN_CONNECT, 33, vnic(), vni(),
                                    vnic(VNIC_B))]),
    "group-mac-addr.hex": lambda: hv([req(N.ASSOC, 41, vnic(), vni(),
                                          N.SubAddrMAC(
                                              mac="01:00:5e:00:00:01"))]),
    "missing-addr.hex": lambda: hv([req(N.DISASSOC, 36, vnic(), vni())]),
    "missing-vnic.hex": lambda: hv([req(N.ASSOC, 35, vni(),
                                        N.SubAddrMAC(mac=VM))]),
    "oversize.hex": lambda: hv([raw_tlv(0x0071, b"\x00" * 9201)]),
    "short-txid.hex": lambda: hv([raw_tlv(N.ASSOC, b"\x00\x01")]),
    "sub-not-allowed.hex": lambda: hv([req(N.RESYNC, 42,
                                           N.SubPhase(phase=1), vnic())]),
    "too-many-addrs.hex": lambda: hv([req(
        N.ASSOC, 32, vnic(), vni(),
        *[N.SubAddrMAC(mac="52:54:00:00:00:%02x" % i)
          for i in range(1, 66)])]),
    "trailing-garbage.hex": lambda: hv([resync(13, N.RESYNC_BEGIN)]) /
    Raw(b"\x80\x0a"),
    "truncated-frame.hex": lambda: cut(with_hdr_len(
        hv([resync(13, N.RESYNC_BEGIN)]), 13), 14 + 12 + 8),
    "truncated-header.hex": lambda: cut(with_hdr_len(
        hv([resync(13, N.RESYNC_BEGIN)]), 13), 14 + 8),
    "unknown-mandatory-msg.hex": lambda: hv([raw_tlv(
        0x8070, struct.pack("!I", 31) + b"\xaa\xbb")]),
    "unknown-mandatory-sub.hex": lambda: hv([req(
        N.ASSOC, 30, vnic(), vni(), raw_sub(0x81F0, b"\x01\x02\x03"))]),
    "unknown-optional-msg.hex": lambda: hv([
        raw_tlv(0x0070, struct.pack("!I", 99) + b"\xaa"),
        resync(13, N.RESYNC_BEGIN)]),
    "unknown-optional-sub.hex": lambda: hv([req(
        N.ASSOC, 4, vnic(), vni(), raw_sub(0x01F0, b"\x01\x02\x03"),
        N.SubAddrMAC(mac=VM))]),
    "wrong-version.hex": lambda: hv_v(2),
    "zero-epoch.hex": lambda: zero_epoch(),
}


def hv_v(version):
    f = hv([resync(13, N.RESYNC_BEGIN)])
    f[N.NVDP].version = version
    return f


def zero_epoch():
    f = hv([resync(13, N.RESYNC_BEGIN)])
    f[N.NVDP].epoch = 0
    return f


def trailing_fix():
    """trailing-garbage: the 2 raw bytes are inside the TLV area."""
    f = hv([resync(13, N.RESYNC_BEGIN)])
    b = bytearray(bytes(f) + b"\x80\x0a")
    struct.pack_into("!H", b, 14 + 2, 15)
    return bytes(b)


MALFORMED["trailing-garbage.hex"] = trailing_fix


def read_hex(path):
    """Bytes of a .hex file: hex pairs, '#' starts a comment."""
    out = bytearray()
    head = []
    with open(path) as fp:
        for line in fp:
            code, _, comment = line.partition("#")
            if not code.strip() and comment and not out:
                head.append(comment.strip())
            out += bytes.fromhex("".join(code.split()))
    return bytes(out), " ".join(head)


def canon(pkt):
    """Field values of a parsed frame, lengths included."""
    e = Ether(bytes(pkt)) if not isinstance(pkt, Ether) else pkt
    h = e[N.NVDP]
    msgs = []
    for m in h.msgs:
        subs = [(s.__class__.__name__,
                 tuple((f.name, s.getfieldval(f.name))
                       for f in s.fields_desc))
                for s in getattr(m, "subs", [])]
        fixed = tuple((f.name, m.getfieldval(f.name)) for f in m.fields_desc
                      if f.name != "subs")
        msgs.append((m.__class__.__name__, fixed, tuple(subs)))
    return (e.dst, e.src, e.type, h.version, int(h.flags), h.length,
            h.epoch, h.peer_epoch, tuple(msgs))


def check_golden(path, build, fails):
    name = os.path.basename(path)
    raw, _ = read_hex(path)
    built = build()
    b = bytes(built)
    if b != raw:
        n = next((i for i in range(min(len(b), len(raw)))
                  if b[i] != raw[i]), min(len(b), len(raw)))
        fails.append("%s: built %d bytes != golden %d bytes, first "
                     "difference at offset %d (built %s, golden %s)"
                     % (name, len(b), len(raw), n, b[n:n + 8].hex(),
                        raw[n:n + 8].hex()))
        return
    parsed = Ether(raw)
    if bytes(parsed) != raw:
        fails.append("%s: parse + rebuild changed the bytes" % name)
        return
    if canon(parsed) != canon(Ether(b)):
        fails.append("%s: parsed fields differ from the built ones" % name)
        return
    # The parsed frame holds exactly the field values the builder used.
    if N.NVDP not in parsed or not parsed[N.NVDP].msgs:
        fails.append("%s: no NVDP message parsed" % name)
        return
    for m in parsed[N.NVDP].msgs:
        if type(m) is N.NVDPMsg:
            fails.append("%s: message %#x parsed as raw" % (name, m.type))
        for s in getattr(m, "subs", []):
            if type(s) is N.NVDPSub:
                fails.append("%s: sub-TLV %#x parsed as raw" % (name, s.type))
    # Signed frames carry a real HMAC with key 1 (spec 19); any bit
    # changed in what it covers breaks it.
    if name.startswith("auth-") and name != "auth-reserved.hex":
        if not N.auth_verify(raw, {1: KEY1}):
            fails.append("%s: HMAC does not verify with key 1" % name)
        for off in (0, 6, 14 + 4, len(raw) - 40):
            bent = bytearray(raw)
            bent[off] ^= 1
            if N.auth_verify(bytes(bent), {1: KEY1}):
                fails.append("%s: byte %d not covered by the HMAC"
                             % (name, off))
    err, res, _ = N.validate(raw[14:])
    bad = [r for r in res if r[2]]
    if err or bad:
        fails.append("%s: validator rejects a golden frame: %s %s"
                     % (name, err, bad))


def expected_outcome(head):
    """From 'expect: frame_open E_X' or 'expect: next ... E_X ...'."""
    m = re.search(r"expect:\s*(.*)", head)
    if not m:
        return None, None
    text = m.group(1)
    errs = re.findall(r"E_[A-Z]+", text)
    if text.startswith("frame_open"):
        return "open", errs[0] if errs else None
    return "next", errs[0] if errs else None


def check_malformed(path, build, fails):
    name = "malformed/" + os.path.basename(path)
    raw, head = read_hex(path)
    b = bytes(build())
    if b != raw:
        n = next((i for i in range(min(len(b), len(raw)))
                  if b[i] != raw[i]), min(len(b), len(raw)))
        fails.append("%s: built %d bytes != golden %d bytes at offset %d"
                     % (name, len(b), len(raw), n))
    where, want = expected_outcome(head)
    if where is None:
        fails.append("%s: no 'expect:' in the header comment" % name)
        return
    err, res, skipped = N.validate(raw[14:])
    if where == "open":
        if err != want:
            fails.append("%s: validator frame error %s, spec expects %s"
                         % (name, err, want))
        return
    if err:
        fails.append("%s: validator rejects the header (%s), spec expects "
                     "message-level %s" % (name, err, want))
        return
    got = next((r[2] for r in res if r[2]), None)
    if got != want:
        fails.append("%s: validator first message error %s, spec expects %s"
                     " (results %s)" % (name, got, want, res))
    # Where the spec names the txid of the failing request, it is readable.
    m = re.search(r"txid (\d+)\)", head)
    if m and want:
        t = [r for r in res if r[2] == want]
        if t and t[0][1] != int(m.group(1)):
            fails.append("%s: txid %d, spec says %s" % (name, t[0][1],
                                                       m.group(1)))
    if "skipped 1" in head and skipped != 1:
        fails.append("%s: skipped %d, expected 1" % (name, skipped))


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    d = argv[1] if len(argv) > 1 else os.path.join(
        here, "..", "..", "protocol-spec", "frames")
    fails = []
    files = sorted(f for f in os.listdir(d) if f.endswith(".hex"))
    mdir = os.path.join(d, "malformed")
    mfiles = sorted(f for f in os.listdir(mdir) if f.endswith(".hex")) \
        if os.path.isdir(mdir) else []
    if not files:
        print("FAIL: no golden frames in %s" % d)
        return 1
    n = 0
    for f in files:
        n += 1
        if f not in GOLDEN:
            fails.append("%s: no builder in golden_frames.py" % f)
            continue
        check_golden(os.path.join(d, f), GOLDEN[f], fails)
    for f in mfiles:
        n += 1
        if f not in MALFORMED:
            fails.append("malformed/%s: no builder in golden_frames.py" % f)
            continue
        check_malformed(os.path.join(mdir, f), MALFORMED[f], fails)
    for k in sorted(set(GOLDEN) - set(files)):
        fails.append("%s: builder for a frame the spec no longer has" % k)
    for f in fails:
        print("FAIL " + f)
    bad = {f.split(":")[0] for f in fails}
    print("%d passed, %d failed" % (n - len(bad & set(files + [
        "malformed/" + x for x in mfiles])), len(bad)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
