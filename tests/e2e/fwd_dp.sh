#!/bin/bash
# fwd_dp.sh - nve-agent's VXLAN forwarder (driven by bench/fwd_run, i.e. the
# same fwd_* tables nve-agent programs) against the Linux kernel's vxlan as
# the remote VTEP, over an IPv4 and an IPv6 underlay:
#
#   a (VN1 tag 100) --+                                   +-- br1{vx1 10100} -- x (VN1)
#                     +-- br0 in h -- acc0 [n] und ====== und [r]
#   b (VN2 tag 200) --+              acc1 -- c (VN1 tag 300)   +-- br2{vx2 20200} -- y (VN2)
#
# a and b (and x and y) have the SAME IPv4/IPv6 addresses in different VNs.
# Checks: ARP/ND across the overlay, ping v4/v6, TCP transfers both ways with
# checksums compared, local switching between ports with re-tagging, tenant
# isolation (captures), tshark decodes the underlay as VXLAN with the right
# VNIs, DF/ports/UDP checksum, the MTU drop, hostile frames on both sides
# dropped and counted per reason while forwarding goes on.
#
# FASTPATH=on (default) or off: the forwarder's XDP fast path. With it on,
# the veth peers of the forwarder's interfaces run NAPI (GRO on, as a NIC:
# a veth takes redirected frames only then) and the fast path must have
# carried the common case; off, no XDP program may be attached. Every check
# above holds in both modes (fwd_dp_off.sh runs the second). With it on, the
# fallbacks too: over the IPv6 underlay acc1 already carries another XDP
# program (no fast path there, logged), and over IPv4 acc0's peer stops
# taking redirected frames for a while (followed, logged).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
FASTPATH=${FASTPATH:-on}
nt_init "fwd_dp_$FASTPATH"
S=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
RUN=$NT_BUILD/bench/fwd_run
[ -x "$RUN" ] || nt_fail "$RUN not built (make check builds it)"
for c in tc clang ping tshark tcpdump ethtool sha256sum /usr/bin/python3; do
    command -v "$c" >/dev/null || nt_skip "$c missing"
done
# short names for the library's prefix, directory and helpers
P=$NT_PFX D=$NT_DIR
FPID=
log() { nt_log "$@"; }
fail() { nt_fail "$@"; }
ns() { nt_ns "$1"; }
nsx() { nt_in "$@"; }
bg() { local n=$1 lf=$2; shift 2; ip netns exec "$P$n" "$@" >"$D/$lf" 2>&1 & NT_PIDS+=($!); }

for v in 100 200 300; do
    for m in PUSH POP; do
        clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -DVID=$v -D$m \
            -c "$S/tests/e2e/fwd_tag.bpf.c" -o "$D/tag$v$m.o" || fail "bpf build"
    done
done
clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -DXDPPASS \
    -c "$S/tests/e2e/fwd_tag.bpf.c" -o "$D/xdpother.o" || fail "bpf build"

MA=02:00:00:0a:00:01 MB=02:00:00:0b:00:01 MC=02:00:00:0c:00:01
MX=02:00:00:0e:00:01 MY=02:00:00:0f:00:01 MNU=02:00:00:01:00:01 MRU=02:00:00:01:00:02

# vm NAME PEER_NS PEER_IF MAC IP4 IP6 [VID]: a VM namespace; with VID its
# eth0 tags on the wire (tc-bpf), and it sends complete segments (no TSO:
# a veth would otherwise carry 64 KB frames no NIC ever puts on a wire).
vm() {
    ns "$1"
    ip -n "$P$2" link add "$3" type veth peer name eth0 netns "$P$1" || fail "veth $3"
    ip -n "$P$1" link set eth0 address "$4"
    ip -n "$P$1" addr add "$5/24" dev eth0
    ip -n "$P$1" addr add "$6/64" dev eth0 nodad
    nsx "$1" ethtool -K eth0 tso off gso off >/dev/null 2>&1
    # A veth hands the next stack checksums its sender left partial, which
    # XDP cannot tell (the fast path leaves such frames to the forwarder):
    # with the fast path, the VMs but c send complete ones, as frames off a
    # wire are; c keeps the offload (its frames take the forwarder's path).
    if [ "$FASTPATH" = on ] && [ "$1" != c ]; then
        nsx "$1" ethtool -K eth0 tx off >/dev/null 2>&1
    fi
    # VXLAN practice: the tenant MTU leaves room for the encapsulation
    # (1430 + 14 fits under a 1500 underlay with IPv6 outer headers)
    ip -n "$P$1" link set eth0 mtu 1430
    ip -n "$P$1" link set eth0 up
    ip -n "$P$2" link set "$3" up
    if [ -n "${7:-}" ]; then
        tc -n "$P$1" qdisc add dev eth0 clsact
        tc -n "$P$1" filter add dev eth0 egress bpf da obj "$D/tag${7}PUSH.o" sec tc || fail "tc push"
        tc -n "$P$1" filter add dev eth0 ingress bpf da obj "$D/tag${7}POP.o" sec tc || fail "tc pop"
    fi
}

setup() { # $1 = underlay family
    local fam=$1
    ns n; ns h; ns r
    # the hypervisor's own stack stays quiet (no untagged RS/MLD on the
    # access link), so the drop counters count only what the test sends
    nsx h sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "${P}n" link add und type veth peer name und netns "${P}r" || fail "veth und"
    ip -n "${P}n" link set und address $MNU; ip -n "${P}r" link set und address $MRU
    ip -n "${P}h" link add upl type veth peer name acc0 netns "${P}n" || fail "veth acc0"
    ip -n "${P}h" link add br0 type bridge forward_delay 0 stp_state 0
    ip -n "${P}h" link set upl master br0
    vm a h va $MA 10.0.0.1 fd00::1 100
    vm b h vb $MB 10.0.0.1 fd00::1 200
    ip -n "${P}h" link set va master br0; ip -n "${P}h" link set vb master br0
    for i in upl br0; do ip -n "${P}h" link set $i up; done
    vm c n acc1 $MC 10.0.0.5 fd00::5 300
    ip -n "${P}n" link set acc0 up
    if [ "$fam" = 4 ]; then
        UL=192.0.2.1 UR=192.0.2.2; ip -n "${P}n" addr add $UL/24 dev und; ip -n "${P}r" addr add $UR/24 dev und
    else
        UL=2001:db8:1::1 UR=2001:db8:1::2
        ip -n "${P}n" addr add $UL/64 dev und nodad; ip -n "${P}r" addr add $UR/64 dev und nodad
    fi
    ip -n "${P}n" link set und up; ip -n "${P}r" link set und up
    # the remote VTEP: the kernel's vxlan, one device and bridge per VNI
    for k in 1 2; do
        local vni=$([ $k = 1 ] && echo 10100 || echo 20200)
        ip -n "${P}r" link add vx$k type vxlan id $vni local $UR remote $UL dstport 4789 || fail "kernel vxlan"
        ip -n "${P}r" link add br$k type bridge forward_delay 0 stp_state 0
        ip -n "${P}r" link set vx$k master br$k
    done
    vm x r rx $MX 10.0.0.2 fd00::2
    vm y r ry $MY 10.0.0.2 fd00::2
    ip -n "${P}r" link set rx master br1; ip -n "${P}r" link set ry master br2
    for i in vx1 vx2 br1 br2; do ip -n "${P}r" link set $i up; done
    # the forwarder: port 0 = acc0 (VN1 tag 100, VN2 tag 200), port 1 = acc1
    if [ "$FASTPATH" = on ]; then
        nsx r ethtool -K und gro on >/dev/null || fail "gro on r/und"
        nsx h ethtool -K upl gro on >/dev/null || fail "gro on h/upl"
        nsx c ethtool -K eth0 gro on >/dev/null || fail "gro on c/eth0"
        if [ "$fam" = 6 ]; then
            ip -n "${P}n" link set dev acc1 xdp obj "$D/xdpother.o" sec xdp || fail "foreign XDP program"
        fi
    fi
    bg n fwd.log "$RUN" -x "$FASTPATH" -u und -l $UL -t 0 -p 0:acc0 -p 1:acc1 \
        -b 0:100:10100 -b 0:200:20200 -b 1:300:10100 \
        -m 10100:0:$MA -m 20200:0:$MB -m 10100:1:$MC \
        -f 10100:$UR -f 20200:$UR
    FPID=${NT_PIDS[-1]}
    # up to 20 s: a sanitizer build on a loaded CI host took over 5 s once
    for _ in $(seq 200); do grep -q '^started' "$D/fwd.log" && break; sleep 0.1; done
    grep -q '^started' "$D/fwd.log" || fail "forwarder did not start within 20 s"
}

# between underlays: the library's clean-up, but the directory stays
teardown() {
    for p in "${NT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${NT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    # a sanitizer build reports leaks and errors at the forwarder's exit
    if grep -q "Sanitizer" "$D/fwd.log"; then fail "sanitizer report from the forwarder"; fi
    NT_PIDS=()
    for n in "${NT_NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
    NT_NETNS=()
}

# dump: the forwarder's tables (line 1) and counters (line 2) right now
dump() {
    local n0 n
    n0=$(wc -l <"$D/fwd.log")
    kill -USR1 "$FPID"
    for _ in $(seq 40); do
        n=$(wc -l <"$D/fwd.log"); [ "$n" -ge $((n0 + 2)) ] && break; sleep 0.05
    done
    tail -n +"$((n0 + 1))" "$D/fwd.log" | grep '^{' | head -2 >"$D/dump.json"
    [ "$(wc -l <"$D/dump.json")" = 2 ] || fail "no dump from the forwarder"
}
drops() { dump; sed -n 2p "$D/dump.json" | jq ".drops[\"$1\"]"; }

# pingw NS DST: ping until it answers (ARP/ND and next-hop resolution first)
pingw() {
    for _ in $(seq 20); do nsx "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0; done
    return 1
}

# xfer SRC_NS DST_NS DST_IP: 2 MB over TCP, SHA-256 compared
xfer() { nt_xfer "$1" "$2" "$3" 2000000; }

scenario() { # $1 = underlay family
    local fam=$1
    log "--- underlay IPv$fam"
    setup "$fam"
    bg r cap.log tshark -i und -w "$D/und.pcap" -f "udp port 4789"
    bg x capx.log tcpdump -i eth0 -w "$D/x.pcap"
    bg y capy.log tcpdump -i eth0 -w "$D/y.pcap"
    bg c capc.log tcpdump -i eth0 -w "$D/c.pcap"
    # the captures must see the traffic below: wait until each says it
    # captures (tshark starts slowly on a loaded host), not a fixed time
    nt_wait 30 "tshark capturing on und" grep -q "Capturing on" "$D/cap.log"
    for c in capx capy capc; do
        nt_wait 30 "tcpdump ($c) listening" grep -q "listening on" "$D/$c.log"
    done

    pingw a 10.0.0.2 || fail "ping a -> x (VN1, IPv4) over VXLAN"
    pingw b 10.0.0.2 || fail "ping b -> y (VN2, same addresses) over VXLAN"
    log "ok: ping IPv4 in both VNs"
    [ "$(nsx a ip neigh show 10.0.0.2 dev eth0 | awk '{print $3}')" = $MX ] || fail "a resolved 10.0.0.2 to something else than x"
    [ "$(nsx x ip neigh show 10.0.0.1 dev eth0 | awk '{print $3}')" = $MA ] || fail "x sees 10.0.0.1 as other than a"
    [ "$(nsx y ip neigh show 10.0.0.1 dev eth0 | awk '{print $3}')" = $MB ] || fail "y sees 10.0.0.1 as other than b (isolation)"
    log "ok: ARP across the overlay, each VN resolved its own 10.0.0.1/10.0.0.2"
    pingw a fd00::2 || fail "ping6 a -> x"
    pingw y fd00::1 || fail "ping6 y -> b"
    [ "$(nsx b ip -6 neigh show fd00::2 dev eth0 | awk '{print $3}')" = $MY ] || fail "b's ND for fd00::2 is not y"
    log "ok: ping IPv6 inner, ND per VN"
    pingw a 10.0.0.5 || fail "ping a -> c (local, port 0 tag 100 -> port 1 tag 300)"
    log "ok: local switching between access ports with re-tagging"
    xfer a x 10.0.0.2 || fail "TCP a -> x (IPv4) corrupted or failed"
    xfer x a 10.0.0.1 || fail "TCP x -> a (IPv4) corrupted or failed"
    xfer b y fd00::2 || fail "TCP b -> y (IPv6 inner) corrupted or failed"
    xfer y b fd00::1 || fail "TCP y -> b (IPv6 inner) corrupted or failed"
    log "ok: TCP 2 MB both ways in both VNs, SHA-256 equal"

    # never fragment: 1430 B of ICMP payload = 1472 B inner frame, too big
    local m0 m1
    m0=$(drops mtu-exceeded)
    ip -n "${P}a" link set eth0 mtu 1500
    nsx a ping -c 2 -W 1 -M do -s 1430 10.0.0.2 >/dev/null 2>&1 && fail "oversize frame crossed"
    m1=$(drops mtu-exceeded)
    [ "$m1" -ge $((m0 + 2)) ] || fail "mtu-exceeded did not count ($m0 -> $m1)"
    nsx a ping -c 2 -W 2 -M do -s 1400 10.0.0.2 >/dev/null || fail "1442 B frame did not fit"
    ip -n "${P}a" link set eth0 mtu 1430
    sed -n 1p "$D/dump.json" | jq -e '.underlay.mtu == 1500 and .underlay.max_inner_frame == (if '$fam' == 4 then 1464 else 1444 end)' >/dev/null ||
        fail "MTU limit not shown"
    log "ok: frames beyond the underlay MTU dropped and counted, limit shown"

    # hostile frames, both sides
    dump; cp "$D/dump.json" "$D/before.json"
    nsx h /usr/bin/python3 "$S/tests/scapy/fwd_hostile.py" access upl 100 $MA >"$D/scapy1.log" 2>&1 || fail "scapy access"
    nsx r /usr/bin/python3 "$S/tests/scapy/fwd_hostile.py" underlay und $MNU $UR $UL 10100 $MX >"$D/scapy2.log" 2>&1 || fail "scapy underlay"
    sleep 0.5
    dump
    delta() { echo $(( $(sed -n 2p "$D/dump.json" | jq ".drops[\"$1\"]") - $(sed -n 2p "$D/before.json" | jq ".drops[\"$1\"]") )); }
    [ "$(delta untagged)" = 1 ] || fail "untagged: $(delta untagged) (NVDP must be filtered out, not counted)"
    [ "$(delta unknown-tag)" = 1 ] || fail "unknown-tag: $(delta unknown-tag)"
    [ "$(delta src-not-associated)" = 1 ] || fail "src-not-associated: $(delta src-not-associated)"
    [ "$(delta bad-src-mac)" = 1 ] || fail "bad-src-mac: $(delta bad-src-mac)"
    [ "$(delta vxlan-short)" = 1 ] || fail "vxlan-short: $(delta vxlan-short)"
    local want_mal=2; [ "$fam" = 4 ] && want_mal=3
    [ "$(delta vxlan-malformed)" = $want_mal ] || fail "vxlan-malformed: $(delta vxlan-malformed), want $want_mal (filtered ones must not reach us)"
    [ "$(delta unknown-vni)" = 1 ] || fail "unknown-vni: $(delta unknown-vni)"
    [ "$(delta vxlan-to-remote)" = 1 ] || fail "vxlan-to-remote: $(delta vxlan-to-remote)"
    pingw a 10.0.0.2 || fail "forwarding stopped after hostile frames"
    log "ok: hostile frames dropped and counted per reason, forwarding continues"

    # tables: x learned behind the kernel VTEP, counters per VN and port
    dump
    sed -n 1p "$D/dump.json" | jq -e --arg m $MX --arg ip $UR \
        '[.vns[] | select(.vni == 10100) | .macs[] | select(.mac == $m and .type == "learned" and .remote == $ip)] | length == 1' >/dev/null ||
        fail "x not learned behind $UR"
    sed -n 2p "$D/dump.json" | jq -e '.vns["10100"].encap_pkts > 100 and .vns["20200"].encap_pkts > 100 and
        .vns["10100"].decap_pkts > 100 and .ports.acc0.rx_pkts > 100 and .ports.acc1.tx_pkts > 0' >/dev/null ||
        fail "counters per VN/port did not move"
    log "ok: learning from decapsulated traffic, counters per VN and port"

    # who carried it: the XDP fast path (on) or the forwarder alone (off)
    if [ "$FASTPATH" = on ]; then
        local want=3
        if [ "$fam" = 6 ]; then # acc1 is another program's: no fast path there
            want=2
            sed -n 1p "$D/dump.json" | jq -e '.fastpath.interfaces[] | select(.ifname == "acc1") |
                (.attached | not) and (.error | test("another XDP program"))' >/dev/null ||
                fail "acc1's foreign XDP program not reported: $(sed -n 1p "$D/dump.json" | jq -c .fastpath)"
            grep -q "no fast path on acc1 (attach: .*another XDP program.*in-process forwarder" "$D/fwd.log" ||
                fail "acc1's fallback not logged"
            ip -n "${P}n" link show acc1 | grep -q "prog/xdp id.* name xdp_other" || fail "the foreign program was touched"
            log "ok: an interface with another XDP program: no fast path there, logged, the forwarder serves it"
        fi
        sed -n 1p "$D/dump.json" | jq -e '.fastpath.state == "on" and
            ([.fastpath.interfaces[] | select(.attached and .xmit)] | length) == '$want >/dev/null ||
            fail "fast path not on $want interfaces: $(sed -n 1p "$D/dump.json" | jq -c .fastpath)"
        sed -n 2p "$D/dump.json" | jq -e '.fastpath.redirected > 1000 and .fastpath.dropped > 0' >/dev/null ||
            fail "the fast path did not carry the traffic: $(sed -n 2p "$D/dump.json" | jq -c .fastpath)"
        log "ok: the XDP fast path carried the common case ($(sed -n 2p "$D/dump.json" | jq -c .fastpath))"
        if [ "$fam" = 4 ]; then
            # acc0's peer stops taking redirected frames (GRO off: no NAPI):
            # followed within a second, frames to acc0 through the forwarder
            xmit_acc0() { dump; sed -n 1p "$D/dump.json" | jq -r '.fastpath.interfaces[] | select(.ifname == "acc0") | .xmit'; }
            nsx h ethtool -K upl gro off >/dev/null || fail "gro off h/upl"
            nt_wait 5 "acc0 no longer taking redirected frames" nt_eq false xmit_acc0
            grep -q "acc0 does not take redirected frames" "$D/fwd.log" || fail "not logged"
            xfer x a 10.0.0.1 || fail "TCP x -> a with acc0 through the forwarder"
            nsx h ethtool -K upl gro on >/dev/null || fail "gro on h/upl"
            nt_wait 5 "acc0 taking redirected frames again" nt_eq true xmit_acc0
            log "ok: an interface that stops taking redirected frames is followed and served by the forwarder"
        fi
    else
        sed -n 1p "$D/dump.json" | jq -e '.fastpath.state == "off"' >/dev/null || fail "fast path not off"
        ip -n "${P}n" link show | grep -q ' xdp' && fail "an XDP program is attached with the fast path off"
        sed -n 2p "$D/dump.json" | jq -e '.fastpath.redirected == 0' >/dev/null || fail "fast path counters moved while off"
        log "ok: fast path off: no XDP program, the in-process forwarder carried everything"
    fi

    if [ "$fam" = 4 ]; then
        # the kernel refuses one frame of a batch (bigger than the access
        # port's MTU): counted, and the frames around it still go out
        local x0 x1
        ip -n "${P}n" link set acc1 mtu 1000
        if [ "$FASTPATH" = on ]; then # the fast path learns it within a second
            for _ in $(seq 30); do
                dump
                sed -n 1p "$D/dump.json" | jq -e '.fastpath.interfaces[] | select(.ifname == "acc1") | .mtu == 1000' >/dev/null && break
                sleep 0.1
            done
        fi
        x0=$(drops tx-failed)
        nsx x ping -c 2 -W 1 -s 1200 10.0.0.5 >/dev/null 2>&1 && fail "1242 B frame crossed a 1000 B port"
        x1=$(drops tx-failed)
        [ "$x1" -ge $((x0 + 2)) ] || fail "tx-failed did not count ($x0 -> $x1)"
        pingw x 10.0.0.5 || fail "small frames to the same port stopped"
        ip -n "${P}n" link set acc1 mtu 1500
        log "ok: a frame the kernel refuses is counted (tx-failed), the rest flows"

        # an access interface vanishes and comes back: the forwarder closes
        # its socket (no busy loop on the error) and reopens it
        ip -n "${P}n" link del acc1
        sleep 0.5
        local t0 t1
        t0=$(awk '{print $14 + $15}' /proc/$FPID/stat)
        sleep 2
        t1=$(awk '{print $14 + $15}' /proc/$FPID/stat)
        [ $((t1 - t0)) -lt 100 ] || fail "forwarder spins after its port vanished ($((t1 - t0)) ticks in 2 s)"
        grep -q "acc1: .*will reopen" "$D/fwd.log" || fail "vanished port not noticed"
        ip -n "${P}n" link add acc1 type veth peer name eth0 netns "${P}c" || fail "veth acc1 again"
        ip -n "${P}c" link set eth0 address $MC mtu 1430
        ip -n "${P}c" addr add 10.0.0.5/24 dev eth0
        nsx c ethtool -K eth0 tso off gso off >/dev/null 2>&1
        tc -n "${P}c" qdisc add dev eth0 clsact
        tc -n "${P}c" filter add dev eth0 egress bpf da obj "$D/tag300PUSH.o" sec tc || fail "tc push"
        tc -n "${P}c" filter add dev eth0 ingress bpf da obj "$D/tag300POP.o" sec tc || fail "tc pop"
        [ "$FASTPATH" = on ] && { nsx c ethtool -K eth0 gro on >/dev/null || fail "gro on c/eth0"; }
        ip -n "${P}c" link set eth0 up; ip -n "${P}n" link set acc1 up
        pingw a 10.0.0.5 || fail "port not reopened after its interface came back"
        log "ok: a vanished access interface is closed without spinning and reopened when back"
    fi

    sleep 0.5
    for p in "${NT_PIDS[@]:1}"; do kill -INT "$p" 2>/dev/null; done
    sleep 1
    # tshark: valid VXLAN, VNI per tenant, source ports, DF / UDP checksum
    tshark -r "$D/und.pcap" -o udp.check_checksum:TRUE -Y 'vxlan && !_ws.malformed' \
        -T fields -E separator='|' -e vxlan.vni -e eth.src -e udp.srcport -e ip.flags.df -e udp.checksum.status \
        -e frame.len >"$D/vx.txt" 2>/dev/null || fail "tshark"
    [ "$(grep -c . "$D/vx.txt")" -gt 100 ] || fail "tshark found no VXLAN on the underlay"
    # lines of the forwarder (outer source = our underlay MAC): VNI per
    # tenant, source port range, DF on IPv4, a good UDP checksum on IPv6.
    # Frames beyond the MTU are the capture's GRO merging several of ours
    # (the fast path's peer runs GRO): their checksums are the merge's.
    awk -F'|' -v a=$MA -v b=$MB -v n=$MNU -v fam=$fam '
        index($2, n) == 1 && $6 <= 1514 {
            ours++
            split($4, df, ","); split($5, cs, ",") # outer first, inner after
            if (index($2, a) && $1 != 10100) bad = bad " a-in-" $1
            if (index($2, b) && $1 != 20200) bad = bad " b-in-" $1
            if ($3 < 49152 || $3 > 65535) bad = bad " sport-" $3
            if (fam == 4 && df[1] != 1) bad = bad " df-" $4
            if (fam == 4 && cs[1] != 3) bad = bad " csum-present-" $5  # 3: zero = none
            if (fam == 6 && cs[1] != 1) bad = bad " csum-" $5          # 1: good
        }
        END { if (ours < 50 || bad != "") { print "ours=" ours, substr(bad, 1, 200); exit 1 } }' "$D/vx.txt" >"$D/vxcheck.txt" ||
        fail "VXLAN from the forwarder not as expected: $(cat "$D/vxcheck.txt"); sample: $(grep -m2 "^.*|$MNU" "$D/vx.txt")"
    log "ok: tshark decodes the underlay as VXLAN, VNI per tenant, DF/checksum, source ports in range"
    # isolation on the wire: nothing of b in VN1 (x, c), nothing of a in VN2 (y)
    [ "$(tcpdump -r "$D/x.pcap" -e ether src $MB 2>/dev/null | grep -c .)" = 0 ] || fail "b's frames reached x"
    [ "$(tcpdump -r "$D/c.pcap" -e ether src $MB 2>/dev/null | grep -c .)" = 0 ] || fail "b's frames reached c"
    [ "$(tcpdump -r "$D/y.pcap" -e ether src $MA or ether src $MC 2>/dev/null | grep -c .)" = 0 ] || fail "VN1 frames reached y"
    [ "$(tcpdump -r "$D/x.pcap" -e ether src $MA 2>/dev/null | grep -c .)" -gt 10 ] || fail "capture on x saw nothing of a"
    log "ok: tenant isolation on the wire"
    teardown
}

for fam in ${UNDERLAYS:-4 6}; do scenario "$fam"; done
nt_pass
