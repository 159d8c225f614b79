#!/bin/bash
# samples.sh - the sample configurations work together as installed: nve-agent
# and hv-agent start from the files `make install` puts in
# $sysconfdir/splitnve/ (only paths substituted: the namespaces' interfaces
# carry the samples' names), and a VNIC attaches to every VN of the sample
# hv-agent.conf and gets a tag of the sample nve-agent.conf's port. The
# installed man pages and --help name the paths this build uses.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init samples

# ---- install the samples and man pages as "make install" does ------------
INST=$NT_DIR/inst
make -s -C "$NT_BUILD" install-splitnveconfDATA install-man DESTDIR="$INST" \
    >"$NT_DIR/install.log" 2>&1 || nt_fail "make install (see install.log)"
HVC=$(find "$INST" -path '*/splitnve/hv-agent.conf') NVC=$(find "$INST" -path '*/splitnve/nve-agent.conf')
[ -f "$HVC" ] && [ -f "$NVC" ] || nt_fail "samples not installed: $(find "$INST" -type f)"
SYSCONFDIR=$(dirname "$(dirname "${HVC#"$INST"}")")
nt_log "samples installed in $SYSCONFDIR/splitnve"
left=$(grep -rl '@[A-Za-z_]*@' "$INST")
nt_assert_eq "no template placeholder left in installed files" "" "$left"
man8=$(find "$INST" -name hv-agent.8)
nt_assert "hv-agent(8) names the installed configuration file" \
    grep -q "$SYSCONFDIR/splitnve/hv-agent.conf" "$man8"
nt_assert "hv-agent -h names the same file" \
    sh -c "'$HV_AGENT' -h | grep -q '$SYSCONFDIR/splitnve/hv-agent.conf'"
nt_assert "nve-agent -h names the installed nve-agent.conf" \
    sh -c "'$NVE_AGENT' -h | grep -q '$SYSCONFDIR/splitnve/nve-agent.conf'"
# the run and state directories this build was configured with
RUNDIR=$(sed -n 's/^RUNDIR = //p' "$NT_BUILD/Makefile")
STATEDIR=$(sed -n 's/^STATEDIR = //p' "$NT_BUILD/Makefile")
nt_assert "configured RUNDIR ($RUNDIR) and STATEDIR ($STATEDIR)" test -n "$RUNDIR" -a -n "$STATEDIR"
for p in "$RUNDIR/hv-agent.sock" "$STATEDIR/hv-agent.state"; do
    nt_assert "hv-agent(8) and hv-agent -h name $p" \
        sh -c "grep -q '$p' '$man8' && '$HV_AGENT' -h | grep -q '$p'"
done
nt_assert "nvdpctl(8) and nvdpctl -h name $RUNDIR/nve-agent.sock" \
    sh -c "grep -q '$RUNDIR/nve-agent.sock' '$(find "$INST" -name nvdpctl.8)' &&
           '$NVDPCTL' -h | grep -q '$RUNDIR/nve-agent.sock'"
nt_assert_rc "hv-agent -n accepts the sample" 0 "$HV_AGENT" -n -f "$HVC"
HKC=$(find "$INST" -path '*/splitnve/nvdp-hook.conf')
xml="<domain><name>d</name><uuid>5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9</uuid><metadata><nvdp:vnics xmlns:nvdp='urn:splitnve:nvdp:1'><nvdp:vn name='blue'/></nvdp:vnics></metadata><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/></interface></devices></domain>"
nt_assert_rc "nvdp-hook accepts the sample (dry run of a start)" 0 \
    "$NT_BUILD/tools/nvdp-hook" -n -c "$HKC" -D qemu -- d start begin - <<<"$xml"
nt_assert "  ... and would attach the VNIC to blue" grep -q '"cmd":"vnic-attach".*"vn":"blue"' <<<"$NT_OUT"
nt_assert "nvdp-hook -h names the installed nvdp-hook.conf" \
    sh -c "'$NT_BUILD/tools/nvdp-hook' -h | grep -q '$SYSCONFDIR/splitnve/nvdp-hook.conf'"
nt_assert_rc "nve-agent -n accepts the sample" 0 "$NVE_AGENT" -n -f "$NVC"

# The man pages' examples agree the same way: every VN of hv-agent.conf(5)'s
# example is in nve-agent.conf(5)'s with the same vni / uuid line.
example() { sed -n '/^\.Sh EXAMPLES/,/^\.Ed/p' "$1" | sed '1,/^\.Bd/d;$d'; }
example "$(find "$INST" -name hv-agent.conf.5)" >"$NT_DIR/hv-example.conf"
example "$(find "$INST" -name nve-agent.conf.5)" >"$NT_DIR/nve-example.conf"
nt_assert_rc "hv-agent.conf(5)'s example is a valid configuration" 0 \
    "$HV_AGENT" -n -f "$NT_DIR/hv-example.conf"
nt_assert_rc "nve-agent.conf(5)'s example is a valid configuration" 0 \
    "$NVE_AGENT" -n -f "$NT_DIR/nve-example.conf"
vn_block() { sed -n "/^vn \"$1\" {/,/^}/p" "$2"; }
for vn in $(sed -n 's/^vn "\([^"]*\)".*/\1/p' "$NT_DIR/hv-example.conf"); do
    id=$(vn_block "$vn" "$NT_DIR/hv-example.conf" | grep -E '^ *(vni|uuid) =')
    nt_assert "man pages: VN $vn is '$(echo $id)' in both examples" \
        grep -qxF -- "$id" <(vn_block "$vn" "$NT_DIR/nve-example.conf")
done

# ---- the samples' interfaces: nve p1 "acc1" (bridged, any hypervisor),
# p2 "acc2" (direct, only 02:00:00:00:01:02, only blue); hypervisors "eth0"
nt_ns nve; nt_ns hv1; nt_ns hv2
nt_veth nve acc1 hv1 eth0
nt_veth nve acc2 hv2 eth0 "" 02:00:00:00:01:02

# paths only: control sockets and state files into our directory
for d in nve hv1 hv2; do
    src=$HVC
    [ "$d" = nve ] && src=$NVC
    sed -e "s|^#\?control-socket = .*|control-socket = \"$NT_DIR/$d.sock\"|" \
        -e "s|^#\?state-file = .*|state-file = \"$NT_DIR/$d.state\"|" \
        -e "s|^#\?migration-marker-dir = .*|migration-marker-dir = \"$NT_DIR/$d.markers\"|" \
        "$src" >"$NT_DIR/$d.conf"
    # what differs from the installed sample is paths only
    diff "$src" "$NT_DIR/$d.conf" | grep '^>' | grep -v "\"$NT_DIR/" &&
        nt_fail "$d.conf differs from the sample in more than paths"
done
grep -q '^control-socket' "$NT_DIR/nve.conf" && grep -q '^state-file' "$NT_DIR/hv1.conf" ||
    nt_fail "the samples no longer carry control-socket / state-file lines to point at our paths"
nt_daemon nve nve "$NVE_AGENT" -f "$NT_DIR/nve.conf"
nt_daemon hv1 hv1 "$HV_AGENT" -f "$NT_DIR/hv1.conf"
nt_daemon hv2 hv2 "$HV_AGENT" -f "$NT_DIR/hv2.conf"
for h in hv1 hv2; do nt_wait 10 "$h hears the NVE" nt_hv_sees_nve "$h"; done

# ---- every VN of the sample hv-agent.conf, on the shared port p1 -------
VNS=$(sed -n 's/^vn "\([^"]*\)".*/\1/p' "$HVC")
nt_assert "the sample hv-agent.conf names VNs" test -n "$VNS"
n=0
for vn in $VNS; do
    n=$((n + 1))
    u=$(nt_uuid "$n")
    nt_assert_rc "hv1: attach a VNIC to sample VN $vn" 0 \
        "$NVDPCTL" -s "$NT_DIR/hv1.sock" -f json vnic attach "$u" --vn "$vn" \
        --mac "$(nt_mac "$n")" --ip "10.0.$n.1" --wait=5
    tag=$(jq -r .tag <<<"$NT_OUT")
    # p1: tags = "2-4000", reserved-tags = "1000-1099"
    nt_assert "VN $vn: tag $tag from p1's range" \
        test "$tag" -ge 2 -a "$tag" -le 4000 -a \( "$tag" -lt 1000 -o "$tag" -gt 1099 \)
    nt_assert_eq "NVE: the VNIC is associated on p1" associated \
        "$(nt_nve_vnic nve "$u" p1 | jq -r .state)"
    nt_assert_eq "NVE: in its own VN of the same name" "$vn" \
        "$(nt_nve_vnic nve "$u" p1 | jq -r .vn)"
    nt_assert_eq "NVE: p1's tag for $vn is the VNIC's" "$tag" "$(nt_nve_tag nve p1 "$vn")"
done

# ---- p2: the one hypervisor it authorises, blue only -------------------
nt_assert_rc "hv2 on p2: blue" 0 "$NVDPCTL" -s "$NT_DIR/hv2.sock" -f json \
    vnic attach "$(nt_uuid 100)" --vn blue --mac "$(nt_mac 100)" --wait=5
tag=$(jq -r .tag <<<"$NT_OUT")
nt_assert "p2's tag $tag from its range 100-199" test "$tag" -ge 100 -a "$tag" -le 199
nt_assert_rc "hv2 on p2: red is refused (vns = {\"blue\"})" 5 "$NVDPCTL" \
    -s "$NT_DIR/hv2.sock" vnic attach "$(nt_uuid 101)" --vn red --mac "$(nt_mac 101)" --wait=5
nt_log "refusal: $NT_ERR"
nt_pass
