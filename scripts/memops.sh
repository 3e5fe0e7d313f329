#!/usr/bin/env bash
# Stores and loads per allocation for the frame_1000x64B pattern, under
# valgrind's lackey tool: repeatable on a noisy machine, like
# scripts/callgrind.sh, and the measure that bounds these loops. A loop
# that allocates, writes each block and keeps its pointer is bound by its
# stores (one a cycle on the machines this was measured on): adding a
# store to each allocation adds about a cycle, whatever the instruction
# count says.
#
#   bash scripts/memops.sh [FRAMES [PATTERN...]]
#
# FRAMES defaults to 100; without PATTERNs every pattern of
# scripts/callgrind.sh runs. Each pattern runs twice under
# `valgrind --tool=lackey --detailed-counts=yes`, as `BENCH_EXE PATTERN 0`
# and `BENCH_EXE PATTERN FRAMES` (the same warm-up before both), and the
# difference in IR-level stores and loads of every width (a vector store
# counts once) is divided by FRAMES * 1000. A read-modify-write to memory
# counts as one load and one store. The `harness` row is the loop, the
# writes and the Vec of pointers alone, which every row includes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=callgrind-lib.sh
. scripts/callgrind-lib.sh
frames="${1:-100}"
shift || true
patterns=("$@")
if [ ${#patterns[@]} -eq 0 ]; then
    patterns=("${FRAME_PATTERNS[@]}")
fi
need_valgrind
exe=$(bench_exe instructions -p framemem)
# Sums the Loads and Stores columns of lackey's "IR-level counts by type".
counts() {
    valgrind --tool=lackey --detailed-counts=yes "$exe" "$1" "$2" 2>&1 |
        python3 -c '
import re, sys
loads = stores = 0
on = False
for line in sys.stdin:
    if "IR-level counts by type" in line:
        on = True
        continue
    m = re.match(r"==\d+==\s+(I\d+|F\d+|V\d+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)", line)
    if on and m:
        loads += int(m.group(2).replace(",", ""))
        stores += int(m.group(3).replace(",", ""))
print(stores, loads)'
}
printf "%-24s %12s %12s\n" pattern 'stores/alloc' 'loads/alloc'
for p in "${patterns[@]}"; do
    read -r s0 l0 < <(counts "$p" 0)
    read -r s1 l1 < <(counts "$p" "$frames")
    python3 -c "n = $frames * 1000; print(f'{\"$p\":<24} {($s1 - $s0) / n:12.2f} {($l1 - $l0) / n:12.2f}')"
done
