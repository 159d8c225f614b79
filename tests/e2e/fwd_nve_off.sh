#!/bin/bash
# fwd_nve_off.sh - fwd_nve.sh with `fastpath = off` in nve-agent.conf: the
# in-process forwarder alone must pass every check.
FASTPATH=off exec bash "$(dirname "$0")/fwd_nve.sh"
