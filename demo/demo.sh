#!/bin/bash
# demo.sh - the README's demo: a split-NVE on network namespaces. Builds the
# topology (two sites, each a top-of-rack NVE, joined by a VXLAN underlay;
# then a third site that the others reach through BGP EVPN alone),
# runs two nve-agents and four hv-agents, attaches VNICs, shows the tags and
# state through nvdpctl, sends traffic within a site and across the overlay
# (captured on the underlay, decoded by tshark), detaches, and tears
# everything down.
#
# Usage, as root: demo/demo.sh   (BUILD_DIR=dir with the built tree, else "."
# or build/release). Exits 0 only if every step it shows really happened.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${BUILD_DIR:-}" ]; then
    for d in . "$TOP" "$TOP/build/release"; do
        [ -x "$d/nve-agent/nve-agent" ] && { BUILD_DIR=$(cd "$d" && pwd); break; }
    done
fi
if [ -z "${BUILD_DIR:-}" ] || [ ! -x "$BUILD_DIR/nve-agent/nve-agent" ]; then
    echo "demo: no built tree found: set BUILD_DIR, or run it from the build directory" >&2
    echo "      (./run.sh demo builds first)" >&2
    exit 1
fi
export BUILD_DIR top_builddir=$BUILD_DIR
. "$TOP/tests/lib/netns.sh"
NT_QUIET=1
# In the demo a missing prerequisite is an error, not a skipped test.
nt_skip() { echo "demo: cannot run: $*" >&2; exit 1; }

if [ -t 1 ]; then B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' N=$'\e[0m'; else B='' D='' G='' N=''; fi
CHECKS=0
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
say() { printf '    %s\n' "$*"; }
ok() { CHECKS=$((CHECKS + 1)); printf '    %s[ok]%s %s\n' "$G" "$N" "$*"; }
# show DAEMON ARGS...: prints the nvdpctl command as a user would type it
# on that machine, then its output, indented.
# quote ARGS...: the words as a shell user would type them.
quote() {
    local a out=
    for a in "$@"; do
        case $a in
        *[[:space:]\'\"\$]*) out+=" \"$a\"" ;;
        *) out+=" $a" ;;
        esac
    done
    printf '%s' "${out# }"
}
prompt() { local d=$1; shift; printf '    %s%s# nvdpctl %s%s\n' "$D" "$d" "$(quote "$@")" "$N"; }
show() {
    local d=$1 out
    shift
    prompt "$d" "$@"
    out=$("$NVDPCTL" -s "$NT_DIR/$d.sock" "$@") || nt_fail "nvdpctl $* on $d failed"
    printf '%s\n' "$out" | sed 's/^/      /'
}
check_eq() { # WHAT EXPECTED ACTUAL
    [ "$2" = "$3" ] || nt_fail "$1: expected '$2', got '$3'"
    ok "$1"
}

nt_init demo

cat <<EOF
${B}splitnve demo${N}: the split-NVE control plane of RFC 8394 on network namespaces.

                  site 1                                   site 2
      vm1 vm3       vm2                vm4                   vm5
        |  |         |                  |                     |
      [ hv1 ]     [ hv2 ]            [ hv3 ]               [ hv4 ]   hypervisors (hv-agent)
          \\         /                  |                     |
        [ br0: bridged access ]         |                     |     a Linux bridge ("access switch")
                  |                     |                     |
             port1 (ap1)           port2 (ap2)           port1 (ap1)
              [       nve (nve-agent)       ]      [ nve2 (nve-agent) ]  top-of-rack NVEs
                 VTEP 192.0.2.1 |                          | VTEP 192.0.2.2
              ==================+=== underlay (ns "ul") ===+==================
                                 VXLAN, UDP 4789

  VNs: blue (VNI 10100: vm1, vm2, vm4, vm5) and red (VNI 10200: vm3), all VMs
  in 10.10.0.0/24. nve's port 1 hands out tags 10-99, its port 2 100-199,
  nve2's port 1 200-299: a tag is local to an access port; the VN (VNI) is
  what the NVEs carry across, between their ports and over the underlay.
EOF

# ---------------------------------------------------------------------------
step "1. Building the namespaces, veths and the bridges"
for c in ethtool tcpdump tshark nc sha256sum; do
    command -v "$c" >/dev/null 2>&1 || nt_skip "$c not found (./run.sh deps installs it)"
done
nt_topo_bridged
# Site 2: nve2 with one access port, hv4 behind it on a direct veth.
nt_ns nve2
nt_ns hv4
nt_veth nve2 ap1 hv4 up0 02:4e:56:00:00:03 02:48:56:00:00:04
# "VMs": a namespace each, behind a veth whose host side is the VNIC's
# interface on its hypervisor.
VM_HV=(x hv1 hv2 hv1 hv3 hv4)
VM_VN=(x blue blue red blue blue)
# One subnet for all: only the VNs keep red's vm3 apart from the others.
VM_IP=(x 10.10.0.1 10.10.0.2 10.10.0.3 10.10.0.4 10.10.0.5)
for i in 1 2 3 4 5; do
    nt_ns "vm$i"
    nt_veth "vm$i" eth0 "${VM_HV[$i]}" "vnet$i" "$(nt_mac "$i" 170)"
    # The overlay's MTU: 1500 on the underlay less 50 bytes of VXLAN. The
    # NVEs forward frame by frame, so no segmentation offload either.
    ip -n "$(nt_nsname "vm$i")" link set eth0 mtu 1450
    nt_in "vm$i" ethtool -K eth0 tso off gso off >/dev/null 2>&1
    ip -n "$(nt_nsname "vm$i")" addr add "${VM_IP[$i]}/24" dev eth0
done
# The underlay (VXLAN side of the NVEs' forwarders): namespace "ul" stands
# for the data-centre network, a bridge joining the two NVEs' ul0.
nt_ns ul
nt_veth nve ul0 ul nve
nt_veth nve2 ul0 ul nve2
nt_bridge ul ul0 nve nve2
ip -n "$(nt_nsname nve)" addr add 192.0.2.1/24 dev ul0
ip -n "$(nt_nsname nve2)" addr add 192.0.2.2/24 dev ul0
say "namespaces: $(printf '%s ' "${NT_NETNS[@]}" | sed "s/$NT_PFX//g")(prefix $NT_PFX)"
say "VMs' MTU 1450: the underlay's 1500 less the 50 bytes of VXLAN encapsulation"
ok "topology up"

# ---------------------------------------------------------------------------
step "2. Starting the nve-agents: access ports with their tag ranges, VNs, underlay"
# site_vns LOCAL_VTEP REMOTE_VTEP: the VNs and the underlay of one NVE. Both
# VNs span both sites: the other NVE receives their broadcast, unknown
# unicast and multicast (head-end replication, 'flood').
site_vns() {
    cat <<EOC
vn "blue" {
    vni = 10100
    flood = {"$2"}
}
vn "red" {
    vni = 10200
    flood = {"$2"}
}
underlay {
    interface = "ul0"
    local-ip = "$1"
}
EOC
}
export NVE_VNS=" " HV_VNS="blue:10100 red:10200"
export NVE_PORTS="port1 ap1 tags=10-99
port2 ap2 tags=100-199"
NVE_EXTRA=$(site_vns 192.0.2.1 192.0.2.2) nt_start_nve nve nve
say "site 1: nve's nve-agent.conf:"
grep -v '^$' "$NT_DIR/nve.conf" | sed 's/^/      /'
NVE_PORTS="port1 ap1 tags=200-299" NVE_EXTRA=$(site_vns 192.0.2.2 192.0.2.1) nt_start_nve nve2 nve2
say "site 2: nve2's nve-agent.conf: its own port and tags, the same VNs, the other VTEP:"
grep -v '^$' "$NT_DIR/nve2.conf" | sed 's/^/      /'
show nve ports
show nve vns
show nve2 vns
check_eq "nve floods blue to nve2's VTEP" 192.0.2.2 \
    "$(nt_jq nve '.vns[] | select(.vni == 10100) | .flood | join(",")' fwd)"
check_eq "nve2 floods blue to nve's VTEP" 192.0.2.1 \
    "$(nt_jq nve2 '.vns[] | select(.vni == 10100) | .flood | join(",")' fwd)"

step "3. Starting hv-agent on each hypervisor; they find their NVE by HELLO"
for h in hv1 hv2 hv3 hv4; do nt_start_hv "$h" "$h" up0; done
for h in hv1 hv2 hv3 hv4; do nt_wait 10 "$h hears its NVE" nt_hv_sees_nve "$h"; done
ok "hv1, hv2 (through the bridge) and hv3 (direct) hear nve; hv4 hears nve2"
show hv1 status
show nve peers
check_eq "the NVE sees three hypervisors" 3 "$(nt_jq nve length peers)"
check_eq "nve2 sees one hypervisor, hv4" hv4 "$(nt_jq nve2 '[.[].name] | join(",")' peers)"

# ---------------------------------------------------------------------------
step "4. Attaching the VMs' VNICs to their VNs (vnic attach --wait)"
declare -A TAG
for i in 1 2 3 4 5; do
    h=${VM_HV[$i]}
    args=(vnic attach "$(nt_uuid "$i")" --vn "${VM_VN[$i]}" --mac "$(nt_mac "$i" 170)"
          --ip "${VM_IP[$i]}" --ifname "vnet$i" --wait=5)
    if [ "$i" = 1 ]; then
        show "$h" "${args[@]}"
    else
        prompt "$h" "${args[@]}"
        nt_ctl "$h" "${args[@]}" >/dev/null || nt_fail "attach vm$i on $h"
    fi
    TAG[$i]=$(nt_hv_field "$h" "$(nt_uuid "$i")" tag)
    check_eq "vm$i on $h is attached to ${VM_VN[$i]} with tag ${TAG[$i]}" attached \
        "$(nt_hv_field "$h" "$(nt_uuid "$i")" state)"
done

# ---------------------------------------------------------------------------
step "5. The tags the NVEs handed out"
show nve tags
show nve -f json tags
check_eq "hv1 and hv2 share one tag for blue behind the bridge (port1)" "${TAG[1]}" "${TAG[2]}"
check_eq "...and it is the NVE's tag for (port1, blue)" "${TAG[1]}" "$(nt_nve_tag nve port1 10100)"
[ "${TAG[3]}" != "${TAG[1]}" ] || nt_fail "red and blue got the same tag on port1"
ok "red has its own tag on port1: ${TAG[3]}"
[ "${TAG[4]}" -ge 100 ] && [ "${TAG[4]}" -le 199 ] || nt_fail "hv3's tag ${TAG[4]} is not from port2's range"
ok "hv3's blue tag ${TAG[4]} comes from port2's own range"
show nve2 tags
[ "${TAG[5]}" -ge 200 ] && [ "${TAG[5]}" -le 299 ] || nt_fail "hv4's tag ${TAG[5]} is not from nve2's range"
check_eq "site 2: vm5's blue tag ${TAG[5]} is nve2's own; the VNI is the same, 10100" 10100 \
    "$(nt_jq nve2 '.[] | select(.port == "port1" and .tag == '"${TAG[5]}"') | .vni' tags)"

step "6. What each side knows"
show nve vnics
check_eq "the NVE holds the four VNICs, associated" 4 \
    "$(nt_jq nve '[.[] | select(.state == "associated")] | length' vnics)"
show hv1 vnic list
show nve counters

# ---------------------------------------------------------------------------
# TRAFFIC: needs the hypervisors' tc-bpf data plane (issue 5) and the NVE's
# in-process forwarder (issue 6); skipped, and said so, when hv-agent was
# built without tc-bpf. Nothing above depends on it.
# ---------------------------------------------------------------------------
vm_ping() { nt_in "vm$1" ping -c 2 -i 0.2 -W 2 -q "$2" >/dev/null 2>&1; }
# vm_pingw VM IP: up to five tries (the first may wait for ARP).
vm_pingw() { local i; for i in 1 2 3 4 5; do vm_ping "$1" "$2" && return 0; done; return 1; }
# forget_pid PID: a process we started and already reaped leaves NT_PIDS.
forget_pid() {
    local p keep=()
    for p in "${NT_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    NT_PIDS=("${keep[@]}")
}
# remote_ok NVE IP: NVE's forwarder has resolved remote VTEP IP's next hop.
remote_ok() { nt_eq true nt_jq "$1" '[.remotes[] | select(.ip == "'"$2"'") | .resolved][0]' fwd; }
# fwd_mac NVE MAC: "TYPE REMOTE" of MAC in NVE's forwarder table for blue.
fwd_mac() {
    nt_jq "$1" '[.vns[] | select(.vni == 10100) | .macs[] | select(.mac == "'"$2"'")
                 | "\(.type) \(.remote // "-")"][0] // ""' fwd
}
# the forwarder's MAC table of blue, one line per MAC
MACS_JQ='.vns[] | select(.vni == 10100) | .macs[] | "\(.mac) \(.type) \(.remote // .ifname)"'
# vni_ctr NVE VNI NAME: a per-VN forwarder counter.
vni_ctr() { nt_jq "$1" '.fwd.vns["'"$2"'"].'"$3"' // 0' counters; }

# overlay_step N: vm1 (site 1) and vm5 (site 2) talk across the VXLAN
# overlay; the underlay is captured and decoded with tshark.
overlay_step() {
    local cap m1 m3 m5 n
    m1=$(nt_mac 1 170) m3=$(nt_mac 3 170) m5=$(nt_mac 5 170)
    step "$1. Across the overlay: vm1 (site 1) -> vm5 (site 2), VXLAN between nve and nve2"
    nt_wait 10 "nve resolves nve2's VTEP on the underlay" remote_ok nve 192.0.2.2
    nt_wait 10 "nve2 resolves nve's VTEP on the underlay" remote_ok nve2 192.0.2.1
    ok "each NVE has resolved the other's VTEP on the underlay"
    say "capturing VXLAN on the underlay (in namespace ul, on nve's link):"
    printf '    %sul# tcpdump -i nve -w ul.pcap udp port 4789 &%s\n' "$D" "$N"
    # ip netns exec execs tcpdump: $! is tcpdump's own pid, to be stopped below
    ip netns exec "$(nt_nsname ul)" tcpdump -i nve -nn -U -w "$NT_DIR/ul.pcap" 'udp port 4789' \
        2>"$NT_DIR/ul.tcpdump" &
    cap=$!
    NT_PIDS+=("$cap")
    nt_wait 5 "the underlay capture starts" grep -q "listening on" "$NT_DIR/ul.tcpdump"

    say "vm1 (10.10.0.1, hv1, nve) -> vm5 (10.10.0.5, hv4, nve2), both blue:"
    vm_pingw 1 10.10.0.5 || nt_fail "vm1 cannot reach vm5 across the overlay"
    ok "vm1 reaches vm5 across the overlay"
    check_eq "vm1 resolved vm5's MAC by ARP, flooded to nve2 by head-end replication" "$m5" \
        "$(nt_in vm1 ip neigh show 10.10.0.5 dev eth0 | awk '{print $3}')"
    say "vm3 (10.10.0.3, red, hv1) -> vm5 (blue, same subnet, other site):"
    vm_ping 3 10.10.0.5 && nt_fail "vm3 (red) reached vm5 (blue) across the overlay"
    ok "no answer: red stays apart from blue across the overlay too"
    check_eq "vm5 never heard vm3's ARP request (no neighbour entry for 10.10.0.3)" "" \
        "$(nt_in vm5 ip neigh show 10.10.0.3 dev eth0)"

    say "a TCP transfer, 1 MB of random bytes, vm1 -> vm5 (netcat):"
    head -c 1000000 /dev/urandom >"$NT_DIR/in.bin"
    printf '    %svm5# nc -l 5001 > out.bin &%s\n' "$D" "$N"
    ip netns exec "$(nt_nsname vm5)" timeout 30 nc -l 5001 </dev/null >"$NT_DIR/out.bin" 2>"$NT_DIR/nc.err" &
    n=$!
    NT_PIDS+=("$n")
    nt_wait 5 "nc listens in vm5" sh -c "ip netns exec $(nt_nsname vm5) ss -Hltn 'sport = :5001' | grep -q ."
    printf '    %svm1# nc -N 10.10.0.5 5001 < in.bin%s\n' "$D" "$N"
    nt_in vm1 timeout 30 nc -N 10.10.0.5 5001 <"$NT_DIR/in.bin" || nt_fail "nc vm1 -> vm5 failed"
    wait "$n" || nt_fail "the receiving nc in vm5 failed: $(cat "$NT_DIR/nc.err")"
    forget_pid "$n"
    say "sent     $(sha256sum <"$NT_DIR/in.bin" | cut -c1-64)  $(stat -c %s "$NT_DIR/in.bin") bytes"
    say "received $(sha256sum <"$NT_DIR/out.bin" | cut -c1-64)  $(stat -c %s "$NT_DIR/out.bin") bytes"
    check_eq "the bytes arrived intact (SHA-256)" "$(sha256sum <"$NT_DIR/in.bin")" \
        "$(sha256sum <"$NT_DIR/out.bin")"

    kill -TERM "$cap" 2>/dev/null
    wait "$cap" 2>/dev/null
    forget_pid "$cap"
    # Outer addresses and the innermost summary, then the inner Ethernet and
    # what it carries: two passes over the same frames, pasted together.
    tshark -r "$NT_DIR/ul.pcap" -d udp.port==4789,vxlan -T fields -E separator='|' \
        -E occurrence=f -e ip.src -e ip.dst -e vxlan.vni -e _ws.col.Info \
        >"$NT_DIR/vx1.txt" 2>"$NT_DIR/tshark.err" || nt_fail "tshark: $(cat "$NT_DIR/tshark.err")"
    tshark -r "$NT_DIR/ul.pcap" -d udp.port==4789,vxlan -T fields -E separator='|' \
        -E occurrence=l -e eth.src -e eth.dst -e arp.opcode -e icmp.type \
        >"$NT_DIR/vx2.txt" 2>>"$NT_DIR/tshark.err" || nt_fail "tshark: $(cat "$NT_DIR/tshark.err")"
    paste -d'|' "$NT_DIR/vx1.txt" "$NT_DIR/vx2.txt" >"$NT_DIR/vx.txt"
    n=$(grep -c '^192\.0\.2\.[12]|192\.0\.2\.[12]|[0-9]' "$NT_DIR/vx.txt")
    say "what crossed the underlay ($n VXLAN packets; the ARP and ping exchanges):"
    printf '    %s# tshark -r ul.pcap -d udp.port==4789,vxlan -T fields -e ip.src -e ip.dst -e vxlan.vni -e _ws.col.Info%s\n' "$D" "$N"
    # the ARP and ICMP frames (the TCP transfer's are counted, not listed)
    awk -F'|' '$7 != "" || $8 != "" { sub(/ *\((request|reply) in [0-9]+\)/, "", $4)
        printf "      %-10s -> %-10s VNI %-6s %s\n", $1, $2, $3, $4 }' \
        "$NT_DIR/vx.txt" | head -n 16
    [ "$n" -gt 0 ] || nt_fail "tshark decoded no VXLAN on the underlay"
    ok "tshark decodes VXLAN (UDP 4789) between the VTEPs 192.0.2.1 and 192.0.2.2"
    awk -F'|' -v m="$m1" '$1 == "192.0.2.1" && $2 == "192.0.2.2" && $3 == 10100 &&
        $5 == m && $6 == "ff:ff:ff:ff:ff:ff" && $7 == 1 { f = 1 } END { exit !f }' "$NT_DIR/vx.txt" ||
        nt_fail "no broadcast ARP request of vm1 replicated to 192.0.2.2 in VNI 10100"
    ok "vm1's broadcast ARP request went to nve2 in VNI 10100 (head-end replication)"
    awk -F'|' -v a="$m1" -v b="$m5" '$1 == "192.0.2.1" && $3 == 10100 && $5 == a && $6 == b && $8 == 8 { q = 1 }
        $1 == "192.0.2.2" && $3 == 10100 && $5 == b && $6 == a && $8 == 0 { r = 1 } END { exit !(q && r) }' \
        "$NT_DIR/vx.txt" || nt_fail "no ICMP echo request and reply between vm1 and vm5 in VNI 10100"
    ok "echo requests nve -> nve2 and replies nve2 -> nve, VNI 10100"
    check_eq "every frame of vm1 and vm5 on the underlay carries VNI 10100" "" \
        "$(awk -F'|' -v a="$m1" -v b="$m5" '($5 == a || $5 == b) && $3 != 10100' "$NT_DIR/vx.txt")"
    awk -F'|' -v m="$m3" '$5 == m' "$NT_DIR/vx.txt" | grep -q . ||
        nt_fail "vm3's ARP request did not cross the underlay"
    check_eq "vm3's ARP crossed too, but in red's VNI 10200 only: nve2 has no red VM to give it to" "" \
        "$(awk -F'|' -v m="$m3" '$5 == m && $3 != 10200' "$NT_DIR/vx.txt")"
    n=$(vni_ctr nve2 10200 decap_pkts)
    [ "$n" -gt 0 ] && [ "$(vni_ctr nve2 10200 drops)" -ge "$n" ] ||
        nt_fail "nve2 did not drop what it decapsulated in red (decap $n, drops $(vni_ctr nve2 10200 drops))"
    ok "nve2 decapsulated $n red packets and dropped them all (counters below)"

    say "the forwarders' tables: each NVE learned the other site's VM behind its VTEP"
    for n in nve nve2; do
        printf "    %s%s# nvdpctl -f json fwd | jq -r '%s'%s\n" "$D" "$n" "$MACS_JQ" "$N"
        nt_jq "$n" "$MACS_JQ" fwd | awk '{ printf "      %-19s %-8s %s\n", $1, $2, $3 }'
    done
    check_eq "nve learned vm5's MAC from decapsulated traffic, behind 192.0.2.2" "learned 192.0.2.2" \
        "$(fwd_mac nve "$m5")"
    check_eq "nve2 learned vm1's MAC, behind 192.0.2.1" "learned 192.0.2.1" "$(fwd_mac nve2 "$m1")"
    printf "    %snve# nvdpctl fwd | sed -n '/^remotes:/,\$p'%s\n" "$D" "$N"
    nt_ctl nve fwd | sed -n '/^remotes:/,$p' | sed 's/^/      /'
    for n in nve nve2; do
        printf "    %s%s# nvdpctl counters | grep -E 'fwd\\.vns|remote'%s\n" "$D" "$n" "$N"
        nt_ctl "$n" counters | grep -E 'fwd\.vns|remote' | sed 's/^/      /'
    done
    for n in nve nve2; do
        [ "$(vni_ctr $n 10100 encap_pkts)" -gt 0 ] && [ "$(vni_ctr $n 10100 decap_pkts)" -gt 0 ] ||
            nt_fail "$n counted no encapsulation or decapsulation in VNI 10100"
    done
    ok "both NVEs count encapsulated and decapsulated packets in VNI 10100"
}
TRAFFIC=1
for h in hv1 hv2 hv3 hv4; do
    [ "$(nt_jq "$h" '.host.dataplane.backend // "none"' status)" = bpf ] || TRAFFIC=0
done
if [ "$TRAFFIC" = 1 ]; then
    step "7. Traffic within site 1: tagged by the hypervisors, switched and re-tagged by the NVE"
    say "vm1 (hv1) -> vm2 (hv2), both blue behind the bridge (tag ${TAG[1]}):"
    vm_ping 1 10.10.0.2 || nt_fail "vm1 cannot reach vm2 in blue"
    ok "vm1 reaches vm2"
    if command -v tcpdump >/dev/null 2>&1; then
        # On hv3's uplink, before its tc-bpf pops the tag: what the NVE sent.
        nt_in hv3 timeout 10 tcpdump -l -t -nn -e -c 2 -Q in -i up0 'vlan and icmp' \
            >"$NT_DIR/cap.txt" 2>/dev/null &
        cap=$!
        # tcpdump needs a moment to open its socket; retry until it has seen two.
        for _ in 1 2 3 4 5; do vm_ping 1 10.10.0.4; kill -0 "$cap" 2>/dev/null || break; done
        wait "$cap" 2>/dev/null
    fi
    say "vm1 (hv1, port1, tag ${TAG[1]}) -> vm4 (hv3, port2, tag ${TAG[4]}), through the NVE:"
    vm_ping 1 10.10.0.4 || nt_fail "vm1 cannot reach vm4 through the NVE"
    ok "vm1 reaches vm4 across the NVE's two access ports"
    if [ -s "$NT_DIR/cap.txt" ]; then
        say "what hv3 received from the NVE, re-tagged (tcpdump -Q in -e -i up0 on hv3):"
        sed -e 's/ethertype 802.1Q (0x8100), //; s/, p 0, ethertype IPv4 (0x0800)//' \
            -e 's/, length [0-9]*$//' "$NT_DIR/cap.txt" | cut -c1-140 | sed 's/^/      /'
        grep -q "vlan ${TAG[4]}," "$NT_DIR/cap.txt" || nt_fail "port2 frames do not carry tag ${TAG[4]}"
        ok "frames on port2 carry port2's tag ${TAG[4]}, not port1's ${TAG[1]}"
    fi
    say "vm1 (blue) -> vm3 (red, same IP subnet, same hypervisor):"
    vm_ping 1 10.10.0.3 && nt_fail "vm1 reached vm3 across VNs"
    ok "no answer: the VNs are isolated"

    overlay_step 8
else
    step "7. Traffic: skipped (hv-agent has no tc-bpf data plane in this build)"
fi
S=$(( 7 + 2 * TRAFFIC ))

step "$S. The NVE withdraws vm4 (NVE-initiated disconnect)"
say "hv3's callers (libvirt hooks, orchestration) follow events with nvdpctl watch:"
prompt hv3 watch --count 1 "&"
"$NVDPCTL" -s "$NT_DIR/hv3.sock" -t 10 watch --count 1 >"$NT_DIR/watch.out" 2>"$NT_DIR/watch.err" &
watch_pid=$!
NT_PIDS+=("$watch_pid")
nt_wait 5 "watch subscribed" grep -q watching "$NT_DIR/watch.err"
show nve disconnect --port port2 --vn blue --vnic "$(nt_uuid 4)" --reason "demo: maintenance"
nt_wait 5 "hv3 marks vm4 withdrawn" nt_eq withdrawn nt_hv_field hv3 "$(nt_uuid 4)" state
wait "$watch_pid" || nt_fail "nvdpctl watch saw no event"
say "the watch printed:"
sed 's/^/      /' "$NT_DIR/watch.out"
grep -q "state=withdrawn" "$NT_DIR/watch.out" || nt_fail "the watch did not report the withdrawal"
ok "the watcher on hv3 was told at once"
show hv3 vnic list
check_eq "hv3 reports vm4 withdrawn, with the NVE's reason" "demo: maintenance" \
    "$(nt_hv_field hv3 "$(nt_uuid 4)" reason)"
nt_wait 5 "port2's tag freed" nt_eq "" nt_nve_tag nve port2 10100
ok "port2's blue tag is free again"
if [ "$TRAFFIC" = 1 ]; then
    vm_ping 1 10.10.0.4 && nt_fail "vm1 still reaches the withdrawn vm4"
    ok "vm4 is cut off: a withdrawn VNIC passes nothing"
fi

# ---------------------------------------------------------------------------
# A third site reached through BGP EVPN alone (nve-agent(8), EVPN): FRR
# (zebra + bgpd) beside each nve-agent and a route reflector on the
# underlay; nve and nve2 restart without their flood lists, with evpn { }.
# ---------------------------------------------------------------------------
step "$(( S + 1 )). A third site through BGP EVPN alone: FRR on every NVE, a route reflector, no flood lists"
. "$NT_LIB/evpn.sh"
nt_frr_check
# site_evpn LOCAL_VTEP NAME: the VNs (no flood, no remote MACs), the
# underlay, and FRR's run directory of NAME.
site_evpn() {
    cat <<EOC
vn "blue" { vni = 10100 }
vn "red" { vni = 10200 }
underlay {
    interface = "ul0"
    local-ip = "$1"
}
evpn {
    frr-rundir = "$(nt_frr_dir "$2")"
}
EOC
}
# the route reflector and site 3 (nve3, hv5, vm6 in blue) on the underlay
nt_ns rr
nt_veth rr ul0 ul rr
ip -n "$(nt_nsname ul)" link set rr master ul0
ip -n "$(nt_nsname rr)" addr add 192.0.2.100/24 dev ul0
nt_frr_conf_rr rr 192.0.2.100 192.0.2.0/24
nt_frr_start rr rr
nt_ns nve3
nt_veth nve3 ul0 ul nve3
ip -n "$(nt_nsname ul)" link set nve3 master ul0
ip -n "$(nt_nsname nve3)" addr add 192.0.2.3/24 dev ul0
nt_ns hv5
nt_veth nve3 ap1 hv5 up0 02:4e:56:00:00:05 02:48:56:00:00:05
nt_ns vm6
nt_veth vm6 eth0 hv5 vnet6 "$(nt_mac 6 170)"
ip -n "$(nt_nsname vm6)" link set eth0 mtu 1450
nt_in vm6 ethtool -K eth0 tso off gso off >/dev/null 2>&1
ip -n "$(nt_nsname vm6)" addr add 10.10.0.6/24 dev eth0
ok "the route reflector (192.0.2.100) and site 3 (nve3, 192.0.2.3; hv5, vm6) on the underlay"
say "nve and nve2 restart with evpn { } instead of their flood lists; their hypervisors replay their VNICs:"
for i in "nve 192.0.2.1 port1 ap1 tags=10-99|port2 ap2 tags=100-199" \
         "nve2 192.0.2.2 port1 ap1 tags=200-299" "nve3 192.0.2.3 port1 ap1 tags=300-399"; do
    read -r n vtep ports <<<"$i"
    [ "$n" = nve3 ] || nt_stop "$n"
    NVE_PORTS=$(tr '|' '\n' <<<"$ports") NVE_EXTRA=$(site_evpn "$vtep" "$n") nt_start_nve "$n" "$n"
    nt_frr_conf_nve "$n" "$vtep" 192.0.2.100
    nt_frr_start "$n" "$n"
done
grep -v '^$' "$NT_DIR/nve3.conf" | sed -n '/^vn/,$p' | sed 's/^/      /'
say "each NVE's FRR (nve3's bgpd.conf):"
grep -v '^$' "$(nt_frr_dir nve3)/bgpd.conf" | sed 's/^/      /'
nt_start_hv hv5 hv5 up0
for h in hv1 hv2 hv3 hv4 hv5; do nt_wait 10 "$h hears its NVE" nt_hv_sees_nve "$h"; done
for i in 1 2 3 5; do
    nt_wait 10 "vm$i attached again after its NVE restarted" nt_eq attached \
        nt_hv_field "${VM_HV[$i]}" "$(nt_uuid "$i")" state
done
ok "the hypervisors re-associated their VNICs with the restarted NVEs"
nt_ctl hv5 vnic attach "$(nt_uuid 6)" --vn blue --mac "$(nt_mac 6 170)" --ip 10.10.0.6 \
    --ifname vnet6 --wait=5 >/dev/null || nt_fail "attach vm6 on hv5"
nt_wait 40 "nve3 learns both other VTEPs from BGP (type-3 routes)" \
    nt_eq 192.0.2.1,192.0.2.2 nt_evpn_flood nve3 10100
nt_wait 10 "nve3 learns vm1 and vm5 from BGP (type-2 routes)" sh -c \
    "[ \"\$($NVDPCTL -s $NT_DIR/nve3.sock -f json fwd | jq -r '[.vns[] | select(.vni == 10100) | .macs[] | select(.type == \"remote\") | .mac] | length')\" -ge 3 ]"
show nve3 evpn
say "nve3's BGP table (vtysh 'show bgp l2vpn evpn route type macip', MAC routes):"
nt_vtysh nve3 'show bgp l2vpn evpn route type macip' | grep -E '^\*' | sed 's/^/      /'
check_eq "nve3 floods blue to nve and nve2, learned from FRR" 192.0.2.1,192.0.2.2 \
    "$(nt_evpn_flood nve3 10100)"
check_eq "nve3 sends to vm1 at nve's VTEP, learned from FRR" "remote 192.0.2.1" \
    "$(nt_evpn_mac nve3 10100 "$(nt_mac 1 170)")"
check_eq "nve sends to vm6 at nve3's VTEP, learned from FRR" "remote 192.0.2.3" \
    "$(nt_evpn_mac nve 10100 "$(nt_mac 6 170)")"
if [ "$TRAFFIC" = 1 ]; then
    vm_pingw 6 10.10.0.1 || nt_fail "vm6 (site 3) cannot reach vm1 (site 1)"
    ok "vm6 (site 3) reaches vm1 (site 1): no flood list, no static entry anywhere"
    vm_pingw 6 10.10.0.5 || nt_fail "vm6 (site 3) cannot reach vm5 (site 2)"
    ok "vm6 (site 3) reaches vm5 (site 2)"
    vm_ping 6 10.10.0.3 && nt_fail "vm6 (blue) reached vm3 (red)"
    ok "no answer from red's vm3: the VNs stay apart"
fi
nt_ctl hv5 vnic detach "$(nt_uuid 6)" --wait=5 >/dev/null || nt_fail "detach vm6"
gone6() { ! nt_frr_has_route nve "$(nt_mac 6 170)"; }
nt_wait 10 "vm6's route withdrawn from nve's BGP table" gone6
ok "vm6 detached: its routes left the other NVEs' BGP tables"

step "$(( S + 2 )). Detaching: a shared tag lives until its last VNIC leaves"
show hv1 vnic detach "$(nt_uuid 1)" --wait=5
check_eq "blue keeps tag ${TAG[1]} on port1 for vm2 on hv2" "${TAG[1]}" "$(nt_nve_tag nve port1 10100)"
nt_ctl hv2 vnic detach "$(nt_uuid 2)" --wait=5 >/dev/null || nt_fail "detach vm2"
nt_ctl hv1 vnic detach "$(nt_uuid 3)" --wait=5 >/dev/null || nt_fail "detach vm3"
nt_ctl hv3 vnic detach "$(nt_uuid 4)" --wait=5 >/dev/null || nt_fail "detach vm4"
nt_ctl hv4 vnic detach "$(nt_uuid 5)" --wait=5 >/dev/null || nt_fail "detach vm5"
nt_wait 5 "all tags released" nt_eq 0 nt_jq nve length tags
nt_wait 5 "all of nve2's tags released" nt_eq 0 nt_jq nve2 length tags
show nve tags
show nve2 tags
ok "after the last detach every tag is free, on both NVEs"
check_eq "the hypervisors hold no VNICs" 0 \
    "$(( $(nt_jq hv1 length vnic list) + $(nt_jq hv2 length vnic list) + $(nt_jq hv3 length vnic list) + $(nt_jq hv4 length vnic list) ))"

step "Done: $CHECKS checks passed. Tearing down (daemons stopped, namespaces deleted)."
exit 0
