# tcp_xfer.py - one TCP transfer for the e2e tests (nt_xfer in netns.sh):
#   tcp_xfer.py recv PORT OUTFILE      accept one connection, save what arrives
#   tcp_xfer.py send HOST PORT INFILE  send INFILE, wait for the peer to close
# The receiver listens on :: and takes IPv4 too (bindv6only is 0 in a new
# namespace), or on 0.0.0.0 where IPv6 is disabled.
import socket
import sys

if sys.argv[1] == "recv":
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", int(sys.argv[2])))
    except OSError:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", int(sys.argv[2])))
    s.listen(1)
    s.settimeout(20)
    c, _ = s.accept()
    c.settimeout(20)
    with open(sys.argv[3], "wb") as f:
        while True:
            b = c.recv(65536)
            if not b:
                break
            f.write(b)
else:
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=20)
    with open(sys.argv[4], "rb") as f:
        c.sendall(f.read())
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
