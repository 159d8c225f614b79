#!/bin/sh
# conformance.sh - make-check entry of the Scapy NVDP conformance tests: builds
# the netns topology, starts the built nve-agent, runs tests/scapy/test_*.py.
#
# Topology (namespace names start with "scapy-<pid>-"):
#
#   scapy-N-hv                                   scapy-N-nve
#   h1 --- bh1 \
#               br0 --- bup ==================== p1   (bridged access port)
#   h2 --- bh2 /
#   d2 ========================================= p2   (direct port)
#   d3 ========================================= p3   (direct, 2 tags)
#   d4 ========================================= p4   (direct, auth = required)
#
# The tests run in scapy-N-hv and act as several hypervisors (forged source
# MACs) on h1/h2 (behind the bridge) and d2/d3.  Exit 77 = skipped.
# Usage: conformance.sh [TEST-NAME-SUBSTRING...]   (run a subset)

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
NVE_AGENT=$builddir/nve-agent/nve-agent
NVDPCTL=$builddir/tools/nvdpctl
PY=/usr/bin/python3
HERE=$srcdir/tests/scapy
# Never write __pycache__ into the source tree (distcheck: it is read-only).
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

skip() {
    echo "SKIP: $*"
    exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root (creates network namespaces)"
command -v ip >/dev/null 2>&1 || skip "iproute2 (ip) not installed"
[ -x $PY ] || skip "$PY not found"
$PY -c 'import scapy.all' 2>/dev/null || skip "python3-scapy not installed"
for b in "$NVE_AGENT" "$NVDPCTL"; do
    [ -x "$b" ] || { echo "FAIL: $b not built"; exit 99; }
done

P=scapy-$$
NS_NVE=$P-nve
NS_HV=$P-hv
nve_pid=
py_pid=
tmp=$(mktemp -d /tmp/scapy-conformance.XXXXXX) || exit 99

cleanup() {
    rc=$?
    if [ -n "$py_pid" ] && kill -0 "$py_pid" 2>/dev/null; then
        kill "$py_pid" 2>/dev/null
        wait "$py_pid" 2>/dev/null
    fi
    if [ -n "$nve_pid" ] && kill -0 "$nve_pid" 2>/dev/null; then
        kill "$nve_pid" 2>/dev/null
        # Give it the chance of a clean shutdown (ASan report, socket unlink).
        i=0
        while kill -0 "$nve_pid" 2>/dev/null && [ $i -lt 30 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$nve_pid" 2>/dev/null
    fi
    ip netns del "$NS_HV" 2>/dev/null
    ip netns del "$NS_NVE" 2>/dev/null
    if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -s "$tmp/nve-agent.log" ]; then
        echo "---- last lines of the nve-agent log ($tmp kept) ----"
        tail -n 60 "$tmp/nve-agent.log"
    else
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$NS_NVE" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$NS_HV" || exit 99

set -e
hv() { ip -n "$NS_HV" "$@"; }
hv link set lo up
ip -n "$NS_NVE" link set lo up
hv link add name br0 type bridge
hv link add name bup type veth peer name p1 netns "$NS_NVE"
for i in 1 2; do
    hv link add name h$i type veth peer name bh$i
    hv link set bh$i master br0
    hv link set bh$i up
done
hv link set bup master br0
hv link add name d2 type veth peer name p2 netns "$NS_NVE"
hv link add name d3 type veth peer name p3 netns "$NS_NVE"
hv link add name d4 type veth peer name p4 netns "$NS_NVE"
for i in br0 bup h1 h2 d2 d3 d4; do
    hv link set $i up
done
# Jumbo frames on the direct port: a batch of 50 requests exceeds 1500 bytes.
hv link set d2 mtu 9000
ip -n "$NS_NVE" link set p2 mtu 9000
# The emulated hypervisors use forged MACs: see every frame addressed to them.
for i in h1 h2 d2 d3 d4; do
    hv link set $i promisc on
done
for i in p1 p2 p3 p4; do
    ip -n "$NS_NVE" link set $i up
done
set +e

sock=$tmp/nve-agent.sock
$PY "$HERE/nvdptest.py" --conf "$tmp/nve-agent.conf" "$sock" || exit 99
ip netns exec "$NS_NVE" "$NVE_AGENT" -d -v -f "$tmp/nve-agent.conf" \
    -s "$sock" >"$tmp/nve-agent.log" 2>&1 &
nve_pid=$!

i=0
until "$NVDPCTL" -s "$sock" status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 50 ] || ! kill -0 "$nve_pid" 2>/dev/null; then
        echo "FAIL: nve-agent did not come up (control socket $sock)"
        exit 1
    fi
    sleep 0.1
done

# In the background so that a signal interrupts the wait and the trap
# tears everything down at once.
NVDPCTL=$NVDPCTL NVE_SOCKET=$sock NVE_CONF=$tmp/nve-agent.conf \
    ip netns exec "$NS_HV" $PY "$HERE/nvdptest.py" --run "$@" &
py_pid=$!
wait "$py_pid"
rc=$?
py_pid=

# The daemon must never exit on peer input.
if ! kill -0 "$nve_pid" 2>/dev/null; then
    echo "FAIL: nve-agent exited during the tests"
    rc=1
else
    # Stop it cleanly, then look for sanitizer reports (UBSan only prints
    # "runtime error" and goes on; LeakSanitizer reports at exit).
    kill "$nve_pid" 2>/dev/null
    i=0
    while kill -0 "$nve_pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$nve_pid" 2>/dev/null; then
        echo "FAIL: nve-agent did not exit within 5 s of SIGTERM"
        rc=1
    fi
    nve_pid=
fi
if grep -q -E "runtime error|AddressSanitizer|LeakSanitizer" \
        "$tmp/nve-agent.log"; then
    echo "FAIL: sanitizer report in the nve-agent log:"
    grep -E -A12 "runtime error|AddressSanitizer|LeakSanitizer" \
        "$tmp/nve-agent.log" | head -40
    rc=1
fi
exit $rc
