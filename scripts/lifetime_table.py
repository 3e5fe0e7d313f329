#!/usr/bin/env python3
"""The README's lifetime table: every strategy across one-frame, 1-90-frame
and wave workloads, from one `--compare --json` run per scenario.

    python3 scripts/lifetime_table.py [FRAMES] [-- EXTRA FRAMEMEM ARGS]

Runs target/release/framemem (build it first: `cargo build --release`), or
$FRAMEMEM, for swarm (50,000 one-frame entities), bullets.ron (5,000 a frame
living 1-90 frames) and waves.ron (20,000 a frame, 200,000 more every 120th
frame), and prints a Markdown table: median frame, heap allocations per
frame, high-water bytes in use, and bytes held from the system (median over
the frames, and at the last frame). Standard library only.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.environ.get("FRAMEMEM", os.path.join(TARGET, "release", "framemem"))
WORKLOADS = [
    ("one frame (swarm, 50k)", ["--entities", "50000"]),
    ("1-90 frames (bullets)", ["--scenario", os.path.join(ROOT, "assets/scenarios/bullets.ron")]),
    ("waves (waves)", ["--scenario", os.path.join(ROOT, "assets/scenarios/waves.ron")]),
]


def mib(b):
    return f"{b / 1048576:.1f} MiB"


def main(argv):
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = argv[: argv.index("--")] if "--" in argv else argv
    frames = args[0] if args else "300"
    print(f"`{os.path.basename(BINARY)} --compare --no-profile --json --frames {frames}`, per workload:\n")
    print("| workload | strategy | frame ms (p50) | heap allocs/frame | high-water in use | held p50 | held final |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, workload in WORKLOADS:
        cmd = [BINARY, "--compare", "--no-profile", "--json", "--quiet", "--frames", frames] + workload + extra
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for row in json.loads(out):
            if "not_applicable" in row:
                print(f"| {name} | {row['alloc']} | not applicable | | | | |")
                continue
            held = row["reserved_bytes"]
            # null: not measured (the heap strategy's malloc is shared with
            # the rest of the process).
            p50, final = (mib(held["p50"]), mib(held["final"])) if held else ("not measured", "")
            print(
                f"| {name} | {row['alloc']} | {row['frame_ms']['p50']:.2f} | {row['allocs_per_frame']:.0f} "
                f"| {mib(row['memory']['peak_bytes_in_use'])} | {p50} | {final} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
