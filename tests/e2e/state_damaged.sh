#!/bin/bash
# state_damaged.sh - a damaged state file must not wipe the NVE (issue 10):
# hv-agent's state file is damaged while it is down - a bad field, a
# truncation, NUL bytes, binary junk - with 100 VNICs attached. At start it
# loads every valid record, keeps the damaged file aside (byte for byte),
# says so, and its resync ends without END: the NVE keeps the VNICs hv-agent
# lost, with their tags. A version 1 state file is converted once. Once the
# damaged file is moved away (and SIGHUP), resyncs end with END again.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init state_damaged

NT_HOLD_S=30 # the NVE keeps hv1's state while it is down
nt_topo_direct
export NVE_VNS="blue:100 red:200" HV_VNS="blue:100 red:200"
nt_start_nve nve nve
nt_start_hv hv1 hv1 up0
nt_wait 10 "hv1 hears the NVE" nt_hv_sees_nve hv1
S=$NT_DIR/hv1.state

awk 'BEGIN { for (k = 1; k <= 100; k++)
    printf "attach 00000000-0000-4000-8000-%012x %s 52:54:00:00:00:%02x 10.0.0.%d\n",
        k, k % 2 ? "red" : "blue", k, k }' |
    /usr/bin/python3 "$NT_LIB/ctl_burst.py" "$NT_DIR/hv1.sock" "$NT_DIR/a" 64 ||
    nt_fail "burst"
nt_assert_eq "100 attaches answered ok" 100 "$(grep -c '^ok ' "$NT_DIR/a")"
nve_list() { nt_json nve vnics --port port1 | jq -r '.[] | "\(.vnic) \(.tag // "-") \(.stale)"' | sort; }
nve_list | awk '{print $1, $2}' >"$NT_DIR/nve.before"
nt_assert_eq "the NVE holds the 100" 100 "$(wc -l <"$NT_DIR/nve.before")"
nt_json hv1 vnic list >"$NT_DIR/vnics.json"
nt_stop hv1

# start_hv: hv1 up, its resync over (its log since this start says
# whether the resync sent END: nt_logged)
start_hv() {
    nt_log_mark "$NT_DIR/hv1.log"
    nt_daemon hv1 hv1 "$HV_AGENT" -f "$NT_DIR/hv1.conf" -s "$NT_DIR/hv1.sock"
    resync_over() { nt_log_since | grep -q 'resync: complete'; }
    nt_wait 30 "hv1's resync over" resync_over
}
hv_uuids() { nt_json hv1 vnic list | jq -r '.[].vnic' | sort; }

# ---- version 1's single JSON document, one VNIC per line ----
legacy() { # BAD_INDEX (0-based; -1 none): that entry gets a bad tag
    jq -r --argjson bad "$1" '"{\"version\": 1, \"vnics\": [",
        (to_entries | map("  " + ({vnic: .value.vnic, vn: .value.vn,
            vn_name: .value.vn_name, mac: .value.mac, ips: .value.ips,
            want: "attached", reserve: false, up: true,
            tag: (if .key == $bad then 5000 else .value.tag end)} | tojson))
         | join(",\n")), "]}"' "$NT_DIR/vnics.json"
}
legacy -1 >"$S"
start_hv
nt_assert_eq "version 1 file: all 100 loaded" 100 "$(nt_jq hv1 length vnic list)"
nt_assert_eq "nothing damaged" false "$(nt_jq hv1 .state.incomplete status)"
nt_logged 'resync: complete$' # END sent
nt_assert "the old file is kept as .v1" cmp -s "$S.v1" <(legacy -1)
nt_assert_eq "the state file is a journal now" '{"journal":' "$(head -c 11 "$S")"
nt_stop hv1
cp "$S" "$NT_DIR/pristine"
rm -f "$S.v1"

# ---- the cases ---------------------------------------------------------------
# check_case NAME: $S holds the damaged file; EXPECTED the VNICs to load.
check_case() {
    local name=$1 aside lost
    cp "$S" "$NT_DIR/damaged.copy"
    start_hv
    nt_logged 'resync: complete; END withheld' 
    hv_uuids >"$NT_DIR/loaded"
    nt_assert "$name: every valid record loaded ($(wc -l <"$NT_DIR/loaded") VNICs)" \
        cmp -s "$NT_DIR/loaded" "$NT_DIR/expected"
    lost=$((100 - $(wc -l <"$NT_DIR/loaded")))
    nt_assert "$name: the damage cost VNICs ($lost)" test "$lost" -gt 0
    aside=$(ls "$S".damaged-* 2>/dev/null)
    nt_assert_eq "$name: one damaged file kept aside" 1 "$(printf '%s\n' "$aside" | grep -c .)"
    nt_assert "$name: kept byte for byte" cmp -s "$aside" "$NT_DIR/damaged.copy"
    nt_assert_eq "$name: status says it" "true $aside" \
        "$(nt_jq hv1 '"\(.state.incomplete) \(.state.damaged_file)"' status)"
    nt_logged "state file $S is damaged: .*kept as $aside"
    # the NVE lost nothing: all 100, same tags; what hv1 lost is stale
    nve_list >"$NT_DIR/nve.now"
    nt_assert "$name: the NVE still holds all 100 with their tags" \
        cmp -s <(awk '{print $1, $2}' "$NT_DIR/nve.now") "$NT_DIR/nve.before"
    comm -23 <(awk '{print $1}' "$NT_DIR/nve.before") "$NT_DIR/loaded" >"$NT_DIR/lost"
    awk '$3 == "true" {print $1}' "$NT_DIR/nve.now" >"$NT_DIR/stale"
    nt_assert "$name: the VNICs hv1 lost are the NVE's stale ones" \
        cmp -s "$NT_DIR/lost" "$NT_DIR/stale"
    nt_stop hv1
    rm -f "$S".damaged-*
    cp "$NT_DIR/pristine" "$S"
}
# the VNICs of the lines a damage left intact
intact() {
    grep -a -F -x -f "$NT_DIR/pristine" "$S" | grep -a '^{"vnic"' |
        sed 's/^{"vnic":"\([^"]*\)".*/\1/' | sort >"$NT_DIR/expected"
}
size=$(stat -c %s "$NT_DIR/pristine")

# a bad field: one character of the 50th VNIC's record
sed -i '51s/"want":"attached"/"want":"attachex"/' "$S"
intact
check_case "bad field"

head -c $((size * 6 / 10)) "$NT_DIR/pristine" >"$S"
intact
check_case "truncation"

dd if=/dev/zero of="$S" bs=1 seek=$((size * 4 / 10)) count=64 conv=notrunc status=none
intact
check_case "NUL bytes"

head -c 600 /dev/urandom | dd of="$S" bs=1 seek=$((size * 7 / 10)) conv=notrunc status=none
intact
check_case "binary junk"

# a bad field in a version 1 file (the issue's measurement: 0 of 100 loaded
# and the NVE wiped)
legacy 49 >"$S"
jq -r '.[].vnic' "$NT_DIR/vnics.json" | sed '50d' | sort >"$NT_DIR/expected"
check_case "bad field, version 1 file"

# ---- once the damaged file is moved away, END again ---------------------------
head -c $((size * 6 / 10)) "$NT_DIR/pristine" >"$S"
start_hv
nt_logged 'END withheld' 
n=$(nt_jq hv1 length vnic list)
mkdir "$NT_DIR/checked"
mv "$S".damaged-* "$NT_DIR/checked/"
kill -HUP "$(nt_pid hv1)"
nt_wait 5 "SIGHUP sees the damaged file gone" nt_eq false nt_jq hv1 .state.incomplete status
nt_stop hv1
start_hv # a clean start: its resync ends with END
nt_logged 'resync: complete$' 
nt_wait 10 "the NVE drops what hv1 no longer has" nt_eq "$n" eval 'nve_list | wc -l'
nt_log "ok: with the damaged file gone, the next resync's END left the NVE with hv1's $n VNICs"
nt_pass
