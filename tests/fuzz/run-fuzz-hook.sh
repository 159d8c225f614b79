#!/bin/sh
# run-fuzz-hook.sh - runs the hook's domain XML fuzzer briefly over the
# unit tests' XML corpus (make check with --enable-fuzzer).
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
fuzzer=$top_builddir/tests/fuzz/fuzz_hook_xml
seconds=${FUZZ_SECONDS:-15}
if [ ! -x "$fuzzer" ]; then
    echo "run-fuzz-hook: $fuzzer not built (configure --enable-fuzzer CC=clang)" >&2
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/hook-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/seeds" "$work/new"
cp "$top_srcdir"/tests/unit/xml/*.xml "$work/seeds/"
echo "run-fuzz-hook: $seconds s over $(ls "$work/seeds" | wc -l) seeds"
"$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
    -artifact_prefix="$work/" -print_final_stats=1 "$work/new" "$work/seeds" >"$work/log" 2>&1 || {
    tail -n 40 "$work/log" >&2
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$a" ] && cp "$a" "$top_builddir/tests/fuzz/" &&
            echo "run-fuzz-hook: saved $top_builddir/tests/fuzz/$(basename "$a")" >&2
    done
    exit 1
}
grep -E "stat::number_of_executed_units|Done" "$work/log" || true
