#!/usr/bin/python3
# impair.py - an impaired wire for the netns tests: forwards every Ethernet
# frame between two interfaces with random loss, delay, reordering and
# duplication, in both directions, reproducible from a seed.
"""Usage: impair.py IF_A IF_B [--loss PCT] [--delay MS] [--jitter MS]
                    [--reorder PCT] [--dup PCT] [--seed N] [--stats FILE]

Run it in a namespace holding both interfaces (each a veth towards one end).
The model is netem's "loss L delay D J reorder R duplicate P", applied to
each direction on its own: a frame is dropped with probability L; a frame
that survives is sent at once with probability R (so it overtakes the
frames still delayed), otherwise after D +- J ms (uniform); with probability
P a second copy follows, delayed on its own draw.  This kernel has no
sch_netem (CONFIG_NET_SCH_NETEM is off), hence a userspace wire.

SIGUSR1 makes the wire clean (every frame forwarded at once, none lost),
SIGUSR2 restores the impairment.  SIGTERM ends it and, with --stats, writes
the frame counts as JSON to FILE.
"""

import argparse
import heapq
import json
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--stats", default=None)
    o = ap.parse_args()
    seed = o.seed if o.seed is not None else random.getrandbits(32)
    rnd = random.Random(seed)
    print("impair %s<->%s: loss %.1f%% delay %.1fms +-%.1fms reorder %.1f%% "
          "dup %.1f%% seed %d" % (o.a, o.b, o.loss, o.delay, o.jitter,
                                  o.reorder, o.dup, seed), flush=True)

    socks = {}
    for name in (o.a, o.b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
        s.bind((name, ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        socks[name] = s
    other = {socks[o.a]: socks[o.b], socks[o.b]: socks[o.a]}
    state = {"clean": False, "stop": False}
    stats = {"seed": seed, "frames": 0, "lost": 0, "delayed": 0,
             "reordered": 0, "duplicated": 0}

    def on_signal(sig, _frame):
        if sig == signal.SIGUSR1:
            state["clean"] = True
        elif sig == signal.SIGUSR2:
            state["clean"] = False
        else:
            state["stop"] = True
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM,
                signal.SIGINT):
        signal.signal(sig, on_signal)

    queue = []  # (due, seq, out socket, frame)
    seq = 0

    def schedule(out, data, now):
        nonlocal seq
        if rnd.random() * 100 < o.reorder or o.delay <= 0:
            due = now
            stats["reordered"] += o.delay > 0
        else:
            due = now + max(0.0, o.delay + rnd.uniform(-o.jitter,
                                                       o.jitter)) / 1000
            stats["delayed"] += 1
        seq += 1
        heapq.heappush(queue, (due, seq, out, data))

    while not state["stop"]:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, data = heapq.heappop(queue)
            try:
                out.send(data)
            except OSError:
                pass  # the other end is down (a daemon restarting)
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        try:
            ready, _, _ = select.select(list(socks.values()), [], [],
                                        timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in ready:
            try:
                data, addr = s.recvfrom(65535)
            except OSError:
                continue
            if addr[2] == PACKET_OUTGOING:
                continue  # what we sent ourselves
            stats["frames"] += 1
            out = other[s]
            if state["clean"]:
                heapq.heappush(queue, (now, seq, out, data))
                seq += 1
                continue
            if rnd.random() * 100 < o.loss:
                stats["lost"] += 1
                continue
            schedule(out, data, now)
            if o.dup and rnd.random() * 100 < o.dup:
                stats["duplicated"] += 1
                schedule(out, data, now)
    if o.stats:
        with open(o.stats, "w") as f:
            json.dump(stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
