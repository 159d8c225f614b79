#!/bin/bash
# commit_order.sh - the order of hv-agent's turn (hv-agent(8),
# "Persistence"): an attach's NVDP request leaves between the state
# journal's write of the attach and that write's fdatasync (the request
# travels while the disk syncs), and the caller's answer goes out only
# after the fdatasync (acknowledged means durable). hv-agent is traced
# with strace while five attaches are made one after the other; each of
# them must show write, request, fdatasync, answer, in that order.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init commit_order
command -v strace >/dev/null || nt_skip "strace is not installed"

nt_topo_direct
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

TRACE=$NT_DIR/hv1.strace
strace -f -qq -s 4096 -e trace=write,sendmsg,sendto,fdatasync \
    -o "$TRACE" -p "$(nt_pid hv1)" &
ST=$!
sleep 0.5 # strace attached
UUIDS=
for i in 1 2 3 4 5; do
    u=$(nt_uuid "$((7000 + i))")
    UUIDS="$UUIDS $u"
    nt_ctl hv1 vnic attach "$u" --vn blue --mac "$(nt_mac "$((7000 + i))")" \
        --wait=5 >/dev/null || { kill "$ST"; nt_fail "attach $i"; }
done
sleep 0.3
kill "$ST"
wait "$ST" 2>/dev/null

# strace -f writes "PID syscall(args) = ret" lines; a call another thread
# interrupts is split into "<unfinished ...>" and "<... resumed>": its
# start is where it is in the order.
/usr/bin/python3 - "$TRACE" $UUIDS <<'EOP' || nt_fail "hv-agent's turn is out of order (trace: $TRACE)"
import re, sys

lines = open(sys.argv[1], errors="replace").read().splitlines()
calls = []  # (syscall, fd, text)
for l in lines:
    m = re.match(r"\d+\s+(write|sendmsg|sendto|fdatasync)\((\d+)", l)
    if m:
        calls.append((m.group(1), int(m.group(2)), l))
syncs = [c for c in calls if c[0] == "fdatasync"]
if not syncs:
    sys.exit("no fdatasync traced")
jfd = syncs[0][1]
bad = 0
for u in sys.argv[2:]:
    w = next((i for i, c in enumerate(calls)
              if c[0] == "write" and c[1] == jfd and u in c[2]), None)
    if w is None:
        print(f"{u}: no journal write"); bad += 1; continue
    s = next((i for i in range(w + 1, len(calls))
              if calls[i][0] == "fdatasync" and calls[i][1] == jfd), None)
    a = next((i for i in range(w + 1, len(calls))
              if calls[i][1] != jfd and u in calls[i][2]
              and '\\"ok\\":true' in calls[i][2]), None)
    req = [i for i in range(w + 1, s if s is not None else w + 1)
           if calls[i][0] == "sendmsg"]
    print(f"{u}: write #{w}, request(s) {req}, fdatasync #{s}, answer #{a}")
    if s is None or a is None:
        print("  missing the sync or the answer"); bad += 1
    elif not req:
        print("  no NVDP request between the write and its fdatasync"); bad += 1
    elif a < s:
        print("  answered before the fdatasync"); bad += 1
sys.exit(1 if bad else 0)
EOP
nt_pass
