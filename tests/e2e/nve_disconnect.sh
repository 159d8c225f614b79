#!/bin/bash
# nve_disconnect.sh - NVE-initiated disconnect (WITHDRAW): the hypervisor
# marks the VNIC withdrawn with the reason, tells watchers, and does not
# re-associate it by itself; other VNs and VNICs are untouched.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init nve_disconnect

nt_topo_direct
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
# green has a VN Name UUID on the NVE, while hv1 knows it only by its VNI:
# the WITHDRAW must name it the way hv1 did (spec 5.6)
export NVE_EXTRA='vn "green" {
    uuid = "6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b07"
    vni = 300
}'
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

U1=$(nt_uuid 1) U2=$(nt_uuid 2) U3=$(nt_uuid 3)
nt_assert_rc "attach 1 (blue)" 0 nt_ctl hv1 vnic attach "$U1" --vn blue --mac "$(nt_mac 1)" --wait=5
nt_assert_rc "attach 2 (blue)" 0 nt_ctl hv1 vnic attach "$U2" --vn blue --mac "$(nt_mac 2)" --wait=5
nt_assert_rc "attach 3 (red)" 0 nt_ctl hv1 vnic attach "$U3" --vn red --mac "$(nt_mac 3)" --wait=5
red=$(nt_nve_tag nve port1 200)
nt_assert "red has a tag" test -n "$red"

# A watcher sees the withdrawal as it happens.
"$NVDPCTL" -s "$NT_DIR/hv1.sock" -f json -t 15 watch --count 1 \
    >"$NT_DIR/watch.out" 2>"$NT_DIR/watch.err" &
watch_pid=$!
NT_PIDS+=("$watch_pid")
nt_wait 5 "watch subscribed" grep -q watching "$NT_DIR/watch.err"

# One VNIC of blue first.
nt_assert_rc "disconnect one VNIC" 0 nt_ctl nve disconnect --port port1 --vn vni:100 \
    --vnic "$U1" --reason "maintenance window"
nt_wait 5 "VNIC 1 withdrawn on hv1" nt_eq withdrawn nt_hv_field hv1 "$U1" state
nt_assert "the reason reached hv1" \
    bash -c "[[ \"\$('$NVDPCTL' -s '$NT_DIR/hv1.sock' -f json vnic list | jq -r --arg u '$U1' '.[] | select(.vnic == \$u) | .reason')\" == *'maintenance window'* ]]"
nt_assert_eq "VNIC 2 still attached" attached "$(nt_hv_field hv1 "$U2" state)"
nt_assert_eq "the NVE dropped VNIC 1" 0 "$(nt_nve_vnic_count nve "$U1")"
nt_assert "blue's tag kept for VNIC 2" test -n "$(nt_nve_tag nve port1 100)"
nt_wait 5 "watch reported the withdrawal" \
    bash -c "grep -q '\"withdrawn\"' '$NT_DIR/watch.out'"
wait "$watch_pid"
nt_assert_eq "watch --count 1 exited 0" 0 "$?"

# The whole VN on the port.
nt_assert_rc "disconnect blue on port1" 0 nt_ctl nve disconnect --port port1 --vn vni:100 --reason "vn retired"
nt_wait 5 "VNIC 2 withdrawn" nt_eq withdrawn nt_hv_field hv1 "$U2" state
nt_wait 5 "blue's tag freed" nt_eq "" nt_nve_tag nve port1 100
nt_assert_eq "red untouched on hv1" attached "$(nt_hv_field hv1 "$U3" state)"
nt_assert_eq "red untouched on the NVE" "$red" "$(nt_nve_tag nve port1 200)"

# hv1 must not re-associate withdrawn VNICs by itself: after several
# hello intervals and a retransmit cycle the NVE still has no blue tag.
deadline=$(( $(date +%s) + 2 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    [ -z "$(nt_nve_tag nve port1 100)" ] || nt_fail "hv1 re-associated a withdrawn VNIC"
    sleep 0.2
done
nt_log "ok: no re-association for 2 s"

# An explicit attach by the operator brings it back.
nt_assert_rc "operator re-attaches VNIC 1" 0 nt_ctl hv1 vnic attach "$U1" --vn blue --mac "$(nt_mac 1)" --wait=5
nt_assert_eq "VNIC 1 attached again" attached "$(nt_hv_field hv1 "$U1" state)"

# A VN the NVE names by UUID, attached by VNI: the hypervisor still
# recognises the WITHDRAW (VN-wide, and for one VNIC).
U4=$(nt_uuid 4) U5=$(nt_uuid 5)
nt_assert_rc "attach 4 (green by VNI)" 0 nt_ctl hv1 vnic attach "$U4" --vn vni:300 --mac "$(nt_mac 4)" --wait=5
nt_assert_rc "attach 5 (green by VNI)" 0 nt_ctl hv1 vnic attach "$U5" --vn vni:300 --mac "$(nt_mac 5)" --wait=5
nt_assert_rc "disconnect VNIC 4 of green" 0 nt_ctl nve disconnect --port port1 --vn green \
    --vnic "$U4" --reason "one by uuid"
nt_wait 5 "VNIC 4 withdrawn on hv1" nt_eq withdrawn nt_hv_field hv1 "$U4" state
nt_assert_eq "VNIC 5 still attached" attached "$(nt_hv_field hv1 "$U5" state)"
nt_assert_rc "disconnect green" 0 nt_ctl nve disconnect --port port1 --vn green --reason "green retired"
nt_wait 5 "VNIC 5 withdrawn on hv1" nt_eq withdrawn nt_hv_field hv1 "$U5" state
nt_assert_eq "hv1 dropped green's tag" "" "$(nt_hv_field hv1 "$U5" tag | sed 's/^0$//;s/^null$//')"

# Error paths of disconnect.
nt_assert_rc "disconnect on an unknown port" 1 nt_ctl nve disconnect --port nosuchport --vn vni:100
nt_assert_rc "disconnect without --vn is a usage error" 2 nt_ctl nve disconnect --port port1
nt_pass
