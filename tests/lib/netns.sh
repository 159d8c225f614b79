# netns.sh - shell library of the network-namespace end-to-end tests and
# the demo: namespaces, veths, bridges, daemons, waits and assertions.
#
# Usage (bash):   . "$top_srcdir/tests/lib/netns.sh"; nt_init NAME
# Everything a test creates carries a prefix unique to its process (NT_PFX)
# and lives under a private temporary directory (NT_DIR); an EXIT trap
# kills only the daemons this test started and deletes only its namespaces.
# Binaries come from $top_builddir (make check), $BUILD_DIR, or ".".
# Exit codes follow automake: 0 pass, 1 fail, 77 skip (with a reason).

NT_PFX=
NT_DIR=
NT_NAME=
NT_NETNS=()   # namespaces we created
NT_PIDS=()    # daemons we started
NT_QUIET=${NT_QUIET:-0}
NT_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # helpers next to us

# Test timers: short, so that expiry and restarts take seconds.
NT_HELLO_MS=${NT_HELLO_MS:-200}
NT_HOLD_S=${NT_HOLD_S:-2}

# ---- reporting --------------------------------------------------------------
nt_log() { [ "$NT_QUIET" = 1 ] || printf '%s: %s\n' "$NT_NAME" "$*"; }
nt_skip() { printf '%s: SKIP: %s\n' "${NT_NAME:-test}" "$*"; exit 77; }
nt_fail() {
    printf '%s: FAIL: %s\n' "${NT_NAME:-test}" "$*" >&2
    exit 1
}
nt_pass() { printf '%s: PASS\n' "$NT_NAME"; exit 0; }

# ---- set-up and tear-down -------------------------------------------------
nt_find_bins() {
    local b
    for b in "${top_builddir:-}" "${BUILD_DIR:-}" "." ".."; do
        [ -n "$b" ] && [ -x "$b/nve-agent/nve-agent" ] && { NT_BUILD=$(cd "$b" && pwd); break; }
    done
    [ -n "${NT_BUILD:-}" ] || return 1
    NVE_AGENT=$NT_BUILD/nve-agent/nve-agent
    HV_AGENT=$NT_BUILD/hv-agent/hv-agent
    NVDPCTL=$NT_BUILD/tools/nvdpctl
    [ -x "$HV_AGENT" ] && [ -x "$NVDPCTL" ]
}

nt_init() {
    NT_NAME=$1
    [ "$(id -u)" = 0 ] || nt_skip "needs root (network namespaces)"
    command -v ip >/dev/null 2>&1 || nt_skip "iproute2 'ip' not found"
    command -v jq >/dev/null 2>&1 || nt_skip "jq not found"
    # 8 characters keep every derived interface-free name short; the pid
    # makes parallel tests (make -j check) collide-free.
    NT_PFX="snt$$"
    NT_PFX=${NT_PFX:0:10}
    ip netns add "${NT_PFX}probe" 2>/dev/null || nt_skip "'ip netns add' is not available here"
    ip netns del "${NT_PFX}probe"
    nt_find_bins || nt_fail "daemons not built (looked in \$top_builddir, \$BUILD_DIR, ., ..)"
    NT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/splitnve-$NT_NAME.XXXXXX") || nt_fail "mktemp"
    trap nt_cleanup EXIT
    trap 'exit 130' INT TERM HUP
    # the daemons refuse configuration files their group could write
    umask 022
}

# nt_init_local NAME: for tests that need neither root nor namespaces
# (nvdpctl against a fake control socket): temp dir, trap, NVDPCTL.
nt_init_local() {
    local b
    NT_NAME=$1
    command -v jq >/dev/null 2>&1 || nt_skip "jq not found"
    for b in "${top_builddir:-}" "${BUILD_DIR:-}" "." ".."; do
        [ -n "$b" ] && [ -x "$b/tools/nvdpctl" ] && { NVDPCTL=$(cd "$b" && pwd)/tools/nvdpctl; break; }
    done
    [ -n "${NVDPCTL:-}" ] || nt_fail "nvdpctl not built"
    NT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/splitnve-$NT_NAME.XXXXXX") || nt_fail "mktemp"
    trap nt_cleanup EXIT
    trap 'exit 130' INT TERM HUP
}

nt_cleanup() {
    local rc=$? pid ns i
    trap - EXIT
    set +e
    for pid in "${NT_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${NT_PIDS[@]}"; do
        for i in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$NT_DIR" ]; then
        # The daemons' own words are what explains a failure.
        for f in "$NT_DIR"/*.log; do
            [ -f "$f" ] || continue
            echo "---- last lines of $(basename "$f")" >&2
            tail -n 40 "$f" >&2
        done
    fi
    # What still runs in our namespaces was started by this test too (a
    # capture or relay started through nt_in in the background: its
    # recorded pid is the subshell's); it goes with them.
    for ns in "${NT_NETNS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
    if [ -n "$NT_DIR" ] && [ "${NT_KEEP:-0}" != 1 ]; then
        rm -rf "$NT_DIR"
    fi
    exit "$rc"
}

# nt_ns NAME: a namespace ${NT_PFX}NAME with lo up. Refer to it as
# "$(nt_nsname NAME)" or run in it with nt_in NAME cmd...
nt_nsname() { printf '%s%s' "$NT_PFX" "$1"; }
nt_ns() {
    local ns
    ns=$(nt_nsname "$1")
    ip netns add "$ns" || nt_fail "cannot create namespace $ns"
    NT_NETNS+=("$ns")
    ip -n "$ns" link set lo up
}
nt_in() { local ns; ns=$(nt_nsname "$1"); shift; ip netns exec "$ns" "$@"; }

# nt_veth NS_A IF_A NS_B IF_B [MAC_A [MAC_B]]: a veth pair, both ends up.
nt_veth() {
    local a b
    a=$(nt_nsname "$1"); b=$(nt_nsname "$3")
    ip -n "$a" link add "$2" type veth peer name "$4" netns "$b" ||
        nt_fail "veth $1:$2 <-> $3:$4"
    [ -n "${5:-}" ] && ip -n "$a" link set "$2" address "$5"
    [ -n "${6:-}" ] && ip -n "$b" link set "$4" address "$6"
    ip -n "$a" link set "$2" up
    ip -n "$b" link set "$4" up
}

# nt_bridge NS BR IF...: a Linux bridge (the bridged access network) with
# the given ports. No STP delay, so it forwards at once.
nt_bridge() {
    local ns br=$2 i
    ns=$(nt_nsname "$1"); shift 2
    ip -n "$ns" link add "$br" type bridge forward_delay 0 stp_state 0 ||
        nt_fail "bridge $br"
    for i in "$@"; do
        ip -n "$ns" link set "$i" master "$br" || nt_fail "enslave $i to $br"
    done
    ip -n "$ns" link set "$br" up
}

# ---- configuration files ----------------------------------------------------
# nt_nve_conf NAME: writes $NT_DIR/NAME.conf (nve-agent.conf(5)) from
#   NVE_PORTS  one port per line: "NAME IFACE [tags=R] [hvs=MAC,MAC] [vns=A,B]
#              [auth=POLICY] [keys=FILE]" (hvs/vns: the port's authorisation;
#              absent = anyone/any VN; auth, keys: nvdp(7) section 14)
#              default "port1 ap1"
#   NVE_VNS    "blue:100 red:200" (name:VNI), default "blue:100"
#   NVE_EXTRA  raw text appended
nt_nve_conf() {
    local name=$1 f="$NT_DIR/$1.conf" pn pi kv v
    {
        echo "name = \"$name\""
        echo "control-socket = \"$NT_DIR/$name.sock\""
        echo "hello-interval = $NT_HELLO_MS"
        echo "hold-time = $NT_HOLD_S"
        printf '%s\n' "${NVE_PORTS:-port1 ap1}" | while read -r pn pi kv; do
            [ -n "$pn" ] || continue
            echo "port \"$pn\" {"
            echo "    interface = \"$pi\""
            for v in $kv; do
                case $v in
                tags=*) echo "    tags = \"${v#tags=}\"" ;;
                hvs=*) echo "    hypervisors = {\"$(sed 's/,/", "/g' <<<"${v#hvs=}")\"}" ;;
                vns=*) echo "    vns = {\"$(sed 's/,/", "/g' <<<"${v#vns=}")\"}" ;;
                auth=*) echo "    auth = ${v#auth=}" ;;
                keys=*) echo "    key-file = \"${v#keys=}\"" ;;
                *) echo "nt_nve_conf: unknown port option $v" >&2 ;;
                esac
            done
            echo "}"
        done
        for v in ${NVE_VNS:-blue:100}; do
            echo "vn \"${v%%:*}\" { vni = ${v#*:} }"
        done
        printf '%s\n' "${NVE_EXTRA:-}"
    } >"$f"
    echo "$f"
}

# nt_nve_unbounded_ports: the limits lines that lift the per-port ceilings
# (max-vnics-per-port, max-addresses-per-port: a flood's bound) for a test
# or bench that legitimately puts many VNICs on one port; none for an
# nve-agent built before them (a bench's anchor build), which has none.
nt_nve_unbounded_ports() {
    [ -n "${NVE_AGENT:-}" ] || nt_find_bins
    grep -q max-vnics-per-port "$NVE_AGENT" 2>/dev/null || return 0
    printf '    max-vnics-per-port = 0\n    max-addresses-per-port = 0\n'
}

# nt_hv_conf NAME UPLINK: $NT_DIR/NAME.conf (VN names from HV_VNS, same
# syntax as NVE_VNS; HV_EXTRA raw text).
nt_hv_conf() {
    local name=$1 f="$NT_DIR/$1.conf" p
    {
        echo "name = \"$name\""
        echo "uplink = \"$2\""
        echo "hello-interval = $NT_HELLO_MS"
        echo "hold-time = $NT_HOLD_S"
        echo "state-file = \"$NT_DIR/$name.state\""
        echo "control-socket = \"$NT_DIR/$name.sock\""
        for p in ${HV_VNS:-blue:100}; do
            echo "vn ${p%%:*} { vni = ${p#*:} }"
        done
        printf '%s\n' "${HV_EXTRA:-}"
    } >"$f"
    echo "$f"
}

# ---- daemons ------------------------------------------------------------------
# nt_daemon NS NAME BINARY ARGS...: starts BINARY in namespace NS in the
# foreground (-d) with its log in $NT_DIR/NAME.log, records its pid in
# NT_PID_<NAME>, and waits for its control socket $NT_DIR/NAME.sock.
# NT_DAEMON_VERBOSE: the log level option (default -v; a benchmark sets it
# empty, logging as a production daemon does).
nt_daemon() {
    local ns=$1 name=$2 bin=$3 pid
    shift 3
    rm -f "$NT_DIR/$name.sock"
    ip netns exec "$(nt_nsname "$ns")" "$bin" -d ${NT_DAEMON_VERBOSE--v} "$@" \
        >>"$NT_DIR/$name.log" 2>&1 &
    pid=$!   # ip netns exec execs the daemon: this is the daemon's pid
    NT_PIDS+=("$pid")
    printf -v "NT_PID_${name//-/_}" '%s' "$pid"
    nt_wait 10 "$name control socket" nt_sock_ready "$name" "$pid"
}
nt_sock_ready() {
    kill -0 "$2" 2>/dev/null || nt_fail "$1 exited at start-up (see its log)"
    [ -S "$NT_DIR/$1.sock" ] && "$NVDPCTL" -s "$NT_DIR/$1.sock" -t 1 status >/dev/null 2>&1
}
nt_pid() { local v="NT_PID_${1//-/_}"; printf '%s' "${!v}"; }

# nt_start_nve NS NAME / nt_start_hv NS NAME UPLINK (config written first)
nt_start_nve() {
    nt_nve_conf "$2" >/dev/null
    nt_daemon "$1" "$2" "$NVE_AGENT" -f "$NT_DIR/$2.conf" -s "$NT_DIR/$2.sock"
}
nt_start_hv() {
    nt_hv_conf "$2" "$3" >/dev/null
    nt_daemon "$1" "$2" "$HV_AGENT" -f "$NT_DIR/$2.conf" -s "$NT_DIR/$2.sock"
}

# nt_stop NAME [SIGNAL]: stops one of our daemons and waits until it is gone.
nt_stop() {
    local pid i
    pid=$(nt_pid "$1")
    [ -n "$pid" ] || nt_fail "nt_stop: $1 was not started here"
    kill "-${2:-TERM}" "$pid" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && nt_fail "$1 (pid $pid) did not stop on SIG${2:-TERM}"
    { wait "$pid"; } 2>/dev/null
    return 0
}

# ---- nvdpctl ----------------------------------------------------------------
# nt_ctl NAME ARGS...: nvdpctl against daemon NAME (text output).
nt_ctl() { local n=$1; shift; "$NVDPCTL" -s "$NT_DIR/$n.sock" "$@"; }
# nt_json NAME ARGS...: the result as JSON.
nt_json() { local n=$1; shift; "$NVDPCTL" -s "$NT_DIR/$n.sock" -f json "$@"; }
# nt_jq NAME FILTER ARGS...: jq -r FILTER over `nvdpctl -f json ARGS`.
nt_jq() {
    local n=$1 filter=$2 out
    shift 2
    out=$("$NVDPCTL" -s "$NT_DIR/$n.sock" -f json "$@") || return 1
    printf '%s\n' "$out" | jq -r "$filter"
}

# The tag the NVE holds for VN on PORT, or "" if none. VN as the NVE's
# JSON may print it: "vni:100", 100, or a configured name.
nt_nve_tag() {
    local out
    out=$(nt_json "$1" tags) || return 1
    printf '%s\n' "$out" | jq -r --arg port "$2" --arg vn "$3" \
        '[.[] | select((.port|tostring) == $port and
                       ((.vn|tostring) == $vn or (.vn|tostring) == ("vni:" + $vn) or
                        (.vni|tostring) == $vn or (.vn_name // "") == $vn))
              | .tag] | first // empty'
}
# nt_hv_field HV UUID FIELD: a field of a VNIC in hv-agent's vnic list
# ("" if the VNIC is not listed).
nt_hv_field() {
    local out
    out=$(nt_json "$1" vnic list) || return 1
    printf '%s\n' "$out" | jq -r --arg u "$2" --arg f "$3" \
        '[.[] | select(.vnic == $u) | .[$f]] | first // empty | tostring'
}

# nt_nve_vnic NVE UUID [PORT]: the NVE's entries for a VNIC (JSON lines),
# wherever `vnics` nests them; nt_nve_vnic_count counts them.
nt_nve_vnic() {
    local out
    out=$(nt_json "$1" vnics) || return 1
    printf '%s\n' "$out" | jq -c --arg u "$2" --arg p "${3:-}" \
        '.. | objects | select(.vnic? == $u) |
         select($p == "" or ((.port // "")|tostring) == $p)'
}
nt_nve_vnic_count() { local o; o=$(nt_nve_vnic "$@") || return 1; printf '%s' "$o" | grep -c . || true; }

# nt_counter NAME REGEX: sum of the numeric counters of `nvdpctl counters`
# (or of `status` for hv-agent) whose key matches REGEX, at any depth.
nt_counter() {
    local out
    out=$(nt_json "$1" "${3:-counters}") || return 1
    printf '%s\n' "$out" | jq --arg re "$2" \
        '[.. | objects | to_entries[] | select((.key|test($re)) and (.value|type) == "number") | .value] | add // 0'
}

# ---- log files ----------------------------------------------------------------
# A program's log lines in a file (nvdp-hook's NVDP_HOOK_LOG): nt_log_mark
# FILE remembers how far FILE goes; nt_log_since prints what was written
# since; nt_logged REGEX fails the test unless one of those lines matches
# the extended REGEX (and shows it in the test's log).
NT_LOG_FILE=
NT_LOG_POS=0
# nt_ms_since T0: milliseconds since T0 (taken with date +%s%N)
nt_ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
nt_log_mark() { NT_LOG_FILE=$1; touch "$1"; NT_LOG_POS=$(wc -l <"$1"); }
nt_log_since() { tail -n +"$((NT_LOG_POS + 1))" "$NT_LOG_FILE"; }
nt_logged() {
    local lines
    lines=$(nt_log_since)
    grep -qE -- "$1" <<<"$lines" || nt_fail "no log line matching '$1' in: $lines"
    nt_log "log: $(grep -E -- "$1" <<<"$lines" | head -1 | cut -d' ' -f2-)"
}

# ---- waiting and asserting -------------------------------------------------
# nt_wait SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds;
# fails the test naming WHAT after SECONDS. Never a fixed sleep.
nt_wait() {
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    until "$@"; do
        if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
            nt_fail "timed out after ${secs}s waiting for: $what"
        fi
        sleep 0.1
    done
}
# nt_eq EXPECTED CMD...: true when CMD's output equals EXPECTED (for nt_wait).
nt_eq() { local e=$1 o; shift; o=$("$@" 2>/dev/null) && [ "$o" = "$e" ]; }
nt_ne() { local e=$1 o; shift; o=$("$@" 2>/dev/null) && [ "$o" != "$e" ]; }

nt_assert_eq() { # WHAT EXPECTED ACTUAL
    [ "$2" = "$3" ] || nt_fail "$1: expected '$2', got '$3'"
    nt_log "ok: $1 = $3"
}
nt_assert_ne() { # WHAT UNEXPECTED ACTUAL
    [ "$2" != "$3" ] || nt_fail "$1: must not be '$3'"
    nt_log "ok: $1 = $3 (not $2)"
}
nt_assert() { # WHAT CMD...
    local what=$1
    shift
    "$@" || nt_fail "$what"
    nt_log "ok: $what"
}
# nt_assert_rc WHAT RC CMD...: CMD exits with RC (its output in $NT_OUT,
# stderr in $NT_ERR).
nt_assert_rc() {
    local what=$1 want=$2 rc=0
    shift 2
    NT_OUT=$("$@" 2>"$NT_DIR/stderr") || rc=$?
    NT_ERR=$(cat "$NT_DIR/stderr")
    [ "$rc" = "$want" ] || nt_fail "$what: exit code $rc, expected $want (stderr: $NT_ERR)"
    nt_log "ok: $what (exit $rc)"
}
# nt_xfer SRC DST DST_IP [BYTES]: BYTES (default 1000000) of random data
# over TCP from namespace SRC to DST_IP in namespace DST (IPv4 or IPv6);
# true when they arrive intact (SHA-256 compared).
nt_xfer() {
    local port=$((5000 + RANDOM % 2000)) sp
    head -c "${4:-1000000}" /dev/urandom >"$NT_DIR/xfer.in"
    rm -f "$NT_DIR/xfer.out"
    nt_in "$2" /usr/bin/python3 "$NT_LIB/tcp_xfer.py" recv "$port" "$NT_DIR/xfer.out" &
    sp=$!
    sleep 0.5   # the receiver listening
    nt_in "$1" /usr/bin/python3 "$NT_LIB/tcp_xfer.py" send "$3" "$port" "$NT_DIR/xfer.in" ||
        { kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; return 1; }
    wait "$sp" && [ "$(sha256sum <"$NT_DIR/xfer.in")" = "$(sha256sum <"$NT_DIR/xfer.out")" ]
}
# nt_uuid N: a deterministic VNIC UUID for number N (0..65535).
nt_uuid() { printf '00000000-0000-4000-8000-%012x' "$1"; }
# nt_mac N [HI]: a deterministic unicast MAC for VNIC number N.
nt_mac() { printf '52:54:%02x:00:%02x:%02x' "${2:-0}" $(( ($1 >> 8) & 255 )) $(( $1 & 255 )); }

# ---- topologies ---------------------------------------------------------------
# MACs of the ends so authorisation entries can name them.
NT_MAC_AP1=02:4e:56:00:00:01
NT_MAC_AP2=02:4e:56:00:00:02
NT_MAC_HV1=02:48:56:00:00:01
NT_MAC_HV2=02:48:56:00:00:02
NT_MAC_HV3=02:48:56:00:00:03

# nt_topo_direct: nve(ap1) <-> hv1(up0) on one veth.
nt_topo_direct() {
    nt_ns nve
    nt_ns hv1
    nt_veth nve ap1 hv1 up0 "$NT_MAC_AP1" "$NT_MAC_HV1"
}

# nt_topo_bridged: the demo's topology.
#   hv1(up0) --+
#              +-- br0 in "sw" (bridged access network) -- nve(ap1)  port1
#   hv2(up0) --+
#   hv3(up0) ----------------------------------------- nve(ap2)  port2
nt_topo_bridged() {
    nt_ns nve
    nt_ns sw
    nt_ns hv1
    nt_ns hv2
    nt_ns hv3
    nt_veth sw swnve nve ap1 "" "$NT_MAC_AP1"
    nt_veth sw swhv1 hv1 up0 "" "$NT_MAC_HV1"
    nt_veth sw swhv2 hv2 up0 "" "$NT_MAC_HV2"
    nt_bridge sw br0 swnve swhv1 swhv2
    nt_veth nve ap2 hv3 up0 "$NT_MAC_AP2" "$NT_MAC_HV3"
}

# nt_hv_sees_nve HV: hv-agent HV has heard its NVE.
nt_hv_sees_nve() {
    local s
    s=$(nt_jq "$1" '.nve.state // empty' status 2>/dev/null) || return 1
    [ "$s" = up ]
}

# ---- an impaired access link -------------------------------------------------
# nt_topo_impaired HV PORT_IF [HV_MAC [NVE_MAC]]: namespace HV (uplink up0)
# reaches namespace nve (interface PORT_IF) through namespace w<HV>, where
# tests/lib/impair.py forwards frames both ways with NT_IMPAIR's options
# (default: 20% loss, 5 ms +- 5 ms delay, 25% reordered; see impair.py: this
# kernel has no sch_netem). Creates nve when it does not exist yet. Its
# pid is NT_PID_impair_<HV>; NT_DIR/impair-<HV>.log holds its seed.
NT_IMPAIR=${NT_IMPAIR:---loss 20 --delay 5 --jitter 5 --reorder 25}
nt_topo_impaired() {
    local hv=$1 pif=$2 w="w$1" pid
    [[ " ${NT_NETNS[*]} " == *" $(nt_nsname nve) "* ]] || nt_ns nve
    nt_ns "$hv"
    nt_ns "$w"
    nt_veth "$hv" up0 "$w" "${w}a" "${3:-}" ""
    nt_veth "$w" "${w}b" nve "$pif" "" "${4:-}"
    nt_in "$w" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$(nt_nsname "$w")" link set "${w}a" promisc on
    ip -n "$(nt_nsname "$w")" link set "${w}b" promisc on
    # shellcheck disable=SC2086 # NT_IMPAIR is a list of options
    # ip netns exec, not nt_in: a function in the background is a subshell,
    # and its pid (which cleanup and nt_impair_* signal) would not be the relay
    ip netns exec "$(nt_nsname "$w")" /usr/bin/python3 "$NT_LIB/impair.py" \
        "${w}a" "${w}b" $NT_IMPAIR \
        --stats "$NT_DIR/impair-$hv.json" >"$NT_DIR/impair-$hv.log" 2>&1 &
    pid=$!
    NT_PIDS+=("$pid")
    printf -v "NT_PID_impair_$hv" '%s' "$pid"
}
# nt_impair_clean HV / nt_impair_on HV: the wire of HV loses nothing / again
# impairs (impair.py's SIGUSR1 / SIGUSR2).
nt_impair_clean() { kill -USR1 "$(nt_pid "impair_$1")"; }
nt_impair_on() { kill -USR2 "$(nt_pid "impair_$1")"; }
