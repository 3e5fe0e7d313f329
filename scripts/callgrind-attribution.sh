#!/usr/bin/env bash
# What the bevy module's per-system attribution costs, in instructions per
# allocation under callgrind (load-independent): one bevy system allocating
# 1,000 blocks of 64 B a frame from the FrameArena, on the single-threaded
# executor, with the frame's end (framemem/benches/attribution.rs).
#
#   bash scripts/callgrind-attribution.sh [FRAMES]     (FRAMES defaults to 200)
#
# Each pattern runs twice, with 0 and FRAMES measured frames (after the
# same warm-up); the difference is divided by FRAMES * 1000. Rows:
# res_arena* is `Res<FrameArena>` (FrameAlloc before attribution),
# frame_*_off FrameAlloc with attribution off (the default), frame_*_on on.
set -euo pipefail
cd "$(dirname "$0")/.."
frames="${1:-200}"
if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind
fi
exe=$(cargo bench -p framemem --features bevy --bench attribution --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "attribution" and m.get("executable"):
        print(m["executable"])')
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : *//p'
}
printf '%-18s %12s\n' pattern 'instr/alloc'
for p in res_arena frame_alloc_off frame_alloc_on res_arena_local frame_local_off frame_local_on; do
    base=$(instructions "$p" 0)
    full=$(instructions "$p" "$frames")
    python3 -c "print(f'{\"$p\":<18} {($full - $base) / ($frames * 1000):12.2f}')"
done
