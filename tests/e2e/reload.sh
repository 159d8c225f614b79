#!/bin/bash
# reload.sh - `nvdpctl reload` (and SIGHUP) re-read nve-agent.conf: a new VN
# becomes usable at once; a broken file is refused (exit 1) and the running
# configuration and state are kept.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init reload

nt_topo_direct
export NVE_VNS="blue:100" HV_VNS="blue:100 green:300"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

nt_assert_rc "attach blue" 0 nt_ctl hv1 vnic attach "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --wait=5
blue=$(nt_nve_tag nve port1 100)
nt_assert "blue has a tag" test -n "$blue"
nt_assert_rc "green unknown before the reload" 5 nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn green --mac "$(nt_mac 2)" --wait=5

# Add green and reload through the control socket.
NVE_VNS="blue:100 green:300" nt_nve_conf nve >/dev/null
nt_assert_rc "nvdpctl reload" 0 nt_ctl nve reload
nt_assert_eq "vns lists green" 1 "$(nt_jq nve '[.[] | select(.name == "green")] | length' vns)"
nt_assert_rc "green usable after the reload" 0 nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn green --mac "$(nt_mac 2)" --wait=5
nt_assert_eq "blue's tag untouched by the reload" "$blue" "$(nt_nve_tag nve port1 100)"

# A broken file: refused, nothing changes, the daemon keeps serving.
echo 'port "port1" { interface = ' >>"$NT_DIR/nve.conf"
nt_assert_rc "reload of a broken file fails" 1 nt_ctl nve reload
nt_assert_eq "reload failure counted" 1 "$(nt_jq nve .reload_failures status)"
nt_assert_eq "green still there" 1 "$(nt_jq nve '[.[] | select(.name == "green")] | length' vns)"
nt_assert_eq "tags kept" 2 "$(nt_jq nve length tags)"

# SIGHUP does the same as reload.
NVE_VNS="blue:100 green:300 red:200" nt_nve_conf nve >/dev/null
reloads=$(nt_jq nve .reloads status)
kill -HUP "$(nt_pid nve)"
nt_wait 5 "SIGHUP reloaded" nt_eq 1 nt_jq nve '[.[] | select(.name == "red")] | length' vns
nt_assert "reload counted" test "$(nt_jq nve .reloads status)" -gt "$reloads"
nt_pass
