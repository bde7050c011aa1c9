#!/bin/bash
# tests/scenario/small_kill.sh - window_kill.sh with small packets: each
# comes whole inside its offer and B's receiver opens it itself, marking
# its receipt owed on disk (receipts/ID.owed) for the master to send. B's
# receivers killed -9 mid-window again and again: every packet delivered
# exactly once and byte-identical, every receipt at A, no mark left.
SMALL=1 . "$TOP/tests/scenario/window_kill.sh"
