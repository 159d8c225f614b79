#!/bin/sh
# long-run.sh [target...] - the robustness evidence: runs each libFuzzer
# target (all by default) for FUZZ_RUNS executions, 10 million unless told,
# one after the other, and prints per target the executions, the time, and
# libFuzzer's coverage (cov: edges, ft: features) at the end, the seeds'
# own in parentheses. Not in CI, which keeps run-fuzz.sh's short runs;
# hours on a small machine:
#   top_builddir=/tmp/build sh tests/fuzz/long-run.sh [decode hook fwd ...]
# /tmp/build: make check's build (ASan) or, about 6 times faster, one with
# libFuzzer and UBSan alone (the short runs of make check keep ASan):
#   configure CC=clang --enable-fuzzer CFLAGS="-O2 -g -fsanitize=undefined
#     -fno-sanitize-recover=undefined" LDFLAGS=-fsanitize=undefined
#   make tests/fuzz/fuzz_decode tests/fuzz/fuzz_hook_xml ... (each target)
# FUZZ_TIMEOUT (default 120 s here: a long run is usually niced on a busy
# machine) bounds one input. FUZZ_MAX_LEN, the longest input, is each
# target's short-run one (run-fuzz.sh) but 4096 bytes for ctl-hv and
# ctl-nve, libFuzzer's own default: libFuzzer lengthens its inputs as
# coverage flattens, and a control input of 18-35 KB is thousands of
# requests (150-730 inputs/s late in a run, RESULTS.md); at 4096, 10
# million take about 22 (ctl-hv) and 30-45 (ctl-nve) CPU minutes. What
# only longer input reaches is tested over a socket by
# tests/unit/test_ctl.c: test_oversize_request (a request of exactly 64 KiB
# accepted, filling the input buffer to its last byte; one of 64 KiB + 1
# answered and closed, as its 4-byte header alone is here too) and
# test_slow_client (6 MiB of answers past the 1 MiB pause mark: the
# requests behind them wait, then are all answered in order);
# test_local_clients does both in process. Logs stay in FUZZ_OUT (default
# a new /tmp/splitnve-fuzz.XXXXXX); a crash stops that target (its input is
# saved as run-fuzz.sh says) and the next one runs. Figures: RESULTS.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
runs=${FUZZ_RUNS:-10000000}
export FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-120}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/splitnve-fuzz.XXXXXX")}
targets=${*:-decode hook fwd state ctl-hv ctl-nve auth}
mkdir -p "$out"
failed=0
printf '%-8s %12s %8s %8s %11s %11s  %s\n' target executions seconds exec/s \
    "cov (seeds)" "ft (seeds)" result
for t in $targets; do
    log=$out/$t.log
    case $t in
    ctl-hv|ctl-nve) max_len=${FUZZ_MAX_LEN:-4096} ;;
    *) max_len=${FUZZ_MAX_LEN:-} ;;
    esac
    start=$(date +%s)
    if FUZZ_RUNS=$runs FUZZ_LOG=$log FUZZ_MAX_LEN=$max_len \
        sh "$here/run-fuzz.sh" "$t" \
        >"$out/$t.out" 2>&1; then
        result=ok
    else
        result="FAILED (see $out/$t.out)"
        failed=$((failed + 1))
    fi
    secs=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" 2>/dev/null)
    # the last status line ("#N DONE cov: C ft: F ...") holds the totals,
    # INITED what the seeds alone reach
    last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" 2>/dev/null | tail -n 1)
    init=$(grep -E '^#[0-9]+.*INITED.*cov: [0-9]+ ft: [0-9]+' "$log" 2>/dev/null | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    cov0=$(echo "$init" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft0=$(echo "$init" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    printf '%-8s %12s %8s %8s %11s %11s  %s\n' "$t" "${execs:-?}" "$secs" \
        "${rate:-?}" "${cov:-?} (${cov0:-?})" "${ft:-?} (${ft0:-?})" "$result"
done
echo "logs: $out"
[ "$failed" = 0 ]
