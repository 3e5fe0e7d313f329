#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (arena, slab, pool: operation
# sequences checked against a model) for SECONDS each, default 60.
# Exits non-zero if any target crashed; the crashing input is kept in
# fuzz/artifacts/TARGET/ and the line to replay it is printed.
# Needs the nightly toolchain; installs cargo-fuzz when missing. The corpus
# grows in fuzz/corpus/ (not in git), so later runs start where this one
# stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# One build for every target (release, with debug assertions: the slab's
# debug-only misuse checks are on).
cargo +nightly fuzz build
failed=()
for target in $(cargo +nightly fuzz list); do
    echo "fuzz: $target for ${seconds}s"
    if ! cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1; then
        failed+=("$target")
        echo "fuzz: $target CRASHED; replay with: cargo +nightly fuzz run $target fuzz/artifacts/$target/<file>" >&2
    fi
done
if ((${#failed[@]})); then
    echo "fuzz: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
