#!/usr/bin/env bash
# The library's unit tests and the allocator integration tests under Miri
# (undefined behaviour, provenance, data races between the test threads).
# Needs the nightly toolchain with the miri and rust-src components; installs
# them when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    rustup component add --toolchain nightly miri rust-src
fi
cargo +nightly miri setup
# Strict provenance: every pointer the allocators hand out must be derived
# from an allocation, never conjured from an integer.
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-strict-provenance"
# -p framemem: the library alone (no features: the allocators), not the lab.
# The library's tests include the reclaim of exited threads' lanes, the slab's
# free checks (chunk map) and the allocator_api2 resizes; torture.rs shrinks
# its sizes under Miri. Its three `*_collections_match_std_models` runs are
# left out: 4 to 6 minutes each under Miri (13 minutes for the whole script
# with them, about 6 without), and their allocator_api2 paths are the ones
# the library's tests drive.
tests=(--lib --test alloc_model --test alloc_threads --test pool_model --test pool_threads --test local_handles
    --test torture --test ring_model)
skip=collections_match_std_models
miri=(cargo +nightly miri test -p framemem)
"${miri[@]}" "${tests[@]}" --no-run
# Then two Miri processes at once, each running its tests one after the
# other (one process per test, as nextest runs them, costs about 2.5 s of
# start-up each): the slab's and the pool's unit tests; and the rest. The
# halves take about as long as each other.
logs=target/miri-logs
mkdir -p "$logs"
"${miri[@]}" --lib -- alloc::slab:: alloc::pool:: >"$logs/slab-pool.txt" 2>&1 &
first=$!
"${miri[@]}" "${tests[@]}" -- --skip alloc::slab:: --skip alloc::pool:: --skip "$skip" >"$logs/rest.txt" 2>&1 &
second=$!
status=0
wait "$first" || status=1
cat "$logs/slab-pool.txt"
wait "$second" || status=1
cat "$logs/rest.txt"
exit "$status"
