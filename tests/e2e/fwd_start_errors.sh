#!/bin/bash
# fwd_start_errors.sh - the forwarder's start-up error paths, no privilege
# needed: bench/fwd_run run bare refuses to start without an underlay, with
# a missing underlay interface and with a bad local address, while its
# tables stay usable (see selftest() in bench/fwd_run.c).
B=${top_builddir:-.}
[ -x "$B/bench/fwd_run" ] || { echo "fwd_start_errors: FAIL: $B/bench/fwd_run not built"; exit 1; }
out=$("$B/bench/fwd_run" 2>&1)
rc=$?
echo "$out"
[ $rc = 0 ] && grep -q "self-test: ok" <<<"$out" || { echo "fwd_start_errors: FAIL"; exit 1; }
echo "fwd_start_errors: PASS"
