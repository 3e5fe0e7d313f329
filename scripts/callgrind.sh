#!/usr/bin/env bash
# Instructions per allocation for the frame_1000x64B pattern, under
# callgrind: repeatable on a noisy machine where wall-clock ratios move by
# +-10% from run to run.
#
#   bash scripts/callgrind.sh [FRAMES [PATTERN...]]
#
# FRAMES defaults to 200; without PATTERNs every pattern runs, every
# allocator's shared and local path.
#
# Each pattern runs twice under `valgrind --tool=callgrind`, with 0 and with
# FRAMES measured frames of 1,000 allocations (after the same 10 warm-up
# frames), and the difference in instructions is divided by FRAMES * 1000:
# start-up, warm-up and chunk growth cancel out (scripts/callgrind-lib.sh).
# The `harness` row is the loop, the writes and the Vec of pointers alone,
# which every row includes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=callgrind-lib.sh
. scripts/callgrind-lib.sh
frames="${1:-200}"
shift || true
patterns=("$@")
if [ ${#patterns[@]} -eq 0 ]; then
    patterns=("${FRAME_PATTERNS[@]}")
fi
callgrind_table instructions "$frames" "" "${patterns[@]}"
