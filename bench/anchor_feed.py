#!/usr/bin/python3
"""anchor_feed.py - the EVPN bench's anchor input: N static MACs on the
kernel NVE's bridge port and a NOARP IPv4 neighbour each on its bridge,
the same addresses cp_bench_drv attaches (52:55:... instead of 52:54:...),
through one `bridge -batch -` and one `ip -batch -` fed from here.

  anchor_feed.py N OFFSET SPREAD_MS STEPS PORT BRIDGE

SPREAD_MS 0: everything in one go (one batch, the anchor's best case);
otherwise STEPS equal chunks evenly over SPREAD_MS, the pace at which
nve-agent's associations arrived in the same run. Prints the
CLOCK_MONOTONIC ms of the first write."""
import subprocess
import sys
import time


def mac(i):
    return "52:55:%02x:%02x:%02x:%02x" % ((i >> 24) & 255, (i >> 16) & 255,
                                          (i >> 8) & 255, i & 255)


def main(argv):
    if len(argv) != 7:
        sys.stderr.write(__doc__)
        return 2
    n, off, spread, steps = (int(a) for a in argv[1:5])
    port, bridge = argv[5], argv[6]
    steps = 1 if spread <= 0 else max(1, min(steps, n))
    br = subprocess.Popen(["bridge", "-batch", "-"], stdin=subprocess.PIPE, text=True)
    ip = subprocess.Popen(["ip", "-batch", "-"], stdin=subprocess.PIPE, text=True)
    fdb = ["fdb replace %s dev %s master static\n" % (mac(i), port)
           for i in range(off, off + n)]
    nei = ["neigh replace 10.%d.%d.%d lladdr %s dev %s nud noarp\n"
           % ((i >> 16) & 255, (i >> 8) & 255, i & 255, mac(i), bridge)
           for i in range(off, off + n)]
    t0 = time.monotonic()
    for s in range(steps):
        at = t0 + spread / 1000.0 * s / steps
        time.sleep(max(0.0, at - time.monotonic()))
        a, b = n * s // steps, n * (s + 1) // steps
        br.stdin.write("".join(fdb[a:b]))
        br.stdin.flush()
        ip.stdin.write("".join(nei[a:b]))
        ip.stdin.flush()
    br.stdin.close()
    ip.stdin.close()
    rc = br.wait() | ip.wait()
    print("%.3f" % (t0 * 1000))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
