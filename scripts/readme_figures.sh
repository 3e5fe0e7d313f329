#!/usr/bin/env bash
# Every measured figure of the two READMEs, from one build, in one go:
#
#   bash scripts/readme_figures.sh [OUT_DIR]      (OUT_DIR: target/readme-figures)
#
# Each command the READMEs quote runs here, in the order below, and its
# output goes to OUT_DIR/NN-name.txt (the same command is the file's first
# line), so that every table and output block can be refreshed from the
# files, with its command beside it. About 20 minutes on a quiet 2-core
# machine. Run nothing else meanwhile: the wall-clock figures are ratios
# within one run, and a parallel build halves them.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/readme-figures}"
mkdir -p "$out"
bin=target/release/framemem
n=0

# run NAME COMMAND...: runs COMMAND, its stdout and stderr into the next file.
run() {
    local name="$1"
    shift
    n=$((n + 1))
    local file
    file=$(printf '%s/%02d-%s.txt' "$out" "$n" "$name")
    printf '%s (%ss)\n' "$file" "$SECONDS" >&2
    { printf '$ %s\n' "$*"; "$@" 2>&1; } >"$file"
}

cargo build --release -q
cargo build --release -q --examples
cargo bench -q --workspace --no-run 2>/dev/null

# The lab README: the headline run (table and full output from one run).
run compare-50k "$bin" --entities 50000 --compare --no-profile --frames 300 \
    --plot docs/compare-swarm-50k.svg
# What a new user sees (profiles stream on a free port here).
run default-run "$bin" --entities 50000 --puffin-addr 127.0.0.1:0
run compare-10k "$bin" --entities 10000 --compare --frames 100 --no-profile
run compare-100k "$bin" --entities 100000 --compare --frames 100 --no-profile
run arena-50k "$bin" --alloc arena --entities 50000 --frames 100 --no-profile
run arena-200k "$bin" --alloc arena --entities 200000 --frames 100 --no-profile
run compare-200k "$bin" --entities 200000 --compare --frames 100 --no-profile
# The arena's chunks on huge pages (`Arena::with_huge_pages`): the 200k
# comparison again, and 50k, where it does not pay.
run compare-200k-huge "$bin" --entities 200000 --compare --frames 100 --no-profile --huge-pages on
run compare-50k-huge "$bin" --entities 50000 --compare --frames 300 --no-profile --huge-pages on
# Issue 19: the pool's one size. The swarm with every trail one length,
# where the pool's capacity is every trail's size.
for len in 8 12; do
    sed "s/lengths: Uniform(min: 4, max: 12)/lengths: Uniform(min: $len, max: $len)/" \
        assets/scenarios/swarm.ron >"$out/swarm-$len.ron"
    run "compare-swarm-$len" "$bin" --scenario "$out/swarm-$len.ron" --compare --frames 300 --no-profile
done
run compare-bullets "$bin" --scenario assets/scenarios/bullets.ron --compare --frames 200 --no-profile
run rss-2000 /usr/bin/time -f 'max resident %M KiB' "$bin" --entities 50000 --no-profile -q --frames 2000
run rss-10000 /usr/bin/time -f 'max resident %M KiB' "$bin" --entities 50000 --no-profile -q --frames 10000
# Issue 17: the arena's heap traffic when work moves between more threads.
for t in 2 8 32; do
    run "threads-$t" "$bin" --alloc arena --threads "$t" --frames 300 --no-profile --json
done
# Issue 20: bytes per system.
run by-system "$bin" --alloc arena --frames 100 --no-profile --json
run lifetime-table python3 scripts/lifetime_table.py 200
run guide-table cargo run --release -q --example guide_table

# Per allocation: criterion (one run of the group) and callgrind.
run criterion-64B cargo bench -q -p framemem --bench allocators -- frame_1000x64B/
run criterion-table python3 scripts/bench_table.py frame_1000x64B
run criterion-table-bumpalo python3 scripts/bench_table.py frame_1000x64B bumpalo
run callgrind bash scripts/callgrind.sh 200
run memops bash scripts/memops.sh
# The read-order experiment (the arena's upward chunks against a downward Bump).
run read-order cargo bench -q -p framemem --bench read_order
run par-iter cargo bench -q --bench par_iter -- --measurement-time 4
printf 'done in %ss: %s\n' "$SECONDS" "$out" >&2
