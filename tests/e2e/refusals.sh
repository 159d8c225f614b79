#!/bin/bash
# refusals.sh - the NVE's error replies reach the operator through hv-agent
# and nvdpctl (exit 5, status and reason), and nothing leaks: tags exhausted
# on a port (freed tags are reused), a MAC claimed by two VNICs, the
# per-VNIC address limit. The NVE keeps serving afterwards.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init refusals

nt_topo_direct
export NVE_PORTS="port1 ap1 tags=7-8"
export NVE_VNS="a:101 b:102 c:103" HV_VNS="a:101 b:102 c:103"
export NVE_EXTRA="limits { max-addresses-per-vnic = 3 }"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

attach() { nt_ctl hv1 vnic attach "$(nt_uuid "$1")" --vn "$2" --mac "$3" "${@:4}" --wait=5; }

# Two tags for three VNs.
nt_assert_rc "VN a gets a tag" 0 attach 1 a "$(nt_mac 1)"
nt_assert_rc "VN b gets a tag" 0 attach 2 b "$(nt_mac 2)"
nt_assert_rc "VN c: no tags left" 5 attach 3 c "$(nt_mac 3)"
nt_assert "reason says no tags" grep -qiE "no[ -]tags" <<<"$NT_ERR"
nt_assert_eq "hv1 shows it failed" failed "$(nt_hv_field hv1 "$(nt_uuid 3)" state)"
nt_assert_eq "with status no-tags" no-tags "$(nt_hv_field hv1 "$(nt_uuid 3)" status)"
nt_assert_eq "the NVE still holds two tags" 2 "$(nt_jq nve length tags)"
# Free a's tag: retrying c now succeeds, on the freed tag.
a_tag=$(nt_nve_tag nve port1 101)
nt_assert "a has a tag" test -n "$a_tag"
nt_assert_rc "detach a" 0 nt_ctl hv1 vnic detach "$(nt_uuid 1)" --wait=5
nt_assert_rc "retry c" 0 nt_json hv1 vnic attach "$(nt_uuid 3)" --vn c --mac "$(nt_mac 3)" --wait=5
nt_assert_eq "c got a's old tag" "$a_tag" "$(jq -r .tag <<<"$NT_OUT")"

# A MAC already associated in b by another VNIC.
nt_assert_rc "MAC conflict in b" 5 attach 4 b "$(nt_mac 2)"
nt_assert "reason says conflict" grep -qi "conflict" <<<"$NT_ERR"
nt_assert_eq "VNIC 2 keeps its MAC" 1 "$(nt_nve_vnic_count nve "$(nt_uuid 2)")"
nt_assert_eq "VNIC 4 not recorded" 0 "$(nt_nve_vnic_count nve "$(nt_uuid 4)")"

# Too many addresses for one VNIC (limit 3 entries: the MAC + 2 IPs).
nt_assert_rc "address limit" 5 attach 5 b "$(nt_mac 5)" --ip 10.0.0.1 --ip 10.0.0.2 --ip 10.0.0.3 --ip 10.0.0.4
nt_assert "reason says limit" grep -qi "limit" <<<"$NT_ERR"
nt_assert_eq "VNIC 5 not recorded" 0 "$(nt_nve_vnic_count nve "$(nt_uuid 5)")"

# Still serving.
nt_assert_rc "a normal attach afterwards" 0 attach 6 b "$(nt_mac 6)" --ip 10.0.0.6
nt_assert_eq "b's tag shared by VNICs 2 and 6" 2 \
    "$(nt_jq nve '[.[] | select(.vni == 102) | .vnics] | first' tags)"
nt_pass
