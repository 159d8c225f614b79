#!/bin/bash
# restart_tags.sh - restarts that cost nobody their tag (issue 14), with
# three hypervisors (two on a bridged access network, one on a direct
# port) and four VNs whose tags are not the ones a fresh NVE would pick
# first: after an nve-agent restart, an hv-agent restart (TERM) and an
# hv-agent crash (KILL), every VNIC is attached with the very tag it had,
# on its hv-agent and on the NVE. Then the NVE silent past the hold time
# (SIGSTOP): hv1 (on-nve-loss untag) takes its VNICs' tags away, hv3
# (on-nve-loss keep) keeps them until the NVE is back, and when the NVE
# comes back restarted (a new epoch) hv3 untags them until its replay
# confirms them; the tags are the same again at the end.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init restart_tags
PER=${RESTART_TAGS_N:-150} # VNICs per hypervisor

nt_topo_bridged # hv1, hv2 bridged on port1; hv3 direct on port2
export NVE_PORTS="port1 ap1
port2 ap2"
export NVE_VNS="tmp:900 blue:100 red:200 green:300 gold:400"
export HV_VNS=$NVE_VNS
export NVE_EXTRA="limits {
    max-vnics-per-hypervisor = 0
}"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_start_hv hv2 hv2 up0
HV_EXTRA="on-nve-loss = keep" nt_start_hv hv3 hv3 up0
for h in hv1 hv2 hv3; do nt_wait 10 "$h hears the NVE" nt_hv_sees_nve "$h"; done

LOAD=$NT_LIB/ctl_load.py
# The lowest tag of each port goes to "tmp" first, freed once the others
# hold theirs: a fresh NVE would hand out that one first.
for h in hv1 hv3; do
    nt_ctl "$h" vnic attach "$(nt_uuid 9000${h#hv})" --vn tmp --mac "$(nt_mac 9000 ${h#hv})" --wait >/dev/null ||
        nt_fail "$h: tmp attach"
done
/usr/bin/python3 "$LOAD" "$NT_DIR/hv1.sock" attach 1 "$PER" blue red || nt_fail "hv1 attaches"
/usr/bin/python3 "$LOAD" "$NT_DIR/hv2.sock" attach $((PER + 1)) $((2 * PER)) green gold ||
    nt_fail "hv2 attaches"
/usr/bin/python3 "$LOAD" "$NT_DIR/hv3.sock" attach $((2 * PER + 1)) $((3 * PER)) blue red green gold ||
    nt_fail "hv3 attaches"
for h in hv1 hv3; do nt_ctl "$h" vnic detach "$(nt_uuid 9000${h#hv})" --wait >/dev/null; done
all_attached() {
    local h
    for h in hv1 hv2 hv3; do
        nt_json "$h" vnic list | jq -e 'length > 0 and all(.[]; .state == "attached")' >/dev/null || return 1
    done
}
nt_wait 30 "every VNIC attached" all_attached
nt_assert "tmp's tag is free again" test -z "$(nt_nve_tag nve port1 900)"

# views: "uuid vni mac ips tag state" per VNIC, hv-agent's and the NVE's
snap() { # SUFFIX
    local h mac
    for h in hv1 hv2 hv3; do
        mac=$(nt_jq "$h" .mac status)
        /usr/bin/python3 "$LOAD" "$NT_DIR/$h.sock" hv-view >"$NT_DIR/$h.hv.$1"
        /usr/bin/python3 "$LOAD" "$NT_DIR/nve.sock" nve-view "$mac" >"$NT_DIR/$h.nve.$1"
    done
}
same_as_before() { # WHAT
    local h
    snap now
    for h in hv1 hv2 hv3; do
        cmp -s "$NT_DIR/$h.hv.before" "$NT_DIR/$h.hv.now" ||
            nt_fail "$1: $h's VNICs changed: $(diff "$NT_DIR/$h.hv.before" "$NT_DIR/$h.hv.now" | head -4)"
        cmp -s "$NT_DIR/$h.nve.before" "$NT_DIR/$h.nve.now" ||
            nt_fail "$1: the NVE's VNICs of $h changed: $(diff "$NT_DIR/$h.nve.before" "$NT_DIR/$h.nve.now" | head -4)"
    done
    nt_log "ok: $1: $(cat "$NT_DIR"/hv?.hv.now | wc -l) VNICs, each with the tag it had, on its hv-agent and the NVE"
}
snap before
nt_assert_eq "every VNIC in the views" $((3 * PER)) "$(cat "$NT_DIR"/hv?.hv.before | wc -l)"
cmp -s "$NT_DIR/hv1.hv.before" "$NT_DIR/hv1.nve.before" || nt_fail "hv1 and the NVE disagree before any restart"
tags_before=$(nt_json nve tags | jq -c 'sort_by(.port, .tag) | map([.port, .tag, .vn])')
nt_assert "tags not the lowest of their ranges" \
    test "$(jq '[.[] | select(.[1] == 1)] | length' <<<"$tags_before")" = 0
resynced() { # HV EPOCH: hv-agent's NVE has another epoch, is up, no resync runs
    local s
    s=$(nt_jq "$1" '"\(.nve.epoch) \(.nve.state) \(.resync)"' status) || return 1
    [[ $s != "$2 "* && $s == *" up idle" ]]
}

# ---- 1. nve-agent restarts: every hypervisor resyncs with its hints
epoch=$(nt_jq hv1 .nve.epoch status)
nt_stop nve
nt_start_nve nve nve
for h in hv1 hv2 hv3; do nt_wait 20 "$h resynced with the new NVE" resynced "$h" "$epoch"; done
nt_wait 20 "every VNIC attached" all_attached
same_as_before "nve-agent restarted"
nt_assert_eq "(port, VN) tags as before" "$tags_before" \
    "$(nt_json nve tags | jq -c 'sort_by(.port, .tag) | map([.port, .tag, .vn])')"

# ---- 2. hv-agent restarts (TERM), then crashes (KILL)
hv_back() { [ "$(nt_jq "$1" '"\(.nve.state) \(.resync)"' status)" = "up idle" ]; }
nt_stop hv2
nt_start_hv hv2 hv2 up0
nt_wait 20 "hv2 resynced" hv_back hv2
nt_wait 20 "every VNIC attached" all_attached
same_as_before "hv-agent restarted"
nt_stop hv3 KILL
HV_EXTRA="on-nve-loss = keep" nt_start_hv hv3 hv3 up0
nt_wait 20 "hv3 resynced" hv_back hv3
nt_wait 20 "every VNIC attached" all_attached
same_as_before "hv-agent killed and restarted"

# ---- 3. the NVE silent past the hold time (NT_HOLD_S)
state_counts() { nt_json "$1" vnic list | jq -r '[.[].state] | group_by(.) | map("\(.[0]):\(length)") | join(",")'; }
nve_down() { [ "$(nt_jq "$1" .nve.state status)" = down ]; }
epoch=$(nt_jq hv3 .nve.epoch status)
kill -STOP "$(nt_pid nve)"
nt_wait 10 "hv1 declares the NVE down" nve_down hv1
nt_wait 10 "hv3 declares the NVE down" nve_down hv3
nt_assert_eq "untag: hv1's VNICs pending" "pending:$PER" "$(state_counts hv1)"
nt_assert_eq "keep: hv3's VNICs still attached" "attached:$PER" "$(state_counts hv3)"
nt_assert_eq "keep: hv3 says it keeps them" true "$(nt_jq hv3 .nve.tags_kept status)"
revoked0=$(nt_jq hv3 .nve.kept_revoked status)
# back, restarted: a new epoch untags hv3's kept VNICs until the replay
# confirms them
kill -KILL "$(nt_pid nve)"
kill -CONT "$(nt_pid nve)" 2>/dev/null
nt_stop nve
nt_start_nve nve nve
nt_wait 20 "hv3 resynced with the new NVE" resynced hv3 "$epoch"
nt_assert_eq "keep: the new epoch revoked the kept tags once" $((revoked0 + 1)) \
    "$(nt_jq hv3 .nve.kept_revoked status)"
nt_assert_eq "keep: no longer keeping" false "$(nt_jq hv3 .nve.tags_kept status)"
nt_wait 20 "every VNIC attached" all_attached
same_as_before "NVE silent past the hold time, then restarted"
nt_pass
