#!/bin/bash
# converge_soak.sh - two hypervisors, each behind an access link that loses,
# delays, reorders and duplicates frames both ways; random attaches,
# detaches, migrations between them and admin-state changes, and graceful
# restarts (SIGTERM, start again) of either hv-agent or of nve-agent, for
# about a minute. Then, without any further help, every VNIC settles and
# each hv-agent's view equals nve-agent's (protocol-spec/nvdp.md 10.6).
# Prints the figures: VNICs, seconds to converge, retransmissions.
# NT_SOAK_S (storm seconds, default 60), NT_SOAK_SEED (workload seed).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init converge_soak
STORM_S=${NT_SOAK_S:-60}
SEED=${NT_SOAK_SEED:-$RANDOM}
POOL=150
LOAD=$NT_LIB/ctl_load.py
VNS="vni:100 vni:200 vni:300"

export NT_IMPAIR="--loss 20 --delay 5 --jitter 5 --reorder 25 --dup 2"
nt_topo_impaired hv1 ap1 "$NT_MAC_HV1" "$NT_MAC_AP1"
nt_topo_impaired hv2 ap2 "$NT_MAC_HV2" "$NT_MAC_AP2"
export NVE_PORTS="port1 ap1
port2 ap2"
export NVE_VNS="blue:100 red:200 green:300" HV_VNS="blue:100 red:200 green:300"
# pre-associations outlive the test: their expiry is not announced to the
# hypervisor (spec 9.7), which is not what this test is about
export NVE_EXTRA="preassoc-timeout = 3600"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_start_hv hv2 hv2 up0
for h in hv1 hv2; do nt_wait 20 "$h hears the NVE" nt_hv_sees_nve "$h"; done
nt_log "workload seed $SEED (NT_SOAK_SEED), storm ${STORM_S}s"

mac_of() { if [ "$1" = hv1 ]; then echo "$NT_MAC_HV1"; else echo "$NT_MAC_HV2"; fi; }
views() { # HV: its view and the NVE's, one line per VNIC
    /usr/bin/python3 "$LOAD" "$NT_DIR/$1.sock" hv-view >"$NT_DIR/$1.hview" &&
        /usr/bin/python3 "$LOAD" "$NT_DIR/nve.sock" nve-view "$(mac_of "$1")" >"$NT_DIR/$1.nview"
}
unsettled() { nt_jq "$1" '[.[] | select(.state == "pending" or .state == "detaching" or .state == "failed")] | length' vnic list; }
converged() {
    local h
    for h in hv1 hv2; do
        [ "$(unsettled "$h" 2>/dev/null)" = 0 ] && views "$h" &&
            cmp -s "$NT_DIR/$h.hview" "$NT_DIR/$h.nview" || return 1
    done
}
# hv-agent's counters restart with it: add them up before each restart
declare -A RTX=([hv1]=0 [hv2]=0 [nve]=0)
bank() { # NAME
    local c
    if [ "$1" = nve ]; then
        c=$(nt_json nve counters 2>/dev/null | jq '.nvdp.global.tx_retransmits // 0')
    else
        c=$(nt_counter "$1" '^tx_retransmits$' status 2>/dev/null)
    fi
    RTX[$1]=$(( ${RTX[$1]} + ${c:-0} ))
}
restart() { # NAME
    bank "$1"
    nt_stop "$1" TERM
    if [ "$1" = nve ]; then
        nt_daemon nve nve "$NVE_AGENT" -f "$NT_DIR/nve.conf" -s "$NT_DIR/nve.sock"
    else
        nt_daemon "$1" "$1" "$HV_AGENT" -f "$NT_DIR/$1.conf" -s "$NT_DIR/$1.sock"
    fi
}

t_storm=$(date +%s%N)
round=0 restarts=0
while [ "$(nt_ms_since "$t_storm")" -lt $(( STORM_S * 1000 )) ]; do
    round=$(( round + 1 ))
    /usr/bin/python3 "$LOAD" "$NT_DIR/hv1.sock" soak $(( SEED * 1000 + round )) \
        $(( 20 + RANDOM % 60 )) "$POOL" "$NT_DIR/hv2.sock" $VNS ||
        nt_fail "round $round: a control socket failed"
    sleep "0.$(( RANDOM % 10 ))"
    if [ $(( round % 3 )) = 0 ]; then
        who=$(shuf -n1 -e hv1 hv2 nve)
        nt_log "round $round: restarting $who"
        restart "$who"
        restarts=$(( restarts + 1 ))
    fi
done
nt_log "storm over: $round rounds, $restarts restarts"

t0=$(date +%s%N)
until converged; do
    if [ "$(nt_ms_since "$t0")" -ge 90000 ]; then
        for h in hv1 hv2; do
            views "$h"
            nt_log "$h: $(unsettled "$h") VNICs unsettled; < hv-agent, > nve-agent:"
            diff "$NT_DIR/$h.hview" "$NT_DIR/$h.nview" | head -10
            nt_jq "$h" '.[] | select(.state == "pending" or .state == "detaching" or .state == "failed") | [.vnic, .state, .reason] | @tsv' vnic list | head -5
        done
        nt_fail "not converged 90 s after the storm (seed $SEED)"
    fi
    sleep 0.5
done
conv_ms=$(nt_ms_since "$t0")
for n in hv1 hv2 nve; do bank "$n"; done
n1=$(grep -c . "$NT_DIR/hv1.hview") n2=$(grep -c . "$NT_DIR/hv2.hview")
nt_assert "the workload left VNICs in place" test $(( n1 + n2 )) -gt 0
nt_log "ok: every VNIC settled, both views equal nve-agent's"
nt_log "figures: $(( n1 + n2 )) VNICs in place ($n1 on hv1, $n2 on hv2)," \
    "$(nt_jq hv1 '[.[] | select(.state == "withdrawn")] | length' vnic list)+$(nt_jq hv2 '[.[] | select(.state == "withdrawn")] | length' vnic list) withdrawn;" \
    "converged $(( conv_ms / 1000 )).$(( conv_ms % 1000 / 100 )) s after the storm;" \
    "retransmissions hv1 ${RTX[hv1]}, hv2 ${RTX[hv2]}, nve ${RTX[nve]};" \
    "$round rounds, $restarts restarts; seed $SEED"
nt_pass
