#!/usr/bin/python3
"""frr_poll.py - FRR's side of the EVPN bench's timeline: polls bgpd's and
zebra's counters through vtysh until killed (or TIMEOUT_S), one line per
reading: "MS NAME KEY VALUE" (CLOCK_MONOTONIC ms when the answer came;
"polled 1" once per round, answered or not).

  frr_poll.py INTERVAL_MS TIMEOUT_S NAME=VTY_DIR[:VNI] ...

For each NAME: per BGP peer P of `show bgp l2vpn evpn summary json`, keys
"P>" (prefixes sent to P) and "P<" (received from P); with :VNI also
"zebra" and "zebra-ip" (zebra's MACs and MAC+IPs in that VNI, `show evpn
vni VNI json`). The
polls cost CPU of their own: the bench polls both worlds alike."""
import json
import subprocess
import sys
import time


def vtysh(d, cmd):
    try:
        return subprocess.run(["vtysh", "--vty_socket", d, "-c", cmd],
                              capture_output=True, text=True,
                              timeout=10).stdout
    except subprocess.TimeoutExpired:
        return ""


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    interval, deadline = float(argv[1]) / 1000, time.monotonic() + float(argv[2])
    targets = []
    for a in argv[3:]:
        name, spec = a.split("=", 1)
        d, _, vni = spec.partition(":")
        targets.append((name, d, vni))
    while time.monotonic() < deadline:
        t = time.monotonic()
        for name, d, vni in targets:
            try:
                s = json.loads(vtysh(d, "show bgp l2vpn evpn summary json"))
            except ValueError:
                s = {}
            peers = s.get("peers", {})
            ms = time.monotonic() * 1000
            print("%.3f %s polled 1" % (ms, name))
            for p, v in sorted(peers.items()):
                print("%.3f %s %s> %s" % (ms, name, p, v.get("pfxSnt", -1)))
                print("%.3f %s %s< %s" % (ms, name, p, v.get("pfxRcd", -1)))
            if vni:
                try:
                    z = json.loads(vtysh(d, "show evpn vni %s json" % vni))
                except ValueError:
                    z = {}
                ms = time.monotonic() * 1000
                print("%.3f %s zebra %s" % (ms, name, z.get("numMacs", -1)))
                print("%.3f %s zebra-ip %s" % (ms, name, z.get("numArpNd", -1)))
            sys.stdout.flush()
        time.sleep(max(0.0, interval - (time.monotonic() - t)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
