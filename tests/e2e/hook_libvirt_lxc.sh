#!/bin/bash
# hook_libvirt_lxc.sh - a real libvirtd runs the installed splitnve hook:
# an LXC domain whose interface carries our metadata is started and
# destroyed with virsh, and the NVE's state follows (associate with the
# VNIC UUID derived from the domain, disassociate at destroy); hv-agent's
# data plane is attached to the domain's host-side veth. Each hook decision
# is logged; with the NVE down, "unreachable = fail" fails virsh start with
# the reason and "pending" starts the domain, attached once the NVE is
# back; a whole start is bounded, a destroy does not wait for the NVE.
# libvirtd runs inside hv1's network namespace (so its bridge and veths stay
# in our namespaces) and in a private mount namespace with hv1's sysfs and
# without the cgroup2 mount this host's hybrid layout breaks LXC with (see
# ../shared/LIBVIRT.md). What it changes outside our namespaces is undone at
# exit: the hook file in /etc/libvirt/hooks/lxc.d/, the libvirt-qemu
# user/groups the QEMU driver insists on (only if we created them).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init hook_libvirt_lxc
for c in /usr/sbin/libvirtd virsh nsenter unshare; do
    command -v "$c" >/dev/null ||
        nt_skip "$c missing: apt-get install libvirt-daemon libvirt-daemon-driver-lxc libvirt-clients"
done
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_lxc.so ] ||
    ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_lxc.so >/dev/null 2>&1 ||
    nt_skip "libvirt's LXC driver missing: apt-get install libvirt-daemon-driver-lxc"
if pgrep -x libvirtd >/dev/null || [ -S /var/run/libvirt/libvirt-sock ]; then
    nt_skip "a libvirtd already runs on this host: not starting a second one next to it"
fi
S=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
HOOKD=/etc/libvirt/hooks/lxc.d
HOOKF=$HOOKD/splitnve-test-$$
CREATED=()
lx_cleanup() {
    set +e
    if [ -n "${LVPID:-}" ]; then
        virsh -q -c lxc:///system destroy snt-ct1 >/dev/null 2>&1
        virsh -q -c lxc:///system undefine snt-ct1 >/dev/null 2>&1
        kill "$LVPID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$LVPID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$LVPID" 2>/dev/null
    fi
    rm -f "$HOOKF"
    for x in "${CREATED[@]}"; do
        case $x in
        user:*) userdel "${x#user:}" 2>/dev/null ;;
        group:*) groupdel "${x#group:}" 2>/dev/null ;;
        dir:*) rmdir "${x#dir:}" 2>/dev/null ;;
        esac
    done
    nt_cleanup
}
trap lx_cleanup EXIT

# ---- the daemons: NVE and hv-agent ----------------------------------------
nt_topo_direct
export NVE_PORTS="port1 ap1 tags=30-39" NVE_VNS="blue:100" HV_VNS="blue:100"
export HV_EXTRA='dataplane = "bpf"'
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1
ip -n "$(nt_nsname hv1)" link add nvbr0 type bridge forward_delay 0 stp_state 0
ip -n "$(nt_nsname hv1)" link set nvbr0 up

# ---- the hook, as make install puts it, pointing at this build ----------
for d in /etc/libvirt /etc/libvirt/hooks "$HOOKD"; do
    [ -d "$d" ] || { mkdir "$d" && CREATED=("dir:$d" "${CREATED[@]}"); }
done
hook_conf() { # [POLICY]
    printf 'socket = "%s"\ntimeout = %s\nrun-dir = "%s"\n%s' "$NT_DIR/hv1.sock" "$BOUND" \
        "$NT_DIR/hook.run" "${1:+unreachable = \"$1\"
}" >"$NT_DIR/hook.conf"
}
BOUND=2000
hook_conf
# libvirt clears the environment of hooks: the paths go into the script,
# and the log into a file (NVDP_HOOK_LOG; syslog on a real host)
HLOG=$NT_DIR/hook.log
sed -e "s|\${NVDP_HOOK_BIN:-@sbindir@/nvdp-hook}|$NT_BUILD/tools/nvdp-hook\" -c \"$NT_DIR/hook.conf|" \
    -e "s|^exec |NVDP_HOOK_LOG=\"$HLOG\" exec |" \
    "$S/hooks/lxc" >"$HOOKF" && chmod 755 "$HOOKF" || nt_fail "writing $HOOKF"
grep -q "^NVDP_HOOK_LOG=\"$HLOG\" exec \"$NT_BUILD/tools/nvdp-hook\" -c \"$NT_DIR/hook.conf\" -D lxc -- \"\$@\"" "$HOOKF" ||
    nt_fail "hook script not as expected: $(tail -1 "$HOOKF")"

# ---- libvirtd (the QEMU driver refuses to load without its user) --------
getent group kvm >/dev/null || { groupadd -r kvm && CREATED+=("group:kvm"); }
getent group libvirt-qemu >/dev/null || { groupadd -r libvirt-qemu && CREATED+=("group:libvirt-qemu"); }
id libvirt-qemu >/dev/null 2>&1 || {
    useradd -r -g kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu &&
        CREATED=("user:libvirt-qemu" "${CREATED[@]}"); }
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt
mkdir -p "$NT_DIR/cg"
nsenter --net="/var/run/netns/$(nt_nsname hv1)" unshare -m --propagation private sh -c '
    mount --rbind /sys/fs/cgroup "$1" &&
    mount -t sysfs sysfs /sys &&
    mount --rbind "$1" /sys/fs/cgroup &&
    { umount /sys/fs/cgroup/unified 2>/dev/null || true; } &&
    exec /usr/sbin/libvirtd --pid-file "$2"' sh "$NT_DIR/cg" "$NT_DIR/libvirtd.pid" \
    >"$NT_DIR/libvirtd.log" 2>&1 &
LVPID=$!
NT_PIDS+=("$LVPID")
lv_up() { kill -0 "$LVPID" 2>/dev/null || nt_skip "libvirtd cannot run here: $(tail -3 "$NT_DIR/libvirtd.log" | tr '\n' ' ')"
          virsh -q -c lxc:///system version >/dev/null 2>&1; }
nt_wait 20 "libvirtd answers" lv_up
V() { virsh -q -c lxc:///system "$@"; }

DU=3a5c7e9f-1b2d-4f6a-8c0e-2a4c6e8f0b1d MAC=52:54:00:1c:00:01
cat >"$NT_DIR/ct1.xml" <<EOX
<domain type='lxc'>
  <name>snt-ct1</name>
  <uuid>$DU</uuid>
  <metadata>
    <nvdp:vnics xmlns:nvdp="urn:splitnve:nvdp:1"><nvdp:vn name="blue"/></nvdp:vnics>
  </metadata>
  <memory unit='KiB'>65536</memory>
  <os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg>
      <initarg>trap 'exit 0' TERM; sleep 1000 &amp; wait</initarg></os>
  <devices>
    <console type='pty'/>
    <interface type='bridge'><mac address='$MAC'/><source bridge='nvbr0'/></interface>
  </devices>
</domain>
EOX
U=$(/usr/bin/python3 -c "import uuid; print(uuid.uuid5(uuid.UUID('6b1c3f0e-4f6a-5c2e-9d1a-73706c69746e'), '$DU/$MAC'))")
nt_assert_rc "virsh define" 0 V define "$NT_DIR/ct1.xml"
nt_assert "our metadata survives libvirt's parser" \
    sh -c "virsh -q -c lxc:///system metadata snt-ct1 urn:splitnve:nvdp:1 | grep -q 'name=\"blue\"'"
# (the init exits on SIGTERM: libvirt's destroy sends SIGTERM and waits
# 1.6 s before SIGKILL for an init that ignores it, as a bare PID 1 does)
nt_log_mark "$HLOG"
t0=$(date +%s%N)
if ! V start snt-ct1 >"$NT_DIR/start.out" 2>&1; then
    grep -qi 'cgroup\|Unable to create' "$NT_DIR/start.out" &&
        nt_skip "libvirt cannot start LXC domains here: $(tr '\n' ' ' <"$NT_DIR/start.out")"
    nt_fail "virsh start: $(cat "$NT_DIR/start.out")"
fi
nt_log "ok: virsh start"
nt_log "figure: virsh start took $(nt_ms_since "$t0") ms"
nt_assert_eq "NVE: the domain's VNIC is associated" associated "$(nt_nve_vnic nve "$U" | jq -r .state)"
tag=$(nt_hv_field hv1 "$U" tag)
nt_logged "lxc snt-ct1 prepare: $MAC \(VNIC $U\) pre-associated to VN blue"
nt_logged "lxc snt-ct1 started: $MAC \(VNIC $U\) attached to VN blue: tag $tag "
nt_logged "lxc snt-ct1 started: the start's hook calls took [0-9]+ ms \(bound $BOUND ms\)"
nt_assert_eq "NVE: in VN 100" 100 "$(nt_nve_vnic nve "$U" | jq -r .vni)"
vnet=$(nt_hv_field hv1 "$U" ifname)
nt_assert "hv1 knows the host-side veth ($vnet)" test -n "$vnet"
nt_assert "the veth is libvirt's (on nvbr0)" sh -c "ip -n $(nt_nsname hv1) -o link show master nvbr0 | grep -q '$vnet'"
nt_assert "hv1's data plane filter sits on $vnet" \
    sh -c "tc -n $(nt_nsname hv1) filter show dev '$vnet' ingress | grep -q hv_tag_vnic_in"

nt_log_mark "$HLOG"
t0=$(date +%s%N)
nt_assert_rc "virsh destroy" 0 V destroy snt-ct1
nt_log "figure: virsh destroy took $(nt_ms_since "$t0") ms"
nt_logged "lxc snt-ct1 stopped: $MAC \(VNIC $U, VN blue\): disassociate, intent shutdown: hv-agent sends it"
nt_logged "lxc snt-ct1 release: the stop's hook calls took [0-9]+ ms"
nt_wait 5 "NVE: disassociated at destroy" nt_eq 0 nt_nve_vnic_count nve "$U"
nt_assert_eq "hv1 forgot the VNIC" "" "$(nt_hv_field hv1 "$U" state)"

# the NVE refuses: libvirt fails the start with the hook's message
sed -i 's/name="blue"/name="vni:999"/' "$NT_DIR/ct1.xml"
nt_assert_rc "virsh define (VN unknown to the NVE)" 0 V define "$NT_DIR/ct1.xml"
nt_log_mark "$HLOG"
nt_assert_rc "virsh start fails when the NVE refuses" 1 V start snt-ct1
has_reason() { grep -q 'refused' <<<"$NT_ERR"; }
nt_assert "libvirt shows the hook's reason" has_reason
nt_log "libvirt said: $(grep -o "nvdp-hook: .*" <<<"$NT_ERR" | head -1)"
nt_logged "lxc snt-ct1 prepare: preassociate of $MAC to VN vni:999 refused: .*unknown-vn"
nt_assert_eq "the domain is not running" "shut off" "$(V domstate snt-ct1)"
nt_wait 5 "NVE holds nothing" nt_eq 0 nt_nve_vnic_count nve "$U"
nt_wait 5 "hv1 holds nothing" nt_eq "" nt_hv_field hv1 "$U" state

# ---- the NVE is down ------------------------------------------------------
sed -i 's/name="vni:999"/name="blue"/' "$NT_DIR/ct1.xml"
nt_assert_rc "virsh define (blue again)" 0 V define "$NT_DIR/ct1.xml"
nt_stop nve
# unreachable = fail (the default): virsh start fails, saying why, in one bound
nt_log_mark "$HLOG"
t0=$(date +%s%N)
nt_assert_rc "NVE down, unreachable = fail: virsh start fails" 1 V start snt-ct1
ms=$(nt_ms_since "$t0")
nt_log "figure: virsh start failed after $ms ms (bound $BOUND ms)"
nt_log "libvirt said: $(grep -o "nvdp-hook: .*" <<<"$NT_ERR" | head -1)"
nt_assert "libvirt shows the reason" grep -q "no answer from the NVE within the start's $BOUND ms (unreachable = fail)" <<<"$NT_ERR"
nt_assert "the failed start took at most its bound + 2 s ($ms ms)" test "$ms" -lt $((BOUND + 2000))
nt_logged "lxc snt-ct1 prepare: $MAC to VN blue: no answer from the NVE .*the start fails"
nt_assert_eq "the domain is not running" "shut off" "$(V domstate snt-ct1)"
nt_wait 5 "hv1 was told to let the VNIC go" nt_eq detaching nt_hv_field hv1 "$U" state

# unreachable = pending: the domain runs, its VNIC waits for the NVE
hook_conf pending
nt_log_mark "$HLOG"
t0=$(date +%s%N)
nt_assert_rc "NVE down, unreachable = pending: virsh start succeeds" 0 V start snt-ct1
ms=$(nt_ms_since "$t0")
nt_log "figure: virsh start (three hook calls, NVE down) took $ms ms (bound $BOUND ms)"
nt_assert "one bound for the whole start: $ms ms < $BOUND ms + 2 s" test "$ms" -lt $((BOUND + 2000))
nt_logged "lxc snt-ct1 prepare: $MAC to VN blue: pending, no answer from the NVE within the start's $BOUND ms \(unreachable = pending\)"
nt_logged "lxc snt-ct1 started: $MAC to VN blue: pending"
nt_logged "lxc snt-ct1 started: the start's hook calls took [0-9]+ ms \(bound $BOUND ms\)"
nt_assert_eq "the domain runs" running "$(V domstate snt-ct1)"
nt_assert_eq "hv1: the VNIC is pending" pending "$(nt_hv_field hv1 "$U" state)"
nt_start_nve nve nve
nt_wait 10 "hv1 attached the VNIC once the NVE was back" nt_eq attached nt_hv_field hv1 "$U" state
nt_assert_eq "NVE: associated" associated "$(nt_nve_vnic nve "$U" | jq -r .state)"
# a destroy with the NVE down does not wait for it
nt_stop nve
nt_log_mark "$HLOG"
t0=$(date +%s%N)
nt_assert_rc "virsh destroy, NVE down" 0 V destroy snt-ct1
ms=$(nt_ms_since "$t0")
nt_logged "lxc snt-ct1 release: the stop's hook calls took [0-9]+ ms"
used=$(nt_log_since | sed -n 's/.*hook calls took \([0-9]*\) ms.*/\1/p')
nt_log "figure: virsh destroy with the NVE down took $ms ms ($used ms in the hook)"
nt_assert "the destroy did not wait for the NVE ($used ms in the hook)" test "${used:-99999}" -lt 1000
nt_assert_eq "hv1 keeps the disassociation for the NVE" detaching "$(nt_hv_field hv1 "$U" state)"
nt_pass
