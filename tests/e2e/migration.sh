#!/bin/bash
# migration.sh - a VNIC moves between two hypervisors of one NVE: the
# destination pre-associates (reserving its tag), the source detaches with
# intent migration, the destination's state survives and it associates.
# The contrast: a detach with intent shutdown purges a pre-association.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init migration

nt_topo_bridged
export NVE_PORTS="port1 ap1 tags=1-99
port2 ap2 tags=100-199"
export NVE_VNS="blue:100" HV_VNS="blue:100"
nt_start_nve nve nve
for h in hv1 hv3; do nt_start_hv "$h" "$h" up0; done
for h in hv1 hv3; do nt_wait 10 "$h hears the NVE" nt_hv_sees_nve "$h"; done

U=$(nt_uuid 1) M=$(nt_mac 1)
nt_assert_rc "source attaches" 0 nt_ctl hv1 vnic attach "$U" --vn blue --mac "$M" --ip 10.0.0.1 --wait=5

# Destination (port 2): pre-associate with reservation.
nt_assert_rc "destination pre-associates --reserve" 0 \
    nt_json hv3 vnic preassociate "$U" --vn blue --mac "$M" --ip 10.0.0.1 --reserve --wait=5
nt_assert_eq "destination state" preassociated "$(jq -r .state <<<"$NT_OUT")"
dtag=$(jq -r .tag <<<"$NT_OUT")
nt_assert "reserved tag from port 2's range" test "$dtag" -ge 100 -a "$dtag" -le 199
nt_assert_eq "NVE: port2's tag reserved" "$dtag" "$(nt_nve_tag nve port2 100)"
nt_assert_eq "NVE: VNIC on both ports" 2 "$(nt_nve_vnic_count nve "$U")"

# Source leaves with intent migration.
nt_assert_rc "source detaches --migrating" 0 nt_ctl hv1 vnic detach "$U" --migrating --wait=5
nt_wait 5 "port 1 released" nt_eq 0 nt_nve_vnic_count nve "$U" port1
nt_wait 5 "port 1's tag freed" nt_eq "" nt_nve_tag nve port1 100
nt_assert_eq "destination pre-association survived" 1 "$(nt_nve_vnic_count nve "$U" port2)"
nt_assert_eq "destination still pre-associated" preassociated "$(nt_hv_field hv3 "$U" state)"

# Destination associates: same tag, now attached.
nt_assert_rc "destination associates" 0 nt_json hv3 vnic attach "$U" --vn blue --mac "$M" --ip 10.0.0.1 --wait=5
nt_assert_eq "attached at the destination" attached "$(jq -r .state <<<"$NT_OUT")"
nt_assert_eq "with the reserved tag" "$dtag" "$(jq -r .tag <<<"$NT_OUT")"
nt_assert_eq "NVE: associated on port2" associated "$(nt_nve_vnic nve "$U" port2 | jq -r .state)"
nt_assert_eq "NVE: port2 still holds the reserved tag" "$dtag" "$(nt_nve_tag nve port2 100)"

# Contrast: intent shutdown purges the pre-association elsewhere.
U2=$(nt_uuid 2) M2=$(nt_mac 2)
nt_assert_rc "source attaches U2" 0 nt_ctl hv1 vnic attach "$U2" --vn blue --mac "$M2" --wait=5
nt_assert_rc "destination pre-associates U2" 0 nt_ctl hv3 vnic preassociate "$U2" --vn blue --mac "$M2" --wait=5
nt_assert_eq "U2 on both ports" 2 "$(nt_nve_vnic_count nve "$U2")"
nt_assert_rc "source detaches U2 (shutdown)" 0 nt_ctl hv1 vnic detach "$U2" --wait=5
nt_wait 5 "U2 purged from every port" nt_eq 0 nt_nve_vnic_count nve "$U2"
# and the destination is told: it does not keep a pre-association the NVE
# no longer holds
nt_wait 5 "U2 withdrawn at the destination" nt_eq withdrawn nt_hv_field hv3 "$U2" state
nt_assert_eq "U stays attached at the destination" 1 "$(nt_nve_vnic_count nve "$U" port2)"
nt_pass
