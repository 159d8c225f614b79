#!/bin/bash
# nve_late.sh - attaching while no NVE answers: `--wait` ends with exit 4
# (timeout) and the VNIC stays pending in the desired state; once an NVE
# appears, hv-agent associates it by itself. Detach with no NVE: exit 4 too.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init nve_late

nt_topo_direct
export NVE_VNS="blue:100" HV_VNS="blue:100"
nt_start_hv hv1 hv1 up0
nt_assert_eq "no NVE heard yet" ok "$(s=$(nt_jq hv1 .nve.state status); [ "$s" != up ] && echo ok)"

t0=$(date +%s%N)
nt_assert_rc "attach --wait=1 with no NVE times out" 4 \
    nt_ctl hv1 vnic attach "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --ip 10.0.0.1 --wait=1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
nt_assert "after about the --wait time ($ms ms)" test "$ms" -ge 900 -a "$ms" -lt 5000
nt_assert_eq "the VNIC is pending" pending "$(nt_hv_field hv1 "$(nt_uuid 1)" state)"

nt_start_nve nve nve
nt_wait 15 "hv1 attaches it once the NVE is there" nt_eq attached nt_hv_field hv1 "$(nt_uuid 1)" state
tag=$(nt_hv_field hv1 "$(nt_uuid 1)" tag)
nt_assert "hv1 reports a tag ($tag)" test -n "$tag" -a "$tag" != 0
nt_assert_eq "the NVE agrees on the tag" "$tag" "$(nt_nve_tag nve port1 100)"

# The NVE goes away: a detach cannot be confirmed in time (exit 4), and
# completes when the NVE is back (it restarted: nothing left there either).
nt_stop nve
nt_assert_rc "detach --wait=1 with the NVE gone" 4 nt_ctl hv1 vnic detach "$(nt_uuid 1)" --wait=1
nt_start_nve nve nve
nt_wait 15 "the detach completes" nt_eq "" nt_hv_field hv1 "$(nt_uuid 1)" state
nt_assert_eq "nothing on the new NVE" 0 "$(nt_jq nve length tags)"
nt_pass
