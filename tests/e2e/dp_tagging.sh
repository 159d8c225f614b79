#!/bin/bash
# dp_tagging.sh - hv-agent's tc-bpf tagging data plane (hv_dp) on namespaces:
# two hypervisors (hv1: vm1 tag 10, vm2 tag 20, vm3 tag 10; hv2: vm4 tag 10)
# whose uplinks meet on a plain Linux bridge in "net" standing in for the
# NVE's access network (it carries 802.1Q frames unchanged). Checks: frames
# leave the uplink tagged, same-tag VMs ping (locally and across), other
# tags never see them (captures), tagged frames injected on the uplink reach
# only their tag's VMs untagged, spoofed/tagged/untagged-VNIC frames drop.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init dp_tagging
NAME=$NT_NAME
TOOL=$NT_BUILD/tests/e2e/dp_tool
[ -x "$TOOL" ] || nt_fail "$TOOL not built"
for c in ping tcpdump /usr/bin/python3; do
    command -v "$c" >/dev/null || nt_skip "$c missing"
done
# short names for the library's prefix, directory and helpers
P=$NT_PFX D=$NT_DIR
fail() { nt_fail "$@"; }
ns() { nt_ns "$1"; }
nsx() { nt_in "$@"; }
# vm NAME HV VNET MAC IP: a VM namespace behind hv's VNET
vm() {
    ns "$1"
    ip -n "$P$2" link add "$3" type veth peer name eth0 netns "$P$1" || fail "veth $3"
    ip -n "$P$1" link set eth0 address "$4"
    ip -n "$P$1" addr add "$5/24" dev eth0
    ip -n "$P$1" link set eth0 up
    ip -n "$P$2" link set "$3" up
}

ns net; ns hv1; ns hv2
ip -n "${P}hv1" link add up0 type veth peer name p1 netns "${P}net" || fail veth
ip -n "${P}hv2" link add up0 type veth peer name p2 netns "${P}net" || fail veth
ip -n "${P}net" link add br0 type bridge forward_delay 0 stp_state 0
for i in p1 p2; do ip -n "${P}net" link set $i master br0; ip -n "${P}net" link set $i up; done
ip -n "${P}net" link set br0 up
ip -n "${P}hv1" link set up0 up; ip -n "${P}hv2" link set up0 up
M1=52:54:00:0d:00:01 M2=52:54:00:0d:00:02 M3=52:54:00:0d:00:03 M4=52:54:00:0d:00:04
vm vm1 hv1 vnet1 $M1 10.9.0.1
vm vm2 hv1 vnet2 $M2 10.9.0.2
vm vm3 hv1 vnet3 $M3 10.9.0.3
vm vm4 hv2 vnet4 $M4 10.9.0.4

# a data plane per hypervisor, driven over a fifo
start_dp() {
    mkfifo "$D/$1.in"
    ip netns exec "$P$1" "$TOOL" up0 bpf < "$D/$1.in" > "$D/$1.out" 2> "$D/$1.log" &
    NT_PIDS+=($!)
    exec {fd}> "$D/$1.in"
    eval "FD_$1=$fd"
    for _ in $(seq 50); do grep -q '^ready' "$D/$1.out" && return; sleep 0.1; done
    fail "dp_tool on $1 did not start"
}
dp() { # dp HV COMMAND: sends one command, waits for its answer line
    local fdv="FD_$1" n
    n=$(wc -l < "$D/$1.out")
    echo "$2" >&"${!fdv}"
    for _ in $(seq 50); do
        [ "$(wc -l < "$D/$1.out")" -gt "$n" ] && { tail -1 "$D/$1.out"; return; }
        sleep 0.05
    done
    fail "dp_tool on $1: no answer to '$2'"
}
start_dp hv1; start_dp hv2
grep -q '^ready bpf' "$D/hv1.out" || fail "backend is not bpf: $(cat "$D/hv1.out")"
counter() { dp "$1" json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['counters']['$2'])"; }
ping_ok() { nsx "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }

# ---- 1. a VNIC with no tag passes nothing (not even to its own tag) -----
[ "$(dp hv1 "set vnet1 $M1 0")" = "ok 0" ] || fail "set vnet1 0"
[ "$(dp hv1 "set vnet3 $M3 10")" = "ok 0" ] || fail "set vnet3"
ping_ok vm1 10.9.0.3 && fail "untagged (tag 0) VNIC reached a VM"
[ "$(counter hv1 drop_notag)" -gt 0 ] || fail "drop_notag not counted"
echo "$NAME: ok: a VNIC without a tag passes no traffic"

# ---- 2. same tag on one hypervisor: local delivery ----------------------
dp hv1 "set vnet1 $M1 10" >/dev/null
dp hv1 "set vnet2 $M2 20" >/dev/null
dp hv2 "set vnet4 $M4 10" >/dev/null
ip netns exec "${P}net" tcpdump -i p1 -e -nn -U -w "$D/up.pcap" 2>/dev/null & NT_PIDS+=($!)
ip netns exec "${P}vm2" tcpdump -i eth0 -e -nn -U -w "$D/vm2.pcap" 2>/dev/null & NT_PIDS+=($!)
sleep 1
ping_ok vm1 10.9.0.3 || fail "vm1 -> vm3 (same tag, same hypervisor)"
echo "$NAME: ok: same-tag VMs on one hypervisor ping"

# ---- 3. same tag across the access network: tagged on the wire ---------
ping_ok vm1 10.9.0.4 || fail "vm1 -> vm4 (same tag, other hypervisor)"
echo "$NAME: ok: same-tag VMs on two hypervisors ping across the tagged network"
# ---- 4. different tags never meet ---------------------------------------
ping_ok vm2 10.9.0.1 && fail "vm2 (tag 20) reached vm1 (tag 10)"
ping_ok vm2 10.9.0.4 && fail "vm2 (tag 20) reached vm4 (tag 10)"
echo "$NAME: ok: tag 20 cannot reach tag 10"

# ---- 5. injected tagged frames: only their tag's VMs, untagged ----------
ip netns exec "${P}vm1" tcpdump -i eth0 -e -nn -U -w "$D/vm1.pcap" 2>/dev/null & NT_PIDS+=($!)
sleep 1
nsx net /usr/bin/python3 - <<PY || fail "scapy injection"
from scapy.all import Ether, Dot1Q, IP, UDP, Raw, sendp
import logging; logging.getLogger("scapy").setLevel(logging.ERROR)
f = lambda tag, dst, t: Ether(src="02:00:00:00:99:01", dst=dst)/Dot1Q(vlan=tag)/IP(src="10.9.0.99", dst="10.9.0.250")/UDP(sport=9, dport=9)/Raw(t)
sendp([f(20, "$M2", b"to-vm2-tag20"), f(10, "$M2", b"wrongtag-for-vm2"),
       f(10, "ff:ff:ff:ff:ff:ff", b"bcast-tag10"), f(99, "ff:ff:ff:ff:ff:ff", b"bcast-tag99")],
      iface="p1", verbose=0)
PY
sleep 1
kill "${NT_PIDS[@]:2}" 2>/dev/null; sleep 0.5
rd() { tcpdump -r "$1" -e -nn -A 2>/dev/null; }
rd "$D/vm2.pcap" | grep -q to-vm2-tag20 || fail "vm2 did not get its tag-20 frame"
rd "$D/vm2.pcap" | grep -q wrongtag-for-vm2 && fail "vm2 got a tag-10 frame addressed to its MAC"
rd "$D/vm2.pcap" | grep -q bcast-tag10 && fail "vm2 (tag 20) got a tag-10 broadcast"
rd "$D/vm2.pcap" | grep -q 'vlan' && fail "vm2 saw a tagged frame"
rd "$D/vm2.pcap" | grep -q "$M1" && fail "vm2 saw vm1's frames"
rd "$D/vm1.pcap" | grep -q bcast-tag10 || fail "vm1 did not get the tag-10 broadcast"
rd "$D/vm1.pcap" | grep -q bcast-tag99 && fail "vm1 got a tag-99 broadcast"
[ "$(counter hv1 drop_unknown)" -gt 0 ] || fail "unknown tag not counted"
echo "$NAME: ok: injected frames reach only their tag's VMs, untagged"
# on the wire vm1's frames carry tag 10 and vm2's tag 20, never untagged
rd "$D/up.pcap" | grep "$M1 >" | grep -vq 'vlan 10,' && fail "vm1 frame on the uplink without tag 10"
rd "$D/up.pcap" | grep "$M1 >" | grep -q 'vlan 10,' || fail "no tagged vm1 frame on the uplink"
rd "$D/up.pcap" | grep "$M2 >" | grep -q 'vlan 20,' || fail "no tag-20 vm2 frame on the uplink"
rd "$D/up.pcap" | grep "$M2 >" | grep -vq 'vlan 20,' && fail "vm2 frame on the uplink without tag 20"
echo "$NAME: ok: the uplink carries each VM's frames with its VN's tag"

# ---- 6. anti-spoofing and tag injection by a VM --------------------------
s0=$(counter hv1 drop_spoof)
nsx vm1 /usr/bin/python3 - <<PY || fail "scapy from vm1"
from scapy.all import Ether, Dot1Q, IP, UDP, sendp
sendp([Ether(src="52:54:00:0d:00:99", dst="ff:ff:ff:ff:ff:ff")/IP()/UDP(),
       Ether(src="$M1", dst="ff:ff:ff:ff:ff:ff")/Dot1Q(vlan=20)/IP()/UDP()], iface="eth0", verbose=0)
PY
sleep 0.3
[ "$(counter hv1 drop_spoof)" -ge $((s0 + 2)) ] || fail "spoofed/tagged frames from a VM not dropped"
echo "$NAME: ok: spoofed source MAC and VM-made tags are dropped"

# ---- 7. detach: the VNIC passes nothing any more --------------------------
[ "$(dp hv1 "del vnet1")" = "ok 0" ] || fail "del vnet1"
ping_ok vm1 10.9.0.3 && fail "detached vm1 still reaches vm3"
ping_ok vm3 10.9.0.1 && fail "vm3 still reaches detached vm1"
# withdrawn (tag 0) on the remote side too
dp hv2 "set vnet4 $M4 0" >/dev/null
ping_ok vm3 10.9.0.4 && fail "withdrawn vm4 still reachable"
dp hv2 "set vnet4 $M4 10" >/dev/null
ping_ok vm3 10.9.0.4 || fail "vm4 re-tagged but unreachable"
echo "$NAME: ok: detached and withdrawn VNICs pass nothing; re-tagging restores"
nt_pass
