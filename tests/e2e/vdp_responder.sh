#!/bin/bash
# vdp_responder.sh - hv-agent as lldpad's replacement for libvirt's
# <virtualport type='802.1Qbg'>: a client sends libvirt's exact netlink
# exchange (RTM_SETLINK to the pid in the pid file, RTM_GETLINK polls for
# IFLA_PORT_RESPONSE) and sees success, an NVE refusal and an unknown VSI
# type, while the NVE's state follows through NVDP.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init vdp_responder
CLIENT=$NT_BUILD/tests/e2e/vdp_client
[ -x "$CLIENT" ] || nt_fail "tests/e2e/vdp_client not built"

nt_topo_direct
export NVE_PORTS="port1 ap1 tags=10-20" NVE_VNS="blue:100" HV_VNS="blue:100"
PIDF=$NT_DIR/lldpad.pid
export HV_EXTRA="vdp-pid-file = \"$PIDF\""
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1
nt_assert_eq "pid file names hv-agent" "$(nt_pid hv1)" "$(tr -d '\n' <"$PIDF")"

U=09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f M=52:54:00:5d:c7:9e
vdp() { nt_in hv1 "$CLIENT" "$PIDF" up0 "$@"; }

# libvirt at a migration destination: preassociate with reservation
nt_assert_rc "preassociate-rr, typeid 100 = VNI 100" 0 vdp preassociate-rr "$U" "$M" 100 5000
nt_assert_eq "response" "response 0" "$NT_OUT"
nt_assert_eq "NVE: pre-associated" 1 "$(nt_nve_vnic_count nve "$U")"
nt_assert "NVE: entry is a pre-association" test "$(nt_nve_vnic nve "$U" | jq -r .state | cut -c1-13)" = preassociated
# libvirt's start: associate
nt_assert_rc "associate" 0 vdp associate "$U" "$M" 100 5000
nt_assert_eq "response" "response 0" "$NT_OUT"
nt_assert_eq "NVE: associated" associated "$(nt_nve_vnic nve "$U" | jq -r .state)"
nt_assert_eq "NVE: in VN 100" 100 "$(nt_nve_vnic nve "$U" | jq -r .vni)"
nt_assert_eq "hv1: attached with a tag" attached "$(nt_hv_field hv1 "$U" state)"
# asking again for what is in place answers at once
nt_assert_rc "associate again" 0 vdp associate "$U" "$M" 100 2000
# libvirt's stop: disassociate
nt_assert_rc "disassociate" 0 vdp disassociate "$U" "$M" 100 5000
nt_assert_eq "response" "response 0" "$NT_OUT"
nt_wait 5 "NVE forgot the VNIC" nt_eq 0 nt_nve_vnic_count nve "$U"
nt_assert_eq "hv1 forgot the VNIC" "" "$(nt_hv_field hv1 "$U" state)"

# the NVE refuses: VN 999 is unknown to it -> PORT_VDP_RESPONSE_UNUSED_VTID (3)
U2=09b11c53-8b5c-4eeb-8f00-d84eaa0aaa50
nt_assert_rc "associate in a VN the NVE refuses" 1 vdp associate "$U2" "$M" 999 5000
nt_assert_eq "IFLA_PORT_RESPONSE unused-vtid" "response 3" "$NT_OUT"
nt_assert_eq "hv1: refused" failed "$(nt_hv_field hv1 "$U2" state)"
# VSI type 0 names no VN: answered at once, nothing sent to the NVE
nt_assert_rc "typeid 0" 1 vdp associate 09b11c53-8b5c-4eeb-8f00-d84eaa0aaa51 "$M" 0 2000
nt_assert_eq "IFLA_PORT_RESPONSE unused-vtid" "response 3" "$NT_OUT"
# disassociating an unknown instance is fine
nt_assert_rc "disassociate unknown" 0 vdp disassociate 09b11c53-8b5c-4eeb-8f00-d84eaa0aaa52 "$M" 100 2000

nt_assert "hv1 status counts the SETLINKs" test "$(nt_jq hv1 .host.vdp.setlink status)" -ge 6
nt_assert "hv1 status counts the refusals" test "$(nt_jq hv1 .host.vdp.refused status)" -ge 2
# the NVE is gone: libvirt's poll times out ("in progress" throughout)
nt_stop nve
nt_assert_rc "associate with the NVE silent: libvirt would time out" 4 \
    vdp associate 09b11c53-8b5c-4eeb-8f00-d84eaa0aaa53 "$M" 100 1500
nt_assert_eq "still in progress" "response 257" "$NT_OUT"

# hv-agent stopped: its pid file is gone, libvirt finds no responder
nt_stop hv1
nt_assert "pid file removed at exit" test ! -e "$PIDF"
nt_pass
