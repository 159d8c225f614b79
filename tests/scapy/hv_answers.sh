#!/bin/bash
# hv_answers.sh - make-check entry of hv_answers.py: Scapy plays the NVE
# towards the built hv-agent and answers late, twice, out of order, with a
# foreign peer_epoch and across a resync; hv-agent must apply each answer
# to the request it answers only (protocol-spec/nvdp.md 10.6).
#
#   <pfx>hv1 (hv-agent, up0) ============ <pfx>nve (nve0, Scapy)
#
# Usage: hv_answers.sh [TEST-NAME-SUBSTRING...]
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init hv_answers
PY=/usr/bin/python3
[ -x $PY ] || nt_skip "$PY not found"
$PY -c 'import scapy.all' 2>/dev/null || nt_skip "python3-scapy not installed"
export PYTHONDONTWRITEBYTECODE=1

nt_ns nve
nt_ns hv1
nt_veth hv1 up0 nve nve0 "$NT_MAC_HV1" ""
# blue and red as hv_answers.py names them; long hold: Scapy answers slowly
export HV_VNS="blue:100 red:200" NT_HOLD_S=30 NT_HELLO_MS=300
export HV_EXTRA='dataplane = "none"'
nt_start_hv hv1 hv1 up0

nt_in nve $PY "$NT_LIB/../scapy/hv_answers.py" nve0 "$NVDPCTL" \
    "$NT_DIR/hv1.sock" "$@" || nt_fail "see the lines above"
# the daemon survives all of it, without a sanitizer report
kill -0 "$(nt_pid hv1)" 2>/dev/null || nt_fail "hv-agent exited during the tests"
nt_stop hv1 TERM
if grep -q -E "runtime error|AddressSanitizer|LeakSanitizer" "$NT_DIR/hv1.log"; then
    grep -E -A12 "runtime error|AddressSanitizer|LeakSanitizer" "$NT_DIR/hv1.log" | head -40
    nt_fail "sanitizer report in the hv-agent log"
fi
nt_pass
