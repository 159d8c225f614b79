#!/bin/bash
# hook_lifecycle.sh - the libvirt hooks as libvirt runs them (installed
# drop-in script, "<domain> <op> <subop> <extra>", domain XML on stdin)
# against real hv-agents and nve-agent: start, NVE refusal, stop, a
# migration hv1 -> hv2 (pre-association on the destination before the source
# leaves with intent migration), the shutdown contrast, unreachable agent,
# domains that are not ours, malformed XML, and the NVE silent: the policy
# (unreachable = fail | pending) and one bound on a whole start and stop.
# Every decision is a log line (syslog; here the file NVDP_HOOK_LOG names).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init hook_lifecycle
[ -x "$NT_BUILD/tools/nvdp-hook" ] || nt_fail "tools/nvdp-hook not built"

# ---- install the hooks the way "make install" does, into our own hookdir
HOOKS=$NT_DIR/hooks
make -s -C "$NT_BUILD" install-hookqemuSCRIPTS install-hooklxcSCRIPTS \
    HOOKDIR="$HOOKS" >"$NT_DIR/install.log" 2>&1 || nt_fail "installing the hooks (see install.log)"
QEMU_HOOK=$HOOKS/qemu.d/splitnve LXC_HOOK=$HOOKS/lxc.d/splitnve
nt_assert "hooks installed executable" test -x "$QEMU_HOOK" -a -x "$LXC_HOOK"
# libvirt runs the installed script; it execs the binary from $sbindir,
# which in the build tree is:
export NVDP_HOOK_BIN=$NT_BUILD/tools/nvdp-hook

# nve: port1 <-> hv1, port2 <-> hv2, direct veths
nt_ns nve; nt_ns hv1; nt_ns hv2
nt_veth nve ap1 hv1 up0 "$NT_MAC_AP1" "$NT_MAC_HV1"
nt_veth nve ap2 hv2 up0 "$NT_MAC_AP2" "$NT_MAC_HV2"
export NVE_PORTS="port1 ap1 tags=1-99
port2 ap2 tags=100-199"
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
for h in hv1 hv2; do nt_start_hv "$h" "$h" up0; done
for h in hv1 hv2; do nt_wait 10 "$h hears the NVE" nt_hv_sees_nve "$h"; done

# one hook configuration per hypervisor
for h in hv1 hv2; do
    mkdir -p "$NT_DIR/$h.markers"
    cat >"$NT_DIR/$h.hook.conf" <<EOC
socket = "$NT_DIR/$h.sock"
timeout = 3000
marker-dir = "$NT_DIR/$h.markers"
run-dir = "$NT_DIR/$h.run"
portgroup "tenants/web" { vn = "red" }
EOC
done
HLOG=$NT_DIR/hook.log
export NVDP_HOOK_LOG=$HLOG
# hook HV DRIVER DOMAIN OP SUBOP < xml: runs the installed script exactly
# as libvirt does (its stdout must stay empty: for "migrate" libvirt would
# take it as a replacement domain XML)
hook() {
    local h=$1 drv=$2 rc=0
    shift 2
    nt_log_mark "$HLOG"
    NVDP_HOOK_CONF=$NT_DIR/$h.hook.conf "$HOOKS/$drv.d/splitnve" "$@" - \
        >"$NT_DIR/hook.out" 2>"$NT_DIR/hook.err" || rc=$?
    [ -s "$NT_DIR/hook.out" ] && nt_fail "hook $* wrote to stdout: $(cat "$NT_DIR/hook.out")"
    return $rc
}
# hook_rc WHAT RC HV DRIVER DOMAIN OP SUBOP < xml
hook_rc() {
    local what=$1 want=$2 rc=0
    shift 2
    hook "$@" || rc=$?
    [ "$rc" = "$want" ] || nt_fail "$what: exit $rc, expected $want (stderr: $(cat "$NT_DIR/hook.err"))"
    nt_log "ok: $what (exit $rc)"
}

DUUID=8f0b2a4c-1d3e-4f5a-9b6c-7d8e9f0a1b2c
MAC=52:54:00:aa:00:01 MAC2=52:54:00:aa:00:02
# The VNIC UUIDs the hook derives: UUIDv5(ns, "<domain uuid>/<mac>"), as
# documented in nvdp-hook(8); computed independently here.
v5() { /usr/bin/python3 -c "import uuid,sys; print(uuid.uuid5(uuid.UUID('6b1c3f0e-4f6a-5c2e-9d1a-73706c69746e'), sys.argv[1]))" "$1"; }
U1=$(v5 "$DUUID/$MAC") U2=$(v5 "$DUUID/$MAC2")
# dom_xml VN [TARGET]: a qemu domain, first NIC in VN by metadata, second
# NIC in "red" through the portgroup map, third NIC not ours
dom_xml() {
    cat <<EOX
<domain type='kvm'>
  <name>web1</name>
  <uuid>$DUUID</uuid>
  <metadata>
    <nvdp:vnics xmlns:nvdp="urn:splitnve:nvdp:1">
      <nvdp:vn mac="$MAC" name="$1"><nvdp:ip address="10.1.0.11"/></nvdp:vn>
    </nvdp:vnics>
  </metadata>
  <devices>
    <interface type='bridge'>
      <mac address='$MAC'/>
      <source bridge='br0'/>
      ${2:+<target dev='$2'/>}
    </interface>
    <interface type='network'>
      <mac address='$MAC2'/>
      <source network='tenants' portgroup='web'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:aa:00:03'/>
      <source network='default'/>
    </interface>
  </devices>
</domain>
EOX
}
nve_state() { nt_nve_vnic nve "$1" "$2" | jq -r .state; }
nve_count() { nt_nve_vnic_count nve "$@"; }

# ---- 1. plain start: prepare (pre-associate) -> start -> started -------
hook_rc "prepare" 0 hv1 qemu web1 prepare begin < <(dom_xml blue)
nt_assert_eq "NVE: pre-associated on port1 at prepare" preassociated "$(nve_state "$U1" port1 | sed 's/-rr$//')"
nt_logged "^nvdp-hook\[[0-9]+\]: qemu web1 prepare: $MAC \(VNIC $U1\) pre-associated to VN blue: tag [0-9]+ \[[0-9]+ ms\]$"
hook_rc "start" 0 hv1 qemu web1 start begin < <(dom_xml blue)
nt_assert_eq "NVE: associated on port1" associated "$(nve_state "$U1" port1)"
tag=$(nt_hv_field hv1 "$U1" tag)
nt_logged "qemu web1 start: $MAC \(VNIC $U1\) attached to VN blue: tag $tag \["
nt_logged "qemu web1 start: $MAC2 \(VNIC $U2\) attached to VN red: tag [0-9]+"
nt_assert_eq "NVE: portgroup NIC in red" red "$(nt_nve_vnic nve "$U2" port1 | jq -r .vn)"
nt_assert_eq "hv1: VNIC attached" attached "$(nt_hv_field hv1 "$U1" state)"
nt_assert_eq "hv1: the IP from the metadata" 10.1.0.11 "$(nt_json hv1 vnic list | jq -r --arg u "$U1" '.[]|select(.vnic==$u)|.ips[0]')"
nt_assert_eq "NVE: only our two NICs" 2 "$(nt_json nve vnics | jq '[.. | objects | select(.vnic? != null)] | length')"
hook_rc "started (tap name known)" 0 hv1 qemu web1 started begin < <(dom_xml blue vnet0)
nt_assert_eq "NVE: still associated once" 1 "$(nve_count "$U1")"
nt_logged "qemu web1 started: the start's hook calls took [0-9]+ ms \(bound 3000 ms\)"
nt_assert_eq "the start's budget file is gone once started" "" "$(ls "$NT_DIR/hv1.run")"

# ---- 2. stop: stopped -> release, intent shutdown ------------------------
hook_rc "stopped" 0 hv1 qemu web1 stopped end < <(dom_xml blue vnet0)
nt_logged "qemu web1 stopped: $MAC \(VNIC $U1, VN blue\): disassociate, intent shutdown: hv-agent sends it \(state detaching\)"
nt_wait 5 "NVE forgot the VNIC" nt_eq 0 nve_count "$U1"
nt_assert_eq "NVE forgot the portgroup NIC" 0 "$(nve_count "$U2")"
hook_rc "release (nothing left: still fine)" 0 hv1 qemu web1 release end < <(dom_xml blue vnet0)
nt_logged "qemu web1 release: $MAC .*intent shutdown: nothing to do: hv-agent does not know the VNIC"
nt_logged "qemu web1 release: the stop's hook calls took [0-9]+ ms \(bound 3000 ms\)"
nt_assert_eq "hv1 forgot the VNIC" "" "$(nt_hv_field hv1 "$U1" state)"
nt_assert_eq "no budget file left after the stop" "" "$(ls "$NT_DIR/hv1.run")"

# ---- 3. the NVE refuses: start fails, stderr says why -------------------
hook_rc "start in a VN the NVE does not know" 1 hv1 qemu web1 start begin < <(dom_xml vni:999)
grep -q "refused" "$NT_DIR/hook.err" || nt_fail "no refusal on stderr: $(cat "$NT_DIR/hook.err")"
grep -q "vni:999" "$NT_DIR/hook.err" || nt_fail "stderr does not name the VN: $(cat "$NT_DIR/hook.err")"
nt_log "stderr: $(head -1 "$NT_DIR/hook.err")"
nt_logged "qemu web1 start: attach of $MAC to VN vni:999 refused: .*unknown-vn"
hook_rc "prepare in an unknown VN" 1 hv1 qemu web1 prepare begin < <(dom_xml vni:999)
# libvirt runs stopped/release after a failed start: they clean up, exit 0
hook_rc "stopped after the failed start" 0 hv1 qemu web1 stopped end < <(dom_xml vni:999)
hook_rc "release after the failed start" 0 hv1 qemu web1 release end < <(dom_xml vni:999)
nt_wait 5 "hv1 forgot the refused VNIC" nt_eq "" nt_hv_field hv1 "$U1" state

# ---- 4. migration hv1 -> hv2 ---------------------------------------------
hook_rc "source start" 0 hv1 qemu web1 start begin < <(dom_xml blue)
hook_rc "destination migrate" 0 hv2 qemu web1 migrate begin < <(dom_xml blue)
nt_assert_eq "NVE: pre-associated on port2 (destination)" 1 "$(nve_count "$U1" port2)"
nt_assert "NVE: port2 entry is a pre-association" test "$(nve_state "$U1" port2 | cut -c1-13)" = preassociated
hook_rc "destination prepare" 0 hv2 qemu web1 prepare begin < <(dom_xml blue)
nt_assert_eq "NVE: associated on port1 (source) meanwhile" associated "$(nve_state "$U1" port1)"
dtag=$(nt_hv_field hv2 "$U1" tag)
nt_assert "destination reserved a tag in port2's range" test "${dtag:-0}" -ge 100 -a "${dtag:-0}" -le 199
# hv-agent's libvirt watcher (hv_virt) leaves this marker when libvirt
# reports the domain suspended/stopped for migration
touch "$NT_DIR/hv1.markers/$DUUID"
hook_rc "source stopped (migrated)" 0 hv1 qemu web1 stopped end < <(dom_xml blue vnet0)
nt_logged "qemu web1 stopped: $MAC .*intent migration"
nt_wait 5 "source port released" nt_eq 0 nve_count "$U1" port1
nt_assert_eq "destination pre-association survived" 1 "$(nve_count "$U1" port2)"
# hv-agent's watcher clears the marker when libvirt reports the stop: the
# release keeps the intent its stop's first step decided
rm -f "$NT_DIR/hv1.markers/$DUUID"
hook_rc "source release" 0 hv1 qemu web1 release end < <(dom_xml blue vnet0)
nt_logged "qemu web1 release: $MAC .*intent migration"
hook_rc "destination start" 0 hv2 qemu web1 start begin < <(dom_xml blue)
hook_rc "destination started" 0 hv2 qemu web1 started begin < <(dom_xml blue vnet5)
nt_assert_eq "NVE: associated on port2" associated "$(nve_state "$U1" port2)"
nt_assert_eq "destination kept its reserved tag" "$dtag" "$(nt_hv_field hv2 "$U1" tag)"
nt_assert_eq "NVE: only on port2" 1 "$(nve_count "$U1")"

# ---- 5. contrast: a source stop without the marker is a shutdown --------
# (a stale pre-association elsewhere is purged by intent shutdown)
hook_rc "hv1 pre-associates the same domain" 0 hv1 qemu web1 prepare begin < <(dom_xml blue)
nt_assert_eq "VNIC on both ports" 2 "$(nve_count "$U1")"
hook_rc "hv1 stopped (no marker: shutdown)" 0 hv1 qemu web1 stopped end < <(dom_xml blue)
nt_wait 5 "shutdown purged the VNIC everywhere" nt_eq 0 nve_count "$U1"
hook_rc "hv2 release" 0 hv2 qemu web1 release end < <(dom_xml blue vnet5)
nt_wait 5 "hv2 forgot it" nt_eq "" nt_hv_field hv2 "$U1" state

# ---- 6. LXC driver: same path (libvirt's lxc hook operations) ------------
hook_rc "lxc prepare" 0 hv1 lxc ct1 prepare begin < <(dom_xml blue)
hook_rc "lxc start" 0 hv1 lxc ct1 start begin < <(dom_xml blue)
nt_assert_eq "NVE: lxc VNIC associated" associated "$(nve_state "$U1" port1)"
hook_rc "lxc migrate is not an lxc operation: ignored" 0 hv1 lxc ct1 migrate begin < <(dom_xml blue)
hook_rc "lxc stopped" 0 hv1 lxc ct1 stopped end < <(dom_xml blue)
nt_wait 5 "NVE: lxc VNIC gone" nt_eq 0 nve_count "$U1"

# ---- 7. what is not ours, broken input, the command line -------------------
plain='<domain><name>p</name><uuid>0e3f6a1c-5b2d-4c7e-8f90-a1b2c3d4e5f6</uuid><devices><interface type="network"><mac address="52:54:00:10:20:30"/><source network="default"/></interface></devices></domain>'
cat >"$NT_DIR/nohv.conf" <<EOC
socket = "$NT_DIR/nonexistent.sock"
run-dir = "$NT_DIR/nohv.run"
EOC
rc=0; NVDP_HOOK_CONF=$NT_DIR/nohv.conf "$QEMU_HOOK" p start begin - <<<"$plain" 2>"$NT_DIR/hook.err" || rc=$?
nt_assert_eq "a domain without our metadata needs no hv-agent" 0 "$rc"
nt_log_mark "$HLOG"
rc=0; NVDP_HOOK_CONF=$NT_DIR/nohv.conf "$QEMU_HOOK" web1 start begin - < <(dom_xml blue) 2>"$NT_DIR/hook.err" || rc=$?
nt_assert_eq "ours, hv-agent unreachable: start fails" 1 "$rc"
grep -q "cannot reach hv-agent" "$NT_DIR/hook.err" || nt_fail "stderr: $(cat "$NT_DIR/hook.err")"
nt_logged "qemu web1 start: attach: cannot reach hv-agent at $NT_DIR/nonexistent.sock"
rc=0; NVDP_HOOK_CONF=$NT_DIR/nohv.conf "$QEMU_HOOK" web1 stopped end - < <(dom_xml blue) 2>/dev/null || rc=$?
nt_assert_eq "hv-agent unreachable: stop still exits 0" 0 "$rc"
hook_rc "malformed XML at start fails" 1 hv1 qemu web1 start begin <<<"<domain><name>x</name>"
grep -q "malformed domain XML" "$NT_DIR/hook.err" || nt_fail "stderr: $(cat "$NT_DIR/hook.err")"
nt_logged "qemu web1 start: malformed domain XML"
hook_rc "malformed XML at stop: exit 0" 0 hv1 qemu web1 stopped end <<<"<domain>"
hook_rc "unknown operation ignored" 0 hv1 qemu web1 frobnicate begin < <(dom_xml blue)
nt_assert_rc "nvdp-hook -h" 0 "$NVDP_HOOK_BIN" -h
grep -q "^usage: nvdp-hook" <<<"$NT_OUT" && grep -q "splitnve/nvdp-hook.conf" <<<"$NT_OUT" ||
    nt_fail "nvdp-hook -h: $NT_OUT"
nt_assert_rc "nvdp-hook without -D: usage" 2 "$NVDP_HOOK_BIN" web1 start begin -
printf 'run-dir = "%s"\nunreachable = "maybe"\n' "$NT_DIR/bad.run" >"$NT_DIR/bad.conf"
rc=0; NVDP_HOOK_CONF=$NT_DIR/bad.conf "$QEMU_HOOK" web1 start begin - < <(dom_xml blue) 2>"$NT_DIR/hook.err" || rc=$?
nt_assert_eq "a bad unreachable policy fails the start" 1 "$rc"
grep -q "unreachable must be fail|pending" "$NT_DIR/hook.err" || nt_fail "stderr: $(cat "$NT_DIR/hook.err")"
# the option's old name still works, and the log says what it became
printf 'run-dir = "%s"\non-timeout = "continue"\n' "$NT_DIR/old.run" >"$NT_DIR/old.conf"
nt_log_mark "$HLOG"
rc=0; NVDP_HOOK_CONF=$NT_DIR/old.conf "$QEMU_HOOK" p start begin - <<<"$plain" 2>/dev/null || rc=$?
nt_assert_eq "on-timeout (old name) accepted" 0 "$rc"
nt_logged 'on-timeout = "continue" is now unreachable = "pending"'

# ---- 8. the NVE is silent: the policy, one bound on a whole start or stop
# (wall-clock figures are logged; the assertions use the hook's own figure,
# which a loaded machine's process start-ups do not inflate; the wall clock
# only guards against a hang)
nt_stop nve
sed -i 's/^timeout = .*/timeout = 1500/' "$NT_DIR/hv1.hook.conf"
# (a) unreachable = fail, the default: the start's first step fails it
t0=$(date +%s%N)
hook_rc "NVE silent, unreachable = fail: prepare fails the start" 1 hv1 qemu web1 prepare begin < <(dom_xml blue)
ms=$(nt_ms_since "$t0")
nt_log "figure: a start failed for an NVE that does not answer in $ms ms (bound 1500 ms)"
nt_assert "the failed start ended (bound 1500 ms; $ms ms, not a hang)" test "$ms" -lt 10000
grep -q "no answer from the NVE within the start's 1500 ms (unreachable = fail)" "$NT_DIR/hook.err" ||
    nt_fail "stderr: $(cat "$NT_DIR/hook.err")"
nt_logged "qemu web1 prepare: $MAC to VN blue: no answer from the NVE within the start's 1500 ms \(unreachable = fail\): the start fails"
# libvirt then runs stopped and release: a stop never waits for the NVE
t0=$(date +%s%N)
hook_rc "stopped, NVE silent" 0 hv1 qemu web1 stopped end < <(dom_xml blue)
hook_rc "release, NVE silent" 0 hv1 qemu web1 release end < <(dom_xml blue)
ms=$(nt_ms_since "$t0")
nt_logged "qemu web1 release: the stop's hook calls took [0-9]+ ms \(bound 1500 ms\)"
used=$(nt_log_since | sed -n 's/.*hook calls took \([0-9]*\) ms.*/\1/p')
nt_log "figure: a stop (stopped + release) with the NVE silent took $ms ms ($used ms in the hook)"
# waiting for the NVE would take most of the bound, and did, once per call
nt_assert "the stop does not wait for the NVE ($used ms in the hook)" test "${used:-99999}" -lt 750
nt_assert_eq "hv1 keeps the disassociation for the NVE" detaching "$(nt_hv_field hv1 "$U1" state)"
nt_assert_eq "no budget file left" "" "$(ls "$NT_DIR/hv1.run")"

# (b) unreachable = pending: the domain starts, its three steps share the bound
echo 'unreachable = "pending"' >>"$NT_DIR/hv1.hook.conf"
t0=$(date +%s%N)
hook_rc "pending: prepare" 0 hv1 qemu web1 prepare begin < <(dom_xml blue)
nt_logged "qemu web1 prepare: $MAC to VN blue: pending, no answer from the NVE within the start's 1500 ms \(unreachable = pending\)"
hook_rc "pending: start" 0 hv1 qemu web1 start begin < <(dom_xml blue)
hook_rc "pending: started" 0 hv1 qemu web1 started begin < <(dom_xml blue vnet0)
ms=$(nt_ms_since "$t0")
nt_logged "qemu web1 started: $MAC2 to VN red: pending"
nt_logged "qemu web1 started: the start's hook calls took [0-9]+ ms \(bound 1500 ms\)"
used=$(nt_log_since | sed -n 's/.*hook calls took \([0-9]*\) ms.*/\1/p')
nt_log "figure: prepare + start + started with the NVE silent: $ms ms ($used ms in the hook)"
# the waiting stops at the bound; the calls after it still take their
# few milliseconds each
nt_assert "one bound for the whole start: the hook's own figure is the bound, not three (4500 ms) ($used ms)" test "${used:-99999}" -le 2000
nt_assert_eq "hv1: the VNIC is pending" pending "$(nt_hv_field hv1 "$U1" state)"
# the NVE appears: hv-agent attaches the VNIC, no hook call involved
nt_start_nve nve nve
nt_wait 10 "hv1 attached the VNIC once the NVE appeared" nt_eq attached nt_hv_field hv1 "$U1" state
nt_assert_eq "NVE: associated on port1" associated "$(nve_state "$U1" port1)"
nt_pass
