#!/bin/bash
# nvdpctl_cli.sh - nvdpctl's contract with scripts, against a scripted fake
# control socket: exit codes 0-5, what is sent, JSON and text output,
# watch. Needs neither root nor the daemons.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/netns.sh"
nt_init_local nvdpctl_cli
[ -x /usr/bin/python3 ] || nt_skip "/usr/bin/python3 not found"

S=$NT_DIR/fake.sock
/usr/bin/python3 "$top/tests/lib/fake_ctl.py" "$S" "$NT_DIR/requests" 2>"$NT_DIR/fake.log" &
NT_PIDS+=("$!")
nt_wait 5 "fake control socket" test -S "$S"
ctl() { "$NVDPCTL" -s "$S" "$@"; }
U=00000000-0000-4000-8000-000000000001
last_req() { tail -n 1 "$NT_DIR/requests"; }

# 0: ok, and the request carries the validated, normalised arguments.
nt_assert_rc "attach ok" 0 ctl -f json vnic attach "$U" --vn blue --mac 52:54:00:AB:00:01 --ip 10.0.0.1 --ip 2001:db8::1 --wait=2
nt_assert_eq "JSON result state" attached "$(jq -r .state <<<"$NT_OUT")"
nt_assert_eq "sent cmd" vnic-attach "$(last_req | jq -r .cmd)"
nt_assert_eq "sent MAC normalised" 52:54:00:ab:00:01 "$(last_req | jq -r .args.mac)"
nt_assert_eq "sent IPs" '["10.0.0.1","2001:db8::1"]' "$(last_req | jq -c .args.ips)"
nt_assert_eq "sent wait_ms" 2000 "$(last_req | jq -r .args.wait_ms)"
nt_assert_rc "attach text" 0 ctl vnic attach "$U" --vn blue --mac 52:54:00:ab:00:01
nt_assert "text shows 'tag: 7'" grep -qE '^tag: +7$' <<<"$NT_OUT"
nt_assert_rc "vnic list text" 0 ctl vnic list
nt_assert "table header" grep -qE '^VNIC +VN +MAC' <<<"$NT_OUT"
nt_assert_eq "table rows" 3 "$(wc -l <<<"$NT_OUT")"
nt_assert_rc "status text" 0 ctl status
nt_assert "nested keys flattened" grep -qE '^nve.state: +up$' <<<"$NT_OUT"
nt_assert_rc "NVDPCTL_SOCKET env" 0 env NVDPCTL_SOCKET="$S" "$NVDPCTL" status

# 1: failed (daemon error other than refused/timeout; garbage; hang-up).
nt_assert_rc "not found -> 1" 1 ctl tags --port nope
nt_assert "error text on stderr" grep -q "unknown port" <<<"$NT_ERR"
nt_assert_rc "malformed answer -> 1" 1 ctl vnic attach "$U" --vn garbage --mac 52:54:00:00:00:01
nt_assert_rc "daemon hangs up mid-request -> 3" 3 ctl vnic attach "$U" --vn close --mac 52:54:00:00:00:01

# 2: usage, caught before anything is sent.
n_before=$(wc -l <"$NT_DIR/requests")
nt_assert_rc "no command" 2 "$NVDPCTL"
nt_assert_rc "unknown command" 2 ctl frobnicate
nt_assert_rc "incomplete command" 2 ctl vnic
nt_assert_rc "bad UUID" 2 ctl vnic attach nope --vn blue --mac 52:54:00:00:00:01
nt_assert "names the problem" grep -q "not a UUID" <<<"$NT_ERR"
nt_assert_rc "bad MAC" 2 ctl vnic attach "$U" --vn blue --mac 52:54:00:00:01
nt_assert_rc "bad IP" 2 ctl vnic attach "$U" --vn blue --mac 52:54:00:00:00:01 --ip 10.0.0.256
nt_assert_rc "missing --vn" 2 ctl vnic attach "$U" --mac 52:54:00:00:00:01
nt_assert_rc "bad -f" 2 ctl -f yaml status
nt_assert_rc "bad -t" 2 ctl -t soon status
nt_assert_eq "nothing was sent for usage errors" "$n_before" "$(wc -l <"$NT_DIR/requests")"
nt_assert_rc "daemon-side usage error -> 2" 2 ctl reload

# help: 0 on stdout.
nt_assert_rc "-h" 0 "$NVDPCTL" -h
nt_assert "lists commands" grep -q "vnic attach" <<<"$NT_OUT"
nt_assert_rc "per-command help" 0 "$NVDPCTL" vnic attach -h
nt_assert "per-command usage" grep -q -- "--wait\[=SECONDS\]" <<<"$NT_OUT"
nt_assert_rc "help COMMAND" 0 "$NVDPCTL" help disconnect
nt_assert "help disconnect shows --reason" grep -q -- "--reason" <<<"$NT_OUT"
nt_assert_rc "help vnic (prefix)" 0 "$NVDPCTL" help vnic
nt_assert_rc "-V" 0 "$NVDPCTL" -V
nt_assert "version line" grep -qE '^nvdpctl \(splitnve\) [0-9]' <<<"$NT_OUT"

# 3: unreachable.
nt_assert_rc "no socket -> 3" 3 "$NVDPCTL" -s "$NT_DIR/none.sock" status
nt_assert "says which socket" grep -q "none.sock" <<<"$NT_ERR"

# 4: timeout, both from the daemon (--wait ran out) and the client's -t.
nt_assert_rc "daemon timeout -> 4" 4 ctl vnic attach "$U" --vn timeout --mac 52:54:00:00:00:01
t0=$(date +%s%N)
nt_assert_rc "client -t -> 4" 4 ctl -t 0.5 vnic attach "$U" --vn silent --mac 52:54:00:00:00:01
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
nt_assert "-t 0.5 took about 0.5 s ($ms ms)" test "$ms" -ge 400 -a "$ms" -lt 3000

# 5: refused, with the reason on stderr and the whole answer in JSON.
nt_assert_rc "refused -> 5" 5 ctl -f json vnic attach "$U" --vn refuse --mac 52:54:00:00:00:01 --wait
nt_assert "reason on stderr" grep -q "not-authorised" <<<"$NT_ERR"
nt_assert_eq "JSON error code" 5 "$(jq -r .code <<<"$NT_OUT")"
nt_assert_eq "bare --wait sends the default" 10000 "$(last_req | jq -r .args.wait_ms)"

# watch: one line per event, stops after --count.
nt_assert_rc "watch --count 2" 0 ctl -f json watch --count 2
nt_assert_eq "two JSON lines" 2 "$(wc -l <<<"$NT_OUT")"
nt_assert_eq "second event's tag" 2 "$(sed -n 2p <<<"$NT_OUT" | jq -r .tag)"
nt_assert_rc "watch text until the daemon closes" 3 ctl watch
nt_assert "text event line" grep -qE '^vnic 0+-0+-4000-8000-0+1 .*state=attached tag=3' <<<"$NT_OUT"
nt_pass
