# auth_attacker.py - the hostile station of tests/e2e/auth_attacker.sh: it
# records a victim hypervisor's signed frames (a wiretap on the victim's
# bridge port) and, from another station on the same bridged access network,
# tries to detach, hijack and withdraw the victim's VNIC and to take the
# port's tags: unsigned, signed with a key of its own, and by replaying what
# it recorded, with the victim's MAC as source and with its own.
"""Usage:
  auth_attacker.py capture IFACE SRC_MAC OUT SECONDS
      writes the signed frames from SRC_MAC seen on IFACE (hex, one a line)
      until one carries a VNIC_DISASSOC (exit 0) or SECONDS pass (exit 1);
      OUT.ready appears once it listens
  auth_attacker.py attack IFACE VICTIM_MAC VNIC VNI VNI... -- REPLAY_FILE
      VNIC: the victim's VNIC UUID on VN VNI (the first); the other VNIs
      are the VNs whose tags it tries to take
"""

import os
import random
import select
import socket
import struct
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "scapy"))
import nvdp as N  # noqa: E402


ETH_P_ALL = 3


def open_link(ifname, tap=False):
    """tap: every frame (ETH_P_ALL), as a bridge port's frames reach only
    taps (the bridge consumes them before protocol handlers see them)."""
    proto = ETH_P_ALL if tap else N.ETHERTYPE
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
    s.bind((ifname, proto))
    return s


def frames(s, seconds):
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([s], [], [], left)
        if r:
            yield s.recv(65535)


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def capture(ifname, src, out, seconds):
    s = open_link(ifname, tap=True)
    open(out + ".ready", "w").close()  # listening: the victim may start
    got = []
    for raw in frames(s, seconds):
        if raw[12:14] != struct.pack("!H", N.ETHERTYPE) or \
                mac_str(raw[6:12]) != src.lower() or not raw[15] & N.HF_AUTH:
            continue
        length = struct.unpack("!H", raw[16:18])[0]
        raw = raw[:14 + N.HDR_LEN + length]  # no Ethernet padding
        got.append(raw.hex())
        types = [m.type for m in N.parse(raw)[N.NVDP].msgs]
        if N.VNIC_DISASSOC in types:
            with open(out, "w") as fp:
                fp.write("\n".join(got) + "\n")
            return 0
    return 1


def learn_nve(s):
    """The NVE's MAC and epoch from its group HELLO."""
    for raw in frames(s, 5.0):
        e = N.parse(raw)
        if N.NVDP not in e:
            continue
        for m in e[N.NVDP].msgs:
            if m.type == N.HELLO and getattr(m, "role", 0) == N.ROLE_NVE:
                return e.src.lower(), e[N.NVDP].epoch
    sys.exit("attacker: no NVE HELLO heard")


def attack(ifname, victim, vnic, vnis, replay_file):
    s = open_link(ifname)
    with open("/sys/class/net/%s/address" % ifname) as fp:
        own = fp.read().strip().lower()
    nve, nve_epoch = learn_nve(s)
    epoch = random.getrandbits(31) | 1
    txid = [1000]
    sent = [0]
    key = os.urandom(32)
    ctr = [int(time.time() * 1e6)]

    def req(t, **kw):
        txid[0] += 1
        return N.request(t, txid[0], **kw)

    def send(src, msgs, sign):
        f = bytes(N.frame(src, nve, epoch, nve_epoch, msgs))
        if sign:
            ctr[0] += 1
            f = N.auth_sign(f, key, 1, ctr[0])
        s.send(f)
        sent[0] += 1

    vn = vnis[0]
    # First the NVE's voice towards the victim: WITHDRAWs of its VNIC. A
    # bridge delivers them while it has the victim's MAC on the victim's
    # port, and the NVE's MAC comes back to the NVE's port with its next
    # HELLO (both move to our port when we use them as source).
    wd = [N.request(N.WITHDRAW, 1, vnic=vnic, vn=vn, tag=10,
                    reason="withdrawn by the attacker")]
    for rnd in range(3):
        for sign in (False, True):
            f = bytes(N.frame(nve, victim, nve_epoch, 0, wd))
            if sign:
                ctr[0] += 1
                f = N.auth_sign(f, key, 1, ctr[0])
            s.send(f)
            sent[0] += 1
        time.sleep(0.5)
    evil = [
        # detach, disconnect, withdraw by resync, hijack to another VN
        [req(N.VNIC_DISASSOC, vnic=vnic, intent=N.INTENT_SHUTDOWN)],
        [req(N.VN_DISCONNECT, vnic=vnic, vn=vn)],
        [req(N.RESYNC, phase=N.RESYNC_BEGIN)],
        [req(N.RESYNC, phase=N.RESYNC_END)],
        [req(N.ASSOC, vnic=vnic, vn=vnis[1],
             addrs=[N.SubAddrMAC(mac="52:54:00:66:66:66")])],
        # every other VN: take its tag
        [req(N.VN_CONNECT, vnic=str(uuid.uuid4()), vn=v) for v in vnis[1:]],
    ]
    # a restart of the victim, as a forged HELLO with a new epoch
    hello = [N.hello(role=N.ROLE_HV, hold_time=60, hello_interval=1000,
                     window=64, name="victim")]
    for rnd in range(3):
        for src in (victim, own):
            for sign in (False, True):
                send(src, hello, sign)
                for msgs in evil:
                    send(src, msgs, sign)
        time.sleep(0.1)
    # the victim's own frames, recorded: replayed as they were
    with open(replay_file) as fp:
        recorded = [bytes.fromhex(line.strip()) for line in fp if line.strip()]
    for rnd in range(3):
        for raw in recorded:
            s.send(raw)
            sent[0] += 1
        time.sleep(0.1)
    print("attacker: %d frames sent (%d recorded frames replayed 3 times)"
          % (sent[0], len(recorded)))
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "capture":
        return capture(argv[2], argv[3], argv[4], float(argv[5]))
    if len(argv) >= 8 and argv[1] == "attack" and "--" in argv:
        i = argv.index("--")
        return attack(argv[2], argv[3], argv[4], [int(v) for v in argv[5:i]],
                      argv[i + 1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
