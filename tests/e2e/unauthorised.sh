#!/bin/bash
# unauthorised.sh - the NVE refuses what its authorisation does not allow:
# a hypervisor MAC not allowed on the port, a VN not allowed for it, a VN
# the NVE does not know. nvdpctl exits 5 with the NVE's reason; the
# hypervisor shows the VNIC failed; nothing is allocated on the NVE.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init unauthorised

nt_topo_bridged
# Port 1 (the bridge): only hv1, only blue. hv2 sits on the same bridge
# but is not listed. Port 2 is open.
export NVE_PORTS="port1 ap1 hvs=$NT_MAC_HV1 vns=blue
port2 ap2"
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200 ghost:999"
nt_start_nve nve nve
for h in hv1 hv2; do nt_start_hv "$h" "$h" up0; done
for h in hv1 hv2; do nt_wait 10 "$h hears the NVE" nt_hv_sees_nve "$h"; done

# Allowed: works.
nt_assert_rc "hv1 attaches to blue" 0 nt_ctl hv1 vnic attach "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --wait=5

# hv2's MAC is not allowed on port 1.
nt_assert_rc "hv2 refused on port 1" 5 nt_json hv2 vnic attach "$(nt_uuid 2)" --vn blue --mac "$(nt_mac 2)" --wait=5
nt_assert "stderr says why (not authorised)" grep -qi "authori" <<<"$NT_ERR"
nt_assert_eq "JSON error carries code 5" 5 "$(jq -r .code <<<"$NT_OUT")"
nt_assert_eq "hv2 shows the VNIC failed" failed "$(nt_hv_field hv2 "$(nt_uuid 2)" state)"
nt_assert "hv2 keeps the NVE's reason" test -n "$(nt_hv_field hv2 "$(nt_uuid 2)" reason)"

# hv1 is allowed on port 1, but not for red.
nt_assert_rc "hv1 refused for red" 5 nt_ctl hv1 vnic attach "$(nt_uuid 3)" --vn red --mac "$(nt_mac 3)" --wait=5
nt_assert "reason names the authorisation" grep -qi "authori" <<<"$NT_ERR"

# A VN the NVE does not know.
nt_assert_rc "unknown VN refused" 5 nt_ctl hv1 vnic attach "$(nt_uuid 4)" --vn ghost --mac "$(nt_mac 4)" --wait=5
nt_assert "reason says unknown VN" grep -qiE "unknown[ -]vn" <<<"$NT_ERR"

# A VN hv-agent itself cannot resolve is a usage error, caught before NVDP.
nt_assert_rc "VN name unknown to hv-agent" 2 nt_ctl hv1 vnic attach "$(nt_uuid 5)" --vn nosuchname --mac "$(nt_mac 5)" --wait=5

# Nothing was allocated for the refused requests.
nt_assert_eq "only blue holds a tag on the NVE" 1 "$(nt_jq nve length tags)"
nt_assert_eq "the NVE holds no state for hv2's VNIC" 0 "$(nt_nve_vnic_count nve "$(nt_uuid 2)")"
nt_assert "the NVE counted two not-authorised answers" \
    test "$(nt_jq nve '.nvdp.global.tx_status["not-authorised"]' counters)" -ge 2
nt_assert "and one unknown-vn" \
    test "$(nt_jq nve '.nvdp.global.tx_status["unknown-vn"]' counters)" -ge 1
nt_pass
