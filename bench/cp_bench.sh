#!/bin/bash
# cp_bench.sh - control-plane benchmark: N VNIC attaches (VN connect + MAC +
# IP each) from one hv-agent to nve-agent over a veth between two network
# namespaces; attaches/s, p50/p99 latency, nve-agent memory per VNIC. The
# anchor, measured in the same run on the same kind of veth: lldpad's
# 802.1Qbg VDP (bridge-role and station-role lldpad, vdptool -W). Prints
# figures; it is not a pass/fail test. Needs root.
#
# usage: bench/cp_bench.sh [-b BUILD_DIR] [-n "1000 10000"] [-w WINDOW]
#                          [-a ANCHOR_N] [-c CLIENTS] [--no-nvdp] [--no-lldpad]
#   -b  build to use (default: an optimised, sanitizer-free build made in
#       /tmp/splitnve-cp-bench-build; ASan would distort time and memory)
#   -n  attach counts to run, each on freshly started daemons
#   -w  control requests the driver keeps outstanding (default 1024)
#   -a  VDP associations for the lldpad anchor (default 300)
#   -c  concurrent vdptool clients in the anchor's second run (default 4)
#
#        bench/cp_bench.sh -H HYPERVISORS [cp_scale.sh options]
#   many hypervisors on one NVE, up to 100,000 VNICs, restarts: runs
#   bench/cp_scale.sh (see there)
set -u
if [ "${1:-}" = -H ]; then
    exec "$(dirname "$0")/cp_scale.sh" "$@"
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=
COUNTS="1000 10000"
WINDOW=1024
ANCHOR_N=300
CLIENTS=4
DO_NVDP=1
DO_LLDPAD=1
while [ $# -gt 0 ]; do
    case $1 in
    -b) BUILD=$2; shift 2 ;;
    -n) COUNTS=$2; shift 2 ;;
    -w) WINDOW=$2; shift 2 ;;
    -a) ANCHOR_N=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    --no-nvdp) DO_NVDP=0; shift ;;
    --no-lldpad) DO_LLDPAD=0; shift ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "cp_bench: needs root (network namespaces)" >&2; exit 2; }

PFX="cpb$$"        # our namespaces: ${PFX}nve, ${PFX}hv, ${PFX}vb, ${PFX}vs
DIR=$(mktemp -d /tmp/cp_bench.XXXXXX)
PIDS=()
NSS=()

# Belt and braces: any lldpad still running with a config in this run's
# $DIR (unique) is ours.
our_lldpads() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "^lldpad -f $DIR/" &&
            echo "${p#/proc/}"
    done
}

cleanup() {
    local p ns i
    PIDS+=($(our_lldpads))
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for i in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    PIDS=()
    for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    NSS=()
}
# CPB_KEEP=1 keeps the daemons' logs and configs in $DIR.
trap 'cleanup; if [ "${CPB_KEEP:-0}" = 1 ]; then say "cp_bench: kept $DIR"; else rm -rf "$DIR"; fi' EXIT
trap 'exit 130' INT TERM HUP

say() { printf '%s\n' "$*" >&2; }
die() { say "cp_bench: $*"; exit 1; }
ns_add() { ip netns add "$PFX$1" || die "netns $PFX$1"; NSS+=("$PFX$1"); ip -n "$PFX$1" link set lo up; }
in_ns() { local n=$1; shift; ip netns exec "$PFX$n" "$@"; }
stop_pid() { # PID: TERM, wait, KILL
    local i
    kill -TERM "$1" 2>/dev/null
    for i in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
wait_for() { # SECONDS WHAT CMD...
    local secs=$1 what=$2 end
    shift 2
    end=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || die "timed out waiting for $what"
        sleep 0.05
    done
}
# p50/p99 in ms of a file of microsecond figures, one per line.
pctl() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {i=int(p/100*(NR-1)+0.5)+1; printf "%.2f", v[i] / 1000}'; }

# ---- the build -------------------------------------------------------------
build() {
    if [ -z "$BUILD" ]; then
        BUILD=/tmp/splitnve-cp-bench-build
        if [ ! -f "$BUILD/Makefile" ]; then
            mkdir -p "$BUILD"
            (cd "$BUILD" && "$SRC/configure" -q CC=clang CFLAGS="-O2 -g") || die "configure"
        fi
    fi
    local targets="nve-agent/nve-agent hv-agent/hv-agent tools/nvdpctl bench/cp_bench_drv"
    # A Makefile generated from a broken Makefile.am cannot regenerate
    # itself: config.status does it, then one more try.
    make -C "$BUILD" -s -j2 $targets >/dev/null 2>"$DIR/build.err" ||
        { (cd "$BUILD" && ./config.status >/dev/null) &&
            make -C "$BUILD" -s -j2 $targets >/dev/null 2>"$DIR/build.err"; } ||
        { cat "$DIR/build.err" >&2; die "build failed in $BUILD"; }
    if grep -q fsanitize "$BUILD/Makefile" 2>/dev/null &&
        grep -q '^SAN_CFLAGS = -f' "$BUILD/Makefile"; then
        say "cp_bench: warning: $BUILD has sanitizers on: figures are distorted"
    fi
}

# ---- NVDP: hv-agent -> nve-agent --------------------------------------------
MAC_NVE=02:4e:56:00:00:01
MAC_HV=02:48:56:00:00:01

nvdp_setup() {
    ns_add nve
    ns_add hv
    ip -n "${PFX}nve" link add ap1 type veth peer name up0 netns "${PFX}hv" || die veth
    ip -n "${PFX}nve" link set ap1 address $MAC_NVE up
    ip -n "${PFX}hv" link set up0 address $MAC_HV up
    cat >"$DIR/nve.conf" <<EOC
name = "bench-nve"
control-socket = "$DIR/nve.sock"
limits {
    max-addresses-per-vnic = 64
    max-vnics-per-hypervisor = 0
$(grep -q max-vnics-per-port "$BUILD/nve-agent/nve-agent" &&
  printf '    max-vnics-per-port = 0\n    max-addresses-per-port = 0')
}
port "port1" {
    interface = "ap1"
    tags = "2-4000"
}
vn "blue" { vni = 100 }
EOC
    cat >"$DIR/hv.conf" <<EOC
name = "bench-hv"
uplink = "up0"
state-file = "$DIR/hv.state"
control-socket = "$DIR/hv.sock"
vn "blue" { vni = 100 }
EOC
    rm -f "$DIR/hv.state" "$DIR/hv.log" "$DIR/nve.log"
    # ip netns exec directly, not through a shell function: $! must be the
    # daemon itself (ip execs it), not a subshell.
    ip netns exec "${PFX}nve" "$BUILD/nve-agent/nve-agent" -d -f "$DIR/nve.conf" \
        -s "$DIR/nve.sock" >>"$DIR/nve.log" 2>&1 &
    NVE_PID=$!
    PIDS+=("$NVE_PID")
    ip netns exec "${PFX}hv" "$BUILD/hv-agent/hv-agent" -d -f "$DIR/hv.conf" \
        -s "$DIR/hv.sock" >>"$DIR/hv.log" 2>&1 &
    HV_PID=$!
    PIDS+=("$HV_PID")
    wait_for 10 "nve-agent's socket" "$BUILD/tools/nvdpctl" -s "$DIR/nve.sock" -t 1000 status
    wait_for 10 "hv-agent's socket" "$BUILD/tools/nvdpctl" -s "$DIR/hv.sock" -t 1000 status
    wait_for 15 "hv-agent to hear the NVE" hv_sees_nve
}
hv_sees_nve() {
    [ "$("$BUILD/tools/nvdpctl" -s "$DIR/hv.sock" -f json status | jq -r '.nve.state')" = up ]
}
nvdp_teardown() {
    stop_pid "$HV_PID"
    stop_pid "$NVE_PID"
    ip netns del "${PFX}nve"
    ip netns del "${PFX}hv"
    NSS=()
}
nve_vnics() {
    "$BUILD/tools/nvdpctl" -s "$DIR/nve.sock" -f json vnics |
        jq '[.. | objects | select(has("vnic")) | .vnic] | unique | length'
}

# run_nvdp N WINDOW: one run on fresh daemons; sets R_* figures.
run_nvdp() {
    local n=$1 w=$2 before after out
    nvdp_setup
    sleep 0.5 # let start-up allocations settle before the baseline
    before=$(rss_kb "$NVE_PID")
    out=$("$BUILD/bench/cp_bench_drv" -s "$DIR/hv.sock" -n "$n" -w "$w" -v blue) ||
        { say "$out"; tail -5 "$DIR/hv.log" "$DIR/nve.log" >&2; die "driver failed (N=$n)"; }
    after=$(rss_kb "$NVE_PID")
    R_NVE_VNICS=$(nve_vnics)
    # What hv-agent did on the wire: requests per frame, retransmissions.
    R_HV=$("$BUILD/tools/nvdpctl" -s "$DIR/hv.sock" -f json status | jq -r '.counters |
        "tx_frames=\(.tx_frames) requests=\(.requests_sent) retransmits=\(.tx_retransmits // .retransmits) giveups=\(.tx_giveups // .giveups) state_saves=\(.state_saves // "?")"')
    # The NVE's own accounting of its containment tree (the RSS delta also
    # holds the forwarder's tables and malloc slack).
    R_TREE_B=$("$BUILD/tools/nvdpctl" -s "$DIR/nve.sock" -f json counters |
        jq --argjson n "$n" '(.tree.memory_bytes // 0) / $n | floor')
    R_LINE=$out
    R_RSS_B=$(( (after - before) * 1024 / n ))
    R_RATE=$(sed -n 's/.*attaches_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
    R_P50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    R_P99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    R_MS=$(sed -n 's/.*elapsed_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    R_FAILED=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$out")
    nvdp_teardown
}

# ---- the anchor: lldpad 802.1Qbg VDP -------------------------------------
# Recipe: /work/shared/bench/LLDPAD.md (own /run and /dev/shm per lldpad,
# LLDP on the default and nearest-customer-bridge agents, evbmode, restart).
lldpad_start() { # NS
    ip netns exec "$PFX$1" unshare -m --propagation private sh -c \
        "mount -t tmpfs none /dev/shm && mount -t tmpfs none /run && exec lldpad -f $DIR/$1.lldpad.conf -V 7" \
        >>"$DIR/$1.lldpad.log" 2>&1 &
    eval "LLDPAD_PID_$1=$!"
    PIDS+=("$!")
    wait_for 10 "lldpad in $1" in_ns "$1" lldptool -p
}
lldpad_setup() {
    local ns ifc mode
    ns_add vb
    ns_add vs
    ip -n "${PFX}vb" link add vb0 type veth peer name vs0 netns "${PFX}vs" || die veth
    ip -n "${PFX}vb" link set vb0 up
    ip -n "${PFX}vs" link set vs0 up
    lldpad_start vb
    lldpad_start vs
    for x in vb:vb0:bridge vs:vs0:station; do
        IFS=: read -r ns ifc mode <<<"$x"
        in_ns "$ns" lldptool -L -i "$ifc" adminStatus=rxtx >/dev/null
        in_ns "$ns" lldptool -L -i "$ifc" -g ncb adminStatus=rxtx >/dev/null
        in_ns "$ns" lldptool -T -i "$ifc" -g ncb -V evb -c evbmode="$mode" >/dev/null
        in_ns "$ns" lldptool -T -i "$ifc" -g ncb -V evb -c enableTx=yes >/dev/null
    done
    # vdp22 takes its role at creation: restart both with the saved config.
    stop_pid "$LLDPAD_PID_vb"
    stop_pid "$LLDPAD_PID_vs"
    for p in $(our_lldpads); do stop_pid "$p"; done
    lldpad_start vb
    lldpad_start vs
    wait_for 20 "a first VDP association" vdp_assoc 0
}
vdp_assoc() { # K: one association, VSI K
    in_ns vs vdptool -i vs0 -T -W -V assoc -c mode=assoc -c mgrid2=0 -c typeid=5 \
        -c uuid="$(printf '00000000-0000-4000-9000-%012x' "$1")" -c typeidver=4 \
        -c hints=none -c filter="0-$(printf '52:55:00:%02x:%02x:%02x' $(( ($1 >> 16) & 255 )) $(( ($1 >> 8) & 255 )) $(( $1 & 255 )))" |
        grep -q "Response from VDP"
}
# vdp_run FIRST COUNT OUTFILE: sequential associations inside the station's
# namespace (one ip-netns-exec for all), latency of each in ms to OUTFILE.
vdp_run() {
    in_ns vs bash -c '
        first=$1 n=$2 out=$3 fail=0
        for k in $(seq "$first" $(( first + n - 1 ))); do
            t0=$EPOCHREALTIME
            vdptool -i vs0 -T -W -V assoc -c mode=assoc -c mgrid2=0 -c typeid=5 \
                -c uuid="$(printf "00000000-0000-4000-9000-%012x" "$k")" -c typeidver=4 \
                -c hints=none -c filter="0-$(printf "52:55:00:%02x:%02x:%02x" $(( (k >> 16) & 255 )) $(( (k >> 8) & 255 )) $(( k & 255 )))" |
                grep -q "Response from VDP" || fail=$(( fail + 1 ))
            t1=$EPOCHREALTIME
            echo "$(( ${t1/./} - ${t0/./} ))" # microseconds
        done >"$out"
        echo "$fail" >"$out.fail"
    ' _ "$1" "$2" "$3"
}
run_lldpad() {
    local t0 t1 i fails=0
    command -v lldpad >/dev/null && command -v vdptool >/dev/null ||
        { say "cp_bench: lldpad/vdptool not installed: no anchor"; return 1; }
    lldpad_setup
    t0=$(date +%s%N)
    vdp_run 1 "$ANCHOR_N" "$DIR/vdp_seq"
    t1=$(date +%s%N)
    A_SEQ_RATE=$(awk -v n="$ANCHOR_N" -v d=$(( t1 - t0 )) 'BEGIN {print n * 1e9 / d}')
    A_P50=$(pctl "$DIR/vdp_seq" 50)
    A_P99=$(pctl "$DIR/vdp_seq" 99)
    A_FAIL=$(cat "$DIR/vdp_seq.fail")
    # Several clients at once (lldpad still serialises them on ECP).
    local per=$(( ANCHOR_N / CLIENTS )) pids=()
    t0=$(date +%s%N)
    for i in $(seq 0 $(( CLIENTS - 1 ))); do
        vdp_run $(( 100000 + i * per )) "$per" "$DIR/vdp_par$i" &
        pids+=("$!")
    done
    wait "${pids[@]}"
    t1=$(date +%s%N)
    A_PAR_RATE=$(awk -v n=$(( per * CLIENTS )) -v d=$(( t1 - t0 )) 'BEGIN {print n * 1e9 / d}')
    for i in $(seq 0 $(( CLIENTS - 1 ))); do
        fails=$(( fails + $(cat "$DIR/vdp_par$i.fail") ))
    done
    A_PAR_FAIL=$fails
    cat "$DIR"/vdp_par[0-9] >"$DIR/vdp_par_all"
    A_PAR_P50=$(pctl "$DIR/vdp_par_all" 50)
    A_PAR_P99=$(pctl "$DIR/vdp_par_all" 99)
    cleanup
    return 0
}

# ---- main --------------------------------------------------------------------
command -v jq >/dev/null || die "jq is needed"
say "cp_bench: $(nproc) cores, kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
declare -A RATE P50 P99 MS RSS FAILED NVE_VNICS TREE
if [ "$DO_NVDP" = 1 ]; then
    build
    say "cp_bench: build $BUILD"
    for n in $COUNTS; do
        say "cp_bench: NVDP, $n attaches, window $WINDOW ..."
        run_nvdp "$n" "$WINDOW"
        say "  $R_LINE nve_vnics=$R_NVE_VNICS rss_per_vnic_B=$R_RSS_B tree_per_vnic_B=$R_TREE_B"
        say "  hv-agent: $R_HV"
        RATE[$n]=$R_RATE P50[$n]=$R_P50 P99[$n]=$R_P99 MS[$n]=$R_MS
        RSS[$n]=$R_RSS_B FAILED[$n]=$R_FAILED NVE_VNICS[$n]=$R_NVE_VNICS
        TREE[$n]=$R_TREE_B
    done
    # One at a time, like vdptool -W: the latency of a lone request.
    n1=$(set -- $COUNTS; echo "$1")
    say "cp_bench: NVDP, $n1 attaches one at a time (window 1) ..."
    run_nvdp "$n1" 1
    say "  $R_LINE"
    SEQ_RATE=$R_RATE SEQ_P50=$R_P50 SEQ_P99=$R_P99
fi
if [ "$DO_LLDPAD" = 1 ]; then
    say "cp_bench: lldpad VDP anchor, $ANCHOR_N associations ..."
    if run_lldpad; then
        HAVE_ANCHOR=1
        say "  sequential: $(printf '%.0f' "$A_SEQ_RATE")/s p50 ${A_P50} ms p99 ${A_P99} ms, failed $A_FAIL"
        say "  $CLIENTS clients: $(printf '%.0f' "$A_PAR_RATE")/s p50 ${A_PAR_P50} ms p99 ${A_PAR_P99} ms, failed $A_PAR_FAIL"
    fi
fi

# ---- figures -----------------------------------------------------------------
echo
echo "| measure | value |"
echo "|---|---|"
if [ "$DO_NVDP" = 1 ]; then
    for n in $COUNTS; do
        printf '| NVDP N=%s (window %s): all acknowledged in | %s ms (%s failed, NVE holds %s VNICs) |\n' \
            "$n" "$WINDOW" "${MS[$n]}" "${FAILED[$n]}" "${NVE_VNICS[$n]}"
        printf '| NVDP N=%s: attaches/s | %s |\n' "$n" "${RATE[$n]}"
        printf '| NVDP N=%s: latency p50 / p99 | %s / %s ms |\n' "$n" "${P50[$n]}" "${P99[$n]}"
        printf '| NVDP N=%s: nve-agent RSS delta per VNIC | %s bytes (tree accounting: %s) |\n' \
            "$n" "${RSS[$n]}" "${TREE[$n]}"
    done
    printf '| NVDP one at a time (window 1): attaches/s | %s |\n' "$SEQ_RATE"
    printf '| NVDP one at a time: latency p50 / p99 | %s / %s ms |\n' "$SEQ_P50" "$SEQ_P99"
fi
if [ "${HAVE_ANCHOR:-0}" = 1 ]; then
    printf '| lldpad VDP, vdptool -W one at a time: associations/s | %.0f |\n' "$A_SEQ_RATE"
    printf '| lldpad VDP one at a time: latency p50 / p99 | %s / %s ms |\n' "$A_P50" "$A_P99"
    printf '| lldpad VDP, %s concurrent clients: associations/s | %.0f |\n' "$CLIENTS" "$A_PAR_RATE"
    if [ "$DO_NVDP" = 1 ]; then
        best=$(awk -v a="$A_SEQ_RATE" -v b="$A_PAR_RATE" 'BEGIN {print (a > b ? a : b)}')
        for n in $COUNTS; do
            printf '| ratio NVDP N=%s / lldpad (its best, %s clients) | %.1fx |\n' "$n" \
                "$CLIENTS" "$(awk -v a="${RATE[$n]}" -v b="$best" 'BEGIN {print a / b}')"
        done
        printf '| ratio one at a time, NVDP / lldpad | %.1fx |\n' \
            "$(awk -v a="$SEQ_RATE" -v b="$A_SEQ_RATE" 'BEGIN {print a / b}')"
    fi
fi
