#!/bin/sh
# run-fuzz.sh - runs the NVDP decoder fuzzer briefly over the seed corpus
# (make check with --enable-fuzzer); FUZZ_SECONDS=600 for a longer run by hand.
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
fuzzer=$top_builddir/tests/fuzz/fuzz_decode
seconds=${FUZZ_SECONDS:-20}

if [ ! -x "$fuzzer" ]; then
    echo "run-fuzz: $fuzzer not built (configure --enable-fuzzer CC=clang)" >&2
    exit 77
fi
# New inputs go to a scratch dir so the seed corpus in the tree stays as committed.
work=$(mktemp -d "${TMPDIR:-/tmp}/nvdp-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# Seeds (tests/fuzz/corpus): the NVDP part (Ethernet header stripped) of every
# golden frame but the 9 KB oversize one, and text seeds ('T' + a string) for the
# UUID/MAC/VN/address parsers.
mkdir -p "$work/seeds" "$work/new"
cp "$top_srcdir"/tests/fuzz/corpus/* "$work/seeds/"
echo "run-fuzz: $seconds s over $(ls "$work/seeds" | wc -l) seeds"
# libFuzzer exits non-zero on a crash, leak or failed CHECK (abort).
"$fuzzer" -max_total_time="$seconds" -max_len=9216 -timeout=10 \
    -artifact_prefix="$work/" -print_final_stats=1 "$work/new" "$work/seeds" >"$work/log" 2>&1 || {
    tail -n 40 "$work/log" >&2
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$a" ] || continue
        # Kept in the build tree: reproduce with "$fuzzer" FILE.
        cp "$a" "$top_builddir/tests/fuzz/"
        echo "run-fuzz: saved $top_builddir/tests/fuzz/$(basename "$a"):" >&2
        od -An -tx1 "$a" | head -20 >&2
    done
    exit 1
}
grep -E "stat::number_of_executed_units|Done" "$work/log" || true
exit 0
