#!/bin/bash
# evpn.sh - three NVEs, one overlay, no static remote entry anywhere: each
# NVE runs nve-agent and FRR (zebra + bgpd), peering through a route
# reflector over the underlay; a hypervisor (hv-agent, tc-bpf tagging)
# behind each NVE, VMs as namespaces behind the hypervisors.
#   hv1 -> nve1 (192.0.2.1): vmA      hv3 -> nve2 (192.0.2.2): vmB
#   hv4 -> nve3 (192.0.2.3): vmS      rr (192.0.2.100): route reflector
# 1. vmA is reachable from vmB (behind nve2) and vmS (behind nve3): ping,
#    ARP, learned through EVPN alone (type 3 flood lists, type 2 MACs).
# 2. vmA moves live hv1 (nve1) -> hv3 (nve2) under a UDP stream from vmS:
#    lost and reordered datagrams counted; nve3's bgpd is held up (SIGSTOP)
#    so that it converges last, and nve1 is seen on the underlay
#    re-encapsulating to nve2 the frames nve3 still sends it (seed 004 4.1).
# 3. FRR restarted on nve2 under a stream from vmB: forwarding continues on
#    the entries nve-agent keeps, and it converges after.
# 4. vmA detached (intent shutdown): its routes leave every BGP table
#    (`show bgp l2vpn evpn route`) and its traffic stops.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init evpn
. "$NT_LIB/evpn.sh"
nt_frr_check
for c in ping tcpdump python3; do command -v $c >/dev/null || nt_skip "$c missing"; done

VNI=10100
MA=52:54:00:e0:00:0a MB=52:54:00:e0:00:0b MS=52:54:00:e0:00:05
UA=$(nt_uuid 10) UB=$(nt_uuid 11) US=$(nt_uuid 5)

# ---- topology -----------------------------------------------------------------
nt_evpn_underlay 3
# hvI behind nveI's ap1 (names as in the header)
HV=(x hv1 hv3 hv4)
for i in 1 2 3; do
    nt_ns "${HV[$i]}"
    nt_veth "nve$i" ap1 "${HV[$i]}" up0
done
nt_evpn_vm vmA hv1 vnet1 $MA 10.20.0.1
nt_evpn_vm vmB hv3 vnet2 $MB 10.20.0.2
nt_evpn_vm vmS hv4 vnet3 $MS 10.20.0.3

# ---- daemons: no flood list, no remote MAC in any configuration -------------
export NVE_VNS=" " HV_VNS="blue:$VNI" HV_EXTRA='dataplane = "bpf"'
export NVE_EVPN_OPTS='    withdraw-delay = 300
    frr-grace = 30
    frr-reconcile = 3
    migration-hold = 5
    mobility-hold = 5'
for i in 1 2 3; do
    NVE_PORTS="port1 ap1" NVE_EXTRA="vn \"blue\" { vni = $VNI }
$(nt_evpn_nve_extra $i)" nt_start_nve "nve$i" "nve$i"
    ! grep -Eq 'flood|remote-mac' "$NT_DIR/nve$i.conf" || nt_fail "static remote config in nve$i.conf"
    nt_evpn_frr $i
done
for i in 1 2 3; do nt_start_hv "${HV[$i]}" "${HV[$i]}" up0; done
for i in 1 2 3; do nt_wait 30 "${HV[$i]} hears its NVE" nt_hv_sees_nve "${HV[$i]}"; done
grep -q "tc-bpf tagging on up0" "$NT_DIR/hv1.log" || nt_skip "hv-agent has no tc-bpf data plane"
nt_assert_eq "nve1's shadow bridge exists (ours)" "splitnve nve-agent: EVPN shadow device of VNI $VNI" \
    "$(ip -n "$(nt_nsname nve1)" -d link show snvb$VNI | sed -n 's/^ *alias //p')"

# type 3 routes: each NVE floods to the two others, learned from FRR only
nt_wait 30 "nve1 floods to nve2 and nve3" nt_eq 192.0.2.2,192.0.2.3 nt_evpn_flood nve1 $VNI
nt_wait 30 "nve2 floods to nve1 and nve3" nt_eq 192.0.2.1,192.0.2.3 nt_evpn_flood nve2 $VNI
nt_wait 30 "nve3 floods to nve1 and nve2" nt_eq 192.0.2.1,192.0.2.2 nt_evpn_flood nve3 $VNI

# ---- 1. reachability through EVPN ---------------------------------------------
attach() { # HV UUID MAC IP VNET
    nt_assert_rc "$1 attaches $3" 0 nt_ctl "$1" vnic attach "$2" --vn blue --mac "$3" \
        --ip "$4" --ifname "$5" --wait=5
}
attach hv1 "$UA" $MA 10.20.0.1 vnet1
attach hv3 "$UB" $MB 10.20.0.2 vnet2
attach hv4 "$US" $MS 10.20.0.3 vnet3
nt_wait 30 "nve2 learns vmA's MAC at nve1" nt_eq "remote 192.0.2.1" nt_evpn_mac nve2 $VNI $MA
nt_wait 30 "nve3 learns vmA's MAC at nve1" nt_eq "remote 192.0.2.1" nt_evpn_mac nve3 $VNI $MA
nt_wait 30 "nve1 learns vmS's MAC at nve3" nt_eq "remote 192.0.2.3" nt_evpn_mac nve1 $VNI $MS
nt_assert "vmA's type-2 route is in nve3's BGP table" nt_frr_has_route nve3 $MA
macip() { nt_jq "$1" '[.vns[] | select(.vni == '$VNI') | .remote_ips[] | select(.ip == "'"$2"'") | .mac][0] // ""' fwd; }
nt_wait 30 "nve2 has vmA's MAC+IP for its ARP/ND proxy" nt_eq "$MA" macip nve2 10.20.0.1
pingw() { local i; for i in $(seq 10); do nt_in "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0; done; return 1; }
nt_assert "vmB (behind nve2) pings vmA (behind nve1)" pingw vmB 10.20.0.1
nt_assert "vmS (behind nve3) pings vmA" pingw vmS 10.20.0.1
nt_assert_eq "vmB resolved vmA's address by ARP" "$MA" \
    "$(nt_in vmB ip -4 neigh show 10.20.0.1 | sed -n 's/.*lladdr \([^ ]*\).*/\1/p')"
nt_assert "nve2 answered vmB's ARP for vmA itself (proxy)" \
    test "$(nt_jq nve2 '.fwd.forwarder.arp_proxied // 0' counters)" -gt 0
nt_assert "nve1 mirrored vmA into its shadow port" \
    sh -c "ip netns exec $(nt_nsname nve1) bridge fdb show dev snvp$VNI | grep -q '$MA master snvb$VNI static'"

# ---- 2. a live move under a UDP stream ------------------------------------------
# vmA (receiver) stays one namespace: its host-side veth moves from hv1 to
# hv3 as a VM's memory would. nve3's bgpd is stopped for a second across
# the move, so nve3 keeps sending to nve1, which must tunnel to nve2.
nt_in ul tcpdump -i nve1 -nn -e -U -w "$NT_DIR/ul.pcap" \
    'udp port 4789 and src host 192.0.2.1 and dst host 192.0.2.2' 2>"$NT_DIR/tcpdump.err" &
NT_PIDS+=($!)
nt_wait 30 "the underlay capture starts" grep -q "listening on" "$NT_DIR/tcpdump.err"
COUNT=5000 RATE=1000
nt_in vmA python3 "$NT_LIB/udp_seq.py" recv 7000 $COUNT 3 "$NT_DIR/move.json" &
rpid=$!
nt_wait 30 "the receiver listens" test -e "$NT_DIR/move.json.ready"
nt_in vmS python3 "$NT_LIB/udp_seq.py" send 10.20.0.1 7000 $RATE $COUNT &
spid=$!
sleep 1.5
BGPD3=$(cat "$(nt_frr_dir nve3)/bgpd.pid")
kill -STOP "$BGPD3"
nt_assert_rc "hv1 detaches vmA (migration)" 0 nt_ctl hv1 vnic detach "$UA" --migrating --wait=5
ip -n "$(nt_nsname hv1)" link set vnet1 netns "$(nt_nsname hv3)"
ip -n "$(nt_nsname hv3)" link set vnet1 up
attach hv3 "$UA" $MA 10.20.0.1 vnet1
nt_in vmA python3 "$NT_LIB/garp.py" eth0 10.20.0.1 || nt_fail "GARP"
nt_wait 30 "nve1 points vmA's MAC at nve2 (moved)" nt_eq "remote 192.0.2.2 moved" nt_evpn_mac nve1 $VNI $MA
sleep 1
kill -CONT "$BGPD3"
nt_wait 30 "nve3 learns the move" nt_eq "remote 192.0.2.2" nt_evpn_mac nve3 $VNI $MA
wait "$spid"
wait "$rpid" || nt_fail "the receiver failed"
nt_log "move under a stream of $COUNT datagrams at $RATE/s: $(jq -c . "$NT_DIR/move.json")"
lost=$(jq .lost "$NT_DIR/move.json")
nt_assert "the stream resumed at the new location (lost $lost of $COUNT)" test "$lost" -lt $((COUNT / 2))
tun=$(nt_jq nve1 '.fwd.forwarder.mobility_tunnelled // 0' counters)
nt_assert "nve1 tunnelled in-flight frames to nve2 (mobility_tunnelled $tun)" test "$tun" -gt 0
nt_assert_eq "nvdpctl evpn shows the same count" "$tun" "$(nt_jq nve1 .counters.tunnelled evpn)"
# with the XDP fast path on nve1's underlay (a build with BPF), those
# frames were its to hand to the forwarder, not to drop as split horizon
if grep -q "define HAVE_BPF 1" "$NT_BUILD/config.h"; then
    nt_assert_eq "nve1's fast path is on its underlay" "on true" \
        "$(nt_jq nve1 '"\(.fastpath.state) \([.fastpath.interfaces[] | select(.ifname == "ul0") | .attached][0])"' fwd)"
    nt_log "nve1's fast path: $(nt_jq nve1 ".fwd.fastpath | tojson" counters)"
fi
kill "${NT_PIDS[-1]}"; wait "${NT_PIDS[-1]}" 2>/dev/null
# On the wire: nve1 -> nve2, VXLAN, inner frame from vmS to vmA.
onwire=$(tcpdump -r "$NT_DIR/ul.pcap" -nn -e 2>/dev/null | grep -c "$MS > $MA")
nt_assert "the underlay shows nve1 re-encapsulating vmS's frames to nve2 ($onwire)" test "$onwire" -gt 0
nt_assert "vmS pings vmA at its new place" pingw vmS 10.20.0.1
nt_assert_eq "nve1 saw the move as taken by another NVE" 1 "$(nt_jq nve1 .counters.taken evpn)"
nt_assert "nvdpctl evpn shows vmA's MAC Mobility sequence number at nve2" \
    test "$(nt_jq nve2 '[.vns[].local[] | select(.mac == "'$MA'") | .seq][0] // 0' evpn)" -ge 1

# ---- 3. FRR restarted on nve2: forwarding on kept entries -------------------------
COUNT=3000
nt_in vmS python3 "$NT_LIB/udp_seq.py" recv 7001 $COUNT 3 "$NT_DIR/restart.json" &
rpid=$!
nt_wait 30 "the receiver listens" test -e "$NT_DIR/restart.json.ready"
nt_in vmB python3 "$NT_LIB/udp_seq.py" send 10.20.0.3 7001 $RATE $COUNT &
spid=$!
sleep 0.5
nt_frr_stop nve2
nt_wait 30 "nve2 sees FRR gone" nt_eq outage nt_jq nve2 .frr.state evpn
nt_assert_eq "nve2 keeps vmS's MAC (stale)" "remote 192.0.2.3" "$(nt_evpn_mac nve2 $VNI $MS)"
nt_assert_eq "...marked stale" true "$(nt_jq nve2 '[.vns[].remote[] | select(.mac == "'$MS'") | .stale][0]' evpn)"
sleep 1
nt_evpn_frr 2
wait "$spid"
wait "$rpid" || nt_fail "the receiver failed"
nt_log "FRR restart under a stream of $COUNT datagrams: $(cat "$NT_DIR/restart.json")"
lost=$(jq .lost "$NT_DIR/restart.json")
nt_assert "forwarding went on through FRR's restart (lost $lost of $COUNT)" test "$lost" -le 10
nt_wait 30 "nve2 reconciled with the new FRR" nt_eq up nt_jq nve2 .frr.state evpn
nt_assert_eq "vmS's MAC re-installed, not stale" false \
    "$(nt_jq nve2 '[.vns[].remote[] | select(.mac == "'$MS'") | .stale][0]' evpn)"
nt_wait 30 "nve3 learns vmB again from the restarted FRR" nt_eq "remote 192.0.2.2" nt_evpn_mac nve3 $VNI $MB
nt_assert "vmS pings vmB" pingw vmS 10.20.0.2

# ---- 4. detach with intent shutdown: withdrawn everywhere ----------------------------
nt_assert_rc "hv3 detaches vmA (shutdown)" 0 nt_ctl hv3 vnic detach "$UA" --wait=5
gone() { ! nt_frr_has_route "$1" $MA; }
nt_wait 30 "vmA's route leaves nve3's BGP table" gone nve3
nt_wait 30 "...and nve1's" gone nve1
nt_wait 30 "nve3's forwarder forgets vmA" nt_eq "" nt_evpn_mac nve3 $VNI $MA
nt_assert "vmS can no longer reach vmA" sh -c "! ip netns exec $(nt_nsname vmS) ping -c 2 -W 1 10.20.0.1 >/dev/null 2>&1"
nt_assert "vmS still reaches vmB" pingw vmS 10.20.0.2
nt_pass
