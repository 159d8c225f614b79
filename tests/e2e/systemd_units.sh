#!/bin/bash
# systemd_units.sh - the systemd units as make install ships them: installed
# into the unit directory, every template path filled in, accepted by
# systemd-analyze verify (offline: no systemd needed), and sandboxed: the
# exposure systemd-analyze security gives each stays under the ceiling
# below (hv-agent 1.9, nve-agent 2.7 when written; a unit that loses its
# sandboxing scores 9+).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"
nt_init_local systemd_units
command -v systemd-analyze >/dev/null || nt_skip "systemd-analyze missing (Debian systemd)"
systemd-analyze --help 2>/dev/null | grep -q -- --offline ||
    nt_skip "systemd-analyze too old for --offline (systemd 250+)"
NT_BUILD=$(cd "$(dirname "$NVDPCTL")/.." && pwd)
MAX_EXPOSURE=3.0

unitdir=$(sed -n 's/^systemdsystemunitdir = //p' "$NT_BUILD/Makefile")
[ -n "$unitdir" ] || nt_skip "configured --without-systemdsystemunitdir"
dest=$NT_DIR/dest
make -s -C "$NT_BUILD" install-systemdsystemunitDATA DESTDIR="$dest" \
    >"$NT_DIR/install.log" 2>&1 || nt_fail "make install of the units (see install.log)"
type=$(grep -q "define HAVE_LIBSYSTEMD 1" "$NT_BUILD/config.h" && echo notify || echo exec)

for d in hv-agent nve-agent; do
    u=$dest$unitdir/$d.service
    nt_assert "$d.service installed in $unitdir" test -f "$u"
    nt_assert "$d.service: every @VAR@ filled in" sh -c "! grep -q '@[A-Za-z_]*@' '$u'"
    nt_assert "$d.service: Type=$type (libsystemd or not)" grep -qx "Type=$type" "$u"
    # verify checks that ExecStart exists: point it at the build tree
    sed "s|^ExecStart=[^ ]*/$d |ExecStart=$NT_BUILD/$d/$d |" "$u" >"$NT_DIR/$d.service"
    nt_assert "$d.service: ExecStart -d (foreground, as Type=$type needs)" \
        grep -q "^ExecStart=$NT_BUILD/$d/$d -d$" "$NT_DIR/$d.service"
    out=$(cd "$NT_DIR" && systemd-analyze verify --man=no "$d.service" 2>&1)
    nt_assert_eq "systemd-analyze verify $d.service says nothing" "" "$out"
    exp=$(cd "$NT_DIR" && systemd-analyze security --offline=yes "$d.service" 2>&1 |
        sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    nt_log "$d.service: systemd-analyze security exposure $exp"
    nt_assert "$d.service: exposure $exp under $MAX_EXPOSURE" \
        awk -v e="$exp" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e != "" && e + 0 < m + 0) }'
done
nt_pass
