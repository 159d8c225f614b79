#!/bin/sh
# run-fuzz-state.sh - hv-agent's state file reader fuzzer as its own make
# check entry.
exec sh "$(dirname "$0")/run-fuzz.sh" state
