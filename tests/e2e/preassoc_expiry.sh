#!/bin/bash
# preassoc_expiry.sh - pre-associations: without --reserve no tag is
# allocated; with it the tag is held; one never promoted expires after the
# NVE's preassoc-timeout and its reserved tag is freed; a promoted one stays.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init preassoc_expiry

nt_topo_direct
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
export NVE_EXTRA="preassoc-timeout = 2"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# Without reservation: recorded, no tag.
nt_assert_rc "preassociate without --reserve" 0 \
    nt_json hv1 vnic preassociate "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --wait=5
nt_assert_eq "state preassociated" preassociated "$(jq -r .state <<<"$NT_OUT")"
nt_assert_eq "no tag returned" null "$(jq -r .tag <<<"$NT_OUT")"
nt_assert_eq "the NVE records it" preassociated "$(nt_nve_vnic nve "$(nt_uuid 1)" | jq -r .state)"
nt_assert_eq "no tag allocated for blue" "" "$(nt_nve_tag nve port1 100)"

# With reservation: tag allocated and held.
nt_assert_rc "preassociate --reserve" 0 \
    nt_json hv1 vnic preassociate "$(nt_uuid 2)" --vn red --mac "$(nt_mac 2)" --reserve --wait=5
rtag=$(jq -r .tag <<<"$NT_OUT")
nt_assert "a tag is returned ($rtag)" test "$rtag" -ge 1 -a "$rtag" -le 4094
nt_assert_eq "the NVE holds it" "$rtag" "$(nt_nve_tag nve port1 200)"

# A third one is promoted at once: it must survive the timeout.
nt_assert_rc "preassociate 3" 0 nt_ctl hv1 vnic preassociate "$(nt_uuid 3)" --vn red --mac "$(nt_mac 3)" --reserve --wait=5
nt_assert_rc "promote 3" 0 nt_json hv1 vnic attach "$(nt_uuid 3)" --vn red --mac "$(nt_mac 3)" --wait=5
nt_assert_eq "promoted with the reserved tag" "$rtag" "$(jq -r .tag <<<"$NT_OUT")"

# Unpromoted ones expire after preassoc-timeout (2 s) on the NVE.
nt_wait 10 "VNIC 1's pre-association expires" nt_eq 0 nt_nve_vnic_count nve "$(nt_uuid 1)"
nt_wait 10 "VNIC 2's pre-association expires" nt_eq 0 nt_nve_vnic_count nve "$(nt_uuid 2)"
nt_assert_eq "the promoted VNIC stays" associated "$(nt_nve_vnic nve "$(nt_uuid 3)" | jq -r .state)"
nt_assert_eq "and keeps red's tag" "$rtag" "$(nt_nve_tag nve port1 200)"
nt_pass
