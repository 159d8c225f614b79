#!/bin/sh
# run-fuzz-auth.sh - the authentication fuzzer (keys configured) as its own
# make check entry.
exec sh "$(dirname "$0")/run-fuzz.sh" auth
