#!/bin/bash
# hv_vanishes.sh - a hypervisor killed with SIGKILL sends nothing more: the
# NVE expires its soft state after the hold time and frees the tags only
# it used; a hypervisor on the same bridged port keeps its state.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init hv_vanishes

nt_topo_bridged
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
for h in hv1 hv2; do nt_start_hv "$h" "$h" up0; done
for h in hv1 hv2; do nt_wait 10 "$h hears the NVE" nt_hv_sees_nve "$h"; done

nt_assert_rc "hv1 blue" 0 nt_ctl hv1 vnic attach "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --wait=5
nt_assert_rc "hv1 red" 0 nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn red --mac "$(nt_mac 2)" --wait=5
nt_assert_rc "hv2 blue" 0 nt_ctl hv2 vnic attach "$(nt_uuid 3)" --vn blue --mac "$(nt_mac 3)" --wait=5
blue=$(nt_nve_tag nve port1 100)
nt_assert "blue has a tag" test -n "$blue"
nt_assert "red has a tag" test -n "$(nt_nve_tag nve port1 200)"
nt_assert_eq "NVE sees two hypervisors" 2 "$(nt_jq nve length peers)"

start=$(date +%s%N)
nt_stop hv1 KILL
nt_wait $(( NT_HOLD_S * 3 + 5 )) "the NVE expires hv1's red tag" nt_eq "" nt_nve_tag nve port1 200
took=$(( ($(date +%s%N) - start) / 1000000 ))
nt_log "expired after ${took} ms (hold time ${NT_HOLD_S} s)"
nt_assert "not before the hold time" test "$took" -ge $(( NT_HOLD_S * 1000 - 300 ))
# (each count separately: an empty count inside $(( )) is an expansion
# error that skips the assertion instead of failing it)
nt_assert_eq "hv1's VNICs gone from the NVE (VNIC 1)" 0 "$(nt_nve_vnic_count nve "$(nt_uuid 1)")"
nt_assert_eq "hv1's VNICs gone from the NVE (VNIC 2)" 0 "$(nt_nve_vnic_count nve "$(nt_uuid 2)")"
nt_assert_eq "blue's tag kept for hv2" "$blue" "$(nt_nve_tag nve port1 100)"
nt_assert_eq "hv2's VNIC kept" 1 "$(nt_nve_vnic_count nve "$(nt_uuid 3)")"
nt_assert_eq "hv2 still attached" attached "$(nt_hv_field hv2 "$(nt_uuid 3)" state)"
nt_assert "the NVE counted an expiry" test "$(nt_jq nve .nvdp.global.peers_expired counters)" -ge 1
nt_pass
