#!/bin/bash
# attach_detach.sh - one hypervisor, one VNIC: attach hands out a tag that
# both daemons report; detach releases it on both sides.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init attach_detach

nt_topo_direct
NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
export NVE_VNS HV_VNS
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

U=$(nt_uuid 1)
M=$(nt_mac 1)

# Before anything: no tags on the NVE.
nt_assert_eq "tags before attach" 0 "$(nt_jq nve 'length' tags)"

# Attach and wait for the NVE's answer: the result is the VNIC, attached.
nt_assert_rc "vnic attach --wait" 0 \
    nt_json hv1 vnic attach "$U" --vn blue --mac "$M" --ip 10.0.0.1 --wait=5
nt_assert_eq "attach result state" attached "$(jq -r .state <<<"$NT_OUT")"
tag=$(jq -r .tag <<<"$NT_OUT")
nt_assert "tag $tag is a valid 802.1Q VID" test "$tag" -ge 1 -a "$tag" -le 4094

# The same tag on both sides, for that VN on that port.
nt_assert_eq "hv1 vnic list state" attached "$(nt_hv_field hv1 "$U" state)"
nt_assert_eq "hv1 vnic list tag" "$tag" "$(nt_hv_field hv1 "$U" tag)"
nt_assert_eq "NVE tag for blue on port1" "$tag" "$(nt_nve_tag nve port1 100)"
nt_assert_eq "the NVE knows the VNIC on port1" 1 "$(nt_nve_vnic_count nve "$U" port1)"

# Text output shows the tag too (people read this).
nt_assert "nvdpctl tags (text) shows tag $tag" \
    bash -c "'$NVDPCTL' -s '$NT_DIR/nve.sock' tags | grep -qw '$tag'"
nt_assert "nvdpctl vnic list (text) shows the VNIC" \
    bash -c "'$NVDPCTL' -s '$NT_DIR/hv1.sock' vnic list | grep -q '$U'"

# Attaching again is idempotent: same tag.
nt_assert_rc "second attach" 0 \
    nt_json hv1 vnic attach "$U" --vn blue --mac "$M" --ip 10.0.0.1 --wait=5
nt_assert_eq "same tag after a repeated attach" "$tag" "$(jq -r .tag <<<"$NT_OUT")"

# VNIC shutdown/startup without disassociation: the NVE keeps the VNIC and
# its tag but marks it down, then up again.
nve_state() { nt_nve_vnic nve "$U" port1 | jq -r .state; }
nt_assert_rc "vnic state down" 0 nt_ctl hv1 vnic state "$U" down --wait=5
nt_wait 5 "the NVE sees the VNIC down" nt_eq down nve_state
nt_assert_eq "tag kept while down" "$tag" "$(nt_nve_tag nve port1 100)"
nt_assert_eq "hv1 still attached while down" attached "$(nt_hv_field hv1 "$U" state)"
nt_assert_rc "vnic state up" 0 nt_ctl hv1 vnic state "$U" up --wait=5
nt_wait 5 "the NVE sees the VNIC up" nt_eq associated nve_state

# Detach: gone from the hypervisor's list and the NVE's tags.
nt_assert_rc "vnic detach --wait" 0 nt_json hv1 vnic detach "$U" --wait=5
nt_wait 5 "VNIC gone from hv1" nt_eq "" nt_hv_field hv1 "$U" state
nt_wait 5 "tag released on the NVE" nt_eq "" nt_nve_tag nve port1 100
nt_assert_eq "no tags left" 0 "$(nt_jq nve 'length' tags)"

# Error paths: detaching an unknown VNIC fails cleanly (exit 1), and the
# daemon is still there afterwards.
nt_assert_rc "detach of an unknown VNIC" 1 nt_ctl hv1 vnic detach "$(nt_uuid 999)"
nt_assert_rc "state of an unknown VNIC" 1 nt_ctl hv1 vnic state "$(nt_uuid 999)" down
nt_assert_rc "attach to a VN the NVE does not know" 5 \
    nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn vni:4242 --mac "$(nt_mac 2)" --wait=5
nt_assert "the refusal names the VN problem" grep -qiE "unknown[ -]vn" <<<"$NT_ERR"
nt_assert_rc "hv1 still answers" 0 nt_ctl hv1 status
nt_pass
