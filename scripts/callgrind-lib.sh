# The measuring loop that scripts/callgrind.sh and
# scripts/callgrind-attribution.sh share; sourced, not run.
#
#   callgrind_table BENCH FRAMES "CARGO_ARGS" PATTERN...
#
# builds the bench target BENCH of framemem (release, with CARGO_ARGS such
# as "--features bevy"), runs each PATTERN twice under
# `valgrind --tool=callgrind`, as `BENCH_EXE PATTERN 0` and
# `BENCH_EXE PATTERN FRAMES` (the bench runs the same warm-up before both),
# and prints the difference in instructions divided by FRAMES * 1000:
# instructions per allocation for a bench whose frames make 1,000
# allocations each, with start-up, warm-up and chunk growth cancelled out.
# Installs valgrind with apt-get when it is missing. Also the helpers
# scripts/memops.sh and scripts/callgrind-par-iter.sh share.

# need_valgrind: installs valgrind with apt-get when it is missing.
need_valgrind() {
    if ! command -v valgrind >/dev/null; then
        apt-get update -qq && apt-get install -y -qq valgrind
    fi
}

# bench_exe BENCH CARGO_ARGS...: builds the bench target BENCH (release, with
# CARGO_ARGS such as `-p framemem --features bevy`) and prints the path of
# its executable; an error and status 1 when the build fails.
bench_exe() {
    local bench=$1
    shift
    local exe
    exe=$(cargo bench "$@" --bench "$bench" --no-run --message-format=json 2>/dev/null |
        BENCH="$bench" python3 -c '
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == os.environ["BENCH"] and m.get("executable"):
        print(m["executable"])')
    if [ -z "$exe" ]; then
        echo "error: could not build the $bench bench" >&2
        return 1
    fi
    echo "$exe"
}

# The patterns of framemem/benches/instructions.rs, for scripts/callgrind.sh
# and scripts/memops.sh: every allocator's shared and local path.
FRAME_PATTERNS=(harness bumpalo blink_alloc bump_scope mimalloc vec_freelist
    framemem_arena framemem_arena_local framemem_slab framemem_slab_local
    framemem_pool framemem_pool_local)

callgrind_table() {
    local bench=$1 frames=$2 cargo_args=$3
    shift 3
    need_valgrind
    local exe
    # shellcheck disable=SC2086 # CARGO_ARGS is a list of words
    exe=$(bench_exe "$bench" -p framemem $cargo_args) || return 1
    local width=0 p
    for p in "$@"; do
        [ ${#p} -gt "$width" ] && width=${#p}
    done
    width=$((width + 4))
    printf "%-${width}s %12s\n" pattern 'instr/alloc'
    local base full
    for p in "$@"; do
        base=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$p" 0 2>&1 |
            sed -n 's/.*Collected : *//p')
        full=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$p" "$frames" 2>&1 |
            sed -n 's/.*Collected : *//p')
        python3 -c "print(f'{\"$p\":<$width} {($full - $base) / ($frames * 1000):12.2f}')"
    done
}
