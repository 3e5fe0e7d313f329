#!/usr/bin/env python3
"""Prints criterion's medians for one benchmark group as a markdown table.

Usage, after `cargo bench -p framemem --bench allocators -- GROUP`:
    python3 scripts/bench_table.py frame_1000x64B [baseline-id]

Each row: the id, the median time per element (criterion's Throughput), and
the ratio to the baseline id (default `system`) measured in the same run.
"""
import json
import pathlib
import sys

group = sys.argv[1] if len(sys.argv) > 1 else "frame_1000x64B"
baseline = sys.argv[2] if len(sys.argv) > 2 else "system"
root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion" / group
if not root.is_dir():
    sys.exit(f"error: no criterion results in {root}: run `cargo bench -p framemem --bench allocators -- {group}` first")

rows = {}
for estimates in sorted(root.glob("*/new/estimates.json")):
    bench = json.loads((estimates.parent / "benchmark.json").read_text())
    elements = (bench.get("throughput") or {}).get("Elements", 1)
    median_ns = json.loads(estimates.read_text())["median"]["point_estimate"] / elements
    rows[estimates.parent.parent.name] = median_ns

if not rows:
    sys.exit(f"error: {root} holds no results")
base = rows.get(baseline)
print(f"| {group} | median ns per element | vs {baseline} |")
print("| --- | ---: | ---: |")
for name, ns in sorted(rows.items(), key=lambda kv: kv[1]):
    ratio = f"{ns / base:.2f}x" if base else "n/a"
    print(f"| {name} | {ns:.2f} | {ratio} |")
