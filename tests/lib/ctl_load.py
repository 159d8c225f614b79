#!/usr/bin/python3
# ctl_load.py - drives hv-agent's control socket with many requests over one
# connection (pipelined: the daemon answers them in order), for the
# convergence tests; and prints a daemon's view of its VNICs for comparison.
"""Usage:
  ctl_load.py SOCK attach FIRST LAST VN [VN...]   attach VNICs FIRST..LAST
  ctl_load.py SOCK detach FIRST LAST              detach them (shutdown)
  ctl_load.py SOCK soak SEED N POOL SOCK2 VN...   N random operations on two
                                                  hv-agents (SOCK, SOCK2)
  ctl_load.py SOCK hv-view                        hv-agent's confirmed VNICs
  ctl_load.py SOCK nve-view MAC                   nve-agent's VNICs of hv MAC
  ctl_load.py SOCK wait-nve N TIMEOUT_S           until nve-agent holds N VNICs
  ctl_load.py SOCK wait-hv TIMEOUT_S              until hv-agent's NVE is up
                                                  and no resync runs
  ctl_load.py - wait-hvs EPOCH TIMEOUT_S SOCK...  until every hv-agent has an
                                                  NVE of another epoch than
                                                  EPOCH up and no resync runs
  (the waits connect as soon as SOCK accepts, poll every 2 ms, or every
  $CTL_LOAD_POLL_MS, and print the time it became true, as seconds since
  the epoch (date +%s.%N), the wait-hvs one line per SOCK in order; exit 1
  at TIMEOUT_S)

VNIC n has UUID 00000000-0000-4000-8000-<n as 12 hex digits> and MAC
52:54:00:00:<n hi>:<n lo> (nt_uuid and nt_mac of tests/lib/netns.sh), IP
10.<n / 62500 + 1>.<n / 250 % 250>.<n % 250 + 1>; attach puts it in VN
VN[n % number of VNs].
A view is one line per VNIC, sorted: "uuid vni mac ips tag state", for
VNICs hv-agent reports attached/preassociated and for every entry the NVE
holds for that hypervisor, so that two views compare with cmp(1).
"""

import json
import os
import random
import socket
import struct
import sys
import time

# Pause between two polls of a wait: a benchmark that times 40 daemons
# makes it longer, so that the poller does not take the CPU it measures.
POLL_S = float(os.environ.get("CTL_LOAD_POLL_MS", "2")) / 1000


def uuid_of(n):
    return "00000000-0000-4000-8000-%012x" % n


def mac_of(n):
    return "52:54:00:00:%02x:%02x" % ((n >> 8) & 255, n & 255)


def ip_of(n):
    return "10.%d.%d.%d" % (n // 62500 + 1, (n // 250) % 250, n % 250 + 1)


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.next_id = 1
        self.buf = b""

    def _frame(self, cmd, args):
        data = json.dumps({"cmd": cmd, "args": args,
                           "id": self.next_id}).encode()
        self.next_id += 1
        return struct.pack(">I", len(data)) + data

    def send(self, cmd, args):
        self.s.sendall(self._frame(cmd, args))
        return self.next_id - 1

    def batch(self, reqs):
        """Sends [(cmd, args)] in one write: the daemon reads them in one
        turn of its loop, at one instant of its clock, however loaded the
        machine is. Returns their answers, in order."""
        self.s.sendall(b"".join(self._frame(c, a) for c, a in reqs))
        return [self.recv() for _ in reqs]

    def close(self):
        self.s.close()

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise SystemExit("control socket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        (n,) = struct.unpack(">I", self._read(4))
        return json.loads(self._read(n))

    def call(self, cmd, args=None):
        self.send(cmd, args or {})
        return self.recv()

    def pipeline(self, reqs, quiet=False):
        """Sends all requests, then reads as many answers; returns the
        number of errors (printed unless quiet)."""
        errors = 0
        window = 64  # bound what waits unread in the socket buffers
        sent = got = 0
        while got < len(reqs):
            while sent < len(reqs) and sent - got < window:
                self.send(*reqs[sent])
                sent += 1
            r = self.recv()
            got += 1
            if not r.get("ok"):
                errors += 1
                if not quiet:
                    print("error: %s" % r.get("error"), file=sys.stderr)
        return errors


def soak_ops(seed, n, pool, vns):
    """N random requests for two hv-agents over VNICs 1..pool: attach (to a
    random VN, one or two IPs), pre-associate (with or without a
    reservation), detach (shutdown or migration), admin state, and
    migrations (pre-associate on one, attach there, detach --migrating on
    the other). Refusals (e.g. a state change of a VNIC not attached there)
    are part of the workload. Returns two request lists."""
    rnd = random.Random(seed)
    ops = ([], [])

    def addr(k):
        ips = [ip_of(k)]
        if rnd.random() < 0.3:
            ips.append("10.200.%d.%d" % (k // 250, k % 250 + 1))
        return {"vnic": uuid_of(k), "vn": rnd.choice(vns), "mac": mac_of(k),
                "ips": ips}
    for _ in range(n):
        k = 1 + rnd.randrange(pool)
        h = rnd.randrange(2)
        r = rnd.random()
        if r < 0.35:
            ops[h].append(("vnic-attach", addr(k)))
        elif r < 0.45:
            ops[h].append(("vnic-preassociate",
                           dict(addr(k), reserve=rnd.random() < 0.5)))
        elif r < 0.65:
            ops[h].append(("vnic-detach", {"vnic": uuid_of(k),
                                           "migrating": rnd.random() < 0.6}))
        elif r < 0.8:
            ops[h].append(("vnic-state", {"vnic": uuid_of(k),
                                          "up": rnd.random() < 0.5}))
        else:
            a = addr(k)
            ops[1 - h].append(("vnic-preassociate", dict(a, reserve=True)))
            ops[1 - h].append(("vnic-attach", a))
            ops[h].append(("vnic-detach", {"vnic": uuid_of(k),
                                           "migrating": True}))
    return ops


def view_line(uuid, vni, macs, ips, tag, state):
    return "%s %s %s %s %s %s" % (uuid, vni, ",".join(sorted(macs)),
                                  ",".join(sorted(ips)) or "-",
                                  tag if tag is not None else "-", state)


def hv_view(ctl):
    r = ctl.call("vnic-list")
    lines = []
    for v in r["result"]:
        if v["state"] not in ("attached", "preassociated"):
            continue
        vn = v["vn"]
        vni = vn[4:] if vn.startswith("vni:") else vn
        if v["state"] == "attached":
            st = "associated" if v.get("up", True) else "down"
        else:
            st = "preassociated-rr" if v.get("reserve") else "preassociated"
        lines.append(view_line(v["vnic"], vni, [v["mac"]], v.get("ips") or [],
                               v.get("tag"), st))
    return sorted(lines)


def nve_view(ctl, hv_mac):
    r = ctl.call("vnics")
    lines = []
    for v in r["result"]:
        if v["hv"].lower() != hv_mac.lower():
            continue
        lines.append(view_line(v["vnic"], v["vni"], v.get("macs") or [],
                               v.get("ips") or [], v.get("tag"), v["state"]))
    return sorted(lines)


def wait_until(path, timeout_s, cmd, done):
    """Polls cmd on the daemon at path until done(result); prints when
    (a restart's socket may not exist yet)."""
    t0 = time.monotonic()
    ctl = None
    while time.monotonic() - t0 < timeout_s:
        try:
            if ctl is None:
                ctl = Ctl(path)
            r = ctl.call(cmd)
            if r.get("ok") and done(r["result"]):
                print("%.6f" % time.time())
                return 0
        except (OSError, SystemExit):
            ctl = None
        time.sleep(POLL_S)
    print("timeout", file=sys.stderr)
    return 1


def wait_hvs(epoch, timeout_s, paths):
    """wait-hvs: one poller for many hv-agents after an NVE restart."""
    t0 = time.monotonic()
    ctls = [Ctl(p) for p in paths]
    took = [None] * len(paths)
    while None in took and time.monotonic() - t0 < timeout_s:
        for i, c in enumerate(ctls):
            if took[i] is not None:
                continue
            r = c.call("status")["result"]
            if (r["nve"]["epoch"] != epoch and r["nve"]["state"] == "up" and
                    r["resync"] == "idle"):
                took[i] = time.time()
        time.sleep(POLL_S)
    for t in took:
        print("timeout" if t is None else "%.6f" % t)
    return 1 if None in took else 0


def main(argv):
    op = argv[2]
    if op == "wait-hvs":
        return wait_hvs(int(argv[3]), float(argv[4]), argv[5:])
    if op == "wait-nve":
        n = int(argv[3])
        return wait_until(argv[1], float(argv[4]), "counters",
                          lambda r: r["tree"]["vnics"] >= n)
    if op == "wait-hv":
        return wait_until(argv[1], float(argv[3]), "status",
                          lambda r: r["nve"]["state"] == "up" and
                          r["resync"] == "idle")
    ctl = Ctl(argv[1])
    if op == "attach":
        first, last, vns = int(argv[3]), int(argv[4]), argv[5:]
        reqs = [("vnic-attach", {"vnic": uuid_of(n), "vn": vns[n % len(vns)],
                                 "mac": mac_of(n), "ips": [ip_of(n)]})
                for n in range(first, last + 1)]
        return 1 if ctl.pipeline(reqs) else 0
    if op == "detach":
        first, last = int(argv[3]), int(argv[4])
        reqs = [("vnic-detach", {"vnic": uuid_of(n)})
                for n in range(first, last + 1)]
        return 1 if ctl.pipeline(reqs) else 0
    if op == "soak":
        seed, n, pool, other = int(argv[3]), int(argv[4]), int(argv[5]), argv[6]
        ops = soak_ops(seed, n, pool, argv[7:])
        ctl.pipeline(ops[0], quiet=True)
        Ctl(other).pipeline(ops[1], quiet=True)
        return 0
    if op == "hv-view":
        print("\n".join(hv_view(ctl)))
        return 0
    if op == "nve-view":
        print("\n".join(nve_view(ctl, argv[3])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
