#!/usr/bin/env bash
# The multi-threaded tests under ThreadSanitizer: tests/alloc_threads.rs,
# the thread tests of tests/torture.rs and of the library's unit tests
# (every test whose name says "thread"), and the racing tests of
# tests/defects/. TSan sees the lanes' hand-over of
# ids, the counters read by `stats`, the central lists and the pool's shared
# list; a report fails the run (TSan's exit code 66).
# Needs the nightly toolchain and its rust-src (std is rebuilt with TSan so
# that its atomics and locks are instrumented too); installs rust-src when
# missing. `--target` keeps build scripts and proc macros uninstrumented; a
# target dir of its own keeps the instrumented build apart from the normal
# one.
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
    rustup component add --toolchain nightly rust-src
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/tsan}"
export RUSTFLAGS="${RUSTFLAGS:-} -Zsanitizer=thread"
export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -Zsanitizer=thread"
export TSAN_OPTIONS="${TSAN_OPTIONS:-second_deadlock_stack=1}"
tsan=(cargo +nightly test -Zbuild-std --target "$target" -p framemem)
"${tsan[@]}" --test alloc_threads
"${tsan[@]}" --lib --test torture -- thread
# The pool's steals between threads (the lane lock's handshake).
"${tsan[@]}" --test pool_threads
# The defects tests that race threads: stats read while others work; then
# the reclaim of an exited thread's lane and a late lane claim, each in a
# child process of the instrumented binary (a TSan report fails the child,
# and so the binary).
"${tsan[@]}" --test defects -- coherent
"${tsan[@]}" --test fresh_process -- exited no_free_lane
