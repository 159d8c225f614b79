#!/bin/sh
# golden.sh - make-check entry (no root needed): every golden frame in
# protocol-spec/frames/ is rebuilt with the Scapy layer and parsed back.
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
if ! [ -x $PY ] || ! $PY -c 'import scapy.packet' 2>/dev/null; then
    echo "SKIP: python3-scapy ($PY) not installed"
    exit 77
fi
PYTHONDONTWRITEBYTECODE=1 exec $PY "$srcdir/tests/scapy/golden_frames.py" \
    "$srcdir/protocol-spec/frames"
