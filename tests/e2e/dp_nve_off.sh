#!/bin/bash
# dp_nve_off.sh - dp_nve.sh with nve-agent's `fastpath = off`: the
# in-process forwarder alone switches between the ports.
FASTPATH=off exec bash "$(dirname "$0")/dp_nve.sh"
