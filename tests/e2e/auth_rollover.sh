#!/bin/bash
# auth_rollover.sh - keys rolled over on a live, authenticated pair without
# one failed request (protocol-spec/nvdp.md 14.3): key 2 added on both
# sides, then made the sending key on each side in turn, then key 1
# removed, while hv-agent attaches and detaches VNICs without pause; a
# key file others may read is refused on reload and changes nothing.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init auth_rollover

hexkey() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
K1=$(hexkey)
K2=$(hexkey)
NKEY=$NT_DIR/nve-hv1.key   # the NVE's copy of hv1's keys
HKEY=$NT_DIR/hv1.key       # hv1's own
keys() { (umask 077 && printf "$2" >"$1.new" && mv "$1.new" "$1"); }
keys "$NKEY" "1 $K1\n"
keys "$HKEY" "1 $K1\n"

nt_topo_direct
export NVE_PORTS="port1 ap1 auth=required"
export NVE_EXTRA="hypervisor \"hv1\" {
    mac = \"$NT_MAC_HV1\"
    key-file = \"$NKEY\"
}"
nt_start_nve nve nve
HV_EXTRA="key-file = \"$HKEY\"" nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1

# Reloads: nve-agent through its control socket (synchronous), hv-agent by
# SIGHUP (waited for in its log).
reload_nve() { nt_assert_rc "nve-agent reload ($1)" 0 nt_ctl nve reload; }
hv_reloads() { grep -c "SIGHUP: configuration reloaded" "$NT_DIR/hv1.log"; }
reload_hv() {
    local n
    n=$(hv_reloads)
    kill -HUP "$(nt_pid hv1)"
    nt_wait 5 "hv1 reloaded ($1)" nt_ne "$n" hv_reloads
}

# The load: VNICs attached and detached, each request waited for; every
# exit status is recorded.
load() {
    local i=0 u rc
    while [ ! -e "$NT_DIR/stop" ]; do
        i=$((i + 1))
        u=$(nt_uuid $((100 + i % 4)))
        nt_ctl hv1 vnic attach "$u" --vn blue --mac "$(nt_mac $((100 + i % 4)))" --wait=5 >/dev/null 2>&1
        echo "attach $i $?" >>"$NT_DIR/requests"
        nt_ctl hv1 vnic detach "$u" --wait=5 >/dev/null 2>&1
        echo "detach $i $?" >>"$NT_DIR/requests"
    done
}
load &
loader=$!
NT_PIDS+=("$loader")   # stopped with the daemons if the test fails
requests() { cat "$NT_DIR/requests" 2>/dev/null | wc -l; }
at_least() { test "$(requests)" -ge "$1"; }
# some requests between two steps
settle() {
    local n
    n=$(requests)
    nt_wait 30 "requests after $1" at_least $((n + 4))
}
settle "the start"

# 1. key 2 accepted on both sides; both still sign with key 1
keys "$NKEY" "1 $K1\n2 $K2\n"
reload_nve "key 2 added"
keys "$HKEY" "1 $K1\n2 $K2\n"
reload_hv "key 2 added"
settle "step 1"
# 2. key 2 signs: the hypervisor first, then the NVE
keys "$HKEY" "2 $K2\n1 $K1\n"
reload_hv "key 2 first"
settle "hv1 signing with key 2"
keys "$NKEY" "2 $K2\n1 $K1\n"
reload_nve "key 2 first"
settle "step 2"
# A key file others may read: the reload is refused, nothing changes.
keys "$NKEY" "2 $K2\n"
chmod 644 "$NKEY"
nt_assert_rc "nve-agent refuses a readable key file" 1 nt_ctl nve reload
nt_assert "and says why" grep -q "mode 644: a key file must not be accessible" "$NT_DIR/nve.log"
settle "the refused reload"
chmod 600 "$NKEY"
# 3. key 1 gone on both sides
reload_nve "key 1 removed"
keys "$HKEY" "2 $K2\n"
reload_hv "key 1 removed"
settle "step 3"

touch "$NT_DIR/stop"
wait "$loader"
total=$(requests)
failed=$(grep -vc ' 0$' "$NT_DIR/requests")
nt_log "$total requests during the rollover, $failed failed"
nt_assert "requests ran through every step" test "$total" -ge 24
nt_assert_eq "no request failed" 0 "$failed"
nt_assert_eq "the NVE dropped nothing (auth_fail)" 0 "$(nt_jq nve .nvdp.global.auth_fail counters)"
nt_assert_eq "nor as a replay" 0 "$(nt_jq nve .nvdp.global.replay counters)"
nt_assert_eq "hv1 dropped nothing" 0 "$(nt_counter hv1 '^(auth_fail|replay)$' status)"
nt_assert "the NVE accepted signed frames" test "$(nt_jq nve .nvdp.global.auth_ok counters)" -gt 0
# Key 1 is gone on both sides: the pair speaks key 2 only.
nt_assert_rc "a request with key 2 alone" 0 nt_ctl hv1 vnic attach "$(nt_uuid 9)" --vn blue --mac "$(nt_mac 9)" --wait=5
nt_pass
