#!/usr/bin/python3
"""udp_seq.py - a paced UDP stream with sequence numbers, and its receiver.

  udp_seq.py send DST PORT RATE COUNT [START]
        COUNT datagrams at RATE per second; number i leaves at the
        CLOCK_MONOTONIC time (ms) written to START, plus i / RATE s
  udp_seq.py recv PORT COUNT IDLE_S OUT
        until COUNT arrived or IDLE_S of silence after the first; writes a
        JSON summary to OUT (and OUT.ready once it listens)

The summary: sent (COUNT), received (distinct), lost, duplicates, reordered
(arrived after a higher number), max_gap_ms (longest silence between two
arrivals: the outage a move causes), first_gap_seq (the number that ended
it), missing (the numbers lost, as [first, last] ranges). A datagram is 8
bytes of sequence number and 8 of send time (ns)."""
import json
import socket
import struct
import sys
import time


def send(dst, port, rate, count, startfile=None):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    period = 1.0 / rate
    start = time.monotonic()
    if startfile:
        with open(startfile, "w") as f:
            f.write("%.3f\n" % (start * 1000))
    for seq in range(count):
        due = start + seq * period
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            s.sendto(struct.pack("!QQ", seq, time.monotonic_ns()), (dst, port))
        except OSError:
            pass  # no route or neighbour for a moment: that datagram is lost
    return 0


def recv(port, count, idle, out):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.settimeout(idle)
    open(out + ".ready", "w").close()
    seen = set()
    dup = reordered = 0
    highest = -1
    last = None
    max_gap = 0.0
    gap_seq = None
    while len(seen) < count:
        try:
            data, _ = s.recvfrom(64)
        except socket.timeout:
            if seen:
                break
            continue
        if len(data) < 16:
            continue
        seq, _ = struct.unpack("!QQ", data[:16])
        now = time.monotonic()
        if last is not None and (now - last) * 1000 > max_gap:
            max_gap = (now - last) * 1000
            gap_seq = seq
        last = now
        if seq in seen:
            dup += 1
            continue
        seen.add(seq)
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
    missing, run = [], None
    for i in range(count):
        if i in seen:
            run = None
        elif run is not None and run[1] == i - 1:
            run[1] = i
        else:
            run = [i, i]
            missing.append(run)
    res = {"sent": count, "received": len(seen), "lost": count - len(seen),
           "duplicates": dup, "reordered": reordered,
           "max_gap_ms": round(max_gap, 1), "first_gap_seq": gap_seq,
           "missing": missing}
    with open(out, "w") as f:
        json.dump(res, f)
    return 0


def main(argv):
    if len(argv) in (6, 7) and argv[1] == "send":
        return send(argv[2], int(argv[3]), float(argv[4]), int(argv[5]),
                    argv[6] if len(argv) == 7 else None)
    if len(argv) == 6 and argv[1] == "recv":
        return recv(int(argv[2]), int(argv[3]), float(argv[4]), argv[5])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
