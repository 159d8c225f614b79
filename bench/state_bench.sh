#!/bin/bash
# state_bench.sh - what durable state costs hv-agent (issue 10 / 14): N VNIC
# attaches (bench/cp_bench.sh, NVDP only, fresh daemons for each N) with
# this tree's state journal, next to the anchor measured in the same run:
# the tree before the journal, which rewrote its whole state file (and
# answered before it was saved). Also the lone attach (one request
# outstanding), where each answer now waits for an fdatasync. Prints
# figures; not a pass/fail test. Needs root.
#
# usage: bench/state_bench.sh [-n "1000 10000 100000"] [-r REF]
#   -n  attach counts (1000 attaches are also run one at a time)
#   -r  the anchor's git revision (default: the parent of the commit that
#       added hv-agent/hv_journal.c)
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
COUNTS="1000 10000 100000"
REF=
while [ $# -gt 0 ]; do
    case $1 in
    -n) COUNTS=$2; shift 2 ;;
    -r) REF=$2; shift 2 ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "state_bench: needs root" >&2; exit 2; }
say() { printf '%s\n' "$*" >&2; }
die() { say "state_bench: $*"; exit 1; }

if [ -z "$REF" ]; then
    REF=$(git -C "$SRC" log --diff-filter=A --format=%H -- hv-agent/hv_journal.c | tail -1)
    [ -n "$REF" ] || die "cannot find the commit that added the journal: use -r"
    REF=$REF^
fi
REV=$(git -C "$SRC" rev-parse --short "$REF") || die "bad revision $REF"
ANCHOR_SRC=/tmp/splitnve-state-bench-src-$REV
ANCHOR_BUILD=/tmp/splitnve-state-bench-build-$REV
NEW_BUILD=/tmp/splitnve-state-bench-build-new
build() { # SRC BUILD
    if [ ! -f "$2/Makefile" ]; then
        mkdir -p "$2"
        (cd "$1" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf in $1"
        (cd "$2" && "$1/configure" -q CC=clang CFLAGS="-O2 -g") || die "configure $1"
    fi
    make -C "$2" -s -j2 nve-agent/nve-agent hv-agent/hv-agent tools/nvdpctl \
        bench/cp_bench_drv >/dev/null 2>&1 || die "build failed in $2"
}
if [ ! -d "$ANCHOR_SRC" ]; then
    mkdir -p "$ANCHOR_SRC"
    git -C "$SRC" archive "$REF" | tar -x -C "$ANCHOR_SRC" || die "git archive $REF"
fi
build "$ANCHOR_SRC" "$ANCHOR_BUILD"
build "$SRC" "$NEW_BUILD"

say "state_bench: $(nproc) cores, kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
say "state_bench: anchor $REV (whole state file rewritten, saves deferred), journal: $SRC"
declare -A MS RATE P50 P99 SAVES
run() { # NAME BUILD N: one cp_bench run (fresh daemons), N and 1000 lone
    local out line k counts="1000 $3"
    [ "$3" = 1000 ] && counts=1000
    out=$("$SRC/bench/cp_bench.sh" -b "$2" -n "$counts" --no-lldpad 2>&1) ||
        { say "$out"; die "cp_bench failed for $1"; }
    while read -r line; do
        case $line in
        n=*window=1\ *) k=1 ;;
        n=*) k=$(sed 's/^n=\([0-9]*\).*/\1/' <<<"$line") ;;
        hv-agent:*)
            SAVES[$1,$k]=$(sed -n 's/.*state_saves=\([0-9?]*\).*/\1/p' <<<"$line")
            continue ;;
        *) continue ;;
        esac
        [ "$k" = 1 ] || [ "$k" = "$3" ] || continue
        MS[$1,$k]=$(sed -n 's/.*elapsed_ms=\([0-9.]*\).*/\1/p' <<<"$line")
        RATE[$1,$k]=$(sed -n 's/.*attaches_per_s=\([0-9]*\).*/\1/p' <<<"$line")
        P50[$1,$k]=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")
        P99[$1,$k]=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
        say "  $1: $line"
    done < <(grep -E '^  (n=|hv-agent:)' <<<"$out")
}
# anchor and journal alternate for each N: the machine's load drifts
for n in $COUNTS; do
    say "state_bench: N=$n, anchor then journal ..."
    run anchor "$ANCHOR_BUILD" "$n"
    run journal "$NEW_BUILD" "$n"
done

echo
echo "| N (1024 outstanding) | anchor $REV: all acknowledged in | attaches/s | p50 / p99 | saves | journal: all acknowledged in | attaches/s | p50 / p99 | commits |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in $COUNTS; do
    printf '| %s | %s ms | %s | %s / %s ms | %s | %s ms | %s | %s / %s ms | %s |\n' "$n" \
        "${MS[anchor,$n]:-?}" "${RATE[anchor,$n]:-?}" "${P50[anchor,$n]:-?}" "${P99[anchor,$n]:-?}" \
        "${SAVES[anchor,$n]:-?}" "${MS[journal,$n]:-?}" "${RATE[journal,$n]:-?}" \
        "${P50[journal,$n]:-?}" "${P99[journal,$n]:-?}" "${SAVES[journal,$n]:-?}"
done
n1=1000
printf '| %s one at a time | %s ms | %s | %s / %s ms | - | %s ms | %s | %s / %s ms | - |\n' "$n1" \
    "${MS[anchor,1]:-?}" "${RATE[anchor,1]:-?}" "${P50[anchor,1]:-?}" "${P99[anchor,1]:-?}" \
    "${MS[journal,1]:-?}" "${RATE[journal,1]:-?}" "${P50[journal,1]:-?}" "${P99[journal,1]:-?}"
