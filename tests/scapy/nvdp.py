# nvdp.py - a Scapy layer for NVDP, written from protocol-spec/nvdp.md.
# It is the independent second implementation of the wire format that the
# conformance and golden-frame tests use to keep the C codec honest.
"""NVDP for Scapy.

Layout (protocol-spec/nvdp.md, "Frame format"):

  Ether(type=0x88B5) / NVDP(version, flags, length, epoch, peer_epoch,
                             msgs=[TLV, ...])

Every TLV is type(2) length(2) value.  Bit 15 of the type is the M
(mandatory) bit: an unknown TLV with M set is rejected, without it skipped.
Top-level TLVs are messages; a request's value is txid(4) followed by
sub-TLVs; a RESPONSE is txid(4) status(2) req_type(2) then sub-TLVs; a HELLO
is role(1) flags(1) hold_time(2) hello_interval(2) window(2) then sub-TLVs.
"""

import hashlib
import hmac
import struct
import uuid as _uuid

from scapy.packet import Packet, bind_layers, Raw, Padding
from scapy.fields import (ByteField, ByteEnumField, FlagsField, IntField,
                          ShortField, ShortEnumField, PacketListField,
                          StrLenField, MACField, IPField, IP6Field,
                          UUIDField, XIntField)
from scapy.layers.l2 import Ether

ETHERTYPE = 0x88B5
GROUP_MAC = "03:4e:56:44:50:00"
VERSION = 1
HDR_LEN = 12
TLV_HLEN = 4
M_BIT = 0x8000
HF_AUTH = 0x01

# ---- message types ---------------------------------------------------------
HELLO = 0x8001
RESPONSE = 0x8002
VN_CONNECT = 0x8003
VN_DISCONNECT = 0x8004
ASSOC = 0x8005
DISASSOC = 0x8006
VNIC_DISASSOC = 0x8007
PREASSOC = 0x8008
WITHDRAW = 0x8009
RESYNC = 0x800A
VNIC_STATE = 0x800B
AUTH = 0x80FF

MSG_NAMES = {
    HELLO: "HELLO", RESPONSE: "RESPONSE", VN_CONNECT: "VN_CONNECT",
    VN_DISCONNECT: "VN_DISCONNECT", ASSOC: "ASSOC", DISASSOC: "DISASSOC",
    VNIC_DISASSOC: "VNIC_DISASSOC", PREASSOC: "PREASSOC",
    WITHDRAW: "WITHDRAW", RESYNC: "RESYNC", VNIC_STATE: "VNIC_STATE",
    AUTH: "AUTH",
}
REQUEST_TYPES = (VN_CONNECT, VN_DISCONNECT, ASSOC, DISASSOC, VNIC_DISASSOC,
                 PREASSOC, WITHDRAW, RESYNC, VNIC_STATE)

# ---- sub-TLV types ---------------------------------------------------------
S_VNIC = 0x8101
S_VN_UUID = 0x8102
S_VNI = 0x8103
S_TAG = 0x8104
S_TAG_HINT = 0x8105
S_INTENT = 0x8106
S_FLAGS = 0x8107
S_REASON = 0x8108
S_NAME = 0x8109
S_STATE = 0x810A
S_PHASE = 0x810B
S_ADDR_MAC = 0x8110
S_ADDR_IP4 = 0x8111
S_ADDR_IP6 = 0x8112
S_ADDR_PFX4 = 0x8113
S_ADDR_PFX6 = 0x8114
S_ADDR_RNG4 = 0x8115
S_ADDR_RNG6 = 0x8116

SUB_NAMES = {
    S_VNIC: "VNIC", S_VN_UUID: "VN_UUID", S_VNI: "VNI", S_TAG: "TAG",
    S_TAG_HINT: "TAG_HINT", S_INTENT: "INTENT", S_FLAGS: "FLAGS",
    S_REASON: "REASON", S_NAME: "NAME", S_STATE: "STATE",
    S_PHASE: "PHASE", S_ADDR_MAC: "ADDR_MAC", S_ADDR_IP4: "ADDR_IP4",
    S_ADDR_IP6: "ADDR_IP6", S_ADDR_PFX4: "ADDR_PFX4",
    S_ADDR_PFX6: "ADDR_PFX6", S_ADDR_RNG4: "ADDR_RNG4",
    S_ADDR_RNG6: "ADDR_RNG6",
}

# ---- enumerations ----------------------------------------------------------
ST_OK = 0
ST_UNKNOWN_VN = 1
ST_NOT_AUTHORISED = 2
ST_NO_TAGS = 3
ST_LIMIT = 4
ST_MALFORMED = 5
ST_UNSUPPORTED = 6
ST_NOT_CONNECTED = 7
ST_CONFLICT = 8
ST_UNKNOWN_VNIC = 9
ST_INTERNAL = 10
STATUS_NAMES = {
    ST_OK: "OK", ST_UNKNOWN_VN: "UNKNOWN_VN",
    ST_NOT_AUTHORISED: "NOT_AUTHORISED", ST_NO_TAGS: "NO_TAGS",
    ST_LIMIT: "LIMIT", ST_MALFORMED: "MALFORMED",
    ST_UNSUPPORTED: "UNSUPPORTED", ST_NOT_CONNECTED: "NOT_CONNECTED",
    ST_CONFLICT: "CONFLICT", ST_UNKNOWN_VNIC: "UNKNOWN_VNIC",
    ST_INTERNAL: "INTERNAL",
}
ROLE_HV = 1
ROLE_NVE = 2
ROLE_NAMES = {ROLE_HV: "HV", ROLE_NVE: "NVE"}
INTENT_SHUTDOWN = 1
INTENT_MIGRATION = 2
VNIC_DOWN = 1
VNIC_UP = 2
RESYNC_BEGIN = 1
RESYNC_END = 2
RF_RR = 0x00000001


class _TLV(Packet):
    """Common behaviour: an auto length and no payload (TLVs sit in lists,
    anything after the TLV goes back to the enclosing list)."""

    def post_build(self, p, pay):
        if self.length is None:
            p = p[:2] + struct.pack("!H", len(p) - TLV_HLEN) + p[4:]
        return p + pay

    def extract_padding(self, s):
        return b"", s

    @property
    def mandatory(self):
        return bool(self.type & M_BIT)


# ---- sub-TLVs --------------------------------------------------------------
class NVDPSub(_TLV):
    """Dispatching base for sub-TLVs; an unknown type parses as raw value."""
    name = "NVDP sub-TLV"
    fields_desc = [
        ShortEnumField("type", 0, SUB_NAMES),
        ShortField("length", None),
        StrLenField("value", b"", length_from=lambda p: p.length),
    ]

    @classmethod
    def dispatch_hook(cls, _pkt=None, *args, **kargs):
        if _pkt is not None and len(_pkt) >= 4:
            t, ln = struct.unpack("!HH", _pkt[:4])
            c = SUB_CLASSES.get(t)
            # A wrong length would make the typed class misparse; keep the
            # bytes visible as a raw TLV instead.
            if c is not None and _sub_len_ok(t, ln):
                return c
            return NVDPSub
        return cls


class SubVNIC(NVDPSub):
    name = "NVDP VNIC"
    fields_desc = [ShortEnumField("type", S_VNIC, SUB_NAMES),
                   ShortField("length", None),
                   UUIDField("uuid", None)]


class SubVNUUID(NVDPSub):
    name = "NVDP VN_UUID"
    fields_desc = [ShortEnumField("type", S_VN_UUID, SUB_NAMES),
                   ShortField("length", None),
                   UUIDField("uuid", None)]


class SubVNI(NVDPSub):
    name = "NVDP VNI"
    fields_desc = [ShortEnumField("type", S_VNI, SUB_NAMES),
                   ShortField("length", None),
                   IntField("vni", 0)]


class SubTag(NVDPSub):
    name = "NVDP TAG"
    fields_desc = [ShortEnumField("type", S_TAG, SUB_NAMES),
                   ShortField("length", None),
                   ShortField("tag", 0)]


class SubTagHint(NVDPSub):
    name = "NVDP TAG_HINT"
    fields_desc = [ShortEnumField("type", S_TAG_HINT, SUB_NAMES),
                   ShortField("length", None),
                   ShortField("tag", 0)]


class SubIntent(NVDPSub):
    name = "NVDP INTENT"
    fields_desc = [ShortEnumField("type", S_INTENT, SUB_NAMES),
                   ShortField("length", None),
                   ByteEnumField("intent", INTENT_SHUTDOWN,
                                 {1: "shutdown", 2: "migration"})]


class SubFlags(NVDPSub):
    name = "NVDP FLAGS"
    fields_desc = [ShortEnumField("type", S_FLAGS, SUB_NAMES),
                   ShortField("length", None),
                   FlagsField("flags", 0, 32, ["RR"])]


class SubReason(NVDPSub):
    name = "NVDP REASON"
    fields_desc = [ShortEnumField("type", S_REASON, SUB_NAMES),
                   ShortField("length", None),
                   StrLenField("text", b"", length_from=lambda p: p.length)]


class SubName(NVDPSub):
    name = "NVDP NAME"
    fields_desc = [ShortEnumField("type", S_NAME, SUB_NAMES),
                   ShortField("length", None),
                   StrLenField("text", b"", length_from=lambda p: p.length)]


class SubState(NVDPSub):
    name = "NVDP STATE"
    fields_desc = [ShortEnumField("type", S_STATE, SUB_NAMES),
                   ShortField("length", None),
                   ByteEnumField("state", VNIC_UP, {1: "down", 2: "up"})]


class SubPhase(NVDPSub):
    name = "NVDP PHASE"
    fields_desc = [ShortEnumField("type", S_PHASE, SUB_NAMES),
                   ShortField("length", None),
                   ByteEnumField("phase", RESYNC_BEGIN, {1: "begin", 2: "end"})]


class SubAddrMAC(NVDPSub):
    name = "NVDP ADDR_MAC"
    fields_desc = [ShortEnumField("type", S_ADDR_MAC, SUB_NAMES),
                   ShortField("length", None),
                   MACField("mac", "00:00:00:00:00:00")]


class SubAddrIP4(NVDPSub):
    name = "NVDP ADDR_IP4"
    fields_desc = [ShortEnumField("type", S_ADDR_IP4, SUB_NAMES),
                   ShortField("length", None),
                   MACField("mac", "00:00:00:00:00:00"),
                   IPField("ip", "0.0.0.0")]


class SubAddrIP6(NVDPSub):
    name = "NVDP ADDR_IP6"
    fields_desc = [ShortEnumField("type", S_ADDR_IP6, SUB_NAMES),
                   ShortField("length", None),
                   MACField("mac", "00:00:00:00:00:00"),
                   IP6Field("ip", "::")]


class SubAddrPfx4(NVDPSub):
    name = "NVDP ADDR_PFX4"
    fields_desc = [ShortEnumField("type", S_ADDR_PFX4, SUB_NAMES),
                   ShortField("length", None),
                   MACField("mac", "00:00:00:00:00:00"),
                   IPField("ip", "0.0.0.0"),
                   ByteField("plen", 32)]


class SubAddrPfx6(NVDPSub):
    name = "NVDP ADDR_PFX6"
    fields_desc = [ShortEnumField("type", S_ADDR_PFX6, SUB_NAMES),
                   ShortField("length", None),
                   MACField("mac", "00:00:00:00:00:00"),
                   IP6Field("ip", "::"),
                   ByteField("plen", 128)]


class SubAddrRng4(NVDPSub):
    name = "NVDP ADDR_RNG4"
    fields_desc = [ShortEnumField("type", S_ADDR_RNG4, SUB_NAMES),
                   ShortField("length", None),
                   MACField("mac", "00:00:00:00:00:00"),
                   IPField("first", "0.0.0.0"),
                   IPField("last", "0.0.0.0")]


class SubAddrRng6(NVDPSub):
    name = "NVDP ADDR_RNG6"
    fields_desc = [ShortEnumField("type", S_ADDR_RNG6, SUB_NAMES),
                   ShortField("length", None),
                   MACField("mac", "00:00:00:00:00:00"),
                   IP6Field("first", "::"),
                   IP6Field("last", "::")]


SUB_CLASSES = {
    S_VNIC: SubVNIC, S_VN_UUID: SubVNUUID, S_VNI: SubVNI, S_TAG: SubTag,
    S_TAG_HINT: SubTagHint, S_INTENT: SubIntent, S_FLAGS: SubFlags,
    S_REASON: SubReason, S_NAME: SubName, S_STATE: SubState,
    S_PHASE: SubPhase, S_ADDR_MAC: SubAddrMAC, S_ADDR_IP4: SubAddrIP4,
    S_ADDR_IP6: SubAddrIP6, S_ADDR_PFX4: SubAddrPfx4,
    S_ADDR_PFX6: SubAddrPfx6, S_ADDR_RNG4: SubAddrRng4,
    S_ADDR_RNG6: SubAddrRng6,
}
# Value length of each fixed-size sub-TLV (None = variable, bounds below).
SUB_LEN = {
    S_VNIC: 16, S_VN_UUID: 16, S_VNI: 4, S_TAG: 2, S_TAG_HINT: 2,
    S_INTENT: 1, S_FLAGS: 4, S_STATE: 1, S_PHASE: 1, S_ADDR_MAC: 6,
    S_ADDR_IP4: 10, S_ADDR_IP6: 22, S_ADDR_PFX4: 11, S_ADDR_PFX6: 23,
    S_ADDR_RNG4: 14, S_ADDR_RNG6: 38,
}
SUB_VAR_LEN = {S_REASON: (1, 255), S_NAME: (1, 64)}
ADDR_TYPES = (S_ADDR_MAC, S_ADDR_IP4, S_ADDR_IP6, S_ADDR_PFX4, S_ADDR_PFX6,
              S_ADDR_RNG4, S_ADDR_RNG6)


def _sub_len_ok(t, ln):
    if t in SUB_LEN:
        return ln == SUB_LEN[t]
    if t in SUB_VAR_LEN:
        lo, hi = SUB_VAR_LEN[t]
        return lo <= ln <= hi
    return False


# ---- messages --------------------------------------------------------------
class NVDPMsg(_TLV):
    """Dispatching base for top-level TLVs; an unknown type (or a known one
    whose value is too short for its fixed fields) parses as raw value."""
    name = "NVDP message"
    fields_desc = [
        ShortEnumField("type", 0, MSG_NAMES),
        ShortField("length", None),
        StrLenField("value", b"", length_from=lambda p: p.length),
    ]

    @classmethod
    def dispatch_hook(cls, _pkt=None, *args, **kargs):
        if _pkt is not None and len(_pkt) >= 4:
            t, ln = struct.unpack("!HH", _pkt[:4])
            c = MSG_CLASSES.get(t)
            if c is not None and ln >= c.FIXED and len(_pkt) >= 4 + ln:
                return c
            return NVDPMsg
        return cls

    # Convenience accessors over the sub-TLV list.
    def sub(self, t):
        for s in getattr(self, "subs", []):
            if s.type == t:
                return s
        return None

    def subs_of(self, t):
        return [s for s in getattr(self, "subs", []) if s.type == t]


def _subs_field(fixed):
    return PacketListField("subs", [], NVDPSub,
                           length_from=lambda p: (p.length or 0) - fixed)


class NVDPHello(NVDPMsg):
    name = "NVDP HELLO"
    FIXED = 8

    def mysummary(self):
        return "HELLO role=%s hold=%ss window=%d" % (
            ROLE_NAMES.get(self.role, self.role), self.hold_time, self.window)

    fields_desc = [
        ShortEnumField("type", HELLO, MSG_NAMES),
        ShortField("length", None),
        ByteEnumField("role", ROLE_HV, ROLE_NAMES),
        ByteField("hflags", 0),
        ShortField("hold_time", 10),
        ShortField("hello_interval", 1000),
        ShortField("window", 64),
        _subs_field(8),
    ]


class NVDPResponse(NVDPMsg):
    name = "NVDP RESPONSE"
    FIXED = 8
    fields_desc = [
        ShortEnumField("type", RESPONSE, MSG_NAMES),
        ShortField("length", None),
        IntField("txid", 0),
        ShortEnumField("status", ST_OK, STATUS_NAMES),
        ShortEnumField("req_type", 0, MSG_NAMES),
        _subs_field(8),
    ]

    def mysummary(self):
        return "RESPONSE txid=%d %s to %s" % (
            self.txid, STATUS_NAMES.get(self.status, self.status),
            MSG_NAMES.get(self.req_type, hex(self.req_type)))

    @property
    def tag(self):
        s = self.sub(S_TAG)
        return None if s is None else s.tag

    @property
    def reason(self):
        s = self.sub(S_REASON)
        return None if s is None else s.text.decode("utf-8", "replace")


class NVDPRequest(NVDPMsg):
    """Every request: txid(4) then sub-TLVs.  The type says which."""
    name = "NVDP request"
    FIXED = 4
    fields_desc = [
        ShortEnumField("type", VN_CONNECT, MSG_NAMES),
        ShortField("length", None),
        IntField("txid", 0),
        _subs_field(4),
    ]

    def mysummary(self):
        return "%s txid=%d" % (MSG_NAMES.get(self.type, hex(self.type)),
                               self.txid)


class NVDPAuth(NVDPMsg):
    """AUTH TLV (spec 14.1): key_id(2) reserved(2) counter(8, here as
    replay_hi and replay_lo) hmac(32); last in the frame, header flag AUTH.
    auth_sign() and auth_verify() compute the HMAC."""
    name = "NVDP AUTH"
    FIXED = 44
    fields_desc = [
        ShortEnumField("type", AUTH, MSG_NAMES),
        ShortField("length", None),
        ShortField("key_id", 0),
        ShortField("reserved", 0),
        XIntField("replay_hi", 0),
        XIntField("replay_lo", 0),
        StrLenField("hmac", b"\x00" * 32, length_from=lambda p: 32),
    ]


AUTH_TLV_LEN = 48
REPLAY_WINDOW = 64


def auth_hmac(key, raw):
    """HMAC-SHA256 of spec 14.1 over a whole Ethernet frame raw (dst, src,
    EtherType, NVDP header and exactly its length, the AUTH TLV last): dst
    || src || NVDP bytes with the hmac field as zeros."""
    length = struct.unpack("!H", raw[16:18])[0]
    nv = bytearray(raw[14:14 + HDR_LEN + length])
    nv[-32:] = b"\x00" * 32
    return hmac.new(key, bytes(raw[0:12]) + bytes(nv),
                    hashlib.sha256).digest()


def auth_sign(raw, key, key_id, counter):
    """Appends the AUTH TLV to a whole unsigned Ethernet frame raw (no
    padding) and returns the signed frame's bytes."""
    b = bytearray(raw)
    length = struct.unpack("!H", b[16:18])[0]
    del b[14 + HDR_LEN + length:]
    b[15] |= HF_AUTH
    struct.pack_into("!H", b, 16, length + AUTH_TLV_LEN)
    b += struct.pack("!HHHHQ", AUTH, 44, key_id, 0, counter) + b"\x00" * 32
    b[-32:] = auth_hmac(key, b)
    return bytes(b)


def auth_fields(raw):
    """(key_id, counter, hmac) of a signed frame's AUTH TLV, or None."""
    length = struct.unpack("!H", raw[16:18])[0]
    end = 14 + HDR_LEN + length
    if not raw[15] & HF_AUTH or length < AUTH_TLV_LEN or len(raw) < end:
        return None
    t, ln, kid, _, ctr = struct.unpack("!HHHHQ", raw[end - 48:end - 32])
    if (t, ln) != (AUTH, 44):
        return None
    return kid, ctr, bytes(raw[end - 32:end])


def auth_verify(raw, keys):
    """keys: {key_id: key}. True when raw's AUTH TLV carries a configured
    key id and its HMAC is right."""
    f = auth_fields(raw)
    if f is None or f[0] not in keys:
        return False
    return hmac.compare_digest(auth_hmac(keys[f[0]], raw), f[2])


MSG_CLASSES = {HELLO: NVDPHello, RESPONSE: NVDPResponse, AUTH: NVDPAuth}
for _t in REQUEST_TYPES:
    MSG_CLASSES[_t] = NVDPRequest


# ---- frame header ----------------------------------------------------------
class NVDP(Packet):
    name = "NVDP"
    fields_desc = [
        ByteField("version", VERSION),
        FlagsField("flags", 0, 8, ["AUTH"]),
        ShortField("length", None),
        IntField("epoch", 0),
        IntField("peer_epoch", 0),
        PacketListField("msgs", [], NVDPMsg,
                        length_from=lambda p: p.length if p.length is not None
                        else 0),
    ]

    def post_build(self, p, pay):
        if self.length is None:
            p = p[:2] + struct.pack("!H", len(p) - HDR_LEN) + p[4:]
        return p + pay

    def extract_padding(self, s):
        # The header's length delimits the TLV area: anything after it is
        # Ethernet padding (or trailing garbage) that the receiver ignores.
        return b"", s

    def msgs_of(self, t):
        return [m for m in self.msgs if m.type == t]


bind_layers(Ether, NVDP, type=ETHERTYPE)


# ---- builders ----------------------------------------------------------------
def _u(x):
    if x is None:
        return None
    if isinstance(x, _uuid.UUID):
        return x
    return _uuid.UUID(str(x))


def vn_subs(vn):
    """vn: int (VNI) or a UUID / UUID string."""
    if vn is None:
        return []
    if isinstance(vn, int):
        return [SubVNI(vni=vn)]
    return [SubVNUUID(uuid=_u(vn))]


def addr_sub(a):
    """a: (mac,) or (mac, ip) with ip "10.0.0.1", "2001:db8::1",
    "10.0.0.0/24", "10.0.0.1-10.0.0.9", or a ready sub-TLV."""
    if isinstance(a, Packet):
        return a
    if isinstance(a, str):
        a = (a,)
    mac = a[0]
    if len(a) == 1 or not a[1]:
        return SubAddrMAC(mac=mac)
    ip = a[1]
    v6 = ":" in ip
    if "/" in ip:
        net, plen = ip.split("/")
        return (SubAddrPfx6 if v6 else SubAddrPfx4)(mac=mac, ip=net,
                                                      plen=int(plen))
    if "-" in ip:
        lo, hi = ip.split("-")
        return (SubAddrRng6 if v6 else SubAddrRng4)(mac=mac, first=lo,
                                                      last=hi)
    return (SubAddrIP6 if v6 else SubAddrIP4)(mac=mac, ip=ip)


def request(mtype, txid, vnic=None, vn=None, addrs=(), tag=None,
            tag_hint=None, intent=None, flags=None, state=None, phase=None,
            reason=None, extra=()):
    """Builds a request TLV with its sub-TLVs in the order the spec's
    examples use: VNIC, VN, TAG, TAG_HINT, INTENT, FLAGS, STATE, PHASE,
    addresses, REASON; `extra` sub-TLVs are appended."""
    subs = []
    if vnic is not None:
        subs.append(SubVNIC(uuid=_u(vnic)))
    subs += vn_subs(vn)
    if tag is not None:
        subs.append(SubTag(tag=tag))
    if tag_hint is not None:
        subs.append(SubTagHint(tag=tag_hint))
    if intent is not None:
        subs.append(SubIntent(intent=intent))
    if flags is not None:
        subs.append(SubFlags(flags=flags))
    if state is not None:
        subs.append(SubState(state=state))
    if phase is not None:
        subs.append(SubPhase(phase=phase))
    subs += [addr_sub(a) for a in addrs]
    if reason is not None:
        subs.append(SubReason(text=reason.encode()))
    subs += list(extra)
    return NVDPRequest(type=mtype, txid=txid, subs=subs)


def hello(role=ROLE_HV, hold_time=10, hello_interval=1000, window=64,
          name=None, hflags=0):
    subs = [SubName(text=name.encode())] if name else []
    return NVDPHello(role=role, hflags=hflags, hold_time=hold_time,
                     hello_interval=hello_interval, window=window, subs=subs)


def response(txid, status, req_type, tag=None, reason=None):
    subs = []
    if tag is not None:
        subs.append(SubTag(tag=tag))
    if reason is not None:
        subs.append(SubReason(text=reason.encode()))
    return NVDPResponse(txid=txid, status=status, req_type=req_type,
                        subs=subs)


def frame(src, dst, epoch, peer_epoch, msgs, flags=0, ethertype=ETHERTYPE):
    return (Ether(src=src, dst=dst, type=ethertype) /
            NVDP(flags=flags, epoch=epoch, peer_epoch=peer_epoch,
                 msgs=list(msgs)))


def parse(raw):
    """Parses bytes starting at the Ethernet header."""
    return Ether(raw)


def parse_nvdp(raw):
    """Parses bytes starting at the NVDP header (after the EtherType)."""
    return NVDP(raw)


# ---- independent validator ---------------------------------------------------
# The receiver's rules (protocol-spec/nvdp.md "Decoding rules"), written
# again here so the golden malformed frames are checked by a second
# implementation.  Errors are named like enum nvdp_err in common/nvdp.h.
FRAME_MAX = 9216
MAX_ADDRS = 64
REQ_SUBS = {
    # type: (required, optional, addresses (min, max) or None)
    VN_CONNECT: ({S_VNIC, "VN"}, {S_TAG_HINT}, None),
    VN_DISCONNECT: ({S_VNIC, "VN"}, set(), None),
    ASSOC: ({S_VNIC, "VN"}, {S_TAG_HINT}, (0, MAX_ADDRS)),
    DISASSOC: ({S_VNIC, "VN"}, set(), (1, MAX_ADDRS)),
    VNIC_DISASSOC: ({S_VNIC, S_INTENT}, set(), None),
    PREASSOC: ({S_VNIC, "VN"}, {S_FLAGS, S_TAG_HINT}, (0, MAX_ADDRS)),
    WITHDRAW: ({"VN", S_REASON}, {S_VNIC, S_TAG}, None),
    RESYNC: ({S_PHASE}, set(), None),
    VNIC_STATE: ({S_VNIC, S_STATE}, set(), None),
    RESPONSE: (set(), {S_TAG, S_REASON}, None),
    HELLO: (set(), {S_NAME}, None),
}
ENUM_SUBS = {S_INTENT: (1, 2), S_STATE: (1, 2), S_PHASE: (1, 2)}


def _is_group(mac6):
    return bool(mac6[0] & 1)


def _check_sub(t, v):
    """Value checks of one known sub-TLV whose length is right."""
    if t == S_VNI:
        return None if struct.unpack("!I", v)[0] <= 0xFFFFFF else "E_VALUE"
    if t in (S_TAG, S_TAG_HINT):
        x = struct.unpack("!H", v)[0]
        return None if 1 <= x <= 4094 else "E_VALUE"
    if t in ENUM_SUBS:
        lo, hi = ENUM_SUBS[t]
        return None if lo <= v[0] <= hi else "E_VALUE"
    if t in (S_REASON, S_NAME):
        return "E_VALUE" if b"\0" in v else None
    if t in ADDR_TYPES:
        if _is_group(v) or v[:6] == b"\0" * 6:
            return "E_VALUE"
        ip = v[6:]
        if t in (S_ADDR_PFX4, S_ADDR_PFX6):
            n = 4 if t == S_ADDR_PFX4 else 16
            plen = ip[n]
            if plen > 8 * n:
                return "E_VALUE"
            x = int.from_bytes(ip[:n], "big")
            if x & ((1 << (8 * n - plen)) - 1):
                return "E_VALUE"  # host bits set
        if t in (S_ADDR_RNG4, S_ADDR_RNG6):
            n = 4 if t == S_ADDR_RNG4 else 16
            if ip[:n] > ip[n:2 * n]:
                return "E_VALUE"
    return None


def _check_value(mtype, value, fixed):
    """Sub-TLVs of one known message; returns an error name or None and
    the number of unknown optional sub-TLVs skipped."""
    req, opt, addr_rng = REQ_SUBS[mtype]
    seen = set()
    naddr = 0
    skipped = 0
    p = fixed
    while p < len(value):
        if len(value) - p < TLV_HLEN:
            return "E_LENGTH", skipped
        t, ln = struct.unpack("!HH", value[p:p + 4])
        v = value[p + 4:p + 4 + ln]
        if len(v) < ln:
            return "E_LENGTH", skipped
        p += 4 + ln
        if t not in SUB_CLASSES:
            if t & M_BIT:
                return "E_UNKNOWN", skipped
            skipped += 1
            continue
        key = "VN" if t in (S_VNI, S_VN_UUID) else t
        allowed = req | opt
        if t in ADDR_TYPES:
            if addr_rng is None:
                return "E_UNKNOWN", skipped
        elif key not in allowed:
            return "E_UNKNOWN", skipped
        if not _sub_len_ok(t, ln):
            return "E_LENGTH", skipped
        if t in ADDR_TYPES:
            naddr += 1
            if naddr > addr_rng[1]:
                return "E_TOOMANY", skipped
        elif key in seen:
            return "E_DUP", skipped
        seen.add(key)
        err = _check_sub(t, v)
        if err:
            return err, skipped
    if req - seen:
        return "E_MISSING", skipped
    if addr_rng is not None and naddr < addr_rng[0]:
        return "E_MISSING", skipped
    return None, skipped


def validate(buf):
    """Decodes the frame from the NVDP header on like the spec's receiver.
    Returns (open_err, results, skipped): open_err is None or an error
    name; results lists (type, txid, err) per message returned by the
    reader (err None = decoded); a framing error ends the list."""
    if len(buf) < HDR_LEN:
        return "E_SHORT", [], 0
    ver, flags, length, epoch, _ = struct.unpack("!BBHII", buf[:HDR_LEN])
    if ver != VERSION:
        return "E_VERSION", [], 0
    if length > FRAME_MAX - HDR_LEN:
        return "E_LENGTH", [], 0
    if length > len(buf) - HDR_LEN:
        return "E_SHORT", [], 0
    if epoch == 0:
        return "E_VALUE", [], 0
    area = buf[HDR_LEN:HDR_LEN + length]
    auth_last = (len(area) >= 48 and
                 struct.unpack("!HH", area[-48:-44]) == (AUTH, 44))
    if flags & HF_AUTH and not auth_last:
        return "E_AUTH", [], 0
    out = []
    skipped = 0
    p = 0
    while p < len(area):
        if len(area) - p < TLV_HLEN:
            out.append((None, 0, "E_SHORT"))
            break
        t, ln = struct.unpack("!HH", area[p:p + 4])
        if ln > len(area) - p - 4:
            out.append((t, 0, "E_LENGTH"))
            break
        v = area[p + 4:p + 4 + ln]
        p += 4 + ln
        if t == AUTH:
            if flags & HF_AUTH and p == len(area) and ln == 44:
                break
            out.append((t, 0, "E_AUTH"))
            continue
        if t not in MSG_CLASSES:
            if t & M_BIT:
                txid = struct.unpack("!I", v[:4])[0] if ln >= 4 else 0
                out.append((t, txid, "E_UNKNOWN"))
            else:
                skipped += 1
            continue
        fixed = MSG_CLASSES[t].FIXED
        txid = struct.unpack("!I", v[:4])[0] if (
            t != HELLO and ln >= 4) else 0
        if ln < fixed:
            out.append((t, txid, "E_SHORT"))
            continue
        if t == HELLO:
            role, _, hold, ivl, win = struct.unpack("!BBHHH", v[:8])
            if role not in (ROLE_HV, ROLE_NVE) or not hold or not ivl \
                    or not win:
                out.append((t, 0, "E_VALUE"))
                continue
        elif txid == 0:
            out.append((t, 0, "E_VALUE"))   # txid 0 is reserved
            continue
        err, sk = _check_value(t, v, fixed)
        if err is None:
            skipped += sk
        out.append((t, txid, err))
    return None, out, skipped


__all__ = [n for n in dir() if not n.startswith("_")]
