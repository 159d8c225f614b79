#!/bin/bash
# fwd_dp_off.sh - fwd_dp.sh with the XDP fast path off: the in-process
# forwarder alone must pass every check (the fallback users get with
# `fastpath = off` or without XDP).
FASTPATH=off exec bash "$(dirname "$0")/fwd_dp.sh"
