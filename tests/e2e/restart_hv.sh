#!/bin/bash
# restart_hv.sh - hv-agent restarts keep tags: (a) a quick restart, within
# the NVE's hold time, resyncs; (b) a restart after the NVE expired the
# hypervisor gets the same tags back through TAG_HINT, not the lowest free.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init restart_hv

nt_topo_direct
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# blue gets the lowest tag, red the next; detaching blue leaves red on a
# tag that is not the lowest free one: only a hint brings it back.
nt_assert_rc "attach blue" 0 nt_ctl hv1 vnic attach "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --wait=5
nt_assert_rc "attach red" 0 nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn red --mac "$(nt_mac 2)" --ip 10.0.0.2 --wait=5
nt_assert_rc "attach red 2" 0 nt_ctl hv1 vnic attach "$(nt_uuid 3)" --vn red --mac "$(nt_mac 3)" --wait=5
nt_assert_rc "detach blue" 0 nt_ctl hv1 vnic detach "$(nt_uuid 1)" --wait=5
nt_wait 5 "blue's tag freed" nt_eq "" nt_nve_tag nve port1 100
red=$(nt_nve_tag nve port1 200)
nt_assert "red's tag $red is not the lowest of the range" test "$red" -gt 1
epoch1=$(nt_jq hv1 .epoch status)

# (a) quick restart: the NVE still holds the state.
resync0=$(nt_jq nve .nvdp.global.resyncs counters)
nt_stop hv1
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE again" nt_hv_sees_nve hv1
nt_assert_ne "hv1 has a new epoch" "$epoch1" "$(nt_jq hv1 .epoch status)"
nt_assert_eq "the state file brought back both VNICs" 2 "$(nt_jq hv1 length vnic list)"
attached2() { nt_jq hv1 '[.[] | select(.state == "attached")] | length' vnic list; }
nt_wait 10 "both VNICs attached after the restart" nt_eq 2 attached2
nt_assert_eq "same tag on hv1" "$red" "$(nt_hv_field hv1 "$(nt_uuid 2)" tag)"
nt_assert_eq "same tag on the NVE" "$red" "$(nt_nve_tag nve port1 200)"
resync_more() { [ "$(nt_jq nve .nvdp.global.resyncs counters)" -gt "$resync0" ]; }
nt_wait 5 "the NVE counted a resync" resync_more
nt_assert_eq "the NVE still knows VNIC 2" 1 "$(nt_nve_vnic_count nve "$(nt_uuid 2)")"

# (b) down for longer than the hold time: the NVE expires hv1's state.
nt_stop hv1
nt_wait $(( NT_HOLD_S * 3 + 5 )) "the NVE expires hv1's tags" nt_eq 0 nt_jq nve length tags
nt_assert_eq "the NVE forgot VNIC 2" 0 "$(nt_nve_vnic_count nve "$(nt_uuid 2)")"
nt_start_hv hv1 hv1 up0
nt_wait 10 "both VNICs attached after the second restart" nt_eq 2 attached2
nt_assert_eq "the hint gave red its old tag" "$red" "$(nt_nve_tag nve port1 200)"
nt_assert_eq "hv1 agrees" "$red" "$(nt_hv_field hv1 "$(nt_uuid 3)" tag)"
nt_assert_eq "blue stays detached" "" "$(nt_nve_tag nve port1 100)"
nt_pass
