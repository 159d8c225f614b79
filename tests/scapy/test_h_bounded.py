# test_h_bounded.py - conformance: what a hostile station can make the NVE
# send (protocol-spec/nvdp.md 11.4, 15): no reflection.
import time

import nvdp as N
from nvdptest import test, check, IF_DIRECT, NVE_HELLO_MS, new_epoch
from test_e_malformed import counters, grown
from scapy.layers.l2 import Ether


def unicast_hellos(hv, since):
    """The NVE's HELLOs addressed to hv's MAC among frames that arrived
    after since (monotonic)."""
    return [e for t, e in hv.frames if t >= since and
            e.dst.lower() == hv.mac and
            any(m.type == N.HELLO for m in e[N.NVDP].msgs)]


@test
def epoch_flap_one_unicast_hello_per_interval(ctx):
    """A station that alternates its epoch at every frame restarts at every
    frame, but draws at most one unicast HELLO per hello interval (section
    15), not one per frame; the withheld ones are counted."""
    hv = ctx.hv(IF_DIRECT, start=False)
    epochs = (new_epoch(), new_epoch())
    before = counters(ctx)
    t0 = time.monotonic()
    seconds = 5 * NVE_HELLO_MS / 1000.0
    sent = 0
    while time.monotonic() - t0 < seconds:
        hv.send([N.hello(role=N.ROLE_HV, hold_time=30, window=64,
                         name=hv.name)],
                dst=N.GROUP_MAC, epoch=epochs[sent % 2])
        sent += 1
        time.sleep(0.005)
    while hv.poll(0.2, keepalive=False) is not None:
        pass  # every frame that came, not one per round
    got = unicast_hellos(hv, t0)
    intervals = (time.monotonic() - t0) * 1000.0 / NVE_HELLO_MS
    # many more frames than intervals, even on a loaded machine
    check(sent >= 30, "only %d frames sent in %.1fs" % (sent, seconds))
    check(1 <= len(got) <= int(intervals) + 2,
          "%d frames alternating the epoch in %.0f hello intervals drew %d "
          "unicast HELLOs (at most one per interval: %d)"
          % (sent, intervals, len(got), int(intervals) + 2))
    after = counters(ctx)
    g = grown(before, after, "hello_suppressed|peer_restarts")
    check(g.get("hello_suppressed", 0) >= sent - len(got) - 5,
          "hello_suppressed grew by %s for %d frames and %d HELLOs"
          % (g.get("hello_suppressed"), sent, len(got)))
    check(g.get("peer_restarts", 0) >= sent - 5,
          "peer_restarts grew by %s for %d epoch changes"
          % (g.get("peer_restarts"), sent))
