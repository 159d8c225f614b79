#!/bin/bash
# run.sh - one entry point for a fresh Debian machine: installs what splitnve needs, builds it,
# and runs the demo or the whole test suite. Usage, as root (or with sudo):
# ./run.sh demo|test|build|deps|distcheck
set -euo pipefail
TOP=$(cd "$(dirname "$0")" && pwd)
cd "$TOP"

# Debian packages: build, unit tests, netns tests, Scapy, forwarder/BPF, libvirt glue, benchmarks,
# hardened daemons (libcap's capability drop, sd_notify, systemd-analyze for the units' test).
# FRR (BGP EVPN: the tests and the demo start zebra and bgpd in namespaces themselves),
# strace (bench/attach_latency.sh times hv-agent's fdatasyncs with it),
# uuid-dev (nvdp-hook's UUIDv5 from libuuid: libcrypto took ~5 ms per call to load).
PKGS="build-essential autoconf automake libtool pkg-config clang llvm libclang-rt-14-dev
      libconfuse-dev libcmocka-dev libjson-c-dev zlib1g-dev libnl-3-dev libnl-route-3-dev lldpad-dev lldpad
      libbpf-dev libxml2-dev libvirt-dev libssl-dev uuid-dev xxd libcap-dev libsystemd-dev systemd
      python3 python3-scapy iproute2 bridge-utils jq ethtool bc tcpdump tshark
      netcat-openbsd iputils-ping procps psmisc util-linux kmod strace
      libvirt-daemon libvirt-daemon-driver-lxc libvirt-clients
      frr"

usage() {
    cat <<EOF
usage: $0 COMMAND           (as root, or with sudo)
  demo       install dependencies, build with the default compiler, run the
             network-namespace demo
  test       install dependencies, build with ASan/UBSan + libFuzzer (clang,
             warnings are errors), run every test
  build      build only (build/release, the default compiler)
  deps       install the Debian packages only
  distcheck  make distcheck in build/dist
environment:
  SPLITNVE_WERROR=1  warnings are errors in the demo and build builds too
                     (CI; "test" always has them)
EOF
}

need_root() {
    [ "$(id -u)" = 0 ] && return 0
    echo "run.sh: $1 needs root (network namespaces): run it as root, or with sudo" >&2
    exit 1
}

deps() {
    local missing="" p
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "run.sh: missing packages:$missing (run as root, or with sudo, to install them)" >&2
        exit 1
    fi
    echo "run.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
    # frr's postinst enables frr.service: its zebra would run in the root
    # namespace, beside the ones the tests start
    case " $missing " in *" frr "*)
        systemctl disable --now frr >/dev/null 2>&1 || true ;;
    esac
}

configure_in() { # dir, configure args...
    local dir=$1; shift
    [ -x "$TOP/configure" ] && [ "$TOP/configure" -nt "$TOP/configure.ac" ] || autoreconf -fi "$TOP"
    mkdir -p "$dir"
    (cd "$dir" && "$TOP/configure" -q "$@")
}

# --enable-werror when SPLITNVE_WERROR=1 (CI): a user's build never fails on a
# new compiler's new warning, CI's does.
werror() { [ "${SPLITNVE_WERROR:-0}" = 1 ] && echo --enable-werror || true; }

build_release() {
    local B=$TOP/build/release cc
    # shellcheck disable=SC2046
    configure_in "$B" CFLAGS="-O2 -g" $(werror)
    make -C "$B" -j"$(nproc)" >/dev/null
    cc=$(sed -n 's/^CC = //p' "$B/Makefile")
    echo "run.sh: built $B with $cc ($($cc --version | head -1)) $(werror)"
}

summary() { # parse automake's test-suite.log into the one closing line
    local log=$1/test-suite.log
    [ -f "$log" ] || { echo "0 passed, 1 failed"; return 1; }
    local pass skip fail err xpass
    pass=$(awk '/^# PASS:/ {print $3}' "$log"); skip=$(awk '/^# SKIP:/ {print $3}' "$log")
    fail=$(awk '/^# FAIL:/ {print $3}' "$log"); err=$(awk '/^# ERROR:/ {print $3}' "$log")
    xpass=$(awk '/^# XPASS:/ {print $3}' "$log")
    echo "${pass:-0} passed, $(( ${fail:-0} + ${err:-0} + ${xpass:-0} )) failed, ${skip:-0} skipped"
}

cmd=${1:-}
case "$cmd" in
deps) deps ;;
build) deps; build_release; echo "built in build/release" ;;
demo)
    need_root demo
    deps; build_release
    BUILD_DIR="$TOP/build/release" exec bash "$TOP/demo/demo.sh" ;;
test)
    deps
    B="$TOP/build/check"
    configure_in "$B" CC=clang --enable-sanitizers --enable-fuzzer --enable-werror
    make -C "$B" -j"$(nproc)" >/dev/null
    rc=0
    make -C "$B" -j1 check || rc=$?
    # show what failed, then the closing line
    find "$B/tests" -name '*.trs' -exec grep -l -E ':test-result: (FAIL|ERROR|XPASS)' {} + 2>/dev/null |
        while read -r f; do echo "==== ${f%.trs}.log"; tail -n 60 "${f%.trs}.log"; done || true
    line=$(summary "$B") || rc=1
    echo "$line"
    exit $rc ;;
distcheck)
    deps
    configure_in "$TOP/build/dist"
    make -C "$TOP/build/dist" distcheck ;;
-h|--help|help) usage ;;
*) usage >&2; exit 2 ;;
esac
