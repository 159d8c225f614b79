#!/bin/bash
# evpn_bench.sh - BGP EVPN figures, nve-agent next to its anchor measured in
# the same run on the same underlay and route reflector: FRR driving the
# kernel's own vxlan + bridge devices as the data plane (the standard FRR
# EVPN VTEP). Prints figures; it is not a pass/fail test. Needs root, FRR.
#
#   scale   N VNICs attached behind NVE1 (hv-agent, NVDP, MAC + IPv4 each)
#           until all N are in NVE2's forwarder; anchor: N static MACs and
#           NOARP neighbours written on kernel NVE1 until all N are on
#           kernel NVE2's vxlan device, fed at the pace our NVE1 got them
#           and in one batch; and the attach path without EVPN (hv-agent to
#           a flood-and-learn nve-agent). A timeline per world: each stage
#           (hv-agent's answers, NVE1's fdb, FRR's counters by vtysh,
#           NVE2's fdb, our forwarder) at 10/50/90/100 % of N
#           (CLOCK_MONOTONIC throughout).
#   move    one VM's MAC moves NVE1 -> NVE2 (the old location let go, the
#           new one declared): until the old NVE's forwarder points at the
#           new one; anchor: until the kernel fdb of the old NVE does.
#   loss    datagrams lost when a VM moves NVE1 -> NVE2 under a 1000/s UDP
#           stream from a VM behind NVE3: nve-agent with EVPN, nve-agent
#           with flood-and-learn only (static flood lists, no BGP), the
#           kernel anchor; and again with NVE3 converging last (its bgpd
#           stopped for a second across the move: a far or loaded NVE),
#           where the old NVE's tunnelling of in-flight frames shows.
#
# usage: bench/evpn_bench.sh [-b BUILD_DIR] [-n "1000 10000"] [-m MOVES]
#                             [-s "scale move loss"] [-r WINDOW,RTO_MS] [-v]
#   -b  build to use (default: an optimised, sanitizer-free build made in
#       /tmp/splitnve-evpn-bench-build)
#   -n  VNIC counts of the scale runs
#   -m  moves per case (default 5)
#   -s  the parts to run (default all three)
#   -r  NVDP window of both agents and hv-agent's first retransmission
#       (default theirs: 256 and 200 ms)
#   -v  per-run detail on stderr
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD= COUNTS="1000 10000" MOVES=5 PARTS="scale move loss" VERBOSE=0 RTX=
while [ $# -gt 0 ]; do
    case $1 in
    -b) BUILD=$2; shift 2 ;;
    -n) COUNTS=$2; shift 2 ;;
    -m) MOVES=$2; shift 2 ;;
    -s) PARTS=$2; shift 2 ;;
    -r) RTX=$2; shift 2 ;;
    -v) VERBOSE=1; shift ;;
    *) sed -n '2,30p' "$0" >&2; exit 2 ;;
    esac
done
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
detail() { [ "$VERBOSE" = 0 ] || printf '  %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "evpn_bench: needs root" >&2; exit 2; }
if [ -z "$BUILD" ]; then
    BUILD=/tmp/splitnve-evpn-bench-build
    if [ ! -f "$BUILD/Makefile" ]; then
        mkdir -p "$BUILD"
        (cd "$BUILD" && "$SRC/configure" -q CC=clang CFLAGS="-O2 -g") || exit 1
    fi
fi
make -C "$BUILD" -s -j2 nve-agent/nve-agent hv-agent/hv-agent tools/nvdpctl \
    bench/cp_bench_drv bench/nl_watch >/dev/null || exit 1
export top_builddir=$BUILD
. "$SRC/tests/lib/netns.sh"
NT_QUIET=1
NT_DAEMON_VERBOSE= # per-association debug lines cost the loaded host more than the work
nt_init evpn_bench
. "$SRC/tests/lib/evpn.sh"
nt_frr_check
WATCH="$BUILD/bench/nl_watch"
# 10,000 routes at once on 2 shared cores can starve bgpd past a 9 s hold
export FRR_TIMERS="10 30"
UDP="$NT_LIB/udp_seq.py"
GARP="$NT_LIB/garp.py"
now_ms() { python3 -c 'import time; print("%.3f" % (time.monotonic() * 1000))'; }
say() { printf '%s\n' "$*"; }
# since T0 W: W's figure (ms, monotonic) less T0, or what W said instead
since() { case $2 in *[!0-9.]* | "") printf '%s' "${2:--}" ;; *) printf '%.0f' "$(echo "$2 - $1" | bc)" ;; esac; }
# stats FILE: "min / median / max" of the numbers in FILE (one per line)
stats() {
    sort -n "$1" | awk '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
        printf "%g / %g / %g", v[1], v[int((NR+1)/2)], v[NR]}'
}

# ---- topology: one underlay, one route reflector, three worlds ------------------
# nve1-3 (192.0.2.1-3): nve-agent + FRR through shadow devices, VNI 10100
# k1-3 (192.0.2.11-13): FRR + kernel vxlan/bridge, VNI 20100 (the anchor)
# f1-3 (192.0.2.21-23): nve-agent, static flood lists, no BGP, VNI 30100
nt_evpn_underlay 3
join_ul() { # NS IP
    nt_ns "$1"
    nt_veth "$1" ul0 ul "$1"
    ip -n "$(nt_nsname ul)" link set "$1" master ul0
    ip -n "$(nt_nsname "$1")" addr add "$2/24" dev ul0
}
for i in 1 2 3; do join_ul "k$i" "192.0.2.1$i"; join_ul "f$i" "192.0.2.2$i"; done

# kernel anchor: the devices FRR's own recipe uses, carrying traffic
for i in 1 2 3; do
    k=$(nt_nsname "k$i")
    ip -n "$k" link add vx20100 type vxlan id 20100 local "192.0.2.1$i" dstport 4789 nolearning
    ip -n "$k" link add br20100 type bridge stp_state 0 mcast_snooping 0
    ip -n "$k" link add vm20100 type veth peer name vp20100 # the scale run's port
    for d in vx20100 br20100 vm20100 vp20100; do ip -n "$k" link set "$d" addrgenmode none; done
    ip -n "$k" link set vx20100 master br20100
    ip -n "$k" link set vm20100 master br20100
    ip netns exec "$k" bridge link set dev vx20100 learning off
    for d in br20100 vx20100 vm20100 vp20100; do ip -n "$k" link set "$d" up; done
    nt_frr_conf_nve "k$i" "192.0.2.1$i" "$NT_EVPN_RR"
    nt_frr_start "k$i" "k$i"
done

# nve-agents: EVPN on nve1-3, flood-and-learn on f1-3; a hypervisor each
export HV_VNS="blue:10100 green:30100" HV_EXTRA='dataplane = "bpf"'
export NVE_EVPN_OPTS='    withdraw-delay = 300
    frr-reconcile = 5'
NVE_LIMITS="limits {
    max-vnics-per-hypervisor = 0
$(nt_nve_unbounded_ports)
}"
if [ -n "$RTX" ]; then
    NVE_LIMITS="$NVE_LIMITS
window = ${RTX%,*}"
    HV_EXTRA="$HV_EXTRA
window = ${RTX%,*}
retransmit {
    initial = ${RTX#*,}
}"
fi
for i in 1 2 3; do
    nt_ns "hv$i"
    nt_veth "nve$i" ap1 "hv$i" up0
    NVE_VNS=" " NVE_PORTS="port1 ap1 tags=2-4000" NVE_EXTRA="vn \"blue\" { vni = 10100 }
$NVE_LIMITS
$(nt_evpn_nve_extra "$i")" nt_start_nve "nve$i" "nve$i"
    nt_evpn_frr "$i"
    nt_ns "fh$i"
    nt_veth "f$i" ap1 "fh$i" up0
    others=$(for j in 1 2 3; do [ "$j" = "$i" ] || printf '"192.0.2.2%s", ' "$j"; done)
    NVE_VNS=" " NVE_PORTS="port1 ap1 tags=2-4000" NVE_EXTRA="vn \"green\" {
    vni = 30100
    flood = {${others%, }}
}
$NVE_LIMITS
underlay {
    interface = \"ul0\"
    local-ip = \"192.0.2.2$i\"
}" nt_start_nve "f$i" "f$i"
done
for h in hv1 hv2 hv3 fh1 fh2 fh3; do nt_start_hv "$h" "$h" up0; done
for h in hv1 hv2 hv3 fh1 fh2 fh3; do nt_wait 10 "$h hears its NVE" nt_hv_sees_nve "$h"; done
nt_wait 40 "nve1's flood list from EVPN" nt_eq 192.0.2.2,192.0.2.3 nt_evpn_flood nve1 10100
nt_wait 20 "kernel k1's flood list from EVPN" sh -c \
    "[ \$(ip netns exec $(nt_nsname k1) bridge fdb show dev vx20100 | grep -c '^00:00:00:00:00:00') = 2 ]"
say "evpn_bench: $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), FRR $(dpkg-query -W -f='${Version}' frr), build $BUILD"

# ---- scale: the functions (run last) -------------------------------------------------
# Each world is timed from its first write, at every stage from the NVE1
# side to NVE2's data plane: the kernel's fdb by nl_watch, FRR's
# counters by frr_poll.py (both worlds polled alike, every POLL_MS), our
# forwarder by changed_ms. A stage's "10/50/90/100 %" are the times (ms
# since the first write) at which that share of the N VNICs had got there.
POLL_MS=1000
remote_macs() { nt_jq "$1" '.evpn.remote_macs // 0' counters; }
# poll_start OUT NAME=INSTANCE[:VNI]...: frr_poll.py on, once it read all
poll_start() {
    local out=$1 t=() a spec; shift
    for a in "$@"; do
        spec=${a#*=}
        t+=("${a%%=*}=$(nt_frr_dir "${spec%%:*}")${spec#"${spec%%:*}"}")
    done
    python3 "$SRC/bench/frr_poll.py" "$POLL_MS" 600 "${t[@]}" >"$out" &
    POLL=$!
    nt_wait 60 "the poller" sh -c "[ \$(grep -c ' polled ' $out) -ge $# ]"
}
# marks FILE T0 NAME KEY TARGET: "10% / 50% / 90% / 100%" (ms since T0)
# of when NAME's KEY had grown by that share of TARGET since its first
# reading; "-" for a share never reached
marks() {
    awk -v t0="$2" -v nm="$3" -v k="$4" -v n="$5" '
        $2 == nm && $3 == k && $4 >= 0 {
            if (!seen++) base = $4
            for (j = 1; j <= 4; j++)
                if (!(j in at) && $4 - base >= n * p[j] / 100) at[j] = $1 - t0
        }
        BEGIN { p[1] = 10; p[2] = 50; p[3] = 90; p[4] = 100 }
        END { for (j = 1; j <= 4; j++) printf "%s%s", (j in at) ? sprintf("%.0f", at[j]) : "-", j < 4 ? " / " : "" }' "$1"
}
# wmarks FILE T0: the same from nl_watch count's "at" lines and its end
wmarks() {
    awk -v t0="$2" '$1 == "at" { v[++k] = sprintf("%.0f", $3 - t0) }
        $1 ~ /^[0-9.]+$/ { v[4] = sprintf("%.0f", $1 - t0) }
        $1 == "overrun" || $1 == "timeout" { v[4] = $1 }
        END { for (j = 1; j <= 4; j++) printf "%s%s", (j in v) ? v[j] : "-", j < 4 ? " / " : "" }' "$1"
}
row() { printf '    %-44s %s\n' "$1" "$2"; }
# scale_ours N OFFSET: "N NVE1-written NVE2-kernel NVE2-forwarder" to
# $NT_DIR/scale, the timeline to $NT_DIR/tl.ours (not through $(...): hv1
# restarts here, and its pid must stay in this shell's list)
scale_ours() {
    local n=$1 off=$2 t0 tf w1 w2 base ans
    base=$(remote_macs nve2)
    poll_start "$NT_DIR/poll" nve1=nve1:10100 rr=rr nve2=nve2:10100
    nt_in nve1 "$WATCH" count snvp10100 "$n" 300 >"$NT_DIR/w1.out" &
    w1=$!
    nt_in nve2 "$WATCH" count snvx10100 "$n" 300 >"$NT_DIR/w2.out" &
    w2=$!
    nt_wait 60 "watchers" sh -c "grep -q ready $NT_DIR/w1.out && grep -q ready $NT_DIR/w2.out"
    t0=$(now_ms)
    "$BUILD/bench/cp_bench_drv" -s "$NT_DIR/hv1.sock" -n "$n" -v blue -w 1024 -W 60000 \
        -o "$off" >"$NT_DIR/drv.out" 2>&1 || { cat "$NT_DIR/drv.out"; nt_fail "cp_bench_drv"; }
    wait "$w1" "$w2"
    detail "scale $n: $(cat "$NT_DIR/drv.out")"
    nt_wait 120 "nve2's forwarder has all $n" sh -c "[ \$($NVDPCTL -s $NT_DIR/nve2.sock -f json counters | jq '.evpn.remote_macs') -ge $((base + n)) ]"
    sleep 1; kill "$POLL"; wait "$POLL" 2>/dev/null
    tf=$(nt_jq nve2 '[.vns[].remote[].changed_ms] | max' evpn)
    printf '%s %s %s %s\n' "$n" "$(since "$t0" "$(tail -1 "$NT_DIR/w1.out")")" \
        "$(since "$t0" "$(tail -1 "$NT_DIR/w2.out")")" "$(since "$t0" "$tf")" >"$NT_DIR/scale"
    ans=$(sed -n 's/.*answered_mono_ms=\([0-9.,]*\).*/\1/p' "$NT_DIR/drv.out" | tr , ' ')
    {
        # shellcheck disable=SC2086
        row "hv-agent: attaches answered (NVE1 acked)" "$(for v in $ans; do printf '%s ' "$(since "$t0" "$v")"; done | sed 's/ $//; s/ / \/ /g')"
        row "NVE1 shadow fdb: our writes" "$(wmarks "$NT_DIR/w1.out" "$t0")"
        row "NVE1 zebra: local MACs" "$(marks "$NT_DIR/poll" "$t0" nve1 zebra "$n")"
        row "NVE1 bgpd: prefixes sent to the RR" "$(marks "$NT_DIR/poll" "$t0" nve1 "$NT_EVPN_RR>" $((2 * n)))"
        row "RR: prefixes sent to NVE2" "$(marks "$NT_DIR/poll" "$t0" rr "192.0.2.2>" $((2 * n)))"
        row "NVE2 bgpd: prefixes received" "$(marks "$NT_DIR/poll" "$t0" nve2 "$NT_EVPN_RR<" $((2 * n)))"
        row "NVE2 zebra: MACs" "$(marks "$NT_DIR/poll" "$t0" nve2 zebra "$n")"
        row "NVE2 zebra: MAC+IPs" "$(marks "$NT_DIR/poll" "$t0" nve2 zebra-ip "$n")"
        row "NVE2 shadow fdb: zebra's installs" "$(wmarks "$NT_DIR/w2.out" "$t0")"
        row "NVE2 forwarder: programmed" "$("$NVDPCTL" -s "$NT_DIR/nve2.sock" -f json evpn | jq -r --argjson t0 "$t0" --argjson n "$n" \
            '[.vns[].remote[].changed_ms | select(. >= $t0) - $t0 | floor] | sort as $v
             | [($n / 10 | ceil), ($n / 2 | ceil), ($n * 9 / 10 | ceil), $n]
             | map(if . <= ($v | length) then $v[. - 1] | tostring else "-" end) | join(" / ")')"
    } >"$NT_DIR/tl.ours"
    detail "timeline of nve-agent at N=$n:"; [ "$VERBOSE" = 0 ] || cat "$NT_DIR/tl.ours" >&2
}
# scale_flood N OFFSET: ms until hv-agent fh1 has N attaches answered by
# nve-agent f1 without EVPN (flood-and-learn): the attach path alone, on
# the same host at the same time
scale_flood() {
    local t0 out
    t0=$(now_ms)
    out=$("$BUILD/bench/cp_bench_drv" -s "$NT_DIR/fh1.sock" -n "$1" -v green -w 1024 \
        -W 60000 -o "$2") || { echo "$out" >&2; nt_fail "cp_bench_drv fh1"; }
    detail "scale $1 without EVPN: $out"
    since "$t0" "$(sed -n 's/.*answered_mono_ms=[0-9.,]*,\([0-9.]*\)$/\1/p' <<<"$out")"
    echo
}
# scale_anchor N OFFSET SPREAD_MS TAG: "NVE2-kernel" (ms since the first
# write), the timeline to $NT_DIR/tl.TAG
scale_anchor() {
    local n=$1 t0 w1 w2
    poll_start "$NT_DIR/poll" k1=k1:20100 rr=rr k2=k2:20100
    nt_in k1 "$WATCH" count vm20100 "$n" 300 >"$NT_DIR/w1.out" &
    w1=$!
    nt_in k2 "$WATCH" count vx20100 "$n" 300 >"$NT_DIR/w2.out" &
    w2=$!
    nt_wait 60 "watchers" sh -c "grep -q ready $NT_DIR/w1.out && grep -q ready $NT_DIR/w2.out"
    t0=$(nt_in k1 python3 "$SRC/bench/anchor_feed.py" "$n" "$2" "$3" 200 vm20100 br20100)
    wait "$w1" "$w2"
    sleep 1; kill "$POLL"; wait "$POLL" 2>/dev/null
    since "$t0" "$(tail -1 "$NT_DIR/w2.out")"
    echo
    {
        row "k1 fdb: the batch's writes" "$(wmarks "$NT_DIR/w1.out" "$t0")"
        row "k1 zebra: local MACs" "$(marks "$NT_DIR/poll" "$t0" k1 zebra "$n")"
        row "k1 bgpd: prefixes sent to the RR" "$(marks "$NT_DIR/poll" "$t0" k1 "$NT_EVPN_RR>" $((2 * n)))"
        row "RR: prefixes sent to k2" "$(marks "$NT_DIR/poll" "$t0" rr "192.0.2.12>" $((2 * n)))"
        row "k2 bgpd: prefixes received" "$(marks "$NT_DIR/poll" "$t0" k2 "$NT_EVPN_RR<" $((2 * n)))"
        row "k2 zebra: MACs" "$(marks "$NT_DIR/poll" "$t0" k2 zebra "$n")"
        row "k2 zebra: MAC+IPs" "$(marks "$NT_DIR/poll" "$t0" k2 zebra-ip "$n")"
        row "k2 fdb: zebra's installs (the data plane)" "$(wmarks "$NT_DIR/w2.out" "$t0")"
    } >"$NT_DIR/tl.$4"
}

# ---- move: until the old NVE points at the new one ----------------------------------------
MM=52:54:00:ee:00:01 UM=$(nt_uuid 60001)
HVS=(x hv1 hv2) FHVS=(x fh1 fh2)
# when MOVED_AT's forwarder last changed for MM, once it is remote there
moved() {
    nt_jq "$MOVED_AT" '[.vns[].remote[] | select(.mac == "'$MM'" and .programmed)
                        | .changed_ms][0] // empty' evpn
}
has_moved() { [ -n "$(moved)" ]; }
move_ours() { # FROM TO: ms from the new location's declaration
    local from=$1 to=$2 t0 tk tf w
    nt_ctl "${HVS[$from]}" vnic detach "$UM" --migrating --wait=5 >/dev/null || nt_fail detach
    nt_in "nve$from" "$WATCH" mac snvx10100 "$MM" 10 >"$NT_DIR/w.out" &
    w=$!
    nt_wait 20 "watcher" grep -q ready "$NT_DIR/w.out"
    t0=$(now_ms)
    nt_ctl "${HVS[$to]}" vnic attach "$UM" --vn blue --mac "$MM" --wait=5 >/dev/null || nt_fail attach
    wait "$w"
    tk=$(tail -1 "$NT_DIR/w.out")
    MOVED_AT=nve$from
    nt_wait 10 "nve$from points $MM away" has_moved
    tf=$(moved)
    printf '%s %s\n' "$(since "$t0" "$tk")" "$(since "$t0" "$tf")"
}
move_anchor() { # FROM TO
    local from=$1 to=$2 t0 tk w
    ip netns exec "$(nt_nsname "k$from")" bridge fdb del "$MM" dev vm20100 master 2>/dev/null
    nt_in "k$from" "$WATCH" mac vx20100 "$MM" 10 >"$NT_DIR/w.out" &
    w=$!
    nt_wait 20 "watcher" grep -q ready "$NT_DIR/w.out"
    t0=$(now_ms)
    ip netns exec "$(nt_nsname "k$to")" bridge fdb replace "$MM" dev vm20100 master static
    wait "$w"
    since "$t0" "$(tail -1 "$NT_DIR/w.out")"
    echo
}
if part move; then
say ""
say "== move: one MAC NVE1 <-> NVE2 until the old NVE points at the new one (ms, min / median / max of $((MOVES * 2)))"
nt_ctl hv1 vnic attach "$UM" --vn blue --mac "$MM" --wait=5 >/dev/null || nt_fail attach
ip netns exec "$(nt_nsname k1)" bridge fdb replace "$MM" dev vm20100 master static
sleep 1
: >"$NT_DIR/mk"; : >"$NT_DIR/mf"; : >"$NT_DIR/ma"
for r in $(seq 1 "$MOVES"); do
    for d in "1 2" "2 1"; do
        read -r k f <<<"$(move_ours $d)"
        echo "$k" >>"$NT_DIR/mk"; echo "$f" >>"$NT_DIR/mf"
        move_anchor $d >>"$NT_DIR/ma"
        sleep 0.3
    done
done
say "nve-agent, kernel fdb of the shadow devices: $(stats "$NT_DIR/mk")"
say "nve-agent, its forwarder:                    $(stats "$NT_DIR/mf")"
say "anchor, kernel fdb:                          $(stats "$NT_DIR/ma")"
nt_ctl hv1 vnic detach "$UM" --wait=5 >/dev/null 2>&1
nt_ctl hv2 vnic detach "$UM" --wait=5 >/dev/null 2>&1
# gone everywhere before the scale part counts nve2's remote MACs
nt_wait 20 "$MM withdrawn from nve2" nt_eq 0 nt_jq nve2 \
    '[.vns[].remote[] | select(.mac == "'$MM'")] | length' evpn
fi

# ---- loss: a VM moves under a stream from a VM behind NVE3 -----------------------------
if part loss; then
MA=52:54:00:ea:00:01 MS=52:54:00:ea:00:03 UA=$(nt_uuid 61001) US=$(nt_uuid 61003)
# ours (blue, 10.20/24) and flood-and-learn (green, 10.30/24) behind hypervisors
nt_evpn_vm oA hv1 vnetA $MA 10.20.0.1; nt_evpn_vm oS hv3 vnetS $MS 10.20.0.3
nt_evpn_vm fA fh1 vnetA $MA 10.30.0.1; nt_evpn_vm fS fh3 vnetS $MS 10.30.0.3
for w in "hv1 $UA $MA 10.20.0.1 blue vnetA" "hv3 $US $MS 10.20.0.3 blue vnetS" \
         "fh1 $UA $MA 10.30.0.1 green vnetA" "fh3 $US $MS 10.30.0.3 green vnetS"; do
    read -r h u m ip vn ifn <<<"$w"
    nt_ctl "$h" vnic attach "$u" --vn "$vn" --mac "$m" --ip "$ip" --ifname "$ifn" \
        --wait=5 >/dev/null || nt_fail "attach $m on $h"
done
# the anchor's VMs plug into the kernel bridges (10.40/24)
nt_evpn_vm kA k1 kvA $MA 10.40.0.1; ip -n "$(nt_nsname k1)" link set kvA master br20100
nt_evpn_vm kS k3 kvS $MS 10.40.0.3; ip -n "$(nt_nsname k3)" link set kvS master br20100
pingw() { local i; for i in $(seq 20); do nt_in "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0; done; return 1; }
for p in "oS 10.20.0.1" "fS 10.30.0.1" "kS 10.40.0.1"; do
    # shellcheck disable=SC2086
    pingw $p || nt_fail "no path: $p"
done

# move_vm WORLD FROM TO: the VM pauses (its VNIC leaves the source), its
# interface goes to the destination, whose hypervisor associates it (the
# hook runs before the VM resumes); it resumes and announces itself, as
# QEMU does (5 GARPs 100 ms apart, in the background).
move_vm() {
    local w=$1 from=$2 to=$3
    case $w in
    ours | flood)
        local hs=("${HVS[@]}") vn=blue vm=oA ip=10.20.0.1
        [ "$w" = flood ] && hs=("${FHVS[@]}") vn=green vm=fA ip=10.30.0.1
        nt_ctl "${hs[$from]}" vnic detach "$UA" --migrating --wait=5 >/dev/null
        ip -n "$(nt_nsname "${hs[$from]}")" link set vnetA netns "$(nt_nsname "${hs[$to]}")"
        ip -n "$(nt_nsname "${hs[$to]}")" link set vnetA up
        nt_ctl "${hs[$to]}" vnic attach "$UA" --vn "$vn" --mac "$MA" --ip "$ip" \
            --ifname vnetA --wait=5 >/dev/null
        nt_in "$vm" python3 "$GARP" eth0 "$ip" 5 100 &
        GARP_PID=$! ;;
    anchor)
        ip -n "$(nt_nsname "k$from")" link set kvA netns "$(nt_nsname "k$to")"
        ip -n "$(nt_nsname "k$to")" link set kvA master br20100 up
        nt_in kA python3 "$GARP" eth0 10.40.0.1 5 100 &
        GARP_PID=$! ;;
    esac
}
# ent3 WORLD: how NVE3 forwards to MA
ent3() {
    case $1 in
    ours) nt_evpn_mac nve3 10100 "$MA" ;;
    flood) nt_jq f3 '[.vns[] | select(.vni == 30100) | .macs[] | select(.mac == "'$MA'")
                     | "\(.type) \(.remote)"][0] // ""' fwd ;;
    anchor) ip netns exec "$(nt_nsname k3)" bridge fdb show dev vx20100 | grep "$MA" | tr '\n' ';' ;;
    esac
}
# lost_after MS: datagrams of the last run sent at or after MS (monotonic)
# and lost: what the network lost once the VM ran at its new place.
lost_after() {
    jq --argjson t "$1" --argjson s "$(cat "$NT_DIR/start")" \
        '[.missing[] | range(.[0]; .[1] + 1) | select($s + . >= $t)] | length' \
        "$NT_DIR/loss.json"
}
# loss_run WORLD SLOW FROM TO: one move under 4 s at 1000/s; prints "lost
# lost-after-the-move reordered tunnelled"
loss_run() {
    local w=$1 slow=$2 from=$3 to=$4 vmA vmS ip bgpd t1 t2 rp sp m0 m1
    case $w in
    ours) vmA=oA vmS=oS ip=10.20.0.1 bgpd=$(cat "$(nt_frr_dir nve3)/bgpd.pid") ;;
    flood) vmA=fA vmS=fS ip=10.30.0.1 bgpd= ;;
    anchor) vmA=kA vmS=kS ip=10.40.0.1 bgpd=$(cat "$(nt_frr_dir k3)/bgpd.pid") ;;
    esac
    t1=$(nt_jq "nve$from" '.fwd.forwarder.mobility_tunnelled' counters)
    rm -f "$NT_DIR/loss.json.ready"
    nt_in "$vmA" python3 "$UDP" recv 7000 4000 5 "$NT_DIR/loss.json" &
    rp=$!
    nt_wait 10 "the receiver listens" test -e "$NT_DIR/loss.json.ready"
    nt_in "$vmS" python3 "$UDP" send "$ip" 7000 1000 4000 "$NT_DIR/start" &
    sp=$!
    sleep 1
    detail "$w: before the move NVE3 has $MA as: $(ent3 "$w")"
    [ "$slow" = 1 ] && [ -n "$bgpd" ] && kill -STOP "$bgpd"
    m0=$(now_ms)
    move_vm "$w" "$from" "$to"
    m1=$(now_ms)
    [ "$slow" = 1 ] && [ -n "$bgpd" ] && { sleep 1; kill -CONT "$bgpd"; }
    wait "$sp" "$rp" "$GARP_PID"
    t2=$(nt_jq "nve$from" '.fwd.forwarder.mobility_tunnelled' counters)
    [ "$w" = ours ] || t2=$t1
    detail "$w $from->$to: the move took $(echo "$m1 - $m0" | bc) ms; $(jq -c 'del(.missing)' "$NT_DIR/loss.json")"
    printf '%s %s %s %s\n' "$(jq .lost "$NT_DIR/loss.json")" "$(lost_after "$m1")" \
        "$(jq .reordered "$NT_DIR/loss.json")" "$((t2 - t1))"
}
say ""
say "== loss: datagrams lost when a VM moves NVE1 <-> NVE2 under 1000/s from NVE3 (min / median / max of $MOVES moves)"
say "   lost: all; after: of those sent once the VM ran at its new place (the move itself, detach"
say "   to attach, is the VM's pause: the same steps in every world, but not the same tools)"
printf '%-44s %-18s %-18s %-12s %s\n' case lost after reordered "tunnelled by the old NVE"
for c in "ours 0 nve-agent, EVPN" "flood 0 nve-agent, flood-and-learn only" \
         "anchor 0 kernel + FRR (anchor)" "ours 1 nve-agent, EVPN, NVE3 converging last" \
         "anchor 1 kernel + FRR, NVE3 converging last"; do
    read -r w slow label <<<"$c"
    : >"$NT_DIR/l"; : >"$NT_DIR/a"; : >"$NT_DIR/r"; : >"$NT_DIR/t"
    from=1 to=2
    for r in $(seq 1 "$MOVES"); do
        read -r l a re t <<<"$(loss_run "$w" "$slow" $from $to)"
        echo "$l" >>"$NT_DIR/l"; echo "$a" >>"$NT_DIR/a"
        echo "$re" >>"$NT_DIR/r"; echo "$t" >>"$NT_DIR/t"
        tmp=$from from=$to to=$tmp
        sleep 0.5
    done
    # back home for the next case
    [ "$from" = 1 ] || { move_vm "$w" 2 1; wait "$GARP_PID"; }
    printf '%-44s %-18s %-18s %-12s %s\n' "$label" "$(stats "$NT_DIR/l")" "$(stats "$NT_DIR/a")" \
        "$(stats "$NT_DIR/r")" "$([ "$w" = ours ] && stats "$NT_DIR/t" || echo -)"
    detail "lost per move, in order: $(tr '\n' ' ' <"$NT_DIR/l")"
done
fi

# ---- scale (last: its thousands of routes stay) -------------------------------------------
# Alternating in one run: ours, the anchor fed at our pace (spread over the
# time NVE1's shadow fdb took to get all N: the same input pattern), the
# anchor fed in one batch, and the attach path without EVPN (hv-agent fh1
# to nve-agent f1: what the hypervisor side can feed on this host now).
# Routes stay: each round uses new addresses.
if part scale; then
say ""
say "== scale: N MACs (+ IPv4) behind NVE1 until all are on NVE2 (ms from the first write;"
say "   FRR polled every $POLL_MS ms in every world alike; a vtysh answer is stamped when it"
say "   comes, which on a loaded host is seconds after the daemon had got there)"
printf '%-7s %-19s %-19s %-19s %-19s %-19s %s\n' N "ours: NVE1 written" "ours: NVE2 kernel" \
    "ours: NVE2 fwd" "anchor, our pace" "anchor, one batch" "attach path alone"
off=100000
for n in $COUNTS; do
    scale_ours "$n" "$off"
    read -r _ ow ok of <"$NT_DIR/scale"
    case $ow in *[!0-9]* | "") pace=$of ;; *) pace=$ow ;; esac
    as=$(scale_anchor "$n" "$off" "$pace" spread)
    off=$((off + n))
    ab=$(scale_anchor "$n" "$((off + 1000000))" 0 batch)
    af=$(scale_flood "$n" "$off")
    printf '%-7s %-19s %-19s %-19s %-19s %-19s %s\n' "$n" "$ow" "$ok" "$of" "$as" "$ab" "$af"
    {
        echo "  timeline at N=$n (ms since the first write: 10% / 50% / 90% / 100% of N there)"
        echo "  nve-agent:"; cat "$NT_DIR/tl.ours"
        echo "  anchor fed at our pace (spread over $pace ms):"; cat "$NT_DIR/tl.spread"
        echo "  anchor fed in one batch:"; cat "$NT_DIR/tl.batch"
    } >>"$NT_DIR/timelines"
    off=$((off + n))
done
say ""
cat "$NT_DIR/timelines"
fi
nt_pass
