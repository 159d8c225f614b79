# test_a_hello.py - conformance: HELLO exchange, addressing and epochs
# (protocol-spec/nvdp.md "Ethernet framing", "Liveness").
import time

import nvdp as N
from nvdptest import (test, check, IF_BR1, IF_BR2, IF_DIRECT, IF_SMALL,
                      NVE_HELLO_MS, Link, new_vnic, dump, VNS, expect_ok)
from scapy.layers.l2 import Ether


def nve_hellos(ifname, seconds):
    """(time, Ether, HELLO) of every NVE HELLO seen on ifname."""
    link = Link(ifname)
    out = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            raw = link.recv(end - time.monotonic())
            if raw is None:
                break
            e = Ether(raw)
            if N.NVDP not in e:
                continue
            for m in e[N.NVDP].msgs:
                if m.type == N.HELLO and isinstance(m, N.NVDPHello) \
                        and m.role == N.ROLE_NVE:
                    out.append((time.monotonic(), e, m))
    finally:
        link.close()
    return out


@test
def nve_hello_on_every_port(ctx):
    """The NVE sends HELLO (role NVE, its epoch) to the group MAC on every
    access port every hello interval."""
    epochs = set()
    for ifname in (IF_BR1, IF_BR2, IF_DIRECT, IF_SMALL):
        hs = nve_hellos(ifname, 4 * NVE_HELLO_MS / 1000.0 + 0.2)
        check(len(hs) >= 3, "%s: %d NVE HELLOs in %d ms, expected >= 3"
              % (ifname, len(hs), 4 * NVE_HELLO_MS + 200))
        for _, e, m in hs:
            h = e[N.NVDP]
            check(e.dst.lower() == N.GROUP_MAC,
                  "%s: NVE HELLO to %s, expected group %s"
                  % (ifname, e.dst, N.GROUP_MAC))
            check(h.version == N.VERSION, "HELLO version %d" % h.version)
            check(h.epoch != 0, "NVE HELLO with epoch 0")
            check(m.hold_time > 0, "NVE HELLO hold_time 0")
            check(m.window > 0, "NVE HELLO window 0")
            check(abs(m.hello_interval - NVE_HELLO_MS) <= 1,
                  "NVE HELLO hello_interval %d, configured %d"
                  % (m.hello_interval, NVE_HELLO_MS))
            epochs.add(h.epoch)
        gaps = [b[0] - a[0] for a, b in zip(hs, hs[1:])]
        for g in gaps:
            check(0.5 * NVE_HELLO_MS / 1000 <= g <= 2.0 * NVE_HELLO_MS / 1000,
                  "%s: HELLO gap %.0f ms, interval is %d ms"
                  % (ifname, g * 1000, NVE_HELLO_MS))
    check(len(epochs) == 1, "NVE used several epochs: %s" % epochs)


@test
def peer_epoch_echoed_in_session(ctx):
    """Once RESYNC BEGIN opened our session (section 11.4), unicast frames
    from the NVE carry our epoch in peer_epoch and its own epoch in epoch;
    replies are unicast to our MAC from the NVE's MAC (section 2)."""
    hv = ctx.hv(IF_DIRECT)
    r = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=VNS[0][1])
    hv.send([r])
    got = hv.responses([r.txid])
    resp, e = got[r.txid]
    expect_ok(resp, "VN_CONNECT")
    h = e[N.NVDP]
    check(h.peer_epoch == hv.epoch, "RESPONSE peer_epoch %#x, our epoch %#x"
          % (h.peer_epoch, hv.epoch))
    check(h.epoch == hv.nve_epoch and h.epoch != 0,
          "RESPONSE epoch %#x, NVE HELLO epoch %#x" % (h.epoch, hv.nve_epoch))
    check(e.dst.lower() == hv.mac, "RESPONSE sent to %s, expected our MAC %s"
          % (e.dst, hv.mac))
    check(e.src.lower() == hv.nve_mac, "RESPONSE from %s, NVE HELLO from %s"
          % (e.src, hv.nve_mac))
    check(resp.req_type == N.VN_CONNECT, "req_type %#x" % resp.req_type)


@test
def response_peer_epoch_zero_without_session(ctx):
    """Requests from a hypervisor without a session are processed; their
    RESPONSEs carry peer_epoch 0 (section 11.4)."""
    hv = ctx.hv(IF_DIRECT, session=False)
    r = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=VNS[0][1])
    hv.send([r])
    resp, e = hv.responses([r.txid])[r.txid]
    expect_ok(resp, "VN_CONNECT without a session")
    check(e[N.NVDP].peer_epoch == 0,
          "RESPONSE without a session carries peer_epoch %#x, expected 0"
          % e[N.NVDP].peer_epoch)


def _unicast_hellos(hv, frames):
    return [e for e in frames
            if e.dst.lower() == hv.mac and
            any(m.type == N.HELLO and isinstance(m, N.NVDPHello) and
                m.role == N.ROLE_NVE for m in e[N.NVDP].msgs)]


def _nve_hello_in(e):
    return any(m.type == N.HELLO and isinstance(m, N.NVDPHello) and
               m.role == N.ROLE_NVE for m in e[N.NVDP].msgs)


@test
def unicast_hello_on_first_contact(ctx):
    """The NVE answers the first frame of a hypervisor it has no peer entry
    for with a unicast HELLO, peer_epoch 0, in the same output batch as its
    answers to that frame (section 11.4, hello-nve-nostate)."""
    hv = ctx.hv(IF_DIRECT, start=False)
    hv.nve_mac = ctx.nve_mac_by_if.get(IF_DIRECT)
    if hv.nve_mac is None:
        hv.start(session=False)   # learn the NVE's MAC with another MAC
        hv = ctx.hv(IF_DIRECT, start=False)
        hv.nve_mac = ctx.nve_mac_by_if[IF_DIRECT]
    r = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=VNS[0][1])
    n0 = len(hv.frames)
    hv.send([r], peer_epoch=0)   # first frame ever from this MAC
    resp, e = hv.responses([r.txid])[r.txid]
    expect_ok(resp, "first request of a new hypervisor")
    u = [x for _, x in hv.frames[n0:] if x.dst.lower() == hv.mac and
         _nve_hello_in(x)]
    check(u, "no unicast NVE HELLO to a new hypervisor with the answer to "
          "its first frame")
    check(u[0][N.NVDP].peer_epoch == 0, "unicast HELLO peer_epoch %#x"
          % u[0][N.NVDP].peer_epoch)
    check(e[N.NVDP].peer_epoch == 0, "peer_epoch %#x in the first answer"
          % e[N.NVDP].peer_epoch)
    # A known hypervisor in session gets no more unicast HELLOs.
    hv.resync()
    seen = []
    for _ in range(4):
        hv.hello()
        x = hv.poll(0.2, keepalive=False)
        if x is not None:
            seen.append(x)
    check(not [x for x in seen if x.dst.lower() == hv.mac and
               _nve_hello_in(x)],
          "unicast HELLO to a hypervisor in session")


@test
def unicast_hello_on_epoch_change(ctx):
    """A changed hypervisor epoch takes it out of session: unicast HELLO
    with peer_epoch 0 (within a hello interval: at most one per interval,
    and the first contact's was just sent, section 15), and RESPONSEs carry
    peer_epoch 0 until RESYNC BEGIN (sections 11.4, 12.3)."""
    hv = ctx.hv(IF_DIRECT)
    hv.restart()
    r = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=VNS[0][1])
    n0 = len(hv.frames)
    hv.send([r])
    resp, e = hv.responses([r.txid])[r.txid]
    expect_ok(resp, "request after the epoch change")

    def told():
        return [x for _, x in hv.frames[n0:] if x.dst.lower() == hv.mac and
                _nve_hello_in(x) and x[N.NVDP].peer_epoch == 0]
    end = time.monotonic() + 2.0 * NVE_HELLO_MS / 1000.0 + 0.2
    while not told() and time.monotonic() < end:
        hv.poll(0.05)
    check(told(), "no unicast HELLO (peer_epoch 0) within %d ms after our "
          "epoch changed" % (2 * NVE_HELLO_MS + 200))
    check(e[N.NVDP].peer_epoch == 0, "peer_epoch %#x after our epoch "
          "changed (not in session), expected 0" % e[N.NVDP].peer_epoch)
    hv.resync()
    r = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=VNS[0][1])
    hv.send([r])
    resp, e = hv.responses([r.txid])[r.txid]
    check(e[N.NVDP].peer_epoch == hv.epoch, "peer_epoch %#x after RESYNC, "
          "expected our new epoch %#x" % (e[N.NVDP].peer_epoch, hv.epoch))


@test
def request_to_group_mac_answered(ctx):
    """A hypervisor that has not heard the NVE yet sends to the group MAC;
    the NVE answers unicast."""
    hv = ctx.hv(IF_BR1, start=False)
    hv.hello(dst=N.GROUP_MAC)
    r = hv.req(N.VN_CONNECT, vnic=new_vnic(), vn=VNS[0][1])
    hv.send([r], dst=N.GROUP_MAC)
    resp, e = hv.responses([r.txid])[r.txid]
    expect_ok(resp, "VN_CONNECT to group")
    check(e.dst.lower() == hv.mac, "answer to %s, expected unicast to %s"
          % (e.dst, hv.mac))


@test
def peer_listed_with_name_and_epoch(ctx):
    """The NVE lists a hypervisor it heard (nvdpctl peers): MAC, port, the
    NAME and epoch of its HELLO."""
    hv = ctx.hv(IF_DIRECT, name="scapy-peer-test")
    hv.poll(0.3)
    ps = [p for p in ctx.ctl.peers() if p.get("mac") == hv.mac]
    check(len(ps) == 1, "nvdpctl peers lists %s %d times" % (hv.mac, len(ps)))
    p = ps[0]
    check(p.get("port") == "p2", "port %r" % p.get("port"))
    check(p.get("name") == "scapy-peer-test", "name %r" % p.get("name"))
    ep = p.get("epoch")
    check(ep in (hv.epoch, "%08x" % hv.epoch, "0x%08x" % hv.epoch),
          "epoch %r, ours %08x" % (ep, hv.epoch))


@test
def nve_hello_advertises_config(ctx):
    """The NVE's HELLO carries its configured name, hold time and window."""
    from nvdptest import NVE_HOLD_CAP
    hs = nve_hellos(IF_DIRECT, 2 * NVE_HELLO_MS / 1000.0 + 0.2)
    check(hs, "no NVE HELLO")
    _, e, m = hs[0]
    nm = m.sub(N.S_NAME)
    check(nm is not None and nm.text == b"scapy-nve", "NAME %r, configured "
          "scapy-nve" % (nm.text if nm else None))
    check(m.hold_time == NVE_HOLD_CAP, "hold_time %d, configured %d"
          % (m.hold_time, NVE_HOLD_CAP))
    check(m.window == 256, "window %d, configured 256" % m.window)


@test
def hold_time_capped_by_config(ctx):
    """The NVE keeps a hypervisor for min(advertised hold, hold-time)
    (section 11.2), as nvdpctl peers shows."""
    from nvdptest import NVE_HOLD_CAP
    short = ctx.hv(IF_DIRECT, hold=2)
    long_ = ctx.hv(IF_DIRECT, hold=600)
    peers = {p.get("mac"): p for p in ctx.ctl.peers()}
    for hv, want in ((short, 2000), (long_, NVE_HOLD_CAP * 1000)):
        p = peers.get(hv.mac)
        check(p is not None, "%s not in nvdpctl peers" % hv.mac)
        check(p.get("hold_ms") == want, "%s advertised hold %d s: hold_ms "
              "%r, expected %d" % (hv.mac, hv.hold, p.get("hold_ms"), want))
