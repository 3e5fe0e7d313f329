#!/usr/bin/env bash
# Instructions per entity for the loops of `benches/par_iter.rs` (a bevy
# par_iter_mut over 50,000 entities on 2 compute threads, each allocating
# 64 B), under callgrind: repeatable on a noisy machine.
#
#   bash scripts/callgrind-par-iter.sh [FRAMES [VARIANT...]]
#
# FRAMES defaults to 10; without VARIANTs every variant runs (floor: the
# loop writing a payload that needs no allocation; inline_array: the payload
# written into the component itself; framemem_arena: `&Arena`
# per item; framemem_arena_local: `local()` per batch; heap_vec: a heap
# `Vec` per entity).
#
# Each variant runs twice under `valgrind --tool=callgrind`, with 0 and with
# FRAMES measured frames (after the same warm-up frames), and the difference
# in instructions is divided by FRAMES * 50,000: the item, its allocation,
# and its share of the batches' set-up, the task pool and the reset, with
# start-up and warm-up subtracted. callgrind runs the threads one at a time,
# so these are instructions, not a measure of contention.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=callgrind-lib.sh
. scripts/callgrind-lib.sh
frames="${1:-10}"
shift || true
variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
    variants=(floor inline_array framemem_arena framemem_arena_local heap_vec)
fi
need_valgrind
exe=$(bench_exe par_iter_instructions)
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : *//p'
}
printf '%-22s %13s\n' variant 'instr/entity'
for v in "${variants[@]}"; do
    base=$(instructions "$v" 0)
    full=$(instructions "$v" "$frames")
    python3 -c "print(f'{\"$v\":<22} {($full - $base) / ($frames * 50000):13.2f}')"
done
