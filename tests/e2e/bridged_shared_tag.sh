#!/bin/bash
# bridged_shared_tag.sh - two hypervisors behind a Linux bridge on access
# port 1 share one tag per VN; a third on a direct veth to port 2 gets its
# tag from port 2's own range; tags are freed with the last VNIC only.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init bridged_shared_tag

nt_topo_bridged
export NVE_PORTS="port1 ap1 tags=1-99
port2 ap2 tags=100-199"
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
for h in hv1 hv2 hv3; do
    nt_start_hv "$h" "$h" up0
done
for h in hv1 hv2 hv3; do
    nt_wait 10 "$h hears the NVE" nt_hv_sees_nve "$h"
done
# Each hypervisor has learned the NVE's unicast MAC through the bridge.
nt_assert_eq "hv1 sees the NVE's port-1 MAC" "$NT_MAC_AP1" "$(nt_jq hv1 .nve.mac status)"
nt_assert_eq "hv3 sees the NVE's port-2 MAC" "$NT_MAC_AP2" "$(nt_jq hv3 .nve.mac status)"

attach() { # HV N VN: sets TAG
    nt_assert_rc "$1 attaches VNIC $2 to $3" 0 nt_json "$1" vnic attach "$(nt_uuid "$2")" \
        --vn "$3" --mac "$(nt_mac "$2")" --wait=5
    TAG=$(jq -r .tag <<<"$NT_OUT")
}
attach hv1 1 blue; t1=$TAG
attach hv2 2 blue; t2=$TAG
attach hv1 3 red; t1r=$TAG
attach hv3 4 blue; t3=$TAG

nt_assert_eq "hv1 and hv2 share blue's tag on port 1" "$t1" "$t2"
nt_assert_ne "red has its own tag on port 1" "$t1" "$t1r"
nt_assert "port-1 tags come from 1-99" test "$t1" -ge 1 -a "$t1" -le 99 -a "$t1r" -le 99
nt_assert "hv3's tag comes from port 2's range 100-199" test "$t3" -ge 100 -a "$t3" -le 199
nt_assert_eq "NVE: blue on port1" "$t1" "$(nt_nve_tag nve port1 100)"
nt_assert_eq "NVE: blue on port2" "$t3" "$(nt_nve_tag nve port2 100)"
nt_assert_eq "NVE: three (port, VN) tags" 3 "$(nt_jq nve 'length' tags)"
nt_assert_eq "NVE: port filter" 1 "$(nt_jq nve 'length' tags --port port2)"
nt_assert_eq "NVE sees three hypervisors" 3 \
    "$(nt_jq nve '[.[] | select((.role // "") | test("hv|hyper"))] | length' peers)"

# The shared tag survives one of its users leaving, not the last.
nt_assert_rc "hv1 detaches its blue VNIC" 0 nt_ctl hv1 vnic detach "$(nt_uuid 1)" --wait=5
nt_assert_eq "blue's tag kept for hv2" "$t1" "$(nt_nve_tag nve port1 100)"
nt_assert_rc "hv2 detaches its blue VNIC" 0 nt_ctl hv2 vnic detach "$(nt_uuid 2)" --wait=5
nt_wait 5 "blue's port-1 tag freed" nt_eq "" nt_nve_tag nve port1 100
nt_assert_eq "red's tag untouched" "$t1r" "$(nt_nve_tag nve port1 200)"
nt_assert_eq "port 2's blue tag untouched" "$t3" "$(nt_nve_tag nve port2 100)"
nt_pass
