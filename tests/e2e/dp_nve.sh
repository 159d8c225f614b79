#!/bin/bash
# dp_nve.sh - a libvirt user's view, end to end with the real daemons: the
# installed hook attaches each "VM" (a namespace behind a veth whose host
# side is the domain's <target dev>), hv-agent's tc-bpf data plane tags its
# traffic with the tag nve-agent returned, and nve-agent's forwarder
# switches between its access ports.
#   hv1: vm1 (blue), vm2 (red)    hv2: vm3 (blue), vm4 (red)
# Same-VN VMs ping across the NVE (also with different tags on the two
# ports), other-VN VMs never see their frames (captures), a detached VNIC
# passes nothing, and the uplink carries only tagged VM traffic.
# FASTPATH=on (default) or off: nve-agent's XDP fast path (on: it switches
# the VMs' unicast between the ports, reading the tag hv-agent's tc-bpf
# left in skb metadata; the hypervisors' uplinks run NAPI, as a NIC, to take
# redirected frames); dp_nve_off.sh runs the second.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
FASTPATH=${FASTPATH:-on}
nt_init "dp_nve_$FASTPATH"
for c in ping tcpdump; do command -v $c >/dev/null || nt_skip "$c missing"; done
HOOK_BIN=$NT_BUILD/tools/nvdp-hook
[ -x "$HOOK_BIN" ] || nt_fail "tools/nvdp-hook not built"
HOOKS=$NT_DIR/hooks
make -s -C "$NT_BUILD" install-hookqemuSCRIPTS HOOKDIR="$HOOKS" >"$NT_DIR/install.log" 2>&1 ||
    nt_fail "installing the hook (see install.log)"
export NVDP_HOOK_BIN=$HOOK_BIN

nt_ns nve; nt_ns hv1; nt_ns hv2; nt_ns und
nt_veth nve ap1 hv1 up0 "$NT_MAC_AP1" "$NT_MAC_HV1"
nt_veth nve ap2 hv2 up0 "$NT_MAC_AP2" "$NT_MAC_HV2"
# the forwarder wants an underlay, though nothing here leaves through it
nt_veth nve und und und
ip -n "$(nt_nsname nve)" addr add 192.0.2.1/24 dev und
# different tag ranges: the NVE translates between the ports' tags
export NVE_PORTS="port1 ap1 tags=10-19
port2 ap2 tags=20-29"
export NVE_VNS=" " HV_VNS="blue:10100 red:20200"
export NVE_EXTRA='underlay {
    interface = "und"
    local-ip = "192.0.2.1"
    fastpath = '$FASTPATH'
}
vn "blue" { vni = 10100 }
vn "red" { vni = 20200 }'
export HV_EXTRA='dataplane = "bpf"'
if [ "$FASTPATH" = on ]; then
    for h in hv1 hv2; do nt_in $h ethtool -K up0 gro on >/dev/null || nt_fail "gro on $h/up0"; done
fi
nt_start_nve nve nve
for h in hv1 hv2; do nt_start_hv $h $h up0; done
for h in hv1 hv2; do nt_wait 10 "$h hears the NVE" nt_hv_sees_nve $h; done
grep -q "tc-bpf tagging on up0" "$NT_DIR/hv1.log" || nt_fail "hv1 did not start its data plane"

# vm NAME HV VNET MAC IP
vm() {
    nt_ns "$1"
    ip -n "$(nt_nsname "$2")" link add "$3" type veth peer name eth0 netns "$(nt_nsname "$1")" || nt_fail "veth $3"
    ip -n "$(nt_nsname "$1")" link set eth0 address "$4"
    ip -n "$(nt_nsname "$1")" addr add "$5/24" dev eth0
    nt_in "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$(nt_nsname "$1")" link set eth0 up
    ip -n "$(nt_nsname "$2")" link set "$3" up
}
M1=52:54:00:d0:00:01 M2=52:54:00:d0:00:02 M3=52:54:00:d0:00:03 M4=52:54:00:d0:00:04
vm vm1 hv1 vnet1 $M1 10.7.0.1
vm vm2 hv1 vnet2 $M2 10.7.0.2
vm vm3 hv2 vnet3 $M3 10.7.0.3
vm vm4 hv2 vnet4 $M4 10.7.0.4

for h in hv1 hv2; do
    printf 'socket = "%s"\ntimeout = 5000\nrun-dir = "%s"\n' "$NT_DIR/$h.sock" \
        "$NT_DIR/$h.hookrun" >"$NT_DIR/$h.hook.conf"
done
export NVDP_HOOK_LOG=$NT_DIR/hook.log # the hook's decisions, not the host's syslog
# a one-NIC libvirt domain: NAME UUID MAC VN VNET
dom() {
    cat <<EOX
<domain type='kvm'><name>$1</name><uuid>$2</uuid>
  <metadata><nvdp:vnics xmlns:nvdp="urn:splitnve:nvdp:1"><nvdp:vn name="$4"/></nvdp:vnics></metadata>
  <devices><interface type='ethernet'><mac address='$3'/><target dev='$5'/></interface></devices>
</domain>
EOX
}
hook() { # HV OP SUBOP NAME UUID MAC VN VNET
    local h=$1 op=$2 sub=$3
    shift 3
    dom "$@" | NVDP_HOOK_CONF=$NT_DIR/$h.hook.conf "$HOOKS/qemu.d/splitnve" "$1" "$op" "$sub" - \
        2>>"$NT_DIR/hook.err" || nt_fail "hook $h $op $1: $(tail -1 "$NT_DIR/hook.err")"
}
start() { # HV NAME UUID MAC VN VNET
    local h=$1; shift
    hook $h prepare begin "$@"; hook $h start begin "$@"; hook $h started begin "$@"
}
start hv1 vm1 11111111-0000-4000-8000-000000000001 $M1 blue vnet1
start hv1 vm2 11111111-0000-4000-8000-000000000002 $M2 red vnet2
start hv2 vm3 11111111-0000-4000-8000-000000000003 $M3 blue vnet3
start hv2 vm4 11111111-0000-4000-8000-000000000004 $M4 red vnet4
t1=$(nt_jq hv1 '[.[] | select(.mac == "'$M1'") | .tag][0]' vnic list)
t3=$(nt_jq hv2 '[.[] | select(.mac == "'$M3'") | .tag][0]' vnic list)
nt_log "blue: tag $t1 on port1, tag $t3 on port2"
nt_assert "port1 and port2 tags come from their ranges" test "$t1" -lt 20 -a "$t3" -ge 20
nt_assert "port1's tag $t1 in 10-19, port2's $t3 in 20-29" test "$t1" -ge 10 -a "$t3" -le 29

nt_in nve tcpdump -i ap1 -e -nn -U -w "$NT_DIR/ap1.pcap" 2>/dev/null & NT_PIDS+=($!)
nt_in vm2 tcpdump -i eth0 -e -nn -U -w "$NT_DIR/vm2.pcap" 2>/dev/null & NT_PIDS+=($!)
nt_in vm4 tcpdump -i eth0 -e -nn -U -w "$NT_DIR/vm4.pcap" 2>/dev/null & NT_PIDS+=($!)
sleep 1.5
pingw() { local i; for i in $(seq 10); do nt_in "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0; done; return 1; }
nt_assert "vm1 (blue, hv1) pings vm3 (blue, hv2) across the NVE" pingw vm1 10.7.0.3
nt_assert "vm3 pings vm1 back" pingw vm3 10.7.0.1
nt_assert "vm2 (red) pings vm4 (red)" pingw vm2 10.7.0.4
nt_assert "vm1 (blue) cannot reach vm4 (red)" sh -c "! ip netns exec $(nt_nsname vm1) ping -c 2 -W 1 10.7.0.4 >/dev/null 2>&1"
nt_assert "vm2 (red) cannot reach vm1 (blue) on its own hypervisor" sh -c "! ip netns exec $(nt_nsname vm2) ping -c 2 -W 1 10.7.0.1 >/dev/null 2>&1"
sleep 0.5
rd() { tcpdump -r "$1" -e -nn 2>/dev/null; }
nt_assert "the captures work: vm4 saw vm2's frames" sh -c "tcpdump -r '$NT_DIR/vm4.pcap' -e -nn 2>/dev/null | grep -q '$M2 >'"
for v in vm2 vm4; do
    nt_assert "$v (red) never saw a blue VM's frame" sh -c "! tcpdump -r '$NT_DIR/$v.pcap' -e -nn 2>/dev/null | grep -Eq '$M1|$M3'"
done
nt_assert "vm1's frames on the wire carry tag $t1" sh -c "tcpdump -r '$NT_DIR/ap1.pcap' -e -nn 2>/dev/null | grep '$M1 >' | grep -q 'vlan $t1,'"
nt_assert_eq "hv1 status: tc-bpf data plane" bpf "$(nt_jq hv1 .host.dataplane.backend status)"
nt_assert_eq "hv1 status: vnet1 installed with its tag" "$t1 true" \
    "$(nt_jq hv1 '.host.dataplane.vnics[] | select(.ifname == "vnet1") | "\(.tag) \(.installed)"' status)"
nt_assert "hv1 status: frames tagged out counted" test "$(nt_jq hv1 .host.dataplane.counters.tx status)" -gt 0
nt_assert "no untagged VM frame on the wire" sh -c "! tcpdump -r '$NT_DIR/ap1.pcap' -e -nn 2>/dev/null | grep -E '($M1|$M2) >' | grep -vq vlan"
if [ "$FASTPATH" = on ]; then
    nt_assert_eq "fast path on ap1 and ap2" 2 \
        "$(nt_jq nve '[.fastpath.interfaces[] | select(.ifname != "und" and .attached and .xmit)] | length' fwd)"
    nt_assert "the fast path switched the pings between the ports" \
        test "$(nt_jq nve '.fwd.fastpath.redirected' counters)" -ge 4
else
    nt_assert_eq "fast path off" off "$(nt_jq nve .fastpath.state fwd)"
    nt_assert "no XDP program on the NVE's ports" bash -c "! ip -n $(nt_nsname nve) link show | grep -q ' xdp'"
fi

# detach vm1 (libvirt stop): it passes nothing any more
hook hv1 stopped end vm1 11111111-0000-4000-8000-000000000001 $M1 blue vnet1
hook hv1 release end vm1 11111111-0000-4000-8000-000000000001 $M1 blue vnet1
vm1_listed() { nt_jq hv1 '[.[] | select(.mac == "'$M1'")] | length' vnic list; }
nt_wait 5 "hv1 forgot vm1 after stopped/release" nt_eq 0 vm1_listed
nt_assert "detached vm1 cannot reach vm3" sh -c "! ip netns exec $(nt_nsname vm1) ping -c 2 -W 1 10.7.0.3 >/dev/null 2>&1"
nt_assert "vm3 cannot reach detached vm1" sh -c "! ip netns exec $(nt_nsname vm3) ping -c 2 -W 1 10.7.0.1 >/dev/null 2>&1"
nt_assert "red still works" pingw vm2 10.7.0.4
# and back
start hv1 vm1 11111111-0000-4000-8000-000000000001 $M1 blue vnet1
nt_assert "re-attached vm1 pings vm3" pingw vm1 10.7.0.3
# hv-agent restarts: its VNICs come back from the state file, blocked until
# the resync re-associated them, then tagged again
nt_stop hv1
nt_start_hv hv1 hv1 up0
nt_wait 10 "restarted hv1 hears the NVE" nt_hv_sees_nve hv1
vm1_state() { nt_jq hv1 '[.[] | select(.mac == "'$M1'") | .state][0]' vnic list; }
nt_wait 10 "vm1 attached again after the resync" nt_eq attached vm1_state
nt_assert "vm1 pings vm3 after hv-agent's restart" pingw vm1 10.7.0.3
nt_assert "vm2 (red) still isolated" sh -c "! ip netns exec $(nt_nsname vm2) ping -c 2 -W 1 10.7.0.3 >/dev/null 2>&1"
nt_pass
