#!/bin/bash
# link_flap.sh - the hypervisor's uplink goes down for longer than the hold
# time: the NVE expires the hypervisor's state (tags freed); when the link
# comes back, hv-agent sees from the NVE's frames that its state is gone
# (peer_epoch not its own), resyncs without restarting, and gets the same
# tags back through TAG_HINT.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init link_flap

nt_topo_direct
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# red ends on a tag a fresh allocation would not give it (blue leaves).
nt_assert_rc "attach blue" 0 nt_ctl hv1 vnic attach "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --wait=5
nt_assert_rc "attach red" 0 nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn red --mac "$(nt_mac 2)" --ip 10.0.0.2 --wait=5
nt_assert_rc "detach blue" 0 nt_ctl hv1 vnic detach "$(nt_uuid 1)" --wait=5
red=$(nt_nve_tag nve port1 200)
# an empty $red would make the waits for "red's tag back" pass at once
nt_assert "red has a tag" test -n "$red"
hv_epoch=$(nt_jq hv1 .epoch status)
resyncs0=$(nt_jq hv1 .counters.resyncs status)

ip -n "$(nt_nsname hv1)" link set up0 down
nt_wait $(( NT_HOLD_S * 3 + 5 )) "the NVE expires hv1" nt_eq 0 nt_jq nve length tags
nt_assert_eq "the NVE forgot VNIC 2" 0 "$(nt_nve_vnic_count nve "$(nt_uuid 2)")"
nt_wait 10 "hv1 declares the NVE down" nt_eq down nt_jq hv1 .nve.state status

ip -n "$(nt_nsname hv1)" link set up0 up
nt_wait 10 "hv1 hears the NVE again" nt_hv_sees_nve hv1
nt_wait 10 "red's tag back on the NVE" nt_eq "$red" nt_nve_tag nve port1 200
nt_assert_eq "hv1 did not restart" "$hv_epoch" "$(nt_jq hv1 .epoch status)"
nt_assert "hv1 counted a resync" test "$(nt_jq hv1 .counters.resyncs status)" -gt "$resyncs0"
nt_wait 5 "VNIC 2 attached on hv1" nt_eq attached nt_hv_field hv1 "$(nt_uuid 2)" state
nt_assert_eq "with its old tag" "$red" "$(nt_hv_field hv1 "$(nt_uuid 2)" tag)"
nt_assert_eq "its IP is back on the NVE" 10.0.0.2 \
    "$(nt_nve_vnic nve "$(nt_uuid 2)" | jq -r '.ips[0]')"
nt_assert_eq "blue stays gone" "" "$(nt_nve_tag nve port1 100)"
nt_pass
