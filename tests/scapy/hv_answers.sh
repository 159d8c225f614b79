#!/bin/sh
# hv_answers.sh - make-check entry of hv_answers.py: Scapy plays the NVE
# towards the built hv-agent and answers late, twice, out of order, with a
# foreign peer_epoch and across a resync; hv-agent must apply each answer
# to the request it answers only (protocol-spec/nvdp.md 10.6).
#
#   scapy-hv-<pid>-hv (hv-agent, up0) ======== scapy-hv-<pid>-nve (nve0, Scapy)
#
# Exit 77 = skipped.  Usage: hv_answers.sh [TEST-NAME-SUBSTRING...]

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
HV_AGENT=$builddir/hv-agent/hv-agent
NVDPCTL=$builddir/tools/nvdpctl
PY=/usr/bin/python3
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
for b in "$HV_AGENT" "$NVDPCTL"; do
    [ -x "$b" ] || { echo "FAIL: $b not built"; exit 99; }
done

P=scapy-hv-$$
NS_HV=$P-hv
NS_NVE=$P-nve
hv_pid=
py_pid=
tmp=$(mktemp -d /tmp/scapy-hv-answers.XXXXXX) || exit 99

cleanup() {
    rc=$?
    for pid in $py_pid $hv_pid; do
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$pid" 2>/dev/null
    done
    ip netns del "$NS_HV" 2>/dev/null
    ip netns del "$NS_NVE" 2>/dev/null
    if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -s "$tmp/hv-agent.log" ]; then
        echo "---- last lines of the hv-agent log ($tmp kept) ----"
        tail -n 60 "$tmp/hv-agent.log"
    else
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$NS_HV" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$NS_NVE" || exit 99
set -e
ip -n "$NS_HV" link set lo up
ip -n "$NS_NVE" link set lo up
ip -n "$NS_HV" link add name up0 type veth peer name nve0 netns "$NS_NVE"
ip -n "$NS_HV" link set dev up0 address 02:48:56:00:00:31
ip -n "$NS_HV" link set dev up0 up
ip -n "$NS_NVE" link set dev nve0 up
set +e

sock=$tmp/hv-agent.sock
cat >"$tmp/hv-agent.conf" <<EOF
name = "scapy-hv"
uplink = "up0"
hello-interval = 300
hold-time = 30
dataplane = "none"
state-file = "$tmp/hv-agent.state"
control-socket = "$sock"
vn blue { vni = 100 }
vn red { vni = 200 }
EOF

# Scapy listens first: hv-agent's very first frame carries its RESYNC BEGIN.
ip netns exec "$NS_NVE" $PY "$srcdir/tests/scapy/hv_answers.py" nve0 \
    "$NVDPCTL" "$sock" "$@" &
py_pid=$!
sleep 1
ip netns exec "$NS_HV" "$HV_AGENT" -d -v -f "$tmp/hv-agent.conf" -s "$sock" \
    >"$tmp/hv-agent.log" 2>&1 &
hv_pid=$!

wait "$py_pid"
rc=$?
py_pid=
if ! kill -0 "$hv_pid" 2>/dev/null; then
    echo "FAIL: hv-agent exited during the tests"
    rc=1
else
    kill "$hv_pid" 2>/dev/null
    i=0
    while kill -0 "$hv_pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -0 "$hv_pid" 2>/dev/null && { echo "FAIL: hv-agent did not exit on SIGTERM"; rc=1; }
    hv_pid=
fi
if grep -q -E "runtime error|AddressSanitizer|LeakSanitizer" "$tmp/hv-agent.log"; then
    echo "FAIL: sanitizer report in the hv-agent log:"
    grep -E -A12 "runtime error|AddressSanitizer|LeakSanitizer" \
        "$tmp/hv-agent.log" | head -40
    rc=1
fi
exit $rc
