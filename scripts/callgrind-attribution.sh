#!/usr/bin/env bash
# What the bevy module's per-system attribution costs, in instructions per
# allocation under callgrind (load-independent): one bevy system allocating
# 1,000 blocks of 64 B a frame from the FrameArena, on the single-threaded
# executor, with the frame's end (framemem/benches/attribution.rs).
#
#   bash scripts/callgrind-attribution.sh [FRAMES [PATTERN...]]
#
# FRAMES defaults to 200. Each pattern runs twice, with 0 and FRAMES
# measured frames (after the same warm-up); the difference is divided by
# FRAMES * 1000 (scripts/callgrind-lib.sh). Rows: res_arena* is
# `Res<FrameArena>` (FrameAlloc before attribution), frame_*_off FrameAlloc
# with attribution off (the default), frame_*_on on.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=callgrind-lib.sh
. scripts/callgrind-lib.sh
frames="${1:-200}"
shift || true
patterns=("$@")
if [ ${#patterns[@]} -eq 0 ]; then
    patterns=(res_arena frame_alloc_off frame_alloc_on
        res_arena_local frame_local_off frame_local_on)
fi
callgrind_table attribution "$frames" "--features bevy" "${patterns[@]}"
