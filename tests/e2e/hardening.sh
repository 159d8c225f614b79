#!/bin/bash
# hardening.sh - the daemons as their systemd units run them: each says
# READY=1 on NOTIFY_SOCKET once it serves (RELOADING=1/READY=1 around a
# SIGHUP, STOPPING=1 on the way out); once started, every thread keeps only
# the capabilities its daemon still needs (nve-agent NET_RAW and NET_ADMIN,
# BPF and PERFMON with the XDP fast path; hv-agent NET_ADMIN for tc-bpf,
# none without a data plane), with the bounding set cut down and
# no_new_privs, and still does what needs them (a reload that adds a port
# and the fast path on it, a tc-bpf attach to a VNIC that comes later);
# a configuration file others could write is refused at start and at
# reload; control sockets are 0600, 0660 with control-group.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init hardening
command -v python3 >/dev/null || nt_skip "python3 missing"
have() { grep -q "define $1 1" "$NT_BUILD/config.h"; }

# notify_listen NAME: a NOTIFY_SOCKET at $NT_DIR/NAME.notify, as systemd's:
# each datagram becomes a line of NAME.notified ("|" for its newlines),
# with whether NAME's control socket existed when it came.
notify_listen() {
    python3 - "$NT_DIR/$1.notify" "$NT_DIR/$1.notified" "$NT_DIR/$1.sock" <<'EOF' &
import os, socket, sys
path, out, ctl = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
while True:
    d = s.recv(4096).decode()
    with open(out, "a") as f:
        f.write("%s %s\n" % (d.replace("\n", "|"),
                             "[socket]" if os.path.exists(ctl) else "[no socket]"))
EOF
    NT_PIDS+=($!)
    nt_wait 5 "$1's notify socket" test -S "$NT_DIR/$1.notify"
}
notified() { grep -c "^$2" "$NT_DIR/$1.notified" 2>/dev/null; }

# caps NAME FIELD: the distinct values of FIELD (CapEff, CapBnd...) over
# every thread of daemon NAME, and the number of threads
caps() {
    local pid
    pid=$(nt_pid "$1")
    cat /proc/"$pid"/task/*/status | awk -v f="$2:" '$1 == f {print $2}' | sort -u | paste -sd' '
}
threads() { ls /proc/"$(nt_pid "$1")"/task | wc -l; }
# policy NAME: the scheduling policy (0 normal, 2 SCHED_RR) of daemon
# NAME's control loop (its main thread), then the distinct ones of its
# other threads
policy() {
    local pid t
    pid=$(nt_pid "$1")
    printf '%s / ' "$(awk '{print $41}' /proc/"$pid"/stat)"
    for t in /proc/"$pid"/task/*; do
        [ "${t##*/}" = "$pid" ] || awk '{print $41}' "$t/stat"
    done | sort -u | paste -sd' '
}
# bits as /proc shows them: NET_ADMIN 12, NET_RAW 13, PERFMON 38, BPF 39
CAP_NET_ADMIN=0000000000001000 CAP_NET=0000000000003000 NONE=0000000000000000
CAP_NET_BPF=000000c000003000

nt_ns nve; nt_ns hv1; nt_ns hv2; nt_ns vm1
nt_veth nve ap1 hv1 up0 "$NT_MAC_AP1" "$NT_MAC_HV1"
nt_veth nve ap2 hv2 up0 "$NT_MAC_AP2" "$NT_MAC_HV2"
nt_veth nve und nve und2   # the forwarder's underlay: its threads run
ip -n "$(nt_nsname nve)" addr add 192.0.2.1/24 dev und
ip -n "$(nt_nsname hv1)" link add vnet1 type veth peer name eth0 netns "$(nt_nsname vm1)"
ip -n "$(nt_nsname hv1)" link set vnet1 up

# ---- nve-agent -----------------------------------------------------------
export NVE_EXTRA='underlay {
    interface = "und"
    local-ip = "192.0.2.1"
}'
notify_listen nve
NOTIFY_SOCKET=$NT_DIR/nve.notify nt_start_nve nve nve
nt_wait 10 "nve-agent says READY=1" nt_eq 1 notified nve READY=1
nt_assert "READY=1 came once the control socket was there" \
    grep -q "^READY=1 \[socket\]" "$NT_DIR/nve.notified"
nt_assert "nve-agent runs its forwarder threads" test "$(threads nve)" -ge 3
# control-priority "rr 1" (the default): the control loop alone, never
# the forwarding threads
nt_assert_eq "nve-agent: control loop SCHED_RR, forwarding threads normal" \
    "2 / 0" "$(policy nve)"
nt_assert "nve-agent logs it" grep -q "control loop at rr 1" "$NT_DIR/nve.log"
# with the XDP fast path (the default where it can be: a build with BPF)
# the program is loaded per interface after the drop
if [ "$(nt_jq nve .fastpath.state fwd)" = on ]; then
    NVE_CAPS=$CAP_NET_BPF NVE_KEPT=cap_net_admin,cap_net_raw,cap_perfmon,cap_bpf
else
    NVE_CAPS=$CAP_NET NVE_KEPT=cap_net_admin,cap_net_raw
fi
nt_assert_eq "nve-agent: every thread's effective set" $NVE_CAPS "$(caps nve CapEff)"
nt_assert_eq "nve-agent: every thread's permitted set" $NVE_CAPS "$(caps nve CapPrm)"
nt_assert_eq "nve-agent: bounding set" $NVE_CAPS "$(caps nve CapBnd)"
nt_assert_eq "nve-agent: inheritable and ambient" "$NONE $NONE" \
    "$(caps nve CapInh) $(caps nve CapAmb)"
nt_assert_eq "nve-agent: no_new_privs" 1 "$(caps nve NoNewPrivs)"
nt_assert "nve-agent logs what it kept" \
    grep -q "capabilities: $NVE_KEPT=ep kept" "$NT_DIR/nve.log"
nt_assert_eq "nve-agent's control socket is 0600" 600 "$(stat -c %a "$NT_DIR/nve.sock")"
nt_assert_eq "nve-agent counts its control clients (limit 64, this one)" "64 1" \
    "$(nt_jq nve '"\(.control.max_connections) \(.control.connections)"' counters)"

# NET_RAW is still there: a reload opens a new port's sockets (NVDP's and
# the forwarder's ring); RELOADING=1 then READY=1 around it.
export NVE_PORTS="port1 ap1
port2 ap2"
nt_nve_conf nve >/dev/null
kill -HUP "$(nt_pid nve)"
nt_wait 10 "port2 up after the reload" nt_eq 2 nt_jq nve length ports
nt_wait 5 "READY=1 again after the reload" nt_eq 2 notified nve READY=1
nt_assert_eq "RELOADING=1 told" 1 "$(notified nve RELOADING=1)"
nt_start_hv hv2 hv2 up0
nt_wait 10 "hv2 on the new port hears the NVE" nt_hv_sees_nve hv2
nt_assert_eq "hv-agent: control loop SCHED_RR" 2 "$(policy hv2 | cut -d' ' -f1)"
nt_assert_rc "hv2 attaches on the new port" 0 nt_ctl hv2 vnic attach "$(nt_uuid 2)" \
    --vn blue --mac "$(nt_mac 2)" --wait=5
# packet sockets bound to ap2: NVDP's and the forwarder's ring
ap2_sockets() {
    local i
    i=$(nt_in nve cat /sys/class/net/ap2/ifindex)
    nt_in nve awk -v i="$i" 'NR > 1 && $5 == i' /proc/net/packet | wc -l
}
nt_wait 5 "nve-agent and its forwarder opened ap2" nt_eq 2 ap2_sockets
if [ "$NVE_CAPS" = "$CAP_NET_BPF" ]; then
    nt_wait 5 "the fast path attached to ap2 after the drop" nt_eq true \
        nt_jq nve '.fastpath.interfaces[] | select(.ifname == "ap2") | .attached' fwd
fi

# A configuration file others could write: a reload is refused...
chmod g+w "$NT_DIR/nve.conf"
nt_assert_rc "reload of a group-writable file refused" 1 nt_ctl nve reload
nt_assert "the refusal names the file and its mode" \
    grep -q "nve.conf: mode 0664 lets its group write it" "$NT_DIR/nve.log"
nt_assert_eq "the running configuration is kept" 2 "$(nt_jq nve length ports)"
# ...and so is a start, of either daemon, and -n says why.
for d in nve-agent hv-agent; do
    [ $d = nve-agent ] && bin=$NVE_AGENT conf=$NT_DIR/nve.conf || bin=$HV_AGENT conf=$NT_DIR/hv2.conf
    chmod 0646 "$conf"
    out=$("$bin" -n -f "$conf" 2>&1)
    nt_assert_eq "$d -n: a world-writable file refused" 1 $?
    nt_assert "$d names the file, its mode and the fix" \
        grep -q "$conf: mode 0646 lets anyone write it: refusing to use it (chmod go-w $conf)" <<<"$out"
    chmod 0644 "$conf"
    chown 65534 "$conf"
    out=$(nt_in nve timeout 10 "$bin" -d -f "$conf" -s "$NT_DIR/refused.sock" 2>&1)
    nt_assert_eq "$d does not start on a file owned by another user" 1 $?
    nt_assert "$d names the owner" grep -q "$conf: owned by uid 65534, not by root" <<<"$out"
    chown 0 "$conf"
done
nt_assert_rc "the same file, fixed, reloads" 0 nt_ctl nve reload

# ---- hv-agent ------------------------------------------------------------
# With its tc-bpf data plane it keeps NET_ADMIN (a VNIC that comes later is
# attached); libvirt's thread, started before the drop, loses the rest too.
HV_EXTRA="control-group = \"nogroup\""
if have HAVE_BPF; then HV_EXTRA+=$'\ndataplane = "bpf"'; fi
if have HAVE_LIBVIRT; then
    HV_EXTRA+=$'\nlibvirt-uri = "test:///default"'
    HV_EXTRA+=$'\nmigration-marker-dir = "'$NT_DIR/mig'"'
fi
export HV_EXTRA
notify_listen hv1
NOTIFY_SOCKET=$NT_DIR/hv1.notify nt_start_hv hv1 hv1 up0
nt_wait 10 "hv-agent says READY=1" nt_eq 1 notified hv1 READY=1
nt_assert "READY=1 came once the control socket was there" \
    grep -q "^READY=1 \[socket\]" "$NT_DIR/hv1.notified"
nt_assert_eq "hv1's control socket: group nogroup, 0660" "nogroup 660" \
    "$(stat -c '%G %a' "$NT_DIR/hv1.sock")"
nt_assert_eq "hv-agent counts its control clients" 64 \
    "$(nt_jq hv1 .control.max_connections counters)"
if have HAVE_LIBVIRT; then
    nt_assert "hv-agent runs libvirt's thread" test "$(threads hv1)" -ge 2
fi
if have HAVE_BPF; then
    nt_assert_eq "hv-agent (tc-bpf): every thread's effective set" $CAP_NET_ADMIN "$(caps hv1 CapEff)"
    nt_assert_eq "hv-agent (tc-bpf): bounding set" $CAP_NET_ADMIN "$(caps hv1 CapBnd)"
    nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1
    nt_assert_rc "attach a VNIC on vnet1" 0 nt_ctl hv1 vnic attach "$(nt_uuid 1)" \
        --vn blue --mac "$(nt_mac 1)" --ifname vnet1 --wait=5
    nt_wait 5 "vnet1's tc-bpf program attached after the drop" nt_eq true \
        nt_jq hv1 '.host.dataplane.vnics[] | select(.ifname == "vnet1") | .installed' status
fi
nt_assert_eq "hv-agent: inheritable, ambient, no_new_privs" "$NONE $NONE 1" \
    "$(caps hv1 CapInh) $(caps hv1 CapAmb) $(caps hv1 NoNewPrivs)"
# Without a data plane (hv2, default configuration on a build without
# tc-bpf, or dataplane = "none") it keeps nothing.
nt_stop hv2
HV_EXTRA='dataplane = "none"' nt_start_hv hv2 hv2 up0
nt_assert_eq "hv-agent without a data plane: no capability left" "$NONE $NONE" \
    "$(caps hv2 CapEff) $(caps hv2 CapPrm)"
nt_assert "it logs so" grep -q "capabilities: none kept" "$NT_DIR/hv2.log"

# STOPPING=1 on the way out.
nt_stop nve
nt_stop hv1
nt_assert_eq "nve-agent said STOPPING=1" 1 "$(notified nve STOPPING=1)"
nt_assert_eq "hv-agent said STOPPING=1" 1 "$(notified hv1 STOPPING=1)"
nt_pass
