#!/bin/bash
# hacking_map.sh - HACKING.md's layout names every C source and header of
# the tree: a file added without a line saying what it owns fails here.
# A file counts as named when its path, or its name in a row whose path
# column names its directory, appears (name.[ch] names name.c and name.h).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
map="$top/HACKING.md"
cd "$top" || exit 99
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files '*.c' '*.h')
else
    # a tarball (distcheck): what it ships
    files=$(find common fwd hv-agent nve-agent tools bpf bench tests \
                 -name '*.c' -o -name '*.h' 2>/dev/null | sort)
fi
[ -n "$files" ] || { echo "no sources found under $top"; exit 99; }

# Every name the layout table mentions, name.[ch] expanded, as
# "row-directory name" pairs (a row's directory: its first path's).
names=$(awk -F'|' '/^\| `/ {
        dir = $2; sub(/^ *`/, "", dir); sub(/`.*/, "", dir)
        if (dir ~ /\//) sub(/\/[^\/]*$/, "", dir); else dir = ""
        n = split($2 " " $3, w, /[^][A-Za-z0-9_.\/-]+/)
        for (i = 1; i <= n; i++) {
            t = w[i]
            if (t ~ /\.\[ch\]$/) {
                b = substr(t, 1, length(t) - 5)
                print dir, b ".c"; print dir, b ".h"
            } else if (t ~ /\.[ch]$/)
                print dir, t
        }
    }' "$map")

missing=0
for f in $files; do
    d=${f%/*}
    b=${f##*/}
    [ "$d" = "$f" ] && d=""
    if grep -qxF -- " $f" <<<"$names" || grep -qxF -- "$d $f" <<<"$names" ||
       grep -qxF -- "$d $b" <<<"$names" || grep -qE -- " $f$" <<<"$names"; then
        continue
    fi
    echo "HACKING.md does not name $f"
    missing=$((missing + 1))
done
echo "$(wc -w <<<"$files") sources, $missing not in HACKING.md's layout"
[ "$missing" -eq 0 ]
