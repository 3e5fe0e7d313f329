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
if cargo nextest --version >/dev/null 2>&1; then
    # One Miri process per test, two at a time: about half the wall time.
    cargo +nightly miri nextest run -p framemem -j 2 "${tests[@]}" \
        -E "not test(/$skip/)"
else
    cargo +nightly miri test -p framemem "${tests[@]}" -- --skip "$skip"
fi
