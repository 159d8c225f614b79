# hv_answers.py - Scapy as the NVE towards a live hv-agent: answers that come
# late, twice, out of order, from a previous epoch or after a resync are
# applied only to the request they answer, never to a newer desired state
# (protocol-spec/nvdp.md 10.6, 11.3, 12.2).  Run by hv_answers.sh inside
# the NVE's namespace: usage  hv_answers.py IFACE NVDPCTL SOCKET [NAME...]
import json
import os
import random
import subprocess
import sys
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvdp as N  # noqa: E402
from nvdptest import Link, check, TestFailure, new_epoch  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402

NVE_MAC = "02:4e:56:ee:00:01"
BLUE, RED = 100, 200   # the VNs of hv_answers.sh's hv-agent.conf
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Nve:
    """The NVE side of NVDP, scripted: it hears hv-agent's requests and
    answers only when and how a test says."""

    def __init__(self, ifname):
        self.link = Link(ifname)
        self.epoch = new_epoch()
        self.hv_mac = None
        self.hv_epoch = 0
        self.reqs = {}      # txid -> request, every one heard (this epoch)
        self.order = []     # txids in the order first heard
        self.last_hello = 0.0

    def hello(self):
        self.last_hello = time.monotonic()
        self.link.send(N.frame(NVE_MAC, N.GROUP_MAC, self.epoch, 0,
                               [N.hello(role=N.ROLE_NVE, hold_time=30,
                                        hello_interval=300, window=64,
                                        name="scapy-nve")]))

    def send(self, msgs, peer_epoch=None):
        pe = self.hv_epoch if peer_epoch is None else peer_epoch
        self.link.send(N.frame(NVE_MAC, self.hv_mac, self.epoch, pe, msgs))

    def poll(self, timeout):
        """Hears hv-agent for up to timeout s, keeping our HELLOs going."""
        end = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if now - self.last_hello > 0.3:
                self.hello()
            if now >= end:
                return
            raw = self.link.recv(min(end - now, 0.05))
            if raw is None:
                continue
            e = Ether(raw)
            if N.NVDP not in e or e.src.lower() == NVE_MAC:
                continue
            h = e[N.NVDP]
            if self.hv_mac is None:
                self.hv_mac = e.src.lower()
            if h.epoch != self.hv_epoch:
                # hv-agent (re)started: its txids begin at 1 again
                self.hv_epoch = h.epoch
                self.reqs, self.order = {}, []
            for m in h.msgs:
                if isinstance(m, N.NVDPRequest) and m.txid not in self.reqs:
                    self.reqs[m.txid] = m
                    self.order.append(m.txid)

    def wait(self, pred, what, timeout=5.0, after=0):
        """The first request with txid > after matching pred."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t in self.order:
                if t > after and pred(self.reqs[t]):
                    return self.reqs[t]
            self.poll(0.05)
        raise TestFailure("hv-agent sent no %s within %.1fs (heard: %s)"
                          % (what, timeout, describe(self.reqs, self.order)))

    def wait_type(self, mtype, vnic=None, after=0, timeout=5.0):
        return self.wait(lambda m: m.type == mtype and
                         (vnic is None or vnic_of(m) == vnic),
                         N.MSG_NAMES.get(mtype, hex(mtype)), timeout, after)

    def answer(self, req, status=N.ST_OK, tag=None, reason=None,
               peer_epoch=None):
        self.send([N.response(req.txid, status, req.type, tag=tag,
                              reason=reason)], peer_epoch)

    def session(self):
        """What nve-agent does for a starting hv-agent: RESYNC BEGIN and
        END answered; returns the END's txid."""
        b = self.wait(lambda m: m.type == N.RESYNC and
                      m.sub(N.S_PHASE).phase == N.RESYNC_BEGIN, "RESYNC BEGIN",
                      timeout=10)
        self.answer(b)
        e = self.wait(lambda m: m.type == N.RESYNC and
                      m.sub(N.S_PHASE).phase == N.RESYNC_END, "RESYNC END",
                      after=b.txid)
        self.answer(e)
        return e.txid


def vnic_of(m):
    s = m.sub(N.S_VNIC)
    return str(s.uuid) if s is not None else None


def vni_of(m):
    s = m.sub(N.S_VNI)
    return s.vni if s is not None else None


def describe(reqs, order):
    return ", ".join("%d:%s" % (t, N.MSG_NAMES.get(reqs[t].type, "?"))
                     for t in order[-12:]) or "nothing"


class Ctl:
    def __init__(self, nvdpctl, sock):
        self.cmd = [nvdpctl, "-s", sock, "-f", "json"]

    def run(self, *args):
        p = subprocess.run(self.cmd + list(args), capture_output=True,
                           text=True, timeout=20)
        if p.returncode != 0:
            raise TestFailure("nvdpctl %s: exit %d: %s" % (
                " ".join(args), p.returncode, p.stderr.strip()))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def vnic(self, u):
        for v in self.run("vnic", "list"):
            if v["vnic"] == u:
                return v
        return None

    def counter(self, name):
        return self.run("status")["counters"][name]


def attach(ctx, u, vn, ip, mac="52:54:00:aa:00:01"):
    ctx.ctl.run("vnic", "attach", u, "--vn", "vni:%d" % vn, "--mac", mac,
                "--ip", ip)


def settle(ctx, u, state, tag, what, timeout=3.0):
    """Waits for the VNIC to report state/tag; fails with what it says."""
    end = time.monotonic() + timeout
    while True:
        ctx.nve.poll(0.1)
        v = ctx.ctl.vnic(u)
        if v is not None and v["state"] == state and v["tag"] == tag:
            return v
        if time.monotonic() > end:
            raise TestFailure("%s: expected %s tag %r, hv-agent says %s" % (
                what, state, tag,
                None if v is None else "%s tag %r (%s)" % (v["state"], v["tag"],
                                                           v.get("reason"))))


def stays(ctx, u, state, tag, what, seconds=1.0):
    """Asserts the VNIC keeps state/tag for seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.nve.poll(0.1)
        v = ctx.ctl.vnic(u)
        check(v is not None and v["state"] == state and v["tag"] == tag,
              "%s: expected it to stay %s tag %r, hv-agent says %s" % (
                  what, state, tag, None if v is None else
                  "%s tag %r (%s)" % (v["state"], v["tag"], v.get("reason"))))


# ---- tests ---------------------------------------------------------------------
@test
def old_answer_not_applied_to_newer_vn(ctx):
    """An ASSOC answered after the caller moved the VNIC to another VN does
    not confirm the new VN with the old VN's tag; the old answers replayed
    out of order later change nothing (10.6 rule 3, 12.2)."""
    nve, u = ctx.nve, str(uuid.uuid4())
    attach(ctx, u, BLUE, "10.0.0.1")
    a1 = nve.wait_type(N.ASSOC, u)
    check(vni_of(a1) == BLUE, "first ASSOC names VNI %r" % vni_of(a1))
    attach(ctx, u, RED, "10.0.0.1")        # desired state changes
    nve.poll(0.5)                          # a1 retransmitted meanwhile
    nve.answer(a1, tag=7)                  # blue's answer, late
    stays(ctx, u, "pending", None, "blue's answer after the move to red")
    d = nve.wait_type(N.VN_DISCONNECT, u, after=a1.txid)
    check(vni_of(d) == BLUE, "VN_DISCONNECT names VNI %r, not blue"
          % vni_of(d))
    nve.answer(d)
    a2 = nve.wait_type(N.ASSOC, u, after=d.txid)
    check(vni_of(a2) == RED, "second ASSOC names VNI %r, not red"
          % vni_of(a2))
    nve.answer(a2, tag=9)
    settle(ctx, u, "attached", 9, "red answered")
    stray = ctx.ctl.counter("rx_stray_responses")
    # the old answers again, newest first: duplicates of answered requests
    nve.answer(a2, tag=11)
    nve.answer(d)
    nve.answer(a1, tag=7)
    stays(ctx, u, "attached", 9, "old answers replayed out of order")
    check(ctx.ctl.counter("rx_stray_responses") == stray + 3,
          "the replayed answers were not all counted stray")


@test
def refusal_of_older_desired_state_is_moot(ctx):
    """A refusal of what was desired before the caller changed it does not
    fail the VNIC: the new desired state is sent (10.6 rule 3)."""
    nve, u = ctx.nve, str(uuid.uuid4())
    attach(ctx, u, BLUE, "10.0.1.1", mac="52:54:00:aa:01:01")
    a1 = nve.wait_type(N.ASSOC, u)
    attach(ctx, u, BLUE, "10.0.1.2", mac="52:54:00:aa:01:01")
    nve.answer(a1, status=N.ST_CONFLICT, reason="MAC in use")
    a2 = nve.wait_type(N.ASSOC, u, after=a1.txid)
    ips = [s.ip for s in a2.subs_of(N.S_ADDR_IP4)]
    check(ips == ["10.0.1.2"], "new ASSOC carries %r" % ips)
    v = ctx.ctl.vnic(u)
    check(v["state"] == "pending", "after the moot refusal the VNIC is %s"
          " (%s)" % (v["state"], v.get("reason")))
    nve.answer(a2, tag=21)
    settle(ctx, u, "attached", 21, "new desired state answered")
    # the same refusal replayed now is stray, not a failure
    nve.answer(a1, status=N.ST_CONFLICT, reason="MAC in use")
    stays(ctx, u, "attached", 21, "refusal replayed")


def answer_replayed(nve, m, answered, tag_base):
    """Answers one request of a replay: an ASSOC with the next tag."""
    answered.add(m.txid)
    nve.answer(m, tag=tag_base + len(answered) if m.type == N.ASSOC else None)


def replay_through(ctx, begin, answered, tag_base=50):
    """Answers every request hv-agent sends after its RESYNC BEGIN (txids
    in answered excepted) until its RESYNC END, answered too."""
    nve = ctx.nve
    deadline = time.monotonic() + 5
    while True:
        check(time.monotonic() < deadline, "no RESYNC END after the replay "
              "(heard: %s)" % describe(nve.reqs, nve.order))
        nve.poll(0.1)
        for t in [t for t in nve.order if t > begin.txid and
                  t not in answered]:
            m = nve.reqs[t]
            answer_replayed(nve, m, answered, tag_base)
            if m.type == N.RESYNC:
                check(m.sub(N.S_PHASE).phase == N.RESYNC_END,
                      "a second RESYNC BEGIN during the replay")
                return


def replay_assoc(ctx, u, begin, answered, tag_base=50):
    """u's ASSOC in the replay after begin; the replay's other requests
    are answered meanwhile (added to answered), as an NVE does: hv-agent's
    congestion window (10.3) holds the rest of a replay back until the
    first requests are answered, and the replay's order is not u's."""
    nve = ctx.nve
    deadline = time.monotonic() + 5
    while True:
        for t in [t for t in nve.order if t > begin.txid and
                  t not in answered]:
            m = nve.reqs[t]
            if m.type == N.ASSOC and vnic_of(m) == u:
                return m
            check(m.type != N.RESYNC, "RESYNC END before %s's ASSOC "
                  "(heard: %s)" % (u, describe(nve.reqs, nve.order)))
            answer_replayed(nve, m, answered, tag_base)
        check(time.monotonic() < deadline, "hv-agent sent no ASSOC of %s "
              "in its replay (heard: %s)" % (u, describe(nve.reqs, nve.order)))
        nve.poll(0.05)


def resync_begin(ctx, after):
    return ctx.nve.wait(lambda m: m.type == N.RESYNC and
                        m.sub(N.S_PHASE).phase == N.RESYNC_BEGIN,
                        "RESYNC BEGIN", after=after)


@test
def answer_naming_another_epoch_not_applied(ctx):
    """txids begin at 1 in every epoch, so a unicast frame whose peer_epoch
    names another incarnation of hv-agent may carry an answer to another
    request with the same txid: it is never applied; the frame says the
    NVE does not hold our session, so hv-agent resyncs (11.3) and the VNIC
    takes the replay's answer."""
    nve, u = ctx.nve, str(uuid.uuid4())
    attach(ctx, u, BLUE, "10.0.2.1", mac="52:54:00:aa:02:01")
    a = nve.wait_type(N.ASSOC, u)
    last = nve.order[-1]
    other = (nve.hv_epoch ^ 0x5a5a5a5a) or 1
    nve.answer(a, tag=33, peer_epoch=other)
    b = resync_begin(ctx, last)
    v = ctx.ctl.vnic(u)
    check(v["state"] == "pending" and v["tag"] is None,
          "the answer naming another epoch was applied: %s tag %r"
          % (v["state"], v["tag"]))
    nve.answer(b)
    answered = set()
    r = replay_assoc(ctx, u, b, answered)
    nve.answer(a, tag=33)       # the same answer, now naming our epoch
    nve.answer(r, tag=34)
    replay_through(ctx, b, answered | {r.txid})
    settle(ctx, u, "attached", 34, "replay answered")


@test
def answer_from_before_resync_not_applied(ctx):
    """Requests outstanding when hv-agent resyncs are dropped: their
    answers, arriving after the replay started, are stray (11.5); the VNIC
    takes the replay's answer."""
    nve, u = ctx.nve, str(uuid.uuid4())
    attach(ctx, u, BLUE, "10.0.3.1", mac="52:54:00:aa:03:01")
    a = nve.wait_type(N.ASSOC, u)
    last = nve.order[-1]
    # "I hold nothing for you": a unicast HELLO with peer_epoch 0
    nve.send([N.hello(role=N.ROLE_NVE, hold_time=30, hello_interval=300,
                      window=64)], peer_epoch=0)
    b = resync_begin(ctx, last)
    nve.answer(b)
    answered = set()
    r = replay_assoc(ctx, u, b, answered)
    stray = ctx.ctl.counter("rx_stray_responses")
    nve.answer(a, tag=41)                  # the dropped request's answer
    stays(ctx, u, "pending", None, "answer to the request before the resync",
          0.6)
    check(ctx.ctl.counter("rx_stray_responses") == stray + 1,
          "the dropped request's answer was not counted stray")
    nve.answer(r, tag=42)
    settle(ctx, u, "attached", 42, "replay answered")
    replay_through(ctx, b, answered | {r.txid})
    settle(ctx, u, "attached", 42, "after the resync")
    check(ctx.ctl.run("status")["resync"] == "idle", "resync not complete")


class Ctx:
    pass


def main():
    ifname, nvdpctl, sock = sys.argv[1:4]
    names = sys.argv[4:]
    random.seed()
    ctx = Ctx()
    ctx.nve = Nve(ifname)
    ctx.ctl = Ctl(nvdpctl, sock)
    ctx.nve.poll(0.2)
    ctx.nve.session()                      # hv-agent's start-up resync
    npass = nfail = 0
    for fn in TESTS:
        if names and not any(n in fn.__name__ for n in names):
            continue
        t0 = time.monotonic()
        try:
            fn(ctx)
            npass += 1
            print("PASS %s (%.1fs)" % (fn.__name__, time.monotonic() - t0),
                  flush=True)
        except TestFailure as e:
            nfail += 1
            print("FAIL %s: %s" % (fn.__name__, e), flush=True)
        except Exception:
            nfail += 1
            print("FAIL %s: exception\n%s" % (fn.__name__,
                                               traceback.format_exc()),
                  flush=True)
    print("%d passed, %d failed" % (npass, nfail), flush=True)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
