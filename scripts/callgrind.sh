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
# start-up, warm-up and chunk growth cancel out. The `harness` row is the
# loop, the writes and the Vec of pointers alone, which every row includes.
# Installs valgrind with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
frames="${1:-200}"
shift || true
patterns=("$@")
if [ ${#patterns[@]} -eq 0 ]; then
    patterns=(harness bumpalo blink_alloc bump_scope mimalloc vec_freelist
        framemem_arena framemem_arena_local framemem_slab framemem_slab_local
        framemem_pool framemem_pool_local)
fi
if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind
fi
exe=$(cargo bench -p framemem --bench instructions --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : *//p'
}
printf '%-22s %12s\n' pattern 'instr/alloc'
for p in "${patterns[@]}"; do
    base=$(instructions "$p" 0)
    full=$(instructions "$p" "$frames")
    python3 -c "print(f'{\"$p\":<22} {($full - $base) / ($frames * 1000):12.2f}')"
done
