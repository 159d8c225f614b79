#!/bin/bash
# state_full_disk.sh - acknowledged means durable with a full disk (issue
# 10): hv-agent's state directory is a small tmpfs that fills up during a
# burst of attaches. Every attach answered ok is in place on both sides,
# and still is after a SIGKILL and a restart; the ones that did not fit were
# answered "state not saved: No space left on device" and the NVE never
# heard of them; hv-agent keeps running, counts and logs it, and saves
# again once there is room.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init state_full_disk
command -v mount >/dev/null || nt_skip "mount not found"

ST=$NT_DIR/st
mkdir "$ST"
mount -t tmpfs -o size=192k,mode=0700 splitnve-test "$ST" || nt_skip "cannot mount a tmpfs"
# our mount goes before nt_cleanup removes $NT_DIR (lazily: a daemon
# killed at the same moment may still hold it)
trap 'rc=$?; umount -l "$ST" 2>/dev/null; (exit $rc); nt_cleanup' EXIT

NT_HOLD_S=30
nt_topo_direct
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
start_hv() {
    nt_hv_conf hv1 up0 >/dev/null
    sed -i "s|^state-file = .*|state-file = \"$ST/hv1.state\"|" "$NT_DIR/hv1.conf"
    nt_daemon hv1 hv1 "$HV_AGENT" -f "$NT_DIR/hv1.conf" -s "$NT_DIR/hv1.sock"
}
start_hv
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

ops() { # FIRST COUNT: attaches of VNICs FIRST..FIRST+COUNT-1
    awk -v a="$1" -v n="$2" 'BEGIN {
        for (k = a; k < a + n; k++)
            printf "attach 00000000-0000-4000-8000-%012x %s 52:54:00:00:%02x:%02x 10.0.%d.%d\n",
                k, k % 2 ? "red" : "blue", int(k / 256), k % 256, int(k / 256), k % 256 }'
}
burst() { # FIRST COUNT OUT
    ops "$1" "$2" | /usr/bin/python3 "$NT_LIB/ctl_burst.py" "$NT_DIR/hv1.sock" "$3" 64 ||
        nt_fail "the burst driver failed"
    grep -q '^done$' "$3" || nt_fail "hv-agent went away during the burst"
}
hv_list() { nt_json hv1 vnic list | jq -r '.[] | "\(.vnic) \(.state) \(.tag // "-")"'; }
nve_list() { nt_json nve vnics --port port1 | jq -r '.[] | "\(.vnic) \(.tag // "-")"'; }
# every ok of answers file $1 is attached with its tag on both sides
check_acked() {
    hv_list >"$NT_DIR/hv.now" || nt_fail "vnic list"
    nve_list >"$NT_DIR/nve.now" || nt_fail "NVE vnics"
    awk 'FILENAME == ARGV[1] && $2 == "attached" { hv[$1] = $3; next }
         FILENAME == ARGV[2] { nve[$1] = $2; next }
         FILENAME == ARGV[1] { next }
         $1 == "ok" && (hv[$2] != $4 || nve[$2] != $4) {
             printf "%s: acknowledged with tag %s, hv1 %s, NVE %s\n", $2, $4, hv[$2], nve[$2]; bad++ }
         END { exit bad > 0 }' "$NT_DIR/hv.now" "$NT_DIR/nve.now" "$1" >"$NT_DIR/bad" ||
        nt_fail "$2: $(wc -l <"$NT_DIR/bad") acknowledged attaches not in place: $(head -3 "$NT_DIR/bad")"
    # and the NVE holds nothing hv1 does not: an undone change never left
    awk 'FILENAME == ARGV[1] { hv[$1] = 1; next } !($1 in hv) { print; bad++ } END { exit bad > 0 }' \
        "$NT_DIR/hv.now" "$NT_DIR/nve.now" >"$NT_DIR/bad" ||
        nt_fail "$2: the NVE holds VNICs hv1 does not: $(head -3 "$NT_DIR/bad")"
}

# 1500 attaches do not fit in 192 KiB (about 300 bytes of journal each)
burst 1 1500 "$NT_DIR/a1"
oks=$(grep -c '^ok ' "$NT_DIR/a1" || true)
errs=$(grep -c '^err ' "$NT_DIR/a1" || true)
nt_log "full disk: $oks of 1500 attaches answered ok, $errs failed"
nt_assert "some attaches fit" test "$oks" -gt 50
nt_assert "some did not" test "$errs" -gt 50
nt_assert_eq "every failure says why" "$errs" \
    "$(grep -c '^err .* 1 state not saved: No space left on device$' "$NT_DIR/a1")"
nt_assert "hv-agent still answers" nt_ctl hv1 status
nt_assert "failed commits counted" test "$(nt_jq hv1 .state.save_errors counters)" -gt 0
nt_assert "undone requests counted" test "$(nt_jq hv1 .state.undone counters)" -gt 0
# (status's state.error holds the last commit's failure: by now a small
# commit may have fitted in what the failed ones left; test_hv_ctl checks it)
grep -q 'state journal: .*No space left on device' "$NT_DIR/hv1.log" || nt_fail "no log line about the full disk"
# let the last answers' changes settle, then both sides agree
settled() { nt_json hv1 vnic list | jq -e 'all(.[]; .state == "attached")' >/dev/null; }
nt_wait 20 "hv1's VNICs settled" settled
check_acked "$NT_DIR/a1" "while full"
nt_log "ok: $oks acknowledged attaches in place on both sides, the NVE holds nothing else"

# Durable: killed and restarted on the same full disk, nothing is lost.
nt_stop hv1 KILL
start_hv
nt_wait 30 "hv1's VNICs attached again after the restart" settled
check_acked "$NT_DIR/a1" "after SIGKILL and restart"
nt_log "ok: after SIGKILL and restart, still in place"

# Room again: the same attaches succeed now and are saved.
mount -o remount,size=8m "$ST" || nt_fail "remount"
burst 1 1500 "$NT_DIR/a2"
nt_assert_eq "with room, every attach answered ok" 1500 "$(grep -c '^ok ' "$NT_DIR/a2")"
nt_assert_eq "saving again: no error in status" null "$(nt_jq hv1 .state.error status)"
check_acked "$NT_DIR/a2" "with room again"
nt_stop hv1 KILL
start_hv
nt_wait 30 "all 1500 attached after the last restart" settled
nt_assert_eq "all 1500 came back" 1500 "$(nt_jq hv1 length vnic list)"
check_acked "$NT_DIR/a2" "after the last restart"
nt_pass
