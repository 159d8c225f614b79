#!/usr/bin/python3
# fake_ctl.py - a scripted stand-in for a daemon's control socket (4-byte
# big-endian length + JSON), so nvdpctl's exit codes and output are tested
# without the daemons. Usage: fake_ctl.py SOCKET_PATH LOGFILE
# Every request is appended to LOGFILE (one JSON per line); the answer is
# chosen by the command and, for vnic-attach, by args.vn.
import json
import os
import socket
import struct
import sys
import threading


def send(conn, obj):
    data = json.dumps(obj).encode()
    conn.sendall(struct.pack(">I", len(data)) + data)


def recv(conn):
    hdr = b""
    while len(hdr) < 4:
        chunk = conn.recv(4 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    (n,) = struct.unpack(">I", hdr)
    body = b""
    while len(body) < n:
        chunk = conn.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


VNIC = {"vnic": "00000000-0000-4000-8000-000000000001", "vn": "blue",
        "mac": "52:54:00:00:00:01", "ips": ["10.0.0.1"], "state": "attached",
        "tag": 7, "status": None, "reason": None, "intent": None}


def serve(conn, log):
    with conn:
        while True:
            req = recv(conn)
            if req is None:
                return
            with open(log, "a") as f:
                f.write(json.dumps(req) + "\n")
            cmd, args = req.get("cmd"), req.get("args", {})
            rid = {"id": req["id"]} if "id" in req else {}
            if cmd == "vnic-attach":
                vn = args.get("vn")
                if vn == "refuse":
                    send(conn, {"ok": False, "code": 5, **rid,
                                "error": "not-authorised: hypervisor not allowed on port1"})
                elif vn == "timeout":
                    send(conn, {"ok": False, "code": 4, **rid,
                                "error": "no answer from the NVE"})
                elif vn == "silent":
                    continue  # never answers: the client's -t must fire
                elif vn == "garbage":
                    conn.sendall(struct.pack(">I", 5) + b"nope!")
                elif vn == "close":
                    return
                else:
                    send(conn, {"ok": True, **rid, "result": dict(VNIC, vn=vn, echo=args)})
            elif cmd == "vnic-list":
                send(conn, {"ok": True, **rid, "result": [VNIC, dict(VNIC, vnic="u2", tag=9, state="pending")]})
            elif cmd == "status":
                send(conn, {"ok": True, **rid, "result": {"name": "fake", "epoch": 42,
                            "nve": {"mac": "02:00:00:00:00:01", "state": "up"}}})
            elif cmd == "tags":
                send(conn, {"ok": False, "code": 3, **rid, "error": "unknown port"})
            elif cmd == "watch":
                send(conn, {"ok": True, **rid, "result": None})
                for i in range(3):
                    send(conn, dict(VNIC, event="vnic", tag=i + 1))
                return
            else:
                send(conn, {"ok": False, "code": 2, **rid, "error": "unknown command " + str(cmd)})


def main():
    path, log = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, log), daemon=True).start()


if __name__ == "__main__":
    main()
