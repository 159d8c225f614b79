#!/usr/bin/python3
"""fwd_hostile.py - malformed and hostile frames for nve-agent's forwarder,
sent by tests/e2e/fwd_dp.sh and fwd_nve.sh from inside a namespace.

  fwd_hostile.py access IFACE TAG GOOD_SRC_MAC
      frames an access port must drop: untagged, untagged NVDP (must be left
      to nve-agent's l2sock, not counted), unknown tag, spoofed source MAC,
      group source MAC.
  fwd_hostile.py underlay IFACE DST_MAC SRC_IP DST_IP VNI REMOTE_MAC
      underlay packets to our VXLAN port that must be dropped: too short,
      I flag clear, unknown VNI, tagged inner frame, bad IPv4 header
      checksum, frame for a remote MAC (split horizon); plus two the kernel
      filter must keep away (other UDP port, fragment).
Prints one line per frame sent.
"""
import sys

from scapy.all import (IP, UDP, VXLAN, Dot1Q, Ether, IPv6, Raw, conf,
                       sendp)

conf.verb = 0


def send(iface, pkt, what):
    sendp(pkt, iface=iface)
    print("sent:", what)


def access(iface, tag, good):
    tag = int(tag)
    bad_tag = 4000
    ip = IP(src="10.0.0.66", dst="10.0.0.2") / UDP(sport=7, dport=7) / Raw(b"x" * 20)
    send(iface, Ether(dst="ff:ff:ff:ff:ff:ff", src=good) / ip, "untagged")
    send(iface, Ether(dst="03:4e:56:44:50:00", src=good, type=0x88B5) / Raw(b"\x01" + b"\x00" * 40),
         "untagged NVDP (not counted)")
    send(iface, Ether(dst="ff:ff:ff:ff:ff:ff", src=good) / Dot1Q(vlan=bad_tag) / ip, "unknown tag")
    send(iface, Ether(dst="ff:ff:ff:ff:ff:ff", src="02:66:66:66:66:66") / Dot1Q(vlan=tag) / ip,
         "spoofed source")
    send(iface, Ether(dst="ff:ff:ff:ff:ff:ff", src="01:00:5e:00:00:01") / Dot1Q(vlan=tag) / ip,
         "group source")


def underlay(iface, dst_mac, src_ip, dst_ip, vni, remote_mac):
    vni = int(vni)
    v6 = ":" in dst_ip
    L3 = (lambda **kw: IPv6(src=src_ip, dst=dst_ip)) if v6 else \
        (lambda **kw: IP(src=src_ip, dst=dst_ip, **kw))
    outer = lambda **kw: Ether(dst=dst_mac) / L3(**kw)
    inner = Ether(dst="ff:ff:ff:ff:ff:ff", src="02:55:55:55:55:55") / IP(src="10.9.9.9", dst="10.9.9.8") / Raw(b"y" * 30)
    send(iface, outer() / UDP(sport=50000, dport=4789) / Raw(b"\x08\x00\x00"), "short VXLAN")
    send(iface, outer() / UDP(sport=50000, dport=4789) / VXLAN(flags=0, vni=vni) / inner, "I flag clear")
    send(iface, outer() / UDP(sport=50000, dport=4789) / VXLAN(vni=777) / inner, "unknown VNI")
    tagged = Ether(dst="ff:ff:ff:ff:ff:ff", src="02:55:55:55:55:55") / Dot1Q(vlan=5) / IP() / Raw(b"z" * 30)
    send(iface, outer() / UDP(sport=50000, dport=4789) / VXLAN(vni=vni) / tagged, "tagged inner")
    to_remote = Ether(dst=remote_mac, src="02:55:55:55:55:56") / IP(src="10.9.9.9", dst="10.9.9.8") / Raw(b"r" * 30)
    send(iface, outer() / UDP(sport=50000, dport=4789) / VXLAN(vni=vni) / to_remote, "to a remote MAC")
    if not v6:
        p = outer() / UDP(sport=50000, dport=4789) / VXLAN(vni=vni) / inner
        p[IP].chksum = 0x1234
        send(iface, p, "bad IPv4 header checksum")
        send(iface, outer(flags="MF") / UDP(sport=50000, dport=4789) / VXLAN(vni=vni) / inner,
             "fragment (filtered)")
    send(iface, outer() / UDP(sport=50000, dport=4790) / VXLAN(vni=vni) / inner, "other port (filtered)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "access":
        access(*sys.argv[2:])
    elif len(sys.argv) == 8 and sys.argv[1] == "underlay":
        underlay(*sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
