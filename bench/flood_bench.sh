#!/bin/bash
# flood_bench.sh - a hostile station on nve-agent's bridged access port
# (issue 12 section 2): ASSOCs with random VNIC UUIDs from 200 source MACs
# and HELLOs from 10,000 random source MACs, for -t seconds, at full speed
# (tests/lib/nvdp_flood.py, two processes). Prints nve-agent's RSS before
# and after, its VNICs and peers, the log bytes it wrote during the flood,
# its limit counters, and the latency of a legitimate hypervisor's attaches
# on the same port, one at a time, each answered by the NVE
# (bench/cp_bench_drv -w 1 on hv-agent's socket): idle (the anchor, same
# run, same daemons) and during the flood; and the time a hypervisor that
# starts during the flood takes to its first attach (nvdpctl). Default limits of
# nve-agent.conf(5); daemons at info level, as in production. Prints
# figures; not a pass/fail test. Needs root.
#
# usage: bench/flood_bench.sh [-b BUILD_DIR] [-t SECONDS] [-n ATTACHES]
#                             [-a ASSOC_MACS] [-m HELLO_MACS] [-d] [-l] [-A]
#                             [-L LATE_MACS]
#   -b  build to use (default: an optimised, sanitizer-free build made in
#       /tmp/splitnve-cp-bench-build, shared with cp_bench.sh)
#   -t  flood duration (default 60)
#   -n  attaches timed idle and during the flood (default 200 each)
#   -a  source MACs of the ASSOC flood (default 200)
#   -m  source MACs of the HELLO flood (default 10000)
#   -d  each timed attach is detached at once (untimed): the legitimate
#       hypervisor holds one VNIC at most, within its fair share of a port
#       the flood crowds (nve-agent.conf(5) max-vnics-per-port); without
#       -d it holds 2 x ATTACHES, beyond that share with the default limits.
#       The attaches during the flood stop with it (fewer than ATTACHES
#       when an attach and its detach take long)
#   -l  the access port lists its hypervisors (hv1 and hv4): the station's
#       MACs are not authorised there and a listed hypervisor is known to
#       the kernel's policing before it speaks (nve-agent(8) KERNEL POLICING)
#   -L  once the new hypervisor has attached, a second ASSOC flood from
#       LATE_MACS new source MACs, to the end: MACs that come late to a
#       crowded port are below their fair share and may take its last
#       eighth (run 3 of RESULTS-cp.md's idle-host flood, made
#       deterministic); what the port keeps for hypervisors in session is
#       its reservations (nve-agent.conf(5) max-vnics-per-port)
#   -A  the access port requires authentication (auth = required) and hv1
#       and hv4 have keys of their own (a hypervisor section each, as
#       tests/e2e/auth_rollover.sh): the station's frames are unsigned
#       (dropped in the kernel before any bucket: rx_policed_unauth), the
#       hypervisor started during the flood is a keyed one
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=
DUR=60
N=200
AMACS=200
HMACS=10000
DETACH=
LISTED=
LATE=
AUTH=
while [ $# -gt 0 ]; do
    case $1 in
    -b) BUILD=$2; shift 2 ;;
    -t) DUR=$2; shift 2 ;;
    -n) N=$2; shift 2 ;;
    -a) AMACS=$2; shift 2 ;;
    -m) HMACS=$2; shift 2 ;;
    -d) DETACH=1; shift ;;
    -l) LISTED=1; shift ;;
    -L) LATE=$2; shift 2 ;;
    -A) AUTH=1; shift ;;
    *) sed -n '2,43p' "$0" >&2; exit 2 ;;
    esac
done
if [ -z "$BUILD" ]; then
    BUILD=/tmp/splitnve-cp-bench-build
    if [ ! -f "$BUILD/Makefile" ]; then
        mkdir -p "$BUILD"
        (cd "$BUILD" && "$SRC/configure" -q CC=clang CFLAGS="-O2 -g") || exit 1
    fi
fi
make -C "$BUILD" -s -j2 nve-agent/nve-agent hv-agent/hv-agent tools/nvdpctl \
    bench/cp_bench_drv >/dev/null || exit 1
grep -q '^SAN_CFLAGS = .*fsanitize' "$BUILD/Makefile" 2>/dev/null &&
    echo "flood_bench: warning: $BUILD has sanitizers: figures are distorted" >&2

export BUILD_DIR=$BUILD top_builddir=$BUILD NT_DAEMON_VERBOSE= NT_QUIET=1
. "$SRC/tests/lib/netns.sh"
nt_init flood_bench
PY=/usr/bin/python3

# The demo's bridged port (hv1, the station in hv2) plus hv4 on the same
# bridge: the hypervisor that starts during the flood.
nt_topo_bridged
nt_ns hv4
nt_veth sw swhv4 hv4 up0 "" 02:48:56:00:00:04
ip -n "$(nt_nsname sw)" link set swhv4 master br0
export NVE_PORTS="port1 ap1${LISTED:+ hvs=02:48:56:00:00:01,02:48:56:00:00:04}${AUTH:+ auth=required}
port2 ap2"
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
# -A: a key for each of hv1 and hv4, the NVE's copy and the hypervisor's
hv_extra() { :; }
if [ -n "$AUTH" ]; then
    NVE_EXTRA=
    for h in hv1:02:48:56:00:00:01 hv4:02:48:56:00:00:04; do
        (umask 077 && printf '1 %s\n' \
            "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
            >"$NT_DIR/${h%%:*}.key")
        NVE_EXTRA+="hypervisor \"${h%%:*}\" {
    mac = \"${h#*:}\"
    key-file = \"$NT_DIR/${h%%:*}.key\"
}
"
    done
    export NVE_EXTRA
    hv_extra() { echo "key-file = \"$NT_DIR/$1.key\""; }
fi
NT_HELLO_MS=1000 NT_HOLD_S=10 nt_start_nve nve nve
HV_EXTRA=$(hv_extra hv1) NT_HELLO_MS=1000 NT_HOLD_S=10 nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1
nve_pid=$(nt_pid nve)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$nve_pid/status"; }
logb() { stat -c %s "$NT_DIR/nve.log"; }
# attaches HV FILE FIRST: N attaches one at a time, each with the NVE's
# answer; the driver's key=value figures in FILE.
# With -d, a 4th argument: a pid, the attaches stop when it has ended.
attaches() {
    local i out lat=() failed=0
    if [ -z "$DETACH" ]; then
        "$BUILD/bench/cp_bench_drv" -s "$NT_DIR/$1.sock" -n "$N" -w 1 -o "$3" \
            -v blue -W 10000 -t 30000 >"$2" 2>&1
        return
    fi
    for ((i = 0; i < N; i++)); do
        [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && break
        out=$("$BUILD/bench/cp_bench_drv" -s "$NT_DIR/$1.sock" -n 1 -w 1 \
            -o $(($3 + i)) -v blue -W 10000 -t 30000 2>/dev/null)
        lat+=("$(fig_s "$out" max_ms)")
        failed=$((failed + $(fig_s "$out" failed)))
        "$BUILD/bench/cp_bench_drv" -s "$NT_DIR/$1.sock" -n 1 -w 1 \
            -o $(($3 + i)) -D -W 10000 -t 30000 >/dev/null 2>&1
    done
    # the driver's percentiles: index round(p / 100 x (n - 1))
    printf '%s\n' "${lat[@]}" | sort -g | awk -v f="$failed" '
        { v[NR - 1] = $1 }
        END { n = NR; printf "n=%d p50_ms=%s p99_ms=%s max_ms=%s failed=%s\n",
              n, v[int(0.5 * (n - 1) + 0.5)], v[int(0.99 * (n - 1) + 0.5)],
              v[n - 1], f }' >"$2"
}
fig_s() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
fig() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$1"; }

attaches hv1 "$NT_DIR/idle" 1000
rss0=$(rss); log0=$(logb)
vn0=$(nt_jq nve .vnics status)

ip netns exec "$(nt_nsname hv2)" $PY "$SRC/tests/lib/nvdp_flood.py" up0 --dst "$NT_MAC_AP1" \
    --assoc-macs "$AMACS" \
    --vni 100 --seconds "$DUR" >"$NT_DIR/flood-assoc.json" 2>&1 &
fa=$!
ip netns exec "$(nt_nsname hv2)" $PY "$SRC/tests/lib/nvdp_flood.py" up0 --dst "$NT_MAC_AP1" \
    --hello-macs "$HMACS" \
    --seconds "$DUR" >"$NT_DIR/flood-hello.json" 2>&1 &
fh=$!
NT_PIDS+=("$fa" "$fh")
t_flood=$(date +%s)
sleep $(( DUR / 6 + 1 ))
# a hypervisor that starts during the flood: time to its first attach
t0=$(date +%s%N)
HV_EXTRA=$(hv_extra hv4) NT_HELLO_MS=1000 NT_HOLD_S=10 nt_start_hv hv4 hv4 up0
new_ok=fail
if nt_ctl hv4 vnic attach "$(nt_uuid 9000)" --vn blue --mac "$(nt_mac 9000)" \
        --wait=20 >/dev/null 2>&1; then
    new_ok=ok
fi
new_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
fl=
if [ -n "$LATE" ]; then
    ip netns exec "$(nt_nsname hv2)" $PY "$SRC/tests/lib/nvdp_flood.py" up0 \
        --dst "$NT_MAC_AP1" --assoc-macs "$LATE" --vni 100 \
        --seconds $(( DUR - ($(date +%s) - t_flood) )) \
        >"$NT_DIR/flood-late.json" 2>&1 &
    fl=$!
    NT_PIDS+=("$fl")
    sleep 2 # the late MACs take what they may before hv1's attaches
fi
attaches hv1 "$NT_DIR/flood" 2000 "$fa"
left=$(( DUR - ($(date +%s) - t_flood) ))
peak_rss=$(rss)
vn_flood=$(nt_jq nve .vnics status)
peers_flood=$(nt_jq nve length peers)
demoted_flood=$(nt_jq nve '[.[] | select(.standing == "demoted")] | length' peers)
hv1_standing=$(nt_jq nve ".[] | select(.mac == \"$NT_MAC_HV1\") | .standing" peers)
reserved=$(nt_jq nve '.[0].vnics_reserved // "n/a"' ports)
wait "$fa" "$fh" $fl 2>/dev/null
rss1=$(rss); log1=$(logb)
c=$(nt_json nve counters)
g() { jq -r ".nvdp.global.$1" <<<"$c"; }

[ -n "$DETACH" ] && echo "flood_bench: -d: each legitimate attach detached at once (hv1 holds one VNIC at most)"
[ -n "$LISTED" ] && echo "flood_bench: -l: the access port lists hv1 and hv4; the station's MACs are not authorised"
[ -n "$AUTH" ] && echo "flood_bench: -A: the access port requires authentication, hv1 and hv4 have keys; the station's frames are unsigned"
echo "flood_bench: $DUR s of flood on a bridged access port, nve-agent $(cd "$BUILD" && ./nve-agent/nve-agent -V 2>/dev/null | head -1) ($BUILD)"
printf '  station: ASSOC flood %s, HELLO flood %s\n' \
    "$(cat "$NT_DIR/flood-assoc.json")" "$(cat "$NT_DIR/flood-hello.json")"
[ "$left" -lt 0 ] && echo "  note: the attaches outlasted the flood by $(( -left )) s"
printf '  nve-agent RSS: %s kB before, %s kB during, %s kB after (+%s kB)\n' \
    "$rss0" "$peak_rss" "$rss1" $((rss1 - rss0))
[ -n "$LATE" ] && printf '  late ASSOC flood from %s new MACs: %s\n' "$LATE" \
    "$(cat "$NT_DIR/flood-late.json")"
printf '  VNICs: %s before, %s during (the flood'"'"'s MACs at their cap), peers %s; port1 reserves %s more for its hypervisors in session\n' \
    "$vn0" "$vn_flood" "$peers_flood" "$reserved"
printf '  log written during the flood: %s bytes (%s lines)\n' $((log1 - log0)) \
    "$(tail -c +$((log0 + 1)) "$NT_DIR/nve.log" | wc -l)"
printf '  counters: rx_frames %s, limit_hv_vnics %s, limit_vnics %s, limit_share %s, limit_port_vnics %s, limit_port_share %s, peers_over_limit %s, peers_evicted %s, rx_rate_limited %s, hello_suppressed %s\n' \
    "$(g rx_frames)" "$(g limit_hv_vnics)" "$(g limit_vnics)" "$(g limit_share)" \
    "$(g limit_port_vnics)" "$(g limit_port_share)" "$(g peers_over_limit)" \
    "$(g peers_evicted)" "$(g rx_rate_limited)" "$(g hello_suppressed)"
printf '  dropped before nve-agent read them: unsigned on a port requiring authentication %s, policed per source %s (known peers) + %s (unknown sources) + %s (demoted peers), socket queue full %s\n' \
    "$(g rx_policed_unauth)" "$(g rx_policed)" "$(g rx_policed_new)" "$(g rx_policed_demoted)" \
    "$(nt_jq nve '[.[].rx_kernel_drops] | add' ports)"
printf '  authentication: auth_ok %s, auth_fail %s\n' "$(g auth_ok)" "$(g auth_fail)"
printf '  standing: peers_demoted %s, peers_restored %s; demoted at the end of the attaches: %s of %s peers (hv1 %s)\n' \
    "$(g peers_demoted)" "$(g peers_restored)" "$demoted_flood" \
    "$peers_flood" "$hv1_standing"
printf '  legitimate attach, one at a time (ms)   p50      p99      max   failed  of\n'
for k in idle flood; do
    printf '    %-36s %8s %8s %8s %6s %4s\n' \
        "$([ $k = idle ] && echo "idle (anchor)" || echo "during the flood")" \
        "$(fig "$NT_DIR/$k" p50_ms)" "$(fig "$NT_DIR/$k" p99_ms)" \
        "$(fig "$NT_DIR/$k" max_ms)" "$(fig "$NT_DIR/$k" failed)" \
        "$(fig "$NT_DIR/$k" n)"
done
printf '  a hypervisor started during the flood: first attach %s after %s ms (start included)\n' \
    "$new_ok" "$new_ms"
