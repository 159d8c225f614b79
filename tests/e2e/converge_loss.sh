#!/bin/bash
# converge_loss.sh - 2,000 attaches then 1,000 detaches over an access link
# that loses 20% of the frames and reorders a quarter of them, both ways:
# the engines converge on their own (spec 10.6): nothing stays pending or
# detaching, and hv-agent's view equals nve-agent's (VNIC, VN, MAC, IP, tag).
# Prints the figures: VNICs, seconds to converge, retransmissions.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init converge_loss
N=${NT_CONV_N:-2000}
LOAD=$NT_LIB/ctl_load.py

nt_topo_impaired hv1 ap1 "$NT_MAC_HV1" "$NT_MAC_AP1"
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 20 "hv1 hears the NVE" nt_hv_sees_nve hv1

# The views of both daemons, one line per VNIC (ctl_load.py hv-view).
views() {
    /usr/bin/python3 "$LOAD" "$NT_DIR/hv1.sock" hv-view >"$NT_DIR/hv.view" &&
        /usr/bin/python3 "$LOAD" "$NT_DIR/nve.sock" nve-view "$NT_MAC_HV1" >"$NT_DIR/nve.view"
}
unsettled() { nt_jq hv1 '[.[] | select(.state == "pending" or .state == "detaching")] | length' vnic list; }
converged() { # EXPECTED_VNICS
    [ "$(unsettled 2>/dev/null)" = 0 ] && views &&
        [ "$(grep -c . "$NT_DIR/hv.view")" = "$1" ] &&
        cmp -s "$NT_DIR/hv.view" "$NT_DIR/nve.view"
}
# Fails with the differences and both daemons' counters.
diverged() {
    views
    nt_log "hv-agent: $(unsettled) VNICs pending/detaching; views differ (< hv-agent, > nve-agent):"
    diff "$NT_DIR/hv.view" "$NT_DIR/nve.view" | head -20
    nt_json hv1 status | jq -c .counters
    nt_fail "$1"
}
wait_converged() { # WHAT EXPECTED_VNICS SECONDS
    local i
    for i in $(seq 1 $(( $3 * 2 ))); do
        converged "$2" && return 0
        sleep 0.5
    done
    diverged "$1: not converged after $3 s"
}
secs() { printf '%d.%d' $(( $1 / 10 )) $(( $1 % 10 )); }

t0=$(date +%s%N)
/usr/bin/python3 "$LOAD" "$NT_DIR/hv1.sock" attach 1 "$N" blue red ||
    nt_fail "hv-agent refused an attach"
wait_converged "$N attaches" "$N" 240
attach_s=$(( $(nt_ms_since "$t0") / 100 ))
rtx_a=$(nt_counter hv1 '^tx_retransmits$' status)
nt_log "ok: $N VNICs attached, hv-agent's view = nve-agent's"
nt_assert_eq "no VNIC failed" 0 \
    "$(nt_jq hv1 '[.[] | select(.state != "attached")] | length' vnic list)"

t0=$(date +%s%N)
/usr/bin/python3 "$LOAD" "$NT_DIR/hv1.sock" detach 1 $(( N / 2 )) ||
    nt_fail "hv-agent refused a detach"
wait_converged "$(( N / 2 )) detaches" $(( N - N / 2 )) 240
detach_s=$(( $(nt_ms_since "$t0") / 100 ))
nt_assert_eq "hv-agent forgot the detached VNICs" $(( N - N / 2 )) \
    "$(nt_jq hv1 'length' vnic list)"

sent=$(nt_counter hv1 '^requests_sent$' status)
acked=$(nt_counter hv1 '^acked$' status)
rtx=$(nt_counter hv1 '^tx_retransmits$' status)
giveups=$(nt_counter hv1 '^tx_giveups$' status)
resyncs=$(nt_counter hv1 '^resyncs$' status)
nt_assert_eq "nothing outstanding" 0 "$(nt_counter hv1 '^outstanding$' status)"
nt_log "figures: $N attaches converged in $(secs "$attach_s") s ($rtx_a retransmissions)," \
    "$(( N / 2 )) detaches in $(secs "$detach_s") s; requests $sent, acked $acked," \
    "retransmissions $rtx, give-ups $giveups, resyncs $resyncs;" \
    "wire: $(head -1 "$NT_DIR/impair-hv1.log" | sed 's/.*: //')"
nt_pass
