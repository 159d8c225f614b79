#!/bin/sh
# run-fuzz-fwd.sh - the forwarder packet-path fuzzer as its own make check entry.
exec sh "$(dirname "$0")/run-fuzz.sh" fwd
