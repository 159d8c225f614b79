#!/usr/bin/python3
# nvdp_flood.py - a hostile station on an access link, for
# tests/e2e/hostile_flood.sh and bench/flood_bench.sh: floods an NVE with
# ASSOCs of random VNIC UUIDs from a few source MACs, and/or HELLOs from
# many random source MACs, as fast as it can (or at --rate) for --seconds.
"""Usage: nvdp_flood.py IFACE [--assoc-macs N] [--hello-macs N] [--vni V]
                         [--seconds S] [--rate FPS] [--dst MAC]

Frames are built once with the Scapy NVDP layer (tests/scapy/nvdp.py), then
only their varying bytes (source MAC, txid, UUID) are patched, so that
Python sends tens of thousands of frames per second. SIGTERM ends the
flood early (its figures are printed all the same). Prints one JSON line:
{"sent": N, "seconds": S, "fps": F, "assoc": A, "hello": H}.
"""

import argparse
import json
import os
import random
import signal
import socket
import struct
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scapy"))
import nvdp as N  # noqa: E402

MARK_UUID = bytes(range(0xA0, 0xB0))  # found in the template, then patched
MARK_TXID = 0x5A5A5A5A


DST = N.GROUP_MAC


def template(msg, epoch):
    """A frame from a placeholder MAC with msg, to patch."""
    raw = bytes(N.frame("02:00:00:00:00:00", DST, epoch, 0, [msg]))
    return bytearray(raw)


def assoc_template(vni, epoch):
    msg = N.request(N.ASSOC, MARK_TXID, vnic=uuid.UUID(bytes=MARK_UUID),
                    vn=vni)
    raw = template(msg, epoch)
    return raw, raw.find(MARK_UUID), raw.find(struct.pack("!I", MARK_TXID))


def hello_template(epoch):
    return template(N.hello(role=N.ROLE_HV, hold_time=30, window=64,
                            name="flood"), epoch)


def rand_macs(n, first_byte):
    """n distinct locally administered unicast MACs."""
    out = set()
    while len(out) < n:
        out.add(bytes([first_byte]) + os.urandom(5))
    return list(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iface")
    ap.add_argument("--assoc-macs", type=int, default=0)
    ap.add_argument("--hello-macs", type=int, default=0)
    ap.add_argument("--vni", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rate", type=float, default=0, help="frames/s, 0: max")
    ap.add_argument("--hello-every", type=int, default=2, metavar="N",
                    help="with both floods, one frame in N is a HELLO "
                    "(default 2: they alternate)")
    ap.add_argument("--dst", default=N.GROUP_MAC,
                    help="the NVE's MAC: a bridge forwards the flood to it "
                    "alone (default: the group MAC, every station gets it)")
    a = ap.parse_args()
    global DST
    DST = a.dst

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    epoch = random.getrandbits(31) | 1
    atpl, uoff, toff = assoc_template(a.vni, epoch)
    htpl = hello_template(epoch)
    amacs = rand_macs(a.assoc_macs, 0x06)
    hmacs = rand_macs(a.hello_macs, 0x0a)
    txid = [0] * len(amacs)
    # Both floods at once: one HELLO in --hello-every frames.
    if amacs and hmacs:
        if a.hello_every < 1:
            ap.error("--hello-every: at least 1")
        kinds = ["h"] + ["a"] * (a.hello_every - 1)
    else:
        kinds = (["a"] if amacs else []) + (["h"] if hmacs else [])
    if not kinds:
        ap.error("nothing to send: --assoc-macs or --hello-macs")
    sent = {"a": 0, "h": 0}
    prefix = os.urandom(8)
    t0 = time.monotonic()
    stop = [t0 + a.seconds]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, 0))
    gap = 1.0 / a.rate if a.rate > 0 else 0
    nxt = t0
    i = 0
    while True:
        if (i & 255) == 0:
            now = time.monotonic()
            if now >= stop[0]:
                break
        k = kinds[i % len(kinds)]
        if k == "a":
            j = sent["a"] % len(amacs)
            txid[j] += 1
            f = atpl
            f[6:12] = amacs[j]
            f[toff:toff + 4] = struct.pack("!I", txid[j])
            f[uoff:uoff + 16] = prefix + struct.pack("!Q", i)
        else:
            f = htpl
            f[6:12] = hmacs[random.randrange(len(hmacs))]
        try:
            s.send(f)
            sent[k] += 1
        except (BlockingIOError, OSError):
            pass  # a full queue: that frame is lost, as on a wire
        i += 1
        if gap:
            nxt += gap
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
    el = time.monotonic() - t0
    total = sent["a"] + sent["h"]
    print(json.dumps({"sent": total, "seconds": round(el, 2),
                      "fps": int(total / el), "assoc": sent["a"],
                      "hello": sent["h"]}))


if __name__ == "__main__":
    main()
