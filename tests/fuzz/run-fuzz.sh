#!/bin/sh
# run-fuzz.sh [decode|hook|fwd|state|ctl-hv|ctl-nve|auth] - runs one libFuzzer
# target briefly over its seed corpus (make check with --enable-fuzzer);
# FUZZ_SECONDS=600 for a longer run,
# FUZZ_RUNS=N for N executions instead (long-run.sh), FUZZ_LOG=file keeps
# libFuzzer's output, FUZZ_TIMEOUT=s is the limit of one input (10 s; more
# on a loaded machine, where a niced run can wait seconds for a CPU),
# FUZZ_MAX_LEN=n the longest input instead of the target's own (below).
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
target=${1:-decode}

# One row per target: fuzzer, seeds, longest input, default seconds.
case $target in
decode)
    # The NVDP part (Ethernet header stripped) of every golden frame but the
    # 9 KB oversize one, and text seeds ('T' + a string) for the
    # UUID/MAC/VN/address parsers.
    me=run-fuzz fuzzer=fuzz_decode seeds='tests/fuzz/corpus/*'
    max_len=9216 dflt_seconds=20 ;;
hook)
    # The hook's domain XML, seeded with the unit tests' XML corpus.
    me=run-fuzz-hook fuzzer=fuzz_hook_xml seeds='tests/unit/xml/*.xml'
    max_len=16384 dflt_seconds=15 ;;
fwd)
    # The forwarder's per-packet decisions: 7 control bytes (fuzz_fwd.c)
    # then an access frame, an underlay packet or an inner frame to wrap.
    # Up to 64 KB: a GRO-merged access frame over a 65536-byte MTU must
    # not wrap the outer 16-bit lengths (seed acc-mtu65536-len-wrap).
    me=run-fuzz-fwd fuzzer=fuzz_fwd seeds='tests/fuzz/corpus-fwd/*'
    max_len=65542 dflt_seconds=15 ;;
state)
    # hv-agent's state file: journals (damaged ones too) and a version 1
    # document.
    me=run-fuzz-state fuzzer=fuzz_state seeds='tests/fuzz/corpus-state/*'
    max_len=16384 dflt_seconds=10 ;;
ctl-hv|ctl-nve)
    # A control client's byte stream (4-byte length + JSON frames) into
    # hv-agent's or nve-agent's commands, in process (ctl_feed.c); the seeds
    # are framed requests of every command, the dictionary their words.
    me=run-fuzz-$target fuzzer=fuzz_${target%-*}_${target#*-}
    seeds="tests/fuzz/corpus-$target/*" dict=tests/fuzz/ctl.dict
    max_len=70000 dflt_seconds=10 ;;
auth)
    # Authentication with keys (fuzz_auth.c): a mode byte, then a frame
    # (the signed golden frames), a frame to sign, or a key file.
    me=run-fuzz-auth fuzzer=fuzz_auth seeds='tests/fuzz/corpus-auth/*'
    max_len=9224 dflt_seconds=10 ;;
*)
    echo "usage: run-fuzz.sh [decode|hook|fwd|state|ctl-hv|ctl-nve|auth]" >&2
    exit 2 ;;
esac
fuzzer=$top_builddir/tests/fuzz/$fuzzer
max_len=${FUZZ_MAX_LEN:-$max_len}
seconds=${FUZZ_SECONDS:-$dflt_seconds}
# A count of executions bounds the run instead of the time (0: no bound).
runs=-1
if [ -n "${FUZZ_RUNS:-}" ]; then
    runs=$FUZZ_RUNS seconds=${FUZZ_SECONDS:-0}
fi

if [ ! -x "$fuzzer" ]; then
    echo "$me: $fuzzer not built (configure --enable-fuzzer CC=clang)" >&2
    exit 77
fi
# New inputs go to a scratch dir so the seed corpus in the tree stays as committed.
work=$(mktemp -d "${TMPDIR:-/tmp}/$target-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/seeds" "$work/new"
# shellcheck disable=SC2086 # $seeds is a glob
cp "$top_srcdir"/$seeds "$work/seeds/"
if [ "$runs" -ge 0 ]; then bound="$runs executions"; else bound="$seconds s"; fi
echo "$me: $bound over $(ls "$work/seeds" | wc -l) seeds, inputs up to $max_len bytes"
# libFuzzer exits non-zero on a crash, leak or failed CHECK (abort).
rc=0
dictopt=
[ -z "${dict:-}" ] || dictopt=-dict=$top_srcdir/$dict
# shellcheck disable=SC2086 # $dictopt: one word or none
"$fuzzer" -max_total_time="$seconds" -runs="$runs" -max_len="$max_len" \
    -timeout="${FUZZ_TIMEOUT:-10}" $dictopt \
    -artifact_prefix="$work/" -print_final_stats=1 "$work/new" "$work/seeds" >"$work/log" 2>&1 || rc=$?
[ -z "${FUZZ_LOG:-}" ] || cp "$work/log" "$FUZZ_LOG"
[ "$rc" = 0 ] || {
    tail -n 40 "$work/log" >&2
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$a" ] || continue
        # Kept in the build tree: reproduce with "$fuzzer" FILE.
        cp "$a" "$top_builddir/tests/fuzz/"
        echo "$me: saved $top_builddir/tests/fuzz/$(basename "$a"):" >&2
        od -An -tx1 "$a" | head -20 >&2
    done
    exit 1
}
grep -E "stat::number_of_executed_units|Done" "$work/log" || true
exit 0
