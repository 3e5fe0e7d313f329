#!/usr/bin/env python3
"""What profiling costs: the median frame time with profiling on (scopes
recorded, puffin_http server running, no viewer connected) against
--no-profile, at 50k entities, from paired runs of the CLI.

Each pair runs both modes back to back, in alternating order, so that the
load of a shared machine falls on both alike; the medians of the runs' p50s
and the median of the pairs' ratios are printed at the end.

    cargo build --release
    scripts/profile_overhead.py [PAIRS [FRAMES]] [-- EXTRA FRAMEMEM ARGS]

Uses target/release/framemem, or $FRAMEMEM. Standard library only.
"""
import json
import os
import statistics
import subprocess
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
binary = os.environ.get("FRAMEMEM", os.path.join(target, "release", "framemem"))
args = sys.argv[1:]
extra = args[args.index("--") + 1 :] if "--" in args else []
positional = args[: args.index("--")] if "--" in args else args
pairs = int(positional[0]) if len(positional) > 0 else 40
frames = positional[1] if len(positional) > 1 else "150"

command = [binary, "--entities", "50000", "--frames", frames, "--warmup", "20", "--json", "-q", *extra]
modes = {"on": [], "off": ["--no-profile"]}
print("on: ", " ".join(command))
print("off:", " ".join(command + modes["off"]))
p50 = {"on": [], "off": []}
ratios = []
for i in range(pairs):
    got = {}
    for mode in ("on", "off") if i % 2 == 0 else ("off", "on"):
        out = subprocess.run(command + modes[mode], capture_output=True, text=True, check=True)
        got[mode] = json.loads(out.stdout)["frame_ms"]["p50"]
        p50[mode].append(got[mode])
    ratios.append(got["on"] / got["off"])
    print(f"pair {i:3}: on {got['on']:.3f} ms, off {got['off']:.3f} ms, on/off {ratios[-1]:.3f}", flush=True)
on, off = statistics.median(p50["on"]), statistics.median(p50["off"])
print(f"median p50: on {on:.3f} ms, off {off:.3f} ms, overhead {100 * (on / off - 1):+.1f}%")
print(f"median of the pairs' on/off: {statistics.median(ratios):.4f}")
