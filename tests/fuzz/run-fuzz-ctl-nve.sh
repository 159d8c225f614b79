#!/bin/sh
# run-fuzz-ctl-nve.sh - nve-agent's control socket fuzzer as its own make check
# entry.
exec sh "$(dirname "$0")/run-fuzz.sh" ctl-nve
