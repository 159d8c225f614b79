#!/usr/bin/python3
"""nl_watch.py - when did the kernel's fdb say so? The EVPN bench's clock on
the kernel side (the anchor's data plane, and nve-agent's shadow devices).
Subscribes to RTNLGRP_NEIGH in the current network namespace, prints
"ready" once subscribed, then waits:

  nl_watch.py count VXLAN_DEV N TIMEOUT_S
      until N distinct MACs have their bridge entry on VXLAN_DEV (remote)
  nl_watch.py mac VXLAN_DEV MAC TIMEOUT_S
      until MAC's bridge entry is on VXLAN_DEV (the old NVE of a move
      points away; its self entry may be a stale one that does not change)

and prints the CLOCK_MONOTONIC time in ms of the message that completed it
(or "timeout", or "overrun" when notifications were lost). Only the
kernel's own notifications are read. `count` also prints "at PCT MS" when
10, 50 and 90 % of N were there (the bench's timeline).

One recv is one notification: the socket is read into a buffer allocated
once (a fresh 1 MB per recv made Python fall behind a 20,000-message burst
and overrun even a 64 MB queue)."""
import errno
import socket
import struct
import sys
import time

RTMGRP_NEIGH = 4
RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
NDA_LLADDR, NDA_MASTER = 2, 9
NTF_SELF = 0x02
AF_BRIDGE = 7


def ifindex(name):
    with open("/sys/class/net/%s/ifindex" % name) as f:
        return int(f.read())


BUF = bytearray(1 << 16)
VIEW = memoryview(BUF)


def messages(sock):
    size = sock.recv_into(BUF)
    data = bytes(VIEW[:size])
    off = 0
    while off + 16 <= len(data):
        ln, typ = struct.unpack_from("=IH", data, off)
        if ln < 16 or off + ln > len(data):
            break
        yield typ, data[off + 16:off + ln]
        off += (ln + 3) & ~3


def neigh(body):
    fam, ifi, state, flags = struct.unpack_from("=B3xiHB", body, 0)
    attrs, off = {}, 12
    while off + 4 <= len(body):
        alen, atyp = struct.unpack_from("=HH", body, off)
        if alen < 4:
            break
        attrs[atyp & 0x3fff] = body[off + 4:off + alen]
        off += (alen + 3) & ~3
    return fam, ifi, flags, attrs


def main(argv):
    if len(argv) < 5 or argv[1] not in ("count", "mac"):
        sys.stderr.write(__doc__)
        return 2
    dev = ifindex(argv[2])
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    # 10,000 MACs and their IPs are ~20,000 messages in a burst
    s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
    s.bind((0, RTMGRP_NEIGH))
    if argv[1] == "count":
        want, timeout = int(argv[3]), float(argv[4])
    else:
        mac = bytes.fromhex(argv[3].replace(":", ""))
        timeout = float(argv[4])
    print("ready", flush=True)
    remote = set()
    marks = [(want * p + 99) // 100 for p in (10, 50, 90)] \
        if argv[1] == "count" else []
    deadline = time.monotonic() + timeout
    s.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            batch = list(messages(s))
        except socket.timeout:
            continue
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                print("overrun", flush=True)
                return 1
            raise
        for typ, body in batch:
            if typ not in (RTM_NEWNEIGH, RTM_DELNEIGH):
                continue
            fam, ifi, flags, a = neigh(body)
            if fam != AF_BRIDGE or ifi != dev or NDA_LLADDR not in a:
                continue
            lladdr, new = a[NDA_LLADDR], typ == RTM_NEWNEIGH
            if argv[1] == "count":
                if flags & NTF_SELF or NDA_MASTER not in a:
                    continue
                (remote.add if new else remote.discard)(lladdr)
                while marks and len(remote) >= marks[0]:
                    print("at %d %.3f" % ((marks[0] * 100 + want - 1) // want,
                                          time.monotonic() * 1000), flush=True)
                    marks.pop(0)
                if len(remote) >= want:
                    print("%.3f" % (time.monotonic() * 1000), flush=True)
                    return 0
            elif lladdr == mac and new and not flags & NTF_SELF and \
                    NDA_MASTER in a:
                print("%.3f" % (time.monotonic() * 1000), flush=True)
                return 0
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
