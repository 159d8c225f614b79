#!/bin/bash
# auth_attacker.sh - with auth = required on a bridged access port, a
# station on the same bridge that knows the victim VNIC's UUID, spoofs the
# victim hypervisor's MAC (and the NVE's) and replays the victim's recorded
# frames can neither detach, hijack nor withdraw that VNIC, nor take the
# port's tags (protocol-spec/nvdp.md sections 14 and 15). Checked through
# nvdpctl on both daemons: the VNIC keeps its tag, the counters rose.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init auth_attacker
PY=/usr/bin/python3
$PY -c 'import scapy.all' 2>/dev/null || nt_skip "python3-scapy not installed"
ATTACKER="$(dirname "$0")/auth_attacker.py"
[ -f "$ATTACKER" ] || ATTACKER="$top_srcdir/tests/e2e/auth_attacker.py"

# hv1 is the victim, hv2's namespace the attacker, both on the bridge to
# port1; port1 has three tags and four VNs, and no hypervisors list: only
# authentication stands between the attacker and the victim's VNIC.
nt_topo_bridged
KEY=$NT_DIR/hv1.key
(umask 077 && printf '1 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$KEY")
export NVE_PORTS="port1 ap1 tags=10-12 auth=required"
export NVE_VNS="blue:100 red:200 green:300 yellow:400"
export HV_VNS="$NVE_VNS"
export NVE_EXTRA="hypervisor \"hv1\" {
    mac = \"$NT_MAC_HV1\"
    key-file = \"$KEY\"
}"
nt_start_nve nve nve
HV_EXTRA="key-file = \"$KEY\"" nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# The victim's VNIC, attached, detached and attached again while a wiretap
# on its bridge port records its signed frames (the detach among them).
U1=$(nt_uuid 1)
nt_in sw $PY "$ATTACKER" capture swhv1 "$NT_MAC_HV1" "$NT_DIR/recorded" 20 &
cap=$!
nt_wait 10 "the wiretap listens" test -e "$NT_DIR/recorded.ready"
nt_assert_rc "hv1 attaches its VNIC" 0 nt_ctl hv1 vnic attach "$U1" --vn blue --mac "$(nt_mac 1)" --wait=5
nt_assert_rc "hv1 detaches it" 0 nt_ctl hv1 vnic detach "$U1" --wait=5
nt_assert_rc "hv1 attaches it again" 0 nt_ctl hv1 vnic attach "$U1" --vn blue --mac "$(nt_mac 1)" --wait=5
wait "$cap"
nt_assert_eq "the wiretap recorded the victim's signed detach" 0 "$?"
tag=$(nt_nve_tag nve port1 100)
nt_assert "the NVE holds a tag for blue" test -n "$tag"
nt_assert_eq "hv1 has the same tag" "$tag" "$(nt_hv_field hv1 "$U1" tag)"
fail0=$(nt_jq nve .nvdp.global.auth_fail counters)
replay0=$(nt_jq nve .nvdp.global.replay counters)
unauth0=$(nt_jq nve .nvdp.global.rx_policed_unauth counters)
hvfail0=$(nt_counter hv1 '^auth_fail$' status)

# The attack: from hv2's namespace, as hv1 and as itself, unsigned and
# signed with its own key; the recorded frames replayed; WITHDRAWs as the
# NVE towards hv1.
nt_assert "the attack ran" nt_in hv2 $PY "$ATTACKER" attack up0 "$NT_MAC_HV1" "$U1" 100 200 300 400 -- "$NT_DIR/recorded"

# The spoofed MAC confused the bridge for a moment; once hv1 is heard
# again everything is as it was.
attached() { [ "$(nt_hv_field hv1 "$U1" state)" = attached ] && nt_hv_sees_nve hv1; }
nt_wait 15 "hv1's VNIC attached" attached
nt_assert_eq "hv1's VNIC keeps its tag" "$tag" "$(nt_hv_field hv1 "$U1" tag)"
nt_assert_eq "the NVE holds the VNIC once" 1 "$(nt_nve_vnic_count nve "$U1")"
nt_assert_eq "on blue, with its tag" "$tag" "$(nt_nve_vnic nve "$U1" | jq -r .tag)"
nt_assert_eq "no other VN took a tag" 1 "$(nt_jq nve length tags)"
nt_assert_eq "no VNIC of the attacker" 1 "$(nt_jq nve length vnics)"
nt_assert "the attacker's own MAC is no peer" \
    test -z "$(nt_jq nve '.[] | select(.port == "port1") | .mac' peers | grep -iv "$NT_MAC_HV1")"
fail=$(nt_jq nve .nvdp.global.auth_fail counters)
replay=$(nt_jq nve .nvdp.global.replay counters)
hvfail=$(nt_counter hv1 '^auth_fail$' status)
unauth=$(nt_jq nve .nvdp.global.rx_policed_unauth counters)
nt_log "NVE auth_fail +$((fail - fail0)), replay +$((replay - replay0)), rx_policed_unauth +$((unauth - unauth0)); hv1 auth_fail +$((hvfail - hvfail0))"
# 42 unsigned forged frames and 42 signed with the victim's key id and
# another key: where the kernel polices (nve-agent(8) KERNEL POLICING) the
# unsigned ones never reach the daemon
if grep -q "policed per source in the kernel" "$NT_DIR/nve.log"; then
    nt_assert "the kernel dropped the unsigned forged frames (rx_policed_unauth)" \
        test $((unauth - unauth0)) -ge 40
    nt_assert "the NVE counted the signed forged frames (auth_fail)" test $((fail - fail0)) -ge 40
    nt_assert "the NVE logged them" grep -q "dropped: bad HMAC" "$NT_DIR/nve.log"
else
    nt_log "no kernel policing here: $(grep -m1 'kernel policing' "$NT_DIR/nve.log")"
    nt_assert "the NVE counted the forged frames (auth_fail)" test $((fail - fail0)) -ge 80
    nt_assert "the NVE logged them" grep -q "dropped: not authenticated" "$NT_DIR/nve.log"
fi
nt_assert "and the replayed ones (replay)" test $((replay - replay0)) -ge 3
nt_assert "hv1 dropped the forged WITHDRAWs (auth_fail)" test $((hvfail - hvfail0)) -ge 2

# The port's tags are all there for the victim.
nt_assert_rc "hv1 attaches to red" 0 nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn red --mac "$(nt_mac 2)" --wait=5
nt_assert_rc "and to green" 0 nt_ctl hv1 vnic attach "$(nt_uuid 3)" --vn green --mac "$(nt_mac 3)" --wait=5
nt_pass
