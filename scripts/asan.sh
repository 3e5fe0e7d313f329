#!/usr/bin/env bash
# The allocator tests under AddressSanitizer, with the `asan` feature, which
# poisons freed slab slots and reset arena memory so that a use after free
# inside a chunk is reported (tests/asan_poison.rs proves it is).
# Needs the nightly toolchain (-Zsanitizer); `--target` keeps build scripts
# and proc macros uninstrumented.
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="${RUSTFLAGS:-} -Zsanitizer=address"
export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -Zsanitizer=address"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
cargo +nightly test -p framemem --features asan --target "$target" \
    --lib --test asan_poison --test alloc_model --test alloc_threads --test pool_model
