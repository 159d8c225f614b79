#!/usr/bin/python3
"""ctl_burst.py - pipelines hv-agent control requests and records every
answer, for the tests that kill or starve hv-agent in the middle of a burst.

usage: ctl_burst.py SOCKET OUT [WINDOW] [WAIT_MS]  < ops

ops, one per line:   attach UUID VN MAC IP   |   detach UUID
OUT is created once the first requests are sent (a test may time a kill
from then on), and gets one line per answer, in the order they came:
    ok UUID OP TAG          (TAG "-" when the answer has none)
    err UUID OP CODE MESSAGE
and a last line "eof N" if hv-agent went away with N requests unanswered,
"done" otherwise. Exit status 0 either way: the test judges the lines.
"""
import json
import socket
import struct
import sys


def frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


def request(i, op):
    f = op.split()
    if f[0] == "attach":
        args = {"vnic": f[1], "vn": f[2], "mac": f[3], "ips": [f[4]]}
        cmd = "vnic-attach"
    elif f[0] == "detach":
        args = {"vnic": f[1]}
        cmd = "vnic-detach"
    else:
        raise SystemExit("ctl_burst: bad op: " + op)
    return cmd, f[1], args


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    path, out = sys.argv[1], sys.argv[2]
    window = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    wait_ms = int(sys.argv[4]) if len(sys.argv) > 4 else 30000
    ops = [l.strip() for l in sys.stdin if l.strip()]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    sent, pending, buf, w = 0, {}, b"", None
    try:
        while sent < len(ops) or pending:
            try:
                while sent < len(ops) and len(pending) < window:
                    cmd, uuid, args = request(sent, ops[sent])
                    args["wait_ms"] = wait_ms
                    s.sendall(frame({"cmd": cmd, "args": args, "id": sent}))
                    pending[sent] = (uuid, cmd)
                    sent += 1
                if w is None:
                    w = open(out, "w", buffering=1)
                chunk = s.recv(1 << 16)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                w.write("eof %d\n" % (len(pending) + len(ops) - sent))
                return
            buf += chunk
            while len(buf) >= 4:
                n = struct.unpack(">I", buf[:4])[0]
                if len(buf) < 4 + n:
                    break
                m = json.loads(buf[4:4 + n])
                buf = buf[4 + n:]
                if "id" not in m or m["id"] not in pending:
                    continue
                uuid, cmd = pending.pop(m["id"])
                if m.get("ok"):
                    tag = (m.get("result") or {}).get("tag")
                    w.write("ok %s %s %s\n" % (uuid, cmd,
                                               "-" if tag is None else tag))
                else:
                    w.write("err %s %s %s %s\n" % (uuid, cmd, m.get("code"),
                                                   m.get("error", "")))
        w.write("done\n")
    finally:
        if w is not None:
            w.close()


main()
