#!/bin/bash
# many_vnics.sh - 200 VNICs in two VNs from one hypervisor: all attached,
# one tag per VN shared by all its VNICs, all released after detach.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init many_vnics
N=${NT_MANY:-200}

nt_topo_direct
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# Without --wait: the requests pile up and travel batched in windows.
vn_of() { if [ $(( $1 % 2 )) = 0 ]; then echo blue; else echo red; fi; }
for i in $(seq 1 "$N"); do
    nt_ctl hv1 vnic attach "$(nt_uuid "$i")" --vn "$(vn_of "$i")" \
        --mac "$(nt_mac "$i")" --ip "10.1.$(( i / 250 )).$(( i % 250 + 1 ))" >/dev/null ||
        nt_fail "attach $i refused by hv-agent"
done
nt_log "$N attach requests queued"

attached() { nt_jq hv1 '[.[] | select(.state == "attached")] | length' vnic list; }
nt_wait 60 "$N VNICs attached" nt_eq "$N" attached

nt_assert_eq "hv1 lists $N VNICs" "$N" "$(nt_jq hv1 'length' vnic list)"
nt_assert_eq "two distinct tags on hv1 (one per VN)" 2 \
    "$(nt_jq hv1 '[.[].tag] | unique | length' vnic list)"
nt_assert_eq "every VNIC of a VN has the same tag" 2 \
    "$(nt_jq hv1 'group_by(.vn) | map([.[].tag] | unique | length) | select(all(. == 1)) | length' vnic list)"
nt_assert_eq "the NVE holds two tags" 2 "$(nt_jq nve 'length' tags)"
blue=$(nt_nve_tag nve port1 100)
red=$(nt_nve_tag nve port1 200)
nt_assert "blue and red both have a tag" test -n "$blue" -a -n "$red"
nt_assert_ne "blue and red tags differ" "$blue" "$red"
nt_assert_eq "hv1's blue tag is the NVE's" "$blue" \
    "$(nt_jq hv1 '[.[] | select(.vn | test("blue|100")) | .tag] | unique | .[0]' vnic list)"
nt_assert_eq "the NVE knows all $N VNICs" "$N" \
    "$(nt_json nve vnics | jq '[.. | objects | select(has("vnic")) | .vnic] | unique | length')"

# Detach half (all of red): red's tag is freed, blue's stays.
for i in $(seq 1 2 "$N"); do
    nt_ctl hv1 vnic detach "$(nt_uuid "$i")" >/dev/null || nt_fail "detach $i"
done
nt_wait 60 "red's VNICs gone" nt_eq "$(( N / 2 ))" nt_jq hv1 'length' vnic list
nt_wait 10 "red's tag released" nt_eq "" nt_nve_tag nve port1 200
nt_assert_eq "blue's tag kept" "$blue" "$(nt_nve_tag nve port1 100)"

for i in $(seq 2 2 "$N"); do
    nt_ctl hv1 vnic detach "$(nt_uuid "$i")" >/dev/null || nt_fail "detach $i"
done
nt_wait 60 "all VNICs gone" nt_eq 0 nt_jq hv1 'length' vnic list
nt_wait 10 "all tags released" nt_eq 0 nt_jq nve 'length' tags
nt_pass
