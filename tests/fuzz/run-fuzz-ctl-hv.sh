#!/bin/sh
# run-fuzz-ctl-hv.sh - hv-agent's control socket fuzzer as its own make check
# entry.
exec sh "$(dirname "$0")/run-fuzz.sh" ctl-hv
