#!/usr/bin/env bash
# The dashboard server against hostile clients (issue 9): slowloris from 127.0.0.1, dead
# event-stream clients, connections over the cap, and the HTTP edge cases libmicrohttpd
# answered badly. The work is in tests/server_hostile.py (python3, no extra packages); it is
# bounded in count (300 connections, 6000 opened at most) and in time (about 45 s, killed at 150).
source "$(dirname "$0")/lib.sh"
timeout -k 5 150 python3 "$ROOT/tests/server_hostile.py" "$WGTRAIN" "$MNIST"
