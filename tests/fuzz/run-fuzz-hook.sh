#!/bin/sh
# run-fuzz-hook.sh - the hook's domain XML fuzzer as its own make check entry.
exec sh "$(dirname "$0")/run-fuzz.sh" hook
