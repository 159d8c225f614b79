#!/bin/bash
# cp_scale.sh - one NVE, many hypervisors (issue 14): H hv-agents (half on a
# bridged access network, one NVE port for all of them, half on direct
# ports of their own) attach VNICs in steps up to N in total (by default
# to 1,000, 10,000, 91,000 and 100,000: the steps to 10,000 and to 100,000
# add as many VNICs, to a small and to a large state; the small steps are
# the anchors of the same run), detach them all and attach them again in
# one burst; nve-agent's CPU per attach in each step; then nve-agent idles (its
# CPU over 30 s, also before any VNIC), is restarted (time until it holds
# every VNIC again, each with the tag it had), and one hv-agent tops up to
# 10,000 VNICs and is restarted (the same). Prints figures; not a pass/fail
# test. Needs root. bench/cp_bench.sh -H runs it. CPS_PERF=FILE records
# the machine during the largest step, CPS_PERF_RESTART=FILE during
# nve-agent's restart (perf).
#
# usage: bench/cp_scale.sh [-b BUILD_DIR] [-H HYPERVISORS] [-n "1000 10000 100000"]
#                          [-w WINDOW] [-i IDLE_S] [-r HV_RESTART_N] [-R RATE]
#   -b  build (default: the optimised one of bench/cp_bench.sh)
#   -H  hv-agents (default 40); -n  cumulative VNIC totals, multiples of H
#       (default "1000 10000 91000 100000")
#   -w  control requests each driver keeps outstanding (default 256)
#   -i  seconds of idle CPU measurement (default 30)
#   -r  VNICs hv1 holds for the hv-agent restart (default 10000, 0: skip)
#   -R  the NVE's requests per second per hypervisor (limits request-rate;
#       default nve-agent's, 5000: a restarted hv-agent's 10,000 replayed
#       requests need 1.8 s at that rate)
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=/tmp/splitnve-cp-bench-build
NHV=40
LEVELS="1000 10000 91000 100000"
WINDOW=256
IDLE_S=30
HV1_N=10000
REQ_RATE=
while [ $# -gt 0 ]; do
    case $1 in
    -b) BUILD=$2; shift 2 ;;
    -H) NHV=$2; shift 2 ;;
    -n) LEVELS=$2; shift 2 ;;
    -w) WINDOW=$2; shift 2 ;;
    -i) IDLE_S=$2; shift 2 ;;
    -r) HV1_N=$2; shift 2 ;;
    -R) REQ_RATE=$2; shift 2 ;;
    *) sed -n '2,26p' "$0" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "cp_scale: needs root" >&2; exit 2; }
if [ ! -f "$BUILD/Makefile" ]; then
    mkdir -p "$BUILD"
    (cd "$BUILD" && "$SRC/configure" -q CC=clang CFLAGS="-O2 -g") || exit 1
fi
make -C "$BUILD" -s -j2 nve-agent/nve-agent hv-agent/hv-agent tools/nvdpctl \
    bench/cp_bench_drv >/dev/null || exit 1
grep -q '^SAN_CFLAGS = -f' "$BUILD/Makefile" &&
    echo "cp_scale: warning: $BUILD has sanitizers on" >&2

# Daemons without debug logs, the default hello interval, a hold time
# longer than any restart here.
export top_builddir=$BUILD NT_HELLO_MS=1000 NT_HOLD_S=30 NT_DAEMON_VERBOSE=
. "$SRC/tests/lib/netns.sh"
nt_init cp_scale
CTL_LOAD=$SRC/tests/lib/ctl_load.py
say() { printf '%s\n' "$*" >&2; }
VNS=(blue red green gold)
export NVE_VNS="blue:100 red:200 green:300 gold:400"
export HV_VNS=$NVE_VNS
export NVE_EXTRA="limits {
    max-vnics-per-hypervisor = 0
$(nt_nve_unbounded_ports)
${REQ_RATE:+    request-rate = $REQ_RATE}
}"
NB=$((NHV / 2)) # hv1..hvNB bridged on port "pb", the others direct

# ---- topology and daemons ---------------------------------------------------
nt_ns nve
nt_ns sw
nt_veth sw swnve nve b0
ports="pb b0 tags=2-4000"
bridged=()
for j in $(seq "$NHV"); do
    nt_ns "h$j"
    mac=$(printf '02:48:56:00:%02x:%02x' $((j >> 8)) $((j & 255)))
    if [ "$j" -le "$NB" ]; then
        nt_veth sw "s$j" "h$j" up0 "" "$mac"
        bridged+=("s$j")
    else
        nt_veth nve "d$j" "h$j" up0 "" "$mac"
        ports="$ports
p$j d$j tags=2-4000"
    fi
done
nt_bridge sw br0 swnve "${bridged[@]}"
export NVE_PORTS=$ports
nt_start_nve nve nve
for j in $(seq "$NHV"); do nt_start_hv "h$j" "hv$j" up0; done
for j in $(seq "$NHV"); do nt_wait 30 "hv$j hears the NVE" nt_hv_sees_nve "hv$j"; done
NVE_PID=$(nt_pid nve)
say "cp_scale: $(nproc) cores, kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
say "cp_scale: $NHV hv-agents ($NB bridged on one port, $((NHV - NB)) on direct ports), build $BUILD"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
nve_count() { nt_jq nve .tree.vnics counters; }
# idle_cpu SECONDS: nve-agent's CPU over SECONDS of doing nothing but
# liveness, as a percentage of one core; also all hv-agents' together
idle_cpu() {
    local t0 n0 h0=0 h1=0 j p tck f0 f1
    tck=$(getconf CLK_TCK)
    for j in $(seq "$NHV"); do h0=$((h0 + $(cpu_ticks "$(nt_pid "hv$j")"))); done
    n0=$(cpu_ticks "$NVE_PID") t0=$EPOCHREALTIME
    f0=$(nt_jq nve .nvdp.global.rx_frames counters) f1=$(nt_jq nve .nvdp.global.tx_frames counters)
    sleep "$1"
    # NVDP frames the NVE received and sent meanwhile: HELLOs only, as many
    # with 0 VNICs as with all of them (no per-VNIC refresh)
    IDLE_FRAMES="$(( $(nt_jq nve .nvdp.global.rx_frames counters) - f0 )) in, $(( $(nt_jq nve .nvdp.global.tx_frames counters) - f1 )) out"
    IDLE_NVE=$(awk -v a="$n0" -v b="$(cpu_ticks "$NVE_PID")" -v t="$tck" -v s0="$t0" -v s1="$EPOCHREALTIME" \
        'BEGIN {printf "%.3f", (b - a) / t / (s1 - s0) * 100}')
    for j in $(seq "$NHV"); do h1=$((h1 + $(cpu_ticks "$(nt_pid "hv$j")"))); done
    IDLE_HV=$(awk -v a="$h0" -v b="$h1" -v t="$tck" -v s="$1" 'BEGIN {printf "%.3f", (b - a) / t / s * 100}')
}
# frames: NVE-side kernel drops over all ports; hv-side retransmissions
# and give-ups over all hv-agents
nve_drops() { nt_json nve ports | jq '[.[].rx_kernel_drops] | add'; }
hv_sum() { # COUNTER
    local j s=0
    for j in $(seq "$NHV"); do s=$((s + $(nt_jq "hv$j" ".counters.$1 // 0" status))); done
    echo "$s"
}

# burst OP PER_HV: every hv-agent's driver at once (attach: PER_HV new
# VNICs each after those it has; detach / reattach: all it has); sets
# B_MS (all answered), B_FAILED, B_P99 (worst driver's p99)
declare -A HAVE
for j in $(seq "$NHV"); do HAVE[$j]=0; done
burst() {
    local op=$1 per=${2:-0} j t0 t1 pids=() args gate=$NT_DIR/gate
    # the drivers connect, then wait at the gate (a FIFO) until all are
    # started: the clock runs from the gate's opening, not from the first
    # driver's start while 39 others are still starting
    rm -f "$gate"
    mkfifo "$gate"
    for j in $(seq "$NHV"); do
        case $op in
        attach) args=(-n "$per" -o $((j * 200000 + HAVE[$j]))) ;;
        detach) args=(-n "${HAVE[$j]}" -o $((j * 200000)) -D) ;;
        reattach) args=(-n "${HAVE[$j]}" -o $((j * 200000))) ;;
        esac
        [ "${args[1]}" -gt 0 ] || continue
        "$BUILD/bench/cp_bench_drv" -s "$NT_DIR/hv$j.sock" -w "$WINDOW" \
            -g "$gate" -v "${VNS[$((j % 4))]}" "${args[@]}" >"$NT_DIR/drv$j.out" 2>&1 &
        pids+=("$!")
    done
    # every driver blocked in its open() of the gate (openat, 257 on
    # x86-64; 10 s at most), then the gate opens; it stays open until all
    # are done, so that a driver late at the gate does not wait for ever
    local waited=0 blocked sc rest
    while [ "$waited" -lt 1000 ]; do
        blocked=0
        for j in "${pids[@]}"; do
            read -r sc rest <"/proc/$j/syscall" 2>/dev/null && [ "$sc" = 257 ] && blocked=$((blocked + 1))
        done
        [ "$blocked" -lt "${#pids[@]}" ] || break
        sleep 0.01
        waited=$((waited + 1))
    done
    t0=$EPOCHREALTIME
    exec 9<>"$gate" # read-write: opens at once (Linux), counts as a writer
    B_FAILED=0
    for j in "${pids[@]}"; do wait "$j" || B_FAILED=$((B_FAILED + 1)); done
    t1=$EPOCHREALTIME
    exec 9>&-
    rm -f "$gate"
    B_MS=$(( (${t1/./} - ${t0/./}) / 1000 ))
    B_P99=$(cat "$NT_DIR"/drv*.out | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' | sort -n | tail -1)
    # the drivers' CPU, all together (ms)
    B_DRV_MS=$(cat "$NT_DIR"/drv*.out | sed -n 's/.* cpu_ms=\([0-9.]*\).*/\1/p' | awk '{s += $1} END {printf "%.0f", s}')
    [ "$op" = attach ] && for j in $(seq "$NHV"); do HAVE[$j]=$((HAVE[$j] + per)); done
    rm -f "$NT_DIR"/drv*.out
}

# ---- idle, no VNIC -------------------------------------------------------------
sleep 1
idle_cpu "$IDLE_S"
IDLE0_NVE=$IDLE_NVE IDLE0_HV=$IDLE_HV IDLE0_FRAMES=$IDLE_FRAMES
say "cp_scale: idle, 0 VNICs: nve-agent ${IDLE_NVE}% of a core, $NHV hv-agents ${IDLE_HV}%, NVDP frames at the NVE $IDLE_FRAMES"
RSS0=$(rss_kb "$NVE_PID")

# ---- attach in steps ---------------------------------------------------------
prev=0
declare -A MS RATE RSSB TREEB P99 NVEUS HVUS DRVUS FWDERR
TCK=$(getconf CLK_TCK)
hv_ticks() { local j s=0; for j in $(seq "$NHV"); do s=$((s + $(cpu_ticks "$(nt_pid "hv$j")"))); done; echo "$s"; }
for L in $LEVELS; do
    per=$(( (L - prev) / NHV ))
    c0=$(cpu_ticks "$NVE_PID") h0=$(hv_ticks)
    # CPS_PERF=FILE: perf record of the whole machine during the largest
    # step (nve-agent, the hv-agents and the drivers: perf report --comm)
    if [ -n "${CPS_PERF:-}" ] && [ "$L" = "${LEVELS##* }" ]; then
        perf record -q -F 999 -a -g -o "$CPS_PERF" 2>/dev/null &
        PERF_PID=$!
    fi
    burst attach "$per"
    if [ -n "${PERF_PID:-}" ]; then kill -INT $PERF_PID; wait $PERF_PID; PERF_PID=; fi
    # CPU per attach: nve-agent's, and all hv-agents' together (ticks)
    NVEUS[$L]=$(( ($(cpu_ticks "$NVE_PID") - c0) * 1000000 / TCK / (L - prev) ))
    HVUS[$L]=$(( ($(hv_ticks) - h0) * 1000000 / TCK / (L - prev) ))
    DRVUS[$L]=$(( B_DRV_MS * 1000 / (L - prev) ))
    [ "$B_FAILED" = 0 ] || say "cp_scale: $B_FAILED drivers reported failures at $L"
    got=$(nve_count)
    MS[$L]=$B_MS P99[$L]=$B_P99
    RATE[$L]=$(( (L - prev) * 1000 / (B_MS > 0 ? B_MS : 1) ))
    RSSB[$L]=$(( ($(rss_kb "$NVE_PID") - RSS0) * 1024 / L ))
    TREEB[$L]=$(nt_jq nve ".tree.memory_bytes / $L | floor" counters)
    FWDERR[$L]=$(nt_jq nve .tree.fwd_errors counters)
    say "cp_scale: $prev -> $L VNICs (NVE holds $got): ${B_MS} ms, ${RATE[$L]}/s, worst driver p99 ${B_P99} ms, RSS +${RSSB[$L]} B/VNIC (tree ${TREEB[$L]} B), CPU per attach: nve-agent ${NVEUS[$L]} us, hv-agents ${HVUS[$L]} us, drivers ${DRVUS[$L]} us"
    prev=$L
done
N=$prev

# ---- idle with every VNIC ------------------------------------------------------
idle_cpu "$IDLE_S"
say "cp_scale: idle, $N VNICs: nve-agent ${IDLE_NVE}% of a core, $NHV hv-agents ${IDLE_HV}%, NVDP frames at the NVE $IDLE_FRAMES"

# ---- detach all, attach again ------------------------------------------------
burst detach
DET_MS=$B_MS DET_FAILED=$B_FAILED
say "cp_scale: detach $N: ${B_MS} ms (NVE holds $(nve_count)), failed drivers $B_FAILED"
c0=$(cpu_ticks "$NVE_PID") h0=$(hv_ticks)
burst reattach
RE_MS=$B_MS RE_FAILED=$B_FAILED RE_DRVUS=$(( B_DRV_MS * 1000 / N ))
RE_NVEUS=$(( ($(cpu_ticks "$NVE_PID") - c0) * 1000000 / TCK / N ))
RE_HVUS=$(( ($(hv_ticks) - h0) * 1000000 / TCK / N ))
RSS_RE=$(( ($(rss_kb "$NVE_PID") - RSS0) * 1024 / N ))
say "cp_scale: re-attach $N: ${B_MS} ms (NVE holds $(nve_count)), RSS +$RSS_RE B/VNIC, CPU per attach: nve-agent $RE_NVEUS us, hv-agents $RE_HVUS us, drivers $RE_DRVUS us"

# ---- nve-agent restart -------------------------------------------------------
snap_hv() { # FILE: "hv uuid state tag" of every hv-agent's VNICs
    local j
    for j in $(seq "$NHV"); do
        nt_json "hv$j" vnic list | jq -r --arg h "$j" '.[] | "\($h) \(.vnic) \(.state) \(.tag)"'
    done | sort >"$1"
}
snap_hv "$NT_DIR/hv.before"
nt_json nve tags | jq -c 'sort_by(.port, .vn) | .[] | {port, vn, tag, vnics}' >"$NT_DIR/tags.before"
rt0=$(hv_sum tx_retransmits) gv0=$(hv_sum tx_giveups) hc0=$(hv_ticks)
epoch=$(nt_jq hv1 .nve.epoch status)
socks=()
for j in $(seq "$NHV"); do socks+=("$NT_DIR/hv$j.sock"); done
nt_stop nve
rm -f "$NT_DIR/nve.sock"
# the pollers first (a Python start takes tens of ms), then the clock; a
# poll every 10 ms (each a JSON status from nve-agent and from every
# hv-agent not done yet; at 2 ms they took about a tenth of the CPU
# during the restart): the times are 10 ms late at most
export CTL_LOAD_POLL_MS=10
/usr/bin/python3 "$CTL_LOAD" "$NT_DIR/nve.sock" wait-nve "$N" 120 >"$NT_DIR/nve.took" &
wpid=$!
/usr/bin/python3 "$CTL_LOAD" - wait-hvs "$epoch" 120 "${socks[@]}" >"$NT_DIR/hvs.took" &
hpid=$!
# CPS_PERF_RESTART=FILE: perf record of the whole machine (nve-agent and
# the 40 hv-agents) from the restart until every hv-agent is done
if [ -n "${CPS_PERF_RESTART:-}" ]; then
    perf record -q -F 999 -a -g -o "$CPS_PERF_RESTART" 2>/dev/null &
    PERF_PID=$!
fi
sleep 1
t0=$EPOCHREALTIME
nt_daemon nve nve "$NVE_AGENT" -f "$NT_DIR/nve.conf" -s "$NT_DIR/nve.sock"
NVE_PID=$(nt_pid nve)
wait "$wpid" || say "cp_scale: the NVE did not get its $N VNICs back"
wait "$hpid" || say "cp_scale: not every hv-agent finished its resync"
if [ -n "${PERF_PID:-}" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID"; PERF_PID=; fi
ms_since() { awk -v a="$1" '{printf "%.0f\n", ($1 - a) * 1000}'; }
NR_MS=$(ms_since "$t0" <"$NT_DIR/nve.took")
ms_since "$t0" <"$NT_DIR/hvs.took" | sort -n >"$NT_DIR/hvs.ms"
NR_HV_MIN=$(head -1 "$NT_DIR/hvs.ms") NR_HV_MAX=$(tail -1 "$NT_DIR/hvs.ms")
# CPU of the restart: the new nve-agent's from its start (its set-up
# included), the hv-agents' over the same time (the pollers' status
# calls included)
NR_NVE_MS=$(( $(cpu_ticks "$NVE_PID") * 1000 / TCK )) NR_HV_MS=$(( ($(hv_ticks) - hc0) * 1000 / TCK ))
NR_RETX=$(( $(hv_sum tx_retransmits) - rt0 )) NR_GIVEUP=$(( $(hv_sum tx_giveups) - gv0 ))
NR_DROPS=$(nve_drops) NR_RL=$(nt_jq nve .nvdp.global.rx_rate_limited counters)
snap_hv "$NT_DIR/hv.after"
nt_json nve tags | jq -c 'sort_by(.port, .vn) | .[] | {port, vn, tag, vnics}' >"$NT_DIR/tags.after"
NR_SAME_HV=$(comm -12 "$NT_DIR/hv.before" "$NT_DIR/hv.after" | grep -c ' attached ')
NR_SAME_TAGS=$(cmp -s "$NT_DIR/tags.before" "$NT_DIR/tags.after" && echo yes || echo NO)
say "cp_scale: nve-agent restart: $N VNICs back in $NR_MS ms; hv-agents' resyncs done after $NR_HV_MIN..$NR_HV_MAX ms; same (port, VN) tags: $NR_SAME_TAGS; VNICs attached with the same tag on their hv-agent: $NR_SAME_HV of $N; retransmissions $NR_RETX, give-ups $NR_GIVEUP, NVE kernel drops $NR_DROPS, over the NVE's request rate $NR_RL; CPU nve-agent $NR_NVE_MS ms, hv-agents $NR_HV_MS ms"

# ---- hv-agent restart with HV1_N VNICs ---------------------------------------
if [ "$HV1_N" -gt "${HAVE[1]}" ]; then
    add=$((HV1_N - HAVE[1]))
    "$BUILD/bench/cp_bench_drv" -s "$NT_DIR/hv1.sock" -w "$WINDOW" -v "${VNS[1]}" \
        -n "$add" -o $((200000 + HAVE[1])) >/dev/null || say "cp_scale: hv1's top-up failed"
    HAVE[1]=$HV1_N
    nt_json hv1 vnic list | jq -r '.[] | "\(.vnic) \(.state) \(.tag)"' | sort >"$NT_DIR/hv1.before"
    rl0=$(nt_jq nve .nvdp.global.rx_rate_limited counters)
    nt_stop hv1
    rm -f "$NT_DIR/hv1.sock"
    /usr/bin/python3 "$CTL_LOAD" "$NT_DIR/hv1.sock" wait-hv 120 >"$NT_DIR/hv1.took" &
    wpid=$!
    sleep 1
    t0=$EPOCHREALTIME
    nt_daemon h1 hv1 "$HV_AGENT" -f "$NT_DIR/hv1.conf" -s "$NT_DIR/hv1.sock"
    wait "$wpid" || say "cp_scale: hv1 did not finish its resync"
    HR_MS=$(ms_since "$t0" <"$NT_DIR/hv1.took")
    HR_RETX=$(nt_jq hv1 .counters.tx_retransmits status)
    HR_RL=$(( $(nt_jq nve .nvdp.global.rx_rate_limited counters) - rl0 ))
    nt_json hv1 vnic list | jq -r '.[] | "\(.vnic) \(.state) \(.tag)"' | sort >"$NT_DIR/hv1.after"
    HR_SAME=$(comm -12 "$NT_DIR/hv1.before" "$NT_DIR/hv1.after" | grep -c ' attached ')
    say "cp_scale: hv-agent restart with $HV1_N VNICs: resync done in $HR_MS ms, $HR_SAME of $HV1_N attached with the same tag; retransmissions $HR_RETX, over the NVE's request rate $HR_RL"
fi

# ---- figures ----------------------------------------------------------------
echo
echo "| $NHV hv-agents ($NB bridged on one port, $((NHV - NB)) direct), window $WINDOW each | value |"
echo "|---|---|"
prev=0
for L in $LEVELS; do
    printf '| attach %s -> %s VNICs: all acknowledged in | %s ms (%s/s; worst driver p99 %s ms; CPU per attach: nve-agent %s us, hv-agents %s us, drivers %s us) |\n' \
        "$prev" "$L" "${MS[$L]}" "${RATE[$L]}" "${P99[$L]}" "${NVEUS[$L]}" "${HVUS[$L]}" "${DRVUS[$L]}"
    prev=$L
done
for L in $LEVELS; do
    printf '| nve-agent RSS growth at %s VNICs | %s B/VNIC (tree accounting %s B; forwarder errors %s) |\n' \
        "$L" "${RSSB[$L]}" "${TREEB[$L]}" "${FWDERR[$L]}"
done
printf '| detach all %s / **attach all %s again in one burst** | %s ms / **%s ms** (RSS growth then %s B/VNIC; CPU per attach: nve-agent %s us, hv-agents %s us, drivers %s us) |\n' \
    "$N" "$N" "$DET_MS" "$RE_MS" "$RSS_RE" "$RE_NVEUS" "$RE_HVUS" "$RE_DRVUS"
printf '| nve-agent CPU idle %s s, 0 VNICs / %s VNICs | %s%% / %s%% of a core (%s hv-agents: %s%% / %s%%) |\n' \
    "$IDLE_S" "$N" "$IDLE0_NVE" "$IDLE_NVE" "$NHV" "$IDLE0_HV" "$IDLE_HV"
printf '| NVDP frames at the NVE over the idle %s s, 0 VNICs / %s VNICs | %s / %s |\n' "$IDLE_S" "$N" "$IDLE0_FRAMES" "$IDLE_FRAMES"
printf '| nve-agent restart: every VNIC held again in | %s ms (hv-agents done: %s..%s ms; CPU: nve-agent %s ms, hv-agents %s ms) |\n' "$NR_MS" "$NR_HV_MIN" "$NR_HV_MAX" "$NR_NVE_MS" "$NR_HV_MS"
printf '| ... with the same tag | (port, VN) tags %s; %s of %s VNICs on their hv-agents |\n' "$NR_SAME_TAGS" "$NR_SAME_HV" "$N"
printf '| ... frames lost or starved | %s retransmissions, %s give-ups, %s NVE kernel drops, %s over the NVE'"'"'s request rate |\n' "$NR_RETX" "$NR_GIVEUP" "$NR_DROPS" "$NR_RL"
[ -n "${HR_MS:-}" ] &&
    printf '| hv-agent restart with %s VNICs: resync done in | %s ms (%s with the same tag; %s retransmissions, %s over the NVE'"'"'s request rate) |\n' "$HV1_N" "$HR_MS" "$HR_SAME" "$HR_RETX" "$HR_RL"
exit 0
