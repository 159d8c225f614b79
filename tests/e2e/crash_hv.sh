#!/bin/bash
# crash_hv.sh - acknowledged means durable (issue 10): hv-agent is killed
# with SIGKILL at a random point of a burst of attaches and detaches, for
# several seeds. After each restart every change it answered ok is in place
# on hv-agent and on the NVE (attached with the tag it answered, or gone),
# and nothing acknowledged in an earlier round is missing. Changes without
# an answer may have happened or not. CRASH_SEEDS (default "11 22 33") and
# CRASH_N (attaches per burst, default 2000) change the run.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init crash_hv

SEEDS=${CRASH_SEEDS:-"11 22 33"}
N=${CRASH_N:-2000}
NT_HOLD_S=30 # the NVE keeps hv1's state while it is down: both sides count
nt_topo_direct
export NVE_VNS="blue:100 red:200 green:300 gold:400" HV_VNS="blue:100 red:200 green:300 gold:400"
# many seeds add up
export NVE_EXTRA="limits {
    max-vnics-per-hypervisor = 0
$(nt_nve_unbounded_ports)
}"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# $NT_DIR/known: "UUID up TAG" (acknowledged attached), "UUID gone -"
# (acknowledged detached) or "UUID maybe -" (asked, never answered).
: >"$NT_DIR/known"
hv_list() {
    nt_json hv1 vnic list | jq -r '.[] | "\(.vnic) \(.state) \(.tag // "-")"'
}
nve_list() {
    nt_json nve vnics --port port1 | jq -r '.[] | "\(.vnic) \(.tag // "-")"'
}
settled() { nt_json hv1 vnic list | jq -e 'all(.[]; .state == "attached")' >/dev/null; }

round=0
for seed in $SEEDS; do
    round=$((round + 1))
    RANDOM=$seed
    delay_ms=$((10 + RANDOM % 700))
    # N attaches of new VNICs; every 8th request detaches one acknowledged
    # in an earlier round.
    mapfile -t olds < <(awk '$2 == "up" {print $1}' "$NT_DIR/known")
    printf '%s\n' "${olds[@]}" | awk -v n="$N" -v r="$round" '
        { old[NR] = $1 }
        END {
            split("blue red green gold", vn, " ")
            for (i = 0; i < n; i++) {
                k = r * 4096 + i
                printf "attach 00000000-0000-4000-8000-%012x %s 52:54:%02x:00:%02x:%02x 10.%d.%d.%d\n",
                    k, vn[i % 4 + 1], r, int(i / 256), i % 256, r, int(i / 256), i % 256
                if (i % 8 == 7 && ++d in old && old[d] != "")
                    print "detach " old[d]
            }
        }' >"$NT_DIR/ops"
    rm -f "$NT_DIR/answers"
    /usr/bin/python3 "$NT_LIB/ctl_burst.py" "$NT_DIR/hv1.sock" "$NT_DIR/answers" 256 \
        <"$NT_DIR/ops" &
    burst=$!
    nt_wait 10 "the burst under way" test -e "$NT_DIR/answers"
    sleep "$(printf '0.%03d' "$delay_ms")"
    nt_stop hv1 KILL
    wait "$burst" || nt_fail "the burst driver failed"
    oks=$(grep -c '^ok ' "$NT_DIR/answers" || true)
    errs=$(grep -c '^err ' "$NT_DIR/answers" || true)
    nt_log "seed $seed: SIGKILL after ${delay_ms} ms: $(wc -l <"$NT_DIR/ops") requests," \
        "$oks answered ok, $errs failed, $(tail -1 "$NT_DIR/answers")"
    # A failure answered is the change not made, or made without its tag
    # saved: the client knows not to count on it.
    grep '^err ' "$NT_DIR/answers" | grep -qv 'state not saved' &&
        nt_fail "an error other than 'state not saved': $(grep '^err ' "$NT_DIR/answers" | head -1)"
    awk 'FILENAME == ARGV[1] { st[$1] = $2; tag[$1] = $3; next }
         FILENAME == ARGV[2] { st[$2] = "maybe"; tag[$2] = "-"; next }
         $1 == "ok" && $3 == "vnic-attach" { st[$2] = "up"; tag[$2] = $4 }
         $1 == "ok" && $3 == "vnic-detach" { st[$2] = "gone"; tag[$2] = "-" }
         END { for (u in st) print u, st[u], tag[u] }' \
        "$NT_DIR/known" "$NT_DIR/ops" "$NT_DIR/answers" >"$NT_DIR/known.new"
    mv "$NT_DIR/known.new" "$NT_DIR/known"
    grep -q ' up -$' "$NT_DIR/known" && nt_fail "an attach answered ok without a tag"

    nt_daemon hv1 hv1 "$HV_AGENT" -f "$NT_DIR/hv1.conf" -s "$NT_DIR/hv1.sock"
    nt_wait 60 "hv1's VNICs all attached again after the restart" settled
    hv_list >"$NT_DIR/hv.now" || nt_fail "vnic list"
    nve_list >"$NT_DIR/nve.now" || nt_fail "NVE vnics"
    nt_log "seed $seed: after the restart hv1 holds $(wc -l <"$NT_DIR/hv.now") VNICs, the NVE" \
        "$(wc -l <"$NT_DIR/nve.now"), state incomplete: $(nt_jq hv1 .state.incomplete status)"
    awk 'FILENAME == ARGV[1] { hv[$1] = $3; next }
         FILENAME == ARGV[2] { nve[$1] = $2; next }
         $2 == "up" && hv[$1] != $3 { printf "hv1: %s is %s, acknowledged with tag %s\n", $1, ($1 in hv) ? "tag " hv[$1] : "missing", $3; bad++ }
         $2 == "up" && nve[$1] != $3 { printf "NVE: %s is %s, acknowledged with tag %s\n", $1, ($1 in nve) ? "tag " nve[$1] : "missing", $3; bad++ }
         $2 == "gone" && (($1 in hv) || ($1 in nve)) { printf "%s was detached (ok) but is back\n", $1; bad++ }
         END { exit bad > 0 }' "$NT_DIR/hv.now" "$NT_DIR/nve.now" "$NT_DIR/known" \
        >"$NT_DIR/bad" || nt_fail "seed $seed: $(wc -l <"$NT_DIR/bad") acknowledged changes lost: $(head -5 "$NT_DIR/bad")"
    # and hv1 holds nothing nobody asked for
    awk 'FILENAME == ARGV[1] { k[$1] = 1; next } !($1 in k) { print; bad++ } END { exit bad > 0 }' \
        "$NT_DIR/known" "$NT_DIR/hv.now" >"$NT_DIR/bad" ||
        nt_fail "hv1 holds VNICs never asked for: $(head -3 "$NT_DIR/bad")"
    nt_log "ok: seed $seed: $(grep -c ' up ' "$NT_DIR/known") acknowledged attaches in place with their tags on both sides, $(grep -c ' gone ' "$NT_DIR/known") acknowledged detaches gone"
done
nt_pass
