#!/bin/bash
# restart_nve.sh - nve-agent restarts (state lost): hv-agent sees the new
# epoch, replays with TAG_HINT, and every VNIC keeps its tag.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init restart_nve

nt_topo_direct
export NVE_VNS="blue:100 red:200 green:300" HV_VNS="blue:100 red:200 green:300"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# Tags 1, 2, 3 handed out; blue's VNIC leaves, so red and green sit on
# tags that a fresh NVE would not pick first.
i=1
for vn in blue red green; do
    nt_assert_rc "attach $vn" 0 nt_ctl hv1 vnic attach "$(nt_uuid $i)" --vn $vn \
        --mac "$(nt_mac $i)" --ip "10.0.0.$i" --wait=5
    i=$(( i + 1 ))
done
nt_assert_rc "detach blue" 0 nt_ctl hv1 vnic detach "$(nt_uuid 1)" --wait=5
red=$(nt_nve_tag nve port1 200)
green=$(nt_nve_tag nve port1 300)
nt_assert "red and green tags known" test -n "$red" -a -n "$green"
nve_epoch=$(nt_jq hv1 .nve.epoch status)

nt_stop nve
nt_start_nve nve nve
nt_wait 10 "hv1 sees the NVE's new epoch" nt_ne "$nve_epoch" nt_jq hv1 .nve.epoch status
nt_wait 10 "red back on the NVE" nt_eq "$red" nt_nve_tag nve port1 200
nt_wait 10 "green back on the NVE" nt_eq "$green" nt_nve_tag nve port1 300
nt_assert_eq "blue not resurrected" "" "$(nt_nve_tag nve port1 100)"
nt_assert_eq "the NVE knows VNIC 2 again" 1 "$(nt_nve_vnic_count nve "$(nt_uuid 2)")"
nt_assert_eq "hv1: VNIC 2 attached" attached "$(nt_hv_field hv1 "$(nt_uuid 2)" state)"
nt_assert_eq "hv1: VNIC 2 same tag" "$red" "$(nt_hv_field hv1 "$(nt_uuid 2)" tag)"
nt_assert_eq "hv1: VNIC 3 same tag" "$green" "$(nt_hv_field hv1 "$(nt_uuid 3)" tag)"
nt_pass
