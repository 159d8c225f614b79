#!/usr/bin/python3
"""garp.py IFACE IP [COUNT [INTERVAL_MS]] - what a VM sends when it resumes
after a migration: a gratuitous ARP (IPv4: a request for its own address,
to the broadcast MAC) or an unsolicited neighbour advertisement (IPv6: to
all-nodes, override flag, target link-layer address option), from IFACE's
MAC, COUNT times INTERVAL_MS apart (QEMU announces a few times: the first
may beat the new hypervisor's data plane). Raw AF_PACKET: no Scapy start-up
time in the middle of a move."""
import socket
import struct
import sys
import time


def ifmac(ifname):
    with open("/sys/class/net/%s/address" % ifname) as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def garp(mac, ip):
    ip4 = socket.inet_aton(ip)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip4,
                      b"\0" * 6, ip4)
    return b"\xff" * 6 + mac + b"\x08\x06" + arp


def una(mac, ip):
    src = socket.inet_pton(socket.AF_INET6, ip)
    dst = socket.inet_pton(socket.AF_INET6, "ff02::1")
    body = struct.pack("!BBHI16sBB6s", 136, 0, 0, 0x20000000, src, 2, 1, mac)
    pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", csum(pseudo + body)) + body[4:]
    ip6 = struct.pack("!IHBB16s16s", 0x60000000, len(body), 58, 255, src, dst)
    return b"\x33\x33\x00\x00\x00\x01" + mac + b"\x86\xdd" + ip6 + body


def main(argv):
    if len(argv) not in (3, 4, 5):
        sys.stderr.write(__doc__)
        return 2
    mac = ifmac(argv[1])
    frame = una(mac, argv[2]) if ":" in argv[2] else garp(mac, argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((argv[1], 0))
    count = int(argv[3]) if len(argv) > 3 else 1
    interval = float(argv[4]) / 1000 if len(argv) > 4 else 0
    for i in range(count):
        if i:
            time.sleep(interval)
        s.send(frame)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
