# evpn.sh - FRR (zebra + bgpd) in network namespaces, and the EVPN topology
# of the tests, the bench and the demo: NVEs and a route reflector on one
# underlay. FRR runs as it was found to work with Debian's FRR
# 8.4: one run directory per instance (owned by frr), no systemd, no
# watchfrr, no -N, no `log file` in the config.
# Usage: . tests/lib/netns.sh; nt_init NAME; . tests/lib/evpn.sh

FRR_BIN=${FRR_BIN:-/usr/lib/frr}

nt_frr_check() {
    [ -x "$FRR_BIN/zebra" ] && [ -x "$FRR_BIN/bgpd" ] && command -v vtysh >/dev/null 2>&1 ||
        nt_skip "FRR not installed (apt-get install frr; run.sh deps installs it)"
    id frr >/dev/null 2>&1 || nt_skip "no frr user (the frr package makes it)"
    # the daemons run as frr: their run directories under NT_DIR must be
    # reachable (NT_DIR itself stays unreadable to others)
    chmod 711 "$NT_DIR"
}

# nt_frr_dir NAME: the run directory of instance NAME (pid files, sockets).
nt_frr_dir() { printf '%s/frr-%s' "$NT_DIR" "$1"; }
# nt_frr_newdir NAME: that directory, with zebra.conf (the configs are
# written before each start: a restart takes the current one).
nt_frr_newdir() {
    mkdir -p "$(nt_frr_dir "$1")"
    echo "hostname $1" >"$(nt_frr_dir "$1")/zebra.conf"
}

# nt_frr_conf_nve NAME ROUTER_ID RR_IP: bgpd.conf of an NVE that peers with
# the route reflector only and advertises every VNI zebra sees. BGP
# keepalive and hold times: FRR_TIMERS (default "3 9": quick to notice a
# stopped peer; a bench that starves the CPU wants longer ones).
nt_frr_conf_nve() {
    nt_frr_newdir "$1"
    cat >"$(nt_frr_dir "$1")/bgpd.conf" <<EOF
hostname $1
router bgp 65000
 bgp router-id $2
 no bgp default ipv4-unicast
 neighbor $3 remote-as 65000
 neighbor $3 timers ${FRR_TIMERS:-3 9}
 neighbor $3 timers connect 1
 address-family l2vpn evpn
  neighbor $3 activate
  advertise-all-vni
 exit-address-family
EOF
}

# nt_frr_conf_rr NAME ROUTER_ID RANGE: a route reflector accepting any
# peer of RANGE (e.g. 192.0.2.0/24) as a client; it has no VNIs.
nt_frr_conf_rr() {
    nt_frr_newdir "$1"
    cat >"$(nt_frr_dir "$1")/bgpd.conf" <<EOF
hostname $1
router bgp 65000
 bgp router-id $2
 no bgp default ipv4-unicast
 neighbor NVE peer-group
 neighbor NVE remote-as 65000
 neighbor NVE timers ${FRR_TIMERS:-3 9}
 bgp listen range $3 peer-group NVE
 address-family l2vpn evpn
  neighbor NVE activate
  neighbor NVE route-reflector-client
 exit-address-family
EOF
}

# nt_frr_start NS NAME: zebra, then bgpd once zebra listens. The daemons
# keep every fd they inherit: all but 0-2 are closed, and those go to
# /dev/null, so that no pipe of the test harness stays open.
nt_frr_start() {
    local ns d z b
    ns=$(nt_nsname "$1"); d=$(nt_frr_dir "$2")
    chown -R frr:frr "$d"
    rm -f "$d/zserv.api" "$d"/*.pid
    # -s: zebra's netlink buffer, Debian's default (/etc/frr/daemons): a
    # smaller one overruns on 10,000 MACs at once and zebra exits
    nt_frr_exec "$ns" "$FRR_BIN/zebra" -d -A 127.0.0.1 -P 0 -s 90000000 -f "$d/zebra.conf" \
        -i "$d/zebra.pid" -z "$d/zserv.api" --vty_socket "$d" --log "file:$d/zebra.log"
    nt_wait 10 "$2's zebra" test -S "$d/zserv.api"
    nt_frr_exec "$ns" "$FRR_BIN/bgpd" -d -A 127.0.0.1 -P 0 -f "$d/bgpd.conf" \
        -i "$d/bgpd.pid" -z "$d/zserv.api" --vty_socket "$d" --log "file:$d/bgpd.log"
    nt_wait 10 "$2's bgpd" test -s "$d/bgpd.pid"
    z=$(cat "$d/zebra.pid"); b=$(cat "$d/bgpd.pid")
    NT_PIDS+=("$z" "$b") # stopped by nt_cleanup with the rest
}
nt_frr_exec() {
    local ns=$1 what=${2##*/}
    shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
        done
        exec ip netns exec "$ns" "$@" </dev/null >/dev/null 2>&1
    ) || nt_fail "cannot start $what in $ns (see its log in $NT_DIR)"
}

# nt_frr_stop NAME: both daemons, and waits until they are gone (FRR
# deletes what it installed on the way out).
nt_frr_stop() {
    local d p keep=() i
    d=$(nt_frr_dir "$1")
    for f in bgpd zebra; do
        p=$(cat "$d/$f.pid" 2>/dev/null) || continue
        kill "$p" 2>/dev/null
        for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && nt_fail "$1's $f (pid $p) did not stop"
        for i in "${NT_PIDS[@]}"; do [ "$i" = "$p" ] || keep+=("$i"); done
        NT_PIDS=("${keep[@]}"); keep=()
        rm -f "$d/$f.pid"
    done
}

# nt_vtysh NAME CMD...: vtysh against instance NAME.
nt_vtysh() {
    local d a=()
    d=$(nt_frr_dir "$1"); shift
    for c in "$@"; do a+=(-c "$c"); done
    vtysh --vty_socket "$d" "${a[@]}" 2>/dev/null
}

# nt_frr_has_route NAME MAC: an EVPN type-2 route for MAC is in NAME's BGP
# table (`show bgp l2vpn evpn route`).
nt_frr_has_route() {
    nt_vtysh "$1" 'show bgp l2vpn evpn route type macip' | grep -qi "$2"
}

# ---- the topology -----------------------------------------------------------
# nt_evpn_underlay N: namespace "ul" bridges the underlay; namespace "rr"
# (192.0.2.100) runs the route reflector; nve1..nveN (192.0.2.I) each have
# ul0 on it. The RR's FRR is started; the NVEs' are not (nt_evpn_frr).
NT_EVPN_RR=192.0.2.100
nt_evpn_underlay() {
    local i
    nt_ns ul
    ip -n "$(nt_nsname ul)" link add ul0 type bridge forward_delay 0 stp_state 0 ||
        nt_fail "underlay bridge"
    ip -n "$(nt_nsname ul)" link set ul0 up
    nt_ns rr
    nt_veth rr ul0 ul rr
    ip -n "$(nt_nsname ul)" link set rr master ul0
    ip -n "$(nt_nsname rr)" addr add "$NT_EVPN_RR/24" dev ul0
    for i in $(seq 1 "$1"); do
        nt_ns "nve$i"
        nt_veth "nve$i" ul0 ul "nve$i"
        ip -n "$(nt_nsname ul)" link set "nve$i" master ul0
        ip -n "$(nt_nsname "nve$i")" addr add "192.0.2.$i/24" dev ul0
    done
    nt_frr_conf_rr rr "$NT_EVPN_RR" 192.0.2.0/24
    nt_frr_start rr rr
}

# nt_evpn_vm NAME HOSTNS IF MAC IP: a VM, namespace NAME behind a veth whose
# host side IF is in HOSTNS (its hypervisor, or a kernel NVE's bridge); the
# overlay's MTU, no offloads (the NVEs forward frame by frame), no IPv6.
nt_evpn_vm() {
    nt_ns "$1"
    ip -n "$(nt_nsname "$2")" link add "$3" type veth peer name eth0 netns "$(nt_nsname "$1")" ||
        nt_fail "veth $3"
    ip -n "$(nt_nsname "$1")" link set eth0 address "$4" mtu 1450
    nt_in "$1" ethtool -K eth0 tso off gso off >/dev/null 2>&1
    ip -n "$(nt_nsname "$1")" addr add "$5/24" dev eth0
    nt_in "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$(nt_nsname "$1")" link set eth0 up
    ip -n "$(nt_nsname "$2")" link set "$3" up
}

# nt_evpn_frr I: FRR of nveI, peering with the route reflector.
nt_evpn_frr() {
    nt_frr_conf_nve "nve$1" "192.0.2.$1" "$NT_EVPN_RR"
    nt_frr_start "nve$1" "nve$1"
}

# nt_evpn_nve_extra I: the underlay and evpn sections of nveI's
# nve-agent.conf (NVE_EVPN_OPTS: more evpn options, one per line).
nt_evpn_nve_extra() {
    cat <<EOF
underlay {
    interface = "ul0"
    local-ip = "192.0.2.$1"
}
evpn {
    frr-rundir = "$(nt_frr_dir "nve$1")"
${NVE_EVPN_OPTS:-}
}
EOF
}

# nt_evpn_flood NVE VNI: NVE's forwarder flood list for VNI, sorted.
nt_evpn_flood() {
    nt_jq "$1" '[.vns[] | select(.vni == '"$2"') | .flood[]] | sort | join(",")' fwd
}
# nt_evpn_mac NVE VNI MAC: "TYPE REMOTE" of MAC in NVE's forwarder ("" when
# absent), " moved" appended for a MAC that moved away from NVE.
nt_evpn_mac() {
    nt_jq "$1" '[.vns[] | select(.vni == '"$2"') | .macs[] | select(.mac == "'"$3"'")
                 | "\(.type) \(.remote // "-")\(if .moved then " moved" else "" end)"][0] // ""' fwd
}
