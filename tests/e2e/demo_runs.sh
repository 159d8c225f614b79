#!/bin/bash
# demo_runs.sh - the README's demo (demo/demo.sh) runs to the end and every
# check it prints passes, so the demo cannot silently rot.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" = 0 ] || { echo "demo_runs: SKIP: needs root (network namespaces)"; exit 77; }
ip netns list >/dev/null 2>&1 || { echo "demo_runs: SKIP: 'ip netns' unavailable"; exit 77; }
for c in jq tcpdump tshark nc ethtool; do
    command -v "$c" >/dev/null 2>&1 || { echo "demo_runs: SKIP: $c not found"; exit 77; }
done
out=$(BUILD_DIR=${top_builddir:-.} bash "$top/demo/demo.sh" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" = 0 ] || { echo "demo_runs: FAIL: demo exited $rc"; exit 1; }
grep -q "checks passed" <<<"$out" || { echo "demo_runs: FAIL: no closing line"; exit 1; }
echo "demo_runs: PASS"
