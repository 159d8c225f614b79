#!/bin/bash
# attach_latency.sh - what a VM start waits for in the daemons (issue 14):
# `nvdpctl vnic attach ... --wait` run as a whole process, as a hook does,
# minus a no-op `nvdpctl status` measured alternately in the same run (the
# anchor: process start, connect, one round trip); the same through
# nvdp-hook as libvirt runs it (qemu "start begin", one new NIC) minus the
# same hook call again at once (the NIC already attached: the same work in
# the hook, an answer from hv-agent's memory); and, without any process
# start, lone attaches on one open control connection (bench/cp_bench_drv,
# window 1), back to back and 7 ms apart, minus status requests paced
# alike; the disk's own write + fdatasync(2) (a loop, the floor of an
# attach), and hv-agent's fdatasyncs in a second, traced pass (strace).
# hv-agent and nve-agent idle in two namespaces on one veth, hv-agent's
# state journal on /tmp's file system. Prints p50/p99; not a pass/fail
# test. Needs root.
#
# usage: bench/attach_latency.sh [-b BUILD_DIR] [-k ROUNDS]
#   -b  build to use (default: an optimised, sanitizer-free build made in
#       /tmp/splitnve-cp-bench-build, as bench/cp_bench.sh)
#   -k  attaches (and as many of each anchor), default 300
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=/tmp/splitnve-cp-bench-build
K=300
while [ $# -gt 0 ]; do
    case $1 in
    -b) BUILD=$2; shift 2 ;;
    -k) K=$2; shift 2 ;;
    *) sed -n '2,19p' "$0" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "attach_latency: needs root" >&2; exit 2; }
if [ ! -f "$BUILD/Makefile" ]; then
    mkdir -p "$BUILD"
    (cd "$BUILD" && "$SRC/configure" -q CC=clang CFLAGS="-O2 -g") || exit 1
fi
make -C "$BUILD" -s -j2 nve-agent/nve-agent hv-agent/hv-agent tools/nvdpctl \
    tools/nvdp-hook bench/cp_bench_drv >/dev/null || exit 1
grep -q '^SAN_CFLAGS = -f' "$BUILD/Makefile" &&
    echo "attach_latency: warning: $BUILD has sanitizers on" >&2

export top_builddir=$BUILD NT_HELLO_MS=1000 NT_HOLD_S=3 NT_DAEMON_VERBOSE=
. "$SRC/tests/lib/netns.sh"
nt_init attach_latency
nt_topo_direct
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1
HOOK=$BUILD/tools/nvdp-hook
mkdir -p "$NT_DIR/markers"
cat >"$NT_DIR/hook.conf" <<EOC
socket = "$NT_DIR/hv1.sock"
timeout = 5000
marker-dir = "$NT_DIR/markers"
run-dir = "$NT_DIR/run"
EOC
export NVDP_HOOK_CONF=$NT_DIR/hook.conf NVDP_HOOK_LOG=$NT_DIR/hook.log
dom_xml() { # NAME UUID [MAC]: a qemu domain, one NIC in blue if MAC given
    cat <<EOX
<domain type='kvm'><name>$1</name><uuid>$2</uuid>
${3:+<metadata><nvdp:vnics xmlns:nvdp=\"urn:splitnve:nvdp:1\"><nvdp:vn mac=\"$3\" name=\"blue\"/></nvdp:vnics></metadata>}
<devices>${3:+<interface type='bridge'><mac address='$3'/><source bridge='br0'/></interface>}</devices></domain>
EOX
}
say() { printf '%s\n' "$*" >&2; }
# us_of CMD...: runs CMD, prints its wall time in microseconds (0 exit
# required: a failed attach is not a latency)
us_of() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>>"$NT_DIR/errors" || { say "failed: $*"; tail -3 "$NT_DIR/errors" >&2; exit 1; }
    t1=$EPOCHREALTIME
    echo $(( ${t1/./} - ${t0/./} ))
}
S=$NT_DIR/hv1.sock
echo "attach_latency: $(nproc) cores, kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
for i in $(seq 5); do "$NVDPCTL" -s "$S" status >/dev/null; done # warm caches
: >"$NT_DIR/st" ; : >"$NT_DIR/at"; : >"$NT_DIR/st2"; : >"$NT_DIR/hn"; : >"$NT_DIR/hs"
for i in $(seq "$K"); do
    # alternately: anchor, attach (a new VNIC each time), the anchor
    # again (control), hook start of a new domain, the same again (anchor)
    us_of "$NVDPCTL" -s "$S" status >>"$NT_DIR/st"
    us_of "$NVDPCTL" -s "$S" vnic attach "$(nt_uuid "$i")" --vn blue \
        --mac "$(nt_mac "$i")" --ip "10.9.$((i / 256)).$((i % 256))" --wait=5 >>"$NT_DIR/at"
    us_of "$NVDPCTL" -s "$S" status >>"$NT_DIR/st2"
    dom_xml "vm$i" "$(printf '22222222-0000-4000-8000-%012x' "$i")" "$(nt_mac "$i" 1)" >"$NT_DIR/dom.xml"
    us_of "$HOOK" -D qemu -- "vm$i" start begin - <"$NT_DIR/dom.xml" >>"$NT_DIR/hs"
    us_of "$HOOK" -D qemu -- "vm$i" start begin - <"$NT_DIR/dom.xml" >>"$NT_DIR/hn"
done
# lone attaches on one connection, no tracer attached: back to back, and
# 7 ms apart (the daemons idle in between, as between two of a hook's
# calls: each attach then wakes idle daemons and a cold disk, as above,
# without the scatter of a process start)
DRV=$("$BUILD/bench/cp_bench_drv" -s "$S" -n "$K" -w 1 -W 5000 -v blue -o 100000) ||
    { say "cp_bench_drv failed: $DRV"; exit 1; }
DRVP=$("$BUILD/bench/cp_bench_drv" -s "$S" -n "$K" -w 1 -W 5000 -v blue -o 300000 -p 7000) ||
    { say "cp_bench_drv -p failed: $DRVP"; exit 1; }
# and its anchor: status requests paced alike (hv-agent answers from memory)
DRVS=$("$BUILD/bench/cp_bench_drv" -s "$S" -n "$K" -w 1 -S -p 7000) ||
    { say "cp_bench_drv -S failed: $DRVS"; exit 1; }
# the disk alone: a 240-byte append and its fdatasync on the journal's file
# system, as many as attaches, paced like them (the floor of an attach:
# acknowledged means durable)
/usr/bin/python3 - "$NT_DIR/fsync.probe" "$K" >"$NT_DIR/fsync_loop" <<'EOP'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    os.write(fd, b"x" * 240)
    os.fdatasync(fd)
    print(int((time.perf_counter() - t0) * 1e6))
    time.sleep(0.001)
EOP
rm -f "$NT_DIR/fsync.probe"
# a second pass of lone attaches with hv-agent's own fdatasyncs timed
# (strace stops hv-agent at every system call when attached with -p, so
# this pass is slower: its latency is not reported)
: >"$NT_DIR/fsync.strace"
if command -v strace >/dev/null; then
    strace -f -qq -T -e trace=fdatasync -o "$NT_DIR/fsync.strace" -p "$(nt_pid hv1)" &
    ST=$!
    sleep 0.5
    "$BUILD/bench/cp_bench_drv" -s "$S" -n "$K" -w 1 -W 5000 -v blue -o 200000 >/dev/null ||
        { say "cp_bench_drv (traced) failed"; exit 1; }
    kill "$ST"; wait "$ST" 2>/dev/null
else
    say "attach_latency: strace not installed: hv-agent's fdatasyncs not timed"
fi
sed -n 's/.*<\([0-9.]*\)>$/\1/p' "$NT_DIR/fsync.strace" | awk '{print $1 * 1e6}' >"$NT_DIR/fsync"
n_att=$(nt_json hv1 vnic list | jq '[.[] | select(.state == "attached")] | length')
NA=$((4 * K)); command -v strace >/dev/null && NA=$((5 * K))
[ "$n_att" = "$NA" ] || { say "attach_latency: $n_att VNICs attached, expected $NA"; exit 1; }
pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {printf "%.2f", v[int(p/100*(NR-1)+0.5)+1] / 1000}'; }
# the differences pair each run with the anchor run just before it
diffs() { paste "$1" "$2" | awk '{print $1 - $2}' >"$3"; }
diffs "$NT_DIR/at" "$NT_DIR/st" "$NT_DIR/d_at"
diffs "$NT_DIR/st2" "$NT_DIR/st" "$NT_DIR/d_st"
diffs "$NT_DIR/hs" "$NT_DIR/hn" "$NT_DIR/d_hs"
# the difference of the quantiles (attach's p50 minus status's p50, and so
# for p99): the shift between the two distributions, which the pairwise
# difference overstates by the scatter of two process starts
qdiff() { awk -v a="$(pct "$1" "$3")" -v b="$(pct "$2" "$3")" 'BEGIN {printf "%.2f", a - b}'; }
echo
echo "| measure ($K each, alternating) | p50 | p99 |"
echo "|---|---|---|"
row() { printf '| %s | %s ms | %s ms |\n' "$1" "$(pct "$2" 50)" "$(pct "$2" 99)"; }
row "nvdpctl status (anchor)" "$NT_DIR/st"
row "nvdpctl vnic attach --wait" "$NT_DIR/at"
row "**attach minus status, pairwise (daemon side)**" "$NT_DIR/d_at"
row "control: status minus status, pairwise (no daemon difference: the method's floor)" "$NT_DIR/d_st"
printf '| attach minus status, difference of the quantiles | %s ms | %s ms |\n' \
    "$(qdiff "$NT_DIR/at" "$NT_DIR/st" 50)" "$(qdiff "$NT_DIR/at" "$NT_DIR/st" 99)"
row "nvdp-hook qemu start, the NIC already attached (anchor)" "$NT_DIR/hn"
row "nvdp-hook qemu start, one new NIC" "$NT_DIR/hs"
row "**hook start minus the same again, pairwise (daemon side)**" "$NT_DIR/d_hs"
printf '| hook start minus the same again, difference of the quantiles | %s ms | %s ms |\n' \
    "$(qdiff "$NT_DIR/hs" "$NT_DIR/hn" 50)" "$(qdiff "$NT_DIR/hs" "$NT_DIR/hn" 99)"
drv_row() {
    printf '| %s | %s ms | %s ms |\n' "$1" \
        "$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$2")" "$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$2")"
}
drv_row "lone attach on an open connection (cp_bench_drv -w 1), back to back" "$DRV"
drv_row "lone attach on an open connection, 7 ms apart (idle daemons, no process start)" "$DRVP"
drv_row "lone status on an open connection, 7 ms apart (its anchor)" "$DRVS"
drv_q() { sed -n "s/.*$1_ms=\([0-9.]*\).*/\1/p" <<<"$2"; }
printf '| **lone attach minus lone status, 7 ms apart, difference of the quantiles (daemon side, no process start)** | %s ms | %s ms |\n' \
    "$(awk -v a="$(drv_q p50 "$DRVP")" -v b="$(drv_q p50 "$DRVS")" 'BEGIN {printf "%.2f", a - b}')" \
    "$(awk -v a="$(drv_q p99 "$DRVP")" -v b="$(drv_q p99 "$DRVS")" 'BEGIN {printf "%.2f", a - b}')"
row "write + fdatasync of 240 B on the journal's file system (python loop, the disk alone)" "$NT_DIR/fsync_loop"
[ -s "$NT_DIR/fsync" ] &&
    row "hv-agent's own fdatasync (traced pass, $(wc -l <"$NT_DIR/fsync") calls, strace -T)" "$NT_DIR/fsync"
printf '| hv-agent commits / attaches | %s / %s |\n' "$(nt_jq hv1 .state.commits status)" "$NA"
