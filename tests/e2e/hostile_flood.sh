#!/bin/bash
# hostile_flood.sh - a hostile station on a bridged access port (protocol-
# spec 11.4, 15, 16): ASSOCs with random VNIC UUIDs from a few source MACs
# and HELLOs from 10,000 random MACs at once, for a few seconds. The NVE's
# VNICs stay at the per-hypervisor cap, its peers within holders plus the
# newcomer pool, the limits are counted, and a new hypervisor that starts
# on the same port during the flood attaches.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init hostile_flood
PY=/usr/bin/python3
$PY -c 'import scapy.all' 2>/dev/null || nt_skip "python3-scapy not installed"
SECONDS_FLOOD=150 # at most: stopped once the attach has been checked
# Frames per second: enough to churn the newcomers thousands of times and
# to reach every limit, not so many that a sanitizer build on a loaded CI
# machine drops frames at its socket whatever their source (that tail is
# bench/flood_bench.sh's to measure, not this test's).
RATE=${NT_FLOOD_RATE:-8000}
# One HELLO from a made-up MAC in HELLO_EVERY frames: ~400/s, twice the
# port's shared bucket for sources not known yet (request-rate 200), so the
# kernel drops half of them. A new hypervisor's frames share that bucket
# with them and cannot be told apart (nve-agent(8) KERNEL POLICING): each
# of its frames passes with the same odds, and a newcomer lives here a few
# tens of ms before the churn evicts it; hence its many short retries and
# a wait of a minute (0.14-15 s measured). How long it takes under a flood
# is flood_bench.sh's to measure, not this test's.
HELLO_EVERY=20
ASSOC_MACS=4
PER_HV=50
NEWCOMERS=16

nt_topo_bridged
# port1 (the bridge) is open: any MAC may speak there.
export NVE_PORTS="port1 ap1
port2 ap2"
export NVE_VNS="blue:100" HV_VNS="blue:100"
export NVE_EXTRA="limits {
    max-vnics-per-hypervisor = $PER_HV
    max-newcomers-per-port = $NEWCOMERS
    # the flood's 4 MACs and hv1 hold VNICs; with 8 places the port's
    # unicast HELLO budget (places per hello interval) is below the rate
    # at which made-up MACs pass the kernel: some are withheld
    max-hypervisors-per-port = 8
    request-rate = 200
    request-burst = 64
}"
nt_start_nve nve nve

# The station sits on the bridge next to hv1 (in hv2's namespace).
# ip netns exec execs python: $! is the station itself (nt_in would fork)
ip netns exec "$(nt_nsname hv2)" $PY "$NT_LIB/nvdp_flood.py" up0 --dst "$NT_MAC_AP1" \
    --assoc-macs $ASSOC_MACS \
    --hello-macs 10000 --hello-every $HELLO_EVERY \
    --vni 100 --seconds "$SECONDS_FLOOD" --rate "$RATE" \
    >"$NT_DIR/flood.json" 2>"$NT_DIR/flood.err" &
flood=$!
NT_PIDS+=("$flood")
flooding() { kill -0 "$flood" 2>/dev/null; }
nve_vnics() { nt_jq nve .vnics status; }
# the flood is under way: its MACs hold VNICs
nt_wait 30 "the flood's VNICs reach the NVE" \
    eval '[ "$(nve_vnics)" -ge $((ASSOC_MACS * PER_HV)) ]'
nt_assert "the flood is still running" flooding

# A new hypervisor starts on the flooded port and attaches.
HV_EXTRA="retransmit {
    initial = 200
    max = 400
    tries = 150
}" nt_start_hv hv1 hv1 up0
nt_wait 30 "hv1 hears the NVE during the flood" nt_hv_sees_nve hv1
t0=$(date +%s%N)
nt_assert_rc "hv1 attaches during the flood" 0 \
    nt_ctl hv1 vnic attach "$(nt_uuid 1)" --vn blue --mac "$(nt_mac 1)" --wait=60
nt_log "attach during the flood: $(nt_ms_since "$t0") ms"
nt_assert "the flood was still running during the attach" flooding
nt_assert_eq "hv1's VNIC is attached" attached \
    "$(nt_hv_field hv1 "$(nt_uuid 1)" state)"
nt_assert_eq "the NVE holds hv1's VNIC" 1 \
    "$(nt_nve_vnic_count nve "$(nt_uuid 1)")"

# VNICs at the cap: the flood's MACs at their per-hypervisor limit, hv1's.
nt_assert_eq "NVE VNICs at the cap during the flood" \
    $((ASSOC_MACS * PER_HV + 1)) "$(nve_vnics)"
# standing (nve-agent(8) KERNEL POLICING): the flood's MACs, refused at
# their cap again and again, are demoted; hv1, within its limits, is not
nt_assert_eq "hv1 in good standing" good \
    "$(nt_jq nve ".[] | select(.mac == \"$NT_MAC_HV1\") | .standing" peers)"
nt_wait 10 "the flood's MACs demoted" eval \
    '[ "$(nt_jq nve "[.[] | select(.standing == \"demoted\")] | length" peers)" -eq $ASSOC_MACS ]'
peers=$(nt_jq nve '[.[] | select(.port == "port1")] | length' peers)
nt_assert "port1 peers within holders + newcomers ($peers)" \
    test "$peers" -le $((ASSOC_MACS + 1 + NEWCOMERS))
kill -TERM "$flood"
wait "$flood" 2>/dev/null
nt_log "flood: $(cat "$NT_DIR/flood.json")"
sent=$(jq .sent "$NT_DIR/flood.json")
nt_assert "the station sent thousands of frames ($sent)" \
    test "${sent:-0}" -ge 5000

g() { nt_jq nve ".nvdp.global.$1" counters; }
# the kernel's policing (nve_police.c), where BPF is: frames of the
# made-up MACs over the port's shared bucket and the flooding peers' over
# twice their request-rate never reached the socket
if grep -q "policed per source in the kernel" "$NT_DIR/nve.log"; then
    nt_assert "made-up MACs' frames dropped in the kernel (rx_policed_new $(g rx_policed_new))" \
        test "$(g rx_policed_new)" -gt 0
    nt_assert "the flooding peers' excess dropped in the kernel (rx_policed $(g rx_policed))" \
        test "$(g rx_policed)" -gt 0
    nt_assert "the demoted peers' frames dropped in the kernel (rx_policed_demoted $(g rx_policed_demoted))" \
        test "$(g rx_policed_demoted)" -gt 0
else
    nt_log "no kernel policing here: $(grep -m1 'kernel policing' "$NT_DIR/nve.log")"
fi
nt_assert_eq "the flood's MACs demoted once each (peers_demoted)" \
    $ASSOC_MACS "$(g peers_demoted)"
nt_assert "refusals counted (limit_hv_vnics $(g limit_hv_vnics))" \
    test "$(g limit_hv_vnics)" -gt 0
nt_assert "newcomers evicted (peers_evicted $(g peers_evicted))" \
    test "$(g peers_evicted)" -gt 100
nt_assert "requests over the rate dropped (rx_rate_limited $(g rx_rate_limited))" \
    test "$(g rx_rate_limited)" -gt 0
nt_assert "unicast HELLOs withheld (hello_suppressed $(g hello_suppressed))" \
    test "$(g hello_suppressed)" -gt 0
# the flood's MACs, silent now, expire: their entries go, hv1's stays
nt_wait $((NT_HOLD_S * 8)) "the flood's entries released after the hold time" \
    nt_eq 1 nve_vnics
# hv1 is a holder: the flood did not evict it, it is still in session
nt_assert_eq "hv1 still attached after the flood" attached \
    "$(nt_hv_field hv1 "$(nt_uuid 1)" state)"
nt_assert_rc "hv1 attaches again after the flood" 0 \
    nt_ctl hv1 vnic attach "$(nt_uuid 2)" --vn blue --mac "$(nt_mac 2)" --wait=5
nt_pass
